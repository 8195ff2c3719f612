"""Issue 16's inverse target at d = 2 ... 64: `activation=invertible`'s exact inverse (block by
block, each triangular block by substitution: d bracketed 1-D monotone solves refined by Newton)
against one forward evaluation of the same model, on 1000 points.

    .venv/bin/python -m benchmarks.invertible.inverse      # writes benchmarks/invertible/inverse.json

Models: `JacNet(d, d, Invertible())` with the command line's defaults (4 blocks, 4 units,
eps 1e-3, solver exact), random initialisation (torch.manual_seed(0)), float64, one thread.
Points x uniform in [-1, 1]^d (the data box) and in [-3, 3]^d (3x wider); y = ŷ(x).
Timed: `model.inverse(y, method="substitution")` (what `method=auto` picks) against `model(x)`
without gradients, interleaved, fastest of `repeats` each, under the exclusive flock on
/work/bench/timing.lock that every timing benchmark on this machine takes. Reported: the time
ratio, the round trip max |x - ŷ⁻¹(ŷ(x))| and the converged count.
Targets (issue 16): round trip <= 1e-10 with every point converged, in <= 10x a forward pass.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from benchmarks.common import timing_lock
from jacnet_cli import Invertible, JacNet
from jacnet_cli.plots.tables import markdown_table

HERE = Path(__file__).resolve().parent


def fastest(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@torch.no_grad()
def measure(d: int, n: int = 1000, repeats: int = 7) -> dict:
    torch.manual_seed(0)
    model = JacNet(d, d, Invertible()).double().eval()
    out = {}
    for name, half in (("data box", 1.0), ("3x box", 3.0)):
        x = (torch.rand(n, d, dtype=torch.float64) * 2 - 1) * half  # (n, d)
        y = model(x)  # (n, d)
        back = model.inverse(y, method="substitution")
        err = float((back - x).abs().max())
        forward = inverse = float("inf")
        for _ in range(repeats):  # interleaved
            forward = min(forward, fastest(lambda: model(x), 1))
            inverse = min(inverse, fastest(lambda: model.inverse(y, method="substitution"), 1))
        out[name] = {"round_trip_max": err, "forward_s": forward, "inverse_s": inverse,
                     "ratio": inverse / forward}
    return out


def table(results: dict) -> str:
    """The Markdown table of RESULTS.md's inverse section."""
    return markdown_table(
        ["d", "box", "round trip max", "forward ms", "inverse ms", "inverse / forward"],
        ([d, box, f"{r['round_trip_max']:.1e}", f"{1e3 * r['forward_s']:.2f}",
          f"{1e3 * r['inverse_s']:.2f}", f"{r['ratio']:.1f}"]
         for d, boxes in results["dims"].items() for box, r in boxes.items()))


def main() -> None:
    torch.set_num_threads(1)
    with timing_lock():
        load = os.getloadavg()
        results = {"load_start": load, "threads": 1, "points": 1000,
                   "dims": {d: measure(d) for d in (2, 8, 16, 32, 64)}}
        results["load_end"] = os.getloadavg()
    (HERE / "inverse.json").write_text(json.dumps(results, indent=1))
    print(table(results))
    print(f"load {results['load_start']} -> {results['load_end']}")


if __name__ == "__main__":
    main()
