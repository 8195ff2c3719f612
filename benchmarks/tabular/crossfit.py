"""Cross-fit bagging of jacnet `monotone_in` on the tabular benchmark's tables (issue 25).

    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
    .venv/bin/python benchmarks/tabular/make_data.py --out "$TABULAR_DATA"   # once
    nice -n 10 .venv/bin/python benchmarks/tabular/crossfit.py run \\
        --tables autompg,diabetes,boston,caschool,housing,heart,compas \\
        --methods default,cf5,cf5lin,refit5 [--seeds 0,1,2,3,4]
    .venv/bin/python benchmarks/tabular/crossfit_write.py      # crossfit.json, crossfit_tables.md

For each seed the benchmark's honest split (`tables.split`: the same training, validation
and test rows every peer of `benchmark.py` sees) is kept; its training + validation rows are
cut into K folds (a permutation seeded by the seed and the repeat), and model k trains on the
other K-1 folds, early-stopped on fold k with its best weights restored (jacnet's defaults
otherwise); the test rows are predicted by the mean of the K models (regression: the mean
prediction; classification: the mean probability). A mean of monotone functions is
monotone; the harness's own finite-difference count (`common.violations`) checks it.

Every model runs as `jacnet train` would: the config is composed from the command line's
overrides (`data=file activation=monotone_in ...` of the table, then the method's) and run by
`jacnet_cli.run.experiment.Experiment` in this process (no start-up per run). Each fold's
rows go through jacnet's own file reader: the fold file holds the training + validation rows
placed so that jacnet's seeded shuffle (`data.split_seed`) puts fold k first, so
`data.val_fraction = |fold k| / rows` makes fold k the validation split; the test rows come
from `data.test_path`. A check after the build asserts the validation rows are fold k's.

Methods (`METHODS`):
  default   jacnet's defaults row: one model, jacnet's own 15 % validation split (reproduces
            benchmark.py's `jacnet` row seed for seed)
  cf5       cross-fit, K = 5
  cf5lin    cross-fit, K = 5, activation.linear=true
  cf10      cross-fit, K = 10
  rcf5x2    repeated 5-fold: cf5's folds plus a second 5-fold cut (10 models)
  refit5    epochs chosen by cf5's folds (median epoch of their best validation loss), then one
            model on all training + validation rows for that many epochs (no validation,
            no early stopping; batch size pinned to the folds')
  refit5lin the same from cf5lin's folds, with activation.linear=true

Per model the script stores its outputs on the test points and on every shifted point the
violation count uses (replayed for any ensemble), its out-of-fold predictions, its training
time (trainer.run, one thread) and steps; RUNS/crossfit/<table>/<seed>/<model>.npz + .json.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))
from benchmarks.common import SCRATCH  # noqa: E402

os.environ.setdefault("TABULAR_DATA", str(SCRATCH / "tabular_data"))
import common  # noqa: E402
from tables import TABLES, split  # noqa: E402

RUNS = Path(os.environ.get("TABULAR_RUNS", str(SCRATCH / "tabular_runs"))) / "crossfit"
COMMON = ["plots=false", "progress=false", "runtime.threads=1"]
#: benchmark.py's defaults row, every default named (so the row stays what it is)
DEFAULTS = ["activation.members=1", "activation.keypoints=0", "activation.average=0",
            "activation.linear=false", "activation.hidden=32"]
SEEDS = [0, 1, 2, 3, 4]
REG = ["autompg", "diabetes", "boston", "caschool", "housing"]
CLS = ["compas", "heart"]

#: method -> (K, repeats, extra overrides); refit methods name their cross-fit source
METHODS: dict[str, dict] = {
    "default": {"k": 1},
    "cf5": {"k": 5, "repeats": 1, "extra": []},
    "cf5lin": {"k": 5, "repeats": 1, "extra": ["activation.linear=true"]},
    "cf10": {"k": 10, "repeats": 1, "extra": []},
    "rcf5x2": {"k": 5, "repeats": 2, "extra": []},
    "refit5": {"refit": "cf5", "extra": []},
    "refit5lin": {"refit": "cf5lin", "extra": ["activation.linear=true"]},
    # peers, for scale: the same folds, the benchmark's peer code (peers.py)
    "mlp": {"peer": "mlp", "k": 1},
    "mlp_cf5": {"peer": "mlp", "k": 5, "repeats": 1},
    "xgb": {"peer": "xgb", "k": 1},
    "xgb_cf5": {"peer": "xgb", "k": 5, "repeats": 1},
}
WHAT = {
    "default": "jacnet defaults, one model (its own 15 % validation split)",
    "cf5": "cross-fit bagging, K = 5",
    "cf5lin": "cross-fit bagging, K = 5, activation.linear=true",
    "cf10": "cross-fit bagging, K = 10",
    "rcf5x2": "repeated 5-fold cross-fit, 2 x 5 = 10 models",
    "refit5": "epochs by 5-fold CV, one model refit on train+validation",
    "refit5lin": "epochs by 5-fold CV (linear), one model refit on train+validation, linear",
    "mlp": "peer: MLP 2 x 128, Adam 1e-3, not monotone (benchmark.py's `mlp` row)",
    "mlp_cf5": "peer: the same MLP, cross-fit bagging K = 5 (not monotone)",
    "xgb": "peer: XGBoost + monotone_constraints, library defaults (`xgb` row)",
    "xgb_cf5": "peer: the same XGBoost, cross-fit bagging K = 5",
}


# --- files --------------------------------------------------------------------------------

def _write_csv(path: Path, t, x: np.ndarray, y: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    np.savetxt(tmp, np.column_stack([x, y]), delimiter=",", comments="",
               header=",".join(t.x + [t.y]), fmt="%.17g")
    tmp.replace(path)


def test_file(table: str, seed: int, sp) -> Path:
    """The benchmark's test rows of `seed` as a CSV (heart: its fixed test file's rows)."""
    t = TABLES[table]
    path = RUNS / "files" / table / f"test_{seed}.csv"
    if not path.is_file():
        _write_csv(path, t, sp.x_test, sp.y_test)
    return path


SPLIT_SEED = 12345  # jacnet's shuffle of a fold file; the file is laid out to undo it


def folds(n: int, k: int, seed: int, repeat: int) -> list[np.ndarray]:
    perm = np.random.default_rng([seed, repeat, k]).permutation(n)
    return np.array_split(perm, k)


def fold_file(table: str, seed: int, k: int, repeat: int, fold: int, x: np.ndarray,
              y: np.ndarray, val: np.ndarray) -> tuple[Path, float]:
    """A file of the rows x, y laid out so that jacnet's seeded shuffle (data.split_seed =
    SPLIT_SEED) puts the rows `val` first: with data.val_fraction = len(val) / rows they
    are the validation split, the rest the training split. Returns (path, val_fraction)."""
    t = TABLES[table]
    n = len(x)
    rest = np.setdiff1d(np.arange(n), val)
    desired = np.concatenate([val, rest])
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED)).numpy()
    placed = np.empty(n, dtype=int)
    placed[order] = desired  # table[order[i]] = desired row i
    path = RUNS / "files" / table / f"s{seed}_k{k}_r{repeat}_f{fold}.csv"
    if not path.is_file():
        _write_csv(path, t, x[placed], y[placed])
    return path, len(val) / n


# --- one model ----------------------------------------------------------------------------

class Recorder:
    """predict() for common.violations that records every call's output (in order)."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            z = self.model(torch.tensor(x, dtype=torch.float64))[:, 0].numpy().copy()
        self.calls.append(z)
        return z


class Replay:
    """predict() for common.violations that replays the recorded calls of several models,
    combined: the mean prediction (reg) or the logit of the mean probability (cls)."""

    def __init__(self, calls: list[np.ndarray], task: str):
        self.calls, self.task, self.i = calls, task, 0  # calls: (models, calls, points)

    def combine(self, z: np.ndarray) -> np.ndarray:
        if self.task == "cls":
            return common.logit(common.sigmoid(z).mean(0))
        return z.mean(0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.combine(self.calls[:, self.i])
        assert out.shape[0] == x.shape[0]
        self.i += 1
        return out


def train_one(table: str, overrides: list[str], seed: int, sp,
              val_check: np.ndarray | None = None, x_oof: np.ndarray | None = None) -> dict:
    """Compose and train one jacnet run in-process; its test outputs, the recorded violation
    calls, out-of-fold outputs on x_oof, time and steps."""
    from jacnet_cli.run.configs import compose
    from jacnet_cli.run.experiment import Experiment

    t = TABLES[table]
    mine = {o.split("=", 1)[0] for o in overrides}
    base = [o for o in t.overrides() + COMMON + DEFAULTS if o.split("=", 1)[0] not in mine]
    cfg = compose(base + list(overrides) + [f"seed={seed}"])
    torch.set_num_threads(1)
    exp = Experiment(cfg, None)
    exp.build()
    if val_check is not None:  # the validation split is exactly the intended fold
        got = exp.data.x_val.numpy()
        assert got.shape == val_check.shape and np.array_equal(got, val_check), "fold layout"
    start = time.perf_counter()
    exp.trainer.run()
    seconds = time.perf_counter() - start
    exp.model.eval()
    rec = Recorder(exp.model)
    scale = 1.0 if t.task == "cls" else float(np.std(sp.y_train))
    v = common.violations(rec, sp.x_test, t.monotone, sp.x_train.std(0), scale)
    per_epoch = exp.trainer.batches.per_epoch
    best = exp.trainer.best_step
    out = {"calls": np.stack(rec.calls), "seconds": seconds, "steps": exp.trainer.step,
           "per_epoch": per_epoch, "batch_size": exp.plan.batch_size,
           "epochs_run": math.ceil(exp.trainer.step / per_epoch),
           "best_epoch": None if best is None else (best + 1) // per_epoch,
           "best_val": None if best is None else float(exp.trainer.best_val),
           "violations": v["violations"], "pairs": v["pairs"]}
    if x_oof is not None:
        out["oof"] = Recorder(exp.model)(x_oof)
    return out


def peer_one(table: str, peer: str, sp, fit_sp, seed: int,
             x_oof: np.ndarray | None = None) -> dict:
    """One peer model (peers.py, as benchmark.py trains it) on the split `fit_sp`."""
    import peers

    fit = {"mlp": peers.fit_mlp_grid, "xgb": peers.fit_xgb_grid}[peer]
    t = TABLES[table]
    start = time.perf_counter()
    predict, info = fit(t, fit_sp, seed)
    seconds = time.perf_counter() - start
    calls = []

    def rec(x: np.ndarray) -> np.ndarray:
        calls.append(np.asarray(predict(x), dtype=np.float64))
        return calls[-1]
    scale = 1.0 if t.task == "cls" else float(np.std(sp.y_train))
    v = common.violations(rec, sp.x_test, t.monotone, sp.x_train.std(0), scale)
    out = {"calls": np.stack(calls), "seconds": seconds, "steps": 0, "per_epoch": 0,
           "batch_size": None, "best_epoch": info.get("best_epoch", info.get("n_estimators")),
           "violations": v["violations"], "pairs": v["pairs"]}
    if x_oof is not None:
        out["oof"] = np.asarray(predict(x_oof), dtype=np.float64)
    return out


def run_peer(table: str, seed: int, sp, method: str) -> list[dict]:
    from tables import Split

    m = METHODS[method]
    if m["k"] == 1:
        path = model_path(table, seed, method)
        if _load(path) is None:
            _save(path, peer_one(table, m["peer"], sp, sp, seed))
        return [_load(path)]
    x = np.concatenate([sp.x_train, sp.x_val])
    y = np.concatenate([sp.y_train, sp.y_val])
    out = []
    for r in range(m["repeats"]):
        cut = folds(len(x), m["k"], seed, r)
        for f, val in enumerate(cut):
            path = model_path(table, seed, f"{m['peer']}_k{m['k']}_r{r}_f{f}")
            if _load(path) is None:
                rest = np.setdiff1d(np.arange(len(x)), val)
                fsp = Split(x[rest], y[rest], x[val], y[val], sp.x_test, sp.y_test)
                res = peer_one(table, m["peer"], sp, fsp, 1000 * seed + 100 * r + f,
                               x_oof=x[val])
                res["oof_index"] = val
                _save(path, res)
            out.append(_load(path))
    return out


def _save(path: Path, res: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: res.pop(k) for k in ("calls", "oof", "oof_index") if k in res}
    np.savez(path.with_suffix(".npz"), **arrays)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(res))
    tmp.replace(path.with_suffix(".json"))  # the json last: its presence marks it complete


def _load(path: Path) -> dict | None:
    if not path.with_suffix(".json").is_file():
        return None
    res = json.loads(path.with_suffix(".json").read_text())
    with np.load(path.with_suffix(".npz")) as z:
        res.update({k: z[k] for k in z.files})
    return res


def model_path(table: str, seed: int, name: str) -> Path:
    return RUNS / "models" / table / str(seed) / name


def run_default(table: str, seed: int, sp) -> dict:
    path = model_path(table, seed, "default")
    res = _load(path)
    if res is None:
        res = train_one(table, [], seed, sp)
        _save(path, dict(res))
        res = _load(path)
    return res


def run_fold(table: str, seed: int, sp, k: int, repeat: int, fold: int, extra: list[str],
             tag: str) -> dict:
    """Model `fold` of a K-fold cut (`repeat`) of the training + validation rows."""
    path = model_path(table, seed, f"{tag}_k{k}_r{repeat}_f{fold}")
    res = _load(path)
    if res is not None:
        return res
    x = np.concatenate([sp.x_train, sp.x_val])
    y = np.concatenate([sp.y_train, sp.y_val])
    cut = folds(len(x), k, seed, repeat)
    val = cut[fold]
    f, frac = fold_file(table, seed, k, repeat, fold, x, y, val)
    ov = [f"data.path={f}", f"data.test_path={test_file(table, seed, sp)}",
          f"data.val_fraction={frac!r}", f"data.split_seed={SPLIT_SEED}"] + extra
    assert int(round(frac * len(x))) == len(val)
    res = train_one(table, ov, 1000 * seed + 100 * repeat + fold, sp, val_check=x[val],
                    x_oof=x[val])
    res["oof_index"] = val
    _save(path, dict(res))
    return _load(path)


def run_refit(table: str, seed: int, sp, source: str, extra: list[str], name: str) -> dict:
    path = model_path(table, seed, name)
    res = _load(path)
    if res is not None:
        return res
    src = [run_fold(table, seed, sp, 5, 0, f, METHODS[source]["extra"], source)
           for f in range(5)]
    epochs = int(statistics.median(r["best_epoch"] for r in src))
    batch = src[0]["batch_size"]
    x = np.concatenate([sp.x_train, sp.x_val])
    y = np.concatenate([sp.y_train, sp.y_val])
    t = TABLES[table]
    f = RUNS / "files" / table / f"all_{seed}.csv"
    if not f.is_file():
        _write_csv(f, t, x, y)
    ov = [f"data.path={f}", f"data.test_path={test_file(table, seed, sp)}",
          "data.val_fraction=0", f"epochs={max(1, epochs)}", "iterations=auto",
          f"batch_size={'null' if batch is None else batch}"] + extra
    res = train_one(table, ov, seed, sp)
    res["refit_epochs"] = epochs
    res["fold_epochs"] = [r["best_epoch"] for r in src]
    _save(path, dict(res))
    return _load(path)


def stored(table: str, seed: int, method: str) -> list[dict] | None:
    """The stored models of a method (None when any is missing); trains nothing."""
    m = METHODS[method]
    if method == "default" or "refit" in m or ("peer" in m and m["k"] == 1):
        names = [method]
    elif "peer" in m:
        names = [f"{m['peer']}_k{m['k']}_r{r}_f{f}" for r in range(m["repeats"])
                 for f in range(m["k"])]
    else:
        tag = "cf" + ("lin" if "activation.linear=true" in m["extra"] else "")
        names = [f"{tag}_k{m['k']}_r{r}_f{f}" for r in range(m["repeats"])
                 for f in range(m["k"])]
    out = [_load(model_path(table, seed, n)) for n in names]
    return None if any(o is None for o in out) else out


def members(table: str, seed: int, sp, method: str) -> list[dict]:
    m = METHODS[method]
    if method == "default":
        return [run_default(table, seed, sp)]
    if "peer" in m:
        return run_peer(table, seed, sp, method)
    if "refit" in m:
        return [run_refit(table, seed, sp, m["refit"], m["extra"], method)]
    tag = "cf" + ("lin" if "activation.linear=true" in m["extra"] else "")
    return [run_fold(table, seed, sp, m["k"], r, f, m["extra"], tag)
            for r in range(m["repeats"]) for f in range(m["k"])]


# --- scoring ------------------------------------------------------------------------------

def score(table: str, seed: int, sp, method: str, models: list[dict],
          default: dict | None) -> dict:
    t = TABLES[table]
    calls = np.stack([m["calls"] for m in models])
    rep = Replay(calls, t.task)
    z = rep.combine(calls[:, 0])
    out = common.sigmoid(z) if t.task == "cls" else z
    scale = 1.0 if t.task == "cls" else float(np.std(sp.y_train))
    res = {**common.scores(t.task, sp.y_test, out),
           **common.violations(Replay(calls, t.task), sp.x_test, t.monotone,
                               sp.x_train.std(0), scale)}
    key = "accuracy" if t.task == "cls" else "rmse"
    each = [common.scores(t.task, sp.y_test, common.sigmoid(c[0]) if t.task == "cls"
                          else c[0])[key] for c in calls]
    res[f"member_{key}"] = float(np.mean(each))  # a single member's, on average
    res["models"] = len(models)
    res["member_violations"] = int(sum(m["violations"] for m in models))
    cost = list(models)
    if "refit" in METHODS[method]:  # its cost includes the K runs that chose the epochs
        cost += stored(table, seed, METHODS[method]["refit"]) or []
        res["refit_s"] = float(models[0]["seconds"])
    res["train_s"] = float(sum(m["seconds"] for m in cost))
    res["steps"] = int(sum(m["steps"] for m in cost))
    if default is not None and res["steps"]:
        res["time_x"] = res["train_s"] / default["seconds"]
        res["steps_x"] = res["steps"] / default["steps"]
    if "oof" in models[0]:  # out-of-fold error of the first K-fold cut (train+val rows)
        y = np.concatenate([sp.y_train, sp.y_val])
        k = METHODS[method]["k"]
        pred = np.full(len(y), np.nan)
        for m in models[:k]:
            oof = m["oof"]
            pred[m["oof_index"]] = common.sigmoid(oof) if t.task == "cls" else oof
        if t.task == "cls":
            res["oof_acc"] = float(np.mean((pred > 0.5) == y))
            pc = np.clip(pred, 1e-12, 1 - 1e-12)
            res["oof_log_loss"] = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
        else:
            res["oof_rmse"] = float(math.sqrt(np.mean((pred - y) ** 2)))
        res["best_epochs"] = [m["best_epoch"] for m in models]
    if "refit_epochs" in models[0]:
        res["refit_epochs"] = models[0]["refit_epochs"]
        res["fold_epochs"] = models[0]["fold_epochs"]
    if method == "default":
        res["best_epochs"] = [models[0]["best_epoch"]]
    return res


def run(tables: list[str], methods: list[str], seeds: list[int], deadline: float) -> None:
    logging.disable(logging.WARNING)
    out = RUNS / "scores.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    for table in tables:
        for method in methods:
            for seed in seeds:
                if time.time() > deadline:
                    print("deadline reached: stopping", flush=True)
                    return
                sp = split(table, seed)
                default = run_default(table, seed, sp)
                models = members(table, seed, sp, method)
                res = score(table, seed, sp, method, models, default)
                row = {"table": table, "method": method, "seed": seed, **res,
                       "load": common_load()}
                with open(out, "a") as f:
                    f.write(json.dumps(row) + "\n")
                key = "accuracy" if TABLES[table].task == "cls" else "rmse"
                print(f"{table} {method} seed {seed}: {key} {res[key]:.4f} "
                      f"viol {res['violations']} models {res['models']} "
                      f"time_x {res.get('time_x', 1):.2f}", flush=True)


def common_load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["run"])
    p.add_argument("--tables", default=",".join(REG + CLS))
    p.add_argument("--methods", default="default,cf5,cf5lin,refit5")
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    p.add_argument("--minutes", type=float, default=150.0, help="stop starting new work after")
    a = p.parse_args()
    run(a.tables.split(","), a.methods.split(","), [int(s) for s in a.seeds.split(",")],
        time.time() + 60 * a.minutes)


if __name__ == "__main__":
    main()
