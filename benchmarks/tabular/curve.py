"""One jacnet run on a benchmark table with the validation loss, and the test and training RMSE
after every epoch (diagnosis only: it reads the test split, so nothing is chosen with it).

    .venv/bin/python benchmarks/tabular/curve.py autompg 0 [overrides ...]

What it showed is in README.md (early stopping on a small validation split is noisy).
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import torch


def main(table: str, seed: int, extra: list[str]) -> None:
    sys.path.insert(0, ".")
    logging.disable(logging.WARNING)
    from tables import TABLES, split

    from jacnet_cli.run.configs import compose
    from jacnet_cli.run.experiment import Experiment

    t = TABLES[table]
    cfg = compose(t.overrides() + ["plots=false", "progress=false", "runtime.threads=1"] + extra
                  + [f"seed={seed}"])
    exp = Experiment(cfg, None)
    exp.build()
    sp = split(table, seed)
    xt, xtr = torch.tensor(sp.x_test), torch.tensor(sp.x_train)
    per_epoch, rows = exp.trainer.batches.per_epoch, []

    def record(step) -> None:
        if (step.iteration + 1) % per_epoch == 0:
            exp.model.eval()
            with torch.no_grad():
                z, ztr = exp.model(xt)[:, 0].numpy(), exp.model(xtr)[:, 0].numpy()
            exp.model.train()
            rows.append((step.epoch, step.val_loss, float(np.sqrt(np.mean((z - sp.y_test) ** 2))),
                         float(np.sqrt(np.mean((ztr - sp.y_train) ** 2)))))

    exp.trainer.callback = record
    exp.trainer.run()
    print("per_epoch", per_epoch, "best", exp.trainer.best_step)
    for epoch, val, test, train in rows[:40:2] + rows[40::10]:
        print(epoch, round(val, 4), "test", round(test, 3), "train", round(train, 3))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
