"""A sweep in which some jobs failed exits non-zero, after every job has run.

A job that fails on bad input logs its one line and lets the sweep go on (see
`jacnet_cli.tasks.run`); this Hydra callback then looks at the sweep directory once all jobs
are done, the same way `jacnet report` does, so it sees jobs of every launcher (in-process,
joblib workers, SLURM nodes): a job without its result file, or an interrupted one, failed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

def failed_jobs(sweep_dir: Path, task: str) -> tuple[list[str], int]:
    """Names of the failed jobs under sweep_dir, and how many jobs there are."""
    from jacnet_cli.cli.tasks import TASKS
    from jacnet_cli.cli.tasks.report import find_jobs

    jobs = find_jobs(sweep_dir)
    result = TASKS[task].result if task in TASKS else "metrics.json"
    if result == "metrics.json":
        failed = [job.name for job in jobs if not job.ok]
    else:
        failed = [job.name for job in jobs if not (job.dir / result).is_file()]
    return failed, len(jobs)


class SweepStatus(Callback):
    """Exit 1 at the end of a multirun whose jobs did not all finish."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        task = str(config.hydra.job.name)
        failed, total = failed_jobs(sweep_dir, task)
        if failed:
            print(f"jacnet {task}: {len(failed)} of {total} jobs failed (job "
                  f"{', '.join(failed)}); the others finished; `jacnet report {sweep_dir}` "
                  "lists them all", file=sys.stderr)
            sys.exit(1)  # SystemExit passes through Hydra's callback and error handlers
