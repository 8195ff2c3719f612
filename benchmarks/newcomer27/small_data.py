"""Issue 27, point 1: files of a few rows, against a cubic polynomial through the same rows.

    .venv/bin/python -m benchmarks.newcomer27.small_data [--quick] [--before SRC]

Each case is a monotone curve (a closed form), sampled at n points (8 unless said) with
Gaussian noise of a share of the curve's range, written to a CSV and trained as a user
would: `jacnet train data=file data.path=F data.x=[x] data.y=[y] activation=S` with the
defaults (the run's own test split included). The error is the mean absolute error against
the true curve on 401 points over the span of all n rows; the reference is a cubic
polynomial fitted by least squares to the same training rows the model saw (and, for
reference, to all n rows). Training time is the optimiser loop's wall time (one thread).

Two sets: `tuning` (the curves the small-data plan's penalty weight and length were chosen
on, seed 0) and `held-out` (other shapes, noise levels and seeds, never looked at before
the plan was fixed). With --before SRC the same cases also run on the code in SRC (a
checkout of the commit before this work) in a child process, same data.

Writes small_data.json and small_data.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# name -> (f, domain, structure overrides); every f is monotone on its domain
SHAPES = {
    # tuning set (the plan was chosen on these, seed 0, noise 0 and 0.03)
    "hill": (lambda x: x**2 / (x**2 + 9), (0.0, 10.0), ["activation=pd"]),
    "exp": (np.exp, (-1.0, 2.0), ["activation=pd"]),
    "log": (np.log, (0.5, 10.0), ["activation=pd"]),
    "sqrt": (np.sqrt, (0.0, 4.0), ["activation=pd"]),
    "tanh": (lambda x: np.tanh(2 * x), (-1.5, 1.5), ["activation=pd"]),
    # held out
    "dose_response": (lambda d: 1 / (1 + (3.0 / d) ** 1.2), (0.2, 20.0), ["activation=pd"]),
    "logistic": (lambda x: 1 / (1 + np.exp(-(x - 5))), (0.0, 10.0), ["activation=pd"]),
    "michaelis": (lambda s: 2 * s / (0.5 + s), (0.05, 5.0), ["activation=pd"]),
    "power": (lambda x: x**1.5, (0.0, 3.0), ["activation=pd"]),
    "arctan": (np.arctan, (-3.0, 3.0), ["activation=pd"]),
    "gompertz": (lambda t: np.exp(-2 * np.exp(-t)), (-1.0, 4.0), ["activation=pd"]),
    "decay": (lambda t: 5 * np.exp(-t / 2), (0.0, 6.0),
              ["activation=monotone_in", "activation.decreasing=[x]"]),
    "thermistor": (lambda r: 1 / (1 / 298.15 + np.log(r / 1e4) / 3950) - 273.15,
                   (1e3, 3e4), ["activation=monotone_in", "activation.decreasing=[x]"]),
    "soft_clip": (lambda x: 0.8 * np.tanh(x), (-2.0, 2.0), ["activation=lipschitz"]),
}
TUNING = ["hill", "exp", "log", "sqrt", "tanh"]
HELD_OUT = [s for s in SHAPES if s not in TUNING]


def cases(quick: bool) -> list[dict]:
    out = [dict(set="tuning", shape=s, n=8, noise=noise, seed=0)
           for s in TUNING for noise in (0.0, 0.03)]
    for shape in HELD_OUT:
        for noise in ((0.01,) if quick else (0.0, 0.01, 0.05)):
            out.append(dict(set="held-out", shape=shape, n=8, noise=noise, seed=1))
    if not quick:  # a few dozen rows, and other seeds
        for shape in ("dose_response", "gompertz", "decay"):
            for n in (20, 40):
                out.append(dict(set="held-out", shape=shape, n=n, noise=0.02, seed=2))
    return out


def sample(case: dict) -> tuple[np.ndarray, np.ndarray]:
    f, (a, b), _ = SHAPES[case["shape"]]
    rng = np.random.default_rng(case["seed"] + 1000 * case["n"])
    if case["shape"] in ("thermistor", "dose_response"):  # sampled on a log scale
        x = np.sort(np.exp(rng.uniform(np.log(a), np.log(b), case["n"])))
    else:
        x = np.sort(rng.uniform(a, b, case["n"]))
    x[0], x[-1] = a, b
    y = f(x)
    return x, y + rng.normal(0, case["noise"] * (y.max() - y.min()), case["n"])


def run_case(case: dict, tmp: Path) -> dict:
    """Train one case in this process (the code importable here) and score it."""
    import torch

    from jacnet_cli.core.evaluation import predict
    from jacnet_cli.run.configs import compose
    from jacnet_cli.run.experiment import Experiment

    torch.set_num_threads(1)
    f, _, structure = SHAPES[case["shape"]]
    x, y = sample(case)
    path = tmp / f"{case['shape']}-{case['n']}-{case['noise']}-{case['seed']}.csv"
    path.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
    cfg = compose(["data=file", f"data.path={path}", "data.x=[x]", "data.y=[y]",
                   f"seed={case['seed']}", "plots=false", *structure])
    run = Experiment(cfg, None)
    run.build()
    start = time.perf_counter()
    run.trainer.run()
    seconds = time.perf_counter() - start
    grid = np.linspace(x.min(), x.max(), 401)
    with torch.no_grad():
        pred = predict(run.model, torch.from_numpy(grid)[:, None])[:, 0].numpy()
    truth = f(grid)
    xt, yt = run.data.x_train.numpy()[:, 0], run.data.y_train.numpy()[:, 0]
    if run.data.x_val is not None:  # the rows it saw: training and validation
        xt = np.concatenate([xt, run.data.x_val.numpy()[:, 0]])
        yt = np.concatenate([yt, run.data.y_val.numpy()[:, 0]])
    cubic = np.polyval(np.polyfit(xt, yt, 3), grid)
    cubic_all = np.polyval(np.polyfit(x, y, 3), grid)
    return {**case, "rows_seen": int(len(xt)), "mae": float(np.abs(pred - truth).mean()),
            "cubic_mae": float(np.abs(cubic - truth).mean()),
            "cubic_all_mae": float(np.abs(cubic_all - truth).mean()),
            "train_s": seconds, "regime": run.plan.regime,
            "validation_rows": 0 if run.data.x_val is None else int(run.data.x_val.shape[0])}


def worker(args: argparse.Namespace) -> None:
    """Child mode: run the cases in args.cases (JSON) and print one JSON line each."""
    import jacnet_cli

    print(f"# code: {Path(jacnet_cli.__file__).parent}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for case in json.loads(args.cases):
            print(json.dumps(run_case(case, Path(tmp))), flush=True)


def run_all(todo: list[dict], src: Path | None) -> list[dict]:
    """The cases in a child process on the code in `src` (None: this checkout), run as a
    script from a scratch folder so that `jacnet_cli` is the one on PYTHONPATH."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": str(src or ROOT)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--cases", json.dumps(todo)]
    with tempfile.TemporaryDirectory() as scratch:
        proc = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def summarise(rows: list[dict], label: str) -> list:
    ratio = np.array([r["mae"] / r["cubic_mae"] for r in rows])
    return [label, len(rows), f"{math.exp(np.log(ratio).mean()):.2f}", f"{np.median(ratio):.2f}",
            f"{ratio.max():.2f}", f"{int((ratio <= 2).sum())}/{len(rows)}",
            f"{np.median([r['train_s'] for r in rows]):.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", type=Path, default=None,
                        help="a checkout of the code before this work (run as PYTHONPATH)")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--cases", default="[]")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    sys.path.insert(0, str(ROOT))
    from jacnet_cli.plots.tables import markdown_table

    todo = cases(args.quick)
    results = {"after": run_all(todo, None)}
    if args.before is not None:
        results["before"] = run_all(todo, args.before)
    results["load_average"] = os.getloadavg()[0]
    (HERE / "small_data.json").write_text(json.dumps(results, indent=1) + "\n")
    head = ["code", "cases", "MAE / cubic (geomean)", "median", "max", "within 2x",
            "train s (median)"]
    summary = []
    for code in ("before", "after"):
        for part in ("tuning", "held-out"):
            rows = [r for r in results.get(code, []) if r["set"] == part]
            if rows:
                summary.append(summarise(rows, f"{code}, {part}"))
    detail_head = ["set", "shape", "n", "noise", "seen", "cubic MAE", "before MAE",
                   "after MAE", "after / cubic", "regime", "train s before", "train s after"]
    detail = []
    before = {(r["shape"], r["n"], r["noise"], r["seed"]): r for r in results.get("before", [])}
    for r in results["after"]:
        b = before.get((r["shape"], r["n"], r["noise"], r["seed"]))
        detail.append([r["set"], r["shape"], r["n"], r["noise"], r["rows_seen"],
                       f"{r['cubic_mae']:.4g}", f"{b['mae']:.4g}" if b else "-",
                       f"{r['mae']:.4g}", f"{r['mae'] / r['cubic_mae']:.2f}", r["regime"],
                       f"{b['train_s']:.1f}" if b else "-", f"{r['train_s']:.1f}"])
    text = ["# Small files against a cubic polynomial (issue 27, point 1)", "",
            "Error: MAE against the true curve on 401 points over the rows' span; the cubic",
            "is fitted to the same rows the model trained on (training and validation).",
            f"Load average during the run: {results['load_average']:.1f} (2 cores, shared).",
            "Reproduce: `.venv/bin/python -m benchmarks.newcomer27.small_data --before SRC`",
            "", markdown_table(head, summary), "", markdown_table(detail_head, detail), ""]
    (HERE / "small_data.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
