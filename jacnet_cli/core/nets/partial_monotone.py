"""Partially monotone networks: f(x) non-decreasing in chosen inputs, free in the others.

The network of the `monotone_in` structure. With S the monotone inputs (each with a sign: +1
non-decreasing, -1 non-increasing) and R the others,

    h = σ(W₁ (s ⊙ x_S) + b(x_R)),   g = σ(W₂ h + c(x_R)),
    f(x) = β(x_R) + a(x_R)ᵀ g / H + ε sᵀ x_S,

with W₁, W₂, a >= 0 (softplus of free weights), σ = tanh and b, c, a, β from a conditioner MLP
of x_R (the role the other inputs play in UMNN). With `linear=True` a linear term
uᵀ (s ⊙ x_S) + vᵀ x_R is added, u = softplus(free) >= 0: the network then starts from, and can
fall back to, a monotone linear fit, and it does not saturate far from the data (the tabular
study's regression tables, benchmarks/tabular). Then s_i ∂f/∂x_i = aᵀ diag(σ') W₂ diag(σ')
W₁ e_i + ε is a sum of products of non-negative numbers: >= ε for every input and weight,
exactly, also in floating point, and for the function as evaluated (f is evaluated in closed
form; nothing is integrated numerically). Two non-negative layers make the family universal
for functions monotone in x_S (Daniels & Velikova 2010); UMNN's single-input integral is the
special case |S| = 1, and this form extends it to several inputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jacnet_cli.core.nets.mlp import MLP


class PartialMonotone(nn.Module):
    """f: R^d -> R, monotone in the inputs `monotone` with the given signs.

    Args:
        d: number of inputs.
        monotone: indices of the monotone inputs.
        signs: +1 (non-decreasing) or -1 (non-increasing) per monotone input.
        hidden: units of each non-negative layer and of the conditioner.
        depth: hidden layers of the conditioner.
        eps: the floor ε >= 0 of each signed partial (ε > 0: strictly monotone).
        linear: add a linear term, non-negative (after the signs) in the monotone inputs.
    """

    def extra_repr(self) -> str:
        return (f"d={self.d}, monotone inputs={self.mono.tolist()}, signs="
                f"{[int(v) for v in self.signs.tolist()]}, hidden={self.hidden}, eps={self.eps:g}, "
                f"linear={self.u is not None}, "
                f"parameters={sum(p.numel() for p in self.parameters())}")

    def __init__(self, d: int, monotone: list[int], signs: list[float], hidden: int = 64,
                 depth: int = 1, eps: float = 0.0, linear: bool = False):
        super().__init__()
        self.d, self.hidden, self.eps = d, hidden, eps
        self.register_buffer("mono", torch.tensor(monotone, dtype=torch.long))
        self.register_buffer("rest", torch.tensor([i for i in range(d) if i not in monotone],
                                                  dtype=torch.long))
        self.register_buffer("signs", torch.tensor(signs, dtype=torch.float64))
        k = len(monotone)
        # Free weights whose softplus are the non-negative ones, started near 0.5 and 2/H so
        # that the pre-activations of both layers start O(1).
        self.w1 = nn.Parameter(torch.randn(hidden, k) * 0.3 - 0.5)  # (H, k)
        self.w2 = nn.Parameter(torch.randn(hidden, hidden) * 0.3 + math.log(2 / hidden))  # (H, H)
        outputs = 1 + 3 * hidden  # β, b, c, a
        if self.rest.numel():
            self.conditioner = MLP(int(self.rest.numel()), outputs, hidden, depth, "tanh")
            self.free = None
        else:
            self.conditioner = None
            self.free = nn.Parameter(torch.randn(outputs) * 0.1)
        self.u = self.v = None
        if linear:  # softplus(-2) = 0.13: a small monotone slope to start from
            self.u = nn.Parameter(torch.full((k,), -2.0))  # (k,)
            self.v = nn.Parameter(torch.zeros(int(self.rest.numel())))  # (d - k,)

    def _conditions(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if self.conditioner is not None:
            out = self.conditioner(x[:, self.rest])  # (N, 1 + 3H)
        else:
            out = self.free.expand(x.shape[0], -1)
        h = self.hidden
        beta, b, c, a = out[:, :1], out[:, 1:1 + h], out[:, 1 + h:1 + 2 * h], out[:, 1 + 2 * h:]
        return beta, b, c, F.softplus(a) / h  # / H: the sum of H units starts O(1)

    def forward(self, x: Tensor) -> Tensor:
        """f(x): (N, d) -> (N, 1)."""
        beta, b, c, a = self._conditions(x)
        xs = x[:, self.mono] * self.signs.to(x)  # (N, k)
        h = torch.tanh(xs @ F.softplus(self.w1).T + b)  # (N, H)
        g = torch.tanh(h @ F.softplus(self.w2).T + c)  # (N, H)
        out = beta + (a * g).sum(-1, keepdim=True) + self.eps * xs.sum(-1, keepdim=True)
        if self.u is not None:  # s_i ∂/∂x_i of this term is softplus(u_i) >= 0
            out = out + xs @ F.softplus(self.u)[:, None] + x[:, self.rest] @ self.v[:, None]
        return out  # (N, 1)

    def gradient(self, x: Tensor) -> Tensor:
        """∇f(x) by autograd, itself differentiable in x and the weights: (N, d) -> (N, 1, d)."""
        keep = torch.is_grad_enabled() or x.requires_grad  # a graph only when someone needs it
        with torch.enable_grad():
            xg = x if x.requires_grad else x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self(xg).sum(), xg, create_graph=keep)
        return grad[:, None, :] if keep else grad.detach()[:, None, :]
