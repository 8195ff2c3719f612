"""`jacnet eval`: rebuild a saved run and evaluate it again, into this run's own directory.

The saved run's files are never touched. Overrides: another solver (`solver=dopri5`), its
tolerance (`eval_tolerance=`), other test or guarantee ranges (`data.test_range=[-4,4]`), a
test-set seed, device and dtype.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from jacnet_cli import build, checkpoint, figures, metrics
from jacnet_cli.progress import status
from jacnet_cli.tasks.train import show_progress

log = logging.getLogger("jacnet")


def overrides(cfg: DictConfig) -> dict[str, Any]:
    """The saved config's entries this eval replaces (only those the user set)."""
    out: dict[str, Any] = {}
    data = {k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items()
            if v is not None}
    if data:
        out["data"] = data
    if cfg.get("solver") is not None:
        out["solver"] = OmegaConf.to_container(cfg.solver, resolve=True)
    if cfg.seed is not None:
        out["seed"] = cfg.seed
    return out


def evaluate(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Evaluate the run at cfg.run_dir; write metrics.json and plots into run_dir."""
    dev = build.device(cfg.device)
    changes = overrides(cfg)
    run = checkpoint.load(cfg.run_dir, dev, build.dtype(cfg.dtype), changes)
    tolerance = cfg.eval_tolerance if cfg.eval_tolerance is not None else run.config.get("eval_tolerance")
    data = run.data.to(dev, build.dtype(cfg.dtype))
    out: dict[str, Any] = {"source_run": str(run.path.resolve()), "target": run.target.name,
                           "device": str(dev), "dtype": cfg.dtype,
                           "overrides": ", ".join(sorted(changes)) or "none"}
    with status("evaluating", show_progress(cfg.get("progress", "auto"))) as shown:
        out.update(metrics.evaluate(run.model, data, tolerance, shown))
    out["status"] = "completed"
    metrics.write_json(run_dir / "metrics.json", out)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(run.config)))
    if cfg.plots:
        figures.write(run_dir, run.model, run.target, data)
    log.info("test_mae %.4g (source %s)", out["test_mae"], run.path)
    log.info("run directory: %s", run_dir)
    return out
