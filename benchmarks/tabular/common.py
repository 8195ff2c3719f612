"""Shared pieces of the tabular harness: metrics, monotonicity violations, ensembles."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score

Predict = Callable[[np.ndarray], np.ndarray]  # x (N, d) -> score (N,): logit (cls) or ŷ (reg)

#: finite-difference steps, in training standard deviations of the input
DELTAS = (0.01, 0.1, 0.5)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def scores(task: str, y: np.ndarray, out: np.ndarray) -> dict[str, float]:
    """Test metrics of `out` (probabilities for cls, predictions for reg)."""
    if task == "cls":
        p = np.clip(out, 1e-12, 1 - 1e-12)
        return {"accuracy": float(accuracy_score(y, p > 0.5)),
                "auc": float(roc_auc_score(y, p)),
                "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))}
    err = out - y
    return {"rmse": float(math.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
            "mse": float(np.mean(err ** 2))}


def violations(predict: Predict, x: np.ndarray, monotone: list[tuple[int, float]],
               std: np.ndarray, scale: float = 1.0) -> dict[str, int]:
    """Finite-difference monotonicity violations on the points x.

    For each point, each monotone input i (sign s) and each step δ in DELTAS (× the input's
    training std): a violation when s (f(x + δ e_i) - f(x)) < -1e-5 × scale (scale: 1 logit
    for classification, the target's std for regression). Returns the count, the pairs
    checked and the points with at least one violation.
    """
    base = predict(x)
    bad_points = np.zeros(len(x), dtype=bool)
    count = pairs = 0
    for i, s in monotone:
        for d in DELTAS:
            xs = x.copy()
            xs[:, i] += d * (std[i] if std[i] > 0 else 1.0)
            diff = s * (predict(xs) - base)
            bad = diff < -1e-5 * scale
            count += int(bad.sum())
            pairs += len(x)
            bad_points |= bad
    return {"violations": count, "pairs": pairs, "violating_points": int(bad_points.sum())}
