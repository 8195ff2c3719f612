"""Every structure keeps its stated guarantee; the paper's output forms keep theirs for any raw
network output (hypothesis); invertible ones solve J v = b; the protocol refuses a structure
that forgets a required part.

`test_every_structure_keeps_its_stated_guarantee` loops over the registry (`STRUCTURES`), at
every shape each option takes, through the form it picks there (`at`): a structure is tested
the moment it is registered, with nothing to add here, and `test_every_form_is_exercised`
fails if some concrete structure class is never reached."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from jacnet_cli.core.evaluation import derivative
from jacnet_cli.core.model import JacNet
from jacnet_cli.core.solvers import GaussLegendre
from jacnet_cli.core.structures import (
    FORMS, STRUCTURES, Bound, CauchyRiemann, Lipschitz, OutputForm, PositiveDefinite,
    Unconstrained, cr_residual,
)
from jacnet_cli.core.structures.base import fitting

HYPOTHESIS = settings(max_examples=60, deadline=None)
scales = st.floats(min_value=1e-3, max_value=1e3)
seeds = st.integers(0, 2**31 - 1)


def _raw(seed: int, n: int, width: int, scale: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, width, generator=g, dtype=torch.float64)


def _paper(option, d_x: int, d_y: int) -> OutputForm:
    form = option.at(d_x, d_y)
    assert isinstance(form, OutputForm)
    return form


@HYPOTHESIS
@given(seed=seeds, d=st.integers(1, 5), scale=scales, eps=st.floats(1e-6, 10.0))
def test_pd_eigenvalues_at_least_eps(seed, d, scale, eps):
    s = _paper(PositiveDefinite(eps, conservative=False), d, d)
    jac = s.form(_raw(seed, 8, s.raw_dim(d, d), scale), d, d)
    assert torch.allclose(jac, jac.transpose(-1, -2))
    # eigvalsh is backward stable: allow its rounding, relative to the largest eigenvalue.
    eig = torch.linalg.eigvalsh(jac)
    assert (eig[:, 0] >= eps - 1e-12 * eig[:, -1]).all()
    assert s.check(jac)["net_min_eig"] >= eps - 1e-12 * float(eig.max())


@HYPOTHESIS
@given(seed=seeds, d_x=st.integers(1, 5), d_y=st.integers(1, 5), scale=scales,
       k=st.floats(1e-2, 1e2), norm=st.sampled_from(["spectral", "frobenius"]))
def test_lipschitz_operator_norm_at_most_k(seed, d_x, d_y, scale, k, norm):
    s = _paper(Lipschitz(k, norm, conservative=False), d_x, d_y)
    jac = s.form(_raw(seed, 8, s.raw_dim(d_x, d_y), scale), d_x, d_y)
    assert torch.linalg.matrix_norm(jac, ord=2).max() <= k * (1 + 1e-12)


def test_lipschitz_is_the_papers_k_tanh_in_1d():
    raw = torch.linspace(-5, 5, 101)[:, None]
    s = _paper(Lipschitz(2.0), 1, 1)
    assert torch.allclose(s.form(raw, 1, 1)[:, 0, 0], 2.0 * torch.tanh(raw[:, 0]))


def test_lipschitz_spectral_reaches_beyond_the_frobenius_ball():
    # k·I in 2-D has operator norm k but Frobenius norm k·sqrt(2): only "spectral" gets close.
    raw = (10.0 * torch.eye(2)).reshape(1, 4)
    spectral = _paper(Lipschitz(1.0, conservative=False), 2, 2).form(raw, 2, 2)
    frob = _paper(Lipschitz(1.0, "frobenius", conservative=False), 2, 2).form(raw, 2, 2)
    assert torch.linalg.matrix_norm(spectral, ord=2) > 0.99
    assert torch.linalg.matrix_norm(frob, ord=2) < 0.75


def test_lipschitz_gradient_is_finite_at_zero():
    raw = torch.zeros(2, 4, requires_grad=True)
    _paper(Lipschitz(1.0, conservative=False), 2, 2).form(raw, 2, 2).sum().backward()
    assert torch.isfinite(raw.grad).all()


@HYPOTHESIS
@given(seed=seeds, scale=scales, m=st.floats(0.0, 5.0))
def test_cauchy_riemann_equations_hold_exactly(seed, scale, m):
    s = _paper(CauchyRiemann(m, conservative=False), 2, 2)
    jac = s.form(_raw(seed, 8, 2, scale), 2, 2)
    assert (cr_residual(jac) == 0).all()
    if m > 0:
        modulus = torch.sqrt(jac[:, 0, 0] ** 2 + jac[:, 1, 0] ** 2)
        assert (modulus >= m * (1 - 1e-12)).all()


@HYPOTHESIS
@given(seed=seeds, d=st.integers(1, 4), scale=st.floats(1e-2, 1e2))
def test_pd_solve_matches_dense_solve(seed, d, scale):
    s = _paper(PositiveDefinite(1e-1, conservative=False), d, d)
    jac = s.form(_raw(seed, 5, d * d, scale), d, d)
    b = _raw(seed + 1, 5, d, 1.0)
    v = s.solve_linear(jac, b)
    assert torch.allclose(jac @ v.unsqueeze(-1), b.unsqueeze(-1), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("conservative", [True, False])
def test_cauchy_riemann_solve_matches_dense_solve(conservative):
    s = CauchyRiemann(0.1, conservative=conservative).at(2, 2)
    jac = _paper(CauchyRiemann(0.1, conservative=False), 2, 2).form(torch.randn(20, 2), 2, 2)
    b = torch.randn(20, 2)
    assert torch.allclose(s.solve_linear(jac, b), torch.linalg.solve(jac, b), atol=1e-12)


def test_non_invertible_structures_refuse_to_solve():
    for option, d in ((Unconstrained(), 2), (Lipschitz(), 2), (CauchyRiemann(0.0), 2)):
        with pytest.raises(ValueError, match="does not guarantee an invertible") as info:
            option.at(d, d).solve_linear(torch.eye(2)[None], torch.ones(1, 2))
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


# ------------------------------------------------------------------ the protocol


def test_a_structure_that_forgets_a_required_part_fails_at_its_class_statement():
    with pytest.raises(TypeError, match="does not implement .*bounds.*rescaled"):
        class Forgetful(OutputForm):  # noqa: F841 - the class statement is the test
            name = "forgetful"

            def describe(self, d_x, d_y):
                return "nothing"

            def raw_dim(self, d_x, d_y):
                return 1

            def form(self, raw, d_x, d_y):
                return raw[:, None, :]
    assert "forgetful" not in STRUCTURES


def test_a_family_picks_the_papers_form_in_1d_and_the_exact_one_in_nd():
    assert not PositiveDefinite().at(1, 1).exact(1, 1)
    assert PositiveDefinite().at(3, 3).exact(3, 3)
    assert not PositiveDefinite(conservative=False).at(3, 3).exact(3, 3)
    assert Lipschitz().at(4, 2).by_construction(4, 2)
    assert not Lipschitz(conservative=False).at(4, 2).by_construction(4, 2)


# ------------------------------------------------------------------ the shared guarantee test

#: Options to try beside each structure's defaults; a structure not listed is tested with its
#: defaults (monotone_in has none that build: it needs the inputs to be monotone in).
VARIANTS = {
    "monotone_in": [{"inputs": [0]}, {"inputs": [0], "decreasing": [1], "eps": 0.1},
                    {"inputs": [0], "hidden": 8}, {"inputs": [0], "decreasing": [1], "linear": True},
                    {"inputs": [0], "decreasing": [1], "members": 3, "independent": True,
                     "average": 0.9, "keypoints": 8}],
    "invertible": [{}, {"blocks": 2, "units": 3, "depth": 2, "max_slope": 5.0, "eps": 0.01},
                   {"orientation": -1}, {"hidden": 8}],
    "monotone": [{}, {"eps": 1e-2, "max_eig": 3.0}, {"network": "modular", "layers": 2},
                 {"network": "cascade"}, {"network": "modular", "max_eig": 2.0}],
    "gradient": [{}, {"network": "modular", "layers": 2}, {"network": "mixed"}],
    "pd": [{}, {"conservative": False}],
    "lipschitz": [{}, {"k": 2.5}, {"nonlinearity": "abs", "layers": 3},
                  {"weights": "spectral", "k": 0.5}, {"conservative": False},
                  {"hidden": None}, {"hidden": 6, "layers": 1}],
    # layers > 1 grows doubly exponentially off the data (sin of sin): overflow far away at
    # random weights; tested on a 3x box in test_lipschitz_holomorphic
    "cauchy_riemann": [{}, {"min_modulus": 0.2}, {"nonvanishing": True, "nodes": 1},
                       {"conservative": False}, {"conservative": False, "min_modulus": 0.3}],
}
SHAPES = [(1, 1), (2, 1), (2, 2), (3, 3), (4, 2), (8, 8)]
CASES = [(name, i, shape) for name in STRUCTURES
         for i in range(len(VARIANTS.get(name, [{}]))) for shape in SHAPES]


def _option(name: str, i: int):
    return STRUCTURES[name](**VARIANTS.get(name, [{}])[i])


@pytest.mark.parametrize("name,variant,shape", CASES,
                         ids=[f"{n}-{i}-{a}x{b}" for n, i, (a, b) in CASES])
def test_every_structure_keeps_its_stated_guarantee(name, variant, shape):
    """Where a structure says its guarantee holds by construction, random networks keep every
    stated bound on D = dŷ/dx, by autograd through ŷ as evaluated, far outside any data; the
    bound is checked against the closed-form quantity (eigenvalues, singular values, partials,
    determinants) of D, computed independently of the structure's own code."""
    d_x, d_y = shape
    option = _option(name, variant)
    if not option.accepts(d_x, d_y):
        with pytest.raises(ValueError, match=f"activation={name}"):
            option.check_dims(d_x, d_y)
        return
    try:
        option.check_dims(d_x, d_y)
        structure = option.at(d_x, d_y)
    except ValueError as exc:
        pytest.skip(f"this variant does not fit {d_x}x{d_y}: {exc}")
    assert structure.name == name and structure.describe(d_x, d_y)
    stated = structure.bounds(d_x, d_y)
    if not structure.by_construction(d_x, d_y):
        pytest.skip("the guarantee is measured only at these dimensions")
    assert stated, f"{name} claims a guarantee by construction at {d_x}x{d_y} but bounds nothing"
    for seed in range(3):
        torch.manual_seed(seed)
        model = JacNet(d_x, d_y, option, hidden=16)
        gen = torch.Generator().manual_seed(seed)
        if model.structure.needs_points:  # "data" in [-1, 1]^d, as a run would pass
            x_data = 2 * torch.rand(200, d_x, generator=gen) - 1
            y_data = torch.randn(200, d_y, generator=gen)
            if d_x == d_y:  # a map of the orientation the variant asks for
                y_data = x_data.clone() + 0.1 * y_data
                y_data[:, 0] *= -1 if VARIANTS.get(name, [{}])[variant].get("orientation") == -1 else 1
            model.structure.fit_data(model.net, x_data, y_data)
        model.eval()  # as every evaluation in jacnet
        # Far outside the data: the box [-4, 4]^d (4x [-1, 1]).
        x = 8 * (torch.rand(2000, d_x, generator=gen) - 0.5)
        jac = derivative(model, x)  # (N, d_y, d_x)
        region = model.region()
        inside = x if region is None else x[((x >= region[0]) & (x <= region[1])).all(1)]
        jac_inside = derivative(model, inside)
        for key, bound in stated.items():
            local = key in structure.local_keys  # stated on the region only
            values = _independent(key, jac_inside if local else jac, model.structure)
            worst = float(values.min() if bound.op.startswith(">") else values.max())
            assert bound.holds(worst, 1e-9), (key, worst, bound)


def _independent(key: str, jac: Tensor, structure) -> Tensor:
    """Each guarantee key per point, from D by plain linear algebra (not the structure's
    code); a key without a formula here fails, so a new key brings its own."""
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
    if key == "partial_min":
        return (jac[:, 0, structure.indices] * torch.tensor(structure.signs)).min(dim=1).values
    raise AssertionError(f"no independent formula for the guarantee key {key!r}: add one here")


def test_every_form_is_exercised():
    """Every concrete structure class is what some case of the shared test above builds, so
    no form of a structure escapes it."""
    reached = set()
    for name, variant, (d_x, d_y) in CASES:
        option = _option(name, variant)
        if option.accepts(d_x, d_y):
            reached.add(type(option.at(d_x, d_y)))
    missed = [cls.__qualname__ for cls in FORMS
              if cls not in reached and cls.__module__.startswith("jacnet_cli")]
    assert not missed, f"no option/variant of the shared test reaches {missed}: add a variant"


def test_a_family_declares_the_units_its_forms_need():
    """The data are standardised before the option picks its form (`build.scalar_units` asks
    the option), so an option's `scalar_units` is that of every form it can become."""
    for name, variant, (d_x, d_y) in CASES:
        option = _option(name, variant)
        if option.accepts(d_x, d_y):
            assert option.at(d_x, d_y).scalar_units == option.scalar_units, (name, variant)


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_exact_structures_agree_with_the_papers_line_integral(name):
    """ŷ in closed form equals the numerical line integral of J (64-node Gauss–Legendre);
    a piecewise-linear network (MaxMin) is tried with a smooth nonlinearity, since a
    quadrature of a discontinuous J is only first-order accurate."""
    smooth = {"lipschitz": {"nonlinearity": "tanh"}}
    for d_x, d_y in SHAPES:
        option = STRUCTURES[name](**smooth.get(name, VARIANTS.get(name, [{}])[0]))
        if not option.accepts(d_x, d_y) or not option.at(d_x, d_y).exact(d_x, d_y):
            continue
        torch.manual_seed(0)
        exact = JacNet(d_x, d_y, option, hidden=12)
        quad = JacNet(d_x, d_y, option, hidden=12, solver=GaussLegendre(64))
        quad.load_state_dict(exact.state_dict())
        x = torch.rand(50, d_x) * 2 - 1
        assert torch.allclose(exact(x), quad(x), atol=1e-9, rtol=0)


@pytest.mark.parametrize("name,variant", [(n, i) for n in STRUCTURES
                                          for i in range(len(VARIANTS.get(n, [{}])))])
def test_rescaling_to_standard_units_keeps_every_option(name, variant):
    """A run on standardised data builds `structure.rescaled(s_x, s_y)`: at unit scales it must
    be the same structure, every option kept (a dropped option silently builds another model),
    and at other scales its bounds must follow D = diag(s_y) J diag(1/s_x)."""
    from jacnet_cli.core.specs import arguments

    option = _option(name, variant)
    d_x, d_y = next((a, b) for a, b in [(2, 2), (2, 1), (1, 1)] if option.accepts(a, b))
    option.check_dims(d_x, d_y)
    structure = option.at(d_x, d_y)
    ones = torch.ones(d_x, dtype=torch.float64), torch.ones(d_y, dtype=torch.float64)
    again = structure.rescaled(*ones)
    assert type(again) is type(structure) and arguments(again) == arguments(structure)
    # A scalar scale r = s_x / s_y: a floor or ceiling on D's slopes becomes r times it on J.
    r = 4.0
    scaled = structure.rescaled(torch.full((d_x,), 2.0, dtype=torch.float64),
                                torch.full((d_y,), 0.5, dtype=torch.float64))
    for key, bound in structure.bounds(d_x, d_y).items():
        inner: Bound = scaled.bounds(d_x, d_y)[key]
        expected = bound.value if bound.absolute or bound.op == ">" else bound.value * r
        assert inner.value == pytest.approx(expected), key
