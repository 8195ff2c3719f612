"""One experiment, from a resolved config to the files it leaves: build, train, evaluate,
save; or a saved one loaded back. `jacnet train`, `eval` and `invert`, `make reproduce`, the
benchmarks and the tests all go through `Experiment`.

A run directory always says how it ended. metrics.json carries `status` (`completed`,
`interrupted` or `failed`) and `reason`, and is replaced atomically; checkpoint.pt holds the
weights of the last completed iteration (or the best validation weights, with the last ones
beside them) and the state `resume` continues from. A signal during training, evaluation or
plotting leaves both; a non-finite loss stops at once with the last finite weights; nothing is
plotted from a run that failed.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from jacnet_cli.core.evaluation import predict
from jacnet_cli.core.targets import Target
from jacnet_cli.data.sampled import Dataset
from jacnet_cli.run import build, checkpoint, metrics, rundir, runtime
from jacnet_cli.run import plan as plans
from jacnet_cli.run.interrupts import Interrupted
from jacnet_cli.run.progress import bar, status
from jacnet_cli.run.records import Step
from jacnet_cli.run.settings import TrainSettings
from jacnet_cli.run.training import LOSSES, Batches, Diverged, Trainer

log = logging.getLogger("jacnet")

#: What a run leaves in its directory (removed first by overwrite=true).
RESULT_FILES = ("checkpoint.pt", "metrics.json", "metrics.csv", "*.png", "*.tmp")

Plotter = Callable[..., list[Path]]


class RunFailed(RuntimeError):
    """A run that ended without a result (e.g. diverged); its files say so. Exit code 1."""


def clear(run_dir: Path) -> None:
    """Remove what a previous run left in run_dir (its results and plots)."""
    for pattern in RESULT_FILES:
        for path in run_dir.glob(pattern):
            path.unlink(missing_ok=True)


def _curl_penalty(weight: float, model: nn.Module) -> Callable[[nn.Module, torch.Tensor], torch.Tensor] | None:
    """`curl_weight` > 0: add weight x mean squared curl of J on (up to 32 of) each batch's
    points, pushing a non-conservative structure towards a gradient field."""
    if weight == 0:
        return None
    if model.structure is None or model.d_x == 1:
        raise ValueError(f"curl_weight={weight!r} needs a JacNet with d_x > 1 (in 1-D every "
                         "field is conservative)")
    from jacnet_cli.core.guarantees import curl_penalty

    return lambda net, xb: weight * curl_penalty(net, xb[:32])


def _loss_in_data_units(loss: str, out: dict[str, Any], d_y: int) -> dict[str, float]:
    """The training loss of the final weights over the whole training set, in the data's
    units (`train_loss` in metrics.csv is the model's, in standard units when the data are
    standardised): from the training errors the evaluation already computed."""
    if loss == "norm" and "train_mae" in out:
        return {"train_loss_data_units": out["train_mae"]}
    if loss == "mse" and "train_rmse" in out:
        return {"train_loss_data_units": out["train_rmse"] ** 2 / d_y}
    if loss == "bce" and "train_log_loss" in out:
        return {"train_loss_data_units": out["train_log_loss"]}
    return {}


def _init_from(model: nn.Module, run_dir: str, config: dict[str, Any],
               optimizer: Any = None) -> None:
    """Start from another run's trained weights (`init_from=RUN_DIR`): the same model,
    structure and columns, so every tensor matches; its units come too, so the function it
    starts from is exactly that run's, in the data's units. With the same optimiser, its
    state comes too (moments, step count and learning rate, so fine-tuning continues where
    the run ended instead of restarting Adam's first large steps); an `optim.lr` other than
    that run's replaces the rate."""
    from jacnet_cli.run import configs

    try:
        blob = rundir.read(run_dir)
    except ValueError as exc:
        raise ValueError(str(exc).replace("run_dir=", "init_from=", 1)) from None
    for group in ("model", "activation"):
        names = {v: k for k, v in configs.targets(group).items()}
        theirs = (blob.get("config") or {}).get(group, {}).get("_target_")
        mine = config.get(group, {}).get("_target_")
        if theirs != mine:
            raise ValueError(f"init_from={run_dir!r} was trained with {group}="
                             f"{names.get(theirs, theirs)}, not {group}={names.get(mine, mine)}; "
                             f"fine-tune with the same {group} as that run")
    state = blob["state_dict"]
    mine = model.state_dict()
    wrong = [k for k in mine if k not in state or state[k].shape != mine[k].shape]
    extra = [k for k in state if k not in mine]
    if wrong or extra:
        first = (wrong or extra)[0]
        raise ValueError(f"init_from={run_dir!r} holds a different model ({first!r} "
                         f"{'differs' if first in state else 'is missing'}); fine-tune with the "
                         "same model, activation and data columns as that run")
    model.load_state_dict(state)
    theirs = (blob.get("config") or {}).get("optim", {})
    saved = (blob.get("training") or {}).get("optimizer")
    if optimizer is None or saved is None or theirs.get("_target_") != config["optim"].get("_target_"):
        return
    optimizer.load_state_dict(saved)
    lr = config["optim"].get("lr")
    if lr is not None and lr != theirs.get("lr"):
        for group in optimizer.param_groups:
            group["lr"] = lr


def _penalty(weight: float, model: nn.Module) -> Callable[[nn.Module, torch.Tensor], torch.Tensor] | None:
    """The training loss's extra terms: the curl penalty (`curl_weight`) and the structure's
    own (`Structure.penalty`, e.g. the margin cauchy_riemann keeps on min_modulus)."""
    curl = _curl_penalty(weight, model)
    if model.penalty() is None:
        return curl
    if curl is None:
        return lambda net, xb: net.penalty()
    return lambda net, xb: curl(net, xb) + net.penalty()


class Experiment:
    """One training run of a resolved config, in a run directory.

    Args:
        config: the resolved config (plain containers).
        run_dir: where its files go (None: build and train in memory, no files; `build`
            then `trainer.run()`).
        progress: show a progress bar.
        resume_from: a checkpoint blob to continue (its `training` state), or None.
    """

    def __init__(self, config: dict[str, Any], run_dir: Path | None, progress: bool = False,
                 resume_from: dict[str, Any] | None = None):
        self.config, self.progress = config, progress
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.settings = TrainSettings.of(config)
        self.resume_from = resume_from
        self.phase = "setup"
        self.out: dict[str, Any] = {}
        self.steps: list[Step] = []
        self.trainer: Trainer | None = None
        self.model: nn.Module | None = None  # what the run reports (in the data's units)
        self.target: Target | None = None
        self.data: Dataset | None = None
        self.extras: dict[str, torch.Tensor] = {}
        self.started = time.perf_counter()
        self.wall = 0.0  # seconds spent before a resume
        self.tracker: Any = None  # the `logger` group's tracker

    @classmethod
    def resume(cls, run_dir: Path, changes: dict[str, Any] | None = None,
               progress: bool = False) -> "Experiment":
        """The interrupted run in run_dir, ready to continue (`run`).

        Args:
            run_dir: the run's directory.
            changes: top-level keys that may change on resume (progress, plots, runtime).
            progress: show a progress bar.
        """
        blob = rundir.read(run_dir)
        if blob.get("status") == "completed":
            raise ValueError(f"resume={str(run_dir)!r} is a completed run; there is nothing to "
                             "continue (fine-tune it with init_from=" + str(run_dir) + ", or "
                             "pass overwrite=true with hydra.run.dir to replace it)")
        if blob.get("training") is None:
            raise ValueError(f"resume={str(run_dir)!r}: its checkpoint holds no training state "
                             "to continue from")
        if blob.get("status") == "failed":
            raise ValueError(f"resume={str(run_dir)!r} failed "
                             f"({blob.get('metrics', {}).get('reason', '?')}); resuming would "
                             "fail the same way: train again with other settings")
        config = copy.deepcopy(blob["config"])
        config.update(changes or {})
        return cls(config, run_dir, progress, resume_from=blob)

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

    def run(self, plot: Plotter | None = None) -> dict[str, Any]:
        """Train, evaluate, save and plot (with `plot`, when the config's `plots` is on);
        leave metrics.json saying how it ended, also when setup fails."""
        try:
            return self._run(plot)
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

    def build(self) -> None:
        """Target, data, model, optimiser, schedule and the training loop."""
        cfg, settings = self.config, self.settings
        dev, dt = build.device(settings.runtime.device), build.dtype(settings.runtime.dtype)
        setup = build.training(cfg, dev, dt)
        self.target, self.data, self.model = setup.target, setup.data, setup.model
        if self.data.meta is not None:  # kept with the run, so it rebuilds without the file
            cfg["data"]["meta"] = self.data.meta
        if settings.init_from is not None:
            _init_from(self.model, settings.init_from, cfg, setup.optimizer)
        data, model = self.data, self.model
        cfg["activation"].update(model.resolved())  # what the data decided, kept too
        # The model trains in its own units (standard units when the data are standardised);
        # each batch is moved into them as it is drawn: the training set stays one copy.
        core, transform = model.trainable()
        validation = data.validation
        rows = data.stream.counts["train"] if data.stream is not None else data.x_train.shape[0]
        validating = validation is not None or (data.stream is not None
                                                and data.stream.counts["val"] > 0)
        self.plan = plan = plans.make(settings, rows, build.is_file(cfg), core.d_x, validating)
        if data.sampler is not None and plan.batch_size is None:
            raise ValueError("batch_size=null is not allowed with data.fresh=true; set "
                             "batch_size (rows drawn per step)")
        if data.stream is not None:
            batches, validation = self._streamed(data, transform, plan.batch_size, dt, dev)
        else:
            batches = Batches(data.x_train, data.y_train, plan.batch_size, settings.seed,
                              data.sampler, transform)
        total = plan.iterations if plan.epochs is None else plan.epochs * batches.per_epoch
        setting = settings.runtime.threads
        if setting == "auto" and self.resume_from is not None:  # the count it started with
            setting = self.resume_from.get("metrics", {}).get("threads", "auto")
        threads = runtime.threads(setting, runtime.step_work(core, batches.batch_size))
        penalty = _penalty(settings.curl_weight, core)
        if plan.smoothness:  # the small-data plan (run/plan.py)
            smooth = plans.smoothness_penalty(plan.smoothness, data.x_train if transform is None
                                              else transform(data.x_train, data.y_train)[0])
            penalty = smooth if penalty is None else \
                (lambda net, xb, other=penalty: other(net, xb) + smooth(net, xb))
        if build.is_file(cfg):
            note = plans.small_data_note(plan, rows, 0 if data.x_val is None else
                                         data.x_val.shape[0], data.x_test.shape[0])
            if note:
                log.warning("%s", note)
        self.trainer = Trainer(
            core, setup.optimizer, batches, total, setup.schedule, LOSSES[plan.loss],
            validation, plan.patience, settings.restore_best,
            penalty=penalty, lr_decay=plan.lr_decay, decay_wait=plan.decay_wait,
            lr_shape=plans.lr_shape(plan, total))
        self.out = {"target": self.target.name, "device": str(dev), "dtype": settings.runtime.dtype,
                    "threads": threads, "iterations_planned": total,
                    "parameters": sum(p.numel() for p in model.parameters()), **plan.describe()}
        if settings.init_from is not None:
            self.out["init_from"] = str(Path(settings.init_from).expanduser().resolve())
        if (data.meta or {}).get("rows_dropped"):  # data.drop_nonfinite=true
            self.out["rows_dropped"] = data.meta["rows_dropped"]

    def _run(self, plot: Plotter | None) -> dict[str, Any]:
        self.build()
        trainer, model, data, target = self.trainer, self.model, self.data, self.target
        total = trainer.iterations
        append = self.resume_from is not None
        if append:
            trainer.load_state_dict(self.resume_from["training"])
            self.steps = metrics.read_steps(self.run_dir / "metrics.csv", upto=trainer.step)
            previous = self.resume_from.get("metrics", {})
            self.wall = float(previous.get("wall_time_s", 0.0))
            self.extras = dict(self.resume_from.get("extras", {}))
            self._rewrite_csv()
            log.info("resuming %s at iteration %d of %d", self.run_dir, trainer.step, total)
        else:  # the fit plot's curve at initialisation: only for a run that plots
            self.extras = snapshot(model, data) if self.settings.plots else {}
        self._describe()
        csv_log = metrics.CSVLog(self.run_dir / "metrics.csv", append=append)
        tracker = build.make("logger", self.config["logger"]) if self.config.get("logger") else None
        if tracker is not None:
            tracker.start(self.run_dir, self.config, resumed=append)
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
        written: list[Path] = []
        try:
            self.phase = "training"
            try:
                with bar(total, self.progress, done=trainer.step) as advance:
                    trainer.run()
            finally:
                csv_log.close()
            self.out.update(metrics.summarise(self.steps))
            if trainer.best_step is not None:
                self.out["best_iteration"] = trainer.best_step
                self.out["restored_best"] = self.settings.restore_best
            self.out["stopped_early"] = trainer.stopped_early
            self.save("interrupted", "training finished; evaluation did not run")
            self.phase = "evaluation"
            with status("evaluating", self.progress) as shown:
                self.out.update(metrics.evaluate(model, data, self.settings.eval_tolerance, shown,
                                                 classify=self.plan.loss == "bce"))
            self.out.update(_loss_in_data_units(self.plan.loss, self.out, model.d_y))
            self.out["loss_still_falling"] = still_falling(self.steps, trainer)
            if self.settings.strict and self.out.get("guarantee_held") is False:
                self.save("failed", "guarantee not held (strict=true): "
                          + self.out.get("guarantee_violations", ""))
            else:
                self.save("completed")
            self.phase = "plotting"
            if plot is not None and self.settings.plots:
                written = plot(self.run_dir, model, target, data, initial=self.extras,
                               steps=self.steps)
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
        if self.out["status"] == "failed":
            raise RunFailed(self.out["reason"])
        return self.out

    def _finish_tracker(self) -> None:
        if self.tracker is not None:
            files = sorted(self.run_dir.glob("*.png")) + [self.run_dir / "metrics.json"]
            self.tracker.finish(self.out, files)
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

    def _describe(self) -> None:
        model, cfg = self.model, self.config
        structure = model.structure
        log.info("target=%s model=%s on %s/%s: %s", self.target.name,
                 cfg["model"]["_target_"].rsplit(".", 1)[-1], self.out["device"],
                 self.settings.runtime.dtype, structure or "plain MLP")
        if structure is not None and not structure.by_construction(model.d_x, model.d_y) \
                and structure.bounds(model.d_x, model.d_y):
            log.warning(
                "activation=%s does not carry its guarantee over to d_x=%d, d_y=%d: it holds "
                "for the network's J, but ŷ's Jacobian equals J only where J is conservative "
                "(paper section 4.5); the guarantee keys report what ŷ measures%s",
                structure.name, model.d_x, model.d_y,
                f" ({structure.remedy})" if structure.remedy else "")
        note = structure.direction(self.data.x_train, self.data.y_train, self.data.x_names) \
            if structure is not None and self.data.x_train.shape[0] else None
        if note:  # the data's direction disagrees with the structure's: one line, the fix
            log.warning("%s", note)
            self.out["direction_warning"] = note
        if model.units is not None:
            self._describe_units(model.units)

    def _streamed(self, data: Any, transform: Any, batch_size: int | None,
                  dt: torch.dtype, dev: Any) -> tuple[Any, Any]:  # noqa: D401
        """Batches and validation read from a streamed file (memory of a few blocks)."""
        from jacnet_cli.data import stream

        if batch_size is None:
            raise ValueError(f"batch_size=null is not allowed with streamed data "
                             f"({data.stream.labels.shape[0]} rows read in blocks); set batch_size")
        batches = stream.StreamBatches(data.stream, batch_size, self.settings.seed, transform,
                                       dtype=dt, device=dev)
        validation = None
        if data.stream.counts["val"]:
            loss = LOSSES[self.plan.loss]
            validation = (lambda net: stream.chunked_loss(net, data.stream, "val", loss,
                                                          transform, dt, dev))
        log.info("streaming %d rows from %s in blocks of %d (train %d, validation %d, test %d)",
                 data.stream.labels.shape[0], data.stream.path, batches.block,
                 data.stream.counts["train"], data.stream.counts["val"],
                 data.stream.counts["test"])
        return batches, validation

    def _describe_units(self, units: Any) -> None:
        """Say how the model's units relate to the data's, and what that does to constants."""
        model = self.model
        self.out["units"] = "standardized"
        self.out.update({f"units_{k}": v for k, v in units.describe().items()})
        structure = model.structure
        if structure is None:
            log.info("training in standard units: x scale %s, y scale %s",
                     self.out["units_x_scale"], self.out["units_y_scale"])
            return
        user, inner = structure.constants(), model.standard_constants()
        for key in user:
            self.out[f"constant_{key}"] = user[key]
            self.out[f"constant_{key}_standard_units"] = inner[key]
        log.info("training in standard units (x scale %s, y scale %s); the guarantee holds in "
                 "the data's units: %s", self.out["units_x_scale"], self.out["units_y_scale"],
                 ", ".join(f"activation.{k} {user[k]:g} -> {inner[k]:.4g} for the standardised "
                           "model" for k in user) or "no constants to rescale")

    def _summary(self, written: list[Path]) -> None:
        summary(self.out, log)
        log.info("run directory: %s%s", self.run_dir,
                 f" (plots: {', '.join(p.name for p in written)})" if written else "")


def still_falling(steps: list[Step], trainer: Trainer) -> bool:
    """Whether training stopped while it was still improving: the best validation loss came
    in the last tenth of the steps, or (without validation) the mean loss of the last tenth
    is more than 10% below that of the tenth before. Never after early stopping."""
    if trainer.stopped_early or len(steps) < 20:
        return False
    tenth = max(1, len(steps) // 10)
    if trainer.best_step is not None:
        return trainer.best_step >= steps[-1].iteration - tenth
    last = sum(s.loss for s in steps[-tenth:]) / tenth
    before = sum(s.loss for s in steps[-2 * tenth:-tenth]) / tenth
    return last < 0.9 * before


def summary(out: dict[str, Any], logger: logging.Logger) -> None:
    """The run in words: its error beside the linear baseline's, and a WARNING for what a
    newcomer must not miss (a guarantee that does not hold, no gain over a linear fit, a loss
    still falling when training stopped)."""
    keys = [k for k in out.get("guarantee_keys", "").split(",") if k]
    shown = [k for k in (*keys, "curl_max", "path_gap_max") if k in out]
    if "test_accuracy" in out:  # loss=bce
        _summary_classes(out, logger, shown)
        return
    fit = f"test_mae {out['test_mae']:.4g} (test_mse_db {out['test_mse_db']:.2f}"
    if "test_r2" in out:
        fit += f", R² {out['test_r2']:.4f}"
    if "linear_test_mse_db" in out:
        fit += (f"; a linear fit: {out['linear_test_mse_db']:.2f} dB"
                + (f", R² {out['linear_test_r2']:.4f}" if "linear_test_r2" in out else ""))
    worse = None
    if "linear_test_mse_db" in out and out["test_mse_db"] >= out["linear_test_mse_db"]:
        worse = ("the model does not beat a linear least-squares fit on the test set "
                 f"({out['test_mse_db']:.2f} dB against {out['linear_test_mse_db']:.2f} dB): "
                 "train longer (epochs=, iterations=), or check the data and the structure")
    _verdict(out, logger, fit, shown, worse)


def _verdict(out: dict[str, Any], logger: logging.Logger, fit: str, shown: list[str],
             worse: str | None) -> None:
    """The summary's last lines: the fit and the guarantee keys, then a WARNING for a violated
    guarantee, a baseline that does as well (`worse`), a loss still falling."""
    logger.info("%s); %s; guarantee held: %s", fit,
                ", ".join(f"{k} {out[k]:.3g}" for k in shown) or "no guarantee keys",
                out.get("guarantee_held"))
    if out.get("guarantee_held") is False:
        logger.warning("GUARANTEE NOT HELD on the function as evaluated: %s",
                       out.get("guarantee_violations", "?"))
    if worse:
        logger.warning("%s", worse)
    if out.get("loss_still_falling"):
        logger.warning("the loss was still falling when training stopped: more iterations "
                       "or epochs would likely fit better")


def _summary_classes(out: dict[str, Any], logger: logging.Logger, shown: list[str]) -> None:
    """`summary` for a classifier (loss=bce): accuracy, AUC and log-loss beside a logistic
    regression's."""
    fit = (f"test_accuracy {out['test_accuracy']:.4f} (AUC {out.get('test_auc', math.nan):.4f}, "
           f"log-loss {out['test_log_loss']:.4f}")
    if "linear_test_accuracy" in out:
        fit += (f"; logistic regression: {out['linear_test_accuracy']:.4f}, AUC "
                f"{out.get('linear_test_auc', math.nan):.4f}, log-loss "
                f"{out['linear_test_log_loss']:.4f}")
    worse = None
    if "linear_test_log_loss" in out and out["test_log_loss"] >= out["linear_test_log_loss"]:
        worse = ("the model does not beat a logistic regression on the test set (log-loss "
                 f"{out['test_log_loss']:.4f} against {out['linear_test_log_loss']:.4f}): train "
                 "longer, regularise, or check the data")
    _verdict(out, logger, fit, shown, worse)


PLOT_POINTS = 401  # points of a 1-D plot's curves (a figure is about 900 pixels wide)


def plot_x(data: Dataset) -> torch.Tensor:
    """Where a 1-D run's curves are plotted: PLOT_POINTS points over the guarantee grid's
    span, widened to the test points (M, 1)."""
    x = data.x_grid
    lo, hi = float(x.min()), float(x.max())
    if data.x_test is not None and data.x_test.shape[0]:
        lo, hi = min(lo, float(data.x_test.min())), max(hi, float(data.x_test.max()))
    return torch.linspace(lo, hi, min(PLOT_POINTS, x.shape[0]), dtype=x.dtype,
                          device=x.device)[:, None]


def snapshot(model: nn.Module, data: Dataset) -> dict[str, torch.Tensor]:
    """Predictions kept from before training (1-D: at `plot_x`), for the fit plot; the
    checkpoint carries them, so a resumed run still draws them."""
    if data.x_grid.shape[1] != 1:
        return {}
    return {"init": predict(model, plot_x(data))[:, 0].detach().cpu().double()}
