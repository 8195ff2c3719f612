"""The hyper-parameter study of `activation=monotone_in` on the four tables, with jacnet's own
sweeps (`jacnet train -m`) and `jacnet report`.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tabular/study.py STAGE [TABLE ...]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tabular/study.py --summary [STAGE ...]

A stage is a list of grids; each grid is swept (Hydra multirun) over seeds 0..4 on each table
into RUNS/<stage>/<table>/<grid index>/, then `jacnet report` writes report.csv there.
`--summary` prints the mean over seeds of each configuration (test and validation metrics) and
writes study_summary.json beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tables import TABLES  # noqa: E402

HERE = Path(__file__).resolve().parent
RUNS = Path(os.environ.get("TABULAR_RUNS", Path(tempfile.gettempdir()) / "jacnet-bench" / "tabular_runs"))
JACNET = os.environ.get("JACNET", str(Path(sys.executable).parent / "jacnet"))
SEEDS = "0,1,2,3,4"
COMMON = ["plots=false", "progress=false", "runtime.threads=1"]

# Each stage: name -> list of grids (each a list of sweep overrides). Grids are crossed with
# the seeds; the values not swept keep jacnet's defaults (or the stage's base).
STAGES: dict[str, list[list[str]]] = {
    # 1. the current defaults against width and learning rate
    "lr_width": [["model.hidden=16,32,128", "optim.lr=0.01,0.003,0.001"]],
    # 2. around hidden=32, lr=0.01 (stage 1's best on average): the conditioner's depth,
    #    decoupled weight decay, mini-batch size (null: the full batch) and patience (epochs)
    "stage2": [["model.hidden=32", "optim.lr=0.01", "model.depth=2"],
               ["model.hidden=32", "optim.lr=0.01", "optim=adamw",
                "optim.weight_decay=0.01,0.1,1.0"],
               ["model.hidden=32", "optim.lr=0.01", "batch_size=16,128,null"],
               ["model.hidden=32", "optim.lr=0.01", "patience=10,30"]],
    # 3. narrower networks and the deeper conditioner, with patience 30 epochs
    "stage3": [["model.hidden=8,16", "optim.lr=0.01", "patience=30"],
               ["model.hidden=32", "optim.lr=0.01", "model.depth=2", "patience=30"]],
}


def sweep(stage: str, table: str, index: int, grid: list[str], seeds: str = SEEDS) -> Path:
    out = RUNS / stage / table / str(index)
    if (out / "report.csv").is_file():
        return out
    cmd = [JACNET, "train", "-m", *TABLES[table].overrides(), *COMMON, *grid, f"seed={seeds}",
           f"hydra.sweep.dir={out}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run(cmd, check=False, env=env, stdout=subprocess.DEVNULL,
                   stderr=open(out.parent / f"{index}.stderr", "w") if out.parent.mkdir(
                       parents=True, exist_ok=True) is None else None)
    metrics = ("test_accuracy,test_auc,test_log_loss,val_log_loss,val_accuracy"
               if TABLES[table].task == "cls" else "test_rmse,test_mae,val_rmse,val_mae")
    subprocess.run([JACNET, "report", str(out), "--no-plot", "--metrics",
                    metrics + ",train_time_s,epochs,parameters"], check=False, env=env,
                   stdout=open(out / "report.txt", "w"))
    return out


def summary(stages: list[str]) -> dict:
    result: dict = {}
    for stage in stages:
        for table_dir in sorted((RUNS / stage).glob("*")):
            if not table_dir.is_dir():
                continue
            table = table_dir.name
            task = TABLES[table].task
            frames = []
            for rep in sorted(table_dir.glob("*/report.csv")):
                df = pd.read_csv(rep)
                frames.append(df)
            if not frames:
                continue
            df = pd.concat(frames, ignore_index=True)
            keys = [c for c in df.columns if c.startswith(("model.", "optim", "batch_size",
                                                           "patience", "activation.eps",
                                                           "epochs", "data.")) and c != "epochs"
                    and df[c].nunique(dropna=False) > 0 and c in _override_columns(df)]
            df["config"] = df[keys].astype(str).agg(" ".join, axis=1) if keys else "default"
            cols = (["test_accuracy", "test_auc", "test_log_loss", "val_log_loss",
                     "val_accuracy"] if task == "cls" else
                    ["test_rmse", "test_mae", "val_rmse", "val_mae"])
            cols += ["train_time_s", "epochs", "parameters"]
            cols = [c for c in cols if c in df.columns]
            agg = df.groupby("config")[cols].agg(["mean", "std", "count"])
            result.setdefault(stage, {})[table] = {
                cfg: {c: [float(agg.loc[cfg, (c, "mean")]), float(agg.loc[cfg, (c, "std")]),
                          int(agg.loc[cfg, (c, "count")])] for c in cols}
                for cfg in agg.index}
            print(f"\n== {stage} / {table}")
            show = agg.xs("mean", axis=1, level=1).copy()
            show.insert(0, "n", agg.xs("count", axis=1, level=1).iloc[:, 0])
            print(show.round(4).to_string())
    return result


def _override_columns(df: pd.DataFrame) -> list[str]:
    """The columns that hold swept overrides (report.csv puts overrides before metrics)."""
    out = []
    for c in df.columns:
        if c in ("job", "status", "reason", "seed", "config"):
            continue
        if any(c.startswith(p) for p in ("model.", "optim", "batch_size", "patience",
                                          "activation.eps", "data.val_fraction")):
            out.append(c)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("stage", nargs="*")
    p.add_argument("--tables", default="compas,heart,autompg,diabetes")
    p.add_argument("--summary", action="store_true")
    p.add_argument("--seeds", default=SEEDS)
    a = p.parse_args()
    if a.summary:
        res = summary(a.stage or list(STAGES))
        path = HERE / "study_summary.json"
        old = json.loads(path.read_text()) if path.is_file() else {}
        old.update(res)
        path.write_text(json.dumps(old, indent=1))
        return
    for stage in a.stage:
        for table in a.tables.split(","):
            for i, grid in enumerate(STAGES[stage]):
                out = sweep(stage, table, i, grid, a.seeds)
                print(stage, table, i, "->", out, flush=True)


if __name__ == "__main__":
    main()
