"""Measure each structure's guarantee on the function as evaluated, and on J_θ itself.

The structure bounds the network's J_θ; the function users get is the integral, evaluated by
a quadrature or an ODE solver to some tolerance. In 1-D its derivative is J_θ up to that
error; in n-D it equals J_θ only if J_θ is conservative (paper section 4.5). So every
guarantee is reported twice: on ŷ's actual derivative (autograd through the integral; the
plain keys) and on J_θ (the structure's own check; keys prefixed `net_`).

Keys, present only where they apply:
    jacobian_min_eig   min over points of λ_min((D + Dᵀ)/2), D = dŷ/dx (pd; > 0 everywhere on
                       a convex set makes ŷ strictly monotone, hence injective; in 1-D: min ŷ')
    lipschitz_max      max over points of ‖D‖₂, the largest local slope (lipschitz)
    cr_residual_max    max |D11 - D22|, |D12 + D21| (cauchy_riemann)
    roundtrip_max_err  max |x - ŷ⁻¹(ŷ(x))| (invertible structures)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from jacnet_cli.activations import cr_residual
from jacnet_cli.inverse import check_invertible, derivative
from jacnet_cli.solvers import direct_backprop


def min_sym_eig(jac: Tensor) -> Tensor:
    """λ_min of the symmetric part of square Jacobians: (N, d, d) -> (N,)."""
    return torch.linalg.eigvalsh(0.5 * (jac + jac.transpose(-1, -2)))[:, 0]


def operator_norm(jac: Tensor) -> Tensor:
    """Spectral norm of each Jacobian: (N, d_y, d_x) -> (N,)."""
    return torch.linalg.matrix_norm(jac, ord=2)


def applicable(structure_name: str, invertible: bool) -> list[str]:
    """Keys of the guarantees a structure states."""
    keys = {"pd": ["jacobian_min_eig"], "lipschitz": ["lipschitz_max"],
            "cauchy_riemann": ["cr_residual_max"]}.get(structure_name, [])
    return keys + (["roundtrip_max_err"] if invertible else [])


def measure(model: nn.Module, x: Tensor, keys: list[str] | None = None,
            chunk: int = 4096) -> dict[str, float]:
    """Measure guarantees of `model` on points x (M, d_x).

    Args:
        model: a JacNet (or any pointwise model; `net_` keys need a structure).
        x: (M, d_x) points, e.g. a dense grid wider than the test range.
        keys: which plain keys to measure; default: those the model's structure states.
            Any key can be asked of any model (e.g. `lipschitz_max` of an unconstrained one).
        chunk: points per autograd pass.

    Returns:
        {key: value} for the requested keys, plus the structure's `net_` check.
    """
    structure = getattr(model, "structure", None)
    if keys is None:
        keys = applicable(structure.name, model.invertible) if structure is not None else []
    out: dict[str, float] = {}
    parts = x.split(chunk)
    if any(k in keys for k in ("jacobian_min_eig", "lipschitz_max", "cr_residual_max")):
        with direct_backprop(getattr(model, "integrator", None)):
            jac = torch.cat([derivative(model, p).detach() for p in parts])  # (M, d_y, d_x)
        if "jacobian_min_eig" in keys:
            out["jacobian_min_eig"] = float(min_sym_eig(jac).min())
        if "lipschitz_max" in keys:
            out["lipschitz_max"] = float(operator_norm(jac).max())
        if "cr_residual_max" in keys:
            out["cr_residual_max"] = float(cr_residual(jac).max())
    if "roundtrip_max_err" in keys:
        out["roundtrip_max_err"] = roundtrip_error(model, x, chunk)
    if structure is not None:
        with torch.no_grad():
            out.update(structure.check(torch.cat([model.jacobian(p) for p in parts])))
    return out


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
