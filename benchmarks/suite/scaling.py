"""Section 4: cost against dimension for a pd JacNet R^d -> R^d on monotone_sinh(dim=d).

Per d: 64 training points in [-1, 1]^d, GL 16, float64. A few full-batch Adam iterations
(seconds per iteration: the fastest after the first, as other processes share the machine),
then a forward pass on 1e4 points (fastest of a few) and the inverse (method="ode",
newton="exact") of 1e3 points under a time budget; growth exponents are least-squares slopes
of log(seconds) on log(d).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch

from benchmarks.common import median, timed
from benchmarks.suite.models import Counter, OverBudget, evaluate, uniform_points
from jacnet_cli import (FixedAnchor, GaussLegendre, JacNet, PositiveDefinite, fit, get_target,
                        invert, norm_loss)

NODES = 16
ITERATIONS = 10
N_TRAIN = 64
SECTION_BUDGET_S = 170.0


def _rows(d: int) -> int:
    # Network rows (points x nodes) per predict() call: 16384, fewer once one call's
    # (rows, d, d) Jacobians would pass 2**22 numbers (32 MB).
    return max(NODES, min(16384, (1 << 22) // (d * d)))


def _slope(ds: list[int], secs: list[float | None], dmin: int = 1) -> float | None:
    pts = [(math.log(d), math.log(s)) for d, s in zip(ds, secs) if s and d >= dmin]
    if len(pts) < 3:  # a slope through two points says little
        return None
    a = np.array(pts)
    return float(np.polyfit(a[:, 0], a[:, 1], 1)[0])


def one(d: int, n_forward: int, n_inverse: int, inverse_budget: float) -> dict:
    target = get_target("monotone_sinh", dim=d)
    torch.manual_seed(0)
    model = JacNet(d, d, PositiveDefinite(1e-4), hidden=64, solver=GaussLegendre(NODES),
                   anchor=FixedAnchor(d, d, 0.0, "target", target=target)).double()
    x = uniform_points(N_TRAIN, d, -1.0, 1.0, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    hist = fit(model, x, target(x), opt, ITERATIONS, None, norm_loss)
    model.eval()
    row: dict = {"d": d, "train_s_per_iter": min(s.seconds for s in hist.steps[1:]),
                 "train_s_per_iter_median": median(s.seconds for s in hist.steps[1:]),
                 "train_loss_first": hist.losses[0], "train_loss_last": hist.losses[-1]}
    xf = uniform_points(n_forward, d, -1.0, 1.0, seed=1)
    rows = _rows(d)
    evaluate(model, xf[:64], rows)  # warm-up
    times = [timed(lambda: evaluate(model, xf, rows))[0]]
    while len(times) < (3 if d <= 8 else 2) and sum(times) < 10.0:  # repeat what is cheap
        times.append(timed(lambda: evaluate(model, xf, rows))[0])
    row["forward_s"] = min(times)
    row["forward_runs"] = len(times)
    row["forward_rows"] = rows
    xi = xf[:n_inverse]
    yi = evaluate(model, xi, rows)
    counter = Counter(model)
    counter.reset(inverse_budget)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            xb = invert(model, yi, method="ode", newton="exact")
        row["inverse_s"] = time.perf_counter() - start
        row["inverse_roundtrip"] = float((xb - xi).abs().max())
        row["inverse_warnings"] = [str(w.message)[:160] for w in caught]
    except OverBudget:
        row["inverse_s"] = None
        row["inverse_dnf_after_s"] = time.perf_counter() - start
    row["inverse_net_calls"] = counter.calls
    spent = row["inverse_s"] if row["inverse_s"] is not None else row["inverse_dnf_after_s"]
    # Mostly ODE field evaluations J(x)⁻¹ v on the n_inverse points (plus a few Newton passes).
    row["inverse_s_per_call"] = spent / max(1, counter.calls)
    counter.remove()
    with torch.no_grad():
        jac = model.jacobian(xi)
    row["min_eig_J"] = float(torch.linalg.eigvalsh(jac).min())
    return row


def run(dims: list[int], n_forward: int, n_inverse: int, inverse_budget: float) -> dict:
    start = time.perf_counter()
    rows = []
    dnf_budget = max(1.0, inverse_budget / 3)
    for d in dims:
        left = SECTION_BUDGET_S - (time.perf_counter() - start)
        # Two DNFs in a row make the point; later dimensions get a shorter budget, enough to
        # measure the cost per field evaluation.
        streak = len(rows) >= 2 and all(r["inverse_s"] is None for r in rows[-2:])
        budget = dnf_budget if streak else inverse_budget
        r = one(d, n_forward, n_inverse, max(1.0, min(budget, left / 2)))
        rows.append(r)
        inv = (f"inverse {r['inverse_s']:.2f}s err {r['inverse_roundtrip']:.1e}"
               if r["inverse_s"] else f"inverse DNF after {r['inverse_dnf_after_s']:.1f}s")
        print(f"  d={d:3d} train {1e3 * r['train_s_per_iter']:.1f} ms/it, forward "
              f"{r['forward_s']:.2f}s, {inv} ({r['inverse_net_calls']} J calls)", flush=True)
    ds = [r["d"] for r in rows]
    exps = {}
    for key in ("train_s_per_iter", "forward_s", "inverse_s", "inverse_s_per_call"):
        secs = [r[key] for r in rows]
        exps[key] = {"all": _slope(ds, secs), "d>=8": _slope(ds, secs, 8)}
    return {"dims": dims, "n_train": N_TRAIN, "n_forward": n_forward, "n_inverse": n_inverse,
            "iterations": ITERATIONS, "inverse_budget_s": inverse_budget,
            "dnf_budget_s": dnf_budget, "rows": rows,
            "exponents": exps}
