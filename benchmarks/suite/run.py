"""Run the jacnet benchmarks and write RESULTS.md, results.json and error_vs_cost.png.

    python -m benchmarks.suite.run                 # everything (what `make bench` runs)
    python -m benchmarks.suite.run --quick         # smoke test: fewer seeds and sizes, into quick/
    python -m benchmarks.suite.run --only inverse  # one section, merged into the existing results
    python -m benchmarks.suite.run --report        # RESULTS.md again from results.json

Sections: training (1), throughput (2), inverse (3), scaling (4), startup (5), and for the
n-D structures and the command line: nd_guarantees (6), nd_speed (7), nd_inverse (8),
curl (9), threads (10).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
SECTIONS = ("training", "throughput", "inverse", "scaling", "startup", "nd_guarantees",
            "nd_speed", "nd_inverse", "curl", "threads")

# Settings per mode: the full run is what RESULTS.md reports; quick only checks the plumbing.
FULL = {
    "training": {"seeds": [0, 1, 2, 3, 4], "probe": True, "repeats": 3},
    "throughput": {"sizes": [10_000, 100_000, 1_000_000]},
    "inverse": {"n": 10_000, "budget": 15.0},
    "scaling": {"dims": [1, 2, 4, 8, 16, 32, 64], "n_forward": 10_000, "n_inverse": 1_000,
                "inverse_budget": 15.0},
    "startup": {"reps": 5},
    "nd_guarantees": {"dims": [2, 8, 32, 128], "n": 10_000, "steps": 300},
    "nd_speed": {"dims": [2, 32, 256], "repeats": 40, "block_s": 0.004},
    "nd_inverse": {"dims": [2, 4, 8, 16, 32, 64], "n": 1000, "repeats": 10, "steps": 300},
    "curl": {"dims": [2, 4], "weights": [0.0, 0.1, 1.0, 10.0], "seeds": [0, 1, 2],
             "iterations": 300},
    "threads": {"seeds": [0, 1, 2, 3, 4], "repeats": 2},
}
QUICK = {
    "training": {"seeds": [0, 1], "probe": False, "repeats": 1},
    "throughput": {"sizes": [1_000, 10_000]},
    "inverse": {"n": 1_000, "budget": 3.0},
    "scaling": {"dims": [1, 2, 4, 8], "n_forward": 1_000, "n_inverse": 100, "inverse_budget": 3.0},
    "startup": {"reps": 2},
    "nd_guarantees": {"dims": [2, 8], "n": 500, "steps": 30},
    "nd_speed": {"dims": [2], "repeats": 3, "block_s": 0.002},
    "nd_inverse": {"dims": [2, 8], "n": 100, "repeats": 2, "steps": 30},
    "curl": {"dims": [2], "weights": [0.0, 1.0], "seeds": [0], "iterations": 30},
    "threads": {"seeds": [0], "repeats": 1},
}


def _section(name: str, cfg: dict[str, Any]) -> Callable[[], dict]:
    if name == "training":
        from benchmarks.suite import training
        return lambda: training.run(cfg["seeds"], probe=cfg["probe"], repeats=cfg["repeats"])
    if name == "throughput":
        from benchmarks.suite import throughput
        return lambda: throughput.run(cfg["sizes"])
    if name == "inverse":
        from benchmarks.suite import inverse
        inverse.BUDGET_S = cfg["budget"]
        return lambda: inverse.run(cfg["n"])
    if name == "scaling":
        from benchmarks.suite import scaling
        return lambda: scaling.run(cfg["dims"], cfg["n_forward"], cfg["n_inverse"],
                                   cfg["inverse_budget"])
    if name == "startup":
        from benchmarks.suite import startup
        return lambda: startup.run(cfg["reps"])
    if name == "nd_guarantees":
        from benchmarks.suite import nd_guarantees
        return lambda: nd_guarantees.run(cfg["dims"], cfg["n"], steps=cfg["steps"])
    if name == "nd_speed":
        from benchmarks.suite import nd_speed
        return lambda: nd_speed.run(cfg["dims"], cfg["repeats"], cfg["block_s"])
    if name == "nd_inverse":
        from benchmarks.suite import nd_inverse
        return lambda: nd_inverse.run(cfg["dims"], cfg["n"], cfg["repeats"], steps=cfg["steps"])
    if name == "curl":
        from benchmarks.suite import curl
        return lambda: curl.run(cfg["dims"], cfg["weights"], cfg["seeds"], cfg["iterations"])
    from benchmarks.suite import threads
    return lambda: threads.run(cfg["seeds"], cfg["repeats"])


def _clean(value: Any) -> Any:
    """JSON-safe: NaN / inf become None, tuples lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pick(only: list[str] | None) -> list[str]:
    if not only:
        return list(SECTIONS)
    names = []
    for item in only:
        name = SECTIONS[int(item) - 1] if item.isdigit() else item
        if name not in names:
            names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer seeds and sizes (smoke test); writes into "
                             "benchmarks/suite/quick/")
    parser.add_argument("--only", action="append", metavar="SECTION",
                        choices=SECTIONS + tuple(str(i) for i in range(1, len(SECTIONS) + 1)),
                        help="run only this section (repeatable): " + ", ".join(SECTIONS))
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: rewrite RESULTS.md from the folder's results.json")
    args = parser.parse_args(argv)
    if args.report:
        from benchmarks.suite import report

        out_dir = args.out or (HERE / "quick" if args.quick else HERE)
        results = json.loads((out_dir / "results.json").read_text())
        print(f"[bench] wrote {report.write(results, out_dir, figure=False)}")
        return 0

    import torch  # after argument parsing, so --help is instant

    from benchmarks import common
    from benchmarks.suite import report

    out_dir = args.out or (HERE / "quick" if args.quick else HERE)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    mode = "quick" if args.quick else "full"
    results: dict[str, Any] = {}
    if args.only and path.exists():
        results = json.loads(path.read_text())
        if results.get("meta", {}).get("mode") != mode:
            results = {}  # never mix quick and full numbers in one report
    cfgs = QUICK if args.quick else FULL
    names = _pick(args.only)
    started = time.perf_counter()
    meta = results.get("meta", {})
    meta.update({
        "mode": mode,
        "command": " ".join([".venv/bin/python -m benchmarks.suite.run",
                             *(sys.argv[1:] if argv is None else argv)]),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": common.machine(),
        "stall_probe_start": common.stall_probe(),
        "dtype_default": str(torch.get_default_dtype()),
    })
    meta.setdefault("sections_run", {})
    results["meta"] = meta
    for name in names:
        with common.Section(name) as sec:
            results[name] = _section(name, cfgs[name])()
            results[name]["meta"] = sec.meta()
        meta["sections_run"][name] = meta["date"]
        path.write_text(json.dumps(_clean(results), indent=1) + "\n")
    meta["stall_probe_end"] = common.stall_probe()
    meta["wall_s_this_run"] = round(time.perf_counter() - started, 1)
    meta["sections_this_run"] = names
    if names == list(SECTIONS):
        meta["full_run"] = {"date": meta["date"], "wall_s": meta["wall_s_this_run"]}
    results = _clean(results)
    path.write_text(json.dumps(results, indent=1) + "\n")
    report.write(results, out_dir)
    print(f"[bench] wrote {out_dir / 'RESULTS.md'}, {path.name}, error_vs_cost.png "
          f"in {meta['wall_s_this_run']:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
