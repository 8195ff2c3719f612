"""Anchors (x0, y0): where each line integral starts and the value it starts from.

Every anchor is built as ``Anchor(d_x, d_y, ..., target=None, points=None)``: `target` is the
closed-form function when one is known (to give y0 = y(x0)), `points` the training pairs
(x, y). Config group: ``conf/anchor/<name>.yaml``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

Points = tuple[Tensor, Tensor]  # (M, d_x), (M, d_y)


def _vector(key: str, value: float | Sequence[float] | Tensor, d: int) -> Tensor:
    v = torch.as_tensor(value, dtype=torch.float64).flatten()  # cast per call, no rounding
    if v.numel() == 1:
        v = v.expand(d).clone()
    if v.numel() != d:
        raise ValueError(f"{key}={list(v.tolist())} is not allowed; it must have {d} entries")
    return v


class Anchor(nn.Module):
    """Base class: x0, y0 for a batch of ends (forward) and of output-space ends (inverse)."""

    name = "anchor"

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Start of each path in input space: x (N, d_x) -> x0 (N, d_x), y0 (N, d_y)."""
        raise NotImplementedError

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """Start of each path in output space: y (N, d_y) -> y0 (N, d_y), x0 (N, d_x)."""
        raise NotImplementedError


class FixedAnchor(Anchor):
    """One anchor for every point (paper: x0 = 0, y0 = y(0)).

    Args:
        d_x, d_y: dimensions.
        x0: the start, a number (broadcast) or d_x numbers.
        y0: "target" (y0 = target(x0), given), "learned" (a parameter, starts at 0),
            or a number / d_y numbers (given).
        target: the closed-form function, needed for y0="target".
        points: unused (training pairs, for the anchors that need them).
    """

    name = "fixed"

    def __init__(self, d_x: int, d_y: int, x0: float | Sequence[float] = 0.0,
                 y0: str | float | Sequence[float] = "learned",
                 target: Callable[[Tensor], Tensor] | None = None,
                 points: Points | None = None):
        super().__init__()
        self.register_buffer("x0", _vector("anchor.x0", x0, d_x))
        self.learned = y0 == "learned"
        if y0 == "target":
            if target is None:
                raise ValueError("anchor.y0='target' needs a target function; pass y0 or 'learned'")
            with torch.no_grad():
                y0 = target(self.x0[None].double())[0]
        elif isinstance(y0, str) and not self.learned:
            raise ValueError(
                f"anchor.y0={y0!r} is not allowed; use 'target', 'learned' or {d_y} number(s)"
            )
        if self.learned:
            self.y0 = nn.Parameter(torch.zeros(d_y))
        else:
            self.register_buffer("y0", _vector("anchor.y0", y0, d_y))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n = x.shape[0]
        x0, y0 = self.x0.to(x.dtype), self.y0.to(x.dtype)
        return x0.expand(n, -1), y0.expand(n, -1)  # (N, d_x), (N, d_y)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        n = y.shape[0]
        x0, y0 = self.x0.to(y.dtype), self.y0.to(y.dtype)
        return y0.expand(n, -1), x0.expand(n, -1)  # (N, d_y), (N, d_x)

    def extra_repr(self) -> str:
        return f"x0={self.x0.tolist()}, y0={'learned' if self.learned else self.y0.tolist()}"


class NearestAnchor(Anchor):
    """Start each path from the nearest training pair (paper section 4.4): shorter paths,
    fewer integrator steps.

    In training mode a point never anchors to itself (that path has length zero and would teach
    nothing): it uses the nearest *other* training point. Caveat: the function is then defined
    piecewise over the cells of the training points and may jump at cell boundaries, so the
    structure's guarantees hold inside each cell, not globally.

    Args:
        d_x, d_y: dimensions.
        target: unused.
        points: training pairs (x (M, d_x), y (M, d_y)), M >= 2.
    """

    name = "nearest"

    def __init__(self, d_x: int, d_y: int, target: Callable[[Tensor], Tensor] | None = None,
                 points: Points | None = None):
        super().__init__()
        if points is None or points[0].shape[0] < 2:
            raise ValueError("anchor=nearest needs at least 2 training points")
        self.register_buffer("xs", points[0].detach().reshape(-1, d_x).clone())
        self.register_buffer("ys", points[1].detach().reshape(-1, d_y).clone())

    def _nearest(self, q: Tensor, keys: Tensor) -> Tensor:
        dist = torch.cdist(q, keys.to(q.dtype))  # (N, M)
        if self.training:
            dist = dist.masked_fill(dist <= 1e-12, float("inf"))
        return dist.argmin(dim=1)  # (N,)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        i = self._nearest(x, self.xs)
        return self.xs[i].to(x.dtype), self.ys[i].to(x.dtype)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        i = self._nearest(y, self.ys)
        return self.ys[i].to(y.dtype), self.xs[i].to(y.dtype)


ANCHORS: dict[str, type[Anchor]] = {"fixed": FixedAnchor, "nearest": NearestAnchor}
