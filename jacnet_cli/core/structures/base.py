"""The structure protocol: what a structure says and does about its guarantee.

A structure gives the learned Jacobian J a property, and so the function ŷ a guarantee. It
owns everything about that guarantee, and the rest of jacnet only reads what it says:

- `name`, `guarantee` (text), `invertible`;
- `by_construction(d_x, d_y)`: whether the guarantee holds for ŷ as evaluated, not only for
  the network's J (paper section 4.5), at these dimensions;
- `bounds(d_x, d_y)`: the guarantee keys measured on D = dŷ/dx and their bounds, which
  `guarantee_held`, the figures' reference lines, the run summary and `jacnet report` loop
  over; `measure(key, D)` computes a key per point, `check(J)` the same on the network's J;
- `make_network(...)`: its Jacobian network (an MLP with `raw_dim` outputs by default);
- `exact(d_x, d_y)` / `primitive`: ŷ in closed form, or `jacobian` (/ `jvp`) for a quadrature;
- `solve`, `inverse_method`, `invert_primitive`, `inverts_input`: how to invert;
- `rescaled(x_scale, y_scale)`: the same guarantee for a model trained in standard units;
- `direction(x, y, names)`: one line when the data's direction disagrees with the
  structure's (a falling curve given `pd`), naming the option that fits (default: None);
- its constructor checks its own arguments (`core.checks`).

A subclass with a `name` registers itself in `STRUCTURES` when its module is imported; the
package imports every module in `core/structures/`, so adding a structure is its module and
its `conf/activation/<name>.yaml`, nothing else.
"""

from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

STRUCTURES: dict[str, type["Structure"]] = {}


class Bound(NamedTuple):
    """A guarantee key's bound: `measured op value`, checked with a slack for rounding.

    Attributes:
        op: ">=" (a floor: the key is a minimum over points) or "<=" (a ceiling: a maximum).
        value: the bound.
        label: the name of the constant, for reference lines in 1-D plots (e.g. "ε", "k").
        mirror: also draw the line at -value (a bound on |slope|).
        absolute: the slack is absolute (bounds of 0: a residual, an asymmetry), not relative.
    """

    op: str
    value: float
    label: str | None = None
    mirror: bool = False
    absolute: bool = False

    def holds(self, measured: float, slack: float) -> bool:
        room = slack if self.absolute else slack * abs(self.value)
        if self.op == ">=":
            return measured >= self.value - room
        if self.op == ">":
            return measured > self.value
        return measured <= self.value + room

    def describe(self) -> str:
        return f"{self.op} {self.value:g}"


# ----------------------------------------------------------------------- per-point measures


def min_sym_eig(jac: Tensor) -> Tensor:
    """λ_min of the symmetric part of square Jacobians: (N, d, d) -> (N,)."""
    return torch.linalg.eigvalsh(0.5 * (jac + jac.transpose(-1, -2)))[:, 0]


def max_sym_eig(jac: Tensor) -> Tensor:
    """λ_max of the symmetric part of square Jacobians: (N, d, d) -> (N,)."""
    return torch.linalg.eigvalsh(0.5 * (jac + jac.transpose(-1, -2)))[:, -1]


def operator_norm(jac: Tensor) -> Tensor:
    """Spectral norm of each Jacobian, the local Lipschitz constant: (N, d_y, d_x) -> (N,)."""
    return torch.linalg.matrix_norm(jac, ord=2)


def cr_residual(jac: Tensor) -> Tensor:
    """Cauchy–Riemann residual max(|J11 - J22|, |J12 + J21|) per point: (N, 2, 2) -> (N,)."""
    return torch.maximum((jac[:, 0, 0] - jac[:, 1, 1]).abs(), (jac[:, 0, 1] + jac[:, 1, 0]).abs())


def cr_residual_relative(jac: Tensor) -> Tensor:
    """The Cauchy–Riemann residual over ‖J‖_F (0 where J = 0): (N, 2, 2) -> (N,)."""
    den = torch.linalg.matrix_norm(jac)
    return torch.where(den > 0, cr_residual(jac) / torch.where(den > 0, den, 1.0), 0.0)


def asymmetry(jac: Tensor) -> Tensor:
    """‖J - Jᵀ‖_F / ‖J‖_F per point (0 where J = 0): (N, d, d) -> (N,)."""
    num = torch.linalg.matrix_norm(jac - jac.transpose(-1, -2))
    den = torch.linalg.matrix_norm(jac)
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)),
                       torch.zeros_like(num))


def signed_det(jac: Tensor) -> Tensor:
    """det J per point: (N, d, d) -> (N,)."""
    return torch.linalg.det(jac)


#: key -> (per-point measure of D (N, d_y, d_x) -> (N,), how points combine: min or max).
#: Any key can be asked of any model (e.g. `lipschitz_max` of an unconstrained one).
MEASURES: dict[str, tuple[Callable[[Tensor], Tensor], str]] = {
    "jacobian_min_eig": (min_sym_eig, "min"),
    "jacobian_max_eig": (max_sym_eig, "max"),
    "lipschitz_max": (operator_norm, "max"),
    "cr_residual_max": (cr_residual, "max"),
    "cr_residual_rel_max": (cr_residual_relative, "max"),
    "jacobian_asym_max": (asymmetry, "max"),
    "jacobian_det_min": (signed_det, "min"),
}


def spd_solve(jac: Tensor, rhs: Tensor) -> Tensor:
    """Solve J v = rhs for symmetric positive definite J by Cholesky: (N, d, d), (N, d) -> (N, d)."""
    if jac.shape[-1] == 1:
        return rhs / jac[..., 0]  # (N, 1)
    chol = torch.linalg.cholesky(jac)  # (N, d, d), lower
    return torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)  # (N, d)


# ----------------------------------------------------------------------- the protocol


class Structure:
    """Base class: a structure with a stated, measurable guarantee.

    Output activations (the paper's form) implement `raw_dim` and `__call__` (raw network
    outputs (N, raw_dim) -> J (N, d_y, d_x)) and leave the rest to the defaults; structures
    that own their network override `make_network`, `jacobian`, `exact` and `primitive`.
    """

    name: ClassVar[str] = ""
    guarantee: str = ""
    invertible: bool = False
    # One scale for all of x and one for all of y (see `core.units`): structures whose
    # guarantee a per-coordinate scaling would break (symmetry, the Cauchy–Riemann form).
    scalar_units: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            STRUCTURES[cls.name] = cls

    # -- dimensions ------------------------------------------------------------------

    def accepts(self, d_x: int, d_y: int) -> bool:
        """Whether the structure can produce a d_y x d_x Jacobian."""
        return True

    def check_dims(self, d_x: int, d_y: int) -> None:
        """Raise ValueError (one line, naming the structures that fit) unless `accepts`."""
        if not self.accepts(d_x, d_y):
            raise ValueError(f"activation={self.name} {self.shape_rule}, got d_x={d_x}, "
                             f"d_y={d_y}; {fitting(d_x, d_y)}")

    shape_rule: str = "cannot take these dimensions"

    def by_construction(self, d_x: int, d_y: int) -> bool:
        """Whether the guarantee holds for ŷ itself (not only for the network's J).

        Output activations: in 1-D, where every field is conservative (up to the
        integrator's error); structures that own a conservative network: everywhere.
        """
        return d_x == 1 and d_y == 1

    # -- the guarantee ---------------------------------------------------------------

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        """The guarantee keys (measured on D = dŷ/dx) and their bounds."""
        return {}

    def measure(self, key: str, jac: Tensor) -> Tensor:
        """A guarantee key per point on Jacobians (N, d_y, d_x) -> (N,)."""
        return MEASURES[key][0](jac)

    def reduction(self, key: str) -> str:
        """How a key combines over points: "min" or "max"."""
        return MEASURES[key][1]

    def check(self, jac: Tensor) -> dict[str, float]:
        """The structure's guarantee on the network's own J (N, d_y, d_x); keys `net_...`."""
        return {}

    def constants(self) -> dict[str, float]:
        """The structure's constants (for logs and metrics: `constant_<key>`)."""
        return {}

    def describe(self, d_x: int, d_y: int) -> str:
        """The guarantee, in words, at these dimensions (metrics.json's `guarantee`)."""
        return self.guarantee

    #: keys whose bound is stated on a region only (`region`), measured on the guarantee
    #: points inside it and not on the wider box
    local_keys: tuple[str, ...] = ()

    def region(self, net: nn.Module) -> tuple[Tensor, Tensor] | None:
        """The box (lo, hi), (d_x,) each in model units, where `local_keys` are stated."""
        return None

    def penalty(self, net: nn.Module) -> Tensor | None:
        """A term the training loss adds to keep a stated bound slack (None: no term)."""
        return None

    def report(self, net: nn.Module, x_scale: Tensor, y_scale: Tensor) -> dict[str, Any]:
        """What the weights bound, in the user's units (x = s_x x̃, y = s_y ỹ; the scales
        are ones for a model in the data's own units): e.g. `lipschitz_bound`."""
        return {}

    # -- the network and the evaluation of ŷ ------------------------------------------

    def raw_dim(self, d_x: int, d_y: int) -> int:
        """Number of raw network outputs per Jacobian (output activations)."""
        raise NotImplementedError

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        """Map raw outputs (N, raw_dim) to Jacobians (N, d_y, d_x) (output activations)."""
        raise NotImplementedError

    def make_network(self, d_x: int, d_y: int, hidden: int, depth: int, nonlinearity: str,
                **options: Any) -> nn.Module:
        """The Jacobian network: by default an MLP with raw_dim outputs (`options`: MLP's)."""
        from jacnet_cli.core.nets.mlp import MLP

        return MLP(d_x, self.raw_dim(d_x, d_y), hidden, depth, nonlinearity, **options)

    #: the structure learns from the training points when the model is built (`fit_data`)
    needs_points: bool = False

    def fit_data(self, net: nn.Module, x: Tensor, y: Tensor) -> None:
        """Adapt a new network to the training pairs (model units) before training."""

    def resolved(self, net: nn.Module) -> dict[str, Any]:
        """Config values the data decided for this network (`fit_data`), to save with the
        run (the structure itself is not changed: one structure can build many models)."""
        return {}

    def start_at_slope(self, net: nn.Module, slope: float) -> None:
        """Start a 1-D J network constant at J = slope (model.output_init=data), if it can."""
        from jacnet_cli.core.nets.mlp import raw_for_slope

        if hasattr(net, "start_constant"):
            net.start_constant(raw_for_slope(lambda r: self(r, 1, 1), slope))

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        """J_θ(x) = structure(net(x)): x (N, d_x) -> (N, d_y, d_x)."""
        return self(net(x), d_x, d_y)

    def exact(self, d_x: int, d_y: int) -> bool:
        """Whether ŷ has a closed form (`primitive`): no quadrature needed."""
        return False

    def jvp(self, net: nn.Module, x: Tensor, v: Tensor) -> Tensor | None:
        """J(x) v without forming J, (N, d_x), (N, d_x) -> (N, d_y), where the structure can;
        None: form J (`jacobian`) and multiply."""
        return None

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        """A closed-form antiderivative P with dP/dx = J: (N, d_x) -> (N, d_y)."""
        raise ValueError(f"activation={self.name!r} has no closed-form antiderivative here; "
                         "use solver=gauss_legendre or an ODE solver (or solver=auto)")

    # -- the inverse -----------------------------------------------------------------

    def solve(self, jac: Tensor, rhs: Tensor) -> Tensor:
        """Solve J v = rhs for v, batched: jac (N, d, d), rhs (N, d) -> (N, d)."""
        raise ValueError(f"activation={self.name!r} does not guarantee an invertible "
                         f"Jacobian; {invertible_hint()}")

    def inverse_method(self, d: int) -> str:
        """The method `method=auto` inverts with (see `core.inverse.METHODS`)."""
        return "table" if d == 1 else "newton"

    def invert_primitive(self, net: nn.Module, p: Tensor) -> tuple[Tensor, Tensor]:
        """x with primitive(x) = p, and a converged mask (structures with a direct inverse)."""
        raise ValueError(f"activation={self.name!r} has no direct inverse; use method=newton")

    #: a scalar structure inverted in one of its inputs, the others given (not as a map)
    inverts_in_input: bool = False

    @property
    def inverts_input(self) -> int | None:
        """The one input ŷ is inverted in, the others given (None: none can be)."""
        return None

    def why_not_invertible(self) -> str:
        """Why this structure, as configured, gives no inverse."""
        return f"activation={self.name!r} does not guarantee an inverse; {invertible_hint()}"

    # -- units and data ----------------------------------------------------------------

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        """The same structure for a model in standard units, x̃ = x / s_x, ỹ = y / s_y, whose
        guarantee holds for ŷ in the user's units. Default: no constants to change."""
        return self

    def bind(self, names: list[str]) -> None:
        """Learn the data's input names (structures that refer to inputs by name)."""

    def direction(self, x: Tensor, y: Tensor, names: list[str]) -> str | None:
        """One line when the training data's direction disagrees with the structure's (a
        least-squares slope of the other sign, a steeper one than a bound allows), naming
        the option that fits; None when there is nothing to say. x (N, d_x), y (N, d_y) in
        the data's units; `names`: the inputs'. Default: nothing to say."""
        return None

    def __repr__(self) -> str:
        from jacnet_cli.core.specs import arguments

        args = ", ".join(f"{k}={v!r}" for k, v in arguments(self).items())
        return f"{type(self).__name__}({args})"


class LinearFit(NamedTuple):
    """The least-squares fit y ≈ x Aᵀ + b of a structure's `direction` check."""

    slope: Tensor  # A (d_y, d_x)
    t: Tensor  # each slope over its standard error (d_y, d_x); ±inf for an exact fit

    def clear(self, i: int = 0, j: int = 0, sign: float = 1.0, t: float = 3.0) -> bool:
        """Whether slope (i, j) has the sign `sign`, clearly: |t| >= `t` (about 99.7%
        under Gaussian noise)."""
        return bool(sign * self.t[i, j] >= t)


def linear_fit(x: Tensor, y: Tensor) -> LinearFit | None:
    """Least squares of y on x with an intercept, and the slopes' t statistics; None when
    there are too few rows (fewer than d_x + 3) or x is degenerate."""
    x, y = x.detach().double().cpu(), y.detach().double().cpu()
    n, d_x = x.shape
    if n < d_x + 3:
        return None
    design = torch.cat([x - x.mean(0), torch.ones(n, 1, dtype=x.dtype)], 1)  # (N, d_x + 1)
    gram = design.T @ design
    if torch.linalg.matrix_rank(gram) < d_x + 1:
        return None
    coef = torch.linalg.solve(gram, design.T @ y)  # (d_x + 1, d_y)
    resid = y - design @ coef
    var = (resid ** 2).sum(0) / (n - d_x - 1)  # (d_y,)
    se = torch.sqrt(torch.diag(torch.linalg.inv(gram))[:d_x, None] * var[None, :])  # (d_x, d_y)
    slope = coef[:d_x].T  # (d_y, d_x)
    t = torch.where(se.T > 0, slope / torch.where(se.T > 0, se.T, 1.0), slope.sign() * math.inf)
    return LinearFit(slope, t)


def falling_hint(names: list[str], slope: float, structure: str) -> str:
    """The line for a 1-input structure that only increases, fitted to falling data."""
    return (f"the data fall (least-squares slope {slope:.3g} in {names[0]}) but "
            f"activation={structure} fits an increasing function only; for a decreasing one "
            f"use activation=monotone_in activation.decreasing=[{names[0]}]")


def fitting(d_x: int, d_y: int) -> str:
    """'use one of: ...' naming the registered structures that take these dimensions."""
    names = [name for name, cls in STRUCTURES.items() if _default_accepts(cls, d_x, d_y)]
    return "use one of: " + ", ".join(names) if names else "no structure takes these dimensions"


def _default_accepts(cls: type[Structure], d_x: int, d_y: int) -> bool:
    try:
        return cls().accepts(d_x, d_y)
    except (TypeError, ValueError):  # needs arguments (e.g. monotone_in's inputs)
        return cls.accepts(cls.__new__(cls), d_x, d_y)


def invertible_hint() -> str:
    """Which structures to train to get an inverse (from the registry)."""
    names = [name if getattr(cls, "invertible", False) else f"{name} ({cls.invertible_if})"
             for name, cls in STRUCTURES.items()
             if getattr(cls, "invertible", False) or getattr(cls, "invertible_if", None)]
    return "invert a run trained with one of: " + ", ".join(names)


def square(d_x: int, d_y: int) -> bool:
    return d_x == d_y


def tanhc(s: Tensor) -> Tensor:
    """tanh(s)/s, smooth at s = 0 (value 1) for s >= 0."""
    small = s < 1e-4
    safe = torch.where(small, torch.ones_like(s), s)
    # tanh(s)/s = 1 - s²/3 + O(s⁴) near zero.
    return torch.where(small, 1 - s * s / 3, torch.tanh(safe) / safe)


class OwnedExact(Structure):
    """A structure whose owned network computes ŷ itself, in closed form, and its Jacobian
    D = dŷ/dx (`net(x)`, `net.jacobian(x)`): nothing is integrated, and the network starts as
    it is built (no slope to start from)."""

    def start_at_slope(self, net: nn.Module, slope: float) -> None:
        """The owned network starts as it is built."""

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        return net.jacobian(x)  # (N, d_y, d_x)

    def exact(self, d_x: int, d_y: int) -> bool:
        return True

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        return net(x)  # (N, d_y)
