"""The defaults chosen by the accuracy study (benchmarks/accuracy), the paper's preset, and the
default's guarantees measured on the function as evaluated for a few trained seeds."""

from __future__ import annotations

import pytest
import torch
from jacnet_cli.core import guarantees
from jacnet_cli.core.nets.mlp import SMOOTH_NONLINEARITIES
from jacnet_cli.run import build
from jacnet_cli.run.plan import PAPER_ITERATIONS  # what `auto` resolves to for a 1-D target
from jacnet_cli.run.training import fit, norm_loss

SLACK = 1e-6  # the bound may be exceeded by this relative amount (solver error), no more


def test_default_j_network_and_anchor(compose):
    cfg = compose([])
    assert (cfg.model.hidden, cfg.model.depth, cfg.model.nonlinearity) == (128, 1, "gelu")
    assert (cfg.model.bias_scale, cfg.model.output_init) == (0.3, "data")
    assert (cfg.anchor.y0, cfg.anchor.trainable, cfg.anchor.rate) == ("target", True, 0.1)
    # A fixed Gauss–Legendre rule is exact only on a smooth J network.
    assert cfg.model.nonlinearity in SMOOTH_NONLINEARITIES
    # solver=auto resolves to the 32-node rule for every structure without a closed form.
    assert cfg.solver._target_.endswith("Auto") and cfg.solver.nodes == 32
    from jacnet_cli.core.solvers import Auto, GaussLegendre
    rule = Auto(nodes=32).resolve(False)
    assert isinstance(rule, GaussLegendre) and rule.nodes == 32


@pytest.mark.parametrize("experiment", ["paper", "paper_faithful"])
def test_paper_presets_keep_the_papers_model(compose, experiment):
    cfg = compose([f"experiment={experiment}"])
    assert (cfg.model.hidden, cfg.model.depth, cfg.model.nonlinearity) == (64, 1, "tanh")
    assert (cfg.model.bias_scale, cfg.model.output_init) == (1.0, "default")
    assert (cfg.anchor.x0, cfg.anchor.y0, cfg.anchor.trainable) == (0.0, "target", False)
    if experiment == "paper_faithful":
        assert cfg.solver.adjoint and cfg.solver.method == "dopri5"


def test_paper_preset_builds_the_old_default_weights(compose):
    """experiment=paper gives, seed for seed, the network the old defaults built."""
    from jacnet_cli.core.structures import PositiveDefinite
    from jacnet_cli.core.anchors import FixedAnchor
    from jacnet_cli.core.model import JacNet
    from jacnet_cli.core.targets import Exp

    cfg = compose(["experiment=paper", "seed=4"])
    model = build.training(cfg, "cpu", torch.float64).model
    torch.manual_seed(4)
    old = JacNet(1, 1, PositiveDefinite(1e-4), hidden=64, nonlinearity="tanh",
                 bias_scale=1.0, output_init="default",
                 anchor=FixedAnchor(1, 1, 0.0, "target", target=Exp())).double()
    for a, b in zip(model.state_dict().values(), old.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("target,activation,seed", [
    ("exp", "pd", 0), ("exp", "pd", 1), ("exp", "pd", 15),
    ("abs", "lipschitz", 0), ("abs", "lipschitz", 4), ("abs", "lipschitz", 15),
    ("sigmoid", "pd", 8), ("sin", "lipschitz", 2),
])
@pytest.mark.slow
def test_default_keeps_its_guarantee_on_the_dense_grid(compose, target, activation, seed):
    """Trained with the defaults, the function as evaluated (autograd through its 32-node
    Gauss–Legendre integral, 2001 points in [-3, 3]) keeps slope <= k (1 + 1e-6) for
    `lipschitz` and slope >= ε (1 - 1e-6) for `pd`."""
    cfg = compose([f"target={target}", f"activation={activation}", f"seed={seed}"])
    setup = build.training(cfg, "cpu", torch.float64)
    fit(setup.model, setup.data.x_train, setup.data.y_train, setup.optimizer, PAPER_ITERATIONS,
        setup.schedule, norm_loss)
    got = guarantees.measure(setup.model, setup.data.x_grid,
                             keys=["jacobian_min_eig", "lipschitz_max"])
    if activation == "pd":
        assert got["jacobian_min_eig"] >= cfg.activation.eps * (1 - SLACK)
    else:
        assert got["lipschitz_max"] <= cfg.activation.k * (1 + SLACK)
