"""`gradient`: ŷ = ∇φ for a learned potential φ (a GradNet), exact in every dimension.

The network is a gradient map g = ∇φ whose Jacobian J = ∇²φ is in closed form
(`core.nets.gradnets`), so ŷ(x) = y0 + g(x) - g(x0) needs no quadrature (`solver=exact`),
and D = dŷ/dx = J is symmetric for every x and every weight.
"""

from __future__ import annotations

from torch import Tensor, nn

from jacnet_cli.core import checks, defaults
from jacnet_cli.core.nets.gradnets import NETWORKS, NONLINEARITIES
from jacnet_cli.core.structures.base import (Bound, NetworkOptions, Owned, Structure,
                                             asymmetry)


D = defaults.of("activation", "gradient")  # conf/activation/gradient.yaml


class Potential(Owned, abstract=True):
    """An owned gradient network of width `model.hidden` (`network`: cascade, modular or mixed)."""

    monotone = False
    scalar_units = True  # D = (s_y/s_x) J stays symmetric only with scalar scales
    shape_rule = "needs d_x == d_y (a gradient map)"

    def __init__(self, network: str = D["network"], layers: int = D["layers"],
                 nonlinearity: str = D["nonlinearity"]):
        self.network = checks.one_of("activation.network", network, NETWORKS)
        self.layers = checks.integer("activation.layers", layers, 1)
        self.nonlinearity = checks.one_of("activation.nonlinearity", nonlinearity,
                                          NONLINEARITIES)

    def accepts(self, d_x: int, d_y: int) -> bool:
        return d_x == d_y

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"jacobian_asym_max": Bound("<=", 0.0, absolute=True)}

    def make_network(self, d_x: int, d_y: int, options: NetworkOptions) -> nn.Module:
        if self.network in ("cascade", "mixed"):
            return NETWORKS[self.network](d_x, options.hidden, self.layers, self.monotone,
                                          self.nonlinearity)
        return NETWORKS["modular"](d_x, options.hidden, self.layers, self.monotone)

    def jvp(self, net: nn.Module, x: Tensor, v: Tensor) -> Tensor:
        """J(x) v without forming J: (N, d), (N, d) -> (N, d)."""
        return net.jvp(x, v)

    def check(self, jac: Tensor) -> dict[str, float]:
        return {"net_asym_max": float(asymmetry(jac).max())}


class Gradient(Potential):
    """J = ∇²φ for a learned potential φ: symmetric everywhere, so ŷ = ∇φ (+ a constant).

    No sign constraint: ŷ is a conservative field (a gradient map) in any dimension, by
    construction, for the function as evaluated with solver=exact. Its network is a GradNet
    (`network=cascade`: GradNet-C, sums of ridge functions; `modular`: GradNet-M).

    Args:
        network: "cascade", "modular" or "mixed" (their sum).
        layers: cascade depth, or number of modules.
        nonlinearity: the cascade's σ (tanh, sigmoid, softplus).
    """

    name = "gradient"
    guarantee = "gradient map: D = dŷ/dx is symmetric everywhere (ŷ = ∇φ)"

    def describe(self, d_x: int, d_y: int) -> str:
        return self.guarantee

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        return self  # symmetry does not depend on a scalar scale
