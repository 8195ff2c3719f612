"""Reference networks for section 7, written here from the GradNets formulas (Chaudhari,
Pranav & Moura 2024), independent of `jacnet_cli.gradnets`: the plain gradient networks a
user would train instead of a JacNet, and an MLP R^d -> R^d of a given parameter count.

    mGradNet-C:  g(x) = Wᵀ h(Wx) + c,  per unit u = (Wx)_j:
                 z_1 = β_1 (u + b_1),  z_{i+1} = β_{i+1} (u + b_{i+1}) + α_i σ(z_i),
                 h = α_L σ(z_L),  α, β = softplus(raw)
    mGradNet-M:  g(x) = Σ_m a_m W_mᵀ softmax(b_m (W_m x + c_m)) + c,  a, b = softplus(raw)

Each is written the way one would for speed: the M modules of mGradNet-M as one stacked
matrix, so a forward pass is two matrix products and a softmax.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _uniform(*shape: int, fan_in: int) -> nn.Parameter:
    bound = 1 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))


class CascadeReference(nn.Module):
    """mGradNet-C with `hidden` units, a cascade of `layers`, σ = tanh."""

    def __init__(self, d: int, hidden: int, layers: int = 4):
        super().__init__()
        self.w = _uniform(hidden, d, fan_in=d)  # (H, d)
        self.b = _uniform(layers, hidden, fan_in=d)  # (L, H)
        self.alpha_raw = nn.Parameter(torch.rand(layers, hidden))  # (L, H)
        self.beta_raw = nn.Parameter(torch.rand(layers, hidden))  # (L, H)
        self.c = _uniform(d, fan_in=hidden)  # (d,)

    def forward(self, x: Tensor) -> Tensor:
        alpha, beta = F.softplus(self.alpha_raw), F.softplus(self.beta_raw)  # (L, H)
        u = x @ self.w.T  # (N, H)
        z = beta[0] * (u + self.b[0])
        for i in range(1, self.b.shape[0]):
            z = beta[i] * (u + self.b[i]) + alpha[i - 1] * torch.tanh(z)
        h = alpha[-1] * torch.tanh(z)  # (N, H)
        return h @ self.w + self.c  # (N, d)


class ModularReference(nn.Module):
    """mGradNet-M with `modules` softmax modules of `hidden` units each."""

    def __init__(self, d: int, hidden: int, modules: int = 4):
        super().__init__()
        self.m, self.h = modules, hidden
        self.w = _uniform(modules * hidden, d, fan_in=d)  # (M H, d): W_m stacked
        self.bias = _uniform(modules * hidden, fan_in=d)  # (M H,): c_m stacked
        self.a_raw = nn.Parameter(torch.rand(modules))  # (M,)
        self.b_raw = nn.Parameter(torch.rand(modules))  # (M,)
        self.c = _uniform(d, fan_in=hidden)  # (d,)

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        a, b = F.softplus(self.a_raw), F.softplus(self.b_raw)  # (M,)
        z = (x @ self.w.T + self.bias).view(n, self.m, self.h)  # (N, M, H)
        s = torch.softmax(b[:, None] * z, dim=-1)  # (N, M, H)
        return (a[:, None] * s).reshape(n, self.m * self.h) @ self.w + self.c  # (N, d)


def mlp_width(d: int, parameters: int) -> int:
    """Hidden width of a one-hidden-layer MLP R^d -> R^d with about `parameters` weights:
    d H + H + H d + d = parameters."""
    return max(1, round((parameters - d) / (2 * d + 1)))


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
