"""Checks of one value: the key, the bad value and what is allowed, in one line.

Every component checks its own arguments with these, so a bad value is refused where it is
used and worded the same everywhere:

    eps = checks.positive("activation.eps", eps)
    -> ValueError: activation.eps=0 is not allowed; it must be a finite number > 0

Each check returns the value (converted where that is safe: a positive number to float) or
raises ValueError. `optional=True` also accepts None (e.g. "keep the saved run's value").
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence


def refuse(key: str, value: Any, rule: str) -> ValueError:
    """The error for key=value: '<key>=<value> is not allowed; <rule>'."""
    return ValueError(f"{key}={value!r} is not allowed; {rule}")


def _must(rule: str, optional: bool) -> str:
    return f"it must be {'null or ' if optional else ''}{rule}"


def is_number(value: Any) -> bool:
    """A real number (int or float), not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive(key: str, value: Any, optional: bool = False) -> float | None:
    """A finite number > 0 (a learning rate, a tolerance, ε)."""
    if value is None and optional:
        return None
    if is_number(value) and math.isfinite(value) and value > 0:
        return float(value)
    raise refuse(key, value, _must("a finite number > 0", optional))


def nonnegative(key: str, value: Any, optional: bool = False) -> float | None:
    """A finite number >= 0 (a penalty weight, a floor that may be 0)."""
    if value is None and optional:
        return None
    if is_number(value) and math.isfinite(value) and value >= 0:
        return float(value)
    raise refuse(key, value, _must("a finite number >= 0", optional))


def number(key: str, value: Any, low: float = -math.inf, high: float = math.inf,
           optional: bool = False, closed: bool = True) -> float | None:
    """A finite number in [low, high] (closed) or (low, high) (not closed)."""
    if value is None and optional:
        return None
    if is_number(value) and math.isfinite(value) and (
            low <= value <= high if closed else low < value < high):
        return float(value)
    if low == -math.inf and high == math.inf:
        rule = "a finite number"
    elif high == math.inf:
        rule = f"a number {'>=' if closed else '>'} {low:g}"
    else:
        rule = f"a number in {'[' if closed else '('}{low:g}, {high:g}{']' if closed else ')'}"
    raise refuse(key, value, _must(rule, optional))


def integer(key: str, value: Any, minimum: int = 0, optional: bool = False) -> int | None:
    """An integer >= minimum (not a bool, not a float)."""
    if value is None and optional:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    raise refuse(key, value, _must(f"an integer >= {minimum}", optional))


def boolean(key: str, value: Any) -> bool:
    """true or false."""
    if isinstance(value, bool):
        return value
    raise refuse(key, value, "it must be true or false")


def one_of(key: str, value: Any, options: Iterable[Any], optional: bool = False) -> Any:
    """One of the options (a list the caller owns)."""
    if value is None and optional:
        return None
    options = list(options)
    if isinstance(value, (str, int, float, bool)) and value in options:
        return value
    return _not_an_option(key, value, options)


def _not_an_option(key: str, value: Any, options: Sequence[Any]) -> Any:
    raise refuse(key, value, "choose one of: " + ", ".join(map(str, options)))


def interval(key: str, value: Any) -> tuple[float, float]:
    """[low, high] with finite low < high."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise refuse(key, value, "it must be [low, high]") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise refuse(key, [lo, hi], "it must be [low, high] with low < high")
    return lo, hi
