"""The inverse: round trips to 1e-6 (float64) for invertible structures, gradcheck, refusals."""

from __future__ import annotations

import pytest
import torch

from conftest import ExactJacNet
from jacnet_cli import fit
from jacnet_cli.core.structures import CauchyRiemann, Lipschitz, PositiveDefinite, Unconstrained
from jacnet_cli.core.anchors import FixedAnchor
from jacnet_cli.core.errors import NotInvertibleError
from jacnet_cli.core.guarantees import measure, roundtrip_error
from jacnet_cli.core.solvers import GaussLegendre, ODESolver
from jacnet_cli.core.model import JacNet, MLPRegressor
from jacnet_cli.core.targets import get_target

#: the paper's J network with torch's initialisation: a random, curved J (the library's default
#: starts J constant, a linear function, until it sees data)
PAPER_NET = dict(hidden=64, nonlinearity="tanh", bias_scale=1.0, output_init="default")


def _box(n, d, half=1.0):
    return (torch.rand(n, d) * 2 - 1) * half


def test_roundtrip_pd_1d():
    model = JacNet(1, 1, PositiveDefinite(1e-4))
    x = torch.linspace(-3, 3, 301)[:, None]
    assert roundtrip_error(model, x) <= 1e-6


def test_roundtrip_pd_3d_well_conditioned_init():
    model = JacNet(3, 3, PositiveDefinite(1.0))
    assert roundtrip_error(model, _box(200, 3)) <= 1e-6


def test_roundtrip_pd_3d_trained_on_a_monotone_map():
    target = get_target("monotone_sinh", dim=3)
    model = JacNet(3, 3, PositiveDefinite(1e-2),
                   anchor=FixedAnchor(3, 3, 0.0, "target", target=target))
    x = _box(64, 3)
    fit(model, x, target(x), torch.optim.Adam(model.parameters(), lr=0.01), 150)
    out = measure(model, _box(200, 3))
    assert out["jacobian_min_eig"] > 0
    assert out["roundtrip_max_err"] <= 1e-6


def test_roundtrip_cauchy_riemann_trained_on_complex_exp():
    target = get_target("complex_exp")
    model = JacNet(2, 2, CauchyRiemann(min_modulus=0.1), **PAPER_NET,
                   anchor=FixedAnchor(2, 2, 0.0, "target", target=target))
    x = _box(64, 2)
    fit(model, x, target(x), torch.optim.Adam(model.parameters(), lr=0.01), 150)
    out = measure(model, _box(200, 2))
    assert out["net_cr_residual_max"] == 0.0
    assert out["roundtrip_max_err"] <= 1e-6


def test_inverse_of_exact_complex_exp_is_log():
    target = get_target("complex_exp")
    model = ExactJacNet(target, CauchyRiemann(0.5), GaussLegendre(32))
    y = target(_box(50, 2))
    assert (model.inverse(y) - target.inverse(y)).abs().max() <= 1e-9


@pytest.mark.parametrize("solver", [GaussLegendre(32), ODESolver("dopri5", 1e-10, 1e-10)])
def test_inverse_of_exact_exp_is_log(solver):
    target = get_target("exp")
    model = ExactJacNet(target, PositiveDefinite(1e-4), solver)
    y = torch.linspace(0.2, 5, 40)[:, None]
    assert (model.inverse(y) - torch.log(y)).abs().max() <= 1e-8


def test_newton_reaches_machine_precision_and_ode_alone_does_not():
    model = JacNet(1, 1, PositiveDefinite(1e-2), **PAPER_NET)  # random, not a constant J
    x = torch.linspace(-2, 2, 50)[:, None]
    y = model(x).detach()
    rough = model.inverse(y, method="ode", newton="none", rtol=1e-4, atol=1e-4)
    fine = model.inverse(y, method="ode", rtol=1e-4, atol=1e-4)
    assert (rough - x).abs().max() > 1e-8
    assert (fine - x).abs().max() <= 1e-12


@pytest.mark.parametrize("method", ["bracket", "ode"])
def test_gradcheck_inverse(method):
    model = JacNet(1, 1, PositiveDefinite(1e-1), hidden=8, solver=GaussLegendre(8))
    y = torch.tensor([[0.3], [-0.5], [1.2]], requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: model.inverse(v, method=method), (y,))


def test_gradient_of_inverse_is_reciprocal_derivative():
    target = get_target("exp")
    model = ExactJacNet(target, PositiveDefinite(1e-4), GaussLegendre(32))
    y = torch.linspace(0.5, 4, 7)[:, None].requires_grad_(True)
    (g,) = torch.autograd.grad(model.inverse(y).sum(), y)
    assert torch.allclose(g, 1 / y.detach(), rtol=1e-9)  # d log(y)/dy


@pytest.mark.parametrize("make", [
    lambda: JacNet(1, 1, Unconstrained()), lambda: JacNet(1, 1, Lipschitz()),
    lambda: JacNet(2, 2, CauchyRiemann(0.0)), lambda: MLPRegressor(1, 1),
])
def test_non_invertible_models_refuse(make):
    model = make()
    with pytest.raises(NotInvertibleError, match="does not guarantee an invertible"):
        roundtrip_error(model, torch.zeros(2, model.d_x))


def test_inverse_checks_shape():
    with pytest.raises(ValueError, match=r"shape \(N, 2\), got \(3, 1\)"):
        JacNet(2, 2, PositiveDefinite()).inverse(torch.zeros(3, 1))


def test_float32_end_to_end():
    model = JacNet(1, 1, PositiveDefinite(1e-2)).float()
    x = torch.linspace(-1, 1, 5, dtype=torch.float32)[:, None]
    fit(model, x, torch.exp(x), torch.optim.Adam(model.parameters(), lr=0.01), 5)
    y = model(x).detach()
    back = model.inverse(y)
    assert y.dtype == back.dtype == torch.float32
    assert (back - x).abs().max() <= 1e-4


@pytest.mark.parametrize("method", ["table", "bracket", "ode"])
def test_every_1d_method_inverts_the_trained_paper_model(method):
    target = get_target("exp")
    model = JacNet(1, 1, PositiveDefinite(1e-4),
                   anchor=FixedAnchor(1, 1, 0.0, "target", target=target))
    x = torch.rand(5, 1) * 2 - 1
    fit(model, x, target(x), torch.optim.Adam(model.parameters(), lr=0.01), 50)
    grid = torch.linspace(-2, 2, 401)[:, None]
    if method == "ode":
        grid = torch.linspace(-0.5, 1, 41)[:, None]  # the ODE is stiff where J ~ ε
    with torch.no_grad():
        y = model(grid)
    assert (model.inverse(y, method=method) - grid).abs().max() <= 1e-8


def test_inverse_warns_where_it_cannot_converge():
    model = JacNet(1, 1, PositiveDefinite(1e-4), anchor=FixedAnchor(1, 1, 0.0, 0.0), **PAPER_NET)
    with torch.no_grad():
        far = model(torch.tensor([[1e3]])) + 1.0  # beyond what ŷ reaches within the bracket
    with pytest.warns(RuntimeWarning, match="did not converge"):
        model.inverse(far, method="ode", rtol=1e-2, atol=1e-2, newton_steps=0)


def test_cumulative_predict_matches_the_quadrature():
    from jacnet_cli.core.evaluation import predict

    model = JacNet(1, 1, PositiveDefinite(1e-2), solver=GaussLegendre(32))
    x = torch.rand(2000, 1) * 6 - 3
    direct = predict(model, x)
    assert (predict(model, x, method="cumulative") - direct).abs().max() <= 1e-10
    assert torch.equal(predict(model, x, method="auto"), predict(model, x, method="cumulative"))
    with pytest.raises(ValueError, match="cumulative"):
        predict(JacNet(2, 2, PositiveDefinite()), torch.zeros(3, 2), method="cumulative")
