"""Issue 20, before and after the new CSV reader: read time and memory, one-epoch training
from a file, a bare PyTorch loop beside it, and where evaluation time goes.

"Before" is the code at commit 1d7ea32 (a worktree, `--old-path`, run by `--old-python`);
"after" is this working tree (`--new-python`, by default the interpreter running this).
Both take the same synthetic CSV: N rows x 11 numeric columns (x0..x9 standard normal,
y = tanh(x0) + x0/2 + 0.3 sin(w . x1..9) + noise), written with 6 decimals (~104.5 bytes a
row; 10^6 rows = 104.5 MB), generated once into `--data`.

Measured, each in a fresh subprocess, every timing under an exclusive lock on `--lock`
(other benchmarks on a shared machine take the same lock), one thread:

1. reads: the old `jacnet_cli.tables.read_csv`, the new `jacnet_cli.data.tables.read_table`
   and `np.loadtxt(delimiter=",", skiprows=1)`, interleaved (the order rotates every
   repeat); time (wall and CPU) and peak memory above the process's resident memory just
   before the read (the peak is reset there through /proc/self/clear_refs; VmHWM after).
2. `jacnet train data=file ... activation=monotone_in activation.inputs=[x0] epochs=1
   batch_size=1024 loss=mse data.val_fraction=0.15 patience=null data.stream=false
   plots=false runtime.threads=1` (old: `iterations=null` too), on N rows and on 1,000 rows:
   the command's wall and CPU time and peak RSS (wait4's ru_maxrss), and metrics.json's
   train_time_s, eval_time_s, errors_time_s, wall_time_s.
3. a bare loop: np.loadtxt, the same split sizes, standardised, the same network (built by
   `jacnet_cli.run.build.model` from the after run's config) and jacnet's Adam, one epoch of
   1024-row batches, then one validation loss.
4. bit-for-bit equality of the new reader's (and the old one's) table with np.loadtxt's.
5. (full run) the after version's evaluation at the largest N, profiled by part.

    .venv/bin/python -m benchmarks.data.compare            # writes benchmarks/data/results.json
    .venv/bin/python -m benchmarks.data.compare --quick    # 10^4 rows, one repeat, no file
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from jacnet_cli.plots.tables import markdown_table

from benchmarks.common import SCRATCH, TIMING_LOCK

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]  # the repository
COLUMNS = 11  # 10 inputs, 1 output
BATCH = 1024
SMALL = 1000  # the reference file's rows (memory target)
READERS = ("old", "new", "loadtxt")
VERSIONS = ("old", "new")


# ---------------------------------------------------------------------------------------
# data


def make_csv(path: Path, rows: int, seed: int = 0, chunk: int = 100_000) -> Path:
    """The synthetic file (deterministic in rows and seed); kept when it exists."""
    if path.is_file() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = np.linspace(0.1, 1.0, 9)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(",".join([f"x{i}" for i in range(COLUMNS - 1)] + ["y"]) + "\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            x = rng.standard_normal((n, COLUMNS - 1))
            y = (np.tanh(x[:, 0]) + 0.5 * x[:, 0] + 0.3 * np.sin(x[:, 1:] @ w)
                 + 0.05 * rng.standard_normal(n))
            np.savetxt(f, np.column_stack([x, y]), delimiter=",", fmt="%.6f")
    tmp.rename(path)
    return path


# ---------------------------------------------------------------------------------------
# the machine and the lock


def loadavg() -> list[float]:
    return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]


class Lock:
    """The shared timing lock (fcntl.flock on a file), held per measurement."""

    def __init__(self, path: Path):
        self.path = path
        self.waited = 0.0

    @contextmanager
    def held(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            start = time.perf_counter()
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            self.waited += time.perf_counter() - start
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def env_for(version: str, old_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONHASHSEED="0")
    if version == "old":
        env["PYTHONPATH"] = str(old_path)
    return env


def run_child(args: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Run a command; its wall time, CPU time and peak RSS (wait4), and its output."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # communicate() first (pipes), then wait4 for this child's own rusage
    out, err = _drain(proc)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{err[-4000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "maxrss_mb": usage.ru_maxrss / 1024, "stdout": out, "stderr": err}


def _drain(proc: subprocess.Popen) -> tuple[str, str]:
    """Read both pipes to the end without reaping the child (so wait4 still can)."""
    import threading

    chunks: dict[str, str] = {}

    def read(name: str, stream) -> None:
        chunks[name] = stream.read()

    threads = [threading.Thread(target=read, args=(n, s))
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return chunks["out"], chunks["err"]


# ---------------------------------------------------------------------------------------
# 1. reads


READ_CODE = r"""
import json, sys, time
impl, path, save = sys.argv[1], sys.argv[2], sys.argv[3]
import numpy as np
if impl == "old":
    from jacnet_cli.tables import read_csv
    import jacnet_cli.tables as where
    read = lambda: read_csv(path)[1]
elif impl == "new":
    from jacnet_cli.data.tables import read_table
    import jacnet_cli.data.tables as where
    read = lambda: read_table(path)[1]
else:
    where = np
    read = lambda: np.loadtxt(path, delimiter=",", skiprows=1)

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])  # kB

try:
    open("/proc/self/clear_refs", "w").write("5")  # the peak is reset to the current RSS
    reset = True
except OSError:
    reset = False
import resource
before_rss, before_max = status("VmRSS"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0, c0 = time.perf_counter(), time.process_time()
values = read()
t1, c1 = time.perf_counter(), time.process_time()
hwm, after_max = status("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if save:
    np.save(save, values)
print(json.dumps({"time_s": t1 - t0, "cpu_s": c1 - c0, "reset": reset,
                  "peak_mb": (hwm - before_rss) / 1024 if reset else None,
                  "maxrss_delta_mb": (after_max - before_max) / 1024,
                  "baseline_rss_mb": before_rss / 1024, "shape": list(values.shape),
                  "module": getattr(where, "__file__", None), "sum": float(values.sum())}))
"""


def read_once(impl: str, csv: Path, cfg: argparse.Namespace, save: Path | None = None) -> dict:
    python = cfg.old_python if impl == "old" else cfg.new_python
    env = env_for("old" if impl == "old" else "new", cfg.old_path)
    res = run_child([str(python), "-c", READ_CODE, impl, str(csv), str(save or "")], env,
                    cfg.work)
    return json.loads(res["stdout"].strip().splitlines()[-1])


def check_equal(sizes: list[int], cfg: argparse.Namespace) -> list[dict]:
    """Each reader's table against np.loadtxt's, bit for bit (not timed)."""
    out = []
    tmp = cfg.work / "tables"
    tmp.mkdir(parents=True, exist_ok=True)
    for rows in sizes:
        csv = cfg.files[rows]
        saved = {}
        for impl in READERS:
            saved[impl] = tmp / f"{impl}_{rows}.npy"
            info = read_once(impl, csv, cfg, saved[impl])
            if impl != "loadtxt":
                print(f"  {impl} reader module: {info['module']}", flush=True)
        ref = np.load(saved["loadtxt"])
        row = {"rows": rows}
        for impl in ("old", "new"):
            got = np.load(saved[impl])
            row[f"{impl}_equal_bits"] = bool(got.shape == ref.shape and got.dtype == ref.dtype
                                              and np.array_equal(got.view(np.uint64),
                                                                 ref.view(np.uint64)))
            row[f"{impl}_shape"] = list(got.shape)
            row[f"{impl}_dtype"] = str(got.dtype)
            row[f"{impl}_c_contiguous"] = bool(got.flags.c_contiguous)
        for p in saved.values():
            p.unlink()
        print(f"  equality {row}", flush=True)
        out.append(row)
    return out


def reads(sizes: list[int], repeats: int, cfg: argparse.Namespace, lock: Lock) -> list[dict]:
    out = []
    for rep in range(repeats):
        for rows in sizes:
            order = READERS[rep % 3:] + READERS[:rep % 3]
            for impl in order:
                with lock.held():
                    load = loadavg()
                    r = read_once(impl, cfg.files[rows], cfg)
                r.update(rows=rows, reader=impl, repeat=rep, loadavg=load)
                out.append(r)
                print(f"  read {rows:>8} {impl:8} {r['time_s']:.3f} s (cpu {r['cpu_s']:.3f}) "
                      f"peak +{r['peak_mb']:.1f} MB  load {load[0]:.1f}", flush=True)
    return out


# ---------------------------------------------------------------------------------------
# 2. jacnet train


def train_args(version: str, csv: Path, run_dir: Path, cfg: argparse.Namespace,
               stream: bool = False) -> list[str]:
    """`jacnet train ...` for one version (the console script of its venv)."""
    python = cfg.old_python if version == "old" else cfg.new_python
    jacnet = Path(python).parent / "jacnet"
    args = [str(jacnet), "train", "data=file", f"data.path={csv}",
            "data.x=[" + ",".join(f"x{i}" for i in range(COLUMNS - 1)) + "]", "data.y=[y]",
            "activation=monotone_in", "activation.inputs=[x0]", "epochs=1",
            f"batch_size={BATCH}", "loss=mse", "patience=null", "data.val_fraction=0.15",
            f"data.stream={str(stream).lower()}", "plots=false", "progress=false",
            "runtime.threads=1",
            f"hydra.run.dir={run_dir}", "overwrite=true"]
    if version == "old":
        args.append("iterations=null")
    return args


# The same command through the same entry point (`jacnet_cli.cli.main`, as the console
# script calls it), with the run's phases timed in wall and CPU seconds by wrappers around
# the functions that do them (a few calls each, so the wrappers cost nothing measurable).
PHASES = {
    "old": [("jacnet_cli.tables", "read_table", "read"),
            ("jacnet_cli.data", "FileData.load", "load"),
            ("jacnet_cli.build", "training", "build"),
            ("jacnet_cli.training", "Trainer.run", "train"),
            ("jacnet_cli.metrics", "evaluate", "evaluate"),
            ("jacnet_cli.stream", "convert", "convert"),
            ("jacnet_cli.cli", "main", "main")],
    "new": [("jacnet_cli.data.tables", "read_table", "read"),
            ("jacnet_cli.data.files", "FileData.load", "load"),
            ("jacnet_cli.run.build", "training", "build"),
            ("jacnet_cli.run.training", "Trainer.run", "train"),
            ("jacnet_cli.run.metrics", "evaluate", "evaluate"),
            ("jacnet_cli.data.stream", "convert", "convert"),
            ("jacnet_cli.cli", "main", "main")],
}

PHASE_CODE = r"""
import atexit, functools, importlib, json, sys, time
t_process = time.perf_counter()
out_file, phases, args = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
spent = {}

def memory():  # (VmRSS, VmHWM) in MB: resident now, and the peak so far
    got = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS", "VmHWM")):
            got[line[:5]] = int(line.split()[1]) / 1024
    return got["VmRSS"], got["VmHWM"]

def timed(owner, name, label):
    inner = getattr(owner, name)
    @functools.wraps(inner)
    def wrapper(*a, **k):
        w, c = time.perf_counter(), time.process_time()
        rss_in, hwm_in = memory()
        try:
            return inner(*a, **k)
        finally:
            rec = spent.setdefault(label, {"wall_s": 0.0, "cpu_s": 0.0, "calls": 0})
            rec["wall_s"] += time.perf_counter() - w
            rec["cpu_s"] += time.process_time() - c
            rec["calls"] += 1
            rss_out, hwm_out = memory()
            # the peak was set inside this phase when it rose during it
            rec.update(rss_in_mb=rss_in, rss_out_mb=rss_out, hwm_in_mb=hwm_in,
                       hwm_out_mb=hwm_out)
    setattr(owner, name, wrapper)

for module, path, label in phases:
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for p in parents:
        owner = getattr(owner, p)
    timed(owner, name, label)
atexit.register(lambda: json.dump(spent, open(out_file, "w"), indent=1))
sys.argv = list(args)  # as the console script sees them: [jacnet, train, ...]
main = importlib.import_module("jacnet_cli.cli").main
sys.exit(main())
"""


METRIC_KEYS = ("train_time_s", "eval_time_s", "errors_time_s", "wall_time_s", "iterations",
               "test_mae", "test_rmse", "guarantee_held", "partial_min", "threads")


def train_once(version: str, rows: int, rep: int | str, cfg: argparse.Namespace, lock: Lock,
               stream: bool = False) -> dict:
    run_dir = cfg.work / "runs" / f"{version}_{rows}_{rep}"
    args = train_args(version, cfg.files[rows], run_dir, cfg, stream)
    python = cfg.old_python if version == "old" else cfg.new_python
    phase_file = cfg.work / "runs" / f"{version}_{rows}_{rep}.phases.json"
    phase_file.parent.mkdir(parents=True, exist_ok=True)
    env = env_for(version, cfg.old_path)
    if stream:  # each version its own binary cache, kept between its two runs
        env["JACNET_CACHE"] = str(cfg.work / "cache" / version)
    with lock.held():
        load = loadavg()
        res = run_child([str(python), "-c", PHASE_CODE, str(phase_file),
                         json.dumps(PHASES[version]), *args], env, cfg.work)
    m = json.loads((run_dir / "metrics.json").read_text())
    phases = json.loads(phase_file.read_text())
    row = {"rows": rows, "version": version, "repeat": rep, "loadavg": load,
           "wall_s": res["wall_s"], "cpu_s": res["cpu_s"], "maxrss_mb": res["maxrss_mb"],
           "run_dir": str(run_dir), "phases": phases, **{k: m.get(k) for k in METRIC_KEYS}}
    ph = {k: v["cpu_s"] for k, v in phases.items()}
    if stream:
        ph["read"] = ph.get("convert", 0.0)
    print(f"  train {rows:>8} {version}: wall {row['wall_s']:.1f} s cpu {row['cpu_s']:.1f} s "
          f"rss {row['maxrss_mb']:.0f} MB | metrics train {m['train_time_s']:.2f} eval "
          f"{m['eval_time_s']:.2f} (errors {m['errors_time_s']:.2f}) run {m['wall_time_s']:.2f}"
          f" | cpu read {ph.get('read', 0):.2f} build {ph.get('build', 0):.2f} train "
          f"{ph.get('train', 0):.2f} eval {ph.get('evaluate', 0):.2f} main {ph.get('main', 0):.2f}"
          f" | mae {m.get('test_mae', float('nan')):.4g} load {load[0]:.1f}", flush=True)
    return row


# ---------------------------------------------------------------------------------------
# 3. the bare loop


BARE_CODE = r"""
import json, sys, time
marks = [("start", time.perf_counter(), time.process_time())]
hwm = {}
def mark(name):
    marks.append((name, time.perf_counter(), time.process_time()))
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            hwm[name] = int(line.split()[1]) / 1024  # the peak so far, MB
path, config, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
import numpy as np, torch
from omegaconf import OmegaConf
from jacnet_cli.core.targets import Table
from jacnet_cli.run import build
torch.set_num_threads(1)
mark("imports")
values = np.loadtxt(path, delimiter=",", skiprows=1)  # (N, 11)
mark("read")
n = values.shape[0]
table = torch.from_numpy(values)
g = torch.Generator().manual_seed(0)
perm = torch.randperm(n, generator=g)
n_test, n_val = int(round(0.2 * n)), int(round(0.15 * n))
val_idx, train_idx = perm[n_test:n_test + n_val], perm[n_test + n_val:]
x, y = table[:, :10], table[:, 10:]
mx, sx = x[train_idx].mean(0), x[train_idx].std(0)
my, sy = y[train_idx].mean(0), y[train_idx].std(0)
xt, yt = (x[train_idx] - mx) / sx, (y[train_idx] - my) / sy
xv, yv = (x[val_idx] - mx) / sx, (y[val_idx] - my) / sy
cfg = OmegaConf.to_container(OmegaConf.load(config), resolve=True)
names = [f"x{i}" for i in range(10)]
frame = build.Frame(Table("bare", 10, 1), names, ["y"], None)
torch.manual_seed(0)
model = build.model(cfg, frame, (xt, yt)).to(dtype=torch.float64)
opt = build.optimizer(cfg, model)
mark("prep")
model.train()
order = torch.randperm(xt.shape[0], generator=g)
steps = 0
for start in range(0, xt.shape[0], batch):
    idx = order[start:start + batch]
    xb, yb = xt[idx], yt[idx]
    opt.zero_grad(set_to_none=True)
    loss = ((model(xb) - yb) ** 2).mean()
    loss.backward()
    opt.step()
    steps += 1
mark("loop")
model.eval()
with torch.no_grad():
    val = float(((model(xv) - yv) ** 2).mean())
mark("val")
out = {"steps": steps, "train_rows": int(xt.shape[0]), "val_loss": val, "loss": float(loss),
       "parameters": sum(p.numel() for p in model.parameters()),
       "optimizer": type(opt).__module__ + "." + type(opt).__name__}
for (_, w0, c0), (name, w1, c1) in zip(marks, marks[1:]):
    out[name + "_s"], out[name + "_cpu_s"] = w1 - w0, c1 - c0
out["total_s"] = marks[-1][1] - marks[1][1]  # read to the end (imports apart)
out["total_cpu_s"] = marks[-1][2] - marks[1][2]
out["hwm_after_mb"] = hwm
print(json.dumps(out))
"""


def bare_once(rows: int, rep: int, config: Path, cfg: argparse.Namespace, lock: Lock) -> dict:
    with lock.held():
        load = loadavg()
        res = run_child([str(cfg.new_python), "-c", BARE_CODE, str(cfg.files[rows]),
                         str(config), str(BATCH)], env_for("new", cfg.old_path), cfg.work)
    r = json.loads(res["stdout"].strip().splitlines()[-1])
    r.update(rows=rows, repeat=rep, loadavg=load, maxrss_mb=res["maxrss_mb"],
             process_wall_s=res["wall_s"])
    print(f"  bare  {rows:>8}: wall read {r['read_s']:.2f} prep {r['prep_s']:.2f} loop "
          f"{r['loop_s']:.2f} val {r['val_s']:.2f} | cpu read {r['read_cpu_s']:.2f} prep "
          f"{r['prep_cpu_s']:.2f} loop {r['loop_cpu_s']:.2f} val {r['val_cpu_s']:.2f} "
          f"({r['steps']} steps) rss {r['maxrss_mb']:.0f} MB load {load[0]:.1f}", flush=True)
    return r


# ---------------------------------------------------------------------------------------
# 5. where evaluation time goes


PROFILE_CODE = r"""
import json, sys, time, functools
from collections import defaultdict
out_file, args = sys.argv[1], sys.argv[2:]
import torch
from jacnet_cli.run import metrics
from jacnet_cli.core import guarantees
spent, cpu, calls = defaultdict(float), defaultdict(float), defaultdict(int)

def timed(owner, name, label):
    inner = getattr(owner, name)
    @functools.wraps(inner)
    def wrapper(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return inner(*a, **k)
        finally:
            spent[label] += time.perf_counter() - t
            cpu[label] += time.process_time() - c
            calls[label] += 1
    setattr(owner, name, wrapper)

timed(metrics, "errors", "errors (all splits + linear baseline)")
timed(metrics, "predict", "errors: model predictions (train, val, test)")
timed(metrics.Errors, "add", "errors: error sums")
timed(metrics.Linear, "add", "errors: linear baseline normal equations")
timed(metrics.Linear, "__call__", "errors: linear baseline predictions")
timed(guarantees, "measure", "guarantees on the data's box (measure)")
timed(guarantees, "measure_wide", "guarantees on the 3x box (measure_wide)")
timed(guarantees, "conservation", "conservation diagnostics (curl, path gaps)")
timed(guarantees, "curl", "conservation: curl (double backward)")
timed(metrics, "evaluate", "evaluate (total)")
from jacnet_cli.cli import main
try:
    main(["train", *args])
except SystemExit as exc:
    if exc.code not in (None, 0):
        raise
finally:
    json.dump({"seconds": spent, "cpu_seconds": cpu, "calls": calls}, open(out_file, "w"), indent=1)
"""


def profile_eval(rows: int, cfg: argparse.Namespace, lock: Lock) -> dict:
    run_dir = cfg.work / "runs" / f"profile_{rows}"
    args = train_args("new", cfg.files[rows], run_dir, cfg)[2:]
    out_file = cfg.work / f"profile_{rows}.json"
    with lock.held():
        load = loadavg()
        res = run_child([str(cfg.new_python), "-c", PROFILE_CODE, str(out_file), *args],
                        env_for("new", cfg.old_path), cfg.work)
    prof = json.loads(out_file.read_text())
    m = json.loads((run_dir / "metrics.json").read_text())
    prof.update(rows=rows, loadavg=load, wall_s=res["wall_s"],
                metrics={k: m.get(k) for k in METRIC_KEYS + ("guarantee_points",)})
    for k, v in sorted(prof["seconds"].items(), key=lambda kv: -kv[1]):
        print(f"  profile {rows}: {k}: {v:.2f} s wall, {prof['cpu_seconds'][k]:.2f} s CPU "
              f"({prof['calls'][k]} calls)", flush=True)
    return prof


# ---------------------------------------------------------------------------------------
# summaries


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def phase(r: dict, name: str, kind: str = "cpu_s") -> float:
    return r["phases"].get(name, {}).get(kind, 0.0)


def summarise(result: dict) -> dict:
    """Medians over repeats; ratios of medians; the four targets."""
    sizes = result["sizes"]
    s: dict = {"reads": [], "train": [], "targets": {}}
    for rows in sizes:
        by = {impl: [r for r in result["reads"] if r["rows"] == rows and r["reader"] == impl]
              for impl in READERS}
        lt = med([r["time_s"] for r in by["loadtxt"]])
        lt_min = min(r["time_s"] for r in by["loadtxt"])
        lt_cpu = med([r["cpu_s"] for r in by["loadtxt"]])
        for impl in READERS:
            rs = by[impl]
            s["reads"].append({
                "rows": rows, "reader": impl, "repeats": len(rs),
                "time_s": med([r["time_s"] for r in rs]),
                "time_min_s": min(r["time_s"] for r in rs),
                "time_max_s": max(r["time_s"] for r in rs),
                "cpu_s": med([r["cpu_s"] for r in rs]),
                "x_loadtxt": med([r["time_s"] for r in rs]) / lt,
                "x_loadtxt_min": min(r["time_s"] for r in rs) / lt_min,
                "x_loadtxt_cpu": med([r["cpu_s"] for r in rs]) / lt_cpu,
                "peak_mb": med([r["peak_mb"] for r in rs]),
                "peak_x_table": med([r["peak_mb"] for r in rs]) / (rows * COLUMNS * 8 / 2**20),
                "table_mb": rows * COLUMNS * 8 / 2**20})
    small = {v: med([r["maxrss_mb"] for r in result["train"]
                     if r["rows"] == SMALL and r["version"] == v]) for v in VERSIONS}
    for rows in [SMALL] + sizes:
        bare = [b for b in result["bare"] if b["rows"] == rows]
        for v in VERSIONS:
            rs = [r for r in result["train"] if r["rows"] == rows and r["version"] == v]
            if not rs:
                continue
            row = {"rows": rows, "version": v, "repeats": len(rs)}
            for k in ("wall_s", "cpu_s", "maxrss_mb", "train_time_s", "eval_time_s",
                      "errors_time_s", "wall_time_s", "test_mae"):
                row[k] = med([r[k] for r in rs])
            for kind, tag in (("cpu_s", "cpu"), ("wall_s", "wall")):
                for name in ("read", "load", "build", "train", "evaluate", "main"):
                    row[f"{name}_{tag}_s"] = med([phase(r, name, kind) for r in rs])
                row[f"fit_{tag}_s"] = med([phase(r, "build", kind) + phase(r, "train", kind)
                                           for r in rs])
                row[f"eval_share_{tag}"] = med([
                    phase(r, "evaluate", kind) / (phase(r, "build", kind) + phase(r, "train", kind)
                                                  + phase(r, "evaluate", kind)) for r in rs])
            row["eval_share_metrics"] = med([r["eval_time_s"] / r["wall_time_s"] for r in rs])
            row["eval_share_of_command_wall"] = med([phase(r, "evaluate", "wall_s") / r["wall_s"]
                                                     for r in rs])
            table_mb = rows * COLUMNS * 8 / 2**20
            row["table_mb"] = table_mb
            row["rss_above_small_mb"] = row["maxrss_mb"] - small[v]
            row["rss_above_small_x_table"] = row["rss_above_small_mb"] / table_mb
            row["rss_limit_mb"] = small[v] + 3 * table_mb
            row["rss_target_met"] = row["maxrss_mb"] <= row["rss_limit_mb"]
            if bare:
                for tag, suffix in (("cpu", "_cpu_s"), ("wall", "_s")):
                    parts = {k: med([b[k + suffix] for b in bare])
                             for k in ("read", "prep", "loop", "val")}
                    total = med([b["read" + suffix] + b["prep" + suffix] + b["loop" + suffix]
                                 + b["val" + suffix] for b in bare])
                    row[f"bare_{tag}"] = {**parts, "total": total}
                    row[f"x_bare_{tag}"] = row[f"fit_{tag}_s"] / total
                    row[f"x_bare_read_loop_{tag}"] = row[f"fit_{tag}_s"] / (parts["read"]
                                                                            + parts["loop"])
                    row[f"train_x_bare_loop_{tag}"] = row[f"train_{tag}_s"] / parts["loop"]
                row["bare_maxrss_mb"] = med([b["maxrss_mb"] for b in bare])
            s["train"].append(row)
    top = max(sizes)
    new = {r["rows"]: r for r in s["reads"] if r["reader"] == "new"}
    t = s["targets"]
    t["1_read_new_le_1.5x_loadtxt"] = {
        str(n): {"x_median_wall": new[n]["x_loadtxt"], "x_min_wall": new[n]["x_loadtxt_min"],
                 "x_median_cpu": new[n]["x_loadtxt_cpu"], "met": new[n]["x_loadtxt"] <= 1.5}
        for n in sizes if n >= 100_000}
    big = [r for r in s["train"] if r["rows"] != SMALL]
    t["2_rss_le_small_plus_3x_table"] = {f"{r['version']} {r['rows']}": {
        "maxrss_mb": r["maxrss_mb"], "limit_mb": r["rss_limit_mb"],
        "above_small_x_table": r["rss_above_small_x_table"], "met": r["rss_target_met"]}
        for r in big}
    t["3_fit_le_1.3x_bare"] = {f"{r['version']} {r['rows']}": {
        "x_cpu": r.get("x_bare_cpu"), "x_wall": r.get("x_bare_wall"),
        "x_cpu_vs_read_plus_loop_only": r.get("x_bare_read_loop_cpu"),
        "met": (r.get("x_bare_cpu") or 9) <= 1.3} for r in big}
    t["4_eval_le_25pct_at_top"] = {r["version"]: {
        "share_cpu": r["eval_share_cpu"], "share_wall": r["eval_share_wall"],
        "share_metrics": r["eval_share_metrics"], "met": r["eval_share_cpu"] <= 0.25}
        for r in s["train"] if r["rows"] == top}
    return s


def markdown(s: dict) -> str:
    """The summary's three tables: reads, training commands, jacnet against the bare loop."""
    reads = markdown_table(
        ["rows", "reader", "wall s, median [min–max]", "CPU s",
         "× loadtxt: wall median / wall min / CPU", "peak MB above start", "× float64 table"],
        ([f"{r['rows']:,}", r["reader"],
          f"{r['time_s']:.3f} [{r['time_min_s']:.3f}–{r['time_max_s']:.3f}]", f"{r['cpu_s']:.3f}",
          f"{r['x_loadtxt']:.2f} / {r['x_loadtxt_min']:.2f} / {r['x_loadtxt_cpu']:.2f}",
          f"{r['peak_mb']:.1f}", f"{r['peak_x_table']:.2f}"] for r in s["reads"]),
        align="rlrrrrr")
    train = markdown_table(
        ["rows", "version", "command wall s", "command CPU s", "peak RSS MB",
         "above 1k-row peak MB (× table)", "limit MB",
         "CPU s: read / build (incl. read) / train / evaluate",
         "metrics.json s: train / eval (errors) / run"],
        ([f"{r['rows']:,}", r["version"], f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}",
          f"{r['maxrss_mb']:.0f}",
          f"{r['rss_above_small_mb']:.0f} ({r['rss_above_small_x_table']:.2f})",
          f"{r['rss_limit_mb']:.0f}",
          f"{r['read_cpu_s']:.2f} / {r['build_cpu_s']:.2f} / {r['train_cpu_s']:.2f} / "
          f"{r['evaluate_cpu_s']:.2f}",
          f"{r['train_time_s']:.2f} / {r['eval_time_s']:.2f} ({r['errors_time_s']:.2f}) / "
          f"{r['wall_time_s']:.2f}"] for r in s["train"]),
        align="rlrrrrrrr")
    bare = markdown_table(
        ["rows", "version", "jacnet fit CPU s (build + train)",
         "bare CPU s: read / prep / loop / val = total", "fit × bare (CPU)", "fit × bare (wall)",
         "fit × (read + loop), CPU", "train × bare loop, CPU", "eval share (CPU / wall)"],
        ([f"{r['rows']:,}", r["version"], f"{r['fit_cpu_s']:.2f}",
          f"{b['read']:.2f} / {b['prep']:.2f} / {b['loop']:.2f} / {b['val']:.2f} = "
          f"{b['total']:.2f}", f"{r['x_bare_cpu']:.2f}", f"{r['x_bare_wall']:.2f}",
          f"{r['x_bare_read_loop_cpu']:.2f}", f"{r['train_x_bare_loop_cpu']:.2f}",
          f"{100 * r['eval_share_cpu']:.0f}% / {100 * r['eval_share_wall']:.0f}%"]
         for r in s["train"] if "bare_cpu" in r for b in [r["bare_cpu"]]),
        align="rlrrrrrrr")
    return "\n\n".join([reads, train, bare])


# ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.data.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10^4 rows, one repeat, no profile; "
                   "results to WORK/data_results_quick.json")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--read-repeats", type=int, default=5)
    p.add_argument("--train-repeats", type=int, default=3)
    p.add_argument("--top-train-repeats", type=int, default=2,
                   help="repeats of the training runs at the largest size")
    p.add_argument("--data", type=Path, default=SCRATCH / "data",
                   help="the CSV files (generated once, kept)")
    p.add_argument("--work", type=Path, default=SCRATCH / "data_compare",
                   help="runs/ and temporary tables go here (not the repo)")
    p.add_argument("--lock", type=Path, default=TIMING_LOCK)
    p.add_argument("--old-python", type=Path, default=Path("/work/proto/.venv/bin/python"))
    p.add_argument("--old-path", type=Path, default=Path("/work/frozen"))
    p.add_argument("--new-python", type=Path, default=Path(sys.executable))
    p.add_argument("--json", type=Path, default=None,
                   help="default: benchmarks/data/results.json (--quick: WORK/data_results_quick.json)")
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--streamed-only", action="store_true",
                   help="only the streamed runs (data.stream=true, the largest size, a first run "
                   "that converts the CSV and a second that finds the cache), added to --json")
    cfg = p.parse_args(argv)
    if cfg.quick:
        cfg.sizes, cfg.read_repeats, cfg.train_repeats, cfg.top_train_repeats = [10_000], 1, 1, 1
        cfg.no_profile = True
    cfg.json = cfg.json or (cfg.work / "data_results_quick.json" if cfg.quick
                            else HERE / "results.json")
    cfg.sizes = sorted(cfg.sizes)
    cfg.work.mkdir(parents=True, exist_ok=True)
    lock = Lock(cfg.lock)
    started, load0 = time.time(), loadavg()
    cfg.files = {n: make_csv(cfg.data / f"rows{n}.csv", n) for n in [SMALL] + cfg.sizes}
    print("files: " + ", ".join(f"{n}: {f} ({f.stat().st_size / 1e6:.1f} MB)"
                                for n, f in cfg.files.items()), flush=True)
    result: dict = {
        "benchmark": "python -m benchmarks.data.compare" + (" --quick" if cfg.quick else ""),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": _cpu_name(), "python": platform.python_version(),
                    "numpy": np.__version__, "torch": _version(cfg.new_python, "torch")},
        "threads": 1, "batch_size": BATCH, "columns": COLUMNS, "sizes": cfg.sizes,
        "before": {"commit": _commit(cfg.old_path), "path": str(cfg.old_path),
                   "python": str(cfg.old_python)},
        "after": {"commit": _commit(ROOT) + " + working tree", "path": str(ROOT),
                  "python": str(cfg.new_python)},
        "csv_bytes": {str(n): f.stat().st_size for n, f in cfg.files.items()},
        "read_repeats": cfg.read_repeats, "train_repeats": cfg.train_repeats,
        "top_train_repeats": cfg.top_train_repeats,
        "train_command_old": " ".join(train_args("old", Path("FILE"), Path("DIR"), cfg)),
        "train_command_new": " ".join(train_args("new", Path("FILE"), Path("DIR"), cfg)),
        "loadavg_start": load0}
    if cfg.streamed_only:
        return streamed(cfg, lock)
    print("correctness (bit-for-bit against np.loadtxt)", flush=True)
    result["equality"] = check_equal(cfg.sizes, cfg)
    print("reads", flush=True)
    result["reads"] = reads(cfg.sizes, cfg.read_repeats, cfg, lock)
    print("training", flush=True)
    result["train"], result["bare"] = [], []
    top = max(cfg.sizes)
    for rep in range(cfg.train_repeats):
        for rows in [SMALL] + cfg.sizes:
            if rows == top and rep >= cfg.top_train_repeats:
                continue
            order = VERSIONS if rep % 2 == 0 else VERSIONS[::-1]
            for v in order:
                result["train"].append(train_once(v, rows, rep, cfg, lock))
            config = cfg.work / "runs" / f"new_{rows}_{rep}" / "config.yaml"
            result["bare"].append(bare_once(rows, rep, config, cfg, lock))
    if not cfg.no_profile:
        print("evaluation profile", flush=True)
        result["eval_profile"] = profile_eval(top, cfg, lock)
    result["loadavg_end"] = loadavg()
    result["elapsed_s"] = time.time() - started
    result["lock_wait_s"] = lock.waited
    result["summary"] = summarise(result)
    cfg.json.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result["summary"]))
    print(json.dumps(result["summary"]["targets"], indent=1))
    print(f"load average {load0} -> {result['loadavg_end']}; {result['elapsed_s']:.0f} s, "
          f"{lock.waited:.0f} s waiting for the lock; wrote {cfg.json}")
    return 0


def streamed(cfg: argparse.Namespace, lock: Lock) -> int:
    """data.stream=true at the largest size, old and new: the run that converts the CSV into
    the cache, then one that finds the cache; merged into the results file."""
    import shutil

    rows = max(cfg.sizes)
    result = json.loads(cfg.json.read_text()) if cfg.json.is_file() else {}
    out = []
    load0 = loadavg()
    for v in VERSIONS:
        shutil.rmtree(cfg.work / "cache" / v, ignore_errors=True)
        for tag in ("stream_first", "stream_cached"):
            r = train_once(v, rows, tag, cfg, lock, stream=True)
            r["run"] = tag
            out.append(r)
        shutil.rmtree(cfg.work / "cache" / v, ignore_errors=True)
    result["streamed"] = {"rows": rows, "command": " ".join(
        train_args("new", Path("FILE"), Path("DIR"), cfg, stream=True)),
        "loadavg_start": load0, "loadavg_end": loadavg(), "runs": out}
    cfg.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {cfg.json}")
    return 0


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _version(python: Path, module: str) -> str:
    out = subprocess.run([str(python), "-c", f"import {module}; print({module}.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip()


def _commit(path: Path) -> str:
    out = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return out.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
