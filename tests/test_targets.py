"""Targets against their own closed forms: Jacobians against autograd, inverses by round trip.

Parametrised over the `TARGETS` registry, so a new target is tested as soon as it is registered.
Numerics are checked in float64.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor
from hypothesis import given, settings
from hypothesis import strategies as st

from jacnet_cli.core.targets import (
    TARGETS,
    Cubic,
    Gaussian,
    GradNetsNonconvex,
    LeakyReLU,
    MonotoneSinh,
    NotInvertibleError,
    Target,
    get_target,
)

F64 = torch.float64
CONF = Path(__file__).resolve().parents[1] / "jacnet_cli" / "conf" / "target"
ALL = sorted(TARGETS)
INVERTIBLE = [n for n in ALL if TARGETS[n].invertible]
NOT_INVERTIBLE = [n for n in ALL if not TARGETS[n].invertible]
COMPLEX = [n for n in ALL if n.startswith("complex_")]

# Per-coordinate boxes of x on which inverse(f(x)) == x must hold; default (-2, 2).
# Principal branches recover x only on part of the plane.
X_BOX: dict[str, list[tuple[float, float]]] = {
    "complex_exp": [(-3.0, 3.0), (-3.0, 3.0)],  # |Im z| < pi
    "complex_square": [(0.05, 3.0), (-3.0, 3.0)],  # Re z > 0
    "cubic": [(-100.0, 100.0)],  # y up to ~1e6
}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _x(target: Target, n: int = 64, dtype: torch.dtype = F64, seed: int = 0) -> Tensor:
    """Uniform points in the target's X_BOX, (n, d_x)."""
    box = X_BOX.get(target.name, [(-2.0, 2.0)] * target.d_x)
    lo = torch.tensor([b[0] for b in box], dtype=dtype)  # (d_x,)
    hi = torch.tensor([b[1] for b in box], dtype=dtype)  # (d_x,)
    u = torch.rand(n, target.d_x, generator=_gen(seed), dtype=dtype)  # (n, d_x)
    return lo + (hi - lo) * u  # (n, d_x)


def _logspace_both_signs(lo: float, hi: float, n: int) -> Tensor:
    mag = torch.logspace(math.log10(lo), math.log10(hi), n, dtype=F64)  # (n,)
    return torch.cat([-mag, torch.zeros(1, dtype=F64), mag]).unsqueeze(-1)  # (2n + 1, 1)


# Edge-case y for f(inverse(y)) == y, beyond the images of X_BOX.
def _y_edges(name: str) -> Tensor | None:
    g = _gen(1)
    if name == "exp":
        return torch.logspace(-12, 12, 49, dtype=F64).unsqueeze(-1)  # (49, 1)
    if name == "cubic":
        return _logspace_both_signs(1e-12, 1e6, 37)
    if name == "softplus":
        return torch.logspace(-6, math.log10(50.0), 41, dtype=F64).unsqueeze(-1)  # (41, 1)
    if name == "sigmoid":
        return torch.linspace(1e-6, 1 - 1e-6, 41, dtype=F64).unsqueeze(-1)  # (41, 1)
    if name == "tanh":
        return torch.linspace(-1 + 1e-6, 1 - 1e-6, 41, dtype=F64).unsqueeze(-1)  # (41, 1)
    if name in ("complex_exp", "complex_square"):
        y = 100 * (2 * torch.rand(64, 2, generator=g, dtype=F64) - 1)  # (64, 2)
        # The negative real axis (the branch cut) from both sides, and a point near 0.
        cut = torch.tensor([[-3.0, 1e-9], [-3.0, -1e-9], [-3.0, 0.0], [1e-8, -2e-8]], dtype=F64)
        return torch.cat([y, cut])  # (68, 2)
    if name == "atan":
        return torch.linspace(-math.pi / 2 + 1e-6, math.pi / 2 - 1e-6, 41, dtype=F64).unsqueeze(-1)
    if name == "sinh":
        return _logspace_both_signs(1e-12, 1e12, 25)
    if name == "leaky_relu":
        return _logspace_both_signs(1e-300, 1e300, 25)
    if name == "monotone_sinh":
        return 1e3 * (2 * torch.rand(64, 2, generator=g, dtype=F64) - 1)  # (64, 2)
    return None


def _autograd_jacobian(target: Target, x: Tensor) -> Tensor:
    """Per-point Jacobian by autograd; targets act row-wise, so summing over the batch is exact."""
    jac = torch.autograd.functional.jacobian(lambda z: target(z).sum(0), x)  # (d_y, N, d_x)
    return jac.permute(1, 0, 2)  # (N, d_y, d_x)


def _close(actual: Tensor, expected: Tensor) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------- every target


@pytest.mark.parametrize("name", ALL)
def test_registry_names_match_classes(name: str) -> None:
    target = get_target(name)
    assert target.name == name
    assert isinstance(target, Target)
    assert type(target).__name__ in repr(target)


@pytest.mark.parametrize("name", ALL)
def test_jacobian_matches_autograd(name: str) -> None:
    target = get_target(name)
    x = _x(target)
    if name == "abs":
        x = torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)  # |x| has no derivative at 0
    _close(target.jacobian(x), _autograd_jacobian(target, x))


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("name", ALL)
def test_shapes_and_dtypes(name: str, dtype: torch.dtype) -> None:
    target = get_target(name)
    x = _x(target, n=7, dtype=dtype)
    y = target(x)
    jac = target.jacobian(x)
    assert y.shape == (7, target.d_y) and y.dtype == dtype
    assert jac.shape == (7, target.d_y, target.d_x) and jac.dtype == dtype
    if target.invertible:
        x_back = target.inverse(y)
        assert x_back.shape == (7, target.d_x) and x_back.dtype == dtype


@pytest.mark.parametrize("name", ALL)
def test_wrong_shape_is_rejected(name: str) -> None:
    target = get_target(name)
    with pytest.raises(ValueError, match=r"expects x of shape \(N, "):
        target(torch.zeros(target.d_x + 1, dtype=F64))


@pytest.mark.parametrize("name", INVERTIBLE)
def test_inverse_of_forward(name: str) -> None:
    target = get_target(name)
    x = _x(target)
    _close(target.inverse(target(x)), x)


@pytest.mark.parametrize("name", INVERTIBLE)
def test_forward_of_inverse(name: str) -> None:
    target = get_target(name)
    y = target(_x(target, seed=2))
    edges = _y_edges(name)
    if edges is not None:
        y = torch.cat([y, edges])  # (N, d_y)
    _close(target(target.inverse(y)), y)


@pytest.mark.parametrize("name", INVERTIBLE)
def test_inverse_domain_contains_image(name: str) -> None:
    target = get_target(name)
    domain = target.inverse_domain()
    if domain is None:
        return
    lo, hi = domain
    y = target(_x(target))
    assert bool(((y > lo) & (y < hi)).all())


@pytest.mark.parametrize("name", NOT_INVERTIBLE)
def test_not_invertible_raises(name: str) -> None:
    target = get_target(name)
    with pytest.raises(NotInvertibleError, match=repr(name)):
        target.inverse(torch.zeros(3, target.d_y, dtype=F64))


@pytest.mark.parametrize("name", ALL)
def test_config_builds_the_registered_class(name: str) -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    target = instantiate(OmegaConf.load(CONF / f"{name}.yaml"))
    assert type(target) is TARGETS[name]


def test_every_config_is_registered() -> None:
    assert sorted(p.stem for p in CONF.glob("*.yaml")) == ALL


def test_get_target_unknown_name() -> None:
    with pytest.raises(ValueError, match="'expo'.*exp"):
        get_target("expo")


# ------------------------------------------------------------------------- specific targets


def test_abs_jacobian_is_zero_at_zero() -> None:
    assert get_target("abs").jacobian(torch.zeros(1, 1, dtype=F64)).item() == 0.0


@pytest.mark.parametrize("dim", [1, 2, 3, 8])
def test_monotone_sinh_jacobian_is_spd_with_eigenvalues_at_least_one(dim: int) -> None:
    target = MonotoneSinh(dim=dim)
    x = 2 * torch.randn(32, dim, generator=_gen(), dtype=F64)  # (32, dim)
    jac = target.jacobian(x)  # (32, dim, dim)
    assert torch.equal(jac, jac.transpose(-1, -2))
    assert torch.linalg.eigvalsh(jac).min().item() >= 1 - 1e-12
    _close(jac, _autograd_jacobian(target, x))
    _close(target.inverse(target(x)), x)


@pytest.mark.parametrize("dim", [1, 2, 3, 8])
def test_monotone_sinh_rotation_is_orthogonal_and_deterministic(dim: int) -> None:
    rot = MonotoneSinh(dim=dim, seed=3)._rot
    _close(rot @ rot.T, torch.eye(dim, dtype=F64))
    assert torch.equal(rot, MonotoneSinh(dim=dim, seed=3)._rot)
    if dim > 2:
        assert not torch.equal(rot, MonotoneSinh(dim=dim, seed=4)._rot)


def test_monotone_sinh_dim2_is_the_30_degree_rotation() -> None:
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    _close(MonotoneSinh(dim=2)._rot, torch.tensor([[c, -s], [s, c]], dtype=F64))


@pytest.mark.parametrize("name", COMPLEX)
def test_complex_jacobian_satisfies_cauchy_riemann_exactly(name: str) -> None:
    target = get_target(name)
    jac = target.jacobian(_x(target))  # (N, 2, 2)
    assert torch.equal(jac[:, 0, 0], jac[:, 1, 1])
    assert torch.equal(jac[:, 0, 1], -jac[:, 1, 0])


@pytest.mark.parametrize("name", COMPLEX)
def test_complex_targets_agree_with_torch_complex(name: str) -> None:
    target = get_target(name)
    x = _x(target)
    z = torch.complex(x[:, 0], x[:, 1])  # (N,)
    fz = {"complex_exp": torch.exp, "complex_square": torch.square}[name](z)
    _close(target(x), torch.view_as_real(fz))


# ------------------------------------------------------------------------------ properties

wide = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_subnormal=False)


@settings(max_examples=300, deadline=None)
@given(y=wide)
def test_cubic_inverse_round_trip(y: float) -> None:
    cubic = Cubic()
    yt = torch.tensor([[y]], dtype=F64)
    x = cubic.inverse(yt)
    _close(cubic(x), yt)
    _close(cubic.inverse(cubic(x)), x)


@settings(max_examples=100, deadline=None)
@given(y=st.floats(min_value=-1e30, max_value=1e30, allow_nan=False, allow_subnormal=False))
def test_cubic_inverse_is_accurate_in_float32(y: float) -> None:
    cubic = Cubic()
    x32 = cubic.inverse(torch.tensor([[y]], dtype=torch.float32))
    x64 = cubic.inverse(torch.tensor([[y]], dtype=F64))
    assert x32.dtype == torch.float32
    torch.testing.assert_close(x32.double(), x64, rtol=1e-5, atol=1e-30)


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(min_value=1e-3, max_value=1e3),
    b=st.floats(min_value=-1e3, max_value=1e3),
)
def test_complex_square_inverse_is_principal_sqrt(a: float, b: float) -> None:
    target = get_target("complex_square")
    x = torch.tensor([[a, b]], dtype=F64)
    _close(target.inverse(target(x)), x)


def test_leaky_relu_is_piecewise_linear_with_its_slope():
    target = LeakyReLU(slope=0.25)
    x = torch.tensor([[-2.0], [-0.5], [0.0], [0.5], [2.0]], dtype=F64)
    _close(target(x), torch.tensor([[-0.5], [-0.125], [0.0], [0.5], [2.0]], dtype=F64))
    _close(target.jacobian(x)[:, 0, 0], torch.tensor([0.25, 0.25, 1.0, 1.0, 1.0], dtype=F64))
    with pytest.raises(ValueError, match="target.slope"):
        LeakyReLU(slope=0.0)


def test_gaussian_is_one_lipschitz_and_even():
    target = Gaussian()
    x = torch.linspace(-4, 4, 4001, dtype=F64).unsqueeze(-1)
    slope = target.jacobian(x).abs().max()
    assert float(slope) <= math.sqrt(2 / math.e) + 1e-12
    _close(target(x), target(-x))


@pytest.mark.parametrize("name", ["atan", "sinh", "leaky_relu", "gaussian"])
def test_new_family_targets_integrate_their_jacobians(name):
    """f(x) - f(0) equals the integral of the closed-form Jacobian (composite Gauss–Legendre)."""
    target = get_target(name)
    x = torch.linspace(-2, 2, 9, dtype=F64).unsqueeze(-1)  # (9, 1)
    u, w = torch.tensor(_np_leggauss(32), dtype=F64)  # (2, 32): nodes, weights on [-1, 1]
    # Split at 0 so the kink of leaky_relu is a panel edge.
    t = (u + 1) / 2  # (32,)
    pts = x * t  # (9, 32): the segment from 0 to x
    jac = target.jacobian(pts.reshape(-1, 1))[:, 0, 0].reshape(9, 32)
    integral = (jac * w / 2).sum(-1, keepdim=True) * x  # (9, 1)
    _close(integral, target(x) - target(torch.zeros(1, 1, dtype=F64)))


def test_gradnets_nonconvex_is_the_gradient_of_its_potential_and_not_convex():
    """∇G (autograd of the potential) is the field, ∇²G is symmetric and indefinite on [0, 1]²,
    and the closed form at points where the trigonometric factors are 0 or ±1."""
    target = GradNetsNonconvex()
    x = torch.rand(200, 2, generator=_gen(3), dtype=F64)  # (200, 2) in [0, 1]²
    grad = torch.autograd.functional.jacobian(lambda z: target.potential(z).sum(0), x)[0]
    _close(grad, target(x))
    jac = target.jacobian(x)  # (200, 2, 2)
    _close(jac, jac.transpose(-1, -2))
    eig = torch.linalg.eigvalsh(jac)  # (200, 2)
    assert float(eig[:, 0].min()) < -1 and float(eig[:, 1].max()) > 1  # neither convex nor concave
    pts = torch.tensor([[0.0, 0.0], [0.25, 0.0], [0.75, 0.0], [0.5, 1.0]], dtype=F64)
    _close(target(pts), torch.tensor([[math.pi / 2, 0.0], [0.0, 0.125], [0.0, 0.375],
                                      [math.pi / 2 + 0.5, -0.75]], dtype=F64))
    _close(target.jacobian(pts[1:3]),
           torch.tensor([[[-math.pi**2, 0.5], [0.5, -math.pi**2 / 4 - 1]],
                         [[math.pi**2, 0.5], [0.5, math.pi**2 / 4 - 1]]], dtype=F64))
    _close(target.potential(pts), torch.tensor([[0.0], [0.25], [-0.25], [-0.25]], dtype=F64))


def _np_leggauss(n: int):
    import numpy as np

    u, w = np.polynomial.legendre.leggauss(n)
    return np.stack([u, w])
