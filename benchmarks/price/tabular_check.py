"""Does the fitting plan keep the tabular results? jacnet's defaults on the tabular study's
four tables (benchmarks/tabular: its splits, its priors, `activation=monotone_in`, loss=bce
for 0/1 labels), seeds 0-4, in-process with the command line's code. Compare with the
tabular README's "jacnet defaults" column (the plan before this work).

    PYTHONPATH=benchmarks/tabular python -m benchmarks.price.tabular_check [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tabular"))


def run(table: str, seed: int, extra: list[str]) -> dict:
    from tables import TABLES

    from jacnet_cli import Experiment
    from jacnet_cli.run import metrics as run_metrics
    from jacnet_cli.run.configs import compose

    t = TABLES[table]
    cfg = compose([*t.overrides(), f"seed={seed}", "plots=false", "progress=false", *extra])
    torch.set_num_threads(1)
    exp = Experiment(cfg, None)
    exp.build()
    cpu = time.process_time()
    exp.trainer.run()
    cpu = time.process_time() - cpu
    exp.model.eval()
    err = run_metrics.errors(exp.model, exp.data, t.task == "cls")
    metric = err["test_accuracy"] if t.task == "cls" else err["test_rmse"]
    return {"table": table, "seed": seed, "metric": metric, "cpu_s": cpu,
            "steps": exp.trainer.step, "best_step": exp.trainer.best_step,
            "plan": exp.plan.describe(), "extra": extra}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", nargs="+", default=["compas", "heart", "autompg", "diabetes"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--extra", nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=HERE / "tabular_check.jsonl")
    parser.add_argument("--peak", type=float, default=None, help="study: plan.LR_PEAK")
    parser.add_argument("--batch-share", type=int, default=None, help="study: plan.BATCH_SHARE")
    args = parser.parse_args()
    from jacnet_cli.run import plan

    if args.peak is not None:
        plan.LR_PEAK = args.peak
        args.extra = [*args.extra]
    if args.batch_share is not None:
        plan.BATCH_SHARE = args.batch_share
    for table in args.tables:
        rows = []
        for seed in args.seeds:
            row = run(table, seed, args.extra)
            row["peak"], row["batch_share"] = plan.LR_PEAK, plan.BATCH_SHARE
            rows.append(row)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
        vals = [r["metric"] for r in rows]
        print(f"{table}: {statistics.fmean(vals):.4f} ± {statistics.stdev(vals) if len(vals) > 1 else 0:.4f}"
              f"  cpu {statistics.fmean(r['cpu_s'] for r in rows):.1f} s  steps "
              f"{[r['steps'] for r in rows]}", flush=True)


if __name__ == "__main__":
    main()
