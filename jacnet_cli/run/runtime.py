"""Settings every task applies first: threads (`runtime.threads`), devices and precision.

Config: ``conf/runtime.yaml``. Threads matter on small problems: the paper's task is 5 points
by 32 quadrature nodes, and two OpenMP threads on it spend their time waiting on each other,
worst when other processes hold the cores. `auto` runs such work on one thread and leaves
bigger work to torch's default.
"""

from __future__ import annotations

from typing import Any

import torch

SMALL_WORK = 2_000_000  # network multiply-adds per step below which one thread is faster


def threads(setting: Any, work: float | None = None) -> int:
    """Apply `runtime.threads` and return the thread count in force.

    Args:
        setting: "auto", or an integer >= 1.
        work: multiply-adds of one step (rows x network parameters); `auto` uses one thread
            below SMALL_WORK and torch's default above (None: torch's default).
    """
    if isinstance(setting, str) and setting == "auto":
        if work is not None and work < SMALL_WORK:
            torch.set_num_threads(1)
        return torch.get_num_threads()
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ValueError(f"runtime.threads={setting!r} is not allowed; use auto or an "
                         "integer >= 1")
    torch.set_num_threads(setting)
    return torch.get_num_threads()


def step_work(model: torch.nn.Module, rows: int) -> float:
    """Multiply-adds of one training step: rows x quadrature nodes x network parameters."""
    nodes = getattr(getattr(model, "integrator", None), "nodes", 1) or 1
    params = sum(p.numel() for p in model.parameters())
    return float(rows) * nodes * params
