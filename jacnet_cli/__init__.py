"""jacnet: learn functions through their structured Jacobians (Lorraine & Hossain).

The public API, imported lazily so that `jacnet --help` never loads torch:

    from jacnet_cli import JacNet, PositiveDefinite, GaussLegendre, fit
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # model
    "JacNet": "model", "MLPRegressor": "model", "predict": "model",
    # structures (output activations)
    "Structure": "activations", "Unconstrained": "activations",
    "PositiveDefinite": "activations", "Lipschitz": "activations",
    "CauchyRiemann": "activations", "Gradient": "activations", "Monotone": "activations",
    "STRUCTURES": "activations",
    # paths, anchors, integrators, schedules
    "LinearPath": "paths", "AxisPath": "paths",
    "FixedAnchor": "anchors", "NearestAnchor": "anchors",
    "GaussLegendre": "solvers", "ODESolver": "solvers", "Exact": "solvers", "Auto": "solvers",
    "Anneal": "schedules", "Constant": "schedules", "Geometric": "schedules",
    # training, inverse, guarantees
    "fit": "training", "norm_loss": "training", "mse_loss": "training", "Trainer": "training",
    "Diverged": "training",
    "invert": "inverse", "solve": "inverse", "newton_refine": "inverse", "derivative": "inverse",
    "measure": "guarantees", "roundtrip_error": "guarantees", "conservation": "guarantees",
    # targets and errors
    "Target": "targets", "TARGETS": "targets", "get_target": "targets",
    "NotInvertibleError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jacnet_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"jacnet_cli.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
