"""Issue 24: what one training step of a structure costs against an unconstrained MLP of the
same size. For each map, jacnet's structure (its defaults) and jacnet's `model=mlp` with two
hidden layers whose width gives the parameter count nearest the structure's, both trained by
the same command-line code on the same rows (`harness.run_jacnet`) for a fixed number of
steps; CPU seconds per step, one thread, validation included for both.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.price.step_cost [--maps ...] [--steps 400]

Writes step_cost.jsonl and prints the table for the README.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from benchmarks.price import harness
from benchmarks.price.maps import MAPS

HERE = Path(__file__).resolve().parent
DEFAULT_MAPS = ["sdf3", "mix6to3", "poly_flip", "resid8", "resid16", "conformal", "convex8"]


def mlp_params(d_x: int, d_y: int, width: int, depth: int = 2) -> int:
    return d_x * width + width + (depth - 1) * (width * width + width) + width * d_y + d_y


def matched_width(d_x: int, d_y: int, params: int, depth: int = 2) -> int:
    """The width whose MLP (`depth` hidden layers) has the parameter count nearest `params`."""
    return min(range(1, 4096), key=lambda w: abs(mlp_params(d_x, d_y, w, depth) - params))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--maps", nargs="+", default=DEFAULT_MAPS)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", type=Path, default=HERE / "step_cost.jsonl")
    args = parser.parse_args()
    fixed = [f"iterations={args.steps}"]
    rows = []
    for name in args.maps:
        m = MAPS[name]
        data = harness.split(m, 0)
        s = harness.run_jacnet(m, data, [f"activation={m.structure}", *fixed], cap=math.inf)
        width = matched_width(m.d_x, m.d_y, s["params"])
        p = harness.run_jacnet(m, data, ["model=mlp", f"model.hidden={width}", "model.depth=2",
                                         *fixed], cap=math.inf)
        row = {"map": name, "structure": m.structure, "d_x": m.d_x, "d_y": m.d_y,
               "structure_params": s["params"], "mlp_width": width, "mlp_params": p["params"],
               "structure_ms": 1e3 * s["cpu_s"] / s["steps"], "mlp_ms": 1e3 * p["cpu_s"] / p["steps"],
               "structure_steps": s["steps"], "mlp_steps": p["steps"]}
        row["ratio"] = row["structure_ms"] / row["mlp_ms"]
        rows.append(row)
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"[step_cost] {name:10s} {m.structure:15s} {s['params']:7d} params "
              f"{row['structure_ms']:7.2f} ms/step | MLP 2x{width} {p['params']:7d} params "
              f"{row['mlp_ms']:6.2f} ms/step | x{row['ratio']:.1f}", flush=True)
    print("\n| map | structure | parameters | ms/step | MLP 2 × w (parameters) | ms/step | ratio |")
    print("|---|---|---:|---:|---|---:|---:|")
    for r in rows:
        print(f"| {r['map']} | {r['structure']} | {r['structure_params']:,} | "
              f"{r['structure_ms']:.2f} | 2 × {r['mlp_width']} ({r['mlp_params']:,}) | "
              f"{r['mlp_ms']:.2f} | {r['ratio']:.1f}× |")


if __name__ == "__main__":
    main()
