"""`monotone`: ŷ = ∇φ + εx with φ convex (an mGradNet), ε-strongly monotone in every dimension."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks, defaults
from jacnet_cli.core.structures.base import (Bound, Structure, asymmetry, increasing_direction,
                                             spd_solve)
from jacnet_cli.core.structures.gradient import Potential


D = defaults.of("activation", "monotone")  # conf/activation/monotone.yaml


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
        network: "mixed" (the sum of both, default), "cascade" (mGradNet-C) or "modular"
            (mGradNet-M).
        layers: cascade depth, or number of modules.
        nonlinearity: the cascade's σ, increasing (tanh, sigmoid, softplus).
    """

    name = "monotone"
    invertible = True
    monotone = True

    def __init__(self, eps: float = D["eps"], max_eig: float | None = D["max_eig"],
                 network: str = D["network"], layers: int = D["layers"],
                 nonlinearity: str = D["nonlinearity"]):
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

    def describe(self, d_x: int, d_y: int) -> str:
        return self.guarantee

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

    def solve_linear(self, jac: Tensor, rhs: Tensor) -> Tensor:
        return spd_solve(jac, rhs)

    def check(self, jac: Tensor) -> dict[str, float]:
        eig = torch.linalg.eigvalsh(0.5 * (jac + jac.transpose(-1, -2)))  # (N, d)
        out = {"net_min_eig": float(eig[:, 0].min()), "net_asym_max": float(asymmetry(jac).max())}
        if self.max_eig is not None:
            out["net_max_eig"] = float(eig[:, -1].max())
        return out

    def constants(self) -> dict[str, float]:
        return {"eps": self.eps, **({"max_eig": self.max_eig} if self.max_eig else {})}

    def direction(self, x: Tensor, y: Tensor, names: list[str]) -> str | None:
        """Increasing only: a falling 1-input file gets a line naming monotone_in's decreasing."""
        return increasing_direction(self.name, x, y, names)

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        r = float(x_scale[0] / y_scale[0])
        return Monotone(self.eps * r, None if self.max_eig is None else self.max_eig * r,
                        self.network, self.layers, self.nonlinearity)
