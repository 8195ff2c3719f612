"""Checkpoints: nothing loaded from disk runs code; every damaged file gets one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from jacnet_cli.run import build, checkpoint
from jacnet_cli.run.checkpoint import CheckpointError
from jacnet_cli.run.configs import compose
from jacnet_cli.run.rundir import load_run as load


def _config(*overrides: str) -> dict:
    return compose(["experiment=debug", *overrides])


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A real (untrained) run directory written by checkpoint.save."""
    config = _config()
    setup = build.training(config, "cpu", torch.float64)
    run = tmp_path_factory.mktemp("run")
    checkpoint.save(run / checkpoint.FILENAME, setup.model, config)
    return run


def _rewrite(src: Path, dst: Path, change) -> Path:
    blob = torch.load(src / checkpoint.FILENAME, weights_only=True)
    change(blob)
    dst.mkdir(exist_ok=True)
    torch.save(blob, dst / checkpoint.FILENAME)
    return dst


def test_a_saved_run_rebuilds(saved):
    run = load(saved, data=False)
    assert run.extra["status"] == "completed" and run.extra["format"] == checkpoint.FORMAT
    out = run.model(torch.zeros(2, 1, dtype=torch.float64))
    assert out.shape == (2, 1) and torch.isfinite(out).all()


@pytest.mark.parametrize("group,name", [
    ("activation", "os.system"),
    ("target", "subprocess.Popen"),
    ("model", "builtins.eval"),
    ("solver", "jacnet_cli.core.targets.Exp"),   # a jacnet class, but not of this group
    ("optim", "torch.load"),
])
def test_foreign_targets_are_refused_before_anything_runs(saved, tmp_path, group, name):
    def poison(blob):
        blob["config"][group] = {**blob["config"][group], "_target_": name}

    run = _rewrite(saved, tmp_path / "run", poison)
    with pytest.raises(ValueError) as err:
        load(run)
    msg = str(err.value)
    assert "\n" not in msg and f"{group}._target_" in msg and name in msg
    assert str(run / checkpoint.FILENAME) in msg


def test_a_nested_target_is_refused(saved, tmp_path):
    marker = tmp_path / "pwned"

    def poison(blob):
        blob["config"]["activation"]["eps"] = {
            "_target_": "os.system", "_args_": [f"touch {marker}"]}

    run = _rewrite(saved, tmp_path / "run", poison)
    with pytest.raises(CheckpointError, match="holds a _target_"):
        load(run)
    assert not marker.exists()


def test_an_unknown_argument_names_the_valid_keys(saved, tmp_path):
    run = _rewrite(saved, tmp_path / "run",
                   lambda b: b["config"]["activation"].update(epsilon=1.0))
    with pytest.raises(CheckpointError, match=r"activation.epsilon is not a key .*valid keys: eps"):
        load(run)


def _damage(saved: Path, tmp_path: Path, kind: str) -> Path:
    run = tmp_path / kind
    run.mkdir()
    good = (saved / checkpoint.FILENAME).read_bytes()
    file = run / checkpoint.FILENAME
    if kind == "truncated":
        file.write_bytes(good[: len(good) // 2])
    elif kind == "random":
        file.write_bytes(os.urandom(4096))
    elif kind == "empty":
        file.write_bytes(b"")
    elif kind == "pickle":  # a classic pickle that would run code if unpickled unsafely
        file.write_bytes(b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR.")
    else:
        blob = torch.load(saved / checkpoint.FILENAME, weights_only=True)
        if kind == "missing":
            del blob["state_dict"]
        elif kind == "shape":
            key = next(iter(blob["state_dict"]))
            blob["state_dict"][key] = torch.zeros(3, 3, 3)
        elif kind == "format":
            blob["format"] = 99
        elif kind == "not_a_dict":
            blob = [1, 2, 3]
        elif kind == "config_key":
            del blob["config"]["target"]
        torch.save(blob, file)
    return run


DAMAGE = {
    "truncated": "cannot be read", "random": "cannot be read", "empty": "is empty",
    "pickle": "cannot be read", "missing": "lacks the key(s) state_dict",
    "shape": "weights do not fit", "format": "format=99", "not_a_dict": "not a jacnet checkpoint",
    "config_key": "lacks the key 'target'",
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_each_damaged_checkpoint_is_one_line(saved, tmp_path, kind):
    run = _damage(saved, tmp_path, kind)
    with pytest.raises(CheckpointError) as err:
        load(run)
    msg = str(err.value)
    assert "\n" not in msg and DAMAGE[kind] in msg and str(run / checkpoint.FILENAME) in msg
    assert not (tmp_path / "pwned").exists()


def test_the_command_line_reports_a_damaged_or_poisoned_run_in_one_line(saved, tmp_path,
                                                                        jacnet):
    runs = [_damage(saved, tmp_path, "truncated"),
            _rewrite(saved, tmp_path / "poisoned",
                     lambda b: b["config"]["target"].update(_target_="os.system"))]
    for task, extra in (("eval", []), ("invert", ["y=[1.0]"])):
        for run in runs:
            proc = jacnet([task, f"run_dir={run}", *extra,
                           f"hydra.run.dir={tmp_path / 'out' / task / run.name}"], cwd=tmp_path)
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            assert proc.returncode == 2, proc.stderr
            assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
            assert str(run / checkpoint.FILENAME) in lines[0]


def test_atomic_save_keeps_the_old_file_when_a_write_fails(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.atomic_save({"a": torch.ones(2)}, path)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(Exception):
        checkpoint.atomic_save({"a": Boom()}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind


def test_a_run_rebuilds_without_its_data(saved, monkeypatch):
    """Rebuilding the model reads and samples no data (the frame comes from the config)."""
    import jacnet_cli.run.build as builder

    def no_data(*args, **kwargs):
        raise AssertionError("the data were read to rebuild a model")

    monkeypatch.setattr(builder, "dataset", no_data)
    run = load(saved, data=False)
    assert run.data is None and run.model(torch.zeros(1, 1)).shape == (1, 1)


def test_a_model_built_in_python_saves_and_loads(tmp_path):
    """jacnet_cli.save / load: self-describing, weights only, the same function back."""
    import jacnet_cli
    from jacnet_cli import FixedAnchor, JacNet, Lipschitz, Monotone, MonotoneIn

    torch.manual_seed(0)
    models = [JacNet(1, 1, Lipschitz(2.0), anchor=FixedAnchor(1, 1, 0.5, 1.5, trainable=True,
                                                              rate=0.1)),
              JacNet(3, 3, Monotone(eps=1e-2, max_eig=4.0), hidden=8),
              JacNet(3, 1, MonotoneIn(inputs=[0], decreasing=[2], eps=0.1), hidden=8)]
    x = torch.rand(20, 3) * 4 - 2
    for i, model in enumerate(models):
        path = jacnet_cli.save(model, tmp_path / f"m{i}.pt")
        back = jacnet_cli.load(path).model
        xi = x[:, :model.d_x]
        with torch.no_grad():  # a loaded model's weights need no gradient (the same kernels)
            assert torch.equal(back(xi), model(xi)), i
        assert back(xi).grad_fn is None  # no graph unless asked
        assert repr(back.structure) == repr(model.structure)
