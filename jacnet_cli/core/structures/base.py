"""The structure protocol: a guarantee, the Jacobian network that keeps it, and its inverse.

A structure is three small roles, each a few declared members:

- **the guarantee** (required): `describe`, `bounds`, `by_construction`, `rescaled`; optional
  `measure`, `check`, `constants`, `report`, `region`/`local_keys`, `penalty`, and
  `direction` (one line when the data's direction disagrees with the structure's, naming
  the option that fits: a falling curve given `pd`);
- **the Jacobian network** (required), one of two kinds:
  `OutputForm`, the paper's: an MLP's raw outputs shaped into J (`raw_dim`, `form`), ŷ a
  quadrature of J; or `Owned`: a network whose ŷ and D = dŷ/dx are exact (`make_network`);
- **the inverse** (declared, off by default): `invertible`, `solve_linear`, `inverse_method`,
  `invert_primitive`, `inverse_input`.

A concrete subclass must implement every abstract member, or its class statement fails
(`TypeError` at import). `Family` is an option whose construction depends on the dimensions
(the paper's form in 1-D, an owned exact network in n-D): `at(d_x, d_y)` picks the structure.
An option class with a `name` registers itself in `STRUCTURES` (`activation=<name>`); every
concrete structure class is also in `FORMS`, so the shared guarantee test can see that none
went untested.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

#: `activation=<name>` -> the option's class (a Structure or a Family)
STRUCTURES: dict[str, type] = {}
#: every concrete Structure class (the forms families choose among too)
FORMS: list[type["Structure"]] = []


class Bound(NamedTuple):
    """A guarantee key's bound: `measured op value`, checked with a slack for rounding.

    Attributes:
        op: ">=" (a floor: the key is a minimum over points), "<=" (a ceiling: a maximum) or
            ">" (strictly above, no slack).
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


@dataclass(frozen=True)
class NetworkOptions:
    """The `model.*` keys a Jacobian network may read (conf/model/jacnet.yaml)."""

    hidden: int
    depth: int
    nonlinearity: str
    bias_scale: float
    output_init: str
    output_bias: float


MLP_KEYS = frozenset(NetworkOptions.__dataclass_fields__)

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


# ----------------------------------------------------------------------- registration


def _abstract_members(cls: type) -> list[str]:
    return sorted(name for name in dir(cls)
                  if getattr(getattr(cls, name, None), "__isabstractmethod__", False))


class _Registered:
    """Registers option classes by `name`; a concrete class must implement every abstract
    member at its class statement (`abstract=True` marks the protocol's own bases)."""

    name: ClassVar[str] = ""

    def __init_subclass__(cls, abstract: bool = False, option: bool = True, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        missing = _abstract_members(cls)
        if missing:
            raise TypeError(f"structure {cls.__qualname__} does not implement "
                            f"{', '.join(missing)} (the structure protocol: core/structures/"
                            "base.py, CONTRIBUTING.md)")
        if option and cls.__dict__.get("name"):
            STRUCTURES[cls.name] = cls
        if issubclass(cls, Structure):
            FORMS.append(cls)


# ----------------------------------------------------------------------- the protocol


class Structure(_Registered, ABC, abstract=True):
    """A structure with a stated, measurable guarantee (see the module docstring).

    Declared attributes (class or instance): `guarantee` (text), `invertible`,
    `invertible_if` (the option that would make it invertible), `scalar_units` (one scale
    for all of x and one for all of y), `shape_rule` (what `accepts` needs, in words),
    `local_keys` (keys stated on `region` only), `needs_points` (it learns from the training
    points when a model is built), `jacobian_by_autograd` (J is an autograd gradient, which
    torch.func cannot transform), `model_keys` (the `model.*` keys its network reads),
    `option_keys` (the `activation.*` keys of its option that it reads, where a `Family`'s
    forms differ; None: all of them).
    """

    guarantee: str = ""
    invertible: bool = False
    invertible_if: ClassVar[str | None] = None
    scalar_units: ClassVar[bool] = False
    shape_rule: ClassVar[str] = "cannot take these dimensions"
    local_keys: ClassVar[tuple[str, ...]] = ()
    needs_points: bool = False
    jacobian_by_autograd: ClassVar[bool] = False
    model_keys: ClassVar[frozenset[str]] = MLP_KEYS
    option_keys: ClassVar[frozenset[str] | None] = None
    #: the option (a `Family`) that chose this structure, which a saved model names
    option: Any = None
    #: where the guarantee is measured only: the setting that would hold it by construction
    remedy: str = ""

    # -- dimensions ------------------------------------------------------------------

    def at(self, d_x: int, d_y: int) -> "Structure":
        """The structure a d_x -> d_y model uses (a `Family` picks one; others are it)."""
        return self

    def accepts(self, d_x: int, d_y: int) -> bool:
        """Whether the structure can produce a d_y x d_x Jacobian."""
        return True

    def check_dims(self, d_x: int, d_y: int) -> None:
        """Raise ValueError (one line, naming the structures that fit) unless `accepts`."""
        check_dims(self, d_x, d_y)

    def bind(self, names: list[str]) -> None:
        """Learn the data's input names (structures that refer to inputs by name)."""

    # -- the guarantee ---------------------------------------------------------------

    @abstractmethod
    def describe(self, d_x: int, d_y: int) -> str:
        """The guarantee, in words, at these dimensions (metrics.json's `guarantee`)."""

    @abstractmethod
    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        """The guarantee keys (measured on D = dŷ/dx) and their bounds."""

    @abstractmethod
    def by_construction(self, d_x: int, d_y: int) -> bool:
        """Whether the guarantee holds for ŷ itself (not only for the network's J)."""

    @abstractmethod
    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        """The same structure for a model in standard units, x̃ = x / s_x, ỹ = y / s_y, whose
        guarantee holds for ŷ in the user's units (every option kept)."""

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

    # -- the network -----------------------------------------------------------------

    @abstractmethod
    def make_network(self, d_x: int, d_y: int, options: NetworkOptions) -> nn.Module:
        """The Jacobian network (it reads only `model_keys` of `options`)."""

    @abstractmethod
    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        """J_θ(x): (N, d_x) -> (N, d_y, d_x)."""

    @abstractmethod
    def exact(self, d_x: int, d_y: int) -> bool:
        """Whether ŷ has a closed form (`primitive`): no quadrature needed."""

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        """A closed-form antiderivative P with dP/dx = J: (N, d_x) -> (N, d_y)."""
        raise ValueError(f"activation={self.name!r} has no closed-form antiderivative here; "
                         "use solver=gauss_legendre or an ODE solver (or solver=auto)")

    def jvp(self, net: nn.Module, x: Tensor, v: Tensor) -> Tensor | None:
        """J(x) v without forming J, (N, d_x), (N, d_x) -> (N, d_y), where the structure can;
        None: form J (`jacobian`) and multiply."""
        return None

    def log_det(self, net: nn.Module, x: Tensor) -> Tensor | None:
        """log |det J| in closed form, (N, d) -> (N,), or None (no closed form)."""
        return None

    def start_at_slope(self, net: nn.Module, slope: float) -> None:
        """Start a 1-D J network constant at J = slope (model.output_init=data), if it can."""

    def fit_data(self, net: nn.Module, x: Tensor, y: Tensor) -> None:
        """Adapt a new network to the training pairs (model units) before training
        (`needs_points`)."""

    def resolved(self, net: nn.Module) -> dict[str, Any]:
        """Config values the data decided for this network (`fit_data`), to save with the
        run (the structure itself is not changed: one structure can build many models)."""
        return {}

    # -- the inverse -----------------------------------------------------------------

    def solve_linear(self, jac: Tensor, rhs: Tensor) -> Tensor:
        """Solve J v = rhs for v (a Newton step), batched: (N, d, d), (N, d) -> (N, d)."""
        raise ValueError(self.why_not_invertible())

    def inverse_method(self, d: int) -> str:
        """The method `method=auto` inverts with (see `core.inverse.METHODS`)."""
        return "table" if d == 1 else "newton"

    def invert_primitive(self, net: nn.Module, p: Tensor) -> tuple[Tensor, Tensor]:
        """x with primitive(x) = p, and a converged mask (structures with a direct inverse)."""
        raise ValueError(f"activation={self.name!r} has no direct inverse; use method=newton")

    #: how ŷ is inverted: "map" (x from y, a map of R^d) or "input" (one input of a scalar ŷ
    #: from y, the others given: `inverse_input`)
    inverse_kind: ClassVar[str] = "map"

    @property
    def inverse_input(self) -> tuple[int, float] | None:
        """For `inverse_kind` "input": the input ŷ is inverted in and the sign of its slope
        (None where this configuration cannot be inverted)."""
        return None

    def why_not_invertible(self) -> str:
        """Why this structure, as configured, gives no inverse."""
        return (f"activation={self.name!r} does not guarantee an invertible function; "
                f"{invertible_hint()}")

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


class OutputForm(Structure, abstract=True):
    """The paper's form (section 4.2): an MLP predicts raw numbers and `form` maps them to J;
    ŷ is the numerical line integral of J. In 1-D every field is conservative, so the
    guarantee carries over to ŷ (up to the solver's error); in n-D it holds for J only
    and is measured on ŷ (paper section 4.5)."""

    model_keys = MLP_KEYS

    @abstractmethod
    def raw_dim(self, d_x: int, d_y: int) -> int:
        """Number of raw network outputs per Jacobian."""

    @abstractmethod
    def form(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        """Raw outputs (N, raw_dim) -> Jacobians (N, d_y, d_x)."""

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return d_x == 1 and d_y == 1

    def make_network(self, d_x: int, d_y: int, options: NetworkOptions) -> nn.Module:
        from jacnet_cli.core.nets.mlp import MLP

        o = options
        return MLP(d_x, self.raw_dim(d_x, d_y), o.hidden, o.depth, o.nonlinearity,
                   o.bias_scale, o.output_init, o.output_bias)

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        return self.form(net(x), d_x, d_y)  # (N, d_y, d_x)

    def exact(self, d_x: int, d_y: int) -> bool:
        return False

    def start_at_slope(self, net: nn.Module, slope: float) -> None:
        from jacnet_cli.core.nets.mlp import raw_for_slope

        net.start_constant(raw_for_slope(lambda r: self.form(r, 1, 1), slope))


class Owned(Structure, abstract=True):
    """A structure that owns its network: the network computes ŷ - y0 up to a constant in
    closed form, `net(x)`, and its Jacobian D = dŷ/dx, `net.jacobian(x)`. Nothing is
    integrated, and the guarantee holds for ŷ as evaluated by construction, in every
    dimension it accepts. `model_keys` says which `model.*` keys its network reads."""

    model_keys = frozenset({"hidden"})

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return True

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        return net.jacobian(x)  # (N, d_y, d_x)

    def exact(self, d_x: int, d_y: int) -> bool:
        return True

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        return net(x)  # (N, d_y)


class Family(_Registered, ABC, abstract=True):
    """An option whose construction depends on the dimensions: `at(d_x, d_y)` returns the
    structure a d_x -> d_y model uses (e.g. the paper's output form in 1-D, an owned exact
    network in n-D). It states nothing itself; the structure it picks does."""

    scalar_units: ClassVar[bool] = False
    shape_rule: ClassVar[str] = "cannot take these dimensions"
    invertible: ClassVar[bool] = False
    invertible_if: ClassVar[str | None] = None

    @abstractmethod
    def at(self, d_x: int, d_y: int) -> Structure:
        """The structure for these dimensions."""

    def accepts(self, d_x: int, d_y: int) -> bool:
        return True

    def check_dims(self, d_x: int, d_y: int) -> None:
        check_dims(self, d_x, d_y)

    def bind(self, names: list[str]) -> None:
        """Families refer to no input by name."""

    def __repr__(self) -> str:
        from jacnet_cli.core.specs import arguments

        args = ", ".join(f"{k}={v!r}" for k, v in arguments(self).items())
        return f"{type(self).__name__}({args})"


# ----------------------------------------------------------------------- helpers


def check_dims(option: Structure | Family, d_x: int, d_y: int) -> None:
    """Raise ValueError (one line, naming the structures that fit) unless the option accepts
    the dimensions."""
    if not option.accepts(d_x, d_y):
        raise ValueError(f"activation={option.name} {option.shape_rule}, got d_x={d_x}, "
                         f"d_y={d_y}; {fitting(d_x, d_y)}")


def fitting(d_x: int, d_y: int) -> str:
    """'use one of: ...' naming the registered structures that take these dimensions."""
    names = [name for name, cls in STRUCTURES.items() if cls.accepts(_bare(cls), d_x, d_y)]
    return "use one of: " + ", ".join(names) if names else "no structure takes these dimensions"


def _bare(cls: type) -> Any:
    """An instance for class-level questions (`accepts` depends on no argument)."""
    return cls.__new__(cls)


def invertible_hint() -> str:
    """Which structures to train to get an inverse (from the registry)."""
    names = [name if cls.invertible else f"{name} ({cls.invertible_if})"
             for name, cls in STRUCTURES.items() if cls.invertible or cls.invertible_if]
    return "invert a run trained with one of: " + ", ".join(names)


def square(d_x: int, d_y: int) -> bool:
    return d_x == d_y


def tanhc(s: Tensor) -> Tensor:
    """tanh(s)/s, smooth at s = 0 (value 1) for s >= 0."""
    small = s < 1e-4
    safe = torch.where(small, torch.ones_like(s), s)
    # tanh(s)/s = 1 - s²/3 + O(s⁴) near zero.
    return torch.where(small, 1 - s * s / 3, torch.tanh(safe) / safe)


# ----------------------------------------------------------------------- direction checks


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


def increasing_direction(name: str, x: Tensor, y: Tensor, names: list[str]) -> str | None:
    """`direction` of a structure that only increases (pd, monotone) on a 1-input file."""
    fit = linear_fit(x, y) if x.shape[1] == y.shape[1] == 1 else None
    if fit is not None and fit.clear(sign=-1.0):
        return falling_hint(names, float(fit.slope[0, 0]), name)
    return None


def steeper_than(k: float, x: Tensor, y: Tensor, names: list[str]) -> str | None:
    """`direction` of a k-Lipschitz structure: the data's least-squares slope (its operator
    norm) clearly steeper than k (1-D: by three standard errors; n-D: by 10 %)."""
    fit = linear_fit(x, y)
    if fit is None:
        return None
    steep = float(torch.linalg.matrix_norm(fit.slope, ord=2))
    if fit.slope.numel() == 1:
        se = abs(float(fit.slope[0, 0] / fit.t[0, 0])) if math.isfinite(fit.t[0, 0]) else 0.0
        clear = steep - k >= 3 * se
    else:
        clear = steep > 1.1 * k
    if not (clear and steep > k):
        return None
    suggest = float(f"{1.25 * steep:.2g}")
    where = f"in {names[0]}" if fit.slope.numel() == 1 else "(its largest singular value)"
    return (f"the data's least-squares slope is {steep:.3g} {where}, steeper than "
            f"activation.k={k:g}: a {k:g}-Lipschitz ŷ cannot follow it; raise activation.k, "
            f"e.g. activation.k={suggest:g}")
