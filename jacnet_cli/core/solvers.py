"""Solvers: how ŷ(x) = y0 + ∫ J(c(t)) c'(t) dt is evaluated along the model's path.

Every solver answers `integrate(model, start, end)`:

- `Exact`: no quadrature, P(end) - P(start) with the structure's closed-form antiderivative
  (one network pass per point; exact to rounding).
- `GaussLegendre`: a fixed K-node rule on each straight leg of the path, vectorised: the
  integrand is called once on all N x K points and backpropagated by plain autograd.
- `ODESolver`: torchdiffeq's `odeint` or `odeint_adjoint` on dy/dt = g(t), y(0) = 0 on each
  leg, any of its methods with rtol/atol (the paper's choice: adjoint + an adaptive solver).
- `Auto`: exact where the structure has a closed form, else Gauss–Legendre; resolved when
  the model is built.

Each counts integrand evaluations per point: `nfe_forward` for the last call and, once its
backward has run, `nfe_backward` (re-evaluations the adjoint makes; 0 for autograd).
Config group: ``conf/solver/<name>.yaml``.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from jacnet_cli.core import checks

Integrand = Callable[[Tensor], Tensor]  # t (K,) -> (N, K, d_y)

FIXED_METHODS = ("euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams",
                 "fixed_adams")
ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")


class Solver:
    """Base class with the NFE counters and a tolerance the schedules can set."""

    exact = False  # True: the model uses its structure's closed-form antiderivative
    nodes = 1  # network rows per point of one evaluation (a fixed rule's nodes)
    adjoint = False  # backpropagates by the adjoint method (ODESolver)

    def __init__(self) -> None:
        self.nfe_forward = 0
        self._calls = 0

    @property
    def nfe_backward(self) -> int:
        """Integrand evaluations per point made by the last backward pass (adjoint only)."""
        return self._calls - self.nfe_forward

    def set_tolerance(self, tol: float) -> None:
        """Set rtol = atol = tol; fixed rules ignore it."""

    @property
    def tolerance(self) -> float | None:
        return None

    def integrate(self, model: Any, start: Tensor, end: Tensor) -> Tensor:
        """∫ J(c(t)) c'(t) dt along model.path from start (N or 1, d_x) to end (N, d_x):
        (N, d_y)."""
        raise NotImplementedError


class Quadrature(Solver):
    """A numerical rule on each straight leg of the path (`__call__` integrates one leg)."""

    def integrate(self, model: Any, start: Tensor, end: Tensor) -> Tensor:
        start = start.expand_as(end)
        total, nfe, calls = None, 0, 0
        for a, b in model.path.legs(start, end):
            part = model.segment_integral(a, b, self)
            nfe, calls = nfe + self.nfe_forward, calls + self._calls
            total = part if total is None else total + part
        self.nfe_forward, self._calls = nfe, calls
        return total

    def __call__(self, g: Integrand, like: Tensor, d_y: int,
                 params: Sequence[Tensor] = ()) -> Tensor:
        """Integrate g over [0, 1].

        Args:
            g: integrand, t (K,) -> (N, K, d_y).
            like: a tensor (N, ...) giving N, dtype and device.
            d_y: output dimension.
            params: tensors gradients must reach (the adjoint needs them named).

        Returns:
            (N, d_y) the integral.
        """
        raise NotImplementedError


@functools.lru_cache(maxsize=64)
def _legendre(k: int) -> tuple[np.ndarray, np.ndarray]:
    u, w = np.polynomial.legendre.leggauss(k)
    return (u + 1) / 2, w / 2  # nodes and weights on [0, 1]


def gauss_legendre_rule(k: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """K nodes (K,) and weights (K,) of Gauss–Legendre on [0, 1], in like's dtype/device."""
    return _rule(k, like.dtype, like.device)


@functools.lru_cache(maxsize=64)
def _rule(k: int, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """The rule as constant tensors, made once per size, dtype and device (not per step)."""
    t, w = _legendre(k)
    return (torch.as_tensor(t, dtype=dtype, device=device),
            torch.as_tensor(w, dtype=dtype, device=device))


class GaussLegendre(Quadrature):
    """K-node Gauss–Legendre rule on [0, 1]: exact for polynomials of degree 2K - 1.

    Args:
        nodes: K >= 1.
    """

    def __init__(self, nodes: int = 32):
        super().__init__()
        self.nodes = checks.integer("solver.nodes", nodes, 1)

    def __call__(self, g: Integrand, like: Tensor, d_y: int,
                 params: Sequence[Tensor] = ()) -> Tensor:
        t, w = gauss_legendre_rule(self.nodes, like)  # (K,), (K,)
        values = g(t)  # (N, K, d_y)
        self.nfe_forward = self._calls = self.nodes
        return (values.transpose(1, 2) @ w)  # (N, d_y): Σ_k w_k g(t_k), no einsum parsing

    def __repr__(self) -> str:
        return f"GaussLegendre(nodes={self.nodes})"


class _ODEFunc(nn.Module):
    """dy/dt = g(t): the integrand as a torchdiffeq vector field that counts its calls."""

    def __init__(self, g: Integrand, owner: Solver):
        super().__init__()
        self.g = g
        self.owner = owner

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        self.owner._calls += 1
        return self.g(t.reshape(1))[:, 0, :]  # (N, d_y)


class ODESolver(Quadrature):
    """torchdiffeq's `odeint` (or `odeint_adjoint`) from t = 0 to 1.

    Args:
        method: a torchdiffeq method (dopri5, rk4, ...).
        rtol, atol: tolerances for adaptive methods; a schedule may change both.
        adjoint: backpropagate with the adjoint method (memory O(1) in steps, re-integrates).
        step_size: step for fixed-grid methods (None: one step).
    """

    def __init__(self, method: str = "dopri5", rtol: float = 1e-6, atol: float = 1e-6,
                 adjoint: bool = False, step_size: float | None = None):
        super().__init__()
        self.method = checks.one_of("solver.method", method, ADAPTIVE_METHODS + FIXED_METHODS)
        self.rtol = checks.positive("solver.rtol", rtol)
        self.atol = checks.positive("solver.atol", atol)
        self.adjoint = checks.boolean("solver.adjoint", adjoint)
        if step_size is not None and not (checks.is_number(step_size) and 0 < step_size <= 1):
            raise checks.refuse("solver.step_size", step_size, "it must be in (0, 1]")
        self.step_size = step_size

    @property
    def tolerance(self) -> float | None:
        return self.rtol if self.method in ADAPTIVE_METHODS else None

    def set_tolerance(self, tol: float) -> None:
        self.rtol = self.atol = float(tol)

    def __call__(self, g: Integrand, like: Tensor, d_y: int,
                 params: Sequence[Tensor] = ()) -> Tensor:
        import torchdiffeq  # deferred: keeps `import jacnet_cli` light

        func = _ODEFunc(g, self)
        y0 = torch.zeros(like.shape[0], d_y, dtype=like.dtype, device=like.device)  # (N, d_y)
        t = torch.tensor([0.0, 1.0], dtype=like.dtype, device=like.device)
        options = {"step_size": self.step_size} if self.step_size and self.method in FIXED_METHODS else None
        self._calls = 0
        if self.adjoint:
            trainable = tuple(p for p in params if p.requires_grad)
            ys = torchdiffeq.odeint_adjoint(
                func, y0, t, rtol=self.rtol, atol=self.atol, method=self.method,
                options=options, adjoint_params=trainable,
            )
        else:
            ys = torchdiffeq.odeint(
                func, y0, t, rtol=self.rtol, atol=self.atol, method=self.method, options=options
            )
        self.nfe_forward = self._calls
        return ys[-1]  # (N, d_y)

    def __repr__(self) -> str:
        kind = "odeint_adjoint" if self.adjoint else "odeint"
        return f"ODESolver({kind}, method={self.method!r}, rtol={self.rtol:g}, atol={self.atol:g})"


class Exact(Solver):
    """No quadrature: P(end) - P(start) with the structure's antiderivative P, whatever the
    path.

    For the structures that own a network with a closed form (`gradient`, `monotone`,
    `monotone_in`, ...): exact to rounding, one network pass per point, and D = dŷ/dx = J.
    """

    exact = True

    def integrate(self, model: Any, start: Tensor, end: Tensor) -> Tensor:
        # One network pass for both ends: at a training batch of 100 a second call for the
        # one-row anchor costs about as much as the batch (benchmarks, section 7).
        self.nfe_forward = self._calls = 1
        k = start.shape[0]
        p = model.primitive(torch.cat([start, end]))  # (k + N, d_y)
        return p[k:] - p[:k]

    def __repr__(self) -> str:
        return "Exact()"


class Auto(Solver):
    """Exact where the structure has a closed-form antiderivative, else Gauss–Legendre.

    A placeholder the model resolves when it is built (`resolve`).

    Args:
        nodes: Gauss–Legendre nodes for structures without an antiderivative.
    """

    def __init__(self, nodes: int = 32):
        super().__init__()
        self.nodes = GaussLegendre(nodes).nodes

    def resolve(self, exact: bool) -> Solver:
        return Exact() if exact else GaussLegendre(self.nodes)

    def integrate(self, model: Any, start: Tensor, end: Tensor) -> Tensor:
        raise ValueError("solver=auto is resolved when the model is built (JacNet)")

    def __repr__(self) -> str:
        return f"Auto(nodes={self.nodes})"


@contextlib.contextmanager
def direct_backprop(solver: Solver | None) -> Iterator[None]:
    """Backpropagate through the solver's own steps instead of the adjoint, for a while.

    The forward values are unchanged; the gradient becomes the exact derivative of the
    computed function (the adjoint approximates it to the solver's tolerance) and, for the
    small batches of measurement, is cheaper.
    """
    adjoint = solver is not None and solver.adjoint
    if adjoint:
        solver.adjoint = False
    try:
        yield
    finally:
        if adjoint:
            solver.adjoint = True
