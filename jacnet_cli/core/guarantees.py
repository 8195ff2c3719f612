"""Measure each structure's guarantee on the function as evaluated, and on J_θ itself.

Which keys a model reports and their bounds come from its structure (`Structure.bounds`);
this module only measures them and compares.

The structure bounds the network's J_θ; the function users get is ŷ, evaluated exactly
(potential structures), by a quadrature or by an ODE solver. In 1-D the derivative of ŷ is
J_θ up to the solver's error; in n-D it equals J_θ only if J_θ is conservative (paper
section 4.5), which the potential structures (`gradient`, `monotone`) are by construction and
the output activations are not. So every guarantee is reported twice: on ŷ's actual
derivative D = dŷ/dx (autograd through the evaluation; the plain keys) and on J_θ (the
structure's own check; keys prefixed `net_`).

Guarantee keys, present only where they apply:
    jacobian_min_eig   min over points of λ_min((D + Dᵀ)/2) (pd, monotone; > 0 everywhere on
                       a convex set makes ŷ strictly monotone, hence injective; 1-D: min ŷ')
    jacobian_max_eig   max over points of λ_max((D + Dᵀ)/2) (monotone with max_eig)
    lipschitz_max      max over points of ‖D‖₂, the largest local slope (lipschitz)
    cr_residual_max    max |D11 - D22|, |D12 + D21| (cauchy_riemann)
    jacobian_asym_max  max ‖D - Dᵀ‖_F / ‖D‖_F (square maps with d > 1; gradient, monotone)
    partial_min        min over points and chosen inputs of s_i ∂ŷ/∂x_i, s_i = ±1 (monotone_in)
    roundtrip_max_err  max |x - ŷ⁻¹(ŷ(x))| (invertible structures)

Conservation diagnostics (`conservation`, every JacNet with d_x > 1):
    curl_max           max relative violation of ∂_k J_ij = ∂_j J_ik by J_θ
    path_gap_max       max over test points of ‖ŷ_linear - ŷ_axis‖, the two numerical line
                       integrals of J_θ (path dependence; 0 for a conservative J up to
                       quadrature error)
    exact_gap_max      exact structures: max ‖ŷ_exact - ŷ_quadrature‖ over test points, the gap
                       between the closed form and the paper's numerical line integral
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core.evaluation import derivative
from jacnet_cli.core.solvers import GaussLegendre, direct_backprop
from jacnet_cli.core.inverse import check_invertible
from jacnet_cli.core.paths import AxisPath
from jacnet_cli.core.structures.base import MEASURES, Bound

SLACK = 1e-6  # relative slack for `guarantee_held` in float64: rounding and solver error
SLACK_FLOAT32 = 1e-4  # the same in float32 (machine epsilon 1.2e-7)
FLOPS = 4e9  # a measurement's budget of floating-point work, to size n-D point counts
ROUNDTRIP = "roundtrip_max_err"


WIDE = 3.0  # n-D guarantees are also measured on a box this many times the guarantee box


def bounds(model: nn.Module, wide: bool = True) -> dict[str, Bound]:
    """The guarantee keys the model's structure states, with their bounds; with `wide`, also
    the same keys measured on the wider box (`<key>_wide`, see `measure_wide`), except those
    the structure states on the guarantee box only (`local_keys`)."""
    structure = model.structure
    if structure is None:
        return {}
    out = structure.bounds(model.d_x, model.d_y)
    if wide:
        local = structure.local_keys
        out = {**out, **{f"{k}_wide": b for k, b in out.items() if k not in local}}
    return out


def widened(grid: Tensor, factor: float = WIDE) -> Tensor:
    """The points of a box `factor` times as wide about the same centre: (M, d) -> (M, d)."""
    centre = (grid.min(0).values + grid.max(0).values) / 2
    return centre + factor * (grid - centre)


def measure_wide(model: nn.Module, grid: Tensor, factor: float = WIDE) -> dict[str, float]:
    """The structure's keys on ŷ's D at the guarantee points pushed `factor` times as far
    from the box's centre, as `<key>_wide`: a guarantee by construction holds there too,
    one learned from data need not (the 3x box of the n-D issues)."""
    local = model.structure.local_keys if model.structure is not None else ()
    keys = [k for k in bounds(model, wide=False) if k not in local]
    if not keys:
        return {}
    found = measure(model, widened(grid, factor), keys, net_checks=False)
    return {f"{k}_wide": v for k, v in found.items() if k in keys}


def applicable(model: nn.Module) -> list[str]:
    """Keys of the guarantees (on ŷ) a model reports: its structure's, the asymmetry of
    square n-D maps (a diagnostic where it is not a guarantee), and the round trip of
    invertible ones."""
    if model.structure is None:
        return []
    keys = list(bounds(model, wide=False))
    if model.d_x > 1 and model.d_x == model.d_y and "jacobian_asym_max" not in keys:
        keys.append("jacobian_asym_max")
    return keys + ([ROUNDTRIP] if model.invertible else [])


def point_budget(model: nn.Module, requested: int) -> int:
    """How many guarantee points fit the measurement budget: each costs a d_y x d_x
    Jacobian and an eigen-decomposition, about d³ + (network width) d² operations."""
    d = max(model.d_x, model.d_y)
    if d <= 3:
        return requested
    width = sum(p.numel() for p in model.parameters()) / max(d, 1)
    per_point = 10 * d**3 + 4 * width * d * d
    return max(64, min(requested, int(FLOPS / per_point)))


def _measure_key(structure: Any, key: str, jac: Tensor) -> tuple[Tensor, str]:
    """A key per point (the structure's own measure where it has one) and its reduction."""
    if structure is not None:
        return structure.measure(key, jac), structure.reduction(key)
    fn, how = MEASURES[key]
    return fn(jac), how


def measure(model: nn.Module, x: Tensor, keys: list[str] | None = None,
            chunk: int = 4096, roundtrip_points: int | None = None,
            net_checks: bool = True) -> dict[str, float]:
    """Measure guarantees of `model` on points x (M, d_x).

    Args:
        model: a JacNet (or any pointwise model; `net_` keys need a structure).
        x: (M, d_x) points, e.g. a dense grid wider than the test range.
        keys: which plain keys to measure; default: those the model's structure states.
            Any key of `MEASURES` can be asked of any model (e.g. `lipschitz_max` of an
            unconstrained one).
        chunk: points per autograd pass (fewer at high dimension, and at most 8192 rows of
            points x quadrature nodes: a small pass stays in cache, 1.6x faster for a
            2001-point 1-D grid with 32 nodes).
        net_checks: also the structure's `net_` check of J_θ.
        roundtrip_points: the round trip is measured on this many of the points, evenly
            strided (each inverse is a solve), at the values ŷ took for D (no extra pass);
            None: 512, or 128 in 1-D (a tabulated inverse: 128 points of a sorted grid
            cover it, at a quarter of the time of the default run's evaluation).

    Returns:
        {key: value} for the requested keys, plus the structure's `net_` check.
    """
    structure = model.structure
    if keys is None:
        keys = applicable(model)
    d = max(x.shape[1], model.d_y)
    chunk = max(1, min(chunk, int(2**22 / (d * d))))
    nodes = max(1, int(getattr(model.solver, "nodes", 1) or 1))
    out: dict[str, float] = {}
    parts = x.split(min(chunk, max(64, 8192 // nodes)))
    on_d = [k for k in keys if k != ROUNDTRIP]
    if roundtrip_points is None:
        roundtrip_points = 128 if x.shape[1] == 1 else 512
    step = max(1, x.shape[0] // roundtrip_points)
    values_at: list[Tensor] = []  # ŷ on the points, when a round trip will need it
    if on_d:
        found: dict[str, list[float]] = {k: [] for k in on_d}
        how: dict[str, str] = {}
        with direct_backprop(model.solver):
            for p in parts:
                jac, y = derivative(model, p, value=True)  # (P, d_y, d_x), (P, d_y)
                jac = jac.detach()
                values_at.append(y)
                for key in on_d:
                    if key == "jacobian_asym_max" and jac.shape[1] != jac.shape[2]:
                        continue
                    values, how[key] = _measure_key(structure, key, jac)
                    found[key].append(float(values.min() if how[key] == "min" else values.max()))
        for key, values in found.items():
            if values:
                out[key] = min(values) if how[key] == "min" else max(values)
    if ROUNDTRIP in keys:
        y = torch.cat(values_at)[::step] if values_at else None
        out[ROUNDTRIP] = roundtrip_error(model, x[::step], chunk, y=y)
    if structure is not None and net_checks:
        with torch.no_grad():
            checks = [structure.check(model.jacobian(p)) for p in parts]
        for key in checks[0]:
            values = [c[key] for c in checks]
            out[key] = min(values) if key.endswith(("min_eig", "modulus", "_min")) \
                else max(values)
    return out


def _slack(model: nn.Module) -> float:
    single = next(model.parameters()).dtype != torch.float64
    return SLACK_FLOAT32 if single else SLACK


def roundtrip_limit(model: nn.Module, measured: dict[str, Any]) -> float:
    """The round trip an inverse must reach: 1e-6 (1e-3 in float32), or, for an ODE
    forward, which is smooth only to its tolerance τ, 100 τ over the smallest slope."""
    single = next(model.parameters()).dtype != torch.float64
    limit = 1e-3 if single else 1e-6
    tol = model.solver.tolerance if model.solver is not None else None
    slope = measured.get("jacobian_min_eig")
    if tol and slope and slope > 0:
        limit = max(limit, 100 * tol / slope)
    return limit


def violations(model: nn.Module, measured: dict[str, Any]) -> list[str]:
    """Each measured guarantee key that breaks its bound, as 'key value (bound op value)'."""
    slack = _slack(model)
    out = [f"{key} {measured[key]:.4g} (bound {bound.describe()})"
           for key, bound in bounds(model).items()
           if key in measured and not bound.holds(measured[key], slack)]
    if ROUNDTRIP in measured:
        limit = roundtrip_limit(model, measured)
        if not measured[ROUNDTRIP] <= limit:
            out.append(f"{ROUNDTRIP} {measured[ROUNDTRIP]:.4g} (bound <= {limit:g})")
    return out


def held(model: nn.Module, measured: dict[str, Any]) -> bool | None:
    """Whether the measured guarantee keys meet the structure's bounds, within a relative
    slack for rounding and solver error (SLACK in float64, SLACK_FLOAT32 in float32;
    a round trip within `roundtrip_limit`).

    None when the structure states no bound to check (e.g. `none`).
    """
    if model.structure is None:
        return None
    checked = [k for k in bounds(model) if k in measured] + \
        ([ROUNDTRIP] if ROUNDTRIP in measured else [])
    if not checked:
        return None
    return not violations(model, measured)


def roundtrip_error(model: nn.Module, x: Tensor, chunk: int = 4096, y: Tensor | None = None,
                    **inverse_options: Any) -> float:
    """max |x - ŷ⁻¹(ŷ(x))| over points x (M, d_x) (ŷ(x) given as y, or evaluated here)."""
    check_invertible(model)
    errs = []
    values = y.split(chunk) if y is not None else [None] * len(x.split(chunk))
    for p, v in zip(x.split(chunk), values):
        if v is None:
            with torch.no_grad():
                v = model(p)
        back = model.inverse(v.contiguous(), **inverse_options).detach()
        errs.append((back - p).abs().max())
    return float(torch.stack(errs).max())


def curl(model: nn.Module, x: Tensor) -> Tensor:
    """Relative violation of ∂_k J_ij = ∂_j J_ik by J_θ per point: (N, d_x) -> (N,).

    ‖T - Tᵀ‖_F / ‖T‖_F with T_ijk = ∂_k J_ij (transposing the last two axes); 0 for the
    Jacobian of any C² map, whatever the solver.
    """
    with torch.enable_grad():
        t = _jacobian_derivative(model, x.detach())  # (N, d_y, d_x, d_x)
    num = torch.linalg.vector_norm(t - t.transpose(-1, -2), dim=(-3, -2, -1))
    den = torch.linalg.vector_norm(t, dim=(-3, -2, -1))
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)),
                       torch.zeros_like(num))


def _jacobian_derivative(model: nn.Module, x: Tensor, create_graph: bool = False) -> Tensor:
    """T_ijk = ∂_k J_ij of the network's J at points x: (N, d_x) -> (N, d_y, d_x, d_x).

    Small Jacobians by one double-backward pass per entry (plain autograd, no start-up
    cost); larger ones by torch.func (vmap of jacfwd), whose first call costs seconds. A J
    that is itself an autograd gradient (a structure's `jacobian_by_autograd`) cannot be
    transformed by torch.func and always takes the first way.
    """
    d_y, d_x = model.d_y, model.d_x
    by_autograd = model.structure is not None and model.structure.jacobian_by_autograd
    if d_y * d_x <= 64 or by_autograd:
        xg = x.requires_grad_(True) if not x.requires_grad else x
        jac = model.jacobian(xg)  # (N, d_y, d_x)
        # allow_unused: a piecewise-constant J (MaxMin, abs networks) has no x in its graph
        rows = [torch.autograd.grad(jac[:, i, j].sum(), xg, create_graph=create_graph,
                                    retain_graph=True, allow_unused=True)[0]  # (N, d_x)
                for i in range(d_y) for j in range(d_x)]
        rows = [torch.zeros_like(xg) if r is None else r for r in rows]
        return torch.stack(rows, dim=1).reshape(x.shape[0], d_y, d_x, d_x)
    from torch.func import jacfwd, vmap

    def one(p: Tensor) -> Tensor:
        return model.jacobian(p[None])[0]  # (d_y, d_x)

    return vmap(jacfwd(one))(x)


def curl_penalty(model: nn.Module, x: Tensor) -> Tensor:
    """Mean squared curl of J_θ over points x: mean ‖T - Tᵀ‖²_F, T_ijk = ∂_k J_ij.

    Differentiable in the weights, for training a non-conservative structure towards a
    conservative field (`curl_weight`); zero for the conservative structures.
    """
    t = _jacobian_derivative(model, x.detach().clone(), create_graph=True)  # (N, d_y, d_x, d_x)
    return (t - t.transpose(-1, -2)).pow(2).sum(dim=(-3, -2, -1)).mean()


def conservation(model: nn.Module, x_test: Tensor, grid: Tensor, points: int = 128,
                 nodes: int = 32, y_scale: Tensor | float = 1.0) -> dict[str, float]:
    """The conservation diagnostics of a JacNet with d_x > 1 (see the module docstring), in
    its own units (`Model.conservation` converts).

    Args:
        model: a JacNet with d_x > 1.
        x_test: test points; the path gaps are measured on up to `points` of them.
        grid: guarantee points; curl is measured on up to `points` of them (fewer at high
            dimension, where each costs d Jacobians).
        points: the most points each diagnostic uses.
        nodes: Gauss–Legendre nodes per leg for the numerical line integrals.
        y_scale: multiplies output differences (path gaps in the user's units).
    """
    d = model.d_x
    rule = GaussLegendre(nodes)
    out: dict[str, float] = {}
    budget = max(8, min(points, int(FLOPS / 20 / (d * d * max(d, 8) * 16))))
    out["curl_max"] = float(curl(model, grid[:budget]).detach().max())
    few = x_test[: max(8, min(points, int(points * 8 / d)))]  # the axis path has d legs
    with torch.no_grad():
        x0, y0 = model.anchor(few)  # (P, d_x), (P, d_y)
        scale = y_scale
        linear = y0 + model.segment_integral(x0, few, rule)
        legs = [model.segment_integral(a, b, rule) for a, b in AxisPath().legs(x0, few)]
        axis = y0 + torch.stack(legs).sum(0)
        out["path_gap_max"] = float(torch.linalg.vector_norm(scale * (linear - axis), dim=-1).max())
        if model.solver.exact:
            gap = scale * (model(few) - linear)
            out["exact_gap_max"] = float(torch.linalg.vector_norm(gap, dim=-1).max())
    return out
