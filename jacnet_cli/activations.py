"""Structures: what gives the learned Jacobian its property, and so the function its guarantee.

Two kinds:

- Output activations (`none`, `pd`, `lipschitz`, `cauchy_riemann`): a plain MLP predicts raw
  numbers and the structure maps them (N, raw_dim) to Jacobians (N, d_y, d_x) (paper section
  4.2). ŷ is the numerical line integral of J. In 1-D the guarantee carries over to ŷ; in n-D J
  need not be a conservative field (paper section 4.5), so the guarantee holds for J only and is
  measured on ŷ.
- Potential structures (`gradient`, `monotone`): the structure owns its Jacobian network, a
  gradient network whose J is a Hessian in closed form and whose antiderivative is the network
  itself (`gradnets`). ŷ is evaluated exactly (`solver=exact`), and its Jacobian is J, so the
  guarantee holds for ŷ in every dimension.

Each structure states its guarantee (`guarantee`), says where it holds by construction
(`by_construction`), and measures it on given Jacobians (`check`). Invertible structures also
solve J v = b without forming J^{-1} (`solve`).

Config group: ``conf/activation/<name>.yaml`` builds one of the classes below.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from jacnet_cli.gradnets import NETWORKS, NONLINEARITIES
from jacnet_cli.network import MLP


class Structure:
    """Base class: a parameter-free map raw -> J with a stated, measurable guarantee.

    Subclasses set `name`, `guarantee`, `invertible`, and implement `raw_dim` and `__call__`
    (output activations) or `make_network`, `jacobian` and `primitive` (potential structures,
    `exact = True`).
    """

    name: str = "structure"
    guarantee: str = ""
    invertible: bool = False
    exact: bool = False  # has a closed-form antiderivative: ŷ needs no quadrature

    def validate(self, d_x: int, d_y: int) -> None:
        """Raise ValueError when the structure cannot produce a d_y x d_x Jacobian."""

    def by_construction(self, d_x: int, d_y: int) -> bool:
        """Whether the guarantee holds for ŷ itself (not only for J) at these dimensions.

        Output activations: in 1-D, where every field is conservative (up to the integrator's
        error). Potential structures override this: in every dimension.
        """
        return d_x == 1 and d_y == 1

    def raw_dim(self, d_x: int, d_y: int) -> int:
        """Number of raw network outputs needed for one d_y x d_x Jacobian."""
        raise NotImplementedError

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        """Map raw outputs (N, raw_dim) to Jacobians (N, d_y, d_x)."""
        raise NotImplementedError

    def make_network(self, d_x: int, d_y: int, hidden: int, depth: int,
                     activation: str, **options) -> nn.Module:
        """The Jacobian network: by default an MLP with raw_dim outputs (`options`: MLP's)."""
        return MLP(d_x, self.raw_dim(d_x, d_y), hidden, depth, activation, **options)

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        """J_θ(x) = structure(net(x)): x (N, d_x) -> (N, d_y, d_x)."""
        return self(net(x), d_x, d_y)

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        """A closed-form antiderivative P with dP/dx = J (potential structures only)."""
        raise ValueError(f"activation={self.name!r} has no closed-form antiderivative; "
                         "use solver=gauss_legendre or an ODE solver (or solver=auto)")

    def describe_scale(self) -> dict[str, float]:
        """The structure's constants (for logs and metrics)."""
        return {}

    # One scale for all of x and one for all of y (see `units`): structures whose guarantee
    # a per-coordinate scaling would break (symmetry, the Cauchy–Riemann form).
    scalar_units: bool = False

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        """The same structure for a model in standard units, x̃ = x / s_x, ỹ = y / s_y, whose
        guarantee holds for ŷ in the user's units. Default: no constants to change."""
        return self

    def solve(self, jac: Tensor, rhs: Tensor) -> Tensor:
        """Solve J v = rhs for v, batched: jac (N, d, d), rhs (N, d) -> (N, d)."""
        raise ValueError(
            f"activation={self.name!r} does not guarantee an invertible Jacobian; "
            "use activation=pd or activation=cauchy_riemann (min_modulus > 0) to invert"
        )

    def check(self, jac: Tensor) -> dict[str, float]:
        """Measure this structure's guarantee on Jacobians (N, d_y, d_x); keys prefixed `net_`."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if k not in ("guarantee", "invertible"))
        return f"{type(self).__name__}({args})"


def _square(name: str, d_x: int, d_y: int) -> None:
    if d_x != d_y:
        raise ValueError(f"activation={name} needs d_x == d_y, got d_x={d_x}, d_y={d_y}")


def _positive(key: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{key}={value!r} is not allowed; it must be a finite number > 0")
    return float(value)


class Unconstrained(Structure):
    """J is the raw output reshaped: no guarantee (the paper's comparison)."""

    name = "none"
    guarantee = "none: the Jacobian is unconstrained"

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_y

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        return raw.reshape(raw.shape[0], d_y, d_x)  # (N, d_y, d_x)


class PositiveDefinite(Structure):
    """J = A Aᵀ + εI (paper section 4.2): symmetric with every eigenvalue >= ε, so invertible.

    Args:
        eps: the eigenvalue floor ε > 0 (paper: 1e-4).
    """

    name = "pd"
    invertible = True

    def __init__(self, eps: float = 1e-4):
        self.eps = _positive("activation.eps", eps)
        self.guarantee = f"invertible: J = A Aᵀ + εI has eigenvalues >= ε = {self.eps:g}"

    def validate(self, d_x: int, d_y: int) -> None:
        _square(self.name, d_x, d_y)

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_x

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        a = raw.reshape(raw.shape[0], d_x, d_x)  # (N, d, d)
        eye = torch.eye(d_x, dtype=raw.dtype, device=raw.device)
        return a @ a.transpose(-1, -2) + self.eps * eye  # (N, d, d)

    def solve(self, jac: Tensor, rhs: Tensor) -> Tensor:
        return spd_solve(jac, rhs)

    def check(self, jac: Tensor) -> dict[str, float]:
        sym = 0.5 * (jac + jac.transpose(-1, -2))
        return {"net_min_eig": float(torch.linalg.eigvalsh(sym).min())}

    def describe_scale(self) -> dict[str, float]:
        return {"eps": self.eps}

    scalar_units = True

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        # D = (s_y/s_x) J: eigenvalues >= ε in user units need ε s_x/s_y for J.
        return PositiveDefinite(self.eps * float(x_scale[0] / y_scale[0]))


class Lipschitz(Structure):
    """J = k · tanh(σ(A)) / σ(A) · A, so the operator 2-norm of J is < k: f is k-Lipschitz.

    σ(A) is the spectral norm of the raw matrix A (`norm="spectral"`, exact operator-norm ball)
    or its Frobenius norm (`norm="frobenius"`, cheaper, a smaller ball since ‖·‖₂ <= ‖·‖_F).
    In 1-D both reduce to the paper's k·tanh(a). A per-entry tanh would not be enough in n-D:
    k·tanh entries allow ‖J‖₂ up to k·sqrt(d_x d_y).

    Args:
        k: the Lipschitz constant, > 0.
        norm: "spectral" or "frobenius".
    """

    name = "lipschitz"

    def __init__(self, k: float = 1.0, norm: str = "spectral"):
        self.k = _positive("activation.k", k)
        if norm not in ("spectral", "frobenius"):
            raise ValueError(
                f"activation.norm={norm!r} is not allowed; choose 'spectral' or 'frobenius'"
            )
        self.norm = norm
        self.guarantee = f"{self.k:g}-Lipschitz: operator norm of J < k = {self.k:g}"

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_y

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        a = raw.reshape(raw.shape[0], d_y, d_x)  # (N, d_y, d_x)
        if d_x == 1 or d_y == 1:
            # A vector: spectral == Frobenius == Euclidean norm.
            s = torch.linalg.vector_norm(a, dim=(-2, -1))  # (N,)
        elif self.norm == "spectral":
            s = torch.linalg.matrix_norm(a, ord=2)  # (N,)
        else:
            s = torch.linalg.matrix_norm(a, ord="fro")  # (N,)
        return self.k * _tanhc(s)[:, None, None] * a  # (N, d_y, d_x)

    def check(self, jac: Tensor) -> dict[str, float]:
        return {"net_lipschitz_max": float(torch.linalg.matrix_norm(jac, ord=2).max())}

    def describe_scale(self) -> dict[str, float]:
        return {"k": self.k}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        # ‖diag(s_y) J diag(1/s_x)‖ <= max(s_y) ‖J‖ / min(s_x).
        return Lipschitz(self.k * float(x_scale.min() / y_scale.max()), self.norm)


def spd_solve(jac: Tensor, rhs: Tensor) -> Tensor:
    """Solve J v = rhs for symmetric positive definite J by Cholesky: (N, d, d), (N, d) -> (N, d)."""
    if jac.shape[-1] == 1:
        return rhs / jac[..., 0]  # (N, 1)
    chol = torch.linalg.cholesky(jac)  # (N, d, d), lower
    return torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)  # (N, d)


def _tanhc(s: Tensor) -> Tensor:
    """tanh(s)/s, smooth at s = 0 (value 1) for s >= 0."""
    small = s < 1e-4
    safe = torch.where(small, torch.ones_like(s), s)
    # tanh(s)/s = 1 - s²/3 + O(s⁴) near zero.
    return torch.where(small, 1 - s * s / 3, torch.tanh(safe) / safe)


class CauchyRiemann(Structure):
    """J = [[a, -b], [b, a]] for R² -> R²: the Jacobian of a complex-differentiable map.

    With `min_modulus` = m > 0 the complex derivative w = a + ib is kept at |w| >= m through
    w = (m + |u|) u / |u| for the raw u (smooth away from u = 0, where it points along +1),
    so det J = |w|² >= m² > 0 and J is invertible.

    Args:
        min_modulus: m >= 0; 0 leaves the derivative free (not invertible).
    """

    name = "cauchy_riemann"

    def __init__(self, min_modulus: float = 0.0):
        if not (isinstance(min_modulus, (int, float)) and math.isfinite(min_modulus)
                and min_modulus >= 0):
            raise ValueError(
                f"activation.min_modulus={min_modulus!r} is not allowed; it must be a number >= 0"
            )
        self.min_modulus = float(min_modulus)
        self.invertible = self.min_modulus > 0
        self.guarantee = "complex differentiable: J = [[a, -b], [b, a]]" + (
            f"; invertible: |a + ib| >= {self.min_modulus:g}" if self.invertible else ""
        )

    def validate(self, d_x: int, d_y: int) -> None:
        if (d_x, d_y) != (2, 2):
            raise ValueError(
                f"activation=cauchy_riemann needs a map R² -> R², got d_x={d_x}, d_y={d_y}"
            )

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return 2

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        a, b = raw[:, 0], raw[:, 1]  # (N,), (N,)
        if self.invertible:
            r = torch.sqrt(a * a + b * b + 1e-30)  # (N,)
            scale = (self.min_modulus + r) / r
            tiny = r < 1e-12
            a = torch.where(tiny, torch.full_like(a, self.min_modulus), a * scale)
            b = torch.where(tiny, torch.zeros_like(b), b * scale)
        row0 = torch.stack([a, -b], dim=-1)  # (N, 2)
        row1 = torch.stack([b, a], dim=-1)  # (N, 2)
        return torch.stack([row0, row1], dim=-2)  # (N, 2, 2)

    def solve(self, jac: Tensor, rhs: Tensor) -> Tensor:
        if not self.invertible:
            return super().solve(jac, rhs)
        # J v = rhs is w · v = rhs as complex numbers: v = conj(w) rhs / |w|².
        a, b = jac[:, 0, 0], jac[:, 1, 0]  # (N,)
        det = a * a + b * b  # (N,)
        v0 = (a * rhs[:, 0] + b * rhs[:, 1]) / det
        v1 = (a * rhs[:, 1] - b * rhs[:, 0]) / det
        return torch.stack([v0, v1], dim=-1)  # (N, 2)

    def check(self, jac: Tensor) -> dict[str, float]:
        out = {"net_cr_residual_max": float(cr_residual(jac).max())}
        if self.invertible:
            out["net_min_modulus"] = float(torch.sqrt(jac[:, 0, 0] ** 2 + jac[:, 1, 0] ** 2).min())
        return out

    scalar_units = True

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        return CauchyRiemann(self.min_modulus * float(x_scale[0] / y_scale[0]))

    def describe_scale(self) -> dict[str, float]:
        return {"min_modulus": self.min_modulus}


def cr_residual(jac: Tensor) -> Tensor:
    """Cauchy–Riemann residual max(|J11 - J22|, |J12 + J21|) per point: (N, 2, 2) -> (N,)."""
    return torch.maximum(
        (jac[:, 0, 0] - jac[:, 1, 1]).abs(), (jac[:, 0, 1] + jac[:, 1, 0]).abs()
    )


def asymmetry(jac: Tensor) -> Tensor:
    """‖J - Jᵀ‖_F / ‖J‖_F per point (0 where J = 0): (N, d, d) -> (N,)."""
    num = torch.linalg.matrix_norm(jac - jac.transpose(-1, -2))
    den = torch.linalg.matrix_norm(jac)
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)),
                       torch.zeros_like(num))


class _Potential(Structure):
    """A structure that owns a gradient network (`gradnets`) and integrates it exactly."""

    exact = True
    monotone = False
    scalar_units = True  # D = (s_y/s_x) J stays symmetric only with scalar scales

    def __init__(self, network: str = "cascade", layers: int = 4, nonlinearity: str = "tanh"):
        if network not in NETWORKS:
            raise ValueError(f"activation.network={network!r} is not allowed; choose one of: "
                             + ", ".join(NETWORKS))
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ValueError(f"activation.layers={layers!r} is not allowed; it must be an "
                             "integer >= 1")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"activation.nonlinearity={nonlinearity!r} is not allowed; choose "
                             "one of: " + ", ".join(NONLINEARITIES))
        self.network = network
        self.layers = layers
        self.nonlinearity = nonlinearity

    def validate(self, d_x: int, d_y: int) -> None:
        _square(self.name, d_x, d_y)

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return True

    def make_network(self, d_x: int, d_y: int, hidden: int, depth: int,
                     activation: str, **options) -> nn.Module:
        if self.network == "cascade":
            return NETWORKS["cascade"](d_x, hidden, self.layers, self.monotone, self.nonlinearity)
        return NETWORKS["modular"](d_x, hidden, self.layers, self.monotone)

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        return net.jacobian(x)  # (N, d, d)

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        return net(x)  # (N, d)

    def jvp(self, net: nn.Module, x: Tensor, v: Tensor) -> Tensor:
        """J(x) v without forming J: (N, d), (N, d) -> (N, d)."""
        return net.jvp(x, v)

    def check(self, jac: Tensor) -> dict[str, float]:
        return {"net_asym_max": float(asymmetry(jac).max())}


class Gradient(_Potential):
    """J = ∇²φ for a learned potential φ: symmetric everywhere, so ŷ = ∇φ (+ a constant).

    No sign constraint: ŷ is a conservative field (a gradient map) in any dimension, by
    construction, for the function as evaluated with solver=exact. Its network is a GradNet
    (`network=cascade`: GradNet-C, sums of ridge functions; `modular`: GradNet-M).

    Args:
        network: "cascade" or "modular".
        layers: cascade depth, or number of modules.
        nonlinearity: the cascade's σ (tanh, sigmoid, softplus).
    """

    name = "gradient"
    guarantee = "gradient map: D = dŷ/dx is symmetric everywhere (ŷ = ∇φ)"


class Monotone(_Potential):
    """J = ∇²φ + εI with φ convex: symmetric with eigenvalues >= ε, so ŷ = ∇φ + εx.

    ŷ is then ε-strongly monotone, (ŷ(a) - ŷ(b))ᵀ(a - b) >= ε‖a - b‖², hence a bijection of
    R^d whose inverse is (1/ε)-Lipschitz, in any dimension, by construction, for the function
    as evaluated with solver=exact. With `max_eig` = k the eigenvalues lie in [ε, k] and ŷ is
    also k-Lipschitz: the network's part is scaled by min(1, (k - ε) / B(θ)), B(θ) a bound on
    its ‖J‖₂ over all x computed from the weights, so the bound holds for every input.

    Args:
        eps: the eigenvalue floor ε > 0.
        max_eig: the eigenvalue ceiling k > ε, or None (no upper bound).
        network: "cascade" (mGradNet-C) or "modular" (mGradNet-M).
        layers: cascade depth, or number of modules.
        nonlinearity: the cascade's σ, increasing (tanh, sigmoid, softplus).
    """

    name = "monotone"
    invertible = True
    monotone = True

    def __init__(self, eps: float = 1e-4, max_eig: float | None = None,
                 network: str = "cascade", layers: int = 4, nonlinearity: str = "tanh"):
        super().__init__(network, layers, nonlinearity)
        self.eps = _positive("activation.eps", eps)
        if max_eig is not None:
            max_eig = _positive("activation.max_eig", max_eig)
            if max_eig <= self.eps:
                raise ValueError(f"activation.max_eig={max_eig!r} is not allowed; it must be "
                                 f"> activation.eps = {self.eps:g}")
        self.max_eig = max_eig
        self.guarantee = (f"ε-strongly monotone gradient map: D = dŷ/dx symmetric with "
                          f"eigenvalues >= ε = {self.eps:g}"
                          + (f" and <= k = {max_eig:g} (k-Lipschitz)" if max_eig else "")
                          + "; invertible")

    def _scale(self, net: nn.Module) -> Tensor | float:
        if self.max_eig is None:
            return 1.0
        room = self.max_eig - self.eps
        return room / torch.clamp(net.bound(), min=room)  # min(1, room / B(θ))

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        eye = torch.eye(d_x, dtype=x.dtype, device=x.device)
        return self.eps * eye + self._scale(net) * net.jacobian(x)  # (N, d, d)

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        return self.eps * x + self._scale(net) * net(x)  # (N, d)

    def jvp(self, net: nn.Module, x: Tensor, v: Tensor) -> Tensor:
        return self.eps * v + self._scale(net) * net.jvp(x, v)

    def solve(self, jac: Tensor, rhs: Tensor) -> Tensor:
        return spd_solve(jac, rhs)

    def check(self, jac: Tensor) -> dict[str, float]:
        eig = torch.linalg.eigvalsh(0.5 * (jac + jac.transpose(-1, -2)))  # (N, d)
        out = {"net_min_eig": float(eig[:, 0].min()), "net_asym_max": float(asymmetry(jac).max())}
        if self.max_eig is not None:
            out["net_max_eig"] = float(eig[:, -1].max())
        return out

    def describe_scale(self) -> dict[str, float]:
        return {"eps": self.eps, **({"max_eig": self.max_eig} if self.max_eig else {})}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        r = float(x_scale[0] / y_scale[0])
        return Monotone(self.eps * r, None if self.max_eig is None else self.max_eig * r,
                        self.network, self.layers, self.nonlinearity)


class MonotoneIn(Structure):
    """f: R^d -> R monotone in chosen inputs, free in the others (scalar regression).

    ∂ŷ/∂x_i >= ε (inputs) or <= -ε (decreasing) for the chosen i, by construction, for the
    function as evaluated, in any dimension: the structure owns a partially monotone network
    (`partial`) whose partials in those inputs are sums of products of non-negative factors,
    evaluated in closed form (solver=exact). With exactly one monotone input and ε > 0, ŷ is
    invertible in that input given the others.

    Args:
        inputs: the non-decreasing inputs, as column names or 0-based indices.
        decreasing: the non-increasing inputs, likewise.
        eps: the floor ε >= 0 of each signed partial (ε > 0: strictly monotone).
    """

    name = "monotone_in"
    exact = True

    def __init__(self, inputs: list[str | int] | str | int = (),
                 decreasing: list[str | int] | str | int = (), eps: float = 0.0):
        as_list = lambda v: [v] if isinstance(v, (str, int)) else list(v)  # noqa: E731
        self.inputs, self.decreasing = as_list(inputs), as_list(decreasing)
        if not self.inputs and not self.decreasing:
            raise ValueError("activation.inputs=[] is not allowed with activation.decreasing=[]; "
                             "name at least one monotone input, e.g. activation.inputs=[x1]")
        if not (isinstance(eps, (int, float)) and not isinstance(eps, bool)
                and math.isfinite(eps) and eps >= 0):
            raise ValueError(f"activation.eps={eps!r} is not allowed; it must be a number >= 0")
        self.eps = float(eps)
        self.indices: list[int] | None = None
        self.signs: list[float] = []
        self.guarantee = "monotone in " + ", ".join(
            [f"{v} (non-decreasing)" for v in self.inputs]
            + [f"{v} (non-increasing)" for v in self.decreasing]) + \
            (f"; |∂ŷ/∂x_i| >= {self.eps:g}" if self.eps else "")

    def bind(self, names: list[str]) -> None:
        """Resolve the chosen inputs against the data's column names."""
        indices, signs = [], []
        for sign, chosen in ((1.0, self.inputs), (-1.0, self.decreasing)):
            for item in chosen:
                if isinstance(item, int) and not isinstance(item, bool):
                    if not 0 <= item < len(names):
                        raise ValueError(f"activation.inputs: index {item} is out of range; the "
                                         f"inputs are 0..{len(names) - 1} ({', '.join(names)})")
                    index = item
                elif item in names:
                    index = names.index(item)
                else:
                    raise ValueError(f"activation.inputs: {item!r} is not an input; the inputs "
                                     f"are: {', '.join(names)}")
                if index in indices:
                    raise ValueError(f"activation.inputs: {names[index]!r} is named twice")
                indices.append(index)
                signs.append(sign)
        self.indices, self.signs = indices, signs
        self.names = [names[i] for i in indices]

    @property
    def invertible_input(self) -> int | None:
        """The input ŷ can be inverted in (exactly one strictly monotone input), or None."""
        return self.indices[0] if self.indices and len(self.indices) == 1 and self.eps > 0 \
            else None

    def validate(self, d_x: int, d_y: int) -> None:
        if d_y != 1:
            raise ValueError(f"activation=monotone_in needs one output (scalar regression), "
                             f"got d_y={d_y}")
        if self.indices is None:
            self.bind([f"x{i + 1}" for i in range(d_x)] if d_x > 1 else ["x"])

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return True

    def make_network(self, d_x: int, d_y: int, hidden: int, depth: int,
                     activation: str, **options) -> nn.Module:
        from jacnet_cli.partial import PartialMonotone

        return PartialMonotone(d_x, self.indices, self.signs, hidden, depth, self.eps)

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        return net.gradient(x)  # (N, 1, d)

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        return net(x)  # (N, 1)

    def check(self, jac: Tensor) -> dict[str, float]:
        signs = torch.tensor(self.signs, dtype=jac.dtype, device=jac.device)
        return {"net_partial_min": float((jac[:, 0, self.indices] * signs).min())}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        # s_i ∂ŷ/∂x_i = (s_y / s_x_i) ∂f/∂x̃_i: a floor ε in user units needs max_i ε s_x_i / s_y.
        new = MonotoneIn(self.inputs, self.decreasing,
                         self.eps * float(x_scale[self.indices].max() / y_scale[0]))
        new.indices, new.signs, new.names = self.indices, self.signs, self.names
        return new

    def describe_scale(self) -> dict[str, float]:
        return {"eps": self.eps}


STRUCTURES: dict[str, type[Structure]] = {
    "none": Unconstrained,
    "pd": PositiveDefinite,
    "lipschitz": Lipschitz,
    "cauchy_riemann": CauchyRiemann,
    "gradient": Gradient,
    "monotone": Monotone,
    "monotone_in": MonotoneIn,
}
