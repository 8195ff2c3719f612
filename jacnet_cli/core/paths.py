"""Paths from the anchor x0 to x along which the line integral is taken.

A path is a list of straight legs: integrals add over them, and a quadrature on each leg
sees a smooth integrand (the velocity jumps between legs). Config group:
``conf/path/<name>.yaml``.
"""

from __future__ import annotations

from torch import Tensor


class Path:
    """Base class: the path from start to end as straight segments."""

    def legs(self, start: Tensor, end: Tensor) -> list[tuple[Tensor, Tensor]]:
        """The path as straight segments [(a, b), ...], each (N, d)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LinearPath(Path):
    """The straight line c(t) = (1 - t) start + t end, c'(t) = end - start (the paper's)."""

    def legs(self, start: Tensor, end: Tensor) -> list[tuple[Tensor, Tensor]]:
        return [(start, end)]


class AxisPath(Path):
    """Move one coordinate at a time, in order: d straight legs.

    For a conservative Jacobian field it gives the same integral as the straight line; for a
    non-conservative one (paper section 4.5) the difference shows the path dependence.
    """

    def legs(self, start: Tensor, end: Tensor) -> list[tuple[Tensor, Tensor]]:
        out, a = [], start
        for i in range(start.shape[-1]):
            b = a.clone()
            b[..., i] = end[..., i]
            out.append((a, b))
            a = b
        return out
