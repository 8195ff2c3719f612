"""The plan study: one task's config trained with explicit plans (batch, steps, lr, warm-up,
cosine floor), in-process, one thread; prints one JSON line per plan.

    python -m benchmarks.price.plan_study "target=rotated_tanh activation=invertible" \
        --plans 256:2000:0.01 256:4000:0.003 ...   (batch:steps:lr[:warmup[:floor]])
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def run(task: list[str], batch: int | None, steps: int, lr: float, warmup: int = 0,
        floor: float = 1e-3, dtype: str = "float64", seed: int = 0, shape: str = "cosine"
        ) -> dict:
    from jacnet_cli.run import metrics as run_metrics
    from jacnet_cli.run.configs import compose
    from jacnet_cli.run.experiment import Experiment
    from jacnet_cli.run.schedules import LearningRateShape
    from jacnet_cli.run.training import LOSSES, Trainer

    bs = "null" if batch is None else str(batch)
    cfg = compose([*task, f"batch_size={bs}", f"iterations={steps}", f"optim.lr={lr}",
                   f"dtype={dtype}", f"seed={seed}", "plots=false", "progress=false"])
    torch.set_num_threads(1)
    exp = Experiment(cfg, None)
    exp.build()
    old = exp.trainer
    lr_shape = LearningRateShape(steps, warmup, floor) if shape == "cosine" else None
    trainer = Trainer(old.model, old.optimizer, old.batches, steps, old.schedule,
                      LOSSES[exp.plan.loss], old.validation, None, True, lr_shape=lr_shape)
    start, cpu = time.perf_counter(), time.process_time()
    trainer.run()
    train_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    exp.model.eval()
    err = run_metrics.errors(exp.model, exp.data, exp.plan.loss == "bce")
    return {"task": " ".join(task), "batch": batch, "steps": steps, "lr": lr,
            "warmup": warmup, "floor": floor, "dtype": dtype, "seed": seed, "shape": shape,
            "test_db": round(err.get("test_mse_db", float("nan")), 2),
            "best_step": trainer.best_step, "train_s": round(train_s, 1), "cpu_s": round(cpu_s, 1),
            "ms_step": round(1000 * train_s / steps, 2), "params": exp.out["parameters"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task")
    parser.add_argument("--plans", nargs="+", required=True)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--shape", default="cosine")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    for plan in args.plans:
        parts = plan.split(":")
        batch = None if parts[0] == "full" else int(parts[0])
        steps, lr = int(parts[1]), float(parts[2])
        warmup = int(parts[3]) if len(parts) > 3 else 0
        floor = float(parts[4]) if len(parts) > 4 else 1e-3
        for seed in args.seeds:
            row = run(args.task.split(), batch, steps, lr, warmup, floor, args.dtype, seed,
                      args.shape)
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
