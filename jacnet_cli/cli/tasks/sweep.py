"""The end of every `jacnet <task> -m` run: a summary, and exit 1 when a grid's jobs failed.

`SweepStatus`, a Hydra callback, looks at the sweep directory once all jobs are done, the
same way `jacnet report` does, so it sees jobs of every launcher (in-process, joblib workers,
submitit and SLURM, Ray nodes): a job without its result file, or an interrupted one, failed.
It prints the sweep directory, how many jobs finished and failed, the best job by the
sweep's objective (`cli/jobs.py`: the validation error, else the test error), a search's best
settings with the command that reruns them, and the command that finishes only the failed
jobs: the same command into the same `hydra.sweep.dir`, where a job whose directory holds a
completed run of its settings is kept and an interrupted one resumes in place.

Exit code: a grid (Hydra's basic sweeper) in which some job failed exits 1 once all ran; a
search (any other sweeper, e.g. Optuna) treats a failed trial as a bad value and exits 1 only
when no trial finished.
"""

from __future__ import annotations

import math
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
SHOWN_FAILURES = 10  # failed jobs named one by one in the summary; `jacnet report` has them all


def failed_jobs(sweep_dir: Path, task: str) -> tuple[list[str], int]:
    """Names of the failed jobs under sweep_dir, and how many jobs there are."""
    jobs, failed = _jobs(sweep_dir, task)
    return [job.name for job in failed], len(jobs)


def _jobs(sweep_dir: Path, task: str) -> tuple[list[Any], list[Any]]:
    from jacnet_cli.cli.tasks import TASKS
    from jacnet_cli.cli.tasks.report import find_jobs

    jobs = find_jobs(sweep_dir)
    result = TASKS[task].result if task in TASKS else "metrics.json"
    if result == "metrics.json":
        failed = [job for job in jobs if not job.ok]
    else:
        failed = [job for job in jobs if not (job.dir / result).is_file()]
    return jobs, failed


@dataclass
class Summary:
    """What the end of a sweep says."""

    lines: list[str]
    failed: list[str]  # names of failed jobs
    total: int
    search: bool  # a sweeper other than the basic grid
    best_value: float  # the best objective; inf when no job finished


def _quote(args: list[str]) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


def _overrides(config: Any) -> tuple[list[str], list[str]]:
    """The command line's task overrides and its own hydra overrides (as typed)."""
    task = [str(o) for o in config.hydra.overrides.task]
    hydra = [str(o) for o in config.hydra.overrides.hydra if not str(o).startswith("hydra.mode=")]
    return task, hydra


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def summarise(config: Any) -> Summary:
    """The summary of the sweep `config` (the multirun's config) describes."""
    from jacnet_cli.cli import jobs as objectives
    from jacnet_cli.cli.tasks.report import swept_keys

    sweep_dir = Path(str(config.hydra.sweep.dir))
    task = str(config.hydra.job.name)
    search = str(config.hydra.sweeper.get("_target_", BASIC_SWEEPER)) != BASIC_SWEEPER
    jobs, failed = _jobs(sweep_dir, task)
    done = [job for job in jobs if job not in failed]
    lines = [f"sweep {sweep_dir}: {len(jobs)} job{'s' * (len(jobs) != 1)}, {len(done)} done, "
             f"{len(failed)} failed"]
    swept = swept_keys(jobs)

    def settings(job: Any) -> str:
        shown = {k: v for k, v in job.overrides.items() if k in swept} or job.overrides
        return " ".join(f"{k}={v}" for k, v in shown.items()) or "(no overrides)"

    scored = [(objectives.objective(job.metrics), job) for job in done]
    scored = [((name, value), job) for (name, value), job in scored if name is not None]
    best_value = math.inf
    if scored:
        (name, best_value), best = min(scored, key=lambda s: s[0][1])
        if math.isfinite(best_value):
            lines.append(f"best by {name} ({objectives.describe(name)}): job {best.name} "
                         f"[{settings(best)}] {name}={best_value:.6g}, in {best.dir}")
    if search:
        lines += _search_lines(config, sweep_dir, task)
    for job in failed[:SHOWN_FAILURES]:
        lines.append(f"{job.status}: job {job.name} [{settings(job)}]: {job.reason or 'no result'}")
    if len(failed) > SHOWN_FAILURES:
        lines.append(f"... and {len(failed) - SHOWN_FAILURES} more failed jobs")
    # Jobs that stopped before their end (killed, preempted, interrupted) finish when the same
    # command runs again; a job that failed on its own (diverged, bad data) would fail again.
    unfinished = [job for job in failed
                  if job.status == "interrupted" or not job.metrics or job.metrics.get("lost")]
    if unfinished:
        task_args, hydra_args = _overrides(config)
        if not any(_key(o) == "hydra.sweep.dir" for o in hydra_args):
            hydra_args.append(f"hydra.sweep.dir={sweep_dir}")
        lines.append(f"to finish the {len(unfinished)} job{'s' * (len(unfinished) != 1)} that "
                     "stopped before the end, run the same command into the same directory "
                     "(completed jobs are kept, interrupted ones resume in place):")
        lines.append(f"  jacnet {task} -m {_quote(task_args + hydra_args)}")
    lines.append(f"`jacnet report {sweep_dir}` tabulates every job")
    return Summary(lines, [job.name for job in failed], len(jobs), search, best_value)


def _search_lines(config: Any, sweep_dir: Path, task: str) -> list[str]:
    """A search's result file (Optuna's optimization_results.yaml): its best settings and the
    command that reruns them as one run."""
    import yaml

    path = sweep_dir / "optimization_results.yaml"
    try:
        result = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return []
    if not isinstance(result, dict) or not isinstance(result.get("best_params"), dict):
        return [f"search results: {path}"] if isinstance(result, dict) else []
    params = {str(k): v for k, v in result["best_params"].items()}
    value = result.get("best_value")
    try:
        finite = value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        finite = False
    if not finite:
        return [f"search: no trial finished, every one failed (see {path})"]
    best = " ".join(f"{k}={v}" for k, v in params.items())
    task_args, _ = _overrides(config)
    rerun = [o for o in task_args if _key(o) not in params]
    rerun += [f"{k}={v}" for k, v in params.items()]
    return [f"search: best settings {best} with objective {float(value):.6g}, written to {path}",
            f"rerun them as one run: jacnet {task} {_quote(rerun)}"]


class SweepStatus(Callback):
    """Print the summary at the end of every multirun; exit 1 when a grid's jobs failed or a
    search found nothing."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        summary = summarise(config)
        print("\n".join(summary.lines), flush=True)
        task = str(config.hydra.job.name)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if summary.failed and not (summary.search and math.isfinite(summary.best_value)):
            others = ("the others finished" if len(summary.failed) < summary.total
                      else "none finished")
            print(f"jacnet {task}: {len(summary.failed)} of {summary.total} jobs failed (job "
                  f"{', '.join(summary.failed)}); {others}; `jacnet report "
                  f"{sweep_dir}` lists them all", file=sys.stderr)
            sys.exit(1)  # SystemExit passes through Hydra's callback and error handlers
