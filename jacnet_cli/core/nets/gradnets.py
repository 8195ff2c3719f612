"""Gradient networks: maps g: R^d -> R^d that are gradients by construction, with closed-form J.

These are the Jacobian networks of the `gradient` and `monotone` structures. Each is written
as the gradient map itself, g = ∇φ for a potential φ that is never formed, together with its
Jacobian J = ∇²φ in closed form. So in JacNet's terms J is the learned Jacobian and g is its
exact antiderivative: ŷ(x) = y0 + g(x) - g(x0) needs no quadrature, and D = dŷ/dx = J is
symmetric for every x and every weight (Chaudhari, Pranav & Moura 2024, "Gradient Networks").

- `Cascade` (GradNet-C / mGradNet-C): g(x) = Wᵀ h(W x) + c with h an elementwise profile
  learned per unit by a cascade of `layers` skip-connected nonlinearities, so
  J = Wᵀ diag(h'(Wx)) W. With positive cascade weights and an increasing nonlinearity,
  h' > 0 and J ⪰ 0 (φ is a sum of convex ridge functions).
- `Modular` (GradNet-M / mGradNet-M): g(x) = Σ_m a_m W_mᵀ softmax(b_m (W_m x + c_m)) + c, so
  J = Σ_m a_m b_m W_mᵀ (diag(s_m) - s_m s_mᵀ) W_m; each term is the Hessian of a scaled
  log-sum-exp (convex), PSD when a_m, b_m > 0.

Why these and not the Hessian of a scalar network by autograd: J is a product of the weights
with a diagonal (or softmax-covariance) middle, so J, J v and a bound on ‖J‖ over all x are
cheap and exact; g costs one network pass, like the MLP it replaces; and the guarantee does
not depend on the solver. The autograd Hessian of an ICNN gives the same guarantee at d
backward passes per J.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Elementwise nonlinearities σ with σ' (for J) and sup σ' (for the eigenvalue bound).
# All increasing, so the monotone cascade may use any of them.
NONLINEARITIES = {
    "tanh": (torch.tanh, lambda z: 1 / torch.cosh(z) ** 2, 1.0),
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * torch.sigmoid(-z), 0.25),
    "softplus": (F.softplus, torch.sigmoid, 1.0),
}


#: widths up to this start as GradNets' code does; wider cascades are scaled to it
REFERENCE_WIDTH = 8


def _uniform(shape: tuple[int, ...], fan_in: int) -> Tensor:
    k = 1 / math.sqrt(fan_in)
    return (torch.rand(shape) * 2 - 1) * k


def _inverse_softplus(y: Tensor) -> Tensor:
    return y + torch.log(-torch.expm1(-y))


def weighted_gram(weight: Tensor, coeffs: Tensor) -> Tensor:
    """Σ_h c_nh w_h w_hᵀ for rows w_h of weight (H, d) and coefficients (N, H): (N, d, d).

    One GEMM of the coefficients against the rows' outer products (H x d², built once per
    call): 4-5x faster than the equivalent einsum at d = 8-64 on one CPU thread.
    """
    h, d = weight.shape
    outer = (weight[:, :, None] * weight[:, None, :]).reshape(h, d * d)  # (H, d²)
    return (coeffs @ outer).reshape(-1, d, d)


class GradientNetwork(nn.Module):
    """Base class: a gradient map g (N, d) -> (N, d) with its Jacobian in closed form."""

    monotone: bool = True

    def forward(self, x: Tensor) -> Tensor:
        """g(x): (N, d) -> (N, d)."""
        raise NotImplementedError

    def jacobian(self, x: Tensor) -> Tensor:
        """J(x) = dg/dx, symmetric: (N, d) -> (N, d, d)."""
        raise NotImplementedError

    def jvp(self, x: Tensor, v: Tensor) -> Tensor:
        """J(x) v without forming J: (N, d), (N, d) -> (N, d)."""
        return (self.jacobian(x) @ v.unsqueeze(-1)).squeeze(-1)

    def bound(self) -> Tensor:
        """An upper bound on ‖J(x)‖₂ over all x, from the weights alone (a scalar)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        layers = getattr(self, "layers", None)
        depth = f"layers={layers}" if layers is not None else f"modules={getattr(self, 'count', '?')}"
        parts = [f"d={self.d}", f"hidden={self.hidden}", depth,
                 "monotone" if self.monotone else "free signs"]
        if getattr(self, "nonlinearity", None):
            parts.append(f"nonlinearity={self.nonlinearity}")
        return ", ".join(parts) + f", parameters={sum(p.numel() for p in self.parameters())}"


class Cascade(GradientNetwork):
    """GradNet-C (monotone=False) or mGradNet-C (monotone=True): g = Wᵀ h(Wx) + c.

    Per hidden unit j with u = (Wx)_j the profile is the cascade
        z_1 = β_1 (u + b_1),   z_{i+1} = β_{i+1} (u + b_{i+1}) + α_i σ(z_i),   h = α_L σ(z_L),
    and h' follows it by the chain rule. With monotone=True, α = softplus(·) > 0 and
    β = softplus(·) > 0, so h' > 0 for increasing σ and J = Wᵀ diag(h') W ⪰ 0.

    Args:
        d: input (= output) dimension.
        hidden: units (rows of W).
        layers: cascade depth L >= 1.
        monotone: positive cascade weights (J ⪰ 0) or free signs (J symmetric only).
        nonlinearity: σ, one of NONLINEARITIES.
    """

    def __init__(self, d: int, hidden: int, layers: int = 4, monotone: bool = True,
                 nonlinearity: str = "tanh"):
        super().__init__()
        self.d, self.hidden, self.layers, self.monotone = d, hidden, layers, monotone
        self.nonlinearity = nonlinearity
        self.weight = nn.Parameter(_uniform((hidden, d), d))  # (H, d)
        self.bias = nn.Parameter(_uniform((layers, hidden), d))  # (L, H)
        self.out_bias = nn.Parameter(_uniform((d,), hidden))  # (d,)
        if monotone:  # softplus of these raw values are the positive weights
            self.alpha = nn.Parameter(torch.rand(layers, hidden))  # (L, H)
            self.beta = nn.Parameter(torch.rand(layers, hidden))  # (L, H)
        else:
            self.alpha = nn.Parameter(torch.rand(layers, hidden) - 0.5)
            self.beta = nn.Parameter(torch.rand(layers, hidden) - 0.5)
        self._normalise_start()

    def _normalise_start(self) -> None:
        """Keep J = Wᵀ diag(h') W of order one at the start, whatever the width.

        J sums H terms h'_j w_j w_jᵀ, all positive when monotone: it grows like H (at H = 128
        the network starts with ‖J‖ ~ 16 in standard units, and the 2-D ICGN target then
        stalled at -15 dB after 2,000 steps), like sqrt(H) with free signs. The last cascade
        weights α_L are scaled by REFERENCE_WIDTH / H (monotone) or its square root (free
        signs), so a network of REFERENCE_WIDTH units or fewer (GradNets' 2-D benchmarks:
        7) starts exactly as before. Monotone: scaling softplus(α_L), so its raw value
        shifts (Adam's steps on it are then multiplicative, as on a log scale).
        """
        if self.hidden <= REFERENCE_WIDTH:
            return
        ratio = REFERENCE_WIDTH / self.hidden
        with torch.no_grad():
            if self.monotone:
                self.alpha[-1] = _inverse_softplus(F.softplus(self.alpha[-1]) * ratio)
            else:
                self.alpha[-1] *= math.sqrt(ratio)

    def _weights(self) -> tuple[Tensor, Tensor]:
        if self.monotone:
            return F.softplus(self.alpha), F.softplus(self.beta)  # (L, H) each
        return self.alpha, self.beta

    def profile(self, u: Tensor, derivative: bool = True) -> tuple[Tensor, Tensor | None]:
        """h(u) and h'(u), elementwise over the hidden units: u (N, H) -> (N, H), (N, H)."""
        act, dact, _ = NONLINEARITIES[self.nonlinearity]
        alpha, beta = self._weights()
        z = beta[0] * (u + self.bias[0])  # (N, H)
        dz = beta[0].expand_as(z) if derivative else None
        for i in range(1, self.layers):
            s = act(z)
            if derivative:
                dz = beta[i] + alpha[i - 1] * dact(z) * dz
            z = beta[i] * (u + self.bias[i]) + alpha[i - 1] * s
        h = alpha[-1] * act(z)
        dh = alpha[-1] * dact(z) * dz if derivative else None
        return h, dh

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.profile(x @ self.weight.T, derivative=False)  # (N, H)
        return h @ self.weight + self.out_bias  # (N, d)

    def jacobian(self, x: Tensor) -> Tensor:
        _, dh = self.profile(x @ self.weight.T)  # (N, H)
        return weighted_gram(self.weight, dh)  # (N, d, d)

    def jvp(self, x: Tensor, v: Tensor) -> Tensor:
        _, dh = self.profile(x @ self.weight.T)  # (N, H)
        return (dh * (v @ self.weight.T)) @ self.weight  # (N, d)

    def bound(self) -> Tensor:
        # sup h' <= α_L sup σ' D_L with D_1 = β_1, D_{i+1} = β_{i+1} + α_i sup σ' D_i.
        _, _, top = NONLINEARITIES[self.nonlinearity]
        alpha, beta = (w.abs() for w in self._weights())
        dz = beta[0]
        for i in range(1, self.layers):
            dz = beta[i] + alpha[i - 1] * top * dz
        sup = (alpha[-1] * top * dz).max()
        return sup * torch.linalg.matrix_norm(self.weight, ord=2) ** 2


class Modular(GradientNetwork):
    """GradNet-M (monotone=False) or mGradNet-M (monotone=True): sums of softmax modules.

        g(x) = Σ_m a_m W_mᵀ softmax(b_m (W_m x + c_m)) + c,   b_m = softplus(·) > 0,

    and a_m = softplus(·) > 0 when monotone. softmax is the gradient of log-sum-exp, whose
    Hessian diag(s) - s sᵀ is PSD with norm <= 1/2 (Böhning), so each module is the gradient
    of a convex function of x.

    Args:
        d: input (= output) dimension.
        hidden: units per module (rows of each W_m).
        modules: number of modules M >= 1.
        monotone: positive module weights (J ⪰ 0) or free signs (J symmetric only).
    """

    def __init__(self, d: int, hidden: int, modules: int = 4, monotone: bool = True):
        super().__init__()
        self.d, self.hidden, self.count, self.monotone = d, hidden, modules, monotone
        self.weight = nn.Parameter(_uniform((modules, hidden, d), d))  # (M, H, d)
        self.bias = nn.Parameter(_uniform((modules, hidden), d))  # (M, H)
        self.scale = nn.Parameter(torch.rand(modules))  # (M,) b = softplus(scale)
        self.mix = nn.Parameter(torch.rand(modules) if monotone else torch.randn(modules))  # (M,)
        self.out_bias = nn.Parameter(_uniform((d,), hidden))  # (d,)

    def _coefficients(self) -> tuple[Tensor, Tensor]:
        a = F.softplus(self.mix) if self.monotone else self.mix
        return a, F.softplus(self.scale)  # (M,), (M,)

    def _softmax(self, x: Tensor) -> Tensor:
        _, b = self._coefficients()
        z = torch.einsum("nd,mhd->nmh", x, self.weight) + self.bias  # (N, M, H)
        return torch.softmax(b[:, None] * z, dim=-1)  # (N, M, H)

    def forward(self, x: Tensor) -> Tensor:
        a, _ = self._coefficients()
        s = self._softmax(x)  # (N, M, H)
        return torch.einsum("m,nmh,mhd->nd", a, s, self.weight) + self.out_bias  # (N, d)

    def _hessian(self, s: Tensor, ab: Tensor) -> Tensor:
        """Σ_m a_m b_m W_mᵀ (diag(s_m) - s_m s_mᵀ) W_m: (N, M, H), (M,) -> (N, d, d).

        The first term is `weighted_gram` over all M H rows.
        """
        m, h, d = self.weight.shape
        second = weighted_gram(self.weight.reshape(m * h, d), (s * ab[:, None]).reshape(-1, m * h))
        mean = torch.einsum("nmh,mhd->nmd", s, self.weight)  # (N, M, d): W_mᵀ s_m
        return second - (mean * ab[:, None]).transpose(1, 2) @ mean  # (N, d, d)

    def jacobian(self, x: Tensor) -> Tensor:
        a, b = self._coefficients()
        return self._hessian(self._softmax(x), a * b)  # (N, d, d)

    def jvp(self, x: Tensor, v: Tensor) -> Tensor:
        a, b = self._coefficients()
        s = self._softmax(x)  # (N, M, H)
        wv = torch.einsum("mhd,nd->nmh", self.weight, v)  # (N, M, H)
        inner = s * (wv - (s * wv).sum(-1, keepdim=True))  # (diag(s) - s sᵀ) W v
        return torch.einsum("m,nmh,mhd->nd", a * b, inner, self.weight)  # (N, d)

    def bound(self) -> Tensor:
        a, b = self._coefficients()
        norms = torch.linalg.matrix_norm(self.weight, ord=2)  # (M,)
        return 0.5 * (a.abs() * b * norms**2).sum()


class Mixed(GradientNetwork):
    """The sum of a cascade and a modular network: g = g_C + g_M, J = J_C + J_M.

    A sum of gradient maps is a gradient map, and a sum of monotone ones is monotone
    (J_C, J_M ⪰ 0), so the guarantee is the parts'. Why: the two families cover different
    potentials. Ridge sums (cascade) fit separable and polynomial potentials (the 2-D ICGN
    target -54 dB against the modular form's -45); softmax modules are gradients of
    log-sum-exp, which ridge sums approximate poorly in several dimensions (an 8-D potential
    with a log-sum-exp part: cascade -15 dB, modular -29). The sum fits both.

    Args:
        d: input (= output) dimension.
        hidden: units of the cascade, and of each module.
        layers: cascade depth, and number of modules.
        monotone: positive weights in both parts (J ⪰ 0).
        nonlinearity: the cascade's σ.
    """

    def __init__(self, d: int, hidden: int, layers: int = 4, monotone: bool = True,
                 nonlinearity: str = "tanh"):
        super().__init__()
        self.d, self.hidden, self.layers, self.monotone = d, hidden, layers, monotone
        self.nonlinearity = nonlinearity
        self.cascade = Cascade(d, hidden, layers, monotone, nonlinearity)
        self.modular = Modular(d, hidden, layers, monotone)

    def forward(self, x: Tensor) -> Tensor:
        return self.cascade(x) + self.modular(x)

    def jacobian(self, x: Tensor) -> Tensor:
        return self.cascade.jacobian(x) + self.modular.jacobian(x)

    def jvp(self, x: Tensor, v: Tensor) -> Tensor:
        return self.cascade.jvp(x, v) + self.modular.jvp(x, v)

    def bound(self) -> Tensor:
        return self.cascade.bound() + self.modular.bound()


NETWORKS = {"cascade": Cascade, "modular": Modular, "mixed": Mixed}
