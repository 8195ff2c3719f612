"""How long and in what batches a run trains, when the config leaves it to jacnet (`auto`).

Four regimes:

- the paper's (a 1-D target sampled as in section 5): 50 full-batch steps of the paper's
  norm loss at a constant learning rate, no validation: what the paper fixes stays the
  paper's;
- fitting (a file, or a target with several inputs): a fixed budget of optimiser steps
  (`steps`: 2,000 up to 2,500 rows, growing like sqrt(rows) beyond) on shuffled mini-batches
  of about rows / 8 (a power of two in [32, 256]), the mean squared error, the learning rate warmed up over the first WARMUP of the steps and then
  decayed along a cosine to LR_FLOOR times its start, a validation split whose best weights
  are restored, and a generous early stop (a third of the budget without a better
  validation loss).
- classification (`loss=bce` on a file, `classify_plan`): mini-batches of about rows / 50 at
  a constant rate, halved when the validation loss stalls, early stopping with the best
  weights restored (up to 20,000 steps).
- small data (a file with at most `data.files.SMALL_ROWS` rows to train on and no validation
  split, `small_plan`): every row, full batch, a fixed number of steps at a constant rate,
  and for one input a smoothness penalty on the curvature of ŷ, so few points give a smooth
  curve between them rather than one chosen by a split of a row or two.

Why this plan (benchmarks/price/README.md, the plan study): a structure's network reaches in
2,000 steps of 256 rows with the cosine decay what the old plan (batches of ~rows/50, up to
20,000 steps, the rate halved on plateaus) reached in 7,000-18,000 steps: rotated_tanh with
`invertible` -64.6 dB after 2,000 such steps against -65.1 after 317 s; icgn_convex with
`monotone` -51.8 dB against -48.8. The decay to a small rate does what many small batches
did (averaging the gradient noise), at a tenth of the steps; larger batches (1024) cost 3x a
step and gained nothing. The peak rate is 3x optim.lr (0.03): on every structure of the study
0.03 beat 0.01 under the cosine (rotated_tanh -66.3 vs -64.6 dB, icgn_convex -51.8 vs -47.8,
the plain MLP -48.6 vs -41.6). 0/1 labels keep the plateau plan: see `classify_plan`.

Any key the user sets is kept; only the `auto` ones are filled in. `iterations=N` alone (or
`epochs=N` alone) decides the length; the other yields. A run that fits (a file or several
inputs) keeps the warm-up and the cosine over the length it is given; a 1-D target keeps a
constant rate (the paper's). `lr_shape` turns a plan into the per-step multiplier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from jacnet_cli.data.files import SMALL_ROWS

PAPER_ITERATIONS = 50
FIT_STEPS = 2_000  # the optimiser steps of an automatic fitting plan on up to REF_ROWS rows ...
REF_ROWS = 2_500
MAX_FIT_STEPS = 10_000  # ... growing like sqrt(rows / REF_ROWS) beyond, up to this
WARMUP = 0.05  # share of the steps spent warming the learning rate up
LR_FLOOR = 1e-3  # the learning rate ends at this share of its peak
LR_PEAK = 3.0  # the warm-up climbs to this multiple of optim.lr (0.03 with the default 0.01)
PATIENCE_SHARE = 1 / 3  # early stopping waits this share of the steps (and >= MIN_PATIENCE epochs)
MIN_PATIENCE = 10
BATCH_SHARE = 8  # batches of about rows / BATCH_SHARE rows ...
MIN_BATCH, MAX_BATCH = 32, 256  # ... a power of two in [MIN_BATCH, MAX_BATCH]


@dataclass
class Plan:
    """The resolved training plan (what metrics.json reports as `plan_*`)."""

    regime: str  # "paper", "fit", "classify", "small", or "given" (the user set the length)
    iterations: int | None  # total steps, or None when counted in epochs
    epochs: int | None
    batch_size: int | None  # None: the full batch
    patience: int | None  # epochs without a better validation loss before stopping
    loss: str
    lr_decay: float | None  # multiply the learning rate by this when validation stalls
    decay_wait: int | None  # ... after this many epochs without improvement
    smoothness: float | None = None  # weight of the curvature penalty (small data, 1 input)
    warmup: float | None = None  # share of the steps warming up (None: constant rate)
    lr_floor: float | None = None  # the cosine's end, a share of the peak
    lr_peak: float | None = None  # the warm-up's end, a multiple of optim.lr

    def describe(self) -> dict[str, Any]:
        return {f"plan_{k}": v for k, v in vars(self).items()}


def fitting(is_file: bool, d_x: int) -> bool:
    """The regime of a run whose length is left to jacnet: fitting, unless a 1-D target."""
    return is_file or d_x > 1


FULL_BATCH_ROWS = 64  # up to this many rows, the full batch
FULL_BATCH_ROWS_1D = 1024  # ... and for one input (a curve), up to this many


def batch_size(rows: int, d_x: int) -> int | None:
    """Mini-batches of about rows / 8, a power of two in [32, 256]; the full batch for up to
    64 rows, or up to 1024 rows of a single input.

    Why the 1-D exception: a curve y(x) is smooth, so small noisy batches only slow it down.
    On the newcomer benchmark's steam-like file (400 rows, h(T) with `pd`), batches of 32
    stopped at 1.65x the error of a run trained to convergence by hand, the full batch at
    1.18x. Why at most 256: a step's cost grows with the batch once the network's arithmetic
    dominates, and on the plan study's maps 1024 rows a step cost 3x the time of 256 for the
    same error after the same steps.
    """
    if rows <= (FULL_BATCH_ROWS_1D if d_x == 1 else FULL_BATCH_ROWS):
        return None
    size = 2 ** round(math.log2(max(rows, 1) / BATCH_SHARE))
    return int(min(MAX_BATCH, max(MIN_BATCH, size)))


def steps(rows: int) -> int:
    """The fitting plan's optimiser steps: FIT_STEPS up to REF_ROWS rows, then growing like
    the square root of the rows (rounded to hundreds), at most MAX_FIT_STEPS: 10,000 rows
    take 4,000 steps.

    Why: more rows carry more detail to fit and a mini-batch sees a smaller share of them;
    on polymax d = 32 (10,000 rows) 2,000 steps ended at -12.5 dB and 4,000 at -12.9, while
    2,000-row maps gain little past 2,000 steps.
    """
    grown = FIT_STEPS * math.sqrt(max(rows, 1) / REF_ROWS)
    return int(min(MAX_FIT_STEPS, max(FIT_STEPS, round(grown, -2))))


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
    loss = settings.loss if not auto(settings.loss) else ("mse" if fit else "norm")
    if fit and loss == "bce":
        return classify_plan(settings, rows, validating)
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
        iterations, epochs = steps(rows), None
    elif not auto(epochs) and epochs is not None:
        iterations = None  # epochs=N: iterations yields
    else:
        epochs = None
    patience = settings.patience
    if auto(patience):
        patience = max(MIN_PATIENCE, math.ceil(PATIENCE_SHARE * steps(rows) / per_epoch)) \
            if regime == "fit" and validating else None
    shaped = fit  # files and n-D targets: warm-up and cosine, whoever set the length
    return Plan(regime, iterations, epochs, size, patience, loss, None, None,
                warmup=WARMUP if shaped else None, lr_floor=LR_FLOOR if shaped else None,
                lr_peak=LR_PEAK if shaped else None)


# ------------------------------------------------------------------ classification

CLASSIFY_SHARE = 50  # batches of about rows / CLASSIFY_SHARE rows, a power of two in [32, 1024]
CLASSIFY_STEPS = 20_000  # at most this many steps ...
CLASSIFY_PATIENCE_STEPS = 1_000  # ... stopping after max(10 epochs, about this many) without
DECAY = 0.5  # a better validation loss; the rate times DECAY after a third of that


def classify_plan(settings: Any, rows: int, validating: bool) -> Plan:
    """0/1 labels (`loss=bce`): mini-batches of about rows / 50, the learning rate at
    optim.lr, and with a validation split the rate halved when the validation loss stalls and
    early stopping with the best weights restored (a length, batch or patience the user set
    is kept).

    Why not the fitting plan's fixed budget and cosine: labels are noisy, so the validation
    loss is best early (COMPAS: step 175-960 of 2,500) and the cosine anneals on its own
    schedule, after that point; halving the rate when the validation loss stalls anneals
    where the best point is. Five seeds each (benchmarks/tabular, honest protocol): COMPAS
    accuracy 0.6846 with this plan against 0.6765 with the fitting plan (0.6791-0.6797 with
    its best variants: a peak of 0.3x, batches of 64), heart 0.8656 against 0.8525, at the
    same training time (2-6 s and ~1 s a run).
    """
    auto = lambda value: value == "auto"  # noqa: E731
    size = settings.batch_size
    if auto(size):
        size = None if rows <= FULL_BATCH_ROWS else \
            int(min(1024, max(32, 2 ** round(math.log2(rows / CLASSIFY_SHARE)))))
    per_epoch = 1 if size is None else max(1, math.ceil(rows / size))
    iterations, epochs = settings.iterations, settings.epochs
    if auto(iterations) and auto(epochs):
        iterations, epochs = None, max(1, math.ceil(CLASSIFY_STEPS / per_epoch))
    elif not auto(epochs) and epochs is not None:
        iterations = None
    else:
        epochs = None
    patience = settings.patience
    if auto(patience):
        patience = max(MIN_PATIENCE, math.ceil(CLASSIFY_PATIENCE_STEPS / per_epoch)) \
            if validating else None
    decay = DECAY if validating and patience else None
    return Plan("classify", iterations, epochs, size, patience, settings.loss, decay,
                max(1, patience // 3) if decay else None)


def lr_shape(plan: Plan, total: int) -> Any:
    """The learning rate's multiplier per step for a run of `total` steps
    (`run.schedules.LearningRateShape`), or None for a constant rate."""
    if plan.warmup is None or total < 1:
        return None
    from jacnet_cli.run.schedules import LearningRateShape

    return LearningRateShape(total, int(round(plan.warmup * total)), plan.lr_floor,
                             plan.lr_peak or 1.0)


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
