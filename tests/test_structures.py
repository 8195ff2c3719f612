"""Every structure keeps its stated guarantee, and the paper's output activations keep theirs
for any raw network output (hypothesis); invertible ones solve J v = b.

`test_every_structure_keeps_its_stated_guarantee` loops over the registry (`STRUCTURES`):
a structure is tested the moment it is registered, with nothing to add here."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jacnet_cli.core.evaluation import derivative
from jacnet_cli.core.integrators import GaussLegendre
from jacnet_cli.core.model import JacNet
from jacnet_cli.core.structures import (
    STRUCTURES, CauchyRiemann, Lipschitz, PositiveDefinite, Unconstrained, cr_residual,
)
from jacnet_cli.core.structures.base import MEASURES, fitting

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
        with pytest.raises(ValueError, match="does not guarantee an invertible") as info:
            s.solve(torch.eye(2)[None], torch.ones(1, 2))
        assert "pd" in str(info.value)  # names what to train instead


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


def test_shape_requirements_are_explained_and_name_the_structures_that_fit():
    with pytest.raises(ValueError, match="d_x == d_y") as info:
        PositiveDefinite().check_dims(2, 1)
    assert "use one of:" in str(info.value) and "monotone_in" in str(info.value)
    assert "pd" not in fitting(2, 1).split(": ")[1].split(", ")
    with pytest.raises(ValueError, match="R² -> R²"):
        CauchyRiemann().check_dims(3, 3)


# ------------------------------------------------------------------ the shared guarantee test

#: Options to try beside each structure's defaults; a structure not listed is tested with its
#: defaults (monotone_in has none that build: it needs the inputs to be monotone in).
VARIANTS = {
    "monotone_in": [{"inputs": [0]}, {"inputs": [0], "decreasing": [1], "eps": 0.1},
                    {"inputs": [0], "hidden": 8}, {"inputs": [0], "decreasing": [1], "linear": True},
                    {"inputs": [0], "decreasing": [1], "members": 3, "independent": True,
                     "average": 0.9, "keypoints": 8}],
    "invertible": [{}, {"blocks": 2, "units": 3, "depth": 2, "max_slope": 5.0, "eps": 0.01}],
    "monotone": [{}, {"eps": 1e-2, "max_eig": 3.0}, {"network": "modular", "layers": 2}],
    "gradient": [{}, {"network": "modular", "layers": 2}],
    "pd": [{}, {"conservative": False}],
    "lipschitz": [{}, {"k": 2.5}, {"nonlinearity": "abs", "layers": 3},
                  {"weights": "spectral", "k": 0.5}, {"conservative": False}],
    # layers > 1 grows doubly exponentially off the data (sin of sin): overflow far away at
    # random weights; tested on a 3x box in test_lipschitz_holomorphic
    "cauchy_riemann": [{}, {"min_modulus": 0.2}, {"nonvanishing": True, "nodes": 1},
                       {"conservative": False}],
}
SHAPES = [(1, 1), (2, 1), (2, 2), (3, 3), (4, 2), (8, 8)]
CASES = [(name, i, shape) for name in STRUCTURES
         for i in range(len(VARIANTS.get(name, [{}]))) for shape in SHAPES]


def _structure(name: str, i: int):
    return STRUCTURES[name](**VARIANTS.get(name, [{}])[i])


@pytest.mark.parametrize("name,variant,shape", CASES,
                         ids=[f"{n}-{i}-{a}x{b}" for n, i, (a, b) in CASES])
def test_every_structure_keeps_its_stated_guarantee(name, variant, shape):
    """Where a structure says its guarantee holds by construction, random networks keep every
    stated bound on D = dŷ/dx, by autograd through ŷ as evaluated, far outside any data; the
    bound is checked against the closed-form quantity (eigenvalues, singular values, partials,
    determinants) of D, computed independently of the structure's own code."""
    d_x, d_y = shape
    structure = _structure(name, variant)
    if not structure.accepts(d_x, d_y):
        with pytest.raises(ValueError, match=f"activation={name}"):
            structure.check_dims(d_x, d_y)
        return
    if not structure.by_construction(d_x, d_y):
        pytest.skip("the guarantee is measured only at these dimensions")
    try:
        structure.check_dims(d_x, d_y)
    except ValueError as exc:
        pytest.skip(f"this variant does not fit {d_x}x{d_y}: {exc}")
    for seed in range(3):
        torch.manual_seed(seed)
        model = JacNet(d_x, d_y, structure, hidden=16)
        gen = torch.Generator().manual_seed(seed)
        if structure.needs_points:  # "data" in [-1, 1]^d, as a run would pass
            x_data = 2 * torch.rand(200, d_x, generator=gen) - 1
            structure.fit_data(model.net, x_data, torch.randn(200, d_y, generator=gen))
        model.eval()  # as every evaluation in jacnet
        # Far outside the data: the box [-4, 4]^d (4x [-1, 1]).
        x = 8 * (torch.rand(2000, d_x, generator=gen) - 0.5)
        jac = derivative(model, x)  # (N, d_y, d_x)
        region = structure.region(model.net)
        inside = x if region is None else x[((x >= region[0]) & (x <= region[1])).all(1)]
        jac_inside = derivative(model, inside)
        for key, bound in structure.bounds(d_x, d_y).items():
            local = key in structure.local_keys  # stated on the region only
            values = _independent(key, jac_inside if local else jac, structure)
            worst = float(values.min() if bound.op.startswith(">") else values.max())
            assert bound.holds(worst, 1e-9), (key, worst, bound)


def _independent(key: str, jac: torch.Tensor, structure) -> torch.Tensor:
    """Each guarantee key per point, from D by plain linear algebra."""
    if key == "jacobian_min_eig":
        return torch.linalg.eigvalsh(0.5 * (jac + jac.mT))[:, 0]
    if key == "jacobian_max_eig":
        return torch.linalg.eigvalsh(0.5 * (jac + jac.mT))[:, -1]
    if key == "lipschitz_max":
        return torch.linalg.svdvals(jac)[:, 0]
    if key == "jacobian_asym_max":
        return (jac - jac.mT).flatten(1).norm(dim=1) / jac.flatten(1).norm(dim=1)
    if key in ("cr_residual_max", "cr_residual_rel_max"):
        res = torch.maximum((jac[:, 0, 0] - jac[:, 1, 1]).abs(), (jac[:, 0, 1] + jac[:, 1, 0]).abs())
        return res / jac.flatten(1).norm(dim=1) if key.endswith("rel_max") else res
    if key == "jacobian_det_root_min":  # one sign of det everywhere, never 0: the sign at
        det = torch.linalg.det(jac)     # the first point times each point's |det|^(1/d)
        sign = structure.orientation if structure.orientation in (1, -1) else torch.sign(det[0])
        return sign * torch.sign(det) * det.abs() ** (1 / jac.shape[-1])
    if key == "modulus_min":  # |f'| for D = [[a, -b], [b, a]]
        return torch.hypot(jac[:, 0, 0], jac[:, 1, 0])
    if key == "jacobian_det_min":
        return torch.linalg.det(jac) * getattr(structure, "orientation", 1)
    if key == "partial_min":
        return (jac[:, 0, structure.indices] * torch.tensor(structure.signs)).min(dim=1).values
    return structure.measure(key, jac)  # a key this test does not know: the structure's own


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_every_structure_states_where_its_guarantee_holds(name):
    structure = _structure(name, 0)
    assert structure.name == name and structure.guarantee
    shapes = [s for s in SHAPES if structure.accepts(*s)]
    assert shapes, "a structure must take some dimensions"
    for d_x, d_y in shapes:
        stated = structure.bounds(d_x, d_y)
        # Every key it bounds is measurable, and its text says what the guarantee is.
        assert all(key in MEASURES or key == "partial_min" or hasattr(structure, "measure")
                   for key in stated)
        if structure.by_construction(d_x, d_y):
            assert stated, f"{name} claims a guarantee by construction at {d_x}x{d_y} but " \
                           "bounds nothing"
    assert name in STRUCTURES and STRUCTURES[name] is type(structure)


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_exact_structures_agree_with_the_papers_line_integral(name):
    """ŷ in closed form equals the numerical line integral of J (64-node Gauss–Legendre);
    a piecewise-linear network (MaxMin) is tried with a smooth nonlinearity, since a
    quadrature of a discontinuous J is only first-order accurate."""
    smooth = {"lipschitz": {"nonlinearity": "tanh"}}
    for d_x, d_y in SHAPES:
        structure = STRUCTURES[name](**smooth.get(name, VARIANTS.get(name, [{}])[0]))
        if not structure.accepts(d_x, d_y) or not structure.exact(d_x, d_y):
            continue
        torch.manual_seed(0)
        exact = JacNet(d_x, d_y, structure, hidden=12)
        quad = JacNet(d_x, d_y, structure, hidden=12, integrator=GaussLegendre(64))
        quad.load_state_dict(exact.state_dict())
        x = torch.rand(50, d_x) * 2 - 1
        assert torch.allclose(exact(x), quad(x), atol=1e-9, rtol=0)


@pytest.mark.parametrize("name,variant", [(n, i) for n in STRUCTURES
                                          for i in range(len(VARIANTS.get(n, [{}])))])
def test_rescaling_to_standard_units_keeps_every_option(name, variant):
    """A run on standardised data builds `structure.rescaled(s_x, s_y)`: at unit scales it must
    be the same structure, every option kept (a dropped option silently builds another model)."""
    from jacnet_cli.core.specs import arguments

    structure = _structure(name, variant)
    d_x, d_y = next((a, b) for a, b in [(2, 2), (2, 1), (1, 1)] if structure.accepts(a, b))
    structure.check_dims(d_x, d_y)
    again = structure.rescaled(torch.ones(d_x, dtype=torch.float64),
                               torch.ones(d_y, dtype=torch.float64))
    assert type(again) is type(structure) and arguments(again) == arguments(structure)
