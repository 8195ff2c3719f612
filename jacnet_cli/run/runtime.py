"""Settings every task applies first: threads (`runtime.threads`), devices and precision.

Config: ``conf/runtime.yaml``. Threads matter on small problems: the paper's task is 5 points
by 32 quadrature nodes, and two OpenMP threads on it spend their time waiting on each other,
worst when other processes hold the cores (a README example took 11x as long on two threads
as on one with the other core busy). `auto` runs every step below LARGE_WORK on one thread,
which is also deterministic whatever the machine is doing; only larger steps, which gain from
more threads, take torch's default capped at the cores the machine's load leaves free. (The
count can change a result's last bits: a resumed run keeps the count it started with.)
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch

LARGE_WORK = 50_000_000  # network multiply-adds per step from which more threads pay
DEFAULT_THREADS = torch.get_num_threads()  # torch's own choice, before anything changed it


def free_cores() -> int:
    """Cores not busy with other processes: the CPU count less the 1-minute load average
    (at least 1)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available here: assume a quiet machine
        load = 0.0
    return max(1, int(math.floor((count or 1) - load + 0.5)))


def threads(setting: Any, work: float | None = None) -> int:
    """Apply `runtime.threads` and return the thread count in force.

    Args:
        setting: "auto", or an integer >= 1.
        work: multiply-adds of one step (rows x network parameters); `auto` uses one thread
            below LARGE_WORK, else torch's default capped at the free cores (None: the same,
            without the work test).
    """
    if isinstance(setting, str) and setting == "auto":
        if work is not None and work < LARGE_WORK:
            torch.set_num_threads(1)
        else:
            torch.set_num_threads(max(1, min(DEFAULT_THREADS, free_cores())))
        return torch.get_num_threads()
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ValueError(f"runtime.threads={setting!r} is not allowed; use auto or an "
                         "integer >= 1")
    torch.set_num_threads(setting)
    return torch.get_num_threads()


def step_work(model: torch.nn.Module, rows: int) -> float:
    """Multiply-adds of one training step: rows x quadrature nodes x network parameters."""
    nodes = model.solver.nodes if model.solver is not None else 1
    params = sum(p.numel() for p in model.parameters())
    return float(rows) * nodes * params
