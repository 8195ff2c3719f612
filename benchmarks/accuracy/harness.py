"""One training run per (method, target, seed) on the paper's protocol, for jacnet and its peers.

Protocol (paper section 5, issue 11): per seed, 5 training points uniform in [-1, 1] and 100
test points uniform in [-2, 2], drawn by `jacnet_cli.make_dataset(DataSpec(), target, seed)`,
which is exactly what `jacnet train data=paper seed=S` draws; 50 full-batch Adam(0.01)
steps on the paper's loss mean |y - ŷ|; score: test MAE. Every method sees the same points.

jacnet runs are composed from the library's own Hydra configs (`jacnet train` overrides) and
built by `jacnet_cli.run.build.training`, the path `jacnet train` takes, so a row here is what
`jacnet train <overrides> seed=S` reports (results/cli_check.txt).

The methods of the final table and where rows go are declared here, so that `run` and
`report` both import from this module and not from each other.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any, Sequence

import torch
from omegaconf import DictConfig

from jacnet_cli import (DataSpec, fit, get_target, make_dataset, measure, mse_loss, norm_loss,
                        predict)
from jacnet_cli.run import build, configs  # composing a config: no public equivalent

ITERATIONS = 50
LR = 0.01
SEEDS = tuple(range(20))

# The family of 1-D targets and the structure that states each one's property: `pd` for the
# invertible (increasing) ones, `lipschitz` (k = 1) for the others. The first two are the
# paper's tasks.
FAMILY: dict[str, str] = {
    "exp": "pd",
    "abs": "lipschitz",
    "sin": "lipschitz",
    "tanh": "pd",
    "cubic": "pd",
    "softplus": "pd",
    "sigmoid": "pd",
    "atan": "pd",
    "sinh": "pd",
    "leaky_relu": "pd",
    "gaussian": "lipschitz",
}
PAPER_TASKS = ("exp", "abs")
HELDOUT_SEEDS = tuple(range(100, 120))

# Methods of the final table: jacnet configurations (overrides on top of the task) and peers.
JACNET_METHODS: dict[str, list[str]] = {
    "jacnet": [],  # the defaults of conf/train.yaml
    "jacnet_current": ["+preset=current"],  # the default before issue 11 (paper architecture)
    "jacnet_data_anchor": ["anchor=data"],  # the defaults, y0 from the data: no y(0) given
}
PEER_METHODS = ("umnn", "mlp_tanh", "mlp_relu", "lipmlp", "lipmlp2")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"  # the committed rows; `run --out DIR` writes DIR/results instead


def load(results: Path, name: str) -> list[dict[str, Any]]:
    """The rows of results/<name>.jsonl ([] when it does not exist)."""
    path = results / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@functools.lru_cache(maxsize=512)
def _compose(overrides: tuple[str, ...]) -> DictConfig:
    return configs.compose(overrides, task="train", plain=False)


def compose(overrides: Sequence[str]) -> DictConfig:
    """The `jacnet train` config for these overrides (a copy: safe to modify)."""
    return _compose(tuple(overrides)).copy()


def jacnet_overrides(target: str, extra: Sequence[str] = ()) -> list[str]:
    """Overrides for one family run: target, its structure, the protocol, then `extra`."""
    return [f"target={target}", f"activation={FAMILY[target]}", f"iterations={ITERATIONS}",
            f"optim.lr={LR}", "loss=norm", "data=paper", *extra]


def config(overrides: Sequence[str], seed: int) -> DictConfig:
    """The composed config with `seed=` set: composing costs ~0.5 s, so it is done once per
    override list and the seed, which nothing else in the config refers to, set afterwards."""
    cfg = compose([o for o in overrides if not o.startswith("seed=")])
    cfg.seed = int(seed)
    return cfg


LOSSES = {"norm": norm_loss, "mse": mse_loss}


def protocol(cfg: DictConfig) -> tuple[int, str]:
    """Steps and loss: the config's, or where it says `auto` what `jacnet train` picks for a
    1-D target (the paper's 50 full-batch steps on the norm loss, `run/plan.py`)."""
    iterations = ITERATIONS if cfg.iterations == "auto" else int(cfg.iterations)
    return iterations, "norm" if cfg.loss == "auto" else str(cfg.loss)


def _measure(model: torch.nn.Module, grid: torch.Tensor) -> dict[str, float]:
    """Max slope and min slope of the function as evaluated (autograd through the solver)
    on the dense grid, whatever the structure, plus the structure's own net_ check."""
    return measure(model, grid, keys=["jacobian_min_eig", "lipschitz_max"])


def run_jacnet(target: str, seed: int, extra: Sequence[str] = (), measure: bool = True,
               overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """Train one jacnet configuration on one seed; return test MAE, time and guarantees.

    Args:
        target: a FAMILY key.
        seed: the seed (data and weights).
        extra: further `jacnet train` overrides (model.nonlinearity=gelu, anchor=fixed, ...).
        measure: also measure max/min slope on the data config's dense grid ([-3, 3], 2001).
        overrides: the full override list instead of jacnet_overrides(target, extra).
    """
    cfg = config(overrides if overrides is not None else jacnet_overrides(target, extra), seed)
    setup = build.training(cfg, "cpu", torch.float64)
    data, model = setup.data, setup.model
    iterations, loss = protocol(cfg)
    start = time.perf_counter()
    history = fit(model, data.x_train, data.y_train, setup.optimizer, iterations,
                  setup.schedule, LOSSES[loss])
    seconds = time.perf_counter() - start
    pred = predict(model, data.x_test)
    out: dict[str, Any] = {
        "test_mae": float((pred - data.y_test).abs().mean()),
        "train_loss": history.losses[-1],
        "train_time_s": seconds,
    }
    if measure:
        out.update(_measure(model, data.x_grid))
    return out


def run_peer(name: str, target: str, seed: int, measure: bool = True) -> dict[str, Any]:
    """Train one peer (benchmarks.accuracy.peers) on one seed, the same data as jacnet's."""
    from benchmarks.accuracy.peers import PEERS

    torch.manual_seed(seed)
    tgt = get_target(target)
    data = make_dataset(DataSpec(), tgt, seed)
    model = PEERS[name]().to(torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    start = time.perf_counter()
    history = fit(model, data.x_train, data.y_train, opt, ITERATIONS, None, norm_loss)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        pred = model(data.x_test)
    out: dict[str, Any] = {
        "test_mae": float((pred - data.y_test).abs().mean()),
        "train_loss": history.losses[-1],
        "train_time_s": seconds,
    }
    if measure:
        out.update(_measure(model, data.x_grid))
    return out


def same_data(target: str, seed: int, extra: Sequence[str] = ()) -> bool:
    """Whether jacnet's composed config draws the same points as the peers for this seed."""
    cfg = config(jacnet_overrides(target, extra), seed)
    _, a = build.dataset(cfg)
    b = make_dataset(DataSpec(), get_target(target), seed)
    return all(torch.equal(u, v) for u, v in ((a.x_train, b.x_train), (a.y_train, b.y_train),
                                              (a.x_test, b.x_test), (a.y_test, b.y_test)))
