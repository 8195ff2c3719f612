"""Optimisers as config objects: each checks its own values, then builds the optimiser over
a model's parameters (`optimizer(params)`). Config group: ``conf/optim/<name>.yaml``.

The updates are jacnet's own, written with torch's multi-tensor (`_foreach_`) operations:
the same formulas as torch.optim's Adam, AdamW and SGD (to rounding), without constructing a
torch.optim.Optimizer, whose first use imports torch._dynamo (1.2-1.5 s on this machine,
more than the paper's whole training run). Each has `param_groups` (with `lr`), `zero_grad`,
`step`, `state_dict` and `load_state_dict`, so schedulers and checkpoints treat them alike.

A network may give a parameter an attribute `lr_scale` (a float): Adam and SGD then move it
by lr x lr_scale (the invertible network slows itself down in many dimensions, where the
fitting plan's peak rate made it diverge).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch
from torch import Tensor

from jacnet_cli.core import checks


SCHEDULES = ("auto", "constant")


class Optimizer:
    """Base class of the configs: a learning rate and options; `build` makes the optimiser.

    `schedule`: "auto" lets the run's plan shape the rate (a warm-up and a cosine decay for
    a file or an n-D target, `run.plan`; constant for a 1-D target, the paper's); "constant"
    keeps optim.lr at every step.
    """

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0, schedule: str = "auto"):
        self.lr = checks.positive("optim.lr", lr)
        self.weight_decay = checks.nonnegative("optim.weight_decay", weight_decay)
        self.schedule = checks.one_of("optim.schedule", schedule, SCHEDULES)

    def options(self) -> dict[str, Any]:
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def build(self, params: Iterable[torch.nn.Parameter]) -> "Update":
        raise NotImplementedError

    def __call__(self, params: Iterable[torch.nn.Parameter]) -> "Update":
        update = self.build(params)
        update.schedule = self.schedule
        return update

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options().items())})"


class Update:
    """An optimiser over one group of parameters (the torch.optim interface jacnet uses)."""

    schedule = "auto"  # "constant": the run's plan leaves the rate alone

    def __init__(self, params: Iterable[torch.nn.Parameter], **options: Any):
        self.params = [p for p in params if p.requires_grad]
        self.param_groups = [{"params": self.params, **options}]
        self.state: dict[int, dict[str, Any]] = {}

    @property
    def group(self) -> dict[str, Any]:
        return self.param_groups[0]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def _with_grads(self) -> tuple[list[int], list[Tensor], list[Tensor]]:
        index = [i for i, p in enumerate(self.params) if p.grad is not None]
        return index, [self.params[i] for i in index], [self.params[i].grad for i in index]

    def state_dict(self) -> dict[str, Any]:
        group = {k: v for k, v in self.group.items() if k != "params"}
        return {"state": {i: dict(s) for i, s in self.state.items()},
                "param_groups": [{**group, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = dict(state["param_groups"][0])
        saved.pop("params", None)
        self.group.update(saved)
        self.state = {int(i): {k: (v.to(self.params[int(i)]) if isinstance(v, Tensor)
                                   and v.is_floating_point() else v) for k, v in s.items()}
                      for i, s in state["state"].items()}


class AdamUpdate(Update):
    """Adam (Kingma & Ba), with L2 weight decay (Adam) or decoupled decay (AdamW)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float],
                 eps: float, weight_decay: float, decoupled: bool):
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                         decoupled=decoupled)

    @torch.no_grad()
    def step(self) -> None:
        group = self.group
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        decay = group["weight_decay"]
        index, params, grads = self._with_grads()
        if not params:
            return
        for i, p in zip(index, params):
            if i not in self.state:
                self.state[i] = {"step": 0, "exp_avg": torch.zeros_like(p),
                                 "exp_avg_sq": torch.zeros_like(p)}
        states = [self.state[i] for i in index]
        for s in states:
            s["step"] += 1
        if decay and group["decoupled"]:
            torch._foreach_mul_(params, 1 - lr * decay)
        elif decay:
            grads = torch._foreach_add(grads, params, alpha=decay)
        avg = [s["exp_avg"] for s in states]
        sq = [s["exp_avg_sq"] for s in states]
        torch._foreach_lerp_(avg, grads, 1 - beta1)
        torch._foreach_mul_(sq, beta2)
        torch._foreach_addcmul_(sq, grads, grads, value=1 - beta2)
        step = states[0]["step"]  # one group: every parameter has stepped as often
        correction1 = 1 - beta1 ** step
        correction2 = math.sqrt(1 - beta2 ** step)
        denom = torch._foreach_sqrt(sq)
        torch._foreach_div_(denom, correction2)
        torch._foreach_add_(denom, eps)
        scales = [getattr(p, "lr_scale", 1.0) for p in params]
        if all(c == 1.0 for c in scales):
            torch._foreach_addcdiv_(params, avg, denom, value=-lr / correction1)
        else:  # a network asked some of its parameters to move slower (`lr_scale`)
            torch._foreach_addcdiv_(params, avg, denom, [-lr * c / correction1 for c in scales])


class SGDUpdate(Update):
    """Stochastic gradient descent with (heavy-ball) momentum and L2 weight decay."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, momentum: float,
                 weight_decay: float):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)

    @torch.no_grad()
    def step(self) -> None:
        group = self.group
        index, params, grads = self._with_grads()
        if not params:
            return
        if group["weight_decay"]:
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
        if group["momentum"]:
            bufs = []
            for i, g in zip(index, grads):
                state = self.state.setdefault(i, {})
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = g.detach().clone()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(g)
                bufs.append(state["momentum_buffer"])
            grads = bufs
        scales = [getattr(p, "lr_scale", 1.0) for p in params]
        if any(c != 1.0 for c in scales):
            grads = torch._foreach_mul(grads, scales)
        torch._foreach_add_(params, grads, alpha=-group["lr"])


class Adam(Optimizer):
    """Adam (the paper's: lr 0.01, other parameters at defaults).

    Args:
        lr: learning rate.
        betas: the moment decay rates, each in (0, 1).
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient.
        schedule: "auto" (the run's plan shapes the rate) or "constant".
    """

    decoupled = False

    def __init__(self, lr: float = 0.01, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, schedule: str = "auto"):
        super().__init__(lr, weight_decay, schedule)
        if len(betas) != 2:
            raise checks.refuse("optim.betas", list(betas), "it must be [beta1, beta2]")
        self.betas = tuple(float(checks.number("optim.betas", b, 0, 1, closed=False))
                           for b in betas)
        self.eps = checks.positive("optim.eps", eps)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "betas": self.betas, "eps": self.eps}

    def build(self, params: Iterable[torch.nn.Parameter]) -> Update:
        return AdamUpdate(params, self.lr, self.betas, self.eps, self.weight_decay,
                          self.decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay (the parameters shrink by lr x weight_decay a step)."""

    decoupled = True


class SGD(Optimizer):
    """Stochastic gradient descent with momentum.

    Args:
        lr: learning rate.
        momentum: momentum factor in [0, 1].
        weight_decay: L2 penalty added to the gradient.
        schedule: "auto" (the run's plan shapes the rate) or "constant".
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0,
                 schedule: str = "auto"):
        super().__init__(lr, weight_decay, schedule)
        self.momentum = checks.number("optim.momentum", momentum, 0, 1)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "momentum": self.momentum}

    def build(self, params: Iterable[torch.nn.Parameter]) -> Update:
        return SGDUpdate(params, self.lr, self.momentum, self.weight_decay)


class LBFGSUpdate(Update):
    """Limited-memory BFGS, one iteration a step, on the full batch: the two-loop recursion
    over the last `history` pairs (s, y), then a backtracking (Armijo) line search along
    the direction, starting from the step `lr` (1 is the quasi-Newton step).

    `step(closure, loss)` needs the gradient at the current weights (the training loop has
    just computed it) and a closure that evaluates the loss at the weights as they stand,
    with gradients; it leaves the weights at the accepted point. A direction that does not
    descend (rounding, a kink) clears the history and falls back to the gradient.
    """

    needs_closure = True
    ARMIJO = 1e-4
    HALVINGS = 25

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, history: int):
        super().__init__(params, lr=lr, history=history)

    def _flat_grad(self) -> Tensor:
        return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                          for p in self.params])

    @torch.no_grad()
    def _set(self, flat: Tensor) -> None:
        at = 0
        for p in self.params:
            p.copy_(flat[at:at + p.numel()].view_as(p))
            at += p.numel()

    def step(self, closure: Any = None, loss: float | None = None) -> None:  # type: ignore[override]
        if closure is None:
            raise ValueError("optim=lbfgs needs the training loop's closure")
        state = self.state.setdefault(0, {"s": [], "y": [], "x": None, "g": None, "step": 0})
        with torch.no_grad():
            x = torch.cat([p.detach().reshape(-1) for p in self.params])
            g = self._flat_grad()
        f0 = float(closure()) if loss is None else float(loss)
        if state["x"] is not None:
            s, y = x - state["x"], g - state["g"]
            if float(s @ y) > 1e-10 * float(y @ y):
                state["s"].append(s)
                state["y"].append(y)
                if len(state["s"]) > int(self.group["history"]):
                    state["s"].pop(0)
                    state["y"].pop(0)
        d = self._direction(g, state)
        slope = float(g @ d)
        if not slope < 0:  # not a descent direction: start over from the gradient
            state["s"], state["y"] = [], []
            d, slope = -g, -float(g @ g)
        t = float(self.group["lr"])
        if not state["s"]:  # the first step (or a restart): at most a unit move
            t = min(t, 1.0 / max(float(g.abs().sum()), 1e-12)) if state["step"] == 0 else t
        accepted = False
        for _ in range(self.HALVINGS):
            self._set(x + t * d)
            f = float(closure())
            if math.isfinite(f) and f <= f0 + self.ARMIJO * t * slope:
                accepted = True
                break
            t *= 0.5
        if not accepted:  # no decrease found: stay, and forget the curvature pairs
            self._set(x)
            state["s"], state["y"] = [], []
        state["x"], state["g"] = x, g
        state["step"] += 1

    @staticmethod
    def _direction(g: Tensor, state: dict[str, Any]) -> Tensor:
        """-H g by the two-loop recursion, H₀ = (sᵀy / yᵀy) I from the newest pair."""
        q = g.clone()
        alphas = []
        for s, y in zip(reversed(state["s"]), reversed(state["y"])):
            rho = 1.0 / float(y @ s)
            a = rho * float(s @ q)
            q.add_(y, alpha=-a)
            alphas.append((a, rho, s, y))
        if state["s"]:
            s, y = state["s"][-1], state["y"][-1]
            q.mul_(float(s @ y) / float(y @ y))
        for a, rho, s, y in reversed(alphas):
            b = rho * float(y @ q)
            q.add_(s, alpha=a - b)
        return -q

    def state_dict(self) -> dict[str, Any]:
        group = {k: v for k, v in self.group.items() if k != "params"}
        return {"state": {i: {k: (list(v) if isinstance(v, list) else v) for k, v in s.items()}
                          for i, s in self.state.items()},
                "param_groups": [{**group, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = dict(state["param_groups"][0])
        saved.pop("params", None)
        self.group.update(saved)
        ref = self.params[0] if self.params else None

        def move(v: Any) -> Any:
            if isinstance(v, Tensor) and ref is not None:
                return v.to(ref)
            if isinstance(v, list):
                return [move(t) for t in v]
            return v

        self.state = {int(i): {k: move(v) for k, v in s.items()}
                      for i, s in state["state"].items()}


class LBFGS(Optimizer):
    """Limited-memory BFGS on the full batch (set batch_size=null): one iteration a step,
    a backtracking line search from the quasi-Newton step. For small networks on small,
    clean data it converges in a few hundred steps where Adam needs tens of thousands (the
    GradNets 2-D rows of `make reproduce`: jacnet_cli/reproduce/gradnets.py).

    Args:
        lr: the first step tried by each line search (1: the quasi-Newton step).
        history: curvature pairs kept, >= 1.
    """

    def __init__(self, lr: float = 1.0, history: int = 20):
        super().__init__(lr, 0.0)
        self.history = checks.integer("optim.history", history, 1)

    def options(self) -> dict[str, Any]:
        return {"lr": self.lr, "history": self.history}

    def build(self, params: Iterable[torch.nn.Parameter]) -> Update:
        return LBFGSUpdate(params, self.lr, self.history)
