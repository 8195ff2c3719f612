"""`invertible`: a bijection of R^d with det D of one sign everywhere, by construction; its
closed-form log|det D|, its inverse by substitution, its weight bounds, and the runs the
README shows (a target, the same at d = 8, a 2-D file, `jacnet invert` with y= and y_file=).
The shared guarantee test (test_structures) covers it too, with the other structures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from jacnet_cli import Invertible, JacNet
from jacnet_cli.cli.tasks import train as train_task
from jacnet_cli.core.evaluation import derivative
from jacnet_cli.core.inverse import solve
from jacnet_cli.core.nets.triangular import InvertibleNet
from jacnet_cli.core.targets import RotatedCubic, RotatedTanh
from jacnet_cli.run.configs import compose


def _random(d: int, seed: int, scale: float = 0.3, **options) -> InvertibleNet:
    """A float64 network moved far from its near-identity start."""
    torch.manual_seed(seed)
    net = InvertibleNet(d, hidden=12, blocks=3, units=3, mixing_init="random", out_scale=1.0,
                        dtype=torch.float64, **options)
    g = torch.Generator().manual_seed(100 + seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return net


def _box(n: int, d: int, half: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (2 * torch.rand(n, d, generator=g, dtype=torch.float64) - 1) * half


@pytest.mark.parametrize("d", [2, 8, 32])
@pytest.mark.parametrize("orientation", [1, -1])
def test_det_keeps_its_sign_far_outside_the_data(d, orientation):
    """10,000 points of a box 3x the data's, D by autograd through ŷ: one sign of det D, and
    |det D| above the floor the weights give."""
    net = _random(d, seed=d, orientation=orientation)
    x = _box(10_000 if d <= 8 else 2_000, d, 3.0, seed=d)
    sign, logabs = torch.linalg.slogdet(derivative(net, x))
    assert bool((sign == orientation).all()) and bool(torch.isfinite(logabs).all())
    low, _ = net.det_bounds()
    assert float(logabs.min()) >= np.log(low) - 1e-9


@pytest.mark.parametrize("options", [{}, {"affine": True}, {"max_slope": 4.0},
                                     {"mixing": "linear"}])
def test_log_det_matches_slogdet(options):
    net = _random(5, seed=1, **options)
    x = _box(300, 5, 2.0)
    _, logabs = torch.linalg.slogdet(derivative(net, x))
    assert torch.allclose(net.log_det(x), logabs, atol=1e-10, rtol=0)
    model = JacNet(5, 5, Invertible(**options), hidden=12)
    assert torch.allclose(model.log_det(x.float().double()),
                          torch.linalg.slogdet(derivative(model, x))[1], atol=1e-10)


@pytest.mark.parametrize("d", [2, 8, 64])
def test_inverse_round_trip_from_any_start(d):
    """Substitution converges at every point, inside and far outside the data: round trip
    <= 1e-10 relative to the size of x (measured worst: 1.1e-10 at |x| <= 3, d = 64, random
    weights far from their start, where ŷ's own rounding, amplified by D⁻¹, sets the floor)."""
    net = _random(d, seed=3)
    for half in (1.0, 3.0):
        x = _box(1000 if d <= 8 else 300, d, half, seed=d)
        back, ok = net.inverse(net(x).detach())
        assert bool(ok.all())
        assert float((back - x).abs().max()) <= 1e-10 * half


def test_the_bi_lipschitz_bounds_from_the_weights_hold():
    net = _random(4, seed=5, max_slope=3.0)
    s = torch.linalg.svdvals(derivative(net, _box(4000, 4, 3.0)))  # (N, 4)
    assert float(s[:, 0].max()) <= net.lipschitz_bound() * (1 + 1e-9)
    assert float((1 / s[:, -1]).max()) <= net.inverse_lipschitz_bound() * (1 + 1e-9)


def test_gradcheck_in_inputs_and_weights():
    net = _random(3, seed=6)
    x = _box(4, 3, 1.0).requires_grad_(True)
    assert torch.autograd.gradcheck(net, (x,))
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in net.named_parameters())
    assert torch.autograd.gradcheck(
        lambda *p: torch.func.functional_call(net, dict(zip(names, p)), (x.detach(),)), params)


def test_library_model_inverts_and_fits_a_rotated_map():
    """`JacNet(d, d, Invertible())`: orientation and linear start from the data, then a short
    fit of the rotated target (not monotone: a 120° rotation) beats `monotone` by far."""
    target = RotatedTanh(2)
    x = _box(800, 2, 1.0)
    y = target(x)
    model = JacNet(2, 2, Invertible(), hidden=32)
    model.structure.fit_data(model.net, x, y)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        ((model(x) - y) ** 2).sum(1).mean().backward()
        opt.step()
    test = _box(500, 2, 1.0, seed=9)
    err = float(((model(test) - target(test)) ** 2).sum(1).mean().detach())
    assert 10 * np.log10(err) < -25
    model.eval()
    back = model.inverse(model(test).detach())
    assert float((back - test).abs().max()) <= 1e-10
    assert model.structure.resolved(model.net) == {"orientation": 1}


def test_rotated_cubic_inverse_is_closed_form():
    t = RotatedCubic(4)
    x = _box(200, 4, 2.0)
    assert float((t.inverse(t(x)) - x).abs().max()) <= 1e-10


# ----------------------------------------------------------------------------- runs


def _train(tmp_path: Path, name: str, *overrides: str) -> Path:
    run = tmp_path / name
    run.mkdir()
    train_task.train(compose(list(overrides), plain=False), run)
    return run


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.parametrize("dim", [2, pytest.param(8, marks=pytest.mark.slow)])
def test_a_target_run_holds_its_guarantee(tmp_path, dim):
    run = _train(tmp_path, f"d{dim}", "target=rotated_tanh", f"target.dim={dim}",
                 "activation=invertible", "epochs=3", "plots=false")
    m = _metrics(run)
    assert m["guarantee_by_construction"] is True and m["guarantee_held"] is True
    assert m["jacobian_det_root_min"] > 0 and m["jacobian_det_root_min_wide"] > 0
    assert m["roundtrip_max_err"] <= 1e-8 and m["orientation"] == 1
    assert m["det_lower_bound"] > 0


def test_a_file_run_inverts_from_y_and_y_file(tmp_path, jacnet):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (600, 2))
    y = RotatedTanh(2)(torch.tensor(x)).numpy() * np.array([100.0, 0.01])  # awkward units
    lines = ["u,v,p,q"] + [",".join(repr(float(v)) for v in row) for row in np.hstack([x, y])]
    (tmp_path / "map.csv").write_text("\n".join(lines) + "\n")
    run = _train(tmp_path, "file", "data=file", f"data.path={tmp_path / 'map.csv'}",
                 "data.x=[u,v]", "data.y=[p,q]", "activation=invertible", "epochs=40",
                 "plots=false")
    m = _metrics(run)
    assert m["guarantee_held"] is True and m["test_mse_db"] < m["linear_test_mse_db"] - 10
    (tmp_path / "ys.csv").write_text("p,q\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in y[:4]) + "\n")
    for i, source in enumerate((f"y={json.dumps(y[:4].tolist())}", f"y_file={tmp_path / 'ys.csv'}")):
        res = jacnet(["invert", f"run_dir={run}", source, f"hydra.run.dir={tmp_path / f'inv{i}'}"],
                     cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        rows = (tmp_path / f"inv{i}" / "inverse.csv").read_text().splitlines()
        assert rows[0].startswith("p,q,u,v,converged")
        assert all(r.split(",")[4] == "True" for r in rows[1:])


def test_bad_options_are_one_line_exit_2(tmp_path, jacnet):
    for args, expected in ((["activation.eps=0"], "activation.eps=0 is not allowed"),
                           (["activation.blocks=0"], "activation.blocks=0 is not allowed"),
                           (["activation.orientation=2"], "activation.orientation=2 is not allowed"),
                           (["target=ortho_ridge"], "activation=invertible needs d_x == d_y")):
        res = jacnet(["train", "target=rotated_tanh", "activation=invertible", *args,
                      f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path)
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert res.returncode == 2 and len(lines) == 1 and expected in lines[0], res.stderr
        assert not (tmp_path / "r" / "checkpoint.pt").exists()
