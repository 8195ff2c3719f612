"""The top-level keys of each task, in one typed place, each checked where it is read.

`TrainSettings.of(cfg)`, `EvalSettings.of(cfg)` and `InvertSettings.of(cfg)` read a composed
config (a mapping) and raise one-line ValueErrors for bad values; everything else in a
config belongs to a group and is checked by the class it builds (`run.build`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

import torch

from jacnet_cli.core import checks

DTYPES = {"float64": torch.float64, "float32": torch.float32}
PROGRESS = ("auto", True, False)


def device_name(key: str, value: Any) -> str:
    """auto, cpu, cuda or cuda:N (whether CUDA is there is checked where the job runs)."""
    text = str(value)
    index = text[5:] if text.startswith("cuda:") else "0"
    if isinstance(value, str) and (text in ("auto", "cpu", "cuda") or
                                   (text.startswith("cuda:") and index.isdigit())):
        return text
    raise checks.refuse(key, value, "it must be auto, cpu, cuda or cuda:N")


def device(name: str) -> torch.device:
    """`auto` picks CUDA when present; `cuda` without a GPU is an error, not a fallback."""
    name = device_name("device", name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} is not available: no CUDA GPU is visible here; "
                         "use device=auto or device=cpu")
    return torch.device(name)


def dtype(name: str) -> torch.dtype:
    return DTYPES[checks.one_of("dtype", name, DTYPES)]


def progress(key: str, value: Any) -> Any:
    if value == "auto" or isinstance(value, bool):
        return value
    raise checks.refuse(key, value, "it must be auto, true or false")


def threads(key: str, value: Any) -> Any:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise checks.refuse(key, value, "it must be auto or an integer >= 1")


def _get(cfg: Mapping[str, Any], key: str, default: Any = None) -> Any:
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


@dataclass
class Runtime:
    """How a task runs: device, precision, progress display, threads."""

    device: str = "auto"
    dtype: str = "float64"
    progress: Any = "auto"
    threads: Any = "auto"

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> "Runtime":
        return cls(device=device_name("device", _get(cfg, "device", "auto")),
                   progress=progress("progress", _get(cfg, "progress", "auto")),
                   threads=threads("runtime.threads", _get(cfg, "runtime.threads", "auto")),
                   dtype=checks.one_of("dtype", _get(cfg, "dtype", "float64"), DTYPES))


def _auto(key: str, value: Any, check: Any) -> Any:
    """`auto` (left to the run's plan, `run.plan`), or what `check` allows."""
    if value == "auto":
        return value
    try:
        return check(key, value)
    except ValueError as exc:
        raise ValueError(str(exc).replace("it must be ", "it must be auto or ", 1)) from None


@dataclass
class TrainSettings:
    """The keys of `jacnet train` outside the config groups (conf/train.yaml). `auto`
    (iterations, epochs, batch_size, patience, loss) leaves a key to `run.plan`."""

    seed: int = 0
    iterations: int | str | None = "auto"
    epochs: int | str | None = "auto"
    batch_size: int | str | None = "auto"
    loss: str = "auto"
    curl_weight: float = 0.0
    patience: int | str | None = "auto"
    restore_best: bool = True
    eval_tolerance: float = 1e-7
    plots: bool = True
    strict: bool = False
    resume: str | None = None
    init_from: str | None = None
    overwrite: bool = False
    runtime: Runtime | None = None

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> "TrainSettings":
        from jacnet_cli.run.training import LOSSES

        def count(minimum: int) -> Any:
            return lambda key, value: checks.integer(key, value, minimum, optional=True)

        out = cls(
            seed=checks.integer("seed", _get(cfg, "seed", 0), 0),
            iterations=_auto("iterations", _get(cfg, "iterations", "auto"), count(0)),
            epochs=_auto("epochs", _get(cfg, "epochs", "auto"), count(0)),
            batch_size=_auto("batch_size", _get(cfg, "batch_size", "auto"), count(1)),
            patience=_auto("patience", _get(cfg, "patience", "auto"), count(1)),
            restore_best=checks.boolean("restore_best", _get(cfg, "restore_best", True)),
            overwrite=checks.boolean("overwrite", _get(cfg, "overwrite", False)),
            curl_weight=checks.nonnegative("curl_weight", _get(cfg, "curl_weight", 0.0)),
            eval_tolerance=checks.positive("eval_tolerance", _get(cfg, "eval_tolerance", 1e-7)),
            plots=checks.boolean("plots", _get(cfg, "plots", True)),
            strict=checks.boolean("strict", _get(cfg, "strict", False)),
            runtime=Runtime.of(cfg),
            loss=checks.one_of("loss", _get(cfg, "loss", "auto"), [*LOSSES, "auto"]),
            resume=_get(cfg, "resume"),
            init_from=_get(cfg, "init_from"),
        )
        given = [v for v in (out.iterations, out.epochs) if isinstance(v, int)]
        if len(given) == 2 or (out.iterations is None and out.epochs is None):
            raise ValueError(f"iterations={out.iterations!r}, epochs={out.epochs!r}: set one of "
                             "them (iterations=N or epochs=N); the other yields")
        return out


@dataclass
class EvalSettings:
    """The keys of `jacnet eval` (conf/eval.yaml); null keeps the saved run's value."""

    run_dir: str = ""
    seed: int | None = None
    eval_tolerance: float | None = None
    plots: bool = True
    runtime: Runtime | None = None

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> "EvalSettings":
        from jacnet_cli.data.sampled import grid_points

        out = cls(seed=checks.integer("seed", _get(cfg, "seed"), 0, optional=True),
                  eval_tolerance=checks.positive("eval_tolerance", _get(cfg, "eval_tolerance"),
                                                 optional=True),
                  plots=checks.boolean("plots", _get(cfg, "plots", True)),
                  runtime=Runtime.of(cfg))
        checks.integer("data.n_test", _get(cfg, "data.n_test"), 1, optional=True)
        grid_points("data.grid_points", _get(cfg, "data.grid_points"), optional=True)
        out.run_dir = run_directory(_get(cfg, "run_dir"))
        return out


@dataclass
class InvertSettings:
    """The keys of `jacnet invert` (conf/invert.yaml)."""

    run_dir: str = ""
    y: Any = None
    y_file: str | None = None
    method: str = "auto"
    newton_steps: int = 8
    allow_unconverged: bool = False
    runtime: Runtime | None = None

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> "InvertSettings":
        from jacnet_cli.core.inverse import check_method

        out = cls(newton_steps=checks.integer("newton_steps", _get(cfg, "newton_steps", 8), 0),
                  allow_unconverged=checks.boolean("allow_unconverged",
                                                   _get(cfg, "allow_unconverged", False)),
                  runtime=Runtime.of(cfg), method=check_method(_get(cfg, "method", "auto")),
                  y=_get(cfg, "y"), y_file=_get(cfg, "y_file"))
        out.run_dir = run_directory(_get(cfg, "run_dir"))
        return out


REQUIRED_HINTS = {"run_dir": "pass run_dir=PATH, the directory of a `jacnet train` run",
                  "data.path": "pass data.path=FILE (.csv with a header, .npz, .parquet)",
                  "data.x": "name the input columns, e.g. data.x=[a,b]",
                  "data.y": "name the output columns, e.g. data.y=[y]"}


def required(key: str) -> ValueError:
    """The error for a required key (`???`) left unset."""
    return ValueError(f"{key} is required; {REQUIRED_HINTS.get(key, f'pass {key}=VALUE')}")


def run_directory(value: Any) -> str:
    """A `jacnet train` run directory holding a checkpoint (checked last: it reads the disk)."""
    from pathlib import Path

    from jacnet_cli.run.checkpoint import find

    if value in (None, "???"):
        raise required("run_dir")
    path = Path(str(value)).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"run_dir={str(value)!r} is a file; pass the directory of a `jacnet "
                         "train` run (it holds checkpoint.pt)")
    find(path)
    return str(value)


SETTINGS = {"train": TrainSettings, "eval": EvalSettings, "invert": InvertSettings}


def names(task: str) -> list[str]:
    """The top-level keys a task's settings read."""
    return [f.name for f in fields(SETTINGS[task]) if f.name != "runtime"]
