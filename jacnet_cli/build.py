"""Turn a composed config into objects: device, dtype, target, data, and the model.

Every task builds through here, so `train`, `eval` and `invert` (and a checkpoint's saved
config) agree on what a config means.

Nothing here imports a name taken from a config. Each group's `_target_` must be one of
jacnet's own classes for that group (`allowed`); anything else is refused before any code
runs. That is what makes a run directory someone sends you safe to `jacnet eval`: its
checkpoint loads with `weights_only=True`, and its config can only name jacnet's classes.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from jacnet_cli.data import Dataset, FileData, make_dataset
from jacnet_cli.schedules import Schedule
from jacnet_cli.targets import Table, Target

DTYPES = {"float64": torch.float64, "float32": torch.float32}
HYDRA_KEYS = ("_target_", "_partial_", "_convert_", "_recursive_", "_args_")


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


@functools.lru_cache(maxsize=1)
def allowed() -> dict[str, dict[str, type]]:
    """For each config group, the `_target_` names it may use: jacnet's own classes."""
    from jacnet_cli import (activations, anchors, data, loggers, model, paths, schedules,
                            solvers, targets)

    registries: dict[str, list[type]] = {
        "target": list(targets.TARGETS.values()),
        "activation": list(activations.STRUCTURES.values()),
        "path": list(paths.PATHS.values()),
        "anchor": list(anchors.ANCHORS.values()),
        "solver": list(solvers.INTEGRATORS.values()),
        "schedule": list(schedules.SCHEDULES.values()),
        "model": list(model.MODELS.values()),
        "data": list(data.DATA.values()),
        "logger": list(loggers.LOGGERS.values()),
    }
    out = {group: {f"{c.__module__}.{c.__qualname__}": c for c in classes}
           for group, classes in registries.items()}
    out["optim"] = {f"torch.optim.{name}": getattr(torch.optim, name)
                    for name in ("Adam", "AdamW", "SGD", "RMSprop")}
    return out


def make(group: str, node: Any, **extra: Any) -> Any:
    """Build the object a config node describes, from jacnet's classes only.

    Args:
        group: the config group the node belongs to (`activation`, `solver`, ...).
        node: a mapping with `_target_` and the class's keyword arguments
            (`_partial_: true` returns a functools.partial instead of an object).
        extra: keyword arguments added by the caller (dimensions, the target, ...).

    Raises:
        ValueError: `_target_` is not one of the group's classes, a value is itself an
            object to build, or a key is not an argument of the class.
    """
    from omegaconf import OmegaConf

    if OmegaConf.is_config(node):
        node = OmegaConf.to_container(node, resolve=True)
    if not isinstance(node, Mapping) or "_target_" not in node:
        raise ValueError(f"{group} must be a config node with a _target_; got {node!r}")
    name = node["_target_"]
    classes = allowed().get(group, {})
    if name not in classes:
        raise ValueError(f"{group}._target_={name!r} is not one of jacnet's {group} classes; "
                         f"allowed: {', '.join(sorted(classes)) or 'none'}")
    kwargs = {k: v for k, v in node.items() if k not in HYDRA_KEYS}
    for key, value in kwargs.items():
        if _has_target(value):
            raise ValueError(f"{group}.{key} holds a _target_; jacnet builds only the "
                             f"top-level classes of each group, not nested objects")
    cls = classes[name]
    _check_keys(group, cls, kwargs)
    if node.get("_partial_", False):
        return functools.partial(cls, **kwargs, **extra)
    return cls(**kwargs, **extra)


def check(config: Mapping[str, Any]) -> None:
    """Refuse a config whose groups name anything but jacnet's classes, before building.

    Every group node present is checked (also those a task will not build), and any
    `_target_` outside a group's top level is refused.
    """
    for key, value in config.items():
        if key in allowed() and isinstance(value, Mapping):
            name = value.get("_target_")
            if name not in allowed()[key]:
                raise ValueError(f"{key}._target_={name!r} is not one of jacnet's {key} "
                                 f"classes; allowed: {', '.join(sorted(allowed()[key]))}")
            for sub, inner in value.items():
                if sub not in HYDRA_KEYS and _has_target(inner):
                    raise ValueError(f"{key}.{sub} holds a _target_; jacnet builds only the "
                                     "top-level classes of each group, not nested objects")
        elif key != "hydra" and _has_target(value):
            raise ValueError(f"{key} holds a _target_; only jacnet's config groups "
                             f"({', '.join(sorted(allowed()))}) name classes")


def _has_target(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "_target_" in value or any(_has_target(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_target(v) for v in value)
    return False


def _check_keys(group: str, cls: type, kwargs: Mapping[str, Any]) -> None:
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for key in kwargs:
        if key not in params:
            valid = ", ".join(k for k, p in params.items()
                              if p.kind is not inspect.Parameter.VAR_POSITIONAL and k != "self")
            raise ValueError(f"{group}.{key} is not a key of {group} ({cls.__name__}); "
                             f"valid keys: {valid}")


def target(cfg: Mapping[str, Any]) -> Target:
    return make("target", cfg["target"])


def data(cfg: Mapping[str, Any], tgt: Target, seed: int | None = None) -> Dataset:
    return make_dataset(make("data", cfg["data"]), tgt, cfg["seed"] if seed is None else seed)


def target_and_data(cfg: Mapping[str, Any], seed: int | None = None) -> tuple[Target, Dataset]:
    """The target and the dataset: sampled from a closed-form target, or read from a file
    (data=file; the target is then the table itself and `cfg.target` is not used)."""
    seed = cfg["seed"] if seed is None else seed
    spec = make("data", cfg["data"])
    if isinstance(spec, FileData):
        structure = make("activation", cfg["activation"]) if "activation" in cfg else None
        dataset = spec.load(seed, scalar_units=bool(getattr(structure, "scalar_units", False)))
        from pathlib import Path

        name = Path(str(spec.path)).stem
        if isinstance(cfg["data"], dict):
            cfg["data"]["meta"] = spec.meta  # kept with the run, so it rebuilds without the file
        return Table(name, len(dataset.x_names), len(dataset.y_names)), dataset
    tgt = target(cfg)
    return tgt, make_dataset(spec, tgt, seed)


def model(cfg: Mapping[str, Any], tgt: Target, dataset: Dataset) -> nn.Module:
    """The model the config names: a JacNet with all its parts, or the plain MLP.

    With data in standard units (`dataset.units`), the model is built in those units with
    its structure's constants rescaled, and wrapped so it is used in the data's units.
    """
    build_model = make("model", cfg["model"])
    units = dataset.units
    if getattr(build_model.func, "kind", None) != "jacnet":
        core = build_model(d_x=tgt.d_x, d_y=tgt.d_y)
        return core if units is None else _standardized(core, units, None)
    structure = make("activation", cfg["activation"])
    if hasattr(structure, "bind"):
        structure.bind(dataset.x_names)
    anchor_cfg = dict(cfg["anchor"])
    if anchor_cfg.get("y0") == "target" and not tgt.closed_form:
        anchor_cfg["y0"] = "learned"  # data from a file: y0 must be learned
    points = (dataset.x_train, dataset.y_train) if units is None else \
        (units.x_in(dataset.x_train), units.y_in(dataset.y_train))
    anchor = make("anchor", anchor_cfg)(d_x=tgt.d_x, d_y=tgt.d_y, target=tgt, points=points)
    inner = structure if units is None else structure.rescaled(units.x_scale, units.y_scale)
    core = build_model(
        d_x=tgt.d_x, d_y=tgt.d_y, structure=inner, path=make("path", cfg["path"]),
        anchor=anchor, integrator=make("solver", cfg["solver"]),
    )
    return core if units is None else _standardized(core, units, structure)


def _standardized(core: nn.Module, units: Any, structure: Any) -> nn.Module:
    from jacnet_cli.units import Standardized

    return Standardized(core, units, structure)


def optimizer(cfg: Mapping[str, Any], net: nn.Module) -> torch.optim.Optimizer:
    return make("optim", cfg["optim"])(net.parameters())


def schedule(cfg: Mapping[str, Any]) -> Schedule:
    return make("schedule", cfg["schedule"])


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
    check(cfg)
    torch.manual_seed(cfg["seed"])
    tgt, dataset = target_and_data(cfg)
    dataset = dataset.to(dev, dt)
    net = model(cfg, tgt, dataset).to(device=dev, dtype=dt)
    return Training(tgt, dataset, net, optimizer(cfg, net), schedule(cfg))
