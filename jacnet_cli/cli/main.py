"""The `jacnet` command: route `jacnet <task> [overrides]` to its task.

Kept free of heavy imports so `jacnet --help` answers at once: torch and Hydra load only
once a task runs. A single run is composed once and checked by building it without running
(`validate.compose_run`), then run on that config; sweeps, `--cfg`, `--info` and `--help` go
through Hydra's own entry after the same checks on every swept value (`validate.preflight`).
Exit codes: 0 done, 2 bad input (one line on stderr), 1 a run or a sweep's job failed.
"""

from __future__ import annotations

import os
import sys

from jacnet_cli.cli.tasks import TASKS


def usage() -> str:
    """The usage text, from the task table."""
    width = max(len(name) for name in TASKS)
    lines = [f"  {name:<{width}}  {task.summary}: `{task.example}`" for name, task in TASKS.items()]
    return ("usage: jacnet <command> [overrides] [hydra options]\n\n"
            "Learn functions through their structured Jacobians (JacNet).\n\n"
            "commands:\n" + "\n".join(lines) + "\n\n"
            "`jacnet <command> --help` lists that command's config groups and options;\n"
            "`-m/--multirun` sweeps, e.g. `jacnet train -m model.hidden=16,64,256 seed=0,1,2`.\n"
            "After `make run`, the command is .venv/bin/jacnet (or `source .venv/bin/activate`).\n")


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except BrokenPipeError:  # `jacnet train --help | head`: the reader left; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)


def _main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage(), end="")
        sys.exit(0 if args else 2)
    if args[0] == "--version":
        from jacnet_cli import __version__

        print(f"jacnet {__version__}")
        return
    command, rest = args[0], args[1:]
    task = TASKS.get(command)
    if task is None:
        print(f"jacnet: {command!r} is not a command; choose one of: {', '.join(TASKS)}",
              file=sys.stderr)
        sys.exit(2)
    if not task.hydra:
        sys.exit(task.load()(rest))
    flags = {a.split("=", 1)[0] for a in rest if a.startswith("-")}
    if flags & {"-h", "--help"}:  # the task's groups and keys, described (no Hydra, no torch)
        from jacnet_cli.cli.help import HelpError, task_help
        from jacnet_cli.run.configs import conf_dir

        try:
            text = task_help(command, [a for a in rest if not a.startswith("-")], conf_dir())
        except HelpError as exc:
            _refuse(command, str(exc))
        print(text, end="")
        return
    multirun = bool(flags & {"-m", "--multirun"})
    error = None
    if multirun and flags & {"-c", "--cfg", "-i", "--info"}:
        error = ("--cfg/--info show one composed config and cannot be combined with "
                 f"-m/--multirun; drop -m, e.g. `jacnet {command} hydra/launcher=slurm --cfg hydra`")
    if error is None and not multirun:
        rest, error = task.prepare_args(rest)
    if error:
        _refuse(command, error)
    from jacnet_cli.cli import validate

    quiet_schema_match()
    try:
        prepared = validate.prepare(command, rest)
    except validate.BadInput as exc:
        _refuse(command, str(exc))
    from jacnet_cli.cli.tasks import run_composed, run_hydra

    if prepared is None:  # sweeps, --cfg, --info, --help: Hydra's own entry
        run_hydra(command, rest)
    else:  # one run, on the config composed and checked once
        run_composed(command, *prepared)


def quiet_schema_match() -> None:
    """conf/hydra/launcher/ray.yaml shares its name with hydra-ray-launcher's schema, which
    Hydra 1.3 then merges under it (the same keys) with a deprecation warning on every
    command: expected here, so not shown."""
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/ray' is validated against "
                            "ConfigStore schema", category=UserWarning)


def _refuse(command: str, error: str) -> None:
    print(f"jacnet {command}: error: {error}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
