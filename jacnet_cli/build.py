"""Turn a composed config into objects: device, dtype, target, data, and the model.

Every task builds through here, so `train`, `eval` and `invert` (and a checkpoint's saved
config) agree on what a config means.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from hydra.utils import instantiate
from torch import nn

from jacnet_cli.data import Dataset, DataSpec, make_dataset
from jacnet_cli.schedules import Schedule
from jacnet_cli.targets import Target

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def device(name: str) -> torch.device:
    """`auto` picks CUDA when present; `cuda` without a GPU is an error, not a fallback."""
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"device={name!r} is not allowed; choose auto, cpu, cuda or cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} is not available: no CUDA GPU is visible here; "
                         "use device=auto or device=cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ValueError(f"device={name!r} is not allowed; choose auto, cpu, cuda or cuda:N") from None


def dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ValueError(f"dtype={name!r} is not allowed; choose one of: {', '.join(DTYPES)}")
    return DTYPES[name]


def target(cfg: Mapping[str, Any]) -> Target:
    return instantiate(cfg["target"])


def data(cfg: Mapping[str, Any], tgt: Target, seed: int | None = None) -> Dataset:
    spec: DataSpec = instantiate(cfg["data"])
    return make_dataset(spec, tgt, cfg["seed"] if seed is None else seed)


def model(cfg: Mapping[str, Any], tgt: Target, dataset: Dataset) -> nn.Module:
    """The model the config names: a JacNet with all its parts, or the plain MLP."""
    make: functools.partial = instantiate(cfg["model"])
    if getattr(make.func, "kind", None) != "jacnet":
        return make(d_x=tgt.d_x, d_y=tgt.d_y)
    anchor = instantiate(cfg["anchor"])(
        d_x=tgt.d_x, d_y=tgt.d_y, target=tgt, points=(dataset.x_train, dataset.y_train))
    return make(
        d_x=tgt.d_x, d_y=tgt.d_y, structure=instantiate(cfg["activation"]),
        path=instantiate(cfg["path"]), anchor=anchor, integrator=instantiate(cfg["solver"]),
    )


@dataclass
class Training:
    """Everything a training run starts from."""

    target: Target
    data: Dataset
    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Schedule


def training(cfg: Mapping[str, Any], dev: torch.device | str, dt: torch.dtype) -> Training:
    """Seed, then build target, data, model, optimiser and schedule on dev/dt."""
    torch.manual_seed(cfg["seed"])
    tgt = target(cfg)
    dataset = data(cfg, tgt).to(dev, dt)
    net = model(cfg, tgt, dataset).to(device=dev, dtype=dt)
    return Training(tgt, dataset, net, instantiate(cfg["optim"])(net.parameters()),
                    instantiate(cfg["schedule"]))
