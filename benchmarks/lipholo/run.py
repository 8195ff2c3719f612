"""Issue 17 §4: the n-D structures that hold by construction, `lipschitz` (LipschitzNet) and
`cauchy_riemann` (HolomorphicNet), against their peers in one harness, on the same data per
seed, at equal parameter counts.

    python -m benchmarks.lipholo.run            # full study (~40 min CPU), writes results.json
                                                # and RESULTS.md in benchmarks/lipholo/
    python -m benchmarks.lipholo.run --quick    # smoke run (~1 min): $JACNET_BENCH_DIR/lipholo_quick.*
    python -m benchmarks.lipholo.run --report   # rebuild RESULTS.md from results.json

Protocol (every model, every task, every seed): 3000 training, 1000 validation and 2000 test
points uniform in the data box, drawn from a generator seeded by the seed (the same points for
every model of the seed); float32; MSE; Adam with a cosine-decayed learning rate, batch 100,
40 epochs (1200 steps), batch order seeded by the seed; the model's initial weights from
`torch.manual_seed(seed)` (the same start for every learning rate). Each learning rate of the
grid is trained; the one with the best validation dB is kept (diverged runs are dropped) and
only that model ever sees the test set, once. Test dB = 10 log10 mean_n ‖ŷ_n - y_n‖².
Guarantee measurements use a float64 copy of the final model in eval mode, D = dŷ/dx by
autograd (`jacnet_cli.core.evaluation.derivative`), on 10,000 points uniform in the data box and
10,000 in the 3x box. Step times: every model of a shape built in one process, one thread,
forward + backward + Adam on a batch of 100, interleaved over rounds, median; the ratio is to
the unconstrained JacNet of that shape (equal parameters). The timing section holds an
exclusive `fcntl.flock` on the shared timing lock (benchmarks.common.TIMING_LOCK) so it never overlaps another benchmark's
timings on this shared machine.

Accuracy runs are cached one line per (task, model, seed) in $JACNET_BENCH_DIR/<out>_rows.jsonl, so
an interrupted study resumes where it stopped (delete the file to start afresh).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from jacnet_cli import (CauchyRiemann, JacNet, Lipschitz, MLPRegressor, Unconstrained, derivative,
                        get_target)
from jacnet_cli.core.nets.holomorphic import ComplexLinear, to_complex, to_real  # split-complex peer
from jacnet_cli.plots.tables import markdown_table

from benchmarks.common import SCRATCH, TIMING_LOCK

HERE = Path(__file__).resolve().parent
LOCK = TIMING_LOCK
CACHE_DIR = SCRATCH  # per-run result cache (resume), outside the repository
K = 1.0  # the Lipschitz constant of targets and models

# ---------------------------------------------------------------------------------------------
# Peers that jacnet does not ship
# ---------------------------------------------------------------------------------------------


def torchlip_net(d_x: int, d_y: int, k: float, hidden: int = 64, depth: int = 2) -> nn.Module:
    """deel-torchlip in LipschitzNet's layout: SpectralLinear (power iteration + Björck, each
    k^(1/n)) with GroupSort2 between them."""
    import deel.torchlip as tl

    layers: list[nn.Module] = []
    width = d_x
    for _ in range(depth):
        layers += [tl.SpectralLinear(width, hidden), tl.GroupSort2()]
        width = hidden
    layers.append(tl.SpectralLinear(width, d_y))
    return tl.Sequential(*layers, k_coef_lip=k)


class SplitComplexNet(nn.Module):
    """z -> c · act(W z + b) + d, act(u) = tanh(Re u) + i tanh(Im u): complex weights with a
    split activation (the complexPyTorch style), complex-valued but NOT holomorphic.
    (N, 2) -> (N, 2). The prototype's baseline (/work/proto/lipholo/baselines.py)."""

    def __init__(self, hidden: int = 64, depth: int = 1):
        super().__init__()
        self.layers = nn.ModuleList(
            [ComplexLinear(1, hidden, 1.0, 1.0)]
            + [ComplexLinear(hidden, hidden, 1 / math.sqrt(hidden), 0.5)
               for _ in range(depth - 1)])
        self.out = ComplexLinear(hidden, 1, 1 / math.sqrt(hidden), 0.0)
        with torch.no_grad():  # spread the split activation's imaginary biases too
            for layer in self.layers:
                layer.b_im.uniform_(-1, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = to_complex(x)[:, None]  # (N, 1)
        for layer in self.layers:
            u = layer(s)  # (N, H)
            s = torch.complex(torch.tanh(u.real), torch.tanh(u.imag))
        return to_real(self.out(s)[:, 0])  # (N, 2)


# ---------------------------------------------------------------------------------------------
# Models at equal parameter counts
# ---------------------------------------------------------------------------------------------

LIP_HIDDEN, LIP_DEPTH = 64, 2  # LipschitzNet / torchlip / MLP layout: 2 hidden layers of 64


def count(model: nn.Module) -> int:
    """Trainable real parameters (a complex parameter is stored, and counted, as 2 reals)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def paper_width(budget: int, d_x: int, d_y: int) -> int:
    """Width of a 1-hidden-layer JacNet J network (d_x d_y raw outputs, learned y0) with about
    `budget` parameters: H (d_x + 1) + H d_x d_y + d_x d_y + d_y."""
    raw = d_x * d_y
    return max(2, round((budget - raw - d_y) / (d_x + 1 + raw)))


def lipschitz_models(d_x: int, d_y: int) -> dict[str, Callable[[], nn.Module]]:
    budget = count(JacNet(d_x, d_y, Lipschitz(K), hidden=LIP_HIDDEN))
    h1 = paper_width(budget, d_x, d_y)
    return {
        # jacnet, conservative (owns LipschitzNet: orthogonal Cayley layers + MaxMin)
        "lipschitz": lambda: JacNet(d_x, d_y, Lipschitz(K), hidden=LIP_HIDDEN),
        "torchlip": lambda: torchlip_net(d_x, d_y, K, LIP_HIDDEN, LIP_DEPTH),
        "mlp": lambda: MLPRegressor(d_x, d_y, hidden=LIP_HIDDEN, depth=LIP_DEPTH,
                                    nonlinearity="gelu"),
        # the paper's form: an MLP J with k tanh(σ)/σ squash, GL32 line integral (measured only)
        "lipschitz_paper": lambda: JacNet(d_x, d_y, Lipschitz(K, conservative=False), hidden=h1),
        "jacnet_none": lambda: JacNet(d_x, d_y, Unconstrained(), hidden=h1),
    }


LIPSCHITZ_PEERS = ("torchlip", "lipschitz_paper")

CR_UNITS = 75  # 6 U + 6 = 456 real parameters; the unconstrained JacNet at hidden 64 has 454


def cr_models(target_name: str) -> dict[str, Callable[[], nn.Module]]:
    out = {
        "cauchy_riemann": lambda: JacNet(2, 2, CauchyRiemann(units=CR_UNITS)),
        "jacnet_none": lambda: JacNet(2, 2, Unconstrained(), hidden=64),
        "cauchy_riemann_paper": lambda: JacNet(2, 2, CauchyRiemann(conservative=False),
                                               hidden=90),
        "mlp": lambda: MLPRegressor(2, 2, hidden=90, depth=1, nonlinearity="gelu"),
        "split_complex": lambda: SplitComplexNet(hidden=CR_UNITS),
    }
    if target_name in MIN_MODULUS_TARGETS:
        out["cauchy_riemann_m"] = lambda: JacNet(
            2, 2, CauchyRiemann(min_modulus=MIN_MODULUS, units=CR_UNITS))
    return out


MIN_MODULUS = 0.2
CR_ROUNDING = 1e-12  # relative CR residual of a float64 copy counted as rounding
#: targets whose |f'| stays above MIN_MODULUS on the box (Möbius 0.272, exp e^-1.5 = 0.223)
MIN_MODULUS_TARGETS = ("mobius", "complex_exp")

# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------

LIP_SHAPES = ((2, 1), (8, 2), (32, 8))
LIP_PROFILES = ("abs", "sin")
CR_TARGETS = ("cubic_sin", "mobius", "complex_exp", "complex_square")
CR_HALF = 1.5  # data box [-1.5, 1.5]² for every holomorphic target
LIP_HALF = 1.0  # data box [-1, 1]^d for OrthoRidge


def tasks(part: str) -> list[dict]:
    out = []
    if part in ("all", "lipschitz"):
        for d_x, d_y in LIP_SHAPES:
            for profile in LIP_PROFILES:
                out.append({"part": "lipschitz", "task": f"ridge_{profile} {d_x}->{d_y}",
                            "d_x": d_x, "d_y": d_y, "half": LIP_HALF,
                            "target": lambda d_x=d_x, d_y=d_y, p=profile: get_target(
                                "ortho_ridge", d_x=d_x, d_y=d_y, profile=p, k=K, omega=2.0,
                                seed=0),
                            "models": lambda d_x=d_x, d_y=d_y: lipschitz_models(d_x, d_y)})
    if part in ("all", "cauchy_riemann"):
        for name in CR_TARGETS:
            out.append({"part": "cauchy_riemann", "task": name, "d_x": 2, "d_y": 2,
                        "half": CR_HALF, "target": lambda name=name: get_target(name),
                        "models": lambda name=name: cr_models(name)})
    return out


# ---------------------------------------------------------------------------------------------
# Training and measurement
# ---------------------------------------------------------------------------------------------


def box(n: int, d: int, half: float, gen: torch.Generator) -> Tensor:
    return (torch.rand(n, d, generator=gen, dtype=torch.float64) * 2 - 1) * half


def data(task: dict, seed: int, cfg: argparse.Namespace) -> dict[str, Tensor]:
    """Train / validation / test / probe points of one seed (float64; cast where used)."""
    target = task["target"]()
    gen = torch.Generator().manual_seed(1000 + seed)
    d, half = task["d_x"], task["half"]
    out = {"x": box(cfg.n_train, d, half, gen), "xv": box(cfg.n_val, d, half, gen),
           "xt": box(cfg.n_test, d, half, gen), "xd": box(cfg.n_probe, d, half, gen),
           "x3": box(cfg.n_probe, d, 3 * half, gen)}
    for key, name in (("x", "y"), ("xv", "yv"), ("xt", "yt")):
        out[name] = target(out[key])
    return out


def structure_of(model: nn.Module):
    return getattr(model, "structure", None) if isinstance(model, JacNet) else None


def prepare(model: nn.Module, x: Tensor, y: Tensor) -> None:
    """What `jacnet train` does before training: a structure that learns from its data (the
    min_modulus certificate's box) sees the training points."""
    s = structure_of(model)
    if s is not None and getattr(s, "needs_points", False):
        s.fit_data(model.net, x, y)


def penalty(model: nn.Module) -> Tensor | None:
    """The structure's own loss term, as `jacnet train` adds it (min_modulus margin)."""
    s = structure_of(model)
    return None if s is None else s.penalty(model.net)


def train(model: nn.Module, x: Tensor, y: Tensor, lr: float, epochs: int, batch: int,
          seed: int) -> dict[str, float]:
    """Mini-batch Adam on MSE with cosine decay, in train mode; float32 x, y."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(x.shape[0] / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    model.train()
    seconds, last = 0.0, float("nan")
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=gen)
        total = 0.0
        for idx in perm.split(batch):
            t0 = time.perf_counter()
            loss = ((model(x[idx]) - y[idx]) ** 2).sum(-1).mean()
            extra = penalty(model)
            full = loss if extra is None else loss + extra
            opt.zero_grad()
            full.backward()
            opt.step()
            sched.step()
            seconds += time.perf_counter() - t0
            total += float(loss.detach()) * idx.numel()
        last = total / x.shape[0]
        if not math.isfinite(last):
            break
    model.eval()
    return {"train_mse": last, "ms_per_step_in_run": 1e3 * seconds / steps}


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, chunk: int = 250) -> Tensor:
    model.eval()
    return torch.cat([model(part) for part in x.split(chunk)])


def db(pred: Tensor, y: Tensor) -> float:
    err = float(((pred.double() - y.double()) ** 2).sum(-1).mean())
    return 10 * math.log10(err) if math.isfinite(err) and err > 0 else float("nan")


def float64_copy(model: nn.Module) -> nn.Module:
    """The trained model in float64, eval mode. deel-torchlip: its vanilla export (plain
    Linear layers holding the normalised weights, equal to the eval-mode model)."""
    if hasattr(model, "vanilla_export"):
        model = model.vanilla_export()
    else:
        model = copy.deepcopy(model)
    return model.double().eval()


def jacobians(model: nn.Module, x: Tensor, chunk: int = 250) -> Tensor:
    return torch.cat([derivative(model, part).detach() for part in x.split(chunk)])


def cr_residual(jac: Tensor) -> Tensor:
    """max(|D00 - D11|, |D01 + D10|) / ‖D‖_F per point: (N, 2, 2) -> (N,)."""
    r = torch.maximum((jac[:, 0, 0] - jac[:, 1, 1]).abs(), (jac[:, 0, 1] + jac[:, 1, 0]).abs())
    return r / torch.linalg.matrix_norm(jac).clamp_min(1e-300)


def measure(part: str, model: nn.Module, d: dict[str, Tensor]) -> dict:
    m64 = float64_copy(model)
    out: dict = {}
    for tag, key in (("data", "xd"), ("3x", "x3")):
        jac = jacobians(m64, d[key])
        finite = torch.isfinite(jac).flatten(1).all(1)
        out[f"finite_{tag}"] = float(finite.double().mean())
        jac = jac[finite]
        if part == "lipschitz":
            out[f"maxD_{tag}"] = float(torch.linalg.matrix_norm(jac, 2).max())
        else:
            out[f"cr_{tag}_max"] = float(cr_residual(jac).max())
            out[f"maxD_{tag}"] = float(torch.linalg.matrix_norm(jac, 2).max())
            if tag == "data":
                # |ŷ'| = sqrt(|det D|) for a CR matrix; for the others the smaller singular
                # value is the comparable floor
                out["min_sv_data"] = float(torch.linalg.svdvals(jac)[:, -1].min())
    net = getattr(model, "net", None)
    if hasattr(net, "lipschitz_bound"):
        out["bound"] = float(net.lipschitz_bound())  # from the float32 weights as trained
        out["bound_float64"] = float(m64.net.lipschitz_bound())
    if hasattr(model, "vanilla_export"):  # torchlip: Π‖W_i‖₂ of its normalised weights
        out["bound"] = math.prod(float(torch.linalg.matrix_norm(p.detach(), 2))
                                 for n, p in m64.named_parameters() if n.endswith("weight"))
    if getattr(net, "nonvanishing", False):
        out.update(modulus(m64))
    return out


def modulus(m64: nn.Module) -> dict:
    """min |ŷ'| measured on the certificate's box (a 201² grid, boundary included) and the
    certificate `certified_min_modulus()` (for the learned g, as evaluated)."""
    net = m64.net
    lo_re, hi_re, lo_im, hi_im = (float(v) for v in net.box)
    g = torch.stack(torch.meshgrid(torch.linspace(lo_re, hi_re, 201, dtype=torch.float64),
                                   torch.linspace(lo_im, hi_im, 201, dtype=torch.float64),
                                   indexing="ij"), -1).reshape(-1, 2)
    jac = jacobians(m64, g)
    with torch.no_grad():
        g_mod = net.g(to_complex(g))[0].abs()
    return {"box": [lo_re, hi_re, lo_im, hi_im],
            "min_abs_yhat_prime_grid": float(torch.sqrt(torch.linalg.det(jac).abs()).min()),
            "min_abs_g_grid": float(g_mod.min()),
            "certified_min_modulus": float(net.certified_min_modulus()),
            "shift": float(net.shift())}


def fit_one(task: dict, make: Callable[[], nn.Module], seed: int, d: dict[str, Tensor],
            lr: float, cfg: argparse.Namespace) -> tuple[dict, nn.Module]:
    """One training run at one learning rate: (trial record with validation dB, model)."""
    x, y = d["x"].float(), d["y"].float()
    torch.manual_seed(seed)
    model = make()
    prepare(model, x, y)
    fit = train(model, x, y, lr, cfg.epochs, cfg.batch, seed)
    val = (db(predict(model, d["xv"].float()), d["yv"]) if math.isfinite(fit["train_mse"])
           else float("nan"))
    return {"lr": lr, "val_db": val, **fit}, model


MAX_EDGE_STEPS = 2  # learning rates tried past the grid's edge, at most


def edge_lr(row: dict, grid: list[float]) -> float | None:
    """The next learning rate past the grid's edge while the validation winner sits on the
    edge of everything tried (x3 above, /3 below), at most MAX_EDGE_STEPS past the grid;
    None once the winner is interior, the next step diverged, or the steps are spent."""
    lr = row.get("lr")
    if lr is None:
        return None
    tried = [t["lr"] for t in row["trials"]]
    if len(tried) - len(grid) >= MAX_EDGE_STEPS:
        return None
    if lr == max(tried) and lr >= max(grid):
        return float(f"{lr * 3:.6g}")
    if lr == min(tried) and lr <= min(grid):
        return float(f"{lr / 3:.6g}")
    return None


def finish(row: dict, model: nn.Module, best: dict, task: dict, d: dict[str, Tensor]) -> None:
    """Test the selected model (the only time a model sees the test set) and measure it."""
    row.update({"lr": best["lr"], "val_db": best["val_db"],
                "ms_per_step_in_run": best["ms_per_step_in_run"],
                "test_db": db(predict(model, d["xt"].float()), d["yt"]),
                "mean_db": db(d["y"].mean(0, keepdim=True).expand_as(d["yt"]), d["yt"])})
    row.update(measure(task["part"], model, d))


def run_one(task: dict, name: str, make: Callable[[], nn.Module], seed: int,
            d: dict[str, Tensor], cfg: argparse.Namespace) -> dict:
    """Train every lr of the grid (and past its edge while the winner sits there), keep the
    best by validation, test it once, measure it."""
    grid = cfg.lrs[task["part"]]
    row = {"part": task["part"], "task": task["task"], "model": name, "seed": seed,
           "params": count(make()), "trials": [], "lr": None}
    best, best_model = None, None
    lrs = list(grid)
    while lrs:
        trial, model = fit_one(task, make, seed, d, lrs.pop(0), cfg)
        row["trials"].append(trial)
        if math.isfinite(trial["val_db"]) and (best is None or trial["val_db"] < best["val_db"]):
            best, best_model = trial, model
            row["lr"] = trial["lr"]
        if not lrs and len(row["trials"]) >= len(grid):
            nxt = edge_lr(row, grid)
            if nxt is not None:
                lrs.append(nxt)
    row["edge_lrs"] = [t["lr"] for t in row["trials"][len(grid):]]
    if best is None:
        row.update({"test_db": float("nan"), "diverged": True})
        return row
    finish(row, best_model, best, task, d)
    return row


def extend(row: dict, task: dict, make: Callable[[], nn.Module], d: dict[str, Tensor],
           cfg: argparse.Namespace) -> dict:
    """The edge steps for a row cached before the rule (or before its second step) existed.
    If a new learning rate wins on validation, that model is tested (once) and replaces the
    row's results; the earlier winner's test value is kept as `base_test_db` and was never
    used for selection."""
    row = dict(row)
    grid = cfg.lrs[task["part"]]
    best, best_model, first_lr = None, None, row["lr"]
    while (nxt := edge_lr(row, grid)) is not None:
        trial, model = fit_one(task, make, row["seed"], d, nxt, cfg)
        row["trials"] = row["trials"] + [trial]
        cur = best["val_db"] if best is not None else row["val_db"]
        if math.isfinite(trial["val_db"]) and trial["val_db"] < cur:
            best, best_model = trial, model
            row["lr"] = trial["lr"]  # the edge rule looks at the current winner
    row["edge_lrs"] = [t["lr"] for t in row["trials"][len(grid):]]
    if best is not None:
        row.setdefault("base_test_db", row["test_db"])
        row.setdefault("base_lr", first_lr)
        finish(row, best_model, best, task, d)
    return row


# ---------------------------------------------------------------------------------------------
# Step timing (under the lock)
# ---------------------------------------------------------------------------------------------


def step_ms(model: nn.Module, x: Tensor, y: Tensor, steps: int, warm: int = 3) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    for i in range(steps + warm):
        if i == warm:
            t0 = time.perf_counter()
        loss = ((model(x) - y) ** 2).sum(-1).mean()
        extra = penalty(model)
        if extra is not None:
            loss = loss + extra
        opt.zero_grad()
        loss.backward()
        opt.step()
    return 1e3 * (time.perf_counter() - t0) / steps


class TimingLock:
    """benchmarks.common.timing_lock on LOCK for a timing section; `waited` says how long."""

    def __enter__(self):
        from benchmarks.common import timing_lock

        t0 = time.perf_counter()
        print(f"[lipholo] waiting for {LOCK} ...", flush=True)
        self._lock = timing_lock(LOCK)
        self._lock.__enter__()
        self.waited = time.perf_counter() - t0
        print(f"[lipholo] lock held (waited {self.waited:.1f}s)", flush=True)
        return self

    def __exit__(self, *exc):
        return self._lock.__exit__(*exc)


def timing(part: str, cfg: argparse.Namespace) -> dict:
    """ms per training step, all models of each shape interleaved in rounds; median."""
    groups = []
    if part in ("all", "lipschitz"):
        groups += [(f"{dx}->{dy}", dx, dy, LIP_HALF, lipschitz_models(dx, dy))
                   for dx, dy in LIP_SHAPES]
    if part in ("all", "cauchy_riemann"):
        groups.append(("2->2 (C)", 2, 2, CR_HALF, cr_models("mobius")))
    out = {}
    with TimingLock() as lock:
        out["lock_wait_s"] = round(lock.waited, 1)
        out["load_start"] = loadavg()
        for key, d_x, d_y, half, makers in groups:
            gen = torch.Generator().manual_seed(7)
            x = box(cfg.batch, d_x, half, gen).float()
            y = torch.randn(cfg.batch, d_y, generator=gen, dtype=torch.float64).float()
            models = {}
            for name, make in makers.items():
                torch.manual_seed(0)
                models[name] = make()
                prepare(models[name], box(cfg.n_train, d_x, half, gen).float(), y)
            times: dict[str, list[float]] = {name: [] for name in models}
            for _ in range(cfg.rounds):
                for name, model in models.items():
                    times[name].append(step_ms(model, x, y, cfg.steps))
            med = {name: statistics.median(t) for name, t in times.items()}
            ref = med["jacnet_none"]
            out[key] = {name: {"ms": round(t, 4), "ratio": round(t / ref, 3),
                               "rounds_ms": [round(v, 4) for v in times[name]]}
                        for name, t in med.items()}
            print(f"[lipholo] timing {key}: " + ", ".join(
                f"{n} {v['ms']:.3f} ms ({v['ratio']:.2f}x)" for n, v in out[key].items()),
                flush=True)
        out["load_end"] = loadavg()
    return out


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict:
    """benchmarks.common.machine() plus deel-torchlip's version."""
    from importlib.metadata import PackageNotFoundError, version

    from benchmarks.common import machine as base

    try:
        torchlip = version("deel-torchlip")
    except PackageNotFoundError:
        torchlip = "?"
    return {**base(), "deel_torchlip": torchlip}


def mean_sd(values: list[float]) -> tuple[float, float]:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return float("nan"), float("nan")
    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)


def summarise(rows: list[dict], times: dict | None) -> dict:
    """Per (task, model): mean ± sd over seeds, worst guarantee measurement; the targets."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["part"], r["task"], r["model"]), []).append(r)
    table = []
    for (part, task, model), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        m, s = mean_sd([r["test_db"] for r in rs])
        entry = {"part": part, "task": task, "model": model, "params": rs[0]["params"],
                 "seeds": [r["seed"] for r in rs], "lrs": [r["lr"] for r in rs],
                 "test_db": [r["test_db"] for r in rs], "test_db_mean": m, "test_db_sd": s,
                 "diverged_lr_runs": sum(1 for r in rs for t in r["trials"]
                                         if not math.isfinite(t["val_db"]))}
        for key in ("maxD_data", "maxD_3x", "cr_data_max", "cr_3x_max", "bound",
                    "bound_float64", "min_abs_yhat_prime_grid", "min_abs_g_grid", "shift"):
            vals = [r[key] for r in rs if key in r and r[key] is not None]
            if vals:
                entry[key] = max(vals)
        for key in ("certified_min_modulus", "min_sv_data", "finite_data", "finite_3x"):
            vals = [r[key] for r in rs if key in r]
            if vals:
                entry[key] = min(vals)
        shape = task.split()[-1] if part == "lipschitz" else "2->2 (C)"
        if times and shape in times and model in times[shape]:
            entry["step_ms"] = times[shape][model]["ms"]
            entry["step_ratio"] = times[shape][model]["ratio"]
        table.append(entry)
    by = {(e["part"], e["task"], e["model"]): e for e in table}
    seeds_of = {(r["part"], r["task"], r["model"], r["seed"]): r["test_db"] for r in rows}

    def paired(part, task, a, b):
        """(mean, sd) over seeds of test dB(a) - test dB(b) (negative: a better)."""
        diffs = [seeds_of[(part, task, a, s)] - seeds_of[(part, task, b, s)]
                 for s in by[(part, task, a)]["seeds"] if (part, task, b, s) in seeds_of]
        return mean_sd(diffs)

    targets: dict = {"lipschitz": [], "cauchy_riemann": [], "step_time": []}
    for (part, task, model), e in by.items():
        if part == "lipschitz" and model == "lipschitz":
            peers = {}
            for p in LIPSCHITZ_PEERS:
                if (part, task, p) in by:
                    pe = by[(part, task, p)]
                    held = max(pe.get("maxD_data", math.inf), pe.get("maxD_3x", math.inf)) \
                        <= K * (1 + 1e-4)
                    peers[p] = {"diff_db": paired(part, task, model, p), "lipschitz_held": held}
            held_peers = {p: v for p, v in peers.items() if v["lipschitz_held"]}
            best = min(held_peers, key=lambda p: by[(part, task, p)]["test_db_mean"]) \
                if held_peers else None
            diff = held_peers[best]["diff_db"][0] if best else float("nan")
            targets["lipschitz"].append({
                "task": task, "best_lipschitz_peer": best, "diff_db_vs_best": diff,
                "diff_sd": held_peers[best]["diff_db"][1] if best else float("nan"),
                "within_2db": diff <= 2.0, "ahead": diff < 0, "peers": peers,
                "own_guarantee_held": max(e.get("maxD_data", math.inf),
                                          e.get("maxD_3x", math.inf)) <= K * (1 + 1e-6)})
        if part == "cauchy_riemann" and model == "cauchy_riemann":
            diff = paired(part, task, model, "jacnet_none")
            targets["cauchy_riemann"].append({
                "task": task, "diff_db_vs_jacnet_none": diff[0], "diff_sd": diff[1],
                "hit_10db": diff[0] <= -10.0,
                "worst_seed_diff": max(seeds_of[(part, task, model, s)]
                                       - seeds_of[(part, task, "jacnet_none", s)]
                                       for s in e["seeds"]),
                "cr_max": max(e.get("cr_data_max", math.inf), e.get("cr_3x_max", math.inf)),
                "cr_rounding": max(e.get("cr_data_max", math.inf),
                                   e.get("cr_3x_max", math.inf)) <= CR_ROUNDING})
    if times:
        for shape, vals in times.items():
            if not isinstance(vals, dict):
                continue
            for model in ("lipschitz", "cauchy_riemann", "cauchy_riemann_m"):
                if model in vals:
                    targets["step_time"].append({"shape": shape, "model": model,
                                                 "ratio": vals[model]["ratio"],
                                                 "hit_3x": vals[model]["ratio"] <= 3.0})
    lt = targets["lipschitz"]
    targets["lipschitz_all_within_2db"] = bool(lt) and all(t["within_2db"] for t in lt)
    targets["lipschitz_ahead_count"] = f"{sum(t['ahead'] for t in lt)}/{len(lt)}"
    targets["lipschitz_ahead_on_most"] = bool(lt) and sum(t["ahead"] for t in lt) > len(lt) / 2
    ct = targets["cauchy_riemann"]
    targets["cauchy_riemann_all_10db"] = bool(ct) and all(t["hit_10db"] for t in ct)
    st = targets["step_time"]
    targets["step_time_all_3x"] = bool(st) and all(t["hit_3x"] for t in st)
    return {"table": table, "targets": targets}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

LABELS = {
    "lipschitz": "**jacnet lipschitz** (owned LipschitzNet)",
    "torchlip": "deel-torchlip (Spectral+GroupSort2)",
    "mlp": "MLP (GELU)",
    "lipschitz_paper": "jacnet lipschitz, paper form",
    "jacnet_none": "jacnet unconstrained",
    "cauchy_riemann": "**jacnet cauchy_riemann** (owned HolomorphicNet)",
    "cauchy_riemann_paper": "jacnet cauchy_riemann, paper form",
    "split_complex": "split-activation complex net",
    "cauchy_riemann_m": "jacnet cauchy_riemann min_modulus=0.2",
}


def _f(v, fmt="{:.2f}") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return fmt.format(v)


def _shown(path: str) -> str:
    """A results path as the report names it: relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(HERE.parents[1]))
    except ValueError:
        return str(path)


def _e(v) -> str:
    return _f(v, "{:.1e}") if v != 0.0 else "0"


def _mark(ok: bool) -> str:
    return "✔" if ok else "✘"


def report(result: dict, notes: str = "") -> str:
    cfg, table, tg = result["config"], result["summary"]["table"], result["summary"]["targets"]
    times = result.get("timing") or {}
    lines = [
        "# lipholo — n-D `lipschitz` and `cauchy_riemann` by construction, against their peers",
        "",
        "Issue 17 §4. Generated by `python -m benchmarks.lipholo.run` "
        f"(raw numbers: `{_shown(result['json'])}`). Everything on this "
        "machine's CPU, float32 training, one thread.",
        "",
        "## Protocol",
        "",
        f"- Per task and seed ({len(cfg['seeds'])} seeds: {cfg['seeds']}"
        + (f"; the d_x = {LARGE_DX} lipschitz tasks {len(cfg['seeds_large'])} seeds: "
           f"{cfg['seeds_large']}, a cut for the time budget"
           if cfg.get("seeds_large", cfg["seeds"]) != cfg["seeds"] else "")
        + f"): {cfg['n_train']} "
        f"training, {cfg['n_val']} validation and {cfg['n_test']} test points uniform in the "
        "data box, from a generator seeded by the seed — the same points for every model of "
        "that seed. Lipschitz tasks: `OrthoRidge(d_x, d_y, profile, k=1, omega=2, seed=0)` on "
        "[-1, 1]^d (k-Lipschitz, constant attained). Holomorphic tasks: `CubicSin`, `Mobius`, "
        "`ComplexExp`, `ComplexSquare`, all on [-1.5, 1.5]².",
        f"- Training: MSE (‖ŷ − y‖², mean over the batch), Adam, cosine-decayed learning rate, "
        f"batch {cfg['batch']}, {cfg['epochs']} epochs "
        f"({cfg['epochs'] * math.ceil(cfg['n_train'] / cfg['batch'])} steps), float32, "
        "model in `train()` mode; initial weights from `torch.manual_seed(seed)`. A "
        "structure's own loss term (`Structure.penalty`: the min_modulus margin) is added "
        "as `jacnet train` adds it, and the certificate box is set from the training inputs "
        "(`Structure.fit_data`).",
        f"- Model selection: every learning rate of the grid (lipschitz tasks "
        f"{cfg['lrs']['lipschitz']}, holomorphic tasks {cfg['lrs']['cauchy_riemann']}) is "
        "trained; the one with the best **validation** dB (eval mode) is kept, per seed; "
        "diverged runs are dropped. While the validation winner sits on the edge of every "
        f"rate tried, the next rate past that edge (×3 above, /3 below) is trained too, at most "
        f"{MAX_EDGE_STEPS} past the grid (the `lr` columns show the rates kept). Only the kept "
        "model is evaluated on the test set, once.",
        "- Test dB = 10 log10 mean_n ‖ŷ_n − y_n‖² (eval mode). Tables give mean ± sd over "
        "seeds; differences are paired per seed (same data), mean ± sd.",
        f"- Guarantees, measured: a float64 copy of the final model (deel-torchlip: its "
        f"`vanilla_export()`), eval mode, D = dŷ/dx by autograd "
        f"(`jacnet_cli.core.evaluation.derivative`) on {cfg['n_probe']} points uniform in the "
        f"data box and {cfg['n_probe']} in the 3× box. max ‖D‖₂ is the max over points and "
        "seeds; CR = max(|D00 − D11|, |D01 + D10|)/‖D‖_F, max over points and seeds. "
        "`bound` = `LipschitzNet.lipschitz_bound()` (k Π‖W_i‖₂ from the float32 weights "
        "as trained; for deel-torchlip Π‖W_i‖₂ of its exported normalised weights).",
        f"- Step time: all models of a shape built in one process, 1 thread, forward + "
        f"backward + Adam step on a batch of {cfg['batch']} (train mode, penalty included), "
        f"{cfg['steps']} steps per round after 3 warm-up steps, {cfg['rounds']} interleaved "
        "rounds, median; ratio to the unconstrained JacNet at equal parameters (1 hidden layer "
        "of GELU units, 32-node Gauss–Legendre line integral, jacnet's default). Timed under an "
        "exclusive flock on the shared timing lock (no other timing overlapped).",
        "- Equal parameters (trainable reals; a complex parameter counts 2; the learned anchor "
        "value y0 of every JacNet included): lipschitz, deel-torchlip and the MLP share the "
        "layout d_x → 64 → 64 → d_y; the paper form and the unconstrained JacNet have one "
        "hidden layer sized to the same budget. Holomorphic part: 75 complex units (456) vs "
        "JacNet hidden 64 (454), paper form hidden 90 (454), MLP hidden 90 (452), split "
        "complex 75 units (452).",
        "",
        "## Machine",
        "",
        "```",
        json.dumps(result["machine"]),
        f"accuracy runs: {sum(r.get('seconds', 0) for r in result['rows']):.0f} s summed over "
        f"the {len(result['rows'])} (task, model, seed) runs (cached, made over several "
        f"invocations on a shared 2-core machine); this invocation "
        f"{result.get('accuracy_seconds', 0):.0f} s wall, load average at start "
        f"{result.get('load_start')}, end {result.get('load_end')}",
        f"timing: lock wait {times.get('lock_wait_s')} s, load {times.get('load_start')} -> "
        f"{times.get('load_end')}",
        "```",
        "",
    ]
    # Part 1
    lines += ["## 1. `lipschitz` (k = 1) vs Lipschitz peers, MLP, paper form", "",
              markdown_table(
                  ["task", "model", "params", "lr (per seed)", "test dB", "max‖D‖₂ data",
                   "max‖D‖₂ 3×", "bound", "step ms", "step ratio"],
                  ([e["task"], LABELS.get(e["model"], e["model"]), e["params"],
                    ",".join(_f(v, "{:g}") for v in e["lrs"]),
                    f"{_f(e['test_db_mean'])} ± {_f(e['test_db_sd'])}",
                    _f(e.get("maxD_data"), "{:.4f}"), _f(e.get("maxD_3x"), "{:.4f}"),
                    _f(e.get("bound"), "{:.7f}"), _f(e.get("step_ms"), "{:.3f}"),
                    _f(e.get("step_ratio"))] for e in table if e["part"] == "lipschitz"))]
    rows = []
    for t in tg["lipschitz"]:
        p = t["peers"]
        tl_ = p.get("torchlip", {}).get("diff_db", (math.nan, math.nan))
        pp = p.get("lipschitz_paper", {}).get("diff_db", (math.nan, math.nan))
        rows.append([t["task"], f"{_f(tl_[0], '{:+.2f}')} ± {_f(tl_[1])}",
                     f"{_f(pp[0], '{:+.2f}')} ± {_f(pp[1])}",
                     "yes" if p.get("lipschitz_paper", {}).get("lipschitz_held") else "no",
                     t["best_lipschitz_peer"], _mark(t["within_2db"]), _mark(t["ahead"]),
                     _mark(t["own_guarantee_held"])])
    lines += ["", "Against the target (within 2 dB of the best Lipschitz peer — a peer whose "
              "measured max‖D‖₂ ≤ k (1 + 1e-4) on both boxes — and ahead on most; difference "
              "= jacnet − peer, paired over seeds, negative = jacnet better):", "",
              markdown_table(["task", "vs deel-torchlip (dB)", "vs paper form (dB)",
                              "paper form 1-Lipschitz?", "best Lipschitz peer", "within 2 dB",
                              "ahead", "jacnet ‖D‖₂ ≤ k"], rows)]
    # Part 2
    lines += ["", "## 2. `cauchy_riemann` vs unconstrained JacNet, paper form, MLP, split complex",
              "", markdown_table(
                  ["target", "model", "params", "lr (per seed)", "test dB", "CR max data",
                   "CR max 3×", "step ms", "step ratio"],
                  ([e["task"], LABELS.get(e["model"], e["model"]), e["params"],
                    ",".join(_f(v, "{:g}") for v in e["lrs"]),
                    f"{_f(e['test_db_mean'])} ± {_f(e['test_db_sd'])}", _e(e.get("cr_data_max")),
                    _e(e.get("cr_3x_max")), _f(e.get("step_ms"), "{:.3f}"),
                    _f(e.get("step_ratio"))]
                   for e in table if e["part"] == "cauchy_riemann"
                   and e["model"] != "cauchy_riemann_m"))]
    rows = []
    for e in (e for e in table if e["model"] == "cauchy_riemann_m"):
        plain = next((p for p in table if p["part"] == "cauchy_riemann"
                      and p["task"] == e["task"] and p["model"] == "cauchy_riemann"), {})
        rows.append([e["task"], e["params"], ",".join(_f(v, "{:g}") for v in e["lrs"]),
                     f"{_f(e['test_db_mean'])} ± {_f(e['test_db_sd'])}",
                     f"{_f(plain.get('test_db_mean'))} ± {_f(plain.get('test_db_sd'))}",
                     _f(e.get("min_abs_yhat_prime_grid"), "{:.4f}"),
                     _f(e.get("min_abs_g_grid"), "{:.4f}"),
                     _f(e.get("certified_min_modulus"), "{:.4f}"), _f(e.get("shift"), "{:.3g}"),
                     f"{_e(e.get('cr_data_max'))} / {_e(e.get('cr_3x_max'))}",
                     _f(e.get("step_ratio"))])
    lines += ["", f"min_modulus = {MIN_MODULUS} (g = exp(h), 8-node Gauss–Legendre, certificate "
              "on the training inputs' box; measured min |ŷ'| = min sqrt|det D| on a 201² grid of "
              "that box, boundary included; min over seeds):", "",
              markdown_table(["target", "params", "lr", "test dB", "plain cauchy_riemann test dB",
                              "min \\|ŷ'\\| measured", "min \\|g\\| measured",
                              "certified_min_modulus()", "eval shift (max)", "CR max data / 3×",
                              "step ratio"], rows)]
    lines += ["", "Against the target (≥ 10 dB better than the unconstrained JacNet; paired "
              "difference, negative = cauchy_riemann better):", "",
              markdown_table(
                  ["target", "cauchy_riemann − jacnet_none (dB)", "worst seed", "≥ 10 dB",
                   "CR max (both boxes)", f"CR ≤ {CR_ROUNDING:g}"],
                  ([t["task"], f"{_f(t['diff_db_vs_jacnet_none'], '{:+.2f}')} ± "
                    f"{_f(t['diff_sd'])}", _f(t["worst_seed_diff"], "{:+.2f}"),
                    _mark(t["hit_10db"]), _e(t["cr_max"]), _mark(t["cr_rounding"])]
                   for t in tg["cauchy_riemann"]))]
    # Step time
    lines += ["", "## 3. Step time (ratio to the unconstrained JacNet at equal parameters)", "",
              markdown_table(["shape", "model", "ms/step", "ratio", "≤ 3×"],
                             ([t["shape"], t["model"],
                               f"{times[t['shape']][t['model']]['ms']:.3f}", f"{t['ratio']:.2f}",
                               _mark(t["hit_3x"])] for t in tg["step_time"]))]
    lines += ["", "All models (ms/step, ratio):", ""]
    for shape, vals in times.items():
        if isinstance(vals, dict):
            lines.append(f"- {shape}: " + ", ".join(
                f"{m} {v['ms']:.3f} ({v['ratio']:.2f}×)" for m, v in vals.items()))
    # Hits / misses
    lt = tg["lipschitz"]
    lines += ["", "## Hits and misses", "",
              f"- lipschitz within 2 dB of the best Lipschitz peer on every task: "
              f"{'**hit**' if tg['lipschitz_all_within_2db'] else '**miss**'} "
              f"({sum(t['within_2db'] for t in lt)}/{len(lt)} tasks).",
              f"- lipschitz ahead of the best Lipschitz peer on most tasks: "
              f"{'**hit**' if tg['lipschitz_ahead_on_most'] else '**miss**'} "
              f"(ahead on {tg['lipschitz_ahead_count']}).",
              f"- cauchy_riemann ≥ 10 dB better than the unconstrained JacNet on every "
              f"holomorphic target: {'**hit**' if tg['cauchy_riemann_all_10db'] else '**miss**'} "
              f"({sum(t['hit_10db'] for t in tg['cauchy_riemann'])}/{len(tg['cauchy_riemann'])}).",
              f"- training step ≤ 3× an unconstrained JacNet step: "
              f"{'**hit**' if tg['step_time_all_3x'] else '**miss**'} "
              f"({sum(t['hit_3x'] for t in tg['step_time'])}/{len(tg['step_time'])} shapes/models)."]
    not_run = result.get("not_run") or []
    if not_run:
        lines += ["", f"Not run ({len(not_run)} (task, model, seed) left out for the time "
                  "budget): " + "; ".join(f"{t} {m} seed {sd}" for t, m, sd in not_run) + "."]
    if notes:
        lines += ["", notes.strip()]
    return "\n".join(lines) + "\n"


NOTES_FILE = HERE / "notes.md"  # hand-written findings appended to the report


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def config(args: argparse.Namespace) -> argparse.Namespace:
    cfg = argparse.Namespace(
        seeds=list(range(args.seeds)), n_train=3000, n_val=1000, n_test=2000, n_probe=10000,
        batch=100, epochs=40, rounds=7, steps=30,
        lrs={"lipschitz": [1e-2, 3e-2, 1e-1], "cauchy_riemann": [1e-2, 3e-2, 1e-1]})
    if args.quick:
        cfg.seeds, cfg.n_train, cfg.n_val, cfg.n_test, cfg.n_probe = [0], 400, 200, 200, 500
        cfg.epochs, cfg.rounds, cfg.steps = 2, 2, 5
        cfg.lrs = {"lipschitz": [1e-2, 3e-2], "cauchy_riemann": [3e-2]}
    if args.epochs is not None:
        cfg.epochs = args.epochs
    cfg.seeds_large = (cfg.seeds[:args.seeds_large]
                       if args.seeds_large is not None and not args.quick else cfg.seeds)
    return cfg


LARGE_DX = 32  # the lipschitz tasks whose seeds --seeds-large may cut


def seeds_of_task(cfg: argparse.Namespace, task: dict) -> list[int]:
    return cfg.seeds_large if task["d_x"] >= LARGE_DX else cfg.seeds


def cache_key(cfg: argparse.Namespace, task: dict, model: str, seed: int) -> str:
    spec = json.dumps([task["task"], model, seed, cfg.n_train, cfg.n_val, cfg.n_test,
                       cfg.n_probe, cfg.batch, cfg.epochs, cfg.lrs[task["part"]]])
    return hashlib.sha1(spec.encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.lipholo.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 2 epochs, small "
                    "sets; writes to $JACNET_BENCH_DIR/lipholo_quick.{json,md}")
    ap.add_argument("--part", choices=["all", "lipschitz", "cauchy_riemann"], default="all")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seeds-large", type=int, default=None, help="seeds for the lipschitz "
                    f"tasks with d_x >= {LARGE_DX} only (a time cut; default: --seeds)")
    ap.add_argument("--cache-only", action="store_true", help="train nothing: use the cached "
                    "runs and list the (task, model, seed) that are not cached as not run")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--models", default="", help="comma-separated subset of model names")
    ap.add_argument("--no-timing", action="store_true", help="skip the locked timing section")
    ap.add_argument("--timing-only", action="store_true", help="only (re)time; keep the "
                    "accuracy rows of the existing JSON")
    ap.add_argument("--report", action="store_true", help="only rebuild the Markdown report")
    ap.add_argument("--out", default="", help="JSON path (default benchmarks/lipholo/results.json)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = config(args)
    out = Path(args.out) if args.out else (
        SCRATCH / "lipholo_quick.json" if args.quick else HERE / "results.json")
    md = out.with_suffix(".md") if args.quick or args.out else HERE / "RESULTS.md"
    stem = "lipholo" if out == HERE / "results.json" else out.stem
    cache = None if args.quick else CACHE_DIR / (stem + "_rows.jsonl")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
    notes = NOTES_FILE.read_text() if NOTES_FILE.exists() and not args.quick else ""

    if args.report:
        result = json.loads(out.read_text())
        result["json"] = str(out)
        md.write_text(report(result, notes))
        print(f"[lipholo] wrote {md}")
        return

    if args.timing_only:
        result = json.loads(out.read_text())
        result["timing"] = timing(args.part, cfg)
        result["summary"] = summarise(result["rows"], result["timing"])
    else:
        def cached() -> dict[str, dict]:
            """The cache as it is now (another invocation, e.g. `--part cauchy_riemann` in a
            second process, may be adding to it)."""
            done: dict[str, dict] = {}
            if cache is not None and cache.exists():
                for line in cache.read_text().splitlines():
                    if line.strip():
                        rec = json.loads(line)
                        done[rec["key"]] = rec["row"]
            return done

        wanted = [m for m in args.models.split(",") if m]
        rows, start, load_start = [], time.perf_counter(), loadavg()
        not_run = []
        for task in tasks(args.part):
            for seed in seeds_of_task(cfg, task):
                d = None
                for name, make in task["models"]().items():
                    if wanted and name not in wanted:
                        continue
                    key = cache_key(cfg, task, name, seed)
                    done = cached()
                    grid = cfg.lrs[task["part"]]
                    if key in done and edge_lr(done[key], grid) is None:
                        rows.append(done[key])
                        continue
                    if args.cache_only:
                        not_run.append([task["task"], name, seed])
                        continue
                    d = d if d is not None else data(task, seed, cfg)
                    if key in done:  # cached before the edge rule: add the edge step only
                        t0 = time.perf_counter()
                        row = extend(done[key], task, make, d, cfg)
                        row["seconds"] = round(row.get("seconds", 0)
                                               + time.perf_counter() - t0, 1)
                        rows.append(row)
                        print(f"[lipholo] {task['task']:<20} {name:<22} seed {seed}: edge "
                              f"steps {row['edge_lrs']} -> lr {row['lr']} test "
                              f"{row['test_db']:.2f} dB", flush=True)
                        with cache.open("a") as f:
                            f.write(json.dumps({"key": key, "row": row}) + "\n")
                        continue
                    t0 = time.perf_counter()
                    row = run_one(task, name, make, seed, d, cfg)
                    row["seconds"] = round(time.perf_counter() - t0, 1)
                    rows.append(row)
                    print(f"[lipholo] {task['task']:<20} {name:<22} seed {seed}: lr "
                          f"{row['lr']} test {row['test_db']:.2f} dB "
                          f"({row['seconds']:.0f}s)", flush=True)
                    if cache is not None:
                        with cache.open("a") as f:
                            f.write(json.dumps({"key": key, "row": row}) + "\n")
        result = {"config": {k: v for k, v in vars(cfg).items()}, "machine": machine(),
                  "accuracy_seconds": round(time.perf_counter() - start, 1),
                  "load_start": load_start, "load_end": loadavg(), "rows": rows,
                  "not_run": not_run, "json": str(out)}
        result["timing"] = None if args.no_timing else timing(args.part, cfg)
        result["summary"] = summarise(rows, result["timing"])
    out.write_text(json.dumps(result, indent=1, default=float))
    md.write_text(report(result, notes))
    print(f"[lipholo] wrote {out} and {md}")


if __name__ == "__main__":
    main()
