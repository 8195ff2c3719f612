"""The training loop: full-batch Adam on |y - ŷ| with the integrator's tolerance scheduled.

`fit` is what the `train` task and users' own code call; it knows nothing of Hydra or files.
Each step reads the schedule's tolerance into the integrator, steps the optimiser, then feeds
the loss back to the schedule (paper section 4.4: halve the tolerance when loss < tolerance).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from jacnet_cli.schedules import Schedule


def norm_loss(pred: Tensor, target: Tensor) -> Tensor:
    """The paper's loss: mean over points of ‖y - ŷ‖ (|y - ŷ| in 1-D). (N, d_y) x2 -> ()."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def mse_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over points and coordinates. (N, d_y) x2 -> ()."""
    return ((pred - target) ** 2).mean()


LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"norm": norm_loss, "mse": mse_loss}


@dataclass
class Step:
    """What one training iteration did."""

    iteration: int
    loss: float
    tolerance: float | None
    nfe_forward: int
    nfe_backward: int
    seconds: float


@dataclass
class History:
    steps: list[Step] = field(default_factory=list)

    @property
    def losses(self) -> list[float]:
        return [s.loss for s in self.steps]


def fit(model: nn.Module, x: Tensor, y: Tensor, optimizer: torch.optim.Optimizer,
        iterations: int = 50, schedule: Schedule | None = None,
        loss: Callable[[Tensor, Tensor], Tensor] = norm_loss,
        callback: Callable[[Step], None] | None = None) -> History:
    """Train `model` on (x, y) with full-batch steps.

    Args:
        model: a JacNet or MLPRegressor.
        x: (N, d_x) inputs; y: (N, d_y) targets.
        optimizer: built over model.parameters() (paper: Adam, lr 0.01).
        iterations: number of full-batch steps (paper: 50).
        schedule: integrator tolerance schedule; None leaves the integrator as it is.
        loss: (pred, target) -> scalar.
        callback: called with each Step (progress bars, CSV rows); a KeyboardInterrupt
            raised anywhere stops training and propagates after the history is complete.

    Returns:
        the History of steps taken.
    """
    history = History()
    integrator = getattr(model, "integrator", None)
    model.train()
    for it in range(iterations):
        start = time.perf_counter()
        if schedule is not None and integrator is not None:
            integrator.set_tolerance(schedule.tolerance)
        tol = integrator.tolerance if integrator is not None else None
        optimizer.zero_grad(set_to_none=True)
        value = loss(model(x), y)
        nfe_f = integrator.nfe_forward if integrator is not None else 0
        value.backward()
        optimizer.step()
        nfe_b = integrator.nfe_backward if integrator is not None else 0
        step = Step(it, float(value.detach()), tol, nfe_f, nfe_b, time.perf_counter() - start)
        history.steps.append(step)
        if schedule is not None:
            schedule.update(step.loss)
        if callback is not None:
            callback(step)
    model.eval()
    return history
