"""Real `jacnet train -m` sweeps through each Hydra launcher and sweeper, then `jacnet report`.

Tiny jobs (`experiment=debug plots=false`). SLURM itself is not here: its launcher is checked
by composing it, by one sweep through stand-in `sbatch`/`srun` scripts that run the generated
batch script on this machine, and end to end through submitit's local executor: a job that
fails, one preempted (submitit's signal: requeued, resumed in place) and one stopped by
SIGTERM (resumed in place by the same command run again). A search is Optuna's
(`hydra/sweeper=optuna`); Ray has its own file, test_ray.py.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.subprocess  # real sweeps through the command
TINY = ["experiment=debug", "plots=false"]


def jacnet(cwd: Path, *args: str, env: dict | None = None, timeout: int = 240, code: int = 0):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "jacnet_cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != code or "Traceback" in proc.stdout + proc.stderr:
        raise AssertionError(f"jacnet {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def summary(proc: subprocess.CompletedProcess, sweep: Path, done: int, failed: int) -> list[str]:
    """The summary every `-m` run ends with: it names the sweep directory and counts jobs."""
    lines = proc.stdout.rstrip().splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith("sweep ")]
    assert lines[start] == (f"sweep {sweep}: {done + failed} jobs, {done} done, {failed} failed"), \
        lines[start:]
    end = lines.index(f"`jacnet report {sweep}` tabulates every job")  # its last line
    assert start < end and all(line.startswith(("sweep ", "best by ", "search", "rerun", "failed:",
                                                "interrupted:", "to finish", "  jacnet "))
                               for line in lines[start:end]), lines[start:end]
    return lines[start:end + 1]


def sweep_jobs(root: Path) -> tuple[Path, list[Path]]:
    """The one sweep directory under root/outputs/multirun, and its finished job directories."""
    (sweep,) = (root / "outputs" / "multirun").glob("*/*-train")
    jobs = sorted(p for p in sweep.iterdir() if (p / ".hydra" / "overrides.yaml").is_file())
    assert [p.name for p in jobs] == ["0", "1"]
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["status"] == "completed" and metrics["guarantee_held"] is True
        assert 0 < metrics["test_mae"] < 10  # a finite, plausible error, not a placeholder
        assert (job / "checkpoint.pt").is_file() and (job / "train.log").is_file()
    return sweep, jobs


@pytest.fixture(scope="module")
def basic_sweep(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("basic")
    return root, jacnet(root, "train", "-m", *TINY, "model.hidden=4,8")


def best_job(lines: list[str], sweep: Path, jobs: list[Path]) -> None:
    """The summary's best job is the one with the lowest objective (no validation split in
    these runs: the test RMSE)."""
    errors = {job.name: json.loads((job / "metrics.json").read_text())["test_rmse"] for job in jobs}
    best = min(errors, key=errors.get)
    (line,) = [ln for ln in lines if ln.startswith("best by ")]
    assert line.startswith("best by test_rmse (the test error: the run has no validation split): "
                           f"job {best} [") and line.endswith(f"in {sweep / best}")


def test_basic_launcher(basic_sweep):
    root, proc = basic_sweep
    sweep, jobs = sweep_jobs(root)
    assert [(j / ".hydra" / "overrides.yaml").read_text().splitlines()[-1] for j in jobs] == \
        ["- model.hidden=4", "- model.hidden=8"]
    best_job(summary(proc, sweep.relative_to(root), 2, 0), sweep.relative_to(root), jobs)


def test_joblib_launcher_runs_jobs_in_parallel_processes(tmp_path):
    out = jacnet(tmp_path, "train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                 *TINY, "seed=0,1")
    assert "Joblib.Parallel(n_jobs=2" in out.stdout + out.stderr
    sweep, jobs = sweep_jobs(tmp_path)
    best_job(summary(out, sweep.relative_to(tmp_path), 2, 0), sweep.relative_to(tmp_path), jobs)


def test_submitit_local_launcher_pickles_the_task(tmp_path):
    out = jacnet(tmp_path, "train", "-m", "hydra/launcher=submitit_local",
                 "hydra.launcher.timeout_min=10", *TINY, "seed=0,1")
    sweep, _ = sweep_jobs(tmp_path)
    assert list((sweep / ".submitit").glob("*/*_result.pkl"))
    summary(out, sweep.relative_to(tmp_path), 2, 0)


@pytest.mark.parametrize("launcher,expected", [
    ("submitit_slurm", "timeout_min: 60"),
    ("slurm", "timeout_min: 120"),  # our preset, conf/hydra/launcher/slurm.yaml
])
def test_slurm_launcher_config_composes(tmp_path, launcher, expected):
    out = jacnet(tmp_path, "train", f"hydra/launcher={launcher}", "--cfg", "hydra",
                 "-p", "hydra.launcher").stdout
    assert "submitit_launcher.SlurmLauncher" in out and expected in out


FAKE_SBATCH = """\
#!/bin/bash
# Stand-in sbatch: start every array task of the batch script here, print a job id.
script="$1"
cp "$script" "$(dirname "$0")/last.sbatch"
id=$((RANDOM + 1000))
range=$(sed -n 's/^#SBATCH --array=\\([0-9]*-[0-9]*\\).*/\\1/p' "$script")
for i in $(seq "${range%-*}" "${range#*-}"); do
  SLURM_JOB_ID=$((id + i + 1)) SLURM_ARRAY_JOB_ID=$id SLURM_ARRAY_TASK_ID=$i SLURM_NTASKS=1 \\
  SLURM_NODEID=0 SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_JOB_NUM_NODES=1 \\
  SLURM_JOB_NODELIST=localhost bash "$script" >/dev/null 2>&1 &
done
echo "Submitted batch job $id"
"""
FAKE_SRUN = """\
#!/bin/bash
# Stand-in srun: drop its options, run the command.
while [[ "$1" == --* ]]; do
  case "$1" in --output|--error) shift 2;; *) shift;; esac
done
exec "$@"
"""


def test_slurm_preset_submits_a_working_batch_script(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fakes = {"sbatch": FAKE_SBATCH, "srun": FAKE_SRUN, "sacct": "#!/bin/sh\nexit 1\n"}
    for name, text in fakes.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    jacnet(tmp_path, "train", "-m", "hydra/launcher=slurm", "hydra.launcher.partition=cpu",
           *TINY, "seed=0,1", env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    sweep_jobs(tmp_path)
    script = (bin_dir / "last.sbatch").read_text()
    for flag in ("--array=0-1%2", "--partition=cpu", "--time=120", "--cpus-per-task=4",
                 "--mem=8GB"):
        assert f"#SBATCH {flag}\n" in script, textwrap.indent(script, "  ")


def test_report_on_a_real_sweep(basic_sweep):
    root, _ = basic_sweep
    sweep, _ = sweep_jobs(root)
    out = jacnet(root, "report", str(sweep)).stdout
    assert "all 2 jobs finished" in out
    header = next(line for line in out.splitlines() if "test_mae" in line and "job" in line)
    assert "test_mse_db" in header and "guarantee_held" in header  # dB and the guarantee
    rows = [line.split("│")[1:-1] for line in out.splitlines() if line.startswith("│")][:2]
    assert [(r[0].strip(), r[-1].strip()) for r in rows] == [("0", "true"), ("1", "true")]
    with (sweep / "report.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["job"], r["status"], r["model.hidden"]) for r in rows] == \
        [("0", "completed", "4"), ("1", "completed", "8")]
    for r in rows:  # the CSV carries each job's own metrics.json values
        saved = json.loads((sweep / r["job"] / "metrics.json").read_text())
        assert float(r["test_mae"]) == pytest.approx(saved["test_mae"], rel=1e-3)
        assert float(r["test_mse_db"]) == pytest.approx(saved["test_mse_db"], rel=1e-3)
        assert r["guarantee_held"] == "True"
    assert (sweep / "report_test_mae_vs_model.hidden.png").read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- SLURM off a cluster


@pytest.mark.parametrize("launcher", ["submitit_slurm", "slurm"])
def test_slurm_launcher_off_a_cluster_is_one_line_exit_2(tmp_path, launcher):
    bin_dir = tmp_path / "bin"  # a PATH with Python but without sbatch and srun
    bin_dir.mkdir()
    proc = subprocess.run([sys.executable, "-m", "jacnet_cli", "train", "-m",
                           f"hydra/launcher={launcher}", *TINY, "seed=0,1"], cwd=tmp_path,
                          env={**os.environ, "PATH": str(bin_dir), "HYDRA_FULL_ERROR": "0"},
                          capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stdout, proc.stderr
    assert lines[0] == (f"jacnet train: error: hydra/launcher={launcher} submits each job to "
                        "SLURM, but sbatch and srun are not on PATH: run the sweep on the "
                        "cluster's login node, or try it on this machine with "
                        "hydra/launcher=submitit_local")
    assert not (tmp_path / "outputs").exists()


# --------------------------------------------------------------------------- checks before a sweep


def test_an_interval_needs_a_search_and_its_ends_are_checked():
    from jacnet_cli.cli.validate import preflight

    assert preflight("train", ["-m", "optim.lr=interval(1e-4, 1e-1)"]).startswith(
        "optim.lr=interval(1e-4, 1e-1) cannot be swept: an interval is a range to search, not a "
        "list of values; search it with hydra/sweeper=optuna")
    if importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None:
        pytest.skip("the sweeps extra is not installed")
    search = ["-m", "hydra/sweeper=optuna", "experiment=debug"]
    assert preflight("train", [*search, "optim.lr=tag(log, interval(1e-4, 1e-1))"]) is None
    assert preflight("train", [*search, "optim.lr=interval(-1, 1e-1)"]).startswith(
        "optim.lr=-1.0 is not allowed")  # the low end is checked like any value


@pytest.mark.parametrize("count", ["n_trials=0", "n_trials=2.5", "n_trials=1,0", "n_jobs=-1"])
def test_a_search_needs_whole_positive_counts(count):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from jacnet_cli.cli.validate import preflight

    key, values = count.split("=")
    bad = values.split(",")[-1]
    message = preflight("train", ["-m", "hydra/sweeper=optuna", "experiment=debug",
                                  f"hydra.sweeper.{count}", "optim.lr=interval(1e-4, 1e-1)"])
    assert message.startswith(f"hydra.sweeper.{key}={float(bad) if '.' in bad else int(bad)!r} "
                              "is not allowed; it must be an integer >= 1")
    assert preflight("train", ["-m", "hydra/sweeper=optuna", "experiment=debug",
                               f"hydra.sweeper.{key}=3", "optim.lr=interval(1e-4, 1e-1)"]) is None


HIDDEN_PLUGINS_CHECK = """
import json, sys
from jacnet_cli.cli.validate import preflight
print(json.dumps([preflight("train", ["-m", *a]) for a in json.loads(sys.argv[1])]))
"""


def test_a_sweeper_or_launcher_whose_plugin_is_missing_names_its_extra(tmp_path):
    shadow = tmp_path / "shadow" / "hydra_plugins"  # hides the installed Hydra plugins
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    cases = [["hydra/sweeper=optuna", "seed=0,1"], ["hydra/launcher=ray", "seed=0,1"]]
    proc = subprocess.run([sys.executable, "-c", HIDDEN_PLUGINS_CHECK, json.dumps(cases)],
                          env={**os.environ, "PYTHONPATH": str(shadow.parent)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [
        "hydra/sweeper=optuna needs the hydra-optuna-sweeper plugin, which is not installed; "
        "install the sweeps extra: pip install 'jacnet[sweeps]' (in a checkout: "
        "pip install -e '.[sweeps]')",
        "hydra/launcher=ray needs the hydra-ray-launcher plugin, which is not installed; "
        "install the ray extra: pip install 'jacnet[ray]' (in a checkout: pip install -e '.[ray]')"]


# --------------------------------------------------------------------------- Optuna


def test_optuna_search_writes_and_prints_the_best_settings_and_their_command(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    out = jacnet(tmp_path, "train", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=4",
                 "hydra.sweeper.sampler.seed=0", "optim.lr=tag(log, interval(1e-4, 1e-1))",
                 "target=exp", "activation=pd", "plots=false")
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*-train")
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    lrs = {}
    for job in sorted(p for p in sweep.iterdir() if (p / "metrics.json").is_file()):
        metrics = json.loads((job / "metrics.json").read_text())
        lr = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())["optim"]["lr"]
        lrs[lr] = metrics["test_rmse"]  # the objective: no validation split in the paper's task
        assert 1e-4 <= lr <= 1e-1
        assert "objective for the sweep: test_rmse" in (job / "train.log").read_text()
    assert len(lrs) == 4
    best = min(lrs, key=lrs.get)
    assert result["best_params"] == {"optim.lr": best}
    assert math.isfinite(result["best_value"]) and result["best_value"] == lrs[best]
    lines = summary(out, sweep.relative_to(tmp_path), 4, 0)
    rerun = ("rerun them as one run: jacnet train target=exp activation=pd plots=false "
             f"optim.lr={best}")
    assert rerun in lines
    # The printed command reruns the best trial: the same error again.
    single = jacnet(tmp_path, *rerun.split("jacnet ", 1)[1].split(), "hydra.run.dir=best")
    assert "Traceback" not in single.stderr
    assert json.loads((tmp_path / "best" / "metrics.json").read_text())["test_rmse"] == lrs[best]


def test_a_failed_trial_is_a_bad_value_not_a_crashed_search(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    out = jacnet(tmp_path, "train", "-m", "hydra/sweeper=optuna",
                 "hydra/sweeper/sampler=grid", "optim.lr=choice(0.01, 1e9)", *TINY)
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*-train")
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert result["best_params"] == {"optim.lr": 0.01} and math.isfinite(result["best_value"])
    statuses = {}
    for job in sweep.iterdir():
        if (job / "metrics.json").is_file():
            m = json.loads((job / "metrics.json").read_text())
            statuses[m["status"]] = m.get("reason", "")
    assert statuses.keys() == {"completed", "failed"} and "exploding loss" in statuses["failed"]
    lines = summary(out, sweep.relative_to(tmp_path), 1, 1)  # exit 0: the search found a best
    assert any(ln.startswith("failed: job ") and "exploding loss" in ln for ln in lines)
    assert not any(ln.startswith("to finish") for ln in lines)  # it would fail again


# --------------------------------------------------------------------------- submitit end to end


def holder(path: Path) -> int | None:
    """The process that has `path` open (Linux /proc), or None."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) == str(path) for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:
            continue
    return None


def wait_for(predicate, what: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"the sweep ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds jobs through /proc")
def test_submitit_jobs_that_fail_are_preempted_or_stopped_and_the_same_command_again(tmp_path):
    """Three jobs through submitit's local executor: job 2 diverges (failed), job 0 gets
    submitit's preemption signal (USR2: saved, requeued by submitit, resumed in place), job 1
    gets SIGTERM (saved, interrupted); jobs 0 and 1 are the same run. The sweep goes on, says
    so, exits 1; the same command again keeps job 0, resumes job 1 in place and fails job 2
    the same way. Both resumed runs end alike."""
    sweep = tmp_path / "sweep"
    args = ["train", "-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
            *TINY, "iterations=1500", "optim.lr=0.001,0.001,1e9", f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    with (tmp_path / "first.out").open("w") as out:
        first = subprocess.Popen([sys.executable, "-m", "jacnet_cli", *args], cwd=tmp_path,
                                 env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    pids = {}
    for num in ("0", "1"):  # each is training when its signal comes
        log = sweep / num / "train.log"
        wait_for(lambda: log.is_file() and " - iter 0 loss " in log.read_text(),
                 f"job {num} to train", first)
        wait_for(lambda: holder(log) is not None, f"job {num}'s process", first)
        pids[num] = holder(log)
    os.kill(pids["0"], signal.SIGUSR2)  # submitit's preemption (and time-limit) signal
    os.kill(pids["1"], signal.SIGTERM)
    assert first.wait(timeout=240) == 1
    output = (tmp_path / "first.out").read_text()
    assert "Traceback" not in output, output[-3000:]
    status = {n: json.loads((sweep / n / "metrics.json").read_text()) for n in "012"}
    assert [status[n]["status"] for n in "012"] == ["completed", "interrupted", "failed"]
    log0 = (sweep / "0" / "train.log").read_text()
    assert "interrupted: SIGUSR2 during training" in log0 and "resuming it in place" in log0
    assert "SIGTERM during training" in status["1"]["reason"]
    assert "exploding loss" in status["2"]["reason"]
    lines = summary(subprocess.CompletedProcess(args, 1, output, ""), sweep, 1, 2)
    assert f"interrupted: job 1 [optim.lr=0.001]: {status['1']['reason']}" in lines
    assert any(ln.startswith("failed: job 2 [optim.lr=1000000000.0]: exploding loss")
               for ln in lines)
    assert any(ln.startswith("to finish the 1 job that stopped before the end") for ln in lines)
    kept = (sweep / "0" / "metrics.json").read_bytes()

    again = jacnet(tmp_path, *args, env={"OMP_NUM_THREADS": "1"}, code=1)
    summary(again, sweep, 2, 1)
    assert (sweep / "0" / "metrics.json").read_bytes() == kept  # not trained again
    log1 = (sweep / "1" / "train.log").read_text()
    assert "resuming it in place" in log1 and f"resuming {sweep / '1'} at iteration" in log1
    # Jobs 0 and 1 are the same run, stopped at different steps and resumed in place in two
    # ways: they end alike, to the last bit, as the run does uninterrupted (test_lifecycle.py).
    ends = [json.loads((sweep / num / "metrics.json").read_text()) for num in "01"]
    assert all(end["status"] == "completed" and end["iterations"] == 1500 for end in ends)
    for key in ("train_loss", "test_mae", "test_rmse", "jacobian_min_eig", "roundtrip_max_err"):
        assert ends[0][key] == ends[1][key], key
