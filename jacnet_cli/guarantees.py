"""Measure each structure's guarantee on the function as evaluated, and on J_θ itself.

The structure bounds the network's J_θ; the function users get is ŷ, evaluated exactly
(potential structures), by a quadrature or by an ODE solver. In 1-D the derivative of ŷ is
J_θ up to the integrator's error; in n-D it equals J_θ only if J_θ is conservative (paper
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

import math
from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.activations import asymmetry, cr_residual
from jacnet_cli.inverse import check_invertible, derivative
from jacnet_cli.solvers import GaussLegendre, direct_backprop

SLACK = 1e-6  # relative slack for `guarantee_held` in float64: rounding and integrator error
SLACK_FLOAT32 = 1e-4  # the same in float32 (machine epsilon 1.2e-7)
FLOPS = 4e9  # a measurement's budget of floating-point work, to size n-D point counts


def min_sym_eig(jac: Tensor) -> Tensor:
    """λ_min of the symmetric part of square Jacobians: (N, d, d) -> (N,)."""
    return torch.linalg.eigvalsh(0.5 * (jac + jac.transpose(-1, -2)))[:, 0]


def operator_norm(jac: Tensor) -> Tensor:
    """Spectral norm of each Jacobian: (N, d_y, d_x) -> (N,)."""
    return torch.linalg.matrix_norm(jac, ord=2)


def applicable(model: nn.Module) -> list[str]:
    """Keys of the guarantees (on ŷ) that a model's structure states."""
    structure = getattr(model, "structure", None)
    if structure is None:
        return []
    keys = {"pd": ["jacobian_min_eig"], "lipschitz": ["lipschitz_max"],
            "cauchy_riemann": ["cr_residual_max"], "gradient": ["jacobian_asym_max"],
            "monotone": ["jacobian_min_eig", "jacobian_asym_max"],
            "monotone_in": ["partial_min"]}.get(structure.name, [])
    if getattr(structure, "max_eig", None):
        keys = keys + ["jacobian_max_eig"]
    if model.d_x > 1 and model.d_x == model.d_y and "jacobian_asym_max" not in keys:
        keys = keys + ["jacobian_asym_max"]
    return keys + (["roundtrip_max_err"] if model.invertible else [])


def point_budget(model: nn.Module, requested: int) -> int:
    """How many guarantee points fit the measurement budget: each costs a d_y x d_x
    Jacobian and an eigen-decomposition, about d³ + (network width) d² operations."""
    d = max(getattr(model, "d_x", 1), getattr(model, "d_y", 1))
    if d <= 3:
        return requested
    width = sum(p.numel() for p in model.parameters()) / max(d, 1)
    per_point = 10 * d**3 + 4 * width * d * d
    return max(64, min(requested, int(FLOPS / per_point)))


def measure(model: nn.Module, x: Tensor, keys: list[str] | None = None,
            chunk: int = 4096, roundtrip_points: int = 512) -> dict[str, float]:
    """Measure guarantees of `model` on points x (M, d_x).

    Args:
        model: a JacNet (or any pointwise model; `net_` keys need a structure).
        x: (M, d_x) points, e.g. a dense grid wider than the test range.
        keys: which plain keys to measure; default: those the model's structure states.
            Any key can be asked of any model (e.g. `lipschitz_max` of an unconstrained one).
        chunk: points per autograd pass (fewer at high dimension).
        roundtrip_points: in n-D, the round trip is measured on this many of the points,
            evenly strided (each inverse is a Newton solve); in 1-D on all of them.

    Returns:
        {key: value} for the requested keys, plus the structure's `net_` check.
    """
    structure = getattr(model, "structure", None)
    if keys is None:
        keys = applicable(model)
    d = max(x.shape[1], getattr(model, "d_y", 1))
    chunk = max(1, min(chunk, int(2**22 / (d * d))))
    out: dict[str, float] = {}
    parts = x.split(chunk)
    jac_keys = ("jacobian_min_eig", "jacobian_max_eig", "lipschitz_max", "cr_residual_max",
                "jacobian_asym_max", "partial_min")
    if any(k in keys for k in jac_keys):
        low, high, slope, cr, asym, partial = math.inf, -math.inf, 0.0, 0.0, 0.0, math.inf
        with direct_backprop(getattr(model, "integrator", None)):
            for p in parts:
                jac = derivative(model, p).detach()  # (P, d_y, d_x)
                if "jacobian_min_eig" in keys or "jacobian_max_eig" in keys:
                    eig = torch.linalg.eigvalsh(0.5 * (jac + jac.transpose(-1, -2)))  # (P, d)
                    low, high = min(low, float(eig[:, 0].min())), max(high, float(eig[:, -1].max()))
                if "lipschitz_max" in keys:
                    slope = max(slope, float(operator_norm(jac).max()))
                if "cr_residual_max" in keys:
                    cr = max(cr, float(cr_residual(jac).max()))
                if "jacobian_asym_max" in keys and jac.shape[1] == jac.shape[2]:
                    asym = max(asym, float(asymmetry(jac).max()))
                if "partial_min" in keys:
                    signs = torch.tensor(structure.signs, dtype=jac.dtype, device=jac.device)
                    partial = min(partial, float((jac[:, 0, structure.indices] * signs).min()))
        for key, value in (("jacobian_min_eig", low), ("jacobian_max_eig", high),
                           ("lipschitz_max", slope), ("cr_residual_max", cr),
                           ("jacobian_asym_max", asym), ("partial_min", partial)):
            if key in keys:
                out[key] = value
    if "roundtrip_max_err" in keys:
        step = max(1, x.shape[0] // roundtrip_points) if x.shape[1] > 1 else 1
        out["roundtrip_max_err"] = roundtrip_error(model, x[::step], chunk)
    if structure is not None:
        with torch.no_grad():
            checks = [structure.check(model.jacobian(p)) for p in parts]
        for key in checks[0]:
            values = [c[key] for c in checks]
            out[key] = min(values) if key.endswith(("min_eig", "modulus", "_min")) \
                else max(values)
    return out


def held(model: nn.Module, measured: dict[str, Any]) -> bool | None:
    """Whether the measured guarantee keys meet the structure's bounds, within a relative
    slack for rounding and integrator error (SLACK in float64, SLACK_FLOAT32 in float32;
    a round trip within 1e-6, or 1e-3 in float32).

    None when the structure states no bound to check (e.g. `none`).
    """
    structure = getattr(model, "structure", None)
    if structure is None:
        return None
    single = next(model.parameters()).dtype != torch.float64
    slack = SLACK_FLOAT32 if single else SLACK
    checks: list[bool] = []
    eps = getattr(structure, "eps", None)
    if "partial_min" in measured:
        checks.append(measured["partial_min"] >= (eps or 0.0) * (1 - slack))
    if "jacobian_min_eig" in measured and eps is not None:
        checks.append(measured["jacobian_min_eig"] >= eps * (1 - slack))
    if "jacobian_max_eig" in measured:
        checks.append(measured["jacobian_max_eig"] <= structure.max_eig * (1 + slack))
    if "lipschitz_max" in measured and structure.name == "lipschitz":
        checks.append(measured["lipschitz_max"] <= structure.k * (1 + slack))
    if "cr_residual_max" in measured:
        checks.append(measured["cr_residual_max"] <= slack)
    if "jacobian_asym_max" in measured and structure.name in ("gradient", "monotone"):
        checks.append(measured["jacobian_asym_max"] <= slack)
    if "roundtrip_max_err" in measured:
        # An ODE forward is smooth only to its tolerance τ: x is then known to about τ over
        # the smallest slope, the conditioning of the inverse.
        limit = 1e-3 if single else 1e-6
        tol = getattr(getattr(model, "integrator", None), "tolerance", None)
        slope = measured.get("jacobian_min_eig")
        if tol and slope and slope > 0:
            limit = max(limit, 100 * tol / slope)
        checks.append(measured["roundtrip_max_err"] <= limit)
    return all(checks) if checks else None


def roundtrip_error(model: nn.Module, x: Tensor, chunk: int = 4096, **inverse_options) -> float:
    """max |x - ŷ⁻¹(ŷ(x))| over points x (M, d_x)."""
    check_invertible(model)
    errs = []
    for p in x.split(chunk):
        with torch.no_grad():
            y = model(p)
        back = model.inverse(y, **inverse_options).detach()
        errs.append((back - p).abs().max())
    return float(torch.stack(errs).max())


def curl(model: nn.Module, x: Tensor) -> Tensor:
    """Relative violation of ∂_k J_ij = ∂_j J_ik by J_θ per point: (N, d_x) -> (N,).

    ‖T - Tᵀ‖_F / ‖T‖_F with T_ijk = ∂_k J_ij (transposing the last two axes); 0 for the
    Jacobian of any C² map, whatever the integrator.
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
    cost); larger ones by torch.func (vmap of jacfwd), whose first call costs seconds.
    """
    d_y, d_x = model.d_y, model.d_x
    # monotone_in's J is itself an autograd gradient, which torch.func cannot transform.
    if d_y * d_x <= 64 or getattr(getattr(model, "structure", None), "name", "") == "monotone_in":
        xg = x.requires_grad_(True) if not x.requires_grad else x
        jac = model.jacobian(xg)  # (N, d_y, d_x)
        rows = [torch.autograd.grad(jac[:, i, j].sum(), xg, create_graph=create_graph,
                                    retain_graph=True)[0]  # (N, d_x)
                for i in range(d_y) for j in range(d_x)]
        return torch.stack(rows, dim=1).reshape(x.shape[0], d_y, d_x, d_x)
    from torch.func import jacfwd, vmap

    def one(p: Tensor) -> Tensor:
        return model.jacobian(p[None])[0]  # (d_y, d_x)

    return vmap(jacfwd(one))(x)


def curl_penalty(model: nn.Module, x: Tensor) -> Tensor:
    """Mean squared curl of J_θ over points x: mean ‖T - Tᵀ‖²_F, T_ijk = ∂_k J_ij.

    Differentiable in the weights, for training a non-conservative structure towards a
    conservative field (`curl_weight`); zero for the potential structures.
    """
    t = _jacobian_derivative(model, x.detach().clone(), create_graph=True)  # (N, d_y, d_x, d_x)
    return (t - t.transpose(-1, -2)).pow(2).sum(dim=(-3, -2, -1)).mean()


def conservation(model: nn.Module, x_test: Tensor, grid: Tensor, points: int = 128,
                 nodes: int = 32) -> dict[str, float]:
    """The conservation diagnostics of a JacNet with d_x > 1 (see the module docstring).

    Args:
        model: a JacNet with d_x > 1.
        x_test: test points; the path gaps are measured on up to `points` of them.
        grid: guarantee points; curl is measured on up to `points` of them (fewer at high
            dimension, where each costs d Jacobians).
        points: the most points each diagnostic uses.
        nodes: Gauss–Legendre nodes per leg for the numerical line integrals.
    """
    if getattr(model, "kind", None) != "jacnet" or model.d_x == 1:
        return {}
    from jacnet_cli.units import unwrap

    model, units = unwrap(model)
    if units is not None:  # measure in the model's units; path gaps in the user's
        x_test, grid = units.x_in(x_test), units.x_in(grid)
    d = model.d_x
    rule = GaussLegendre(nodes)
    out: dict[str, float] = {}
    budget = max(8, min(points, int(FLOPS / 20 / (d * d * max(d, 8) * 16))))
    out["curl_max"] = float(curl(model, grid[:budget]).detach().max())
    few = x_test[: max(8, min(points, int(points * 8 / d)))]  # the axis path has d legs
    with torch.no_grad():
        x0, y0 = model.anchor(few)  # (P, d_x), (P, d_y)
        scale = 1.0 if units is None else units._cast(few, "y_scale")
        linear = y0 + model.segment_integral(x0, few, rule)
        legs = [model.segment_integral(a, b, rule) for a, b in _axis_legs(x0, few)]
        axis = y0 + torch.stack(legs).sum(0)
        out["path_gap_max"] = float(torch.linalg.vector_norm(scale * (linear - axis), dim=-1).max())
        if getattr(model.integrator, "exact", False):
            gap = scale * (model(few) - linear)
            out["exact_gap_max"] = float(torch.linalg.vector_norm(gap, dim=-1).max())
    return out


def _axis_legs(start: Tensor, end: Tensor) -> list[tuple[Tensor, Tensor]]:
    from jacnet_cli.paths import AxisPath

    return AxisPath().legs(start, end)
