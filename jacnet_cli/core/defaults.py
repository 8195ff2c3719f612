"""Defaults of the configurable classes, read from their YAML in `conf/` (the one place each
default is written): the library's signatures and the command line share them.

    DEFAULTS = defaults.of("model", "jacnet")   # {"hidden": 128, ...}

Reads the package's own conf/ (not $JACNET_CONF_DIR: a library default does not move with a
copy of the configs), with YAML 1.2 numbers (`1e-4` is a float, as in OmegaConf).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

CONF = Path(__file__).resolve().parent.parent / "conf"

_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                     |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                     |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                     |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X)


@functools.lru_cache(maxsize=None)
def _loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
    return Loader


@functools.lru_cache(maxsize=None)
def _read(group: str, option: str) -> dict[str, Any]:
    import yaml

    node = yaml.load((CONF / group / f"{option}.yaml").read_text(), Loader=_loader()) or {}
    return {k: v for k, v in node.items() if not k.startswith("_") and k != "defaults"}


def of(group: str, option: str) -> dict[str, Any]:
    """The keys of conf/<group>/<option>.yaml (Hydra's `_target_` and friends left out);
    group "" reads conf/<option>.yaml (a task's own keys, `hydra` left out)."""
    out = dict(_read(group, option))
    out.pop("hydra", None)
    return out
