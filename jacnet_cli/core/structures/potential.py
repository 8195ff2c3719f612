"""Structures that own a gradient network and evaluate ŷ exactly (GradNets).

The network is a gradient map g = ∇φ whose Jacobian J = ∇²φ is in closed form
(`core.nets.gradnets`), so ŷ(x) = y0 + g(x) - g(x0) needs no quadrature (`solver=exact`),
and D = dŷ/dx = J is symmetric for every x and every weight: the guarantee holds for ŷ in
every dimension, by construction, for the function as evaluated.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks
from jacnet_cli.core.nets.gradnets import NETWORKS, NONLINEARITIES
from jacnet_cli.core.structures.base import Bound, OwnedExact, Structure, asymmetry, spd_solve


class Potential(OwnedExact):
    """A structure that owns a gradient network (`network`: cascade or modular)."""

    monotone = False
    scalar_units = True  # D = (s_y/s_x) J stays symmetric only with scalar scales
    shape_rule = "needs d_x == d_y (a gradient map)"

    def __init__(self, network: str = "cascade", layers: int = 4, nonlinearity: str = "tanh"):
        self.network = checks.one_of("activation.network", network, NETWORKS)
        self.layers = checks.integer("activation.layers", layers, 1)
        self.nonlinearity = checks.one_of("activation.nonlinearity", nonlinearity,
                                          NONLINEARITIES)

    def accepts(self, d_x: int, d_y: int) -> bool:
        return d_x == d_y

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return True

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"jacobian_asym_max": Bound("<=", 0.0, absolute=True)}

    def make_network(self, d_x: int, d_y: int, hidden: int, depth: int, nonlinearity: str,
                **options: Any) -> nn.Module:
        """A gradient network of width `hidden` (the MLP options do not apply)."""
        if self.network in ("cascade", "mixed"):
            return NETWORKS[self.network](d_x, hidden, self.layers, self.monotone,
                                          self.nonlinearity)
        return NETWORKS["modular"](d_x, hidden, self.layers, self.monotone)

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
        network: "cascade" or "modular".
        layers: cascade depth, or number of modules.
        nonlinearity: the cascade's σ (tanh, sigmoid, softplus).
    """

    name = "gradient"
    guarantee = "gradient map: D = dŷ/dx is symmetric everywhere (ŷ = ∇φ)"


class Monotone(Potential):
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
        self.eps = checks.positive("activation.eps", eps)
        max_eig = checks.positive("activation.max_eig", max_eig, optional=True)
        if max_eig is not None and max_eig <= self.eps:
            raise checks.refuse("activation.max_eig", max_eig,
                                f"it must be > activation.eps = {self.eps:g}")
        self.max_eig = max_eig
        self.guarantee = (f"ε-strongly monotone gradient map: D = dŷ/dx symmetric with "
                          f"eigenvalues >= ε = {self.eps:g}"
                          + (f" and <= k = {max_eig:g} (k-Lipschitz)" if max_eig else "")
                          + "; invertible")

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        out = {"jacobian_min_eig": Bound(">=", self.eps, label="ε"), **super().bounds(d_x, d_y)}
        if self.max_eig is not None:
            out["jacobian_max_eig"] = Bound("<=", self.max_eig, label="k")
        return out

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

    def constants(self) -> dict[str, float]:
        return {"eps": self.eps, **({"max_eig": self.max_eig} if self.max_eig else {})}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        r = float(x_scale[0] / y_scale[0])
        return Monotone(self.eps * r, None if self.max_eig is None else self.max_eig * r,
                        self.network, self.layers, self.nonlinearity)
