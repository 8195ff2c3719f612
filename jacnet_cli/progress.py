"""A rich progress bar for training that shows loss, tolerance and NFE per iteration."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterator

from jacnet_cli.fit import Step


@contextmanager
def bar(total: int, enabled: bool, label: str = "training") -> Iterator[Callable[[Step], None]]:
    """Yield a step callback that advances a rich bar (or does nothing when disabled).

    While the bar is live, console log handlers only pass warnings, so lines do not tear
    the bar; file handlers (the run's log) still get everything.
    """
    if not enabled:
        yield lambda step: None
        return
    console = [h for h in logging.getLogger().handlers
               if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    levels = [h.level for h in console]
    from rich.progress import (BarColumn, MofNCompleteColumn, TextColumn,
                               TimeElapsedColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}  tol {task.fields[tol]}  "
                          "nfe {task.fields[nfe]}"), TimeElapsedColumn())
    for handler in console:
        handler.setLevel(max(handler.level, logging.WARNING))
    try:
        yield from _live(total, label, columns)
    finally:
        for handler, level in zip(console, levels):
            handler.setLevel(level)


def _live(total: int, label: str, columns: tuple) -> Iterator[Callable[[Step], None]]:
    from rich.progress import Progress

    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(label, total=total, loss="-", tol="-", nfe="-")

        def advance(step: Step) -> None:
            tol = "-" if step.tolerance is None else f"{step.tolerance:.1e}"
            progress.update(task, advance=1, loss=f"{step.loss:.4g}", tol=tol,
                            nfe=f"{step.nfe_forward}+{step.nfe_backward}")

        yield advance
