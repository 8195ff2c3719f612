"""Checkpoint files: written atomically, read with `weights_only=True`, checked.

The file holds only tensors and plain containers, so `torch.load(path, weights_only=True)`
runs no code of its; rebuilding a model from its config is `run.experiment` (through
`run.build`, which accepts only jacnet's own classes). Format 3:

    format        3
    config        the resolved run config (plain dict; for data from a file, `data.meta`
                  holds the column names, box and units, so the run rebuilds without it)
    state_dict    the weights the run reports (the best validation weights when restored)
    status        "running", "completed", "interrupted" or "failed"
    metrics       plain numbers and strings
    training      what `jacnet train resume=` needs (absent once it is not needed):
                  step, optimizer, schedule, batches, rng, best and last weights, stopper
    extras        small tensors for plots (e.g. the prediction at initialisation)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from jacnet_cli.run import atomic
from jacnet_cli.run.records import weights

FILENAME = "checkpoint.pt"
FORMAT = 3
REQUIRED = ("format", "state_dict", "config")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file."""


def atomic_save(obj: Any, path: Path) -> Path:
    """torch.save, atomically: an interrupted write leaves the previous checkpoint intact."""
    return atomic.replace(path, lambda f: torch.save(obj, f), binary=True)


def save(path: Path, model: nn.Module | dict[str, torch.Tensor], config: dict[str, Any],
         status: str = "completed", metrics: dict[str, Any] | None = None,
         training: dict[str, Any] | None = None,
         extras: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a checkpoint atomically.

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
    if blob["format"] != FORMAT:
        raise CheckpointError(f"checkpoint {path} has format={blob['format']!r}; this jacnet "
                              f"reads format {FORMAT} (train the run again with this version)")
    if not isinstance(blob["config"], dict) or not isinstance(blob["state_dict"], dict):
        raise CheckpointError(f"checkpoint {path}: config and state_dict must be mappings")
    return blob
