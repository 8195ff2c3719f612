"""Shared pieces of the n-D sections (6-8): potential-structure models, random and trained.

"Random" is a model as built (seeded). "Trained" is the same model after a short training
on the GradNets benchmarks' targets with data in [0, 1]^d: `IcgnConvex` at d = 2, `PolyMax(d)`
above; fresh uniform batches every step (the GradNets protocol), Adam, mean squared error,
float64, through the library's `Trainer`. Guarantees are then measured on the box
[-1, 2]^d, 3x wider than the data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from jacnet_cli import Batches, Gradient, JacNet, Monotone, Target, Trainer, get_target, mse_loss

DATA_BOX = (0.0, 1.0)
GUARANTEE_BOX = (-1.0, 2.0)  # 3x wider than the data box, centred on it
EPS = 1e-4  # the structure's default eigenvalue floor

# The short training: enough to move the weights far from their initialisation and to fit
# the target visibly (the loss columns show how far), not to reproduce GradNets' numbers.
STEPS = 300
BATCH = 100
LR = 5e-3


def target_for(d: int) -> Target:
    """The training target at dimension d: the ICGN polynomial in 2-D, PolyMax(d) above."""
    return get_target("icgn_convex") if d == 2 else get_target("polymax", dim=d)


def structure(kind: str, network: str) -> Gradient | Monotone:
    """`gradient` or `monotone` (ε = EPS) with a cascade or modular network, 4 layers/modules."""
    if kind == "monotone":
        return Monotone(eps=EPS, network=network, layers=4)
    return Gradient(network=network, layers=4)


def uniform(n: int, d: int, box: tuple[float, float], generator: torch.Generator) -> Tensor:
    """n points uniform in box^d: (n, d), float64."""
    lo, hi = box
    return lo + (hi - lo) * torch.rand(n, d, generator=generator, dtype=torch.float64)


def build(d: int, kind: str, network: str, hidden: int, seed: int = 0,
          dtype: torch.dtype = torch.float64) -> JacNet:
    """JacNet(d, d, structure, hidden) as built from `seed`: solver exact (the default), anchor
    x0 = 0 with a learned y0 (the GradNets output bias)."""
    torch.manual_seed(seed)
    return JacNet(d, d, structure(kind, network), hidden=hidden).to(dtype=dtype)


@dataclass
class Training:
    """How a trained model got there: losses (MSE on the step's batch) and wall time."""

    loss_initial: float
    loss_final: float
    test_mse: float  # on 2000 fresh points of the data box
    target_mse: float  # mean ‖y‖²/d on the same points: test_mse / target_mse is relative
    seconds: float


def train(model: JacNet, target: Target, steps: int = STEPS, seed: int = 0) -> Training:
    """Train `model` briefly on `target` with fresh uniform batches of the data box."""
    d = model.d_x
    dtype = next(model.parameters()).dtype

    def sampler(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        x = uniform(n, d, DATA_BOX, generator)
        return x, target(x)

    empty = torch.zeros(1, d, dtype=dtype)
    batches = Batches(empty, empty, BATCH, seed, sampler)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    start = time.perf_counter()
    history = Trainer(model, opt, batches, steps, loss=mse_loss).run()
    seconds = time.perf_counter() - start
    g = torch.Generator().manual_seed(10_000 + seed)
    x = uniform(2000, d, DATA_BOX, g)
    with torch.no_grad():
        y = target(x)
        test = float(((model(x.to(dtype)).double() - y) ** 2).mean())
    return Training(history.losses[0], history.losses[-1], test, float((y ** 2).mean()), seconds)


_CACHE: dict[tuple, tuple[JacNet, Training | None]] = {}


def model(d: int, kind: str, network: str, hidden: int, trained: bool,
          seed: int = 0, steps: int = STEPS) -> tuple[JacNet, Training | None]:
    """A float64 model, random or trained (cached per process: sections 6 and 8 share them)."""
    key = (d, kind, network, hidden, trained, seed, steps)
    if key not in _CACHE:
        net = build(d, kind, network, hidden, seed)
        info = train(net, target_for(d), steps, seed) if trained else None
        net.eval()
        _CACHE[key] = (net, info)
    return _CACHE[key]


def points(n: int, d: int, box: tuple[float, float], seed: int) -> Tensor:
    """n points uniform in box^d (float64) from a seeded generator."""
    return uniform(n, d, box, torch.Generator().manual_seed(seed))
