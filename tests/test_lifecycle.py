"""How runs end: completed, interrupted (at any phase) and resumed, failed; nothing that
failed looks complete, and a resumed run ends where an uninterrupted one does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_jacnet
import torch

from jacnet_cli.cli.tasks import train as train_task
from jacnet_cli.run import checkpoint
from jacnet_cli.run.configs import compose
from jacnet_cli.run.experiment import RunFailed
from jacnet_cli.run.rundir import load_run as load
from jacnet_cli.run.interrupts import Interrupted
from jacnet_cli.run.training import Trainer

MINI = ["experiment=debug", "data.n_train=12", "batch_size=5", "data.n_val=6", "plots=false",
        "iterations=30"]


def _cfg(*overrides: str):
    return compose(list(overrides), plain=False)


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def _same(a: dict, b: dict) -> None:
    keys = {k for k in set(a) | set(b) if not k.endswith("_time_s")}
    assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}


class _StopAt:
    """A callback hook that raises a signal's exception after a given iteration."""

    def __init__(self, monkeypatch, iteration: int, signum: int = signal.SIGTERM):
        original = Trainer.run

        def run(trainer):
            inner = trainer.callback

            def callback(step):
                inner(step)
                if step.iteration == iteration:
                    raise Interrupted(signum)

            trainer.callback = callback
            return original(trainer)

        monkeypatch.setattr(Trainer, "run", run)


def test_resume_mid_epoch_ends_where_an_uninterrupted_run_does(tmp_path, monkeypatch):
    full, cut = tmp_path / "full", tmp_path / "cut"
    full.mkdir(), cut.mkdir()
    train_task.train(_cfg(*MINI), full)
    with monkeypatch.context() as m:
        _StopAt(m, iteration=11)  # mid-epoch: 3 batches per epoch
        with pytest.raises(Interrupted):
            train_task.train(_cfg(*MINI), cut)
    stopped = _metrics(cut)
    assert stopped["status"] == "interrupted" and "SIGTERM during training" in stopped["reason"]
    assert stopped["iterations"] == 12
    blob = torch.load(cut / checkpoint.FILENAME, weights_only=True)
    assert blob["status"] == "interrupted" and blob["training"]["step"] == 12
    train_task.train(_cfg(f"resume={cut}"), tmp_path / "ignored")
    _same(_metrics(full), _metrics(cut))
    rows = (cut / "metrics.csv").read_text().splitlines()
    assert len(rows) == 31 and rows == (full / "metrics.csv").read_text().splitlines() or \
        [r.split(",")[:4] for r in rows] == [r.split(",")[:4] for r in
                                             (full / "metrics.csv").read_text().splitlines()]


@pytest.mark.parametrize("phase", ["evaluation", "plotting"])
def test_a_signal_after_training_keeps_the_trained_model(tmp_path, monkeypatch, phase):
    target = "jacnet_cli.run.metrics.evaluate" if phase == "evaluation" \
        else "jacnet_cli.plots.figures.write"

    def boom(*args, **kwargs):
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(target, boom)
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(Interrupted):
        train_task.train(_cfg("experiment=debug", "iterations=7"), run)
    m = _metrics(run)
    assert m["status"] == "interrupted" and f"SIGINT during {phase}" in m["reason"]
    assert m["iterations"] == 7
    blob = torch.load(run / checkpoint.FILENAME, weights_only=True)
    assert blob["training"]["step"] == 7 and blob["status"] == "interrupted"
    loaded = load(run)
    assert torch.isfinite(loaded.model(torch.zeros(1, 1, dtype=torch.float64))).all()
    if phase == "plotting":
        assert "test_mae" in m  # the evaluation finished before the signal
    monkeypatch.undo()
    train_task.train(_cfg(f"resume={run}"), tmp_path / "ignored")
    assert _metrics(run)["status"] == "completed"


def test_divergence_stops_at_once_with_the_last_finite_state(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(RunFailed, match="(non-finite|exploding) loss at iteration 1"):
        train_task.train(_cfg("experiment=debug", "optim.lr=1e300", "iterations=20"), run)
    m = _metrics(run)
    assert m["status"] == "failed" and "loss at iteration 1" in m["reason"]
    assert "test_mae" not in m and not list(run.glob("*.png"))
    state = torch.load(run / checkpoint.FILENAME, weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values())
    with pytest.raises(ValueError, match="failed"):
        train_task.train(_cfg(f"resume={run}"), run)


def test_eval_and_invert_of_a_failed_run_say_it_did_not_complete(tmp_path, jacnet):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(RunFailed):
        train_task.train(_cfg("experiment=debug", "optim.lr=1e300", "iterations=20"), run)
    assert "did not complete (failed: " in load(run).unfinished
    import jacnet_cli

    with pytest.warns(RuntimeWarning, match="did not complete"):
        jacnet_cli.load(run)
    for args, out in ((["eval", f"run_dir={run}"], "metrics.json"),
                      (["invert", f"run_dir={run}", "y=[1.5]", "allow_unconverged=true"],
                       "inverse.json")):
        proc = jacnet([*args, f"hydra.run.dir={tmp_path / args[0]}", "plots=false"]
                      if args[0] == "eval" else [*args, f"hydra.run.dir={tmp_path / args[0]}"],
                      cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        warned = [line for line in (proc.stdout + proc.stderr).splitlines() if "WARNING" in line]
        assert any(f"{run} did not complete (failed: " in line and "iteration 1" in line
                   for line in warned), proc.stdout + proc.stderr
        assert json.loads((tmp_path / args[0] / out).read_text())["source_status"] == "failed"


def test_a_loss_that_explodes_fails_with_the_last_good_weights(tmp_path):
    """lr = 1e30 in float64 stays finite for a while; its loss grows past 1e6 x its start."""
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(RunFailed, match="exploding loss"):
        train_task.train(_cfg("experiment=debug", "optim.lr=1e30", "iterations=50",
                              "plots=false"), run)
    m = _metrics(run)
    assert m["status"] == "failed" and "exploding loss" in m["reason"]
    assert "test_mae" not in m
    rows = (run / "metrics.csv").read_text().splitlines()[1:]
    first = float(rows[0].split(",")[2])
    assert all(float(r.split(",")[2]) <= 1e6 * first for r in rows)  # no recorded step beyond


def test_a_non_finite_step_is_undone(tmp_path, monkeypatch):
    """An optimiser step that turns a weight non-finite is put back at once."""
    def poisoned(self, closure=None):
        for group in self.param_groups:
            group["params"][0].data.fill_(float("nan"))

    run = tmp_path / "run"
    run.mkdir()
    with monkeypatch.context() as m:
        from jacnet_cli.run.optimizers import AdamUpdate

        m.setattr(AdamUpdate, "step", poisoned)
        with pytest.raises(RunFailed, match="non-finite parameter at iteration 0"):
            train_task.train(_cfg("experiment=debug", "iterations=20"), run)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    train_task.train(_cfg("experiment=debug", "iterations=0", "plots=false"), fresh)
    a = torch.load(run / checkpoint.FILENAME, weights_only=True)["state_dict"]
    b = torch.load(fresh / checkpoint.FILENAME, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # the initial weights, untouched


def test_a_completed_run_is_not_overwritten_or_resumed(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    train_task.train(_cfg("experiment=debug", "plots=false"), run)
    with pytest.raises(ValueError, match="already holds a completed run"):
        train_task.train(_cfg("experiment=debug", "plots=false"), run)
    with pytest.raises(ValueError, match="is a completed run"):
        train_task.train(_cfg(f"resume={run}"), run)
    train_task.train(_cfg("experiment=debug", "plots=false", "overwrite=true", "seed=1"), run)
    assert _metrics(run)["status"] == "completed"


def test_a_run_that_fails_in_setup_says_so_and_leaves_no_old_result(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    train_task.train(_cfg("experiment=debug"), run)
    assert list(run.glob("*.png")) and (run / "checkpoint.pt").exists()
    with pytest.raises(ValueError, match="activation.eps=0"):
        train_task.train(_cfg("experiment=debug", "overwrite=true", "activation.eps=0"), run)
    # The old run's results are gone: nothing in the folder passes for the failed run's.
    assert not list(run.glob("*.png")) and not (run / "checkpoint.pt").exists()
    assert not (run / "metrics.csv").exists()
    assert _metrics(run) == {"status": "failed", "reason": "setup failed: activation.eps=0 is "
                             "not allowed; it must be a finite number > 0"}
    train_task.train(_cfg("experiment=debug", "plots=false"), run)  # the folder is free again
    assert _metrics(run)["status"] == "completed"


@pytest.mark.subprocess
def test_help_into_a_closed_pipe_has_no_traceback():
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first byte (`jacnet train --help | head`)
    try:
        proc = run_jacnet(["train", "--help"], cwd=Path(__file__).resolve().parent,
                          capture_output=False, stdout=write, stderr=subprocess.PIPE,
                          timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_early_stopping_restores_the_best_validation_weights(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    train_task.train(_cfg(*MINI[:-1], "iterations=600", "patience=3", "optim.lr=0.3"), run)
    m = _metrics(run)
    rows = [r.split(",") for r in (run / "metrics.csv").read_text().splitlines()[1:]]
    vals = [(int(r[0]), float(r[3])) for r in rows if r[3]]
    best_it, best = min(vals, key=lambda v: v[1])
    assert m["stopped_early"] is True and m["iterations"] < 600
    assert m["best_iteration"] == best_it and m["val_loss_best"] == pytest.approx(best)
    blob = torch.load(run / checkpoint.FILENAME, weights_only=True)
    assert any(not torch.equal(blob["state_dict"][k], blob["training"]["last"][k])
               for k in blob["state_dict"])  # best and last both kept
    # the reported model is the best one: its validation loss is the best seen
    loaded = load(run)
    from jacnet_cli.run.training import norm_loss
    with torch.no_grad():
        val = float(norm_loss(loaded.model(loaded.data.x_val), loaded.data.y_val))
    assert val == pytest.approx(best, rel=1e-12)


def _jacnet(cwd: Path, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "jacnet_cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _wait_rows(csv: Path, rows: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if csv.is_file() and len(csv.read_text().splitlines()) > rows:
            return
        time.sleep(0.1)
    raise AssertionError(f"{csv} did not reach {rows} rows")


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_real_signal_then_resume_from_the_command_line(tmp_path, signum, code, jacnet):
    args = ["experiment=debug", "data.n_train=40", "batch_size=8", "iterations=400",
            "plots=false", "seed=5", "data.n_test=20"]
    full = _jacnet(tmp_path, "train", *args, f"hydra.run.dir={tmp_path / 'full'}")
    run = tmp_path / "cut"
    proc = _jacnet(tmp_path, "train", *args, f"hydra.run.dir={run}")
    _wait_rows(run / "metrics.csv", 20, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and signal.Signals(signum).name in lines[0], err
    m = _metrics(run)
    assert m["status"] == "interrupted" and 20 <= m["iterations"] < 400
    refused = jacnet(["train", *args, f"hydra.run.dir={run}"], cwd=tmp_path)
    assert refused.returncode == 2 and "already holds an interrupted run; resume it" in \
        refused.stderr
    resumed = jacnet(["train", f"resume={run}"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    full.communicate(timeout=300)
    assert full.returncode == 0
    _same(_metrics(tmp_path / "full"), _metrics(run))
    assert (run / ".hydra" / "overrides.yaml").read_text().count("seed=5") == 1
    log = (run / "train.log").read_text()
    assert "interrupted" in log and "resuming" in log  # one log, appended


def test_diverged_run_exits_1_in_one_line(tmp_path, jacnet):
    proc = jacnet(["train", "experiment=debug", "optim.lr=1e300", "plots=false"], cwd=tmp_path)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "non-finite" in lines[0], proc.stderr
    (run,) = (tmp_path / "outputs").glob("*/*-train")
    assert _metrics(run)["status"] == "failed"
