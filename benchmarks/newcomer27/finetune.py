"""Issue 27, point 7: fine-tuning a finished run (`init_from=RUN_DIR epochs=50`).

    .venv/bin/python -m benchmarks.newcomer27.finetune [--before SRC] [--seeds 5]

For each seed and each code (before this work: SRC, when given; after: this checkout): the
default run (`jacnet train seed=S`: exp with pd, the paper's 50 steps), then `jacnet train
init_from=THAT epochs=50` with the same code (a checkpoint names its classes, which the
refactor on main renamed, so each code fine-tunes its own source). Reported: test MAE and
dB of each source and fine-tune, and the largest training loss of the fine-tune's first 10
steps over the largest of the source's last 10 (> 1: the loss jumped when fine-tuning
began).
Writes finetune.json and finetune.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def train(args: list[str], cwd: Path, src: Path | None) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0",
           "PYTHONPATH": str(src or ROOT)}
    proc = subprocess.run([sys.executable, "-m", "jacnet_cli", "train", "plots=false", *args],
                          cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])


def losses(run: Path) -> list[float]:
    return [float(r.split(",")[2]) for r in (run / "metrics.csv").read_text().splitlines()[1:]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from jacnet_cli.plots.tables import markdown_table

    rows, out = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for seed in range(args.seeds):
            rec: dict = {"seed": seed}
            for code, src in (("before", args.before), ("after", None)):
                if code == "before" and src is None:
                    continue
                source = tmp / f"{code}-source{seed}"
                train([f"seed={seed}", f"hydra.run.dir={source}"], tmp, src)
                m = json.loads((source / "metrics.json").read_text())
                rec[f"{code}_source_mae"], rec[f"{code}_source_db"] = m["test_mae"], m["test_mse_db"]
                run = tmp / f"{code}{seed}"
                train([f"seed={seed}", f"init_from={source}", "epochs=50",
                       f"hydra.run.dir={run}"], tmp, src)
                t = json.loads((run / "metrics.json").read_text())
                rec[f"{code}_mae"], rec[f"{code}_db"] = t["test_mae"], t["test_mse_db"]
                rec[f"{code}_jump"] = max(losses(run)[:10]) / max(losses(source)[-10:])
            out.append(rec)
            rows.append([seed, *(rec.get(f"{c}_{k}", "-") for c in ("before", "after")
                                 for k in ("source_mae", "mae", "source_db", "db", "jump"))])
    (HERE / "finetune.json").write_text(json.dumps(out, indent=1) + "\n")
    mean = lambda k: sum(r[k] for r in out) / len(out) if k in out[0] else "-"  # noqa: E731
    rows.append(["mean", *(mean(f"{c}_{k}") for c in ("before", "after")
                           for k in ("source_mae", "mae", "source_db", "db", "jump"))])
    text = ["# Fine-tuning a finished run (issue 27, point 7)", "",
            "`jacnet train seed=S` (exp, pd, 50 steps), then `init_from=THAT epochs=50`.",
            "jump: the largest loss of the fine-tune's first 10 steps over the largest of the "
            "source's last 10.",
            "Reproduce: `.venv/bin/python -m benchmarks.newcomer27.finetune --before SRC`", "",
            markdown_table(["seed", *(f"{c}: {k}" for c in ("before", "after")
                                      for k in ("source MAE", "tuned MAE", "source dB",
                                                "tuned dB", "jump"))], rows), ""]
    (HERE / "finetune.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
