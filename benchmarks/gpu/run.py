"""The CUDA path, measured beside the CPU of the same machine in one run.

    python -m benchmarks.gpu.run [--out DIR] [--quick]

Needs a CUDA device (the CI machine has none; `make bench` does not run this). Sections:

1. Training step (forward + loss + backward + Adam), ms per step: the GradNets PolyMax shape
   (`monotone`, modular 4 x 254, d = 256, batch 100, float32), the same at d = 32, and the
   paper's 1-D default (`pd`, GL 32, 5 points, float64). CUDA against the CPU with all its
   threads and with one.
2. n-D inverse of `monotone` (float64, modular 4 x d units, 10,000 points of [0, 1]^d):
   `inverse.solve` against one forward pass on CUDA; round trip and converged count.
3. Guarantees computed on CUDA: λ_min(sym D)/ε of a random `monotone` model (float64) on
   4,000 points, and the same points on the CPU (the two must agree).

CUDA times use torch.cuda.synchronize around each block; the fastest of the repeats counts.
Writes results.json and RESULTS.md into --out (default: this folder).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Callable

import torch

from benchmarks.suite import potentials
from jacnet_cli.plots.tables import markdown_table
from jacnet_cli import FixedAnchor, GaussLegendre, JacNet, PositiveDefinite, measure, solve

HERE = Path(__file__).resolve().parent


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best(fn: Callable[[], object], device: torch.device, repeats: int, inner: int) -> float:
    """Seconds per call: the fastest of `repeats` blocks of `inner` calls."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        _sync(device)
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def _stepper(model, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return step


def _step_models():
    """(label, build(device) -> step function)."""
    def polymax(d, hidden):
        def make(device):
            model = potentials.build(d, "monotone", "modular", hidden, dtype=torch.float32)
            model = model.to(device)
            g = torch.Generator().manual_seed(0)
            x = torch.rand(100, d, generator=g).to(device)
            target = potentials.target_for(d)
            y = target(x.double().cpu()).float().to(device)
            return _stepper(model, x, y)
        return make

    def paper(device):
        torch.manual_seed(0)
        x = (torch.rand(5, 1, dtype=torch.float64) * 2 - 1)
        y = torch.exp(x)
        model = JacNet(1, 1, PositiveDefinite(eps=1e-4), hidden=128, nonlinearity="gelu",
                       anchor=FixedAnchor(1, 1, x0=0.0, y0=1.0, trainable=True, rate=0.1),
                       solver=GaussLegendre(32)).double().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        x, y = x.to(device), y.to(device)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = (model(x) - y).abs().mean()
            loss.backward()
            opt.step()
        return step

    return [("monotone d=256 modular 4x254 batch 100 float32 (gradnets_polymax)",
             polymax(256, 254)),
            ("monotone d=32 modular 4x32 batch 100 float32", polymax(32, 32)),
            ("pd 1-D, GL 32, 5 points, float64 (the default task)", paper)]


def training_steps(repeats: int, log=print) -> list[dict]:
    rows = []
    cpu_threads = torch.get_num_threads()
    for label, make in _step_models():
        row = {"model": label}
        for name, device, threads in (("cuda", torch.device("cuda"), cpu_threads),
                                      ("cpu_all", torch.device("cpu"), cpu_threads),
                                      ("cpu_1", torch.device("cpu"), 1)):
            torch.set_num_threads(threads)
            step = make(device)
            row[f"{name}_ms"] = 1e3 * _best(step, device, repeats, 20)
        torch.set_num_threads(cpu_threads)
        row["cpu_all_over_cuda"] = row["cpu_all_ms"] / row["cuda_ms"]
        row["cpu_1_over_cuda"] = row["cpu_1_ms"] / row["cuda_ms"]
        log(f"[gpu] step {label}: cuda {row['cuda_ms']:.2f} ms, cpu {row['cpu_all_ms']:.2f} ms "
            f"({cpu_threads} threads), {row['cpu_1_ms']:.2f} ms (1 thread)")
        rows.append(row)
    return rows


def inverses(dims: list[int], n: int, repeats: int, log=print) -> list[dict]:
    rows = []
    device = torch.device("cuda")
    for d in dims:
        model = potentials.build(d, "monotone", "modular", d).to(device).eval()
        x = torch.rand(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        x = x.to(device)
        with torch.no_grad():
            y = model(x)
        result = solve(model, y)
        with torch.no_grad():
            fwd = _best(lambda: model(x), device, repeats, 5)
        inv = _best(lambda: solve(model, y), device, repeats, 1)
        row = {"d": d, "n": n, "forward_ms": 1e3 * fwd, "inverse_ms": 1e3 * inv,
               "x_forward": inv / fwd, "roundtrip": float((result.x - x).abs().max()),
               "converged": int(result.converged.sum())}
        log(f"[gpu] inverse d={d}: {row['inverse_ms']:.1f} ms = {row['x_forward']:.1f}x forward "
            f"({row['forward_ms']:.2f} ms), round trip {row['roundtrip']:.1e}, "
            f"{row['converged']}/{n} converged")
        rows.append(row)
    return rows


def guarantee_rows(dims: list[int], log=print) -> list[dict]:
    rows = []
    for d in dims:
        model = potentials.build(d, "monotone", "modular", 64)
        x = potentials.points(4000, d, (-1.0, 2.0), seed=2)
        cpu = measure(model, x, keys=["jacobian_min_eig"])["jacobian_min_eig"]
        cuda = measure(model.to("cuda"), x.to("cuda"),
                                  keys=["jacobian_min_eig"])["jacobian_min_eig"]
        eps = potentials.EPS
        row = {"d": d, "min_eig_over_eps_cuda": cuda / eps, "min_eig_over_eps_cpu": cpu / eps,
               "relative_gap": abs(cuda - cpu) / abs(cpu)}
        log(f"[gpu] guarantee d={d}: λ_min/ε cuda {row['min_eig_over_eps_cuda']:.6f}, "
            f"cpu {row['min_eig_over_eps_cpu']:.6f}")
        rows.append(row)
    return rows


def write(out: Path, result: dict) -> None:
    """results.json and RESULTS.md into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    steps = markdown_table(
        ["model", "CUDA", "CPU, all threads", "CPU, 1 thread", "CPU all / CUDA", "CPU 1 / CUDA"],
        ([r["model"], f"{r['cuda_ms']:.2f}", f"{r['cpu_all_ms']:.2f}", f"{r['cpu_1_ms']:.2f}",
          f"{r['cpu_all_over_cuda']:.1f}x", f"{r['cpu_1_over_cuda']:.1f}x"]
         for r in result["steps"]))
    inverses = markdown_table(
        ["d", "points", "forward ms", "inverse ms", "inverse / forward", "round trip",
         "converged"],
        ([r["d"], r["n"], f"{r['forward_ms']:.2f}", f"{r['inverse_ms']:.1f}",
          f"{r['x_forward']:.1f}x", f"{r['roundtrip']:.1e}", f"{r['converged']}/{r['n']}"]
         for r in result["inverses"]))
    checks = markdown_table(
        ["d", "λ_min/ε CUDA", "λ_min/ε CPU", "relative gap"],
        ([r["d"], f"{r['min_eig_over_eps_cuda']:.9f}", f"{r['min_eig_over_eps_cpu']:.9f}",
          f"{r['relative_gap']:.1e}"] for r in result["guarantees"]))
    lines = ["# The CUDA path", "", "Generated by `python -m benchmarks.gpu.run` on "
             f"{result['device']} ({result['cpu_threads']} CPU threads), torch "
             f"{result['torch']}. See the module docstring for the protocol.", "",
             "## 1. Training step, ms", "", steps, "",
             "## 2. n-D inverse of `monotone` on CUDA (float64)", "", inverses, "",
             "## 3. Guarantee measured on CUDA and on the CPU (random `monotone`, float64)", "",
             checks]
    notes = HERE / "notes.md"  # hand-written sections (runs of the command line)
    if notes.exists():
        lines += ["", notes.read_text().rstrip("\n")]
    (out / "RESULTS.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and dimensions")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        parser.error("no CUDA device: this benchmark measures the CUDA path")
    repeats = 3 if args.quick else 10
    dims = [2, 8, 64] if args.quick else [2, 8, 32, 64, 256]
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "cpu_threads": torch.get_num_threads(), "machine": platform.machine(),
              "steps": training_steps(repeats),
              "inverses": inverses(dims, 10_000, repeats),
              "guarantees": guarantee_rows([8, 64])}
    write(args.out, result)
    print(f"wrote {args.out}/RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
