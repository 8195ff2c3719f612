"""Section 3: cost and round-trip error of x = ŷ⁻¹(ŷ(x)) for the trained exp / pd model.

Cost is given in seconds (fastest of up to 3 runs), in units of one forward evaluation of the
same points with the model's own evaluator (GL 16, fastest of 5) timed next to it, and as
work: network rows / (N x 16), which does not move with machine load. A run that passes its time budget is stopped (DNF) and
measured again on the first 100 points.
"""

from __future__ import annotations

import time
import warnings
from typing import Callable

import torch
from torch import Tensor

from benchmarks.common import median, timed
from benchmarks.suite.models import (Counter, OverBudget, evaluate, trained_exp_model,
                                     uniform_points)
from jacnet_cli import invert

BUDGET_S = 15.0
SUBSET = 100

CONFIGS: list[tuple[str, str, Callable[..., Tensor]]] = [
    ("bracket", 'invert(method="bracket") [default newton]',
     lambda m, y: invert(m, y, method="bracket")),
    ("bracket_none", 'invert(method="bracket", newton="none")',
     lambda m, y: invert(m, y, method="bracket", newton="none")),
    ("bracket_tol", 'invert(method="bracket", tol=1e-14)',
     lambda m, y: invert(m, y, method="bracket", tol=1e-14)),
    ("ode_none", 'invert(method="ode", newton="none") (dopri5 1e-6)',
     lambda m, y: invert(m, y, method="ode", newton="none")),
    ("ode", 'invert(method="ode") (dopri5 1e-6 + learned Newton)',
     lambda m, y: invert(m, y, method="ode")),
    ("table", 'invert(method="table")', lambda m, y: invert(m, y, method="table")),
    ("auto", "invert(y) [all defaults]", lambda m, y: invert(m, y)),
]


def _forward_seconds(model, x: Tensor, reps: int = 5) -> float:
    """One forward evaluation as the inverses make them: one call on all the points (fastest
    of `reps`, as the inverses' times are)."""
    with torch.no_grad():
        model(x)
        return min(timed(lambda: model(x))[0] for _ in range(reps))


def run(n: int) -> dict:
    model = trained_exp_model()
    nodes = model.solver.nodes
    x = uniform_points(n, 1, -2.0, 2.0, seed=7)
    y = evaluate(model, x)
    fwd = _forward_seconds(model, x)
    fwd_sub = _forward_seconds(model, x[:SUBSET])
    counter = Counter(model)
    out: dict = {"n": n, "evaluator": repr(model.solver), "forward_s": fwd,
                 "forward_subset_s": fwd_sub, "budget_s": BUDGET_S, "subset": SUBSET, "rows": {}}
    with torch.no_grad():
        jac = model.jacobian(torch.linspace(-2, 2, 4001, dtype=torch.float64)[:, None])
    out["min_J_on_test_range"] = float(jac.min())
    for key, label, fn in CONFIGS:
        fn(model, y[:10])  # warm-up
        counter.reset()
        row = {"label": label}
        r = _run(model, counter, fn, x, y, BUDGET_S)
        row["full"] = r
        if r["finished"]:
            r["x_forward"] = r["seconds"] / fwd
            r["work_forward"] = r["rows"] / (n * nodes)
        else:
            s = _run(model, counter, fn, x[:SUBSET], y[:SUBSET], 2 * BUDGET_S)
            if s["finished"]:
                s["x_forward"] = s["seconds"] / fwd_sub
                s["work_forward"] = s["rows"] / (SUBSET * nodes)
            row["subset"] = s
        out["rows"][key] = row
        best = row["full"] if r["finished"] else row["subset"]
        print(f"  {key:13s} {'done' if r['finished'] else 'DNF '} {r['seconds']:.2f}s "
              + (f"x{best.get('x_forward', float('nan')):.2f} fwd, work "
                 f"{best.get('work_forward', float('nan')):.2f}, "
                 f"roundtrip {best.get('roundtrip', float('nan')):.1e}"
                 if best["finished"] else "(subset DNF too)"), flush=True)
    counter.remove()
    met = [k for k, row in out["rows"].items() if k != "proposal" and row["full"]["finished"]
           and row["full"]["roundtrip"] <= 1e-10 and row["full"]["x_forward"] <= 5]
    out["target_met_by_existing"] = met
    return out


def _no_grad(fn, model, y: Tensor) -> Tensor:
    with torch.no_grad():
        return fn(model, y)


def _run(model, counter: Counter, fn, x: Tensor, y: Tensor, budget: float) -> dict:
    """Time fn under the budget (fastest of up to 3 runs), count its network rows, then
    measure its errors."""
    counter.reset(budget)
    start = time.perf_counter()
    try:
        with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            xb = fn(model, y)
    except OverBudget:
        return {"finished": False, "seconds": time.perf_counter() - start,
                "rows": counter.rows, "calls": counter.calls}
    seconds = time.perf_counter() - start
    rows, calls = counter.rows, counter.calls
    warned = [str(w.message)[:160] for w in caught]
    spent = seconds
    for _ in range(2):  # fastest of up to 3 runs while they are cheap: the machine is shared
        if spent > budget / 3:
            break
        counter.reset()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            again, _ = timed(lambda: _no_grad(fn, model, y))
        seconds, spent = min(seconds, again), spent + again
    counter.reset()
    with torch.no_grad():
        resid = float((evaluate(model, xb) - y).abs().max())
    return {"finished": True, "seconds": seconds, "rows": rows, "calls": calls,
            "roundtrip": float((xb - x).abs().max()), "residual": resid, "warnings": warned}
