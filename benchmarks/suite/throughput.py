"""Section 2: evaluation throughput and accuracy of one trained exp / pd model.

Each evaluator runs `predict` (no grad) on the first n of one set of points uniform in
[-2, 2], in chunks of about ROWS network rows (points x nodes for a K-node rule; for an ODE
solver, which calls the network on one row per point at a time, ROWS points). Errors are
against GL 64 in float64 on the first min(n, 1e5) points; that reference is itself checked
against dopri5 at rtol = atol = 1e-12 on 1000 points. Throughput: median of 3 runs up to 1e5
points; above, the median over blocks of 1e5 points (this machine is shared with other work).
"""

from __future__ import annotations


import torch
from torch import Tensor

from benchmarks.common import median, timed
from benchmarks.suite.models import (ROWS, Counter, evaluate, max_abs, reference_solver,
                                     trained_exp_model, uniform_points, with_integrator)
from jacnet_cli import GaussLegendre, ODESolver, predict

ERROR_POINTS = 100_000  # errors are measured on this prefix of the points
BLOCK = 100_000  # sizes above this are timed block by block


def evaluators(model) -> list[tuple[str, str, object, str]]:
    """(key, label, model copy, how): how is "direct" or "cumulative"."""
    out = []
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        for k in (8, 16, 32):
            out.append((f"gl{k}_{tag}", f"GL {k}, {dtype}".replace("torch.", ""),
                        with_integrator(model, GaussLegendre(k), dtype), "direct"))
    out.append(("dopri5_f64", "dopri5 rtol=atol=1e-6 (odeint), float64",
                with_integrator(model, ODESolver("dopri5", 1e-6, 1e-6), torch.float64), "direct"))
    out.append(("cumulative_f64", 'predict(method="cumulative"), float64',
                with_integrator(model, GaussLegendre(16), torch.float64), "cumulative"))
    return out


def _call(m, x: Tensor, how: str) -> Tensor:
    if how == "direct":
        return evaluate(m, x, ROWS)
    return predict(m, x, rows=ROWS, method="cumulative")


def run(sizes: list[int]) -> dict:
    model = trained_exp_model()
    x_all = uniform_points(max(sizes), 1, -2.0, 2.0, seed=2024)
    n_err = min(max(sizes), ERROR_POINTS)
    ref_seconds, ref = timed(lambda: evaluate(with_integrator(model, GaussLegendre(64)),
                                              x_all[:n_err]))
    check = x_all[:1000]
    ode_ref = evaluate(with_integrator(model, reference_solver(1e-12)), check)
    out: dict = {
        "sizes": sizes, "chunk_rows": ROWS, "error_points": n_err,
        "trained_with": repr(model.solver),
        "reference": "GL 64, float64",
        "reference_vs_dopri5_1e-12": max_abs(ref[:1000], ode_ref),
        "reference_seconds": ref_seconds,
        "rows": {},
    }
    for key, label, m, how in evaluators(model):
        counter = Counter(m)
        _call(m, x_all[:1000], how)  # warm-up
        row = {"label": label, "by_size": {}}
        for n in sizes:
            if n > BLOCK:
                # Blocks of BLOCK points, each timed: the median block is robust to a burst of
                # load from other processes during a long run.
                counter.reset()
                blocks = x_all[:n].split(BLOCK)
                parts = [timed(lambda: _call(m, xb, how)) for xb in blocks]
                per_point = median(t / len(xb) for (t, _), xb in zip(parts, blocks))
                pred = torch.cat([p for _, p in parts])
                times = [t for t, _ in parts]
            else:
                times, pred = [], None
                for _ in range(3):
                    counter.reset()
                    t, pred = timed(lambda: _call(m, x_all[:n], how))
                    times.append(t)
                per_point = median(times) / n
            k = min(n, n_err)
            row["by_size"][str(n)] = {
                "seconds": per_point * n, "points_per_s": 1 / per_point,
                "rows_per_point": counter.rows / n, "max_err": max_abs(pred[:k], ref[:k]),
                "timings_s": times,
            }
            print(f"  {key:15s} n={n:>8d} {n / median(times):10.4g} pts/s "
                  f"err {row['by_size'][str(n)]['max_err']:.1e}", flush=True)
        counter.remove()
        out["rows"][key] = row
    # Targets on the largest size: the fastest evaluator with max error <= 1e-6 vs dopri5.
    top = str(max(sizes))
    base = out["rows"]["dopri5_f64"]["by_size"][top]["points_per_s"]
    for key, row in out["rows"].items():
        row["speedup_vs_dopri5"] = row["by_size"][top]["points_per_s"] / base
    ok = {k: r for k, r in out["rows"].items() if r["by_size"][top]["max_err"] <= 1e-6}
    best = max(ok, key=lambda k: ok[k]["by_size"][top]["points_per_s"]) if ok else None
    out["best_listed"] = best
    out["target_met"] = bool(best) and out["rows"][best]["speedup_vs_dopri5"] >= 4
    return out
