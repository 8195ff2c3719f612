"""The Gradient Networks results, reproduced with `jacnet train` (part of `make reproduce`).

Each row trains through the same code as the command line (`run.experiment`) from a preset,
`experiment=gradnets_convex2d` or `experiment=gradnets_polymax`, and reports the test error in
dB, 10 log10(mean ‖ŷ - ∇F‖²), beside what each model's Jacobian D = dŷ/dx measures on the
guarantee box (3x wider than the data): its asymmetry max ‖D - Dᵀ‖_F/‖D‖_F and its smallest
eigenvalue. Rows, at the same parameter budget: the `monotone` structure (the preset), a plain
MLP regressor, and the unconstrained JacNet (`activation=none`, Gauss–Legendre).

    python -m jacnet_cli.reproduce.gradnets [--trials 5] [--out reproduce] [--only convex2d]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from jacnet_cli.core import guarantees
from jacnet_cli.run.configs import compose as compose_config

# How each published number averages the squared error: the convex 2-D notebook takes the mean
# over points and coordinates, 10 log10(mean_i,k (ŷ_ik - ∇F_ik)²), which is jacnet's
# 10 log10(mean_i ‖ŷ_i - ∇F_i‖²) minus 10 log10(d); the PolyMax notebook takes jacnet's measure.
PER_COORDINATE = {"convex2d": True, "polymax": False, "polymax32": False}

PUBLISHED = {
    "convex2d": "mGradNet-C −49.0 dB, mGradNet-M −48.7 dB (5 trials, about 100 parameters)",
    "polymax": "mGradNet-M −11.3 dB, mGradNet-C −10.6 dB (d = 256, about 1024·d parameters)",
}

# The unconstrained structure in place of the preset's `monotone` (whose keys it lacks).
NONE = ["activation=none", "~activation.network", "~activation.layers"]

# (label, overrides) per benchmark; hidden sizes match the monotone row's parameter count.
ROWS: dict[str, list[tuple[str, list[str]]]] = {
    "convex2d": [
        ("monotone (mGradNet-C, exact)", []),
        ("MLP regressor", ["model=mlp", "model.hidden=20"]),
        ("JacNet none (GL 8)", [*NONE, "solver=gauss_legendre", "solver.nodes=8",
                                "model.hidden=14"]),
    ],
    "polymax": [
        ("monotone (mGradNet-M, exact)", []),
        ("MLP regressor", ["model=mlp", "model.hidden=510"]),
    ],
    "polymax32": [
        ("monotone (mGradNet-M, exact)", ["target.dim=32", "model.hidden=247"]),
        ("MLP regressor", ["target.dim=32", "model=mlp", "model.hidden=496"]),
        ("JacNet none (GL 4)", ["target.dim=32", *NONE, "solver=gauss_legendre",
                                "solver.nodes=4", "model.hidden=30"]),
    ],
}
PRESET = {"convex2d": "gradnets_convex2d", "polymax": "gradnets_polymax",
          "polymax32": "gradnets_polymax"}


def _compose(overrides: list[str]) -> dict[str, Any]:
    return compose_config(overrides)


def _finished(out: Path, cfg) -> dict[str, Any] | None:
    """The metrics of a completed run of exactly this config in `out`, else None."""
    from omegaconf import OmegaConf

    try:
        metrics = json.loads((out / "metrics.json").read_text())
        saved = OmegaConf.to_container(OmegaConf.load(out / "config.yaml"), resolve=True)
    except (OSError, ValueError):
        return None
    saved.get("data", {}).pop("meta", None)
    return metrics if metrics.get("status") == "completed" and saved == cfg else None


def run_row(bench: str, label: str, overrides: list[str], seed: int, out: Path) -> dict[str, Any]:
    """Train one row for one seed into out/; return its metrics and D's measurements."""
    from omegaconf import OmegaConf

    from jacnet_cli.run.experiment import Experiment, load

    cfg = _compose([f"experiment={PRESET[bench]}", *overrides, f"seed={seed}", "plots=false",
                    "progress=false"])
    metrics = _finished(out, cfg)  # a rerun after an interrupt keeps the runs it finished
    if metrics is None:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        (out / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
        metrics = Experiment(cfg, out).run()
    run = load(out)
    grid = run.data.x_grid[: guarantees.point_budget(run.model, run.data.x_grid.shape[0])]
    measured = guarantees.measure(run.model, grid.to(torch.float64 if cfg["dtype"] == "float64"
                                                     else torch.float32),
                                  keys=["jacobian_min_eig", "jacobian_asym_max"])
    d = run.data.x_grid.shape[-1]
    published_db = metrics["test_mse_db"] - (10 * math.log10(d) if PER_COORDINATE[bench] else 0)
    return {"bench": bench, "row": label, "seed": seed, "test_mse_db": metrics["test_mse_db"],
            "gradnets_db": published_db,
            "parameters": metrics["parameters"], "train_time_s": metrics["train_time_s"],
            "jacobian_asym_max": measured["jacobian_asym_max"],
            "jacobian_min_eig": measured["jacobian_min_eig"],
            "guarantee_points": grid.shape[0]}


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for bench in ROWS:
        for label, _ in ROWS[bench]:
            members = [r for r in rows if r["bench"] == bench and r["row"] == label]
            if not members:
                continue
            db = [r["test_mse_db"] for r in members]
            ours = [r["gradnets_db"] for r in members]
            table.append({
                "bench": bench, "row": label, "trials": len(members),
                "parameters": members[0]["parameters"],
                "test_mse_db_mean": statistics.fmean(db),
                "test_mse_db_std": statistics.stdev(db) if len(db) > 1 else 0.0,
                "gradnets_db_mean": statistics.fmean(ours),
                "jacobian_asym_max": max(r["jacobian_asym_max"] for r in members),
                "jacobian_min_eig": min(r["jacobian_min_eig"] for r in members),
                "train_time_s": statistics.fmean(r["train_time_s"] for r in members)})
    return table


def write_markdown(path: Path, table: list[dict[str, Any]], trials: dict[str, int]) -> None:
    lines = ["# Gradient Networks benchmarks in jacnet", "",
             "Each row trains through `jacnet train` (in-process) from the preset named; "
             "dB = 10 log10(mean ‖ŷ − ∇F‖²) on the test points (convex 2-D: a 100 × 100 grid of "
             "[0, 1]²; PolyMax: 10,000 uniform points of [0, 1]^d). `asym` is the largest "
             "‖D − Dᵀ‖_F/‖D‖_F and `min eig` the smallest eigenvalue of sym(D), D = dŷ/dx by "
             "autograd, over the trials, on guarantee points of [-1, 2]^d (3× wider than the "
             "data). *GradNets' dB* is the same error averaged as the published number is: per "
             "coordinate on the convex 2-D benchmark (dB − 10 log10 2), per point on PolyMax. "
             "Regenerate with `make reproduce`.", ""]
    for bench, title, preset in (
            ("convex2d", "Convex 2-D (ICGN polynomial)", "gradnets_convex2d"),
            ("polymax", "PolyMax, d = 256", "gradnets_polymax"),
            ("polymax32", "PolyMax, d = 32 (all three rows)", "gradnets_polymax target.dim=32")):
        rows = [r for r in table if r["bench"] == bench]
        if not rows:
            continue
        lines += [f"## {title}", "", f"`jacnet train experiment={preset}`; "
                  f"{trials.get(bench, 0)} trial(s). Published: "
                  f"{PUBLISHED['polymax' if bench.startswith('polymax') else bench]}.", "",
                  "| model | parameters | test dB (mean ± std) | GradNets' dB (mean) | asym max "
                  "| min eig | train s |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['row']} | {r['parameters']} | {r['test_mse_db_mean']:.2f} ± "
                         f"{r['test_mse_db_std']:.2f} | {r['gradnets_db_mean']:.2f} | "
                         f"{r['jacobian_asym_max']:.1e} | "
                         f"{r['jacobian_min_eig']:.3g} | {r['train_time_s']:.0f} |")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


def reproduce(out: Path, trials: dict[str, int], log=print) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "gradnets.json"
    rows: list[dict[str, Any]] = []
    if results_path.exists():  # keep benches not rerun this time
        rows = [r for r in json.loads(results_path.read_text()).get("runs", [])
                if r["bench"] not in trials]
    work = out / "cache" / "gradnets"
    for bench, count in trials.items():
        for label, overrides in ROWS[bench]:
            for seed in range(count):
                row = run_row(bench, label, overrides, seed,
                              work / bench / label.split()[0].lower() / str(seed))
                log(f"{bench:9s} {label:30s} seed {seed}: {row['test_mse_db']:.2f} dB, "
                    f"asym {row['jacobian_asym_max']:.1e}, min eig "
                    f"{row['jacobian_min_eig']:.3g}, {row['train_time_s']:.0f} s")
                rows.append(row)
    table = summarise(rows)
    counts = {b: len({r["seed"] for r in rows if r["bench"] == b}) for b in ROWS}
    result = {"published": PUBLISHED, "summary": table, "runs": rows}
    results_path.write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(out / "gradnets.md", table, counts)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jacnet_cli.reproduce.gradnets",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reproduce"))
    parser.add_argument("--trials", type=int, default=5, help="trials for convex 2-D")
    parser.add_argument("--polymax-trials", type=int, default=1)
    parser.add_argument("--only", choices=sorted(ROWS), action="append")
    args = parser.parse_args(argv)
    if args.trials < 1 or args.polymax_trials < 1:
        parser.error("--trials and --polymax-trials must be >= 1")
    benches = args.only or list(ROWS)
    trials = {b: (args.trials if b == "convex2d" else args.polymax_trials) for b in benches}
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    reproduce(args.out, trials)
    print(f"wrote {args.out}/gradnets.md and gradnets.json in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
