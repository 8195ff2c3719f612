"""The CSV reader built on np.loadtxt: every one-line message, delimiters (sniffed and
given), empty cells as missing values, quoted headers, BOMs, line ends, and reading only the
columns asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jacnet_cli.data import tables

KEY = "data.path"


def _file(tmp_path: Path, text: str | bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_bytes(text.encode())
    else:
        path.write_bytes(text)
    return path


def _read(tmp_path: Path, text: str | bytes, **kw):
    return tables.read_csv(_file(tmp_path, text), KEY, **kw)


def _error(tmp_path: Path, text: str | bytes, **kw) -> str:
    with pytest.raises(ValueError) as info:
        _read(tmp_path, text, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


# --------------------------------------------------------------------------------------
# every message the old reader gave, word for word


def test_file_problems(tmp_path):
    p = str(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match=r"^data\.path='.*nope\.csv' does not exist$"):
        tables.read_csv(p)
    with pytest.raises(ValueError) as info:
        tables.read_csv(tmp_path)
    assert str(info.value) == (f"data.path={str(tmp_path)!r} is a directory; pass a .csv, .npz, "
                               ".parquet file")
    empty = _file(tmp_path, "")
    with pytest.raises(ValueError) as info:
        tables.read_csv(empty)
    assert str(info.value) == f"data.path={str(empty)!r} is empty"
    for blank in ("\n\n", "  \n1,2\n", ",,\n1,2\n"):  # a blank header line: empty, as before
        assert _error(tmp_path, blank).endswith(" is empty")
    with pytest.raises(ValueError, match=r"^y_file='.*nope\.csv' does not exist$"):
        tables.read_columns(p, ["y"], "y_file", "y")


def test_header_problems(tmp_path):
    path = str(tmp_path / "t.csv")
    assert _error(tmp_path, "1,2\n3,4\n") == (
        f"data.path={path!r} has no header row (its first row is numbers: 1, 2); add a first "
        "row of column names")
    assert _error(tmp_path, "1,2,3,4,5\n") .endswith("(its first row is numbers: 1, 2, 3, 4); "
                                                     "add a first row of column names")
    assert _error(tmp_path, "nan,inf\n1,2\n").endswith("its first row is numbers: nan, inf); "
                                                       "add a first row of column names")
    assert _error(tmp_path, "a,b,a\n1,2,3\n") == (
        f"data.path={path!r}: column names must be unique and non-empty (repeated or empty: "
        "['a'])")
    assert _error(tmp_path, "a,,b, \n1,2,3,4\n") == (
        f"data.path={path!r}: column names must be unique and non-empty (repeated or empty: "
        "[''])")
    assert _error(tmp_path, " a , a\n1,2\n").endswith("(repeated or empty: ['a'])")  # stripped


@pytest.mark.parametrize("columns", [None, ["a"], ["b", "a"]])
def test_ragged_rows(tmp_path, columns):
    path = str(tmp_path / "t.csv")
    assert _error(tmp_path, "a,b\n1,2\n3\n", columns=columns) == (
        f"data.path={path!r} line 3 has 1 cells; the header has 2")
    assert _error(tmp_path, "a,b\n1,2\n3,4\n5,6,7\n", columns=columns) == (
        f"data.path={path!r} line 4 has 3 cells; the header has 2")
    assert _error(tmp_path, "a,b\n1,2,\n", columns=columns).endswith(
        "line 2 has 3 cells; the header has 2")  # a trailing delimiter is a third cell
    # blank lines count as lines, as the old reader counted them
    assert _error(tmp_path, "a,b\n1,2\n\n\n3\n", columns=columns).endswith(
        "line 5 has 1 cells; the header has 2")


def test_ragged_rows_with_whitespace(tmp_path):
    for columns in (None, ["b"]):
        assert _error(tmp_path, "a b\n1 2\n3 4 5\n", columns=columns).endswith(
            "line 3 has 3 cells; the header has 2")


def test_a_cell_that_is_not_a_number(tmp_path):
    path = str(tmp_path / "t.csv")
    text = "a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,abc\n"
    assert _error(tmp_path, text) == (
        f"data.path={path!r} line 7, column 'b': 'abc' is not a number (missing values may be "
        "empty, NA, N/A, NaN, null, ?; data.missing sets the markers)")
    # the old test's file, and its expectation
    assert "line 3, column 'y': 'abc' is not a number" in _error(tmp_path, "x,y\n1,2\n3,abc\n")
    # every bad cell, from the left; the cell as written (spaces kept)
    assert _error(tmp_path, "a,b,c\n1, x ,y\n").startswith(
        f"data.path={path!r}: 2 bad cells or rows: line 2, column 'b': ' x ' is not a number; "
        "line 2, column 'c': 'y' is not a number")
    # with empty cells in the same file (they are NaN, so the text cell is reported)
    assert "line 4, column 'b': '1.2.3' is not a number (" in _error(
        tmp_path, "a,b\n,2\n3,\n4,1.2.3\n")
    assert "line 3, column 'b': 'abc' is not a number" in _error(tmp_path, "a;b\n1;2\n3;abc\n")
    assert "line 3, column 'b': 'abc' is not a number" in _error(tmp_path, "a b\n1 2\n3 abc\n")


def test_a_bad_cell_in_a_column_not_read_is_ignored(tmp_path):
    names, values = _read(tmp_path, "a,note,b\n1,abc,2\n3,,4\n", columns=["a", "b"])
    assert names == ["a", "b"] and values.tolist() == [[1, 2], [3, 4]]
    names, values = _read(tmp_path, 'a,note,b\n1,"x, y",2\n3,"z",4\n', columns=["b", "a"])
    assert names == ["b", "a"] and values.tolist() == [[2, 1], [4, 3]]


def test_unknown_format_and_columns(tmp_path):
    other = _file(tmp_path, "a,b\n1,2\n", name="t.txt")
    with pytest.raises(ValueError) as info:
        tables.read_table(other)
    assert str(info.value) == (f"data.path={str(other)!r} has an unknown format '.txt'; use one "
                               "of: .csv, .npz, .parquet")
    path = _file(tmp_path, "a,b\n1,2\n")
    with pytest.raises(ValueError) as info:
        tables.read_csv(path, columns=["x"])
    assert str(info.value) == f"data.path: no column 'x' in {path}; its columns are: a, b"
    with pytest.raises(ValueError) as info:
        tables.read_table(str(path), "data.x", columns=[2])
    assert str(info.value) == (f"data.x: column index 2 is out of range; {path} has 2 columns "
                               "(0..1)")
    with pytest.raises(ValueError, match=r"^data.path=\[\] is not allowed; name at least one "):
        tables.read_csv(path, columns=[])
    with pytest.raises(ValueError, match=r"^data.path=True is not a column name or index$"):
        tables.read_csv(path, columns=[True])
    names, values = tables.read_table(path)
    with pytest.raises(ValueError, match="^data.y: no column 'x' in p.csv; its columns are: a, b"):
        tables.select(names, values, "x", "data.y", "p.csv")


def test_read_columns_messages_and_subset(tmp_path):
    path = _file(tmp_path, "x,y,note\n1,2,a\nnan,3,b\n4,inf,c\n5,6,d\n")
    with pytest.raises(ValueError) as info:
        tables.read_columns(path, ["y", "x"], "y_file", "y")
    assert str(info.value) == (f"y_file={str(path)!r}: 2 row(s) hold a missing value (empty, NA, "
                               "N/A, NaN, null, ?) or NaN or inf in the chosen columns: line 3 "
                               "(x), line 4 (y); remove them")
    good = _file(tmp_path, "x,y,note\n1,2,a\n3,4,b\n", name="g.csv")
    assert tables.read_columns(good, ["y", "x"], "y_file", "y").tolist() == [[2, 1], [4, 3]]
    with pytest.raises(ValueError) as info:
        tables.read_columns(str(good), ["z"], "y_file", "y")
    assert str(info.value) == f"y_file: no column 'z' in {good}; its columns are: x, y, note"
    np.savez(tmp_path / "p.npz", y=np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"array 'y' has 2 columns; this run needs 1 \(y\)$"):
        tables.read_columns(tmp_path / "p.npz", ["y"], "y_file", "y")


def test_npz_and_text_points_are_unchanged(tmp_path):
    x = np.arange(6.0).reshape(3, 2)
    np.savez(tmp_path / "d.npz", x=x, y=x.sum(1))
    names, values = tables.read_table(tmp_path / "d.npz")
    assert names == ["x1", "x2", "y"] and values.tolist() == np.column_stack([x, x.sum(1)]).tolist()
    names, values = tables.read_table(tmp_path / "d.npz", columns=["y", 0])
    assert names == ["y", "x1"] and values.tolist() == [[1, 0], [5, 2], [9, 4]]
    np.savez(tmp_path / "e.npz", x=x)
    with pytest.raises(ValueError, match=r"lacks the array\(s\) y; it holds x$"):
        tables.read_table(tmp_path / "e.npz")
    points = _file(tmp_path, "# y\n1, 2\n3 4\n", name="p.txt")
    assert tables.read_text_points(points, 2, "y_file").tolist() == [[1, 2], [3, 4]]
    bad = _file(tmp_path, "1\nx\n", name="b.txt")
    with pytest.raises(ValueError, match="line 2 holds something other than numbers; a CSV needs"):
        tables.read_text_points(bad, 1, "y_file")


BAD_FILES = {  # tests/test_files.py's bad files that the reader itself refuses
    "missing": (None, "does not exist"),
    "empty": ("", "is empty"),
    "no_header": ("1,2\n3,4\n", "has no header row"),
    "non_numeric": ("x,y\n1,2\n3,abc\n", "line 3, column 'y': 'abc' is not a number"),
    "nan_rows": ("x,y\n1,2\nnan,3\n4,inf\n5,6\n7,8\n9,10\n", "2 row(s) hold a missing value"),
    "unknown_column": ("a,b\n1,2\n3,4\n", "no column 'x'"),
    "ragged": ("x,y\n1,2\n3\n", "line 3 has 1 cells"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_the_bad_files_of_the_cli_tests(tmp_path, kind):
    text, message = BAD_FILES[kind]
    path = tmp_path / "bad.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValueError) as info:
        tables.read_columns(path, ["x", "y"], KEY, "y")
    assert message in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------------------
# delimiters


TABLE = [[1.5, -2.0, 3.0], [4.0, 5.25, -6e-3]]


def _text(sep: str, newline: str = "\n") -> str:
    lines = [sep.join(["a", "b", "c"])] + [sep.join(repr(v) for v in row) for row in TABLE]
    return newline.join(lines) + newline


@pytest.mark.parametrize("sep", [",", ";", "\t", "|", " ", "   ", " \t "])
def test_delimiters_are_sniffed(tmp_path, sep):
    names, values = _read(tmp_path, _text(sep))
    assert names == ["a", "b", "c"] and values.tolist() == TABLE


@pytest.mark.parametrize("sep, given", [(",", ","), (";", ";"), ("\t", "\t"), ("\t", "tab"),
                                        ("\t", "\\t"), ("|", "|"), ("|", "pipe"),
                                        ("  ", "whitespace"), (":", ":")])
def test_delimiters_given(tmp_path, sep, given):
    names, values = _read(tmp_path, _text(sep), delimiter=given)
    assert names == ["a", "b", "c"] and values.tolist() == TABLE


def test_a_given_delimiter_is_used_as_given(tmp_path):
    # a comma file read with ';' is one column named "a,b,c": its cells are not numbers
    assert "line 2, column 'a,b,c': '1.5,-2.0,3.0' is not a number" in _error(
        tmp_path, _text(","), delimiter=";")
    # one space, given, is one space: two spaces make an empty (NaN) cell
    assert "line 2 has 3 cells; the header has 2" in _error(tmp_path, "a b\n1  2\n",
                                                            delimiter=" ")
    for bad in ("ab", "", "\n", '"', "1", "e", "."):
        message = _error(tmp_path, _text(","), delimiter=bad)
        assert message == (f"data.path: delimiter={bad!r} is not allowed; use one character "
                           "such as , ; | or tab, or 'whitespace'")


def test_sniffing():
    assert tables.sniff("a,b,c") == ","
    assert tables.sniff("a;b;c") == ";"
    assert tables.sniff("a\tb") == "\t"
    assert tables.sniff("a|b") == "|"
    assert tables.sniff("a b  c") is None  # whitespace runs
    assert tables.sniff("value") == ","  # one column
    assert tables.sniff("my value", "1.5") == ","  # one column whose name has a space
    assert tables.sniff('"a;1","b;2";"c"') == ";"  # delimiters inside quotes do not count
    assert tables.sniff('"x,y";"z"') == ";"
    assert tables.sniff("x;y", "1,5;2,5") == ";"  # decimal commas in the rows
    assert tables.sniff("a b,c d") == ","  # names with spaces
    assert tables.sniff("a,b;c", "1;2") == ";"  # the one the first row agrees with
    assert tables.sniff("a b\tc d", "1\t2") == "\t"


def test_decimal_commas_get_a_clear_message(tmp_path):
    assert "line 2, column 'x': '1,5' is not a number" in _error(tmp_path, "x;y\n1,5;2,5\n")


# --------------------------------------------------------------------------------------
# empty cells, quotes, BOM, line ends, encodings


@pytest.mark.parametrize("columns", [None, ["a", "b", "c"], ["c", "a"]])
def test_empty_cells_are_nan_and_empty_rows_are_skipped(tmp_path, columns):
    text = "a,b,c\n1,,3\n,2,\n,,\n\n4, ,6\n  \n7,8,9\n"
    names, values = _read(tmp_path, text, columns=columns)
    nan = np.nan
    full = np.array([[1, nan, 3], [nan, 2, nan], [4, nan, 6], [7, 8, 9]])
    index = [["a", "b", "c"].index(n) for n in (columns or ["a", "b", "c"])]
    assert names == (columns or ["a", "b", "c"]) and _same(values, full[:, index])
    assert tables.finite_rows(values).tolist() == np.isfinite(full[:, index]).all(1).tolist()
    assert tables.finite_rows(values).sum() == (3 if columns == ["c", "a"] else 1)


def test_runs_of_empty_cells(tmp_path):
    nan = np.nan
    for text, want in [("a,b,c,d\n1,,,4\n", [[1, nan, nan, 4]]),
                       ("a,b,c,d\n,,,4\n", [[nan, nan, nan, 4]]),
                       ("a,b,c,d\n1,,,\n", [[1, nan, nan, nan]]),
                       ("a,b,c,d,e\n,,3,,\n", [[nan, nan, 3, nan, nan]]),
                       ("a,b,c,d\n1,\t,,4\n", [[1, nan, nan, 4]])]:
        assert _same(_read(tmp_path, text)[1], np.array(want, dtype=float)), text


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_empty_cells_with_other_delimiters(tmp_path, sep):
    text = f"a{sep}b\n1{sep}\n{sep}2\n{sep}\n3{sep}4\n"
    names, values = _read(tmp_path, text)
    assert _same(values, np.array([[1, np.nan], [np.nan, 2], [3, 4]]))


def test_quotes(tmp_path):
    names, values = _read(tmp_path, '"a","b c"\n"1",2\n3,"4"\n')
    assert names == ["a", "b c"] and values.tolist() == [[1, 2], [3, 4]]
    names, values = _read(tmp_path, '"a","b"\n"1",""\n')  # a quoted empty cell
    assert _same(values, np.array([[1.0, np.nan]]))
    names, values = _read(tmp_path, '"x ""q""","y"\n1,2\n')
    assert names == ['x "q"', "y"]
    names, values = _read(tmp_path, '"a\nb",c\n1,2\n3,4\n')  # a newline in a quoted name
    assert names == ["a\nb", "c"] and values.tolist() == [[1, 2], [3, 4]]
    names, values = _read(tmp_path, '"a" "b c"\n1 2\n')  # quoted names, whitespace rows
    assert names == ["a", "b c"] and values.tolist() == [[1, 2]]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_bom_and_line_ends(tmp_path, newline, bom):
    text = bom + _text(",", newline).encode()
    names, values = _read(tmp_path, text)
    assert names == ["a", "b", "c"] and values.tolist() == TABLE
    names, values = _read(tmp_path, bom + f'"a","b"{newline}1,{newline}'.encode(),
                          columns=["b", "a"])
    assert names == ["b", "a"] and _same(values, np.array([[np.nan, 1.0]]))
    assert _error(tmp_path, bom + f"a,b{newline}1,2{newline}3{newline}".encode()).endswith(
        "line 3 has 1 cells; the header has 2")


def test_other_encodings(tmp_path):
    names, values = _read(tmp_path, "température,débit\n1,2\n".encode("utf-8"))
    assert names == ["température", "débit"]
    names, values = _read(tmp_path, "température;débit\n1;2\n".encode("latin-1"))
    assert names == ["température", "débit"] and values.tolist() == [[1, 2]]
    message = _error(tmp_path, b"a,b\n1,2\n3,\xff\xfe\n")  # not text: one line, no traceback
    assert "line 3, column 'b':" in message and "is not a number" in message


def test_a_header_only_file_and_shapes(tmp_path):
    names, values = _read(tmp_path, "a,b\n")
    assert names == ["a", "b"] and values.shape == (0, 2) and values.dtype == np.float64
    names, values = _read(tmp_path, "a,b\n", columns=["b"])
    assert values.shape == (0, 1)
    names, values = _read(tmp_path, "a\n1\n2\n")
    assert values.shape == (2, 1)
    names, values = _read(tmp_path, "a,b\n1,2\n")
    assert values.shape == (1, 2) and values.flags.c_contiguous


# --------------------------------------------------------------------------------------
# columns


def test_columns(tmp_path):
    path = _file(tmp_path, "a,b,c,d\n1,2,3,4\n5,6,7,8\n")
    names, values = tables.read_csv(path, columns=["d", "b"])
    assert names == ["d", "b"] and values.tolist() == [[4, 2], [8, 6]]
    names, values = tables.read_csv(path, columns=[0, -1, "a"])
    assert names == ["a", "d", "a"] and values.tolist() == [[1, 4, 1], [5, 8, 5]]
    names, values = tables.read_csv(path, columns="c")
    assert names == ["c"] and values.tolist() == [[3], [7]]
    names, values = tables.read_csv(path, columns=["a", "b", "c", "d"])
    assert values.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    names, values = tables.read_table(path, columns=["c"], delimiter=",")
    assert values.tolist() == [[3], [7]]


# --------------------------------------------------------------------------------------
# a larger file: the same numbers as np.loadtxt, by every tier


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    rng = np.random.default_rng(0)
    values = rng.standard_normal((20000, 11)) * 10.0 ** rng.integers(-8, 9, (20000, 11))
    path = tmp_path_factory.mktemp("big") / "big.csv"
    with open(path, "w") as f:
        f.write(",".join(f"c{i}" for i in range(11)) + "\n")
        np.savetxt(f, values, fmt="%.17g", delimiter=",")
    return path, values


def test_a_large_file_matches_loadtxt(big):
    path, values = big
    want = np.loadtxt(path, delimiter=",", skiprows=1)
    names, got = tables.read_csv(path)
    assert names == [f"c{i}" for i in range(11)]
    assert _same(got, want) and _same(got, values)
    names, got = tables.read_csv(path, columns=["c3", "c0"])
    assert _same(got, want[:, [3, 0]])


def test_the_three_tiers_agree(big):
    path, values = big
    layout = tables._layout(path, str(path), KEY, None)
    for usecols in (None, [3, 0]):
        want = values if usecols is None else values[:, usecols]
        assert _same(tables._loadtxt(path, layout, usecols), want)
        assert _same(tables._patched(path, layout, usecols), want)
        assert _same(tables._careful(path, str(path), KEY, layout, usecols), want)


def test_a_large_file_with_empty_cells(tmp_path, big):
    _, values = big
    holes = values.copy()
    holes[::7, 2] = np.nan
    holes[::11, 0] = np.nan
    holes[::13, 10] = np.nan
    lines = [",".join(f"c{i}" for i in range(11))]
    lines += [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in holes]
    path = _file(tmp_path, "\n".join(lines) + "\n")
    names, got = tables.read_csv(path)
    assert _same(got, holes)
    names, got = tables.read_csv(path, columns=["c10", "c1"])
    assert _same(got, holes[:, [10, 1]])
    assert tables.finite_rows(got).sum() == (~np.isnan(holes[:, 10])).sum()


def _only_tiers(monkeypatch, *allowed: str) -> None:
    def refuse(name):
        def tier(*args, **kwargs):
            raise AssertionError(f"{name} should not be needed here")
        return tier
    for name in ("_loadtxt", "_patched", "_careful"):
        if name not in allowed:
            monkeypatch.setattr(tables, name, refuse(name))


def test_plain_files_take_the_fast_tier(big, monkeypatch):
    path, values = big
    _only_tiers(monkeypatch, "_loadtxt")
    assert _same(tables.read_csv(path)[1], values)
    assert _same(tables.read_csv(path, columns=[5])[1], values[:, [5]])


def test_empty_cells_take_the_second_tier(tmp_path, monkeypatch):
    path = _file(tmp_path, "a,b,c\n1,,3\n,,\n,5,\n7,8,9\n")
    _only_tiers(monkeypatch, "_loadtxt", "_patched")
    assert _same(tables.read_csv(path)[1], np.array([[1, np.nan, 3], [np.nan, 5, np.nan],
                                                     [7, 8, 9]]))
    assert _same(tables.read_csv(path, columns=["c"])[1], np.array([[3], [np.nan], [9]]))
