"""SIGINT and SIGTERM as exceptions, with critical sections that finish before they land.

`jacnet train` installs `handlers()` for its whole run. SIGINT, SIGTERM or SIGUSR2 (the
signal SLURM sends before a time limit with `--signal`, and submitit's preemption signal)
then raises `Interrupted`
(a KeyboardInterrupt, so plain `except KeyboardInterrupt` still works) at the next Python
instruction, unless the code is inside `deferred()`: an optimiser step, a checkpoint write.
There the signal is only noted, and raised as soon as the section ends, so whatever state
is saved afterwards is that of a completed step.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGUSR2: 140}


class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 128 + self.signum)


_depth = 0
_pending: int | None = None


def _handler(signum: int, frame: object) -> None:
    global _pending
    if _depth > 0:
        _pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def handlers() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGUSR2 into `Interrupted` for the duration (main thread
    only); the handlers before it come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _handler) for s in EXIT_CODES}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A section a signal must not cut: the signal lands when the section ends."""
    global _depth, _pending
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending is not None:
            signum, _pending = _pending, None
            raise Interrupted(signum)
