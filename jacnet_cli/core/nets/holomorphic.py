"""Complex-differentiable maps C -> C (as R² -> R²) by construction, for ŷ as evaluated: the
network of the `cauchy_riemann` structure.

JacNet's idea in one complex dimension: a network g(z), holomorphic in z = x_0 + i x_1, learns
the complex derivative f'(z), and ŷ is its integral from the anchor. Every operation on z
(complex affine maps, sin, exp, sums, products) is holomorphic, so ŷ is a holomorphic
function of z whatever the integration error, and its real Jacobian D = dŷ/dx has the
Cauchy–Riemann form [[a, -b], [b, a]] at every point. The paper's form (an MLP whose outputs
are arranged as [[a, -b], [b, a]]) puts that form on J only: in 2-D an MLP's J is not a
conservative field, so the integrated ŷ is not holomorphic (paper section 4.5).

    h(z) = Σ_j c_j sin(a_j z + b_j) + d + e z           (one layer of complex units; `depth`
                                                         stacks more: sin(W sin(...)))
    g(z) = h(z),   or  g(z) = exp(h(z))  (`nonvanishing`: g never vanishes, anywhere)

    P(z) = ∫₀^z g   in closed form when g = h has one layer:
           Σ_j c_j z sin(a_j z/2 + b_j) sinc(a_j z/2) + d z + e z²/2,
           (cos b - cos(a z + b) = 2 sin(a z/2 + b) sin(a z/2), so small |a| loses nothing)
         ≈ z Σ_k w_k g(t_k z)   (K-node Gauss–Legendre on [0, 1]) otherwise: still
           holomorphic in z for any K, so the guarantee does not depend on K; only how
           closely ŷ' follows g does.

ŷ = y0 + P(z) - P(z0) (the model's anchor). `derivative` returns P' exactly: g itself for the
closed form, Σ_k w_k (g(t_k z) + t_k z g'(t_k z)) for the quadrature (g' by forward mode).

Why sin: entire (no poles anywhere; tanh and the complex sigmoid have poles at iπ/2 + iπn
that can sit next to the data), bounded and oscillating on the real axis, a Fourier-like
basis with complex frequencies. The price of being entire (Liouville): |sin(p + iq)| grows
like e^|q|/2 off the axis, so the network extrapolates with growth. The linear term e z makes
the linear part of f' exact (the z² target: +2 dB; others ±0.3 dB in the prototype study).

Arithmetic: torch's complex tensors. Autograd then returns the real Jacobian as Re/Im of one
complex number, so the Cauchy–Riemann residual is exactly 0.0, bit for bit, in float32 and
float64, at any point (the same formulas in real arithmetic agree only to rounding relative
to the terms, 0.1 at 32 nodes on a 10x box in the prototype).

min_modulus m > 0 (needs nonvanishing): |g| >= m cannot hold on all of C for a non-constant
entire g (Liouville: 1/g would be bounded and entire), so it is kept on a box (`box`, set
from the run's guarantee box). With g = exp(h), |g| >= m on the box iff Re h >= log m there,
and Re h is harmonic, so its minimum over the box is on the boundary (minimum principle).
`modulus_floor` bounds it from below by disc arithmetic on boundary segments (a certified
L <= min Re h), and the evaluated network uses h + max(0, log m - L): a positive factor on g,
1 once the fitted g clears m. The shift is applied in evaluation mode only: enforcing it
inside the training loss cost 20-30 dB in the prototype study (the fit becomes blind to h's
constant while the shift binds), and a detached shift diverged. So the function as evaluated
(`model.eval()`, which every jacnet evaluation uses) has |g| >= m on the box, certified; ŷ'
follows g up to the quadrature error, which is measured (`modulus_min`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor, nn

from jacnet_cli.core import checks


#: the first layer's complex weights start with this standard deviation (model units)
FIRST_SCALE = 1.0


@functools.lru_cache(maxsize=32)
def _legendre(k: int) -> tuple[np.ndarray, np.ndarray]:
    u, w = np.polynomial.legendre.leggauss(k)
    return (u + 1) / 2, w / 2  # nodes and weights on [0, 1]


def to_complex(x: Tensor) -> Tensor:
    """(N, 2) real -> (N,) complex, z = x_0 + i x_1."""
    return torch.complex(x[..., 0], x[..., 1])


def to_real(z: Tensor) -> Tensor:
    """(N,) complex -> (N, 2) real (Re, Im)."""
    return torch.stack([z.real, z.imag], dim=-1)


def cr_matrix(w: Tensor) -> Tensor:
    """The real Jacobian [[a, -b], [b, a]] of multiplication by w = a + ib: (N,) -> (N, 2, 2)."""
    top = torch.stack([w.real, -w.imag], dim=-1)  # (N, 2)
    bottom = torch.stack([w.imag, w.real], dim=-1)  # (N, 2)
    return torch.stack([top, bottom], dim=-2)  # (N, 2, 2)


def sinc(u: Tensor) -> Tensor:
    """sin(u)/u for complex u, 1 at u = 0 (Taylor below |u| < 1e-4): (M,) -> (M,)."""
    small = u.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(u), u)
    return torch.where(small, 1 - u * u / 6, torch.sin(safe) / safe)


class ComplexLinear(nn.Module):
    """u = W z + b with complex W (n_out, n_in) and b (n_out,), stored as real pairs so that
    `.double()`, state dicts and every optimiser see ordinary real parameters."""

    def __init__(self, n_in: int, n_out: int, scale: float, bias_scale: float):
        super().__init__()
        self.w_re = nn.Parameter(torch.randn(n_out, n_in) * scale / math.sqrt(2))
        self.w_im = nn.Parameter(torch.randn(n_out, n_in) * scale / math.sqrt(2))
        self.b_re = nn.Parameter((torch.rand(n_out) * 2 - 1) * bias_scale)
        # Real biases to start: Im u small on the data, so |sin u| ~ 1 there, not cosh(π).
        self.b_im = nn.Parameter(torch.zeros(n_out))

    def weight(self) -> Tensor:
        return torch.complex(self.w_re, self.w_im)  # (n_out, n_in)

    def bias(self) -> Tensor:
        return torch.complex(self.b_re, self.b_im)  # (n_out,)

    def forward(self, z: Tensor) -> Tensor:
        return z @ self.weight().T + self.bias()  # (M, n_out)

    def extra_repr(self) -> str:
        return f"{self.w_re.shape[1]} -> {self.w_re.shape[0]} complex"


class HolomorphicNet(nn.Module):
    """ŷ - y0 = P(z): C -> C (R² -> R²), holomorphic by construction (see the module docstring).

    Args:
        units: complex units per hidden layer (a complex parameter counts as 2 real ones).
        depth: hidden layers (1: P in closed form; more: Gauss–Legendre with `nodes`).
        nodes: Gauss–Legendre nodes K >= 1 for a P with no closed form.
        nonvanishing: g = exp(h), never zero (ŷ locally invertible where ŷ' ≈ g).
        min_modulus: m >= 0; m > 0 keeps |g| >= m on `box` in evaluation mode (needs
            nonvanishing).
        segments: boundary segments per box edge for the certificate.
        linear: add the complex linear term e z to h.

    Example:
        >>> net = HolomorphicNet(units=16)
        >>> y = net(torch.randn(5, 2))             # (5, 2)
        >>> d = net.derivative(torch.randn(5, 2))  # (5, 2, 2), [[a, -b], [b, a]]
    """

    def __init__(self, units: int = 32, depth: int = 1, nodes: int = 8,
                 nonvanishing: bool = False, min_modulus: float = 0.0, segments: int = 64,
                 linear: bool = True):
        super().__init__()
        self.units = checks.integer("activation.units", units, 1)
        self.depth = checks.integer("activation.layers", depth, 1)
        self.nodes = checks.integer("activation.nodes", nodes, 1)
        self.segments = checks.integer("activation.segments", segments, 1)
        self.nonvanishing = checks.boolean("activation.nonvanishing", nonvanishing)
        self.min_modulus = checks.nonnegative("activation.min_modulus", min_modulus)
        if self.min_modulus > 0 and not self.nonvanishing:
            raise checks.refuse("activation.nonvanishing", nonvanishing,
                                "it must be true with activation.min_modulus > 0 (g = exp(h))")
        self.linear = checks.boolean("activation.linear", linear)
        self.layers = nn.ModuleList(
            [ComplexLinear(1, units, FIRST_SCALE, math.pi)]
            + [ComplexLinear(units, units, 1.0 / math.sqrt(units), 0.5) for _ in range(depth - 1)])
        # g = exp(h) starts at h = 0, g = 1 (ŷ the identity): a random h would make exp(h)
        # doubly exponential in |z| (|sin| grows like e^|Im u|) and overflow a few data
        # widths away; g = h starts random.
        self.out = ComplexLinear(units, 1, 0.0 if nonvanishing else 0.5 / math.sqrt(units), 0.0)
        self.e = nn.Parameter(torch.zeros(2)) if self.linear else None
        # The certificate's box (re_min, re_max, im_min, im_max) in the model's units; NaN
        # until the data set it (saved with the state dict).
        self.register_buffer("box", torch.full((4,), math.nan, dtype=torch.float64))

    @property
    def closed_form(self) -> bool:
        """Whether P = ∫ g is in closed form (one layer, g = h)."""
        return self.depth == 1 and not self.nonvanishing

    def extra_repr(self) -> str:
        parts = [f"units={self.units}", f"depth={self.depth}",
                 "P in closed form" if self.closed_form else f"nodes={self.nodes}"]
        if self.nonvanishing:
            parts.append("g = exp(h)")
        if self.min_modulus > 0:
            parts.append(f"|g| >= {self.min_modulus:g} on the box")
        return ", ".join(parts)

    # -- h, g and their derivatives ------------------------------------------------------

    def _e(self) -> Tensor | None:
        return torch.complex(self.e[0], self.e[1]) if self.e is not None else None

    def h(self, z: Tensor, derivative: bool = False) -> tuple[Tensor, Tensor | None]:
        """h(z) and (if asked) h'(z) by forward mode: (M,) complex -> (M,), (M,) | None."""
        s, ds = z[:, None], None  # (M, 1)
        for i, layer in enumerate(self.layers):
            u = layer(s)  # (M, H)
            if derivative:
                w = layer.weight()  # (H, n_in)
                du = w[:, 0].expand(z.shape[0], -1) if i == 0 else ds @ w.T  # (M, H)
                ds = torch.cos(u) * du
            s = torch.sin(u)
        out = self.out(s)[:, 0]  # (M,)
        dout = (ds @ self.out.weight().T)[:, 0] if derivative else None
        e = self._e()
        if e is not None:
            out = out + e * z
            dout = dout + e if derivative else None
        return out, dout

    def shift(self) -> float:
        """max(0, log m - L): the constant added to h in evaluation mode so that |g| >= m on
        the box (0 when training, without min_modulus, or before the box is set)."""
        if self.min_modulus <= 0 or self.training or bool(torch.isnan(self.box).any()):
            return 0.0
        with torch.no_grad():
            return max(0.0, math.log(self.min_modulus) - float(self.modulus_floor()))

    def g(self, z: Tensor, derivative: bool = False) -> tuple[Tensor, Tensor | None]:
        """The learned complex derivative g(z) and (if asked) g'(z): (M,) complex -> (M,) x2."""
        h, dh = self.h(z, derivative)
        if not self.nonvanishing:
            return h, dh
        g = torch.exp(h + self.shift())
        return g, (g * dh if derivative else None)

    # -- the function and its derivative -------------------------------------------------

    def _z(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"HolomorphicNet takes x of shape (N, 2) = (Re z, Im z), got "
                             f"{tuple(x.shape)}")
        return to_complex(x)

    def _nodes(self, x: Tensor) -> tuple[Tensor, Tensor]:
        t, w = _legendre(self.nodes)
        return (torch.as_tensor(t, dtype=x.dtype, device=x.device),
                torch.as_tensor(w, dtype=x.dtype, device=x.device))

    def forward(self, x: Tensor) -> Tensor:
        """P(z) = ∫₀^z g, with P(0) = 0: (N, 2) -> (N, 2)."""
        z = self._z(x)  # (N,)
        if self.closed_form:
            layer = self.layers[0]
            a, b = layer.weight()[:, 0], layer.bias()  # (H,)
            half = z[:, None] * (a / 2)  # (N, H)
            terms = z[:, None] * torch.sin(half + b) * sinc(half)  # (N, H): ∫₀^z sin(a s + b) ds
            p = (terms @ self.out.weight().T)[:, 0] + self.out.bias()[0] * z  # (N,)
            e = self._e()
            if e is not None:
                p = p + e * z * z / 2
            return to_real(p)
        t, w = self._nodes(x)
        path = z[:, None] * t[None, :]  # (N, K)
        gk, _ = self.g(path.reshape(-1))
        return to_real(z * (gk.reshape(path.shape) @ w.to(gk.dtype)))  # (N, 2)

    def derivative(self, x: Tensor) -> Tensor:
        """D = dP/dx exactly, as [[a, -b], [b, a]] with a + ib = P'(z): (N, 2) -> (N, 2, 2)."""
        z = self._z(x)
        if self.closed_form:
            return cr_matrix(self.g(z)[0])
        t, w = self._nodes(x)
        path = z[:, None] * t[None, :]  # (N, K)
        gk, dgk = self.g(path.reshape(-1), derivative=True)
        gk, dgk = gk.reshape(path.shape), dgk.reshape(path.shape)
        return cr_matrix((gk + path * dgk) @ w.to(gk.dtype))  # P' = Σ w_k (g + t_k z g')

    def learned(self, x: Tensor) -> Tensor:
        """The learned g as [[a, -b], [b, a]]: (N, 2) -> (N, 2, 2)."""
        return cr_matrix(self.g(self._z(x))[0])

    # -- the min-modulus certificate -----------------------------------------------------

    def _disc_bound(self, center: Tensor, radius: Tensor) -> tuple[Tensor, Tensor]:
        """h at disc centres and R with |h(z) - h(c)| <= R for |z - c| <= r.

        |sin u - sin u_c| <= |u - u_c| sup|cos| over the disc, and |cos(p + iq)| <= cosh q.
        center (S,) complex, radius (S,) real -> h(c) (S,) complex, R (S,) real.
        """
        s, rad = center[:, None], radius[:, None]  # (S, 1)
        for layer in self.layers:
            u = layer(s)  # (S, H)
            rad_u = rad @ layer.weight().abs().T  # (S, H)
            s, rad = torch.sin(u), rad_u * torch.cosh(u.imag.abs() + rad_u)
        h, rad_h = self.out(s)[:, 0], (rad @ self.out.weight().abs().T)[:, 0]  # (S,)
        e = self._e()
        if e is not None:
            h, rad_h = h + e * center, rad_h + e.abs() * radius
        return h, rad_h

    def modulus_floor(self, box: Tensor | None = None) -> Tensor:
        """A certified L <= min of Re h over the box (its boundary, by the minimum principle
        for the harmonic Re h): a scalar tensor."""
        box = self.box if box is None else box
        if bool(torch.isnan(box).any()):
            raise ValueError("the min_modulus certificate needs a box; a model built from data "
                             "has one (the run's guarantee box)")
        lo_re, hi_re, lo_im, hi_im = (float(v) for v in box)
        n = self.segments
        dtype = self.out.w_re.dtype
        cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        f = ((torch.arange(n, dtype=torch.float64) + 0.5) / n).to(cdtype)  # (n,)
        corners = [complex(lo_re, lo_im), complex(hi_re, lo_im), complex(hi_re, hi_im),
                   complex(lo_re, hi_im)]
        mids, radii = [], []
        for a, b in zip(corners, corners[1:] + corners[:1]):
            mids.append(a + (b - a) * f)
            radii.append(torch.full((n,), abs(b - a) / (2 * n), dtype=dtype))
        hc, rad = self._disc_bound(torch.cat(mids).to(self.out.w_re.device),
                                   torch.cat(radii).to(self.out.w_re.device))
        return (hc.real - rad).min()

    def certified_min_modulus(self) -> float:
        """A certified lower bound on min |g| over the box, as evaluated (nonvanishing)."""
        if not self.nonvanishing:
            return 0.0  # a plain g may vanish
        with torch.no_grad():
            return math.exp(float(self.modulus_floor()) + self.shift())

    def set_box(self, lo: Tensor, hi: Tensor, margin: float = 0.0) -> None:
        """Certify on the box [lo, hi] (model units, (2,) each), widened by `margin` of its width."""
        width = hi - lo
        lo, hi = lo - margin * width, hi + margin * width
        self.box.copy_(torch.stack([lo[0], hi[0], lo[1], hi[1]]).to(self.box))
