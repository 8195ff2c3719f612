"""The tabular benchmark of issue 25: jacnet `monotone_in` against LMN, monotonicnetworks,
mononet (constrained monotone dense layers), pytorch-lattice, XGBoost and an MLP on eight
tables; defaults-only and equal-budget tuned rows; honest and published protocols.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tabular/benchmark.py honest [--tables ..] [--models ..]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tabular/benchmark.py tuned  [--tables ..]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tabular/benchmark.py published
    .venv/bin/python benchmarks/tabular/benchmark.py write       # results2.json, tables2.md

honest (defaults only): seeds 0-4 (the seed picks the split and the initialisation; every
  model of a seed sees the same rows: tables.split); jacnet through `jacnet train -m` with
  the table's columns and prior and nothing else; each peer with one configuration, its
  package's README example or its library defaults; all select epochs (or trees) by early
  stopping on the validation split and touch the test split once.
tuned: every model gets the same budget, BUDGET configurations, the one with the best
  validation loss is scored on test; jacnet through one `jacnet train -m` sweep of BUDGET
  configurations x seeds, the choice read from each run's metrics.json (val_rmse /
  val_log_loss).
published: trained on train + validation (val_fraction=0) for a fixed epoch count, scored at
  the best TEST epoch (the LMN/SMNN/Sartor et al. scripts' protocol; not an honest
  estimate), seeds 0-4, jacnet at its defaults and LMN, for the tables with published
  figures.
Results are cached per (row, table, model, seed) in RUNS/benchmark/cache.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import jacnet_runs  # noqa: E402
import peers  # noqa: E402
from tables import TABLES, split  # noqa: E402

HERE = Path(__file__).resolve().parent
RUNS = jacnet_runs.RUNS
CACHE = RUNS / "benchmark" / "cache.json"
SEEDS = [0, 1, 2, 3, 4]
BUDGET = 8
REG = ["autompg", "diabetes", "boston", "housing", "caschool", "computers"]
CLS = ["compas", "heart"]

#: jacnet runs: name -> overrides beyond the table's (the defaults row has none)
#: jacnet's defaults row: `data=file activation=monotone_in` plus the table's columns and
#: prior. The defaults did not change in this study (nothing beat them beyond the screen's
#: noise: README.md), and every one of them is named here with the YAML's value, so the row
#: stays what it is when a default moves.
JACNET = {"jacnet": ["activation.members=1", "activation.keypoints=0", "activation.average=0",
                     "activation.linear=false", "activation.hidden=32"]}

PEERS = {"lmn": lambda t, sp, s: peers.fit_lmn(t, sp, s)[:2],
         "lmn2": peers.fit_lmn2, "cmnn": peers.fit_cmnn, "lattice": peers.fit_lattice,
         "xgb": peers.fit_xgb_grid, "mlp": peers.fit_mlp_grid,
         # the previous study's peers, each already choosing from a small grid on validation
         "xgb_grid": peers.fit_xgb, "mlp_grid": peers.fit_mlp}

#: the tuned row's search spaces, BUDGET configurations each, chosen on validation
GRIDS: dict[str, list[dict]] = {
    "lmn": [{"width": w, "lr": lr} for w in (8, 16, 32, 64) for lr in (1e-3, 1e-2)],
    "lmn2": [{"width": w, "lipschitz": lip} for w in (16, 32, 64, 128) for lip in (1.0, 3.0)],
    "cmnn": [{"width": w, "mode": m, "lr": lr} for w in (32, 64) for m in ("absolute", "switch")
             for lr in (1e-3, 3e-3)],
    "lattice": [{"keypoints": k, "lr": lr, "linear": lin} for k in (5, 10)
                for lr in (1e-2, 3e-3) for lin in (False, True)],
    "xgb": [{"max_depth": d, "learning_rate": lr} for d in (2, 3, 4, 6) for lr in (0.03, 0.1)],
    "mlp": [{"width": w, "lr": lr, "depth": d} for w in (32, 128) for lr in (1e-3, 3e-3)
            for d in (1, 2)],
}
#: jacnet's tuned sweep: BUDGET configurations through `jacnet train -m`
JACNET_GRID = ["activation.hidden=16,32,64", "activation.linear=false,true"]  # 6 ...
JACNET_GRID_EXTRA = [["activation.members=5", "activation.linear=false,true"]]  # ... + 2


def _cache() -> dict:
    return json.loads(CACHE.read_text()) if CACHE.is_file() else {}


def _save(cache: dict) -> None:
    """Merge into the file under a lock (several benchmark processes may add entries)."""
    import fcntl
    import os

    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with open(CACHE.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        disk = _cache()
        disk.update(cache)
        cache.update(disk)
        tmp = CACHE.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(disk, indent=1))
        tmp.replace(CACHE)


def _entry(t, sp, predict, info: dict) -> dict:
    z = predict(sp.x_test)
    out = common.sigmoid(z) if t.task == "cls" else z
    scale = 1.0 if t.task == "cls" else float(np.std(sp.y_train))
    return {**common.scores(t.task, sp.y_test, out),
            **common.violations(predict, sp.x_test, t.monotone, sp.x_train.std(0), scale),
            **{k: v for k, v in info.items() if isinstance(v, (int, float, str))}}


def _jacnet_entry(t, sp, d: Path) -> dict:
    predict, m = jacnet_runs.predictor(d)
    info = {"params": m["parameters"], "train_time_s": m["train_time_s"],
            "wall_time_s": m.get("wall_time_s", -1.0), "epochs": m["epochs"],
            "best_iteration": m.get("best_iteration", -1)}
    return _entry(t, sp, predict, info)


def _job(sweep: Path, want: dict[str, str]) -> Path:
    for ov, d in jacnet_runs.runs(sweep):
        if all(ov.get(k) == v for k, v in want.items()):
            return d
    raise FileNotFoundError(f"no job {want} in {sweep}")


def honest(tables: list[str], models: list[str], cache: dict) -> None:
    seeds = ",".join(map(str, SEEDS))
    for name in tables:
        t = TABLES[name]
        for model in models:
            if model in JACNET:
                out = jacnet_runs.sweep(f"benchmark/{model}", name, JACNET[model], seeds)
            for seed in SEEDS:
                key = f"honest/{name}/{model}/{seed}"
                if key in cache:
                    continue
                sp = split(name, seed)
                if model in JACNET:
                    res = _jacnet_entry(t, sp, _job(out, {"seed": str(seed)}))
                else:
                    predict, info = PEERS[model](t, sp, seed)
                    res = _entry(t, sp, predict, info)
                cache[key] = res
                _save(cache)
                print(key, {k: round(v, 4) if isinstance(v, float) else v
                            for k, v in res.items()}, flush=True)


def _val_loss(m: dict, task: str) -> float:
    return m["val_log_loss"] if task == "cls" else m["val_rmse"]


def tuned(tables: list[str], models: list[str], cache: dict) -> None:
    seeds = ",".join(map(str, SEEDS))
    for name in tables:
        t = TABLES[name]
        for model in models:
            if model == "jacnet":
                outs = [jacnet_runs.sweep("benchmark/tuned_jacnet", name, JACNET_GRID, seeds)]
                for i, extra in enumerate(JACNET_GRID_EXTRA):
                    outs.append(jacnet_runs.sweep(f"benchmark/tuned_jacnet_{i}", name, extra,
                                                  seeds))
            for seed in SEEDS:
                key = f"tuned/{name}/{model}/{seed}"
                if key in cache:
                    continue
                sp = split(name, seed)
                if model == "jacnet":
                    jobs = [(ov, d) for out in outs for ov, d in jacnet_runs.runs(out)
                            if ov.get("seed") == str(seed)]
                    scored = []
                    for ov, d in jobs:
                        m = json.loads((d / "metrics.json").read_text())
                        scored.append((_val_loss(m, t.task), m["train_time_s"], ov, d))
                    best = min(scored, key=lambda s: s[0])
                    res = _jacnet_entry(t, sp, best[3])
                    res["train_time_s"] = float(sum(s[1] for s in scored))
                    res["configs"] = len(scored)
                    table_keys = {o.split("=", 1)[0] for o in t.overrides()}
                    res["choice"] = " ".join(f"{k}={v}" for k, v in best[2].items()
                                             if k != "seed" and k not in table_keys
                                             and not k.startswith(("plots", "progress",
                                                                   "runtime")))
                else:
                    predict, info = PEERS[model](t, sp, seed, GRIDS[model])
                    res = _entry(t, sp, predict, info)
                cache[key] = res
                _save(cache)
                print(key, {k: round(v, 4) if isinstance(v, float) else v
                            for k, v in res.items()}, flush=True)


PUBLISHED_EPOCHS = {"compas": 100, "heart": 300, "autompg": 500}


def published(tables: list[str], models: list[str], cache: dict) -> None:
    for name in tables:
        t = TABLES[name]
        for seed in SEEDS:
            for model in models:
                key = f"published/{name}/{model}/{seed}"
                if key in cache:
                    continue
                if model == "jacnet":
                    res = jacnet_runs.published(t, [], seed, PUBLISHED_EPOCHS[name])
                else:
                    res = peers.lmn_published(t, split(name, seed, val_fraction=0.0), seed)
                cache[key] = res
                _save(cache)
                print(key, res, flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["honest", "tuned", "published", "write"])
    p.add_argument("--tables", default=",".join(REG + CLS))
    p.add_argument("--models", default=None)
    a = p.parse_args()
    tables = a.tables.split(",")
    cache = _cache()
    if a.what == "honest":
        honest(tables, (a.models or "jacnet,jacnet_v1,lmn,lmn2,cmnn,lattice,xgb,mlp,xgb_grid,"
                        "mlp_grid").split(","), cache)
    elif a.what == "tuned":
        tuned(tables, (a.models or "jacnet,lmn,lmn2,cmnn,lattice,xgb,mlp").split(","), cache)
    elif a.what == "published":
        published([t for t in tables if t in PUBLISHED_EPOCHS],
                  (a.models or "jacnet,lmn").split(","), cache)
    else:
        import write_benchmark

        write_benchmark.main(cache)


if __name__ == "__main__":
    main()
