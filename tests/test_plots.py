"""Every plotting function writes a real PNG from synthetic arrays: exp/log curves, a grid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jacnet_cli.plots import draw as plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, written: Path) -> None:
    assert Path(written) == path
    assert path.is_file()
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000, f"{path.name} is only {len(data)} bytes"


@pytest.fixture
def curve():
    x = np.linspace(-3, 3, 201)  # (M,)
    train_x = np.array([-0.9, -0.4, 0.1, 0.5, 0.8])  # (N,)
    return x, train_x


@pytest.fixture
def loss_and_tol():
    rng = np.random.default_rng(0)
    loss = 2.0 * np.exp(-np.arange(50) / 8) + 1e-3 * rng.random(50)  # (T,)
    tol, cur = np.empty(50), 0.1
    for i, value in enumerate(loss):  # the paper's schedule: halve when loss < tolerance
        cur = cur / 2 if value < cur else cur
        tol[i] = cur
    return loss, tol


@pytest.mark.subprocess
def test_import_is_light_and_backend_is_agg():
    code = ("import sys, jacnet_cli.plots.draw as p; "
            "assert 'torch' not in sys.modules and 'matplotlib.pyplot' not in sys.modules; "
            "print(p._pyplot().get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "MPLBACKEND": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().lower() == "agg"


def test_fit_1d(tmp_path, curve):
    x, tx = curve
    y = np.exp(x)
    others = {"unconstrained JacNet": np.minimum(y, np.e), "plain MLP": 1 + x}
    path = tmp_path / "fit.png"
    written = plots.fit_1d(path, x, y, 1.02 * y, tx, np.exp(tx), (-1, 1), init=0.2 * x,
                           others=others, title="exp")
    assert_png(path, written)
    assert_png(tmp_path / "bare.png",
               plots.fit_1d(str(tmp_path / "bare.png"), x, y, y, tx, np.exp(tx), (-1, 1)))


def test_fit_1d_rejects_mismatched_lengths(tmp_path, curve):
    x, tx = curve
    with pytest.raises(ValueError, match="length"):
        plots.fit_1d(tmp_path / "bad.png", x, np.exp(x), np.exp(x[:-1]), tx, tx, (-1, 1))


def test_jacobian_1d(tmp_path, curve):
    x, _ = curve
    path = tmp_path / "jac.png"
    written = plots.jacobian_1d(path, x, np.exp(x), np.exp(x) + 1e-4, fn_jac=np.exp(x),
                                bounds={"ε": 1e-4}, train_range=(-1, 1))
    assert_png(path, written)
    path = tmp_path / "jac_lip.png"
    written = plots.jacobian_1d(path, x, np.sign(x), np.tanh(3 * x), bounds={"k": 1, "-k": -1})
    assert_png(path, written)


def test_loss_curve_with_tolerance(tmp_path, loss_and_tol):
    loss, tol = loss_and_tol
    path = tmp_path / "loss.png"
    assert_png(path, plots.loss_curve(path, loss, tol, title="exp"))


@pytest.mark.parametrize("tolerance", [None, [None] * 50, np.full(50, np.nan)],
                         ids=["none", "list-of-none", "nan"])
def test_loss_curve_without_tolerance(tmp_path, loss_and_tol, tolerance):
    loss, _ = loss_and_tol
    path = tmp_path / "loss.png"
    assert_png(path, plots.loss_curve(path, loss, tolerance))


def test_loss_curve_linear_and_nonpositive(tmp_path, loss_and_tol):
    loss, tol = loss_and_tol
    path = tmp_path / "loss_lin.png"
    assert_png(path, plots.loss_curve(path, np.r_[loss[:-1], 0.0], tol, log=False))


def test_inverse_1d(tmp_path):
    y = np.linspace(np.exp(-2), np.exp(2), 150)  # (K,)
    path = tmp_path / "inv.png"
    assert_png(path, plots.inverse_1d(path, y, np.log(y) + 1e-4 * np.sin(y), np.log(y)))
    path = tmp_path / "inv_only.png"
    assert_png(path, plots.inverse_1d(path, y, np.log(y)))
    path = tmp_path / "inv_exact.png"  # zero error must not break the log panel
    assert_png(path, plots.inverse_1d(path, y, np.log(y), np.log(y)))


def rotated_grid(angle: float, n: int = 7, m: int = 40) -> list[np.ndarray]:
    g, s = np.linspace(-1, 1, n), np.linspace(-1, 1, m)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lines = [np.stack([s, np.full_like(s, c)], 1) for c in g]
    lines += [np.stack([np.full_like(s, c), s], 1) for c in g]
    return [line @ rot.T for line in lines]  # each (L, 2)


def test_grid_2d(tmp_path):
    pts = np.random.default_rng(0).uniform(-1, 1, (12, 2))  # (P, 2)
    path = tmp_path / "grid.png"
    assert_png(path, plots.grid_2d(path, rotated_grid(0.4), rotated_grid(0.45), train_x=pts))
    path = tmp_path / "grid_plain.png"
    assert_png(path, plots.grid_2d(path, rotated_grid(0.4), rotated_grid(0.45)))


def test_error_field_2d(tmp_path):
    xs, ys = np.linspace(-2, 2, 40), np.linspace(-1.5, 1.5, 30)  # (W,), (H,)
    err = 1e-4 * np.exp(xs[None, :] ** 2 + ys[:, None] ** 2)  # (H, W)
    err[0, 0] = 0.0
    pts = np.random.default_rng(0).uniform(-1, 1, (8, 2))
    path = tmp_path / "err.png"
    assert_png(path, plots.error_field_2d(path, xs, ys, err, train_x=pts))
    path = tmp_path / "err_zero.png"
    assert_png(path, plots.error_field_2d(path, xs, ys, np.zeros((30, 40))))
    with pytest.raises(ValueError, match="shape"):
        plots.error_field_2d(tmp_path / "bad.png", xs, ys, err.T)


def test_paper_figure(tmp_path, curve):
    x, tx = curve
    y = np.exp(x)
    curves = {"initialisation": 0.1 * x, "JacNet pd (trained)": 1.01 * y,
              "JacNet none": np.minimum(y, np.e), "plain MLP": 1 + x}
    ys = np.linspace(np.exp(-2), np.exp(2), 100)
    inverse = {"y": ys, "true": np.log(ys),
               "curves": {"JacNet pd (trained)": np.log(ys) + 0.01, "JacNet none": np.log(ys)}}
    path = tmp_path / "fig1.png"
    assert_png(path, plots.paper_figure(path, x, y, curves, tx, np.exp(tx), (-1, 1),
                                        inverse=inverse, title="Figure 1"))
    path = tmp_path / "fig2.png"
    assert_png(path, plots.paper_figure(path, x, np.abs(x), {"JacNet tanh": np.abs(x)}, tx,
                                        np.abs(tx), (-1, 1)))
    with pytest.raises(ValueError, match="missing keys"):
        plots.paper_figure(tmp_path / "bad.png", x, y, curves, tx, tx, (-1, 1),
                           inverse={"y": ys})


def test_paper_loss_figure(tmp_path, loss_and_tol):
    loss, tol = loss_and_tol
    panels = [{"title": "invertible", "curves": {"pd": loss, "none": 1.5 * loss},
               "tolerance": tol},
              {"title": "Lipschitz", "curves": {"tanh": loss[:40]}, "tolerance": None}]
    path = tmp_path / "fig3.png"
    assert_png(path, plots.paper_loss_figure(path, panels, title="Figure 3"))


def sweep_table(missing: int = 0) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = [{"lr": lr, "activation": act, "seed": seed,
             "test_mse": (0.1 if act == "none" else 1e-3) * lr * 100 * (1 + rng.random())}
            for lr in (1e-4, 1e-3, 1e-2, 1e-1) for act in ("pd", "none") for seed in range(3)]
    return rows + [{"lr": 1e-3, "activation": "pd", "seed": 9}] * missing


def test_metric_vs_param_numeric_with_seeds_and_missing(tmp_path):
    path = tmp_path / "sweep.png"
    assert_png(path, plots.metric_vs_param(path, sweep_table(missing=2), "lr", "test_mse",
                                           group_key="activation"))


def test_metric_vs_param_categorical(tmp_path):
    path = tmp_path / "sweep_cat.png"
    assert_png(path, plots.metric_vs_param(path, sweep_table(missing=1), "activation", "test_mse"))
    path = tmp_path / "sweep_cat_groups.png"
    assert_png(path, plots.metric_vs_param(path, sweep_table(), "activation", "test_mse",
                                           group_key="lr"))


def test_metric_vs_param_strings_and_none_metric(tmp_path):
    rows = [{"hidden": str(h), "mse": str(1.0 / h), "seed": s} for h in (8, 16, 64) for s in (0, 1)]
    rows.append({"hidden": "32", "mse": None})
    path = tmp_path / "sweep_str.png"
    assert_png(path, plots.metric_vs_param(path, rows, "hidden", "mse"))


def test_metric_vs_param_no_rows_with_metric(tmp_path):
    with pytest.raises(ValueError, match="test_mse"):
        plots.metric_vs_param(tmp_path / "none.png", [{"lr": 1.0}], "lr", "test_mse")
