"""Where a `jacnet train` run goes, decided on the command line before it is composed (no
torch, no Hydra): `resume=DIR` runs in DIR, and a directory that holds a run is refused
unless `overwrite=true`."""

from __future__ import annotations

from pathlib import Path


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
        from jacnet_cli.run.rundir import status

        state = status(Path(target).expanduser())
        resume_hint = (f"resume it with resume={target}, " if state == "interrupted" else
                       f"fine-tune from it with init_from={target} in another directory, "
                       if state == "completed" else "")
        article = "an" if state[0] in "aeiou" else "a"
        return args, (f"hydra.run.dir={target!r} already holds {article} {state} run; {resume_hint}"
                      "pass overwrite=true to replace it, or choose another directory")
    return args, None
