"""A task that is not part of jacnet, for the test that adding one takes only its function, its
row and its YAML (test_adding_a_task.py). Nothing in jacnet_cli names it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jacnet_cli.core import checks


def check(cfg: dict[str, Any], typed: frozenset[str] = frozenset()) -> None:
    """The task's own keys, checked before any run directory exists."""
    checks.integer("n", cfg.get("n"), 1)


def run(cfg: Any, run_dir: Path) -> dict[str, Any]:
    """Sum the first n squares into toy.json: a result with a closed form, n(n+1)(2n+1)/6."""
    out = {"n": int(cfg.n), "sum": sum(k * k for k in range(1, int(cfg.n) + 1))}
    (run_dir / "toy.json").write_text(json.dumps(out))
    return out
