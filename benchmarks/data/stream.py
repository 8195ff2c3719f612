"""Training and evaluation throughput and peak memory on users' files, 10⁴ to 10⁶ rows.

Each size is a CSV of 100 input columns and one output (y = a monotone function of the first
input plus a smooth function of the others), trained for one epoch through the command line
(`jacnet train data=file ... data.stream=true batch_size=1024 epochs=1`) with `monotone_in` in
the first input, in a fresh process whose peak resident memory (ru_maxrss) is read when it
ends. Rows per second come from the run's own metrics.json: training rows / train_time_s,
and rows evaluated (every split, in chunks) / errors_time_s (the error pass; the guarantee
measurement, on a fixed number of points, is apart). The file's first conversion into
the binary cache is timed apart (a second run reuses the cache).

    python -m benchmarks.data.stream [--sizes 10000 100000 1000000] [--out DIR]

Writes RESULTS_stream.md and results_stream.json (RESULTS_cuda.md and results_cuda.json
with --device cuda); RESULTS.md and results.json belong to `benchmarks.data.compare`
(issue 20: the CSV reader before and after, in-memory tables).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jacnet_cli.plots.tables import markdown_table

COLUMNS = 100


def make_csv(path: Path, rows: int, seed: int = 0, chunk: int = 100_000) -> Path:
    """A CSV of `rows` rows, written in chunks (bounded memory)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=COLUMNS - 1) / np.sqrt(COLUMNS)
    with open(path, "w") as f:
        f.write(",".join([f"x{i}" for i in range(COLUMNS)] + ["y"]) + "\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            x = rng.uniform(-1, 1, (n, COLUMNS))
            y = np.tanh(2 * x[:, 0]) + np.sin(x[:, 1:] @ w)
            np.savetxt(f, np.column_stack([x, y]), delimiter=",", fmt="%.6g")
    return path


def run(path: Path, out: Path, cache: Path, threads: int, device: str = "cpu") -> dict:
    args = [sys.executable, "-m", "jacnet_cli", "train", "data=file", f"data.path={path}",
            "data.x=[" + ",".join(f"x{i}" for i in range(COLUMNS)) + "]", "data.y=[y]",
            "data.stream=true", "data.val_fraction=0.1", "batch_size=1024", "epochs=1",
            "iterations=null", "activation=monotone_in", "activation.inputs=[x0]",
            "model.hidden=64", "plots=false", "progress=false", f"runtime.threads={threads}",
            f"hydra.run.dir={out}", "overwrite=true", "data.guarantee_points=2000",
            f"device={device}"]
    env = {**os.environ, "JACNET_CACHE": str(cache)}
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err}")
    m = json.loads((out / "metrics.json").read_text())
    evaluated = sum(m.get(f"{s}_rows", 0) for s in ("train", "val", "test"))
    return {"wall_s": wall, "train_rows": m["train_rows"], "train_time_s": m["train_time_s"],
            "train_rows_per_s": m["train_rows"] / m["train_time_s"],
            "eval_rows": evaluated, "eval_time_s": m["eval_time_s"],
            "eval_rows_per_s": evaluated / m["errors_time_s"],
            "maxrss_children_mb": usage.ru_maxrss / 1024, "test_mae": m["test_mae"],
            "partial_min": m["partial_min"], "guarantee_held": m["guarantee_held"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.data.stream",
                                     description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--device", default="cpu",
                        help="cpu (files: RESULTS_stream.md) or cuda (files: RESULTS_cuda.md)")
    args = parser.parse_args(argv)
    suffix = "_stream" if args.device == "cpu" else f"_{args.device}"
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for rows in args.sizes:
            csv = make_csv(tmp / f"rows{rows}.csv", rows)
            size_mb = csv.stat().st_size / 2**20
            cache = tmp / f"cache{rows}"
            # Each measurement in its own process: ru_maxrss of children is the largest so
            # far, so sizes run in increasing order and a fresh interpreter measures each.
            first = _measure(csv, tmp / f"run{rows}a", cache, args.threads, args.device)
            again = _measure(csv, tmp / f"run{rows}b", cache, args.threads, args.device)
            row = {"rows": rows, "columns": COLUMNS + 1, "csv_mb": size_mb,
                   "first_run": first, "cached_run": again}
            print(json.dumps(row), flush=True)
            results.append(row)
    (args.out / f"results{suffix}.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["# Own data: throughput and memory", "",
             f"`python -m benchmarks.data.stream --device {args.device}` on "
             f"{_device_name(args.device)} ({os.cpu_count()} cores, {args.threads} torch threads), "
             f"{COLUMNS} inputs + 1 output, CSV, `data.stream=true batch_size=1024 epochs=1`, "
             "`activation=monotone_in activation.inputs=[x0]` (exact), float64. Peak RSS is the "
             "training process's ru_maxrss (the cached run reads the converted file; the first "
             "run also converts the CSV).", "", table(results)]
    (args.out / f"RESULTS{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def table(results: list[dict]) -> str:
    """One row per size: the first run's wall time and memory, the cached run's rates."""
    header = ["rows", "CSV MB", "first run s (incl. conversion)", "train rows/s", "eval rows/s",
              "peak RSS MB (first / cached)", "test MAE", "partial_min"]
    rows = []
    for r in results:
        a, b = r["first_run"], r["cached_run"]
        rows.append([f"{r['rows']:.0e}", f"{r['csv_mb']:.0f}", f"{a['wall_s']:.1f}",
                     f"{b['train_rows_per_s']:.0f}", f"{b['eval_rows_per_s']:.0f}",
                     f"{a['maxrss_children_mb']:.0f} / {b['maxrss_children_mb']:.0f}",
                     f"{b['test_mae']:.3g}", f"{b['partial_min']:.2g}"])
    return markdown_table(header, rows)


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"this machine's {torch.cuda.get_device_name(0)}"
    return "this machine"


def _measure(csv: Path, out: Path, cache: Path, threads: int, device: str = "cpu") -> dict:
    """One run in a child of a fresh interpreter, so ru_maxrss is this run's alone."""
    code = ("import json, sys; from pathlib import Path; from benchmarks.data.stream import run; "
            f"print(json.dumps(run(Path({str(csv)!r}), Path({str(out)!r}), "
            f"Path({str(cache)!r}), {threads}, {device!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
