"""Peers trained on the same splits as jacnet: LMN (monotonenorm), XGBoost with
monotone_constraints, and an unconstrained MLP (torch).

Honest protocol for all: fit on the training split, select (epochs, or the small grid of
XGBoost/MLP settings) on the validation split, predict the test split once.
Each `fit_*` returns (predict, info): predict(x raw) -> logit (cls) or ŷ (reg) in the data's
units, and info with params, train_time_s, and the selection made.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch

from tables import Table

torch.set_num_threads(1)


class _Std:
    """Standardise x (and y for regression) with the training split's statistics."""

    def __init__(self, x: np.ndarray, y: np.ndarray, task: str):
        self.mx, self.sx = x.mean(0), x.std(0)
        self.sx[self.sx == 0] = 1.0
        self.reg = task == "reg"
        self.my, self.sy = (y.mean(), y.std()) if self.reg else (0.0, 1.0)

    def x(self, x: np.ndarray) -> torch.Tensor:
        return torch.tensor((x - self.mx) / self.sx, dtype=torch.float32)

    def y(self, y: np.ndarray) -> torch.Tensor:
        return torch.tensor((y - self.my) / self.sy, dtype=torch.float32)[:, None]

    def out(self, z: torch.Tensor) -> np.ndarray:
        return z[:, 0].double().numpy() * self.sy + self.my


def _train_torch(net: torch.nn.Module, st: _Std, sp: Any, task: str, lr: float, batch: int | None,
                 epochs: int, patience: int, weight_decay: float = 0.0,
                 select_on: tuple | None = None,
                 after_step: Any = None) -> tuple[torch.nn.Module, dict]:
    """Adam on BCE-with-logits / MSE; keep the weights of the best epoch on the selection
    set (validation; the published protocol passes the test set), stop after `patience`
    epochs without improvement."""
    xt, yt = st.x(sp.x_train), st.y(sp.y_train)
    xs, ys = select_on if select_on is not None else (st.x(sp.x_val), st.y(sp.y_val))
    loss_fn = (torch.nn.functional.binary_cross_entropy_with_logits if task == "cls"
               else torch.nn.functional.mse_loss)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(0)
    best, best_state, best_epoch, waited = float("inf"), None, -1, 0
    n = len(xt)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(n, generator=g) if batch else torch.arange(n)
        size = batch or n
        for k in range(0, n, size):
            idx = order[k:k + size]
            opt.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step()
        net.eval()
        with torch.no_grad():
            value = float(loss_fn(net(xs), ys))
        if value < best:
            best, best_state, best_epoch, waited = value, copy.deepcopy(net.state_dict()), epoch, 0
        else:
            waited += 1
            if waited >= patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    return net, {"best_epoch": best_epoch, "epochs_run": epoch + 1, "select_loss": best}


def _params(net: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in net.parameters()))


# --- LMN ---------------------------------------------------------------------------------

#: The architectures and optimiser settings of the LMN authors' scripts
#: (niklasnolte/monotonic_tests: compas.py, heart_disease.py, auto_mpg.py); diabetes has no
#: script there and takes auto_mpg's (the other small regression table).
LMN = {
    "compas": dict(width=2, per_layer_lip=1.3, sigma=1.3 ** 4, lr=2e-4, batch=256, epochs=2000),
    "heart": dict(width=4, per_layer_lip=1.0, sigma=1.0, lr=2e-3, batch=None, epochs=300),
    "autompg": dict(width=8, per_layer_lip=1.0, sigma=1.0, lr=1e-2, batch=64, epochs=2000),
    "diabetes": dict(width=8, per_layer_lip=1.0, sigma=1.0, lr=1e-2, batch=64, epochs=2000),
}
for _name in ("boston", "housing", "computers", "caschool"):  # no script: auto_mpg's
    LMN[_name] = dict(LMN["autompg"])


def lmn_net(table: Table, d: int, seed: int, c: dict | None = None) -> torch.nn.Module:
    from monotonenorm import GroupSort, SigmaNet, direct_norm

    c = c or LMN[table.name]
    torch.manual_seed(seed)
    w, lip = c["width"], c["per_layer_lip"]
    kw = {} if table.name != "compas" else {"max_norm": lip}
    body = torch.nn.Sequential(
        direct_norm(torch.nn.Linear(d, w), kind="one-inf", **kw), GroupSort(w // 2),
        direct_norm(torch.nn.Linear(w, w), kind="inf", **kw), GroupSort(w // 2),
        direct_norm(torch.nn.Linear(w, 1), kind="inf", **kw))
    constraints = [0] * d
    for i, s in table.monotone:
        constraints[i] = int(s)
    return SigmaNet(body, sigma=c["sigma"], monotone_constraints=constraints)


def fit_lmn(table: Table, sp: Any, seed: int, patience: int = 200,
            select_on_test: bool = False, config: dict | None = None) -> tuple:
    c = {**LMN[table.name], **(config or {})}
    st = _Std(sp.x_train, sp.y_train, table.task)
    net = lmn_net(table, sp.x_train.shape[1], seed, c)
    start = time.perf_counter()
    sel = (st.x(sp.x_test), st.y(sp.y_test)) if select_on_test else None
    net, info = _train_torch(net, st, sp, table.task, c["lr"], c["batch"], c["epochs"],
                             patience, select_on=sel)
    info.update(train_time_s=time.perf_counter() - start, params=_params(net))

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return st.out(net(st.x(x)))
    return predict, info, net, st


# --- MLP ---------------------------------------------------------------------------------

def fit_mlp(table: Table, sp: Any, seed: int) -> tuple:
    """Unconstrained ReLU MLP, 2 hidden layers; width and lr chosen on validation loss from
    {32, 128} x {1e-3, 3e-3}; early stopping on validation (patience 50 epochs)."""
    st = _Std(sp.x_train, sp.y_train, table.task)
    n = len(sp.x_train)
    batch = None if n <= 64 else int(min(1024, max(32, 2 ** round(np.log2(n / 50)))))
    best = None
    start = time.perf_counter()
    for width in (32, 128):
        for lr in (1e-3, 3e-3):
            torch.manual_seed(seed)
            d = sp.x_train.shape[1]
            net = torch.nn.Sequential(torch.nn.Linear(d, width), torch.nn.ReLU(),
                                      torch.nn.Linear(width, width), torch.nn.ReLU(),
                                      torch.nn.Linear(width, 1))
            net, info = _train_torch(net, st, sp, table.task, lr, batch, 1000, 50)
            if best is None or info["select_loss"] < best[1]["select_loss"]:
                best = (net, {**info, "width": width, "lr": lr})
    net, info = best
    info.update(train_time_s=time.perf_counter() - start, params=_params(net))

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return st.out(net(st.x(x)))
    return predict, info


# --- XGBoost -----------------------------------------------------------------------------

def fit_xgb(table: Table, sp: Any, seed: int) -> tuple:
    """XGBoost with monotone_constraints; max_depth x learning_rate chosen on validation
    loss, n_estimators by early stopping on validation (50 rounds), n_jobs=1."""
    import xgboost as xgb

    d = sp.x_train.shape[1]
    cons = [0] * d
    for i, s in table.monotone:
        cons[i] = int(s)
    cons = "(" + ",".join(map(str, cons)) + ")"
    Model = xgb.XGBClassifier if table.task == "cls" else xgb.XGBRegressor
    metric = "logloss" if table.task == "cls" else "rmse"
    best = None
    start = time.perf_counter()
    for depth in (2, 3, 4, 6):
        for lr in (0.03, 0.1):
            m = Model(n_estimators=2000, max_depth=depth, learning_rate=lr, subsample=0.8,
                      colsample_bytree=0.8, monotone_constraints=cons, n_jobs=1,
                      random_state=seed, tree_method="hist", eval_metric=metric,
                      early_stopping_rounds=50)
            m.fit(sp.x_train, sp.y_train, eval_set=[(sp.x_val, sp.y_val)], verbose=False)
            score = m.best_score
            if best is None or score < best[1]:
                best = (m, score, {"max_depth": depth, "learning_rate": lr,
                                   "n_estimators": int(m.best_iteration) + 1})
    m, _, info = best
    info["train_time_s"] = time.perf_counter() - start
    trees = m.get_booster().trees_to_dataframe()
    trees = trees[trees["Tree"] < info["n_estimators"]]
    info["params"] = int(len(trees))  # nodes (split or leaf) in the trees used

    def predict(x: np.ndarray) -> np.ndarray:
        if table.task == "cls":
            return m.predict(x, output_margin=True, iteration_range=(0, info["n_estimators"]))
        return m.predict(x, iteration_range=(0, info["n_estimators"]))
    return predict, info


def lmn_published(table: Table, sp: Any, seed: int) -> dict[str, float]:
    """LMN as its scripts run it: train on the whole training split (train + validation, no
    selection set) for the scripts' epochs; the best test score over epochs (and, for
    classification, over the scripts' thresholds)."""
    c = LMN[table.name]
    st = _Std(sp.x_train, sp.y_train, table.task)
    net = lmn_net(table, sp.x_train.shape[1], seed)
    xt, yt = st.x(sp.x_train), st.y(sp.y_train)
    xs = st.x(sp.x_test)
    y = sp.y_test
    loss_fn = (torch.nn.functional.binary_cross_entropy_with_logits if table.task == "cls"
               else torch.nn.functional.mse_loss)
    opt = torch.optim.Adam(net.parameters(), lr=c["lr"])
    g = torch.Generator().manual_seed(seed)
    best: dict[str, float] = {}
    n, size = len(xt), c["batch"] or len(xt)
    start = time.perf_counter()
    for _ in range(c["epochs"]):
        net.train()
        order = torch.randperm(n, generator=g) if c["batch"] else torch.arange(n)
        for k in range(0, n, size):
            idx = order[k:k + size]
            opt.zero_grad()
            loss_fn(net(xt[idx]), yt[idx]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            z = st.out(net(xs))
        if table.task == "cls":
            p = 1 / (1 + np.exp(-z))
            acc = float(np.mean((p > 0.5) == y))
            if table.name == "heart":
                tuned = max(float(np.mean((z > t) == y)) for t in np.linspace(-1, 1, 100))
            else:
                tuned = max(float(np.mean((p > t) == y)) for t in np.linspace(0, 1, 50))
            best["accuracy"] = max(best.get("accuracy", 0.0), acc)
            best["accuracy_tuned"] = max(best.get("accuracy_tuned", 0.0), tuned)
        else:
            mse = float(np.mean((z - y) ** 2))
            best["mse"] = min(best.get("mse", np.inf), mse)
            best["rmse"] = float(np.sqrt(best["mse"]))
    best["train_time_s"] = time.perf_counter() - start
    best["epochs"] = c["epochs"]
    return best


# --- the newer peers (defaults: each package's README example; grids for the tuned row) ---

def _batch(n: int) -> int | None:
    return None if n <= 64 else int(min(1024, max(32, 2 ** round(np.log2(n / 50)))))


def _fit_grid(table: Table, sp: Any, seed: int, make: Any, grid: list[dict],
              x_raw: bool = False, after: Any = None) -> tuple:
    """Train `make(config, d)` for each config of `grid` (Adam, early stopping on validation
    loss, patience 50 epochs, at most 1000 epochs, batches ~rows/50), keep the best on
    validation."""
    st = _Std(sp.x_train, sp.y_train, table.task)
    if x_raw:  # the model calibrates raw inputs itself (lattice keypoints at quantiles)
        st.mx, st.sx = np.zeros_like(st.mx), np.ones_like(st.sx)
    batch = _batch(len(sp.x_train))
    per_epoch = 1 if batch is None else int(np.ceil(len(sp.x_train) / batch))
    epochs = min(1000, max(50, 20_000 // per_epoch))  # jacnet's plan caps steps at 20,000 too
    best = None
    start = time.perf_counter()
    for config in grid:
        torch.manual_seed(seed)
        net = make(config, sp.x_train.shape[1])
        hook = (lambda n=net: after(n)) if after is not None else None
        net, info = _train_torch(net, st, sp, table.task, config.get("lr", 1e-3), batch,
                                 config.get("epochs", epochs), 50,
                                 config.get("weight_decay", 0.0), after_step=hook)
        if best is None or info["select_loss"] < best[1]["select_loss"]:
            best = (net, {**info, **{k: v for k, v in config.items()
                                     if isinstance(v, (int, float, str))}})
    net, info = best
    info.update(train_time_s=time.perf_counter() - start, params=_params(net),
                configs=len(grid))

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return st.out(net(st.x(x)))
    return predict, info


def _constraints(table: Table, d: int) -> list[int]:
    cons = [0] * d
    for i, s in table.monotone:
        cons[i] = int(s)
    return cons


def fit_lmn2(table: Table, sp: Any, seed: int, grid: list[dict] | None = None) -> tuple:
    """monotonicnetworks (LMN's successor package): its README's network, LipschitzLinear
    (one-inf) -> GroupSort(2) -> LipschitzLinear (inf) wrapped by MonotonicWrapper (λ = 1)."""
    import monotonicnetworks as lmn

    def make(c: dict, d: int) -> torch.nn.Module:
        w, depth, lip = c.get("width", 32), c.get("depth", 1), c.get("lipschitz", 1.0)
        per = lip ** (1 / (depth + 1))
        layers = [lmn.LipschitzLinear(d, w, kind="one-inf", lipschitz_const=per),
                  lmn.GroupSort(2)]
        for _ in range(depth - 1):
            layers += [lmn.LipschitzLinear(w, w, kind="inf", lipschitz_const=per),
                       lmn.GroupSort(2)]
        layers.append(lmn.LipschitzLinear(w, 1, kind="inf", lipschitz_const=per))
        return lmn.MonotonicWrapper(torch.nn.Sequential(*layers), lipschitz_const=lip,
                                    monotonic_constraints=_constraints(table, d))
    return _fit_grid(table, sp, seed, make, grid or [{}])


def fit_cmnn(table: Table, sp: Any, seed: int, grid: list[dict] | None = None) -> tuple:
    """mononet (Runje & Shankaranarayana's constrained monotone dense layers, ICML 2023; with
    mode="switch" Sartor et al. 2025): its README's mixed-feature network, the free inputs
    through a ReLU MLP (16, 8), the monotone ones sign-flipped (MonoInput), then
    MonoLinear(64, elu) -> 2 x MonoResidual(64) -> MonoLinear(1)."""
    from mononet import MonotonicityMask
    from mononet.torch import MonoInput, MonoLinear, MonoResidual

    mono = [i for i, _ in table.monotone]
    signs = np.array([int(s) for _, s in table.monotone], dtype=np.int8)

    class Net(torch.nn.Module):
        def __init__(self, c: dict, d: int):
            super().__init__()
            w, mode, blocks = c.get("width", 64), c.get("mode", "absolute"), c.get("blocks", 2)
            self.mono = mono
            self.free = [i for i in range(d) if i not in mono]
            self.embed = torch.nn.Sequential(torch.nn.Linear(len(self.free), 16),
                                             torch.nn.ReLU(), torch.nn.Linear(16, 8),
                                             torch.nn.ReLU())
            self.mono_in = MonoInput(MonotonicityMask(signs))
            layers = [MonoLinear(len(mono) + 8, w, activation="elu", mode=mode)]
            layers += [MonoResidual(w, w, activation="elu", mode=mode) for _ in range(blocks)]
            layers.append(MonoLinear(w, 1, mode=mode))
            self.net = torch.nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = torch.cat([self.mono_in(x[:, self.mono]), self.embed(x[:, self.free])], -1)
            return self.net(z)
    return _fit_grid(table, sp, seed, lambda c, d: Net(c, d), grid or [{}])


class _Double(torch.nn.Module):
    """Runs a float64 model (pytorch-lattice keeps its keypoints in float64) on float32 data."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.double()).float()

    def apply_constraints(self) -> None:
        self.model.apply_constraints()


def fit_lattice(table: Table, sp: Any, seed: int, grid: list[dict] | None = None) -> tuple:
    """pytorch-lattice: a CalibratedLattice (piecewise-linear calibrators, keypoints at the
    training quantiles, then one lattice of size 2 per input; the package's defaults), or a
    CalibratedLinear where 2^d lattice vertices would be too many (d > 13: heart); the
    monotone inputs' calibrators and the lattice are constrained (apply_constraints after
    every step)."""
    from pytorch_lattice import Monotonicity
    from pytorch_lattice.models import CalibratedLattice, CalibratedLinear
    from pytorch_lattice.models.features import NumericalFeature

    signs = {i: s for i, s in table.monotone}

    def make(c: dict, d: int) -> torch.nn.Module:
        feats = []
        for i in range(d):
            mono = None if i not in signs else (Monotonicity.INCREASING if signs[i] > 0
                                                 else Monotonicity.DECREASING)
            col = sp.x_train[:, i]
            keypoints = min(c.get("keypoints", 5), len(np.unique(col)))
            feats.append(NumericalFeature(table.x[i], col, num_keypoints=max(2, keypoints),
                                          monotonicity=mono))
        model = CalibratedLattice(feats) if d <= 13 and not c.get("linear") else \
            CalibratedLinear(feats)
        return _Double(model.double())
    return _fit_grid(table, sp, seed, make, grid or [{"lr": 1e-2}], x_raw=True,
                     after=lambda net: net.apply_constraints())


def fit_mlp_grid(table: Table, sp: Any, seed: int, grid: list[dict] | None = None) -> tuple:
    """Unconstrained ReLU MLP, `depth` hidden layers of `width` (default 2 x 128, Adam 1e-3:
    the common default)."""
    def make(c: dict, d: int) -> torch.nn.Module:
        w, depth = c.get("width", 128), c.get("depth", 2)
        layers, k = [], d
        for _ in range(depth):
            layers += [torch.nn.Linear(k, w), torch.nn.ReLU()]
            k = w
        return torch.nn.Sequential(*layers, torch.nn.Linear(k, 1))
    return _fit_grid(table, sp, seed, make, grid or [{}])


def fit_xgb_grid(table: Table, sp: Any, seed: int, grid: list[dict] | None = None) -> tuple:
    """XGBoost with monotone_constraints; the package's defaults (max_depth 6, learning rate
    0.3) with n_estimators by early stopping on validation (50 rounds), or the best of `grid`
    on validation."""
    import xgboost as xgb

    cons = "(" + ",".join(map(str, _constraints(table, sp.x_train.shape[1]))) + ")"
    Model = xgb.XGBClassifier if table.task == "cls" else xgb.XGBRegressor
    metric = "logloss" if table.task == "cls" else "rmse"
    best = None
    start = time.perf_counter()
    for c in grid or [{}]:
        m = Model(n_estimators=2000, monotone_constraints=cons, n_jobs=1, random_state=seed,
                  tree_method="hist", eval_metric=metric, early_stopping_rounds=50, **c)
        m.fit(sp.x_train, sp.y_train, eval_set=[(sp.x_val, sp.y_val)], verbose=False)
        if best is None or m.best_score < best[1]:
            best = (m, m.best_score, {**c, "n_estimators": int(m.best_iteration) + 1})
    m, _, info = best
    info["train_time_s"] = time.perf_counter() - start
    info["configs"] = len(grid or [{}])
    trees = m.get_booster().trees_to_dataframe()
    info["params"] = int(len(trees[trees["Tree"] < info["n_estimators"]]))

    def predict(x: np.ndarray) -> np.ndarray:
        if table.task == "cls":
            return m.predict(x, output_margin=True, iteration_range=(0, info["n_estimators"]))
        return m.predict(x, iteration_range=(0, info["n_estimators"]))
    return predict, info
