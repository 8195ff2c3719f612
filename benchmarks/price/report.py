"""Tables of the price benchmark from results.jsonl, printed as Markdown (pasted into
README.md by hand with the reading beside them).

    python -m benchmarks.price.report [--results FILE] [--tag after] [--before before]

Four tables: accuracy, time (with time to accuracy and the guarantee), the structure row
before and after (the `--before` tag: jacnet's old defaults, `run --jacnet OLD --tag before`),
and the checks of issue 24 per map, whose misses are listed after it.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from jacnet_cli.plots.tables import markdown_table

from benchmarks.price.maps import MAPS
from benchmarks.price.run import HERE

ORDER = ["structure", "none", "mlp", "sklearn", "torchlip", "orthogonium SLL", "orthogonium AOL",
         "zuko MAF", "zuko NSF"]
LABEL = {"structure": "jacnet structure", "none": "jacnet `none`", "mlp": "jacnet `model=mlp`",
         "sklearn": "scikit-learn MLP"}


def load(path: Path, tag: str) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r.get("tag", "after") == tag:
            out[r["map"]][r["model"]] = r
    return out


def _db(r: dict | None) -> str:
    return "–" if r is None else f"{r['test_db']:.1f}"


def accuracy(rows: dict) -> str:
    """dB of every model per map, the best unconstrained beside the structure."""
    header = ["map", "structure", "jacnet structure", "jacnet `none`", "jacnet `model=mlp`",
              "scikit-learn MLP", "peers (best on validation each)", "structure − best unconstrained"]
    table = []
    for name, m in MAPS.items():
        r = rows.get(name, {})
        if "structure" not in r:
            continue
        free = [r[k]["test_db"] for k in ("none", "mlp", "sklearn") if k in r]
        peers = [f"{k} {r[k]['test_db']:.1f}" for k in ORDER[4:] if k in r]
        gap = r["structure"]["test_db"] - min(free) if free else float("nan")
        table.append([f"`{name}` ({m.note})", m.structure, _db(r.get("structure")),
                      _db(r.get("none")), _db(r.get("mlp")), _db(r.get("sklearn")),
                      ", ".join(peers) or "–", f"{gap:+.1f}"])
    return markdown_table(header, table)


def timing(rows: dict) -> str:
    header = ["map", "model", "test dB", "CPU s", "wall s", "steps", "parameters",
              "dB at 5 / 15 / 60 CPU s", "guarantee on the 3× box", "held"]
    table = []
    for name in MAPS:
        r = rows.get(name, {})
        for key in ORDER:
            if key not in r:
                continue
            x = r[key]
            g = x.get("guarantee", {})
            marks = " / ".join(f"{x['marks'][k]:.1f}" if x["marks"].get(k) is not None else "–"
                               for k in sorted(x["marks"], key=float))
            cpu = x["cpu_s"]
            if "tuning_cpu_s" in x:
                cpu_s = f"{cpu:.1f} (all {len(x.get('all', []))} rates: {x['tuning_cpu_s']:.0f})"
            else:
                cpu_s = f"{cpu:.1f}" + (" (capped)" if x.get("capped") else "")
            value = g.get("value", float("nan"))
            table.append([f"`{name}`", LABEL.get(key, key), f"{x['test_db']:.2f}", cpu_s,
                          f"{x.get('wall_s', float('nan')):.0f}", str(x.get("steps", "–")),
                          f"{x.get('params', 0):,}", marks, f"{g.get('measure', '')} {value:.4g}",
                          "yes" if g.get("held") else "**no**"])
    return markdown_table(header, table)


def _marks(x: dict) -> str:
    return " / ".join(f"{x['marks'][k]:.1f}" if x["marks"].get(k) is not None else "–"
                      for k in sorted(x["marks"], key=float))


def _cpu(x: dict) -> str:
    return f"{x['cpu_s']:.1f}" + (" (capped)" if x.get("capped") else "")


def before_after(after: dict, before: dict) -> str:
    """The structure row of every map with jacnet's old defaults (before) and its current
    ones (after): test dB, CPU and wall seconds, steps, the cap, and the time to accuracy
    (test dB of the weights at 5 / 15 / 60 CPU s of training)."""
    header = ["map", "structure", "dB before", "dB after", "CPU s before", "CPU s after",
              "wall s before", "wall s after", "steps before", "steps after",
              "capped before", "capped after", "parameters before", "parameters after",
              "dB at 5 / 15 / 60 CPU s before",
              "dB at 5 / 15 / 60 CPU s after"]
    table = []
    for name, m in MAPS.items():
        b, a = before.get(name, {}).get("structure"), after.get(name, {}).get("structure")
        if a is None and b is None:
            continue

        def get(x, f):
            return "–" if x is None else f(x)
        table.append([f"`{name}`", m.structure,
                      get(b, lambda x: f"{x['test_db']:.2f}"), get(a, lambda x: f"{x['test_db']:.2f}"),
                      get(b, lambda x: f"{x['cpu_s']:.1f}"), get(a, lambda x: f"{x['cpu_s']:.1f}"),
                      get(b, lambda x: f"{x['wall_s']:.0f}"), get(a, lambda x: f"{x['wall_s']:.0f}"),
                      get(b, lambda x: str(x["steps"])), get(a, lambda x: str(x["steps"])),
                      get(b, lambda x: "yes" if x.get("capped") else "no"),
                      get(a, lambda x: "yes" if x.get("capped") else "no"),
                      get(b, lambda x: f"{x['params']:,}"), get(a, lambda x: f"{x['params']:,}"),
                      get(b, _marks), get(a, _marks)])
    return markdown_table(header, table)


LIP_PEERS = ("torchlip", "orthogonium SLL", "orthogonium AOL")


def checks(rows: dict) -> tuple[str, list[str]]:
    """Issue 24's three checks per map: the structure within 1 dB of the best unconstrained
    model (`none`, `model=mlp`, scikit-learn), at least as accurate as the best specialist
    1-Lipschitz peer (lipschitz maps), and trained in no more CPU time than scikit-learn's
    MLPRegressor with its defaults (relu, tol 1e-4). The table and the misses, in words."""
    header = ["map", "structure dB", "best unconstrained", "gap (≤ 1 dB?)",
              "best 1-Lipschitz peer", "structure ≤ peer?", "structure CPU s",
              "scikit-learn default CPU s", "CPU ≤ scikit-learn?", "scikit-learn default dB",
              "structure dB at 5 CPU s"]
    table, misses = [], []
    for name, m in MAPS.items():
        r = rows.get(name, {})
        s = r.get("structure")
        if s is None:
            continue
        free = {k: r[k]["test_db"] for k in ("none", "mlp", "sklearn") if k in r}
        missing = [k for k in ("none", "mlp", "sklearn") if k not in r]
        if free:
            best = min(free, key=free.get)
            gap = s["test_db"] - free[best]
            ok = gap <= 1.0
            free_cell = f"{LABEL.get(best, best)} {free[best]:.2f}" + (
                f" (no {', '.join(missing)} row)" if missing else "")
            gap_cell = f"{gap:+.2f} " + ("yes" if ok else "**no**")
            if not ok:
                misses.append(f"`{name}`: the structure is {gap:.1f} dB worse than "
                              f"{LABEL.get(best, best)} ({s['test_db']:.1f} vs {free[best]:.1f} dB)")
        else:
            free_cell, gap_cell = "–", "–"
        peer_cell = ok_peer = "–"
        if m.structure == "lipschitz":
            lip = {k: r[k]["test_db"] for k in LIP_PEERS if k in r}
            if lip:
                bp = min(lip, key=lip.get)
                peer_cell = f"{bp} {lip[bp]:.2f}"
                good = s["test_db"] <= lip[bp]
                ok_peer = "yes" if good else "**no**"
                if not good:
                    misses.append(f"`{name}`: {bp} is {s['test_db'] - lip[bp]:.1f} dB more "
                                  f"accurate than the structure ({lip[bp]:.1f} vs "
                                  f"{s['test_db']:.1f} dB)")
            else:
                peer_cell = "no peer row"
        sk = r.get("sklearn")
        if sk is not None:
            target = sk["default_cpu_s"]
            fast = s["cpu_s"] <= target
            sk_cell, fast_cell = f"{target:.1f}", "yes" if fast else "**no**"
            sk_db = f"{sk['default_test_db']:.2f}"
            if not fast:
                misses.append(f"`{name}`: the structure trains in {s['cpu_s']:.1f} CPU s, "
                              f"{s['cpu_s'] / target:.1f}× scikit-learn's default fit "
                              f"({target:.1f} s)")
        else:
            sk_cell = fast_cell = sk_db = "–"
        table.append([f"`{name}`", f"{s['test_db']:.2f}", free_cell, gap_cell, peer_cell,
                      ok_peer, _cpu(s), sk_cell, fast_cell, sk_db,
                      f"{s['marks'].get('5.0', s['marks'].get(5.0, s['test_db'])):.2f}"])
    return markdown_table(header, table), misses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, default=HERE / "results.jsonl")
    parser.add_argument("--tag", default="after")
    parser.add_argument("--before", default="before", help="the tag of the old defaults' rows")
    args = parser.parse_args()
    rows = load(args.results, args.tag)
    print("## Accuracy\n")
    print(accuracy(rows))
    print("\n## Time, time to accuracy and the guarantee\n")
    print(timing(rows))
    before = load(args.results, args.before)
    if before:
        print(f"\n## The structure before ({args.before}) and after ({args.tag})\n")
        print(before_after(rows, before))
    table, misses = checks(rows)
    print("\n## The checks of issue 24\n")
    print(table)
    print("\nMisses:\n")
    print("\n".join(f"- {x}" for x in misses) if misses else "- none")


if __name__ == "__main__":
    main()
