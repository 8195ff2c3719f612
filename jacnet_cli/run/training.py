"""Training: full-batch or mini-batch steps, validation, early stopping, and state to
resume from, with the solver's tolerance scheduled (paper section 4.4).

`fit` is what users' own code calls; `Trainer` is the loop itself, which `run.experiment`
drives (it adds files, signals and logging; this module knows nothing of Hydra or files).

Each step reads the schedule's tolerance into the solver, computes the loss on a batch,
steps the optimiser, then feeds the loss back to the schedule (the paper halves the tolerance
when loss < tolerance). The optimiser step and the bookkeeping after it run inside
`interrupts.deferred()`, so a signal never lands between them: whatever is saved after an
interrupt is the state after a completed step, and resuming from it repeats the run exactly.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch
from torch import Tensor, nn

from jacnet_cli.core.evaluation import predict
from jacnet_cli.run.interrupts import deferred
from jacnet_cli.run.records import History, Step, weights
from jacnet_cli.run.schedules import Schedule

Loss = Callable[[Tensor, Tensor], Tensor]
Sampler = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]


def norm_loss(pred: Tensor, target: Tensor) -> Tensor:
    """The paper's loss: mean over points of ‖y - ŷ‖ (|y - ŷ| in 1-D). (N, d_y) x2 -> ()."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def mse_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over points and coordinates. (N, d_y) x2 -> ()."""
    return ((pred - target) ** 2).mean()


def bce_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy of logits ŷ against 0/1 labels, mean over points and outputs:
    the model's output is a logit and its probability is sigmoid(ŷ). (N, d_y) x2 -> ()."""
    if not bool(((target == 0) | (target == 1)).all()):
        raise ValueError("loss=bce needs 0/1 labels; a batch holds other values")
    return torch.nn.functional.binary_cross_entropy_with_logits(pred, target)


LOSSES: dict[str, Loss] = {"norm": norm_loss, "mse": mse_loss, "bce": bce_loss}


#: a loss this many times its start fails the run like a non-finite one; the start is the
#: first step's loss or, if larger, the loss of predicting zero (a floor for data a model
#: happens to fit almost exactly at initialisation)
GROWTH = 1e6
VALIDATION_CHUNK = 65536  # rows per validation chunk


class Diverged(RuntimeError):
    """Training produced a non-finite loss or parameter, or a loss GROWTH times its start;
    the model holds the last good state."""

    def __init__(self, iteration: int, what: str):
        super().__init__(f"{what} at iteration {iteration}")
        self.iteration = iteration


def _restore(params: list[Tensor], flat: Tensor) -> None:
    with torch.no_grad():
        at = 0
        for p in params:
            p.copy_(flat[at:at + p.numel()].view_as(p))
            at += p.numel()


class Batches:
    """Where each step's batch comes from: the full set, shuffled epochs, or fresh samples.

    Args:
        x, y: (N, d_x), (N, d_y) the training set.
        batch_size: rows per step; None: the full set every step (the paper's).
        seed: seeds the shuffling (or sampling) generator.
        sampler: draws a fresh batch (n, generator) -> (x, y) every step instead of reading
            (x, y); an epoch is then N rows' worth of steps.
        transform: applied to each batch (x, y) -> (x, y) (e.g. standardisation into the
            model's units), so the training set is kept once, in the data's units.

    `state_dict(step)` taken between steps (or during one) replays the same batches from
    `step` on after `load_state_dict`.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int | None = None, seed: int = 0,
                 sampler: Sampler | None = None,
                 transform: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None):
        self.x, self.y = x, y
        self.sampler = sampler
        self.transform = transform
        self.full = batch_size is None and sampler is None
        if sampler is not None and batch_size is None:
            raise ValueError("batch_size=None is not allowed with fresh samples; set batch_size")
        size = x.shape[0] if batch_size is None else int(batch_size)
        self.batch_size = size if sampler is not None else min(size, x.shape[0])
        self.per_epoch = max(1, math.ceil(x.shape[0] / self.batch_size))
        self.generator = torch.Generator().manual_seed(int(seed))
        self._order: Tensor | None = None
        self._mark = self.generator.get_state()  # state before the last draw
        self._drawn = -1  # the step whose batch was drawn last

    def get(self, iteration: int) -> tuple[Tensor, Tensor]:
        """The batch of a step, (B, d_x), (B, d_y)."""
        x, y = self._get(iteration)
        return (x, y) if self.transform is None else self.transform(x, y)

    def _get(self, iteration: int) -> tuple[Tensor, Tensor]:
        if self.full:
            return self.x, self.y
        if self.sampler is not None:
            self._mark, self._drawn = self.generator.get_state(), iteration
            x, y = self.sampler(self.batch_size, self.generator)
            return x.to(self.x), y.to(self.y)
        pos = iteration % self.per_epoch
        if pos == 0 or self._order is None:
            self._mark, self._drawn = self.generator.get_state(), iteration
            self._order = torch.randperm(self.x.shape[0], generator=self.generator)
        idx = self._order[pos * self.batch_size:(pos + 1) * self.batch_size].to(self.x.device)
        return self.x[idx], self.y[idx]

    def state_dict(self, step: int) -> dict[str, Any]:
        """The generator state from which step `step` (the next to run) draws its batch."""
        if self.full:
            return {}
        if self.sampler is not None:
            redo = self._drawn == step
        else:
            redo = step % self.per_epoch != 0 or self._drawn == step
        return {"generator": (self._mark if redo else self.generator.get_state()).clone()}

    def load_state_dict(self, state: dict[str, Any], step: int) -> None:
        """Restore so that step `step` draws what it would have drawn."""
        if self.full:
            return
        self.generator.set_state(state["generator"])
        self._order, self._drawn = None, -1
        if self.sampler is None and step % self.per_epoch != 0:
            self._mark = self.generator.get_state()
            self._order = torch.randperm(self.x.shape[0], generator=self.generator)


@torch.no_grad()
def _flat(params: list[Tensor]) -> Tensor:
    """All parameters as one new vector (one cat instead of a clone and a check per tensor)."""
    return torch.cat([p.reshape(-1) for p in params])


class Trainer:
    """The training loop with everything `jacnet train resume=` needs to continue it.

    Args:
        model: a JacNet or MLPRegressor.
        optimizer: built over model.parameters().
        batches: where batches come from.
        iterations: total steps (an epoch is `batches.per_epoch` steps).
        schedule: solver tolerance schedule; None leaves the solver as it is.
        loss: (pred, target) -> scalar.
        validation: (x_val, y_val), evaluated with `loss` at the end of every epoch (after
            `batches.transform`), or a callable model -> validation loss (e.g. over a
            streamed split).
        patience: stop after this many epochs without a better validation loss (None: never).
        restore_best: end with the best validation weights (when validating).
        callback: called with each Step.
        penalty: an extra term added to the loss, (model, batch x) -> scalar (e.g. a curl
            penalty); the Step's loss is the data loss alone.
        lr_decay: multiply the learning rate by this after every `decay_wait` epochs without
            a better validation loss (None: never).
        decay_wait: epochs without improvement between two decays.
        lr_shape: the learning rate of step i is the optimiser's starting rate times
            lr_shape(i) (e.g. a warm-up and a cosine decay, `run.schedules.lr_shape`); None
            keeps the rate (apart from `lr_decay`).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, batches: Batches,
                 iterations: int, schedule: Schedule | None = None, loss: Loss = norm_loss,
                 validation: tuple[Tensor, Tensor] | Callable[[nn.Module], float] | None = None,
                 patience: int | None = None, restore_best: bool = True,
                 callback: Callable[[Step], None] | None = None,
                 penalty: Callable[[nn.Module, Tensor], Tensor] | None = None,
                 lr_decay: float | None = None, decay_wait: int | None = None,
                 lr_shape: Callable[[int], float] | None = None):
        self.penalty = penalty
        self.lr_shape = lr_shape
        self.base_lr = [float(g["lr"]) for g in optimizer.param_groups]
        self.lr_decay, self.decay_wait = lr_decay, decay_wait
        self.model, self.optimizer, self.batches = model, optimizer, batches
        self.iterations, self.schedule, self.loss = iterations, schedule, loss
        self.validation, self.patience, self.restore_best = validation, patience, restore_best
        self.callback = callback
        self.solver = model.solver
        self.step = 0  # completed iterations
        self.best_val = math.inf
        self.best_step: int | None = None
        self.best_weights: dict[str, Tensor] | None = None
        self.waited = 0  # epochs since the best validation loss
        self.stopped_early = False
        self.last_weights: dict[str, Tensor] | None = None  # set once the best are restored
        self.start_loss: float | None = None  # the first step's loss (GROWTH x it fails)
        self._good: Tensor | None = None  # the weights before the last step

    @property
    def done(self) -> bool:
        return self.step >= self.iterations or self.stopped_early

    def run(self) -> History:
        """Train until `iterations` steps are done or patience runs out."""
        history = History()
        self.model.train()
        params = [p for p in self.model.parameters()]
        while not self.done:
            it = self.step
            start = time.perf_counter()
            if self.schedule is not None and self.solver is not None:
                self.solver.set_tolerance(self.schedule.tolerance)
            tol = self.solver.tolerance if self.solver is not None else None
            xb, yb = self.batches.get(it)
            closing = getattr(self.optimizer, "needs_closure", False)  # L-BFGS
            shaped = getattr(self.optimizer, "schedule", "auto") != "constant"
            if self.lr_shape is not None and shaped and not closing:  # (a line search sets
                # its own steps)
                factor = self.lr_shape(it)
                for group, base in zip(self.optimizer.param_groups, self.base_lr):
                    group["lr"] = base * factor
            self.optimizer.zero_grad(set_to_none=True)
            value = self.loss(self.model(xb), yb)
            nfe_f = self.solver.nfe_forward if self.solver is not None else 0
            if not torch.isfinite(value):
                raise Diverged(it, "non-finite loss")
            current = float(value.detach())
            if self.start_loss is None:
                with torch.no_grad():
                    self.start_loss = max(current, float(self.loss(torch.zeros_like(yb), yb)))
            elif self.start_loss > 0 and current > GROWTH * self.start_loss:
                if self._good is not None:  # the weights of the last step with a sane loss
                    _restore(params, self._good)
                raise Diverged(it, f"exploding loss ({current:.3g}, over {GROWTH:g} × its "
                                   f"start {self.start_loss:.3g})")
            total = value if self.penalty is None else value + self.penalty(self.model, xb)
            total.backward()
            before = _flat(params)  # one copy of every weight, to undo a non-finite step
            with deferred():
                if closing:
                    self.optimizer.step(self._closure(xb, yb), float(total.detach()))
                else:
                    self.optimizer.step()
                if not bool(torch.isfinite(_flat(params)).all()):
                    _restore(params, before)
                    raise Diverged(it, "non-finite parameter")
                self._good = before
                nfe_b = self.solver.nfe_backward if self.solver is not None else 0
                step = Step(it, current, tol, nfe_f, nfe_b,
                            time.perf_counter() - start, epoch=it // self.batches.per_epoch)
                if self.schedule is not None:
                    self.schedule.update(step.loss)
                self.step = it + 1
                if self.validation is not None and self.step % self.batches.per_epoch == 0:
                    step.val_loss = self._validate()
                history.steps.append(step)
                if self.callback is not None:
                    self.callback(step)
        self.model.eval()
        if self.restore_best and self.best_weights is not None:
            self.last_weights = weights(self.model)
            self.model.load_state_dict(self.best_weights)
        history.stopped_early = self.stopped_early
        history.best_iteration, history.best_val_loss = self.best_step, (
            self.best_val if self.best_step is not None else None)
        return history

    def _closure(self, xb: Tensor, yb: Tensor) -> Callable[[], float]:
        """The loss (with the penalty) at the weights as they stand, gradients computed:
        what a line search evaluates."""
        def closure() -> float:
            self.optimizer.zero_grad(set_to_none=True)
            with torch.enable_grad():
                value = self.loss(self.model(xb), yb)
                total = value if self.penalty is None else value + self.penalty(self.model, xb)
                total.backward()
            return float(total.detach())
        return closure

    @torch.no_grad()
    def _validate(self) -> float:
        self.model.eval()
        if callable(self.validation):
            value = float(self.validation(self.model))
        else:  # without gradients, in chunks (no graph over the whole split), mean over rows
            x, y = self.validation
            total = 0.0
            for xs, ys in zip(x.split(VALIDATION_CHUNK), y.split(VALIDATION_CHUNK)):
                if self.batches.transform is not None:
                    xs, ys = self.batches.transform(xs, ys)
                total += float(self.loss(predict(self.model, xs), ys)) * xs.shape[0]
            value = total / max(1, x.shape[0])
        self.model.train()
        if value < self.best_val:
            self.best_val, self.best_step, self.waited = value, self.step - 1, 0
            if self.restore_best:
                self.best_weights = {k: v.detach().clone()
                                     for k, v in self.model.state_dict().items()}
        else:
            self.waited += 1
            if self.patience is not None and self.waited >= self.patience:
                self.stopped_early = True
            elif self.lr_decay and self.decay_wait and self.waited % self.decay_wait == 0:
                for group in self.optimizer.param_groups:  # a plateau: smaller steps
                    group["lr"] *= self.lr_decay
        return value

    def state_dict(self) -> dict[str, Any]:
        """Everything the loop needs to continue exactly (plain containers and tensors)."""
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict() if self.schedule is not None else {},
            "batches": self.batches.state_dict(self.step),
            "rng": torch.get_rng_state(),
            "best_val": self.best_val, "best_step": self.best_step, "waited": self.waited,
            "stopped_early": self.stopped_early, "start_loss": self.start_loss,
            "best": self.best_weights, "base_lr": self.base_lr,
            "last": self.last_weights if self.last_weights is not None else weights(self.model),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["last"])
        self.last_weights = None
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None and state.get("schedule"):
            self.schedule.load_state_dict(state["schedule"])
        self.step = int(state["step"])
        self.batches.load_state_dict(state["batches"], self.step)
        torch.set_rng_state(state["rng"])
        self.best_val, self.best_step = float(state["best_val"]), state["best_step"]
        self.waited, self.stopped_early = int(state["waited"]), bool(state["stopped_early"])
        self.best_weights = state.get("best")
        self.start_loss = state.get("start_loss")
        self.base_lr = list(state.get("base_lr", self.base_lr))


def fit(model: nn.Module, x: Tensor, y: Tensor, optimizer: torch.optim.Optimizer,
        iterations: int = 50, schedule: Schedule | None = None, loss: Loss = norm_loss,
        callback: Callable[[Step], None] | None = None, batch_size: int | None = None,
        seed: int = 0, validation: tuple[Tensor, Tensor] | None = None,
        patience: int | None = None, restore_best: bool = True) -> History:
    """Train `model` on (x, y).

    Args:
        model: a JacNet or MLPRegressor.
        x: (N, d_x) inputs; y: (N, d_y) targets.
        optimizer: built over model.parameters() (paper: Adam, lr 0.01).
        iterations: number of steps (paper: 50 full-batch steps).
        schedule: solver tolerance schedule; None leaves the solver as it is.
        loss: (pred, target) -> scalar.
        callback: called with each Step (progress bars, CSV rows).
        batch_size: rows per step (None: full batch, the paper's); shuffled per epoch.
        seed: seeds the shuffling.
        validation: (x_val, y_val) evaluated at the end of each epoch.
        patience: early stopping, in epochs without improvement (None: never).
        restore_best: end with the best validation weights.

    Returns:
        the History of steps taken.

    Raises:
        Diverged: a non-finite loss or parameter (the model keeps its last finite weights).
    """
    batches = Batches(x, y, batch_size, seed)
    trainer = Trainer(model, optimizer, batches, iterations, schedule, loss, validation,
                      patience, restore_best, callback)
    return trainer.run()
