"""The user's data from a file (`data=file`): columns, splits, units, and where guarantees
are measured. Reading is `data.tables` (and `data.stream` for tables read in blocks).

Importing this module does not load torch: `precheck` reads the file (its header, columns
and rows) for the command line's checks before torch loads and before a run directory
exists, and keeps the table for the run it checked, so a file is read once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from jacnet_cli.core import checks
from jacnet_cli.data import tables

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from jacnet_cli.data.sampled import Dataset

log = logging.getLogger("jacnet")


@dataclass
class FileData:
    """The user's data from a file: columns, splits, units and where guarantees are measured.

    Args:
        path: a CSV with a header row, an .npz with arrays x and y, or Parquet (pyarrow).
        x, y: the input and output columns, by name or 0-based index (npz: x1.., y1..).
        test_path: a second file (same columns) to test on; else `test_fraction` of the rows.
        test_fraction, val_fraction: shares of the rows held out (seeded by the run's seed);
            val_fraction "auto": 0.15, or none for a small file (at most SMALL_ROWS rows left
            to train on), which then trains on them all with the small-data plan
            (run/plan.py) instead of choosing its weights on a split of a few rows.
        standardize: train on standardised x and y (the model is still used in the data's
            units; the structure's constants are rescaled so its guarantee holds there).
        guarantee_margin: the guarantee box is the data's bounding box widened by this share
            of its width on each side.
        grid_points: guarantee grid points per axis, up to 3 inputs.
        guarantee_points: guarantee points sampled in the box beyond 3 inputs.
        drop_nonfinite: drop rows holding a missing value, NaN or inf in the chosen columns
            (counted in the log and in metrics.json as `rows_dropped`); default: refuse the
            file, naming how many rows and the first few by line.
        missing: cells that are missing values besides empty ones (case-insensitive; a number
            in the list marks that value missing): NA, N/A, NaN, null and ? by default.
        delimiter: the CSV's delimiter; null sniffs it from the header (, ; tab | or runs of
            spaces); else one character, "tab" or "whitespace".
        split_seed: seeds the test/validation split; null: the run's seed (so a seed sweep
            with split_seed fixed varies only the initialisation).
        stream: read the file once into a binary cache and stream it in blocks (memory of a
            few batches; needs batch_size): true, false, or auto (when reading it into memory
            would take more than `memory_mb`: about twice the float64 table of the chosen
            columns, for the moment the rows are shuffled into their splits).
        memory_mb: the memory above which `stream=auto` streams.
        meta: what a trained run keeps of the data (names, box, rows), filled in by training;
            a saved run rebuilds from it when the file is gone.
    """

    path: str | None = None
    x: Sequence[str | int] | str | int | None = None
    y: Sequence[str | int] | str | int | None = None
    test_path: str | None = None
    test_fraction: float = 0.2
    val_fraction: float | str = 0.0
    standardize: bool = True
    guarantee_margin: float = 0.1
    grid_points: int = 2001
    guarantee_points: int = 4000
    drop_nonfinite: bool = False
    missing: Sequence[str | float] | None = tables.MISSING
    delimiter: str | None = None
    split_seed: int | None = None
    stream: bool | str = "auto"
    memory_mb: float = 2048.0
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
            if key == "val_fraction" and value == "auto":
                continue
            if not (checks.is_number(value) and 0 <= value < 1):
                raise checks.refuse(f"data.{key}", value, "it must be a number in [0, 1)"
                                    + (" or auto" if key == "val_fraction" else ""))
        if self.val_fraction != "auto" and self.test_fraction + self.val_fraction >= 1:
            raise ValueError(f"data.test_fraction + data.val_fraction = "
                             f"{self.test_fraction + self.val_fraction:g} leaves no training rows; "
                             "their sum must be < 1")
        checks.number("data.guarantee_margin", self.guarantee_margin, 0, 10)
        checks.boolean("data.standardize", self.standardize)
        checks.boolean("data.drop_nonfinite", self.drop_nonfinite)
        self.markers = tables.Missing.of(self.missing)
        from jacnet_cli.data.sampled import grid_points  # (loads torch: the run's checks)

        grid_points("data.grid_points", self.grid_points)
        checks.integer("data.guarantee_points", self.guarantee_points, 16)
        if self.stream not in (True, False, "auto"):
            raise checks.refuse("data.stream", self.stream, "choose true, false or auto")
        checks.positive("data.memory_mb", self.memory_mb)
        checks.integer("data.split_seed", self.split_seed, 0, optional=True)
        if self.delimiter is not None:
            from jacnet_cli.data.tables import check_delimiter

            check_delimiter(self.delimiter, "data.delimiter")

    @property
    def name(self) -> str:
        """What to call the data: the file's stem."""
        return Path(str(self.path)).stem

    def column_labels(self) -> tuple[list[str], list[str]]:
        """The names of the chosen x and y columns, from the file's header only (the rows are
        not read): the pre-run check of a run on this file."""
        if self.meta is not None and not Path(str(self.path)).expanduser().is_file():
            return list(self.meta["x_names"]), list(self.meta["y_names"])
        names, x_idx, y_idx = self._header(tables._existing(self.path, "data.path"))
        return [names[i] for i in x_idx], [names[i] for i in y_idx]

    def _header(self, path: Path, key: str = "data.path") -> tuple[list[str], list[int], list[int]]:
        """The file's column names and the indices of the chosen x and y columns (the header
        only is read)."""
        return _header(path, key, self.x, self.y, self.delimiter)

    def units_from_meta(self) -> Any:
        """The saved run's units (None when it trained in the data's units)."""
        if self.meta is None or "units" not in self.meta:
            return None
        import torch

        from jacnet_cli.core.units import Units

        m = self.meta["units"]
        return Units(*(torch.tensor(m[k]) for k in ("x_mean", "x_scale", "y_mean", "y_scale")))

    def streams(self) -> bool:
        """Whether this file is streamed (see `stream`)."""
        return _streams(self.path, self.x, self.y, self.stream, self.memory_mb)

    def _read(self, path: str, key: str) -> tuple[list[str], list[str], np.ndarray]:
        """The chosen columns of a file as one float64 table (N, d_x + d_y), x then y, read
        column-wise (only those columns are parsed), with its rows holding a missing value,
        NaN or inf refused or dropped (`self.dropped`: their count)."""
        names, x_idx, y_idx = self._header(tables._existing(path, key), key)
        values = _table(path, key, x_idx + y_idx, self.delimiter, self.markers)
        ok = tables.finite_rows(values)
        self.kept: np.ndarray | None = None  # the file's rows kept, when some were dropped
        if not ok.all():
            chosen = [names[i] for i in x_idx + y_idx]
            if not self.drop_nonfinite:
                raise ValueError(tables.nonfinite_message(path, key, self.delimiter, values,
                                                          chosen, ~ok, self.markers))
            where = tables.rows_in_words(path, key, self.delimiter, values, chosen,
                                         np.flatnonzero(~ok))
            self.dropped = getattr(self, "dropped", 0) + int((~ok).sum())
            log.warning("%s=%r: dropped %d of %d rows with a missing value or NaN or inf in "
                        "the chosen columns (data.drop_nonfinite=true): %s", key, path,
                        int((~ok).sum()), values.shape[0], where)
            self.kept = np.flatnonzero(ok)
            values = values[ok]
        return [names[i] for i in x_idx], [names[i] for i in y_idx], values

    def load(self, seed: int, scalar_units: bool = False, labels: bool = False) -> Dataset:
        """Read, split and (optionally) standardise; the guarantee box from the data.

        With `labels` (loss=bce) the outputs are 0/1 labels: checked, and never rescaled
        (the model's output is a logit in its own units).
        Without the file (a saved run moved elsewhere) the dataset is rebuilt from `meta`:
        names, box and units, with empty training and test sets.
        """
        if self.meta is not None and not Path(str(self.path)).expanduser().is_file():
            return self.without_rows(seed)
        import torch

        from jacnet_cli.data.sampled import Dataset

        tables._existing(self.path, "data.path")
        if self.streams():
            return self._streamed(seed, scalar_units, labels)
        self.dropped = 0
        x_names, y_names, table = self._read(str(self.path), "data.path")
        d_x, rows = len(x_names), table.shape[0]
        if labels:
            check_labels(table[:, d_x:], y_names, "data.path", self._where("data.path"))
        g = torch.Generator().manual_seed(int(seed if self.split_seed is None else self.split_seed))
        if self.test_path is not None:
            _, _, test_table = self._read(str(self.test_path), "data.test_path")
            if labels:
                check_labels(test_table[:, d_x:], y_names, "data.test_path",
                             self._where("data.test_path"))
        n_test, n_val, _ = split_sizes(rows, self.test_fraction, self.val_fraction,
                                       self.test_path is not None, str(self.path))
        self.val_rows = n_val
        lo, hi = table[:, :d_x].min(0), table[:, :d_x].max(0)
        # One copy of the table: the rows in split order (test, validation, training); each
        # split and its x and y are views of it.
        order = torch.randperm(rows, generator=g).numpy()
        shuffled = torch.from_numpy(table[order])
        del table
        x, y = shuffled[:, :d_x], shuffled[:, d_x:]
        if self.test_path is None:
            x_test, y_test = x[:n_test], y[:n_test]
        else:
            test = torch.from_numpy(test_table)
            x_test, y_test = test[:, :d_x], test[:, d_x:]
        x_val, y_val = (x[n_test:n_test + n_val], y[n_test:n_test + n_val]) if n_val \
            else (None, None)
        x_train, y_train = x[n_test + n_val:], y[n_test + n_val:]
        lo, hi = torch.from_numpy(lo), torch.from_numpy(hi)
        meta = {"x_names": x_names, "y_names": y_names, "rows": int(rows),
                "box_lo": lo.tolist(), "box_hi": hi.tolist()}
        if self.dropped:
            meta["rows_dropped"] = self.dropped
        units = None
        if self.standardize:
            from jacnet_cli.core.units import Units

            units = Units.fit(x_train, y_train, scalar_units)
            if labels:
                units = units.logits()
            meta["units"] = units.describe()
        self.meta = meta
        return Dataset(x_train, y_train, x_test, y_test, self._grid(lo, hi, g),
                       (float(lo.min()), float(hi.max())), x_val, y_val, None, x_names,
                       y_names, units, meta=meta)

    SAMPLE_ROWS = 5000  # rows of each split kept in memory when streaming (plots, anchors)

    def _where(self, key: str) -> Any:
        """row index of the table as read -> where it is in the file ("line N")."""
        path = str(self.path if key == "data.path" else self.test_path)
        kept = self.kept

        def where(row: int) -> str:
            original = int(kept[row]) if kept is not None else row
            return tables.locate(path, key, self.delimiter, [original]).get(original, f"row {row + 1}")

        return where

    def _streamed(self, seed: int, scalar_units: bool, labels: bool = False) -> Dataset:
        """Convert the file once into a cache and stream it (memory of a few blocks)."""
        import torch

        from jacnet_cli.data import stream as streams
        from jacnet_cli.data.sampled import Dataset

        if self.test_path is not None:
            raise ValueError("data.test_path is not supported with streamed data; use "
                             "data.test_fraction (or data.stream=false)")
        path = Path(str(self.path)).expanduser()
        names, x_idx, y_idx = self._header(path)
        split = seed if self.split_seed is None else self.split_seed
        source = streams.convert(path, names, x_idx, y_idx, split, self.test_fraction,
                                 VAL_FRACTION if self.val_fraction == "auto"
                                 else self.val_fraction, self.drop_nonfinite,
                                 delimiter=self.delimiter)
        if source.counts["train"] < self.MIN_TRAIN_ROWS:
            raise ValueError(f"data.path={self.path!r} leaves {source.counts['train']} training "
                             f"rows; at least {self.MIN_TRAIN_ROWS} are needed")
        x_names, y_names = [names[i] for i in x_idx], [names[i] for i in y_idx]
        lo, hi = torch.from_numpy(source.lo), torch.from_numpy(source.hi)
        meta = {"x_names": x_names, "y_names": y_names, "rows": int(source.labels.shape[0]),
                "box_lo": lo.tolist(), "box_hi": hi.tolist(), "streamed": True}
        if source.dropped:
            meta["rows_dropped"] = source.dropped
            log.warning("data.path=%r: dropped %d rows with a missing value or NaN or inf in the "
                        "chosen columns (data.drop_nonfinite=true)", str(self.path), source.dropped)
        units = None
        if self.standardize:
            from jacnet_cli.core.units import Units

            def scale(var: np.ndarray) -> torch.Tensor:
                s = torch.from_numpy(np.sqrt(var.mean()) * np.ones_like(var) if scalar_units
                                     else np.sqrt(var))
                return torch.where(s > 0, s, torch.ones_like(s))

            units = Units(torch.from_numpy(source.x_mean), scale(source.x_var),
                          torch.from_numpy(source.y_mean), scale(source.y_var))
            if labels:
                units = units.logits()
            meta["units"] = units.describe()
        self.meta = meta
        g = torch.Generator().manual_seed(int(split))
        x_train, y_train = source.sample("train", self.SAMPLE_ROWS)
        x_test, y_test = source.sample("test", self.SAMPLE_ROWS)
        x_val, y_val = source.sample("val", self.SAMPLE_ROWS) if source.counts["val"] else (None, None)
        if labels:  # the sampled rows here; every streamed batch is checked by the loss
            check_labels(y_train.numpy(), y_names, "data.path")
        return Dataset(x_train, y_train, x_test, y_test, self._grid(lo, hi, g),
                       (float(lo.min()), float(hi.max())), x_val, y_val, None, x_names,
                       y_names, units, source, meta=meta)

    def _grid(self, lo: Tensor, hi: Tensor, g: torch.Generator) -> Tensor:
        import torch

        from jacnet_cli.data.sampled import box_points

        width = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        margin = self.guarantee_margin * width
        return box_points(lo - margin, hi + margin, self.grid_points, self.guarantee_points, g)

    def without_rows(self, seed: int) -> Dataset:
        """The saved run's frame as a Dataset with no rows: names, units and the guarantee
        box from `meta` (a run moved away from its file, or new rows to evaluate)."""
        import torch

        from jacnet_cli.data.sampled import Dataset

        m = self.meta
        d_x, d_y = len(m["x_names"]), len(m["y_names"])
        lo = torch.tensor(m["box_lo"], dtype=torch.float64)
        hi = torch.tensor(m["box_hi"], dtype=torch.float64)
        units = self.units_from_meta()
        empty_x, empty_y = torch.zeros(0, d_x, dtype=torch.float64), torch.zeros(0, d_y, dtype=torch.float64)
        g = torch.Generator().manual_seed(int(seed))
        return Dataset(empty_x, empty_y, empty_x, empty_y, self._grid(lo, hi, g),
                       (float(lo.min()), float(hi.max())), None, None, None,
                       list(m["x_names"]), list(m["y_names"]), units)

    def read_inputs(self, path: str) -> tuple[Tensor, Tensor | None]:
        """A new file's x columns (by the run's names) and its y columns when present; only
        those columns are read."""
        import torch

        file = tables._existing(path, "data.path")
        names = tables.column_names(file, "data.path", self.delimiter)
        x_names, y_names = self.meta["x_names"], self.meta["y_names"]
        with_y = all(n in names for n in y_names)
        chosen = x_names + (y_names if with_y else [])
        _, values = tables.read_table(path, "data.path", delimiter=self.delimiter,
                                      columns=chosen, missing=self.markers)
        ok = tables.finite_rows(values)
        if not ok.all():
            raise ValueError(tables.nonfinite_message(path, "data.path", self.delimiter, values,
                                                      chosen, ~ok, self.markers, "remove them"))
        table = torch.from_numpy(values)
        d_x = len(x_names)
        return table[:, :d_x], table[:, d_x:] if with_y else None


def _as_list(value: object) -> list:
    return [value] if isinstance(value, (str, int)) else list(value)  # type: ignore[arg-type]


def check_labels(y: np.ndarray, names: list[str], key: str, where: Any = None) -> None:
    """Refuse outputs that are not 0/1 labels (loss=bce), naming the column, value and where
    (`where(row) -> "line N"`; else the data row)."""
    bad = ~((y == 0) | (y == 1))
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        at = where(row) if where is not None else f"data row {row + 1}"
        count = int(bad.any(1).sum())
        more = f"; {count} rows hold other values" if count > 1 else ""
        raise ValueError(f"loss=bce needs 0/1 labels, but {key} column {names[col]!r} holds "
                         f"{float(y[row, col])!r} ({at}{more}); use a 0/1 column or loss=mse")


# ------------------------------------------------------------------ before torch loads


def _header(path: Path, key: str, x: Any, y: Any, delimiter: str | None
            ) -> tuple[list[str], list[int], list[int]]:
    """The file's column names and the indices of the chosen x and y columns (the header
    only is read)."""
    names = tables.column_names(path, key, delimiter)
    x_idx = tables.select_indices(names, x, "data.x", path)
    y_idx = tables.select_indices(names, y, "data.y", path)
    overlap = sorted(set(x_idx) & set(y_idx))
    if overlap:
        raise ValueError(f"data.x and data.y share the column(s) "
                         f"{', '.join(names[i] for i in overlap)}; a column is either an "
                         "input or an output")
    return names, x_idx, y_idx


def _streams(path: Any, x: Any, y: Any, stream: Any, memory_mb: float) -> bool:
    if stream != "auto":
        return bool(stream)
    columns = len(_as_list(x)) + len(_as_list(y))
    return 2 * tables.table_bytes(Path(str(path)).expanduser(), columns) > memory_mb * 2**20


#: training rows up to which `val_fraction=auto` holds no validation rows out: a split of a
#: few rows picks weights by chance (one row of an 8-row file), so a small file trains on
#: every row with the small-data plan (run/plan.py) instead
SMALL_ROWS = 50
VAL_FRACTION = 0.15  # val_fraction=auto for larger files


def split_sizes(rows: int, test_fraction: float, val_fraction: float | str, test_file: bool,
                path: str, min_train: int = FileData.MIN_TRAIN_ROWS) -> tuple[int, int, int]:
    """(test, validation, training) rows of a file of `rows` usable rows; ValueError (one
    line) when too few are left to train or to test. `val_fraction="auto"`: none when at most
    SMALL_ROWS rows are left to train on, else VAL_FRACTION."""
    n_test = 0 if test_file else int(round(test_fraction * rows))
    if val_fraction == "auto":
        val_fraction = 0.0 if rows - n_test <= SMALL_ROWS else VAL_FRACTION
    n_val = int(round(val_fraction * rows))
    n_train = rows - n_test - n_val
    if n_train < min_train or (not test_file and test_fraction > 0 and n_test < 1):
        raise ValueError(f"data.path={path!r} has {rows} usable rows; with "
                         f"test_fraction={test_fraction:g} and val_fraction={val_fraction:g} "
                         f"that leaves {n_train} for training and {n_test} for testing: give "
                         f"at least {min_train} training rows and 1 test row")
    return n_test, n_val, n_train


#: tables read by `precheck`, kept for the run it checked (read once): key -> values
_READ: dict[tuple, np.ndarray] = {}


def _identity(path: str, key: str, columns: list[int], delimiter: str | None,
              markers: tables.Missing) -> tuple:
    file = Path(path).expanduser().resolve()
    stat = file.stat()
    return (str(file), stat.st_size, stat.st_mtime_ns, key, tuple(columns), delimiter, markers)


def _table(path: str, key: str, columns: list[int], delimiter: str | None,
           markers: tables.Missing) -> np.ndarray:
    """The chosen columns of a file (float64), from `precheck`'s read when it made one."""
    kept = _READ.pop(_identity(path, key, columns, delimiter, markers), None)
    if kept is not None:
        return kept
    return tables.read_table(path, key, delimiter=delimiter, columns=columns,
                             missing=markers)[1]


def precheck(data: Mapping[str, Any] | None, labels: bool = False) -> None:
    """The command line's check of a file run's data before torch loads and before a run
    directory exists (no-op for other data): the path, the columns, every cell, the rows
    with missing values and the split sizes; raises ValueError (one line). A table read
    here is kept for the run (`_table`), so the file is read once. Streamed files (larger
    than `memory_mb`) are checked to their header. `labels` (loss=bce): the outputs must be
    0/1 labels."""
    target = f"{__name__}.{FileData.__name__}"
    if not data or data.get("_target_") != target:
        return
    path = data.get("path")
    if path in (None, "", "???"):
        raise ValueError("data.path is not set; pass data.path=FILE (.csv with a header, "
                         ".npz with arrays x and y, or .parquet)")
    for key in ("x", "y"):
        if data.get(key) in (None, "", [], "???"):
            raise ValueError(f"data.{key} is not set; name the {key} columns, e.g. "
                             f"data.{key}=[col1,col2] (names or 0-based indices)")
    if data.get("meta") is not None and not Path(str(path)).expanduser().is_file():
        return  # a saved run's config, rebuilt without its file
    delimiter = data.get("delimiter")
    if delimiter is not None:
        tables.check_delimiter(delimiter, "data.delimiter")
    markers = tables.Missing.of(data.get("missing", tables.MISSING))
    counts = []
    for key in ("path", "test_path"):
        file = data.get(key)
        if file is None:
            continue
        shown = f"data.{key}"
        names, x_idx, y_idx = _header(tables._existing(file, shown), shown, data["x"],
                                      data["y"], delimiter)
        if _streams(file, data["x"], data["y"], data.get("stream", "auto"),
                    float(data.get("memory_mb", 2048))):
            return
        columns = x_idx + y_idx
        identity = _identity(str(file), shown, columns, delimiter, markers)
        values = _READ.get(identity)  # checked already (a sweep checks each job's values)
        if values is None:
            values = tables.read_table(file, shown, delimiter=delimiter, columns=columns,
                                       missing=markers)[1]
        ok = tables.finite_rows(values)
        if not ok.all() and not data.get("drop_nonfinite", False):
            raise ValueError(tables.nonfinite_message(file, shown, delimiter, values,
                                                      [names[i] for i in columns], ~ok, markers))
        if labels:
            kept = np.flatnonzero(ok)
            check_labels(values[kept][:, len(x_idx):], [names[i] for i in y_idx], shown,
                         lambda row: tables.locate(file, shown, delimiter, [int(kept[row])])
                         .get(int(kept[row]), f"row {row + 1}"))
        counts.append(int(ok.sum()))
        if identity not in _READ:
            if key == "path":
                _READ.clear()  # one run's tables at a time
            _READ[identity] = values
    test_fraction, val_fraction = data.get("test_fraction", 0.2), data.get("val_fraction", 0.0)
    if counts and checks.is_number(test_fraction) and (checks.is_number(val_fraction)
                                                       or val_fraction == "auto"):
        split_sizes(counts[0], test_fraction, val_fraction, data.get("test_path") is not None,
                    str(path))
