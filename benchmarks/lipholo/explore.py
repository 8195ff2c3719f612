"""Side study for RESULTS.md "what was tried": `lipschitz` options and layouts against
deel-torchlip on the |·| ridge targets, where the main study shows the largest gap. Same
harness, protocol, data and learning-rate grid as `benchmarks.lipholo.run` (3 seeds), equal
parameters within each layout.

    python -m benchmarks.lipholo.explore      # writes benchmarks/lipholo/explore.json

Variants: the default (Cayley orthogonal layers, MaxMin, 2 x 64); weights="spectral"
(W / max(1, ‖W‖₂), may contract); nonlinearity="abs"; 3 hidden layers of 46 (and torchlip in
the same 3 x 46 layout).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from benchmarks.lipholo import run as L
from jacnet_cli import JacNet, Lipschitz

TASKS = ("ridge_abs 2->1", "ridge_abs 8->2")


def variants(d_x: int, d_y: int) -> dict:
    return {
        "lipschitz": lambda: JacNet(d_x, d_y, Lipschitz(L.K), hidden=64),
        "lipschitz_spectral": lambda: JacNet(d_x, d_y, Lipschitz(L.K, weights="spectral"),
                                             hidden=64),
        "lipschitz_abs": lambda: JacNet(d_x, d_y, Lipschitz(L.K, nonlinearity="abs"), hidden=64),
        "torchlip": lambda: L.torchlip_net(d_x, d_y, L.K, 64, 2),
        "lipschitz_3x46": lambda: JacNet(d_x, d_y, Lipschitz(L.K, layers=3), hidden=46),
        "torchlip_3x46": lambda: L.torchlip_net(d_x, d_y, L.K, 46, 3),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.lipholo.explore")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(L.HERE / "explore.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = L.config(argparse.Namespace(quick=False, epochs=None, seeds=args.seeds))
    rows = []
    for task in L.tasks("lipschitz"):
        if task["task"] not in TASKS:
            continue
        for seed in cfg.seeds:
            d = L.data(task, seed, cfg)
            for name, make in variants(task["d_x"], task["d_y"]).items():
                t0 = time.perf_counter()
                row = L.run_one(task, name, make, seed, d, cfg)
                row["seconds"] = round(time.perf_counter() - t0, 1)
                rows.append(row)
                print(f"[explore] {task['task']} {name} seed {seed}: lr {row['lr']} test "
                      f"{row['test_db']:.2f} dB, max‖D‖ {row.get('maxD_data', float('nan')):.4f}"
                      f" ({row['seconds']:.0f}s)", flush=True)
    summary = []
    for task in TASKS:
        for name in variants(2, 1):
            rs = [r for r in rows if r["task"] == task and r["model"] == name]
            if rs:
                m, s = L.mean_sd([r["test_db"] for r in rs])
                summary.append({"task": task, "model": name, "params": rs[0]["params"],
                                "test_db_mean": m, "test_db_sd": s,
                                "lrs": [r["lr"] for r in rs],
                                "maxD": max(max(r.get("maxD_data", 0), r.get("maxD_3x", 0))
                                            for r in rs)})
                print(f"{task:<16} {name:<20} {rs[0]['params']:>5} {m:7.2f} ± {s:.2f}")
    Path(args.out).write_text(json.dumps({"config": vars(cfg), "machine": L.machine(),
                                          "rows": rows, "summary": summary}, indent=1,
                                         default=float))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
