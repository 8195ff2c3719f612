"""JacNet: a function learned through its structured Jacobian, and the plain MLP baseline.

    ŷ(x) = y0 + ∫₀¹ J(c(t)) c'(t) dt,   J = structure(network(x))      (paper, section 4)

where c is a path from the anchor x0 to x. Config group: ``conf/model/<name>.yaml``, whose
defaults are `DEFAULTS` (one set, shared by the library and the command line).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core.anchors import Anchor, FixedAnchor
from jacnet_cli.core.integrators import Auto, Integrator
from jacnet_cli.core.nets.mlp import MLP
from jacnet_cli.core.paths import LinearPath, Path
from jacnet_cli.core.structures.base import Structure

#: The J network's defaults, from the accuracy study (benchmarks/accuracy/README.md): 128
#: GELU units centred near the anchor, J starting at the training data's least-squares slope
#: (1-D; with several inputs torch's initialisation is kept). conf/model/jacnet.yaml holds
#: the same values (a test checks they agree).
DEFAULTS: dict[str, Any] = {"hidden": 128, "depth": 1, "nonlinearity": "gelu",
                            "bias_scale": 0.3, "output_init": "data", "output_bias": 1.0}


class JacNet(nn.Module):
    """Learn y: R^{d_x} -> R^{d_y} by learning its Jacobian and integrating it.

    Args:
        d_x, d_y: input and output dimensions.
        structure: what gives J its property (`core.structures`). Output activations shape
            an MLP's raw outputs; structures that own a network (`Gradient`, `Monotone`,
            `MonotoneIn`, ...) bring their own, sized by `hidden`.
        hidden, depth, nonlinearity: the Jacobian network's width, hidden layers and
            nonlinearity (depth and nonlinearity are the MLP's; an owned network sets its own).
        path: the integration path (default: straight line; unused by `Exact`).
        anchor: where integrals start (default: x0 = 0 with a learned y0).
        integrator: how integrals are evaluated (default `Auto`: the exact antiderivative where
            the structure has one, 32-node Gauss–Legendre otherwise).
        bias_scale, output_init, output_bias: further options of an MLP Jacobian network
            (`core.nets.mlp.MLP`). With output_init="data" a 1-D model starts with J constant
            at the anchor's `data_slope` (the training data's least-squares slope).

    Example:
        >>> model = JacNet(1, 1, PositiveDefinite(1e-4))
        >>> y = model(torch.linspace(-1, 1, 5))            # (5, 1)
        >>> x = model.inverse(y)                           # (5, 1)
    """

    kind = "jacnet"

    def __init__(self, d_x: int, d_y: int, structure: Structure,
                 hidden: int = DEFAULTS["hidden"], depth: int = DEFAULTS["depth"],
                 nonlinearity: str = DEFAULTS["nonlinearity"], path: Path | None = None,
                 anchor: Anchor | None = None, integrator: Integrator | None = None,
                 bias_scale: float = DEFAULTS["bias_scale"],
                 output_init: str = DEFAULTS["output_init"],
                 output_bias: float = DEFAULTS["output_bias"]):
        super().__init__()
        structure.check_dims(d_x, d_y)
        self.d_x, self.d_y = d_x, d_y
        self.structure = structure
        self.hidden, self.depth, self.nonlinearity = hidden, depth, nonlinearity
        self.bias_scale, self.output_init, self.output_bias = bias_scale, output_init, output_bias
        self.net = structure.make_network(d_x, d_y, hidden, depth, nonlinearity,
                                          bias_scale=bias_scale, output_init=output_init,
                                          output_bias=output_bias)
        self.path = path if path is not None else LinearPath()
        self.anchor = anchor if anchor is not None else FixedAnchor(d_x, d_y)
        integrator = integrator if integrator is not None else Auto()
        exact = structure.exact(d_x, d_y)
        if isinstance(integrator, Auto):
            integrator = integrator.resolve(exact)
        if integrator.exact and not exact:
            structure.primitive(self.net, torch.zeros(1, d_x))  # raises the one-line error
        self.integrator = integrator
        slope = getattr(self.anchor, "data_slope", None)
        if output_init == "data" and d_x == d_y == 1 and slope is not None:
            structure.start_at_slope(self.net, slope)

    @property
    def invertible(self) -> bool:
        return self.structure.invertible

    def spec_arguments(self) -> dict[str, Any]:
        """The network's options (the parts are described by their own specs)."""
        return {k: getattr(self, k) for k in DEFAULTS}

    def jacobian(self, x: Tensor) -> Tensor:
        """The structured network Jacobian J_θ: x (N, d_x) -> (N, d_y, d_x)."""
        return self.structure.jacobian(self.net, x, self.d_x, self.d_y)

    def primitive(self, x: Tensor) -> Tensor:
        """The structure's closed-form antiderivative P(x), dP/dx = J_θ: (N, d_x) -> (N, d_y)."""
        return self.structure.primitive(self.net, x)

    def segment_integral(self, start: Tensor, end: Tensor, rule: Integrator) -> Tensor:
        """∫₀¹ J(a + t (b - a)) (b - a) dt on a straight segment by a quadrature rule:
        (N, d_x) x2 -> (N, d_y)."""
        n = start.shape[0]
        delta = end - start  # (N, d_x)

        def integrand(t: Tensor) -> Tensor:
            k = t.shape[0]
            c = start.unsqueeze(1) + t[None, :, None] * delta.unsqueeze(1)  # (N, K, d_x)
            v = delta.unsqueeze(1).expand(n, k, self.d_x).reshape(n * k, self.d_x)
            jv = self.structure.jvp(self.net, c.reshape(n * k, self.d_x), v)  # None: form J
            if jv is not None:
                return jv.reshape(n, k, self.d_y)
            jac = self.jacobian(c.reshape(n * k, self.d_x)).reshape(n, k, self.d_y, self.d_x)
            return (jac @ delta[:, None, :, None]).squeeze(-1)  # (N, K, d_y)

        params = (*self.parameters(), start, end)
        return rule(integrand, start, self.d_y, params)

    def forward(self, x: Tensor) -> Tensor:
        """ŷ(x): (N, d_x) -> (N, d_y); a 1-D tensor (N,) is read as N points when d_x = 1."""
        x = as_points(x, self.d_x)
        x0, y0 = self.anchor(x)  # (N, d_x), (N, d_y)
        if self.integrator.exact and self.anchor.shared:
            # One anchor for all points: P(x0) once, not once per point.
            return y0 + self.integrator.integrate(self, x0[:1], x)
        return y0 + self.integrator.integrate(self, x0, x)

    def inverse(self, y: Tensor, **options: Any) -> Tensor:
        """x = ŷ⁻¹(y) (see `jacnet_cli.core.inverse.invert`): (N, d_y) -> (N, d_x)."""
        from jacnet_cli.core.inverse import invert

        return invert(self, as_points(y, self.d_y), **options)

    def log_det(self, x: Tensor) -> Tensor:
        """log |det dŷ/dx| per point, (N,): in closed form where the structure has one."""
        x = as_points(x, self.d_x)
        closed = getattr(self.structure, "log_det", None)
        if closed is not None and self.integrator.exact:
            return closed(self.net, x)
        from jacnet_cli.core.evaluation import derivative

        return torch.linalg.slogdet(derivative(self, x))[1]

    def extra_repr(self) -> str:
        return (f"d_x={self.d_x}, d_y={self.d_y}, structure={self.structure!r}, "
                f"integrator={self.integrator!r}, path={self.path!r}")


class MLPRegressor(nn.Module):
    """The plain baseline: an MLP trained on y directly, with no structure on its Jacobian."""

    kind = "mlp"
    invertible = False

    def __init__(self, d_x: int, d_y: int, hidden: int = 64, depth: int = 1,
                 nonlinearity: str = "tanh", bias_scale: float = 1.0,
                 output_init: str = "default", output_bias: float = 1.0):
        super().__init__()
        self.d_x, self.d_y = d_x, d_y
        self.net = MLP(d_x, d_y, hidden, depth, nonlinearity, bias_scale, output_init,
                       output_bias)

    def spec_arguments(self) -> dict[str, Any]:
        net = self.net
        return {k: getattr(net, k) for k in ("hidden", "depth", "nonlinearity", "bias_scale",
                                             "output_init", "output_bias")}

    def forward(self, x: Tensor) -> Tensor:
        return self.net(as_points(x, self.d_x))

    def extra_repr(self) -> str:
        return f"d_x={self.d_x}, d_y={self.d_y}"


def as_points(x: Tensor, d: int) -> Tensor:
    """x as a batch of points (N, d): a 1-D tensor is N points when d = 1, one point when it
    has d entries; anything else gets one line saying what shape is needed."""
    if x.ndim == 2 and x.shape[1] == d:
        return x
    if x.ndim == 1 and d == 1:
        return x[:, None]
    if x.ndim == 1 and x.shape[0] == d:
        return x[None, :]
    raise ValueError(f"expected points of shape (N, {d}), got {tuple(x.shape)}"
                     + ("; pass x[:, None] for N points of one input" if d == 1 else ""))
