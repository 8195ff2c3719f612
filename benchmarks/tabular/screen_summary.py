"""screen.md from the nested screen (explore.py, and the peers and architecture checks on the
same inner splits): each configuration's inner-test error as a ratio to jacnet's defaults
on the same (table, seed), geometric mean over the pairs, its spread and worst case.

    .venv/bin/python benchmarks/tabular/screen_summary.py [screen.jsonl]
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import numpy as np

from jacnet_cli.plots.tables import markdown_table

HERE = Path(__file__).resolve().parent
WHAT = {
    "base": "jacnet defaults (one network, width 32, lr 0.01, plan auto)",
    "lin": "+ activation.linear=true",
    "m5": "+ activation.members=5 (trained on the loss of their mean)",
    "m5i": "+ members=5, independent=true (each member on its own loss)",
    "m5l": "+ members=5, linear=true",
    "avg": "+ activation.average=0.99 (moving average of the weights)",
    "lavg": "+ linear=true, average=0.99",
    "m5avg": "+ members=5, average=0.99",
    "m5lavg": "+ members=5, linear=true, average=0.99",
    "kp16": "+ activation.keypoints=16 (inputs calibrated at training quantiles)",
    "spread1": "+ wider spread of the non-negative weights at init (sd 1.0, not 0.3)",
    "d2": "+ model.depth=2 (conditioner of the free inputs two layers deep)",
    "lr1": "+ optim.lr=0.001",
    "lr3": "+ optim.lr=0.003",
    "peer_mlp": "peer: MLP 2 x 128, Adam 1e-3 (not monotone)",
    "peer_mlp_grid": "peer: MLP, 4-point grid on validation (not monotone)",
    "peer_xgb_grid": "peer: XGBoost + monotone_constraints, 8-point grid",
    "arch_pm_lr1e-3": "jacnet's network in the peers' loop (Adam 1e-3, patience 50)",
    "arch_pm_lr1e-2": "jacnet's network in the peers' loop (Adam 1e-2, patience 50)",
    "arch_mlp_lr1e-2": "peer: MLP 2 x 128 with Adam 1e-2 (not monotone)",
}


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "screen.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by: dict = collections.defaultdict(dict)
    for r in rows:
        by[(r["table"], r["seed"])][r["config"]] = r["screen_rmse"]
    out = []
    for c in WHAT:
        keys = [k for k in by if c in by[k] and "base" in by[k]]
        if not keys:
            continue
        logs = np.log([by[k][c] / by[k]["base"] for k in keys])
        se = logs.std(ddof=1) / np.sqrt(len(logs)) if len(logs) > 1 else float("nan")
        tables = sorted({k[0] for k in keys})
        out.append([c, WHAT[c], len(keys), len(tables), f"{np.exp(logs.mean()):.3f}",
                    f"{se:.3f}", f"{np.exp(logs.max()):.3f}"])
    text = ("Inner-test RMSE / jacnet defaults' on the same (table, seed); tables: autompg, "
            "diabetes, boston, caschool, housing; seeds 0-2 (fewer where marked by n).\n\n"
            + markdown_table(["config", "what", "pairs", "tables", "geo. mean ratio",
                              "s.e. (log)", "worst pair"], out))
    (HERE / "screen.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
