"""Structures: what gives the learned Jacobian its property, and so the function its guarantee.

`STRUCTURES` maps each `activation=<name>` to its class. Every module of this package is
imported here, and a `Structure` subclass with a `name` registers itself, so a new structure
is its module and its `conf/activation/<name>.yaml`, nothing else (CONTRIBUTING.md).
"""

from __future__ import annotations

import importlib
import pkgutil

from jacnet_cli.core.structures.base import (MEASURES, STRUCTURES, Bound, Structure,
                                             asymmetry, cr_residual, min_sym_eig,
                                             operator_norm, spd_solve)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from jacnet_cli.core.structures.activations import (CauchyRiemann, Lipschitz,  # noqa: E402
                                                    PositiveDefinite, Unconstrained)
from jacnet_cli.core.structures.monotone_in import MonotoneIn  # noqa: E402
from jacnet_cli.core.structures.potential import Gradient, Monotone  # noqa: E402

__all__ = ["STRUCTURES", "MEASURES", "Bound", "Structure", "Unconstrained", "PositiveDefinite",
           "Lipschitz", "CauchyRiemann", "Gradient", "Monotone", "MonotoneIn", "asymmetry",
           "cr_residual", "min_sym_eig", "operator_norm", "spd_solve"]


def __getattr__(name: str) -> type[Structure]:
    """Any registered structure by its class name (e.g. one added by a new module)."""
    for cls in STRUCTURES.values():
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
