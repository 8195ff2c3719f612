"""Every option of every config group composes and builds its object."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from jacnet_cli import build
from jacnet_cli.cli import CONF_DIR, check_choices, group_options

GROUPS = sorted(p.name for p in Path(CONF_DIR).iterdir() if p.is_dir())
OPTIONS = [(g, o) for g in GROUPS for o in group_options(g)]


def _compose(overrides):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def test_groups_mirror_the_modules():
    assert set(GROUPS) >= {"target", "activation", "path", "anchor", "solver", "schedule",
                           "model", "optim", "data", "experiment"}


# Options that need more than their group's defaults to build.
NEEDS = {("activation", "monotone_in"): ["activation.inputs=[0]"],
         ("data", "file"): [f"data.path={Path(CONF_DIR).parents[1] / 'examples' / 'engel.csv'}",
                            "data.x=[income]", "data.y=[foodexp]"]}


@pytest.mark.parametrize("group,option", OPTIONS)
def test_every_option_composes_and_builds(group, option):
    cfg = _compose([f"{group}={option}", *NEEDS.get((group, option), [])])
    if group == "experiment":
        cfg.iterations = 1
    target, data = build.target_and_data(cfg)
    model = build.model(cfg, target, data) if _compatible(cfg, target) else None
    if group == "optim":
        build.optimizer(cfg, model)
    elif group == "schedule":
        assert build.schedule(cfg).tolerance > 0
    elif group not in ("target", "experiment", "data"):
        assert build.make(group, cfg[group]) is not None
    if model is not None:
        out = model(data.x_test[:3].to(torch.get_default_dtype()))
        assert out.shape == (3, target.d_y)


def _compatible(cfg, target):
    name = cfg.activation._target_.rsplit(".", 1)[-1]
    if cfg.solver._target_.endswith("Exact") and name not in ("Gradient", "Monotone"):
        return False
    if name == "CauchyRiemann":
        return (target.d_x, target.d_y) == (2, 2)
    square = name in ("PositiveDefinite", "Gradient", "Monotone")
    return not square or target.d_x == target.d_y


def test_defaults_are_the_papers_setup():
    cfg = _compose([])
    assert cfg.target._target_.endswith("Exp") and cfg.activation.eps == 1e-4
    assert (cfg.data.n_train, list(cfg.data.train_range)) == (5, [-1.0, 1.0])
    assert (cfg.data.n_test, list(cfg.data.test_range)) == (100, [-2.0, 2.0])
    assert cfg.model.depth == 1  # width: 128 by the accuracy study, 64 with experiment=paper
    assert cfg.optim.lr == 0.01 and cfg.iterations == 50 and cfg.loss == "norm"
    assert cfg.anchor.x0 == 0.0 and cfg.path._target_.endswith("LinearPath")


def test_unknown_group_option_is_one_line():
    msg = check_choices(["activation=pd,foo"])
    assert msg == ("activation='foo' is not an option; choose one of: cauchy_riemann, gradient, "
                   "lipschitz, monotone, monotone_in, none, pd")
    assert check_choices(["activation=pd", "seed=3", "model.hidden=4"]) is None
