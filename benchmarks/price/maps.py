"""The price benchmark's maps: each has the property of one structure, in closed form, with
the sampling box of its data. None of them is a jacnet target or appears in a test.

Every map is a function `f(x)` of a float64 (N, d_x) tensor returning (N, d_y), written so
that the property can be read off the formula:

- invertible: compositions of rotations, reflections, triangular maps with positive diagonals,
  shears (area-preserving) and contractive residual steps x + g(x) with Lip(g) < 1;
- lipschitz (k = 1): signed distance fields (a distance is 1-Lipschitz; a union's min of
  distance fields is too) and orthogonal mixtures of 1-Lipschitz profiles, ‖D‖₂ <= 1;
- cauchy_riemann: compositions of holomorphic functions of z = x_0 + i x_1;
- monotone: gradients of convex potentials (with a strongly convex quadratic part).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

F64 = torch.float64


@dataclass
class Map:
    name: str
    structure: str  # the jacnet activation whose guarantee the map has
    d_x: int
    d_y: int
    f: Callable[[Tensor], Tensor]
    low: float = -1.0  # the data's box, [low, high]^d_x
    high: float = 1.0
    note: str = ""


def _rotation(d: int, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=F64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _rot2(angle: float) -> Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=F64)


# -- invertible -----------------------------------------------------------------------------

def poly_flip(x: Tensor) -> Tensor:
    """A polynomial bijection of the plane with det D < 0: a reflection after a triangular
    cubic (diagonal 1 + 0.9 u₀² > 0, 1) between two rotations."""
    u = x @ _rot2(0.9).T
    v = torch.stack([u[:, 0] + 0.3 * u[:, 0] ** 3, u[:, 1] + 0.5 * u[:, 0] ** 2 - 0.2 * u[:, 0]], 1)
    return (v @ _rot2(-0.5).T) * torch.tensor([1.0, -1.0], dtype=F64)


def area_preserving(x: Tensor) -> Tensor:
    """Two shears, det D = 1 everywhere: (p, q) -> (p, q + 0.9 sin 2p), then
    (p, q) -> (p + 0.7 tanh(1.5 q), q)."""
    p, q = x[:, 0], x[:, 1] + 0.9 * torch.sin(2 * x[:, 0])
    return torch.stack([p + 0.7 * torch.tanh(1.5 * q), q], 1)


def residual(d: int, seed: int, gain: float = 0.8) -> Callable[[Tensor], Tensor]:
    """x -> Q₂ (u + 0.5 tanh(B u + c)), u = Q₁ x, ‖B‖₂ = 2·gain·... so Lip(0.5 tanh(B·)) =
    gain < 1: a contractive residual step, a bijection of R^d (det D > 0)."""
    g = torch.Generator().manual_seed(seed)
    q1, q2 = _rotation(d, seed + 1), _rotation(d, seed + 2)
    b = torch.randn(d, d, generator=g, dtype=F64)
    b = b * (2 * gain / float(torch.linalg.matrix_norm(b, ord=2)))
    c = 0.5 * torch.randn(d, generator=g, dtype=F64)

    def f(x: Tensor) -> Tensor:
        u = x @ q1.T
        return (u + 0.5 * torch.tanh(u @ b.T + c)) @ q2.T
    return f


# -- lipschitz (k = 1) ----------------------------------------------------------------------

def _sdf_box(p: Tensor, half: Tensor) -> Tensor:
    q = p.abs() - half
    outside = torch.linalg.vector_norm(q.clamp_min(0), dim=-1)
    inside = q.max(-1).values.clamp_max(0)
    return outside + inside


def sdf2(x: Tensor) -> Tensor:
    """Signed distance to a disc ∪ a rotated rectangle (min of two signed distances)."""
    disc = torch.linalg.vector_norm(x - torch.tensor([-0.45, -0.1], dtype=F64), dim=-1) - 0.35
    p = (x - torch.tensor([0.35, 0.2], dtype=F64)) @ _rot2(0.5)  # into the box's frame
    box = _sdf_box(p, torch.tensor([0.22, 0.45], dtype=F64))
    return torch.minimum(disc, box)[:, None]


def sdf3(x: Tensor) -> Tensor:
    """Signed distance to a torus ∪ a sphere ∪ a box in 3-D."""
    p = x - torch.tensor([0.0, 0.0, -0.2], dtype=F64)
    ring = torch.linalg.vector_norm(p[:, :2], dim=-1) - 0.5
    torus = torch.sqrt(ring ** 2 + p[:, 2] ** 2) - 0.18
    sphere = torch.linalg.vector_norm(x - torch.tensor([0.3, -0.3, 0.45], dtype=F64), dim=-1) - 0.3
    box = _sdf_box(x - torch.tensor([-0.5, 0.45, 0.4], dtype=F64),
                   torch.tensor([0.2, 0.25, 0.3], dtype=F64))
    return torch.minimum(torch.minimum(torch.minimum(torch.minimum(torus, sphere), box),
                                       torus), sphere)[:, None]


PROFILES = {
    "sin": torch.sin,
    "abs": lambda u: u.abs() - 0.5,
    "tanh": lambda u: 0.5 * torch.tanh(2 * u),
    "huber": lambda u: torch.where(u.abs() <= 0.5, u * u, u.abs() - 0.25),
    "cos": lambda u: torch.cos(u),
    "softabs": lambda u: torch.sqrt(u * u + 0.05),
}


def mixture(d_x: int, d_y: int, profiles: list[str], seed: int) -> Callable[[Tensor], Tensor]:
    """x -> P [p_1(u_1), ..., p_m(u_m)], u = (Q x)_{1..m}: Q orthogonal, P (d_y, m) with
    orthonormal rows, each profile 1-Lipschitz, so ‖D‖₂ <= ‖P‖ max|p'| ‖Q‖ <= 1."""
    m = len(profiles)
    q = _rotation(d_x, seed)[:m]  # (m, d_x), orthonormal rows
    p = _rotation(m, seed + 7)[:d_y]  # (d_y, m), orthonormal rows
    scale = 2.0  # profiles see u at twice the box (more turns), then a half: still 1-Lipschitz

    def f(x: Tensor) -> Tensor:
        u = x @ q.T
        v = torch.stack([PROFILES[name](scale * u[:, i]) / scale for i, name in
                         enumerate(profiles)], 1)
        return v @ p.T
    return f


# -- cauchy_riemann -------------------------------------------------------------------------

def _z(x: Tensor) -> Tensor:
    return torch.complex(x[:, 0], x[:, 1])


def _xy(z: Tensor) -> Tensor:
    return torch.stack([z.real, z.imag], 1)


def conformal(x: Tensor) -> Tensor:
    """log(z + 2) + 0.3 z: holomorphic on Re z > -2, f' = 1/(z + 2) + 0.3 ≠ 0 there."""
    z = _z(x)
    return _xy(torch.log(z + 2) + 0.3 * z)


def entire(x: Tensor) -> Tensor:
    """sin(1.5 z) + 0.25 z³: entire."""
    z = _z(x)
    return _xy(torch.sin(1.5 * z) + 0.25 * z ** 3)


# -- monotone (gradients of convex potentials) ----------------------------------------------

def convex2(x: Tensor) -> Tensor:
    """∇F, F = softplus(x₀ + 2x₁ − 0.3) + ½x₀² + ½x₁² + ¼x₁⁴ + 0.3 x₀x₁ (Hessian ⪰
    [[1, .3], [.3, 1]] ≻ 0)."""
    s = torch.sigmoid(x[:, 0] + 2 * x[:, 1] - 0.3)
    g0 = s + x[:, 0] + 0.3 * x[:, 1]
    g1 = 2 * s + x[:, 1] + x[:, 1] ** 3 + 0.3 * x[:, 0]
    return torch.stack([g0, g1], 1)


def convex8(seed: int = 8) -> Callable[[Tensor], Tensor]:
    """∇F in 8-D, F = LSE(C x) + ½‖M x‖² + Σ_i w_i softplus(a_i·x + b_i), w > 0: convex
    (strongly: MᵀM ≻ 0)."""
    d = 8
    g = torch.Generator().manual_seed(seed)
    c = 1.5 * torch.randn(5, d, generator=g, dtype=F64)
    m = torch.eye(d, dtype=F64) * 0.5 + 0.2 * torch.randn(d, d, generator=g, dtype=F64)
    a = torch.randn(6, d, generator=g, dtype=F64)
    b = torch.randn(6, generator=g, dtype=F64) * 0.5
    w = torch.rand(6, generator=g, dtype=F64) + 0.2

    def f(x: Tensor) -> Tensor:
        return (torch.softmax(x @ c.T, -1) @ c + x @ (m.T @ m)
                + (w * torch.sigmoid(x @ a.T + b)) @ a)
    return f


MAPS: dict[str, Map] = {m.name: m for m in [
    Map("poly_flip", "invertible", 2, 2, poly_flip, note="2-D polynomial, det D < 0"),
    Map("area", "invertible", 2, 2, area_preserving, note="2-D, det D = 1 (two shears)"),
    Map("resid8", "invertible", 8, 8, residual(8, 80), note="8-D contractive residual step"),
    Map("resid16", "invertible", 16, 16, residual(16, 160), note="16-D"),
    Map("resid32", "invertible", 32, 32, residual(32, 320), note="32-D"),
    Map("sdf2", "lipschitz", 2, 1, sdf2, note="2-D signed distance, disc ∪ rectangle"),
    Map("sdf3", "lipschitz", 3, 1, sdf3, note="3-D signed distance, torus ∪ sphere ∪ box"),
    Map("mix6to3", "lipschitz", 6, 3, mixture(6, 3, ["sin", "abs", "tanh"], 63),
        note="R⁶ → R³, three profiles mixed by orthogonal maps"),
    Map("mix4to2", "lipschitz", 4, 2, mixture(4, 2, ["sin", "huber", "tanh", "abs"], 42),
        note="R⁴ → R², four profiles mixed by orthogonal maps"),
    Map("conformal", "cauchy_riemann", 2, 2, conformal, note="log(z + 2) + 0.3 z"),
    Map("entire", "cauchy_riemann", 2, 2, entire, note="sin(1.5 z) + z³/4"),
    Map("convex2", "monotone", 2, 2, convex2, note="∇ of a 2-D convex potential"),
    Map("convex8", "monotone", 8, 8, convex8(), note="∇ of an 8-D convex potential"),
]}


def sample(m: Map, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """n points uniform in the map's box and their values: (n, d_x), (n, d_y) float64."""
    g = torch.Generator().manual_seed(seed)
    x = m.low + (m.high - m.low) * torch.rand(n, m.d_x, generator=g, dtype=F64)
    return x, m.f(x)
