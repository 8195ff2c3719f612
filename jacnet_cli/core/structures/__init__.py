"""Structures: what gives the learned Jacobian its property, and so the function its guarantee.

`STRUCTURES` maps each `activation=<name>` to its class. Every module of this package is
imported here, and an option class with a `name` registers itself, so a new structure is its
module and its `conf/activation/<name>.yaml`, nothing else (CONTRIBUTING.md). Module names
are the option names: `activation=pd` lives in `pd.py`.
"""

from __future__ import annotations

import importlib
import pkgutil

from jacnet_cli.core.structures.base import (FORMS, MEASURES, STRUCTURES, Bound, Family,
                                             NetworkOptions, OutputForm, Owned, Structure,
                                             asymmetry, cr_residual, min_sym_eig,
                                             operator_norm, spd_solve)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
# The README's order, which hints and listings follow; a new structure comes after these.
_ORDER = ("none", "pd", "lipschitz", "cauchy_riemann", "invertible", "gradient", "monotone",
          "monotone_in")
_sorted = sorted(STRUCTURES.items(),
                 key=lambda item: _ORDER.index(item[0]) if item[0] in _ORDER else len(_ORDER))
STRUCTURES.clear()
STRUCTURES.update(_sorted)

from jacnet_cli.core.structures.cauchy_riemann import CauchyRiemann  # noqa: E402
from jacnet_cli.core.structures.gradient import Gradient  # noqa: E402
from jacnet_cli.core.structures.invertible import Invertible  # noqa: E402
from jacnet_cli.core.structures.lipschitz import Lipschitz  # noqa: E402
from jacnet_cli.core.structures.monotone import Monotone  # noqa: E402
from jacnet_cli.core.structures.monotone_in import MonotoneIn  # noqa: E402
from jacnet_cli.core.structures.pd import PositiveDefinite  # noqa: E402
from jacnet_cli.core.structures.unconstrained import Unconstrained  # noqa: E402

__all__ = ["STRUCTURES", "FORMS", "MEASURES", "Bound", "Structure", "Family", "OutputForm",
           "Owned", "NetworkOptions", "Unconstrained", "PositiveDefinite", "Lipschitz",
           "CauchyRiemann", "Invertible", "Gradient", "Monotone", "MonotoneIn", "asymmetry",
           "cr_residual", "min_sym_eig", "operator_norm", "spd_solve"]


def __getattr__(name: str) -> type:
    """Any registered structure by its class name (e.g. one added by a new module)."""
    for cls in STRUCTURES.values():
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
