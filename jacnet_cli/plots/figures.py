"""Which plots a run gets, computed from the model and handed to the pure `draw` module.

1-D targets: the fit (with the prediction at initialisation), the learned Jacobian against
the true one, the loss with the tolerance, and the inverse for invertible models.
2-D targets: the deformed grid, the error field, and the loss.
Data from a file has no closed form: its plots show the data points instead of a true curve,
in the data's units and with its column names, plus a predicted-vs-observed plot per output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from jacnet_cli.core.evaluation import derivative, predict
from jacnet_cli.core.targets import Target
from jacnet_cli.data.sampled import Dataset
from jacnet_cli.plots import draw as plots
from jacnet_cli.run.experiment import plot_x
from jacnet_cli.run.records import Step


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _bounds(model: nn.Module) -> dict[str, float] | None:
    """Reference lines for the 1-D Jacobian plot: the structure's labelled bounds."""
    structure = model.structure
    if structure is None:
        return None
    lines: dict[str, float] = {}
    for bound in structure.bounds(model.d_x, model.d_y).values():
        if bound.label:
            lines[bound.label] = bound.value
            if bound.mirror:
                lines[f"-{bound.label}"] = -bound.value
    return lines or None


def write(run_dir: Path, model: nn.Module, target: Target, data: Dataset,
          initial: dict[str, torch.Tensor] | None = None, steps: Sequence[Step] = ()) -> list[Path]:
    """Write the run's PNGs into run_dir; return their paths."""
    written: list[Path] = []
    name = f"{target.name}, {model.structure.name if model.structure is not None else 'mlp'}"
    if steps:
        tol = np.array([np.nan if s.tolerance is None else s.tolerance for s in steps])
        val = [(i, s.val_loss) for i, s in enumerate(steps) if s.val_loss is not None]
        written.append(plots.loss_curve(
            run_dir / "loss.png", np.array([s.loss for s in steps]), tol,
            title=f"loss ({name})",
            validation=(np.array([i for i, _ in val]), np.array([v for _, v in val])) if val else None))
    if target.d_x == 1 and target.d_y == 1:
        written += _write_1d(run_dir, model, target, data, initial or {}, name)
    elif target.d_x == 2 and target.d_y == 2:
        written += _write_2d(run_dir, model, target, data, name)
    if not target.closed_form and data.x_test.shape[0] > 0:
        pred = _np(predict(model, data.x_test))
        for i, label in enumerate(data.y_names):
            suffix = "" if len(data.y_names) == 1 else f"_{label}"
            written.append(plots.parity(run_dir / f"parity{suffix}.png",
                                        _np(data.y_test)[:, i], pred[:, i], label,
                                        title=f"test set: {label} ({name})"))
    return written


def _write_1d(run_dir: Path, model: nn.Module, target: Target, data: Dataset,
              initial: dict[str, torch.Tensor], name: str) -> list[Path]:
    x = plot_x(data)  # (M, 1): the grid's span and the test points', as the snapshot's
    xs = _np(x)[:, 0]
    trained = _np(predict(model, x))[:, 0]
    span = data.train_range
    truth = target.closed_form
    init = initial.get("init")
    if init is not None and len(init) != len(xs):  # a checkpoint of an older run: not drawn
        init = None
    out = [plots.fit_1d(run_dir / "fit.png", xs, _np(target(x))[:, 0] if truth else None,
                        trained, _np(data.x_train)[:, 0], _np(data.y_train)[:, 0], span,
                        init=None if init is None else np.asarray(init), title=f"fit ({name})",
                        test_x=None if truth else _np(data.x_test)[:, 0],
                        test_y=None if truth else _np(data.y_test)[:, 0],
                        labels=(data.x_names[0], data.y_names[0]))]
    fn_jac = _np(derivative(model, x))[:, 0, 0]
    net_jac = _np(model.jacobian(x).detach())[:, 0, 0]
    out.append(plots.jacobian_1d(run_dir / "jacobian.png", xs,
                                 _np(target.jacobian(x))[:, 0, 0] if truth else None,
                                 net_jac, fn_jac=fn_jac, bounds=_bounds(model), train_range=span,
                                 title=f"Jacobian ({name})"))
    if model.invertible:
        y = torch.linspace(float(trained.min()), float(trained.max()), 400,
                           dtype=x.dtype, device=x.device)[:, None]
        learned = _np(model.inverse(y))[:, 0]
        true = None
        if truth and target.invertible:
            lo, hi = target.inverse_domain() or (-np.inf, np.inf)
            ok = (y[:, 0] > lo) & (y[:, 0] < hi)
            true = np.full(len(learned), np.nan)
            true[_np(ok).astype(bool)] = _np(target.inverse(y[ok]))[:, 0]
        out.append(plots.inverse_1d(run_dir / "inverse.png", _np(y)[:, 0], learned, true,
                                    title=f"inverse ({name})"))
    return out


def _lines(bounds: tuple[float, float], count: int = 13, points: int = 120) -> list[torch.Tensor]:
    ticks = torch.linspace(bounds[0], bounds[1], count, dtype=torch.float64)
    along = torch.linspace(bounds[0], bounds[1], points, dtype=torch.float64)
    lines = [torch.stack([torch.full_like(along, t), along], -1) for t in ticks]
    return lines + [torch.stack([along, torch.full_like(along, t)], -1) for t in ticks]


def _write_2d(run_dir: Path, model: nn.Module, target: Target, data: Dataset,
              name: str) -> list[Path]:
    # The data's region widened by a third of its width per side (the plane's [-1.5, 1.5]
    # test box gives [-2, 2]): a guarantee box 3x the data's would be dominated by how a
    # model extrapolates (a holomorphic one grows exponentially there, Liouville).
    seen = [t for t in (data.x_test, data.x_train) if t is not None and t.shape[0]]
    points = torch.cat(seen) if seen else data.x_grid
    lo, hi = float(points.min()), float(points.max())
    lo, hi = lo - (hi - lo) / 6, hi + (hi - lo) / 6
    like = data.x_grid
    lines = [line.to(like) for line in _lines((lo, hi))]
    true_lines = [_np(target(line)) for line in lines] if target.closed_form else None
    learned_lines = [_np(predict(model, line)) for line in lines]
    out = [plots.grid_2d(run_dir / "grid.png", true_lines, learned_lines,
                         train_x=_np(data.y_train), title=f"deformed grid ({name})")]
    if not target.closed_form:
        return out
    axis = torch.linspace(lo, hi, 81, dtype=like.dtype, device=like.device)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")  # (H, W) each
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], -1)  # (H*W, 2)
    err = torch.linalg.vector_norm(predict(model, pts) - target(pts), dim=-1).reshape(gx.shape)
    out.append(plots.error_field_2d(run_dir / "error.png", _np(axis), _np(axis), _np(err),
                                    train_x=_np(data.x_train), title=f"|ŷ − y| ({name})"))
    return out
