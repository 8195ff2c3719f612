"""The command-line tasks: a name -> task table, and the Hydra layer that runs them.

`TASKS` is what the command router, its usage text, the sweep's result files and the checks
read. `train`, `eval` and `invert` are plain functions of a composed config and the run
directory Hydra made; `run_composed` runs one on a config composed once (a single run),
`run_hydra` through `@hydra.main` (sweeps, `--cfg`, `--help`). Either way user errors become
one line on stderr with exit code 2, failed runs exit 1, signals 130/143.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("jacnet")


def _resolve(path: str) -> Callable[..., Any]:
    """The function a row names as "package.module:function"."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Task:
    """One `jacnet <name>` command, declared in one row.

    Attributes:
        name: the command.
        summary, example: its line of the usage text.
        run: "module:function" of the job, f(cfg, run_dir) -> metrics (a Hydra app), or of
            the plain command, f(args) -> exit code (`hydra=False`).
        check: "module:function", f(cfg, typed), that checks a composed config without
            running it (raises a one-line ValueError; `typed`: the keys the command line set),
            or None.
        result: the file a finished job leaves in its directory (the sweep's record).
        prepare: "module:function", (args) -> (args, error or None), run on the command line
            before it is composed (light: no torch), or None.
        hydra: a Hydra app whose config is conf/<name>.yaml, or a plain command.
    """

    name: str
    summary: str
    example: str
    run: str
    check: str | None
    result: str
    prepare: str | None = None
    hydra: bool = True

    def load(self) -> Callable[..., Any]:
        return _resolve(self.run)

    def check_config(self, cfg: Any, typed: frozenset[str] = frozenset()) -> None:
        if self.check is not None:
            _resolve(self.check)(cfg, typed)

    def prepare_args(self, args: list[str]) -> tuple[list[str], str | None]:
        return _resolve(self.prepare)(args) if self.prepare else (args, None)


TASKS: dict[str, Task] = {task.name: task for task in (
    Task("train", "fit a model to a target", "jacnet train target=exp activation=pd",
         run="jacnet_cli.cli.tasks.train:train", check="jacnet_cli.cli.tasks.train:check",
         result="metrics.json", prepare="jacnet_cli.cli.tasks.placement:train_run_dir"),
    Task("eval", "re-evaluate a saved run", "jacnet eval run_dir=PATH [solver=dopri5 ...]",
         run="jacnet_cli.cli.tasks.evaluate:evaluate",
         check="jacnet_cli.cli.tasks.evaluate:check", result="metrics.json"),
    Task("invert", "x = f⁻¹(y) of a saved run", "jacnet invert run_dir=PATH y=[1.5,2.0]",
         run="jacnet_cli.cli.tasks.invert:invert", check="jacnet_cli.cli.tasks.invert:check",
         result="inverse.json"),
    Task("report", "tabulate a sweep",
         "jacnet report SWEEP_DIR [--metric test_mae --x model.hidden]",
         run="jacnet_cli.cli.tasks.report:main", check=None, result="report.csv", hydra=False),
)}


def register(task: Task) -> None:
    """Add a task (a plugin's or a test's): its row, as the built-in ones are declared."""
    TASKS[task.name] = task


def _user_error(exc: BaseException) -> str | None:
    """The one-line message of an error the user can fix, or None for a bug."""
    from hydra.errors import InstantiationException
    from omegaconf.errors import OmegaConfBaseException

    while isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, (ValueError, OmegaConfBaseException)):
        return str(exc).strip().splitlines()[0]
    return None


def _failure(exc: BaseException) -> str | None:
    """The one-line message of a run that ran and failed (exit 1), or None."""
    from jacnet_cli.core.inverse import InversionFailed
    from jacnet_cli.run.experiment import RunFailed

    if isinstance(exc, (RunFailed, InversionFailed)):
        return str(exc).strip().splitlines()[0]
    return None


def _warnings_to_log() -> None:
    """Python warnings become one log line each (no source lines on the console)."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        log.warning("%s: %s", category.__name__, str(message).splitlines()[0])

    warnings.showwarning = show


def _log_to_file(message: str) -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.emit(logging.LogRecord("jacnet", logging.ERROR, "", 0, message, None, None))


def job(task: str) -> Callable[[Any], Any]:
    """The function Hydra calls for one job of `task`: it runs the task in the job's
    directory and turns every way it can end into its exit code."""

    def main(cfg: Any) -> Any:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from jacnet_cli.cli import jobs
        from jacnet_cli.run.interrupts import Interrupted, handlers

        run_dir = Path(HydraConfig.get().runtime.output_dir)
        multirun = HydraConfig.get().mode == RunMode.MULTIRUN
        _warnings_to_log()
        try:
            with handlers():
                result = TASKS[task].load()(cfg, run_dir)
            if multirun:  # a sweep's job returns its objective (cli/jobs.py)
                name, value = jobs.objective(result)
                if name is not None:
                    log.info("objective for the sweep: %s = %.6g (%s)", name, value,
                             jobs.describe(name))
                return value
            return result
        except Interrupted as exc:
            print(f"jacnet {task}: interrupted by {exc.name}; what it had is in {run_dir}",
                  file=sys.stderr)
            if multirun and not jobs.in_process():  # the sweep goes on without this job
                jobs.hand_back_to_submitit(exc.signum)  # requeued when submitit preempted it
                return jobs.FAILED
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            print(f"jacnet {task}: interrupted; what it had is in {run_dir}", file=sys.stderr)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - user errors become one line, bugs re-raise
            failed = _failure(exc)
            message = failed or _user_error(exc)
            if message is None:
                raise
            _log_to_file(message)
            print(f"jacnet {task}: {'failed' if failed else 'error'}: {message}", file=sys.stderr)
            if multirun:  # a bad value: the sweep's other jobs still run, a search goes on
                return jobs.FAILED  # and `jacnet report` lists this one
            sys.exit(1 if failed else 2)

    return main


def run_composed(task: str, hydra: Any, cfg: Any) -> None:
    """Run one job on a config composed (and checked) once, as Hydra's own run would:
    logging, the run directory with its .hydra/ record, callbacks, then the task."""
    from hydra._internal.callbacks import Callbacks
    from hydra.core.utils import configure_log, run_job
    from hydra.types import HydraContext

    configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)
    callbacks = Callbacks(cfg)
    callbacks.on_run_start(config=cfg, config_name=task)
    ret = run_job(hydra_context=HydraContext(config_loader=hydra.config_loader,
                                             callbacks=callbacks),
                  task_function=job(task), config=cfg, job_dir_key="hydra.run.dir",
                  job_subdir_key=None, configure_logging=True)
    callbacks.on_run_end(config=cfg, config_name=task, job_return=ret)
    _ = ret.return_value  # re-raises a bug from the task


def run_hydra(task: str, args: list[str]) -> None:
    """Run `task` through `@hydra.main` (sweeps, --cfg, --info, --help)."""
    import hydra
    from hydra.core.global_hydra import GlobalHydra

    from jacnet_cli.run.configs import conf_dir

    GlobalHydra.instance().clear()
    sys.argv = [f"jacnet-{task}", *args]
    hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=task)(job(task))()
