"""Experiment trackers a training run reports to, besides its own files.

Every run writes metrics.csv (one row per step) and metrics.json: that record is what
`resume`, `report` and the plots read, so it is always there. The `logger` config group adds
a tracker: `csv` adds nothing, `tensorboard` writes event files under the run directory,
`mlflow` logs to an MLflow tracking store. Each receives the config, every step's loss,
tolerance and NFE, the validation loss per epoch, the final metrics (the guarantee keys and
`guarantee_held` as 1/0 among them; the verdict and the guarantee's text also as tags), and
the run's plots and metrics.json as artifacts.
Config group: ``conf/logger/<name>.yaml``.
"""

from __future__ import annotations

import importlib
import logging
import math
from pathlib import Path
from typing import Any

from jacnet_cli.run.records import Step

log = logging.getLogger("jacnet")


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
    """Every finite number of the final metrics; booleans (guarantee_held, ...) as 1/0."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and math.isfinite(float(v))}


def _tags(metrics: dict[str, Any]) -> dict[str, str]:
    keys = ("status", "reason", "structure", "guarantee", "guarantee_held",
            "guarantee_by_construction", "guarantee_violations", "guarantee_keys")
    return {k: str(metrics[k])[:5000] for k in keys if k in metrics}


class Logger:
    """Base class: receives a run's config, its steps and its final metrics; does nothing."""

    def start(self, run_dir: Path, config: dict[str, Any], resumed: bool = False) -> None:
        """Open the tracker for this run."""

    def step(self, step: Step) -> None:
        """One training step (val_loss is set on the last step of an epoch)."""

    def finish(self, metrics: dict[str, Any], files: list[Path] = ()) -> None:
        """The final metrics (status included) and the run's files to keep (plots,
        metrics.json); then close."""

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

    def finish(self, metrics: dict[str, Any], files: list[Path] = ()) -> None:
        if self._writer is None:
            return
        for key, value in _numbers(metrics).items():
            self._writer.add_scalar(f"final/{key}", value, 0)
        for key, text in _tags(metrics).items():
            self._writer.add_text(key, text)
        for path in files:
            if path.suffix == ".png" and path.is_file():
                from matplotlib.image import imread

                self._writer.add_image(f"plots/{path.stem}", imread(str(path))[..., :3],
                                       dataformats="HWC")
        self._writer.close()
        self._writer = None


class MLflow(Logger):
    """An MLflow run (`pip install 'jacnet[mlflow]'`).

    The default store is MLflow's own default since 3.7: a SQLite database, mlflow.db in the
    current directory, with artifacts beside it in ./mlartifacts. Today's MLflow refuses the
    old file store (`./mlruns` as the tracking URI). When the run ends, the log says where it
    went and how to open it (`mlflow ui --backend-store-uri ...`, or the server's page).

    Args:
        tracking_uri: any store MLflow accepts (sqlite:///path.db, http://server:5000,
            databricks, ...); None: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here.
        experiment: the MLflow experiment name.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str = "jacnet"):
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self._mlflow: Any = None
        self._uri: str | None = None

    def start(self, run_dir: Path, config: dict[str, Any], resumed: bool = False) -> None:
        import os

        mlflow = _require("mlflow", "mlflow")
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or \
            "sqlite:///" + str(Path("mlflow.db").resolve())
        scheme = uri.split(":", 1)[0].split("+", 1)[0].lower() if "://" in uri else "file"
        if scheme in ("sqlite", "postgresql", "mysql", "mssql"):
            try:
                importlib.import_module("sqlalchemy")
                importlib.import_module("alembic")
            except ImportError:
                raise ValueError(f"logger.tracking_uri={uri!r} is a database store, which needs "
                                 "sqlalchemy and alembic: pip install 'jacnet[mlflow]'") from None
        try:
            mlflow.set_tracking_uri(uri)
            if scheme == "sqlite" and mlflow.get_experiment_by_name(self.experiment) is None:
                # artifacts beside the database, not in ./mlruns of whatever directory runs
                where = Path(uri.split(":///", 1)[-1]).resolve().parent / "mlartifacts"
                mlflow.create_experiment(self.experiment, artifact_location=where.as_uri())
            mlflow.set_experiment(self.experiment)
            mlflow.start_run(run_name=run_dir.name)
        except Exception as exc:  # MlflowException and the stores' own errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"logger.tracking_uri={uri!r} was refused by MLflow ({first[:200]}); "
                             "use a database store such as sqlite:///mlflow.db (the default) or "
                             "a tracking server's http:// address") from None
        self._mlflow, self._uri = mlflow, uri
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

    def finish(self, metrics: dict[str, Any], files: list[Path] = ()) -> None:
        if self._mlflow is None:
            return
        self._mlflow.log_metrics({f"final_{k}": v for k, v in _numbers(metrics).items()})
        self._mlflow.set_tags(_tags(metrics))
        for path in files:
            if path.is_file():
                self._mlflow.log_artifact(str(path))
        active = self._mlflow.active_run()
        self._mlflow.end_run(status="FINISHED" if metrics.get("status") == "completed"
                             else "KILLED" if metrics.get("status") == "interrupted" else "FAILED")
        self._mlflow = None
        if active is not None:
            log.info("%s", where_logged(self._uri or "", self.experiment, active.info.run_id,
                                        active.info.experiment_id))


def where_logged(uri: str, experiment: str, run_id: str, experiment_id: str) -> str:
    """Where an MLflow run went and how to open it, in one line."""
    said = f"MLflow: run {run_id} in experiment {experiment!r} at {uri}"
    if uri.startswith(("http://", "https://")):
        return f"{said}; open {uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return (f"{said}; open it with: mlflow ui --backend-store-uri {uri} (then "
            "http://127.0.0.1:5000)")

