"""Solvers: integrals of closed-form Jacobians reproduce the closed-form functions, and
gradients agree across odeint, odeint_adjoint and Gauss–Legendre."""

from __future__ import annotations

import pytest
import torch

from conftest import ExactJacNet
from jacnet_cli.core.structures import PositiveDefinite, Unconstrained
from jacnet_cli.core.solvers import GaussLegendre, ODESolver
from jacnet_cli.core.model import JacNet
from jacnet_cli.core.paths import AxisPath
from jacnet_cli.core.targets import TARGETS, get_target

INTEGRATORS = {
    "gauss_legendre_48": (lambda: GaussLegendre(48), 1e-9),
    "dopri5": (lambda: ODESolver("dopri5", rtol=1e-10, atol=1e-10), 1e-7),
    "dopri5_adjoint": (lambda: ODESolver("dopri5", 1e-10, 1e-10, adjoint=True), 1e-7),
    "rk4_fixed": (lambda: ODESolver("rk4", step_size=0.02), 1e-6),
}


def _points(target, n=40):
    x = torch.rand(n, target.d_x) * 2 - 1  # inside [-1, 1]^d where every target is tame
    return x


# PolyMax's ∇F jumps where the maximising quadratic changes, and the default ortho_ridge (|·|
# ridges) jumps across its kinks in every direction: no smooth rule integrates them to these
# tolerances (their own tests check them against their potential and their constant).
SMOOTH = sorted(n for n in TARGETS if n not in ("polymax", "ortho_ridge"))


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("integ", sorted(INTEGRATORS))
def test_integral_of_true_jacobian_is_the_target(name, integ):
    target = get_target(name)
    make, tol = INTEGRATORS[integ]
    if name in ("abs", "leaky_relu") and integ == "rk4_fixed":
        # |x|' jumps at the anchor x0 = 0, where RK4's first stage (weight 1/6) samples
        # J(0) = 0: the error is h |x| / 6 for step h = 0.02, not the smooth-case O(h^4).
        # leaky_relu's J(0) = 1 is off by 0.8 for x < 0: 0.8 h |x| / 6.
        tol = 0.02 / 6 + 1e-12
    model = ExactJacNet(target, Unconstrained(), make())
    x = _points(target)
    err = (model(x) - target(x)).abs().max()
    assert err <= tol, f"{name} with {integ}: max error {err:.3g} > {tol:g}"
    assert model.solver.nfe_forward > 0


def test_gauss_legendre_converges_as_nodes_grow():
    target = get_target("exp")
    x = torch.linspace(-2, 2, 9)[:, None]
    errs = [(ExactJacNet(target, Unconstrained(), GaussLegendre(k))(x) - target(x)).abs().max()
            for k in (1, 2, 4, 8)]
    assert all(b < a for a, b in zip(errs, errs[1:]))
    assert errs[-1] < 1e-12


def test_axis_path_agrees_with_line_for_a_conservative_field():
    target = get_target("monotone_sinh", dim=3)
    x = _points(target, 10)
    model = ExactJacNet(target, Unconstrained(), ODESolver("dopri5", 1e-10, 1e-10), path=AxisPath())
    assert (model(x) - target(x)).abs().max() < 1e-7


def _grads(model, x, y):
    model.zero_grad()
    loss = ((model(x) - y) ** 2).sum()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("d", [1, 2])
def test_gradients_agree_across_integrators(d):
    torch.manual_seed(1)
    net = dict(hidden=16, nonlinearity="tanh", output_init="default")  # a random, curved J
    base = JacNet(d, d, PositiveDefinite(1e-2, conservative=False), **net)  # the paper's J
    state = base.state_dict()
    x = torch.rand(6, d) * 4 - 2
    y = torch.randn(6, d)
    grads = {}
    for name, solver in {
        "gl": GaussLegendre(64),
        "odeint": ODESolver("dopri5", 1e-12, 1e-12),
        "adjoint": ODESolver("dopri5", 1e-12, 1e-12, adjoint=True),
    }.items():
        model = JacNet(d, d, PositiveDefinite(1e-2, conservative=False), **net,
                       solver=solver)
        model.load_state_dict(state)
        grads[name] = _grads(model, x, y)
        if name == "adjoint":
            assert model.solver.nfe_backward > 0
    ref = grads["gl"]
    for name, g in grads.items():
        rel = (g - ref).norm() / ref.norm()
        assert rel <= 1e-6, f"{name}: relative gradient error {rel:.2e}"


def test_adjoint_reaches_the_input_gradient():
    model = JacNet(1, 1, PositiveDefinite(), hidden=8,
                   solver=ODESolver("dopri5", 1e-10, 1e-10, adjoint=True))
    x = torch.tensor([[0.7]], requires_grad=True)
    (g,) = torch.autograd.grad(model(x).sum(), x)
    # d/dx ∫_0^x J = J(x): the fundamental theorem the method rests on.
    assert torch.allclose(g, model.jacobian(x.detach())[:, 0], atol=1e-7)


def test_gradcheck_quadrature_integral():
    model = JacNet(2, 2, PositiveDefinite(1e-2, conservative=False), hidden=8,
                   solver=GaussLegendre(8))
    x = (torch.rand(3, 2) * 2 - 1).requires_grad_(True)
    assert torch.autograd.gradcheck(model, (x,))
    w = model.net.layers[0].weight

    # Gradients with respect to parameters: the weight as an explicit input.
    def f(weight):
        params = {"net.layers.0.weight": weight}
        return torch.func.functional_call(model, params, (x.detach(),))

    assert torch.autograd.gradcheck(f, (w.detach().clone().requires_grad_(True),))


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_gauss_legendre_rejects_bad_nodes(bad):
    with pytest.raises(ValueError, match="solver.nodes"):
        GaussLegendre(bad)


def test_ode_solver_rejects_unknown_method_and_tolerance():
    with pytest.raises(ValueError, match="solver.method='nope'"):
        ODESolver("nope")
    with pytest.raises(ValueError, match="solver.rtol"):
        ODESolver("dopri5", rtol=0)


def test_tolerance_follows_dtype_and_is_settable():
    s = ODESolver("dopri5", 1e-3, 1e-3)
    s.set_tolerance(1e-5)
    assert (s.rtol, s.atol, s.tolerance) == (1e-5, 1e-5, 1e-5)
    model = JacNet(1, 1, PositiveDefinite(), hidden=4, solver=s).float()
    out = model(torch.zeros(3, 1, dtype=torch.float32))
    assert out.dtype == torch.float32
