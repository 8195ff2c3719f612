"""jacnet against its peers on the same splits (honest protocol), the published protocol,
and results.json.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tabular/compare.py [honest|published|write] ...

honest: for each table and seed 0..4 (the seed picks the split and the initialisation),
  jacnet with its defaults (no tuning flag: what `data=file activation=monotone_in` gives),
  with the previous defaults (width 128) and with the study's pick (recommended.json: width
  32, patience capped at 30 epochs), a 5-member ensemble of the pick (same split, 5
  initialisations, probabilities / predictions averaged), LMN, XGBoost and an MLP; test metrics,
  finite-difference violations on the test points, parameters, training time.
published: jacnet (recommended config) and LMN trained on train+validation and scored at the
  best test epoch (and LMN's test-chosen threshold), seeds 0..2.
write: results.json and the tables in RESULTS.md from the cached results.
Results are cached per (table, model, seed) in RUNS/compare/cache.json.
"""

from __future__ import annotations

import argparse
import json
import os
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
CACHE = RUNS / "compare" / "cache.json"
SEEDS = [0, 1, 2, 3, 4]
MEMBERS = [1000, 1001, 1002, 1003]  # extra initialisations of an ensemble (plus seed=S)

#: the recommended defaults for data=file activation=monotone_in (see README.md)
RECOMMENDED: dict[str, list[str]] = {"cls": [], "reg": []}
if (HERE / "recommended.json").is_file():
    RECOMMENDED = json.loads((HERE / "recommended.json").read_text())

def recommended(name: str) -> list[str]:
    """The recommended overrides for a table: the config plus the capped patience rule
    (what jacnet's plan would compute with the cap: min(cap, max(10, ceil(1000 / steps per
    epoch)))."""
    import math

    from jacnet_cli.run import plan

    t = TABLES[name]
    rows = len(split(name, 0).x_train)
    batch = plan.batch_size(rows, 2)  # (every table has several inputs)
    per_epoch = 1 if batch is None else math.ceil(rows / batch)
    auto = max(plan.MIN_PATIENCE, math.ceil(plan.PATIENCE_STEPS / per_epoch))
    cap = RECOMMENDED.get("patience_cap_epochs")
    extra = [f"patience={min(cap, auto)}"] if cap and min(cap, auto) != auto else []
    return list(RECOMMENDED[t.task]) + extra


PUBLISHED_EPOCHS = {"compas": 100, "heart": 300, "autompg": 500, "diabetes": 500}


def _cache() -> dict:
    return json.loads(CACHE.read_text()) if CACHE.is_file() else {}


def _save(cache: dict) -> None:
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    tmp = CACHE.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache, indent=1))
    tmp.replace(CACHE)


def _entry(task: str, sp, predict, info: dict, table) -> tuple[dict, np.ndarray]:
    z = predict(sp.x_test)
    out = common.sigmoid(z) if task == "cls" else z
    scale = 1.0 if task == "cls" else float(np.std(sp.y_train))
    res = {**common.scores(task, sp.y_test, out),
           **common.violations(predict, sp.x_test, table.monotone, sp.x_train.std(0), scale),
           **{k: v for k, v in info.items() if isinstance(v, (int, float, str))}}
    return res, out


def honest(tables: list[str], models: list[str]) -> None:
    cache = _cache()
    for name in tables:
        t = TABLES[name]
        rec = recommended(name)
        # jacnet sweeps first (one process per sweep)
        if "jacnet_default" in models:  # the previous defaults
            jacnet_runs.sweep("compare/jacnet_default", name, ["activation.hidden=128"],
                              ",".join(map(str, SEEDS)))
        if "jacnet" in models:  # today's defaults, no tuning flag
            jacnet_runs.sweep("compare/jacnet", name, [], ",".join(map(str, SEEDS)))
        if "jacnet_linear" in models:  # one flag: the linear term
            jacnet_runs.sweep("compare/jacnet_linear", name, ["activation.linear=true"],
                              ",".join(map(str, SEEDS)))
        if "jacnet_capped" in models or "jacnet_ens" in models:
            jacnet_runs.sweep("compare/jacnet_capped", name, rec, ",".join(map(str, SEEDS)))
        if "jacnet_ens" in models:
            jacnet_runs.sweep("compare/jacnet_members", name, rec,
                              ",".join(map(str, MEMBERS)),
                              extra=["data.split_seed=" + ",".join(map(str, SEEDS))])
        for seed in SEEDS:
            sp = split(name, seed)
            for model in models:
                key = f"{name}/{model}/{seed}"
                if key in cache:
                    continue
                if model in ("jacnet", "jacnet_default", "jacnet_capped", "jacnet_linear"):
                    d = _job(RUNS / "compare" / model, name, {"seed": str(seed)})
                    predict, m = jacnet_runs.predictor(d)
                    info = {"params": m["parameters"], "train_time_s": m["train_time_s"],
                            "epochs": m["epochs"], "best_iteration": m.get("best_iteration", -1),
                            "jacnet_test_metric": m.get("test_accuracy", m.get("test_rmse"))}
                    res, out = _entry(t.task, sp, predict, info, t)
                elif model == "jacnet_ens":
                    dirs = [_job(RUNS / "compare" / "jacnet_capped", name, {"seed": str(seed)})] + [
                        _job(RUNS / "compare" / "jacnet_members", name,
                             {"seed": str(s), "data.split_seed": str(seed)}) for s in MEMBERS]
                    preds = [jacnet_runs.predictor(d) for d in dirs]
                    fs = [p for p, _ in preds]
                    if t.task == "cls":
                        predict = lambda x, fs=fs: common.logit(  # noqa: E731
                            np.mean([common.sigmoid(f(x)) for f in fs], 0))
                    else:
                        predict = lambda x, fs=fs: np.mean([f(x) for f in fs], 0)  # noqa: E731
                    info = {"params": sum(m["parameters"] for _, m in preds),
                            "train_time_s": sum(m["train_time_s"] for _, m in preds),
                            "members": len(fs)}
                    for k in (1, 3):  # smaller ensembles, the first k members
                        sub = fs[:k] if k > 1 else fs[:1]
                        if t.task == "cls":
                            o = np.mean([common.sigmoid(f(sp.x_test)) for f in sub], 0)
                        else:
                            o = np.mean([f(sp.x_test) for f in sub], 0)
                        for mk, mv in common.scores(t.task, sp.y_test, o).items():
                            info[f"k{k}_{mk}"] = mv
                    res, out = _entry(t.task, sp, predict, info, t)
                else:
                    fit = {"lmn": peers.fit_lmn, "xgb": peers.fit_xgb, "mlp": peers.fit_mlp}[model]
                    r = fit(t, sp, seed)
                    res, out = _entry(t.task, sp, r[0], r[1], t)
                cache[key] = res
                _save(cache)
                print(key, {k: round(v, 4) if isinstance(v, float) else v
                            for k, v in res.items()}, flush=True)


def _job(sweep: Path, table: str, want: dict[str, str]) -> Path:
    for ov, d in jacnet_runs.runs(sweep / table):
        if all(ov.get(k) == v for k, v in want.items()):
            return d
    raise FileNotFoundError(f"no job {want} in {sweep / table}")


def published(tables: list[str], models: list[str], seeds: list[int]) -> None:
    cache = _cache()
    for name in tables:
        t = TABLES[name]
        for seed in seeds:
            for model in models:
                key = f"published/{name}/{model}/{seed}"
                if key in cache:
                    continue
                if model == "jacnet":
                    res = jacnet_runs.published(t, RECOMMENDED[t.task], seed,
                                                PUBLISHED_EPOCHS[name])
                else:
                    res = peers.lmn_published(t, split(name, seed, val_fraction=0.0), seed)
                cache[key] = res
                _save(cache)
                print(key, res, flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["honest", "published", "write"])
    p.add_argument("--tables", default="compas,heart,autompg,diabetes")
    p.add_argument("--models",
                   default="jacnet,jacnet_linear,jacnet_default,jacnet_capped,jacnet_ens,lmn,"
                           "xgb,mlp")
    p.add_argument("--seeds", default="0,1,2")
    a = p.parse_args()
    tables = a.tables.split(",")
    if a.what == "honest":
        honest(tables, a.models.split(","))
    elif a.what == "published":
        published(tables, [m for m in a.models.split(",") if m in ("jacnet", "lmn")],
                  [int(s) for s in a.seeds.split(",")])
    else:
        import write_results

        write_results.main(_cache(), RECOMMENDED)


if __name__ == "__main__":
    main()
