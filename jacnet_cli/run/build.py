"""Turn a composed config into objects: the target, the data, the model, the optimiser.

Every task builds through here, so `train`, `eval`, `invert`, `make reproduce` and a
checkpoint's saved config agree on what a config means. The pre-run check is the same
build without running (`preview`): every group is built, every value checked by the class
that uses it, before a run directory exists.

Nothing here imports a name taken from a config. Each group's `_target_` must be one that
jacnet's own YAML files name (`configs.allowed`); anything else is refused before any code
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

from jacnet_cli.core.targets import Table, Target
from jacnet_cli.data.files import FileData
from jacnet_cli.data.sampled import Dataset, DataSpec, make_dataset
from jacnet_cli.run import configs
from jacnet_cli.run.schedules import Schedule
from jacnet_cli.run.settings import TrainSettings, device, dtype  # noqa: F401 (re-exported)

HYDRA_KEYS = ("_target_", "_partial_", "_convert_", "_recursive_", "_args_")


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
    name = configs.current(node["_target_"])
    classes = configs.allowed(group)
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
        if key in configs.BUILT_GROUPS and isinstance(value, Mapping):
            name = configs.current(value.get("_target_"))
            classes = configs.allowed(key)
            if name not in classes:
                raise ValueError(f"{key}._target_={name!r} is not one of jacnet's {key} "
                                 f"classes; allowed: {', '.join(sorted(classes))}")
            for sub, inner in value.items():
                if sub not in HYDRA_KEYS and _has_target(inner):
                    raise ValueError(f"{key}.{sub} holds a _target_; jacnet builds only the "
                                     "top-level classes of each group, not nested objects")
        elif key != "hydra" and _has_target(value):
            raise ValueError(f"{key} holds a _target_; only jacnet's config groups "
                             f"({', '.join(configs.BUILT_GROUPS)}) name classes")


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


# --------------------------------------------------------------------------- the parts


@dataclass
class Frame:
    """What the model needs to know of its data: dimensions, column names, units."""

    target: Target
    x_names: list[str]
    y_names: list[str]
    units: Any = None  # core.units.Units when the model trains in standard units

    @property
    def d_x(self) -> int:
        return len(self.x_names)

    @property
    def d_y(self) -> int:
        return len(self.y_names)


def data_spec(cfg: Mapping[str, Any]) -> DataSpec | FileData:
    return make("data", cfg["data"])


def is_file(cfg: Mapping[str, Any]) -> bool:
    """Whether the run's data come from the user's file (`data=file`)."""
    return isinstance(data_spec(cfg), FileData)


def target(cfg: Mapping[str, Any]) -> Target:
    return make("target", cfg["target"])


def scalar_units(cfg: Mapping[str, Any]) -> bool:
    """Whether the configured structure needs one scale for all of x (and of y)."""
    if "activation" not in cfg or not _is_jacnet(cfg):
        return False
    return make("activation", cfg["activation"]).scalar_units


def _is_jacnet(cfg: Mapping[str, Any]) -> bool:
    from jacnet_cli.core.model import JacNet

    cls = configs.allowed("model").get(configs.current(cfg["model"].get("_target_")))
    return isinstance(cls, type) and issubclass(cls, JacNet)


def dataset(cfg: Mapping[str, Any], seed: int | None = None) -> tuple[Target, Dataset]:
    """The target and the dataset: sampled from a closed-form target, or read from a file
    (data=file; the target is then the table itself and `cfg.target` is not used)."""
    seed = cfg["seed"] if seed is None else seed
    spec = data_spec(cfg)
    if isinstance(spec, FileData):
        data = spec.load(seed, scalar_units=scalar_units(cfg), labels=cfg.get("loss") == "bce")
        return Table(spec.name, len(data.x_names), len(data.y_names)), data
    if cfg.get("loss") == "bce":
        raise ValueError("loss=bce needs 0/1 labels from a file (data=file data.y=[label]); "
                         "a sampled target has real-valued outputs")
    tgt = target(cfg)
    return tgt, make_dataset(spec, tgt, seed)


def frame(cfg: Mapping[str, Any], data: Dataset | None = None,
          tgt: Target | None = None) -> Frame:
    """The data's frame, from a dataset, or without one (a saved run: the file's meta; a
    closed-form target: its dimensions), so a model rebuilds without reading any data."""
    if data is not None:
        return Frame(tgt, list(data.x_names), list(data.y_names), data.units)
    spec = data_spec(cfg)
    if isinstance(spec, FileData):
        meta = spec.meta
        if meta is None:
            raise ValueError("data.meta is not set: this config has not been trained on its "
                             "file yet")
        return Frame(Table(spec.name, len(meta["x_names"]), len(meta["y_names"])),
                     list(meta["x_names"]), list(meta["y_names"]), spec.units_from_meta())
    from jacnet_cli.data.sampled import default_names

    tgt = target(cfg)
    return Frame(tgt, default_names("x", tgt.d_x), default_names("y", tgt.d_y))


def model(cfg: Mapping[str, Any], where: Frame, points: tuple[torch.Tensor, torch.Tensor] | None
          = None) -> nn.Module:
    """The model the config names: a JacNet with all its parts, or the plain MLP.

    With data in standard units (`where.units`), the model is built in those units with
    its structure's constants rescaled, and wrapped so it is used in the data's units.

    Args:
        cfg: the config.
        where: the data's frame.
        points: the training pairs (x, y) in the data's units, for anchors that start from
            the data; None rebuilds a saved model (its state dict brings those values).
    """
    build_model = make("model", cfg["model"])
    units, tgt = where.units, where.target
    d_x, d_y = where.d_x, where.d_y
    if not _is_jacnet(cfg):
        core = build_model(d_x=d_x, d_y=d_y)
        return core if units is None else _standardized(core, units, None)
    option = make("activation", cfg["activation"])
    option.bind(where.x_names)
    structure = option.at(d_x, d_y)
    anchor_cfg = dict(cfg["anchor"])
    if anchor_cfg.get("y0") == "target" and not tgt.closed_form:
        anchor_cfg["y0"] = "learned"  # data from a file: y0 must be learned
    if points is not None and not (_uses_points(anchor_cfg, d_x, d_y) or structure.needs_points):
        points = (points[0][:0], points[1][:0])  # no copy of a large training set for nothing
    if points is not None and units is not None:
        points = (units.x_in(points[0]), units.y_in(points[1]))
    anchor = make("anchor", anchor_cfg)(d_x=d_x, d_y=d_y, target=tgt, points=points,
                                        rebuild=points is None)
    inner = structure if units is None else structure.rescaled(units.x_scale, units.y_scale)
    core = build_model(d_x=d_x, d_y=d_y, structure=inner, path=make("path", cfg["path"]),
                       anchor=anchor, solver=make("solver", cfg["solver"]))
    if points is not None and structure.needs_points:  # a new model learns from its data
        inner.fit_data(core.net, *points)
        for key, value in inner.resolved(core.net).items():
            setattr(structure, key, value)
    return core if units is None else _standardized(core, units, structure)


def unused_keys(cfg: Mapping[str, Any], where: Frame, typed: Any = None) -> None:
    """Refuse settings a new run would accept and then ignore (one line): a `model.*` value
    the structure's network does not read, or structure settings with the plain MLP.
    `typed`: only these keys (those the command line set; a preset may set keys for every
    structure, as experiment=debug's small model.hidden); None: every key."""
    def set_(key: str) -> bool:
        return typed is None or key in typed or any(k.startswith(key + ".") for k in typed)

    if not _is_jacnet(cfg):
        if set_("activation"):
            _unused_structure(cfg)
        return
    option = make("activation", cfg["activation"])
    option.bind(where.x_names)
    form = option.at(where.d_x, where.d_y)
    _unused_model_keys(cfg, form, set_)
    _unused_option_keys(cfg, form, where, set_)


def _unused_model_keys(cfg: Mapping[str, Any], structure: Any, set_: Any) -> None:
    from jacnet_cli.core import defaults
    from jacnet_cli.core.structures.base import MLP_KEYS

    base = defaults.of("model", "jacnet")
    for key in sorted(MLP_KEYS - structure.model_keys):
        value = cfg["model"].get(key, base[key])
        if value != base[key] and set_(f"model.{key}"):
            reads = ", ".join(f"model.{k}" for k in sorted(structure.model_keys)) or \
                "no model.* key"
            raise ValueError(f"model.{key}={value!r} is not used by activation="
                             f"{structure.name}: its network reads {reads}; set its own "
                             f"activation.* keys instead (jacnet train activation="
                             f"{structure.name} --help)")


def _unused_option_keys(cfg: Mapping[str, Any], form: Any, where: Frame, set_: Any) -> None:
    """An `activation.*` value that the form the option takes at these dimensions does not
    read (a `Family`'s forms differ: lipschitz's paper form in 1-D has no layers)."""
    if form.option_keys is None:
        return
    from jacnet_cli.core import defaults

    node = {k: v for k, v in cfg["activation"].items() if k not in HYDRA_KEYS}
    base = defaults.of("activation", form.name)
    for key in sorted(set(node) - form.option_keys):
        if key in base and node[key] != base[key] and set_(f"activation.{key}"):
            reads = ", ".join(f"activation.{k}" for k in sorted(form.option_keys))
            raise ValueError(f"activation.{key}={node[key]!r} is not used by activation="
                             f"{form.name} with {where.d_x} input(s) and {where.d_y} "
                             f"output(s) ({form.describe(where.d_x, where.d_y)}): it reads "
                             f"{reads}")


def _unused_structure(cfg: Mapping[str, Any]) -> None:
    from jacnet_cli.core import defaults

    node = {k: v for k, v in cfg.get("activation", {}).items() if k not in HYDRA_KEYS}
    name = configs.current(cfg.get("activation", {}).get("_target_"))
    if name != configs.targets("activation").get("pd") or node != defaults.of("activation", "pd"):
        raise ValueError("activation settings do not apply to model=mlp: the plain MLP has no "
                         "structure; drop activation=/activation.* or use model=jacnet")


def _uses_points(anchor_cfg: Mapping[str, Any], d_x: int, d_y: int) -> bool:
    """Whether an anchor starts from the training points: anchors at every point, y0 from
    the nearest one, and in 1-D the least-squares slope a J network can start at
    (model.output_init=data)."""
    cls = configs.allowed("anchor").get(anchor_cfg.get("_target_"))
    return (getattr(cls, "needs_points", False) or anchor_cfg.get("y0") == "nearest"
            or d_x == d_y == 1)


def _standardized(core: nn.Module, units: Any, structure: Any) -> nn.Module:
    from jacnet_cli.core.units import Standardized

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
    tgt, data = dataset(cfg)
    data = data.to(dev, dt)
    net = model(cfg, frame(cfg, data, tgt), (data.x_train, data.y_train)).to(device=dev, dtype=dt)
    return Training(tgt, data, net, optimizer(cfg, net), schedule(cfg))


def preview(cfg: Mapping[str, Any], typed: Any = None) -> None:
    """Build a training config without reading data or training: every group and every
    top-level key is checked by what uses it, and a key set (`typed`: on the command line;
    None: any) that the run would ignore is refused. Raises one-line ValueErrors."""
    check(cfg)
    settings = TrainSettings.of(cfg)
    for group in ("schedule", "path", "solver", "optim", "logger"):
        if cfg.get(group) is not None:
            make(group, cfg[group])
    spec = data_spec(cfg)
    if cfg.get("loss") == "bce" and not isinstance(spec, FileData):
        raise ValueError("loss=bce needs 0/1 labels from a file (data=file data.y=[label]); "
                         "a sampled target has real-valued outputs")
    if isinstance(spec, FileData):
        x_names, y_names = spec.column_labels()
        tgt: Target = Table(spec.name, len(x_names), len(y_names))
    else:
        tgt = target(cfg)
        from jacnet_cli.data.sampled import default_names

        x_names, y_names = default_names("x", tgt.d_x), default_names("y", tgt.d_y)
    if getattr(spec, "fresh", False) and settings.batch_size is None:
        raise ValueError("batch_size=null is not allowed with data.fresh=true; set batch_size "
                         "(rows drawn per step)")
    where = Frame(tgt, x_names, y_names)
    unused_keys(cfg, where, typed)
    with torch.random.fork_rng(devices=[]):
        net = model(cfg, where)
        make("optim", cfg["optim"])(net.parameters())
