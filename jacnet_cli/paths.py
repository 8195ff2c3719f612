"""Paths c(t, start, end), t in [0, 1], along which the line integral is taken.

A path returns its points and its velocity dc/dt at the requested times, for a batch of
(start, end) pairs at once. Config group: ``conf/path/<name>.yaml``.
"""

from __future__ import annotations

import torch
from torch import Tensor


class Path:
    """Base class: c(0) = start, c(1) = end, evaluated at K times for N pairs."""

    name: str = "path"

    def legs(self, start: Tensor, end: Tensor) -> list[tuple[Tensor, Tensor]]:
        """The path as straight segments [(a, b), ...], each (N, d): integrals add over them,
        and a quadrature on each segment sees a smooth integrand."""
        return [(start, end)]

    def __call__(self, t: Tensor, start: Tensor, end: Tensor) -> tuple[Tensor, Tensor]:
        """Points and velocities of the path.

        Args:
            t: times in [0, 1], shape (K,).
            start: (N, d) path starts.
            end: (N, d) path ends.

        Returns:
            c: (N, K, d) points c(t_k); dc: (N, K, d) velocities c'(t_k).
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LinearPath(Path):
    """The straight line c(t) = (1 - t) start + t end, c'(t) = end - start (the paper's)."""

    name = "linear"

    def __call__(self, t: Tensor, start: Tensor, end: Tensor) -> tuple[Tensor, Tensor]:
        delta = (end - start).unsqueeze(1)  # (N, 1, d)
        c = start.unsqueeze(1) + t[None, :, None] * delta  # (N, K, d)
        return c, delta.expand_as(c)


class AxisPath(Path):
    """Move one coordinate at a time, in order: d straight legs of duration 1/d each.

    For a conservative Jacobian field it gives the same integral as the straight line; for a
    non-conservative one (paper section 4.5) the difference shows the path dependence.
    The velocity jumps between legs, so the model integrates each leg on its own (`legs`).
    """

    name = "axis"

    def legs(self, start: Tensor, end: Tensor) -> list[tuple[Tensor, Tensor]]:
        out, a = [], start
        for i in range(start.shape[-1]):
            b = a.clone()
            b[..., i] = end[..., i]
            out.append((a, b))
            a = b
        return out

    def __call__(self, t: Tensor, start: Tensor, end: Tensor) -> tuple[Tensor, Tensor]:
        d = start.shape[-1]
        delta = end - start  # (N, d)
        # Fraction of each leg travelled at time t: clamp(d t - i, 0, 1) for leg i.
        legs = torch.arange(d, dtype=t.dtype, device=t.device)  # (d,)
        s = (d * t[:, None] - legs[None, :])  # (K, d)
        frac = s.clamp(0, 1)  # (K, d)
        moving = ((s >= 0) & (s < 1)) | ((s == 1) & (t[:, None] == 1) & (legs[None, :] == d - 1))
        c = start.unsqueeze(1) + frac.unsqueeze(0) * delta.unsqueeze(1)  # (N, K, d)
        dc = d * moving.to(t.dtype).unsqueeze(0) * delta.unsqueeze(1)  # (N, K, d)
        return c, dc


PATHS: dict[str, type[Path]] = {"linear": LinearPath, "axis": AxisPath}
