"""The paper's setup (section 5) learns exp with `pd` and |x| with `lipschitz`, and the
guarantees hold on a dense grid over [-3, 3] for the function as evaluated."""

from __future__ import annotations

import pytest
import torch

from jacnet_cli.run.training import fit
from jacnet_cli.core.structures import Lipschitz, PositiveDefinite
from jacnet_cli.core.anchors import FixedAnchor, NearestAnchor
from jacnet_cli.core.guarantees import measure
from jacnet_cli.core.solvers import GaussLegendre, ODESolver
from jacnet_cli.core.model import JacNet
from jacnet_cli.run.schedules import Anneal, Constant, Geometric
from jacnet_cli.core.targets import get_target

GRID = torch.linspace(-3, 3, 2001, dtype=torch.float64)[:, None]
INTEGRATORS = {
    "gauss_legendre": lambda: GaussLegendre(16),
    "paper_adjoint_dopri5": lambda: ODESolver("dopri5", adjoint=True),
}


def _train(target_name, structure, solver, schedule=None):
    target = get_target(target_name)
    x = torch.rand(5, 1) * 2 - 1  # 5 points uniform in [-1, 1]
    model = JacNet(1, 1, structure, hidden=64, nonlinearity="tanh", bias_scale=1.0,
                   output_init="default", solver=solver,  # the paper's network
                   anchor=FixedAnchor(1, 1, 0.0, "target", target=target))
    history = fit(model, x, target(x), torch.optim.Adam(model.parameters(), lr=0.01), 50,
                  schedule=schedule)
    return model, history


@pytest.mark.parametrize("integ", sorted(INTEGRATORS))
def test_exp_with_pd(integ):
    eps = 1e-4
    model, history = _train("exp", PositiveDefinite(eps), INTEGRATORS[integ](), Anneal())
    assert history.losses[-1] < 0.5 * history.losses[0]
    model.solver.set_tolerance(1e-8)
    out = measure(model, GRID)
    assert out["net_min_eig"] >= eps * (1 - 1e-9)
    assert out["jacobian_min_eig"] > 0  # strictly increasing on [-3, 3], so invertible
    if integ == "gauss_legendre":
        assert out["roundtrip_max_err"] <= 1e-6
    else:
        # An adaptive solver's ŷ is smooth to its tolerance τ only; an inverse can pin x down
        # to about the residual floor 10 τ (1 + |y|) over the smallest slope.
        bound = 10 * 1e-8 * (1 + 21) / out["jacobian_min_eig"]
        assert out["roundtrip_max_err"] <= bound


@pytest.mark.parametrize("integ", sorted(INTEGRATORS))
def test_abs_with_lipschitz(integ):
    model, history = _train("abs", Lipschitz(1.0), INTEGRATORS[integ](), Anneal())
    assert history.losses[-1] < 0.5 * history.losses[0]
    model.solver.set_tolerance(1e-8)
    out = measure(model, GRID)
    assert out["net_lipschitz_max"] <= 1.0
    assert out["lipschitz_max"] <= 1.0 + 1e-6
    # Slopes between grid points too: the function itself, not only its derivative.
    with torch.no_grad():
        y = model(GRID)
    slopes = (y[1:] - y[:-1]).abs() / (GRID[1:] - GRID[:-1])
    assert slopes.max() <= 1.0 + 1e-6


def test_annealing_tightens_the_tolerance_during_training():
    _, history = _train("exp", PositiveDefinite(), ODESolver("dopri5"), Anneal(initial=0.1))
    tols = [s.tolerance for s in history.steps]
    assert tols[0] == 0.1 and min(tols) < 0.1
    assert all(b <= a for a, b in zip(tols, tols[1:]))


def test_schedules():
    a = Anneal(initial=1.0, factor=0.5, minimum=0.2)
    assert [a.update(x) for x in (2.0, 0.9, 0.9, 0.1, 0.1)] == [1.0, 0.5, 0.5, 0.25, 0.2]
    g = Geometric(initial=1.0, factor=0.5, minimum=0.3)
    assert [g.update(0) for _ in range(3)] == [0.5, 0.3, 0.3]
    assert Constant(1e-3).update(0.0) == 1e-3
    with pytest.raises(ValueError, match="schedule.factor"):
        Anneal(factor=1.5)


def test_learned_y0_is_trained():
    model = JacNet(1, 1, PositiveDefinite(), anchor=FixedAnchor(1, 1, 0.0, "learned"))
    x = torch.rand(5, 1) * 2 - 1
    fit(model, x, torch.exp(x), torch.optim.Adam(model.parameters(), lr=0.05), 100)
    assert abs(float(model.anchor.y0.detach()) - 1.0) < 0.2


def test_nearest_anchor_never_anchors_a_training_point_to_itself():
    x = torch.tensor([[-1.0], [0.0], [0.5]])
    anchor = NearestAnchor(1, 1, points=(x, torch.exp(x)))
    anchor.train()
    x0, _ = anchor(x)
    assert torch.equal(x0, torch.tensor([[0.0], [0.5], [0.0]]))
    anchor.eval()
    x0, y0 = anchor(x)
    assert torch.equal(x0, x) and torch.equal(y0, torch.exp(x))
    model = JacNet(1, 1, PositiveDefinite(), anchor=anchor).eval()
    assert torch.allclose(model(x), torch.exp(x))  # zero-length paths: exact at the data
