"""Section 6: the n-D guarantees of `gradient` and `monotone`, measured on the function as
evaluated, random and trained, at each dimension.

For each d, structure (gradient, monotone), network (cascade, modular) and state (random,
trained; `potentials`), D = dŷ/dx by autograd through the model as evaluated (solver exact,
float64; `guarantees.measure`, which calls `inverse.derivative`) on n points uniform in
[-1, 2]^d, 3x wider than the data box [0, 1]^d. Reported: max ‖D - Dᵀ‖_F / ‖D‖_F and, for
monotone, min λ_min(D) / ε.

Targets (issue 8): asymmetry <= 1e-10 everywhere; λ_min(D) >= ε (1 - 1e-9) for monotone.
"""

from __future__ import annotations

import time

import torch

from benchmarks.suite import potentials
from benchmarks.common import threads
from jacnet_cli import measure

ASYM_BAR = 1e-10
EIG_SLACK = 1e-9
STRUCTURES = ("gradient", "monotone")
NETWORKS = ("cascade", "modular")


def run(dims: list[int], n: int, hidden: int = 64, steps: int = potentials.STEPS) -> dict:
    rows = []
    with threads(1):
        for d in dims:
            x = potentials.points(n, d, potentials.GUARANTEE_BOX, seed=100 + d)
            for kind in STRUCTURES:
                for network in NETWORKS:
                    for trained in (False, True):
                        rows.append(_row(d, kind, network, hidden, trained, steps, x))
    asym = max(r["asym_max"] for r in rows)
    eig = [r["min_eig_over_eps"] for r in rows if r["kind"] == "monotone"]
    out = {
        "dims": dims, "n": n, "hidden": hidden, "steps": steps, "eps": potentials.EPS,
        "batch": potentials.BATCH, "lr": potentials.LR,
        "data_box": potentials.DATA_BOX, "guarantee_box": potentials.GUARANTEE_BOX,
        "rows": rows, "asym_max": asym, "min_eig_over_eps": min(eig) if eig else None,
        "asym_met": asym <= ASYM_BAR,
        "eig_met": bool(eig) and min(eig) >= 1 - EIG_SLACK,
    }
    out["target_met"] = out["asym_met"] and out["eig_met"]
    return out


def _row(d: int, kind: str, network: str, hidden: int, trained: bool, steps: int,
         x: torch.Tensor) -> dict:
    model, info = potentials.model(d, kind, network, hidden, trained, steps=steps)
    keys = ["jacobian_asym_max"] + (["jacobian_min_eig"] if kind == "monotone" else [])
    start = time.perf_counter()
    got = measure(model, x, keys)
    seconds = time.perf_counter() - start
    row = {"d": d, "kind": kind, "network": network, "hidden": hidden,
           "state": "trained" if trained else "random",
           "parameters": sum(p.numel() for p in model.parameters()),
           "asym_max": got["jacobian_asym_max"], "net_asym_max": got.get("net_asym_max"),
           "measure_s": round(seconds, 2)}
    if kind == "monotone":
        row["min_eig"] = got["jacobian_min_eig"]
        row["min_eig_over_eps"] = got["jacobian_min_eig"] / potentials.EPS
        row["net_min_eig_over_eps"] = got["net_min_eig"] / potentials.EPS
    if info is not None:
        row.update({"loss_initial": info.loss_initial, "loss_final": info.loss_final,
                    "test_rel_mse": info.test_mse / info.target_mse,
                    "train_s": round(info.seconds, 2)})
    print(f"  d={d:3d} {kind:8s} {network:7s} {row['state']:7s} asym {row['asym_max']:.1e}"
          + (f" min eig/eps {row['min_eig_over_eps']:.12f}" if kind == "monotone" else "")
          + (f" (rel mse {row['test_rel_mse']:.2e})" if info else "")
          + f" [{seconds:.1f}s]", flush=True)
    return row
