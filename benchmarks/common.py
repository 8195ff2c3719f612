"""Shared pieces of the benchmarks: the paper's models, timing, work counters, the machine."""

from __future__ import annotations

import contextlib
import fcntl
import copy
import inspect
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

import jacnet_cli
from jacnet_cli.core.structures import Lipschitz, PositiveDefinite
from jacnet_cli.core.anchors import FixedAnchor
from jacnet_cli.data.sampled import Dataset, DataSpec, make_dataset
from jacnet_cli.core.model import JacNet
from jacnet_cli.core.evaluation import predict
from jacnet_cli.core.solvers import ODESolver
from jacnet_cli.core.targets import Target, get_target

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
    model = JacNet(1, 1, TASKS[task](), hidden=64, depth=1, activation="tanh",
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


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run with torch.set_num_threads(n) (None: leave the default), then restore it."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call, by time.perf_counter."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


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


def predict_rows_api() -> bool:
    """Whether `predict` chunks by network rows (`rows=`) rather than points (`chunk=`)."""
    return "rows" in inspect.signature(predict).parameters


def evaluate(model: nn.Module, x: Tensor, rows: int = ROWS) -> Tensor:
    """predict() in the model's own dtype with about `rows` network rows per call, as float64."""
    dtype = next(model.parameters()).dtype
    if predict_rows_api():
        return predict(model, x.to(dtype), rows=rows).double()
    nodes = getattr(getattr(model, "solver", None), "nodes", 1)
    return predict(model, x.to(dtype), max(1, rows // nodes)).double()


def default_nodes() -> int | None:
    """Gauss–Legendre nodes of `jacnet train`'s default solver (None if it is not GL)."""
    from omegaconf import OmegaConf

    conf = Path(jacnet_cli.__file__).resolve().parent / "conf"
    defaults = OmegaConf.load(conf / "train.yaml")["defaults"]
    groups = [d["solver"] for d in defaults if not isinstance(d, str) and "solver" in d]
    if not groups:
        return None
    group = groups[0]
    solver = OmegaConf.load(conf / "solver" / f"{group}.yaml")
    return int(solver["nodes"]) if "GaussLegendre" in str(solver.get("_target_", "")) else None


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


@dataclass
class Section:
    """Book-keeping for one section: wall time and load averages around it."""

    name: str
    start: float = 0.0
    load_start: list[float] | None = None

    def __enter__(self) -> "Section":
        self.start = time.perf_counter()
        self.load_start = loadavg()
        print(f"[bench] {self.name}: start (load {self.load_start})", flush=True)
        return self

    def __exit__(self, *exc) -> None:
        pass

    def meta(self) -> dict:
        seconds = time.perf_counter() - self.start
        print(f"[bench] {self.name}: done in {seconds:.1f}s (load {loadavg()})", flush=True)
        return {"seconds": round(seconds, 2), "load_start": self.load_start, "load_end": loadavg()}


def stall_probe(reps: int = 20) -> dict[str, float]:
    """Median time of a float64 tanh on 5120 elements (the 5 x 16 x 64 hidden activations of
    one GL16 training step) with the default threads and with one thread.

    Above ~2048 elements torch hands float64 tanh to a parallel (OpenMP) kernel; when another
    process holds the second core that region can stall for a scheduler slice (milliseconds),
    which is what dominates small-batch timings on a shared 2-core machine.
    """
    x = torch.randn(5120, dtype=torch.float64)
    out = {}
    for label, n in (("default_threads_us", None), ("one_thread_us", 1)):
        with threads(n):
            torch.tanh(x)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                torch.tanh(x)
                times.append(time.perf_counter() - t0)
        out[label] = round(statistics.median(times) * 1e6, 1)
    return out


def machine() -> dict[str, object]:
    """What ran the benchmark, from platform and torch."""
    import torchdiffeq

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchdiffeq": getattr(torchdiffeq, "__version__", "?"),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda": torch.cuda.is_available(),
        "parallel_backend": torch.__config__.parallel_info().splitlines()[-1].strip(),
    }


_TRAINED: dict[str, JacNet] = {}


def trained_exp_model() -> JacNet:
    """The paper's exp / pd model (seed 0) trained as `jacnet train` does by default:
    its default Gauss–Legendre rule in float64, Adam lr 0.01, 50 full-batch iterations.
    Trained once per process."""
    if "exp" not in _TRAINED:
        from jacnet_cli.run.training import fit, norm_loss
        from jacnet_cli.run.schedules import Anneal
        from jacnet_cli.core.solvers import GaussLegendre

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


#: the exclusive lock every timing benchmark on this shared machine holds while it times
TIMING_LOCK = Path("/work/bench/timing.lock")


@contextlib.contextmanager
def timing_lock(path: Path = TIMING_LOCK) -> Iterator[None]:
    """Hold an exclusive flock on `path` (a no-op where its folder does not exist), so two
    benchmarks never time at once."""
    if not path.parent.is_dir():
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
