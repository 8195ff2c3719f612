"""jacnet's optimisers take torch.optim's steps (the same formulas), check their values, save
and restore their state, and build without importing torch._dynamo."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from jacnet_cli.run.optimizers import SGD, Adam, AdamW

CASES = [
    (Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    (Adam(lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
     lambda p: torch.optim.Adam(p, lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (AdamW(lr=0.01, weight_decay=0.05), lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05)),
    (SGD(lr=0.05, momentum=0.9, weight_decay=0.01),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01)),
    (SGD(lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
]


def _run(make, steps: int = 25) -> list[torch.Tensor]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = make(net.parameters())
    x, y = torch.randn(16, 3), torch.randn(16, 2)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        ((net(x) - y) ** 2).mean().backward()
        opt.step()
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_the_steps_are_torch_optims(i):
    ours, theirs = CASES[i]
    for a, b in zip(_run(ours), _run(theirs)):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-13)


def test_state_round_trips_mid_run():
    ours = Adam(lr=0.01)
    torch.manual_seed(1)
    net = torch.nn.Linear(3, 1)
    opt = ours(net.parameters())
    x, y = torch.randn(8, 3), torch.randn(8, 1)

    def step(o):
        o.zero_grad()
        ((net(x) - y) ** 2).mean().backward()
        o.step()

    for _ in range(5):
        step(opt)
    saved = ({k: v.clone() for k, v in net.state_dict().items()}, _roundtrip(opt.state_dict()))
    for _ in range(5):
        step(opt)
    after = [p.detach().clone() for p in net.parameters()]
    net.load_state_dict(saved[0])
    again = ours(net.parameters())
    again.load_state_dict(torch.load(saved[1], weights_only=True))
    for _ in range(5):
        step(again)
    assert all(torch.equal(a, p) for a, p in zip(after, net.parameters()))


def _roundtrip(obj):
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return buf


@pytest.mark.parametrize("bad,key", [({"lr": 0}, "optim.lr"), ({"lr": float("inf")}, "optim.lr"),
                                     ({"betas": (0.9, 1.0)}, "optim.betas"),
                                     ({"eps": -1}, "optim.eps"),
                                     ({"weight_decay": -1}, "optim.weight_decay")])
def test_bad_values_name_the_key(bad, key):
    with pytest.raises(ValueError, match=f"{key}="):
        Adam(**bad)


@pytest.mark.subprocess
def test_building_one_does_not_import_dynamo():
    code = ("import sys, torch; from jacnet_cli.run.optimizers import Adam; "
            "p = torch.nn.Parameter(torch.zeros(3)); o = Adam()([p]); p.grad = torch.ones(3); "
            "o.step(); assert 'torch._dynamo' not in sys.modules, 'dynamo imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _lbfgs_steps(opt, net, x, y, steps):
    def closure():
        opt.zero_grad(set_to_none=True)
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        return float(loss.detach())

    for _ in range(steps):
        opt.step(closure, closure())


def test_lbfgs_solves_a_least_squares_problem_to_rounding():
    """On a convex quadratic (linear least squares) L-BFGS reaches the normal equations'
    solution; the loss never rises (the line search accepts only decreases)."""
    from jacnet_cli.run.optimizers import LBFGS

    torch.manual_seed(0)
    x = torch.randn(64, 5, dtype=torch.float64)
    y = x @ torch.randn(5, 2, dtype=torch.float64) + 0.1 * torch.randn(64, 2, dtype=torch.float64)
    net = torch.nn.Linear(5, 2).double()
    opt = LBFGS(history=10)(net.parameters())
    losses = []

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        return float(loss.detach())

    for _ in range(40):
        losses.append(closure())
        opt.step(closure, losses[-1])
    design = torch.cat([x, torch.ones(64, 1, dtype=torch.float64)], 1)
    coef = torch.linalg.lstsq(design, y).solution
    assert torch.allclose(net.weight.T, coef[:5], atol=1e-8)
    assert all(b <= a + 1e-15 for a, b in zip(losses, losses[1:]))


def test_lbfgs_state_round_trips_mid_run():
    from jacnet_cli.run.optimizers import LBFGS

    torch.manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).double()
    x, y = torch.randn(32, 3, dtype=torch.float64), torch.randn(32, 1, dtype=torch.float64)
    opt = LBFGS(history=4)(net.parameters())
    _lbfgs_steps(opt, net, x, y, 6)
    saved = ({k: v.clone() for k, v in net.state_dict().items()}, _roundtrip(opt.state_dict()))
    _lbfgs_steps(opt, net, x, y, 6)
    after = [p.detach().clone() for p in net.parameters()]
    net.load_state_dict(saved[0])
    again = LBFGS(history=4)(net.parameters())
    again.load_state_dict(torch.load(saved[1], weights_only=True))
    _lbfgs_steps(again, net, x, y, 6)
    assert all(torch.equal(a, p) for a, p in zip(after, net.parameters()))
