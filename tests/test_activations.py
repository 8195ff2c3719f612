"""Structures keep their guarantee for any raw network output (hypothesis), and solve J v = b."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jacnet_cli.activations import (
    STRUCTURES, CauchyRiemann, Lipschitz, PositiveDefinite, Unconstrained, cr_residual,
)

SETTINGS = settings(max_examples=60, deadline=None)
scales = st.floats(min_value=1e-3, max_value=1e3)
seeds = st.integers(0, 2**31 - 1)


def _raw(seed: int, n: int, width: int, scale: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, width, generator=g, dtype=torch.float64)


@SETTINGS
@given(seed=seeds, d=st.integers(1, 5), scale=scales, eps=st.floats(1e-6, 10.0))
def test_pd_eigenvalues_at_least_eps(seed, d, scale, eps):
    s = PositiveDefinite(eps)
    jac = s(_raw(seed, 8, s.raw_dim(d, d), scale), d, d)
    assert torch.allclose(jac, jac.transpose(-1, -2))
    # eigvalsh is backward stable: allow its rounding, relative to the largest eigenvalue.
    eig = torch.linalg.eigvalsh(jac)
    assert (eig[:, 0] >= eps - 1e-12 * eig[:, -1]).all()
    assert s.check(jac)["net_min_eig"] >= eps - 1e-12 * float(eig.max())


@SETTINGS
@given(seed=seeds, d_x=st.integers(1, 5), d_y=st.integers(1, 5), scale=scales,
       k=st.floats(1e-2, 1e2), norm=st.sampled_from(["spectral", "frobenius"]))
def test_lipschitz_operator_norm_at_most_k(seed, d_x, d_y, scale, k, norm):
    s = Lipschitz(k, norm)
    jac = s(_raw(seed, 8, s.raw_dim(d_x, d_y), scale), d_x, d_y)
    assert torch.linalg.matrix_norm(jac, ord=2).max() <= k * (1 + 1e-12)


def test_lipschitz_is_the_papers_k_tanh_in_1d():
    raw = torch.linspace(-5, 5, 101)[:, None]
    assert torch.allclose(Lipschitz(2.0)(raw, 1, 1)[:, 0, 0], 2.0 * torch.tanh(raw[:, 0]))


def test_lipschitz_spectral_reaches_beyond_the_frobenius_ball():
    # k·I in 2-D has operator norm k but Frobenius norm k·sqrt(2): only "spectral" gets close.
    raw = (10.0 * torch.eye(2)).reshape(1, 4)
    spectral = torch.linalg.matrix_norm(Lipschitz(1.0)(raw, 2, 2), ord=2)
    frob = torch.linalg.matrix_norm(Lipschitz(1.0, "frobenius")(raw, 2, 2), ord=2)
    assert spectral > 0.99 and frob < 0.75


def test_lipschitz_gradient_is_finite_at_zero():
    raw = torch.zeros(2, 4, requires_grad=True)
    Lipschitz(1.0)(raw, 2, 2).sum().backward()
    assert torch.isfinite(raw.grad).all()


@SETTINGS
@given(seed=seeds, scale=scales, m=st.floats(0.0, 5.0))
def test_cauchy_riemann_equations_hold_exactly(seed, scale, m):
    s = CauchyRiemann(m)
    jac = s(_raw(seed, 8, 2, scale), 2, 2)
    assert (cr_residual(jac) == 0).all()
    if m > 0:
        modulus = torch.sqrt(jac[:, 0, 0] ** 2 + jac[:, 1, 0] ** 2)
        assert (modulus >= m * (1 - 1e-12)).all()


@SETTINGS
@given(seed=seeds, d=st.integers(1, 4), scale=st.floats(1e-2, 1e2))
def test_pd_solve_matches_dense_solve(seed, d, scale):
    s = PositiveDefinite(1e-1)
    jac = s(_raw(seed, 5, d * d, scale), d, d)
    b = _raw(seed + 1, 5, d, 1.0)
    v = s.solve(jac, b)
    assert torch.allclose(jac @ v.unsqueeze(-1), b.unsqueeze(-1), rtol=1e-8, atol=1e-8)


def test_cauchy_riemann_solve_matches_dense_solve():
    s = CauchyRiemann(0.1)
    jac = s(torch.randn(20, 2), 2, 2)
    b = torch.randn(20, 2)
    assert torch.allclose(s.solve(jac, b), torch.linalg.solve(jac, b), atol=1e-12)


def test_non_invertible_structures_refuse_to_solve():
    for s in (Unconstrained(), Lipschitz(), CauchyRiemann(0.0)):
        with pytest.raises(ValueError, match="does not guarantee an invertible"):
            s.solve(torch.eye(2)[None], torch.ones(1, 2))


@pytest.mark.parametrize("cls,kwargs,key", [
    (PositiveDefinite, {"eps": 0}, "activation.eps"),
    (PositiveDefinite, {"eps": -1}, "activation.eps"),
    (Lipschitz, {"k": 0}, "activation.k"),
    (Lipschitz, {"k": 1, "norm": "max"}, "activation.norm"),
    (CauchyRiemann, {"min_modulus": -1}, "activation.min_modulus"),
])
def test_bad_parameters_name_the_key(cls, kwargs, key):
    with pytest.raises(ValueError, match=key):
        cls(**kwargs)


def test_shape_requirements_are_explained():
    with pytest.raises(ValueError, match="d_x == d_y"):
        PositiveDefinite().validate(2, 3)
    with pytest.raises(ValueError, match="R² -> R²"):
        CauchyRiemann().validate(3, 3)


def test_every_structure_states_its_guarantee():
    for name, cls in STRUCTURES.items():
        structure = cls(inputs=[0]) if name == "monotone_in" else cls()
        assert structure.guarantee
