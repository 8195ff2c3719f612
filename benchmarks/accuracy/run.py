"""Issue 11's accuracy benchmark: the study, jacnet against its peers, guarantees and timing.

    python -m benchmarks.accuracy.run                # everything (what `make accuracy` runs)
    python -m benchmarks.accuracy.run study          # the sweeps in conf/sweep/ (resumable)
    python -m benchmarks.accuracy.run table          # defaults and peers on the family, 20 seeds
    python -m benchmarks.accuracy.run heldout        # the paper's tasks on seeds 100-119
    python -m benchmarks.accuracy.run quadrature     # the 32-node rule's slope error per J network
    python -m benchmarks.accuracy.run timing         # training time, new default vs the old
    python -m benchmarks.accuracy.run report         # RESULTS.md from results/
    python -m benchmarks.accuracy.run --quick        # every step on 2 seeds and the paper's two
                                                     # tasks, into benchmarks/accuracy/quick/

`--seeds N` keeps the first N seeds (and the first N held-out seeds), `--targets a,b` those
targets, `--out DIR` writes DIR/results/*.jsonl and DIR/RESULTS.md instead of this folder's.

Everything runs with one torch thread (the machine is shared; timings are ratios measured
side by side). Results are appended to results/*.jsonl and reused by reruns.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from benchmarks.accuracy import harness, study
from benchmarks.accuracy.harness import JACNET_METHODS, PEER_METHODS, load

STEPS = ("study", "table", "heldout", "quadrature", "timing", "report")
QUICK = {"seeds": 2, "targets": harness.PAPER_TASKS}


def _key(row: dict[str, Any]) -> tuple:
    return (row["method"], row["target"], row["seed"])


def table(results: Path, seeds: Sequence[int] = harness.SEEDS, name: str = "table",
          targets: Sequence[str] = tuple(harness.FAMILY),
          methods: Sequence[str] = tuple(JACNET_METHODS) + PEER_METHODS, log=print) -> None:
    """Train every method on every target and seed; measure test MAE and the slopes."""
    results.mkdir(parents=True, exist_ok=True)
    done = {_key(r) for r in load(results, name)}
    with open(results / f"{name}.jsonl", "a") as f:
        for target in targets:
            for method in methods:
                for seed in seeds:
                    if (method, target, seed) in done:
                        continue
                    if method in JACNET_METHODS:
                        res = harness.run_jacnet(target, seed, overrides=[
                            study.SEARCHPATH, f"+task={target}", f"seed={seed}",
                            *JACNET_METHODS[method]])
                    else:
                        res = harness.run_peer(method, target, seed)
                    f.write(json.dumps({"method": method, "target": target, "seed": seed,
                                        **res}) + "\n")
                    f.flush()
                log(f"[table] {name} {target:10s} {method:18s} done")


def timing(results: Path, seeds: Sequence[int] = harness.SEEDS,
           targets: Sequence[str] = harness.PAPER_TASKS, repeats: int = 3, log=print) -> None:
    """Training time of the new default against the old one, side by side.

    For each task and seed the two configurations train in turn, `repeats` times each,
    alternating; a seed's time is its fastest repeat. Rows go to results/timing.jsonl.
    """
    results.mkdir(parents=True, exist_ok=True)
    rows = []
    for target in targets:
        for seed in seeds:
            best = {"jacnet": float("inf"), "jacnet_current": float("inf")}
            for _ in range(repeats):
                for method in best:
                    res = harness.run_jacnet(target, seed, measure=False, overrides=[
                        study.SEARCHPATH, f"+task={target}", f"seed={seed}",
                        *JACNET_METHODS[method]])
                    best[method] = min(best[method], res["train_time_s"])
            rows.append({"target": target, "seed": seed, **best})
        log(f"[timing] {target} done")
    (results / "timing.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def quadrature(results: Path, seeds: Sequence[int] = harness.SEEDS,
               targets: Sequence[str] = tuple(harness.FAMILY),
               presets: Sequence[str] = ("new", "new_relu"), log=print) -> None:
    """How exact the default solver is on each J network: per trained seed, the largest
    gap between the slope of the function as evaluated (autograd through the 32-node rule)
    and the network's J (the exact slope of the exact integral, in 1-D), and the measured
    bound. Rows go to results/quadrature.jsonl."""
    from jacnet_cli import derivative, fit, measure, norm_loss
    from jacnet_cli.core.solvers import direct_backprop  # autograd through the rule
    from jacnet_cli.run import build

    results.mkdir(parents=True, exist_ok=True)
    rows = []
    for target in targets:
        for preset in presets:
            for seed in seeds:
                cfg = harness.config([study.SEARCHPATH, f"+task={target}", f"+preset={preset}"],
                                     seed)
                setup = build.training(cfg, "cpu", torch.float64)
                model, data = setup.model, setup.data
                iterations, _ = harness.protocol(cfg)
                fit(model, data.x_train, data.y_train, setup.optimizer, iterations,
                    setup.schedule, norm_loss)
                grid = data.x_grid
                with direct_backprop(model.solver):
                    slope = torch.cat([derivative(model, p).detach() for p in grid.split(4096)])
                with torch.no_grad():
                    jac = model.jacobian(grid)
                got = measure(model, grid, keys=["jacobian_min_eig", "lipschitz_max"])
                rows.append({"target": target, "preset": preset, "seed": seed,
                             "slope_gap": float((slope - jac).abs().max()),
                             "structure": harness.FAMILY[target], **got})
            log(f"[quadrature] {target} {preset} done")
    (results / "quadrature.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.accuracy.run",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="*", default=list(STEPS),
                        help=", ".join(STEPS) + " (default: all)")
    parser.add_argument("--sweeps", default=",".join(study.sweep_names()),
                        help="comma-separated sweeps for `study` (default: all)")
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"the first N seeds only (default: all {len(harness.SEEDS)})")
    parser.add_argument("--targets", default=None,
                        help="comma-separated targets (default: the family of "
                             f"{len(harness.FAMILY)})")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for results/ and RESULTS.md (default: this folder)")
    parser.add_argument("--quick", action="store_true",
                        help="a reduced run: --seeds 2 --targets exp,abs --out "
                             "benchmarks/accuracy/quick (unless given)")
    args = parser.parse_args(argv)
    for what in args.what:
        if what not in STEPS:
            parser.error(f"{what!r} is not a step; choose {', '.join(STEPS)}")
    if args.quick:
        args.seeds = QUICK["seeds"] if args.seeds is None else args.seeds
        args.targets = args.targets or ",".join(QUICK["targets"])
        args.out = args.out or harness.HERE / "quick"
    targets = tuple(args.targets.split(",")) if args.targets else tuple(harness.FAMILY)
    for t in targets:
        if t not in harness.FAMILY:
            parser.error(f"--targets: {t!r} is not a family target; choose "
                         f"{', '.join(harness.FAMILY)}")
    if args.seeds is not None and not 1 <= args.seeds <= len(harness.SEEDS):
        parser.error(f"--seeds: {args.seeds} is not between 1 and {len(harness.SEEDS)}")
    seeds = harness.SEEDS[:args.seeds]
    heldout = harness.HELDOUT_SEEDS[:args.seeds]
    out = args.out or harness.HERE
    results = out / "results"
    sweeps = [s for s in args.sweeps.split(",") if s]
    for name in sweeps:
        if name not in study.sweep_names():
            parser.error(f"--sweeps: {name!r} is not a sweep; choose "
                         f"{', '.join(study.sweep_names())}")

    torch.set_num_threads(1)
    start = time.perf_counter()
    for what in args.what:
        if what == "study":
            for name in sweeps:
                study.run(name, results, seeds=seeds, targets=targets)
        elif what == "table":
            table(results, seeds, targets=targets)
        elif what == "heldout":
            table(results, heldout, "heldout", [t for t in harness.PAPER_TASKS if t in targets])
        elif what == "quadrature":
            quadrature(results, seeds, targets)
        elif what == "timing":
            timing(results, seeds, [t for t in harness.PAPER_TASKS if t in targets])
        else:
            from benchmarks.accuracy import report

            print(f"wrote {report.write(results, out / 'RESULTS.md', seeds, heldout)}")
    print(f"[accuracy] done in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
