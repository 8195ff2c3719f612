"""`jacnet train`: fit a model to a target, then write metrics, a checkpoint and plots."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from jacnet_cli import build, checkpoint, figures, metrics
from jacnet_cli.fit import LOSSES, Step, fit
from jacnet_cli.model import predict
from jacnet_cli.progress import bar

log = logging.getLogger("jacnet")


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


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train the configured model; return the metrics written to run_dir/metrics.json."""
    if cfg.loss not in LOSSES:
        raise ValueError(f"loss={cfg.loss!r} is not allowed; choose one of: {', '.join(LOSSES)}")
    if isinstance(cfg.iterations, bool) or not isinstance(cfg.iterations, int) or cfg.iterations < 0:
        raise ValueError(f"iterations={cfg.iterations!r} is not allowed; it must be an integer >= 0")
    dev, dt = build.device(cfg.device), build.dtype(cfg.dtype)
    config = OmegaConf.to_container(cfg, resolve=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))

    setup = build.training(cfg, dev, dt)
    target, data, model = setup.target, setup.data, setup.model
    log.info("target=%s model=%s on %s/%s: %s", target.name, cfg.model._target_.rsplit(".", 1)[-1],
             dev, cfg.dtype, getattr(model, "structure", None) or "plain MLP")
    initial = figures.snapshot(model, data)

    csv_log = metrics.CSVLog(run_dir / "metrics.csv")
    steps: list[Step] = []
    every = max(1, cfg.iterations // 10)

    def record(step: Step) -> None:
        steps.append(step)
        csv_log(step)
        advance(step)
        if step.iteration % every == 0 or step.iteration == cfg.iterations - 1:
            log.info("iter %d loss %.6g tol %s nfe %d+%d", step.iteration, step.loss,
                     step.tolerance, step.nfe_forward, step.nfe_backward)

    start = time.perf_counter()
    interrupted = False
    try:
        with bar(cfg.iterations, show_progress(cfg.progress)) as advance:
            fit(model, data.x_train, data.y_train, setup.optimizer, cfg.iterations, setup.schedule,
                LOSSES[cfg.loss], callback=record)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        csv_log.close()
    out: dict[str, Any] = {"target": target.name, "device": str(dev), "dtype": cfg.dtype}
    out.update(metrics.summarise(steps))
    out["wall_time_s"] = time.perf_counter() - start
    out["interrupted"] = interrupted
    if interrupted:
        model.eval()
        checkpoint.save(run_dir / checkpoint.FILENAME, model, config, status="interrupted", metrics=out)
        metrics.write_json(run_dir / "metrics.json", out)
        log.warning("interrupted after %d iterations; checkpoint and metrics saved", len(steps))
        raise KeyboardInterrupt

    out.update(metrics.evaluate(model, data, cfg.eval_tolerance))
    checkpoint.save(run_dir / checkpoint.FILENAME, model, config, metrics=out)
    metrics.write_json(run_dir / "metrics.json", out)
    written = figures.write(run_dir, model, target, data, initial=initial, steps=steps) \
        if cfg.plots else []
    log.info("test_mae %.4g; %s", out["test_mae"],
             ", ".join(f"{k} {out[k]:.4g}" for k in
                       ("jacobian_min_eig", "lipschitz_max", "cr_residual_max", "roundtrip_max_err")
                       if k in out))
    log.info("run directory: %s%s", run_dir,
             f" (plots: {', '.join(p.name for p in written)})" if written else "")
    return out
