"""The ensemble inside `monotone_in`'s network (`activation.members`): its output is the mean
of its members, its `spread` turns the squared error of the mean into the mean of the
members' squared errors, and every member keeps the monotone signs."""

from __future__ import annotations

import torch

from jacnet_cli.core.nets.partial_monotone import PartialMonotone
from jacnet_cli.core.structures.monotone_in import MonotoneIn


def _net(members: int, linear: bool = False, seed: int = 0) -> PartialMonotone:
    torch.manual_seed(seed)
    return PartialMonotone(4, [0, 2], [1.0, -1.0], hidden=6, depth=1, linear=linear,
                           members=members).double()


def test_output_is_the_mean_of_the_members():
    net = _net(4).eval()
    x = torch.randn(50, 4, dtype=torch.float64)
    each = net.members_forward(x).detach()  # (K, N, 1)
    assert each.shape == (4, 50, 1)
    # the members differ (their own weights), and the output is exactly their mean
    assert float((each[0] - each[1]).abs().max()) > 1e-3
    torch.testing.assert_close(net(x), each.mean(0), rtol=0, atol=1e-12)


def test_spread_makes_the_mean_of_the_members_losses():
    """(f̄ - y)² + mean_k (f_k - f̄)² = mean_k (f_k - y)², the identity behind `independent`."""
    net = _net(5).train()
    x = torch.randn(64, 4, dtype=torch.float64)
    y = torch.randn(64, 1, dtype=torch.float64)
    loss = ((net(x) - y) ** 2).mean() + net.spread
    each = net.members_forward(x)
    members = ((each - y) ** 2).mean()
    torch.testing.assert_close(loss, members, rtol=1e-12, atol=1e-12)
    # and the structure adds it only when asked
    s = MonotoneIn(inputs=[0], decreasing=[2], members=5, independent=True)
    assert s.penalty(net) is net.spread
    assert MonotoneIn(inputs=[0], members=5).penalty(net) is None


def test_every_member_keeps_the_signs_far_from_the_data():
    net = _net(3, linear=True, seed=1).eval()
    with torch.no_grad():  # push the free weights far from their start
        for p in net.parameters():
            p.add_(3 * torch.randn_like(p))
    x = 20 * torch.randn(500, 4, dtype=torch.float64)
    xg = x.clone().requires_grad_(True)
    for k in range(3):
        grad, = torch.autograd.grad(net.members_forward(xg)[k].sum(), xg)
        assert float(grad[:, 0].min()) >= 0 and float(grad[:, 2].max()) <= 0
    grad = net.gradient(x)[:, 0].detach()
    assert float(grad[:, 0].min()) >= 0 and float(grad[:, 2].max()) <= 0


def test_rescaled_keeps_every_option():
    s = MonotoneIn(inputs=[0], decreasing=[1], eps=0.1, hidden=8, linear=True, members=3,
                   independent=True, average=0.95)
    s.bind(["a", "b", "c"])
    r = s.rescaled(torch.ones(3), torch.ones(1))
    assert (r.hidden, r.linear, r.members, r.independent, r.average) == (8, True, 3, True, 0.95)
    assert r.spec_arguments() == s.spec_arguments()


def test_average_is_what_evaluation_uses():
    """With `average`, training steps move an exponential average of the weights; eval mode
    computes with that average (checked against a network loaded with the averaged weights),
    and it stays monotone."""
    torch.manual_seed(0)
    net = PartialMonotone(3, [0], [1.0], hidden=5, members=2, average=0.9).double()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    x = torch.randn(40, 3, dtype=torch.float64)
    y = torch.randn(40, 1, dtype=torch.float64)
    net.train()
    for _ in range(30):
        opt.zero_grad()
        ((net(x) - y) ** 2).mean().backward()
        opt.step()
    net.eval()
    plain = PartialMonotone(3, [0], [1.0], hidden=5, members=2).double().eval()
    with torch.no_grad():
        for name, p in plain.named_parameters():
            p.copy_(net.get_buffer("avg_" + name.replace(".", "_")))
        live = net.train()(x).detach()
        net.eval()
        assert float((live - net(x)).abs().max()) > 1e-6  # the average is not the live weights
        torch.testing.assert_close(net(x), plain(x), rtol=0, atol=1e-12)
    grad = net.gradient(20 * torch.randn(300, 3, dtype=torch.float64))[:, 0, 0].detach()
    assert float(grad.min()) >= 0


def test_keypoints_calibrate_skewed_inputs_and_keep_the_signs():
    """`keypoints`: before `calibrate` the map is the identity; after it a skewed input comes
    out near N(0, 1), a 0/1 input is left as it is, the map is strictly increasing far
    beyond the data and C¹ (its slope has no jumps), and f keeps its signs."""
    torch.manual_seed(0)
    net = PartialMonotone(3, [0, 1], [1.0, -1.0], hidden=5, keypoints=12).double().eval()
    x = torch.randn(800, 3, dtype=torch.float64)
    torch.testing.assert_close(net._calibrated(x), x, rtol=0, atol=1e-12)
    x[:, 0] = 3 * x[:, 0].exp()  # log-normal: skewed
    x[:, 2] = (x[:, 2] > 0).double()  # 0/1
    net.calibrate(x)
    z = net._calibrated(x)
    assert z.dtype == torch.float64
    assert abs(float(z[:, 0].mean())) < 0.05 and abs(float(z[:, 0].std()) - 1) < 0.1
    torch.testing.assert_close(z[:, 2], x[:, 2], rtol=0, atol=1e-12)
    line = torch.zeros(20001, 3, dtype=torch.float64)
    line[:, 0] = torch.linspace(-50, 500, 20001, dtype=torch.float64)
    line.requires_grad_(True)
    out = net._calibrated(line)[:, 0]
    (slope,) = torch.autograd.grad(out.sum(), line)
    assert bool((out.diff() > 0).all()) and float(slope[:, 0].min()) > 0
    # C¹: the slope just left and just right of every knot agree (a kink would jump)
    knots = net.knots_x[0]
    sides = torch.zeros(2 * len(knots), 3, dtype=torch.float64)
    sides[:, 0] = torch.cat([knots - 1e-7, knots + 1e-7])
    sides.requires_grad_(True)
    (s2,) = torch.autograd.grad(net._calibrated(sides)[:, 0].sum(), sides)
    left, right = s2[:len(knots), 0], s2[len(knots):, 0]
    assert float((left - right).abs().max()) < 1e-4 * float(left.abs().max())
    grad = net.gradient(20 * torch.randn(500, 3, dtype=torch.float64))[:, 0].detach()
    assert float(grad[:, 0].min()) >= 0 and float(grad[:, 1].max()) <= 0


def test_one_member_is_the_single_network_it_was():
    """members=1 keeps the layout of the single network (checkpoints from before members
    load): flat non-negative weights (H, k), (H, H) and one conditioner MLP."""
    net = PartialMonotone(5, [0, 3], [1.0, 1.0], hidden=7)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["w1"] == (7, 2) and shapes["w2"] == (7, 7)
    assert shapes["conditioner.layers.2.weight"] == (1 + 3 * 7, 7)
    assert not any(k.startswith("conditioner.0.") for k in shapes)
