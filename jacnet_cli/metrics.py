"""What a run reports: test errors, cost, and each guarantee measured on the trained model.

`evaluate` returns a flat dict of plain numbers and strings for `metrics.json`; `CSVLog`
writes one row per training iteration as it happens, so an interrupted run keeps its rows.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from jacnet_cli import guarantees
from jacnet_cli.data import Dataset
from jacnet_cli.fit import Step
from jacnet_cli.model import predict


def test_errors(pred: torch.Tensor, truth: torch.Tensor, prefix: str = "test") -> dict[str, float]:
    """MAE, RMSE and max of the pointwise error ‖ŷ - y‖ over (N, d_y) predictions."""
    err = torch.linalg.vector_norm(pred - truth, dim=-1)  # (N,)
    return {f"{prefix}_mae": float(err.mean()), f"{prefix}_rmse": float(err.pow(2).mean().sqrt()),
            f"{prefix}_max_err": float(err.max())}


def evaluate(model: nn.Module, data: Dataset, eval_tolerance: float | None = None) -> dict[str, Any]:
    """Test errors and guarantees of a trained model on the dataset's test set and grid.

    ODE solvers are set to `eval_tolerance` first (the training schedule may have left them
    loose); the guarantee keys describe the function as evaluated with that setting.
    """
    integrator = getattr(model, "integrator", None)
    if integrator is not None and eval_tolerance is not None:
        integrator.set_tolerance(eval_tolerance)
    model.eval()
    start = time.perf_counter()
    out: dict[str, Any] = {}
    out.update(test_errors(predict(model, data.x_test), data.y_test))
    out.update(test_errors(predict(model, data.x_train), data.y_train, prefix="train"))
    if integrator is not None:
        out["eval_nfe"] = integrator.nfe_forward
        out["eval_solver"] = repr(integrator)
    structure = getattr(model, "structure", None)
    if structure is not None:
        out["structure"] = structure.name
        out["guarantee"] = structure.guarantee
        out.update(guarantees.measure(model, data.x_grid))
    out["eval_time_s"] = time.perf_counter() - start
    return out


class CSVLog:
    """Append one row per training step to metrics.csv, flushed as it goes."""

    FIELDS = ("iteration", "loss", "tolerance", "nfe_forward", "nfe_backward", "seconds")

    def __init__(self, path: Path):
        self._file = open(path, "w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.FIELDS)
        self._file.flush()

    def __call__(self, step: Step) -> None:
        self._writer.writerow([getattr(step, f) if getattr(step, f) is not None else ""
                               for f in self.FIELDS])
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become strings, tensors become numbers."""
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_json(path: Path, metrics: dict[str, Any]) -> Path:
    path.write_text(json.dumps({k: clean(v) for k, v in metrics.items()}, indent=2) + "\n")
    return path


def summarise(steps: Iterable[Step]) -> dict[str, Any]:
    """Training figures from the step history."""
    steps = list(steps)
    if not steps:
        return {"iterations": 0}
    n = len(steps)
    return {
        "iterations": n,
        "train_loss": steps[-1].loss,
        "train_loss_initial": steps[0].loss,
        "nfe_per_iter": sum(s.nfe_forward for s in steps) / n,
        "nfe_backward_per_iter": sum(s.nfe_backward for s in steps) / n,
        "final_tolerance": steps[-1].tolerance,
        "train_time_s": sum(s.seconds for s in steps),
    }
