"""JacNet: a function learned through its structured Jacobian, and the plain MLP baseline.

    ŷ(x) = y0 + ∫₀¹ J(c(t)) c'(t) dt,   J = structure(network(x))      (paper, section 4)

where c is a path from the anchor x0 to x. Config group: ``conf/model/<name>.yaml``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.activations import Structure
from jacnet_cli.anchors import Anchor, FixedAnchor
from jacnet_cli.network import MLP, raw_for_slope
from jacnet_cli.paths import LinearPath, Path
from jacnet_cli.solvers import Auto, Integrator


class JacNet(nn.Module):
    """Learn y: R^{d_x} -> R^{d_y} by learning its Jacobian and integrating it.

    Args:
        d_x, d_y: input and output dimensions.
        structure: what gives J its property (activations module). Output activations
            shape an MLP's raw outputs; potential structures (`Gradient`, `Monotone`) bring
            their own gradient network, sized by `hidden`.
        hidden, depth, activation: the Jacobian network's width, hidden layers, nonlinearity
            (depth and activation are the MLP's; a potential structure sets its own).
        path: the integration path (default: straight line; unused by `Exact`).
        anchor: where integrals start (default: x0 = 0 with a learned y0).
        integrator: how integrals are evaluated (default `Auto`: the exact antiderivative for
            potential structures, 32-node Gauss–Legendre otherwise).
        **network: further options of an MLP Jacobian network (`network.MLP`): bias_scale,
            output_init, output_bias. With output_init="data" a 1-D model starts with J
            constant at the anchor's `data_slope` (the training data's least-squares slope).
            The gradient-network structures build their own networks and ignore them.

    Example:
        >>> model = JacNet(1, 1, PositiveDefinite(1e-4))
        >>> y = model(torch.linspace(-1, 1, 5)[:, None])   # (5, 1)
        >>> x = model.inverse(y)                           # (5, 1)
    """

    kind = "jacnet"

    def __init__(self, d_x: int, d_y: int, structure: Structure, hidden: int = 64,
                 depth: int = 1, activation: str = "tanh", path: Path | None = None,
                 anchor: Anchor | None = None, integrator: Integrator | None = None,
                 **network: Any):
        super().__init__()
        structure.validate(d_x, d_y)
        self.d_x, self.d_y = d_x, d_y
        self.structure = structure
        self.net = structure.make_network(d_x, d_y, hidden, depth, activation, **network)
        self.path = path if path is not None else LinearPath()
        self.anchor = anchor if anchor is not None else FixedAnchor(d_x, d_y)
        integrator = integrator if integrator is not None else Auto()
        if isinstance(integrator, Auto):
            integrator = integrator.resolve(structure.exact)
        if integrator.exact and not structure.exact:
            structure.primitive(self.net, torch.zeros(1, d_x))  # raises the one-line error
        self.integrator = integrator
        slope = getattr(self.anchor, "data_slope", None)
        if (network.get("output_init") == "data" and d_x == d_y == 1 and slope is not None
                and hasattr(self.net, "start_constant")):
            # Start with J constant at the slope of the data's least-squares line.
            self.net.start_constant(raw_for_slope(lambda r: structure(r, 1, 1), slope))

    @property
    def invertible(self) -> bool:
        return self.structure.invertible

    def jacobian(self, x: Tensor) -> Tensor:
        """The structured network Jacobian J_θ: x (N, d_x) -> (N, d_y, d_x)."""
        return self.structure.jacobian(self.net, x, self.d_x, self.d_y)

    def primitive(self, x: Tensor) -> Tensor:
        """The structure's closed-form antiderivative P(x), dP/dx = J_θ: (N, d_x) -> (N, d_y)."""
        return self.structure.primitive(self.net, x)

    def line_integral(self, start: Tensor, end: Tensor) -> Tensor:
        """∫₀¹ J(c(t)) c'(t) dt along the path from start to end: (N, d_x) x2 -> (N, d_y).

        With the `Exact` integrator this is P(end) - P(start), whatever the path.
        """
        if self.integrator.exact:
            # One network pass for both ends: at a training batch of 100 a second call for the
            # one-row anchor costs about as much as the batch (benchmarks, section 7).
            self.integrator.nfe_forward = self.integrator._calls = 1
            k = start.shape[0]
            p = self.primitive(torch.cat([start, end]))  # (k + N, d_y)
            return p[k:] - p[:k]
        total, nfe, calls = None, 0, 0
        for a, b in self.path.legs(start, end):
            part = self.segment_integral(a, b, self.integrator)
            nfe, calls = nfe + self.integrator.nfe_forward, calls + self.integrator._calls
            total = part if total is None else total + part
        self.integrator.nfe_forward, self.integrator._calls = nfe, calls
        return total

    def segment_integral(self, start: Tensor, end: Tensor, integrator: Integrator) -> Tensor:
        """∫₀¹ J(a + t (b - a)) (b - a) dt on a straight segment: (N, d_x) x2 -> (N, d_y)."""
        n = start.shape[0]
        delta = end - start  # (N, d_x)

        jvp = getattr(self.structure, "jvp", None)  # J v without forming J, where offered

        def integrand(t: Tensor) -> Tensor:
            k = t.shape[0]
            c = start.unsqueeze(1) + t[None, :, None] * delta.unsqueeze(1)  # (N, K, d_x)
            if jvp is not None:
                v = delta.unsqueeze(1).expand(n, k, self.d_x).reshape(n * k, self.d_x)
                return jvp(self.net, c.reshape(n * k, self.d_x), v).reshape(n, k, self.d_y)
            jac = self.jacobian(c.reshape(n * k, self.d_x)).reshape(n, k, self.d_y, self.d_x)
            return (jac @ delta[:, None, :, None]).squeeze(-1)  # (N, K, d_y)

        params = (*self.parameters(), start, end)
        return integrator(integrand, start, self.d_y, params)

    def forward(self, x: Tensor) -> Tensor:
        """ŷ(x): (N, d_x) -> (N, d_y)."""
        x0, y0 = self.anchor(x)  # (N, d_x), (N, d_y)
        if self.integrator.exact and isinstance(self.anchor, FixedAnchor):
            # One anchor for all points: P(x0) once, not once per point.
            return y0 + self.line_integral(x0[:1], x)
        return y0 + self.line_integral(x0, x)

    def inverse(self, y: Tensor, **options: Any) -> Tensor:
        """x = ŷ⁻¹(y) by integrating J⁻¹ in output space (see `jacnet_cli.inverse.invert`)."""
        from jacnet_cli.inverse import invert

        return invert(self, y, **options)

    def config(self) -> dict[str, Any]:
        return {"d_x": self.d_x, "d_y": self.d_y, "structure": repr(self.structure),
                "integrator": repr(self.integrator), "path": repr(self.path)}


class MLPRegressor(nn.Module):
    """The plain baseline: an MLP trained on y directly, with no structure on its Jacobian."""

    kind = "mlp"
    invertible = False

    def __init__(self, d_x: int, d_y: int, hidden: int = 64, depth: int = 1,
                 activation: str = "tanh", **network: Any):
        super().__init__()
        self.d_x, self.d_y = d_x, d_y
        self.net = MLP(d_x, d_y, hidden, depth, activation, **network)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


MODELS: dict[str, type[nn.Module]] = {"jacnet": JacNet, "mlp": MLPRegressor}


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, rows: int = 16384, method: str = "direct") -> Tensor:
    """Evaluate a model without gradients, in chunks: (N, d_x) -> (N, d_y).

    Args:
        model: any model here.
        x: (N, d_x) points.
        rows: network rows per call (points x quadrature nodes); small chunks stay in cache.
        method: "direct" calls the model (its own integrator); "cumulative" evaluates a 1-D
            JacNet by one composite pass over the sorted points (see `cumulative_predict`),
            many times faster on large batches; "auto" picks cumulative where it applies.
    """
    if method not in ("direct", "cumulative", "auto"):
        raise ValueError(f"method={method!r} is not allowed; choose direct, cumulative or auto")
    from jacnet_cli.units import unwrap

    core, units = unwrap(model)
    if units is not None:
        return units.y_out(predict(core, units.x_in(x), rows, method))
    if method == "cumulative" or (method == "auto" and cumulative_applies(model)):
        return cumulative_predict(model, x, chunk=rows)
    nodes = getattr(getattr(model, "integrator", None), "nodes", 1)
    return torch.cat([model(part) for part in x.split(max(1, rows // nodes))], dim=0)


def cumulative_applies(model: nn.Module) -> bool:
    return (getattr(model, "kind", None) == "jacnet" and model.d_x == 1 and model.d_y == 1
            and isinstance(model.path, LinearPath) and isinstance(model.anchor, FixedAnchor))


@torch.no_grad()
def cumulative_predict(model: JacNet, x: Tensor, nodes: int = 2, max_gap: float = 1 / 64,
                       chunk: int = 1 << 18) -> Tensor:
    """ŷ(x) for a 1-D JacNet by one composite Gauss–Legendre pass over the sorted points.

    In 1-D ŷ(x) = y0 + ∫_{x0}^{x} J(s) ds along the line, so all points share one integral:
    the breakpoints are the points, x0 and a grid of spacing `max_gap`; each interval gets a
    `nodes`-point rule (error O(h^(2 nodes + 1)) per interval) and a cumulative sum gives
    every ŷ at once: about `nodes` network rows per point instead of the rule's K.

    Args:
        model: a 1-D JacNet with the straight path and a fixed anchor.
        x: (N, 1) points.
        nodes: Gauss–Legendre nodes per interval.
        max_gap: longest interval allowed.
        chunk: network rows per call.

    Returns:
        (N, 1) ŷ(x), without gradient.
    """
    if not cumulative_applies(model):
        raise ValueError("method='cumulative' needs a 1-D JacNet with path=linear and a fixed anchor")
    from jacnet_cli.solvers import gauss_legendre_rule

    x0, y0 = model.anchor(x[:1])  # (1, 1) each
    s = x[:, 0]  # (N,)
    lo = float(torch.minimum(s.min(), x0[0, 0]))
    hi = float(torch.maximum(s.max(), x0[0, 0]))
    grid = torch.linspace(lo, hi, max(2, math.ceil((hi - lo) / max_gap) + 1),
                          dtype=x.dtype, device=x.device)  # (G,)
    b, where = torch.unique(torch.cat([s, x0[0], grid]), sorted=True,
                            return_inverse=True)  # (M,), (N + 1 + G,)
    h = b[1:] - b[:-1]  # (M-1,)
    t, w = gauss_legendre_rule(nodes, x)  # (K,), (K,)
    pts = (b[:-1, None] + h[:, None] * t[None, :]).reshape(-1, 1)  # ((M-1) K, 1)
    jac = torch.cat([model.jacobian(p)[:, 0, 0] for p in pts.split(chunk)])  # ((M-1) K,)
    pieces = h * (jac.reshape(-1, nodes) @ w)  # (M-1,)
    f = torch.cat([pieces.new_zeros(1), torch.cumsum(pieces, 0)])  # (M,) ∫ from b[0]
    yb = y0[0, 0] + f - f[where[s.shape[0]]]  # (M,): ∫ from x0 instead
    return yb[where[: s.shape[0]]][:, None]  # (N, 1)
