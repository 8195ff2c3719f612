"""The `make bench` suite's 1-D pieces: the paper's models, evaluation by rows, work counters."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch
from torch import Tensor, nn

import jacnet_cli
from jacnet_cli import (DataSpec, FixedAnchor, GaussLegendre, JacNet, Lipschitz, ODESolver,
                        PositiveDefinite, Target, get_target, make_dataset, predict)

if TYPE_CHECKING:
    from jacnet_cli.data.sampled import Dataset

# The paper's two tasks (section 5): target name -> structure factory.
TASKS: dict[str, Callable[[], object]] = {
    "exp": lambda: PositiveDefinite(1e-4),
    "abs": lambda: Lipschitz(1.0),
}
TASK_LABELS = {"exp": "exp, pd ε=1e-4", "abs": "|x|, lipschitz k=1"}


def reference_solver(tol: float = 1e-10) -> ODESolver:
    """The tight reference integral: odeint dopri5 at rtol = atol = tol."""
    return ODESolver("dopri5", rtol=tol, atol=tol, adjoint=False)


def paper_model(task: str, seed: int, solver, dtype: torch.dtype = torch.float64
                ) -> tuple[JacNet, Dataset, Target]:
    """The paper's 1-D model and data for `task`, built in the order `jacnet train` uses.

    `torch.manual_seed(seed)` first, then target, data (5 train points in [-1, 1], 100 test
    points in [-2, 2], drawn from a generator seeded with `seed`) and the model (1 hidden layer
    of 64 tanh units, anchor x0 = 0 with y0 = target(0)), so every solver starts a seed from
    the same weights. The dataset stays float64 (cast the inputs where they are used).
    """
    torch.manual_seed(seed)
    target = get_target(task)
    data = make_dataset(DataSpec(), target, seed)
    anchor = FixedAnchor(1, 1, 0.0, "target", target=target)
    model = JacNet(1, 1, TASKS[task](), hidden=64, depth=1, nonlinearity="tanh",
                   anchor=anchor, solver=solver).to(dtype=dtype)
    return model, data, target


def with_integrator(model: JacNet, solver, dtype: torch.dtype | None = None) -> JacNet:
    """A copy of `model` (weights shared by value) evaluated with another solver."""
    other = copy.deepcopy(model)
    other.solver = solver
    if dtype is not None:
        other = other.to(dtype=dtype)
    other.eval()
    return other


class OverBudget(Exception):
    """Raised from inside a model call once a measurement's time budget is spent."""


class Counter:
    """Counts the Jacobian network's calls and rows (points x nodes) on a model.

    Rows are a load-independent measure of work: one forward evaluation of N points with a
    K-node rule is N K rows, so `rows / (N K)` is a cost in forward evaluations. With a
    `deadline` (perf_counter seconds) the next network call after it raises OverBudget.
    """

    def __init__(self, model: nn.Module):
        self.calls = 0
        self.rows = 0
        self.deadline: float | None = None
        self._handle = model.net.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        self.calls += 1
        self.rows += inputs[0].shape[0]
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise OverBudget()

    def reset(self, budget_s: float | None = None) -> None:
        self.calls = self.rows = 0
        self.deadline = None if budget_s is None else time.perf_counter() + budget_s

    def remove(self) -> None:
        self._handle.remove()


def max_abs(a: Tensor, b: Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def mae(pred: Tensor, truth: Tensor) -> float:
    """Mean over points of ‖ŷ - y‖ (the paper's test error)."""
    return float(torch.linalg.vector_norm(pred.double() - truth.double(), dim=-1).mean())


ROWS = 16384  # network rows (points x nodes) per predict() call


def evaluate(model: nn.Module, x: Tensor, rows: int = ROWS) -> Tensor:
    """predict() in the model's own dtype with about `rows` network rows per call, as float64."""
    dtype = next(model.parameters()).dtype
    return predict(model, x.to(dtype), rows=rows).double()


def default_nodes() -> int | None:
    """Gauss–Legendre nodes of `jacnet train`'s default solver on the paper's tasks (None if
    it is not GL): `Auto` is Gauss–Legendre for every structure without a closed form."""
    from omegaconf import OmegaConf

    conf = Path(jacnet_cli.__file__).resolve().parent / "conf"
    defaults = OmegaConf.load(conf / "train.yaml")["defaults"]
    groups = [d["solver"] for d in defaults if not isinstance(d, str) and "solver" in d]
    if not groups:
        return None
    group = groups[0]
    solver = OmegaConf.load(conf / "solver" / f"{group}.yaml")
    kind = str(solver.get("_target_", "")).rpartition(".")[2]
    return int(solver["nodes"]) if kind in ("GaussLegendre", "Auto") else None


_TRAINED: dict[str, JacNet] = {}


def trained_exp_model() -> JacNet:
    """The paper's exp / pd model (seed 0) trained as `jacnet train` does by default:
    its default Gauss–Legendre rule in float64, Adam lr 0.01, 50 full-batch iterations.
    Trained once per process."""
    if "exp" not in _TRAINED:
        from jacnet_cli import Anneal, fit, norm_loss

        model, data, _ = paper_model("exp", 0, GaussLegendre(default_nodes() or 16))
        fit(model, data.x_train, data.y_train, torch.optim.Adam(model.parameters(), lr=0.01),
            50, Anneal(), norm_loss)
        model.eval()
        _TRAINED["exp"] = model
    return _TRAINED["exp"]


def uniform_points(n: int, d: int, low: float, high: float, seed: int) -> Tensor:
    """n points uniform in [low, high]^d from a seeded generator: (n, d) float64."""
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, d, generator=g, dtype=torch.float64)
