"""Section 8: the n-D inverse of `monotone`, x = ŷ⁻¹(ŷ(x)), against one forward evaluation.

For each d, network width and state (random, trained; `potentials`): n points x uniform in
the data box [0, 1]^d, y = model(x), then `inverse.solve(model, y)` (method auto = damped
Newton, the structure's closed-form J, Cholesky) against one `model(x)` without gradients,
timed interleaved (one thread, fastest of `repeats` each). Reported: the time ratio, max
|x - x̂|, converged count, and the work: network passes and rows per point, split into
forward rows (g(x): line search, residuals) and Jacobian rows (one d x d J per row).

Beside it: the cost of one Newton iteration's linear algebra (J at every point, then J⁻¹ r
by the structure's Cholesky) in forward evaluations, and the proposed inverse of
`benchmarks/suite/proposals.py` (same iteration, one network pass per trial point for ŷ and J).

Widths: cascade and modular with the default hidden 64, and a GradNets-sized one: the
convex-2D preset at d = 2 (cascade, 7 units), else the PolyMax preset's shape scaled to d
(modular, 4 modules of d units; 254 at d = 256).

Targets (issue 8): round trip <= 1e-10 (float64) for d = 2 ... 64 on 1000 points, in <= 10x one
forward evaluation, with no point left unconverged.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch import Tensor

from benchmarks.suite import potentials, proposals
from benchmarks.common import threads
from jacnet_cli import solve

ROUNDTRIP_BAR = 1e-10
TIME_BAR = 10.0


def widths(d: int, hidden: int) -> list[tuple[str, str, int]]:
    """(label, network, hidden) rows at dimension d."""
    sized = ("gradnets-sized", "cascade", 7) if d == 2 else ("gradnets-sized", "modular", d)
    rows = [("default", "cascade", hidden), ("default", "modular", hidden)]
    return rows + ([sized] if sized[1:] not in [r[1:] for r in rows] else [])


class Work:
    """Counts the gradient network's forward passes (g) and Jacobians (J) and their rows."""

    def __init__(self, net: torch.nn.Module):
        self.net = net
        self.reset()
        self._hook = net.register_forward_hook(self._forward)
        inner: Callable[[Tensor], Tensor] = net.jacobian

        def jacobian(x: Tensor) -> Tensor:
            self.jac_calls += 1
            self.jac_rows += x.shape[0]
            return inner(x)

        net.jacobian = jacobian  # instance attribute: shadows the method while counting

    def _forward(self, module, inputs, output) -> None:
        self.fwd_calls += 1
        self.fwd_rows += inputs[0].shape[0]

    def reset(self) -> None:
        self.fwd_calls = self.fwd_rows = self.jac_calls = self.jac_rows = 0

    def remove(self) -> None:
        self._hook.remove()
        del self.net.jacobian


def _seconds(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call; with one thread CPU time leaves out the time other
    processes held the core (a cross-check on wall times under load)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - wall, time.thread_time() - cpu


def _newton_linear_algebra(model, x: Tensor, r: Tensor) -> None:
    """What each Newton iteration adds to a forward pass: J at every point, then J⁻¹ r."""
    model.structure.solve_linear(model.jacobian(x), r)


def measure(model, x: Tensor, repeats: int) -> dict:
    n = x.shape[0]
    with torch.no_grad():
        y = model(x)
        model(x)
        r = torch.randn_like(y)
        _newton_linear_algebra(model, x, r)
    result = solve(model, y)  # warm-up, and the result reported
    proposal = proposals.newton_fused(model, y)
    fwd = inv = fwd_cpu = inv_cpu = lin = prop = float("inf")
    for _ in range(repeats):  # interleaved: all see the same machine state
        with torch.no_grad():
            wall, cpu = _seconds(lambda: model(x))
            fwd, fwd_cpu = min(fwd, wall), min(fwd_cpu, cpu)
            lin = min(lin, _seconds(lambda: _newton_linear_algebra(model, x, r))[0])
        wall, cpu = _seconds(lambda: solve(model, y))
        inv, inv_cpu = min(inv, wall), min(inv_cpu, cpu)
        if proposal is not None:
            prop = min(prop, _seconds(lambda: proposals.newton_fused(model, y))[0])
    work = Work(model.net)
    try:
        solve(model, y)
    finally:
        work.remove()
    err = (result.x - x).abs().max(dim=-1).values  # (N,)
    return {
        "forward_s": fwd, "inverse_s": inv, "x_forward": inv / fwd,
        "cpu_x_forward": inv_cpu / fwd_cpu,
        "newton_linear_algebra_x_forward": lin / fwd,
        "proposal_x_forward": prop / fwd if proposal is not None else None,
        "proposal_roundtrip": (float((proposal[0] - x).abs().max())
                               if proposal is not None else None),
        "proposal_residual_max": float(proposal[1].max()) if proposal is not None else None,
        "roundtrip": float(err.max()), "converged": int(result.converged.sum()), "n": n,
        "residual_max": float(result.residual.max()),
        "forward_calls": work.fwd_calls, "forward_rows_per_point": work.fwd_rows / n,
        "jacobian_calls": work.jac_calls, "jacobian_rows_per_point": work.jac_rows / n,
    }


def run(dims: list[int], n: int, repeats: int, hidden: int = 64,
        steps: int = potentials.STEPS) -> dict:
    rows = []
    with threads(1):
        for d in dims:
            x = potentials.points(n, d, potentials.DATA_BOX, seed=200 + d)
            for label, network, h in widths(d, hidden):
                for trained in (False, True):
                    model, _ = potentials.model(d, "monotone", network, h, trained, steps=steps)
                    r = measure(model, x, repeats)
                    r.update({"d": d, "width": label, "network": network, "hidden": h,
                              "state": "trained" if trained else "random",
                              "parameters": sum(p.numel() for p in model.parameters())})
                    r["met"] = (r["roundtrip"] <= ROUNDTRIP_BAR and r["x_forward"] <= TIME_BAR
                                and r["converged"] == n)
                    rows.append(r)
                    print(f"  d={d:3d} {network:7s} H={h:3d} {r['state']:7s} "
                          f"x{r['x_forward']:.1f} fwd ({r['inverse_s'] * 1e3:.1f} vs "
                          f"{r['forward_s'] * 1e3:.2f} ms; J solve x"
                          f"{r['newton_linear_algebra_x_forward']:.1f}; proposal x"
                          f"{r['proposal_x_forward'] or float('nan'):.1f}), round trip "
                          f"{r['roundtrip']:.1e}, "
                          f"converged {r['converged']}/{n}, g rows/pt "
                          f"{r['forward_rows_per_point']:.1f}, J rows/pt "
                          f"{r['jacobian_rows_per_point']:.1f}", flush=True)
    return {
        "dims": dims, "n": n, "repeats": repeats, "hidden": hidden, "rows": rows,
        "max_x_forward": max(r["x_forward"] for r in rows),
        "max_roundtrip": max(r["roundtrip"] for r in rows),
        "unconverged": sum(n - r["converged"] for r in rows),
        "time_met": all(r["x_forward"] <= TIME_BAR for r in rows),
        "roundtrip_met": all(r["roundtrip"] <= ROUNDTRIP_BAR for r in rows),
        "converged_met": all(r["converged"] == n for r in rows),
        "target_met": all(r["met"] for r in rows),
    }
