"""Data sampled from a closed-form target (`DataSpec`), split into training, validation and
test sets, with the points where guarantees are measured; and the `Dataset` every source
(also the user's file, `data.files`) produces.

The paper's setup (section 5): 5 training points uniform in [-1, 1], 100 test points uniform
in [-2, 2]; guarantees are measured on a dense grid over a wider interval, [-3, 3]. In n-D
the guarantee points are a regular grid up to 3 dimensions and uniform samples of the box
beyond. For a file, the box is the data's bounding box widened by `guarantee_margin`.
Config group: ``conf/data/<name>.yaml``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from jacnet_cli.core import checks


#: fewer grid points per axis than this cannot stand for "the guarantee holds on the range":
#: at 11 the grid over the guarantee range has a step of a tenth of the range.
MIN_GRID_POINTS = 11


def grid_points(key: str, value: object, optional: bool = False) -> int | None:
    """Guarantee grid points per axis: an integer >= MIN_GRID_POINTS."""
    if value is None and optional:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= MIN_GRID_POINTS:
        return value
    raise ValueError(f"{key}={value!r} is too few to measure a guarantee; it must be an "
                     f"integer >= {MIN_GRID_POINTS} (grid points per axis over the guarantee "
                     "range)")


#: The paper's data (section 5), what `auto` means for a 1-D target.
PAPER = {"n_train": 5, "train_range": (-1.0, 1.0), "n_test": 100, "test_range": (-2.0, 2.0),
         "guarantee_range": (-3.0, 3.0), "n_val": 0}
AUTO_TEST = 2000  # test points of an n-D target's data


@dataclass
class DataSpec:
    """Where and how many points to sample.

    Every count and range may be `auto` (`conf/data/auto.yaml`, the default): for a 1-D
    target the paper's data (5 training points in [-1, 1], 100 test points in [-2, 2],
    guarantees on [-3, 3]); for an n-D target its natural domain and sample size
    (`Target.domain`, `Target.samples`), test points in the same box, a validation set of a
    fifth as many points, and guarantees on the box three times as wide.

    Args:
        n_train: training points, uniform in train_range^d (with `fresh`, the points per epoch).
        train_range: [low, high] per coordinate.
        n_test: test points, uniform in test_range^d (or about that many on a grid).
        test_range: [low, high] per coordinate.
        guarantee_range: [low, high] per coordinate of the points where guarantees are measured.
        grid_points: guarantee grid points per coordinate up to 3 dimensions (capped so the
            grid has <= 2**16 points).
        guarantee_points: guarantee points sampled uniformly in the box beyond 3 dimensions.
        n_val: validation points, uniform in train_range^d (0: no validation).
        test_grid: test points on a regular grid (about n_test^(1/d) per axis) instead of
            uniform samples.
        fresh: every training step draws a fresh uniform batch from the target instead of
            reusing the n_train points (needs batch_size).
        split_seed: seeds the draws; null: the run's seed (set it to vary only the
            initialisation across a seed sweep).
    """

    n_train: int | str = 5
    train_range: Sequence[float] | str = (-1.0, 1.0)
    n_test: int | str = 100
    test_range: Sequence[float] | str = (-2.0, 2.0)
    guarantee_range: Sequence[float] | str = (-3.0, 3.0)
    grid_points: int = 2001
    guarantee_points: int = 4000
    n_val: int | str = 0
    test_grid: bool = False
    fresh: bool = False
    split_seed: int | None = None

    def __post_init__(self) -> None:
        checks.integer("data.split_seed", self.split_seed, 0, optional=True)
        for key, minimum in (("n_train", 1), ("n_test", 1), ("n_val", 0)):
            if getattr(self, key) != "auto":
                checks.integer(f"data.{key}", getattr(self, key), minimum)
        grid_points("data.grid_points", self.grid_points)
        checks.integer("data.guarantee_points", self.guarantee_points, 16)
        checks.boolean("data.test_grid", self.test_grid)
        checks.boolean("data.fresh", self.fresh)
        for key in ("train_range", "test_range", "guarantee_range"):
            if getattr(self, key) != "auto":
                setattr(self, key, checks.interval(f"data.{key}", getattr(self, key)))

    def resolve(self, target: Any) -> "DataSpec":
        """The spec with every `auto` filled in for this target (see the class docstring)."""
        if target.d_x == 1:
            auto = PAPER
        else:
            lo, hi = getattr(target, "domain", (-1.0, 1.0))
            width = hi - lo
            n = int(getattr(target, "samples", 2000))
            auto = {"n_train": n, "train_range": (lo, hi), "n_test": AUTO_TEST,
                    "test_range": (lo, hi), "guarantee_range": (lo - width, hi + width),
                    "n_val": max(1, n // 5)}
        values = {k: (auto[k] if getattr(self, k) == "auto" else getattr(self, k))
                  for k in auto}
        return dataclasses.replace(self, **values)


def uniform(n: int, d: int, bounds: tuple[float, float], generator: torch.Generator) -> Tensor:
    """n points uniform in the box bounds^d: (n, d), float64."""
    lo, hi = bounds
    return lo + (hi - lo) * torch.rand(n, d, generator=generator, dtype=torch.float64)


def grid(d: int, bounds: tuple[float, float], points: int) -> Tensor:
    """A regular grid over bounds^d with about `points` per axis (at most 2**16 points in
    1-D and 2**12 beyond: 64 x 64 in 2-D, 16³ in 3-D)."""
    per_axis = max(2, min(points, int(round(2 ** ((16 if d == 1 else 12) / d)))))
    axis = torch.linspace(bounds[0], bounds[1], per_axis, dtype=torch.float64)
    mesh = torch.meshgrid(*([axis] * d), indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)  # (per_axis^d, d)


def guarantee_points(spec: DataSpec, d: int, generator: torch.Generator) -> Tensor:
    """Where guarantees are measured: a grid up to 3-D, uniform samples beyond."""
    if d <= 3:
        return grid(d, spec.guarantee_range, spec.grid_points)
    return uniform(spec.guarantee_points, d, spec.guarantee_range, generator)


def box_points(lo: Tensor, hi: Tensor, per_axis: int, count: int,
               generator: torch.Generator) -> Tensor:
    """Guarantee points in the box [lo, hi] (per coordinate): a grid up to 3-D, uniform
    samples beyond. (d,) x2 -> (M, d), float64."""
    d = lo.shape[0]
    if d <= 3:
        unit = grid(d, (0.0, 1.0), per_axis)
    else:
        unit = torch.rand(count, d, generator=generator, dtype=torch.float64)
    return lo + (hi - lo) * unit


@dataclass
class Dataset:
    """Sampled inputs and targets, float64 on the CPU (cast where used).

    `sampler`, when set, draws fresh training batches (n, generator) -> (x, y).
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    x_grid: Tensor
    train_range: tuple[float, float] = (-1.0, 1.0)
    x_val: Tensor | None = None
    y_val: Tensor | None = None
    sampler: Callable[[int, torch.Generator], tuple[Tensor, Tensor]] | None = None
    x_names: list[str] | None = None
    y_names: list[str] | None = None
    units: object | None = None  # `units.Units` when the model trains in standard units
    stream: object | None = None  # `stream.Stream` when the data is streamed from a cache;
    #                               the tensors then hold only samples of each split
    meta: dict | None = None  # from a file: names, box, rows and units, kept with the run

    def __post_init__(self) -> None:
        self.x_names = self.x_names or default_names("x", self.x_train.shape[1])
        self.y_names = self.y_names or default_names("y", self.y_train.shape[1])

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "Dataset":
        def cast(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)

        return Dataset(*(cast(t) for t in (self.x_train, self.y_train, self.x_test,
                                            self.y_test, self.x_grid)),
                       train_range=self.train_range, x_val=cast(self.x_val),
                       y_val=cast(self.y_val), sampler=self.sampler, x_names=self.x_names,
                       y_names=self.y_names, units=self.units, stream=self.stream,
                       meta=self.meta)

    @property
    def validation(self) -> tuple[Tensor, Tensor] | None:
        return None if self.x_val is None else (self.x_val, self.y_val)


def default_names(prefix: str, d: int) -> list[str]:
    """Column names of a sampled dataset: x (1-D) or x1..xd."""
    return [prefix] if d == 1 else [f"{prefix}{i + 1}" for i in range(d)]


def make_dataset(spec: DataSpec, target, seed: int) -> Dataset:
    """Sample the training, validation and test sets for `target` with a seeded generator.

    The draws come in a fixed order (train, test, guarantee points, validation), so adding
    validation points leaves the training and test sets of a seed unchanged.
    """
    spec = spec.resolve(target)
    g = torch.Generator().manual_seed(int(seed if spec.split_seed is None else spec.split_seed))
    d = target.d_x
    x_train = uniform(spec.n_train, d, spec.train_range, g)
    if spec.test_grid:
        per_axis = max(2, round(spec.n_test ** (1 / d)))
        x_test = grid(d, spec.test_range, per_axis) if per_axis ** d <= 2**20 else \
            uniform(spec.n_test, d, spec.test_range, g)
    else:
        x_test = uniform(spec.n_test, d, spec.test_range, g)
    x_grid = guarantee_points(spec, d, g)
    x_val = uniform(spec.n_val, d, spec.train_range, g) if spec.n_val else None
    sampler = None
    if spec.fresh:
        bounds = spec.train_range

        def sampler(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
            x = uniform(n, d, bounds, generator)
            return x, target(x)

    return Dataset(x_train, target(x_train), x_test, target(x_test), x_grid, spec.train_range,
                   x_val, None if x_val is None else target(x_val), sampler)
