"""The run directory: where a run's files are found, what state it is in, and how a run
(or a model saved from Python) is loaded back; one module owns them.

    find(run_dir) -> its checkpoint file        status(run_dir) -> "completed", ...
    read(run_dir) -> the checkpoint blob        load(path) -> Loaded (config, target, model)
    save(model, path) -> a model built in Python, saved self-describing

A checkpoint's file format is `run.checkpoint`'s; writing a run's files as it trains,
`run.experiment`'s (`Experiment.resume` continues one). A model is rebuilt through
`run.build`, which builds only jacnet's own classes, from weights read with
`weights_only=True`: a run directory someone sends you runs no code of its.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jacnet_cli.core.targets import Table, Target
from jacnet_cli.data.sampled import Dataset
from jacnet_cli.run import build, checkpoint

FILENAME = checkpoint.FILENAME


def status(run_dir: Path) -> str | None:
    """The status of a run already in run_dir ("completed", "interrupted", ...), or None."""
    path = run_dir / FILENAME
    if not path.is_file():
        return None
    try:
        return str(checkpoint.read(path).get("status", "completed"))
    except (checkpoint.CheckpointError, OSError):
        return "damaged"


def find(run_dir: str | Path) -> Path:
    """The checkpoint file of a run directory, or a clear error."""
    run_dir = Path(str(run_dir)).expanduser()
    if run_dir.is_file():
        raise ValueError(f"run_dir={str(run_dir)!r} is a file; pass the directory of a "
                         "`jacnet train` run (the folder that holds checkpoint.pt)")
    if not run_dir.is_dir():
        raise ValueError(f"run_dir={str(run_dir)!r} does not exist; "
                         "pass the directory of a `jacnet train` run")
    path = run_dir / FILENAME
    if not path.is_file():
        raise ValueError(f"run_dir={str(run_dir)!r} holds no {FILENAME}; "
                         "pass the directory of a finished or interrupted `jacnet train` run")
    return path


def check(value: str) -> str:
    """`run_dir=value` names a `jacnet train` run directory holding a checkpoint (one-line
    ValueError otherwise)."""
    path = Path(str(value)).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"run_dir={str(value)!r} is a file; pass the directory of a `jacnet "
                         "train` run (it holds checkpoint.pt)")
    find(path)
    return str(value)


def read(run_dir: str | Path) -> dict[str, Any]:
    """The checked checkpoint blob of a run directory (`checkpoint.read`)."""
    return checkpoint.read(find(run_dir))


@dataclass
class Loaded:
    """A saved run rebuilt: its config, target, data (when asked for) and trained model."""

    path: Path
    config: dict[str, Any]
    target: Target
    data: Dataset | None
    model: nn.Module
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """How the run ended: "completed", "interrupted" or "failed"."""
        return str(self.extra.get("status", "completed"))

    @property
    def unfinished(self) -> str | None:
        """One line saying that this run did not complete (failed or interrupted), or None."""
        state = self.status
        if state == "completed":
            return None
        reason = (self.extra.get("metrics") or {}).get("reason")
        return (f"{self.path} did not complete ({state}" + (f": {reason}" if reason else "")
                + "): its weights are those it saved when it stopped, not a finished model's"
                + ("; `jacnet train resume=RUN_DIR` finishes it" if state == "interrupted"
                   else ""))

    @property
    def x_names(self) -> list[str]:
        meta = (self.config.get("data") or {}).get("meta") or {}
        return list(meta.get("x_names") or build.frame(self.config).x_names)

    @property
    def y_names(self) -> list[str]:
        meta = (self.config.get("data") or {}).get("meta") or {}
        return list(meta.get("y_names") or build.frame(self.config).y_names)


def load_run(run_dir: str | Path, device: torch.device | str = "cpu",
         dtype: torch.dtype | None = None, overrides: dict[str, Any] | None = None,
         weights: str = "state_dict", data: bool = True) -> Loaded:
    """Rebuild a saved run: config -> model (from the config and the data's saved frame,
    without reading the training data), then its weights; the data only when asked for.

    Args:
        run_dir: a `jacnet train` run directory.
        device, dtype: where to put the model (dtype default: the run's).
        overrides: top-level config entries to replace before rebuilding (e.g. another
            `solver`); `data` entries are merged key by key.
        weights: "state_dict" (the reported weights) or "last" (the last step's).
        data: also rebuild the dataset (test points, guarantee box) for evaluation.

    Raises:
        ValueError: the directory holds no checkpoint (one line).
        CheckpointError: the checkpoint is damaged or names something jacnet does not build.
    """
    path = find(run_dir)
    blob = checkpoint.read(path)
    config = copy.deepcopy(blob["config"])
    for key, value in (overrides or {}).items():
        if key == "data":
            config["data"] = {**config["data"], **value}
        else:
            config[key] = value
    state = blob["state_dict"]
    if weights == "last":
        state = blob.get("training", {}).get("last") or state
    try:
        build.check(config)
        where = build.frame(config)
        model = build.model(config, where)
        model.to(dtype=dtype or build.dtype(config.get("dtype", "float64")))
        dataset = build.dataset(config)[1] if data else None
    except KeyError as exc:
        raise checkpoint.CheckpointError(f"checkpoint {path}: its config lacks the key "
                                         f"{exc.args[0]!r}") from None
    except (ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise checkpoint.CheckpointError(f"checkpoint {path}: {first}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:240]
        raise checkpoint.CheckpointError(f"checkpoint {path}: its weights do not fit the model "
                                         f"its config describes ({detail})") from None
    model.to(device=device).eval()
    extra = {k: v for k, v in blob.items() if k not in ("state_dict", "config")}
    return Loaded(path.parent, config, where.target, dataset, model, extra)


def describe(model: nn.Module) -> dict[str, Any]:
    """The config that rebuilds `model` (a JacNet or MLPRegressor, in the user's units or not)."""
    parts = model.config()
    config: dict[str, Any] = {"library": {"d_x": model.d_x, "d_y": model.d_y},
                              "dtype": _dtype_name(model)}
    units = parts.pop("units", None)
    if units is not None:
        config["library"]["units"] = units
    config.update(parts)
    return config


def _dtype_name(model: nn.Module) -> str:
    first = next(model.parameters(), None)
    return "float32" if first is not None and first.dtype == torch.float32 else "float64"


def save(model: nn.Module, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
    """Save a model built in Python so that `load(path)` rebuilds it.

    Args:
        model: a JacNet or MLPRegressor (or one wrapped in the user's units).
        path: the file to write (e.g. "model.pt").
        metrics: plain numbers and strings to keep beside it.
    """
    return checkpoint.save(Path(path), model, describe(model), "completed", metrics)


def load(path: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype | None = None,
         data: bool = False) -> Loaded:
    """A saved model (`save`) or a `jacnet train` run directory, with its model in the
    user's units: `jacnet_cli.load(path).model`.

    Args:
        path: a file written by `save`, or a run directory.
        device, dtype: where to put the model (dtype default: the saved one's).
        data: for a run directory, also rebuild its dataset (test points, guarantee box).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        run = load_run(path, device, dtype, data=data)
        run.model.requires_grad_(False)  # a model to use: no graph over its weights
        if run.unfinished:  # nothing that failed looks complete
            warnings.warn(run.unfinished, RuntimeWarning, stacklevel=2)
        return run
    if not path.is_file():
        raise ValueError(f"path={str(path)!r} does not exist; pass a file written by "
                         "jacnet_cli.save or a `jacnet train` run directory")
    blob = checkpoint.read(path)
    config = blob["config"]
    info = config.get("library")
    if not isinstance(info, dict):
        raise checkpoint.CheckpointError(f"checkpoint {path} is not a saved model; pass its "
                                         "run directory instead")
    try:
        build.check(config)
        units = None
        if "units" in info:
            from jacnet_cli.core.units import Units

            units = Units(*(torch.tensor(info["units"][k])
                            for k in ("x_mean", "x_scale", "y_mean", "y_scale")))
        d_x, d_y = int(info["d_x"]), int(info["d_y"])
        from jacnet_cli.data.sampled import default_names

        where = build.Frame(Table("model", d_x, d_y), default_names("x", d_x),
                            default_names("y", d_y), units)
        model = build.model(config, where).to(dtype=dtype or build.dtype(config["dtype"]))
        model.load_state_dict(blob["state_dict"])
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0][:240]
        raise checkpoint.CheckpointError(f"checkpoint {path}: {first}") from None
    # A model to use answers without a graph over its weights (outputs carry no grad_fn);
    # model.requires_grad_(True) makes it trainable again.
    model.to(device=device).eval().requires_grad_(False)
    return Loaded(path, config, where.target, None, model,
                  {k: v for k, v in blob.items() if k not in ("state_dict", "config")})
