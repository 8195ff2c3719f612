"""Targets: closed-form functions that jacnet learns, with analytic Jacobians and inverses.

Every target is a parameter-free object mapping a batch x (N, d_x) to y (N, d_y). Because the
Jacobian (and the inverse, where one exists) is known in closed form, the same objects are the
ground truth for the solvers, the structures, the inverses and the metrics.

All maths is in torch and follows the input's dtype and device, so float32 and float64 inputs
give outputs of the same dtype. Points are always batch first, including 1-D targets (N, 1).

Config group: ``conf/target/<name>.yaml`` builds one of the classes below; a subclass with a
`name` registers itself in `TARGETS`, and `get_target` builds one by name.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# One error class package-wide, so `except jacnet_cli.NotInvertibleError` catches targets too;
# re-exported here as `jacnet_cli.core.targets.NotInvertibleError`.
from jacnet_cli.core.errors import NotInvertibleError

__all__ = [
    "NotInvertibleError",
    "Target",
    "Exp",
    "Abs",
    "Sin",
    "Tanh",
    "Cubic",
    "Softplus",
    "Sigmoid",
    "Atan",
    "Sinh",
    "LeakyReLU",
    "Gaussian",
    "MonotoneSinh",
    "ComplexExp",
    "ComplexSquare",
    "IcgnConvex",
    "PolyMax",
    "RotatedTanh",
    "RotatedCubic",
    "OrthoRidge",
    "CubicSin",
    "Mobius",
    "GradNetsNonconvex",
    "TARGETS",
    "get_target",
]


TARGETS: dict[str, type["Target"]] = {}


class Target:
    """A closed-form map R^{d_x} -> R^{d_y} with its analytic Jacobian and, if one exists, inverse.

    Subclasses set `name`, `d_x`, `d_y`, `invertible`, and implement `__call__` and `jacobian`;
    invertible ones also implement `inverse` and, where it is restricted, `inverse_domain`.
    """

    name: str = "target"
    d_x: int = 1
    d_y: int = 1
    invertible: bool = False
    closed_form: bool = True  # False for data from a file: nothing to compare against
    #: the natural training box [lo, hi]^d and sample size of an n-D target (data=auto; a
    #: 1-D target gets the paper's data)
    domain: tuple[float, float] = (-1.0, 1.0)
    samples: int = 2000

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name") and cls.closed_form:
            TARGETS[cls.name] = cls

    def __call__(self, x: Tensor) -> Tensor:
        """Evaluate the target.

        Args:
            x: points, (N, d_x).

        Returns:
            y = f(x), (N, d_y).
        """
        raise NotImplementedError

    def jacobian(self, x: Tensor) -> Tensor:
        """Analytic Jacobian dy/dx.

        Args:
            x: points, (N, d_x).

        Returns:
            J(x) with J[n, i, j] = d y_i / d x_j at x[n], (N, d_y, d_x).
        """
        raise NotImplementedError

    def inverse(self, y: Tensor) -> Tensor:
        """Closed-form inverse x = f^{-1}(y).

        Args:
            y: points in the image, (N, d_y), each coordinate inside `inverse_domain()`.

        Returns:
            x with f(x) = y, (N, d_x).

        Raises:
            NotInvertibleError: the target has no inverse (`invertible` is False).
        """
        usable = ", ".join(n for n, cls in TARGETS.items() if cls.invertible)
        raise NotInvertibleError(
            f"target={self.name!r} is not invertible (invertible=False); "
            f"use one of the invertible targets: {usable}"
        )

    def inverse_domain(self) -> tuple[float, float] | None:
        """Open interval (lo, hi) that every coordinate of y must lie in for `inverse`.

        Returns:
            (lo, hi), possibly infinite at one end, or None when `inverse` accepts every y in
            the image (or when the target is not invertible). It describes y only; targets
            whose inverse is a principal branch say in their docstring which x it recovers.
        """
        return None

    def _check(self, x: Tensor, dim: int, what: str = "x") -> None:
        if x.ndim != 2 or x.shape[1] != dim:
            raise ValueError(
                f"target={self.name!r} expects {what} of shape (N, {dim}), got {tuple(x.shape)}; "
                "pass a batch, e.g. x.reshape(-1, 1) for 1-D points"
            )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------------------------
# 1-D targets: elementwise maps R -> R, Jacobian (N, 1, 1).
# --------------------------------------------------------------------------------------------


class _Scalar(Target):
    """A 1-D target given by an elementwise function and its derivative."""

    d_x = 1
    d_y = 1

    def _f(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _df(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _finv(self, y: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, 1)
        return self._f(x)  # (N, 1)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, 1)
        return self._df(x).unsqueeze(-1)  # (N, 1) -> (N, 1, 1)

    def inverse(self, y: Tensor) -> Tensor:
        if not self.invertible:
            return super().inverse(y)
        self._check(y, 1, "y")
        return self._finv(y)  # (N, 1)


class Exp(_Scalar):
    """y = exp(x): the paper's invertible target (section 5); y' = exp(x); inverse log."""

    name = "exp"
    invertible = True

    def _f(self, x: Tensor) -> Tensor:
        return torch.exp(x)

    def _df(self, x: Tensor) -> Tensor:
        return torch.exp(x)

    def _finv(self, y: Tensor) -> Tensor:
        return torch.log(y)

    def inverse_domain(self) -> tuple[float, float] | None:
        return (0.0, math.inf)


class Abs(_Scalar):
    """y = |x|: the paper's 1-Lipschitz target (section 5); y' = sign(x), 0 at 0; no inverse."""

    name = "abs"

    def _f(self, x: Tensor) -> Tensor:
        return torch.abs(x)

    def _df(self, x: Tensor) -> Tensor:
        return torch.sign(x)


class Sin(_Scalar):
    """y = sin(x): 1-Lipschitz and periodic; y' = cos(x); not invertible."""

    name = "sin"

    def _f(self, x: Tensor) -> Tensor:
        return torch.sin(x)

    def _df(self, x: Tensor) -> Tensor:
        return torch.cos(x)


class Tanh(_Scalar):
    """y = tanh(x): bounded and 1-Lipschitz; y' = 1 - tanh(x)^2; inverse atanh on (-1, 1)."""

    name = "tanh"
    invertible = True

    def _f(self, x: Tensor) -> Tensor:
        return torch.tanh(x)

    def _df(self, x: Tensor) -> Tensor:
        # 1 / cosh^2 rather than 1 - tanh^2: no cancellation for large |x|.
        return torch.cosh(x).reciprocal().square()

    def _finv(self, y: Tensor) -> Tensor:
        return torch.atanh(y)

    def inverse_domain(self) -> tuple[float, float] | None:
        return (-1.0, 1.0)


class Cubic(_Scalar):
    """y = x^3 + x: strictly increasing (y' = 3x^2 + 1 >= 1); inverse by Cardano, hyperbolic form.

    With x = k sinh(t) and k = 2/sqrt(3), the identity sinh(3t) = 3 sinh(t) + 4 sinh(t)^3 turns
    x^3 + x = y into sinh(3t) = (3 sqrt(3) / 2) y, so the one real root is
    x = 2/sqrt(3) * sinh(asinh(3 sqrt(3) / 2 * y) / 3). Unlike the radical form of Cardano's
    formula it has no cancellation, so it is accurate for tiny and huge |y| in float32 too
    (relative error ~ |t| eps; finite up to |y| ~ 2e38 in float32, where 3 sqrt(3) / 2 * y
    overflows).
    """

    name = "cubic"
    invertible = True

    def _f(self, x: Tensor) -> Tensor:
        return x * (x.square() + 1)

    def _df(self, x: Tensor) -> Tensor:
        return 3 * x.square() + 1

    def _finv(self, y: Tensor) -> Tensor:
        k = 2 / math.sqrt(3)
        return k * torch.sinh(torch.asinh((1.5 * math.sqrt(3)) * y) / 3)


class Softplus(_Scalar):
    """y = log(1 + e^x): smooth, increasing, image (0, inf); y' = sigmoid(x); inverse log(expm1(y)).

    Both directions are computed without overflow or cancellation: the forward as
    logaddexp(x, 0) (exact in both tails, unlike a thresholded softplus), and the inverse as
    y + log(-expm1(-y)), which equals log(expm1(y)) but never overflows.
    """

    name = "softplus"
    invertible = True

    def _f(self, x: Tensor) -> Tensor:
        return torch.logaddexp(x, torch.zeros_like(x))

    def _df(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x)

    def _finv(self, y: Tensor) -> Tensor:
        return y + torch.log(-torch.expm1(-y))

    def inverse_domain(self) -> tuple[float, float] | None:
        return (0.0, math.inf)


class Sigmoid(_Scalar):
    """y = 1 / (1 + e^{-x}): bounded, increasing; y' = y (1 - y); inverse logit on (0, 1)."""

    name = "sigmoid"
    invertible = True

    def _f(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x)

    def _df(self, x: Tensor) -> Tensor:
        s = torch.sigmoid(x)
        return s * torch.sigmoid(-x)  # s (1 - s) without cancellation for large x

    def _finv(self, y: Tensor) -> Tensor:
        return torch.logit(y)

    def inverse_domain(self) -> tuple[float, float] | None:
        return (0.0, 1.0)


class Atan(_Scalar):
    """y = arctan(x): bounded, increasing, 1-Lipschitz; y' = 1 / (1 + x^2); inverse tan on
    (-pi/2, pi/2). Its derivative decays like 1/x^2 rather than exponentially (cf. tanh)."""

    name = "atan"
    invertible = True

    def _f(self, x: Tensor) -> Tensor:
        return torch.atan(x)

    def _df(self, x: Tensor) -> Tensor:
        return (1 + x.square()).reciprocal()

    def _finv(self, y: Tensor) -> Tensor:
        return torch.tan(y)

    def inverse_domain(self) -> tuple[float, float] | None:
        return (-math.pi / 2, math.pi / 2)


class Sinh(_Scalar):
    """y = sinh(x): increasing, y' = cosh(x) >= 1 grows exponentially on both sides (exp on one);
    inverse asinh everywhere."""

    name = "sinh"
    invertible = True

    def _f(self, x: Tensor) -> Tensor:
        return torch.sinh(x)

    def _df(self, x: Tensor) -> Tensor:
        return torch.cosh(x)

    def _finv(self, y: Tensor) -> Tensor:
        return torch.asinh(y)


class LeakyReLU(_Scalar):
    """y = x for x >= 0, `slope` x for x < 0: increasing, 1-Lipschitz, a kink at 0 (cf. |x|);
    y' = 1 or `slope` (the right derivative, 1, at 0); inverse y or y / slope.

    Args:
        slope: the slope left of 0, in (0, 1] for an invertible 1-Lipschitz map (default 0.2).
    """

    name = "leaky_relu"
    invertible = True

    def __init__(self, slope: float = 0.2) -> None:
        if not (isinstance(slope, (int, float)) and 0 < slope <= 1):
            raise ValueError(f"target.slope={slope!r} is not allowed; it must be in (0, 1]")
        self.slope = float(slope)

    def _f(self, x: Tensor) -> Tensor:
        return torch.where(x >= 0, x, self.slope * x)

    def _df(self, x: Tensor) -> Tensor:
        return torch.where(x >= 0, torch.ones_like(x), torch.full_like(x, self.slope))

    def _finv(self, y: Tensor) -> Tensor:
        return torch.where(y >= 0, y, y / self.slope)


class Gaussian(_Scalar):
    """y = exp(-x^2): a bump, not monotone; y' = -2x exp(-x^2), |y'| <= sqrt(2/e) < 1, so
    1-Lipschitz; even, like |x|, and flat far out; not invertible."""

    name = "gaussian"

    def _f(self, x: Tensor) -> Tensor:
        return torch.exp(-x.square())

    def _df(self, x: Tensor) -> Tensor:
        return -2 * x * torch.exp(-x.square())


# --------------------------------------------------------------------------------------------
# n-D targets.
# --------------------------------------------------------------------------------------------


class MonotoneSinh(Target):
    """f(x) = Rᵀ sinh(R x), R a fixed orthogonal matrix: a monotone gradient field on R^dim.

    J(x) = Rᵀ diag(cosh(R x)) R is symmetric positive definite with eigenvalues cosh(R x) >= 1,
    so this is the natural n-D target for the `pd` structure. f is the gradient of
    phi(x) = sum_k cosh((R x)_k), hence conservative. Inverse: x = Rᵀ asinh(R y), everywhere.

    Args:
        dim: d_x = d_y.
        seed: seeds the Gaussian whose QR factor Q is R when dim != 2. dim=2 ignores it and
            uses the rotation by 30 degrees, so the 2-D target is the same for every seed.
    """

    name = "monotone_sinh"
    invertible = True

    def __init__(self, dim: int = 2, seed: int = 0) -> None:
        if not (isinstance(dim, int) and dim >= 1):
            raise ValueError(f"target=monotone_sinh: dim={dim!r} is not allowed; use an int >= 1")
        self.dim = dim
        self.seed = seed
        self.d_x = dim
        self.d_y = dim
        if dim == 2:
            c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
            rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
        else:
            gen = torch.Generator().manual_seed(seed)
            a = torch.randn(dim, dim, generator=gen, dtype=torch.float64)  # (dim, dim)
            q, r = torch.linalg.qr(a)
            # Sign-fix the columns so R does not depend on the QR backend's sign convention.
            signs = torch.where(torch.diagonal(r) < 0, -1.0, 1.0).to(torch.float64)
            rot = q * signs  # (dim, dim)
        self._rot = rot  # float64 on CPU; cast per call to the input's dtype and device

    def __repr__(self) -> str:
        return f"MonotoneSinh(dim={self.dim}, seed={self.seed})"

    def _r(self, x: Tensor) -> Tensor:
        return self._rot.to(dtype=x.dtype, device=x.device)  # (d, d)

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, self.dim)
        r = self._r(x)
        # Rows are points: (R x)ᵀ = xᵀ Rᵀ, and (Rᵀ s)ᵀ = sᵀ R.
        return torch.sinh(x @ r.T) @ r  # (N, d) -> (N, d)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, self.dim)
        r = self._r(x)
        c = torch.cosh(x @ r.T)  # (N, d)
        jac = torch.einsum("ki,nk,kj->nij", r, c, r)  # (N, d, d)
        # Symmetrise so that J == Jᵀ holds bit for bit, whatever order einsum summed in.
        return 0.5 * (jac + jac.transpose(-1, -2))  # (N, d, d)

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y, self.dim, "y")
        r = self._r(y)
        return torch.asinh(y @ r.T) @ r  # (N, d) -> (N, d)


def _holomorphic_jacobian(re: Tensor, im: Tensor) -> Tensor:
    """Real 2x2 Jacobian of a holomorphic map whose complex derivative is re + i im.

    Args:
        re: Re f'(z), (N,).
        im: Im f'(z), (N,).

    Returns:
        [[re, -im], [im, re]] per point, (N, 2, 2); satisfies Cauchy-Riemann exactly.
    """
    top = torch.stack([re, -im], dim=-1)  # (N, 2)
    bottom = torch.stack([im, re], dim=-1)  # (N, 2)
    return torch.stack([top, bottom], dim=-2)  # (N, 2, 2)


class ComplexExp(Target):
    """z = a + ib -> exp(z) as a map R^2 -> R^2: (a, b) -> (e^a cos b, e^a sin b).

    Holomorphic, f'(z) = exp(z), so J = [[e^a cos b, -e^a sin b], [e^a sin b, e^a cos b]]
    (Cauchy-Riemann form, never singular). Inverse: the principal log,
    (log|y|, atan2(y_2, y_1)). It gives f(inverse(y)) = y for every y != 0, and
    inverse(f(x)) = x only for x with |b| < pi, since exp is 2 pi i-periodic.
    """

    name = "complex_exp"
    d_x = 2
    d_y = 2
    invertible = True

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        a, b = x.unbind(-1)  # (N,), (N,)
        ea = torch.exp(a)
        return torch.stack([ea * torch.cos(b), ea * torch.sin(b)], dim=-1)  # (N, 2)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        a, b = x.unbind(-1)  # (N,), (N,)
        ea = torch.exp(a)
        return _holomorphic_jacobian(ea * torch.cos(b), ea * torch.sin(b))  # (N, 2, 2)

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y, 2, "y")
        u, v = y.unbind(-1)  # (N,), (N,)
        # hypot, not sqrt(u^2 + v^2): no overflow or underflow of the squares.
        return torch.stack([torch.log(torch.hypot(u, v)), torch.atan2(v, u)], dim=-1)  # (N, 2)


class ComplexSquare(Target):
    """z = a + ib -> z^2 as a map R^2 -> R^2: (a, b) -> (a^2 - b^2, 2ab).

    Holomorphic, f'(z) = 2z, so J = [[2a, -2b], [2b, 2a]] (Cauchy-Riemann form, singular only
    at 0). Inverse: the principal square root (Re >= 0). It gives f(inverse(y)) = y for every
    y, and inverse(f(x)) = x only for x with a > 0, since z and -z have the same square.
    """

    name = "complex_square"
    d_x = 2
    d_y = 2
    invertible = True

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        a, b = x.unbind(-1)  # (N,), (N,)
        return torch.stack([(a - b) * (a + b), 2 * a * b], dim=-1)  # (N, 2)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        a, b = x.unbind(-1)  # (N,), (N,)
        return _holomorphic_jacobian(2 * a, 2 * b)  # (N, 2, 2)

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y, 2, "y")
        u, v = y.unbind(-1)  # (N,), (N,)
        # The larger of |Re sqrt|, |Im sqrt| is s = sqrt((|y| + |u|) / 2), free of cancellation;
        # the smaller is |v| / (2 s), from 2 Re Im = v.
        s = torch.sqrt(0.5 * (torch.hypot(u, v) + torch.abs(u)))  # (N,)
        t = v / (2 * torch.where(s > 0, s, torch.ones_like(s)))  # (N,); 0 at y = 0
        re = torch.where(u >= 0, s, torch.abs(t))
        im = torch.where(u >= 0, t, torch.copysign(s, v))
        return torch.stack([re, im], dim=-1)  # (N, 2)


# --------------------------------------------------------------------------------------------
# Gradient fields: y = ∇F for a closed-form potential F (Gradient Networks benchmarks).
# --------------------------------------------------------------------------------------------


class Potential(Target):
    """A target y = ∇F(x) given by its potential F, with ∇F and the Hessian ∇²F in closed form.

    Subclasses implement `potential`, `__call__` (∇F) and `jacobian` (∇²F, symmetric).
    """

    def potential(self, x: Tensor) -> Tensor:
        """F(x): (N, d) -> (N, 1)."""
        raise NotImplementedError


class UnitSquarePotential(Potential):
    """A potential G(x₁, x₂) on [0, 1]² (the GradNets/ICGN 2-D benchmarks), written as three
    scalar formulas: subclasses give `_g` (G), `_grad` (∂G/∂x₁, ∂G/∂x₂) and `_hess`
    (∂²G/∂x₁², ∂²G/∂x₁∂x₂, ∂²G/∂x₂²) of the coordinates a = x₁, b = x₂, each (N,)."""

    domain = (0.0, 1.0)
    samples = 10000
    d_x = 2
    d_y = 2

    def _g(self, a: Tensor, b: Tensor) -> Tensor:
        raise NotImplementedError

    def _grad(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _hess(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def potential(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        return self._g(*x.unbind(-1))[:, None]  # (N, 1)

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        return torch.stack(self._grad(*x.unbind(-1)), dim=-1)  # (N, 2)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        aa, ab, bb = (h.expand(x.shape[0]) for h in self._hess(*x.unbind(-1)))  # each (N,)
        rows = torch.stack([aa, ab], dim=-1), torch.stack([ab, bb], dim=-1)  # (N, 2) each
        return torch.stack(rows, dim=-2)  # (N, 2, 2), symmetric


class IcgnConvex(UnitSquarePotential):
    """∇F of F = x₁⁴ + x₁²/2 + x₁x₂/2 + 3x₂²/2 - x₂³/3, convex on [0, 1]² (ICGN's benchmark).

    ∇F = (4x₁³ + x₁ + x₂/2, x₁/2 + 3x₂ - x₂²); ∇²F = [[12x₁² + 1, 1/2], [1/2, 3 - 2x₂]], positive
    definite for x₂ < 3/2 - 1/(4 (12x₁² + 1)) (so on all of [0, 1]²). No closed-form inverse.
    """

    name = "icgn_convex"

    def _g(self, a: Tensor, b: Tensor) -> Tensor:
        return a**4 + a**2 / 2 + a * b / 2 + 1.5 * b**2 - b**3 / 3

    def _grad(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        return 4 * a**3 + a + b / 2, a / 2 + 3 * b - b**2

    def _hess(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return 12 * a**2 + 1, torch.full_like(a, 0.5), 3 - 2 * b


class PolyMax(Potential):
    """∇F of F(x) = max over A in {S, P, Q} of (x - ½)ᵀ A (x - ½) / c: a convex max of quadratics.

    With i, j = 1..d, α_ij = (i + j - 2)/(2d - 2) and D_ij = log(d)(1 + |i - j|):
    S = (2 + sin 4πα)/D, P = (1 + 2α)/D, Q = (3 - 2α)/D (elementwise), each positive definite.
    c normalises the field: the mean ‖∇F_raw‖ over 10,000 uniform points of [0, 1]^d (drawn
    from a generator seeded with 1). ∇F = 2 A*(x - ½)/c with A* the maximising matrix, and
    ∇²F = 2 A*/c: piecewise constant, so ∇F jumps where the maximiser changes (the GradNets
    paper's high-dimensional benchmark, Chaudhari et al. 2024).

    Args:
        dim: d >= 2.
    """

    name = "polymax"
    domain = (0.0, 1.0)
    samples = 10000

    def __init__(self, dim: int = 8) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ValueError(f"target.dim={dim!r} is not allowed; it must be an integer >= 2")
        self.dim = self.d_x = self.d_y = dim
        i = torch.arange(1, dim + 1, dtype=torch.float64)
        alpha = (i[:, None] + i[None, :] - 2) / (2 * dim - 2)  # (d, d)
        dist = math.log(dim) * (1 + (i[:, None] - i[None, :]).abs())  # (d, d)
        mats = [(2 + torch.sin(4 * math.pi * alpha)) / dist, (1 + 2 * alpha) / dist,
                (3 - 2 * alpha) / dist]
        self._a = torch.stack(mats)  # (3, d, d), float64 on CPU
        g = torch.Generator().manual_seed(1)
        u = torch.rand(10_000, dim, generator=g, dtype=torch.float64)
        self._c = 1.0
        self._c = float(torch.linalg.vector_norm(self(u), dim=-1).mean())

    def __repr__(self) -> str:
        return f"PolyMax(dim={self.dim})"

    def _quadratics(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a = self._a.to(dtype=x.dtype, device=x.device)  # (3, d, d)
        z = x - 0.5  # (N, d)
        az = torch.einsum("kij,nj->nki", a, z)  # (N, 3, d)
        q = (az * z[:, None, :]).sum(-1)  # (N, 3)
        return z, az, q

    def potential(self, x: Tensor) -> Tensor:
        self._check(x, self.dim)
        _, _, q = self._quadratics(x)
        return q.max(dim=-1, keepdim=True).values / self._c  # (N, 1)

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, self.dim)
        _, az, q = self._quadratics(x)
        k = q.argmax(dim=-1)  # (N,)
        return 2 * az[torch.arange(x.shape[0], device=x.device), k] / self._c  # (N, d)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, self.dim)
        _, _, q = self._quadratics(x)
        a = self._a.to(dtype=x.dtype, device=x.device)
        return 2 * a[q.argmax(dim=-1)] / self._c  # (N, d, d)


# --------------------------------------------------------------------------------------------
# Invertible maps that are not monotone (for `invertible`): a rotation composed with a
# deformation, so J is neither symmetric nor positive definite.
# --------------------------------------------------------------------------------------------


def rotation(d: int, generator: torch.Generator) -> Tensor:
    """A random rotation (orthogonal, det = +1), float64: (d, d). The sign-fixed Q factor of
    a Gaussian matrix, one column negated when it is a reflection (half the time)."""
    q, r = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
    q = q * torch.where(torch.diagonal(r) < 0, -1.0, 1.0)
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _dim(dim: object) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"target.dim={dim!r} is not allowed; it must be an integer >= 1")
    return dim


class RotatedTanh(Target):
    """f(x) = Q (x + a tanh(B x + c)) with a‖B‖₂ < 1 and Q a rotation: invertible, not monotone.

    D = Q (I + a diag(sech²(B x + c)) B); the bracket is I plus a perturbation of norm
    a‖B‖₂ < 1, so det D > 0 everywhere. The inverse is the fixed point of the contraction
    x = Qᵀ y - a tanh(B x + c) (rate a‖B‖₂), iterated until a step is below 1e-13
    (accuracy ~1e-12 in float64). At dim = 2 Q is the rotation by `degrees` (the issue's
    instance: ‖B‖₂ = 1.2, a = 0.6, 120°); other dims draw Q from `seed`.

    Args:
        dim: d_x = d_y.
        seed: seeds Q (dim != 2), B and c.
        norm: ‖B‖₂ (B is rescaled to it exactly).
        a: amplitude; a·norm < 1.
        degrees: the rotation at dim = 2.
    """

    name = "rotated_tanh"
    samples = 3000
    invertible = True

    def __init__(self, dim: int = 2, seed: int = 0, norm: float = 1.2, a: float = 0.6,
                 degrees: float = 120.0) -> None:
        self.dim = self.d_x = self.d_y = _dim(dim)
        if not (isinstance(a, (int, float)) and isinstance(norm, (int, float)) and a > 0
                and norm > 0 and a * norm < 1):
            raise ValueError(f"target.a={a!r} with target.norm={norm!r} is not allowed; a * norm "
                             "must be in (0, 1) (a contraction)")
        self.seed, self.norm, self.a, self.degrees = seed, float(norm), float(a), float(degrees)
        gen = torch.Generator().manual_seed(int(seed))
        if dim == 2:
            c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
            self._q = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
        else:
            self._q = rotation(dim, gen)  # (d, d)
        b = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
        self._b = b * (self.norm / torch.linalg.matrix_norm(b, ord=2))  # ‖B‖₂ = norm
        self._c = 0.5 * torch.randn(dim, generator=gen, dtype=torch.float64)

    def __repr__(self) -> str:
        return f"RotatedTanh(dim={self.dim}, seed={self.seed}, norm={self.norm}, a={self.a})"

    def _mats(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self._q.to(x), self._b.to(x), self._c.to(x)

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, self.dim)
        q, b, c = self._mats(x)
        return (x + self.a * torch.tanh(x @ b.T + c)) @ q.T  # (N, d)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, self.dim)
        q, b, c = self._mats(x)
        s = 1 - torch.tanh(x @ b.T + c) ** 2  # (N, d)
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device)
        return q @ (eye + self.a * s[:, :, None] * b)  # (N, d, d)

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y, self.dim, "y")
        q, b, c = self._mats(y)
        base = y @ q  # (N, d) = Qᵀ y per row
        x = base.clone()
        rate = self.a * self.norm
        stop = 1e-13 * (1 - rate) / rate
        for _ in range(2000):
            new = base - self.a * torch.tanh(x @ b.T + c)
            step = float((new - x).abs().max()) if new.numel() else 0.0
            x = new
            if step <= stop:
                break
        return x


class RotatedCubic(Target):
    """f(x) = Q₁ g(Q₂ x) + b with g(t) = t + t³/2 elementwise and Q₁, Q₂ rotations.

    D = Q₁ diag(1 + 1.5 t²) Q₂ (t = Q₂ x): det D = Π (1 + 1.5 t²) > 0; not monotone unless
    Q₁ = Q₂ᵀ. The inverse is in closed form: t = g⁻¹(u), the real root of t³ + 2t - 2u = 0,
    t = A - 2/(3A) with A = sign(u) ∛(|u| + √(u² + 8/27)), free of cancellation.

    Args:
        dim: d_x = d_y.
        seed: seeds Q₁, Q₂ and b.
    """

    name = "rotated_cubic"
    samples = 3000
    invertible = True

    def __init__(self, dim: int = 2, seed: int = 0) -> None:
        self.dim = self.d_x = self.d_y = _dim(dim)
        self.seed = seed
        gen = torch.Generator().manual_seed(int(seed) + 7919)
        self._q1, self._q2 = rotation(dim, gen), rotation(dim, gen)  # (d, d) each
        self._shift = 0.3 * torch.randn(dim, generator=gen, dtype=torch.float64)  # (d,)

    def __repr__(self) -> str:
        return f"RotatedCubic(dim={self.dim}, seed={self.seed})"

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, self.dim)
        t = x @ self._q2.to(x).T  # (N, d)
        return (t + 0.5 * t**3) @ self._q1.to(x).T + self._shift.to(x)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, self.dim)
        t = x @ self._q2.to(x).T
        return self._q1.to(x) @ ((1 + 1.5 * t**2)[:, :, None] * self._q2.to(x))  # (N, d, d)

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y, self.dim, "y")
        u = (y - self._shift.to(y)) @ self._q1.to(y)  # (N, d) = Q₁ᵀ (y - b)
        big = torch.pow(u.abs() + torch.sqrt(u * u + 8.0 / 27.0), 1.0 / 3.0)
        t = torch.sign(u) * (big - 2.0 / (3.0 * big))
        return t @ self._q2.to(y)  # Q₂ᵀ t


class Table(Target):
    """The user's data: no closed form, so metrics that need one (a true Jacobian or inverse)
    are skipped, not faked.

    Args:
        name: what to call it (the file's stem).
        d_x, d_y: dimensions, from the data's columns.
    """

    closed_form = False

    def __init__(self, name: str, d_x: int, d_y: int) -> None:
        self.name, self.d_x, self.d_y = name, d_x, d_y

    def __call__(self, x: Tensor) -> Tensor:
        raise ValueError(f"target {self.name!r} is data from a file: it has no closed form to "
                         "evaluate")

    def jacobian(self, x: Tensor) -> Tensor:
        raise ValueError(f"target {self.name!r} is data from a file: it has no closed-form "
                         "Jacobian")


def get_target(name: str, **kwargs: object) -> Target:
    """Build a target by its config name.

    Args:
        name: a key of `TARGETS`, e.g. "exp".
        **kwargs: constructor arguments, e.g. dim=3 for "monotone_sinh".

    Returns:
        The target object.

    Raises:
        ValueError: `name` is not a key of `TARGETS`.
    """
    if name not in TARGETS:
        raise ValueError(
            f"target={name!r} is not a known target; choose one of: {', '.join(TARGETS)}"
        )
    return TARGETS[name](**kwargs)


# --------------------------------------------------------------------------------------------
# k-Lipschitz maps whose constant is attained, and more holomorphic maps.
# --------------------------------------------------------------------------------------------

_RIDGE_PROFILES = {"abs": (torch.abs, torch.sign), "sin": (torch.sin, torch.cos),
                   "tanh": (torch.tanh, lambda u: torch.cosh(u).reciprocal().square())}


def _orthonormal_rows(rows: int, cols: int, generator: torch.Generator) -> Tensor:
    """rows x cols, float64, with orthonormal rows (rows <= cols) or columns: ‖·‖₂ = 1."""
    a = torch.randn(max(rows, cols), min(rows, cols), generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.where(torch.diagonal(r) < 0, -1.0, 1.0)  # sign-fixed: backend-independent
    return q if rows >= cols else q.T


class OrthoRidge(Target):
    """f(x) = (k/ω) U σ(ω V x + c): a k-Lipschitz map R^d_x -> R^d_y whose constant is attained.

    V (d_x x d_x) is orthogonal, U (d_y x d_x) has orthonormal rows (d_y <= d_x) or columns,
    c a fixed offset. D(x) = k U diag(σ'(ω V x + c)) V, so ‖D(x)‖₂ <= k |σ'|max = k, and:
    σ = |·| (default): σ' = ±1, D Dᵀ = k² I for d_y <= d_x, so ‖D(x)‖₂ = k at every x off
    the kinks (a gradient-norm-preserving map); σ = sin or tanh: ‖D‖₂ = k where ω V x + c = 0,
    at x* = -Vᵀ c / ω (inside [-1, 1]^d for the defaults). Not invertible in general.

    Args:
        d_x, d_y: dimensions.
        profile: "abs", "sin" or "tanh".
        k: the Lipschitz constant (attained).
        omega: frequency ω > 0 (kinks or oscillations per unit length).
        seed: seeds U, V and c.
    """

    name = "ortho_ridge"
    samples = 3000

    def __init__(self, d_x: int = 4, d_y: int = 2, profile: str = "abs", k: float = 1.0,
                 omega: float = 2.0, seed: int = 0) -> None:
        self.d_x, self.d_y = _dim(d_x), _dim(d_y)
        if profile not in _RIDGE_PROFILES:
            raise ValueError(f"target.profile={profile!r} is not allowed; choose one of: "
                             + ", ".join(_RIDGE_PROFILES))
        for key, value in (("k", k), ("omega", omega)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and value > 0):
                raise ValueError(f"target.{key}={value!r} is not allowed; it must be a number > 0")
        self.profile, self.k, self.omega, self.seed = profile, float(k), float(omega), seed
        gen = torch.Generator().manual_seed(int(seed))
        self._v = _orthonormal_rows(self.d_x, self.d_x, gen)  # (d_x, d_x)
        self._u = _orthonormal_rows(self.d_y, self.d_x, gen)  # (d_y, d_x)
        self._c = 0.5 * torch.randn(self.d_x, generator=gen, dtype=torch.float64)  # (d_x,)

    def __repr__(self) -> str:
        return (f"OrthoRidge(d_x={self.d_x}, d_y={self.d_y}, profile={self.profile!r}, "
                f"k={self.k:g}, omega={self.omega:g}, seed={self.seed})")

    def peak(self) -> Tensor:
        """x* = -Vᵀ c / ω, where ‖D‖₂ = k for every profile: (1, d_x), float64."""
        return (-(self._v.T @ self._c) / self.omega)[None]

    def _pre(self, x: Tensor) -> Tensor:
        return self.omega * (x @ self._v.to(x).T) + self._c.to(x)  # (N, d_x)

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, self.d_x)
        f = _RIDGE_PROFILES[self.profile][0]
        return (self.k / self.omega) * (f(self._pre(x)) @ self._u.to(x).T)  # (N, d_y)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, self.d_x)
        ds = _RIDGE_PROFILES[self.profile][1](self._pre(x))  # (N, d_x)
        return self.k * (self._u.to(x) * ds[:, None, :]) @ self._v.to(x)  # (N, d_y, d_x)


def _as_complex(x: Tensor) -> Tensor:
    return torch.complex(x[:, 0], x[:, 1])  # (N,)


def _as_real(z: Tensor) -> Tensor:
    return torch.stack([z.real, z.imag], dim=-1)  # (N, 2)


class CubicSin(Target):
    """f(z) = z³/3 - z + sin z on R² = C: holomorphic, f'(z) = z² - 1 + cos z.

    f'(0) = 0 (a critical point), so f is not invertible; the natural box is [-1.5, 1.5]².
    """

    name = "cubic_sin"
    d_x = 2
    d_y = 2
    domain = (-1.5, 1.5)
    samples = 3000

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        z = _as_complex(x)
        return _as_real(z ** 3 / 3 - z + torch.sin(z))  # (N, 2)

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        z = _as_complex(x)
        w = z * z - 1 + torch.cos(z)
        return _holomorphic_jacobian(w.real, w.imag)  # (N, 2, 2)


class Mobius(Target):
    """f(z) = (a z + b) / (c z + d) with ad - bc != 0: holomorphic off the pole -d/c,
    f'(z) = (ad - bc) / (c z + d)², never zero; inverse (d w - b) / (a - c w).

    The defaults a, b, c, d = 1, i, 1/2, 3/2 - i/2 put the pole at -3 + i, 1.5 from the box
    [-1.5, 1.5]², where |f'| lies in [0.27, 3.2]: a target for `min_modulus`.

    Args:
        a, b, c, d: the coefficients as [re, im] pairs.
    """

    name = "mobius"
    d_x = 2
    d_y = 2
    domain = (-1.5, 1.5)
    samples = 3000
    invertible = True

    def __init__(self, a: list[float] = (1.0, 0.0), b: list[float] = (0.0, 1.0),
                 c: list[float] = (0.5, 0.0), d: list[float] = (1.5, -0.5)) -> None:
        values = []
        for key, value in (("a", a), ("b", b), ("c", c), ("d", d)):
            try:
                re, im = (float(v) for v in value)
            except (TypeError, ValueError):
                raise ValueError(f"target.{key}={value!r} is not allowed; give [re, im]") from None
            values.append(complex(re, im))
        self.a, self.b, self.c, self.d = values
        if self.a * self.d - self.b * self.c == 0:
            raise ValueError("target: a d - b c = 0 is not allowed; the map would be constant")

    def __repr__(self) -> str:
        return f"Mobius(a={self.a}, b={self.b}, c={self.c}, d={self.d})"

    def pole(self) -> complex:
        return -self.d / self.c if self.c != 0 else complex("inf")

    def __call__(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        z = _as_complex(x)
        return _as_real((self.a * z + self.b) / (self.c * z + self.d))

    def jacobian(self, x: Tensor) -> Tensor:
        self._check(x, 2)
        w = (self.a * self.d - self.b * self.c) / (self.c * _as_complex(x) + self.d) ** 2
        return _holomorphic_jacobian(w.real, w.imag)

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y, 2, "y")
        w = _as_complex(y)
        return _as_real((self.d * w - self.b) / (self.a - self.c * w))


# --------------------------------------------------------------------------------------------
# A gradient field whose potential is not convex (for `gradient`, not `monotone`).
# --------------------------------------------------------------------------------------------


class GradNetsNonconvex(UnitSquarePotential):
    """∇G of G = sin(2πx₁) cos(πx₂)/4 + x₁x₂/2 - x₂²/2 on [0, 1]² (GradNets' non-convex field).

    ∇G = (π/2 cos(2πx₁) cos(πx₂) + x₂/2,  -π/4 sin(2πx₁) sin(πx₂) + x₁/2 - x₂) and
    ∇²G = [[-π² s c, 1/2 - π²/2 k t], [1/2 - π²/2 k t, -π²/4 s c - 1]] with s = sin 2πx₁,
    k = cos 2πx₁, c = cos πx₂, t = sin πx₂: symmetric and indefinite (∂²G/∂x₁² = -π² at
    (1/4, 0), ∂²G/∂x₂² = π²/4 - 1 > 0 at (3/4, 0)), so G is not convex and ∇G not monotone:
    a task for the `gradient` structure (GradNet-C), not `monotone` (Chaudhari et al. 2024,
    their 2-D non-convex example). No inverse.
    """

    name = "gradnets_nonconvex"

    def _g(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.sin(2 * math.pi * a) * torch.cos(math.pi * b) / 4 + a * b / 2 - b**2 / 2

    def _grad(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        u, v = 2 * math.pi * a, math.pi * b
        return (math.pi / 2 * torch.cos(u) * torch.cos(v) + b / 2,
                -math.pi / 4 * torch.sin(u) * torch.sin(v) + a / 2 - b)

    def _hess(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        u, v = 2 * math.pi * a, math.pi * b
        sc = torch.sin(u) * torch.cos(v)  # (N,)
        cross = 0.5 - math.pi**2 / 2 * torch.cos(u) * torch.sin(v)  # (N,)
        return -math.pi**2 * sc, cross, -math.pi**2 / 4 * sc - 1
