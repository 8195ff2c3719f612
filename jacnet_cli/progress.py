"""A rich progress bar for training that shows loss, tolerance and NFE per iteration."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from jacnet_cli.fit import Step


@contextmanager
def bar(total: int, enabled: bool, label: str = "training") -> Iterator[Callable[[Step], None]]:
    """Yield a step callback that advances a rich bar (or does nothing when disabled)."""
    if not enabled:
        yield lambda step: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}  tol {task.fields[tol]}  "
                          "nfe {task.fields[nfe]}"), TimeElapsedColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(label, total=total, loss="-", tol="-", nfe="-")

        def advance(step: Step) -> None:
            tol = "-" if step.tolerance is None else f"{step.tolerance:.1e}"
            progress.update(task, advance=1, loss=f"{step.loss:.4g}", tol=tol,
                            nfe=f"{step.nfe_forward}+{step.nfe_backward}")

        yield advance
