"""`jacnet_cli.save` and `jacnet_cli.load`: models and runs as self-describing files.

A model built in Python is saved as a checkpoint whose config describes it (each part's
class and arguments, `core.specs`), so `load` rebuilds it through `run.build`, which builds
only jacnet's own classes, and loads the weights with `weights_only=True`: a file someone
sends you runs no code of its. A `jacnet train` run directory loads the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from jacnet_cli.core.targets import Table
from jacnet_cli.run import build, checkpoint
from jacnet_cli.run.experiment import Loaded
from jacnet_cli.run.experiment import load as load_run


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
