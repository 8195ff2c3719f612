"""Reading users' tables: CSV with a header row, .npz arrays, Parquet (with pyarrow).

Every problem with a file is one ValueError line naming the key, the file and what is wrong
with it (missing, empty, no header, non-numeric cells, NaN or inf rows, unknown columns). Lines
are the file's own line numbers (the header is line 1); a file with several bad cells gets them
all in one message (the first few and a count).

Missing values: an empty cell or one of `MISSING` (case-insensitive; `data.missing` replaces
the list, and a number in it, say -999, marks that value missing) reads as NaN.

A CSV is read by numpy's C reader (`np.loadtxt`) straight into one float64 array, in three
tiers, each tried only when the one before it fails:

1. `np.loadtxt` on the file: plain numeric files (the common case), at loadtxt's speed.
2. `np.loadtxt` on the file's lines with empty cells rewritten to "nan" and rows of only
   delimiters or spaces skipped (a cheap check per line, no per-cell Python work unless a
   line has an empty cell).
3. A row-by-row pass with the csv module that reproduces the old reader's checks exactly:
   it either raises the one-line message (ragged row, non-numeric cell with its line and
   column) or, when every cell is a number Python accepts (say "1_000"), returns the values.

Peak memory is the float64 table of the columns read plus buffers of fixed size: no Python
object is kept per cell.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

FORMATS = (".csv", ".npz", ".parquet")
SNIFFED = (",", ";", "\t", "|")  # tried in this order; whitespace runs when none fits
WHITESPACE = "whitespace"  # delimiter= value for "runs of spaces or tabs"
_ALIASES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
            "space": WHITESPACE, "spaces": WHITESPACE, WHITESPACE: WHITESPACE}
_SAMPLE = 1 << 16  # bytes read to find the header, the encoding and the delimiter
_BLOCK = 1 << 22  # bytes per block when counting delimiters
_ROWS = 4096  # rows per block in the row-by-row pass
_NAN = float("nan")
_ENDS = re.compile(rb"\r\n|\n|\r")  # line ends, in bytes
#: what reads as a missing value besides an empty cell (case-insensitive): `data.missing`
MISSING = ("NA", "N/A", "NaN", "null", "?")
SHOWN = 5  # bad cells or rows named in a message (then a count)


@dataclass(frozen=True)
class Missing:
    """Missing-value markers: text (matched case-insensitively, spaces around ignored) and
    numbers (values equal to one read as NaN)."""

    text: frozenset[str] = frozenset(m.lower() for m in MISSING)
    numbers: tuple[float, ...] = ()
    shown: tuple[str, ...] = MISSING  # as given, for messages

    @classmethod
    def of(cls, markers: Sequence[str | float] | str | None, key: str = "data.missing") -> "Missing":
        """Markers from a setting: a list of strings (or numbers); None: the defaults."""
        if markers is None:
            return cls()
        if isinstance(markers, (str, int, float)) and not isinstance(markers, bool):
            markers = [markers]
        text, numbers, shown = set(), [], []
        for m in markers:
            if isinstance(m, bool) or not isinstance(m, (str, int, float)):
                raise ValueError(f"{key}={list(markers)!r} is not allowed; give a list of "
                                 "strings such as [NA, n/a, '?'] (or numbers such as -999)")
            cell = str(m).strip()
            if isinstance(m, (int, float)) or (_is_number(cell) and cell.lower() not in
                                               ("nan", "+nan", "-nan")):
                numbers.append(float(m))
            elif cell:
                if any(c in cell for c in '"\r\n'):
                    raise ValueError(f"{key}: {m!r} cannot be a missing-value marker (quotes "
                                     "and line breaks are not allowed)")
                text.add(cell.lower())
                shown.append(cell)
        return cls(frozenset(text), tuple(numbers), tuple(shown))

    def is_missing(self, cell: str) -> bool:
        cell = cell.strip()
        return not cell or cell.lower() in self.text

    def words(self) -> str:
        """The markers in words, for messages."""
        shown = [*self.shown, *(f"{n:g}" for n in self.numbers)]
        return "empty" + "".join(f", {m}" for m in shown)

    def pattern(self, sep: str) -> re.Pattern[str] | None:
        """A regex matching a whole text-marker cell between `sep`s (None: no text markers)."""
        if not self.text:
            return None
        words = "|".join(re.escape(m) for m in sorted(self.text, key=len, reverse=True))
        s = re.escape(sep)
        return re.compile(rf"(?:^|(?<={s}))[ \t]*(?:{words})[ \t]*(?={s}|\n|$)", re.IGNORECASE)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Numeric markers as NaN (in place)."""
        for n in self.numbers:
            values[values == n] = np.nan
        return values


DEFAULT_MISSING = Missing()


def _existing(path: str | Path, key: str) -> Path:
    file = Path(str(path)).expanduser()
    if file.is_dir():
        raise ValueError(f"{key}={str(path)!r} is a directory; pass a {', '.join(FORMATS)} file")
    if not file.is_file():
        raise ValueError(f"{key}={str(path)!r} does not exist")
    if file.stat().st_size == 0:
        raise ValueError(f"{key}={str(path)!r} is empty")
    return file


# ---------------------------------------------------------------------------------------
# the header: encoding, delimiter, names


@dataclass
class _Layout:
    """How a CSV is laid out: its column names and how to read the rows after them."""

    names: list[str]
    sep: str | None  # one character, or None for runs of whitespace
    header_lines: int  # physical lines the header takes
    header_bytes: int  # bytes the header takes (BOM included)
    encoding: str


def _delimiter(delimiter: str | None, key: str) -> str | None:
    """An explicit delimiter= as one character, or None (whitespace runs); checked."""
    text = str(delimiter)
    text = _ALIASES.get(text.lower(), text) if len(text) > 1 else text
    if text == WHITESPACE:
        return None
    if len(text) != 1 or text in "\r\n\"" or text.isalnum() or text in ".+-":
        raise ValueError(f"{key}: delimiter={delimiter!r} is not allowed; use one character "
                         "such as , ; | or tab, or 'whitespace'")
    return text


def check_delimiter(delimiter: str, key: str = "data.delimiter") -> str | None:
    """A delimiter setting, checked: one character (returned), or None for runs of spaces."""
    try:
        return _delimiter(delimiter, key)
    except ValueError:
        raise ValueError(f"{key}={delimiter!r} is not allowed; use one character such as , ; | "
                         "or tab, or 'whitespace'") from None


def _fields(line: str, sep: str | None) -> list[str]:
    """The cells of one record (quotes removed as the csv module does)."""
    line = line.rstrip("\r\n")
    if sep is None:
        if '"' not in line:
            return line.split()
        cells = next(csv.reader([line.replace("\t", " ")], delimiter=" ",
                                skipinitialspace=True), [])
        return [c for c in cells if c]
    return next(csv.reader(io.StringIO(line, newline=""), delimiter=sep), [])


def sniff(header: str, first_row: str | None = None) -> str | None:
    """The delimiter of a CSV from its header line (and its first data row, if known).

    Among , ; tab | the one that splits the header into the most cells (more than one),
    preferring those that split the first data row into as many; quoted cells count as
    one. When none splits the header: whitespace runs if the header has several words (and
    the first row as many), else a comma (a one-column file).
    """
    counts = {d: len(_fields(header, d)) for d in SNIFFED}
    several = [d for d in SNIFFED if counts[d] > 1]
    agree = [d for d in several if first_row is None or len(_fields(first_row, d)) == counts[d]]
    pool = agree or several
    if pool:
        return max(pool, key=lambda d: counts[d])  # ties: the first in SNIFFED
    words = len(_fields(header, None))
    if words > 1 and (first_row is None or len(_fields(first_row, None)) == words):
        return None
    return ","


def _layout(file: Path, shown: str, key: str, delimiter: str | None) -> _Layout:
    """Reads the first bytes of the file: the encoding, header, delimiter and names."""
    with open(file, "rb") as f:
        raw = f.read(_SAMPLE)
        while len(_ENDS.findall(raw, 0, len(raw) - 1)) < 2:  # the header and a row, at least
            more = f.read(len(raw))  # doubling: a very wide header is read in few steps
            if not more:
                break
            raw += more
        whole = not f.read(1)
    encoding = "utf-8-sig"
    try:
        sample = codecs.getincrementaldecoder(encoding)().decode(raw, final=whole)
    except UnicodeDecodeError:  # not UTF-8: read every byte as one character
        encoding = "latin-1"
        sample = raw.decode(encoding)
    lines = io.StringIO(sample, newline=None).readlines()  # \r\n and \r end lines too
    header, used = "", 0
    while used < len(lines) and (used == 0 or header.count('"') % 2):  # quoted newlines
        header += lines[used]
        used += 1
    first_row = next((ln for ln in lines[used:] if ln.strip() and (whole or ln.endswith("\n"))),
                     None)
    try:
        sep = sniff(header, first_row) if delimiter is None else _delimiter(delimiter, key)
        cells = _fields(header, sep) if header.strip() else []
    except csv.Error as exc:
        raise ValueError(f"{key}={shown!r} cannot be read as CSV (its header: {exc})") from None
    if not any(h.strip() for h in cells):
        raise ValueError(f"{key}={shown!r} is empty")
    names = [h.strip() for h in cells]
    if all(_is_number(h) for h in names):
        raise ValueError(f"{key}={shown!r} has no header row (its first row is numbers: "
                         f"{', '.join(names[:4])}); add a first row of column names")
    if len(set(names)) != len(names) or any(not n for n in names):
        dup = sorted({n for n in names if names.count(n) > 1 or not n})
        raise ValueError(f"{key}={shown!r}: column names must be unique and non-empty "
                         f"(repeated or empty: {dup})")
    return _Layout(names, sep, used, _line_end(raw, used), encoding)


def _line_end(raw: bytes, lines: int) -> int:
    """The byte offset just past the first `lines` lines of `raw` (\\n, \\r\\n or \\r ends)."""
    pos = 0
    for _ in range(lines):
        m = _ENDS.search(raw, pos)
        if m is None:
            return len(raw)
        pos = m.end()
    return pos


def csv_header(path: str | Path, key: str = "data.path",
               delimiter: str | None = None) -> tuple[list[str], str | None]:
    """A CSV's column names and delimiter (None: whitespace runs), without reading its rows."""
    file = _existing(path, key)
    layout = _layout(file, str(path), key, delimiter)
    return layout.names, layout.sep


# ---------------------------------------------------------------------------------------
# the rows


def read_csv(path: str | Path, key: str = "data.path", delimiter: str | None = None,
             columns: Sequence[str | int] | str | int | None = None,
             missing: Missing = DEFAULT_MISSING) -> tuple[list[str], np.ndarray]:
    """A CSV with a header row of column names: (names, values (N, C) float64).

    Cells must be numbers ("nan" and "inf" parse, and are caught by `finite_rows`); an empty
    cell or a `missing` marker is a missing value, NaN. Rows that are empty (or only
    delimiters) are skipped. Every cell that is not a number (and every row of the wrong
    width) is named in one ValueError: the first few, by line and column, and a count.

    Args:
        path: the file (UTF-8, with or without a BOM; \\n, \\r\\n or \\r line ends).
        key: the setting that named the file, for messages.
        delimiter: None sniffs it from the header among , ; tab | and whitespace runs; else
            one character used as given (or 'tab', 'whitespace').
        columns: None for every column, else the columns to read (names or 0-based indices,
            as `select` takes them): only those are parsed and kept, and the names returned
            are theirs, in the order asked.
        missing: the missing-value markers (`Missing.of(data.missing)`).
    """
    return _read_csv(_existing(path, key), str(path), key, delimiter, columns, path, missing)


def _read_csv(file: Path, shown: str, key: str, delimiter: str | None,
              columns: Sequence[str | int] | str | int | None,
              where: str | Path, missing: Missing = DEFAULT_MISSING) -> tuple[list[str], np.ndarray]:
    layout = _layout(file, shown, key, delimiter)
    names = layout.names
    if columns is None:
        picked = list(range(len(names)))
    else:
        picked = _indices(names, columns, key, where)
    usecols = None if picked == list(range(len(names))) else picked
    return [names[i] for i in picked], missing.apply(_values(file, shown, key, layout, usecols,
                                                             missing))


class _Retry(Exception):
    """A faster tier cannot read this file as it is; the next tier will."""


class _Ragged(_Retry):
    """Rows whose width is not the header's (or delimiters inside quotes): tier 3 decides."""


def _values(file: Path, shown: str, key: str, layout: _Layout,
            usecols: list[int] | None, missing: Missing = DEFAULT_MISSING) -> np.ndarray:
    try:
        return _loadtxt(file, layout, usecols)
    except (ValueError, _Retry) as exc:
        hopeless = isinstance(exc, _Ragged) or (isinstance(exc, ValueError)
                                                and _not_a_number(str(exc), missing))
    if layout.sep is not None and not hopeless:
        try:
            return _patched(file, layout, usecols, missing)
        except (ValueError, _Retry):
            pass
    return _careful(file, shown, key, layout, usecols, missing)


def _not_a_number(message: str, missing: Missing = DEFAULT_MISSING) -> bool:
    """Whether loadtxt failed on a cell with text in it that is not a missing-value marker
    (so rewriting empty cells and markers is moot)."""
    m = re.search(r"could not convert string '(.*)' to", message)
    return m is not None and not missing.is_missing(m.group(1))


def _finish(values: np.ndarray, width: int) -> np.ndarray:
    if values.size == 0:
        return np.zeros((0, width), dtype=np.float64)
    if values.shape[1] != width:
        raise _Retry
    return values


def _loadtxt(file: Path, layout: _Layout, usecols: list[int] | None) -> np.ndarray:
    """Tier 1: numpy's C reader on the file itself."""
    width = len(layout.names) if usecols is None else len(usecols)
    with warnings.catch_warnings():  # a header and no rows: "input contained no data"
        warnings.simplefilter("ignore", UserWarning)
        values = np.loadtxt(str(file), dtype=np.float64, delimiter=layout.sep, comments=None,
                            quotechar='"', skiprows=layout.header_lines, usecols=usecols,
                            ndmin=2, encoding=layout.encoding)
    if values.size and values.shape[1] != width:
        raise _Ragged
    values = _finish(values, width)
    if usecols is not None and values.shape[0]:  # loadtxt ignores cells it was not asked for
        _check_width(file, layout, values.shape[0])
    return values


def _check_width(file: Path, layout: _Layout, rows: int) -> None:
    """Raises _Retry unless the rows after the header hold rows x width cells in all.

    loadtxt with usecols accepts rows longer or shorter than the header as long as the
    chosen cells exist; counting the delimiters (whitespace runs) of the whole file in C/numpy
    keeps the old guarantee that every row has the header's width. A quote in the rows
    (a delimiter may hide inside) also retries: the row-by-row pass settles it.
    """
    width = len(layout.names)
    with open(file, "rb") as f:
        f.seek(layout.header_bytes)
        if layout.sep is not None:
            sep = layout.sep.encode("latin-1" if layout.encoding == "latin-1" else "utf-8")
            found = 0
            for block in iter(lambda: f.read(_BLOCK), b""):
                if b'"' in block:
                    raise _Retry
                found += block.count(sep)
            if found != rows * (width - 1):
                raise _Ragged
            return
        cells, space = 0, True  # whitespace: count the starts of runs of non-space bytes
        for block in iter(lambda: f.read(_BLOCK), b""):
            if b'"' in block:
                raise _Retry
            blank = np.frombuffer(block, dtype=np.uint8) <= 32
            cells += int(np.count_nonzero(~blank[1:] & blank[:-1])) + (space and not blank[0])
            space = bool(blank[-1])
        if cells != rows * width:
            raise _Ragged


def _empty_as_nan(sep: str, width: int, check: bool,
                  missing: Missing = DEFAULT_MISSING) -> Callable[[str], str | None]:
    """A line rewriter: empty cells and missing-value markers written as nan, a row of only
    delimiters or spaces gives None (skipped, as the old reader skipped them); with `check`,
    a row whose width is not `width` raises _Retry."""
    double, ends, blank, nan = sep + sep, (sep + "\n", sep), sep + " \t\n", sep + "nan" + sep
    pads = [c for c in " \t" if c != sep]
    marker = missing.pattern(sep)

    def fix(line: str) -> str | None:
        if marker is not None and '"' not in line:  # a quoted marker: the careful pass
            line = marker.sub("nan", line)
        if double in line or line.startswith(sep) or line.endswith(ends) or line.isspace():
            if not line.strip(blank):
                return None
            if any(c in line for c in pads):  # cells of spaces are empty too
                cells = line.rstrip("\n").split(sep)
                line = sep.join([c if c.strip() else "nan" for c in cells]) + "\n"
            else:  # twice: ",,," holds two overlapping ",,"
                line = (sep + line.rstrip("\n") + sep).replace(double, nan).replace(
                    double, nan)[1:-1] + "\n"
        if check and line.count(sep) != width - 1:
            raise _Retry
        return line

    return fix


def _patched(file: Path, layout: _Layout, usecols: list[int] | None,
             missing: Missing = DEFAULT_MISSING) -> np.ndarray:
    """Tier 2: loadtxt on the lines, empty cells and missing-value markers written as nan,
    blank rows left out."""
    sep, width = layout.sep, len(layout.names)
    assert sep is not None
    # loadtxt checks the width itself when reading every cell
    fix = _empty_as_nan(sep, width, check=usecols is not None, missing=missing)

    def lines(f: io.TextIOBase) -> Iterator[str]:
        for line in f:  # (universal newlines: every line ends in \n, but the last may not)
            fixed = fix(line)
            if fixed is not None:
                yield fixed

    with open(file, encoding=layout.encoding, errors="replace", newline=None) as f:
        for _ in range(layout.header_lines):
            f.readline()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            values = np.loadtxt(lines(f), dtype=np.float64, delimiter=sep, comments=None,
                                quotechar='"', usecols=usecols, ndmin=2)
    return _finish(values, width if usecols is None else len(usecols))


def csv_blocks(path: str | Path, key: str, delimiter: str | None, usecols: list[int],
               rows: int, missing: Missing = DEFAULT_MISSING) -> Iterator[np.ndarray]:
    """A CSV's columns `usecols` in blocks of up to `rows` rows (N, k), float64, memory
    bounded by the block: for files read once into a stream cache. Empty cells are NaN; a
    bad block gets one line naming where it is."""
    file = _existing(path, key)
    layout = _layout(file, str(path), key, delimiter)
    width, sep = len(layout.names), layout.sep
    fix = _empty_as_nan(sep, width, check=True, missing=missing) if sep is not None else None
    with open(file, encoding=layout.encoding, errors="replace", newline=None) as f:
        for _ in range(layout.header_lines):
            f.readline()
        line = layout.header_lines + 1
        while True:
            raw = list(itertools.islice(f, rows))
            if not raw:
                return
            block = raw
            if fix is not None:
                block = []
                for i, text in enumerate(raw):
                    try:
                        fixed = fix(text)
                    except _Retry:
                        raise ValueError(f"{key}={str(path)!r} line {line + i} has "
                                         f"{len(_fields(text, sep))} cells; the header has "
                                         f"{width}") from None
                    if fixed is not None:
                        block.append(fixed)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    values = np.loadtxt(block, dtype=np.float64, delimiter=sep, comments=None,
                                        quotechar='"', usecols=usecols, ndmin=2)
            except ValueError as exc:
                raise ValueError(f"{key}={str(path)!r}: a cell near line {line} is not a "
                                 f"number ({str(exc).splitlines()[0][:120]})") from None
            line += len(raw)
            if values.size:
                yield missing.apply(values)


class _Rows:
    """A float64 (n, k) array grown in place (realloc), trimmed at the end."""

    def __init__(self, width: int):
        self.data = np.empty((_ROWS, width), dtype=np.float64)
        self.n = 0

    def add(self, rows: list[list[float]]) -> None:
        if not rows:
            return
        need = self.n + len(rows)
        if need > self.data.shape[0]:
            self.data.resize((max(need, 2 * self.data.shape[0]), self.data.shape[1]),
                             refcheck=False)
        self.data[self.n:need] = rows
        self.n = need

    def done(self) -> np.ndarray:
        self.data.resize((self.n, self.data.shape[1]), refcheck=False)
        return self.data


def _careful(file: Path, shown: str, key: str, layout: _Layout,
             usecols: list[int] | None, missing: Missing = DEFAULT_MISSING) -> np.ndarray:
    """Tier 3: row by row with the csv module. Every row of the wrong width and every chosen
    cell that is neither a number nor missing is collected, and all are reported in one
    ValueError (the first few by line and column, and how many)."""
    names, sep = layout.names, layout.sep
    picked = list(range(len(names))) if usecols is None else usecols
    order = sorted(set(picked))  # a row's bad cells, left to right
    out, block = _Rows(len(picked)), []
    problems: list[str] = []
    count = 0
    with open(file, encoding=layout.encoding, errors="replace", newline="") as f:
        if sep is None:
            for _ in range(layout.header_lines):
                f.readline()
            records: Iterator[list[str]] = (ln.split() for ln in f)
            first = layout.header_lines + 1
        else:
            records = csv.reader(f, delimiter=sep)
            next(records, None)  # the header: one record
            first = 2
        for line, row in _records(records, first, shown, key):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(names):
                count += 1
                if len(problems) < SHOWN:
                    problems.append(f"line {line} has {len(row)} cells; the header has "
                                    f"{len(names)}")
                continue
            try:
                block.append([float(row[i]) for i in picked])
            except ValueError:
                cells = {}
                for i in order:
                    if missing.is_missing(row[i]):
                        cells[i] = _NAN
                    elif _is_number(row[i]):
                        cells[i] = float(row[i])
                    else:
                        count += 1
                        if len(problems) < SHOWN:
                            problems.append(f"line {line}, column {names[i]!r}: {row[i]!r} is "
                                            "not a number")
                if not count:
                    block.append([cells[i] for i in picked])
            if len(block) == _ROWS:
                out.add(block)
                block = []
    if count:
        raise ValueError(_problems(key, shown, problems, count, missing))
    out.add(block)
    return out.done()


def _problems(key: str, shown: str, problems: list[str], count: int, missing: Missing) -> str:
    """One line for every bad cell and row of a file: the first few, and how many."""
    hint = (f" (missing values may be {missing.words()}; data.missing sets the markers)"
            if any("not a number" in p for p in problems) else "")
    if count == 1:
        return f"{key}={shown!r} {problems[0]}{hint}"
    more = f" (the first {len(problems)} of {count})" if count > len(problems) else ""
    return f"{key}={shown!r}: {count} bad cells or rows: {'; '.join(problems)}{more}{hint}"


def _records(records: Iterator[list[str]], first: int, shown: str,
             key: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of each record; the csv module's own complaints as one line."""
    line = first
    try:
        for line, row in enumerate(records, start=first):
            yield line, row
    except csv.Error as exc:
        raise ValueError(f"{key}={shown!r} cannot be read as CSV near line {line + 1} "
                         f"({exc})") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------
# any table


def read_table(path: str | Path, key: str = "data.path",
               array_names: Sequence[str] = ("x", "y"), delimiter: str | None = None,
               columns: Sequence[str | int] | str | int | None = None,
               missing: Missing = DEFAULT_MISSING) -> tuple[list[str], np.ndarray]:
    """Any supported table as (column names, values (N, C) float64).

    An .npz holds arrays named x and y (each (N,) or (N, d)); their columns are named
    x1..xd and y1..yd (x and y when 1-D). Parquet needs pyarrow. `delimiter` and `columns`
    are as in `read_csv` (`columns` also picks from .npz and Parquet tables); `missing`'s
    numbers read as NaN in any format, its text markers in a CSV.
    """
    file = _existing(path, key)
    return _read_any(file, key, array_names, delimiter, columns, path, str(path), missing)


def _read_any(file: Path, key: str, array_names: Sequence[str], delimiter: str | None,
              columns: Sequence[str | int] | str | int | None, where: str | Path,
              shown: str, missing: Missing = DEFAULT_MISSING) -> tuple[list[str], np.ndarray]:
    """The table in `file`; `where` names it in column messages, `shown` in format ones."""
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return _read_csv(file, str(file), key, delimiter, columns, where, missing)
    if suffix == ".npz":
        names, values = _read_npz(file, key, array_names)
    elif suffix == ".parquet":
        names, values = _read_parquet(file, key, columns, where)
        columns = None
    else:
        raise ValueError(f"{key}={shown!r} has an unknown format {suffix!r}; use one of: "
                         + ", ".join(FORMATS))
    if columns is not None:
        names, values = select(names, values, columns, key, where)
    return names, missing.apply(values)


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


def _read_parquet(file: Path, key: str, columns: Sequence[str | int] | str | int | None = None,
                  where: str | Path | None = None) -> tuple[list[str], np.ndarray]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(f"{key}={str(file)!r} is Parquet, which needs pyarrow: "
                         "pip install pyarrow (or use .csv or .npz)") from None
    if columns is None:
        table = pq.read_table(file)
        names = list(table.column_names)
    else:
        every = list(pq.ParquetFile(file).schema_arrow.names)
        names = [every[i] for i in _indices(every, columns, key, where or file)]
        table = pq.read_table(file, columns=list(dict.fromkeys(names)))
    try:
        values = np.column_stack([table.column(n).to_numpy().astype(np.float64) for n in names])
    except (ValueError, TypeError):
        raise ValueError(f"{key}={str(file)!r}: every column must be numeric") from None
    return names, values


def _indices(names: list[str], wanted: Sequence[str | int] | str | int, key: str,
             path: str | Path) -> list[int]:
    """The 0-based indices of the columns `wanted` (names or indices), checked."""
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
    return picked


def select(names: list[str], values: np.ndarray, wanted: Sequence[str | int] | str | int,
           key: str, path: str | Path) -> tuple[list[str], np.ndarray]:
    """The columns `wanted` (names or 0-based indices): (their names, values (N, k))."""
    picked = _indices(names, wanted, key, path)
    return [names[i] for i in picked], values[:, picked]


def finite_rows(values: np.ndarray) -> np.ndarray:
    """A boolean mask (N,) of the rows whose every cell is finite."""
    return np.isfinite(values).all(axis=1)


def read_columns(path: str | Path, names: list[str], key: str, array: str,
                 missing: Missing = DEFAULT_MISSING) -> np.ndarray:
    """The columns `names` of a table (CSV/Parquet by name, .npz from the array `array`).

    A CSV or Parquet file is read for those columns only; a row with a missing or non-finite
    value is refused, naming its line.
    """
    file = _existing(path, key)
    if file.suffix.lower() == ".npz":
        cols, values = _read_npz(file, key, (array,))
        if values.shape[1] != len(names):
            raise ValueError(f"{key}={str(path)!r}: array {array!r} has {values.shape[1]} "
                             f"columns; this run needs {len(names)} ({', '.join(names)})")
    else:
        _, values = _read_any(file, key, ("x", "y"), None, names, path, str(file), missing)
    bad = ~finite_rows(values)
    if bad.any():
        raise ValueError(nonfinite_message(path, key, None, values, names, bad, missing,
                                           "remove them"))
    return values


def locate(path: str | Path, key: str, delimiter: str | None, rows: Sequence[int]) -> dict[int, str]:
    """Where data rows are in a file, for messages: row index (0-based, blank rows not
    counted) -> "line N", the file's own line number (the header is line 1), for a CSV; "row
    N" (1-based) for .npz and Parquet. Read only as far as the last row asked for."""
    wanted = sorted({int(r) for r in rows})
    file = Path(str(path)).expanduser()
    if file.suffix.lower() != ".csv" or not wanted:
        return {r: f"row {r + 1}" for r in wanted}
    layout = _layout(file, str(path), key, delimiter)
    out: dict[int, str] = {}
    index, todo = 0, iter(wanted)
    target = next(todo)
    with open(file, encoding=layout.encoding, errors="replace", newline="") as f:
        if layout.sep is None:
            for _ in range(layout.header_lines):
                f.readline()
            starts: Iterator[tuple[int, list[str]]] = (
                (n, ln.split()) for n, ln in enumerate(f, start=layout.header_lines + 1))
        else:
            reader = csv.reader(f, delimiter=layout.sep)
            next(reader, None)

            def numbered() -> Iterator[tuple[int, list[str]]]:
                end = reader.line_num
                try:
                    for row in reader:
                        yield end + 1, row
                        end = reader.line_num
                except csv.Error:
                    return

            starts = numbered()
        for line, row in starts:
            if not row or all(not c.strip() for c in row):
                continue
            if index == target:
                out[index] = f"line {line}"
                target = next(todo, None)
                if target is None:
                    break
            index += 1
    return out


def nonfinite_message(path: str | Path, key: str, delimiter: str | None, values: np.ndarray,
                      names: Sequence[str], bad: np.ndarray, missing: Missing = DEFAULT_MISSING,
                      fix: str = "remove them, or pass data.drop_nonfinite=true to drop them"
                      ) -> str:
    """One line for the rows `bad` (a mask) of a table read from `path`: how many hold a
    missing or non-finite value in the chosen columns, the first few by line with the columns
    concerned, and the fix."""
    idx = np.flatnonzero(bad)
    return (f"{key}={str(path)!r}: {idx.size} row(s) hold a missing value ({missing.words()}) "
            f"or NaN or inf in the chosen columns: {rows_in_words(path, key, delimiter, values, names, idx)}"
            f"; {fix}")


def rows_in_words(path: str | Path, key: str, delimiter: str | None, values: np.ndarray,
                  names: Sequence[str], idx: np.ndarray, original: np.ndarray | None = None) -> str:
    """'line 19 (dose), line 44 (response)' for the rows `idx` of `values` (the first few,
    then how many); `original` maps them to the file's rows when some were dropped."""
    first = [int(i) for i in idx[:SHOWN]]
    rows = [int(original[i]) if original is not None else i for i in first]
    where = locate(path, key, delimiter, rows)
    parts = []
    for i, r in zip(first, rows):
        cols = [names[j] for j in np.flatnonzero(~np.isfinite(values[i]))]
        parts.append(where.get(r, f"row {r + 1}") + (f" ({', '.join(cols)})" if cols else ""))
    more = f" (the first {len(parts)} of {idx.size})" if idx.size > len(parts) else ""
    return ", ".join(parts) + more


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


# ---------------------------------------------------------------------------------------
# headers without the rows (no torch: the pre-run checks use them)


def npy_header(handle: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) of an .npy member, its header read and nothing more."""
    from numpy.lib import format as npy

    version = npy.read_magic(handle)
    read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    return read(handle)


def column_names(path: str | Path, key: str, delimiter: str | None = None) -> list[str]:
    """The header of a table without reading its rows."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return csv_header(path, key, delimiter)[0]
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError(f"{key}={str(path)!r} is Parquet, which needs pyarrow: "
                             "pip install pyarrow (or use .csv or .npz)") from None
        return list(pq.ParquetFile(path).schema_arrow.names)
    if suffix != ".npz":
        raise ValueError(f"{key}={str(path)!r} has an unknown format {suffix!r}; use one of: "
                         + ", ".join(FORMATS))
    import zipfile

    names: list[str] = []
    try:
        with zipfile.ZipFile(path) as archive:
            for member in ("x", "y"):
                with archive.open(f"{member}.npy") as handle:
                    shape, _, _ = npy_header(handle)
                width = int(np.prod(shape[1:])) if len(shape) > 1 else 1
                names += [member] if width == 1 else [f"{member}{i + 1}" for i in range(width)]
    except (KeyError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ValueError(f"{key}={str(path)!r} cannot be read as .npz with arrays x and y "
                         f"({str(exc).splitlines()[0][:120]})") from None
    return names


def table_bytes(path: str | Path, columns: int) -> int:
    """About how many bytes `columns` columns of the table take as float64 in memory.

    A CSV's rows are estimated from its size and the length of its first lines; an .npz's
    and a Parquet file's are read from their headers.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, "rb") as f:
            sample = f.read(1 << 16)
        lines = sample.count(b"\n") or 1
        rows = path.stat().st_size / (len(sample) / lines)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path).metadata.num_rows
    else:
        import zipfile

        with zipfile.ZipFile(path) as archive, archive.open("x.npy") as handle:
            shape, _, _ = npy_header(handle)
        rows = shape[0] if shape else 1
    return int(rows * columns * 8)


def select_indices(names: Sequence[str], wanted: Sequence[str | int] | str | int, key: str,
                   path: str | Path) -> list[int]:
    chosen, _ = select(list(names), np.zeros((0, len(names))), wanted, key, path)
    return [list(names).index(n) for n in chosen]
