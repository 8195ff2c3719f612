"""`hydra/launcher=ray` for real: a sweep on a two-node Ray cluster on loopback
(tests/ray_two_nodes.py), a node killed while it runs a job, the same command run again.

Needs the `ray` extra (`make test` installs it); skipped without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")
pytest.importorskip("hydra_plugins.hydra_ray_launcher",
                    reason="hydra-ray-launcher is not installed")

pytestmark = pytest.mark.subprocess
HERE = Path(__file__).resolve().parent
# Every Ray process of the test stays on 127.0.0.1 (see ray_two_nodes.py).
ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
       "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The two-node cluster: (its process, {"address", "head", "node2"})."""
    log = tmp_path_factory.mktemp("ray") / "cluster.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, str(HERE / "ray_two_nodes.py")], env=ENV,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()  # the cluster is up when it prints its addresses
        assert line, f"the Ray cluster did not start:\n{log.read_text()[-3000:]}"
        yield proc, json.loads(line)
    finally:
        try:
            proc.communicate("quit\n", timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this fixture started, nothing else
            proc.wait()


def job_states(sweep: Path) -> dict[str, tuple[str | None, str]]:
    """{job: (its status in metrics.json or None, the Ray node its log names)}"""
    out = {}
    for job in sorted(p for p in sweep.iterdir() if p.is_dir()):
        metrics = job / "metrics.json"
        status = json.loads(metrics.read_text()).get("status") if metrics.is_file() else None
        log = (job / "train.log").read_text() if (job / "train.log").is_file() else ""
        nodes = [ln.split("running on Ray node ")[1].split()[0] for ln in log.splitlines()
                 if "running on Ray node " in ln]
        out[job.name] = (status, nodes[-1] if nodes else "")
    return out


@pytest.mark.slow
def test_sweep_spreads_over_two_nodes_outlives_one_and_the_same_command_finishes_it(
        tmp_path, cluster):
    proc, nodes = cluster
    sweep = tmp_path / "sweep"
    args = [sys.executable, "-m", "jacnet_cli", "train", "-m", "hydra/launcher=ray",
            f"hydra.launcher.ray.init.address={nodes['address']}",
            "hydra.launcher.ray.remote.max_retries=0",  # a lost job fails here, not retried
            "experiment=debug", "plots=false", "iterations=800", "seed=0,1,2,3",
            f"hydra.sweep.dir={sweep}"]
    with (tmp_path / "first.out").open("w") as out:
        first = subprocess.Popen(args, cwd=tmp_path, env=ENV, stdout=out, stderr=subprocess.STDOUT,
                                 text=True)
    deadline = time.monotonic() + 240
    while not (sweep.is_dir() and any(node == nodes["node2"]
                                      for _, node in job_states(sweep).values())):
        assert first.poll() is None, (tmp_path / "first.out").read_text()[-3000:]
        assert time.monotonic() < deadline, "no job started on the second node"
        time.sleep(0.1)
    proc.stdin.write("kill\n")  # the second node dies while it runs a job
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "killed"
    code = first.wait(timeout=240)
    output = (tmp_path / "first.out").read_text()
    states = job_states(sweep)
    lost = sorted(j for j, (status, node) in states.items() if status != "completed")
    kept = sorted(j for j, (status, _) in states.items() if status == "completed")
    # The other jobs' results stay; the lost ones ran on the killed node, and say so.
    assert code == 1 and "Traceback" not in output, output[-3000:]
    assert sorted(states) == ["0", "1", "2", "3"] and lost and kept
    assert all(states[j][1] == nodes["node2"] for j in lost)
    assert all(states[j][1] == nodes["head"] for j in kept)
    for j in lost:
        reason = json.loads((sweep / j / "metrics.json").read_text())["reason"]
        assert reason.startswith("lost by Ray: "), reason
        assert f"failed: job {j} [seed={j}]: lost by Ray: " in output
    assert f"4 jobs, {len(kept)} done, {len(lost)} failed" in output
    assert f"hydra.sweep.dir={sweep}" in output.split("to finish the")[1]
    before = {j: (sweep / j / "metrics.json").read_bytes() for j in kept}

    # The same command again, on the node left: only the lost jobs run.
    again = subprocess.run(args, cwd=tmp_path, env=ENV, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "4 jobs, 4 done, 0 failed" in again.stdout
    states = job_states(sweep)
    assert all(status == "completed" for status, _ in states.values())
    for j in kept:  # kept as it was, not trained again
        assert (sweep / j / "metrics.json").read_bytes() == before[j]
        log = (sweep / j / "train.log").read_text()
        assert "holds a completed run of these settings: kept" in log
    for j in lost:
        assert states[j][1] == nodes["head"]
        metrics = json.loads((sweep / j / "metrics.json").read_text())
        assert metrics["iterations"] == 800 and metrics["guarantee_held"] is True


def test_an_address_where_no_cluster_answers_is_one_line_exit_2(tmp_path):
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run([sys.executable, "-m", "jacnet_cli", "train", "-m", "hydra/launcher=ray",
                           f"hydra.launcher.ray.init.address=127.0.0.1:{port}", "experiment=debug",
                           "seed=0,1"], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"jacnet train: error: hydra.launcher.ray.init.address=127.0.0.1:"
                               f"{port}: no Ray cluster answers there (Connection refused); ")
