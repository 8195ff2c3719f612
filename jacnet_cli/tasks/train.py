"""`jacnet train`: fit a model, then write metrics, a checkpoint and plots; or resume one.

A run directory always says how it ended. metrics.json carries `status` (`completed`,
`interrupted` or `failed`) and `reason`, and is replaced atomically; checkpoint.pt holds the
weights of the last completed iteration (or the best validation weights, with the last ones
beside them) and the state `jacnet train resume=RUN_DIR` continues from. A signal during
training, evaluation or plotting leaves both; a non-finite loss stops at once with the last
finite weights; nothing is plotted from a run that failed.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from jacnet_cli import build, checkpoint, figures, metrics, runtime
from jacnet_cli.training import LOSSES, Batches, Diverged, Step, Trainer
from jacnet_cli.interrupts import Interrupted
from jacnet_cli.progress import bar, status
from jacnet_cli.units import unwrap

log = logging.getLogger("jacnet")

# Keys a resumed run may change: how it runs, not what it computes.
RESUME_KEYS = ("resume", "progress", "plots", "runtime.threads", "overwrite")


class RunFailed(RuntimeError):
    """A run that ended without a result (e.g. diverged); its files say so. Exit code 1."""


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


def _integer(key: str, value: Any, minimum: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        allowed = f"an integer >= {minimum}" + (" or null" if allow_none else "")
        raise ValueError(f"{key}={value!r} is not allowed; it must be {allowed}")
    return value


def existing_run(run_dir: Path) -> str | None:
    """The status of a run already in run_dir ("completed", "interrupted", ...), or None."""
    path = run_dir / checkpoint.FILENAME
    if not path.is_file():
        return None
    try:
        return str(checkpoint.read(path).get("status", "completed"))
    except (checkpoint.CheckpointError, OSError):
        return "damaged"


def iterations(cfg: Any, batches: Batches) -> int:
    """Total steps: `iterations`, or `epochs` x steps per epoch (exactly one is set)."""
    its, epochs = cfg.get("iterations"), cfg.get("epochs")
    if (its is None) == (epochs is None):
        raise ValueError(f"iterations={its!r}, epochs={epochs!r}: set exactly one of them "
                         "(the other null)")
    if epochs is not None:
        return _integer("epochs", epochs, 0) * batches.per_epoch
    return _integer("iterations", its, 0)


def _curl_penalty(cfg: dict[str, Any], model: torch.nn.Module):
    """`curl_weight` > 0: add weight x mean squared curl of J on (up to 32 of) each batch's
    points, pushing a non-conservative structure towards a gradient field."""
    weight = cfg.get("curl_weight", 0.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0 \
            or weight == float("inf"):
        raise ValueError(f"curl_weight={weight!r} is not allowed; it must be a number >= 0")
    if weight == 0:
        return None
    if getattr(model, "kind", None) != "jacnet" or model.d_x == 1:
        raise ValueError(f"curl_weight={weight!r} needs a JacNet with d_x > 1 (in 1-D every "
                         "field is conservative)")
    from jacnet_cli.guarantees import curl_penalty

    return lambda net, xb: weight * curl_penalty(net, xb[:32])


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train the configured model (or resume cfg.resume); return the metrics it wrote."""
    resume = cfg.get("resume")
    if resume is not None:
        return _resume(cfg, Path(str(resume)).expanduser())
    status_now = existing_run(run_dir)
    if status_now is not None and not cfg.get("overwrite", False):
        raise ValueError(
            f"hydra.run.dir={str(run_dir)!r} already holds a {status_now} run; "
            + ("resume it with resume=" + str(run_dir) + " or " if status_now == "interrupted" else "")
            + "pass overwrite=true to replace it, or choose another directory")
    if status_now is not None:
        _clear(run_dir)  # overwrite=true: nothing of the old run may pass for this one's
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("resume", None)
    config.pop("overwrite", None)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(config)))
    return Run(config, run_dir, cfg.get("progress", "auto")).execute()


RESULT_FILES = ("checkpoint.pt", "metrics.json", "metrics.csv", "*.png", "*.tmp")


def _clear(run_dir: Path) -> None:
    """Remove what a previous run left in run_dir (its results and plots)."""
    for pattern in RESULT_FILES:
        for path in run_dir.glob(pattern):
            path.unlink(missing_ok=True)


def _resume(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        changed = [o.split("=", 1)[0].lstrip("+~") for o in HydraConfig.get().overrides.task]
        extra = [k for k in changed if k not in RESUME_KEYS and not k.startswith("hydra")]
        if extra:
            raise ValueError(f"resume={run_dir} continues the run as it was configured; "
                             f"drop {', '.join(extra)} (only {', '.join(RESUME_KEYS[1:4])} "
                             "may change)")
    path = checkpoint.find(run_dir)
    blob = checkpoint.read(path)
    state = blob.get("training")
    if blob.get("status") == "completed":
        raise ValueError(f"resume={str(run_dir)!r} is a completed run; there is nothing to "
                         "continue (train a new run, or pass overwrite=true with "
                         "hydra.run.dir to replace it)")
    if state is None:
        raise ValueError(f"resume={str(run_dir)!r}: its checkpoint (format "
                         f"{blob['format']}) holds no training state to continue from")
    if blob.get("status") == "failed":
        raise ValueError(f"resume={str(run_dir)!r} failed ({blob.get('metrics', {}).get('reason', '?')}); "
                         "resuming would fail the same way: train again with other settings")
    config = dict(blob["config"])
    for key in ("progress", "plots"):
        if key in cfg:
            config[key] = OmegaConf.to_container(cfg, resolve=True)[key]
    if "runtime" in cfg:
        config["runtime"] = OmegaConf.to_container(cfg.runtime, resolve=True)
    return Run(config, run_dir, config.get("progress", "auto"), blob).execute()


class Run:
    """One training run, from its resolved config to the files it leaves."""

    def __init__(self, config: dict[str, Any], run_dir: Path, progress: Any,
                 resume_from: dict[str, Any] | None = None):
        self.config, self.run_dir, self.progress = config, run_dir, progress
        self.resume_from = resume_from
        self.phase = "setup"
        self.out: dict[str, Any] = {}
        self.steps: list[Step] = []
        self.trainer: Trainer | None = None
        self.model: torch.nn.Module | None = None  # what the run reports (in the data's units)
        self.extras: dict[str, torch.Tensor] = {}
        self.started = time.perf_counter()
        self.wall = 0.0  # seconds spent before a resume
        self.tracker: Any = None  # the `logger` group's tracker

    # -- files ---------------------------------------------------------------------------

    def save(self, status_: str, reason: str = "") -> None:
        self.out["status"], self.out["reason"] = status_, reason
        self.out["wall_time_s"] = self.wall + time.perf_counter() - self.started
        training = self.trainer.state_dict() if self.trainer is not None else None
        if self.model is not None:
            checkpoint.save(self.run_dir / checkpoint.FILENAME, self.model, self.config,
                            status_, self.out, training, self.extras)
        metrics.write_json(self.run_dir / "metrics.json", self.out)

    # -- the run -------------------------------------------------------------------------

    def execute(self) -> dict[str, Any]:
        """Run, and leave metrics.json saying how it ended, also when setup fails."""
        try:
            return self._execute()
        except Interrupted as exc:
            self._ended_in_setup("interrupted", f"{exc.name} during setup, before training "
                                 "began; nothing to resume: train again")
            raise
        except Exception as exc:
            self._ended_in_setup("failed", f"setup failed: {exc}")
            raise

    def _ended_in_setup(self, status_: str, reason: str) -> None:
        """metrics.json for a new run that stopped before it had a model to save."""
        if self.phase == "setup" and self.resume_from is None:
            self.out.update(status=status_, reason=reason)
            metrics.write_json(self.run_dir / "metrics.json", self.out)

    def _execute(self) -> dict[str, Any]:
        cfg = self.config
        if cfg["loss"] not in LOSSES:
            raise ValueError(f"loss={cfg['loss']!r} is not allowed; choose one of: {', '.join(LOSSES)}")
        for key in ("patience",):
            _integer(key, cfg.get(key), 1, allow_none=True)
        dev, dt = build.device(cfg["device"]), build.dtype(cfg["dtype"])
        setup = build.training(cfg, dev, dt)
        target, data, model = setup.target, setup.data, setup.model
        self.model = model
        core, units = unwrap(model)  # the model trains in standard units when there are units
        x, y, validation = data.x_train, data.y_train, data.validation
        if units is not None:
            x, y = units.x_in(x), units.y_in(y)
            if validation is not None:
                validation = (units.x_in(validation[0]), units.y_in(validation[1]))
        batch_size = _integer("batch_size", cfg.get("batch_size"), 1, allow_none=True)
        if data.sampler is not None and batch_size is None:
            raise ValueError("batch_size=null is not allowed with data.fresh=true; set "
                             "batch_size (rows drawn per step)")
        if data.stream is not None:
            batches, validation = self._streamed(data, units, batch_size, cfg, dt, dev)
        else:
            batches = Batches(x, y, batch_size, cfg["seed"], data.sampler)
        total = iterations(cfg, batches)
        rows = batches.batch_size
        threads = runtime.threads(cfg.get("runtime", {}).get("threads", "auto"),
                                  runtime.step_work(core, rows))
        self.trainer = trainer = Trainer(
            core, setup.optimizer, batches, total, setup.schedule,
            LOSSES[cfg["loss"]], validation, cfg.get("patience"),
            bool(cfg.get("restore_best", True)), penalty=_curl_penalty(cfg, core))
        self.out = {"target": target.name, "device": str(dev), "dtype": cfg["dtype"],
                    "threads": threads, "iterations_planned": total,
                    "parameters": sum(p.numel() for p in model.parameters())}
        append = self.resume_from is not None
        if append:
            trainer.load_state_dict(self.resume_from["training"])
            self.steps = metrics.read_steps(self.run_dir / "metrics.csv", upto=trainer.step)
            previous = self.resume_from.get("metrics", {})
            self.wall = float(previous.get("wall_time_s", 0.0))
            self.extras = dict(self.resume_from.get("extras", {}))
            self._rewrite_csv()
            log.info("resuming %s at iteration %d of %d", self.run_dir, trainer.step, total)
        else:
            self.extras = figures.snapshot(model, data)
        self._describe(target, model, dev, cfg)
        if units is not None:
            self._describe_units(model, units)
        csv_log = metrics.CSVLog(self.run_dir / "metrics.csv", append=append)
        tracker = build.make("logger", cfg["logger"]) if cfg.get("logger") else None
        if tracker is not None:
            tracker.start(self.run_dir, cfg, resumed=append)
        self.tracker = tracker
        every = max(1, total // 10)

        def record(step: Step) -> None:
            self.steps.append(step)
            csv_log(step)
            if tracker is not None:
                tracker.step(step)
            advance(step)
            if step.iteration % every == 0 or step.iteration == total - 1:
                val = f" val {step.val_loss:.6g}" if step.val_loss is not None else ""
                log.info("iter %d loss %.6g%s tol %s nfe %d+%d", step.iteration, step.loss,
                         val, step.tolerance, step.nfe_forward, step.nfe_backward)

        trainer.callback = record
        try:
            self.phase = "training"
            try:
                with bar(total, show_progress(self.progress),
                         done=trainer.step) as advance:
                    trainer.run()
            finally:
                csv_log.close()
            self.out.update(metrics.summarise(self.steps))
            if trainer.best_step is not None:
                self.out["best_iteration"] = trainer.best_step
                self.out["restored_best"] = bool(cfg.get("restore_best", True))
            self.out["stopped_early"] = trainer.stopped_early
            self.save("interrupted", "training finished; evaluation did not run")
            self.phase = "evaluation"
            with status("evaluating", show_progress(self.progress)) as shown:
                self.out.update(metrics.evaluate(model, data, cfg.get("eval_tolerance"), shown))
            self.save("completed")
            self.phase = "plotting"
            written = figures.write(self.run_dir, model, target, data, initial=self.extras,
                                    steps=self.steps) if cfg.get("plots", True) else []
        except Interrupted as exc:
            self._stopped(exc)
            self._finish_tracker()
            raise
        except Diverged as exc:
            self.out.update(metrics.summarise(self.steps))
            self.save("failed", str(exc))
            self._finish_tracker()
            log.error("failed: %s; the checkpoint holds the last finite weights", exc)
            raise RunFailed(f"{exc}; the checkpoint in {self.run_dir} holds the last finite "
                            "weights (try a smaller optim.lr)") from None
        self._finish_tracker()
        self._summary(written)
        return self.out

    def _finish_tracker(self) -> None:
        if self.tracker is not None:
            self.tracker.finish(self.out)
            self.tracker = None

    def _stopped(self, exc: Interrupted) -> None:
        done = self.trainer.step if self.trainer is not None else 0
        if self.phase == "plotting":
            reason = f"{exc.name} during plotting; metrics are complete, some plots are missing"
        else:
            reason = f"{exc.name} during {self.phase} after {done} iterations"
        if self.phase == "training":
            self.out.update(metrics.summarise(self.steps))
        if self.trainer is not None:
            self.save("interrupted", reason)
        log.warning("interrupted: %s; resume with `jacnet train resume=%s`", reason, self.run_dir)

    def _rewrite_csv(self) -> None:
        """Drop CSV rows past the checkpoint's step (written after it, before the signal)."""
        path = self.run_dir / "metrics.csv"
        log_ = metrics.CSVLog(path)
        for step in self.steps:
            log_(step)
        log_.close()

    def _describe(self, target: Any, model: torch.nn.Module, dev: Any, cfg: dict) -> None:
        structure = getattr(model, "structure", None)
        log.info("target=%s model=%s on %s/%s: %s", target.name,
                 cfg["model"]["_target_"].rsplit(".", 1)[-1], dev, cfg["dtype"],
                 structure or "plain MLP")
        if structure is not None and not structure.by_construction(model.d_x, model.d_y):
            log.warning(
                "activation=%s does not carry its guarantee over to d_x=%d, d_y=%d: it holds "
                "for the network's J, but ŷ's Jacobian equals J only where J is conservative "
                "(paper section 4.5); the guarantee keys report what ŷ measures (use "
                "activation=monotone or gradient for a guarantee by construction)",
                structure.name, model.d_x, model.d_y)

    def _streamed(self, data: Any, units: Any, batch_size: int | None, cfg: dict,
                  dt: torch.dtype, dev: Any) -> tuple[Any, Any]:
        """Batches and validation read from a streamed file (memory of a few blocks)."""
        from jacnet_cli import stream

        if batch_size is None:
            raise ValueError(f"batch_size=null is not allowed with streamed data "
                             f"({data.stream.labels.shape[0]} rows read in blocks); set batch_size")
        transform = None if units is None else (lambda x, y: (units.x_in(x), units.y_in(y)))
        batches = stream.StreamBatches(data.stream, batch_size, cfg["seed"], transform,
                                       dtype=dt, device=dev)
        validation = None
        if data.stream.counts["val"]:
            loss = LOSSES[cfg["loss"]]
            validation = (lambda net: stream.chunked_loss(net, data.stream, "val", loss,
                                                          transform, dt, dev))
        log.info("streaming %d rows from %s in blocks of %d (train %d, validation %d, test %d)",
                 data.stream.labels.shape[0], data.stream.path, batches.block,
                 data.stream.counts["train"], data.stream.counts["val"],
                 data.stream.counts["test"])
        return batches, validation

    def _describe_units(self, model: torch.nn.Module, units: Any) -> None:
        """Say how the model's units relate to the data's, and what that does to constants."""
        self.out["units"] = "standardized"
        self.out.update({f"units_{k}": v for k, v in units.describe().items()})
        structure = getattr(model, "structure", None)
        core_structure = getattr(model.core, "structure", None)
        if structure is None or core_structure is None:
            log.info("training in standard units: x scale %s, y scale %s",
                     self.out["units_x_scale"], self.out["units_y_scale"])
            return
        user, inner = structure.describe_scale(), core_structure.describe_scale()
        for key in user:
            self.out[f"constant_{key}"] = user[key]
            self.out[f"constant_{key}_standard_units"] = inner[key]
        log.info("training in standard units (x scale %s, y scale %s); the guarantee holds in "
                 "the data's units: %s", self.out["units_x_scale"], self.out["units_y_scale"],
                 ", ".join(f"activation.{k} {user[k]:g} -> {inner[k]:.4g} for the standardised "
                           "model" for k in user) or "no constants to rescale")

    def _summary(self, written: list[Path]) -> None:
        out = self.out
        shown = [k for k in ("jacobian_min_eig", "jacobian_max_eig", "lipschitz_max",
                             "cr_residual_max", "jacobian_asym_max", "partial_min",
                             "roundtrip_max_err", "curl_max", "path_gap_max") if k in out]
        log.info("test_mae %.4g (test_mse_db %.2f); %s; guarantee held: %s", out["test_mae"],
                 out["test_mse_db"], ", ".join(f"{k} {out[k]:.3g}" for k in shown),
                 out.get("guarantee_held"))
        log.info("run directory: %s%s", self.run_dir,
                 f" (plots: {', '.join(p.name for p in written)})" if written else "")
