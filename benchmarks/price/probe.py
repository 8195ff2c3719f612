"""Train one config in-process (the command line's code path) and print test dB, steps and
time: a measuring tool for the plan study.

    python -m benchmarks.price.probe target=rotated_tanh activation=invertible [...]
"""

from __future__ import annotations

import json
import sys
import time

import torch


def run(overrides: list[str]) -> dict:
    from jacnet_cli.run import metrics as run_metrics
    from jacnet_cli.run.configs import compose
    from jacnet_cli.run.experiment import Experiment

    cfg = compose([*overrides, "plots=false", "progress=false"])
    torch.set_num_threads(1)
    exp = Experiment(cfg, None)
    exp.build()
    start = time.perf_counter()
    history = exp.trainer.run()
    train_s = time.perf_counter() - start
    exp.model.eval()
    err = run_metrics.errors(exp.model, exp.data, exp.plan.loss == "bce")
    steps = exp.trainer.step
    return {"overrides": " ".join(overrides), "test_db": round(err.get("test_mse_db", float("nan")), 2),
            "val_db": round(err.get("val_mse_db", float("nan")), 2) if "val_mse_db" in err else None,
            "train_s": round(train_s, 1), "steps": steps,
            "ms_per_step": round(1000 * train_s / max(steps, 1), 2),
            "params": exp.out["parameters"], "plan": exp.plan.describe()}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1:])), flush=True)
