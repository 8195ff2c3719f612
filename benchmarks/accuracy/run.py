"""Issue 11's accuracy benchmark: the study, jacnet against its peers, guarantees and timing.

    python -m benchmarks.accuracy.run                # everything (what `make accuracy` runs)
    python -m benchmarks.accuracy.run study          # the sweeps in conf/sweep/ (resumable)
    python -m benchmarks.accuracy.run table          # defaults and peers on the family, 20 seeds
    python -m benchmarks.accuracy.run heldout        # the paper's tasks on seeds 100-119
    python -m benchmarks.accuracy.run quadrature     # the 32-node rule's slope error per J network
    python -m benchmarks.accuracy.run timing         # training time, new default vs the old
    python -m benchmarks.accuracy.run report         # RESULTS.md from results/

Everything runs with one torch thread (the machine is shared; timings are ratios measured
side by side). Results are appended to results/*.jsonl and reused by reruns.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.accuracy import harness, study

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# Methods of the final table: jacnet configurations (overrides on top of the task) and peers.
JACNET_METHODS: dict[str, list[str]] = {
    "jacnet": [],  # the defaults of conf/train.yaml
    "jacnet_current": ["+preset=current"],  # the default before issue 11 (paper architecture)
    "jacnet_data_anchor": ["anchor=data"],  # the defaults, y0 from the data: no y(0) given
}
PEER_METHODS = ("umnn", "mlp_tanh", "mlp_relu", "lipmlp", "lipmlp2")
HELDOUT_SEEDS = tuple(range(100, 120))


def _key(row: dict[str, Any]) -> tuple:
    return (row["method"], row["target"], row["seed"])


def _load(name: str) -> list[dict[str, Any]]:
    path = RESULTS / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def table(seeds=harness.SEEDS, name: str = "table", targets=tuple(harness.FAMILY),
          methods=tuple(JACNET_METHODS) + PEER_METHODS, log=print) -> None:
    """Train every method on every target and seed; measure test MAE and the slopes."""
    RESULTS.mkdir(exist_ok=True)
    done = {_key(r) for r in _load(name)}
    with open(RESULTS / f"{name}.jsonl", "a") as f:
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


def timing(seeds=harness.SEEDS, repeats: int = 3, log=print) -> None:
    """Training time of the new default against the old one, side by side.

    For each task and seed the two configurations train in turn, `repeats` times each,
    alternating; a seed's time is its fastest repeat. Rows go to results/timing.jsonl.
    """
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for target in harness.PAPER_TASKS:
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
    (RESULTS / "timing.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def quadrature(seeds=harness.SEEDS, presets=("new", "new_relu"), log=print) -> None:
    """How exact the default solver is on each J network: per trained seed, the largest
    gap between the slope of the function as evaluated (autograd through the 32-node rule)
    and the network's J (the exact slope of the exact integral, in 1-D), and the measured
    bound. Rows go to results/quadrature.jsonl."""
    from jacnet_cli import build, guarantees
    from jacnet_cli.run.training import fit, norm_loss
    from jacnet_cli.core.evaluation import derivative
    from jacnet_cli.core.solvers import direct_backprop

    rows = []
    for target in harness.FAMILY:
        for preset in presets:
            for seed in seeds:
                cfg = harness.config([study.SEARCHPATH, f"+task={target}", f"+preset={preset}"],
                                     seed)
                setup = build.training(cfg, "cpu", torch.float64)
                model, data = setup.model, setup.data
                fit(model, data.x_train, data.y_train, setup.optimizer, cfg.iterations,
                    setup.schedule, norm_loss)
                grid = data.x_grid
                with direct_backprop(model.solver):
                    slope = torch.cat([derivative(model, p).detach() for p in grid.split(4096)])
                with torch.no_grad():
                    jac = model.jacobian(grid)
                got = guarantees.measure(model, grid, keys=["jacobian_min_eig", "lipschitz_max"])
                rows.append({"target": target, "preset": preset, "seed": seed,
                             "slope_gap": float((slope - jac).abs().max()),
                             "structure": harness.FAMILY[target], **got})
            log(f"[quadrature] {target} {preset} done")
    (RESULTS / "quadrature.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", default=["study", "table", "heldout", "quadrature",
                                                     "timing", "report"],
                        help="study, table, heldout, quadrature, timing, report (default: all)")
    parser.add_argument("--sweeps", default=",".join(study.sweep_names()),
                        help="comma-separated sweeps for `study` (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    for what in args.what:
        if what == "study":
            for name in args.sweeps.split(","):
                study.run(name)
        elif what == "table":
            table()
        elif what == "heldout":
            table(HELDOUT_SEEDS, "heldout", harness.PAPER_TASKS)
        elif what == "quadrature":
            quadrature()
        elif what == "timing":
            timing()
        elif what == "report":
            from benchmarks.accuracy import report

            print(f"wrote {report.write()}")
        else:
            parser.error(f"{what!r} is not a step; choose study, table, heldout, quadrature, "
                         "timing, report")
    print(f"[accuracy] done in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
