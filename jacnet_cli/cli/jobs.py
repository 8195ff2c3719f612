"""What one job of a sweep gives back, and how it ends when it stops early.

A sweep's job returns one number, its *objective*: the run's validation error, or its test
error when the run has no validation split (`objective`). A search (`hydra/sweeper=optuna`)
minimises it; every sweep's summary names the job with the lowest. A job that fails returns
`FAILED` (+inf), a bad value and not an exception, so a search goes on and a launcher that
collects return values (Ray, submitit) does not stop the sweep.

A job that is stopped by a signal has saved what it had (`status: interrupted`). In the
process that runs the sweep (Hydra's basic launcher) the signal stops the sweep; in a job of
its own (joblib, submitit, Ray) it returns FAILED, and under submitit its preemption signal
hands the job back to submitit, which requeues it: the requeued job resumes in place.

Only the standard library loads on import.
"""

from __future__ import annotations

import math
import os
import signal
from typing import Any

#: The objective of a failed job: a bad value, never the best.
FAILED = math.inf

#: The metrics a job's objective is read from, first present first: the validation error
#: (log-loss for `loss=bce`, else the RMSE in the data's units), else the same on the test set.
OBJECTIVES = ("val_log_loss", "val_rmse", "test_log_loss", "test_rmse")

IN_PROCESS_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def objective(metrics: Any) -> tuple[str | None, float]:
    """(the metric's name, its value) of a job's metrics; (None, FAILED) when it has none or
    did not complete. A non-finite value is FAILED too (Optuna refuses NaN)."""
    if not isinstance(metrics, dict) or metrics.get("status", "completed") != "completed":
        return None, FAILED
    for name in OBJECTIVES:
        value = metrics.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return name, float(value) if math.isfinite(value) else FAILED
    return None, FAILED


def describe(name: str | None) -> str:
    """A few words for the log: which error the objective is."""
    if name is None:
        return "no error metric"
    if name.startswith("val_"):
        return "the validation error"
    return "the test error: the run has no validation split"


def in_process() -> bool:
    """Whether this job runs in the process that runs the sweep (Hydra's basic launcher)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return True
    return str(HydraConfig.get().launcher.get("_target_", "")) == IN_PROCESS_LAUNCHER


def preemption_signal() -> int | None:
    """The signal submitit requeues a job on (SUBMITIT_PREEMPT_SIGNAL, USR2 by default) when
    this process is a submitit job, else None."""
    if "SUBMITIT_FOLDER" not in os.environ:  # set by submitit in every job it runs
        return None
    return getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), None)


def hand_back_to_submitit(signum: int) -> None:
    """In a submitit job stopped by submitit's preemption signal: raise that signal again
    for submitit's own handler, which checkpoints the job and requeues it (on SLURM with
    `scontrol requeue`, locally by restarting it); that handler exits the process. Returns
    when this is not such a job."""
    preempt = preemption_signal()
    if preempt is None or signum != preempt:
        return
    handler = signal.getsignal(preempt)
    if callable(handler):
        signal.raise_signal(preempt)
