"""The `jacnet` command: route `jacnet <task> [overrides]` to the task's Hydra app.

Kept free of heavy imports so `jacnet --help` answers at once: torch and Hydra load only
once a task runs. Group options (`activation=foo`) are checked here against the YAML files
so that a typo gets one line naming the allowed options; `validate.preflight` then checks
the rest of the command line (keys, values, sweeps, launchers) before Hydra makes a run
directory. Exit codes: 0 done, 2 bad input (one line on stderr), 1 a run or a sweep's job
failed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent / "conf"

USAGE = """\
usage: jacnet <command> [overrides] [hydra options]

Learn functions through their structured Jacobians (JacNet).

commands:
  train    fit a model to a target, e.g. `jacnet train target=exp activation=pd`
  eval     re-evaluate a saved run:  `jacnet eval run_dir=PATH [solver=dopri5 ...]`
  invert   x = f⁻¹(y) of a saved run: `jacnet invert run_dir=PATH y=[1.5,2.0]`
  report   tabulate a sweep:         `jacnet report SWEEP_DIR [--metric test_mae --x model.hidden]`

`jacnet <command> --help` lists that command's config groups and options;
`-m/--multirun` sweeps, e.g. `jacnet train -m model.hidden=16,64,256 seed=0,1,2`.
"""

HYDRA_TASKS = ("train", "eval", "invert")


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def check_choices(args: list[str]) -> str | None:
    """The error line for an unknown group option among the overrides, if any."""
    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()}
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        if key not in groups or value in ("", "null"):
            continue
        for choice in value.split(","):
            choice = choice.strip()
            if choice and not choice.startswith(("choice(", "range(", "glob(")) \
                    and choice not in group_options(key):
                return (f"{key}={choice!r} is not an option; choose one of: "
                        + ", ".join(group_options(key)))
    return None


def _value(args: list[str], key: str) -> str | None:
    for arg in args:
        if arg.lstrip("+~").startswith(key + "="):
            return arg.split("=", 1)[1]
    return None


def train_run_dir(args: list[str]) -> tuple[list[str], str | None]:
    """Overrides for `train` that place the run, and the one-line error if it must not run.

    `resume=DIR` runs in DIR itself (without rewriting its .hydra folder). A
    `hydra.run.dir` that already holds a run is refused unless `overwrite=true`: checked
    here, before Hydra writes anything into it.
    """
    resume = _value(args, "resume")
    if resume not in (None, "", "null"):
        run = Path(resume).expanduser()
        if not (run / "checkpoint.pt").is_file():
            what = "is a file" if run.is_file() else (
                "holds no checkpoint.pt" if run.is_dir() else "does not exist")
            return args, (f"resume={resume!r} {what}; pass the directory of an interrupted "
                          "`jacnet train` run")
        if _value(args, "hydra.run.dir") not in (None, resume):
            return args, "resume=DIR runs in DIR; drop hydra.run.dir"
        return [*args, f"hydra.run.dir={run}", "hydra.output_subdir=null"], None
    target = _value(args, "hydra.run.dir")
    overwrite = (_value(args, "overwrite") or "false").lower() in ("true", "1", "yes")
    if target and not overwrite and (Path(target).expanduser() / "checkpoint.pt").is_file():
        return args, (f"hydra.run.dir={target!r} already holds a run; resume it with "
                      f"resume={target}, pass overwrite=true to replace it, or choose another "
                      "directory")
    return args, None


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
        print(USAGE, end="")
        sys.exit(0 if args else 2)
    if args[0] == "--version":
        from jacnet_cli import __version__

        print(f"jacnet {__version__}")
        return
    command, rest = args[0], args[1:]
    if command == "report":
        from jacnet_cli.tasks.report import main as report

        sys.exit(report(rest))
    if command not in HYDRA_TASKS:
        print(f"jacnet: {command!r} is not a command; choose one of: "
              f"{', '.join(HYDRA_TASKS + ('report',))}", file=sys.stderr)
        sys.exit(2)
    error = check_choices(rest)
    flags = {a.split("=", 1)[0] for a in rest if a.startswith("-")}
    if flags & {"-m", "--multirun"} and flags & {"-c", "--cfg", "-i", "--info"}:
        error = ("--cfg/--info show one composed config and cannot be combined with "
                 f"-m/--multirun; drop -m, e.g. `jacnet {command} hydra/launcher=slurm --cfg hydra`")
    if error is None:
        from jacnet_cli.validate import preflight

        error = preflight(command, rest)
    if not error and command == "train" and not flags & {"-m", "--multirun"}:
        rest, error = train_run_dir(rest)
    if error:
        print(f"jacnet {command}: error: {error}", file=sys.stderr)
        sys.exit(2)
    from jacnet_cli.tasks import run

    sys.argv = [f"jacnet-{command}", *rest]
    run(command)


if __name__ == "__main__":
    main()
