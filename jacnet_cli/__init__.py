"""jacnet: learn functions through their structured Jacobians (Lorraine & Hossain).

The public API, imported lazily so that `jacnet --help` never loads torch:

    from jacnet_cli import JacNet, PositiveDefinite, GaussLegendre, fit

Every registered structure is exported under its class name (`jacnet_cli.MonotoneIn`,
`jacnet_cli.Invertible`, ...), including ones added later by a new module.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # the model and its parts
    "JacNet": "core.model", "MLPRegressor": "core.model", "DEFAULTS": "core.model",
    "Model": "core.evaluation",
    "predict": "core.evaluation", "derivative": "core.evaluation",
    "Structure": "core.structures", "STRUCTURES": "core.structures", "Bound": "core.structures",
    "LinearPath": "core.paths", "AxisPath": "core.paths",
    "FixedAnchor": "core.anchors", "NearestAnchor": "core.anchors",
    "GaussLegendre": "core.solvers", "ODESolver": "core.solvers",
    "Exact": "core.solvers", "Auto": "core.solvers",
    "Anneal": "run.schedules", "Constant": "run.schedules", "Geometric": "run.schedules",
    # training, inverse, guarantees
    "fit": "run.training", "norm_loss": "run.training", "mse_loss": "run.training",
    "Trainer": "run.training", "Batches": "run.training", "Diverged": "run.training",
    "invert": "core.inverse", "solve": "core.inverse", "newton_refine": "core.inverse",
    "measure": "core.guarantees", "roundtrip_error": "core.guarantees",
    "conservation": "core.guarantees", "curl_penalty": "core.guarantees",
    # sampled data: what `jacnet train data=paper seed=S` draws
    "DataSpec": "data.sampled", "make_dataset": "data.sampled",
    # targets, errors, saved runs
    "Target": "core.targets", "TARGETS": "core.targets", "get_target": "core.targets",
    "NotInvertibleError": "core.errors",
    "save": "run.rundir", "load": "run.rundir", "Experiment": "run.experiment",
}


def _structure_names() -> list[str]:
    from jacnet_cli.core.structures import STRUCTURES

    return [cls.__name__ for cls in STRUCTURES.values()]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if name.startswith("_") or not name[:1].isupper():
            raise AttributeError(f"module 'jacnet_cli' has no attribute {name!r}")
        from jacnet_cli.core import structures

        try:  # a structure, by its class name
            value = getattr(structures, name)
        except AttributeError:
            raise AttributeError(f"module 'jacnet_cli' has no attribute {name!r}") from None
    else:
        value = getattr(importlib.import_module(f"jacnet_cli.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*_EXPORTS, *_structure_names()})


__all__ = sorted(_EXPORTS)
