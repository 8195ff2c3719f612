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
from jacnet_cli.run import atomic, results
from jacnet_cli.run.records import Step

STATUSES = ("completed", "interrupted", "failed")


def test_errors(pred: torch.Tensor, truth: torch.Tensor, prefix: str = "test") -> dict[str, float]:
    """MAE, RMSE, max of the pointwise error ‖ŷ - y‖ over (N, d_y) predictions, the mean
    squared error in dB, 10 log10(mean ‖ŷ - y‖²), and R² (1 - SSE/SST about the mean of y)."""
    errors = Errors()
    errors.add(pred, truth)
    return errors.summary(prefix)


class Errors:
    """Error sums of one split, added chunk by chunk (so a streamed split is never whole)."""

    def __init__(self) -> None:
        self.n, self.abs, self.sq, self.worst = 0, 0.0, 0.0, 0.0
        self.shift: torch.Tensor | None = None  # a y near the mean, against cancellation in SST
        self.y_sum: torch.Tensor | None = None
        self.y_sq = 0.0

    def add(self, pred: torch.Tensor, truth: torch.Tensor) -> None:
        """(N, d_y) predictions and their targets."""
        err = torch.linalg.vector_norm((pred - truth).double(), dim=-1)  # (N,)
        if err.numel() == 0:
            return
        truth = truth.double()
        if self.shift is None:
            self.shift = truth.mean(0)
            self.y_sum = torch.zeros_like(self.shift)
        centred = truth - self.shift  # (N, d_y)
        self.n += err.numel()
        self.abs += float(err.sum())
        self.sq += float((err * err).sum())
        self.worst = max(self.worst, float(err.max()))
        self.y_sum += centred.sum(0)
        self.y_sq += float((centred * centred).sum())

    def summary(self, prefix: str) -> dict[str, float]:
        if self.n == 0:
            return {}
        mse = self.sq / self.n
        sst = self.y_sq - float((self.y_sum * self.y_sum).sum()) / self.n
        out = {f"{prefix}_mae": self.abs / self.n, f"{prefix}_rmse": math.sqrt(mse),
               f"{prefix}_max_err": self.worst,
               f"{prefix}_mse_db": 10 * math.log10(mse) if mse > 0 else -math.inf}
        if sst > 0:
            out[f"{prefix}_r2"] = 1 - self.sq / sst
        return out


class Linear:
    """The baseline every run reports beside its own error: y ≈ A x + b by least squares on
    the training rows (accumulated chunk by chunk as normal equations)."""

    def __init__(self) -> None:
        self.gram: torch.Tensor | None = None  # (d_x + 1, d_x + 1)
        self.cross: torch.Tensor | None = None  # (d_x + 1, d_y)
        self.coef: torch.Tensor | None = None

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        features = torch.cat([x.double(), torch.ones_like(x[:, :1], dtype=torch.float64)], 1)
        g, c = features.T @ features, features.T @ y.double()
        self.gram = g if self.gram is None else self.gram + g
        self.cross = c if self.cross is None else self.cross + c

    def fit(self) -> "Linear":
        if self.gram is not None:
            # A tiny ridge keeps the normal equations positive definite (a constant column);
            # Cholesky, not lstsq: lstsq's LAPACK driver can differ in the last bit from one
            # call to the next on the same input, and a resumed run must report the same.
            ridge = 1e-10 * torch.diagonal(self.gram).abs().max().clamp_min(1e-300)
            eye = torch.eye(self.gram.shape[0], dtype=torch.float64)
            chol = torch.linalg.cholesky(self.gram + ridge * eye)
            self.coef = torch.cholesky_solve(self.cross, chol)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        coef = self.coef.to(x.device)
        return (x.double() @ coef[:-1] + coef[-1]).to(x.dtype)  # (N, d_y)


class Classes:
    """Classification scores of logits against 0/1 labels over one split (every output
    column pooled): accuracy at probability 0.5, balanced accuracy, AUC, log-loss."""

    def __init__(self) -> None:
        self.logits: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def add(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        self.logits.append(logits.detach().double().cpu().flatten())
        self.labels.append(labels.detach().double().cpu().flatten())

    def summary(self, prefix: str) -> dict[str, float]:
        if not self.logits:
            return {}
        s, y = torch.cat(self.logits), torch.cat(self.labels)
        if s.numel() == 0:
            return {}
        hit = ((s > 0).double() == y).double()
        pos, neg = y == 1, y == 0
        out = {f"{prefix}_accuracy": float(hit.mean()),
               f"{prefix}_log_loss": float(torch.nn.functional.binary_cross_entropy_with_logits(s, y))}
        if pos.any() and neg.any():
            out[f"{prefix}_balanced_accuracy"] = 0.5 * float(hit[pos].mean() + hit[neg].mean())
            out[f"{prefix}_auc"] = auc(s, pos)
        return out


def auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve: the Mann–Whitney statistic, ties counted half."""
    values, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    ranks = (ends - (counts.double() - 1) / 2)[inverse]  # average 1-based rank of each score
    n1, n0 = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def logistic(x: torch.Tensor, y: torch.Tensor, iterations: int = 30) -> torch.Tensor:
    """Logistic regression by Newton's method (IRLS) with a tiny ridge, one column of y at a
    time on standardised x: the classification baseline. (N, d_x), (N, d_y) -> a function
    x -> logits."""
    x, y = x.double(), y.double()
    mean, scale = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-12)
    features = torch.cat([(x - mean) / scale, torch.ones_like(x[:, :1])], 1)  # (N, d_x + 1)
    eye = torch.eye(features.shape[1], dtype=torch.float64)
    coefs = []
    for j in range(y.shape[1]):
        w = torch.zeros(features.shape[1], dtype=torch.float64)
        for _ in range(iterations):
            p = torch.sigmoid(features @ w)
            grad = features.T @ (p - y[:, j]) + 1e-6 * w
            hess = (features * (p * (1 - p))[:, None]).T @ features + 1e-6 * eye
            step = torch.linalg.solve(hess, grad)
            w = w - step
            if float(step.abs().max()) < 1e-10:
                break
        coefs.append(w)
    coef = torch.stack(coefs, 1)  # (d_x + 1, d_y)

    def predict_logits(z: torch.Tensor) -> torch.Tensor:
        f = torch.cat([(z.double() - mean) / scale, torch.ones_like(z[:, :1], dtype=torch.float64)], 1)
        return (f @ coef).to(z.dtype)

    return predict_logits


#: the training split's errors are scored on at most this many rows (an even, 1-in-k sample
#: of larger splits: at 10⁶ rows, scoring every training row made evaluation 36 % of a
#: one-epoch run; metrics.json then gives `train_rows_scored`)
TRAIN_SCORE_ROWS = 100_000


def _splits(data: Dataset, chunk: int = 65536):
    """(name, iterable of (x, y) chunks) for test, train and validation, in memory or
    streamed."""
    if data.stream is not None:
        device = data.x_grid.device
        for name in ("test", "train", "val"):
            yield name, ((x.to(device), y.to(device)) for x, y in data.stream.split(name, chunk))
        return
    for name, x, y in (("test", data.x_test, data.y_test), ("train", data.x_train, data.y_train),
                       ("val", data.x_val, data.y_val)):
        if name == "train" and x is not None and x.shape[0] > TRAIN_SCORE_ROWS:
            step = -(-x.shape[0] // TRAIN_SCORE_ROWS)
            x, y = x[::step], y[::step]  # views: every step-th training row
        if x is not None and x.shape[0] > 0:
            yield name, zip(x.split(chunk), y.split(chunk))


def errors(model: nn.Module, data: Dataset, classify: bool = False) -> dict[str, Any]:
    """Errors and R² of the model on every split, and of the linear baseline (fitted on the
    training rows) on the test split: one pass over each split, in chunks. The training split
    is scored (and the baseline fitted) on at most TRAIN_SCORE_ROWS of its rows. With `classify`
    (loss=bce: outputs are logits of 0/1 labels) the classification scores instead, beside
    a logistic regression's (`linear_test_*`)."""
    out: dict[str, Any] = {}
    dtype = next(model.parameters()).dtype
    baseline = Linear()
    logit = None
    if classify and data.stream is None and data.x_train.shape[0]:
        logit = logistic(data.x_train, data.y_train)
    for name, chunks in _splits(data):
        if name == "train" and not classify:
            for x, y in chunks:
                baseline.add(x, y)
    baseline.fit()
    for name, chunks in _splits(data):
        mine, theirs = (Classes(), Classes()) if classify else (Errors(), Errors())
        for x, y in chunks:
            x, y = x.to(dtype), y.to(dtype)
            mine.add(predict(model, x), y)
            if name == "test" and logit is not None:
                theirs.add(logit(x), y)
            elif name == "test" and baseline.coef is not None and not classify:
                theirs.add(baseline(x), y)
        out.update(mine.summary(name))
        rows = getattr(mine, "n", None) or sum(t.numel() for t in getattr(mine, "labels", []))
        if data.stream is not None and rows:
            out[f"{name}_rows"] = rows
        elif name == "train" and data.x_train.shape[0] > TRAIN_SCORE_ROWS:
            out["train_rows_scored"] = rows
        if name == "test":
            out.update(theirs.summary("linear_test"))
    return out


def evaluate(model: nn.Module, data: Dataset, eval_tolerance: float | None = None,
             status: Any = None, classify: bool = False) -> dict[str, Any]:
    """Errors (and a linear baseline's), guarantees and (n-D) conservation diagnostics of a
    trained model.

    ODE solvers are set to `eval_tolerance` first (the training schedule may have left them
    loose); the guarantee keys describe the function as evaluated with that setting.

    Args:
        model: the trained model.
        data: its dataset (test set, guarantee points).
        eval_tolerance: rtol = atol for ODE solvers.
        status: an object with `update(text)` to show which part is running, or None.
        classify: the outputs are logits of 0/1 labels (loss=bce): classification scores.
    """
    say = status.update if status is not None else (lambda text: None)
    solver = model.solver
    if solver is not None and eval_tolerance is not None:
        solver.set_tolerance(eval_tolerance)
    model.eval()
    start = time.perf_counter()
    out: dict[str, Any] = {}
    say("test errors")
    errors_start = time.perf_counter()
    out.update(errors(model, data, classify))
    out["errors_time_s"] = time.perf_counter() - errors_start
    if solver is not None:
        out["eval_nfe"] = solver.nfe_forward
        out["eval_solver"] = repr(solver)
    structure = model.structure
    if structure is not None:
        out["structure"] = structure.name
        out["guarantee"] = structure.describe(model.d_x, model.d_y)
        out["guarantee_by_construction"] = structure.by_construction(model.d_x, model.d_y)
        grid = data.x_grid[: guarantees.point_budget(model, data.x_grid.shape[0])]
        out["guarantee_points"] = grid.shape[0]
        say(f"guarantees on {grid.shape[0]} points")
        local = [k for k in guarantees.applicable(model) if k in structure.local_keys]
        out.update(guarantees.measure(
            model, grid, [k for k in guarantees.applicable(model) if k not in local]))
        if local:  # stated on the structure's region only: the guarantee points inside it
            inside = _inside(model, grid)
            out[f"{local[0]}_points"] = inside.shape[0]
            if inside.shape[0]:
                out.update(guarantees.measure(model, inside, local, net_checks=False))
        if model.d_x > 1:  # far from the data: 3x the guarantee box
            out.update(guarantees.measure_wide(model, grid[: max(64, grid.shape[0] // 2)]))
        out.update(model.weight_report())  # what the weights bound, in the data's units
        if model.d_x > 1:
            say("conservation diagnostics")
            out.update(model.conservation(data.x_test, grid))
        keys = guarantees.applicable(model)
        out["guarantee_keys"] = ",".join(k for k in keys + [f"{k}_wide" for k in keys]
                                         if k in out)
        out["guarantee_held"] = guarantees.held(model, out)
        if out["guarantee_held"] is False:
            out["guarantee_violations"] = "; ".join(guarantees.violations(model, out))
    out["eval_time_s"] = time.perf_counter() - start
    return out


def _inside(model: nn.Module, grid: torch.Tensor) -> torch.Tensor:
    """The points of `grid` (data units) inside the structure's region (`Structure.region`)."""
    region = model.region()
    if region is None:
        return grid
    lo, hi = (t.to(grid) for t in region)
    keep = ((grid >= lo - 1e-12 * lo.abs()) & (grid <= hi + 1e-12 * hi.abs())).all(dim=1)
    return grid[keep]


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
    """Write metrics.json atomically (a temporary file, then rename); every key must be
    declared in `run.results`."""
    results.check(metrics)
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
