"""`lipschitz`: ŷ is k-Lipschitz in the Euclidean norms, ‖D(x)‖₂ <= k at every x.

1-D: the paper's J = k·tanh(a) (|ŷ'| < k, up to the solver's error). Any other d_x -> d_y:
a bounded J is not enough, since an MLP's J is not a conservative field in n-D and the
integrated ŷ's D is neither J nor bounded by k (section 4.5; measured ‖D‖₂ 1.1-2.9 for
k = 1). So the model owns a network that is its own exact antiderivative,
ŷ = k·W_L σ(... σ(W_0 x + b_0) ...) + b_L with every W_i orthogonal and σ = MaxMin
(`core.nets.lipschitz`): D is a product of factors of norm <= 1. Orthogonal layers with
GroupSort keep gradient norms (Anil et al. 2019), so depth costs no gradient; the Cayley
map is exact to rounding with no iteration to truncate. `conservative=false` keeps the
paper's norm-squashed MLP J in n-D, measured only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks, defaults
from jacnet_cli.core.structures.base import (Bound, Family, NetworkOptions, OutputForm, Owned,
                                             Structure, operator_norm, steeper_than, tanhc)


D = defaults.of("activation", "lipschitz")  # conf/activation/lipschitz.yaml


def _bounds(k: float) -> dict[str, Bound]:
    return {"lipschitz_max": Bound("<=", k, label="k", mirror=True)}


def _check(jac: Tensor) -> dict[str, float]:
    return {"net_lipschitz_max": float(operator_norm(jac).max())}


def _scaled(k: float, x_scale: Tensor, y_scale: Tensor) -> float:
    # ‖diag(s_y) J diag(1/s_x)‖ <= max(s_y) ‖J‖ / min(s_x).
    return k * float(x_scale.min() / y_scale.max())


class Lipschitz(Family):
    """k-Lipschitz: ‖dŷ/dx‖₂ <= k.

    Args:
        k: the Lipschitz constant, > 0.
        norm: the paper form's squash, "spectral" or "frobenius".
        conservative: own the Lipschitz network in n-D (guaranteed); no effect in 1-D.
        layers: hidden layers of the owned network.
        nonlinearity: the owned network's σ: maxmin, abs or tanh.
        weights: "orthogonal" (Cayley) or "spectral" (W / max(1, ‖W‖₂), may contract).
        hidden: width of the owned network (even); None: model.hidden.
    """

    name = "lipschitz"
    scalar_units = True  # as both forms (OrthogonalLipschitz says why)

    def __init__(self, k: float = D["k"], norm: str = D["norm"],
                 conservative: bool = D["conservative"], layers: int = D["layers"],
                 nonlinearity: str = D["nonlinearity"], weights: str = D["weights"],
                 hidden: int | None = D["hidden"]):
        from jacnet_cli.core.nets.lipschitz import ACTIVATIONS, WEIGHTS

        self.k = checks.positive("activation.k", k)
        self.norm = checks.one_of("activation.norm", norm, ("spectral", "frobenius"))
        self.conservative = checks.boolean("activation.conservative", conservative)
        self.layers = checks.integer("activation.layers", layers, 1)
        self.nonlinearity = checks.one_of("activation.nonlinearity", nonlinearity, ACTIVATIONS)
        self.weights = checks.one_of("activation.weights", weights, WEIGHTS)
        self.hidden = checks.integer("activation.hidden", hidden, 2, optional=True)
        if self.hidden is not None and self.nonlinearity == "maxmin" and self.hidden % 2:
            raise checks.refuse("activation.hidden", hidden, "it must be a multiple of 2 with "
                                "activation.nonlinearity=maxmin (units are sorted in pairs)")

    def at(self, d_x: int, d_y: int) -> Structure:
        form: Structure
        if self.conservative and (d_x, d_y) != (1, 1):
            form = OrthogonalLipschitz(self.k, self.layers, self.nonlinearity, self.weights,
                                       self.hidden)
        else:
            form = PaperLipschitz(self.k, self.norm)
        form.option = self
        if not self.conservative:
            form.remedy = "activation.conservative=true holds it by construction"
        return form


class PaperLipschitz(OutputForm, option=False):
    """J = k tanh(σ(A))/σ(A) A, σ the spectral (or Frobenius, `norm`) norm of an MLP's raw A:
    ‖J‖₂ < k; in 1-D the paper's k·tanh(a)."""

    name = "lipschitz"
    scalar_units = True  # as OrthogonalLipschitz
    option_keys = frozenset({"k", "norm", "conservative"})

    def __init__(self, k: float = D["k"], norm: str = D["norm"]):
        self.k = checks.positive("activation.k", k)
        self.norm = checks.one_of("activation.norm", norm, ("spectral", "frobenius"))
        self.guarantee = f"{self.k:g}-Lipschitz: operator norm of J < k = {self.k:g}"

    def describe(self, d_x: int, d_y: int) -> str:
        return self.guarantee

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return _bounds(self.k)

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_y

    def form(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        a = raw.reshape(raw.shape[0], d_y, d_x)  # (N, d_y, d_x)
        if d_x == 1 or d_y == 1:
            # A vector: spectral == Frobenius == Euclidean norm.
            s = torch.linalg.vector_norm(a, dim=(-2, -1))  # (N,)
        elif self.norm == "spectral":
            s = torch.linalg.matrix_norm(a, ord=2)  # (N,)
        else:
            s = torch.linalg.matrix_norm(a, ord="fro")  # (N,)
        return self.k * tanhc(s)[:, None, None] * a  # (N, d_y, d_x)

    def check(self, jac: Tensor) -> dict[str, float]:
        return _check(jac)

    def constants(self) -> dict[str, float]:
        return {"k": self.k}

    def direction(self, x: Tensor, y: Tensor, names: list[str]) -> str | None:
        """The data's least-squares slope clearly steeper than k."""
        return steeper_than(self.k, x, y, names)

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        return PaperLipschitz(_scaled(self.k, x_scale, y_scale), self.norm)


class OrthogonalLipschitz(Owned, option=False):
    """ŷ = k·W_L σ(... σ(W_0 x + b_0) ...) + b_L, orthogonal W_i, MaxMin σ: ‖D‖₂ <= k for
    every x and every weight, any d_x -> d_y (`core.nets.lipschitz.LipschitzNet`)."""

    name = "lipschitz"
    # One scale for all of x and one for all of y: with a scale per coordinate the bound in
    # model units, k min(s_x) / max(s_y), is tighter than k for every coordinate but the
    # widest; a 1-Lipschitz map R⁴ -> R² whose outputs differ in spread (0.33 and 0.25)
    # fitted 12 dB worse that way (-33.2 against -45.5 dB, benchmarks/price).
    scalar_units = True
    option_keys = frozenset({"k", "conservative", "layers", "nonlinearity", "weights", "hidden"})

    def __init__(self, k: float = D["k"], layers: int = D["layers"],
                 nonlinearity: str = D["nonlinearity"], weights: str = D["weights"],
                 hidden: int | None = D["hidden"]):
        from jacnet_cli.core.nets.lipschitz import ACTIVATIONS, WEIGHTS

        self.k = checks.positive("activation.k", k)
        self.layers = checks.integer("activation.layers", layers, 1)
        self.nonlinearity = checks.one_of("activation.nonlinearity", nonlinearity, ACTIVATIONS)
        self.weights = checks.one_of("activation.weights", weights, WEIGHTS)
        self.hidden = checks.integer("activation.hidden", hidden, 2, optional=True)
        if self.hidden is not None and self.nonlinearity == "maxmin" and self.hidden % 2:
            raise checks.refuse("activation.hidden", hidden, "it must be a multiple of 2 with "
                                "activation.nonlinearity=maxmin (units are sorted in pairs)")
        self.model_keys = frozenset() if self.hidden is not None else frozenset({"hidden"})
        self.guarantee = (f"{self.k:g}-Lipschitz: ‖dŷ/dx‖₂ <= k = {self.k:g} at every x "
                          "(orthogonal layers, MaxMin)")

    def describe(self, d_x: int, d_y: int) -> str:
        return self.guarantee

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return _bounds(self.k)

    def make_network(self, d_x: int, d_y: int, options: NetworkOptions) -> nn.Module:
        from jacnet_cli.core.nets.lipschitz import LipschitzNet

        width = options.hidden if self.hidden is None else self.hidden
        return LipschitzNet(d_x, d_y, k=self.k, hidden=width, depth=self.layers,
                            activation=self.nonlinearity, weights=self.weights)

    def check(self, jac: Tensor) -> dict[str, float]:
        return _check(jac)

    def constants(self) -> dict[str, float]:
        return {"k": self.k}

    def report(self, net: nn.Module, x_scale: Tensor, y_scale: Tensor) -> dict[str, Any]:
        """The bound the weights give, k Π‖W_i‖₂, in the user's units."""
        return {"lipschitz_bound": float(net.lipschitz_bound())
                * float(y_scale.max() / x_scale.min())}

    def direction(self, x: Tensor, y: Tensor, names: list[str]) -> str | None:
        """The data's least-squares slope clearly steeper than k."""
        return steeper_than(self.k, x, y, names)

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        return OrthogonalLipschitz(_scaled(self.k, x_scale, y_scale), self.layers,
                                   self.nonlinearity, self.weights, self.hidden)
