"""Where jacnet's configs live, what each group offers, and which classes they may build.

The config folder is the package's `conf/` (or `$JACNET_CONF_DIR`, a copy of it with
additions, e.g. a structure under development; CONTRIBUTING.md). `allowed(group)` is derived
from the `_target_` values of the group's YAML files: a config (a command line, a
checkpoint someone sends you) can only build classes that jacnet's own configs name.
Only the standard library and PyYAML load here.
"""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path
from typing import Any

PACKAGE_CONF = Path(__file__).resolve().parent.parent / "conf"

#: Config groups whose option files name a class (the others are presets or Hydra's).
BUILT_GROUPS = ("target", "activation", "path", "anchor", "solver", "schedule", "model",
                "optim", "data", "logger")


#: `_target_` names an earlier jacnet wrote into saved runs -> where those classes live now, so
#: a run directory trained before a module moved still loads.
MOVED = {
    "jacnet_cli.core.structures.activations.Unconstrained":
        "jacnet_cli.core.structures.unconstrained.Unconstrained",
    "jacnet_cli.core.structures.activations.PositiveDefinite":
        "jacnet_cli.core.structures.pd.PositiveDefinite",
    "jacnet_cli.core.structures.activations.Lipschitz":
        "jacnet_cli.core.structures.lipschitz.Lipschitz",
    "jacnet_cli.core.structures.activations.CauchyRiemann":
        "jacnet_cli.core.structures.cauchy_riemann.CauchyRiemann",
    "jacnet_cli.core.structures.potential.Gradient":
        "jacnet_cli.core.structures.gradient.Gradient",
    "jacnet_cli.core.structures.potential.Monotone":
        "jacnet_cli.core.structures.monotone.Monotone",
    **{f"jacnet_cli.core.integrators.{name}": f"jacnet_cli.core.solvers.{name}"
       for name in ("Auto", "Exact", "GaussLegendre", "ODESolver")},
}


def current(name: Any) -> Any:
    """A `_target_` as today's configs name it (see `MOVED`)."""
    return MOVED.get(name, name) if isinstance(name, str) else name


def conf_dir() -> Path:
    """The config folder in use."""
    override = os.environ.get("JACNET_CONF_DIR")
    return Path(override).expanduser().resolve() if override else PACKAGE_CONF


def groups() -> list[str]:
    """The config groups (folders of conf/), Hydra's own excluded."""
    return sorted(p.name for p in conf_dir().iterdir() if p.is_dir() and p.name != "hydra")


def group_options(group: str) -> list[str]:
    """The options of a group: its YAML files' names."""
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


@functools.lru_cache(maxsize=None)
def _targets(folder: str, group: str) -> dict[str, str]:
    import yaml

    out: dict[str, str] = {}
    for path in sorted((Path(folder) / group).glob("*.yaml")):
        node = yaml.safe_load(path.read_text()) or {}
        if isinstance(node, dict) and isinstance(node.get("_target_"), str):
            out[path.stem] = node["_target_"]
    return out


def targets(group: str) -> dict[str, str]:
    """option -> the `_target_` its YAML names."""
    return _targets(str(conf_dir()), group)


def allowed(group: str) -> dict[str, type]:
    """The classes a config of this group may build: `_target_` name -> class."""
    return {name: resolve(name) for name in dict.fromkeys(targets(group).values())}


def resolve(name: str) -> Any:
    """The object a `_target_` from jacnet's own configs names ('pkg.module.Class')."""
    module, _, attr = name.rpartition(".")
    value: Any = importlib.import_module(module)
    for part in attr.split("."):
        value = getattr(value, part)
    return value


def compose(overrides: list[str] | tuple[str, ...] = (), task: str = "train",
            plain: bool = True) -> Any:
    """A task's config as the command line would compose it (without Hydra's node): a plain
    dict (`plain`) for `run.experiment.Experiment`, or an OmegaConf DictConfig."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = hydra_compose(config_name=task, overrides=list(overrides))
    if not plain:
        return cfg
    out = OmegaConf.to_container(cfg, resolve=True)
    out.pop("resume", None)
    out.pop("overwrite", None)
    return out
