"""Section 7: one training step of `monotone` (solver exact) against a plain GradNet and an MLP.

A step is forward + MSE + backward + Adam step on a fixed batch (x uniform in [0, 1]^d, y
random). Per configuration (d, batch, dtype) and network (cascade, modular) three models:

- jacnet: JacNet(d, d, Monotone(network=...), hidden) with its defaults (solver exact,
  anchor x0 = 0 with a learned y0), i.e. ŷ = y0 + εx + g(x) - εx0 - g(x0);
- GradNet: the same network written from the formulas in `benchmarks/suite/reference.py`
  (mGradNet-C or mGradNet-M), no JacNet around it;
- MLP: one hidden tanh layer R^d -> R^d with the jacnet model's parameter count.

One thread. Each model runs blocks of k steps (k sized to ~`block_s`), the models
interleaved block by block, `repeats` times; the fastest block per model, per step, is kept.
Ratios are jacnet / GradNet and jacnet / MLP. Also the two GradNets presets' sizes, and a
fourth model, the proposal of `benchmarks/suite/proposals.py` (jacnet with P(x0) and P(x) in one
network pass), as proposal / GradNet.

Targets (issue 8): jacnet <= 2x GradNet and <= 5x MLP at d = 2, 32 and 256.
"""

from __future__ import annotations

import math
import time

import torch
from torch import Tensor, nn

from benchmarks.suite import potentials, proposals
from benchmarks.common import threads
from benchmarks.suite.reference import CascadeReference, ModularReference, count, mlp_width
from jacnet_cli import MLPRegressor

DTYPES = {"float32": torch.float32, "float64": torch.float64}
GRADNET_BAR = 2.0
MLP_BAR = 5.0

# (label, d, network, hidden, batch, dtype) of the GradNets presets (conf/experiment).
PRESETS = [("gradnets_convex2d", 2, "cascade", 7, 1000, "float32"),
           ("gradnets_polymax", 256, "modular", 254, 100, "float32")]


def configs(dims: list[int], hidden: int) -> list[tuple[str, int, str, int, int, str]]:
    out = []
    for d in dims:
        for batch in ([100, 1000] if d == 2 else [100]):
            for dtype in DTYPES:
                for network in ("cascade", "modular"):
                    out.append(("", d, network, hidden, batch, dtype))
    return out + [p for p in PRESETS if p[1] in dims]


def _models(d: int, network: str, hidden: int, dtype: torch.dtype) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    jac = potentials.build(d, "monotone", network, hidden, dtype=dtype)
    ref = (CascadeReference(d, hidden, 4) if network == "cascade"
           else ModularReference(d, hidden, 4)).to(dtype)
    mlp = MLPRegressor(d, d, hidden=mlp_width(d, count(jac))).to(dtype)
    fused = proposals.anchored_in_one_pass(
        potentials.build(d, "monotone", network, hidden, dtype=dtype))
    return {"jacnet": jac, "gradnet": ref, "mlp": mlp, "proposal": fused}


def _stepper(model: nn.Module, x: Tensor, y: Tensor):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()

    return step


def _block(step, k: int) -> tuple[float, float]:
    """(wall, CPU) seconds per step over k steps. With one thread, CPU time leaves out the
    time other processes held the core: a cross-check on the wall times under load."""
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(k):
        step()
    return (time.perf_counter() - wall) / k, (time.thread_time() - cpu) / k


def measure(d: int, network: str, hidden: int, batch: int, dtype_name: str, repeats: int,
            block_s: float) -> dict:
    dtype = DTYPES[dtype_name]
    g = torch.Generator().manual_seed(d)
    x = torch.rand(batch, d, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randn(batch, d, generator=g, dtype=torch.float64).to(dtype)
    models = _models(d, network, hidden, dtype)
    steps = {name: _stepper(m, x, y) for name, m in models.items()}
    ks = {}
    for name, step in steps.items():  # warm-up, then size the blocks
        step()
        ks[name] = max(1, math.ceil(block_s / max(_block(step, 3)[0], 1e-6)))
    best = {name: math.inf for name in steps}
    cpu = {name: math.inf for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            wall, used = _block(step, ks[name])
            best[name], cpu[name] = min(best[name], wall), min(cpu[name], used)
    return {
        "d": d, "network": network, "hidden": hidden, "batch": batch, "dtype": dtype_name,
        "parameters": {name: count(m) for name, m in models.items()},
        "mlp_hidden": models["mlp"].net.layers[0].out_features,
        "block_steps": ks,
        "step_ms": {name: t * 1e3 for name, t in best.items()},
        "cpu_step_ms": {name: t * 1e3 for name, t in cpu.items()},
        "over_gradnet": best["jacnet"] / best["gradnet"],
        "over_mlp": best["jacnet"] / best["mlp"],
        "proposal_over_gradnet": best["proposal"] / best["gradnet"],
        "cpu_over_gradnet": cpu["jacnet"] / cpu["gradnet"],
        "cpu_over_mlp": cpu["jacnet"] / cpu["mlp"],
    }


def run(dims: list[int], repeats: int, block_s: float, hidden: int = 64) -> dict:
    rows = []
    with threads(1):
        for label, d, network, h, batch, dtype in configs(dims, hidden):
            r = measure(d, network, h, batch, dtype, repeats, block_s)
            r["preset"] = label or None
            rows.append(r)
            ms = r["step_ms"]
            print(f"  d={d:3d} B={batch:4d} {dtype} {network:7s} H={h:3d} "
                  f"{label:18s} jacnet {ms['jacnet']:.3f} ms, gradnet {ms['gradnet']:.3f}, "
                  f"mlp {ms['mlp']:.3f}: x{r['over_gradnet']:.2f} gradnet, "
                  f"x{r['over_mlp']:.2f} mlp; proposal x{r['proposal_over_gradnet']:.2f} "
                  "gradnet", flush=True)
    worst_g = max(rows, key=lambda r: r["over_gradnet"])
    worst_m = max(rows, key=lambda r: r["over_mlp"])
    return {
        "dims": dims, "hidden": hidden, "repeats": repeats, "block_s": block_s, "rows": rows,
        "max_over_gradnet": worst_g["over_gradnet"], "max_over_mlp": worst_m["over_mlp"],
        "gradnet_met": worst_g["over_gradnet"] <= GRADNET_BAR,
        "mlp_met": worst_m["over_mlp"] <= MLP_BAR,
        "target_met": worst_g["over_gradnet"] <= GRADNET_BAR and worst_m["over_mlp"] <= MLP_BAR,
    }
