"""Experiment trackers a training run reports to, besides its own files.

Every run writes metrics.csv (one row per step) and metrics.json: that record is what
`resume`, `report` and the plots read, so it is always there. The `logger` config group adds
a tracker: `csv` adds nothing, `tensorboard` writes event files under the run directory,
`mlflow` logs to an MLflow tracking store. Each receives the config, every step's loss,
tolerance and NFE, the validation loss per epoch, and the final metrics.
Config group: ``conf/logger/<name>.yaml``.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

from jacnet_cli.run.records import Step


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"logger={extra} needs the {extra} package; install it with "
                         f"pip install 'jacnet[{extra}]' (or use logger=csv)") from None


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        elif key != "hydra":
            out[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


class Logger:
    """Base class: receives a run's config, its steps and its final metrics; does nothing."""

    def start(self, run_dir: Path, config: dict[str, Any], resumed: bool = False) -> None:
        """Open the tracker for this run."""

    def step(self, step: Step) -> None:
        """One training step (val_loss is set on the last step of an epoch)."""

    def finish(self, metrics: dict[str, Any]) -> None:
        """The final metrics (status included); then close."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CSV(Logger):
    """metrics.csv and metrics.json only (always written)."""


class TensorBoard(Logger):
    """TensorBoard event files in <run dir>/tensorboard (`pip install 'jacnet[tensorboard]'`)."""

    def __init__(self) -> None:
        self._writer: Any = None

    def start(self, run_dir: Path, config: dict[str, Any], resumed: bool = False) -> None:
        board = _require("torch.utils.tensorboard", "tensorboard")
        self._writer = board.SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        if not resumed:
            self._writer.add_text("config", "\n".join(f"{k}: {v}" for k, v in
                                                     sorted(_flat(config).items())))

    def step(self, step: Step) -> None:
        w = self._writer
        w.add_scalar("train/loss", step.loss, step.iteration)
        if step.tolerance is not None:
            w.add_scalar("train/tolerance", step.tolerance, step.iteration)
        w.add_scalar("train/nfe_forward", step.nfe_forward, step.iteration)
        w.add_scalar("train/nfe_backward", step.nfe_backward, step.iteration)
        if step.val_loss is not None:
            w.add_scalar("val/loss", step.val_loss, step.iteration)

    def finish(self, metrics: dict[str, Any]) -> None:
        if self._writer is None:
            return
        for key, value in _numbers(metrics).items():
            self._writer.add_scalar(f"final/{key}", value, 0)
        self._writer.add_text("status", f"{metrics.get('status')}: {metrics.get('reason', '')}")
        self._writer.close()
        self._writer = None


class MLflow(Logger):
    """An MLflow run (`pip install 'jacnet[mlflow]'`).

    Args:
        tracking_uri: the tracking store; None: file store <run dir>/mlruns (or the
            MLFLOW_TRACKING_URI environment variable when set).
        experiment: the MLflow experiment name.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str = "jacnet"):
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self._mlflow: Any = None

    def start(self, run_dir: Path, config: dict[str, Any], resumed: bool = False) -> None:
        import os

        mlflow = self._mlflow = _require("mlflow", "mlflow")
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or \
            (run_dir / "mlruns").resolve().as_uri()
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(self.experiment)
        mlflow.start_run(run_name=run_dir.name)
        if not resumed:
            mlflow.log_params({k: str(v)[:250] for k, v in _flat(config).items()})

    def step(self, step: Step) -> None:
        values = {"loss": step.loss, "nfe_forward": float(step.nfe_forward),
                  "nfe_backward": float(step.nfe_backward)}
        if step.tolerance is not None:
            values["tolerance"] = step.tolerance
        if step.val_loss is not None:
            values["val_loss"] = step.val_loss
        self._mlflow.log_metrics(values, step=step.iteration)

    def finish(self, metrics: dict[str, Any]) -> None:
        if self._mlflow is None:
            return
        self._mlflow.log_metrics({f"final_{k}": v for k, v in _numbers(metrics).items()})
        self._mlflow.set_tag("status", str(metrics.get("status")))
        self._mlflow.end_run(status="FINISHED" if metrics.get("status") == "completed"
                             else "KILLED" if metrics.get("status") == "interrupted" else "FAILED")
        self._mlflow = None

