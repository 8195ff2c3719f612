"""The paper's output activations (section 4.2): an MLP predicts raw numbers and the
structure maps them (N, raw_dim) to Jacobians (N, d_y, d_x); ŷ is the numerical line
integral of J.

In 1-D every field is conservative, so the guarantee carries over to ŷ (up to the
integrator's error). In n-D an MLP's J need not be conservative (paper section 4.5): the
guarantee then holds for J only and is measured on ŷ. The structures that keep it in n-D
own a conservative network instead (`potential`, and the n-D forms of `pd`, `lipschitz`
and `cauchy_riemann`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks
from jacnet_cli.core.structures.base import (Bound, Structure, asymmetry, cr_residual,
                                             operator_norm, spd_solve, tanhc)


class Unconstrained(Structure):
    """J is the raw output reshaped: no guarantee (the paper's comparison)."""

    name = "none"
    guarantee = "none: the Jacobian is unconstrained"

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return False

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_y

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        return raw.reshape(raw.shape[0], d_y, d_x)  # (N, d_y, d_x)


class PositiveDefinite(Structure):
    """J = A Aᵀ + εI (paper section 4.2): symmetric with every eigenvalue >= ε, so invertible.

    In 1-D the paper's form is the whole story (every 1-D field is conservative). In n-D an
    MLP's A Aᵀ + εI need not be the Jacobian of anything: the integrated ŷ's D = dŷ/dx is then
    neither symmetric nor positive definite (paper section 4.5). With `conservative=True` (the
    default) an n-D model therefore owns a convex-potential network instead, J = ∇²φ + εI
    with φ convex (`monotone`'s mGradNet-C), evaluated exactly: D is symmetric with
    eigenvalues >= ε for every x and every weight, and ŷ is ε-strongly monotone, so a
    bijection of R^d. `conservative=False` keeps the paper's MLP form in n-D, measured only.

    Args:
        eps: the eigenvalue floor ε > 0 (paper: 1e-4).
        conservative: in n-D, own the convex-potential network (guaranteed) rather than the
            paper's MLP form (measured only). No effect in 1-D.
    """

    name = "pd"
    invertible = True
    scalar_units = True
    shape_rule = "needs d_x == d_y"

    def __init__(self, eps: float = 1e-4, conservative: bool = True):
        self.eps = checks.positive("activation.eps", eps)
        self.conservative = checks.boolean("activation.conservative", conservative)
        self.guarantee = f"invertible: J = A Aᵀ + εI has eigenvalues >= ε = {self.eps:g}"

    def owns(self, d_x: int, d_y: int = 0) -> bool:
        """Whether a d_x-dimensional model owns the convex-potential network."""
        return self.conservative and d_x > 1

    def _potential(self) -> Structure:
        from jacnet_cli.core.structures.potential import Monotone

        return Monotone(self.eps)

    def describe(self, d_x: int, d_y: int) -> str:
        if self.owns(d_x):
            return (f"invertible: D = ∇²φ + εI symmetric with eigenvalues >= ε = {self.eps:g} "
                    "(φ convex; ŷ ε-strongly monotone)")
        return self.guarantee

    def accepts(self, d_x: int, d_y: int) -> bool:
        return d_x == d_y

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return d_x == 1 or self.owns(d_x)

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        if self.owns(d_x):
            return self._potential().bounds(d_x, d_y)
        return {"jacobian_min_eig": Bound(">=", self.eps, label="ε")}

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_x

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        a = raw.reshape(raw.shape[0], d_x, d_x)  # (N, d, d)
        eye = torch.eye(d_x, dtype=raw.dtype, device=raw.device)
        return a @ a.transpose(-1, -2) + self.eps * eye  # (N, d, d)

    def make_network(self, d_x: int, d_y: int, hidden: int, depth: int, nonlinearity: str,
                     **options: Any) -> nn.Module:
        if self.owns(d_x):
            return self._potential().make_network(d_x, d_y, hidden, depth, nonlinearity)
        return super().make_network(d_x, d_y, hidden, depth, nonlinearity, **options)

    def start_at_slope(self, net: nn.Module, slope: float) -> None:
        if not _owned(net):
            super().start_at_slope(net, slope)

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        if self.owns(d_x):
            return self._potential().jacobian(net, x, d_x, d_y)
        return super().jacobian(net, x, d_x, d_y)

    def exact(self, d_x: int, d_y: int) -> bool:
        return self.owns(d_x)

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        if _owned(net):
            return self._potential().primitive(net, x)
        return super().primitive(net, x)

    def jvp(self, net: nn.Module, x: Tensor, v: Tensor) -> Tensor | None:
        return self._potential().jvp(net, x, v) if _owned(net) else None

    def solve(self, jac: Tensor, rhs: Tensor) -> Tensor:
        return spd_solve(jac, rhs)

    def check(self, jac: Tensor) -> dict[str, float]:
        sym = 0.5 * (jac + jac.transpose(-1, -2))
        out = {"net_min_eig": float(torch.linalg.eigvalsh(sym).min())}
        if jac.shape[-1] > 1 and self.conservative:
            out["net_asym_max"] = float(asymmetry(jac).max())
        return out

    def constants(self) -> dict[str, float]:
        return {"eps": self.eps}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        # D = (s_y/s_x) J: eigenvalues >= ε in user units need ε s_x/s_y for J.
        return PositiveDefinite(self.eps * float(x_scale[0] / y_scale[0]), self.conservative)


def _owned(net: nn.Module) -> bool:
    """Whether a network is one a structure owns and evaluates exactly (not the paper's MLP)."""
    from jacnet_cli.core.nets.mlp import MLP

    return not isinstance(net, MLP)


class Lipschitz(Structure):
    """ŷ is k-Lipschitz in the Euclidean norms: ‖D(x)‖₂ <= k at every x.

    1-D: the paper's J = k·tanh(a) (|ŷ'| < k, up to the integrator's error).

    n-D (`conservative=True`, the default): a bounded J is not enough, since in n-D an MLP's
    J is not a conservative field and the integrated ŷ's D is neither J nor bounded by k
    (paper section 4.5; measured ‖D‖₂ 1.1-2.9 for k = 1). So the model owns a network that
    is its own exact antiderivative, ŷ = k·W_L σ(... σ(W_0 x + b_0) ...) + b_L with every W_i
    exactly orthogonal (Cayley map) and σ = MaxMin (GroupSort 2, Jacobian a permutation):
    D = k W_L Σ ... Σ W_0 is a product of factors of norm <= 1 (`core.nets.lipschitz`). Why
    this construction rather than the alternatives: a gradient map with a bounded Hessian
    (`monotone` with max_eig) covers square maps only; a JacNet with a conservative,
    norm-bounded J needs a potential whose Hessian norm is bounded, which again is a
    norm-constrained network, plus a quadrature. Orthogonal layers with GroupSort are
    gradient-norm preserving (Anil et al. 2019), so depth costs no gradient, and the
    Cayley map is exact to rounding with no iteration to truncate (deel-torchlip's power
    and Björck iterations are approximate).

    `conservative=False` keeps the paper's form in n-D: J = k tanh(σ(A))/σ(A) A, σ the
    spectral (or Frobenius, `norm`) norm of the raw A; ‖J‖₂ < k, measured only on ŷ.

    Args:
        k: the Lipschitz constant, > 0.
        norm: the paper form's squash, "spectral" or "frobenius".
        conservative: own the Lipschitz network in n-D (guaranteed); no effect in 1-D.
        layers: hidden layers of the owned network (width model.hidden, even).
        nonlinearity: the owned network's σ: maxmin, abs or tanh.
        weights: "orthogonal" (Cayley) or "spectral" (W / max(1, ‖W‖₂), may contract).
        hidden: width of the owned network; None: model.hidden.
    """

    name = "lipschitz"
    # One scale for all of x and one for all of y: with a scale per coordinate the bound in
    # model units, k min(s_x) / max(s_y), is tighter than k for every coordinate but the
    # widest, and a 1-Lipschitz map R⁴ -> R² whose outputs differ in spread (0.33 and 0.25)
    # fitted 12 dB worse (-33.2 against -45.5 dB, benchmarks/price).
    scalar_units = True

    def __init__(self, k: float = 1.0, norm: str = "spectral", conservative: bool = True,
                 layers: int = 2, nonlinearity: str = "maxmin", weights: str = "orthogonal",
                 hidden: int | None = None):
        from jacnet_cli.core.nets.lipschitz import ACTIVATIONS, WEIGHTS

        self.k = checks.positive("activation.k", k)
        self.norm = checks.one_of("activation.norm", norm, ("spectral", "frobenius"))
        self.conservative = checks.boolean("activation.conservative", conservative)
        self.layers = checks.integer("activation.layers", layers, 1)
        self.nonlinearity = checks.one_of("activation.nonlinearity", nonlinearity, ACTIVATIONS)
        self.weights = checks.one_of("activation.weights", weights, WEIGHTS)
        self.hidden = checks.integer("activation.hidden", hidden, 2, optional=True)
        self.guarantee = f"{self.k:g}-Lipschitz: operator norm of J < k = {self.k:g}"

    def owns(self, d_x: int, d_y: int) -> bool:
        return self.conservative and (d_x, d_y) != (1, 1)

    def describe(self, d_x: int, d_y: int) -> str:
        if self.owns(d_x, d_y):
            return (f"{self.k:g}-Lipschitz: ‖dŷ/dx‖₂ <= k = {self.k:g} at every x "
                    "(orthogonal layers, MaxMin)")
        return self.guarantee

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return (d_x, d_y) == (1, 1) or self.owns(d_x, d_y)

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"lipschitz_max": Bound("<=", self.k, label="k", mirror=True)}

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
        return self.k * tanhc(s)[:, None, None] * a  # (N, d_y, d_x)

    def make_network(self, d_x: int, d_y: int, hidden: int, depth: int, nonlinearity: str,
                     **options: Any) -> nn.Module:
        if not self.owns(d_x, d_y):
            return super().make_network(d_x, d_y, hidden, depth, nonlinearity, **options)
        from jacnet_cli.core.nets.lipschitz import LipschitzNet

        width = hidden if self.hidden is None else self.hidden
        return LipschitzNet(d_x, d_y, k=self.k, hidden=width, depth=self.layers,
                            activation=self.nonlinearity, weights=self.weights)

    def start_at_slope(self, net: nn.Module, slope: float) -> None:
        if not _owned(net):
            super().start_at_slope(net, slope)

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        if self.owns(d_x, d_y):
            return net.jacobian(x)  # (N, d_y, d_x), D in closed form
        return super().jacobian(net, x, d_x, d_y)

    def exact(self, d_x: int, d_y: int) -> bool:
        return self.owns(d_x, d_y)

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        return net(x) if _owned(net) else super().primitive(net, x)

    def check(self, jac: Tensor) -> dict[str, float]:
        return {"net_lipschitz_max": float(operator_norm(jac).max())}

    def constants(self) -> dict[str, float]:
        return {"k": self.k}

    def report(self, net: nn.Module, x_scale: Tensor, y_scale: Tensor) -> dict[str, Any]:
        """The bound the weights give, k Π‖W_i‖₂, in the user's units."""
        if not _owned(net):
            return {}
        return {"lipschitz_bound": float(net.lipschitz_bound())
                * float(y_scale.max() / x_scale.min())}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        # ‖diag(s_y) J diag(1/s_x)‖ <= max(s_y) ‖J‖ / min(s_x).
        return Lipschitz(self.k * float(x_scale.min() / y_scale.max()), self.norm,
                         self.conservative, self.layers, self.nonlinearity, self.weights,
                         self.hidden)


class CauchyRiemann(Structure):
    """ŷ: R² -> R² complex differentiable: D = dŷ/dx = [[a, -b], [b, a]] at every point.

    `conservative=True` (the default): the model owns a network g(z) holomorphic in
    z = x_0 + i x_1 that learns the complex derivative f'(z), and ŷ is its integral, in
    closed form for one layer (`core.nets.holomorphic`). Every step is holomorphic in z, so
    ŷ is, and D has the Cauchy–Riemann form exactly (complex arithmetic: residual 0.0),
    whatever the integration error. `min_modulus` = m > 0 uses g = exp(h) (never zero) and
    keeps |g| >= m on the run's guarantee box, certified from the weights by the minimum
    principle (no entire g can keep it on all of C); |ŷ'| >= m then holds up to the
    integrator's error, as for 1-D `pd`, and ŷ is locally invertible (`jacnet invert`).

    `conservative=False`: the paper's form, an MLP whose two outputs make J = [[a, -b],
    [b, a]]; in 2-D that J is not a conservative field, so ŷ is not complex differentiable
    (measured only). With min_modulus m > 0 its w = a + ib is kept at |w| >= m.

    Args:
        min_modulus: m >= 0; m > 0 keeps |f'| >= m (invertible locally).
        conservative: own the holomorphic network (guaranteed) rather than the paper's form.
        units: complex units per layer of the holomorphic network (model.hidden does not
            apply: a complex unit has 6 real parameters).
        layers: its hidden layers (1: ŷ in closed form; more: Gauss–Legendre with `nodes`).
        nodes: Gauss–Legendre nodes where ŷ has no closed form (min_modulus > 0 or layers > 1).
        nonvanishing: g = exp(h), never zero (implied by min_modulus > 0).
        segments: boundary segments per box edge for the min_modulus certificate.
    """

    name = "cauchy_riemann"
    scalar_units = True
    invertible_if = "min_modulus > 0"
    shape_rule = "needs a map R² -> R²"

    def __init__(self, min_modulus: float = 0.0, conservative: bool = True, units: int = 32,
                 layers: int = 1, nodes: int = 8, nonvanishing: bool = False,
                 segments: int = 64):
        self.min_modulus = checks.nonnegative("activation.min_modulus", min_modulus)
        self.conservative = checks.boolean("activation.conservative", conservative)
        self.units = checks.integer("activation.units", units, 1)
        self.layers = checks.integer("activation.layers", layers, 1)
        self.nodes = checks.integer("activation.nodes", nodes, 1)
        self.nonvanishing = checks.boolean("activation.nonvanishing", nonvanishing)
        self.segments = checks.integer("activation.segments", segments, 1)
        self.invertible = self.min_modulus > 0
        # The certificate's box comes from the run's guarantee box when the model is built.
        self.needs_points = self.conservative and self.min_modulus > 0
        self.guarantee = "complex differentiable: J = [[a, -b], [b, a]]" + (
            f"; invertible: |a + ib| >= {self.min_modulus:g}" if self.invertible else "")

    def describe(self, d_x: int, d_y: int) -> str:
        if not self.conservative:
            return self.guarantee
        return ("complex differentiable: ŷ holomorphic in z, D = [[a, -b], [b, a]] at every "
                "point" + (f"; |ŷ'| >= {self.min_modulus:g} on the guarantee box (certified "
                           "for the learned f', up to the integrator's error for ŷ')"
                           if self.invertible else ""))

    def accepts(self, d_x: int, d_y: int) -> bool:
        return (d_x, d_y) == (2, 2)

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return self.conservative

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        out = {"cr_residual_rel_max": Bound("<=", 0.0, absolute=True)}
        if self.invertible:
            out["modulus_min"] = Bound(">=", self.min_modulus, label="m")
        return out

    #: stated on the training data's box (`region`): |f'| >= m cannot hold on all of C, and
    #: |f'| > 0 makes ŷ locally, not globally, invertible
    local_keys = ("modulus_min", "roundtrip_max_err")

    def measure(self, key: str, jac: Tensor) -> Tensor:
        if key == "modulus_min":  # |ŷ'| = sqrt(det D) for D = [[a, -b], [b, a]]
            return torch.sqrt(torch.linalg.det(jac).abs())
        return super().measure(key, jac)

    def reduction(self, key: str) -> str:
        return "min" if key == "modulus_min" else super().reduction(key)

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

    def make_network(self, d_x: int, d_y: int, hidden: int, depth: int, nonlinearity: str,
                     **options: Any) -> nn.Module:
        if not self.conservative:
            return super().make_network(d_x, d_y, hidden, depth, nonlinearity, **options)
        from jacnet_cli.core.nets.holomorphic import HolomorphicNet

        return HolomorphicNet(units=self.units, depth=self.layers, nodes=self.nodes,
                              nonvanishing=self.nonvanishing or self.invertible,
                              min_modulus=self.min_modulus, segments=self.segments)

    def fit_data(self, net: nn.Module, x: Tensor, y: Tensor) -> None:
        """The min_modulus certificate's box: the training inputs' bounding box."""
        if hasattr(net, "set_box") and x.shape[0] > 0:
            net.set_box(x.min(0).values, x.max(0).values)

    def region(self, net: nn.Module) -> tuple[Tensor, Tensor] | None:
        box = getattr(net, "box", None)
        if box is None or bool(torch.isnan(box).any()):
            return None
        return box[[0, 2]], box[[1, 3]]

    def penalty(self, net: nn.Module) -> Tensor | None:
        """While training: the hinge max(0, log(1.05 m) - L), L the certified floor of
        log |g| on the box, so the fit itself clears m (5% to spare) and the evaluation's
        shift (`HolomorphicNet.shift`) stays 0 rather than rescaling the fitted g."""
        if not (self.invertible and _owned(net)) or bool(torch.isnan(net.box).any()):
            return None
        return torch.relu(math.log(1.05 * self.min_modulus) - net.modulus_floor())

    def start_at_slope(self, net: nn.Module, slope: float) -> None:
        if not _owned(net):
            super().start_at_slope(net, slope)

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        if self.conservative:
            return net.derivative(x)  # (N, 2, 2): dŷ/dx exactly
        return super().jacobian(net, x, d_x, d_y)

    def exact(self, d_x: int, d_y: int) -> bool:
        return self.conservative

    def primitive(self, net: nn.Module, x: Tensor) -> Tensor:
        return net(x) if _owned(net) else super().primitive(net, x)

    def solve(self, jac: Tensor, rhs: Tensor) -> Tensor:
        if not self.invertible:
            return super().solve(jac, rhs)
        return complex_solve(jac, rhs)

    def inverse_method(self, d: int) -> str:
        # Invertible near each point, not globally: start Newton from the nearest tabulated
        # value on the data's box (the paper form, with no region, starts from the anchor).
        return "grid" if self.conservative else "newton"

    def check(self, jac: Tensor) -> dict[str, float]:
        out = {"net_cr_residual_max": float(cr_residual(jac).max())}
        if self.invertible:
            out["net_min_modulus"] = float(torch.sqrt(jac[:, 0, 0] ** 2 + jac[:, 1, 0] ** 2).min())
        return out

    def constants(self) -> dict[str, float]:
        return {"min_modulus": self.min_modulus}

    def report(self, net: nn.Module, x_scale: Tensor, y_scale: Tensor) -> dict[str, Any]:
        """The certified min |f'| over the guarantee box, in the user's units."""
        if not (_owned(net) and net.nonvanishing) or bool(torch.isnan(net.box).any()):
            return {}
        return {"min_modulus_certified": net.certified_min_modulus()
                * float(y_scale[0] / x_scale[0])}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        return CauchyRiemann(self.min_modulus * float(x_scale[0] / y_scale[0]),
                             self.conservative, self.units, self.layers, self.nodes,
                             self.nonvanishing, self.segments)


def complex_solve(jac: Tensor, rhs: Tensor) -> Tensor:
    """Solve J v = rhs for J = [[a, -b], [b, a]]: w · v = rhs as complex numbers, so
    v = conj(w) rhs / |w|². (N, 2, 2), (N, 2) -> (N, 2)."""
    a, b = jac[:, 0, 0], jac[:, 1, 0]  # (N,)
    det = a * a + b * b  # (N,)
    v0 = (a * rhs[:, 0] + b * rhs[:, 1]) / det
    v1 = (a * rhs[:, 1] - b * rhs[:, 0]) / det
    return torch.stack([v0, v1], dim=-1)  # (N, 2)
