"""Tolerance schedules for the solver during training.

The paper (section 4.4) starts with a loose tolerance and halves it whenever the training loss
falls below it. Training reads `schedule.tolerance` before each step and calls
`schedule.update(loss)` after it. Config group: ``conf/schedule/<name>.yaml``.
"""

from __future__ import annotations

import math

from jacnet_cli.core import checks


def _check(key: str, value: float, low: float = 0.0, high: float = float("inf")) -> float:
    return checks.number(key, value, low, high, closed=False)


class Schedule:
    """Base class: holds the current tolerance and updates it from the training loss."""

    def __init__(self, initial: float, minimum: float = 1e-12):
        self.initial = _check("schedule.initial", initial)
        self.minimum = _check("schedule.minimum", minimum)
        self.tolerance = self.initial

    def update(self, loss: float) -> float:
        """Record one step's training loss; return the tolerance for the next step."""
        return self.tolerance

    def reset(self) -> None:
        self.tolerance = self.initial

    def state_dict(self) -> dict[str, float]:
        return {"tolerance": self.tolerance}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.tolerance = float(state["tolerance"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tolerance={self.tolerance:g})"


class Constant(Schedule):
    """The tolerance never changes."""


    def __init__(self, tolerance: float = 1e-6):
        super().__init__(initial=_check("schedule.tolerance", tolerance), minimum=tolerance)


class Anneal(Schedule):
    """The paper's schedule: multiply by `factor` (1/2) whenever loss < tolerance.

    Args:
        initial: the starting (loose) tolerance.
        factor: the multiplier in (0, 1) applied when the loss drops below the tolerance.
        minimum: the tolerance never goes below this.
    """


    def __init__(self, initial: float = 1e-1, factor: float = 0.5, minimum: float = 1e-8):
        super().__init__(initial, minimum)
        self.factor = _check("schedule.factor", factor, 0.0, 1.0)

    def update(self, loss: float) -> float:
        if loss < self.tolerance:
            self.tolerance = max(self.tolerance * self.factor, self.minimum)
        return self.tolerance


class Geometric(Schedule):
    """Multiply the tolerance by `factor` every step, down to `minimum`."""


    def __init__(self, initial: float = 1e-2, factor: float = 0.9, minimum: float = 1e-8):
        super().__init__(initial, minimum)
        self.factor = _check("schedule.factor", factor, 0.0, 1.0)

    def update(self, loss: float) -> float:
        self.tolerance = max(self.tolerance * self.factor, self.minimum)
        return self.tolerance



class LearningRateShape:
    """The learning rate's multiplier per step: a linear warm-up to `peak`, then a cosine
    decay to floor x peak.

        f(i) = peak (i + 1) / warmup                                   for i < warmup
        f(i) = peak (floor + (1 - floor) (1 + cos(π t)) / 2),  t = (i - warmup) / (total - 1 - warmup)

    The optimiser's `lr` times f(i) is the rate of step i. A pure function of the step: a
    resumed run continues the same rates.

    Args:
        total: the steps the run plans.
        warmup: steps of the linear warm-up (0: none).
        floor: the last step's share of the peak, in (0, 1].
        peak: the multiplier at the end of the warm-up, > 0.
    """

    def __init__(self, total: int, warmup: int = 0, floor: float = 1e-3, peak: float = 1.0):
        self.total = checks.integer("iterations", total, 1)
        self.warmup = min(checks.integer("warmup", warmup, 0), self.total - 1)
        self.floor = _check("lr floor", floor, 0.0, 1.0 + 1e-12)
        self.peak = _check("lr peak", peak)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.peak * (step + 1) / self.warmup
        span = max(1, self.total - 1 - self.warmup)
        t = min(1.0, (step - self.warmup) / span)
        return self.peak * (self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * t)))

    def __repr__(self) -> str:
        return (f"LearningRateShape(total={self.total}, warmup={self.warmup}, "
                f"floor={self.floor:g}, peak={self.peak:g})")
