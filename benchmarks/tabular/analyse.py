"""Pool the study's sweeps (report.csv of every stage) and rank configurations across tables.

    .venv/bin/python benchmarks/tabular/analyse.py

For each table a configuration's metric is compared, seed by seed (the seed fixes the split),
with today's defaults (model.hidden=128, optim.lr=0.01, adam, depth 1, batch and patience
auto): classification by log-loss ratio and accuracy difference, regression by RMSE ratio,
on the validation split (what an honest user can select on) and on the test split.
Writes study_ranking.json beside this file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from tables import TABLES

HERE = Path(__file__).resolve().parent
RUNS = Path(os.environ.get("TABULAR_RUNS", Path(tempfile.gettempdir()) / "jacnet-bench" / "tabular_runs"))
KEYS = {"model.hidden": "128", "optim.lr": "0.01", "model.depth": "1", "optim": "adam",
        "optim.weight_decay": "-", "batch_size": "auto", "patience": "auto"}


def load() -> pd.DataFrame:
    frames = []
    for rep in RUNS.glob("*/*/*/report.csv"):
        stage, table = rep.parts[-4], rep.parts[-3]
        if stage in ("compare", "timing"):
            continue
        df = pd.read_csv(rep, dtype=str, keep_default_na=False).replace("", np.nan)
        df = df[df["status"] == "completed"]
        df["table"], df["stage"] = table, stage
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    for k, v in KEYS.items():
        df[k] = df[k].fillna(v) if k in df else v
    df["config"] = df[list(KEYS)].agg(" ".join, axis=1)
    for c in ("test_accuracy", "test_log_loss", "val_log_loss", "val_accuracy", "test_rmse",
              "val_rmse", "train_time_s", "epochs", "parameters", "test_auc"):
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df.drop_duplicates(["table", "config", "seed"])


def rank(df: pd.DataFrame) -> pd.DataFrame:
    ref = " ".join(KEYS.values())
    rows = []
    for table, g in df.groupby("table"):
        task = TABLES[table].task
        base = g[g["config"] == ref].set_index("seed")
        for cfg, h in g.groupby("config"):
            h = h.set_index("seed")
            seeds = h.index.intersection(base.index)
            if task == "cls":
                val = (h.loc[seeds, "val_log_loss"] / base.loc[seeds, "val_log_loss"]).mean()
                test = (h.loc[seeds, "test_log_loss"] / base.loc[seeds, "test_log_loss"]).mean()
                acc = (h.loc[seeds, "test_accuracy"] - base.loc[seeds, "test_accuracy"]).mean()
                metric = h.loc[seeds, "test_accuracy"].mean()
            else:
                val = (h.loc[seeds, "val_rmse"] / base.loc[seeds, "val_rmse"]).mean()
                test = (h.loc[seeds, "test_rmse"] / base.loc[seeds, "test_rmse"]).mean()
                acc = np.nan
                metric = h.loc[seeds, "test_rmse"].mean()
            rows.append({"table": table, "config": cfg, "n": len(seeds), "val_ratio": val,
                         "test_ratio": test, "test_acc_diff": acc, "test_metric": metric,
                         "time_s": h["train_time_s"].mean(), "epochs": h["epochs"].mean()})
    return pd.DataFrame(rows)


def main() -> None:
    r = rank(load())
    pd.set_option("display.width", 250)
    wide = r.pivot(index="config", columns="table", values=["val_ratio", "test_ratio"])
    wide[("val_ratio", "mean")] = wide["val_ratio"].mean(axis=1)
    wide[("test_ratio", "mean")] = wide["test_ratio"].mean(axis=1)
    wide[("n_tables", "")] = r.groupby("config")["table"].count()
    wide = wide.sort_values(("val_ratio", "mean"))
    print(wide.round(3).to_string())
    print()
    m = r.pivot(index="config", columns="table", values="test_metric")
    t = r.pivot(index="config", columns="table", values="time_s")
    print(m.loc[wide.index].round(4).to_string())
    print(t.loc[wide.index].round(2).to_string())
    out = {"reference": " ".join(KEYS.values()), "keys": list(KEYS),
           "rows": r.replace({np.nan: None}).to_dict(orient="records")}
    (HERE / "study_ranking.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
