"""How long and in what batches a run trains, when the config leaves it to jacnet (`auto`).

Three regimes:

- the paper's (a 1-D target sampled as in section 5): 50 full-batch steps of the paper's
  norm loss, no validation: what the paper fixes stays the paper's;
- fitting (a file, or a target with several inputs): epochs of shuffled mini-batches sized
  from the data, the mean squared error, a validation split, early stopping on it with the
  best weights restored, and the learning rate halved when the validation loss stalls. This
  trains to convergence where 50 full-batch steps stop while the loss is still falling.
- small data (a file with at most `data.files.SMALL_ROWS` rows to train on and no validation
  split, `small_plan`): every row, full batch, a fixed number of steps, and for one input a
  smoothness penalty on the curvature of ŷ, so few points give a smooth curve between them
  rather than one chosen by a split of a row or two.

Any key the user sets is kept; only the `auto` ones are filled in. `iterations=N` alone (or
`epochs=N` alone) decides the length; the other yields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from jacnet_cli.data.files import SMALL_ROWS

PAPER_ITERATIONS = 50
MAX_STEPS = 20_000  # the most optimiser steps an automatic plan takes
MAX_EPOCHS = 2_000
PATIENCE_STEPS = 1_000  # early stopping waits about this many steps (and at least 10 epochs)
MIN_PATIENCE = 10
DECAY = 0.5  # the learning rate's factor when the validation loss stalls


@dataclass
class Plan:
    """The resolved training plan (what metrics.json reports as `plan_*`)."""

    regime: str  # "paper", "fit", "small", or "given" (the user set the length)
    iterations: int | None  # total steps, or None when counted in epochs
    epochs: int | None
    batch_size: int | None  # None: the full batch
    patience: int | None  # epochs without a better validation loss before stopping
    loss: str
    lr_decay: float | None  # multiply the learning rate by this when validation stalls
    decay_wait: int | None  # ... after this many epochs without improvement
    smoothness: float | None = None  # weight of the curvature penalty (small data, 1 input)

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
    if small(is_file, rows, validating):
        return small_plan(settings, rows, d_x)
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


# ------------------------------------------------------------------ small data

SMALL_STEPS = 2000  # full-batch steps of the small-data plan
#: weight of the curvature penalty λ mean((dJ/dx)²) in standard units (x and y of unit
#: spread). Chosen on five 8-row curves (benchmarks/newcomer27/tune_penalty.log): at 2000
#: steps within 1.12x of a cubic polynomial through the same rows, 0.86x in geometric mean
#: (no penalty: up to 4.6x, on the S-shaped one); λ = 1e-2 converges sooner but
#: over-smooths S shapes (tanh: 2x the error of 1e-3)
SMOOTHNESS = 1e-3
PENALTY_POINTS = 64  # where the curvature is measured: the data's span, widened by 10 %


def small(is_file: bool, rows: int, validating: bool) -> bool:
    """Whether a run gets the small-data plan: a file with at most SMALL_ROWS training rows
    and no validation split (`data.val_fraction=auto` holds none out of such a file)."""
    return is_file and rows <= SMALL_ROWS and not validating


def small_plan(settings: Any, rows: int, d_x: int) -> Plan:
    """Every row, full batch, SMALL_STEPS steps of the mean squared error (a length or batch
    the user set is kept), and for one input the smoothness penalty: the fit a smoothing
    spline would make, within the structure's guarantee."""
    auto = lambda value: value == "auto"  # noqa: E731
    given = not (auto(settings.iterations) and auto(settings.epochs))
    iterations, epochs = (SMALL_STEPS, None) if not given else (settings.iterations, settings.epochs)
    if given and not auto(epochs) and epochs is not None:
        iterations = None
    elif given:
        epochs = None
    size = None if auto(settings.batch_size) else settings.batch_size
    loss = "mse" if auto(settings.loss) else settings.loss
    patience = None if auto(settings.patience) else settings.patience
    return Plan("small", iterations, epochs, size, patience, loss, None, None,
                SMOOTHNESS if d_x == 1 and loss != "bce" else None)


def smoothness_penalty(weight: float, x: Any) -> Callable[[Any, Any], Any]:
    """weight x mean((dJ/dx)²) over PENALTY_POINTS points spanning the training inputs `x`
    (N, 1) (model units) widened by 10 %: the squared curvature of ŷ, by differences of the
    model's J between neighbouring points. (model, batch x) -> scalar, as `Trainer.penalty`."""
    import torch

    lo, hi = float(x.min()), float(x.max())
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    grid = torch.linspace(lo - pad, hi + pad, PENALTY_POINTS, dtype=x.dtype, device=x.device)
    h = float(grid[1] - grid[0])

    def penalty(model: Any, xb: Any) -> Any:
        jac = model.jacobian(grid[:, None])[..., 0]  # (P, d_y)
        return weight * (((jac[1:] - jac[:-1]) / h) ** 2).mean()

    return penalty


def small_data_note(plan: Plan, rows: int, validation_rows: int, test_rows: int) -> str | None:
    """The WARNING of a run on too few rows to trust a split: the small-data plan's, or a
    validation split of fewer than MIN_VALIDATION rows that picks the weights anyway."""
    if plan.regime == "small":
        return (f"{rows} training rows: too few to hold out a validation split, so every one "
                f"trains, {plan.iterations or plan.epochs} full-batch "
                f"{'steps' if plan.iterations else 'epochs'}"
                + (" with a smoothness penalty" if plan.smoothness else "")
                + f" (the small-data plan); the test error on {test_rows} row(s) is a rough "
                "guide only")
    if 0 < validation_rows < MIN_VALIDATION:
        return (f"the validation split holds {validation_rows} row(s): too few to choose the "
                "stopping point and the weights by; leave data.val_fraction=auto (a file of "
                f"up to {SMALL_ROWS} training rows then trains on all of them) or give more rows")
    return None


MIN_VALIDATION = 10  # validation rows below which a split is not trusted
