"""`jacnet invert`: x = f⁻¹(y) for a saved invertible run, with each point's status.

Every point gets its round-trip error ‖ŷ(x) - y‖ and a `converged` flag, in the printed
table, in inverse.csv and in the log. A point that did not converge (a y outside the model's
range, say) makes the command exit 1 unless `allow_unconverged=true`: a wrong answer must not
look like a right one.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from jacnet_cli.core.inverse import InversionFailed, check_invertible, solve
from jacnet_cli.run import build, rundir

log = logging.getLogger("jacnet")


def check(cfg: dict[str, Any], typed: frozenset[str] = frozenset()) -> None:
    """The keys invert takes."""
    from jacnet_cli.run import settings

    rundir.check(settings.InvertSettings.of(cfg).run_dir)  # last: it reads the disk


def parse_points(value: Any, d_y: int) -> torch.Tensor:
    """y from the command line: a number, a flat list, or a list of points -> (N, d_y).

    A flat list is N points when d_y = 1 and one point when it has d_y entries.
    """
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    try:
        y = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"y={value!r} is not allowed; pass numbers, e.g. y=[1.5,2.0]") from None
    if y.ndim == 0:
        y = y.reshape(1, 1)
    elif y.ndim == 1:
        y = y[:, None] if d_y == 1 else y[None, :]
    if y.ndim != 2 or y.shape[1] != d_y or y.shape[0] == 0:
        raise ValueError(
            f"y={value!r} has the wrong dimension; this run maps to R^{d_y}, so pass "
            + ("y=[a,b,...] (one value per point)" if d_y == 1 else
               f"one point of {d_y} numbers, y=[...], or several, y=[[...],[...]]"))
    if not torch.isfinite(y).all():
        raise ValueError(f"y={value!r} is not allowed; every value must be finite")
    return y


def read_points(path: str, names: list[str]) -> torch.Tensor:
    """y from a file: a CSV with a header naming the run's y columns, an .npz with an array
    `y`, or plain text with one point per line (numbers separated by spaces or commas)."""
    from jacnet_cli.data.tables import read_columns, read_text_points

    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"y_file={path!r} does not exist" + (" (it is a directory)"
                                                              if file.is_dir() else ""))
    if file.suffix.lower() in (".csv", ".npz", ".parquet"):
        y = read_columns(file, names, key="y_file", array="y")
    else:
        y = read_text_points(file, len(names), key="y_file")
    return parse_points(y.tolist() if len(names) > 1 else y[:, 0].tolist(), len(names))


def invert(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Invert the run at cfg.run_dir at the given y; print a table, write inverse.csv/json."""
    if (cfg.y is None) == (cfg.y_file is None):
        raise ValueError("pass exactly one of y=[...] or y_file=PATH")
    dev, dt = build.device(cfg.device), build.dtype(cfg.dtype)
    run = rundir.load_run(cfg.run_dir, dev, dt, data=False)
    if run.unfinished:
        log.warning(run.unfinished)
    names_y, names_x = run.y_names, run.x_names
    if run.model.structure is not None and run.model.structure.inverse_kind == "input":
        y, result = _in_input(cfg, run, dev, dt)
    else:
        check_invertible(run.model)
        y = parse_points(cfg.y, len(names_y)) if cfg.y is not None else \
            read_points(cfg.y_file, names_y)
        y = y.to(device=dev, dtype=dt)
        result = solve(run.model, y, method=cfg.method, newton_steps=cfg.newton_steps)
    x, ok, err = result.x.detach(), result.converged, result.residual
    rows = [{"y": y[i].tolist(), "x": x[i].tolist(), "roundtrip_err": float(err[i]),
             "converged": bool(ok[i])} for i in range(y.shape[0])]
    if run.target.invertible:
        for row, t in zip(rows, _true_inverse(run.target, y)):
            row["x_true"] = t
    _print(rows, names_y, names_x)
    _write_csv(run_dir / "inverse.csv", rows, names_y, names_x)
    failed = int((~ok).sum())
    outside = _outside_data(run, x)
    for row, out_of_box in zip(rows, outside.tolist()):
        row["outside_data"] = out_of_box
    out = {"source_run": str(run.path.resolve()), "source_status": run.status,
           "points": rows,
           "roundtrip_max_err": float(err.max()), "unconverged": failed,
           "outside_data": int(outside.sum())}
    (run_dir / "inverse.json").write_text(json.dumps(out, indent=2) + "\n")
    log.info("inverted %d points, max round-trip error %.3g, %d not converged; wrote %s",
             len(rows), out["roundtrip_max_err"], failed, run_dir / "inverse.csv")
    if bool(outside.any()):
        where = ", ".join(str(i) for i in outside.nonzero().flatten().tolist()[:10])
        log.warning("%d of %d points have x outside the training data's box (rows %s%s): the "
                    "inverse extrapolates the model beyond its data, where nothing was fitted",
                    int(outside.sum()), len(rows), where, ", ..." if int(outside.sum()) > 10 else "")
    if failed:
        where = ", ".join(str(i) for i in (~ok).nonzero().flatten().tolist()[:10])
        message = (f"{failed} of {len(rows)} points did not converge (rows {where}"
                   f"{', ...' if failed > 10 else ''}; max |ŷ(x) - y| = {out['roundtrip_max_err']:.3g}): "
                   "y may lie outside the model's range; see the converged column of "
                   f"{run_dir / 'inverse.csv'}")
        log.warning(message)
        if not cfg.get("allow_unconverged", False):
            raise InversionFailed(message + " (allow_unconverged=true accepts this)")
    return out


def _outside_data(run: rundir.Loaded, x: torch.Tensor) -> torch.Tensor:
    """Which preimages lie outside the box of the run's training inputs: (N,) bool."""
    from jacnet_cli.data.files import FileData

    spec = build.data_spec(run.config)
    if isinstance(spec, FileData):
        if spec.meta is None or "box_lo" not in spec.meta:
            return torch.zeros(x.shape[0], dtype=torch.bool)
        lo = torch.tensor(spec.meta["box_lo"], dtype=x.dtype, device=x.device)
        hi = torch.tensor(spec.meta["box_hi"], dtype=x.dtype, device=x.device)
    else:
        low, high = spec.resolve(run.target).train_range
        lo = torch.full((x.shape[1],), float(low), dtype=x.dtype, device=x.device)
        hi = torch.full((x.shape[1],), float(high), dtype=x.dtype, device=x.device)
    slack = 1e-9 * (hi - lo).abs().clamp_min(1.0)
    return ((x < lo - slack) | (x > hi + slack)).any(dim=1)


def _in_input(cfg: DictConfig, run: rundir.Loaded, dev: Any,
              dt: torch.dtype) -> tuple[Any, Any]:
    """Invert a scalar run in its one monotone input, the other inputs given."""
    from jacnet_cli.data.tables import read_columns

    structure = run.model.structure
    chosen = structure.inverse_input
    if chosen is None:
        raise ValueError(structure.why_not_invertible())
    index = chosen[0]
    names_x, names_y = run.x_names, run.y_names
    others = [n for i, n in enumerate(names_x) if i != index]
    if cfg.y_file is None:
        if others:
            raise ValueError(f"y=[...] gives no values for the other inputs ({', '.join(others)}); "
                             f"pass y_file=FILE with the columns {', '.join(names_y + others)}")
        y = parse_points(cfg.y, 1)
        given = torch.zeros(y.shape[0], 0, dtype=torch.float64)
    else:
        table = torch.from_numpy(read_columns(cfg.y_file, names_y + others, "y_file", "y"))
        y, given = table[:, :1], table[:, 1:]
    x = torch.full((y.shape[0], len(names_x)), float("nan"), dtype=torch.float64)
    x[:, [i for i in range(len(names_x)) if i != index]] = given
    y, x = y.to(device=dev, dtype=dt), x.to(device=dev, dtype=dt)
    log.info("inverting in %s (the other inputs as given)", names_x[index])
    return y, solve(run.model, y, x=x)


def _true_inverse(target: Any, y: torch.Tensor) -> list[list[float] | None]:
    """The closed-form inverse where y lies in its domain, else None per point."""
    lo, hi = target.inverse_domain() or (-float("inf"), float("inf"))
    inside = ((y > lo) & (y < hi)).all(dim=-1)
    out: list[list[float] | None] = [None] * y.shape[0]
    if bool(inside.any()):
        values = target.inverse(y[inside])
        for i, v in zip(inside.nonzero().flatten().tolist(), values):
            out[i] = v.tolist()
    return out


def _write_csv(path: Path, rows: list[dict[str, Any]], names_y: list[str],
               names_x: list[str]) -> None:
    truth = any(row.get("x_true") is not None for row in rows)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*names_y, *names_x, "converged", "roundtrip_err"]
                        + ([f"{n}_true" for n in names_x] if truth else []))
        for row in rows:
            true = row.get("x_true")
            writer.writerow([*map(repr, row["y"]), *map(repr, row["x"]), row["converged"],
                             repr(row["roundtrip_err"])]
                            + ([*(map(repr, true) if true else [""] * len(names_x))] if truth else []))


def _print(rows: list[dict[str, Any]], names_y: list[str], names_x: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    truth = any(row.get("x_true") is not None for row in rows)
    table = Table(title="x = f⁻¹(y)")
    for col in (", ".join(names_y), ", ".join(names_x), "|f(x) − y|", "converged") + \
            (("true f⁻¹(y)",) if truth else ()):
        table.add_column(col, justify="right")
    fmt = lambda v: ", ".join(f"{c:.10g}" for c in v)  # noqa: E731
    for row in rows[:50]:
        cells = [fmt(row["y"]), fmt(row["x"]), f"{row['roundtrip_err']:.2e}",
                 "yes" if row["converged"] else "[red]NO[/red]"]
        if truth:
            cells.append(fmt(row["x_true"]) if row.get("x_true") else "–")
        table.add_row(*cells)
    if len(rows) > 50:
        table.caption = f"first 50 of {len(rows)} points; all are in inverse.csv"
    Console().print(table)
