"""Library changes this benchmark proposes, written here so their numbers can be measured.

Neither function is part of jacnet_cli; both are candidates for it (see RESULTS.md):

- `cumulative_predict`: evaluate a 1-D JacNet on many points with one composite
  Gauss–Legendre pass over the sorted points, ŷ(x) = y0 + ∫_{x0}^{x} J(s) ds, so each point
  costs `nodes` (2) network rows instead of the K (16) of a per-point rule.
- `table_invert`: invert a 1-D invertible JacNet from a tabulated guess (a monotone table of
  ŷ plus inverse cubic Hermite interpolation) and safeguarded Newton on the points that have
  not converged, instead of an output-space ODE (stiff wherever J is near ε) or a bracket
  grown from the anchor.

Both assume what the paper's 1-D models have: d_x = d_y = 1, the straight path and one fixed
anchor (x0, y0); `table_invert` also needs J > 0 (the `pd` structure).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn


def _legendre(k: int, like: Tensor) -> tuple[Tensor, Tensor]:
    u, w = np.polynomial.legendre.leggauss(k)
    return (torch.as_tensor((u + 1) / 2, dtype=like.dtype, device=like.device),  # (K,)
            torch.as_tensor(w / 2, dtype=like.dtype, device=like.device))        # (K,)


def _check_1d(model: nn.Module) -> None:
    if getattr(model, "d_x", None) != 1 or getattr(model, "d_y", None) != 1:
        raise ValueError("this evaluator needs a 1-D JacNet (d_x = d_y = 1)")


@torch.no_grad()
def cumulative_predict(model: nn.Module, x: Tensor, nodes: int = 2, max_gap: float = 1 / 64,
                       chunk: int = 1 << 18) -> Tensor:
    """ŷ(x) for a 1-D JacNet by one composite Gauss–Legendre pass over the sorted points.

    The breakpoints are the points, the anchor x0 and a grid of spacing `max_gap` (so no
    interval is long); each interval gets a `nodes`-point rule (error O(h^(2·nodes+1)) per
    interval) and a cumulative sum gives every ∫_{x0}^{x} J at once.

    Args:
        model: a 1-D JacNet with the straight path and a fixed anchor.
        x: (N, 1) points.
        nodes: Gauss–Legendre nodes per interval.
        max_gap: longest interval allowed.
        chunk: network rows per call.

    Returns:
        (N, 1) ŷ(x).
    """
    _check_1d(model)
    x0, y0 = model.anchor(x[:1])  # (1, 1) each
    s = x[:, 0]  # (N,)
    lo = float(torch.minimum(s.min(), x0[0, 0]))
    hi = float(torch.maximum(s.max(), x0[0, 0]))
    grid = torch.linspace(lo, hi, max(2, math.ceil((hi - lo) / max_gap) + 1),
                          dtype=x.dtype, device=x.device)  # (G,)
    b, where = torch.unique(torch.cat([s, x0[0], grid]), sorted=True, return_inverse=True)  # (M,)
    h = b[1:] - b[:-1]  # (M-1,)
    t, w = _legendre(nodes, x)
    pts = (b[:-1, None] + h[:, None] * t[None, :]).reshape(-1, 1)  # ((M-1) K, 1)
    jac = torch.cat([model.jacobian(p)[:, 0, 0] for p in pts.split(chunk)])  # ((M-1) K,)
    pieces = h * (jac.reshape(-1, nodes) @ w)  # (M-1,)
    f = torch.cat([pieces.new_zeros(1), torch.cumsum(pieces, 0)])  # (M,) ∫ from b[0]
    yb = y0[0, 0] + f - f[where[s.shape[0]]]  # (M,): subtract ∫ from b[0] to x0
    return yb[where[: s.shape[0]]][:, None]  # (N, 1)


@torch.no_grad()
def table_invert(model: nn.Module, y: Tensor, grid: int = 513, xtol: float = 1e-13,
                 max_iter: int = 60) -> Tensor:
    """x = ŷ⁻¹(y) for a 1-D increasing JacNet: tabulated guess, then bracketed Newton.

    1. Grow [x0 - W, x0 + W] (W = 1, 2, 4, ...) until ŷ of its ends brackets every y.
    2. Tabulate ŷ (the model as evaluated) and J on `grid` points of it; each y falls in
       one table cell, which brackets its root (ŷ increases).
    3. Guess x by inverse cubic Hermite interpolation (x as a function of y, slopes 1/J),
       clamped to the cell.
    4. Newton x <- x - (ŷ(x) - y) / J(x) on the points not yet converged, bisecting when a
       step leaves the bracket; a point is done once its step is below xtol (1 + |x|), so
       its last step is applied without a further evaluation; a point whose residual is at
       ŷ's rounding floor stops too (where J ~ ε that floor is ~eps |y| / ε in x).

    Args:
        model: a 1-D JacNet with J > 0 (pd), straight path and fixed anchor.
        y: (N, 1) targets.
        grid: table size.
        xtol: relative step size that ends the iteration for a point.
        max_iter: bound on Newton iterations.

    Returns:
        (N, 1) the preimages under ŷ as the model evaluates it.
    """
    _check_1d(model)
    y0, x0 = model.anchor.inverse(y[:1])  # (1, 1) each
    ymin, ymax = float(y.min()), float(y.max())
    width = 1.0
    for _ in range(60):
        ends = torch.tensor([[-width], [width]], dtype=y.dtype, device=y.device) + x0  # (2, 1)
        fe = model(ends)[:, 0]  # (2,)
        if float(fe[0]) <= ymin and float(fe[1]) >= ymax:
            break
        width *= 2
    xs = torch.linspace(float(ends[0, 0]), float(ends[1, 0]), grid,
                        dtype=y.dtype, device=y.device)[:, None]  # (G, 1)
    fs = model(xs)[:, 0]  # (G,)
    js = model.jacobian(xs)[:, 0, 0]  # (G,)
    fs = torch.cummax(fs, 0).values  # guard the search against rounding noise
    yv = y[:, 0]  # (N,)
    i = torch.searchsorted(fs, yv).clamp(1, grid - 1)  # (N,): the cell [i-1, i]
    lo, hi = xs[i - 1, 0], xs[i, 0]  # (N,) brackets
    fl, fr, dl, dr = fs[i - 1], fs[i], 1 / js[i - 1], 1 / js[i]
    dy = (fr - fl).clamp_min(torch.finfo(y.dtype).tiny)
    u = ((yv - fl) / dy).clamp(0, 1)  # (N,) position in the cell, in y
    # Cubic Hermite basis for x(y) on [fl, fr].
    h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
    h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
    x = h00 * lo + h10 * dy * dl + h01 * hi + h11 * dy * dr  # (N,)
    x = torch.minimum(torch.maximum(x, lo), hi)
    active = torch.arange(yv.shape[0], device=y.device)  # (P,) points still iterating
    for _ in range(max_iter):
        if active.numel() == 0:
            break
        xa = x[active][:, None]  # (P, 1)
        r = model(xa)[:, 0] - yv[active]  # (P,)
        step = r / model.jacobian(xa)[:, 0, 0]  # (P,)
        la = torch.where(r < 0, xa[:, 0], lo[active])
        ha = torch.where(r > 0, xa[:, 0], hi[active])
        lo[active], hi[active] = la, ha
        new = xa[:, 0] - step
        inside = (new >= la) & (new <= ha)
        new = torch.where(inside, new, 0.5 * (la + ha))
        x[active] = new
        eps = torch.finfo(y.dtype).eps
        # Done: a step below xtol (applied, and the next would be ~ its square), a residual at
        # the rounding floor of ŷ (no further step can be trusted), or a collapsed bracket.
        done = (inside & (step.abs() <= xtol * (1 + new.abs()))) \
            | (r.abs() <= 4 * eps * (1 + yv[active].abs())) \
            | (ha - la <= 4 * eps * (1 + new.abs()))
        active = active[~done]
    return x[:, None]  # (N, 1)
