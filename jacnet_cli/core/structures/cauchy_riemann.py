"""`cauchy_riemann`: ŷ: R² -> R² complex differentiable, D = [[a, -b], [b, a]] at every point.

The default owns a network g(z), holomorphic in z = x_0 + i x_1, that learns f'(z); ŷ is its
integral, in closed form for one layer (`core.nets.holomorphic`). Every step is holomorphic
in z, so ŷ is, and D has the Cauchy–Riemann form exactly whatever the integration error.
`min_modulus` = m > 0 uses g = exp(h) (never zero) and keeps |g| >= m on the run's guarantee
box, certified from the weights by the minimum principle (no entire g keeps it on all of C,
Liouville); |ŷ'| >= m then holds up to the solver's error and ŷ is locally invertible.
`conservative=false` keeps the paper's form: an MLP's two outputs make J = [[a, -b], [b, a]],
which in 2-D is not a conservative field, so ŷ is not complex differentiable (measured only).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks, defaults
from jacnet_cli.core.structures.base import (Bound, Family, NetworkOptions, OutputForm,
                                             Owned, Structure, cr_residual)

SHAPE_RULE = "needs a map R² -> R²"
D = defaults.of("activation", "cauchy_riemann")  # conf/activation/cauchy_riemann.yaml
PAPER_TEXT = "complex differentiable: J = [[a, -b], [b, a]]"


class CauchyRiemann(Family):
    """Complex differentiable maps R² -> R² (z = x_0 + i x_1).

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
    shape_rule = SHAPE_RULE

    def __init__(self, min_modulus: float = D["min_modulus"],
                 conservative: bool = D["conservative"], units: int = D["units"],
                 layers: int = D["layers"], nodes: int = D["nodes"],
                 nonvanishing: bool = D["nonvanishing"], segments: int = D["segments"]):
        self.min_modulus = checks.nonnegative("activation.min_modulus", min_modulus)
        self.conservative = checks.boolean("activation.conservative", conservative)
        self.units = checks.integer("activation.units", units, 1)
        self.layers = checks.integer("activation.layers", layers, 1)
        self.nodes = checks.integer("activation.nodes", nodes, 1)
        self.nonvanishing = checks.boolean("activation.nonvanishing", nonvanishing)
        self.segments = checks.integer("activation.segments", segments, 1)

    def accepts(self, d_x: int, d_y: int) -> bool:
        return (d_x, d_y) == (2, 2)

    def at(self, d_x: int, d_y: int) -> Structure:
        self.check_dims(d_x, d_y)
        form: Structure
        if self.conservative:
            form = HolomorphicCauchyRiemann(self.min_modulus, self.units, self.layers,
                                            self.nodes, self.nonvanishing, self.segments)
        else:
            form = PaperCauchyRiemann(self.min_modulus)
        form.option = self
        if not self.conservative:
            form.remedy = "activation.conservative=true holds it by construction"
        return form


class _Complex(Structure, abstract=True):
    """What both forms state: the Cauchy–Riemann form of D, and with m > 0 |ŷ'| >= m on the
    training data's box (`local_keys`), where the round trip is measured too."""

    scalar_units = True
    shape_rule = SHAPE_RULE
    invertible_if = "min_modulus > 0"
    #: stated on the training data's box (`region`): |f'| >= m cannot hold on all of C, and
    #: |f'| > 0 makes ŷ locally, not globally, invertible
    local_keys = ("modulus_min", "roundtrip_max_err")

    def __init__(self, min_modulus: float = D["min_modulus"]):
        self.min_modulus = checks.nonnegative("activation.min_modulus", min_modulus)
        self.invertible = self.min_modulus > 0

    def accepts(self, d_x: int, d_y: int) -> bool:
        return (d_x, d_y) == (2, 2)

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        out = {"cr_residual_rel_max": Bound("<=", 0.0, absolute=True)}
        if self.invertible:
            out["modulus_min"] = Bound(">=", self.min_modulus, label="m")
        return out

    def measure(self, key: str, jac: Tensor) -> Tensor:
        if key == "modulus_min":  # |ŷ'| = sqrt(det D) for D = [[a, -b], [b, a]]
            return torch.sqrt(torch.linalg.det(jac).abs())
        return super().measure(key, jac)

    def reduction(self, key: str) -> str:
        return "min" if key == "modulus_min" else super().reduction(key)

    def check(self, jac: Tensor) -> dict[str, float]:
        out = {"net_cr_residual_max": float(cr_residual(jac).max())}
        if self.invertible:
            out["net_min_modulus"] = float(torch.sqrt(jac[:, 0, 0] ** 2 + jac[:, 1, 0] ** 2).min())
        return out

    def constants(self) -> dict[str, float]:
        return {"min_modulus": self.min_modulus}

    def solve_linear(self, jac: Tensor, rhs: Tensor) -> Tensor:
        if not self.invertible:
            return super().solve_linear(jac, rhs)
        return complex_solve(jac, rhs)


class PaperCauchyRiemann(_Complex, OutputForm, option=False):
    """J = [[a, -b], [b, a]] from an MLP's two outputs (w = a + ib kept at |w| >= m)."""

    name = "cauchy_riemann"
    option_keys = frozenset({"min_modulus", "conservative"})

    def __init__(self, min_modulus: float = D["min_modulus"]):
        super().__init__(min_modulus)
        self.guarantee = PAPER_TEXT + (f"; invertible: |a + ib| >= {self.min_modulus:g}"
                                       if self.invertible else "")

    def describe(self, d_x: int, d_y: int) -> str:
        return self.guarantee

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return False

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return 2

    def form(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
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

    def inverse_method(self, d: int) -> str:
        return "newton"  # no region: Newton from the anchor

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        return PaperCauchyRiemann(self.min_modulus * float(x_scale[0] / y_scale[0]))


class HolomorphicCauchyRiemann(_Complex, Owned, option=False):
    """A network g(z) holomorphic in z learns f'; ŷ = ∫ g (`core.nets.holomorphic`)."""

    name = "cauchy_riemann"
    model_keys = frozenset()  # its width is activation.units

    def __init__(self, min_modulus: float = D["min_modulus"], units: int = D["units"],
                 layers: int = D["layers"], nodes: int = D["nodes"],
                 nonvanishing: bool = D["nonvanishing"], segments: int = D["segments"]):
        super().__init__(min_modulus)
        self.units = checks.integer("activation.units", units, 1)
        self.layers = checks.integer("activation.layers", layers, 1)
        self.nodes = checks.integer("activation.nodes", nodes, 1)
        self.nonvanishing = checks.boolean("activation.nonvanishing", nonvanishing)
        self.segments = checks.integer("activation.segments", segments, 1)
        # The certificate's box comes from the run's guarantee box when the model is built.
        self.needs_points = self.invertible

    def describe(self, d_x: int, d_y: int) -> str:
        return ("complex differentiable: ŷ holomorphic in z, D = [[a, -b], [b, a]] at every "
                "point" + (f"; |ŷ'| >= {self.min_modulus:g} on the guarantee box (certified "
                           "for the learned f', up to the integrator's error for ŷ')"
                           if self.invertible else ""))

    def make_network(self, d_x: int, d_y: int, options: NetworkOptions) -> nn.Module:
        from jacnet_cli.core.nets.holomorphic import HolomorphicNet

        return HolomorphicNet(units=self.units, depth=self.layers, nodes=self.nodes,
                              nonvanishing=self.nonvanishing or self.invertible,
                              min_modulus=self.min_modulus, segments=self.segments)

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        return net.derivative(x)  # (N, 2, 2): dŷ/dx exactly

    def fit_data(self, net: nn.Module, x: Tensor, y: Tensor) -> None:
        """The min_modulus certificate's box: the training inputs' bounding box."""
        if x.shape[0] > 0:
            net.set_box(x.min(0).values, x.max(0).values)

    def region(self, net: nn.Module) -> tuple[Tensor, Tensor] | None:
        if bool(torch.isnan(net.box).any()):
            return None
        return net.box[[0, 2]], net.box[[1, 3]]

    def penalty(self, net: nn.Module) -> Tensor | None:
        """While training: the hinge max(0, log(1.05 m) - L), L the certified floor of
        log |g| on the box, so the fit itself clears m (5% to spare) and the evaluation's
        shift (`HolomorphicNet.shift`) stays 0 rather than rescaling the fitted g."""
        if not self.invertible or bool(torch.isnan(net.box).any()):
            return None
        return torch.relu(math.log(1.05 * self.min_modulus) - net.modulus_floor())

    def inverse_method(self, d: int) -> str:
        # Invertible near each point, not globally: start Newton from the nearest tabulated
        # value on the data's box.
        return "grid"

    def report(self, net: nn.Module, x_scale: Tensor, y_scale: Tensor) -> dict[str, Any]:
        """The certified min |f'| over the guarantee box, in the user's units."""
        if not net.nonvanishing or bool(torch.isnan(net.box).any()):
            return {}
        return {"min_modulus_certified": net.certified_min_modulus()
                * float(y_scale[0] / x_scale[0])}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        return HolomorphicCauchyRiemann(self.min_modulus * float(x_scale[0] / y_scale[0]),
                                        self.units, self.layers, self.nodes,
                                        self.nonvanishing, self.segments)


def complex_solve(jac: Tensor, rhs: Tensor) -> Tensor:
    """Solve J v = rhs for J = [[a, -b], [b, a]]: w · v = rhs as complex numbers, so
    v = conj(w) rhs / |w|². (N, 2, 2), (N, 2) -> (N, 2)."""
    a, b = jac[:, 0, 0], jac[:, 1, 0]  # (N,)
    det = a * a + b * b  # (N,)
    v0 = (a * rhs[:, 0] + b * rhs[:, 1]) / det
    v1 = (a * rhs[:, 1] - b * rhs[:, 0]) / det
    return torch.stack([v0, v1], dim=-1)  # (N, 2)
