"""What a run's metrics.json may hold: every key declared once, with its meaning.

`KEYS` names the fixed keys; `FAMILIES` the keys made from a part (a split and an error, a
guarantee key, a plan entry). `check(results)` refuses an undeclared key, so a key written
from anywhere in jacnet is one of these, spelled as here (`metrics.write_json` checks every
file it writes); `describe(key)` says what a key means.
"""

from __future__ import annotations

import re
from typing import Iterable

#: fixed keys -> meaning
KEYS: dict[str, str] = {
    # the run
    "status": "completed, interrupted or failed",
    "reason": "why a run did not complete",
    "target": "the target's name (or the file's)",
    "structure": "the activation= option",
    "device": "where the run computed", "dtype": "float64 or float32",
    "threads": "torch threads used", "parameters": "trainable parameters",
    "wall_time_s": "seconds from start to end (resumed runs included)",
    "init_from": "the run directory it was fine-tuned from",
    "lost": "a sweep job its machine stopped (not its own failure): the same command reruns it",
    "source_run": "eval/invert: the run directory it read",
    "source_status": "eval/invert: that run's status (a failed or interrupted one is warned of)",
    "file": "eval: the file predicted",
    "rows": "eval: rows predicted", "overrides": "eval: keys changed from the saved run",
    "rows_dropped": "rows dropped for a missing value, NaN or inf (data.drop_nonfinite=true)",
    "direction_warning": "the data's direction against the structure's, and the option that fits",
    # training
    "iterations": "optimiser steps taken", "iterations_planned": "steps the plan allowed",
    "epochs": "passes over the training set", "train_time_s": "seconds spent training",
    "train_loss": "last step's training loss (model units)",
    "train_loss_initial": "first step's training loss",
    "train_loss_data_units": "final training loss over the training set, in the data's units",
    "val_loss": "last validation loss", "val_loss_best": "best validation loss",
    "best_iteration": "the step of the best validation loss",
    "restored_best": "whether the best validation weights were restored",
    "stopped_early": "whether patience ran out", "loss_still_falling": "stopped while improving",
    "final_tolerance": "the solver tolerance at the end (annealed ODE solvers)",
    "nfe_per_iter": "integrand evaluations per point per step (forward)",
    "nfe_backward_per_iter": "... in the backward pass (adjoint)",
    "train_rows_scored": "training rows the errors were computed on (an even sample)",
    # evaluation
    "errors_time_s": "seconds computing the errors", "eval_time_s": "seconds evaluating",
    "eval_nfe": "integrand evaluations per point at evaluation", "eval_solver": "the solver",
    "units": "standardized: trained in standard units",
    # the guarantee
    "guarantee": "the guarantee in words", "guarantee_by_construction":
        "true: holds for ŷ by construction; false: measured only",
    "guarantee_keys": "the keys that state it, measured on D = dŷ/dx",
    "guarantee_held": "whether every key met its bound", "guarantee_violations":
        "the keys that did not, with their bounds", "guarantee_points": "points measured",
    "roundtrip_max_err": "max |x - ŷ⁻¹(ŷ(x))|",
    "curl_max": "largest relative violation of ∂_k J_ij = ∂_j J_ik by the network's J",
    "path_gap_max": "max ‖ŷ_linear - ŷ_axis‖: path dependence of the line integral",
    "exact_gap_max": "max ‖ŷ_exact - ŷ_quadrature‖: the closed form against the paper's integral",
    "orientation": "invertible: the sign of det D", "det_lower_bound": "invertible: from the weights",
    "lipschitz_bound": "a Lipschitz constant the weights guarantee",
    "inverse_lipschitz_bound": "invertible: a Lipschitz constant of the inverse, from the weights",
    "min_modulus_certified": "cauchy_riemann: certified min |f'| on the guarantee box",
}

_SPLITS = r"(train|val|test|linear_test)"
_ERRORS = r"(mae|rmse|max_err|mse_db|r2|accuracy|auc|balanced_accuracy|log_loss|rows)"

#: families of keys: pattern -> meaning
FAMILIES: dict[str, str] = {
    rf"{_SPLITS}_{_ERRORS}": "an error or score on a split (linear_test: the linear or "
                             "logistic baseline on the test split)",
    r"plan_[a-z_]+": "the resolved training plan (run.plan)",
    r"units_[xy]_(mean|scale)": "the standardisation, per column",
    r"constant_[a-z_]+(_standard_units)?": "a structure constant, in the data's units (or "
                                           "as the standardised model uses it)",
    r"(net_)?[a-z_]+_(min|max)(_wide)?": "a guarantee key on D (net_: on the network's J; "
                                         "_wide: on a box 3x the guarantee box)",
    r"[a-z_]+_(min|max)_points": "points inside the region a local key is stated on",
}
_PATTERN = re.compile("|".join(f"(?:{p})" for p in FAMILIES) + "$")


def declared(key: str) -> bool:
    return key in KEYS or bool(_PATTERN.match(key))


def check(keys: Iterable[str]) -> None:
    """Raise KeyError naming every undeclared key (a bug: declare it here)."""
    unknown = sorted(k for k in keys if not declared(k))
    if unknown:
        raise KeyError(f"undeclared metrics keys {unknown}: declare them in run/results.py")


def describe(key: str) -> str:
    """What a key means ("" for an undeclared one)."""
    if key in KEYS:
        return KEYS[key]
    for pattern, meaning in FAMILIES.items():
        if re.fullmatch(pattern, key):
            return meaning
    return ""


def table(keys: Iterable[str]) -> list[tuple[str, str]]:
    """(key, meaning) for each key, in order."""
    return [(k, describe(k)) for k in keys]
