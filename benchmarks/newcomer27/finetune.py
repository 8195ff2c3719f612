"""Issue 27, point 7: fine-tuning a finished run (`init_from=RUN_DIR epochs=50`).

    .venv/bin/python -m benchmarks.newcomer27.finetune [--before SRC] [--seeds 5]

For each seed: the default run (`jacnet train seed=S`: exp with pd, the paper's 50 steps),
then `jacnet train init_from=THAT epochs=50` with the code before this work (SRC, when
given) and after, from the same source run. Reported: test MAE and dB of the source and of
each fine-tune, and the largest training loss of the fine-tune's first 10 steps over the
largest of the source's last 10 (> 1: the loss jumped when fine-tuning began).
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
            source = tmp / f"source{seed}"
            train([f"seed={seed}", f"hydra.run.dir={source}"], tmp, None)
            m = json.loads((source / "metrics.json").read_text())
            rec = {"seed": seed, "source_mae": m["test_mae"], "source_db": m["test_mse_db"]}
            for code, src in (("before", args.before), ("after", None)):
                if code == "before" and src is None:
                    continue
                run = tmp / f"{code}{seed}"
                train([f"seed={seed}", f"init_from={source}", "epochs=50",
                       f"hydra.run.dir={run}"], tmp, src)
                t = json.loads((run / "metrics.json").read_text())
                rec[f"{code}_mae"], rec[f"{code}_db"] = t["test_mae"], t["test_mse_db"]
                rec[f"{code}_jump"] = max(losses(run)[:10]) / max(losses(source)[-10:])
            out.append(rec)
            rows.append([seed, rec["source_mae"], rec.get("before_mae", "-"), rec["after_mae"],
                         rec["source_db"], rec.get("before_db", "-"), rec["after_db"],
                         rec.get("before_jump", "-"), rec["after_jump"]])
    (HERE / "finetune.json").write_text(json.dumps(out, indent=1) + "\n")
    mean = lambda k: sum(r[k] for r in out) / len(out)  # noqa: E731
    rows.append(["mean", mean("source_mae"), mean("before_mae") if args.before else "-",
                 mean("after_mae"), mean("source_db"), mean("before_db") if args.before else "-",
                 mean("after_db"), mean("before_jump") if args.before else "-", mean("after_jump")])
    text = ["# Fine-tuning a finished run (issue 27, point 7)", "",
            "`jacnet train seed=S` (exp, pd, 50 steps), then `init_from=THAT epochs=50`.",
            "jump: the largest loss of the fine-tune's first 10 steps over the largest of the "
            "source's last 10.",
            "Reproduce: `.venv/bin/python -m benchmarks.newcomer27.finetune --before SRC`", "",
            markdown_table(["seed", "source MAE", "before MAE", "after MAE", "source dB",
                            "before dB", "after dB", "before jump", "after jump"], rows), ""]
    (HERE / "finetune.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
