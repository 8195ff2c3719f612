"""Figures for jacnet runs: pure functions from numpy arrays to one PNG each.

Nothing here knows about models or torch; the tasks evaluate their networks and hand the
arrays over. Every function writes one PNG (dpi 150) to the path it is given, closes its
figure and returns the path. Matplotlib is imported on first use with the Agg backend, so
importing this module is free and plotting works without a display.

Style, shared by every figure: the truth is black, the trained JacNet is the first palette
colour (solid), comparison curves take the next colours, each with its own dash pattern so
they stay apart in greyscale; the prediction at initialisation is dotted grey; training
points are black-edged markers; the training interval is a light shaded band.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

PathLike = str | os.PathLike

DPI = 150
TRUE_COLOR = "black"
INIT_COLOR = "0.55"
SPAN_COLOR = "0.88"
POINT_STYLE = dict(marker="o", s=46, facecolor="#E69F00", edgecolor="black", linewidths=0.9,
                   zorder=6)
# Okabe-Ito colours (colour-blind safe); the first is the trained JacNet.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#8C564B", "#E69F00")
DASHES = ("-", "--", "-.", (0, (1, 1.6)), (0, (6, 2, 1, 2, 1, 2)), (0, (8, 3)),
          (0, (3, 1.5, 3, 4)))
_RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "lines.linewidth": 1.7,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.framealpha": 0.9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# More legend entries than this go below the axes instead of "best" inside them.
_INSIDE_MAX = 5


# --------------------------------------------------------------------------- helpers


@functools.cache
def _pyplot() -> Any:
    """Import pyplot once, choosing Agg unless someone already picked a backend via pyplot."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def prefetch() -> None:
    """Start importing pyplot in a background thread (a daemon), so a run that will plot
    has it loaded by the time it plots: the import (0.5-1.5 s) overlaps training and
    evaluation, whose torch work releases the GIL. `_pyplot` then finds it imported (or
    waits on the import lock)."""
    import threading

    def load() -> None:
        try:
            _pyplot()
        except Exception:  # noqa: BLE001 - the plotting call itself reports any problem
            pass

    threading.Thread(target=load, name="jacnet-pyplot", daemon=True).start()


@contextmanager
def _style() -> Iterator[Any]:
    plt = _pyplot()
    with plt.rc_context(_RC):
        yield plt


def _save(fig: Any, path: PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # zlib level 1: a third of the encoding time of the default 6, files ~1.3x larger
        fig.savefig(path, dpi=DPI, bbox_inches="tight", format="png",
                    pil_kwargs={"compress_level": 1})
    finally:
        _pyplot().close(fig)
    return path


def _arr(a: ArrayLike, name: str, ndim: int | None = 1) -> np.ndarray:
    """As a float array; None entries become NaN. Checks the number of dimensions."""
    try:
        out = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        out = np.array([np.nan if v is None else v for v in np.ravel(np.asarray(a, dtype=object))],
                       dtype=float).reshape(np.shape(a))
    if ndim is not None and out.ndim != ndim:
        if ndim == 1 and out.ndim == 2 and 1 in out.shape:
            return out.reshape(-1)  # (M, 1) from a 1-D model output
        raise ValueError(f"{name} must be a {ndim}-D array; got shape {out.shape}")
    return out


def _same_len(x: np.ndarray, **arrays: np.ndarray | None) -> None:
    for name, a in arrays.items():
        if a is not None and len(a) != len(x):
            raise ValueError(f"{name} has length {len(a)}, expected {len(x)} (the number of "
                             "evaluation points); evaluate every curve on the same points")


def _curve_style(i: int) -> dict[str, Any]:
    """Colour and dash for the i-th coloured curve (0 = trained JacNet)."""
    return dict(color=PALETTE[i % len(PALETTE)], linestyle=DASHES[i % len(DASHES)])


def _is_init(label: str) -> bool:
    return label.strip().lower().startswith("init")


def _styles_for(labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Styles by label: 'init...' is dotted grey, the others take palette slots in order."""
    styles, k = {}, 0
    for label in labels:
        if _is_init(label):
            styles[label] = dict(color=INIT_COLOR, linestyle=":", linewidth=2.0)
        else:
            styles[label] = _curve_style(k)
            k += 1
    return styles


def _shade(ax: Any, train_range: Sequence[float] | None, label: str = "training interval") -> None:
    if train_range is not None:
        lo, hi = float(train_range[0]), float(train_range[1])
        ax.axvspan(lo, hi, color=SPAN_COLOR, alpha=0.7, lw=0, zorder=0, label=label)


def _focus_ylim(ax: Any, arrays: Sequence[np.ndarray], pad: float = 0.12) -> None:
    """Fit the y-range to the arrays that matter, so a diverging comparison curve
    (e.g. an unconstrained fit far outside the training data) cannot squash the target."""
    vals = np.concatenate([np.ravel(a) for a in arrays if a is not None and np.size(a)])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return
    lo, hi = float(vals.min()), float(vals.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    ax.set_ylim(lo - pad * span, hi + pad * span)


def _legend(ax: Any, below: bool = False, ncol: int | None = None) -> Any:
    """Legend inside at 'best' when short, centred below the axes when long or asked."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if len(handles) <= _INSIDE_MAX and not below:
        return ax.legend(handles, labels, loc="best")
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                     ncol=ncol or min(len(handles), 3), frameon=False)


def _ghost_lines(target_ax: Any, source_ax: Any) -> None:
    """Invisible copies of source_ax's lines in target_ax, so a loc='best' legend placed on
    target_ax also avoids them (twin axes do not see each other's artists)."""
    from matplotlib.lines import Line2D

    for line in source_ax.get_lines():
        ghost = Line2D(line.get_xdata(), line.get_ydata(), transform=source_ax.transData,
                       visible=False)
        target_ax.add_artist(ghost)  # add_artist: leaves target_ax's data limits alone


def _default(title: str, fallback: str) -> str:
    return title if title else fallback


def _draw_tolerance(ax: Any, tolerance: ArrayLike | None) -> Any | None:
    """Tolerance as a log step line on a twin axis, with a marker wherever it tightens.

    Returns the twin axis, or None when there is no finite tolerance (fixed-step solvers).
    """
    if tolerance is None:
        return None
    tol = _arr(tolerance, "tolerance")
    tol = np.where(tol > 0, tol, np.nan)
    if not np.isfinite(tol).any():
        return None
    it = np.arange(len(tol))
    ax2 = ax.twinx()
    ax2.grid(False)
    ax2.spines["right"].set_visible(True)
    color = "#E69F00"
    ax2.step(it, tol, where="post", color=color, linestyle="--", linewidth=1.4,
             label="solver tolerance")
    prev = np.concatenate([[np.nan], tol[:-1]])
    drops = np.flatnonzero(np.isfinite(prev) & np.isfinite(tol) & (tol < prev))
    if drops.size:
        ax2.plot(it[drops], tol[drops], linestyle="none", marker="v", markersize=6,
                 color=color, markeredgecolor="black", markeredgewidth=0.6,
                 label=f"tolerance tightened ({drops.size}x)")
    ax2.set_yscale("log")
    ax2.set_ylabel("solver tolerance", color="#9A6700")
    ax2.tick_params(axis="y", colors="#9A6700", which="both")
    return ax2


def _loss_axes(ax: Any, loss_curves: Mapping[str, np.ndarray], tolerance: ArrayLike | None,
               log: bool, below: bool) -> None:
    """Loss curves on ax (+ tolerance on a twin axis) with one combined legend."""
    for i, (label, loss) in enumerate(loss_curves.items()):
        loss = _arr(loss, f"loss[{label!r}]")
        if log:
            loss = np.where(loss > 0, loss, np.nan)
        ax.plot(np.arange(len(loss)), loss, label=label, **_curve_style(i))
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("training loss")
    ax2 = _draw_tolerance(ax, tolerance)
    handles, labels = ax.get_legend_handles_labels()
    host = ax
    if ax2 is not None:
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
        _ghost_lines(ax2, ax)
        host = ax2  # the legend must sit on the top axis to be drawn over both
    if below:
        host.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                    ncol=min(len(handles), 4), frameon=False)
    else:
        host.legend(handles, labels, loc="best")


# --------------------------------------------------------------------------- 1-D figures


def fit_1d(path: PathLike, x: ArrayLike, target: ArrayLike | None, trained: ArrayLike,
           train_x: ArrayLike, train_y: ArrayLike, train_range: Sequence[float],
           init: ArrayLike | None = None, others: Mapping[str, ArrayLike] | None = None,
           title: str = "", test_x: ArrayLike | None = None,
           test_y: ArrayLike | None = None, labels: tuple[str, str] = ("x", "y")) -> Path:
    """Plot the learned function against the target, with training data and interval.

    Args:
        path: PNG file to write.
        x: (M,) evaluation points, sorted.
        target: (M,) true y(x), drawn solid black; None for data without a closed form.
        trained: (M,) trained JacNet prediction, drawn solid in the first palette colour.
        train_x, train_y: (N,) training points, drawn as markers.
        train_range: (lo, hi) of the training interval, shaded.
        init: (M,) prediction at initialisation, dotted grey; optional.
        others: label -> (M,) extra comparison curves (e.g. "plain MLP"), each with its own
            colour and dash pattern. The y-range follows target, trained and training data, so
            a curve that diverges far off leaves the frame rather than flattening the rest.
        title: figure title; a default is used when empty.
        test_x, test_y: (P,) held-out points, drawn as open markers; optional.
        labels: the axes' names (the data's column names).

    Returns:
        The path written.
    """
    x = _arr(x, "x")
    trained = _arr(trained, "trained")
    target = trained if target is None else _arr(target, "target")
    has_target = target is not trained
    init = None if init is None else _arr(init, "init")
    others = {k: _arr(v, f"others[{k!r}]") for k, v in (others or {}).items()}
    _same_len(x, target=target, trained=trained, init=init, **others)
    train_x, train_y = _arr(train_x, "train_x"), _arr(train_y, "train_y")
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        if has_target:
            ax.plot(x, target, color=TRUE_COLOR, linewidth=2.8, label="target y(x)", zorder=2)
        if init is not None:
            ax.plot(x, init, color=INIT_COLOR, linestyle=":", linewidth=2.0,
                    label="initialisation", zorder=3)
        ax.plot(x, trained, label="JacNet (trained)", zorder=4, **_curve_style(0))
        for i, (label, y) in enumerate(others.items(), start=1):
            ax.plot(x, y, label=label, zorder=3, **_curve_style(i))
        ax.scatter(train_x, train_y, label="training points", **POINT_STYLE)
        if test_x is not None and test_y is not None:
            ax.scatter(_arr(test_x, "test_x"), _arr(test_y, "test_y"), label="test points",
                       facecolors="none", edgecolors=PALETTE[2], s=22, linewidths=1.0, zorder=5)
        _shade(ax, train_range)  # last, so the legend lists it last (zorder keeps it behind)
        _focus_ylim(ax, [target, trained, train_y])
        ax.set_xlim(x.min(), x.max())
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_title(_default(title, "Learned function vs target"))
        _legend(ax)
        return _save(fig, path)


def jacobian_1d(path: PathLike, x: ArrayLike, true_jac: ArrayLike | None, net_jac: ArrayLike,
                fn_jac: ArrayLike | None = None, bounds: Mapping[str, float] | None = None,
                train_range: Sequence[float] | None = None, title: str = "") -> Path:
    """Plot the learned structured Jacobian J_θ(x) against the true derivative.

    Args:
        path: PNG file to write.
        x: (M,) evaluation points, sorted.
        true_jac: (M,) true dy/dx, solid black; None for data without a closed form.
        net_jac: (M,) the network's structured Jacobian J_θ(x), solid colour.
        fn_jac: (M,) derivative of the integrated prediction as evaluated (e.g. by autograd
            or finite differences), dashed; optional. It should lie on net_jac.
        bounds: label -> value, horizontal reference lines for the guarantee
            (e.g. {"ε": 1e-4} or {"k": 1, "-k": -1}); optional.
        train_range: (lo, hi) of the training interval, shaded; optional.
        title: figure title; a default is used when empty.

    Returns:
        The path written.
    """
    x = _arr(x, "x")
    net_jac = _arr(net_jac, "net_jac")
    true_jac = None if true_jac is None else _arr(true_jac, "true_jac")
    fn_jac = None if fn_jac is None else _arr(fn_jac, "fn_jac")
    _same_len(x, true_jac=true_jac, net_jac=net_jac, fn_jac=fn_jac)
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        if true_jac is not None:
            ax.plot(x, true_jac, color=TRUE_COLOR, linewidth=2.8, label="true dy/dx", zorder=2)
        ax.plot(x, net_jac, label="network Jθ(x)", zorder=3, **_curve_style(0))
        if fn_jac is not None:
            ax.plot(x, fn_jac, color=PALETTE[1], linestyle="--", linewidth=1.6, zorder=4,
                    label="d/dx of integrated prediction")
        bound_colors = ("#009E73", "#CC79A7", "#56B4E9", "#8C564B")
        for i, (label, value) in enumerate((bounds or {}).items()):
            ax.axhline(float(value), color=bound_colors[i % len(bound_colors)],
                       linestyle=(0, (4, 2, 1, 2)), linewidth=1.3, zorder=5,
                       label=f"bound {label} = {float(value):g}")
        _shade(ax, train_range)
        ax.set_xlim(x.min(), x.max())
        ax.set_xlabel("x")
        ax.set_ylabel("dy/dx")
        ax.set_title(_default(title, "Learned Jacobian vs true derivative"))
        _legend(ax)
        return _save(fig, path)


def loss_curve(path: PathLike, loss: ArrayLike, tolerance: ArrayLike | None = None,
               title: str = "", log: bool = True,
               validation: tuple[ArrayLike, ArrayLike] | None = None) -> Path:
    """Plot training loss per iteration, with the solver tolerance on a second axis.

    Args:
        path: PNG file to write.
        loss: (T,) training loss per iteration.
        tolerance: (T,) solver tolerance per iteration, drawn as a log step line with a
            marker wherever it tightens; None, or all None/NaN (fixed-step solvers), skips it.
        title: figure title; a default is used when empty.
        log: log-scale the loss axis (non-positive losses are then not drawn).
        validation: (iterations, validation losses) measured once per epoch, drawn as a
            second line; None skips it.

    Returns:
        The path written.
    """
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        if validation is not None and len(validation[0]):
            its, vals = _arr(validation[0], "validation[0]"), _arr(validation[1], "validation[1]")
            ax.plot(its, np.where(vals > 0, vals, np.nan) if log else vals, color="#d55e00",
                    lw=1.6, marker="o", ms=2.5, label="validation loss", zorder=3)
        _loss_axes(ax, {"training loss": loss}, tolerance, log, below=False)
        if validation is not None and len(validation[0]):
            ax.set_ylabel("loss")
        ax.set_xlabel("iteration")
        ax.set_title(_default(title, "Training loss"))
        return _save(fig, path)


def inverse_1d(path: PathLike, y: ArrayLike, learned_x: ArrayLike,
               true_x: ArrayLike | None = None, title: str = "") -> Path:
    """Plot the learned inverse x = f⁻¹(y), against the true inverse with its error below.

    Args:
        path: PNG file to write.
        y: (K,) output values at which the inverse was evaluated, sorted.
        learned_x: (K,) learned inverse, solid colour.
        true_x: (K,) true inverse, solid black; when given, a lower panel shows
            |learned - true| on a log scale.
        title: figure title; a default is used when empty.

    Returns:
        The path written.
    """
    y, learned_x = _arr(y, "y"), _arr(learned_x, "learned_x")
    true_x = None if true_x is None else _arr(true_x, "true_x")
    _same_len(y, learned_x=learned_x, true_x=true_x)
    with _style() as plt:
        if true_x is None:
            fig, ax = plt.subplots(figsize=(6.4, 4.2))
            err_ax = None
        else:
            fig, (ax, err_ax) = plt.subplots(2, 1, figsize=(6.4, 5.2), sharex=True,
                                             gridspec_kw=dict(height_ratios=(3, 1), hspace=0.08))
            ax.plot(y, true_x, color=TRUE_COLOR, linewidth=2.8, label="true inverse", zorder=2)
        ax.plot(y, learned_x, label="learned inverse", zorder=3, **_curve_style(0))
        ax.set_ylabel("x = f⁻¹(y)")
        ax.set_title(_default(title, "Learned inverse"))
        _legend(ax)
        if err_ax is None:
            ax.set_xlabel("y")
        else:
            err = np.abs(learned_x - true_x)
            finite = err[np.isfinite(err)]
            floor = max(float(finite.max()) * 1e-12, 1e-300) if finite.size else 1e-300
            err_ax.semilogy(y, np.maximum(err, floor), color=PALETTE[1], linewidth=1.4)
            err_ax.set_ylabel("|error|")
            err_ax.set_xlabel("y")
            ax.tick_params(labelbottom=False)
        ax.set_xlim(y.min(), y.max())
        return _save(fig, path)


# --------------------------------------------------------------------------- 2-D figures


def grid_2d(path: PathLike, true_lines: Sequence[ArrayLike] | None,
            learned_lines: Sequence[ArrayLike],
            train_x: ArrayLike | None = None, title: str = "") -> Path:
    """Plot a deformed grid: images of grid lines under the true and the learned 2-D map.

    Args:
        path: PNG file to write.
        true_lines: list of (L, 2) arrays, images under the true map; light grey solid.
        learned_lines: list of (L, 2) arrays, images under the learned map; colour dashed.
        train_x: (P, 2) points to mark (e.g. the training inputs' images); optional.
        title: figure title; a default is used when empty.

    Returns:
        The path written.
    """
    true_lines = [_arr(a, "true_lines[i]", ndim=2) for a in (true_lines or [])]
    learned_lines = [_arr(a, "learned_lines[i]", ndim=2) for a in learned_lines]
    for a in true_lines + learned_lines:
        if a.shape[-1] != 2:
            raise ValueError(f"grid lines must be (L, 2) arrays; got shape {a.shape}")
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(5.8, 5.8))
        for i, line in enumerate(true_lines):
            ax.plot(line[:, 0], line[:, 1], color="0.62", linewidth=2.2,
                    label="true map" if i == 0 else None, zorder=2)
        for i, line in enumerate(learned_lines):
            ax.plot(line[:, 0], line[:, 1], color=PALETTE[0], linestyle="--", linewidth=1.2,
                    label="learned map" if i == 0 else None, zorder=3)
        if train_x is not None:
            pts = _arr(train_x, "train_x", ndim=2)
            ax.scatter(pts[:, 0], pts[:, 1], label="training points", **POINT_STYLE)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("y₁")
        ax.set_ylabel("y₂")
        ax.set_title(_default(title, "Image of a grid: true vs learned map"))
        _legend(ax, below=True)
        return _save(fig, path)


def parity(path: PathLike, observed: ArrayLike, predicted: ArrayLike, label: str = "y",
           title: str = "") -> Path:
    """Predicted against observed values of one output on held-out points, with y = x.

    Args:
        path: PNG file to write.
        observed, predicted: (P,) values.
        label: the output's name.
        title: figure title; a default is used when empty.

    Returns:
        The path written.
    """
    observed, predicted = _arr(observed, "observed"), _arr(predicted, "predicted")
    _same_len(observed, predicted=predicted)
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(5.2, 5.0))
        lo = float(min(observed.min(), predicted.min()))
        hi = float(max(observed.max(), predicted.max()))
        ax.plot([lo, hi], [lo, hi], color=TRUE_COLOR, linewidth=1.4, label="ŷ = y", zorder=2)
        ax.scatter(observed, predicted, label="test points", **POINT_STYLE)
        ax.set_xlabel(f"observed {label}")
        ax.set_ylabel(f"predicted {label}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(_default(title, "Predicted vs observed"))
        _legend(ax)
        return _save(fig, path)


def error_field_2d(path: PathLike, xs: ArrayLike, ys: ArrayLike, err: ArrayLike,
                   train_x: ArrayLike | None = None, title: str = "") -> Path:
    """Plot a log-scale heat map of the prediction error |ŷ − y| over a 2-D input grid.

    Args:
        path: PNG file to write.
        xs: (W,) grid coordinates along x₁.
        ys: (H,) grid coordinates along x₂.
        err: (H, W) error at (xs[j], ys[i]); values below a floor (the smallest positive
            value, at most 8 decades under the largest) are clipped to it, so zeros are fine.
        train_x: (P, 2) training inputs, drawn as markers; optional.
        title: figure title; a default is used when empty.

    Returns:
        The path written.
    """
    from matplotlib.colors import LogNorm

    xs, ys = _arr(xs, "xs"), _arr(ys, "ys")
    err = _arr(err, "err", ndim=2)
    if err.shape != (len(ys), len(xs)):
        raise ValueError(f"err must have shape (len(ys), len(xs)) = {(len(ys), len(xs))}; "
                         f"got {err.shape}")
    pos = err[np.isfinite(err) & (err > 0)]
    top = float(pos.max()) if pos.size else 1.0
    # At most 8 decades of colour, so one exact point (an anchor) cannot wash out the map.
    floor = max(float(pos.min()), top * 1e-8) if pos.size else 1e-16
    top = max(top, floor * 10)
    shown = np.clip(np.where(np.isfinite(err), err, top), floor, None)
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(6.2, 5.0))
        mesh = ax.pcolormesh(xs, ys, shown, norm=LogNorm(vmin=floor, vmax=top),
                             cmap="viridis", shading="auto")
        ax.grid(False)
        clipped = bool((shown <= floor).any() and (err < floor).any())
        cbar = fig.colorbar(mesh, ax=ax, extend="min" if clipped else "neither")
        cbar.set_label("|ŷ − y|")
        if train_x is not None:
            pts = _arr(train_x, "train_x", ndim=2)
            style = dict(POINT_STYLE, facecolor="white")
            ax.scatter(pts[:, 0], pts[:, 1], label="training inputs", **style)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
        ratio = np.ptp(ys) / np.ptp(xs) if np.ptp(xs) > 0 else 1.0
        if 1 / 3 <= ratio <= 3:
            ax.set_aspect("equal")
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
        ax.set_title(_default(title, "Prediction error |ŷ − y|"))
        return _save(fig, path)


# --------------------------------------------------------------------------- paper figures


def paper_figure(path: PathLike, x: ArrayLike, target: ArrayLike, curves: Mapping[str, ArrayLike],
                 train_x: ArrayLike, train_y: ArrayLike, train_range: Sequence[float],
                 inverse: Mapping[str, Any] | None = None, title: str = "") -> Path:
    """Draw the paper's Figure 1/2: the fit, and optionally the learned inverse beside it.

    Args:
        path: PNG file to write.
        x: (M,) evaluation points, sorted.
        target: (M,) true y(x), solid black.
        curves: ordered label -> (M,) predictions, e.g. "initialisation", "JacNet pd (trained)",
            "JacNet none", "plain MLP". A label starting with "init" is dotted grey; the others
            take palette colours and dash patterns in order (the first is solid).
        train_x, train_y: (N,) training points, drawn as markers.
        train_range: (lo, hi) of the training interval, shaded.
        inverse: optional {"y": (K,), "true": (K,), "curves": label -> (K,)}; adds a right
            panel with the true inverse (black) and each learned inverse, styled as the curve
            of the same label on the left.
        title: figure title; a default is used when empty.

    Returns:
        The path written.
    """
    x, target = _arr(x, "x"), _arr(target, "target")
    curves = {k: _arr(v, f"curves[{k!r}]") for k, v in curves.items()}
    _same_len(x, target=target, **curves)
    train_x, train_y = _arr(train_x, "train_x"), _arr(train_y, "train_y")
    inv_curves: dict[str, np.ndarray] = {}
    if inverse is not None:
        missing = {"y", "true", "curves"} - set(inverse)
        if missing:
            raise ValueError(f"inverse is missing keys {sorted(missing)}; it needs "
                             "{'y': (K,), 'true': (K,), 'curves': {label: (K,)}}")
        inv_y = _arr(inverse["y"], "inverse['y']")
        inv_true = _arr(inverse["true"], "inverse['true']")
        inv_curves = {k: _arr(v, f"inverse['curves'][{k!r}]") for k, v in inverse["curves"].items()}
        _same_len(inv_y, **{"inverse['true']": inv_true}, **inv_curves)
    styles = _styles_for(list(curves) + [k for k in inv_curves if k not in curves])
    with _style() as plt:
        if inverse is None:
            fig, ax = plt.subplots(figsize=(6, 4.2))
            inv_ax = None
        else:
            fig, (ax, inv_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
        _shade(ax, train_range)
        target_label = "target" if inv_ax is None else "target / true inverse"
        ax.plot(x, target, color=TRUE_COLOR, linewidth=2.8, label=target_label, zorder=2)
        for z, (label, y) in enumerate(reversed(list(curves.items()))):
            ax.plot(x, y, label=label, zorder=3 + z, **styles[label])
        ax.scatter(train_x, train_y, label="training points", **POINT_STYLE)
        focus = [target, train_y] + [v for k, v in curves.items() if not _is_init(k)][:1]
        _focus_ylim(ax, focus)
        ax.set_xlim(x.min(), x.max())
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        if inv_ax is not None:
            ax.set_title("function")
            inv_ax.plot(inv_y, inv_true, color=TRUE_COLOR, linewidth=2.8, zorder=2)
            for z, (label, xv) in enumerate(reversed(list(inv_curves.items()))):
                inv_ax.plot(inv_y, xv, zorder=3 + z, **styles[label])
            _focus_ylim(inv_ax, [inv_true])
            inv_ax.set_xlim(inv_y.min(), inv_y.max())
            inv_ax.set_xlabel("y")
            inv_ax.set_ylabel("x = f⁻¹(y)")
            inv_ax.set_title("inverse")
        # One legend for the figure, below the panels: curves keep their label order.
        handles, labels = ax.get_legend_handles_labels()
        order = [target_label] + list(curves) + ["training points", "training interval"]
        by_label = dict(zip(labels, handles))
        handles = [by_label[k] for k in order if k in by_label]
        labels = [k for k in order if k in by_label]
        ncol = min(len(handles), 4 if inv_ax is not None else 3)
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
                   frameon=False)
        if inv_ax is None:
            ax.set_title(_default(title, "JacNet: learned function"))
        else:
            fig.suptitle(_default(title, "JacNet: learned function and its inverse"))
        fig.tight_layout()
        return _save(fig, path)


def paper_loss_figure(path: PathLike, panels: Sequence[Mapping[str, Any]], title: str = "") -> Path:
    """Draw the paper's Figure 3: training loss and solver tolerance, one panel per run.

    Args:
        path: PNG file to write.
        panels: list of {"title": str, "curves": {label: (T,) loss}, "tolerance": (T,) or None};
            stacked vertically with a shared iteration axis. Loss is log-scaled; the tolerance
            is a log step line on a second axis with a marker wherever it tightens.
        title: figure title (suptitle); a default is used when empty.

    Returns:
        The path written.
    """
    if not panels:
        raise ValueError("panels is empty; pass at least one {'title', 'curves', 'tolerance'}")
    with _style() as plt:
        fig, axes = plt.subplots(len(panels), 1, figsize=(7.2, 3.3 * len(panels)), sharex=True,
                                 squeeze=False)
        for ax, panel in zip(axes[:, 0], panels):
            if "curves" not in panel:
                raise ValueError(f"panel {panel.get('title', '?')!r} has no 'curves'; expected "
                                 "{'title': str, 'curves': {label: (T,) loss}, 'tolerance': ...}")
            _loss_axes(ax, panel["curves"], panel.get("tolerance"), log=True, below=False)
            ax.set_title(panel.get("title", ""))
        axes[-1, 0].set_xlabel("iteration")
        fig.suptitle(_default(title, "Training loss and solver tolerance"))
        fig.tight_layout()
        return _save(fig, path)


# --------------------------------------------------------------------------- sweeps


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f


def metric_vs_param(path: PathLike, table: Sequence[Mapping[str, Any]], x_key: str, y_key: str,
                    group_key: str | None = None, title: str = "") -> Path:
    """Plot a sweep metric against a parameter: median over repeats, with min..max bars.

    Args:
        path: PNG file to write.
        table: one dict per job; rows without a finite numeric y_key (or without x_key) are
            skipped.
        x_key: parameter on the x-axis. Numeric values are sorted, on a log axis when positive
            and spanning more than 2 decades; otherwise the values are categories (sorted).
        y_key: metric on the y-axis; log-scaled when positive and spanning more than 2 decades.
        group_key: one line per distinct value of this key; None for a single line.
        title: figure title; a default is used when empty.

    Returns:
        The path written.

    Raises:
        ValueError: when no row has both x_key and a numeric y_key.
    """
    points: list[tuple[Any, str, float]] = []  # (x, group, y)
    for row in table:
        if x_key not in row or row[x_key] is None:
            continue
        y = _as_number(row.get(y_key))
        if y is None or not math.isfinite(y):
            continue
        group = "all" if group_key is None else str(row.get(group_key, "—"))
        points.append((row[x_key], group, y))
    if not points:
        keys = sorted({k for row in table for k in row})
        raise ValueError(f"metric_vs_param: no row has {x_key!r} and a numeric {y_key!r}; "
                         f"keys seen in the table: {keys}")

    xnum = [_as_number(p[0]) for p in points]
    numeric = all(v is not None and math.isfinite(v) for v in xnum)
    if numeric:
        xs_sorted = sorted(set(xnum))
        xpos = dict(zip(xs_sorted, xs_sorted))
        keyed = [(v, g, y) for v, (_, g, y) in zip(xnum, points)]
        positive = xs_sorted[0] > 0
        log_x = positive and xs_sorted[-1] / xs_sorted[0] > 100
        categories: list[str] = []
    else:
        categories = sorted({str(p[0]) for p in points}, key=_natural_key)
        xpos = {c: float(i) for i, c in enumerate(categories)}
        keyed = [(str(x), g, y) for x, g, y in points]
        log_x = False

    groups = sorted({g for _, g, _ in keyed}, key=_natural_key)
    agg: dict[str, dict[Any, list[float]]] = {g: {} for g in groups}
    for xv, g, y in keyed:
        agg[g].setdefault(xv, []).append(y)
    ys_all = np.array([y for _, _, y in keyed])
    log_y = bool((ys_all > 0).all() and ys_all.max() / ys_all.min() > 100)

    with _style() as plt:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        # Dodge groups sideways on a categorical axis so their error bars do not overlap.
        width = 0.0 if numeric else min(0.5, 0.12 * (len(groups) - 1))
        for i, g in enumerate(groups):
            xv = sorted(agg[g], key=lambda v: xpos[v])
            pos = np.array([xpos[v] for v in xv], dtype=float)
            if width and len(groups) > 1:
                pos = pos + width * (i / (len(groups) - 1) - 0.5)
            vals = [np.asarray(agg[g][v]) for v in xv]
            med = np.array([np.median(v) for v in vals])
            lo = med - np.array([v.min() for v in vals])
            hi = np.array([v.max() for v in vals]) - med
            style = _curve_style(i)
            # Categories have no order, so their points are not joined by lines.
            ax.errorbar(pos, med, yerr=np.vstack([lo, hi]), label=f"{group_key}={g}",
                        marker="os^Dv<>p"[i % 8], markersize=6, capsize=3, elinewidth=1.0,
                        linestyle=style["linestyle"] if numeric else "none",
                        color=style["color"])
        if log_x:
            ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        if not numeric:
            ax.set_xticks(range(len(categories)), categories,
                          rotation=30 if max(len(c) for c in categories) > 8 else 0,
                          ha="right" if max(len(c) for c in categories) > 8 else "center")
            ax.set_xlim(-0.5, len(categories) - 0.5)
        ax.set_xlabel(x_key)
        ax.set_ylabel(y_key)
        n_rep = max(len(v) for d in agg.values() for v in d.values())
        fallback = f"{y_key} vs {x_key}" + (" (median, min..max over repeats)" if n_rep > 1 else "")
        ax.set_title(_default(title, fallback))
        if group_key is not None:
            _legend(ax)
        return _save(fig, path)


def _natural_key(s: str) -> tuple:
    """Sort numbers numerically and before words: '2' < '10' < 'pd'."""
    f = _as_number(s)
    return (0, f, "") if f is not None and math.isfinite(f) else (1, 0.0, str(s))
