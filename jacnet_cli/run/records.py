"""What training produces, step by step: the records every other part of `run` reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Step:
    """What one training iteration did."""

    iteration: int
    loss: float
    tolerance: float | None
    nfe_forward: int
    nfe_backward: int
    seconds: float
    epoch: int = 0
    val_loss: float | None = None  # set on the last step of an epoch when validating


@dataclass
class History:
    """The steps of a `fit`, and how it stopped."""

    steps: list[Step] = field(default_factory=list)
    stopped_early: bool = False
    best_iteration: int | None = None
    best_val_loss: float | None = None

    @property
    def losses(self) -> list[float]:
        return [s.loss for s in self.steps]


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a model's state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
