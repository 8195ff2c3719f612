"""How long and in what batches a run trains, when the config leaves it to jacnet (`auto`).

Two regimes:

- the paper's (a 1-D target sampled as in section 5): 50 full-batch steps of the paper's
  norm loss, no validation: what the paper fixes stays the paper's;
- fitting (a file, or a target with several inputs): epochs of shuffled mini-batches sized
  from the data, the mean squared error, a validation split, early stopping on it with the
  best weights restored, and the learning rate halved when the validation loss stalls. This
  trains to convergence where 50 full-batch steps stop while the loss is still falling.

Any key the user sets is kept; only the `auto` ones are filled in. `iterations=N` alone (or
`epochs=N` alone) decides the length; the other yields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PAPER_ITERATIONS = 50
MAX_STEPS = 20_000  # the most optimiser steps an automatic plan takes
MAX_EPOCHS = 2_000
PATIENCE_STEPS = 1_000  # early stopping waits about this many steps (and at least 10 epochs)
MIN_PATIENCE = 10
DECAY = 0.5  # the learning rate's factor when the validation loss stalls


@dataclass
class Plan:
    """The resolved training plan (what metrics.json reports as `plan_*`)."""

    regime: str  # "paper", "fit", or "given" (the user set the length)
    iterations: int | None  # total steps, or None when counted in epochs
    epochs: int | None
    batch_size: int | None  # None: the full batch
    patience: int | None  # epochs without a better validation loss before stopping
    loss: str
    lr_decay: float | None  # multiply the learning rate by this when validation stalls
    decay_wait: int | None  # ... after this many epochs without improvement

    def describe(self) -> dict[str, Any]:
        return {f"plan_{k}": v for k, v in vars(self).items()}


def fitting(is_file: bool, d_x: int) -> bool:
    """The regime of a run whose length is left to jacnet: fitting, unless a 1-D target."""
    return is_file or d_x > 1


FULL_BATCH_ROWS = 64  # up to this many rows, the full batch
FULL_BATCH_ROWS_1D = 1024  # ... and for one input (a curve), up to this many


def batch_size(rows: int, d_x: int) -> int | None:
    """Mini-batches of about rows / 50, a power of two in [32, 1024]; the full batch for up
    to 64 rows, or up to 1024 rows of a single input.

    Why the 1-D exception: a curve y(x) is smooth, so small noisy batches only slow it down.
    On the newcomer benchmark's steam-like file (400 rows, h(T) with `pd`), batches of 32
    stopped at 1.65x the error of a run trained to convergence by hand, the full batch at
    1.18x. Tables with several inputs keep small batches: on the tabular study's small tables
    (200-300 rows) batches of 16-32 generalised better than 128 (benchmarks/tabular).
    """
    if rows <= (FULL_BATCH_ROWS_1D if d_x == 1 else FULL_BATCH_ROWS):
        return None
    return int(min(1024, max(32, 2 ** round(math.log2(rows / 50)))))


def make(settings: Any, rows: int, is_file: bool, d_x: int, validating: bool) -> Plan:
    """The plan for `settings` (TrainSettings) on `rows` training rows.

    Args:
        settings: the run's settings (iterations, epochs, batch_size, patience, loss may be
            "auto").
        rows: training rows (for a sampler of fresh batches: the rows of one epoch).
        is_file: the data come from the user's file.
        d_x: inputs.
        validating: a validation split exists (early stopping needs one).
    """
    auto = lambda value: value == "auto"  # noqa: E731
    fit = fitting(is_file, d_x)
    length_given = not (auto(settings.iterations) and auto(settings.epochs))
    regime = "given" if length_given else ("fit" if fit else "paper")
    size = settings.batch_size
    if auto(size):
        size = batch_size(rows, d_x) if fit else None
    per_epoch = 1 if size is None else max(1, math.ceil(rows / size))
    iterations, epochs = settings.iterations, settings.epochs
    if regime == "paper":
        iterations, epochs = PAPER_ITERATIONS, None
    elif regime == "fit":
        iterations, epochs = None, min(MAX_EPOCHS, max(1, math.ceil(MAX_STEPS / per_epoch)))
    elif not auto(epochs) and epochs is not None:
        iterations = None  # epochs=N: iterations yields
    else:
        epochs = None
    patience = settings.patience
    if auto(patience):
        patience = max(MIN_PATIENCE, math.ceil(PATIENCE_STEPS / per_epoch)) \
            if regime == "fit" and validating else None
    loss = settings.loss if not auto(settings.loss) else ("mse" if fit else "norm")
    decay = DECAY if regime == "fit" and validating and patience else None
    wait = max(1, patience // 3) if decay else None
    return Plan(regime, iterations, epochs, size, patience, loss, decay, wait)
