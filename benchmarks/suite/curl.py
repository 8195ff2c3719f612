"""Section 9: the curl penalty (`curl_weight`) on the non-conservative structures.

`pd` and `none` learn J from an MLP; in n-D nothing makes that J a conservative field, so ŷ
(the line integral of J along the straight path) has a derivative D that differs from J and
is not symmetric. `curl_weight` w adds w x mean ‖∂_k J_ij - ∂_j J_ik‖² over each batch's
first 32 points (`guarantees.curl_penalty`) to the loss.

Per d, structure, weight and seed: the `monotone_2d` setup (target monotone_sinh, a
gradient field; `data=plane`: 64 training points in [-1, 1]^d, 400 test points in
[-1.5, 1.5]^d, guarantee points in [-2, 2]^d; full-batch Adam 0.01, norm loss, 32-node
Gauss–Legendre, float64), trained with the library's `Trainer` and the penalty the train
task builds (`penalty` here, as `run.experiment` builds it), then measured as `jacnet train` does:
curl_max and path_gap_max (`guarantees.conservation`), jacobian_asym_max and
jacobian_min_eig of D (`guarantees.measure`), test MAE.

Expected (issue 8): the penalty's effect on curl_max measured; the row is met when the
largest weight lowers curl_max (median over seeds) below the unpenalised run's in every
(d, structure).
"""

from __future__ import annotations

import statistics
import time

import torch

from benchmarks.common import threads
from jacnet_cli import (Batches, DataSpec, JacNet, PositiveDefinite, Trainer, Unconstrained,
                        conservation, curl_penalty, get_target, make_dataset, measure,
                        norm_loss, predict)
from jacnet_cli.core.guarantees import point_budget  # sizes the measurement as `jacnet train`

PLANE = dict(n_train=64, train_range=(-1.0, 1.0), n_test=400, test_range=(-1.5, 1.5),
             guarantee_range=(-2.0, 2.0), grid_points=81, guarantee_points=4000)
STRUCTURES = {"pd": lambda: PositiveDefinite(1e-4), "none": Unconstrained}


def penalty(weight: float):
    """What `curl_weight=weight` adds to `jacnet train`'s loss (None for 0)."""
    if weight == 0:
        return None
    return lambda net, xb: weight * curl_penalty(net, xb[:32])


def one(d: int, structure: str, weight: float, seed: int, iterations: int) -> dict:
    torch.manual_seed(seed)
    target = get_target("monotone_sinh", dim=d)
    data = make_dataset(DataSpec(**PLANE), target, seed)
    model = JacNet(d, d, STRUCTURES[structure](), hidden=64).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, opt, Batches(data.x_train, data.y_train, None, seed), iterations,
                      loss=norm_loss, penalty=penalty(weight))
    start = time.perf_counter()
    history = trainer.run()
    train_s = time.perf_counter() - start
    grid = data.x_grid[: point_budget(model, data.x_grid.shape[0])]
    out = {"d": d, "structure": structure, "weight": weight, "seed": seed,
           "train_s": train_s, "train_loss": history.losses[-1]}
    with torch.no_grad():
        pred = predict(model, data.x_test)
    out["test_mae"] = float(torch.linalg.vector_norm(pred - data.y_test, dim=-1).mean())
    out.update(measure(model, grid, ["jacobian_asym_max", "jacobian_min_eig"]))
    out.update(conservation(model, data.x_test, grid))
    return out


def run(dims: list[int], weights: list[float], seeds: list[int], iterations: int) -> dict:
    runs = []
    with threads(1):
        for d in dims:
            for structure in STRUCTURES:
                for seed in seeds:
                    for w in weights:
                        r = one(d, structure, w, seed, iterations)
                        runs.append(r)
                        print(f"  d={d} {structure:4s} w={w:<5g} seed {seed}: curl_max "
                              f"{r['curl_max']:.3g}, asym {r['jacobian_asym_max']:.3g}, "
                              f"min eig {r['jacobian_min_eig']:.3g}, test MAE "
                              f"{r['test_mae']:.4g} [{r['train_s']:.1f}s]", flush=True)
    keys = ("curl_max", "path_gap_max", "jacobian_asym_max", "jacobian_min_eig", "test_mae",
            "train_s")
    summary = []
    for d in dims:
        for structure in STRUCTURES:
            for w in weights:
                group = [r for r in runs if (r["d"], r["structure"], r["weight"]) == (d, structure, w)]
                summary.append({"d": d, "structure": structure, "weight": w,
                                **{k: statistics.median(r[k] for r in group) for k in keys}})
    lowered = []
    for d in dims:
        for structure in STRUCTURES:
            rows = {s["weight"]: s for s in summary if (s["d"], s["structure"]) == (d, structure)}
            base, top = rows[min(weights)], rows[max(weights)]
            lowered.append({"d": d, "structure": structure, "curl_unpenalised": base["curl_max"],
                            "curl_top_weight": top["curl_max"],
                            "factor": base["curl_max"] / max(top["curl_max"], 1e-300),
                            "mae_ratio": top["test_mae"] / base["test_mae"]})
    return {"dims": dims, "weights": weights, "seeds": seeds, "iterations": iterations,
            "runs": runs, "summary": summary, "lowered": lowered,
            "target_met": all(x["curl_top_weight"] < x["curl_unpenalised"] for x in lowered)}
