"""`jacnet train`: fit a model and leave its run directory (`run.experiment`), or resume one.

Light to import (torch loads inside the functions): `check` reads a file run's data before
torch loads (`data.files.precheck`), so a missing file or a bad column is refused at once.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("jacnet")

# Keys a resumed run may change: how it runs, not what it computes.
RESUME_KEYS = ("resume", "progress", "plots", "runtime.threads", "overwrite")
# Top-level keys of config.yaml that say how a run runs; a sweep's job run again may change them.
HOW_IT_RUNS = ("progress", "plots", "runtime")


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
    if state is not None and not cfg.get("overwrite", False) and _in_sweep():
        done = _sweep_job_again(cfg, run_dir, state)
        if done is not None:
            return done
        state = None
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
    # a single run that never starts leaves no folder; a sweep's job keeps its for the report
    fresh = state is None and not _in_sweep() and _fresh(run_dir)
    config = _config(cfg)
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


def _config(cfg: DictConfig) -> dict[str, Any]:
    """The run's resolved config as config.yaml records it."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("resume", None)
    config.pop("overwrite", None)
    return config


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix.rstrip("."): node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(_flat(value, f"{prefix}{key}."))
    return out


def _sweep_job_again(cfg: DictConfig, run_dir: Path, state: str) -> dict[str, Any] | None:
    """A sweep's job whose directory already holds a run: the same command run again (the
    same hydra.sweep.dir), or a job that a launcher requeued. The run must be of the same
    settings (config.yaml; only HOW_IT_RUNS may differ), else ValueError. A completed run is
    kept (its metrics returned, nothing retrained), an interrupted one resumed in place; for
    a failed or damaged one, None: the caller trains it again from scratch."""
    import yaml

    from jacnet_cli.plots import figures
    from jacnet_cli.run import experiment

    def comparable(config: dict[str, Any]) -> dict[str, Any]:
        flat = _flat(OmegaConf.to_container(OmegaConf.create(config)))
        return {k: v for k, v in flat.items() if k.split(".")[0] not in HOW_IT_RUNS}

    try:
        saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        saved = None
    mine = comparable(_config(cfg))
    theirs = comparable(saved) if isinstance(saved, dict) else {}
    differ = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    if differ:
        key = differ[0]
        there = f"{theirs[key]!r} there" if key in theirs else "absent there"
        article = "an" if state[0] in "aeiou" else "a"
        raise ValueError(
            f"sweep job directory {str(run_dir)!r} already holds {article} {state} run of other "
            f"settings ({key}: {there}, {mine.get(key)!r} here); sweep into another "
            "hydra.sweep.dir, or pass overwrite=true to replace it")
    if state == "completed":
        try:
            metrics = json.loads((run_dir / "metrics.json").read_text())
        except (OSError, ValueError):
            metrics = None
        if isinstance(metrics, dict) and metrics.get("status") == "completed":
            log.info("%s holds a completed run of these settings: kept, not trained again",
                     run_dir)
            return metrics
    elif state == "interrupted":
        log.info("%s holds an interrupted run of these settings: resuming it in place", run_dir)
        try:
            run = _continue(cfg, run_dir)
        except ValueError as exc:  # nothing to continue from: train again
            log.info("it cannot be resumed (%s)", exc)
        else:
            return run.run(plot=figures.write)
    log.info("%s holds a %s run of these settings that cannot be kept: training it again",
             run_dir, state)
    experiment.clear(run_dir)
    return None


def _continue(cfg: DictConfig, run_dir: Path) -> experiment.Experiment:
    """The interrupted run in run_dir, ready to go on; what may change comes from cfg."""
    from jacnet_cli.run import experiment

    plain = OmegaConf.to_container(cfg, resolve=True)
    changes = {k: plain[k] for k in HOW_IT_RUNS if k in plain}
    return experiment.Experiment.resume(run_dir, changes, show_progress(changes.get("progress", "auto")))


def _resume(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        changed = [o.split("=", 1)[0].lstrip("+~") for o in HydraConfig.get().overrides.task]
        extra = [k for k in changed if k not in RESUME_KEYS and not k.startswith("hydra")]
        if extra:
            raise ValueError(f"resume={run_dir} continues the run as it was configured; "
                             f"drop {', '.join(extra)} (only {', '.join(RESUME_KEYS[1:4])} "
                             "may change)")
    from jacnet_cli.plots import figures

    return _continue(cfg, run_dir).run(plot=figures.write)
