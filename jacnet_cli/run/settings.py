"""The top-level keys of each task, in one typed place, each checked where it is read.

`TrainSettings.of(cfg)`, `EvalSettings.of(cfg)` and `InvertSettings.of(cfg)` read a composed
config (a mapping) and raise one-line ValueErrors for bad values; everything else in a
config belongs to a group and is checked by the class it builds (`run.build`). A key a
config lacks takes its task's YAML default (conf/<task>.yaml, conf/runtime.yaml): the one
place each default is written.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

import torch

from jacnet_cli.core import checks, defaults

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


def _lookup(node: Any, key: str) -> tuple[bool, Any]:
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _get(cfg: Mapping[str, Any], key: str, task: str = "train") -> Any:
    """cfg's value of a dotted key, else the task's YAML default (None if it has none)."""
    found, value = _lookup(cfg, key)
    if found:
        return value
    for source in (defaults.of("", task), defaults.of("", "runtime")):
        found, value = _lookup(source, key)
        if found:
            return value
    return None


@dataclass
class Runtime:
    """How a task runs: device, precision, progress display, threads (conf/runtime.yaml)."""

    device: str
    dtype: str
    progress: Any
    threads: Any

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> "Runtime":
        return cls(device=device_name("device", _get(cfg, "device")),
                   progress=progress("progress", _get(cfg, "progress")),
                   threads=threads("runtime.threads", _get(cfg, "runtime.threads")),
                   dtype=checks.one_of("dtype", _get(cfg, "dtype"), DTYPES))


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
    """The keys of `jacnet train` outside the config groups (conf/train.yaml, where each is
    described and defaulted). `auto` (iterations, epochs, batch_size, patience, loss) leaves
    a key to `run.plan`."""

    seed: int
    iterations: int | str | None
    epochs: int | str | None
    batch_size: int | str | None
    loss: str
    curl_weight: float
    patience: int | str | None
    restore_best: bool
    eval_tolerance: float
    plots: bool
    strict: bool
    resume: str | None
    init_from: str | None
    overwrite: bool
    runtime: Runtime

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> "TrainSettings":
        from jacnet_cli.run.training import LOSSES

        def count(minimum: int) -> Any:
            return lambda key, value: checks.integer(key, value, minimum, optional=True)

        out = cls(
            seed=checks.integer("seed", _get(cfg, "seed"), 0),
            iterations=_auto("iterations", _get(cfg, "iterations"), count(0)),
            epochs=_auto("epochs", _get(cfg, "epochs"), count(0)),
            batch_size=_auto("batch_size", _get(cfg, "batch_size"), count(1)),
            patience=_auto("patience", _get(cfg, "patience"), count(1)),
            restore_best=checks.boolean("restore_best", _get(cfg, "restore_best")),
            overwrite=checks.boolean("overwrite", _get(cfg, "overwrite")),
            curl_weight=checks.nonnegative("curl_weight", _get(cfg, "curl_weight")),
            eval_tolerance=checks.positive("eval_tolerance", _get(cfg, "eval_tolerance")),
            plots=checks.boolean("plots", _get(cfg, "plots")),
            strict=checks.boolean("strict", _get(cfg, "strict")),
            runtime=Runtime.of(cfg),
            loss=checks.one_of("loss", _get(cfg, "loss"), [*LOSSES, "auto"]),
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

    run_dir: str
    seed: int | None
    eval_tolerance: float | None
    plots: bool
    runtime: Runtime

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> "EvalSettings":
        from jacnet_cli.data.sampled import grid_points

        get = lambda key: _get(cfg, key, "eval")  # noqa: E731
        checks.integer("data.n_test", get("data.n_test"), 1, optional=True)
        grid_points("data.grid_points", get("data.grid_points"), optional=True)
        return cls(seed=checks.integer("seed", get("seed"), 0, optional=True),
                   eval_tolerance=checks.positive("eval_tolerance", get("eval_tolerance"),
                                                  optional=True),
                   plots=checks.boolean("plots", get("plots")),
                   runtime=Runtime.of(cfg), run_dir=run_directory(get("run_dir")))


@dataclass
class InvertSettings:
    """The keys of `jacnet invert` (conf/invert.yaml)."""

    run_dir: str
    y: Any
    y_file: str | None
    method: str
    newton_steps: int
    allow_unconverged: bool
    runtime: Runtime

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> "InvertSettings":
        from jacnet_cli.core.inverse import check_method

        get = lambda key: _get(cfg, key, "invert")  # noqa: E731
        return cls(newton_steps=checks.integer("newton_steps", get("newton_steps"), 0),
                   allow_unconverged=checks.boolean("allow_unconverged",
                                                    get("allow_unconverged")),
                   runtime=Runtime.of(cfg), method=check_method(get("method")),
                   y=get("y"), y_file=get("y_file"), run_dir=run_directory(get("run_dir")))


REQUIRED_HINTS = {"run_dir": "pass run_dir=PATH, the directory of a `jacnet train` run",
                  "data.path": "pass data.path=FILE (.csv with a header, .npz, .parquet)",
                  "data.x": "name the input columns, e.g. data.x=[a,b]",
                  "data.y": "name the output columns, e.g. data.y=[y]"}


def required(key: str) -> ValueError:
    """The error for a required key (`???`) left unset."""
    return ValueError(f"{key} is required; {REQUIRED_HINTS.get(key, f'pass {key}=VALUE')}")


def run_directory(value: Any) -> str:
    """A run directory's path, required (whether it holds a run is `run.rundir.check`'s)."""
    if value in (None, "???"):
        raise required("run_dir")
    return str(value)


def names(settings: type) -> list[str]:
    """The top-level keys a task's settings class reads."""
    return [f.name for f in fields(settings) if f.name != "runtime"]
