"""The inverse of a learned function: x = ŷ⁻¹(y), with each point's status.

Methods (`METHODS`, the names `jacnet invert method=...` takes; any torchdiffeq method name
solves the paper's ODE with that method):

- "table" (1-D): tabulate ŷ once, polish each point by bracketed Newton;
- "bracket" (1-D): grow a bracket per point from the anchor, then safeguarded Newton;
- "newton" (any d): damped Newton from the anchor with a backtracking line search;
- "grid" (any d): damped Newton from the nearest of ŷ's values tabulated on the structure's
  region (a local inverse: `cauchy_riemann` with min_modulus, invertible near each point);
- "ode": the paper's output-space ODE (eq. 4.5) dx/dt = J(x)⁻¹ (y - y0), then Newton;
- "substitution": a structure with a direct inverse of its closed form (`invert_primitive`:
  triangular blocks inverted coordinate by coordinate);
- "auto": the structure's choice (`Structure.inverse_method`).

Every method ends with the residual ‖ŷ(x) - y‖ of the function as evaluated, and a point
converged only where that residual is within the tolerance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

from jacnet_cli.core.errors import NotInvertibleError
from jacnet_cli.core.evaluation import as_points, derivative, predict

NEWTON_MODES = ("auto", "learned", "exact", "none")


class InversionFailed(RuntimeError):
    """Some points did not converge (and the caller did not accept that). Exit code 1."""


def check_invertible(model: nn.Module) -> None:
    """Raise NotInvertibleError unless the model's structure guarantees an inverse (as a map
    of R^d, or in one input given the others)."""
    structure = model.structure
    if structure is None:
        from jacnet_cli.core.structures.base import invertible_hint

        raise NotInvertibleError("a model without a structure (the plain MLP) does not "
                                 f"guarantee an invertible function; {invertible_hint()}")
    if not (model.invertible or structure.inverse_input is not None):
        raise NotInvertibleError(structure.why_not_invertible())


@dataclass
class Inversion:
    """What an inverse found: the points, and whether each one converged."""

    x: Tensor  # (N, d_x) the preimages
    converged: Tensor  # (N,) bool: ‖ŷ(x) - y‖ within the tolerance
    residual: Tensor  # (N,) ‖ŷ(x) - y‖ with ŷ as evaluated


def torchdiffeq_methods() -> list[str]:
    """The ODE methods torchdiffeq offers that need no extra options."""
    from torchdiffeq._impl.odeint import SOLVERS

    # scipy_solver needs options (`solver=`) that `jacnet invert` does not pass.
    return [name for name in SOLVERS if name != "scipy_solver"]


def method_names() -> list[str]:
    """Every name `solve(method=...)` takes: jacnet's methods, then torchdiffeq's."""
    return [*METHODS, *(m for m in torchdiffeq_methods() if m not in METHODS)]


def check_method(method: Any) -> str:
    """The method, or a one-line ValueError naming what is allowed."""
    if isinstance(method, str) and (method in METHODS or method in torchdiffeq_methods()):
        return method
    raise ValueError(f"method={method!r} is not allowed; choose one of: {', '.join(METHODS)}, "
                     f"or a torchdiffeq method: {', '.join(torchdiffeq_methods())}")


def invert(model: nn.Module, y: Tensor, method: str = "auto", rtol: float = 1e-6,
           atol: float = 1e-6, step_size: float | None = None, newton_steps: int = 8,
           newton: str = "auto", tol: float = 0.0, x: Tensor | None = None) -> Tensor:
    """x = ŷ⁻¹(y) for a model with an invertible structure (warns if a point fails).

    See `solve` for the arguments; this returns only the points and, when y requires grad
    (a map of R^d), gives them the exact implicit-function gradient.

    Returns:
        (N, d_x) the preimages.
    """
    y = as_points(y, model.d_y, model)
    result = solve(model, y, method, rtol, atol, step_size, newton_steps, newton, tol, x=x)
    bad = ~result.converged
    if bool(bad.any()):
        warnings.warn(
            f"inverse: {int(bad.sum())} of {y.shape[0]} points did not converge "
            f"(max |ŷ(x) - y| = {float(result.residual.max()):.3g}); y may lie outside the "
            "model's range, or the function may not be invertible there (check "
            "jacobian_min_eig); try a tighter rtol or another method", RuntimeWarning,
            stacklevel=2)
    x = result.x
    if torch.is_grad_enabled() and y.requires_grad and model.structure.inverse_input is None:
        x = _implicit_step(model, x, y)
    return x


def solve(model: nn.Module, y: Tensor, method: str = "auto", rtol: float = 1e-6,
          atol: float = 1e-6, step_size: float | None = None, newton_steps: int = 8,
          newton: str = "auto", tol: float = 0.0, max_iter: int = 60,
          x: Tensor | None = None) -> Inversion:
    """x = ŷ⁻¹(y) for a model with an invertible structure, with each point's status.

    Args:
        model: any model (`core.model.Model`) whose structure is invertible, as a map of R^d
            or in one input (`Structure.inverse_input`, e.g. `monotone_in` with one strictly
            monotone input).
        y: (N, d_y) points in output space (a tensor, numpy array or list).
        method: one of `method_names()` (see the module docstring).
        rtol, atol, step_size: torchdiffeq options for the output-space ODE.
        newton_steps: Newton steps after the ODE (0: none).
        newton: after the ODE, "learned" uses the network's J, "exact" the autograd Jacobian
            of ŷ as evaluated, "auto" learned in 1-D and exact otherwise, "none" skips.
        tol: a point has converged once ‖ŷ(x) - y‖ <= max(tol, 1e-6 (1 + ‖y‖)) (and
            100 × an ODE forward's tolerance).
        max_iter: bound on Newton iterations ("newton").
        x: (N, d_x) for a structure inverted in one input: the other inputs' values (the
            inverted column, if finite, is the start); not needed with a single input.

    Returns:
        an Inversion: x (N, d_x), converged (N,), residual (N,) (and the y solved for).
    """
    check_invertible(model)
    if newton not in NEWTON_MODES:
        raise ValueError(f"newton={newton!r} is not allowed; choose one of: {', '.join(NEWTON_MODES)}")
    check_method(method)
    y = as_points(y, model.d_y, model)
    return model.solve(y, x=x, method=method, rtol=rtol, atol=atol, step_size=step_size,
                       newton_steps=newton_steps, newton=newton, tol=tol, max_iter=max_iter)


def solve_model(model: nn.Module, y: Tensor, x: Tensor | None = None, method: str = "auto",
                rtol: float = 1e-6, atol: float = 1e-6, step_size: float | None = None,
                newton_steps: int = 8, newton: str = "auto", tol: float = 0.0,
                max_iter: int = 60) -> Inversion:
    """`solve` for a model in its own units (a JacNet): see `solve`."""
    check_invertible(model)
    y = as_points(y, model.d_y, model).detach()
    chosen = model.structure.inverse_input
    if chosen is not None:
        return _solve_in_input(model, y, x, *chosen, max_iter=max(max_iter, 200))
    if method == "auto":
        method = model.structure.inverse_method(model.d_x)
        if method == "table" and not model.cumulative:
            method = "bracket"
    if method in ("bracket", "table") and model.d_x != 1:
        raise ValueError(f"method={method!r} needs a 1-D model, got d_x={model.d_x}; "
                         "use method=newton or method=ode")
    if method == "table" and not model.cumulative:
        raise ValueError("method='table' needs path=linear and a fixed anchor; use method='bracket'")
    options = dict(rtol=rtol, atol=atol, step_size=step_size, newton_steps=newton_steps,
                   newton=newton, tol=tol, max_iter=max_iter)
    with torch.no_grad():
        run = METHODS.get(method)
        x = run(model, y, **options) if run is not None else \
            ode_inverse(model, y, ode=method, **options)
        rough = method not in ("bracket", "table", "newton", "substitution") and \
            (newton == "none" or newton_steps <= 0)
        residual = torch.linalg.vector_norm(predict(model, x) - y, dim=-1)  # (N,)
        scale = 1 + torch.linalg.vector_norm(y, dim=-1)
        tolerance = model.solver.tolerance or 0.0
        limit = max(tol, 10 * rtol if rough else 0.0, 1e-6, 100 * tolerance)
        converged = torch.isfinite(x).all(dim=-1) & (residual <= limit * scale)
    return Inversion(x, converged, residual)


def _solve_in_input(model: nn.Module, y: Tensor, x: Tensor | None, index: int, sign: float,
                    max_iter: int) -> Inversion:
    """ŷ(x) = y in input `index`, the others as `x` gives them (start: x's finite value in
    that column, else 0, the training data's mean in standard units)."""
    if x is None:
        if model.d_x > 1:
            raise ValueError(f"this model inverts in input {index} given the other "
                             f"{model.d_x - 1}; pass x=(N, {model.d_x}) with their values")
        x = torch.zeros(y.shape[0], 1, dtype=y.dtype, device=y.device)
    x = as_points(x, model.d_x, model).detach().clone()
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows and y {y.shape[0]}; give one row of the "
                         "other inputs per y")
    column = x[:, index]
    x[:, index] = torch.where(torch.isfinite(column), column, torch.zeros_like(column))
    return solve_input(model, y, x, index, sign, 1.0, max_iter)


def substitution(model: nn.Module, y: Tensor, **options: Any) -> Tensor:
    """x with ŷ(x) = y through the structure's direct inverse of its closed form:
    ŷ = y0 + P(x) - P(x0), so x = P⁻¹(y - y0 + P(x0))."""
    if not model.solver.exact:
        raise ValueError("method='substitution' needs the exact solver (solver=exact or "
                         "auto); use method=newton")
    x0, y0 = model.anchor(y[:1])  # (1, d_x), (1, d_y)
    p0 = model.primitive(x0)  # (1, d_y)
    x, _ = model.structure.invert_primitive(model.net, y - y0 + p0)
    return x


@torch.no_grad()
def solve_input(model: nn.Module, y: Tensor, x: Tensor, index: int, sign: float = 1.0,
                scale: float = 1.0, max_iter: int = 200) -> Inversion:
    """The input x_i with ŷ(x) = y, the other inputs held at the given values (a scalar ŷ
    strictly monotone in x_i, e.g. `monotone_in` with one input and ε > 0).

    Brackets grow geometrically from x_i (step `scale`, then doubling) until ŷ - y changes
    sign, then regula falsi with the Illinois modification refines each bracket, falling back
    to bisection; no derivative is needed.

    Args:
        model: a scalar model (d_y = 1).
        y: (N, 1) targets.
        x: (N, d_x) inputs; column `index` is the starting guess, the others are kept.
        index: the monotone input.
        sign: +1 if ŷ increases in x_i, -1 if it decreases.
        scale: the first bracket step (e.g. the input's standard deviation).
        max_iter: bound on expansions and on refinement steps.

    Returns:
        an Inversion with x (N, d_x) (column `index` solved), converged, residual.
    """
    y = y.detach()[:, 0]
    base = x.detach().clone()

    def residual(t: Tensor) -> Tensor:
        p = base.clone()
        p[:, index] = t
        return sign * (model(p)[:, 0] - y)  # increasing in t

    t0 = base[:, index].clone()
    r0 = residual(t0)
    lo, hi = t0.clone(), t0.clone()
    up = r0 < 0  # the root lies above t0
    found = r0 == 0
    width = float(scale)
    for _ in range(max_iter):  # grow brackets until ŷ - y changes sign
        pending = ~found
        if not bool(pending.any()):
            break
        edge = torch.where(up, t0 + width, t0 - width)
        r = residual(edge)
        hit = pending & torch.where(up, r >= 0, r <= 0)
        miss = pending & ~hit
        hi = torch.where((up & hit) | (~up & miss), edge, hi)
        lo = torch.where((~up & hit) | (up & miss), edge, lo)
        found = found | hit
        width *= 2
    lo_r, hi_r = residual(lo), residual(hi)
    t = torch.where(lo_r.abs() <= hi_r.abs(), lo, hi)
    side = torch.zeros_like(t)  # Illinois: -1 if lo moved last, +1 if hi did
    for _ in range(max_iter):  # regula falsi (Illinois) inside each bracket
        gap = hi - lo
        if bool((gap <= 4 * torch.finfo(t.dtype).eps * (1 + t.abs())).all()):
            break
        denom = hi_r - lo_r
        t = torch.where(denom > 0, lo - lo_r * gap / torch.where(denom > 0, denom, torch.ones_like(denom)),
                        lo + gap / 2)
        t = torch.where((t <= lo) | (t >= hi), lo + gap / 2, t)
        r = residual(t)
        left = r < 0
        lo, lo_r = torch.where(left, t, lo), torch.where(left, r, lo_r)
        hi, hi_r = torch.where(left, hi, t), torch.where(left, hi_r, r)
        hi_r = torch.where(left & (side < 0), hi_r / 2, hi_r)
        lo_r = torch.where(~left & (side > 0), lo_r / 2, lo_r)
        side = torch.where(left, -torch.ones_like(side), torch.ones_like(side))
    open_ = ~found
    ends = torch.stack([lo, hi, t])  # (3, N): keep the end with the smallest residual
    size = torch.stack([residual(lo).abs(), residual(hi).abs(), residual(t).abs()])
    t = ends.gather(0, size.argmin(0)[None])[0]
    out = base.clone()
    out[:, index] = t
    res = (model(out)[:, 0] - y).abs()
    converged = torch.isfinite(res) & (res <= 1e-6 * (1 + y.abs())) & ~open_
    return Inversion(out, converged, res)


@torch.no_grad()
def newton_nd(model: nn.Module, y: Tensor, max_iter: int = 60, xtol: float = 1e-13,
              halvings: int = 40, batch: int = 8, start: Tensor | None = None) -> Tensor:
    """Roots of ŷ(x) = y by damped Newton with a backtracking line search, in any dimension.

    Each point steps x <- x - λ s, s = D(x)⁻¹ (ŷ(x) - y), with the largest λ in 1, 1/2,
    1/4, ... that satisfies Armijo's condition on the merit ‖ŷ(x) - y‖²; s is a descent
    direction for it wherever D is nonsingular. For an ε-strongly monotone ŷ (the `monotone`
    structure) ‖ŷ(x) - y‖ >= ε ‖x - x*‖, so the merit's level sets are bounded and the
    iteration converges from any start, quadratically near x*. D is the structure's
    closed-form J for exact structures (solved by its `solve`, Cholesky for `monotone`) and
    the autograd Jacobian of ŷ as evaluated otherwise (LU).

    The start is one Newton step from the anchor, x0 + J(x0)⁻¹ (y - y0), which costs a single
    Jacobian when every point shares the anchor. Step lengths are tried `batch` at a time in
    one network call. A point stops once a full step is below xtol (1 + ‖x‖) (that step
    applied), or when no λ lowers its residual (it sits at the rounding floor of ŷ).

    Args:
        model: an invertible JacNet.
        y: (N, d_y) targets.
        max_iter: bound on Newton iterations.
        xtol: relative step size that ends a point's iteration.
        halvings: step halvings tried before a point stops.
        batch: step lengths tried per network call after a full step fails.
        start: (N, d_x) starting points instead of the step from the anchor.

    Returns:
        (N, d_x) the preimages (no gradient).
    """
    exact = bool(model.solver.exact)

    def jacobian(x: Tensor) -> Tensor:
        return model.jacobian(x) if exact else derivative(model, x)  # (P, d_y, d_x)

    def solve_step(jac: Tensor, r: Tensor) -> Tensor:
        if exact:
            return model.structure.solve_linear(jac, r)  # (P, d_x), Cholesky for monotone
        return torch.linalg.solve(jac, r)  # (P, d_x)

    if start is not None:
        x, r = start.clone(), model(start) - y
    else:
        y0, x0 = model.anchor.inverse(y)  # (N, d_y), (N, d_x)
        if model.anchor.shared:
            jac0 = jacobian(x0[:1])  # (1, d, d): one Jacobian for every point's first step
            start = x0 + torch.linalg.solve(jac0, (y - y0).unsqueeze(-1)).squeeze(-1)
        else:
            start = x0 + solve_step(jacobian(x0), y - y0)
        # Keep the anchor where the first step made things worse. (J is computed only where
        # a step was accepted: computing it with every trial value, as a fused pass would,
        # cost up to 2x the whole inverse for modular networks, whose full steps often fail
        # far out.) With an exact structure ŷ(x0) = y0 + P(x0) - P(x0) = y0: no pass there.
        f0 = y0 if exact and model.anchor.shared else model(x0)
        r0, rs = f0 - y, model(start) - y  # (N, d_y) each
        better = (rs * rs).sum(-1) < (r0 * r0).sum(-1)  # (N,)
        x = torch.where(better[:, None], start, x0)
        r = torch.where(better[:, None], rs, r0)
    size = (r * r).sum(-1)  # (N,) merit ‖r‖²
    active = torch.arange(y.shape[0], device=y.device)  # (P,) points still iterating
    exponents = torch.arange(1, batch + 1, dtype=y.dtype, device=y.device)  # (B,)
    last = torch.full_like(size, float("inf"))  # (N,) each point's previous full step length
    for _ in range(max_iter):
        if active.numel() == 0:
            break
        xa, ra, sa = x[active], r[active], size[active]
        step = solve_step(jacobian(xa), ra)  # (P, d_x)
        x_new = xa - step
        r_new = model(x_new) - y[active]
        s_new = (r_new * r_new).sum(-1)  # (P,)
        ok = torch.isfinite(s_new) & (s_new <= (1 - 1e-4) * sa)
        lam = torch.ones_like(sa)
        lam[~ok] = 0.0  # 0: still searching
        tried = 0
        while tried < halvings:
            idx = (lam == 0).nonzero().squeeze(1)  # (Q,)
            if idx.numel() == 0:
                break
            lams = 0.5 ** (tried + exponents)  # (B,)
            q, b = idx.numel(), lams.numel()
            x_try = xa[idx, None, :] - lams[None, :, None] * step[idx, None, :]  # (Q, B, d)
            r_try = (model(x_try.reshape(q * b, -1)).reshape(q, b, -1)
                     - y[active[idx], None, :])  # (Q, B, d_y)
            s_try = (r_try * r_try).sum(-1)  # (Q, B)
            good = torch.isfinite(s_try) & (s_try <= (1 - 1e-4 * lams) * sa[idx, None])
            first = torch.where(good.any(1), good.float().argmax(1), torch.full_like(idx, -1))
            hit = first >= 0
            j, k = idx[hit], first[hit]
            x_new[j], r_new[j], s_new[j] = x_try[hit, k], r_try[hit, k], s_try[hit, k]
            lam[j] = lams[k]
            tried += b
        moved = lam > 0
        x_new[~moved], r_new[~moved], s_new[~moved] = xa[~moved], ra[~moved], sa[~moved]
        length = torch.linalg.vector_norm(step, dim=-1)  # (P,)
        scale = 1 + torch.linalg.vector_norm(xa, dim=-1)
        # Quadratic convergence: a full step of h that shrank 10x since the last one leaves
        # an error of about h²; below xtol once h <= sqrt(xtol).
        settled = (lam == 1) & ((length <= xtol * scale)
                                | ((length <= xtol ** 0.5 * scale) & (length <= 0.1 * last[active])))
        x[active], r[active], size[active] = x_new, r_new, s_new
        last[active] = torch.where(lam == 1, length, torch.full_like(length, float("inf")))
        done = (~moved) | settled | (s_new == 0)
        active = active[~done]
    return x


def _implicit_step(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """One Newton step from the solved x that carries the implicit-function gradient.

    Its value is x up to the residual; its derivative is dx/dy = D⁻¹ and dx/dθ = -D⁻¹ ∂ŷ/∂θ
    with D = dŷ/dx at the solution, the exact derivative of the inverse of ŷ as evaluated.
    """
    x = x.detach()
    jac = derivative(model, x)  # (N, d_y, d_x)
    residual = model(x) - y  # (N, d_y)
    return x - torch.linalg.solve(jac, residual)  # (N, d_x)


def ode_inverse(model: nn.Module, y: Tensor, ode: str = "dopri5", rtol: float = 1e-6,
                atol: float = 1e-6, step_size: float | None = None, newton_steps: int = 8,
                newton: str = "auto", tol: float = 0.0, **unused: Any) -> Tensor:
    """The paper's inverse (section 4.3): dx/dt = J(x)⁻¹ (y - y0) from x0 by torchdiffeq's
    `ode` method, then Newton polishing against ŷ as evaluated."""
    import torchdiffeq  # deferred: keeps `import jacnet_cli` light

    structure = model.structure
    y0, x0 = model.anchor.inverse(y)  # (N, d_y), (N, d_x)
    velocity = y - y0  # (N, d_y): c'(t) of the straight output-space path

    def field(t: Tensor, x: Tensor) -> Tensor:
        return structure.solve_linear(model.jacobian(x), velocity)  # (N, d_x)

    t = torch.tensor([0.0, 1.0], dtype=y.dtype, device=y.device)
    options = {"step_size": step_size} if step_size else None
    x = torchdiffeq.odeint(field, x0, t, method=ode, rtol=rtol, atol=atol, options=options)[-1]
    if newton == "none" or newton_steps <= 0:
        return x
    if newton == "auto":
        newton = "learned" if model.d_x == 1 else "exact"
    return newton_refine(model, x, y, newton_steps, newton, tol)


@torch.no_grad()
def bracket_1d(model: nn.Module, y: Tensor, tol: float = 0.0, max_iter: int = 100) -> Tensor:
    """Roots of the increasing 1-D function ŷ(x) = y by bracketing and safeguarded Newton.

    Brackets grow geometrically from the anchor x0 (where ŷ = y0) until they contain the
    root; then each iteration takes the Newton step x - (ŷ(x) - y) / J(x) when it stays
    inside the bracket and bisects otherwise, shrinking the bracket by the residual's sign.
    An adaptive ODE solver makes ŷ smooth only to its tolerance τ: a point stops once three
    Newton steps fail to lower a residual already below 10 τ (1 + |y|), so its x is accurate
    to about that residual divided by the slope, the conditioning of the problem.

    Args:
        model: an invertible 1-D JacNet (J > 0, so ŷ increases).
        y: (N, 1) targets.
        tol: stop once every |ŷ(x) - y| <= tol (0: until brackets reach float resolution).
        max_iter: bound on expansions and on refinement steps.

    Returns:
        (N, 1) the preimages (no gradient: use newton_refine for a differentiable last step).
    """
    y = y.detach()
    tolerance = model.solver.tolerance
    floor = 10 * tolerance if tolerance else 64 * torch.finfo(y.dtype).eps
    y0, x0 = model.anchor.inverse(y)  # (N, 1) each
    up = y >= y0  # (N, 1): the root lies right of x0
    lo, hi = x0.clone(), x0.clone()
    width = torch.ones_like(x0)
    open_ = torch.ones_like(up)  # (N, 1) brackets still growing
    for _ in range(max_iter):
        idx = open_[:, 0].nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        edge = torch.where(up[idx], x0[idx] + width[idx], x0[idx] - width[idx])  # (P, 1)
        past = torch.where(up[idx], model(edge) >= y[idx], model(edge) <= y[idx])
        inner = torch.where(up[idx], x0[idx] + width[idx] / 2, x0[idx] - width[idx] / 2)
        hi[idx] = torch.where(up[idx], edge, torch.where(past, inner, hi[idx]))
        lo[idx] = torch.where(up[idx], torch.where(past, inner, lo[idx]), edge)
        open_[idx] = ~past
        width[idx] = torch.where(past, width[idx], 2 * width[idx])
    lo = torch.where(up, torch.minimum(lo, x0), lo)
    hi = torch.where(up, hi, torch.maximum(hi, x0))
    x = 0.5 * (lo + hi)  # (N, 1)
    best = torch.full_like(x, float("inf"))  # (N, 1) smallest |residual| so far
    stall = torch.zeros_like(x, dtype=torch.int64)  # Newton steps in a row that did not help
    newton_step = torch.zeros_like(x, dtype=torch.bool)  # was the last step Newton's?
    for _ in range(max_iter):
        r = model(x) - y  # (N, 1)
        size = r.abs()
        stall = torch.where(size < best, torch.zeros_like(stall),
                            stall + newton_step.to(stall.dtype))
        best = torch.minimum(best, size)
        # Done: within tol, bracket at float resolution, or, once the residual is small,
        # 3 Newton steps without progress (an adaptive ODE forward is smooth only to its
        # tolerance: below that noise floor Newton cannot gain, and bisecting on is costly).
        done = (size <= tol) | (hi - lo <= 4 * torch.finfo(x.dtype).eps * (1 + x.abs())) \
            | ((stall >= 3) & (size <= floor * (1 + y.abs())))
        if bool(done.all()):
            break
        lo = torch.where(r < 0, x, lo)
        hi = torch.where(r > 0, x, hi)
        newton = x - r / model.jacobian(x)[:, :, 0]  # (N, 1)
        newton_step = (newton > lo) & (newton < hi)
        x = torch.where(done, x, torch.where(newton_step, newton, 0.5 * (lo + hi)))
    return x


@torch.no_grad()
def table_1d(model: nn.Module, y: Tensor, grid: int = 513, xtol: float = 1e-13,
             max_iter: int = 60) -> Tensor:
    """x = ŷ⁻¹(y) for an increasing 1-D JacNet: a tabulated guess, then bracketed Newton.

    1. Grow [x0 - W, x0 + W] (W = 1, 2, 4, ...) until ŷ at its ends brackets every y.
    2. Tabulate ŷ (as evaluated) and J on `grid` points of it; each y falls in one table
       cell, which brackets its root since ŷ increases.
    3. Guess x by inverse cubic Hermite interpolation (x as a function of y, slopes 1/J),
       clamped to the cell.
    4. Newton x <- x - (ŷ(x) - y) / J(x) on the points not yet done, bisecting when a step
       leaves the bracket; a point is done once its step is below xtol (1 + |x|) (that step
       applied), its residual is at ŷ's rounding floor, or its bracket has collapsed.

    Args:
        model: a 1-D JacNet with J > 0, the straight path and a fixed anchor.
        y: (N, 1) targets.
        grid: table size.
        xtol: relative step size that ends the iteration for a point.
        max_iter: bound on Newton iterations.

    Returns:
        (N, 1) the preimages under ŷ as the model evaluates it (no gradient).
    """
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
    fs = torch.cummax(predict(model, xs)[:, 0], 0).values  # (G,), monotone against rounding noise
    js = model.jacobian(xs)[:, 0, 0]  # (G,)
    yv = y[:, 0]  # (N,)
    i = torch.searchsorted(fs, yv).clamp(1, grid - 1)  # (N,): the cell [i-1, i]
    lo, hi = xs[i - 1, 0].clone(), xs[i, 0].clone()  # (N,) brackets
    fl, fr, dl, dr = fs[i - 1], fs[i], 1 / js[i - 1], 1 / js[i]
    dy = (fr - fl).clamp_min(torch.finfo(y.dtype).tiny)
    u = ((yv - fl) / dy).clamp(0, 1)  # (N,) position in the cell, in y
    # Cubic Hermite basis for x(y) on [fl, fr].
    h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
    h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
    x = h00 * lo + h10 * dy * dl + h01 * hi + h11 * dy * dr  # (N,)
    x = torch.minimum(torch.maximum(x, lo), hi)
    eps = torch.finfo(y.dtype).eps
    active = torch.arange(yv.shape[0], device=y.device)  # (P,) points still iterating
    for _ in range(max_iter):
        if active.numel() == 0:
            break
        xa = x[active][:, None]  # (P, 1)
        r = predict(model, xa)[:, 0] - yv[active]  # (P,)
        step = r / model.jacobian(xa)[:, 0, 0]  # (P,)
        la = torch.where(r < 0, xa[:, 0], lo[active])
        ha = torch.where(r > 0, xa[:, 0], hi[active])
        lo[active], hi[active] = la, ha
        new = xa[:, 0] - step
        inside = (new >= la) & (new <= ha)
        new = torch.where(inside, new, 0.5 * (la + ha))
        x[active] = new
        done = (inside & (step.abs() <= xtol * (1 + new.abs()))) \
            | (r.abs() <= 4 * eps * (1 + yv[active].abs())) \
            | (ha - la <= 4 * eps * (1 + new.abs()))
        active = active[~done]
    return x[:, None]  # (N, 1)


def newton_refine(model: nn.Module, x: Tensor, y: Tensor, steps: int, mode: str = "learned",
                  tol: float = 0.0, halvings: int = 6) -> Tensor:
    """Polish x so ŷ(x) = y with damped Newton steps, per point.

    Each point takes the step x - λ D⁻¹ (ŷ(x) - y) with the largest λ in 1, 1/2, 1/4, ...
    that lowers its residual ‖ŷ(x) - y‖, and keeps its old x when none does, so no point ever
    gets worse. Stops after `steps` steps, when every residual is <= tol, or when no point
    improved.

    Args:
        model: an invertible JacNet.
        x: (N, d_x) starting points.
        y: (N, d_y) targets.
        steps: maximum Newton steps.
        mode: "learned" (D = J_θ, solved by the structure) or "exact" (D = dŷ/dx by autograd).
        tol: stop once max ‖ŷ(x) - y‖ <= tol.
        halvings: step halvings tried per point before it keeps its x.

    Returns:
        (N, d_x) the refined points.
    """
    residual = model(x) - y  # (N, d_y)
    size = torch.linalg.vector_norm(residual.detach(), dim=-1)  # (N,)
    for _ in range(steps):
        if float(size.max()) <= tol:
            break
        if mode == "learned":
            step = model.structure.solve_linear(model.jacobian(x), residual)  # (N, d_x)
        else:
            jac = derivative(model, x)  # (N, d_y, d_x)
            step = torch.linalg.solve(jac, residual)  # (N, d_x)
        pending = torch.ones_like(size, dtype=torch.bool)  # (N,) points still searching λ
        improved = torch.zeros_like(pending)
        lam = 1.0
        for _ in range(halvings + 1):
            idx = pending.nonzero().squeeze(1)  # (P,)
            if idx.numel() == 0:
                break
            x_try = x[idx] - lam * step[idx]  # (P, d_x)
            r_try = model(x_try) - y[idx]  # (P, d_y)
            s_try = torch.linalg.vector_norm(r_try.detach(), dim=-1)  # (P,)
            ok = s_try < size[idx]
            take = idx[ok]
            x = x.index_put((take,), x_try[ok])
            residual = residual.index_put((take,), r_try[ok])
            size = size.index_put((take,), s_try[ok])
            pending[take] = False
            improved[take] = True
            lam /= 2
        if not bool(improved.any()):
            break
    return x


def _newton(model: nn.Module, y: Tensor, max_iter: int = 60, **unused: Any) -> Tensor:
    return newton_nd(model, y, max_iter=max_iter)


def grid_newton(model: nn.Module, y: Tensor, points: int = 4096, max_iter: int = 60) -> Tensor:
    """Damped Newton from the tabulated point whose value is nearest y: a regular grid of
    about `points` over the structure's region (`Structure.region`; uniform samples beyond
    3 inputs), or the plain `newton_nd` where the structure states none."""
    region = model.region()
    if region is None:
        return newton_nd(model, y, max_iter=max_iter)
    lo, hi = (t.to(y) for t in region)
    d = lo.shape[0]
    if d <= 3:
        axis = torch.linspace(0, 1, max(2, round(points ** (1 / d))), dtype=y.dtype, device=y.device)
        unit = torch.cartesian_prod(*([axis] * d)).reshape(-1, d)
    else:
        gen = torch.Generator().manual_seed(0)
        unit = torch.rand(points, d, generator=gen, dtype=y.dtype).to(y.device)
    table = lo + (hi - lo) * unit  # (M, d)
    values = predict(model, table)  # (M, d_y)
    nearest = torch.cat([torch.cdist(part, values).argmin(1) for part in y.split(4096)])
    return newton_nd(model, y, max_iter=max_iter, start=table[nearest])


def _grid(model: nn.Module, y: Tensor, max_iter: int = 60, **unused: Any) -> Tensor:
    return grid_newton(model, y, max_iter=max_iter)


def _bracket(model: nn.Module, y: Tensor, tol: float = 0.0, **unused: Any) -> Tensor:
    return bracket_1d(model, y, tol)


def _table(model: nn.Module, y: Tensor, **unused: Any) -> Tensor:
    return table_1d(model, y)


def _ode(model: nn.Module, y: Tensor, **options: Any) -> Tensor:
    return ode_inverse(model, y, ode="dopri5", **options)


#: name -> method (model, y, **options) -> x; "auto" asks the structure.
METHODS: dict[str, Callable[..., Tensor] | None] = {
    "auto": None, "table": _table, "bracket": _bracket, "newton": _newton, "grid": _grid,
    "ode": _ode, "substitution": substitution}
