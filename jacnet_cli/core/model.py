"""JacNet: a function learned through its structured Jacobian, and the plain MLP baseline.

    ŷ(x) = y0 + ∫₀¹ J(c(t)) c'(t) dt,   J = structure(network(x))      (paper, section 4)

where c is a path from the anchor x0 to x. Every model answers one protocol (`Model`): the
same questions of a JacNet, of the plain MLP and of either used in the user's units
(`core.units.Standardized`), so no caller looks inside one. Config group:
``conf/model/<name>.yaml``, which holds the defaults (the signatures below read them).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core import defaults
from jacnet_cli.core.anchors import Anchor, FixedAnchor
from jacnet_cli.core.evaluation import Model, as_points, chunked, cumulative_predict
from jacnet_cli.core.solvers import Auto, Solver
from jacnet_cli.core.nets.mlp import MLP
from jacnet_cli.core.paths import LinearPath, Path
from jacnet_cli.core.structures.base import NetworkOptions, Structure

#: The J network's defaults: conf/model/jacnet.yaml (from the accuracy study,
#: benchmarks/accuracy/README.md), the one place they are written.
DEFAULTS: dict[str, Any] = defaults.of("model", "jacnet")
_MLP = defaults.of("model", "mlp")

class JacNet(Model):
    """Learn y: R^{d_x} -> R^{d_y} by learning its Jacobian and integrating it.

    Args:
        d_x, d_y: input and output dimensions.
        structure: what gives J its property (`core.structures`): an output form over an
            MLP, or a structure that owns its network; a `Family` picks one for d_x, d_y.
        hidden, depth, nonlinearity, bias_scale, output_init, output_bias: the Jacobian
            network's options (`model.*`, `core.nets.mlp.MLP`); a structure that owns its
            network reads only those in its `model_keys`. With output_init="data" a 1-D
            model starts with J constant at the anchor's `data_slope`.
        path: the integration path (default: straight line; unused by `Exact`).
        anchor: where integrals start (default: x0 = 0 with a learned y0).
        solver: how integrals are evaluated (default `Auto`: the exact antiderivative where
            the structure has one, 32-node Gauss–Legendre otherwise).

    Example:
        >>> model = JacNet(1, 1, PositiveDefinite(1e-4))
        >>> y = model(torch.linspace(-1, 1, 5))            # (5, 1)
        >>> x = model.inverse(y)                           # (5, 1)
    """

    def __init__(self, d_x: int, d_y: int, structure: Any,
                 hidden: int = DEFAULTS["hidden"], depth: int = DEFAULTS["depth"],
                 nonlinearity: str = DEFAULTS["nonlinearity"], path: Path | None = None,
                 anchor: Anchor | None = None, solver: Solver | None = None,
                 bias_scale: float = DEFAULTS["bias_scale"],
                 output_init: str = DEFAULTS["output_init"],
                 output_bias: float = DEFAULTS["output_bias"]):
        super().__init__()
        structure.check_dims(d_x, d_y)
        structure = structure.at(d_x, d_y)
        self.d_x, self.d_y = d_x, d_y
        self.structure = structure
        self.hidden, self.depth, self.nonlinearity = hidden, depth, nonlinearity
        self.bias_scale, self.output_init, self.output_bias = bias_scale, output_init, output_bias
        self.net = structure.make_network(d_x, d_y, NetworkOptions(
            hidden, depth, nonlinearity, bias_scale, output_init, output_bias))
        self.path = path if path is not None else LinearPath()
        self.anchor = anchor if anchor is not None else FixedAnchor(d_x, d_y)
        solver = solver if solver is not None else Auto()
        exact = structure.exact(d_x, d_y)
        if isinstance(solver, Auto):
            solver = solver.resolve(exact)
        if solver.exact and not exact:
            structure.primitive(self.net, torch.zeros(1, d_x))  # raises the one-line error
        self.solver = solver
        slope = self.anchor.data_slope
        if output_init == "data" and d_x == d_y == 1 and slope is not None:
            structure.start_at_slope(self.net, slope)

    def spec_arguments(self) -> dict[str, Any]:
        """The network's options (the parts are described by their own specs)."""
        return {k: getattr(self, k) for k in DEFAULTS}

    def jacobian(self, x: Tensor) -> Tensor:
        """The structured network Jacobian J_θ: x (N, d_x) -> (N, d_y, d_x)."""
        return self.structure.jacobian(self.net, x, self.d_x, self.d_y)

    def primitive(self, x: Tensor) -> Tensor:
        """The structure's closed-form antiderivative P(x), dP/dx = J_θ: (N, d_x) -> (N, d_y)."""
        return self.structure.primitive(self.net, x)

    def segment_integral(self, start: Tensor, end: Tensor, rule: Solver) -> Tensor:
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
        x = as_points(x, self.d_x, self)
        x0, y0 = self.anchor(x)  # (N, d_x), (N, d_y)
        if self.solver.exact and self.anchor.shared:
            # One anchor for all points: P(x0) once, not once per point.
            return y0 + self.solver.integrate(self, x0[:1], x)
        return y0 + self.solver.integrate(self, x0, x)

    def predict(self, x: Tensor, rows: int = 16384, method: str = "direct") -> Tensor:
        from jacnet_cli.core.evaluation import METHODS

        if method not in METHODS:
            raise ValueError(f"method={method!r} is not allowed; choose one of: "
                             f"{', '.join(METHODS)}")
        x = as_points(x, self.d_x, self)
        if method == "cumulative" or (method == "auto" and self.cumulative):
            return cumulative_predict(self, x, chunk=rows)
        return chunked(self, x, max(1, rows // self.solver.nodes))

    @property
    def cumulative(self) -> bool:
        """Whether one cumulative pass can evaluate it (1-D, straight path, one anchor)."""
        return (self.d_x == 1 and self.d_y == 1 and isinstance(self.path, LinearPath)
                and self.anchor.shared)

    def solve(self, y: Tensor, x: Tensor | None = None, **options: Any) -> Any:
        from jacnet_cli.core.inverse import solve_model

        return solve_model(self, y, x, **options)

    def inverse(self, y: Tensor, x: Tensor | None = None, **options: Any) -> Tensor:
        from jacnet_cli.core.inverse import invert

        return invert(self, y, x=x, **options)

    def log_det(self, x: Tensor) -> Tensor:
        x = as_points(x, self.d_x, self)
        closed = self.structure.log_det(self.net, x) if self.solver.exact else None
        return closed if closed is not None else super().log_det(x)

    def penalty(self) -> Tensor | None:
        return self.structure.penalty(self.net)

    def weight_report(self) -> dict[str, Any]:
        return self.structure.report(self.net, torch.ones(self.d_x), torch.ones(self.d_y))

    def region(self) -> tuple[Tensor, Tensor] | None:
        return self.structure.region(self.net)

    def resolved(self) -> dict[str, Any]:
        return self.structure.resolved(self.net)

    def conservation(self, x_test: Tensor, grid: Tensor) -> dict[str, float]:
        from jacnet_cli.core.guarantees import conservation

        return conservation(self, x_test, grid) if self.d_x > 1 else {}

    def config(self) -> dict[str, Any]:
        from jacnet_cli.core.specs import spec

        return {"model": spec(self, partial=True),
                "activation": spec(self.structure.option or self.structure),
                "path": spec(self.path), "anchor": spec(self.anchor, partial=True),
                "solver": spec(self.solver)}

    def extra_repr(self) -> str:
        return (f"d_x={self.d_x}, d_y={self.d_y}, structure={self.structure!r}, "
                f"solver={self.solver!r}, path={self.path!r}")


class MLPRegressor(Model):
    """The plain baseline: an MLP trained on y directly, with no structure on its Jacobian."""

    def __init__(self, d_x: int, d_y: int, hidden: int = _MLP["hidden"],
                 depth: int = _MLP["depth"], nonlinearity: str = _MLP["nonlinearity"],
                 bias_scale: float = _MLP["bias_scale"], output_init: str = _MLP["output_init"],
                 output_bias: float = _MLP["output_bias"]):
        super().__init__()
        self.d_x, self.d_y = d_x, d_y
        self.net = MLP(d_x, d_y, hidden, depth, nonlinearity, bias_scale, output_init,
                       output_bias)

    def spec_arguments(self) -> dict[str, Any]:
        return {k: getattr(self.net, k) for k in _MLP}

    def forward(self, x: Tensor) -> Tensor:
        return self.net(as_points(x, self.d_x, self))

    def config(self) -> dict[str, Any]:
        from jacnet_cli.core.specs import spec

        return {"model": spec(self, partial=True)}

    def extra_repr(self) -> str:
        return f"d_x={self.d_x}, d_y={self.d_y}"
