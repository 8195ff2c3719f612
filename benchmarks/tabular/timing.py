"""Time one `monotone_in` run to convergence on a synthetic 10,000-row x 20-column table.

    .venv/bin/python benchmarks/tabular/timing.py [--config recommended|default]

y = sum_{i<5} softplus(2 x_i) (monotone increasing in x_0..x_4) + sin(x_5 x_6) + 0.5 x_7^2
    + 0.3 sum_{i>=8} x_i tanh(x_{i+1 mod 20}) + 0.1 N(0,1),  x ~ N(0, 1)^20,
monotone increasing in x0..x4 (the prior). The whole command (`jacnet train`, start-up
included) runs under an exclusive flock on /work/bench/timing.lock, one thread.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import tempfile
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("TABULAR_DATA", Path(tempfile.gettempdir()) / "jacnet-bench" / "tabular_data"))
RUNS = Path(os.environ.get("TABULAR_RUNS", Path(tempfile.gettempdir()) / "jacnet-bench" / "tabular_runs"))
LOCK = "/work/bench/timing.lock"


def make(path: Path, rows: int = 10_000, d: int = 20, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, d))
    y = np.log1p(np.exp(2 * x[:, :5])).sum(1) + np.sin(x[:, 5] * x[:, 6]) + 0.5 * x[:, 7] ** 2
    y += 0.3 * sum(x[:, i] * np.tanh(x[:, (i + 1) % d]) for i in range(8, d))
    y += 0.1 * rng.standard_normal(rows)
    names = [f"x{i}" for i in range(d)]
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=",".join(names + ["y"]),
               comments="", fmt="%.8g")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="recommended", choices=["recommended", "default"])
    p.add_argument("--extra", nargs="*", default=[])
    a = p.parse_args()
    path = DATA / "synthetic_10k.csv"
    if not path.is_file():
        make(path)
    rec = json.loads((HERE / "recommended.json").read_text())["reg"] \
        if a.config == "recommended" else []
    out = RUNS / "timing" / (a.config + ("_" + "_".join(a.extra) if a.extra else ""))
    jacnet = str(Path(sys.executable).parent / "jacnet")
    cmd = [jacnet, "train", "data=file", f"data.path={path}",
           f"data.x=[{','.join(f'x{i}' for i in range(20))}]", "data.y=[y]",
           "activation=monotone_in", "activation.inputs=[x0,x1,x2,x3,x4]", "plots=false",
           "progress=false", "runtime.threads=1", "overwrite=true", *rec, *a.extra,
           f"hydra.run.dir={out}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
    m = json.loads((out / "metrics.json").read_text())
    res = {"config": a.config, "overrides": rec + a.extra, "wall_s": wall,
           "train_time_s": m["train_time_s"], "epochs": m["epochs"],
           "iterations": m["iterations"], "stopped_early": m["stopped_early"],
           "loss_still_falling": m["loss_still_falling"], "test_rmse": m["test_rmse"],
           "linear_test_rmse": m["linear_test_rmse"], "test_r2": m["test_r2"],
           "parameters": m["parameters"], "plan_batch_size": m["plan_batch_size"],
           "guarantee_held": m["guarantee_held"]}
    print(json.dumps(res))
    log = RUNS / "timing" / "timing.jsonl"
    with open(log, "a") as f:
        f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
