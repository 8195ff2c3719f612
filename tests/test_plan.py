"""The fitting plan's learning-rate shape, its resumability, and the progress line of a run
without a terminal."""

from __future__ import annotations

import json
import logging
import math
import signal

import pytest
import torch

from jacnet_cli.cli.tasks import train as train_task
from jacnet_cli.core.model import MLPRegressor
from jacnet_cli.run import checkpoint
from jacnet_cli.run.configs import compose
from jacnet_cli.run.interrupts import Interrupted
from jacnet_cli.run.progress import Ticker
from jacnet_cli.run.records import Step
from jacnet_cli.run.schedules import LearningRateShape
from jacnet_cli.run.training import Batches, Trainer, mse_loss


def test_the_shape_warms_up_linearly_then_decays_along_a_cosine_to_its_floor():
    shape = LearningRateShape(total=101, warmup=10, floor=0.01, peak=3.0)
    assert [shape(i) for i in range(10)] == pytest.approx([3.0 * (i + 1) / 10 for i in range(10)])
    assert shape(10) == pytest.approx(3.0)
    # halfway through the decay the cosine is at its midpoint
    assert shape(10 + 45) == pytest.approx(3.0 * (0.01 + 0.99 * 0.5))
    assert shape(100) == pytest.approx(0.03) and shape(500) == pytest.approx(0.03)
    decay = [shape(i) for i in range(10, 101)]
    assert all(b < a for a, b in zip(decay, decay[1:]))


def test_the_trainer_sets_each_steps_rate_from_the_shape():
    torch.manual_seed(0)
    model = MLPRegressor(2, 1, hidden=4, depth=1).double()
    x = torch.randn(16, 2, dtype=torch.float64)
    y = x.sum(1, keepdim=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    shape = LearningRateShape(total=7, warmup=2, floor=0.1, peak=2.0)
    seen = []
    trainer = Trainer(model, opt, Batches(x, y), 7, loss=mse_loss, lr_shape=shape,
                      callback=lambda step: seen.append(opt.param_groups[0]["lr"]))
    trainer.run()
    assert seen == pytest.approx([0.1 * shape(i) for i in range(7)])


class _StopAt:
    """SIGTERM (as Interrupted) right after step `iteration` completes."""

    def __init__(self, monkeypatch, iteration: int):
        original = Trainer.run

        def run(trainer):
            callback = trainer.callback

            def stop(step):
                callback(step)
                if step.iteration == iteration:
                    raise Interrupted(signal.SIGTERM)

            trainer.callback = stop
            return original(trainer)

        monkeypatch.setattr(Trainer, "run", run)


ND = ["target=icgn_convex", "activation=monotone", "model.hidden=8", "data.n_train=40",
      "data.n_val=10", "data.n_test=20", "data.grid_points=21", "batch_size=16",
      "iterations=24", "plots=false"]


def test_a_shaped_n_d_run_resumed_mid_decay_ends_where_an_uninterrupted_one_does(
        tmp_path, monkeypatch):
    full, cut = tmp_path / "full", tmp_path / "cut"
    full.mkdir(), cut.mkdir()
    train_task.train(compose(ND, plain=False), full)
    with monkeypatch.context() as m:
        _StopAt(m, iteration=13)  # past the warm-up, mid-epoch (3 batches a pass)
        with pytest.raises(Interrupted):
            train_task.train(compose(ND, plain=False), cut)
    blob = torch.load(cut / checkpoint.FILENAME, weights_only=True)
    assert blob["training"]["step"] == 14
    train_task.train(compose([f"resume={cut}"], plain=False), tmp_path / "ignored")
    a = json.loads((full / "metrics.json").read_text())
    b = json.loads((cut / "metrics.json").read_text())
    assert a["plan_warmup"] == 0.05 and a["plan_lr_peak"] == 3.0
    keys = {k for k in set(a) | set(b) if not k.endswith("_time_s")}
    assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}


def test_a_run_without_a_terminal_logs_a_line_every_ten_seconds(caplog):
    now = [0.0]
    ticker = Ticker(total=100, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="jacnet_cli.run.progress"):
        for i in range(100):
            now[0] = 0.5 * (i + 1)  # half a second a step
            ticker(Step(i, 1.0 / (i + 1), None, 0, 0, 0.5, val_loss=0.25 if i == 9 else None))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5 == ticker.lines  # at 10, 20, 30, 40 and 50 s
    assert lines[0].startswith("training: step 20/100 loss 0.05 val 0.25, 10 s elapsed, ~40 s left")
    assert math.isclose(float(lines[-1].split("loss ")[1].split()[0]), 0.01)
