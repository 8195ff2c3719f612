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

With `members=K` the network is an ensemble: K such networks (each its own weights and
conditioner; the non-negative layers of all K run as one batched product) and f is their mean, f = (1/K) Σ_k f_k. A mean of
functions each non-decreasing in x_S is non-decreasing in x_S, so the guarantee holds
unchanged. While training, `spread` holds the mean over the batch of the members' variance,
(1/K) Σ_k (f_k - f)²: added to the mean squared error of f it gives exactly the mean of the
members' own squared errors, (1/K) Σ_k (f_k - y)² = (f - y)² + (1/K) Σ_k (f_k - f)², so each
member trains as if alone (a deep ensemble) while early stopping watches the mean
(`MonotoneIn.penalty` adds it when `activation.independent`).

Two more options keep the guarantee for the same reason (they change which monotone function
is fitted, never the signs): `average`, an exponential moving average of the weights that
every evaluation uses (any weights give a monotone f); and `keypoints`, a fixed strictly
increasing C¹ map of each input with many distinct values (a monotone cubic through its
training quantiles), composed before the network: s_i ∂f/∂x_i = (s_i ∂f/∂z_i)(dz_i/dx_i) with
dz_i/dx_i > 0. The tabular benchmark (benchmarks/tabular/README.md) measured all three; none
beat the single network beyond the noise of small tables, so all are off by default.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jacnet_cli.core.nets.mlp import MLP

#: spread (sd) of the free weights of the non-negative layers at initialisation
INIT_SPREAD = 0.3


def _monotone_slopes(kx: Tensor, kz: Tensor) -> Tensor:
    """Fritsch–Carlson slopes at increasing knots (kx (d, P), kz (P,)): at interior knots the
    weighted harmonic mean of the neighbouring secants, at the ends the end secant. Both keep
    the cubic Hermite interpolant monotone (slope / secant <= 3) and every slope > 0."""
    h = kx.diff(dim=1)  # (d, P-1)
    delta = kz.diff() / h  # secants > 0
    w1 = 2 * h[:, 1:] + h[:, :-1]
    w2 = h[:, 1:] + 2 * h[:, :-1]
    inner = (w1 + w2) / (w1 / delta[:, :-1] + w2 / delta[:, 1:])
    return torch.cat([delta[:, :1], inner, delta[:, -1:]], dim=1)


class PartialMonotone(nn.Module):
    """f: R^d -> R, monotone in the inputs `monotone` with the given signs.

    Args:
        d: number of inputs.
        monotone: indices of the monotone inputs.
        signs: +1 (non-decreasing) or -1 (non-increasing) per monotone input.
        hidden: units of each non-negative layer and of the conditioner (per member).
        depth: hidden layers of the conditioner.
        eps: the floor ε >= 0 of each signed partial (ε > 0: strictly monotone).
        linear: add a linear term, non-negative (after the signs) in the monotone inputs.
        members: K networks averaged (an ensemble in one module; 1: a single network).
        keypoints: calibrate each input with many distinct values by a fixed increasing
            monotone cubic map through `keypoints` of its training quantiles to the normal
            scores of those quantiles (`calibrate`; 0: none). An increasing map of an input
            keeps f monotone in it, so skewed columns (crime rates, incomes, lot sizes) are
            spread out without touching the guarantee.
        average: decay of an exponential moving average of the weights (0: none). Each
            training forward first moves the average towards the current weights; in eval
            mode (validation, early stopping, every evaluation) the network computes with
            the averaged weights. Any weights give a monotone f, so the average does too.
    """

    def extra_repr(self) -> str:
        return (f"d={self.d}, monotone inputs={self.mono.tolist()}, signs="
                f"{[int(v) for v in self.signs.tolist()]}, hidden={self.hidden}, eps={self.eps:g}, "
                f"linear={self.u is not None}, members={self.members}, "
                f"parameters={sum(p.numel() for p in self.parameters())}")

    def __init__(self, d: int, monotone: list[int], signs: list[float], hidden: int = 64,
                 depth: int = 1, eps: float = 0.0, linear: bool = False, members: int = 1,
                 average: float = 0.0, keypoints: int = 0):
        super().__init__()
        self.keypoints = keypoints
        if keypoints:  # identity until `calibrate` sees the training inputs
            grid = torch.linspace(-3.0, 3.0, keypoints)
            self.register_buffer("knots_x", grid.repeat(d, 1))  # (d, P)
            self.register_buffer("knots_z", grid.clone())  # (P,)
            self.register_buffer("knots_m", torch.ones(d, keypoints))  # slopes at the knots
        self.d, self.hidden, self.eps, self.members = d, hidden, eps, members
        self.register_buffer("mono", torch.tensor(monotone, dtype=torch.long))
        self.register_buffer("rest", torch.tensor([i for i in range(d) if i not in monotone],
                                                  dtype=torch.long))
        self.register_buffer("signs", torch.tensor(signs, dtype=torch.float64))
        k, m = len(monotone), members
        # Free weights whose softplus are the non-negative ones, started near 0.5 and 2/H so
        # that the pre-activations of both layers start O(1).
        # Stored flat, (K·H, k) and (K·H, H), so that one network (K = 1) has the weights,
        # random draws and state_dict of the single network this module was before members.
        sd = INIT_SPREAD
        self.w1 = nn.Parameter(torch.randn(m * hidden, k) * sd - 0.5)
        # softplus(w) ~ e^w for w << 0: the mean e^{mean + sd²/2} stays that of sd = 0.3
        self.w2 = nn.Parameter(torch.randn(m * hidden, hidden) * sd + math.log(2 / hidden)
                               - (sd ** 2 - 0.09) / 2)
        outputs = 1 + 3 * hidden  # β, b, c, a
        r = int(self.rest.numel())
        if r:  # each member's conditioner of x_R (one MLP, or a list of K)
            mlps = [MLP(r, outputs, hidden, depth, "tanh") for _ in range(m)]
            self.conditioner = mlps[0] if m == 1 else nn.ModuleList(mlps)
            self.free = None
        else:
            self.conditioner = None
            self.free = nn.Parameter(torch.randn(m * outputs) * 0.1)
        self.u = self.v = None
        if linear:  # softplus(-2) = 0.13: a small monotone slope to start from
            self.u = nn.Parameter(torch.full((k,), -2.0))  # (k,)
            self.v = nn.Parameter(torch.zeros(r))  # (d - k,)
        self.spread: Tensor | None = None  # the members' variance at the last training batch
        self.average = average
        self._names = [n for n, _ in self.named_parameters()]
        if average:  # the averaged weights, saved with the model (state_dict)
            for n, p in self.named_parameters():
                self.register_buffer("avg_" + n.replace(".", "_"), p.detach().clone())
            self.register_buffer("avg_updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def calibrate(self, x: Tensor) -> None:
        """Fix each input's knots at its training quantiles (inputs with fewer than 2P
        distinct values, e.g. 0/1 or counts, stay as they are), and the knots' slopes."""
        p = self.keypoints
        levels = (torch.arange(p, dtype=x.dtype) + 0.5) / p
        z = torch.special.ndtri(levels)
        self.knots_z.copy_(z)
        for j in range(self.d):
            col = x[:, j]
            knots = torch.quantile(col, levels)
            if torch.unique(col).numel() < 2 * p or not bool((knots.diff() > 0).all()):
                self.knots_x[j] = z  # identity: z = x
            else:
                self.knots_x[j] = knots
        self.knots_m.copy_(_monotone_slopes(self.knots_x, self.knots_z))

    def _calibrated(self, x: Tensor) -> Tensor:
        """Each input through its increasing map: monotone cubic Hermite between the knots
        (Fritsch–Carlson slopes: C¹, so J is continuous), linear beyond the end knots with
        the end slopes; every slope > 0, so the map is strictly increasing: (N, d) -> (N, d)."""
        kx, kz, km = self.knots_x.to(x), self.knots_z.to(x), self.knots_m.to(x)
        xt = x.T.contiguous()  # (d, N)
        i = torch.searchsorted(kx, xt).clamp(1, kx.shape[1] - 1)  # (d, N)
        x0, x1 = kx.gather(1, i - 1), kx.gather(1, i)
        m0, m1 = km.gather(1, i - 1), km.gather(1, i)
        z0, z1 = kz[i - 1], kz[i]
        h = x1 - x0
        t = (xt - x0) / h
        inside = z0 * (1 + 2 * t) * (1 - t) ** 2 + m0 * h * t * (1 - t) ** 2 \
            + z1 * t ** 2 * (3 - 2 * t) - m1 * h * t ** 2 * (1 - t)
        below = kz[0] + km[:, :1] * (xt - kx[:, :1])
        above = kz[-1] + km[:, -1:] * (xt - kx[:, -1:])
        out = torch.where(xt < kx[:, :1], below, torch.where(xt > kx[:, -1:], above, inside))
        return out.T

    def _update_average(self) -> None:
        with torch.no_grad():
            t = float(self.avg_updates)
            decay = min(self.average, (1 + t) / (10 + t))  # short memory while it is young
            for n, p in self.named_parameters():
                self._buffers["avg_" + n.replace(".", "_")].lerp_(p.detach(), 1 - decay)
            self.avg_updates += 1

    def _w(self, name: str) -> Tensor:
        """The weight `name`: the live one while training, the average in eval mode."""
        if self.average and not self.training:
            return self._buffers["avg_" + name.replace(".", "_")]
        return self.get_parameter(name)

    def _conditions(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        k = self.members
        if self.conditioner is not None:
            xr = x[:, self.rest]
            if self.average and not self.training:  # the conditioners with averaged weights
                weights = {n[len("conditioner."):]: self._w(n) for n in self._names
                           if n.startswith("conditioner.")}
                run = lambda xr: torch.func.functional_call(self.conditioner, weights,  # noqa: E731
                                                            (xr,)) if k == 1 else torch.stack(
                    [torch.func.functional_call(
                        mlp, {n.split(".", 1)[1]: w for n, w in weights.items()
                              if n.split(".", 1)[0] == str(i)}, (xr,))
                     for i, mlp in enumerate(self.conditioner)])
                out = run(xr)
            else:
                out = self.conditioner(xr) if k == 1 else \
                    torch.stack([mlp(xr) for mlp in self.conditioner])
            out = out.reshape(k, x.shape[0], -1)  # (K, N, 1 + 3H)
        else:
            out = self._w("free").reshape(k, 1, -1).expand(-1, x.shape[0], -1)
        h = self.hidden
        beta, b, c, a = out[..., :1], out[..., 1:1 + h], out[..., 1 + h:1 + 2 * h], out[..., 1 + 2 * h:]
        return beta, b, c, F.softplus(a) / h  # / H: the sum of H units starts O(1)

    def members_forward(self, x: Tensor) -> Tensor:
        """Each member's f_k(x) without the ε and linear terms: (N, d) -> (K, N, 1)."""
        beta, b, c, a = self._conditions(x)
        xs = (x[:, self.mono] * self.signs.to(x)).expand(self.members, -1, -1)  # (K, N, k)
        k, h = self.members, self.hidden
        w1 = F.softplus(self._w("w1")).reshape(k, h, -1)  # (K, H, k)
        w2 = F.softplus(self._w("w2")).reshape(k, h, h)  # (K, H, H)
        h = torch.tanh(torch.baddbmm(b, xs, w1.transpose(1, 2)))  # (K, N, H)
        g = torch.tanh(torch.baddbmm(c, h, w2.transpose(1, 2)))  # (K, N, H)
        return beta + (a * g).sum(-1, keepdim=True)  # (K, N, 1)

    def forward(self, x: Tensor) -> Tensor:
        """f(x): (N, d) -> (N, 1)."""
        if self.average and self.training and torch.is_grad_enabled():
            self._update_average()
        if self.keypoints:
            x = self._calibrated(x)
        each = self.members_forward(x)  # (K, N, 1)
        out = each.mean(0)
        if self.training and self.members > 1 and torch.is_grad_enabled():
            self.spread = ((each - out) ** 2).mean()
        xs = x[:, self.mono] * self.signs.to(x)  # (N, k)
        if self.eps:
            out = out + self.eps * xs.sum(-1, keepdim=True)
        if self.u is not None:  # s_i ∂/∂x_i of this term is softplus(u_i) >= 0
            out = out + xs @ F.softplus(self._w("u"))[:, None] \
                + x[:, self.rest] @ self._w("v")[:, None]
        return out  # (N, 1)

    def gradient(self, x: Tensor) -> Tensor:
        """∇f(x) by autograd, itself differentiable in x and the weights: (N, d) -> (N, 1, d)."""
        keep = torch.is_grad_enabled() or x.requires_grad  # a graph only when someone needs it
        with torch.enable_grad():
            xg = x if x.requires_grad else x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self(xg).sum(), xg, create_graph=keep)
        return grad[:, None, :] if keep else grad.detach()[:, None, :]
