"""The J network's options: hidden activations, the initialisation options, raw_for_slope."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from jacnet_cli.core.structures import Lipschitz, PositiveDefinite, Unconstrained
from jacnet_cli.core.anchors import FixedAnchor
from jacnet_cli.core.model import JacNet, MLPRegressor
from jacnet_cli.core.nets.mlp import NONLINEARITIES, MLP, SMOOTH_NONLINEARITIES, raw_for_slope


def _linears(net: MLP) -> list[nn.Linear]:
    return [m for m in net.layers if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("activation", sorted(NONLINEARITIES))
def test_every_activation_builds_and_runs(activation):
    net = MLP(1, 3, hidden=8, depth=2, nonlinearity=activation)
    assert net(torch.zeros(4, 1)).shape == (4, 3)


def test_smooth_activations_are_registered():
    assert set(SMOOTH_NONLINEARITIES) <= set(NONLINEARITIES)


def test_bias_scale_scales_hidden_biases_only_and_draws_nothing_more():
    torch.manual_seed(3)
    plain = MLP(1, 2, hidden=16, depth=2)
    after_plain = torch.rand(1)
    torch.manual_seed(3)
    scaled = MLP(1, 2, hidden=16, depth=2, bias_scale=0.3)
    after_scaled = torch.rand(1)
    assert torch.equal(after_plain, after_scaled)  # same random stream: same weights per seed
    for a, b in zip(_linears(plain)[:-1], _linears(scaled)[:-1]):
        assert torch.equal(a.weight, b.weight)
        torch.testing.assert_close(b.bias, 0.3 * a.bias)
    last_a, last_b = _linears(plain)[-1], _linears(scaled)[-1]
    assert torch.equal(last_a.weight, last_b.weight) and torch.equal(last_a.bias, last_b.bias)


@pytest.mark.parametrize("init", ["constant", "data"])
def test_constant_output_init_starts_the_network_constant(init):
    net = MLP(1, 2, hidden=16, output_init=init, output_bias=0.7)
    out = net(torch.linspace(-3, 3, 11)[:, None])
    torch.testing.assert_close(out, torch.full_like(out, 0.7))


def test_data_output_init_keeps_torchs_init_with_several_inputs():
    # A constant raw output would make a pd J = A Aᵀ + εI the same rank-1 matrix everywhere.
    torch.manual_seed(0)
    default = MLP(2, 4, hidden=16)
    torch.manual_seed(0)
    data = MLP(2, 4, hidden=16, output_init="data")
    for a, b in zip(default.parameters(), data.parameters()):
        assert torch.equal(a, b)
    x = torch.randn(7, 2)
    assert float(data(x).std(0).min().detach()) > 0  # not a constant map


@pytest.mark.parametrize("kwargs,key", [
    ({"bias_scale": -1.0}, "model.bias_scale"),
    ({"bias_scale": float("nan")}, "model.bias_scale"),
    ({"output_init": "zeros"}, "model.output_init"),
    ({"output_bias": float("inf")}, "model.output_bias"),
    ({"nonlinearity": "swish"}, "model.nonlinearity"),
])
def test_bad_options_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        MLP(1, 1, **kwargs)


@pytest.mark.parametrize("structure", [PositiveDefinite(1e-4), Lipschitz(2.0), Unconstrained()],
                         ids=lambda s: s.name)
@pytest.mark.parametrize("slope", [-1.5, -0.3, 0.23, 0.8, 1.2])
def test_raw_for_slope_inverts_the_structure(structure, slope):
    form = structure.at(1, 1)
    jac = lambda r: form.form(r, 1, 1)  # noqa: E731
    c = raw_for_slope(jac, slope)
    assert 0.1 <= abs(c) <= 1.5
    if structure.name == "pd" and slope < 0:
        assert c == pytest.approx(0.1)  # below pd's range: the smallest start with a gradient
    else:
        reached = float(jac(torch.tensor([[c]], dtype=torch.float64)))
        assert reached == pytest.approx(slope, abs=1e-9)


def test_raw_for_slope_stops_at_the_cap_and_the_floor():
    tanh = lambda r: Lipschitz(1.0).at(1, 1).form(r, 1, 1)  # noqa: E731
    assert raw_for_slope(tanh, 0.99) == pytest.approx(1.5)  # past tanh(1.5): saturating
    assert raw_for_slope(tanh, -5.0) == pytest.approx(-1.5)
    assert raw_for_slope(tanh, 0.0) == pytest.approx(0.1)


def test_data_output_init_starts_j_at_the_data_slope():
    x = torch.tensor([[-0.8], [-0.2], [0.3], [0.9]], dtype=torch.float64)
    y = 0.25 * x + 0.5  # slope 0.25 through the anchor (0, 0.5)
    anchor = FixedAnchor(1, 1, 0.0, 0.5, points=(x, y))
    assert anchor.data_slope == pytest.approx(0.25)
    model = JacNet(1, 1, PositiveDefinite(1e-4), anchor=anchor, output_init="data").double()
    jac = model.jacobian(torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None])
    torch.testing.assert_close(jac, torch.full_like(jac, 0.25))
    torch.testing.assert_close(model(x), y)


def test_data_output_init_falls_back_to_the_constant_without_data():
    model = JacNet(1, 1, Lipschitz(1.0), output_init="data", output_bias=0.5).double()
    jac = model.jacobian(torch.zeros(3, 1, dtype=torch.float64))
    torch.testing.assert_close(jac, torch.full_like(jac, float(torch.tanh(torch.tensor(0.5)))))


def test_mlp_baseline_takes_the_network_options():
    model = MLPRegressor(1, 1, nonlinearity="tanh", bias_scale=1.0, output_init="default")
    assert model(torch.zeros(2, 1)).shape == (2, 1)
