"""The model protocol (`Model`: what jacnet asks of any model) and how a model is evaluated:
in chunks, by one cumulative pass in 1-D, and its derivative D = dŷ/dx by autograd.

The bottom of the model stack: `core.model` (JacNet, the MLP), `core.units` (a model in the
user's units), `core.inverse` and `core.guarantees` build on it and never on each other's
classes, so the imports run one way.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor, nn

from jacnet_cli.core.errors import NotInvertibleError
from jacnet_cli.core.solvers import Solver, gauss_legendre_rule
from jacnet_cli.core.structures.base import Structure, invertible_hint

METHODS = ("direct", "cumulative", "auto")


Transform = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


class Model(nn.Module):
    """What jacnet asks of a model. Declared here, answered by every model:

    - `d_x`, `d_y`; `structure` (None for a model without one), `solver` (None without an
      integral); `units` (the affine map to the user's units, or None);
    - `forward` (ŷ, with gradients), `predict` (no gradients, in chunks), `jacobian` (J_θ,
      the network's Jacobian: D itself for exact structures);
    - the inverse (`invertible`, `solve`, `inverse`) and `log_det`;
    - what training needs (`trainable`), what a run reports of the weights (`weight_report`,
      `region`, `resolved`), and the config that rebuilds it (`config`).
    """

    d_x: int
    d_y: int
    structure: Structure | None = None
    solver: Solver | None = None

    @property
    def units(self) -> Any:
        """The affine map to the user's units (`core.units.Units`), or None."""
        return None

    @property
    def invertible(self) -> bool:
        return self.structure is not None and self.structure.invertible

    def predict(self, x: Tensor, rows: int = 16384, method: str = "direct") -> Tensor:
        """ŷ(x) without gradients, in chunks of `rows` network rows: (N, d_x) -> (N, d_y)."""
        return chunked(self, as_points(x, self.d_x, self), rows)

    def jacobian(self, x: Tensor) -> Tensor:
        """The network's Jacobian J_θ: (N, d_x) -> (N, d_y, d_x) (a plain model: D)."""
        return derivative(self, x)

    def solve(self, y: Tensor, x: Tensor | None = None, **options: Any) -> Any:
        """x = ŷ⁻¹(y) with each point's status (`core.inverse.Inversion`): see
        `core.inverse.solve`. `x` gives the other inputs of a structure inverted in one."""
        raise NotInvertibleError(f"a {type(self).__name__} has no structure that guarantees "
                                 f"an inverse; {invertible_hint()}")

    def inverse(self, y: Tensor, x: Tensor | None = None, **options: Any) -> Tensor:
        """x = ŷ⁻¹(y) (see `core.inverse.invert`); numpy arrays and lists are taken too."""
        return self.solve(y, x, **options).x

    def log_det(self, x: Tensor) -> Tensor:
        """log |det dŷ/dx| per point, (N,): in closed form where the structure has one."""
        return torch.linalg.slogdet(derivative(self, as_points(x, self.d_x, self)))[1]

    def trainable(self) -> tuple[nn.Module, Transform | None]:
        """The module training updates, and the map of a batch (x, y) into its units."""
        return self, None

    def penalty(self) -> Tensor | None:
        """The structure's own training term (`Structure.penalty`), or None."""
        return None

    def weight_report(self) -> dict[str, Any]:
        """What the weights bound (`Structure.report`), in the user's units."""
        return {}

    def region(self) -> tuple[Tensor, Tensor] | None:
        """The box (lo, hi), user units, where the structure's local keys are stated."""
        return None

    def resolved(self) -> dict[str, Any]:
        """Config values the data decided when the model was built (`Structure.resolved`)."""
        return {}

    def conservation(self, x_test: Tensor, grid: Tensor) -> dict[str, float]:
        """Conservation diagnostics of J_θ (`core.guarantees.conservation`): a JacNet with
        several inputs has them; others report none."""
        return {}

    def config(self) -> dict[str, Any]:
        """The config entries that rebuild this model through `run.build` (`jacnet_cli.save`)."""
        raise NotImplementedError


def as_points(x: Any, d: int, like: nn.Module | None = None) -> Tensor:
    """x as a batch of points (N, d) on the model's dtype and device: a tensor, a numpy
    array or nested lists; a 1-D input is N points when d = 1, one point when it has d
    entries; anything else gets one line saying what is needed."""
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(x, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"expected points of shape (N, {d}) as a tensor, a numpy array or "
                             f"a list of numbers; got {type(x).__name__}") from None
    if like is not None:
        ref = next(like.parameters(), None)
        if ref is None:
            ref = next(like.buffers(), None)
        if ref is not None and (x.dtype != ref.dtype or x.device != ref.device):
            if not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64, torch.bool)):
                raise ValueError(f"expected real points, got a {x.dtype} tensor")
            x = x.to(dtype=ref.dtype, device=ref.device)
    if x.ndim == 2 and x.shape[1] == d:
        return x
    if x.ndim == 1 and d == 1:
        return x[:, None]
    if x.ndim == 1 and x.shape[0] == d:
        return x[None, :]
    raise ValueError(f"expected points of shape (N, {d}), got {tuple(x.shape)}"
                     + ("; pass x[:, None] for N points of one input" if d == 1 else ""))


def derivative(f: Callable[[Tensor], Tensor], x: Tensor, create_graph: bool = False,
               value: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Jacobian of a pointwise batched function by autograd: x (N, d_x) -> (N, d_y, d_x).

    `f` must map each row of x independently (true of every model here), so one backward pass
    per output coordinate gives all N Jacobians. With `value`, also f(x) (N, d_y), detached:
    the values the Jacobian was taken of, at no extra cost.
    """
    with torch.enable_grad():
        xg = x if (create_graph and x.requires_grad) else x.detach().requires_grad_(True)
        y = f(xg)  # (N, d_y)
        rows = [
            torch.autograd.grad(y[:, i].sum(), xg, create_graph=create_graph,
                                retain_graph=i + 1 < y.shape[1] or create_graph)[0]  # (N, d_x)
            for i in range(y.shape[1])
        ]
    jac = torch.stack(rows, dim=1)  # (N, d_y, d_x)
    return (jac, y.detach()) if value else jac


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, rows: int = 16384, method: str = "direct") -> Tensor:
    """Evaluate a model without gradients, in chunks: (N, d_x) -> (N, d_y).

    Args:
        model: a `Model` (or any pointwise module: evaluated in chunks).
        x: (N, d_x) points.
        rows: network rows per call (points x quadrature nodes); small chunks stay in cache.
        method: "direct" calls the model (its own solver); "cumulative" evaluates a 1-D
            JacNet by one composite pass over the sorted points (see `cumulative_predict`),
            many times faster on large batches; "auto" picks cumulative where it applies.
    """
    if isinstance(model, Model):
        return model.predict(x, rows, method)
    return chunked(model, x, rows)  # any pointwise module


@torch.no_grad()
def chunked(model: Callable[[Tensor], Tensor], x: Tensor, rows: int) -> Tensor:
    """model(x) in chunks of `rows` points, without gradients: (N, d_x) -> (N, d_y)."""
    return torch.cat([model(part) for part in x.split(max(1, rows))], dim=0)


@torch.no_grad()
def cumulative_predict(model: nn.Module, x: Tensor, nodes: int = 2, max_gap: float = 1 / 64,
                       chunk: int = 1 << 18) -> Tensor:
    """ŷ(x) for a 1-D JacNet by one composite Gauss–Legendre pass over the sorted points.

    In 1-D ŷ(x) = y0 + ∫_{x0}^{x} J(s) ds along the line, so all points share one integral:
    the breakpoints are the points, x0 and a grid of spacing `max_gap`; each interval gets a
    `nodes`-point rule (error O(h^(2 nodes + 1)) per interval) and a cumulative sum gives
    every ŷ at once: about `nodes` network rows per point instead of the rule's K.

    Args:
        model: a 1-D JacNet with the straight path and a fixed anchor.
        x: (N, 1) points.
        nodes: Gauss–Legendre nodes per interval.
        max_gap: longest interval allowed.
        chunk: network rows per call.

    Returns:
        (N, 1) ŷ(x), without gradient.
    """
    if not model.cumulative:
        raise ValueError("method='cumulative' needs a 1-D JacNet with path=linear and a fixed anchor")
    x0, y0 = model.anchor(x[:1])  # (1, 1) each
    s = x[:, 0]  # (N,)
    lo = float(torch.minimum(s.min(), x0[0, 0]))
    hi = float(torch.maximum(s.max(), x0[0, 0]))
    grid = torch.linspace(lo, hi, max(2, math.ceil((hi - lo) / max_gap) + 1),
                          dtype=x.dtype, device=x.device)  # (G,)
    b, where = torch.unique(torch.cat([s, x0[0], grid]), sorted=True,
                            return_inverse=True)  # (M,), (N + 1 + G,)
    h = b[1:] - b[:-1]  # (M-1,)
    t, w = gauss_legendre_rule(nodes, x)  # (K,), (K,)
    pts = (b[:-1, None] + h[:, None] * t[None, :]).reshape(-1, 1)  # ((M-1) K, 1)
    jac = torch.cat([model.jacobian(p)[:, 0, 0] for p in pts.split(chunk)])  # ((M-1) K,)
    pieces = h * (jac.reshape(-1, nodes) @ w)  # (M-1,)
    f = torch.cat([pieces.new_zeros(1), torch.cumsum(pieces, 0)])  # (M,) ∫ from b[0]
    yb = y0[0, 0] + f - f[where[s.shape[0]]]  # (M,): ∫ from x0 instead
    return yb[where[: s.shape[0]]][:, None]  # (N, 1)
