"""Tables of the price benchmark from results.jsonl, printed as Markdown (pasted into
README.md by hand with the reading beside them).

    python -m benchmarks.price.report [--results FILE] [--tag after]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, default=HERE / "results.jsonl")
    parser.add_argument("--tag", default="after")
    args = parser.parse_args()
    rows = load(args.results, args.tag)
    print("## Accuracy\n")
    print(accuracy(rows))
    print("\n## Time, time to accuracy and the guarantee\n")
    print(timing(rows))


if __name__ == "__main__":
    main()
