"""results2.json and tables2.md of benchmark.py (issue 25) from its cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tables import TABLES

from jacnet_cli.plots.tables import markdown_table

HERE = Path(__file__).resolve().parent
LABELS = {
    "jacnet": "**jacnet monotone_in, defaults** (no tuning flag)",
    "lmn": "LMN (monotonenorm, the authors' per-table architecture)",
    "lmn2": "monotonicnetworks (LMN's successor, README network)",
    "cmnn": "mononet (constrained monotone dense, Runje & Shankaranarayana)",
    "lattice": "pytorch-lattice (calibrated lattice / linear)",
    "xgb": "XGBoost + monotone_constraints (library defaults)",
    "mlp": "MLP, not monotone (2 x 128, Adam 1e-3)",
    "xgb_grid": "XGBoost + monotone_constraints, previous study's 8-point grid",
    "mlp_grid": "MLP, not monotone, previous study's 4-point grid",
}
MONOTONE_PEERS = ["lmn", "lmn2", "cmnn", "lattice", "xgb", "xgb_grid"]
PEERS = MONOTONE_PEERS + ["mlp", "mlp_grid"]
PUBLISHED = {  # as published, each under its own protocol (README.md)
    "autompg": "MSE: Sartor et al. 2025 7.34 ± 0.46; SMNN 7.44; LMN 7.58; Constrained MNN "
               "8.37; COMET 8.81",
    "heart": "accuracy: Sartor et al. 2025 0.94; LMN 0.90 ± 0.02; Constrained MNN 0.89; SMNN "
             "0.88; DLN 0.86",
    "compas": "accuracy: Sartor et al. 2025 0.695; LMN 0.693; SMNN 0.693; Constrained MNN "
              "0.692; XGBoost 0.685",
}


def _agg(values: list[float]) -> list[float]:
    a = np.asarray(values, dtype=float)
    return [float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0]


def collect(cache: dict, row: str) -> dict:
    out: dict = {}
    for name, t in TABLES.items():
        mets = ["accuracy", "auc", "log_loss"] if t.task == "cls" else ["rmse", "mae", "mse"]
        models = sorted({k.split("/")[2] for k in cache if k.startswith(f"{row}/{name}/")})
        for model in models:
            rows = [cache[k] for k in sorted(cache) if k.startswith(f"{row}/{name}/{model}/")]
            e = {m: _agg([r[m] for r in rows]) for m in mets}
            e["seeds"] = len(rows)
            e["per_seed"] = {m: [r[m] for r in rows] for m in mets}
            e["violations"] = int(sum(r["violations"] for r in rows))
            e["pairs_checked"] = int(sum(r["pairs"] for r in rows))
            e["params"] = float(np.mean([r["params"] for r in rows]))
            e["train_time_s"] = _agg([r["train_time_s"] for r in rows])
            if "choice" in rows[0]:
                e["choices"] = [r["choice"] for r in rows]
            out.setdefault(name, {})[model] = e
    return out


def collect_published(cache: dict) -> dict:
    out: dict = {}
    for k in sorted(cache):
        if not k.startswith("published/"):
            continue
        _, name, model, _seed = k.split("/")
        out.setdefault(name, {}).setdefault(model, []).append(cache[k])
    res: dict = {}
    for name, models in out.items():
        for model, rows in models.items():
            keys = [m for m in ("mse", "rmse", "accuracy", "accuracy_tuned", "train_time_s")
                    if m in rows[0]]
            res.setdefault(name, {})[model] = {m: _agg([r[m] for r in rows]) for m in keys}
            res[name][model]["seeds"] = len(rows)
    return res


def _fmt(v: list[float], digits: int) -> str:
    return f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}"


def _digits(name: str) -> int:
    return 4 if TABLES[name].task == "cls" else (1 if name in ("diabetes", "housing",
                                                               "computers") else 3)


def headline(honest: dict, tuned: dict) -> tuple[str, dict]:
    """One line per table: jacnet defaults vs the best peer (defaults row, and the best of
    every row: a peer's defaults, its previous grid, its tuned pick)."""
    rows, verdict = [], {}
    for name, t in TABLES.items():
        if name not in honest or "jacnet" not in honest[name]:
            continue
        key = "accuracy" if t.task == "cls" else "rmse"
        better = max if t.task == "cls" else min
        j = honest[name]["jacnet"][key][0]
        cands = {m: honest[name][m][key][0] for m in PEERS if m in honest[name]}
        cands.update({f"{m} (tuned)": tuned[name][m][key][0]
                      for m in tuned.get(name, {}) if m != "jacnet"})
        if not cands:
            continue
        best = better(cands, key=cands.get)
        ratio = j / cands[best]
        ok = (j >= cands[best]) if t.task == "cls" else (j <= cands[best])
        verdict[name] = {"jacnet": j, "best_peer": best, "best_peer_value": cands[best],
                         "ratio": ratio, "met": bool(ok)}
        tj = tuned.get(name, {}).get("jacnet", {}).get(key, [None])[0]
        d = _digits(name)
        rows.append([f"{name} ({key} {'↑' if t.task == 'cls' else '↓'})",
                     _fmt(honest[name]["jacnet"][key], d),
                     "" if tj is None else f"{tj:.{d}f}", best, f"{cands[best]:.{d}f}",
                     f"{ratio:.3f}", "met" if ok else "missed"])
    return markdown_table(["table", "jacnet defaults", "jacnet tuned", "best peer (any row)",
                           "its value", "jacnet / best", "jacnet <= best"], rows), verdict


def table_md(name: str, honest: dict, tuned: dict) -> str:
    t = TABLES[name]
    mets = ["accuracy", "auc", "log_loss"] if t.task == "cls" else ["rmse", "mae", "mse"]
    d = _digits(name)
    rows = []
    for row, data in (("defaults", honest), ("tuned", tuned)):
        for model in LABELS:
            e = data.get(name, {}).get(model)
            if e is None:
                continue
            label = LABELS[model] + ("" if row == "defaults" else ", tuned (8 configs)")
            rows.append([label] + [_fmt(e[m], d if m != "mse" else max(1, d - 1)) for m in mets]
                        + [f"{e['violations']} / {e['pairs_checked']}", f"{e['params']:.0f}",
                           f"{e['train_time_s'][0]:.1f}", e["seeds"]])
    head = ["model", *mets, "violations / pairs", "params", "train s", "seeds"]
    return (f"### {name} ({'classification' if t.task == 'cls' else 'regression'}; monotone: "
            f"{t.prior})\n\n" + markdown_table(head, rows))


def published_md(pub: dict, honest: dict) -> str:
    rows = []
    for name, models in pub.items():
        t = TABLES[name]
        for model, e in models.items():
            if t.task == "cls":
                val = _fmt(e["accuracy"], 4) + (f" (threshold on test: {e['accuracy_tuned'][0]:.4f})"
                                                if "accuracy_tuned" in e else "")
                hon = honest.get(name, {}).get(model, {}).get("accuracy")
            else:
                val = _fmt(e["mse"], 2)
                hon = honest.get(name, {}).get(model, {}).get("mse")
            rows.append([name, LABELS.get(model, model), val,
                         "" if hon is None else _fmt(hon, 4 if t.task == "cls" else 2),
                         e["seeds"], PUBLISHED.get(name, "")])
    return markdown_table(["table", "model", "published protocol (best test epoch)",
                           "honest protocol (same model, defaults)", "seeds", "published"],
                          rows)


def matrix_md(data: dict, row: str) -> str:
    """Models x tables: mean ± sd of the headline metric (accuracy / RMSE), seeds, and the
    violations over all tables."""
    names = [n for n in TABLES if n in data]
    rows = []
    for model in LABELS:
        cells, bad, pairs = [], 0, 0
        for n in names:
            e = data[n].get(model)
            key = "accuracy" if TABLES[n].task == "cls" else "rmse"
            if e is None:
                cells.append("")
                continue
            cells.append(_fmt(e[key], _digits(n)) + ("" if e["seeds"] == 5 else f" ({e['seeds']} seeds)"))
            bad, pairs = bad + e["violations"], pairs + e["pairs_checked"]
        if any(cells):
            rows.append([LABELS[model] + ("" if row == "honest" else ", tuned")] + cells
                        + [f"{bad} / {pairs}"])
    head = ["model"] + [f"{n} ({'acc ↑' if TABLES[n].task == 'cls' else 'RMSE ↓'})"
                        for n in names] + ["violations / pairs"]
    return markdown_table(head, rows)


def main(cache: dict) -> None:
    honest, tuned = collect(cache, "honest"), collect(cache, "tuned")
    pub = collect_published(cache)
    head, verdict = headline(honest, tuned)
    (HERE / "results2.json").write_text(json.dumps(
        {"honest": honest, "tuned": tuned, "published": pub, "verdict": verdict}, indent=1))
    parts = ["# Tabular benchmark, issue 25 (benchmark.py)", "",
             "Generated by `benchmark.py write`; see README.md for the protocol.", "",
             "## jacnet's defaults against the best peer", "", head, "",
             "## Every model, defaults row (honest protocol, mean ± sd over seeds 0-4)", "",
             matrix_md(honest, "honest"), "",
             "## Tuned row (8 configurations each, chosen on validation)", "",
             matrix_md(tuned, "tuned"), "",
             "## Published protocol beside the honest one", "", published_md(pub, honest), ""]
    for name in TABLES:
        if name in honest:
            parts += [table_md(name, honest, tuned), ""]
    (HERE / "tables2.md").write_text("\n".join(parts))
    print(head)
