"""crossfit.json and the tables of crossfit.md from the models crossfit.py stored.

    .venv/bin/python benchmarks/tabular/crossfit_write.py

Every (table, method, seed) whose models are all stored is scored again here (the replay of
the harness's metrics and violation count; nothing trains), so the tables always show what
is on disk. Peers: benchmark.py's honest rows in results2.json (same splits, same seeds).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np

import crossfit as cf
from tables import TABLES, split

HERE = Path(__file__).resolve().parent
ORDER = ["autompg", "diabetes", "boston", "caschool", "housing", "compas", "heart"]
MONOTONE_PEERS = {"lmn", "lmn2", "cmnn", "lattice", "xgb", "xgb_grid"}
PEER_NAMES = {"lmn": "LMN", "lmn2": "monotonicnetworks", "cmnn": "mononet",
              "lattice": "pytorch-lattice", "xgb": "XGBoost", "xgb_grid": "XGBoost grid",
              "mlp": "MLP", "mlp_grid": "MLP grid"}


def metric(table: str) -> str:
    return "accuracy" if TABLES[table].task == "cls" else "rmse"


def better(table: str, a: float, b: float) -> bool:
    return a > b if TABLES[table].task == "cls" else a < b


def peers() -> dict:
    """table -> (best peer, its mean, best monotone peer, its mean) over results2's rows."""
    h = json.loads((HERE / "results2.json").read_text())["honest"]
    out = {}
    for table, rows in h.items():
        key = metric(table)
        cand = [(m, r[key][0]) for m, r in rows.items() if m != "jacnet" and key in r]
        pick = lambda c: (max if TABLES[table].task == "cls" else min)(c, key=lambda v: v[1])  # noqa
        best, mono = pick(cand), pick([c for c in cand if c[0] in MONOTONE_PEERS])
        out[table] = {"best": best[0], "best_value": best[1], "mono": mono[0],
                      "mono_value": mono[1], "jacnet_published_row": rows["jacnet"][key][0],
                      "jacnet_per_seed": rows["jacnet"]["per_seed"][key]}
    return out


def collect() -> dict:
    """table -> method -> seed -> scores, for everything stored."""
    out: dict = {}
    for table in ORDER:
        for seed in cf.SEEDS:
            sp = None
            default = cf.stored(table, seed, "default")
            for method in cf.METHODS:
                models = cf.stored(table, seed, method)
                if models is None:
                    continue
                sp = sp or split(table, seed)
                res = cf.score(table, seed, sp, method, models,
                               default[0] if default else None)
                out.setdefault(table, {}).setdefault(method, {})[seed] = res
    return out


def fmt(table: str, v: float, like: float | None = None) -> str:
    """v with the precision of `like` (a mean and its sd alike)."""
    like = v if like is None else like
    if TABLES[table].task == "cls":
        return f"{v:.4f}"
    return f"{v:.0f}" if like > 1000 else (f"{v:.1f}" if like > 30 else f"{v:.3f}")


def summarise(res: dict, ref: dict) -> dict:
    summary: dict = {}
    for table, methods in res.items():
        key = metric(table)
        base = methods.get("default", {})
        for method, seeds in methods.items():
            vals = [seeds[s][key] for s in sorted(seeds)]
            paired = [seeds[s][key] / base[s][key] for s in sorted(seeds) if s in base]
            row = {"seeds": sorted(seeds), "mean": statistics.mean(vals),
                   "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                   "per_seed": vals,
                   "violations": sum(seeds[s]["violations"] for s in seeds),
                   "pairs": sum(seeds[s]["pairs"] for s in seeds),
                   "member_violations": sum(seeds[s]["member_violations"] for s in seeds),
                   "models": seeds[sorted(seeds)[0]]["models"],
                   "paired_ratio_to_default": paired,
                   "steps_x": statistics.median(seeds[s].get("steps_x", 1) for s in seeds),
                   "time_x": statistics.median(seeds[s].get("time_x", 1) for s in seeds),
                   "train_s": statistics.mean(seeds[s]["train_s"] for s in seeds)}
            for extra in ("auc", "log_loss", "mae"):
                if extra in seeds[sorted(seeds)[0]]:
                    row[extra] = statistics.mean(seeds[s][extra] for s in seeds)
            row["member"] = statistics.mean(seeds[s][f"member_{key}"] for s in seeds)
            for extra in ("oof_rmse", "oof_acc", "oof_log_loss"):
                if extra in seeds[sorted(seeds)[0]]:
                    row[extra] = [seeds[s][extra] for s in sorted(seeds)]
            if "refit_epochs" in seeds[sorted(seeds)[0]]:
                row["refit_epochs"] = [seeds[s]["refit_epochs"] for s in sorted(seeds)]
            if "best_epochs" in seeds[sorted(seeds)[0]]:
                row["best_epochs"] = [seeds[s]["best_epochs"] for s in sorted(seeds)]
            if table in ref:
                row["ratio_best_peer"] = row["mean"] / ref[table]["best_value"]
                row["ratio_mono_peer"] = row["mean"] / ref[table]["mono_value"]
            if base and len(base) == len(seeds):
                row["ratio_default"] = row["mean"] / statistics.mean(
                    base[s][key] for s in sorted(seeds))
            summary.setdefault(table, {})[method] = row
    return summary


def select_oof(res: dict) -> dict:
    """Per (table, seed): cf5 or cf5lin, whichever has the lower out-of-fold error on the
    training + validation rows (RMSE; log-loss for classification): an honest choice."""
    out = {}
    for table, methods in res.items():
        if "cf5" not in methods or "cf5lin" not in methods:
            continue
        key = metric(table)
        crit = "oof_log_loss" if TABLES[table].task == "cls" else "oof_rmse"
        seeds = sorted(set(methods["cf5"]) & set(methods["cf5lin"]))
        picks, vals = [], []
        for s in seeds:
            a, b = methods["cf5"][s], methods["cf5lin"][s]
            if crit not in a or crit not in b:
                break
            pick = "cf5lin" if b[crit] < a[crit] else "cf5"
            picks.append(pick)
            vals.append(methods[pick][s][key])
        else:
            if vals:
                out[table] = {"picks": picks, "mean": statistics.mean(vals),
                              "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                              "per_seed": vals}
    return out


def geo(summary: dict, method: str, tables: list[str]) -> tuple[float, float, int] | None:
    logs = [math.log(r) for t in tables if method in summary.get(t, {})
            for r in summary[t][method]["paired_ratio_to_default"]]
    if not logs:
        return None
    se = statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else 0.0
    return math.exp(statistics.mean(logs)), se, len(logs)


def markdown(summary: dict, ref: dict, sel: dict) -> str:
    methods = [m for m in cf.METHODS if any(m in summary.get(t, {}) for t in ORDER)]
    tables = [t for t in ORDER if t in summary]
    lines = ["| method | models | " + " | ".join(
        f"{t} ({'acc ↑' if TABLES[t].task == 'cls' else 'RMSE ↓'})" for t in tables)
        + " | violations / pairs |", "|---|---:|" + "---:|" * len(tables) + "---:|"]
    for m in methods:
        cells, viol, pairs = [], 0, 0
        for t in tables:
            r = summary[t].get(m)
            if r is None:
                cells.append("")
                continue
            n = "" if len(r["seeds"]) == 5 else f" (n={len(r['seeds'])})"
            cells.append(f"{fmt(t, r['mean'])} ± {fmt(t, r['sd'], r['mean'])}{n}")
            viol, pairs = viol + r["violations"], pairs + r["pairs"]
        models = summary[next(t for t in tables if m in summary[t])][m]["models"]
        lines.append(f"| {m}: {cf.WHAT[m]} | {models} | " + " | ".join(cells)
                     + f" | {viol} / {pairs} |")
    if sel:
        cells = [f"{fmt(t, sel[t]['mean'])} ± {fmt(t, sel[t]['sd'], sel[t]['mean'])}"
                 + ("" if len(sel[t]["picks"]) == 5 else f" (n={len(sel[t]['picks'])})")
                 + f" [lin {sel[t]['picks'].count('cf5lin')}/{len(sel[t]['picks'])}]"
                 if t in sel else "" for t in tables]
        lines.append("| cf5 or cf5lin, chosen per seed by out-of-fold error | 5 | "
                     + " | ".join(cells) + " | (as cf5, cf5lin) |")
    peer_cells = [f"{fmt(t, ref[t]['best_value'])} ({PEER_NAMES[ref[t]['best']]})"
                  for t in tables]
    lines.append("| best peer of results2.json (any row) | | " + " | ".join(peer_cells) + " | |")
    mono_cells = [f"{fmt(t, ref[t]['mono_value'])} ({PEER_NAMES[ref[t]['mono']]})"
                  for t in tables]
    lines.append("| best monotone peer | | " + " | ".join(mono_cells) + " | |")
    tab1 = "\n".join(lines)

    lines = ["| method | " + " | ".join(tables) + " |", "|---|" + "---:|" * len(tables)]
    for label, field in (("/ defaults", "ratio_default"), ("/ best peer", "ratio_best_peer"),
                         ("/ best monotone peer", "ratio_mono_peer")):
        for m in methods:
            cells = []
            for t in tables:
                r = summary[t].get(m, {})
                v = r.get(field)
                cells.append("" if v is None else f"{v:.3f}")
            lines.append(f"| {m} {label} | " + " | ".join(cells) + " |")
    tab2 = "\n".join(lines)

    reg = [t for t in tables if TABLES[t].task == "reg"]
    cls = [t for t in tables if TABLES[t].task == "cls"]
    lines = ["| method | regression: geo. mean of paired ratios to defaults | s.e. (log) | "
             "pairs | classification: geo. mean of accuracy ratios (above 1 better) | pairs | steps x defaults (median per table) "
             "| train time x defaults (median per table) |", "|---|---:|---:|---:|---:|---:|---|---|"]
    for m in methods:
        g, gc = geo(summary, m, reg), geo(summary, m, cls)
        if "peer" in cf.METHODS[m]:
            steps = "(peer)"
            times = "train s: " + ", ".join(f"{t} {summary[t][m]['train_s']:.1f}"
                                            for t in tables if m in summary[t])
        else:
            steps = ", ".join(f"{t} {summary[t][m]['steps_x']:.1f}" for t in tables
                              if m in summary[t])
            times = ", ".join(f"{t} {summary[t][m]['time_x']:.1f}" for t in tables
                              if m in summary[t])
        lines.append(f"| {m} | {'' if g is None else f'{g[0]:.3f}'} | "
                     f"{'' if g is None else f'{g[1]:.3f}'} | {'' if g is None else g[2]} | "
                     f"{'' if gc is None else f'{gc[0]:.4f}'} | {'' if gc is None else gc[2]} | "
                     f"{steps} | {times} |")
    tab3 = "\n".join(lines)

    lines = ["| method | " + " | ".join(tables) + " |", "|---|" + "---:|" * len(tables)]
    for m in methods:
        if all(summary[t].get(m, {}).get("models", 1) == 1 for t in tables):
            continue
        cells = []
        for t in tables:
            r = summary[t].get(m)
            cells.append("" if r is None else
                         f"{fmt(t, r['member'])} -> {fmt(t, r['mean'], r['member'])}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    tab4 = "\n".join(lines)
    if cls:
        lines = ["| method | " + " | ".join(f"{t} accuracy / AUC / log-loss" for t in cls)
                 + " |", "|---|" + "---:|" * len(cls)]
        for m in methods:
            cells = []
            for t in cls:
                r = summary[t].get(m)
                cells.append("" if r is None else
                             f"{r['mean']:.4f} / {r['auc']:.4f} / {r['log_loss']:.4f}")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        tab4 += "\n\nClassification, means over seeds:\n\n" + "\n".join(lines)
    return tab1, tab2, tab3, tab4


def main(scores_log: Path) -> None:
    ref = peers()
    res = collect()
    summary = summarise(res, ref)
    sel = select_oof(res)
    (HERE / "crossfit.json").write_text(json.dumps(
        {"summary": summary, "oof_selection": sel, "peers": ref,
         "per_seed": res}, indent=1, default=float))
    tab1, tab2, tab3, tab4 = markdown(summary, ref, sel)
    out = HERE / "crossfit_tables.md"
    out.write_text(
        "<!-- written by `crossfit_write.py` -->\n\n"
        "## Every method (mean ± sd over seeds 0-4; n: fewer seeds)\n\n" + tab1
        + "\n\n## Ratios of means (RMSE: below 1 is better; accuracy: above 1 is better)"
        "\n\n" + tab2
        + "\n\n## Paired ratios to the defaults, cost\n\n" + tab3
        + "\n\n## One member (mean over members) -> their mean\n\n" + tab4 + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main(cf.RUNS / "scores.jsonl")
