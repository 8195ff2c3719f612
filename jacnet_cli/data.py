"""Data: sampled from a closed-form target (`DataSpec`) or read from the user's file
(`FileData`), split into training, validation and test sets, with the points where
guarantees are measured.

The paper's setup (section 5): 5 training points uniform in [-1, 1], 100 test points uniform
in [-2, 2]; guarantees are measured on a dense grid over a wider interval, [-3, 3]. In n-D
the guarantee points are a regular grid up to 3 dimensions and uniform samples of the box
beyond. For a file, the box is the data's bounding box widened by `guarantee_margin`.
Config group: ``conf/data/<name>.yaml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor


def _range(key: str, value: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r} is not allowed; it must be [low, high]") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{key}={[lo, hi]} is not allowed; it must be [low, high] with low < high")
    return lo, hi


def _count(key: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key}={value!r} is not allowed; it must be an integer >= {minimum}")
    return value


MIN_GRID_POINTS = 11  # per axis (as validate.py): a guarantee measured on fewer points says little


@dataclass
class DataSpec:
    """Where and how many points to sample.

    Args:
        n_train: training points, uniform in train_range^d (with `fresh`, the points per epoch).
        train_range: [low, high] per coordinate.
        n_test: test points, uniform in test_range^d (or about that many on a grid).
        test_range: [low, high] per coordinate.
        guarantee_range: [low, high] per coordinate of the points where guarantees are measured.
        grid_points: guarantee grid points per coordinate up to 3 dimensions (capped so the
            grid has <= 2**16 points).
        guarantee_points: guarantee points sampled uniformly in the box beyond 3 dimensions.
        n_val: validation points, uniform in train_range^d (0: no validation).
        test_grid: test points on a regular grid (about n_test^(1/d) per axis) instead of
            uniform samples.
        fresh: every training step draws a fresh uniform batch from the target instead of
            reusing the n_train points (needs batch_size).
    """

    n_train: int = 5
    train_range: Sequence[float] = (-1.0, 1.0)
    n_test: int = 100
    test_range: Sequence[float] = (-2.0, 2.0)
    guarantee_range: Sequence[float] = (-3.0, 3.0)
    grid_points: int = 2001
    guarantee_points: int = 4000
    n_val: int = 0
    test_grid: bool = False
    fresh: bool = False

    def __post_init__(self) -> None:
        _count("data.n_train", self.n_train)
        _count("data.n_test", self.n_test)
        _count("data.grid_points", self.grid_points, MIN_GRID_POINTS)
        _count("data.guarantee_points", self.guarantee_points, 16)
        _count("data.n_val", self.n_val, 0)
        for key in ("test_grid", "fresh"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"data.{key}={getattr(self, key)!r} is not allowed; "
                                 "it must be true or false")
        self.train_range = _range("data.train_range", self.train_range)
        self.test_range = _range("data.test_range", self.test_range)
        self.guarantee_range = _range("data.guarantee_range", self.guarantee_range)


def uniform(n: int, d: int, bounds: tuple[float, float], generator: torch.Generator) -> Tensor:
    """n points uniform in the box bounds^d: (n, d), float64."""
    lo, hi = bounds
    return lo + (hi - lo) * torch.rand(n, d, generator=generator, dtype=torch.float64)


def grid(d: int, bounds: tuple[float, float], points: int) -> Tensor:
    """A regular grid over bounds^d with about `points` per axis (at most 2**16 points in
    1-D and 2**12 beyond: 64 x 64 in 2-D, 16³ in 3-D)."""
    per_axis = max(2, min(points, int(round(2 ** ((16 if d == 1 else 12) / d)))))
    axis = torch.linspace(bounds[0], bounds[1], per_axis, dtype=torch.float64)
    mesh = torch.meshgrid(*([axis] * d), indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)  # (per_axis^d, d)


def guarantee_points(spec: DataSpec, d: int, generator: torch.Generator) -> Tensor:
    """Where guarantees are measured: a grid up to 3-D, uniform samples beyond."""
    if d <= 3:
        return grid(d, spec.guarantee_range, spec.grid_points)
    return uniform(spec.guarantee_points, d, spec.guarantee_range, generator)


def box_points(lo: Tensor, hi: Tensor, per_axis: int, count: int,
               generator: torch.Generator) -> Tensor:
    """Guarantee points in the box [lo, hi] (per coordinate): a grid up to 3-D, uniform
    samples beyond. (d,) x2 -> (M, d), float64."""
    d = lo.shape[0]
    if d <= 3:
        unit = grid(d, (0.0, 1.0), per_axis)
    else:
        unit = torch.rand(count, d, generator=generator, dtype=torch.float64)
    return lo + (hi - lo) * unit


@dataclass
class Dataset:
    """Sampled inputs and targets, float64 on the CPU (cast where used).

    `sampler`, when set, draws fresh training batches (n, generator) -> (x, y).
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    x_grid: Tensor
    train_range: tuple[float, float] = (-1.0, 1.0)
    x_val: Tensor | None = None
    y_val: Tensor | None = None
    sampler: Callable[[int, torch.Generator], tuple[Tensor, Tensor]] | None = None
    x_names: list[str] | None = None
    y_names: list[str] | None = None
    units: object | None = None  # `units.Units` when the model trains in standard units
    stream: object | None = None  # `stream.Stream` when the data is streamed from a cache;
    #                               the tensors then hold only samples of each split

    def __post_init__(self) -> None:
        self.x_names = self.x_names or default_names("x", self.x_train.shape[1])
        self.y_names = self.y_names or default_names("y", self.y_train.shape[1])

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "Dataset":
        def cast(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)

        return Dataset(*(cast(t) for t in (self.x_train, self.y_train, self.x_test,
                                            self.y_test, self.x_grid)),
                       train_range=self.train_range, x_val=cast(self.x_val),
                       y_val=cast(self.y_val), sampler=self.sampler, x_names=self.x_names,
                       y_names=self.y_names, units=self.units, stream=self.stream)

    @property
    def validation(self) -> tuple[Tensor, Tensor] | None:
        return None if self.x_val is None else (self.x_val, self.y_val)


def default_names(prefix: str, d: int) -> list[str]:
    """Column names of a sampled dataset: x (1-D) or x1..xd."""
    return [prefix] if d == 1 else [f"{prefix}{i + 1}" for i in range(d)]


def make_dataset(spec: DataSpec, target, seed: int) -> Dataset:
    """Sample the training, validation and test sets for `target` with a seeded generator.

    The draws come in a fixed order (train, test, guarantee points, validation), so adding
    validation points leaves the training and test sets of a seed unchanged.
    """
    g = torch.Generator().manual_seed(int(seed))
    d = target.d_x
    x_train = uniform(spec.n_train, d, spec.train_range, g)
    if spec.test_grid:
        per_axis = max(2, round(spec.n_test ** (1 / d)))
        x_test = grid(d, spec.test_range, per_axis) if per_axis ** d <= 2**20 else \
            uniform(spec.n_test, d, spec.test_range, g)
    else:
        x_test = uniform(spec.n_test, d, spec.test_range, g)
    x_grid = guarantee_points(spec, d, g)
    x_val = uniform(spec.n_val, d, spec.train_range, g) if spec.n_val else None
    sampler = None
    if spec.fresh:
        bounds = spec.train_range

        def sampler(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
            x = uniform(n, d, bounds, generator)
            return x, target(x)

    return Dataset(x_train, target(x_train), x_test, target(x_test), x_grid, spec.train_range,
                   x_val, None if x_val is None else target(x_val), sampler)


@dataclass
class FileData:
    """The user's data from a file: columns, splits, units and where guarantees are measured.

    Args:
        path: a CSV with a header row, an .npz with arrays x and y, or Parquet (pyarrow).
        x, y: the input and output columns, by name or 0-based index (npz: x1.., y1..).
        test_path: a second file (same columns) to test on; else `test_fraction` of the rows.
        test_fraction, val_fraction: shares of the rows held out (seeded by the run's seed).
        standardize: train on standardised x and y (the model is still used in the data's
            units; the structure's constants are rescaled so its guarantee holds there).
        guarantee_margin: the guarantee box is the data's bounding box widened by this share
            of its width on each side.
        grid_points: guarantee grid points per axis, up to 3 inputs.
        guarantee_points: guarantee points sampled in the box beyond 3 inputs.
        drop_nonfinite: drop rows holding NaN or inf (default: refuse the file).
        stream: read the file once into a binary cache and stream it in blocks (memory of a
            few batches; needs batch_size): true, false, or auto (when the table would take
            more than `memory_mb` in memory).
        memory_mb: the size above which `stream=auto` streams.
        meta: what a trained run keeps of the data (names, box, rows), filled in by training;
            a saved run rebuilds from it when the file is gone.
    """

    path: str | None = None
    x: Sequence[str | int] | str | int | None = None
    y: Sequence[str | int] | str | int | None = None
    test_path: str | None = None
    test_fraction: float = 0.2
    val_fraction: float = 0.0
    standardize: bool = True
    guarantee_margin: float = 0.1
    grid_points: int = 2001
    guarantee_points: int = 4000
    drop_nonfinite: bool = False
    stream: bool | str = "auto"
    memory_mb: float = 512.0
    meta: dict | None = None

    MIN_TRAIN_ROWS = 2

    def __post_init__(self) -> None:
        if self.path in (None, "", "???"):
            raise ValueError("data.path is not set; pass data.path=FILE (.csv with a header, "
                             ".npz with arrays x and y, or .parquet)")
        for key in ("x", "y"):
            value = getattr(self, key)
            if value in (None, "", [], "???"):
                raise ValueError(f"data.{key} is not set; name the {key} columns, e.g. "
                                 f"data.{key}=[col1,col2] (names or 0-based indices)")
        for key in ("test_fraction", "val_fraction"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not 0 <= value < 1:
                raise ValueError(f"data.{key}={value!r} is not allowed; it must be a number "
                                 "in [0, 1)")
        if self.test_fraction + self.val_fraction >= 1:
            raise ValueError(f"data.test_fraction + data.val_fraction = "
                             f"{self.test_fraction + self.val_fraction:g} leaves no training rows; "
                             "their sum must be < 1")
        if isinstance(self.guarantee_margin, bool) or \
                not isinstance(self.guarantee_margin, (int, float)) or \
                not 0 <= self.guarantee_margin <= 10:
            raise ValueError(f"data.guarantee_margin={self.guarantee_margin!r} is not allowed; "
                             "it must be a number in [0, 10]")
        for key in ("standardize", "drop_nonfinite"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"data.{key}={getattr(self, key)!r} is not allowed; it must "
                                 "be true or false")
        _count("data.grid_points", self.grid_points, MIN_GRID_POINTS)
        _count("data.guarantee_points", self.guarantee_points, 16)
        if self.stream not in (True, False, "auto"):
            raise ValueError(f"data.stream={self.stream!r} is not allowed; choose true, false "
                             "or auto")
        if isinstance(self.memory_mb, bool) or not isinstance(self.memory_mb, (int, float)) \
                or not self.memory_mb > 0:
            raise ValueError(f"data.memory_mb={self.memory_mb!r} is not allowed; it must be a "
                             "number > 0")

    def streams(self) -> bool:
        """Whether this file is streamed (see `stream`)."""
        if self.stream != "auto":
            return bool(self.stream)
        from pathlib import Path

        from jacnet_cli.stream import table_bytes

        return table_bytes(Path(str(self.path)).expanduser()) > self.memory_mb * 2**20

    def _columns(self, path: str, key: str) -> tuple[list[str], Tensor, list[str], Tensor]:
        from jacnet_cli import tables

        names, values = tables.read_table(path, key)
        x_names, xv = tables.select(names, values, self.x, "data.x", path)
        y_names, yv = tables.select(names, values, self.y, "data.y", path)
        overlap = sorted(set(x_names) & set(y_names))
        if overlap:
            raise ValueError(f"data.x and data.y share the column(s) {', '.join(overlap)}; a "
                             "column is either an input or an output")
        both = np.concatenate([xv, yv], axis=1)
        ok = tables.finite_rows(both)
        if not ok.all():
            bad = int((~ok).sum())
            if not self.drop_nonfinite:
                raise ValueError(f"{key}={path!r}: {bad} row(s) hold NaN or inf in the chosen "
                                 f"columns (first: data row {int(np.argmax(~ok)) + 1}); remove "
                                 "them or pass data.drop_nonfinite=true")
            xv, yv = xv[ok], yv[ok]
        return x_names, torch.from_numpy(np.ascontiguousarray(xv)), y_names, \
            torch.from_numpy(np.ascontiguousarray(yv))

    def load(self, seed: int, scalar_units: bool = False) -> Dataset:
        """Read, split and (optionally) standardise; the guarantee box from the data.

        Without the file (a saved run moved elsewhere) the dataset is rebuilt from `meta`:
        names, box and units, with empty training and test sets.
        """
        from pathlib import Path

        if self.meta is not None and not Path(str(self.path)).expanduser().is_file():
            return self._from_meta(seed)
        from jacnet_cli import tables

        tables._existing(self.path, "data.path")
        if self.streams():
            return self._streamed(seed, scalar_units)
        x_names, x, y_names, y = self._columns(str(self.path), "data.path")
        g = torch.Generator().manual_seed(int(seed))
        if self.test_path is not None:
            tx_names, x_test, ty_names, y_test = self._columns(str(self.test_path),
                                                               "data.test_path")
            n_test = 0
        else:
            n_test = int(round(self.test_fraction * x.shape[0]))
        n_val = int(round(self.val_fraction * x.shape[0]))
        n_train = x.shape[0] - n_test - n_val
        if n_train < self.MIN_TRAIN_ROWS or (self.test_path is None and self.test_fraction > 0
                                             and n_test < 1):
            raise ValueError(f"data.path={self.path!r} has {x.shape[0]} usable rows; with "
                             f"test_fraction={self.test_fraction:g} and "
                             f"val_fraction={self.val_fraction:g} that leaves {n_train} for "
                             f"training and {n_test} for testing: give at least "
                             f"{self.MIN_TRAIN_ROWS} training rows and 1 test row")
        order = torch.randperm(x.shape[0], generator=g)
        test_i, val_i, train_i = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
        if self.test_path is None:
            x_test, y_test = x[test_i], y[test_i]
        x_train, y_train = x[train_i], y[train_i]
        x_val, y_val = (x[val_i], y[val_i]) if n_val else (None, None)
        lo, hi = x.min(0).values, x.max(0).values
        meta = {"x_names": x_names, "y_names": y_names, "rows": int(x.shape[0]),
                "box_lo": lo.tolist(), "box_hi": hi.tolist()}
        units = None
        if self.standardize:
            from jacnet_cli.units import Units

            units = Units.fit(x_train, y_train, scalar_units)
            meta["units"] = units.describe()
        self.meta = meta
        return Dataset(x_train, y_train, x_test, y_test, self._grid(lo, hi, g),
                       (float(lo.min()), float(hi.max())), x_val, y_val, None, x_names,
                       y_names, units)

    SAMPLE_ROWS = 5000  # rows of each split kept in memory when streaming (plots, anchors)

    def _streamed(self, seed: int, scalar_units: bool) -> Dataset:
        """Convert the file once into a cache and stream it (memory of a few blocks)."""
        from pathlib import Path

        from jacnet_cli import stream as streams

        if self.test_path is not None:
            raise ValueError("data.test_path is not supported with streamed data; use "
                             "data.test_fraction (or data.stream=false)")
        path = Path(str(self.path)).expanduser()
        names = streams.column_names(path, "data.path")
        x_idx = streams.select_indices(names, self.x, "data.x", path)
        y_idx = streams.select_indices(names, self.y, "data.y", path)
        overlap = sorted(set(x_idx) & set(y_idx))
        if overlap:
            raise ValueError(f"data.x and data.y share the column(s) "
                             f"{', '.join(names[i] for i in overlap)}; a column is either an "
                             "input or an output")
        source = streams.convert(path, names, x_idx, y_idx, seed, self.test_fraction,
                                 self.val_fraction, self.drop_nonfinite)
        if source.counts["train"] < self.MIN_TRAIN_ROWS:
            raise ValueError(f"data.path={self.path!r} leaves {source.counts['train']} training "
                             f"rows; at least {self.MIN_TRAIN_ROWS} are needed")
        x_names, y_names = [names[i] for i in x_idx], [names[i] for i in y_idx]
        lo, hi = torch.from_numpy(source.lo), torch.from_numpy(source.hi)
        meta = {"x_names": x_names, "y_names": y_names, "rows": int(source.labels.shape[0]),
                "box_lo": lo.tolist(), "box_hi": hi.tolist(), "streamed": True}
        units = None
        if self.standardize:
            from jacnet_cli.units import Units

            def scale(var: np.ndarray) -> Tensor:
                s = torch.from_numpy(np.sqrt(var.mean()) * np.ones_like(var) if scalar_units
                                     else np.sqrt(var))
                return torch.where(s > 0, s, torch.ones_like(s))

            units = Units(torch.from_numpy(source.x_mean), scale(source.x_var),
                          torch.from_numpy(source.y_mean), scale(source.y_var))
            meta["units"] = units.describe()
        self.meta = meta
        g = torch.Generator().manual_seed(int(seed))
        x_train, y_train = source.sample("train", self.SAMPLE_ROWS)
        x_test, y_test = source.sample("test", self.SAMPLE_ROWS)
        x_val, y_val = source.sample("val", self.SAMPLE_ROWS) if source.counts["val"] else (None, None)
        return Dataset(x_train, y_train, x_test, y_test, self._grid(lo, hi, g),
                       (float(lo.min()), float(hi.max())), x_val, y_val, None, x_names,
                       y_names, units, source)

    def _grid(self, lo: Tensor, hi: Tensor, g: torch.Generator) -> Tensor:
        width = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        margin = self.guarantee_margin * width
        return box_points(lo - margin, hi + margin, self.grid_points, self.guarantee_points, g)

    def _from_meta(self, seed: int) -> Dataset:
        m = self.meta
        d_x, d_y = len(m["x_names"]), len(m["y_names"])
        lo = torch.tensor(m["box_lo"], dtype=torch.float64)
        hi = torch.tensor(m["box_hi"], dtype=torch.float64)
        units = None
        if "units" in m:
            from jacnet_cli.units import Units

            units = Units(*(torch.tensor(m["units"][k]) for k in
                            ("x_mean", "x_scale", "y_mean", "y_scale")))
        empty_x, empty_y = torch.zeros(0, d_x, dtype=torch.float64), torch.zeros(0, d_y, dtype=torch.float64)
        g = torch.Generator().manual_seed(int(seed))
        return Dataset(empty_x, empty_y, empty_x, empty_y, self._grid(lo, hi, g),
                       (float(lo.min()), float(hi.max())), None, None, None,
                       list(m["x_names"]), list(m["y_names"]), units)

    def read_inputs(self, path: str) -> tuple[Tensor, Tensor | None]:
        """A new file's x columns (by the run's names) and its y columns when present."""
        from jacnet_cli import tables

        names, values = tables.read_table(path, "data.path")
        x_names, y_names = self.meta["x_names"], self.meta["y_names"]
        _, xv = tables.select(names, values, x_names, "data.path", path)
        yv = None
        if all(n in names for n in y_names):
            _, yv = tables.select(names, values, y_names, "data.path", path)
        rows = np.concatenate([xv] + ([yv] if yv is not None else []), axis=1)
        ok = tables.finite_rows(rows)
        if not ok.all():
            raise ValueError(f"data.path={path!r}: {int((~ok).sum())} row(s) hold NaN or inf "
                             f"(first: data row {int(np.argmax(~ok)) + 1}); remove them")
        return torch.from_numpy(xv), None if yv is None else torch.from_numpy(yv)


DATA: dict[str, type] = {"sampled": DataSpec, "file": FileData}
