"""`make reproduce`: the paper's Figures 1-3 and a results table over seeds, in one folder.

Every model is built from the same configs `jacnet train` uses, so each row can be rerun as
`jacnet train target=exp activation=pd solver=dopri5_adjoint schedule=anneal seed=S`.
The figures use the paper's solver (torchdiffeq odeint_adjoint + dopri5, tolerance
annealing); the plain MLP baseline (`model=mlp`) needs none.

    python -m jacnet_cli.reproduce.paper [--seeds 5] [--iterations 50] [--out reproduce]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from jacnet_cli.core import guarantees
from jacnet_cli.core.evaluation import predict
from jacnet_cli.plots import draw as plots
from jacnet_cli.plots.tables import markdown_table
from jacnet_cli.run.configs import compose
from jacnet_cli.run.experiment import Experiment
from jacnet_cli.run.metrics import test_errors
from jacnet_cli.run.records import Step

# The paper's network, anchor and solver (odeint_adjoint + dopri5 + annealing), not the
# library's defaults: `experiment=paper_faithful`.
PAPER = ["experiment=paper_faithful"]
EXPERIMENTS = {
    "exp": {"target": "exp", "structure": "pd", "figure": "figure1_exp_invertible.png",
            "title": "Figure 1: invertible exp(x)"},
    "abs": {"target": "abs", "structure": "lipschitz", "figure": "figure2_abs_lipschitz.png",
            "title": "Figure 2: 1-Lipschitz |x|"},
}
# (label, overrides): the constrained model, the two kinds of "unconstrained".
VARIANTS = {
    "pd": ("JacNet pd", ["activation=pd", *PAPER]),
    "lipschitz": ("JacNet lipschitz", ["activation=lipschitz", *PAPER]),
    "none": ("JacNet none", ["activation=none", *PAPER]),
    "mlp": ("plain MLP", ["model=mlp"]),
}
SLACK = 1e-6  # a measured slope may exceed its bound by solver error this small


@dataclass
class Trained:
    """One trained model and what was measured on it."""

    experiment: str
    variant: str
    seed: int
    config: DictConfig
    model: torch.nn.Module
    data: Any
    target: Any
    steps: list[Step] = field(default_factory=list)
    init_curve: np.ndarray | None = None
    row: dict[str, Any] = field(default_factory=dict)


def compose_config(overrides: list[str]) -> DictConfig:
    return compose(overrides, plain=False)


def _shape(model: torch.nn.Module, grid: torch.Tensor, tolerance: float) -> dict[str, float]:
    """Smallest derivative and largest slope of the function as evaluated, on the grid."""
    solver = model.solver
    if solver is not None:
        solver.set_tolerance(tolerance)
    return guarantees.measure(model, grid, keys=["jacobian_min_eig", "lipschitz_max"])


def train_one(experiment: str, variant: str, seed: int, iterations: int,
              grid_points: int) -> Trained:
    """Train one (experiment, variant, seed) and measure it before and after."""
    spec = EXPERIMENTS[experiment]
    cfg = compose_config([f"target={spec['target']}", *VARIANTS[variant][1], f"seed={seed}",
                          f"iterations={iterations}", f"data.grid_points={grid_points}"])
    from omegaconf import OmegaConf

    runner = Experiment(OmegaConf.to_container(cfg, resolve=True), run_dir=None)
    runner.build()
    target, data, model = runner.target, runner.data, runner.model
    plot_x = torch.linspace(-2, 2, 401, dtype=torch.float64)[:, None]
    run = Trained(experiment, variant, seed, cfg, model, data, target)
    run.init_curve = predict(model, plot_x).numpy()[:, 0]
    before = _shape(model, data.x_grid, cfg.eval_tolerance)
    start = time.perf_counter()
    runner.trainer.callback = run.steps.append
    runner.trainer.run()
    wall = time.perf_counter() - start
    after = _shape(model, data.x_grid, cfg.eval_tolerance)
    pred = predict(model, data.x_test)
    inside = data.x_test[:, 0].abs() <= 1
    run.row = {
        "experiment": experiment, "model": VARIANTS[variant][0], "seed": seed,
        "solver": _solver_label(cfg),
        "train_loss": run.steps[-1].loss,
        "test_mae": test_errors(pred, data.y_test)["test_mae"],
        "mae_inside_train_interval": test_errors(pred[inside], data.y_test[inside])["test_mae"],
        "mae_outside_train_interval": test_errors(pred[~inside], data.y_test[~inside])["test_mae"],
        "min_derivative_init": before["jacobian_min_eig"],
        "min_derivative": after["jacobian_min_eig"],
        "max_slope_init": before["lipschitz_max"],
        "max_slope": after["lipschitz_max"],
        "wall_time_s": wall,
        "nfe_per_iter": statistics.fmean(s.nfe_forward + s.nfe_backward for s in run.steps),
    }
    if model.invertible:
        y = torch.exp(torch.linspace(-2, 2, 401, dtype=torch.float64))[:, None]
        err = (model.inverse(y) - torch.log(y)).abs()[:, 0]  # (401,)
        run.row["inverse_err_vs_log"] = float(err.max())
        run.row["inverse_err_vs_log_train"] = float(err[100:301].max())  # y in [1/e, e]
        run.row["roundtrip_max_err"] = guarantees.roundtrip_error(model, data.x_grid)
    return run


def _solver_label(cfg: DictConfig) -> str:
    if cfg.model._target_.endswith("MLPRegressor"):
        return "none (direct MLP)"
    kind = "odeint_adjoint" if cfg.solver.get("adjoint") else "odeint"
    return (f"{kind} {cfg.solver.method} + {cfg.schedule._target_.rsplit('.', 1)[-1].lower()} "
            f"(evaluated at rtol=atol={cfg.eval_tolerance:g})")


METRICS = ("train_loss", "test_mae", "mae_inside_train_interval", "mae_outside_train_interval",
           "min_derivative_init", "min_derivative", "max_slope_init", "max_slope",
           "inverse_err_vs_log_train", "inverse_err_vs_log", "roundtrip_max_err", "wall_time_s", "nfe_per_iter")


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median, min and max over seeds of each metric, per (experiment, model)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["experiment"], row["model"]), []).append(row)
    table = []
    for (experiment, model), members in groups.items():
        entry: dict[str, Any] = {"experiment": experiment, "model": model,
                                 "solver": members[0]["solver"], "seeds": len(members)}
        for key in METRICS:
            values = [m[key] for m in members if key in m]
            if values:
                entry[key] = {"median": statistics.median(values), "min": min(values),
                              "max": max(values)}
        table.append(entry)
    return table


def claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The paper's claims, each checked over every seed."""

    def pick(experiment: str, model: str) -> list[dict[str, Any]]:
        return [r for r in rows if r["experiment"] == experiment and r["model"] == model]

    out = []
    pd_rows = pick("exp", VARIANTS["pd"][0])
    out.append({"claim": "the pd model of exp is invertible everywhere on [-3, 3] "
                         "(smallest derivative > 0, every seed)",
                "held": all(r["min_derivative"] > 0 for r in pd_rows),
                "evidence": f"min derivative over seeds {min(r['min_derivative'] for r in pd_rows):.3g}; "
                            f"max round trip {max(r['roundtrip_max_err'] for r in pd_rows):.2g}"})
    lip = pick("abs", VARIANTS["lipschitz"][0])
    worst = max(max(r["max_slope_init"], r["max_slope"]) for r in lip)
    out.append({"claim": "the lipschitz model of abs(x) is 1-Lipschitz before and after training "
                         "(largest slope <= 1, every seed)",
                "held": worst <= 1 + SLACK, "evidence": f"largest slope over seeds {worst:.6f}"})
    for name, label in (("none", "unconstrained JacNet"), ("mlp", "plain MLP")):
        exp_rows = pick("exp", VARIANTS[name][0])
        bad = sum(r["min_derivative"] <= 0 for r in exp_rows)
        out.append({"claim": f"the {label} exp model is not guaranteed invertible "
                             "(its derivative reaches <= 0 somewhere on [-3, 3])",
                    "held": bad > 0,
                    "evidence": f"{bad} of {len(exp_rows)} seeds; min derivative "
                                f"{min(r['min_derivative'] for r in exp_rows):.3g}"})
        abs_rows = pick("abs", VARIANTS[name][0])
        over = sum(r["max_slope"] > 1 + SLACK for r in abs_rows)
        out.append({"claim": f"the {label} abs(x) model exceeds slope 1",
                    "held": over > 0,
                    "evidence": f"{over} of {len(abs_rows)} seeds; largest slope "
                                f"{max(r['max_slope'] for r in abs_rows):.3g}"})
    return out


def _fmt(cell: Any) -> str:
    if isinstance(cell, dict):
        return f"{cell['median']:.3g} [{cell['min']:.3g}, {cell['max']:.3g}]"
    return str(cell)


def write_markdown(path: Path, table: list[dict[str, Any]], checks: list[dict[str, Any]],
                   seeds: int, iterations: int) -> None:
    lines = [
        "# JacNet reproduction", "",
        f"{seeds} seeds, {iterations} full-batch Adam iterations (lr 0.01), 5 training points "
        "uniform in [-1, 1], 100 test points uniform in [-2, 2], 64 hidden units; guarantees on "
        "a dense grid over [-3, 3]. Cells: median [min, max] over seeds. Regenerate with "
        "`make reproduce`.", "",
        "Figures show seed 0. `min_derivative` is the smallest slope of the function as "
        "evaluated, `max_slope` the largest |slope|; `inverse_err_vs_log` is max |f⁻¹(y) − log y| "
        "for y in [e^-2, e^2] (`_train`: y in [1/e, e], the image of the training interval); "
        "the round trip is max |x − f⁻¹(f(x))| on the grid, limited by the solver tolerance over "
        "the smallest slope.", "", "## The paper's claims", "",
        markdown_table(["claim", "held", "evidence"],
                       ([c["claim"], "held" if c["held"] else "NOT held", c["evidence"]]
                        for c in checks)),
        "", "## Results", "",
    ]
    cols = ["experiment", "model", "solver", *[m for m in METRICS
                                                   if any(m in row for row in table)]]
    lines.append(markdown_table(cols, ([_fmt(row.get(c, "")) for c in cols] for row in table)))
    path.write_text("\n".join(lines) + "\n")


def figures(out: Path, runs: list[Trained]) -> list[Path]:
    """Figures 1-3 from seed 0's runs."""
    by = {(r.experiment, r.variant): r for r in runs if r.seed == runs[0].seed}
    x = torch.linspace(-2, 2, 401, dtype=torch.float64)[:, None]
    written = []
    panels = []
    for experiment, spec in EXPERIMENTS.items():
        main = by[(experiment, spec["structure"])]
        curves = {"initialisation": main.init_curve}
        for variant in (spec["structure"], "none", "mlp"):
            curves[VARIANTS[variant][0]] = predict(by[(experiment, variant)].model, x).numpy()[:, 0]
        inverse = None
        if main.model.invertible:
            y = torch.exp(torch.linspace(-2, 2, 301, dtype=torch.float64))[:, None]
            inverse = {"y": y.numpy()[:, 0], "true": np.log(y.numpy()[:, 0]),
                       "curves": {VARIANTS[spec["structure"]][0]:
                                  main.model.inverse(y).detach().numpy()[:, 0]}}
        written.append(plots.paper_figure(
            out / spec["figure"], x.numpy()[:, 0], main.target(x).numpy()[:, 0], curves,
            main.data.x_train.numpy()[:, 0], main.data.y_train.numpy()[:, 0], (-1.0, 1.0),
            inverse=inverse, title=spec["title"]))
        tol = np.array([np.nan if s.tolerance is None else s.tolerance for s in main.steps])
        panels.append({
            "title": f"{spec['title'].split(': ')[1]}: training loss "
                     f"({main.row['solver'].split(' (')[0]})",
            "curves": {VARIANTS[v][0]: np.array([s.loss for s in by[(experiment, v)].steps])
                       for v in (spec["structure"], "none", "mlp")},
            "tolerance": tol})
    written.append(plots.paper_loss_figure(out / "figure3_training.png", panels,
                                           title="Figure 3: training loss and tolerance"))
    return written


def reproduce(out: Path, seeds: int = 5, iterations: int = 50, grid_points: int = 2001,
              log=print) -> dict[str, Any]:
    """Train every (experiment, model, seed), write figures and tables into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    runs: list[Trained] = []
    for experiment, spec in EXPERIMENTS.items():
        for variant in (spec["structure"], "none", "mlp"):
            for seed in range(seeds):
                run = train_one(experiment, variant, seed, iterations, grid_points)
                log(f"{experiment:4s} {VARIANTS[variant][0]:17s} seed {seed}: "
                    f"test MAE {run.row['test_mae']:.4f}, {run.row['wall_time_s']:.2f} s")
                runs.append(run)
    rows = [r.row for r in runs]
    table, checks = summarise(rows), claims(rows)
    result = {"seeds": seeds, "iterations": iterations, "claims": checks, "summary": table,
              "runs": rows}
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(out / "results.md", table, checks, seeds, iterations)
    figures(out, runs)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jacnet_cli.reproduce.paper",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reproduce"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--grid-points", type=int, default=2001)
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.iterations < 1 or args.grid_points < 2:
        parser.error("--seeds and --iterations must be >= 1, --grid-points >= 2")
    start = time.perf_counter()
    result = reproduce(args.out, args.seeds, args.iterations, args.grid_points)
    for c in result["claims"]:
        print(f"[{'held' if c['held'] else 'NOT held'}] {c['claim']}: {c['evidence']}")
    print(f"wrote {args.out}/ (figures, results.md, results.json) in "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
