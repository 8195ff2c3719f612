"""The command-line tasks: plain functions of a config, and the Hydra layer that calls them.

`train`, `eval` and `invert` each take the composed config and the run directory Hydra made,
and return their metrics; `run(task)` wires one of them to `@hydra.main` and turns user
errors into one line on stderr with exit code 2.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from jacnet_cli.cli import CONF_DIR

TASKS = ("train", "eval", "invert")
log = logging.getLogger("jacnet")


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
    from jacnet_cli.inverse import InversionFailed
    from jacnet_cli.tasks.train import RunFailed

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


def run(task: str) -> None:
    """Run one task under Hydra (reads sys.argv for overrides)."""
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import DictConfig

    from jacnet_cli.interrupts import Interrupted, handlers

    @hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=task)
    def main(cfg: DictConfig) -> dict:
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        multirun = HydraConfig.get().mode == RunMode.MULTIRUN
        _warnings_to_log()
        try:
            with handlers():
                if task == "train":
                    from jacnet_cli.tasks.train import train as fn
                elif task == "eval":
                    from jacnet_cli.tasks.evaluate import evaluate as fn
                else:
                    from jacnet_cli.tasks.invert import invert as fn
                from jacnet_cli.validate import validate

                validate(task, cfg)
                return fn(cfg, run_dir)
        except Interrupted as exc:
            print(f"jacnet {task}: interrupted by {exc.name}; what it had is in {run_dir}",
                  file=sys.stderr)
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
            if multirun:
                return None  # the sweep's other jobs still run; `jacnet report` lists this one
            sys.exit(1 if failed else 2)

    main()
