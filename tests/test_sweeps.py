"""Real `jacnet train -m` sweeps through each Hydra launcher, then `jacnet report` on one.

Two tiny jobs per sweep (`experiment=debug plots=false`). SLURM itself is not here: its
launcher is checked by composing it, and by one sweep through stand-in `sbatch`/`srun`
scripts that run the generated batch script on this machine.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess  # real sweeps through the command
TINY = ["experiment=debug", "plots=false"]


def jacnet(cwd: Path, *args: str, env: dict | None = None, timeout: int = 240):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "jacnet_cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"jacnet {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


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
def basic_sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("basic")
    jacnet(root, "train", "-m", *TINY, "model.hidden=4,8")
    return root


def test_basic_launcher(basic_sweep):
    sweep, jobs = sweep_jobs(basic_sweep)
    assert [(j / ".hydra" / "overrides.yaml").read_text().splitlines()[-1] for j in jobs] == \
        ["- model.hidden=4", "- model.hidden=8"]


def test_joblib_launcher_runs_jobs_in_parallel_processes(tmp_path):
    out = jacnet(tmp_path, "train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                 *TINY, "seed=0,1")
    assert "Joblib.Parallel(n_jobs=2" in out.stdout + out.stderr
    sweep_jobs(tmp_path)


def test_submitit_local_launcher_pickles_the_task(tmp_path):
    jacnet(tmp_path, "train", "-m", "hydra/launcher=submitit_local",
           "hydra.launcher.timeout_min=10", *TINY, "seed=0,1")
    sweep, _ = sweep_jobs(tmp_path)
    assert list((sweep / ".submitit").glob("*/*_result.pkl"))


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
    sweep, _ = sweep_jobs(basic_sweep)
    out = jacnet(basic_sweep, "report", str(sweep)).stdout
    assert "all 2 jobs finished" in out
    with (sweep / "report.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["job"], r["status"], r["model.hidden"]) for r in rows] == \
        [("0", "completed", "4"), ("1", "completed", "8")]
    for r in rows:  # the CSV carries each job's own metrics.json values
        saved = json.loads((sweep / r["job"] / "metrics.json").read_text())
        assert float(r["test_mae"]) == pytest.approx(saved["test_mae"], rel=1e-3)
    assert (sweep / "report_test_mae_vs_model.hidden.png").read_bytes()[:4] == b"\x89PNG"
