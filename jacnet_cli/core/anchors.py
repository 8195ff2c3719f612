"""Anchors (x0, y0): where each line integral starts and the value it starts from.

Every anchor is built as ``Anchor(d_x, d_y, ..., target=None, points=None)``: `target` is the
closed-form function when one is known (to give y0 = y(x0)), `points` the training pairs
(x, y). A saved model is rebuilt without either (`rebuild=True`): its state dict then brings
the values. Config group: ``conf/anchor/<name>.yaml``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks

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

    shared = False  # one anchor for every point
    needs_points = False  # it is built from the training points
    data_slope: float | None = None  # 1-D: the training data's least-squares slope, if known

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
            "nearest" (starts at the y of the training point nearest x0: no knowledge of the
            target needed), or a number / d_y numbers (given).
        target: the closed-form function, needed for y0="target".
        points: training pairs (x (M, d_x), y (M, d_y)), needed for y0="nearest".
        rebuild: a saved model is being rebuilt: y0's value comes from its state dict, so
            "target" and "nearest" need neither the target nor the points.
        trainable: train y0 with the network, starting from the value y0 gives ("learned"
            and "nearest" are always trained). A trained y0 lets the fit move the whole curve,
            which a J network that must also bend sharply near x0 (|x| at 0) cannot.
        rate: a trained y0 is y0_start + rate · y0_offset with y0_offset the parameter
            (starting at 0), so an optimiser whose steps do not depend on the gradient's
            scale (Adam) moves y0 `rate` times as fast as it would move y0 itself: below 1
            the anchor value stays near its start and absorbs only small offsets.

    Attributes:
        data_slope: in 1-D with training points, the slope s of the least-squares line
            y = y0 + s (x - x0) through the anchor (None otherwise); the J network can start
            there (model.output_init=data).
    """

    shared = True

    def __init__(self, d_x: int, d_y: int, x0: float | Sequence[float] = 0.0,
                 y0: str | float | Sequence[float] = "learned",
                 target: Callable[[Tensor], Tensor] | None = None,
                 points: Points | None = None, trainable: bool = False, rate: float = 1.0,
                 rebuild: bool = False):
        super().__init__()
        self.rate = checks.positive("anchor.rate", rate)
        self.trainable = checks.boolean("anchor.trainable", trainable)
        self.register_buffer("x0", _vector("anchor.x0", x0, d_x))
        self.y0_mode = y0 if isinstance(y0, str) else None
        self.learned = y0 in ("learned", "nearest") or self.trainable
        if rebuild and y0 in ("target", "nearest"):
            y0 = 0.0  # the saved state dict holds the value
        if y0 == "target":
            if target is None:
                raise ValueError("anchor.y0='target' needs a target function; pass y0 or 'learned'")
            with torch.no_grad():
                y0 = target(self.x0[None].double())[0]
        elif y0 == "nearest":
            if points is None or points[0].shape[0] < 1:
                raise ValueError("anchor.y0='nearest' needs training points; pass y0 or 'learned'")
            xs = points[0].detach().reshape(-1, d_x).double()  # (M, d_x)
            i = int(torch.linalg.vector_norm(xs - self.x0, dim=-1).argmin())
            y0 = points[1].detach().reshape(-1, d_y)[i].double()
        elif y0 == "learned":
            y0 = 0.0
        elif isinstance(y0, str):
            raise ValueError(f"anchor.y0={y0!r} is not allowed; use 'target', 'learned', "
                             f"'nearest' or {d_y} number(s)")
        start = _vector("anchor.y0", y0, d_y)  # (d_y,)
        if self.learned and self.rate != 1.0:
            self.register_buffer("y0_start", start)
            self.y0_offset = nn.Parameter(torch.zeros(d_y, dtype=torch.float64))
        elif self.learned:
            self.y0 = nn.Parameter(start)
        else:
            self.register_buffer("y0", start)
        self.data_slope = _data_slope(self.x0, start, points) if d_x == d_y == 1 else None

    def spec_arguments(self) -> dict[str, Any]:
        # "target" is replaced by its value: a rebuilt model may not know the target.
        y0 = self.y0_mode if self.y0_mode in ("learned", "nearest") else \
            [float(v) for v in (self.y0_start if hasattr(self, "y0_offset") else self.y0)]
        return {"x0": self.x0.tolist(), "y0": y0, "trainable": self.trainable, "rate": self.rate}

    def value(self) -> Tensor:
        """The current y0, (d_y,)."""
        if hasattr(self, "y0_offset"):
            return self.y0_start + self.rate * self.y0_offset
        return self.y0

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n = x.shape[0]
        x0, y0 = self.x0.to(x.dtype), self.value().to(x.dtype)
        return x0.expand(n, -1), y0.expand(n, -1)  # (N, d_x), (N, d_y)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        n = y.shape[0]
        x0, y0 = self.x0.to(y.dtype), self.value().to(y.dtype)
        return y0.expand(n, -1), x0.expand(n, -1)  # (N, d_y), (N, d_x)

    def extra_repr(self) -> str:
        y0 = [round(v, 6) for v in self.value().tolist()]
        rate = f", rate={self.rate:g}" if self.rate != 1.0 else ""
        return f"x0={self.x0.tolist()}, y0={y0}{' (trained' + rate + ')' if self.learned else ''}"


def _data_slope(x0: Tensor, y0: Tensor, points: Points | None) -> float | None:
    """Least-squares slope of 1-D training points about (x0, y0): Σ dx dy / Σ dx²."""
    if points is None or points[0].numel() == 0:
        return None
    dx = points[0].detach().reshape(-1).double() - x0.reshape(-1)  # (M,)
    dy = points[1].detach().reshape(-1).double() - y0.reshape(-1)  # (M,)
    den = float((dx * dx).sum())
    return float((dx * dy).sum()) / den if den > 0 else None


class NearestAnchor(Anchor):
    """Start each path from the nearest training pair (paper section 4.4): shorter paths,
    fewer solver steps.

    In training mode a point never anchors to itself (that path has length zero and would teach
    nothing): it uses the nearest *other* training point. Caveat: the function is then defined
    piecewise over the cells of the training points and may jump at cell boundaries, so the
    structure's guarantees hold inside each cell, not globally.

    Args:
        d_x, d_y: dimensions.
        target: unused.
        points: training pairs (x (M, d_x), y (M, d_y)), M >= 2.
    """

    needs_points = True  # every training point is an anchor

    def __init__(self, d_x: int, d_y: int, target: Callable[[Tensor], Tensor] | None = None,
                 points: Points | None = None, rebuild: bool = False):
        super().__init__()
        if rebuild and points is None:  # the saved state dict brings the points
            points = (torch.zeros(0, d_x, dtype=torch.float64),
                      torch.zeros(0, d_y, dtype=torch.float64))
        elif points is None or points[0].shape[0] < 2:
            raise ValueError("anchor=nearest needs at least 2 training points")
        self.register_buffer("xs", points[0].detach().reshape(-1, d_x).clone())
        self.register_buffer("ys", points[1].detach().reshape(-1, d_y).clone())

    def spec_arguments(self) -> dict[str, Any]:
        return {}

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        for name in ("xs", "ys"):  # take the saved points' count
            saved = state_dict.get(prefix + name)
            if saved is not None:
                setattr(self, name, torch.empty_like(saved, dtype=getattr(self, name).dtype))
        super()._load_from_state_dict(state_dict, prefix, *args)

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

