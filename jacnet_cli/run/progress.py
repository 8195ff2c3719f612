"""Rich progress displays: a training bar (loss, tolerance, NFE) and an evaluation status."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from jacnet_cli.run.records import Step


log = logging.getLogger(__name__)

#: seconds between two progress lines of a run without a terminal
EVERY_S = 10.0


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Ticker:
    """A step callback for a run without a terminal: one log line every `every` seconds
    with the step, the loss (and the last validation loss) and the time left, estimated from
    the steps of this session.

    Args:
        total: iterations in all.
        done: iterations already completed (a resumed run).
        label: what is running.
        every: seconds between lines.
        clock: the time source (tests pass a fake one).
    """

    def __init__(self, total: int, done: int = 0, label: str = "training",
                 every: float = EVERY_S, clock: Callable[[], float] = time.perf_counter):
        self.total, self.done, self.label, self.every, self.clock = total, done, label, every, clock
        self.start = self.last = clock()
        self.first = done
        self.val: float | None = None
        self.lines = 0

    def __call__(self, step: Step) -> None:
        if step.val_loss is not None:
            self.val = step.val_loss
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        taken = step.iteration + 1 - self.first
        left = (self.total - step.iteration - 1) * (now - self.start) / max(1, taken)
        val = "" if self.val is None else f" val {self.val:.4g}"
        log.info("%s: step %d/%d loss %.4g%s, %s elapsed, ~%s left (at most)", self.label,
                 step.iteration + 1, self.total, step.loss, val, _clock(now - self.start),
                 _clock(left))
        self.lines += 1


@contextmanager
def _quiet_console() -> Iterator[None]:
    """While a display is live, console log handlers pass only warnings, so lines do not
    tear it; file handlers (the run's log) still get everything."""
    console = [h for h in logging.getLogger().handlers
               if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    levels = [h.level for h in console]
    for handler in console:
        handler.setLevel(max(handler.level, logging.WARNING))
    try:
        yield
    finally:
        for handler, level in zip(console, levels):
            handler.setLevel(level)


@contextmanager
def bar(total: int, enabled: bool, label: str = "training",
        done: int = 0) -> Iterator[Callable[[Step], None]]:
    """Yield a step callback that advances a rich bar (or does nothing when disabled).

    Args:
        total: iterations in all.
        enabled: show the bar (a terminal, not a multirun).
        label: the bar's description.
        done: iterations already completed (a resumed run).
    """
    if not enabled:
        yield Ticker(total, done, label)
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, TextColumn,
                               TimeElapsedColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}  tol {task.fields[tol]}  "
                          "nfe {task.fields[nfe]}"), TimeElapsedColumn())
    with _quiet_console():
        yield from _live(total, label, columns, done)


class _Silent:
    def update(self, text: str) -> None:
        pass


@contextmanager
def status(label: str, enabled: bool) -> Iterator[Any]:
    """Yield an object whose `update(text)` shows what part of `label` is running (a rich
    spinner on a terminal; nothing otherwise)."""
    if not enabled:
        yield _Silent()
        return
    from rich.console import Console

    with _quiet_console(), Console(stderr=True).status(label) as shown:

        class _Shown:
            def update(self, text: str) -> None:
                shown.update(f"{label}: {text}")

        yield _Shown()


def _live(total: int, label: str, columns: tuple,
          done: int = 0) -> Iterator[Callable[[Step], None]]:
    from rich.progress import Progress

    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(label, total=total, completed=done, loss="-", tol="-", nfe="-")

        def advance(step: Step) -> None:
            tol = "-" if step.tolerance is None else f"{step.tolerance:.1e}"
            progress.update(task, advance=1, loss=f"{step.loss:.4g}", tol=tol,
                            nfe=f"{step.nfe_forward}+{step.nfe_backward}")

        yield advance
