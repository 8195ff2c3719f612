"""Checkpoints that carry their own resolved config, so a run rebuilds without its command line.

The file holds only tensors and plain containers, so it loads with
`torch.load(path, weights_only=True)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jacnet_cli import build
from jacnet_cli.data import Dataset
from jacnet_cli.targets import Target

FILENAME = "checkpoint.pt"


def save(path: Path, model: nn.Module, config: dict[str, Any], **extra: Any) -> Path:
    """Write weights, the resolved config (plain dict) and extras (plain values) to path."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": 1, "state_dict": state, "config": config, **extra}, path)
    return path


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
    if not run_dir.is_dir():
        raise ValueError(f"run_dir={str(run_dir)!r} does not exist; "
                         "pass the directory of a `jacnet train` run")
    path = run_dir / FILENAME
    if not path.is_file():
        raise ValueError(f"run_dir={str(run_dir)!r} holds no {FILENAME}; "
                         "pass the directory of a finished or interrupted `jacnet train` run")
    return path


def load(run_dir: str | Path, device: torch.device | str = "cpu",
         dtype: torch.dtype | None = None, overrides: dict[str, Any] | None = None) -> Run:
    """Rebuild a run from its directory: config -> target, data, model; then the weights.

    Args:
        run_dir: a `jacnet train` run directory.
        device, dtype: where to put the model (dtype default: the run's).
        overrides: top-level config entries to replace before rebuilding (e.g. another
            `solver`); `data` entries are merged key by key.
    """
    path = find(run_dir)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    config = blob["config"]
    for key, value in (overrides or {}).items():
        if key == "data":
            config["data"] = {**config["data"], **value}
        else:
            config[key] = value
    tgt = build.target(config)
    dataset = build.data(config, tgt)
    model = build.model(config, tgt, dataset)
    model.load_state_dict(blob["state_dict"])
    dtype = dtype or build.dtype(config.get("dtype", "float64"))
    model.to(device=device, dtype=dtype).eval()
    extra = {k: v for k, v in blob.items() if k not in ("state_dict", "config")}
    return Run(path.parent, config, tgt, dataset, model, extra)
