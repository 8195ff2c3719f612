"""Config groups mirror modules: every option of every group composes and builds its object,
and the classes a config may build are exactly those jacnet's own YAML files name."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch

from jacnet_cli.run import build, configs
from jacnet_cli.run.configs import group_options

ROOT = Path(__file__).resolve().parents[1]
GROUPS = configs.groups()
OPTIONS = [(g, o) for g in GROUPS for o in group_options(g)]

#: Which module each group's options build from (the README's table says the same).
MODULES = {
    "target": "jacnet_cli.core.targets", "activation": "jacnet_cli.core.structures",
    "path": "jacnet_cli.core.paths", "anchor": "jacnet_cli.core.anchors",
    "solver": "jacnet_cli.core.solvers", "schedule": "jacnet_cli.run.schedules",
    "model": "jacnet_cli.core.model", "optim": "jacnet_cli.run.optimizers",
    "data": "jacnet_cli.data", "logger": "jacnet_cli.run.loggers",
}

# Options that need more than their group's defaults to build.
NEEDS = {("activation", "monotone_in"): ["activation.inputs=[0]"],
         ("activation", "cauchy_riemann"): ["target=mobius"],
         ("solver", "exact"): ["activation=monotone"],
         ("target", "ortho_ridge"): ["activation=lipschitz"],
         ("data", "file"): [f"data.path={ROOT / 'examples' / 'engel.csv'}",
                            "data.x=[income]", "data.y=[foodexp]"]}


def test_groups_mirror_the_modules():
    assert set(GROUPS) == set(MODULES) | {"experiment"}
    for group, module in MODULES.items():
        targets = configs.targets(group)
        assert targets, group
        assert all(name.startswith(module + ".") for name in targets.values()), (group, targets)
        for name in targets.values():  # each names a class its module defines
            mod, _, cls = name.rpartition(".")
            assert getattr(importlib.import_module(mod), cls).__module__ == mod


def test_only_classes_the_configs_name_are_allowed():
    # A real jacnet class that no YAML names (a form a family picks) is refused too.
    with pytest.raises(ValueError, match="is not one of jacnet's activation classes"):
        build.make("activation", {"_target_": "jacnet_cli.core.structures.pd.PaperPositiveDefinite"})
    with pytest.raises(ValueError, match="is not one of jacnet's activation classes"):
        build.make("activation", {"_target_": "os.system", "command": "true"})
    with pytest.raises(ValueError, match="holds a _target_"):
        build.make("activation", {"_target_": configs.targets("activation")["pd"],
                                  "eps": {"_target_": "os.getcwd"}})


@pytest.mark.parametrize("group,option", OPTIONS)
def test_every_option_composes_and_builds(compose, group, option):
    cfg = compose([f"{group}={option}", *NEEDS.get((group, option), [])], plain=True)
    if group == "experiment":
        cfg["iterations"], cfg["epochs"] = 1, None
    build.preview(cfg)
    target, data = build.dataset(cfg)
    model = build.model(cfg, build.frame(cfg, data, target), (data.x_train, data.y_train))
    built = build.make(group, cfg[group]) if group in configs.BUILT_GROUPS else None
    if built is not None and group not in ("model", "anchor"):
        assert type(built).__name__ == configs.targets(group)[option].rpartition(".")[2]
    if group == "optim":
        opt = build.optimizer(cfg, model)
        assert opt.param_groups[0]["lr"] == cfg["optim"]["lr"]
    out = model(data.x_test[:3].to(torch.get_default_dtype()))
    assert out.shape == (3, target.d_y) and torch.isfinite(out).all()


def test_defaults_are_the_papers_setup_for_a_1d_target(compose):
    """`auto` data and training resolve to the paper's section 5 for a 1-D target."""
    from jacnet_cli.run import plan
    from jacnet_cli.run.settings import TrainSettings

    cfg = compose([], plain=True)
    target = build.target(cfg)
    data = build.data_spec(cfg).resolve(target)
    assert cfg["target"]["_target_"].endswith("Exp") and cfg["activation"]["eps"] == 1e-4
    assert (data.n_train, tuple(data.train_range)) == (5, (-1.0, 1.0))
    assert (data.n_test, tuple(data.test_range)) == (100, (-2.0, 2.0))
    assert cfg["model"]["depth"] == 1  # width: 128 by the accuracy study, 64 with experiment=paper
    chosen = plan.make(TrainSettings.of(cfg), data.n_train, False, 1, validating=False)
    assert cfg["optim"]["lr"] == 0.01 and chosen.iterations == 50 and chosen.loss == "norm"
    assert chosen.batch_size is None and chosen.regime == "paper"
    assert plan.lr_shape(chosen, 50) is None  # the paper's constant rate
    assert cfg["anchor"]["x0"] == 0.0 and cfg["path"]["_target_"].endswith("LinearPath")

@pytest.mark.parametrize("rows,d_x,batch,patience", [
    (400, 1, None, 667),    # a small curve: the full batch, a third of the budget's patience
    (2000, 1, 256, 84),     # a longer curve: mini-batches of ~rows/8 (8 a pass)
    (400, 2, 64, 96),       # a small table: batches of 64 (7 a pass)
    (10_000, 20, 256, 34),  # rows/8 -> capped at 256 (40 a pass); 4,000 steps
    (60, 3, None, 667),     # up to 64 rows of anything: the full batch
])
def test_a_file_plan_sizes_batches_and_patience_from_the_data(compose, rows, d_x, batch, patience):
    from jacnet_cli.run import plan
    from jacnet_cli.run.schedules import LearningRateShape
    from jacnet_cli.run.settings import TrainSettings

    chosen = plan.make(TrainSettings.of(compose([], plain=True)), rows, True, d_x, validating=True)
    assert (chosen.regime, chosen.loss, chosen.batch_size, chosen.patience) == \
        ("fit", "mse", batch, patience)
    assert chosen.iterations == plan.steps(rows) and chosen.epochs is None
    assert chosen.iterations == (4000 if rows == 10_000 else plan.FIT_STEPS)
    assert chosen.lr_decay is None  # the cosine replaces the plateau halving
    shape = plan.lr_shape(chosen, chosen.iterations)
    assert isinstance(shape, LearningRateShape)
    total = chosen.iterations
    warm = int(round(plan.WARMUP * total))
    peak = plan.LR_PEAK
    assert shape(0) == pytest.approx(peak / warm) and shape(warm) == pytest.approx(peak)
    assert shape(total - 1) == pytest.approx(peak * plan.LR_FLOOR)
    assert all(shape(i + 1) <= shape(i) for i in range(warm, total - 1))



@pytest.mark.parametrize("rows,validating,batch,patience,epochs", [
    (4300, True, 64, 15, 295),    # COMPAS-sized: ~rows/50 (68 a pass), 1,000 steps' patience
    (240, True, 32, 125, 2500),   # heart-sized: batches of 32 (8 a pass)
    (60, True, None, 1000, 20000),  # up to 64 rows: the full batch
    (4300, False, 64, None, 295),  # no split: the same length, nothing to stop or halve on
])
def test_a_classification_file_keeps_the_plateau_plan(compose, rows, validating, batch,
                                                      patience, epochs):
    from jacnet_cli.run import plan
    from jacnet_cli.run.settings import TrainSettings

    settings = TrainSettings.of(compose(["loss=bce"], plain=True))
    chosen = plan.make(settings, rows, True, 13, validating=validating)
    assert (chosen.regime, chosen.loss, chosen.batch_size, chosen.patience, chosen.epochs,
            chosen.iterations) == ("classify", "bce", batch, patience, epochs, None)
    assert plan.lr_shape(chosen, 1000) is None  # a constant rate ...
    assert chosen.lr_decay == (0.5 if validating else None)  # ... halved on plateaus
    assert chosen.decay_wait == (max(1, patience // 3) if validating else None)
    # a length the user gives is kept, and still no cosine
    given = plan.make(TrainSettings.of(compose(["loss=bce", "epochs=7"], plain=True)), rows,
                      True, 13, validating)
    assert (given.epochs, given.iterations, plan.lr_shape(given, 7)) == (7, None, None)
