"""Data: training and test inputs sampled in boxes, their targets, and dense grids.

The paper's setup (section 5): 5 training points uniform in [-1, 1], 100 test points uniform
in [-2, 2]; guarantees are measured on a dense grid over a wider interval, [-3, 3].
Config group: ``conf/data/<name>.yaml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor


def _range(key: str, value: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r} is not allowed; it must be [low, high]") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{key}={[lo, hi]} is not allowed; it must be [low, high] with low < high")
    return lo, hi


def _count(key: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key}={value!r} is not allowed; it must be an integer >= 1")
    return value


@dataclass
class DataSpec:
    """Where and how many points to sample.

    Args:
        n_train: training points, uniform in train_range^d.
        train_range: [low, high] per coordinate.
        n_test: test points, uniform in test_range^d.
        test_range: [low, high] per coordinate.
        guarantee_range: [low, high] per coordinate of the dense grid for guarantees.
        grid_points: grid points per coordinate (capped so the grid has <= 2**16 points).
    """

    n_train: int = 5
    train_range: Sequence[float] = (-1.0, 1.0)
    n_test: int = 100
    test_range: Sequence[float] = (-2.0, 2.0)
    guarantee_range: Sequence[float] = (-3.0, 3.0)
    grid_points: int = 2001

    def __post_init__(self) -> None:
        _count("data.n_train", self.n_train)
        _count("data.n_test", self.n_test)
        _count("data.grid_points", self.grid_points)
        self.train_range = _range("data.train_range", self.train_range)
        self.test_range = _range("data.test_range", self.test_range)
        self.guarantee_range = _range("data.guarantee_range", self.guarantee_range)


def uniform(n: int, d: int, bounds: tuple[float, float], generator: torch.Generator) -> Tensor:
    """n points uniform in the box bounds^d: (n, d), float64."""
    lo, hi = bounds
    return lo + (hi - lo) * torch.rand(n, d, generator=generator, dtype=torch.float64)


def grid(d: int, bounds: tuple[float, float], points: int) -> Tensor:
    """A regular grid over bounds^d with about `points` per axis (at most 2**16 in all)."""
    per_axis = max(2, min(points, int(round(2 ** (16 / d)))))
    axis = torch.linspace(bounds[0], bounds[1], per_axis, dtype=torch.float64)
    mesh = torch.meshgrid(*([axis] * d), indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)  # (per_axis^d, d)


@dataclass
class Dataset:
    """Sampled inputs and targets, float64 on the CPU (cast where used)."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    x_grid: Tensor
    train_range: tuple[float, float] = (-1.0, 1.0)

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "Dataset":
        return Dataset(*(t.to(device=device, dtype=dtype) for t in (
            self.x_train, self.y_train, self.x_test, self.y_test, self.x_grid)),
            train_range=self.train_range)


def make_dataset(spec: DataSpec, target, seed: int) -> Dataset:
    """Sample the training and test sets for `target` with a seeded generator."""
    g = torch.Generator().manual_seed(int(seed))
    x_train = uniform(spec.n_train, target.d_x, spec.train_range, g)
    x_test = uniform(spec.n_test, target.d_x, spec.test_range, g)
    x_grid = grid(target.d_x, spec.guarantee_range, spec.grid_points)
    return Dataset(x_train, target(x_train), x_test, target(x_test), x_grid, spec.train_range)


DATA: dict[str, type] = {"sampled": DataSpec}
