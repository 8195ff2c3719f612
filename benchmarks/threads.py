"""Section 10: `runtime.threads` through the command line: the default against the paper's
integrator, quiet and with every core busy.

Per seed, interleaved, each a fresh `jacnet train target=exp activation=pd seed=S
plots=false progress=false` process in its own hydra.run.dir under a temporary folder:

- default: `runtime.threads=auto` (one thread for the paper's small steps), GL 32;
- paper: `experiment=paper_faithful` (odeint_adjoint + dopri5, tolerance annealing);
- default_2t: the default with `runtime.threads=2`, for contrast.

Each run's own `train_time_s` (sum of its step times, from metrics.json) is the measure;
ratio = paper / default per seed (each variant's fastest of `repeats` runs). Done twice: as
the machine is ("quiet": not guaranteed on a shared machine, the load averages are recorded),
and with one busy process (`python -c "while True: pass"`) per core (os.cpu_count()),
started before and killed after.

Target (issue 9 item 8): ratio >= 20x on every seed in both conditions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import loadavg, median

BIN = Path(sys.executable).parent
BAR = 20.0
BASE = ["target=exp", "activation=pd", "plots=false", "progress=false"]
VARIANTS = {
    "default": [],
    "paper": ["experiment=paper_faithful"],
    "default_2t": ["runtime.threads=2"],
}


def _train(args: list[str], run_dir: Path) -> dict:
    cmd = [str(BIN / "jacnet"), "train", *BASE, *args, f"hydra.run.dir={run_dir}"]
    proc = subprocess.run(cmd, cwd=run_dir.parent, capture_output=True, text=True)
    metrics = run_dir / "metrics.json"
    if proc.returncode != 0 or not metrics.is_file():
        return {"error": (proc.stderr or proc.stdout)[-400:]}
    m = json.loads(metrics.read_text())
    return {"train_time_s": m["train_time_s"], "threads": m.get("threads"),
            "test_mae": m.get("test_mae")}


def _condition(seeds: list[int], repeats: int, tmp: Path, label: str) -> dict:
    runs: dict[str, dict[int, list[dict]]] = {v: {s: [] for s in seeds} for v in VARIANTS}
    load_start = loadavg()
    for rep in range(repeats):
        for seed in seeds:
            for name, args in VARIANTS.items():
                r = _train([f"seed={seed}", *args], tmp / f"{label}-{name}-{seed}-{rep}")
                r["load"] = loadavg()
                runs[name][seed].append(r)
    per_seed = []
    for seed in seeds:
        best = {}
        for name in VARIANTS:
            times = [r["train_time_s"] for r in runs[name][seed] if "train_time_s" in r]
            best[name] = min(times) if times else None
        row = {"seed": seed, **{f"{n}_s": best[n] for n in VARIANTS},
               "threads": {n: runs[n][seed][0].get("threads") for n in VARIANTS}}
        if best["default"] and best["paper"]:
            row["ratio"] = best["paper"] / best["default"]
        if best["default_2t"] and best["paper"]:
            row["ratio_2t"] = best["paper"] / best["default_2t"]
        per_seed.append(row)
        print(f"  {label:5s} seed {seed}: default {best['default']:.3f}s, paper "
              f"{best['paper']:.3f}s, threads=2 {best['default_2t']:.3f}s: x{row.get('ratio', 0):.1f}"
              f" (threads=2 x{row.get('ratio_2t', 0):.1f})", flush=True)
    errors = {f"{n}/{s}": r["error"] for n in VARIANTS for s in seeds for r in runs[n][s]
              if "error" in r}
    ratios = [r["ratio"] for r in per_seed if "ratio" in r]
    return {"per_seed": per_seed, "runs": runs, "errors": errors,
            "load_start": load_start, "load_end": loadavg(),
            "min_ratio": min(ratios) if len(ratios) == len(seeds) else None,
            "median_ratio": median(ratios)}


def _busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def run(seeds: list[int], repeats: int) -> dict:
    out: dict = {"seeds": seeds, "repeats": repeats, "variants": VARIANTS,
                 "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="jacnet-bench-threads-") as tmp:
        tmp_path = Path(tmp)
        out["quiet"] = _condition(seeds, repeats, tmp_path, "quiet")
        procs = _busy(os.cpu_count() or 1)
        try:
            time.sleep(1.0)  # let them reach the run queue
            out["busy"] = _condition(seeds, repeats, tmp_path, "busy")
        finally:
            for p in procs:  # only the processes started here
                p.kill()
            for p in procs:
                p.wait()
    out["busy_processes"] = os.cpu_count() or 1
    mins = [out[c]["min_ratio"] for c in ("quiet", "busy")]
    out["target_met"] = all(m is not None and m >= BAR for m in mins)
    return out
