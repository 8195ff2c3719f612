"""Issue 19's figures: a newcomer's first hour, before (commit 1d7ea32) and after.

    .venv/bin/python -m benchmarks.newcomer [--quick] [--before PATH_TO_OLD_VENV_BIN]

1. End to end: `jacnet train` (the default task) with plots off and on, against
   `python -c "import torch"`, each a fresh process, interleaved, median of `reps`.
2. Threads on a busy machine: the README's attenu and Engel examples with
   `runtime.threads=auto` against `=1`, with one busy process per core.
3. The README's n-D commands typed as shown: test dB.
4. Files fitted with the defaults against the same model trained to convergence by hand
   (1-D steam-like data with `pd`, 2-input monotone data with `monotone_in`, an invertible 2-D
   map with `invertible`): test MAE ratio.
5. A float64 run with optim.lr=1e30 exits 1 with status failed.

Every timing runs under an exclusive lock on /work/bench/timing.lock when that folder exists
(other benchmarks share the machine). Writes benchmarks/newcomer.json and NEWCOMER.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
AFTER = Path(sys.executable).parent
LOCK = Path("/work/bench/timing.lock")
#: the code before this work, importable from here (its venv may point at the working tree)
FROZEN = {"PYTHONPATH": os.environ.get("JACNET_BEFORE_SRC", "/work/frozen")}


def timing_lock():
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import timing_lock as lock

    return lock(LOCK)


def load() -> float:
    return os.getloadavg()[0]


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    return time.perf_counter() - start, proc


def metrics(run: Path) -> dict:
    path = run / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {}


# ------------------------------------------------------------------ 1. end to end


def end_to_end(reps: int, before: Path | None, tmp: Path) -> dict:
    rows: dict[str, list[float]] = {}
    cmds = {'python -c "import torch"': [str(AFTER / "python"), "-c", "import torch"]}
    for label, bin_dir in (("after", AFTER), ("before", before)):
        if bin_dir is None:
            continue
        cmds[f"{label}: jacnet train plots=false"] = [str(bin_dir / "jacnet"), "train", "plots=false"]
        cmds[f"{label}: jacnet train"] = [str(bin_dir / "jacnet"), "train"]
    with timing_lock():
        loads = [load()]
        for rep in range(reps):
            for name, cmd in cmds.items():
                run_dir = tmp / f"e2e-{len(rows.get(name, []))}-{abs(hash(name))}"
                extra = [f"hydra.run.dir={run_dir}"] if "jacnet" in name else []
                seconds, proc = timed(cmd + extra, tmp, FROZEN if name.startswith("before") else None)
                if proc.returncode != 0:
                    raise RuntimeError(f"{name}: {proc.stderr[-400:]}")
                rows.setdefault(name, []).append(seconds)
        loads.append(load())
    med = {k: statistics.median(v) for k, v in rows.items()}
    torch_s = med['python -c "import torch"']
    return {"reps": reps, "load": loads, "median_s": med,
            "over_import_torch": {k: v / torch_s for k, v in med.items()}}


# ------------------------------------------------------------------ 2. busy machine


EXAMPLES = {
    "attenu": ["data=file", "data.path=examples/attenu.csv", "data.x=[mag,dist]", "data.y=[accel]",
               "activation=monotone_in", "activation.inputs=[mag]", "activation.decreasing=[dist]"],
    "engel": ["data=file", "data.path=examples/engel.csv", "data.x=[income]", "data.y=[foodexp]",
              "activation=pd"],
}


def busy(reps: int, before: Path | None, tmp: Path) -> dict:
    out: dict = {}
    with timing_lock():  # the busy processes too: other benchmarks' timings must not see them
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() or 1)]
        try:
            time.sleep(2)
            out["load_start"] = load()
            for name, args in EXAMPLES.items():
                for label, bin_dir, extra in (("after", AFTER, []),
                                              ("before", before, ["iterations=500"])):
                    if bin_dir is None:
                        continue
                    for threads in ("auto", "1"):
                        times = []
                        for rep in range(reps):
                            run = tmp / f"busy-{name}-{label}-{threads}-{rep}"
                            seconds, proc = timed([str(bin_dir / "jacnet"), "train", *args, *extra,
                                                   f"runtime.threads={threads}", "plots=false",
                                                   f"hydra.run.dir={run}"], ROOT,
                                                  FROZEN if label == "before" else None)
                            if proc.returncode != 0:
                                raise RuntimeError(f"{name} {label}: {proc.stderr[-400:]}")
                            times.append(seconds)
                        m = metrics(run)
                        out[f"{name}/{label}/threads={threads}"] = {
                            "median_s": statistics.median(times), "threads_used": m.get("threads"),
                            "test_mae": m.get("test_mae")}
                    key = f"{name}/{label}"
                    out[key + "/auto_over_1"] = (out[key + "/threads=auto"]["median_s"]
                                                 / out[key + "/threads=1"]["median_s"])
            out["load_end"] = load()
        finally:
            for hog in hogs:
                hog.kill()
    return out


# ------------------------------------------------------------------ 3. README n-D commands


README_ND = {
    "icgn_convex monotone": ["target=icgn_convex", "activation=monotone"],
    "polymax d=32 monotone": ["target=polymax", "target.dim=32", "activation=monotone"],
    "rotated_tanh invertible": ["target=rotated_tanh", "activation=invertible"],
    "ortho_ridge lipschitz": ["target=ortho_ridge", "activation=lipschitz"],
}


def readme_nd(tmp: Path) -> dict:
    out = {}
    for name, args in README_ND.items():
        run = tmp / ("nd-" + name.replace(" ", "_").replace("=", ""))
        seconds, proc = timed([str(AFTER / "jacnet"), "train", *args, "plots=false",
                               f"hydra.run.dir={run}"], ROOT)
        m = metrics(run)
        out[name] = {"test_mse_db": m.get("test_mse_db"), "seconds": seconds,
                     "guarantee_held": m.get("guarantee_held"), "iterations": m.get("iterations")}
        print(f"  {name}: {out[name]}", flush=True)
    return out


# ------------------------------------------------------------------ 4. files vs by hand


def _csv(path: Path, header: list[str], table: np.ndarray) -> Path:
    np.savetxt(path, table, delimiter=",", header=",".join(header), comments="", fmt="%.12g")
    return path


def files(tmp: Path, only: list[str] | None = None, previous: dict | None = None) -> dict:
    rng = np.random.default_rng(0)
    t = rng.uniform(300, 600, 400)  # steam-like: enthalpy rising and curving with temperature
    h = 2500 + 1.9 * (t - 300) + 2e-3 * (t - 300) ** 2 + 40 * np.tanh((t - 450) / 30)
    steam = _csv(tmp / "steam.csv", ["T", "h"], np.column_stack([t, h + rng.normal(0, 0.5, t.size)]))
    x = rng.uniform(-2, 2, (600, 2))
    y = np.tanh(2 * x[:, 0]) + 0.5 * x[:, 1] + rng.normal(0, 0.1, 600)
    mono = _csv(tmp / "mono.csv", ["a", "b", "y"], np.column_stack([x, y]))
    sys.path.insert(0, str(ROOT))
    import torch

    from jacnet_cli.core.targets import RotatedTanh

    z = rng.uniform(-1, 1, (2000, 2))
    w = RotatedTanh()(torch.tensor(z)).numpy() + rng.normal(0, 0.01, (2000, 2))
    inv = _csv(tmp / "inv.csv", ["x1", "x2", "y1", "y2"], np.column_stack([z, w]))
    cases = {
        "steam h(T), pd": [f"data.path={steam}", "data.x=[T]", "data.y=[h]", "activation=pd"],
        "2-input monotone_in": [f"data.path={mono}", "data.x=[a,b]", "data.y=[y]",
                                "activation=monotone_in", "activation.inputs=[a,b]"],
        "invertible 2-D map": [f"data.path={inv}", "data.x=[x1,x2]", "data.y=[y1,y2]",
                               "activation=invertible"],
    }
    # By hand: the same model, many more full passes, the learning rate chosen on validation.
    # (3000 epochs for the small files; 400 for the 2000-row map, where one epoch is 44 steps:
    # 17,600 steps, as many as the 400-row files get from 3000 epochs of 6 batches)
    by_hand_epochs = {"invertible 2-D map": 400}
    out = {}
    for name, args in cases.items():
        if only and not any(name.startswith(o) for o in only):
            if previous and name in previous:
                out[name] = previous[name]
            continue
        n = by_hand_epochs.get(name, 3000)
        by_hand = [[f"epochs={n}", f"patience={n}", f"optim.lr={lr}"] for lr in (0.01, 0.003, 0.001)]
        if name.startswith("steam"):  # its default is the full batch: by hand, batches of 32 too
            by_hand += [[*h, "batch_size=32"] for h in by_hand]
        base = ["data=file", "plots=false", "data.split_seed=0", *args]
        run = tmp / f"file-{len(out)}-default"
        seconds, _ = timed([str(AFTER / "jacnet"), "train", *base, f"hydra.run.dir={run}"], ROOT)
        default = metrics(run)
        best = None
        for i, extra in enumerate(by_hand):
            run = tmp / f"file-{len(out)}-hand{i}"
            timed([str(AFTER / "jacnet"), "train", *base, *extra, f"hydra.run.dir={run}"], ROOT)
            m = metrics(run)
            if m.get("val_mse_db") is not None and (best is None or m["val_mse_db"] < best["val_mse_db"]):
                best = m
        out[name] = {"default_test_mae": default.get("test_mae"), "default_seconds": seconds,
                     "default_iterations": default.get("iterations"),
                     "hand_test_mae": best.get("test_mae") if best else None,
                     "hand_iterations": best.get("iterations") if best else None,
                     "ratio": (default["test_mae"] / best["test_mae"]) if best else None}
        print(f"  {name}: {out[name]}", flush=True)
    return out


# ------------------------------------------------------------------ 5. divergence


def divergence(tmp: Path) -> dict:
    run = tmp / "lr1e30"
    _, proc = timed([str(AFTER / "jacnet"), "train", "optim.lr=1e30", "dtype=float64",
                     "plots=false", f"hydra.run.dir={run}"], ROOT)
    m = metrics(run)
    return {"exit_code": proc.returncode, "status": m.get("status"), "reason": m.get("reason")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", type=Path, default=Path("/work/proto/.venv/bin"))
    parser.add_argument("--parts", default="e2e,busy,nd,files,diverge")
    parser.add_argument("--cases", default="", help="files: only the cases starting so (comma-separated)")
    args = parser.parse_args()
    before = args.before if (args.before / "jacnet").is_file() else None
    reps = 3 if args.quick else 7
    parts = args.parts.split(",")
    out: dict = {"machine": {"cpus": os.cpu_count(), "load_start": load()}}
    path = ROOT / "benchmarks" / "newcomer.json"
    if path.is_file():
        out.update({k: v for k, v in json.loads(path.read_text()).items() if k not in parts})
    with tempfile.TemporaryDirectory(prefix="jacnet-newcomer-") as name:
        tmp = Path(name)
        if "e2e" in parts:
            out["e2e"] = end_to_end(reps, before, tmp)
            print(json.dumps(out["e2e"]["over_import_torch"], indent=1), flush=True)
        if "busy" in parts:
            out["busy"] = busy(1 if args.quick else 3, before, tmp)
            print(json.dumps(out["busy"], indent=1), flush=True)
        if "nd" in parts:
            out["nd"] = readme_nd(tmp)
        if "files" in parts:
            old = json.loads(path.read_text()).get("files") if path.is_file() else None
            out["files"] = files(tmp, [c for c in args.cases.split(",") if c], old)
        if "diverge" in parts:
            out["diverge"] = divergence(tmp)
            print(out["diverge"], flush=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
