"""The `jacnet` command end to end, in subprocesses, with tiny settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from jacnet_cli.run.rundir import load_run as load

pytestmark = pytest.mark.subprocess  # every test here runs the real command
TINY = ["experiment=debug"]


def jacnet(cwd: Path, *args: str, check: bool = True, timeout: int = 180):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0"}
    proc = subprocess.run([sys.executable, "-m", "jacnet_cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"jacnet {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def run_dirs(root: Path, kind: str) -> list[Path]:
    return sorted(p for p in (root / "outputs").glob(f"*/*-{kind}") if p.is_dir())


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One small pd run shared by the eval and invert tests."""
    root = tmp_path_factory.mktemp("cli")
    jacnet(root, "train", *TINY, "iterations=20")
    (run,) = run_dirs(root, "train")
    return run


def test_train_writes_a_complete_run_directory(trained):
    files = {p.name for p in trained.iterdir()}
    assert {".hydra", "config.yaml", "metrics.json", "metrics.csv", "checkpoint.pt",
            "train.log", "fit.png", "jacobian.png", "loss.png", "inverse.png"} <= files
    m = json.loads((trained / "metrics.json").read_text())
    for key in ("train_loss", "test_mae", "test_rmse", "test_max_err", "wall_time_s",
                "nfe_per_iter", "jacobian_min_eig", "roundtrip_max_err", "net_min_eig"):
        assert isinstance(m[key], float), key
    assert "lipschitz_max" not in m and "cr_residual_max" not in m  # not pd's guarantees
    assert m["jacobian_min_eig"] > 0 and m["roundtrip_max_err"] < 1e-8
    rows = (trained / "metrics.csv").read_text().splitlines()
    assert rows[0] == "iteration,epoch,loss,val_loss,tolerance,nfe_forward,nfe_backward,seconds"
    assert m["status"] == "completed" and m["reason"] == "" and m["guarantee_held"] is True
    assert len(rows) == 21
    for png in trained.glob("*.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_checkpoint_loads_weights_only_and_rebuilds(trained):
    blob = torch.load(trained / "checkpoint.pt", weights_only=True)
    assert blob["config"]["activation"]["eps"] == 1e-4
    run = load(trained)
    m = json.loads((trained / "metrics.json").read_text())
    from jacnet_cli.run.metrics import evaluate
    again = evaluate(run.model, run.data, run.config["eval_tolerance"])
    assert again["test_mae"] == pytest.approx(m["test_mae"], rel=1e-9)


def test_eval_with_other_solver_and_range_leaves_the_source_alone(trained, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in trained.rglob("*")}
    jacnet(tmp_path, "eval", f"run_dir={trained}", "solver=dopri5", "data.test_range=[-3,3]")
    (ev,) = run_dirs(tmp_path, "eval")
    m = json.loads((ev / "metrics.json").read_text())
    assert "dopri5" in m["eval_solver"] and m["overrides"] == "data, solver"
    assert {"fit.png", "jacobian.png", "inverse.png"} <= {p.name for p in ev.iterdir()}
    assert before == {p: p.stat().st_mtime_ns for p in trained.rglob("*")}


def test_invert_prints_and_writes_roundtrip(trained, tmp_path):
    out = jacnet(tmp_path, "invert", f"run_dir={trained}", "y=[0.8,1.5,2.5]")
    assert "f⁻¹" in out.stdout
    (inv,) = run_dirs(tmp_path, "invert")
    data = json.loads((inv / "inverse.json").read_text())
    assert len(data["points"]) == 3 and data["roundtrip_max_err"] < 1e-8
    assert (inv / "inverse.csv").read_text().startswith("y,x,converged,roundtrip_err,x_true")
    yfile = tmp_path / "ys.txt"
    yfile.write_text("# y values\n0.9\n1.1\n")
    jacnet(tmp_path, "invert", f"run_dir={trained}", f"y_file={yfile}")


def test_invert_marks_and_refuses_points_that_do_not_converge(trained, tmp_path):
    proc = jacnet(tmp_path, "invert", f"run_dir={trained}", "y=[1.5,1e300]", check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "1 of 2 points did not converge" in lines[0] and "allow_unconverged" in lines[0]
    (inv,) = run_dirs(tmp_path, "invert")
    rows = (inv / "inverse.csv").read_text().splitlines()
    assert [r.split(",")[2] for r in rows[1:]] == ["True", "False"]
    assert "not converged" in (inv / "invert.log").read_text()
    ok = jacnet(tmp_path, "invert", f"run_dir={trained}", "y=[1.5,1e300]",
                "allow_unconverged=true")
    assert ok.returncode == 0 and "NO" in ok.stdout


def test_multirun_leaves_one_directory_per_job(tmp_path):
    jacnet(tmp_path, "train", "-m", *TINY, "model.hidden=4,8", "plots=false")
    sweeps = list((tmp_path / "outputs" / "multirun").glob("*/*"))
    assert len(sweeps) == 1
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1"]
    for job in jobs:
        assert (job / "metrics.json").is_file() and (job / "checkpoint.pt").is_file()


def test_two_runs_in_the_same_second_get_two_directories(tmp_path):
    for _ in range(2):
        jacnet(tmp_path, "train", *TINY, "iterations=1", "plots=false")
    assert len(run_dirs(tmp_path, "train")) == 2


def test_2d_run_gets_2d_plots(tmp_path):
    jacnet(tmp_path, "train", *TINY, "target=complex_exp", "activation=cauchy_riemann",
           "activation.min_modulus=0.1", "data=plane", "data.grid_points=21", "data.n_test=20")
    (run,) = run_dirs(tmp_path, "train")
    assert {"grid.png", "error.png", "loss.png"} <= {p.name for p in run.iterdir()}
    m = json.loads((run / "metrics.json").read_text())
    assert {"cr_residual_rel_max", "net_cr_residual_max", "roundtrip_max_err"} <= set(m)
    assert m["cr_residual_rel_max"] <= 1e-10 and m["net_cr_residual_max"] <= 1e-10


BAD = [
    (["train", "activation=foo"], "activation='foo' is not an option; choose one of:"),
    (["train", "activation.eps=0"], "activation.eps=0 is not allowed"),
    (["train", "activation=lipschitz", "activation.k=-1"], "activation.k=-1 is not allowed"),
    (["train", "model.hidden=0"], "model.hidden=0 is not allowed"),
    (["train", "model.depth=-2"], "model.depth=-2 is not allowed"),
    (["train", "data.n_train=0"], "data.n_train=0 is not allowed"),
    (["train", "device=cuda"] if not torch.cuda.is_available() else ["train", "device=tpu"],
     "device="),
    (["train", "iterations=-1"], "iterations=-1 is not allowed"),
    (["eval", "run_dir=/no/such/run"], "run_dir='/no/such/run' does not exist"),
    (["frobnicate"], "'frobnicate' is not a command"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_nonzero(tmp_path, args, message):
    proc = jacnet(tmp_path, *args, *(TINY if args[0] == "train" else []), check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_run_dir_without_checkpoint_and_non_invertible_and_bad_y(tmp_path, trained):
    proc = jacnet(tmp_path, "eval", f"run_dir={tmp_path}", check=False)
    assert proc.returncode == 2 and "holds no checkpoint.pt" in proc.stderr
    proc = jacnet(tmp_path, "invert", f"run_dir={trained}", "y=[[1,2]]", check=False)
    assert proc.returncode == 2 and "wrong dimension" in proc.stderr
    jacnet(tmp_path, "train", *TINY, "target=abs", "activation=lipschitz", "plots=false")
    (lip,) = run_dirs(tmp_path, "train")
    proc = jacnet(tmp_path, "invert", f"run_dir={lip}", "y=[0.5]", check=False)
    assert proc.returncode == 2
    assert "activation='lipschitz' does not guarantee an invertible function" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_commands_without_torch():
    code = ("import sys; from jacnet_cli import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "assert 'torch' not in sys.modules and 'hydra' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = jacnet(Path.cwd(), "--help").stdout
    assert all(cmd in out for cmd in ("train", "eval", "invert", "report"))


def test_task_help_lists_config_groups(tmp_path):
    """Groups, options, the chosen option's keys and the top-level keys, each described from
    its YAML comment, with no `_target_` internals; `activation=X --help` shows X's keys."""
    out = jacnet(tmp_path, "train", "--help").stdout
    for group in ("activation", "anchor", "solver", "schedule", "target", "experiment"):
        assert f"  {group} " in out
    assert "pd: Invertible" in out and "activation.eps=1.0e-4" in out
    assert "epochs=auto" in out and "passes over the training set" in out
    assert "_target_" not in out and "_partial_" not in out
    mono = jacnet(tmp_path, "train", "activation=monotone", "--help").stdout
    assert "activation.max_eig=null" in mono and "eigenvalue ceiling" in mono
    cfg = jacnet(tmp_path, "train", "--cfg", "job", "activation=lipschitz").stdout
    assert "Lipschitz" in cfg
