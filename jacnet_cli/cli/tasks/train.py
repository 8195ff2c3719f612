"""`jacnet train`: fit a model and leave its run directory (`run.experiment`), or resume one.

Light to import (torch loads inside the functions): `check` reads a file run's data before
torch loads (`data.files.precheck`), so a missing file or a bad column is refused at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Keys a resumed run may change: how it runs, not what it computes.
RESUME_KEYS = ("resume", "progress", "plots", "runtime.threads", "overwrite")


def show_progress(setting: Any) -> bool:
    """`auto`: a bar only on a terminal and outside multiruns."""
    if str(setting).lower() in ("true", "1", "yes"):
        return True
    if str(setting).lower() in ("false", "0", "no"):
        return False
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    return sys.stdout.isatty() and not multirun


def check(cfg: dict[str, Any], typed: frozenset[str] = frozenset()) -> None:
    """Build the config without running it (a resumed run keeps its saved config); refuse a
    key the command line set that the run would ignore."""
    if cfg.get("resume") is None:  # the file, before torch loads
        from jacnet_cli.data.files import precheck

        precheck(cfg.get("data"), labels=cfg.get("loss") == "bce")
    from jacnet_cli.run import build, settings

    if cfg.get("resume") is not None:
        settings.Runtime.of(cfg)
        return
    build.preview(cfg, typed)


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train the configured model (or resume cfg.resume); return the metrics it wrote."""
    from jacnet_cli.plots import figures
    from jacnet_cli.run import experiment, rundir

    if cfg.get("resume") is not None:
        return _resume(cfg, Path(str(cfg.resume)).expanduser())
    state = rundir.status(run_dir)
    if state is not None and not cfg.get("overwrite", False):
        article = "an" if state[0] in "aeiou" else "a"
        raise ValueError(
            f"hydra.run.dir={str(run_dir)!r} already holds {article} {state} run; "
            + ("resume it with resume=" + str(run_dir) + " or " if state == "interrupted" else
               "fine-tune from it with init_from=" + str(run_dir) + " in another directory, or "
               if state == "completed" else "")
            + "pass overwrite=true to replace it, or choose another directory")
    if state is not None:
        experiment.clear(run_dir)  # overwrite=true: nothing of the old run may pass for this one's
    fresh = state is None and _fresh(run_dir)
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("resume", None)
    config.pop("overwrite", None)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(config)))
    run = experiment.Experiment(config, run_dir, show_progress(cfg.get("progress", "auto")))
    if cfg.get("plots"):  # matplotlib loads while the run trains and evaluates
        from jacnet_cli.plots.draw import prefetch

        prefetch()
    try:
        return run.run(plot=figures.write)
    except ValueError:  # bad input found in setup: a run that never started leaves no folder
        if fresh and run.phase == "setup":
            _remove(run_dir)
        raise


#: what Hydra puts into a run directory before the task runs
HYDRA_FILES = {".hydra", "train.log"}


def _fresh(run_dir: Path) -> bool:
    """Whether run_dir holds only what Hydra made for this run (so it is this run's)."""
    return {p.name for p in run_dir.iterdir()} <= HYDRA_FILES


def _remove(run_dir: Path) -> None:
    """Remove a run directory this run made, and Hydra's day folder above it if that is left
    empty (outputs/<day>/<time>-train)."""
    import re
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    parent = run_dir.parent
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", parent.name) and not any(parent.iterdir()):
        parent.rmdir()


def _resume(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    from hydra.core.hydra_config import HydraConfig

    from jacnet_cli.plots import figures
    from jacnet_cli.run import experiment

    if HydraConfig.initialized():
        changed = [o.split("=", 1)[0].lstrip("+~") for o in HydraConfig.get().overrides.task]
        extra = [k for k in changed if k not in RESUME_KEYS and not k.startswith("hydra")]
        if extra:
            raise ValueError(f"resume={run_dir} continues the run as it was configured; "
                             f"drop {', '.join(extra)} (only {', '.join(RESUME_KEYS[1:4])} "
                             "may change)")
    plain = OmegaConf.to_container(cfg, resolve=True)
    changes = {k: plain[k] for k in ("progress", "plots", "runtime") if k in plain}
    run = experiment.Experiment.resume(run_dir, changes, show_progress(changes.get("progress", "auto")))
    return run.run(plot=figures.write)
