"""Reading users' tables: CSV with a header row, .npz arrays, Parquet (with pyarrow).

Every problem with a file is one ValueError line naming the key, the file and what is wrong
with it (missing, empty, no header, a non-numeric cell, NaN or inf rows, unknown columns).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

FORMATS = (".csv", ".npz", ".parquet")


def _existing(path: str | Path, key: str) -> Path:
    file = Path(str(path)).expanduser()
    if file.is_dir():
        raise ValueError(f"{key}={str(path)!r} is a directory; pass a {', '.join(FORMATS)} file")
    if not file.is_file():
        raise ValueError(f"{key}={str(path)!r} does not exist")
    if file.stat().st_size == 0:
        raise ValueError(f"{key}={str(path)!r} is empty")
    return file


def read_csv(path: str | Path, key: str = "data.path") -> tuple[list[str], np.ndarray]:
    """A CSV with a header row of column names: (names, values (N, C) float64).

    Cells must be numbers ("nan" and "inf" parse, and are caught by `finite_rows`).
    """
    file = _existing(path, key)
    with open(file, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise ValueError(f"{key}={str(path)!r} is empty")
        names = [h.strip() for h in header]
        if all(_is_number(h) for h in names):
            raise ValueError(f"{key}={str(path)!r} has no header row (its first row is numbers: "
                             f"{', '.join(names[:4])}); add a first row of column names")
        if len(set(names)) != len(names) or any(not n for n in names):
            dup = sorted({n for n in names if names.count(n) > 1 or not n})
            raise ValueError(f"{key}={str(path)!r}: column names must be unique and non-empty "
                             f"(repeated or empty: {dup})")
        rows: list[list[float]] = []
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(names):
                raise ValueError(f"{key}={str(path)!r} line {line} has {len(row)} cells; the "
                                 f"header has {len(names)}")
            try:
                rows.append([float(c) for c in row])
            except ValueError:
                bad = next(i for i, c in enumerate(row) if not _is_number(c))
                raise ValueError(f"{key}={str(path)!r} line {line}, column {names[bad]!r}: "
                                 f"{row[bad]!r} is not a number") from None
    values = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names))
    return names, values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path: str | Path, key: str = "data.path",
               array_names: Sequence[str] = ("x", "y")) -> tuple[list[str], np.ndarray]:
    """Any supported table as (column names, values (N, C) float64).

    An .npz holds arrays named x and y (each (N,) or (N, d)); their columns are named
    x1..xd and y1..yd (x and y when 1-D). Parquet needs pyarrow.
    """
    file = _existing(path, key)
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return read_csv(file, key)
    if suffix == ".npz":
        return _read_npz(file, key, array_names)
    if suffix == ".parquet":
        return _read_parquet(file, key)
    raise ValueError(f"{key}={str(path)!r} has an unknown format {suffix!r}; use one of: "
                     + ", ".join(FORMATS))


def _read_npz(file: Path, key: str, array_names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    try:
        arrays = np.load(file, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - a damaged archive
        raise ValueError(f"{key}={str(file)!r} cannot be read as .npz ({exc})") from None
    names: list[str] = []
    blocks: list[np.ndarray] = []
    with arrays:
        missing = [a for a in array_names if a not in arrays.files]
        if missing:
            raise ValueError(f"{key}={str(file)!r} lacks the array(s) {', '.join(missing)}; it "
                             f"holds {', '.join(arrays.files) or 'none'}")
        for name in array_names:
            a = arrays[name]
            if a.dtype.kind not in "biuf":
                raise ValueError(f"{key}={str(file)!r}: array {name!r} is not numeric "
                                 f"(dtype {a.dtype})")
            a = a.astype(np.float64).reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1)
            blocks.append(a)
            names += [name] if a.shape[1] == 1 else [f"{name}{i + 1}" for i in range(a.shape[1])]
    if len({b.shape[0] for b in blocks}) != 1:
        raise ValueError(f"{key}={str(file)!r}: arrays {', '.join(array_names)} have different "
                         "numbers of rows")
    return names, np.concatenate(blocks, axis=1)


def _read_parquet(file: Path, key: str) -> tuple[list[str], np.ndarray]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(f"{key}={str(file)!r} is Parquet, which needs pyarrow: "
                         "pip install pyarrow (or use .csv or .npz)") from None
    table = pq.read_table(file)
    names = list(table.column_names)
    try:
        values = np.column_stack([table.column(n).to_numpy().astype(np.float64) for n in names])
    except (ValueError, TypeError):
        raise ValueError(f"{key}={str(file)!r}: every column must be numeric") from None
    return names, values


def select(names: list[str], values: np.ndarray, wanted: Sequence[str | int] | str | int,
           key: str, path: str | Path) -> tuple[list[str], np.ndarray]:
    """The columns `wanted` (names or 0-based indices): (their names, values (N, k))."""
    if isinstance(wanted, (str, int)):
        wanted = [wanted]
    picked: list[int] = []
    for w in wanted:
        if isinstance(w, bool):
            raise ValueError(f"{key}={w!r} is not a column name or index")
        if isinstance(w, int):
            if not -len(names) <= w < len(names):
                raise ValueError(f"{key}: column index {w} is out of range; {path} has "
                                 f"{len(names)} columns (0..{len(names) - 1})")
            picked.append(w % len(names))
        elif w in names:
            picked.append(names.index(w))
        else:
            raise ValueError(f"{key}: no column {w!r} in {path}; its columns are: "
                             + ", ".join(names))
    if not picked:
        raise ValueError(f"{key}=[] is not allowed; name at least one column")
    return [names[i] for i in picked], values[:, picked]


def finite_rows(values: np.ndarray) -> np.ndarray:
    """A boolean mask (N,) of the rows whose every cell is finite."""
    return np.isfinite(values).all(axis=1)


def read_columns(path: str | Path, names: list[str], key: str, array: str) -> np.ndarray:
    """The columns `names` of a table (CSV/Parquet by name, .npz from the array `array`)."""
    file = _existing(path, key)
    if file.suffix.lower() == ".npz":
        cols, values = _read_npz(file, key, (array,))
        if values.shape[1] != len(names):
            raise ValueError(f"{key}={str(path)!r}: array {array!r} has {values.shape[1]} "
                             f"columns; this run needs {len(names)} ({', '.join(names)})")
    else:
        cols, values = read_table(file, key)
        _, values = select(cols, values, names, key, path)
    bad = ~finite_rows(values)
    if bad.any():
        raise ValueError(f"{key}={str(path)!r}: {int(bad.sum())} row(s) hold NaN or inf "
                         f"(first: row {int(np.argmax(bad)) + 1}); remove them")
    return values


def read_text_points(path: str | Path, d: int, key: str) -> np.ndarray:
    """Plain text, one point per line (numbers separated by spaces or commas; # comments)."""
    file = _existing(path, key)
    rows = []
    for n, line in enumerate(file.read_text().splitlines(), start=1):
        cells = line.split("#", 1)[0].replace(",", " ").split()
        if not cells:
            continue
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise ValueError(f"{key}={str(path)!r} line {n} holds something other than "
                             "numbers; a CSV needs the .csv suffix and a header") from None
    if not rows:
        raise ValueError(f"{key}={str(path)!r} holds no points")
    flat = d == 1 and all(len(r) >= 1 for r in rows)
    values = [v for r in rows for v in r] if flat else rows
    try:
        out = np.asarray(values, dtype=np.float64).reshape(-1, d)
    except ValueError:
        raise ValueError(f"{key}={str(path)!r}: every line must hold {d} numbers") from None
    if not np.isfinite(out).all():
        raise ValueError(f"{key}={str(path)!r}: every value must be finite")
    return out
