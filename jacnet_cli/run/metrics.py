"""What a run reports: test errors, cost, and each guarantee measured on the trained model.

`evaluate` returns a flat dict of plain numbers and strings for `metrics.json`; `CSVLog`
writes one row per training iteration as it happens (appending on resume), so an interrupted
run keeps its rows; `write_json` replaces metrics.json atomically.
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

from jacnet_cli.core import guarantees
from jacnet_cli.core.evaluation import predict
from jacnet_cli.data.sampled import Dataset
from jacnet_cli.run import atomic
from jacnet_cli.run.records import Step

STATUSES = ("completed", "interrupted", "failed")


def test_errors(pred: torch.Tensor, truth: torch.Tensor, prefix: str = "test") -> dict[str, float]:
    """MAE, RMSE, max of the pointwise error ‖ŷ - y‖ over (N, d_y) predictions, and the mean
    squared error in dB, 10 log10(mean ‖ŷ - y‖²)."""
    err = torch.linalg.vector_norm(pred - truth, dim=-1)  # (N,)
    mse = float(err.pow(2).mean())
    return {f"{prefix}_mae": float(err.mean()), f"{prefix}_rmse": math.sqrt(mse),
            f"{prefix}_max_err": float(err.max()),
            f"{prefix}_mse_db": 10 * math.log10(mse) if mse > 0 else -math.inf}


def evaluate(model: nn.Module, data: Dataset, eval_tolerance: float | None = None,
             status: Any = None) -> dict[str, Any]:
    """Test errors, guarantees and (n-D) conservation diagnostics of a trained model.

    ODE solvers are set to `eval_tolerance` first (the training schedule may have left them
    loose); the guarantee keys describe the function as evaluated with that setting.

    Args:
        model: the trained model.
        data: its dataset (test set, guarantee points).
        eval_tolerance: rtol = atol for ODE solvers.
        status: an object with `update(text)` to show which part is running, or None.
    """
    say = status.update if status is not None else (lambda text: None)
    integrator = getattr(model, "integrator", None)
    if integrator is not None and eval_tolerance is not None:
        integrator.set_tolerance(eval_tolerance)
    model.eval()
    start = time.perf_counter()
    out: dict[str, Any] = {}
    say("test errors")
    errors_start = time.perf_counter()
    if data.stream is not None:  # every row of each split, read in chunks
        from jacnet_cli.data.stream import errors

        dtype = next(model.parameters()).dtype
        for name in ("test", "train", "val"):
            out.update(errors(lambda x: predict(model, x), data.stream, name, name, dtype,
                              data.x_grid.device))
    else:
        for prefix, x, y in (("test", data.x_test, data.y_test),
                             ("train", data.x_train, data.y_train), ("val", data.x_val, data.y_val)):
            if x is not None and x.shape[0] > 0:
                out.update(test_errors(predict(model, x), y, prefix=prefix))
    out["errors_time_s"] = time.perf_counter() - errors_start
    if integrator is not None:
        out["eval_nfe"] = integrator.nfe_forward
        out["eval_solver"] = repr(integrator)
    structure = getattr(model, "structure", None)
    if structure is not None:
        out["structure"] = structure.name
        out["guarantee"] = structure.guarantee
        out["guarantee_by_construction"] = structure.by_construction(model.d_x, model.d_y)
        grid = data.x_grid[: guarantees.point_budget(model, data.x_grid.shape[0])]
        out["guarantee_points"] = grid.shape[0]
        say(f"guarantees on {grid.shape[0]} points")
        out.update(guarantees.measure(model, grid))
        if model.d_x > 1:
            say("conservation diagnostics")
            out.update(guarantees.conservation(model, data.x_test, grid))
        out["guarantee_keys"] = ",".join(k for k in guarantees.applicable(model) if k in out)
        out["guarantee_held"] = guarantees.held(model, out)
    out["eval_time_s"] = time.perf_counter() - start
    return out


class CSVLog:
    """One row per training step in metrics.csv, flushed as it goes.

    Args:
        path: the CSV file.
        append: keep the rows already there (resume) instead of starting a new file.
    """

    FIELDS = ("iteration", "epoch", "loss", "val_loss", "tolerance", "nfe_forward",
              "nfe_backward", "seconds")

    def __init__(self, path: Path, append: bool = False):
        fresh = not (append and path.is_file() and path.stat().st_size > 0)
        self._file = open(path, "w" if fresh else "a", newline="")
        self._writer = csv.writer(self._file)
        if fresh:
            self._writer.writerow(self.FIELDS)
            self._file.flush()

    def __call__(self, step: Step) -> None:
        self._writer.writerow([getattr(step, f) if getattr(step, f) is not None else ""
                               for f in self.FIELDS])
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_steps(path: Path, upto: int | None = None) -> list[Step]:
    """The steps recorded in a metrics.csv (the first `upto` iterations), for resume."""
    if not path.is_file():
        return []
    steps: list[Step] = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            it = int(row["iteration"])
            if upto is not None and it >= upto:
                break

            def num(key: str) -> float | None:
                value = row.get(key, "")
                return float(value) if value not in ("", None) else None

            steps.append(Step(it, float(row["loss"]), num("tolerance"),
                              int(float(row["nfe_forward"])), int(float(row["nfe_backward"])),
                              float(row["seconds"]), int(float(row.get("epoch") or 0)),
                              num("val_loss")))
    return steps


def clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become strings, tensors become numbers."""
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_json(path: Path, metrics: dict[str, Any]) -> Path:
    """Write metrics.json atomically (a temporary file, then rename)."""
    text = json.dumps({k: clean(v) for k, v in metrics.items()}, indent=2) + "\n"
    return atomic.replace(path, lambda f: f.write(text))


def summarise(steps: Iterable[Step]) -> dict[str, Any]:
    """Training figures from the step history."""
    steps = list(steps)
    if not steps:
        return {"iterations": 0}
    n = len(steps)
    out = {
        "iterations": n,
        "epochs": steps[-1].epoch + 1,
        "train_loss": steps[-1].loss,
        "train_loss_initial": steps[0].loss,
        "nfe_per_iter": sum(s.nfe_forward for s in steps) / n,
        "nfe_backward_per_iter": sum(s.nfe_backward for s in steps) / n,
        "final_tolerance": steps[-1].tolerance,
        "train_time_s": sum(s.seconds for s in steps),
    }
    vals = [s.val_loss for s in steps if s.val_loss is not None]
    if vals:
        out["val_loss"] = vals[-1]
        out["val_loss_best"] = min(vals)
    return out
