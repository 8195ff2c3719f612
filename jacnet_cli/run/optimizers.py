"""Optimisers as config objects: each checks its own values, then builds the torch optimiser
over a model's parameters (`optimizer(params)`). Config group: ``conf/optim/<name>.yaml``."""

from __future__ import annotations

from typing import Any, Iterable

import torch

from jacnet_cli.core import checks


class Optimizer:
    """Base class: a learning rate and options for one torch.optim class."""

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0):
        self.lr = checks.positive("optim.lr", lr)
        self.weight_decay = checks.nonnegative("optim.weight_decay", weight_decay)

    def options(self) -> dict[str, Any]:
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def __call__(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return self.build(params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options().items())})"


class Adam(Optimizer):
    """Adam (the paper's: lr 0.01, other parameters at defaults).

    Args:
        lr: learning rate.
        betas: the moment decay rates.
        weight_decay: L2 penalty added to the gradient.
        fused: the same update in one kernel per step.
    """

    def __init__(self, lr: float = 0.01, betas: tuple[float, float] = (0.9, 0.999),
                 weight_decay: float = 0.0, fused: bool = False):
        super().__init__(lr, weight_decay)
        self.betas = tuple(float(checks.number("optim.betas", b, 0, 1, closed=False) or 0)
                           for b in betas)
        self.fused = checks.boolean("optim.fused", fused)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "betas": self.betas, "fused": self.fused}

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=self.lr, betas=self.betas,
                                weight_decay=self.weight_decay, fused=self.fused or None)


class AdamW(Adam):
    """Adam with decoupled weight decay."""

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.AdamW(params, lr=self.lr, betas=self.betas,
                                 weight_decay=self.weight_decay, fused=self.fused or None)


class SGD(Optimizer):
    """Stochastic gradient descent with momentum.

    Args:
        lr: learning rate.
        momentum: momentum factor in [0, 1).
        weight_decay: L2 penalty added to the gradient.
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.momentum = checks.number("optim.momentum", momentum, 0, 1)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "momentum": self.momentum}

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay)
