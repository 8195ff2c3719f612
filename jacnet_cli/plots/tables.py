"""Results tables in Markdown: the one writer that `reproduce/`, `jacnet report` and the
benchmarks share, so every table in the repository is laid out the same way."""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence


def cell(value: Any, digits: int = 4) -> str:
    """One cell: floats to `digits` significant digits (nan as "–"), the rest as str."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{digits}g}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 4,
                   align: Sequence[str] | None = None) -> str:
    """A Markdown table (no trailing newline).

    Args:
        header: column titles.
        rows: one sequence of values per row, as long as `header`; values go through `cell`.
        digits: significant digits of float cells.
        align: per column "l", "r" or "c" (default: left for the first column, right after).

    Raises:
        ValueError: a row whose length is not the header's.
    """
    align = align or ["l", *("r" * (len(header) - 1))]
    rule = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule[a] for a in align) + "|"]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"table row {i} has {len(row)} cells, the header {len(header)}")
        lines.append("| " + " | ".join(cell(v, digits) for v in row) + " |")
    return "\n".join(lines)


def records_table(records: Sequence[dict[str, Any]], columns: Sequence[str],
                  titles: dict[str, str] | None = None, digits: int = 4) -> str:
    """A Markdown table of dicts: one row per record, `columns` picked in order (missing: "")."""
    titles = titles or {}
    return markdown_table([titles.get(c, c) for c in columns],
                          ([r.get(c) for c in columns] for r in records), digits)
