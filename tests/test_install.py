"""The README's library example runs, and a non-editable install finds its configs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_jacnet

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.subprocess  # each test runs Python or pip in a child process


def test_readme_library_example_runs():
    text = (ROOT / "README.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "jacobian_min_eig" in proc.stdout


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().splitlines()[:6]
    assert any(line.startswith("make run") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_wheel_ships_configs_and_runs_from_elsewhere(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("jacnet-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, timeout=600)
    assert (site / "jacnet_cli" / "conf" / "activation" / "pd.yaml").is_file()
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = run_jacnet(["train", "experiment=debug", "plots=false"], cwd=work, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "site/jacnet_cli" in subprocess.run(
        [sys.executable, "-c", "import jacnet_cli; print(jacnet_cli.__file__)"], env=env,
        cwd=work, capture_output=True, text=True).stdout
    assert list(work.glob("outputs/*/*-train/metrics.json"))


def test_readme_worked_example_on_own_data_runs_as_written(tmp_path):
    """The README's `Your own data` commands, run from a fresh folder holding examples/."""
    import shutil

    import torch

    from jacnet_cli.run.rundir import load_run as load

    text = (ROOT / "README.md").read_text()
    section = text.split("## Your own data", 1)[1]
    block = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[0]
    commands = [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    for command in commands:
        args = command.split("#", 1)[0].split()
        assert args[0] == "jacnet"
        proc = run_jacnet(args[1:], cwd=tmp_path, timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stderr}"
    run = load(tmp_path / "outputs" / "engel")
    assert run.extra["metrics"]["guarantee_held"] is True
    (inverse,) = (tmp_path / "outputs").glob("*/*-invert/inverse.csv")
    rows = [line.split(",") for line in inverse.read_text().splitlines()[1:]]
    assert len(rows) == 5
    for y, x, ok, _ in rows:
        again = float(run.model(torch.tensor([[float(x)]], dtype=torch.float64)).detach())
        assert ok == "True" and abs(again - float(y)) <= 1e-8 * abs(float(y))
    assert list((tmp_path / "outputs").glob("*/*-eval/predictions.csv"))
