"""`jacnet invert`: x = f⁻¹(y) for a saved invertible run, with each point's round-trip error."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from jacnet_cli import build, checkpoint
from jacnet_cli.inverse import check_invertible

log = logging.getLogger("jacnet")


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


def read_points(path: str, d_y: int) -> torch.Tensor:
    """y from a text file: one point per line, numbers separated by spaces or commas."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"y_file={path!r} does not exist")
    rows = [line.replace(",", " ").split() for line in file.read_text().splitlines()]
    try:
        values = [[float(v) for v in row] for row in rows if row and not row[0].startswith("#")]
    except ValueError:
        raise ValueError(f"y_file={path!r} holds something other than numbers") from None
    return parse_points(values if d_y > 1 else [v for row in values for v in row], d_y)


def invert(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Invert the run at cfg.run_dir at the given y; print a table, write inverse.csv/json."""
    if (cfg.y is None) == (cfg.y_file is None):
        raise ValueError("pass exactly one of y=[...] or y_file=PATH")
    dev, dt = build.device(cfg.device), build.dtype(cfg.dtype)
    run = checkpoint.load(cfg.run_dir, dev, dt)
    check_invertible(run.model)
    d_y = run.target.d_y
    y = (parse_points(cfg.y, d_y) if cfg.y is not None else read_points(cfg.y_file, d_y))
    y = y.to(device=dev, dtype=dt)
    x = run.model.inverse(y, method=cfg.method, newton_steps=cfg.newton_steps).detach()
    with torch.no_grad():
        err = torch.linalg.vector_norm(run.model(x) - y, dim=-1)  # (N,)
    rows = []
    for i in range(y.shape[0]):
        rows.append({"y": y[i].tolist(), "x": x[i].tolist(), "roundtrip_err": float(err[i])})
    if run.target.invertible:
        true = run.target.inverse(y)
        for row, t in zip(rows, true):
            row["x_true"] = t.tolist()
    _print(rows)
    with open(run_dir / "inverse.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["y", "x", "roundtrip_err"] + (["x_true"] if "x_true" in rows[0] else []))
        for row in rows:
            writer.writerow([" ".join(map(repr, row["y"])), " ".join(map(repr, row["x"])),
                             row["roundtrip_err"]]
                            + ([" ".join(map(repr, row["x_true"]))] if "x_true" in row else []))
    out = {"source_run": str(run.path.resolve()), "points": rows,
           "roundtrip_max_err": float(err.max())}
    (run_dir / "inverse.json").write_text(json.dumps(out, indent=2) + "\n")
    log.info("inverted %d points, max round-trip error %.3g; wrote %s", len(rows),
             out["roundtrip_max_err"], run_dir / "inverse.csv")
    return out


def _print(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="x = f⁻¹(y)")
    for col in ("y", "x", "|f(x) − y|") + (("true f⁻¹(y)",) if "x_true" in rows[0] else ()):
        table.add_column(col, justify="right")
    fmt = lambda v: ", ".join(f"{c:.10g}" for c in v)  # noqa: E731
    for row in rows:
        cells = [fmt(row["y"]), fmt(row["x"]), f"{row['roundtrip_err']:.2e}"]
        if "x_true" in row:
            cells.append(fmt(row["x_true"]))
        table.add_row(*cells)
    Console().print(table)
