"""Write RESULTS.md from results/*.jsonl: the family table, the issue's targets, guarantees per
seed, timing, held-out seeds and one table per study sweep."""

from __future__ import annotations

import datetime as dt
import platform
import statistics
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from benchmarks.accuracy import harness, study
from benchmarks.accuracy.harness import JACNET_METHODS, PEER_METHODS, load
from jacnet_cli.plots.tables import markdown_table

SLACK = 1e-6  # the tolerance on the bounds: slope <= k (1 + 1e-6), min >= ε (1 - 1e-6)
LABELS = {
    "jacnet": "jacnet (new default)",
    "jacnet_current": "jacnet (old default)",
    "jacnet_data_anchor": "jacnet, y0 from data",
    "umnn": "UMNN",
    "mlp_tanh": "MLP tanh",
    "mlp_relu": "MLP ReLU",
    "lipmlp": "1-Lip MLP (1 layer)",
    "lipmlp2": "1-Lip MLP (2 layers)",
}
# The default's structure parameters (conf/activation/*.yaml): k = 1, ε = 1e-4.
K, EPS = 1.0, 1e-4


def _stats(values: Iterable[float]) -> tuple[float, float]:
    values = list(values)
    return statistics.median(values), statistics.fmean(values)


def _by(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["target"], r["method"]), []).append(r)
    return out


def family_table(rows: list[dict[str, Any]], seeds: int) -> tuple[str, dict[str, dict]]:
    """Markdown table target x method (median / mean) and the per-target verdicts."""
    by = _by(rows)
    methods = [m for m in (*JACNET_METHODS, *PEER_METHODS) if any(k[1] == m for k in by)]
    targets = [t for t in harness.FAMILY if any(k[0] == t for k in by)]
    header = ["target (structure)", *(LABELS[m] for m in methods), "best peer (median / mean)",
              "new / best peer"]
    lines = []
    verdicts: dict[str, dict] = {}
    for t in targets:
        cells, stats = [], {}
        for m in methods:
            rs = by.get((t, m), [])
            if len(rs) != seeds:
                cells.append(f"({len(rs)} seeds)")
                continue
            stats[m] = _stats(r["test_mae"] for r in rs)
            cells.append(f"{stats[m][0]:.3f} / {stats[m][1]:.3f}")
        peers = [m for m in PEER_METHODS if m in stats]
        if not peers or "jacnet" not in stats:
            lines.append([f"{t} ({harness.FAMILY[t]})", *cells, "", ""])
            continue
        best_med = min(peers, key=lambda m: stats[m][0])
        best_mean = min(peers, key=lambda m: stats[m][1])
        ratio_med = stats["jacnet"][0] / stats[best_med][0]
        ratio_mean = stats["jacnet"][1] / stats[best_mean][1]
        for i, m in enumerate(methods):
            if m == "jacnet":
                cells[i] = f"**{cells[i]}**"
        lines.append([f"{t} ({harness.FAMILY[t]})", *cells,
                      f"{LABELS[best_med]} {stats[best_med][0]:.3f} / {LABELS[best_mean]} "
                      f"{stats[best_mean][1]:.3f}", f"{ratio_med:.2f} / {ratio_mean:.2f}"])
        verdicts[t] = {"median": stats["jacnet"][0], "mean": stats["jacnet"][1],
                       "best_median": stats[best_med][0], "best_median_peer": best_med,
                       "best_mean": stats[best_mean][1], "best_mean_peer": best_mean,
                       "ratio_median": ratio_med, "ratio_mean": ratio_mean,
                       "current": stats.get("jacnet_current")}
    return markdown_table(header, lines), verdicts


def target_lines(verdicts: dict[str, dict]) -> list[str]:
    """The issue's accuracy targets, each with its numbers and whether it is met."""
    lines = []
    for t in harness.PAPER_TASKS:
        v = verdicts.get(t)
        if v is None:
            continue
        ok_med, ok_mean = v["ratio_median"] <= 0.5, v["ratio_mean"] <= 0.8
        lines.append(
            f"- **{t} ({harness.FAMILY[t]})**: median {v['median']:.3f} vs best peer "
            f"{v['best_median']:.3f} ({LABELS[v['best_median_peer']]}): ratio "
            f"{v['ratio_median']:.2f}, target ≤ 0.5: **{'met' if ok_med else 'missed'}**; mean "
            f"{v['mean']:.3f} vs best peer {v['best_mean']:.3f} ({LABELS[v['best_mean_peer']]}): "
            f"ratio {v['ratio_mean']:.2f}, target ≤ 0.8: **{'met' if ok_mean else 'missed'}**.")
    others = [t for t in verdicts if t not in harness.PAPER_TASKS]
    if others:
        worse = [t for t in others if verdicts[t]["ratio_median"] > 1]
        better = [t for t in others if verdicts[t]["ratio_median"] < 1]
        met = not worse and len(better) > len(others) / 2
        worse_text = ", ".join(f"{t} {verdicts[t]['ratio_median']:.2f}x" for t in worse) or "none"
        lines.append(
            f"- **The other {len(others)} targets**: better than the best peer in median on "
            f"{len(better)} ({', '.join(better) or '-'}), worse on {len(worse)} ({worse_text}): "
            f"target (no worse on any, better on most) **{'met' if met else 'missed'}**"
            + ("" if met or not better or len(better) <= len(others) / 2
               else " (better on most: met; no worse on any: missed)") + ".")
    return lines


def guarantee_table(rows: list[dict[str, Any]], method: str = "jacnet") -> tuple[str, bool]:
    """Per seed max slope (lipschitz tasks) or min slope (pd tasks) of `method`, and whether
    every one is within the issue's bound."""
    by = _by(rows)
    lines = []
    all_ok = True
    for t, structure in harness.FAMILY.items():
        rs = sorted(by.get((t, method), []), key=lambda r: r["seed"])
        if not rs:
            continue
        if structure == "lipschitz":
            vals = [r["lipschitz_max"] for r in rs]
            ok = [v <= K * (1 + SLACK) for v in vals]
            worst, bound = max(vals), f"max slope ≤ {K:g}(1 + 1e-6)"
        else:
            vals = [r["jacobian_min_eig"] for r in rs]
            ok = [v >= EPS * (1 - SLACK) for v in vals]
            worst, bound = min(vals), f"min slope ≥ {EPS:g}(1 - 1e-6)"
        all_ok &= all(ok)
        per = ", ".join(f"{r['seed']}: {v:.10g}" for r, v in zip(rs, vals))
        lines.append([f"{t} ({structure})", bound, f"{worst:.12g}", f"{sum(ok)}/{len(ok)}",
                      per])
    return markdown_table(["target (structure)", "bound", "worst over seeds", "seeds within",
                           "per seed (seed: value)"], lines), all_ok


def timing_table(results: Path) -> str:
    rows = load(results, "timing")
    if not rows:
        return "(not run)"
    lines = []
    for t in harness.PAPER_TASKS:
        rs = [r for r in rows if r["target"] == t]
        if not rs:
            continue
        old = statistics.median(r["jacnet_current"] for r in rs)
        new = statistics.median(r["jacnet"] for r in rs)
        ratio = statistics.median(r["jacnet"] / r["jacnet_current"] for r in rs)
        lines.append([t, f"{old:.4f}", f"{new:.4f}", f"{ratio:.2f}"])
    return markdown_table(["task", "old default, median s", "new default, median s",
                           "ratio new / old (median of per-seed ratios)"], lines)


def quadrature_table(results: Path, seeds: int) -> str:
    """Per target and J network: the largest gap between the slope of the function as
    evaluated (autograd through the 32-node rule) and the network's own J, and the bound."""
    rows = load(results, "quadrature")
    if not rows:
        return "(not run)"
    lines = []
    for target in dict.fromkeys(r["target"] for r in rows):
        for preset in dict.fromkeys(r["preset"] for r in rows):
            rs = [r for r in rows if r["target"] == target and r["preset"] == preset]
            if not rs:
                continue
            gap = max(r["slope_gap"] for r in rs)
            if rs[0]["structure"] == "lipschitz":
                worst = max(r["lipschitz_max"] for r in rs)
                ok = worst <= 1.0 * (1 + 1e-6)
                bound = f"max slope {worst:.10f} (≤ 1 + 1e-6)"
            else:
                worst = min(r["jacobian_min_eig"] for r in rs)
                ok = worst >= 1e-4 * (1 - 1e-6)
                bound = f"min slope {worst:.10g} (≥ 1e-4 (1 - 1e-6))"
            net = "GELU (default)" if preset == "new" else "ReLU"
            lines.append([f"{target} ({rs[0]['structure']})", net, f"{gap:.1e}", bound,
                          "yes" if ok else "**no**"])
    return markdown_table(["target (structure)", "J network", f"worst slope gap, {seeds} seeds",
                           "worst bound over seeds", "within bound"], lines)


def _span(seeds: Sequence[int]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def write(results: Path = harness.RESULTS, path: Path = harness.HERE / "RESULTS.md",
          seeds: Sequence[int] = harness.SEEDS,
          heldout: Sequence[int] = harness.HELDOUT_SEEDS) -> Path:
    """RESULTS.md at `path` from the rows in `results`, for runs on `seeds` (and `heldout`)."""
    rows = load(results, "table")
    n = len(seeds)
    table, verdicts = family_table(rows, n)
    out = [
        "# Accuracy on the paper's protocol: jacnet's defaults against its peers",
        "",
        f"Generated by `python -m benchmarks.accuracy.run` on {dt.date.today().isoformat()} "
        f"({platform.processor() or platform.machine()}, torch {torch.__version__}, one thread). "
        "See README.md in this folder for the write-up.",
        "",
        f"Protocol, per seed {_span(seeds)} and the same for every method: 5 training points "
        "uniform in [-1, 1], 100 test points uniform in [-2, 2] (`make_dataset(DataSpec(), "
        "target, seed)`, what `jacnet train seed=S` draws), 50 full-batch Adam(0.01) steps on "
        f"mean |y − ŷ|, float64. Cells: median / mean test MAE over the {n} seeds.",
        "",
        "## Family table",
        "",
        table,
        "",
        "## The issue's targets",
        "",
        *target_lines(verdicts),
        "",
    ]
    g_table, g_ok = guarantee_table(rows)
    out += ["## Guarantees of the new default, per seed",
            "",
            "Measured on the function as evaluated (autograd through its Gauss–Legendre "
            "integral) on the dense grid of 2001 points in [-3, 3]. "
            f"All within bounds: **{'yes' if g_ok else 'no'}**.",
            "", g_table, ""]
    held = load(results, "heldout")
    if held:
        h_table, _ = family_table(held, len(heldout))
        out += [f"## Held-out seeds {_span(heldout)} (not used to choose the defaults)", "",
                h_table, ""]
    out += ["## Is the 32-node rule exact on the J network?", "",
            "The slope of the function as evaluated (autograd through the default 32-node "
            "Gauss–Legendre integral) against the network's own J, which is the exact slope of "
            "the exact integral in 1-D, on the dense grid, per trained seed; the same with a ReLU "
            "J network (`model.nonlinearity=relu`, otherwise the defaults).", "",
            quadrature_table(results, n), ""]
    out += ["## Training time, measured side by side", "",
            "Per task and seed, the two defaults trained alternately, three times each, one "
            "thread; a seed's time is its fastest repeat.", "", timing_table(results), ""]
    out += [f"## Study sweeps ({n} seeds each; median / mean test MAE)", ""]
    for name in study.sweep_names():
        if not (results / f"{name}.jsonl").exists():
            continue
        out += [f"### `{name}`", "", study.table(results, name), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return path
