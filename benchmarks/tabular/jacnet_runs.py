"""jacnet in the harness: sweeps over seeds with the command line (`jacnet train -m`), read
back with `jacnet_cli.load`; and the published protocol (best test epoch) in-process."""

from __future__ import annotations

import json
import os
import tempfile
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tables import TABLES, Table, split

RUNS = Path(os.environ.get("TABULAR_RUNS", Path(tempfile.gettempdir()) / "jacnet-bench" / "tabular_runs"))
JACNET = os.environ.get("JACNET", str(Path(sys.executable).parent / "jacnet"))
COMMON = ["plots=false", "progress=false", "runtime.threads=1"]


def sweep(name: str, table: str, overrides: list[str], seeds: str, extra: list[str] = ()) -> Path:
    """`jacnet train -m` of one configuration over seeds into RUNS/<name>/<table>."""
    out = RUNS / name / table
    if (out / "done").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [JACNET, "train", "-m", *TABLES[table].overrides(), *COMMON, *overrides, *extra,
           f"seed={seeds}", f"hydra.sweep.dir={out}"]
    with open(out / "stderr.txt", "w") as err:
        subprocess.run(cmd, check=False, env=env, stdout=subprocess.DEVNULL, stderr=err)
    subprocess.run([JACNET, "report", str(out), "--no-plot"], check=False, env=env,
                   stdout=open(out / "report.txt", "w"))
    (out / "done").write_text(" ".join(cmd))
    return out


def runs(out: Path) -> list[tuple[dict, Path]]:
    """(overrides as dict, run dir) of each job of a sweep."""
    found = []
    for d in sorted(out.iterdir(), key=lambda p: (len(p.name), p.name)):
        ov = d / ".hydra" / "overrides.yaml"
        if not ov.is_file():
            continue
        import yaml

        items = yaml.safe_load(ov.read_text())
        found.append(({k: v for k, v in (s.split("=", 1) for s in items)}, d))
    return found


def predictor(run_dir: Path):
    """predict(x raw numpy) -> logit / ŷ in the data's units, metrics.json."""
    import jacnet_cli

    loaded = jacnet_cli.load(run_dir)
    model = loaded.model

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.tensor(x, dtype=torch.float64))[:, 0].numpy()
    return predict, json.loads((run_dir / "metrics.json").read_text())


# --- the published protocol ---------------------------------------------------------------

def published(table: Table, overrides: list[str], seed: int, epochs: int) -> dict[str, Any]:
    """Train on train+validation (val_fraction=0) for `epochs`, evaluate the test split after
    every epoch and report the best: accuracy at threshold 0.5, accuracy at the best of LMN's
    thresholds (COMPAS: probabilities 0..1 in 50 steps; heart: logits -1..1 in 100 steps),
    AUC; MSE/RMSE for regression."""
    from jacnet_cli.run.configs import compose
    from jacnet_cli.run.experiment import Experiment

    cfg = compose(table.overrides() + COMMON + list(overrides)
                  + ["data.val_fraction=0", f"seed={seed}", f"epochs={epochs}",
                     "iterations=null"])
    exp = Experiment(cfg, None)
    exp.build()
    sp = split(table.name, seed, val_fraction=0.0)
    x = torch.tensor(sp.x_test, dtype=torch.float64)
    y = sp.y_test
    trainer = exp.trainer
    per_epoch = trainer.batches.per_epoch
    best: dict[str, float] = {}
    thresholds = (np.linspace(0, 1, 50) if table.name != "heart" else None)

    def record(step) -> None:
        if (step.iteration + 1) % per_epoch:
            return
        with torch.no_grad():
            z = exp.model(x)[:, 0].numpy()
        if table.task == "cls":
            p = 1 / (1 + np.exp(-z))
            acc = float(np.mean((p > 0.5) == y))
            if thresholds is not None:
                tuned = max(float(np.mean((p > t) == y)) for t in thresholds)
            else:
                tuned = max(float(np.mean((z > t) == y)) for t in np.linspace(-1, 1, 100))
            for k, v in (("accuracy", acc), ("accuracy_tuned", tuned)):
                best[k] = max(best.get(k, 0.0), v)
        else:
            mse = float(np.mean((z - y) ** 2))
            best["mse"] = min(best.get("mse", np.inf), mse)
            best["rmse"] = float(np.sqrt(best["mse"]))

    trainer.callback = record
    start = time.perf_counter()
    trainer.run()
    best["train_time_s"] = time.perf_counter() - start
    best["epochs"] = epochs
    return best
