"""Screen jacnet configurations on the regression (and classification) tables by VALIDATION
error, in-process (no process start-up per run): what the defaults should be.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tabular/explore.py --tables autompg,diabetes \\
        --seeds 0,1,2 --configs base,lin,m5 [--out FILE]

Each configuration is a list of jacnet overrides (CONFIGS below) on top of the table's
`data=file activation=monotone_in ...`. A run trains exactly as `jacnet train` would (the
same config composition, plan, trainer, early stopping) and records its errors in the data's
units.

Nested, so that the benchmark's test rows never choose anything: for seed s the screen
writes the benchmark's training + validation rows of that seed (tables.split(table, s)) to
a file of their own and runs jacnet on it with the same fractions; jacnet splits it again
into inner train / validation / "test". The inner test error (`screen_rmse`, rows that
neither training nor early stopping saw) is what the screen compares; the benchmark's test
split is not read.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tables import TABLES, split  # noqa: E402

RUNS = Path(os.environ.get("TABULAR_RUNS", Path(tempfile.gettempdir()) / "jacnet-bench" / "tabular_runs"))
COMMON = ["plots=false", "progress=false", "runtime.threads=1"]

CONFIGS: dict[str, list[str]] = {
    "base": [],
    "d2": ["model.depth=2"],
    "d2_spread1": ["model.depth=2", "+init_spread=1.0"],
    "d2_lin": ["model.depth=2", "activation.linear=true"],
    "spread1": ["+init_spread=1.0"],
    "spread1_lr3": ["+init_spread=1.0", "optim.lr=0.003"],
    "lr1": ["optim.lr=0.001"],
    "lr1_h128": ["optim.lr=0.001", "activation.hidden=128"],
    "lr1_m5": ["optim.lr=0.001", "activation.members=5"],
    "kp16": ["activation.keypoints=16"],
    "kp16_m5": ["activation.keypoints=16", "activation.members=5"],
    "kp16_m5avg": ["activation.keypoints=16", "activation.members=5", "activation.average=0.99"],
    "kp16_lin": ["activation.keypoints=16", "activation.linear=true"],
    "avg": ["activation.average=0.99"],
    "avg999": ["activation.average=0.999"],
    "m5avg": ["activation.members=5", "activation.average=0.99"],
    "m5lavg": ["activation.members=5", "activation.linear=true", "activation.average=0.99"],
    "lavg": ["activation.linear=true", "activation.average=0.99"],
    "m5avg_lr3": ["activation.members=5", "activation.average=0.99", "optim.lr=0.003"],
    "m5l": ["activation.members=5", "activation.linear=true"],
    "b64": ["batch_size=64"],
    "p30": ["patience=30"],
    "m3": ["activation.members=3"],
    "m10": ["activation.members=10"],
    "m5_h16": ["activation.members=5", "activation.hidden=16"],
    "m5_wd": ["activation.members=5", "optim=adamw", "optim.weight_decay=0.1"],
    "m5_b64": ["activation.members=5", "batch_size=64"],
    "lin": ["activation.linear=true"],
    "m5": ["activation.members=5"],
    "m5i": ["activation.members=5", "activation.independent=true"],
    "m5il": ["activation.members=5", "activation.independent=true", "activation.linear=true"],
    "m8i": ["activation.members=8", "activation.independent=true"],
    "m8il": ["activation.members=8", "activation.independent=true", "activation.linear=true"],
    "m5i_h16": ["activation.members=5", "activation.independent=true", "activation.hidden=16"],
    "m5i_wd": ["activation.members=5", "activation.independent=true", "optim=adamw",
               "optim.weight_decay=0.1"],
    "m5i_lr3": ["activation.members=5", "activation.independent=true", "optim.lr=0.003"],
    "m5i_p30": ["activation.members=5", "activation.independent=true", "patience=30"],
    "m5i_b16": ["activation.members=5", "activation.independent=true", "batch_size=16"],
    "m5i_b64": ["activation.members=5", "activation.independent=true", "batch_size=64"],
    "m5i_d2": ["activation.members=5", "activation.independent=true", "model.depth=2"],
    "wd": ["optim=adamw", "optim.weight_decay=0.1"],
    "h64": ["activation.hidden=64"],
    "lr3": ["optim.lr=0.003"],
}


def inner_file(table: str, seed: int) -> str:
    """The benchmark's training + validation rows of `seed`, as a CSV of their own."""
    t = TABLES[table]
    path = RUNS / "inner" / f"{table}_{seed}.csv"
    if not path.is_file():
        sp = split(table, seed)
        x = np.concatenate([sp.x_train, sp.x_val])
        y = np.concatenate([sp.y_train, sp.y_val])
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(path, np.column_stack([x, y]), delimiter=",", comments="",
                   header=",".join(t.x + [t.y]), fmt="%.10g")
    return str(path)


def run_one(table: str, seed: int, overrides: list[str]) -> dict:
    from jacnet_cli.run.configs import compose
    from jacnet_cli.run.experiment import Experiment

    from jacnet_cli.core.nets import partial_monotone

    t = TABLES[table]
    spread = [o for o in overrides if o.startswith("+init_spread=")]  # screen-only knob
    partial_monotone.INIT_SPREAD = float(spread[0].split("=")[1]) if spread else 0.3
    overrides = [o for o in overrides if not o.startswith("+init_spread=")]
    ov = [o for o in t.overrides() if not o.startswith(("data.path=", "data.test_path="))]
    cfg = compose(ov + [f"data.path={inner_file(table, seed)}"] + COMMON + list(overrides)
                  + [f"seed={seed}"])
    torch.set_num_threads(1)
    exp = Experiment(cfg, None)
    exp.build()
    start = time.perf_counter()
    exp.trainer.run()
    seconds = time.perf_counter() - start
    data = exp.data
    res = {"seconds": seconds, "steps": exp.trainer.step,
           "best_step": exp.trainer.best_step}
    exp.model.eval()
    for part, x, y in (("val", data.x_val, data.y_val), ("screen", data.x_test, data.y_test)):
        y = y[:, 0].numpy()
        with torch.no_grad():
            z = exp.model(x.to(torch.float64))[:, 0].numpy()
        if t.task == "cls":
            p = 1 / (1 + np.exp(-z))
            res[f"{part}_acc"] = float(np.mean((p > 0.5) == y))
            pc = np.clip(p, 1e-12, 1 - 1e-12)
            res[f"{part}_logloss"] = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
        else:
            res[f"{part}_rmse"] = float(math.sqrt(np.mean((z - y) ** 2)))
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tables", default="autompg,diabetes,boston,housing,computers,caschool")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--configs", default="base,lin,m5,m5i,m5il")
    p.add_argument("--out", default=str(RUNS / "explore.jsonl"))
    a = p.parse_args()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.is_file():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["table"], r["config"], r["seed"]))
    import logging

    logging.disable(logging.WARNING)
    for seed in map(int, a.seeds.split(",")):
        for table in a.tables.split(","):
            for name in a.configs.split(","):
                if (table, name, seed) in done:
                    continue
                res = run_one(table, seed, CONFIGS[name])
                row = {"table": table, "config": name, "seed": seed, **res}
                with open(out, "a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
