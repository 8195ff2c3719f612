"""Issue 16: the n-D `invertible` structure against coupling flows and jacnet's other structures.

    python -m benchmarks.invertible.run            # full run (about 40 min CPU)
    python -m benchmarks.invertible.run --quick    # smoke run (about 2 min)
    python -m benchmarks.invertible.run --report   # rewrite RESULTS.md's tables

One harness, one process, one thread, float64 everywhere (jacnet's default dtype). Sections:

1. fit: regression of `RotatedTanh(d)` and `RotatedCubic(d)` (target seed 0) at d = 2, 8, 32 by
   jacnet `invertible`, zuko's NSF (spline coupling, `passes=2`) and RealNVP (affine coupling),
   FrEIA's `AllInOneBlock` stack (affine coupling, SO(d) soft permutations, ActNorm), all used as
   plain maps x -> y trained by MSE, at equal parameter counts (±5 % of `invertible`'s), plus
   unconstrained JacNet (`none`), `monotone`, `pd` (conservative, the n-D default) and `pd`'s
   paper form (`conservative=False`) and a tanh MLP as references. Test dB
   = 10 log10 mean_points ‖ŷ − y‖² (jacnet's test_mse_db); the signal (predicting the mean)
   is 10 log10 mean ‖y − ȳ‖².
2. guarantees: on 10,000 points uniform in [-3, 3]^d (3x the data's box), min over points of
   sign · |det D|^(1/d) with D = dŷ/dx by autograd through the model as evaluated (sign: the
   model's orientation, +1 for the others, whose targets have det > 0), and the round trip
   max |x − ŷ⁻¹(ŷ(x))| of every model that has an inverse (jacnet's `solve`, flows' own).
3. inverse cost: time of ŷ⁻¹ on 10,000 points against ŷ on the same points (trained seed-0
   models, interleaved, median of rounds, under the timing lock).
4. pd: conservative (convex potential, by construction) against the paper's A Aᵀ + εI MLP form
   on `MonotoneSinh(d)` (a monotone gradient map), with `invertible` and `none` beside them:
   test dB and the measured λ_min(sym D) on the 3x box (ε = 1e-4 is the bound).

Protocol (every model, every task): the same data per seed (`make_dataset`, 3000 train, 600
validation, 2000 test points uniform in [-1, 1]^d), Adam (betas 0.9, 0.99) with a one-cycle
schedule (torch's OneCycleLR, peak = lr) over EPOCHS epochs of shuffled batches of 100, MSE;
validation MSE after every epoch, the best epoch's weights restored. The peak lr is chosen per
(task, model) from LRS on seed 0's validation MSE; seeds 1 and 2 then train at that lr; the
test set is evaluated once per reported run (never during selection). Mean ± sd over seeds.
Training-step time: fresh models, one batch of 100, each model timed in blocks interleaved
with the others, median over rounds, ratio to `none` measured in the same rounds.

Every timing measurement holds an exclusive flock on /work/bench/timing.lock.
Resumable: each run's result and weights are cached under /work/bench/invertible_cache/.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

from jacnet_cli import (DataSpec, FixedAnchor, GaussLegendre, Invertible, JacNet, MLPRegressor,
                        Monotone, PositiveDefinite, Unconstrained, derivative, get_target,
                        make_dataset, solve)
from jacnet_cli.core.structures.invertible import signed_det_root  # det D's sign-aware root
from jacnet_cli.plots.tables import markdown_table

HERE = Path(__file__).resolve().parent
BENCH = Path("/work/bench")
LOCK = BENCH / "timing.lock"
DTYPE = torch.float64

DIMS = (2, 8, 32)
INV_HIDDEN = {2: 8, 8: 16, 32: 32}  # invertible's conditioner width: sets the parameter budget
TOLERANCE = 0.05  # every model within ±5 % of invertible's parameter count
EPOCHS = 60
BATCH = 100
# Peak learning rates tried per d (chosen on seed 0's validation; RESULTS.md says why these).
LRS = {2: (1e-2, 3e-2, 1e-1), 8: (1e-2, 3e-2), 32: (1e-2, 3e-2)}
SEEDS = {2: (0, 1, 2), 8: (0, 1, 2), 32: (0, 1)}  # fewer at d = 32: the time budget
GL_NODES = 8  # Gauss–Legendre nodes of the integrated (non-exact) JacNets
BOX = 3.0  # guarantee box [-3, 3]^d: 3x the data's [-1, 1]^d
N_BOX = 10_000
DATA = dict(n_train=3000, n_val=600, n_test=2000, train_range=(-1.0, 1.0),
            test_range=(-1.0, 1.0))

FIT_TARGETS = ("rotated_tanh", "rotated_cubic")
FIT_MODELS = ("invertible", "zuko_nsf", "zuko_realnvp", "zuko_realnvp_rot", "freia", "none",
              "monotone", "pd", "pd_paper", "mlp")
SKIP = {("rotated_cubic", 32): ("pd_paper",)}  # slow, and already failing at d = 8
EXTRA = {"rotated_tanh": ("invertible_noinit",)}  # ablation: no least-squares start
PD_MODELS = ("pd", "pd_paper", "invertible")
SLOW_INVERSE = {"pd_paper": 1000}  # Newton with autograd Jacobians: round trip on fewer points
CHUNK = 2500  # points per call in the guarantee and inverse sections
LABELS = {
    "invertible": "jacnet invertible", "zuko_nsf": "zuko NSF (coupling)",
    "invertible_substitution": "jacnet invertible (substitution only)",
    "invertible_noinit": "jacnet invertible, no data init",
    "zuko_realnvp": "zuko RealNVP", "zuko_nsf_rot": "zuko NSF + rotations",
    "zuko_realnvp_rot": "zuko RealNVP + rotations", "freia": "FrEIA AllInOne",
    "none": "jacnet none",
    "monotone": "jacnet monotone", "pd": "jacnet pd (conservative)",
    "pd_paper": "jacnet pd (paper form)", "mlp": "MLP (tanh)",
}
ALIASES = {"pd": "monotone"}  # pd(conservative) builds monotone's network bit for bit (checked)


# --------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def timing_lock() -> Iterator[None]:
    """benchmarks.common.timing_lock on LOCK, saying how long it waited."""
    from benchmarks.common import timing_lock as lock

    start = time.perf_counter()
    with lock(LOCK):
        waited = time.perf_counter() - start
        if waited > 1:
            print(f"[bench] waited {waited:.1f}s for the timing lock", flush=True)
        yield


def db(value: float) -> float:
    return 10 * math.log10(max(value, 1e-300))


def target_of(name: str, d: int):
    """rotated_tanh, rotated_cubic or monotone_sinh at dimension d, target seed 0."""
    return get_target(name, dim=d, seed=0)


def effective_parameters(module: nn.Module) -> int:
    """Trainable numbers that are not masked out (zuko's MaskedLinear, jacnet's triangular)."""
    count = getattr(getattr(module, "net", None), "count_parameters", None)
    if count is not None:  # InvertibleNet: its own masked count, plus the anchor
        return count() + sum(p.numel() for n, p in module.named_parameters()
                             if p.requires_grad and not n.startswith("net."))
    total = 0
    for mod in module.modules():
        rotation = type(mod).__name__ == "UnconditionalTransform" and \
            getattr(getattr(mod, "f", None), "__name__", "") == "RotationTransform"
        for name, p in mod.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if rotation and p.ndim == 2 and p.shape[0] == p.shape[1]:
                total += p.shape[0] * (p.shape[0] - 1) // 2  # only A − Aᵀ matters
                continue
            mask = getattr(mod, "mask", None)
            if name == "weight" and isinstance(mask, Tensor) and mask.shape == p.shape:
                total += int(mask.sum())
            else:
                total += p.numel()
    return total


def in_chunks(fn: Callable[[Tensor], Tensor], x: Tensor, size: int) -> Tensor:
    return torch.cat([fn(part) for part in x.split(size)])


# --------------------------------------------------------------------------- models

@dataclass
class Model:
    """A trained or fresh model behind one interface: f(x), inverse(y), params."""

    key: str
    module: nn.Module
    settings: dict[str, Any]
    sign: int = 1  # orientation: the sign det D must have

    def __call__(self, x: Tensor) -> Tensor:
        kind = self.settings["family"]
        if kind == "zuko":
            return self.module.transform()(x)
        if kind == "freia":
            return self.module(x, jac=False)[0]
        return self.module(x)

    @property
    def params(self) -> int:
        return effective_parameters(self.module)

    @property
    def has_inverse(self) -> bool:
        return self.settings["family"] in ("zuko", "freia") or getattr(self.module, "invertible",
                                                                        False)

    @torch.no_grad()
    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """(x, converged): the model's own inverse (jacnet: `inverse.solve`, method auto),
        CHUNK points per call."""
        parts = [self._inverse(part) for part in y.split(CHUNK)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    @torch.no_grad()
    def forward_chunked(self, x: Tensor) -> Tensor:
        return torch.cat([self(part) for part in x.split(CHUNK)])

    def _inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        kind = self.settings["family"]
        if kind == "zuko":
            x = self.module.transform().inv(y)
            return x, torch.isfinite(x).all(-1)
        if kind == "freia":
            x = self.module(y, rev=True, jac=False)[0]
            return x, torch.isfinite(x).all(-1)
        result = solve(self.module, y)
        return result.x, result.converged


def _anchor(d: int, target) -> FixedAnchor:
    """`jacnet train`'s default anchor (anchor=refined): x0 = 0, y0 = y(0) trained at rate 0.1."""
    return FixedAnchor(d, d, 0.0, "target", target=target, trainable=True, rate=0.1)


def build(key: str, d: int, width: int, variant: int, target, seed: int) -> Model:
    """Model `key` at dimension d with width `width` (and `variant`: flows' transforms), seeded."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    if key in ("invertible", "invertible_noinit"):
        structure = Invertible()
        module = JacNet(d, d, structure, hidden=width, anchor=_anchor(d, target))
        return Model(key, module, {"family": "jacnet", "hidden": width, "blocks": 4, "units": 4,
                                   "data_init": key == "invertible"})
    if key in ("none", "pd_paper"):
        structure = Unconstrained() if key == "none" else PositiveDefinite(1e-4, conservative=False)
        module = JacNet(d, d, structure, hidden=width, anchor=_anchor(d, target),
                        solver=GaussLegendre(GL_NODES))
        return Model(key, module, {"family": "jacnet", "hidden": width, "nodes": GL_NODES})
    if key in ("monotone", "pd"):
        structure = Monotone(1e-4) if key == "monotone" else PositiveDefinite(1e-4)
        module = JacNet(d, d, structure, hidden=width, anchor=_anchor(d, target))
        return Model(key, module, {"family": "jacnet", "hidden": width})
    if key == "mlp":
        return Model(key, MLPRegressor(d, d, hidden=width),
                     {"family": "mlp", "hidden": width, "nonlinearity": "tanh"})
    if key in ("zuko_nsf", "zuko_realnvp"):
        import zuko

        if key == "zuko_nsf":
            module = zuko.flows.NSF(d, transforms=variant, passes=2, hidden_features=(width, width))
        else:
            module = zuko.flows.RealNVP(d, transforms=variant, hidden_features=(width, width))
        return Model(key, module, {"family": "zuko", "hidden": [width, width],
                                   "transforms": variant})
    if key in ("zuko_nsf_rot", "zuko_realnvp_rot"):
        return Model(key, glow_like(key, d, width, variant),
                     {"family": "zuko", "hidden": [width, width], "transforms": variant,
                      "rotations": variant + 1})
    if key == "freia":
        import FrEIA.framework as Ff
        import FrEIA.modules as Fm

        def subnet(n_in: int, n_out: int) -> nn.Module:
            return nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, width),
                                 nn.ReLU(), nn.Linear(width, n_out))

        module = Ff.SequenceINN(d)
        for _ in range(variant):
            module.append(Fm.AllInOneBlock, subnet_constructor=subnet, permute_soft=True)
        return Model(key, module, {"family": "freia", "hidden": [width, width],
                                   "blocks": variant, "permute_soft": True})
    raise KeyError(key)


def glow_like(key: str, d: int, width: int, transforms: int) -> nn.Module:
    """zuko coupling transforms (NSF's spline coupling or RealNVP's affine coupling)
    interleaved with learned rotations (zuko's RotationTransform, R = exp(A − Aᵀ), det +1,
    random start): the Glow recipe (learned invertible mixing between couplings) with zuko's
    own parts, so the flow can represent a dense rotation as jacnet's learned rotations can."""
    from functools import partial

    import zuko
    from zuko.flows.autoregressive import MaskedAutoregressiveTransform
    from zuko.flows.coupling import GeneralCouplingTransform
    from zuko.lazy import UnconditionalTransform
    from zuko.transforms import MonotonicRQSTransform, RotationTransform

    parts: list[nn.Module] = []
    for i in range(transforms):
        parts.append(UnconditionalTransform(RotationTransform, torch.randn(d, d) / math.sqrt(2)))
        if key == "zuko_nsf_rot":
            bins = 8
            parts.append(MaskedAutoregressiveTransform(
                d, 0, passes=2, order=torch.arange(d) if i % 2 == 0 else torch.arange(d).flip(0),
                univariate=partial(MonotonicRQSTransform, slope=1e-3),
                shapes=[(bins,), (bins,), (bins - 1,)], hidden_features=(width, width)))
        else:
            parts.append(GeneralCouplingTransform(d, 0, mask=torch.arange(d) % 2 == i % 2,
                                                  hidden_features=(width, width)))
    parts.append(UnconditionalTransform(RotationTransform, torch.randn(d, d) / math.sqrt(2)))
    return zuko.flows.Flow(parts, zuko.flows.UnconditionalDistribution(
        zuko.distributions.DiagNormal, torch.zeros(d), torch.ones(d), buffer=True))


VARIANTS = {"zuko_nsf": (4, 3, 5, 2, 6), "zuko_realnvp": (4, 3, 5, 6), "freia": (4, 3, 5, 6),
            "zuko_nsf_rot": (4, 3, 5, 2, 6), "zuko_realnvp_rot": (4, 3, 5, 6)}


def sized(key: str, d: int, budget: int, target) -> tuple[int, int, int]:
    """(width, variant, params) of model `key` closest to `budget` parameters, within ±5 %
    (trying flows' other transform counts in VARIANTS' order if their widths cannot hit it)."""
    if key in ("invertible", "invertible_noinit"):
        width = INV_HIDDEN[d]
        return width, 0, build(key, d, width, 0, target, 0).params
    best = None
    for variant in VARIANTS.get(key, (0,)):
        lo, hi = 1, 4096
        count = lambda w: build(key, d, w, variant, target, 0).params  # noqa: E731
        while lo < hi:  # smallest width with params >= budget (params grow with width)
            mid = (lo + hi) // 2
            if count(mid) >= budget:
                hi = mid
            else:
                lo = mid + 1
        for w in {max(1, lo - 1), lo}:
            p = count(w)
            cand = (abs(p / budget - 1), w, variant, p)
            best = cand if best is None or cand < best else best
        if best[0] <= TOLERANCE:
            break
    gap, width, variant, params = best
    if gap > TOLERANCE:
        raise RuntimeError(f"{key} at d={d}: no size within 5% of {budget} (best {params})")
    return width, variant, params


# --------------------------------------------------------------------------- training

def dataset(target_name: str, d: int, seed: int):
    target = target_of(target_name, d)
    data = make_dataset(DataSpec(**DATA), target, seed)
    return target, data


def prepare(model: Model, data) -> None:
    """What `jacnet train` does after building: invertible learns its orientation and linear
    start from the training data (`Invertible.fit_data`); then float64."""
    if model.key == "invertible":
        model.module.structure.fit_data(model.module.net, data.x_train, data.y_train)
        model.sign = int(model.module.net.orientation)
    if model.key == "invertible_noinit":  # the orientation from the data, no linear start
        from jacnet_cli.core.nets.triangular import orientation_from_data

        net = model.module.net
        net.orientation = model.sign = orientation_from_data(data.x_train, data.y_train)
        net.flip[0] = float(net.orientation)
    model.module.to(DTYPE)


@torch.no_grad()
def mse_of(model: Model, x: Tensor, y: Tensor, chunk: int = 1000) -> float:
    """Mean over points of ‖ŷ − y‖² (the dB quantity)."""
    pred = in_chunks(model, x, chunk)
    return float(((pred - y) ** 2).sum(-1).mean())


def train(model: Model, data, lr: float, epochs: int, seed: int) -> dict[str, Any]:
    params = [p for p in model.module.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99))
    n = data.x_train.shape[0]
    per_epoch = math.ceil(n / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * per_epoch)
    gen = torch.Generator().manual_seed(seed)
    best, best_state, best_epoch, failed = math.inf, None, -1, None
    history = []
    start = time.perf_counter()
    for epoch in range(epochs):
        model.module.train()
        order = torch.randperm(n, generator=gen)
        for idx in order.split(BATCH):
            opt.zero_grad(set_to_none=True)
            loss = ((model(data.x_train[idx]) - data.y_train[idx]) ** 2).mean()
            if not torch.isfinite(loss):
                failed = f"non-finite loss in epoch {epoch}"
                break
            loss.backward()
            opt.step()
            sched.step()
        if failed:
            break
        model.module.eval()
        val = mse_of(model, data.x_val, data.y_val)
        history.append(val)
        if math.isfinite(val) and val < best:
            best, best_epoch = val, epoch
            best_state = copy.deepcopy(model.module.state_dict())
    seconds = time.perf_counter() - start
    if best_state is not None:
        model.module.load_state_dict(best_state)
    model.module.eval()
    return {"lr": lr, "val_mse": best, "val_db": db(best), "best_epoch": best_epoch,
            "epochs": epochs, "train_seconds": round(seconds, 2), "failed": failed,
            "val_db_curve": [round(db(v), 2) for v in history[:: max(1, epochs // 12)]]}


# --------------------------------------------------------------------------- the runner

class Runner:
    """Trains (or loads from the cache) every run; the cache makes a long run resumable."""

    def __init__(self, quick: bool):
        self.quick = quick
        tag = "quick" if quick else "full"
        self.cache = BENCH / "invertible_cache" / tag
        self.cache.mkdir(parents=True, exist_ok=True)
        self.epochs = 5 if quick else EPOCHS
        self.lrs = {d: (1e-2,) for d in DIMS} if quick else LRS
        self.seeds = {d: (0,) for d in DIMS} if quick else SEEDS
        self.sizes: dict[tuple[str, int], dict[str, tuple[int, int, int]]] = {}

    def sizes_at(self, target_name: str, d: int, models: tuple[str, ...]) -> dict:
        key = (target_name, d)
        target = target_of(target_name, d)
        have = self.sizes.setdefault(key, {})
        if "invertible" not in have:
            have["invertible"] = sized("invertible", d, 0, target)
        for m in models:
            if m not in have:
                have[m] = sized(ALIASES.get(m, m), d, have["invertible"][2], target)
        return have

    def _path(self, target_name: str, d: int, key: str, seed: int, lr: float) -> Path:
        return self.cache / f"{target_name}_d{d}_{key}_s{seed}_lr{lr:.0e}_e{self.epochs}"

    def run(self, target_name: str, d: int, key: str, seed: int, lr: float,
            with_test: bool) -> tuple[dict, Model]:
        """Train (or load) one run; with_test adds the test (and train) error."""
        width, variant, _ = self.sizes_at(target_name, d, (key,))[key]
        path = self._path(target_name, d, key, seed, lr)
        target, data = dataset(target_name, d, seed)
        model = build(key, d, width, variant, target, seed)
        prepare(model, data)
        meta_file, weights = Path(f"{path}.json"), Path(f"{path}.pt")
        if meta_file.exists() and weights.exists():
            result = json.loads(meta_file.read_text())
            model.module.load_state_dict(torch.load(weights, weights_only=True))
            model.module.eval()
            if model.key in ("invertible", "invertible_noinit"):
                model.sign = int(model.module.net.flip[0])
        else:
            print(f"[bench] train {target_name} d={d} {key} seed={seed} lr={lr:g}", flush=True)
            result = train(model, data, lr, self.epochs, seed)
            result.update(params=model.params, width=width, variant=variant, **{
                k: v for k, v in model.settings.items() if k not in ("hidden",)})
            torch.save(model.module.state_dict(), weights)
            meta_file.write_text(json.dumps(result))
            print(f"[bench]   val {result['val_db']:.2f} dB in {result['train_seconds']}s",
                  flush=True)
        if with_test and "test_db" not in result:
            result["test_db"] = db(mse_of(model, data.x_test, data.y_test))
            result["train_db"] = db(mse_of(model, data.x_train, data.y_train))
            result["signal_db"] = db(float(((data.y_test - data.y_test.mean(0)) ** 2)
                                           .sum(-1).mean()))
            if key in ("none", "pd_paper"):  # the same weights with jacnet's default 32 nodes
                fine = copy.deepcopy(model.module)
                fine.solver = GaussLegendre(32)
                result["test_db_gl32"] = db(mse_of(Model(key, fine, model.settings), data.x_test,
                                                   data.y_test))
            meta_file.write_text(json.dumps(result))
        return result, model

    def task(self, target_name: str, d: int, models: tuple[str, ...]) -> dict[str, Any]:
        """Every model on one task: lr chosen on seed 0's validation, then all seeds' tests."""
        sizes = self.sizes_at(target_name, d, models)
        out: dict[str, Any] = {"budget": sizes["invertible"][2], "models": {}}
        for key in models:
            if key in SKIP.get((target_name, d), ()):
                continue
            alias = ALIASES.get(key)
            if alias is not None and alias in out["models"]:
                out["models"][key] = {**out["models"][alias], "alias_of": alias}
                continue
            if alias is not None:  # trained (and cached) under the network it builds
                out["models"][key] = {**self.task(target_name, d, (alias,))["models"][alias],
                                      "alias_of": alias}
                continue
            grid = {lr: self.run(target_name, d, key, 0, lr, False)[0] for lr in self.lrs[d]}
            lr = min(grid, key=lambda v: grid[v]["val_mse"])
            runs = [self.run(target_name, d, key, s, lr, True)[0] for s in self.seeds[d]]
            tests = [r["test_db"] for r in runs]
            out["models"][key] = {
                "params": runs[0]["params"], "width": sizes[key][0], "variant": sizes[key][1],
                "lr": lr, "grid_val_db": {f"{v:g}": round(grid[v]["val_db"], 2) for v in grid},
                "test_db": tests, "test_db_mean": statistics.fmean(tests),
                "test_db_sd": statistics.stdev(tests) if len(tests) > 1 else 0.0,
                "train_db": [r["train_db"] for r in runs],
                "best_epoch": [r["best_epoch"] for r in runs],
                "train_seconds": [r["train_seconds"] for r in runs],
                "failed": [r["failed"] for r in runs],
                "signal_db": runs[0]["signal_db"],
                **({"test_db_gl32": [r["test_db_gl32"] for r in runs]}
                   if "test_db_gl32" in runs[0] else {}),
            }
            print(f"[bench] {target_name} d={d} {key}: {statistics.fmean(tests):.2f} dB "
                  f"(lr {lr:g}, {runs[0]['params']} params)", flush=True)
        return out

    def trained(self, target_name: str, d: int, key: str, lr: float, seed: int = 0) -> Model:
        return self.run(target_name, d, key, seed, lr, False)[1]


# --------------------------------------------------------------------------- measurements

def check_pd_alias(d: int) -> bool:
    """pd (conservative) and monotone: same parameters and the same outputs at init, bitwise."""
    target = target_of("rotated_tanh", d)
    width = sized("monotone", d, sized("invertible", d, 0, target)[2], target)[0]
    a, b = build("monotone", d, width, 0, target, 0), build("pd", d, width, 0, target, 0)
    a.module.to(DTYPE), b.module.to(DTYPE)
    same = all(torch.equal(p, q) for p, q in zip(a.module.state_dict().values(),
                                                  b.module.state_dict().values()))
    x = torch.rand(64, d, dtype=DTYPE) * 6 - 3
    return same and torch.equal(a(x).detach(), b(x).detach())


def box_points(d: int, n: int, seed: int = 1234) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, d, generator=g, dtype=DTYPE) * 2 - 1) * BOX


def jacobians(model: Model, x: Tensor) -> Tensor:
    """D = dŷ/dx by autograd through the model as evaluated, in chunks: (N, d, d)."""
    rows = GL_NODES if model.key in ("none", "pd_paper") else 1
    size = max(64, 4096 // rows // max(1, x.shape[1] // 8))
    return torch.cat([derivative(model, part) for part in x.split(size)])


def guarantees(model: Model, d: int, n: int) -> dict[str, Any]:
    """The guarantee far from the data: sign·|det D|^(1/d) and λ_min(sym D) on n points of
    [-3, 3]^d (D by autograd through the model as evaluated), and the round trip."""
    x = box_points(d, n)
    start = time.perf_counter()
    jac = jacobians(model, x)
    root = model.sign * signed_det_root(jac)  # (N,)
    eig = torch.linalg.eigvalsh(0.5 * (jac + jac.transpose(-1, -2)))[:, 0]  # (N,)
    out: dict[str, Any] = {
        "sign": model.sign,
        "det_root_min": float(root.min()),
        "det_root_negative": int((root <= 0).sum()),
        "sym_min_eig": float(eig.min()),
        "sym_below_eps": int((eig < 1e-4).sum()),
        "points": n, "box": [-BOX, BOX],
    }
    if model.key == "invertible":
        net = model.module.net
        out["det_root_lower_bound_weights"] = net.det_bounds()[0] ** (1 / d)
        with torch.no_grad():
            closed = model.module.log_det(x)
        out["logdet_closed_vs_autograd_max"] = float(
            (closed - torch.linalg.slogdet(jac)[1]).abs().max())
    if model.settings["family"] == "freia":  # its SO(d) mixings are stored in float32
        perm = torch.stack([blk.w_perm.reshape(d, d).double() for blk in model.module.module_list])
        eye = torch.eye(d, dtype=DTYPE)
        out["freia_perm_orthogonality_error"] = float(
            (perm @ perm.transpose(1, 2) - eye).abs().max())
        # The same model with each block's stored inverse mixing (its float32 W's transpose)
        # replaced by the exact inverse of W: isolates that rounding in the round trip.
        exact = copy.deepcopy(model)
        for blk in exact.module.module_list:
            w = blk.w_perm.reshape(d, d)
            blk.w_perm_inv.data = torch.linalg.inv(w).reshape(blk.w_perm_inv.shape)
        xs = x[:2000]
        with torch.no_grad():
            xr = exact.inverse(exact.forward_chunked(xs))[0]
        out["freia_roundtrip_max_exact_perm_inverse"] = float((xr - xs).abs().max())
    if model.has_inverse:
        m = min(n, SLOW_INVERSE.get(model.key, n))
        xs = x[:m]
        with torch.no_grad():
            xr, ok = model.inverse(model.forward_chunked(xs))
        err = (xr - xs).abs().max(-1).values
        finite = torch.isfinite(err)
        out.update(roundtrip_max=float(err[finite].max()) if bool(finite.any()) else math.inf,
                   roundtrip_median=float(err[finite].median()) if bool(finite.any()) else math.inf,
                   converged=int(ok.sum()), nonfinite=int((~finite).sum()), roundtrip_points=m)
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out


def block_time(fn: Callable[[], object], k: int) -> float:
    start = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - start) / k


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, block_s: float
                ) -> dict[str, list[float]]:
    """Seconds per call of each fn: blocks of k calls (k sized to ~block_s), the fns
    alternating block by block, `rounds` times; every block's time per call is kept."""
    ks = {}
    for name, fn in fns.items():
        fn()  # warm-up
        ks[name] = max(1, math.ceil(block_s / max(block_time(fn, 1), 1e-6)))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds):
        names = list(fns) if r % 2 == 0 else list(reversed(fns))
        for name in names:
            times[name].append(block_time(fns[name], ks[name]))
    return times


def step_times(runner: Runner, target_name: str, d: int, models: tuple[str, ...],
               rounds: int, block_s: float) -> dict[str, Any]:
    """Median seconds per training step (batch of 100) of fresh models, interleaved; ratio to
    `none` per round, then the median of the ratios."""
    sizes = runner.sizes_at(target_name, d, models)
    target, data = dataset(target_name, d, 0)
    x, y = data.x_train[:BATCH], data.y_train[:BATCH]
    fns = {}
    for key in models:
        if key in ALIASES:
            continue
        width, variant, _ = sizes[key]
        model = build(key, d, width, variant, target, 0)
        prepare(model, data)
        opt = torch.optim.Adam(model.module.parameters(), lr=1e-4, betas=(0.9, 0.99))

        def step(model=model, opt=opt) -> None:
            opt.zero_grad(set_to_none=True)
            ((model(x) - y) ** 2).mean().backward()
            opt.step()

        fns[key] = step
    with timing_lock():
        times = interleaved(fns, rounds, block_s)
    base = times["none"]
    out = {}
    for key, ts in times.items():
        ratios = [t / b for t, b in zip(ts, base)]
        out[key] = {"ms_per_step": statistics.median(ts) * 1e3,
                    "ratio_to_none": statistics.median(ratios), "rounds": rounds}
    return out


def inverse_costs(models: dict[str, Model], d: int, n: int, rounds: int) -> dict[str, Any]:
    """Time of ŷ⁻¹(y) on n points against ŷ(x) on the same points (CHUNK points per call
    for both), the calls of all models interleaved, median over rounds. jacnet's inverse is
    `inverse.solve` (which ends with a residual pass); `invertible_substitution` is the
    substitution alone (`inverse.substitution`, no residual)."""
    from jacnet_cli.core.inverse import substitution

    fns = {}
    for key, model in models.items():
        if not model.has_inverse:
            continue
        m = min(n, SLOW_INVERSE.get(key, n))
        x = box_points(d, m, seed=99) / BOX  # inside the data's box
        y = model.forward_chunked(x)
        fns[f"{key}:forward"] = (lambda m=model, x=x: m.forward_chunked(x))
        fns[f"{key}:inverse"] = (lambda m=model, y=y: m.inverse(y))
        if key == "invertible":
            fns["invertible_substitution:forward"] = fns[f"{key}:forward"]
            fns["invertible_substitution:inverse"] = (lambda m=model, y=y: torch.no_grad()(
                substitution)(m.module, y))
    with timing_lock():
        times = interleaved(fns, rounds, block_s=0.2)
    out = {}
    for name in fns:
        key, what = name.split(":")
        if what != "forward":
            continue
        fwd, inv = times[f"{key}:forward"], times[f"{key}:inverse"]
        out[key] = {"forward_s": statistics.median(fwd), "inverse_s": statistics.median(inv),
                    "ratio": statistics.median([i / f for i, f in zip(inv, fwd)]),
                    "points": min(n, SLOW_INVERSE.get(key, n)), "rounds": rounds}
    return out


# --------------------------------------------------------------------------- report

def fmt(v: float, digits: int = 2) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def sci(v: float | None) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:.2g}" if abs(v) >= 1e-2 and abs(v) < 1e3 else f"{v:.1e}"


FLOWS = ("zuko_nsf", "zuko_realnvp", "zuko_realnvp_rot", "freia")


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per (target, d): invertible against the best flow and against `none` (test dB)."""
    rows = []
    for target_name, per_d in results.get("fit", {}).items():
        for d, task in per_d.items():
            models = task["models"]
            inv = models["invertible"]["test_db_mean"]
            flows = {k: models[k]["test_db_mean"] for k in FLOWS if k in models}
            best = min(flows, key=flows.get)
            rows.append({"target": target_name, "d": d, "invertible": inv,
                         "invertible_sd": models["invertible"]["test_db_sd"],
                         "best_flow": best, "best_flow_db": flows[best],
                         "vs_best_flow": inv - flows[best], "none": models["none"]["test_db_mean"],
                         "vs_none": inv - models["none"]["test_db_mean"],
                         "mlp": models["mlp"]["test_db_mean"],
                         "signal": models["invertible"]["signal_db"],
                         "seeds": len(models["invertible"]["test_db"])})
    return rows


def tables(results: dict[str, Any]) -> str:
    lines: list[str] = []
    rows = summary_rows(results)
    if rows:
        lines.append("### Summary: jacnet invertible against the best flow and unconstrained "
                     "JacNet (test dB, equal parameters; negative gap = invertible better)\n")
        lines.append(markdown_table(
            ["target", "d", "seeds", "invertible", "best flow", "best flow dB",
             "invertible − best flow", "none", "invertible − none", "MLP", "signal"],
            ([r["target"], r["d"], r["seeds"],
              f"{fmt(r['invertible'])} ± {fmt(r['invertible_sd'])}", LABELS[r["best_flow"]],
              fmt(r["best_flow_db"]), f"**{fmt(r['vs_best_flow'], 1)}**", fmt(r["none"]),
              fmt(r["vs_none"], 1), fmt(r["mlp"]), fmt(r["signal"])] for r in rows)))
        lines.append("")
    for target_name, per_d in results.get("fit", {}).items():
        lines.append(f"### Fit: `{target_name}` (test dB, mean ± sd over seeds; "
                     "lower is better)\n")
        cells = []
        for d, task in per_d.items():
            models = task["models"]
            inv = models["invertible"]["test_db_mean"]
            for key, m in models.items():
                alias = " (= monotone's network)" if "alias_of" in m else ""
                gl32 = ""
                if "test_db_gl32" in m:
                    gl32 = f" (GL32: {fmt(statistics.fmean(m['test_db_gl32']))})"
                width = f"{m['width']}" + (f" ×{m['variant']}" if m["variant"] else "")
                cells.append([d, f"{LABELS[key]}{alias}", m["params"], width, f"{m['lr']:g}",
                              f"{fmt(m['test_db_mean'])} ± {fmt(m['test_db_sd'])}{gl32}",
                              fmt(statistics.fmean(m["train_db"])),
                              fmt(m["test_db_mean"] - inv, 1),
                              ",".join(str(e) for e in m["best_epoch"])])
            cells.append([d, "(signal: predicting the mean)", "", "", "",
                          fmt(models["invertible"]["signal_db"]), "", "", ""])
        lines.append(markdown_table(["d", "model", "params", "width", "lr (val-chosen)",
                                     "test dB", "train dB", "− invertible", "best epoch"], cells))
        lines.append("")
    steps = results.get("step_time", {})
    for target_name, per_d in steps.items():
        lines.append("### Training step (batch 100, one thread, fresh models; median of "
                     "interleaved rounds)\n")
        lines.append(markdown_table(
            ["d", "model", "ms / step", "ratio to none"],
            ([d, LABELS[key], fmt(t["ms_per_step"]), fmt(t["ratio_to_none"])]
             for d, per_model in per_d.items() for key, t in per_model.items())))
        lines.append("")
    guar = results.get("guarantees", {})
    if guar:
        lines.append("### Guarantees on 10,000 points of [-3, 3]^d (trained seed-0 models; "
                     "D by autograd)\n")
        cells = []
        for target_name, per_d in guar.items():
            for d, per_model in per_d.items():
                for key, g in per_model.items():
                    rt = sci(g.get("roundtrip_max")) if "roundtrip_max" in g else "no inverse"
                    if "roundtrip_max" in g and g["roundtrip_points"] < g["points"]:
                        rt += f" ({g['roundtrip_points']} pts)"
                    conv = (f"{g['converged']}/{g['roundtrip_points']}" if "converged" in g
                            else "–")
                    cells.append([target_name, d, LABELS[key], sci(g["det_root_min"]),
                                  g["det_root_negative"], sci(g["sym_min_eig"]), rt, conv])
        lines.append(markdown_table(["target", "d", "model", "min sign·\\|det D\\|^(1/d)",
                                     "points ≤ 0", "λ_min(sym D)", "round trip max",
                                     "converged"], cells))
        lines.append("")
        notes = [(t, d, g["freia"]) for t, per_d in guar.items() for d, g in per_d.items()
                 if "freia" in g]
        if notes:
            lines.append("FrEIA's round trip, with each block's inverse mixing (the transpose "
                         "of its float32-stored SO(d) matrix) replaced by the exact inverse:\n")
            lines.append(markdown_table(
                ["target", "d", "‖W Wᵀ − I‖_max", "round trip as shipped", "with exact W⁻¹"],
                ([t, d, sci(g["freia_perm_orthogonality_error"]), sci(g["roundtrip_max"]),
                  sci(g["freia_roundtrip_max_exact_perm_inverse"])] for t, d, g in notes)))
            lines.append("")
    every = results.get("invertible_all_seeds", {})
    if every:
        lines.append("### jacnet invertible, every trained seed, 10,000 points of [-3, 3]^d\n")
        lines.append(markdown_table(
            ["target", "d", "seeds", "min sign·\\|det D\\|^(1/d) (autograd)",
             "weights' lower bound", "max \\|log det closed − autograd\\|", "round trip max",
             "all converged"],
            ([t, d, len(gs), sci(min(g["det_root_min"] for g in gs)),
              sci(min(g["det_root_lower_bound_weights"] for g in gs)),
              sci(max(g["logdet_closed_vs_autograd_max"] for g in gs)),
              sci(max(g["roundtrip_max"] for g in gs)),
              str(all(g["converged"] == g["roundtrip_points"] for g in gs))]
             for t, per_d in every.items() for d, gs in per_d.items())))
        lines.append("")
    inv = results.get("inverse_cost", {})
    if inv:
        lines.append("### Inverse cost: ŷ⁻¹ vs ŷ on the same 10,000 points of the data box "
                     "(rotated_tanh, seed 0, one thread)\n")
        lines.append(markdown_table(
            ["d", "model", "points", "forward ms", "inverse ms", "inverse / forward"],
            ([d, LABELS[key], c["points"], fmt(c["forward_s"] * 1e3, 1),
              fmt(c["inverse_s"] * 1e3, 1), fmt(c["ratio"], 1)]
             for d, per_model in inv.items() for key, c in per_model.items())))
        lines.append("")
    pd = results.get("pd", {})
    if pd:
        lines.append("### pd: conservative vs paper form on `monotone_sinh` (ε = 1e-4; "
                     "λ_min(sym D) on 10,000 points of [-3, 3]^d, seed 0)\n")
        cells = []
        for d, task in pd.get("fit", {}).items():
            for key, m in task["models"].items():
                g = pd.get("guarantees", {}).get(d, {}).get(key, {})
                conv = f"{g['converged']}/{g['roundtrip_points']}" if "converged" in g else "–"
                cells.append([d, LABELS[key], m["params"], f"{m['lr']:g}",
                              f"{fmt(m['test_db_mean'])} ± {fmt(m['test_db_sd'])}",
                              sci(g.get("sym_min_eig")), g.get("sym_below_eps", "–"),
                              sci(g.get("det_root_min")), sci(g.get("roundtrip_max")), conv])
            cells.append([d, "(signal)", "", "",
                          fmt(next(iter(task["models"].values()))["signal_db"]), "", "", "", "",
                          ""])
        lines.append(markdown_table(
            ["d", "model", "params", "lr", "test dB", "λ_min(sym D)", "points with λ_min < ε",
             "min sign·\\|det D\\|^(1/d)", "round trip max", "converged"], cells))
        lines.append("")
    return "\n".join(lines)


def write_report(results: dict[str, Any], path: Path) -> None:
    start, end = "<!-- tables:start -->", "<!-- tables:end -->"
    body = f"{start}\n{tables(results)}\n{end}"
    text = path.read_text() if path.exists() else f"# Invertible benchmarks\n\n{body}\n"
    if start in text and end in text:
        text = text[:text.index(start)] + body + text[text.index(end) + len(end):]
    else:
        text += f"\n{body}\n"
    path.write_text(text)


# --------------------------------------------------------------------------- main

def machine() -> dict[str, Any]:
    from benchmarks.common import machine as base

    out = base()
    import zuko
    import FrEIA

    out.update(zuko=zuko.__version__, FrEIA=getattr(FrEIA, "__version__", "0.2"),
               numpy=np.__version__, load=os.getloadavg())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 epochs, 1 seed, 1 lr, d = 2, 8")
    parser.add_argument("--report", action="store_true", help="rewrite RESULTS.md's tables only")
    parser.add_argument("--no-timing", action="store_true", help="skip the timed sections")
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    parser.add_argument("--sections", default="fit,guarantees,pd,timing",
                        help="run only these (the others are kept from the results JSON)")
    parser.add_argument("--dims", default=None, help="e.g. 2,8 (default: 2,8,32)")
    parser.add_argument("--pd-dims", default=None, help="dims of the pd section (default: --dims)")
    args = parser.parse_args(argv)
    sections = set(args.sections.split(","))
    out_path = args.out or (HERE / ("results_quick.json" if args.quick else "results.json"))
    md_path = HERE / ("RESULTS_quick.md" if args.quick else "RESULTS.md")
    if args.report:
        write_report(json.loads(out_path.read_text()), md_path)
        return
    torch.set_num_threads(1)
    runner = Runner(args.quick)
    dims = (2, 8) if args.quick else DIMS
    if args.dims:
        dims = tuple(int(d) for d in args.dims.split(","))
    pd_dims = tuple(int(d) for d in args.pd_dims.split(",")) if args.pd_dims else dims
    n_box = 2000 if args.quick else N_BOX
    started = time.perf_counter()
    cpu0 = time.process_time()
    results: dict[str, Any] = {
        "machine": machine(), "quick": args.quick,
        "protocol": {"epochs": runner.epochs, "batch": BATCH,
                     "lrs": {d: list(v) for d, v in runner.lrs.items()},
                     "seeds": {d: list(v) for d, v in runner.seeds.items()},
                     "optimizer": "Adam(0.9, 0.99) + OneCycleLR",
                     "loss": "mse", "data": {k: list(v) if isinstance(v, tuple) else v
                                              for k, v in DATA.items()},
                     "dtype": "float64", "threads": 1, "gl_nodes": GL_NODES,
                     "inv_hidden": INV_HIDDEN, "box": BOX, "box_points": n_box},
        "pd_alias_checked": {d: check_pd_alias(d) for d in dims},
    }
    if not all(results["pd_alias_checked"].values()):
        raise RuntimeError("pd (conservative) is not monotone's network: alias invalid")
    if sections != {"fit", "guarantees", "pd", "timing"} and out_path.is_file():
        kept = json.loads(out_path.read_text())  # the sections not rerun, as they were
        for key in ("fit", "sizes", "guarantees", "invertible_all_seeds", "pd", "step_time",
                    "inverse_cost"):
            if key in kept:
                results[key] = kept[key]

    def save() -> None:
        results["wall_seconds"] = round(time.perf_counter() - started, 1)
        results["cpu_seconds"] = round(time.process_time() - cpu0, 1)
        out_path.write_text(json.dumps(results, indent=1, default=float))
        write_report(results, md_path)

    # 1. fit (cached runs: rerunning it only re-reads them)
    results.setdefault("fit", {})
    results.setdefault("sizes", {})
    for target_name in FIT_TARGETS:
        if "fit" not in sections and "guarantees" not in sections and "timing" not in sections:
            break
        results["fit"].setdefault(target_name, {})
        for d in dims:
            results["fit"][target_name][d] = runner.task(target_name, d,
                                                         FIT_MODELS + EXTRA.get(target_name, ()))
            results["sizes"][f"{target_name}_d{d}"] = runner.sizes_at(target_name, d, FIT_MODELS)
            save()
    # 2. guarantees on the seed-0 models at their chosen lr (and every seed for invertible)
    results.setdefault("guarantees", {})
    results.setdefault("invertible_all_seeds", {})
    for target_name in FIT_TARGETS if "guarantees" in sections else ():
        results["guarantees"].setdefault(target_name, {})
        results["invertible_all_seeds"].setdefault(target_name, {})
        for d in dims:
            chosen = results["fit"][target_name][d]["models"]
            results["guarantees"][target_name][d] = {
                k: guarantees(runner.trained(target_name, d, k, chosen[k]["lr"]), d, n_box)
                for k in FIT_MODELS if k not in ALIASES and k in chosen}
            results["invertible_all_seeds"][target_name][d] = [
                guarantees(runner.trained(target_name, d, "invertible",
                                          chosen["invertible"]["lr"], seed), d, n_box)
                for seed in runner.seeds[d]]
            save()
    # 4. pd on monotone_sinh
    results.setdefault("pd", {"fit": {}, "guarantees": {}})
    for d in pd_dims if "pd" in sections else ():
        task = runner.task("monotone_sinh", d, PD_MODELS)
        results["pd"]["fit"][d] = task
        results["pd"]["guarantees"][d] = {
            key: guarantees(runner.trained("monotone_sinh", d, ALIASES.get(key, key),
                                           task["models"][key]["lr"]), d, n_box)
            for key in PD_MODELS}
        save()
    # Timing last (it waits for the shared lock): 1b. training step, 3. inverse cost
    if not args.no_timing and "timing" in sections:
        results.setdefault("step_time", {}).setdefault("rotated_tanh", {})
        results.setdefault("inverse_cost", {})
        for d in dims:
            results["step_time"]["rotated_tanh"][d] = step_times(
                runner, "rotated_tanh", d, FIT_MODELS, rounds=3 if args.quick else 9,
                block_s=0.3)
            save()
            chosen = results["fit"]["rotated_tanh"][d]["models"]
            models = {k: runner.trained("rotated_tanh", d, k, chosen[k]["lr"])
                      for k in FIT_MODELS if k not in ALIASES and k in chosen
                      and not (k == "pd_paper" and d > 8)}  # its autograd Newton: too slow
            results["inverse_cost"][d] = inverse_costs(models, d, n_box,
                                                       rounds=3 if args.quick else 5)
            save()
    save()
    print(f"[bench] done in {results['wall_seconds']}s wall, {results['cpu_seconds']}s CPU",
          flush=True)


if __name__ == "__main__":
    main()
