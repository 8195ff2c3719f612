"""Checkpoints that carry their own resolved config, so a run rebuilds without its command line.

The file holds only tensors and plain containers: it loads with
`torch.load(path, weights_only=True)`, and its config is rebuilt by `build`, which accepts
only jacnet's own classes. So loading a run directory from elsewhere runs no code of its.

Format 2 (written now):

    format        2
    config        the resolved run config (plain dict)
    state_dict    the weights the run reports (the best validation weights when restored)
    status        "running", "completed", "interrupted" or "failed"
    metrics       plain numbers and strings
    training      what `jacnet train resume=` needs (absent once it is not needed):
                  step, epoch, optimizer, schedule, rng, last (weights of the last step
                  when they differ from state_dict), best, stopper, sampler
    extras        small tensors for plots (e.g. the prediction at initialisation)

Format 1 (jacnet 0.1) had format, state_dict, config and metrics; it still loads for
eval and invert, but cannot be resumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jacnet_cli import atomic, build
from jacnet_cli.data import Dataset
from jacnet_cli.targets import Target

FILENAME = "checkpoint.pt"
FORMAT = 2
READABLE = (1, 2)
REQUIRED = ("format", "state_dict", "config")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file."""


def atomic_save(obj: Any, path: Path) -> Path:
    """torch.save, atomically: an interrupted write leaves the previous checkpoint intact."""
    return atomic.replace(path, lambda f: torch.save(obj, f), binary=True)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a model's state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def save(path: Path, model: nn.Module | dict[str, torch.Tensor], config: dict[str, Any],
         status: str = "completed", metrics: dict[str, Any] | None = None,
         training: dict[str, Any] | None = None,
         extras: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a format-2 checkpoint atomically.

    Args:
        path: the file to write.
        model: the model (or a state dict) whose weights the run reports.
        config: the resolved config, plain containers only.
        status: running, completed, interrupted or failed.
        metrics: plain values (numbers, strings, bools).
        training: resume state (see the module docstring), or None.
        extras: small tensors kept for plots.
    """
    state = model if isinstance(model, dict) else weights(model)
    blob: dict[str, Any] = {"format": FORMAT, "state_dict": state, "config": config,
                            "status": status, "metrics": _plain(metrics or {})}
    if training is not None:
        blob["training"] = training
    if extras:
        blob["extras"] = extras
    return atomic_save(blob, path)


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}


@dataclass
class Run:
    """A saved run rebuilt: its config, target, data and trained model."""

    path: Path
    config: dict[str, Any]
    target: Target
    data: Dataset
    model: nn.Module
    extra: dict[str, Any]


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


def read(path: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint file: weights only, a known format, the required keys.

    Raises:
        CheckpointError: one line naming the file and what is wrong with it.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes); the run that wrote it "
                              "did not finish writing; train again or resume it")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"checkpoint {path} cannot be read as a weights-only jacnet "
                              f"checkpoint (truncated, damaged or not a checkpoint): {first}") from None
    if not isinstance(blob, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(blob).__name__}, "
                              "not a jacnet checkpoint")
    missing = [k for k in REQUIRED if k not in blob]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks the key(s) {', '.join(missing)}; "
                              "it is not a complete jacnet checkpoint")
    if blob["format"] not in READABLE:
        raise CheckpointError(f"checkpoint {path} has format={blob['format']!r}; this jacnet "
                              f"reads formats {', '.join(map(str, READABLE))}")
    if not isinstance(blob["config"], dict) or not isinstance(blob["state_dict"], dict):
        raise CheckpointError(f"checkpoint {path}: config and state_dict must be mappings")
    return blob


def rebuild(path: Path, config: dict[str, Any], state: dict[str, torch.Tensor],
            dtype: torch.dtype | None = None) -> tuple[Target, Dataset, nn.Module]:
    """Target, data and model of a saved config with its weights, or one clear line.

    The model takes `dtype` (default: the run's) before the weights are copied in, so they
    are not rounded through torch's default dtype on the way.
    """
    try:
        build.check(config)
        tgt, dataset = build.target_and_data(config)
        model = build.model(config, tgt, dataset)
    except KeyError as exc:
        raise CheckpointError(f"checkpoint {path}: its config lacks the key {exc.args[0]!r}") from None
    except (ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path}: {first}") from None
    try:
        model.to(dtype=dtype or build.dtype(config.get("dtype", "float64")))
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {path}: {exc}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:240]
        raise CheckpointError(f"checkpoint {path}: its weights do not fit the model its config "
                              f"describes ({detail})") from None
    return tgt, dataset, model


def load(run_dir: str | Path, device: torch.device | str = "cpu",
         dtype: torch.dtype | None = None, overrides: dict[str, Any] | None = None,
         weights_key: str = "state_dict") -> Run:
    """Rebuild a run from its directory: config -> target, data, model; then the weights.

    Args:
        run_dir: a `jacnet train` run directory.
        device, dtype: where to put the model (dtype default: the run's).
        overrides: top-level config entries to replace before rebuilding (e.g. another
            `solver`); `data` entries are merged key by key.
        weights_key: "state_dict" (the reported weights) or "last" (the last step's).

    Raises:
        ValueError: the directory holds no checkpoint (one line).
        CheckpointError: the checkpoint is damaged or names something jacnet does not build.
    """
    path = find(run_dir)
    blob = read(path)
    config = dict(blob["config"])
    for key, value in (overrides or {}).items():
        if key == "data":
            config["data"] = {**config["data"], **value}
        else:
            config[key] = value
    state = blob["state_dict"]
    if weights_key == "last":
        state = blob.get("training", {}).get("last") or state
    tgt, dataset, model = rebuild(path, config, state, dtype)
    model.to(device=device).eval()
    extra = {k: v for k, v in blob.items() if k not in ("state_dict", "config")}
    return Run(path.parent, config, tgt, dataset, model, extra)
