"""The paper's output activations (section 4.2): an MLP predicts raw numbers and the
structure maps them (N, raw_dim) to Jacobians (N, d_y, d_x); ŷ is the numerical line
integral of J.

In 1-D every field is conservative, so the guarantee carries over to ŷ (up to the
integrator's error). In n-D an MLP's J need not be conservative (paper section 4.5): the
guarantee then holds for J only and is measured on ŷ. The structures that keep it in n-D
own a conservative network instead (`potential`, and the n-D forms of `pd`, `lipschitz`
and `cauchy_riemann`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from jacnet_cli.core import checks
from jacnet_cli.core.structures.base import (Bound, Structure, cr_residual, operator_norm,
                                             spd_solve, tanhc)


class Unconstrained(Structure):
    """J is the raw output reshaped: no guarantee (the paper's comparison)."""

    name = "none"
    guarantee = "none: the Jacobian is unconstrained"

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return False

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_y

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        return raw.reshape(raw.shape[0], d_y, d_x)  # (N, d_y, d_x)


class PositiveDefinite(Structure):
    """J = A Aᵀ + εI (paper section 4.2): symmetric with every eigenvalue >= ε, so invertible.

    Args:
        eps: the eigenvalue floor ε > 0 (paper: 1e-4).
    """

    name = "pd"
    invertible = True
    scalar_units = True
    shape_rule = "needs d_x == d_y"

    def __init__(self, eps: float = 1e-4):
        self.eps = checks.positive("activation.eps", eps)
        self.guarantee = f"invertible: J = A Aᵀ + εI has eigenvalues >= ε = {self.eps:g}"

    def accepts(self, d_x: int, d_y: int) -> bool:
        return d_x == d_y

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"jacobian_min_eig": Bound(">=", self.eps, label="ε")}

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_x

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        a = raw.reshape(raw.shape[0], d_x, d_x)  # (N, d, d)
        eye = torch.eye(d_x, dtype=raw.dtype, device=raw.device)
        return a @ a.transpose(-1, -2) + self.eps * eye  # (N, d, d)

    def solve(self, jac: Tensor, rhs: Tensor) -> Tensor:
        return spd_solve(jac, rhs)

    def check(self, jac: Tensor) -> dict[str, float]:
        sym = 0.5 * (jac + jac.transpose(-1, -2))
        return {"net_min_eig": float(torch.linalg.eigvalsh(sym).min())}

    def constants(self) -> dict[str, float]:
        return {"eps": self.eps}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        # D = (s_y/s_x) J: eigenvalues >= ε in user units need ε s_x/s_y for J.
        return PositiveDefinite(self.eps * float(x_scale[0] / y_scale[0]))


class Lipschitz(Structure):
    """J = k · tanh(σ(A)) / σ(A) · A, so the operator 2-norm of J is < k: f is k-Lipschitz.

    σ(A) is the spectral norm of the raw matrix A (`norm="spectral"`, exact operator-norm ball)
    or its Frobenius norm (`norm="frobenius"`, cheaper, a smaller ball since ‖·‖₂ <= ‖·‖_F).
    In 1-D both reduce to the paper's k·tanh(a). A per-entry tanh would not be enough in n-D:
    k·tanh entries allow ‖J‖₂ up to k·sqrt(d_x d_y).

    Args:
        k: the Lipschitz constant, > 0.
        norm: "spectral" or "frobenius".
    """

    name = "lipschitz"

    def __init__(self, k: float = 1.0, norm: str = "spectral"):
        self.k = checks.positive("activation.k", k)
        self.norm = checks.one_of("activation.norm", norm, ("spectral", "frobenius"))
        self.guarantee = f"{self.k:g}-Lipschitz: operator norm of J < k = {self.k:g}"

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"lipschitz_max": Bound("<=", self.k, label="k", mirror=True)}

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_y

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        a = raw.reshape(raw.shape[0], d_y, d_x)  # (N, d_y, d_x)
        if d_x == 1 or d_y == 1:
            # A vector: spectral == Frobenius == Euclidean norm.
            s = torch.linalg.vector_norm(a, dim=(-2, -1))  # (N,)
        elif self.norm == "spectral":
            s = torch.linalg.matrix_norm(a, ord=2)  # (N,)
        else:
            s = torch.linalg.matrix_norm(a, ord="fro")  # (N,)
        return self.k * tanhc(s)[:, None, None] * a  # (N, d_y, d_x)

    def check(self, jac: Tensor) -> dict[str, float]:
        return {"net_lipschitz_max": float(operator_norm(jac).max())}

    def constants(self) -> dict[str, float]:
        return {"k": self.k}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        # ‖diag(s_y) J diag(1/s_x)‖ <= max(s_y) ‖J‖ / min(s_x).
        return Lipschitz(self.k * float(x_scale.min() / y_scale.max()), self.norm)


class CauchyRiemann(Structure):
    """J = [[a, -b], [b, a]] for R² -> R²: the Jacobian of a complex-differentiable map.

    With `min_modulus` = m > 0 the complex derivative w = a + ib is kept at |w| >= m through
    w = (m + |u|) u / |u| for the raw u (smooth away from u = 0, where it points along +1),
    so det J = |w|² >= m² > 0 and J is invertible.

    Args:
        min_modulus: m >= 0; 0 leaves the derivative free (not invertible).
    """

    name = "cauchy_riemann"
    scalar_units = True
    invertible_if = "min_modulus > 0"
    shape_rule = "needs a map R² -> R²"

    def __init__(self, min_modulus: float = 0.0):
        self.min_modulus = checks.nonnegative("activation.min_modulus", min_modulus)
        self.invertible = self.min_modulus > 0
        self.guarantee = "complex differentiable: J = [[a, -b], [b, a]]" + (
            f"; invertible: |a + ib| >= {self.min_modulus:g}" if self.invertible else "")

    def accepts(self, d_x: int, d_y: int) -> bool:
        return (d_x, d_y) == (2, 2)

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"cr_residual_max": Bound("<=", 0.0, absolute=True)}

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return 2

    def __call__(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        a, b = raw[:, 0], raw[:, 1]  # (N,), (N,)
        if self.invertible:
            r = torch.sqrt(a * a + b * b + 1e-30)  # (N,)
            scale = (self.min_modulus + r) / r
            tiny = r < 1e-12
            a = torch.where(tiny, torch.full_like(a, self.min_modulus), a * scale)
            b = torch.where(tiny, torch.zeros_like(b), b * scale)
        row0 = torch.stack([a, -b], dim=-1)  # (N, 2)
        row1 = torch.stack([b, a], dim=-1)  # (N, 2)
        return torch.stack([row0, row1], dim=-2)  # (N, 2, 2)

    def solve(self, jac: Tensor, rhs: Tensor) -> Tensor:
        if not self.invertible:
            return super().solve(jac, rhs)
        return complex_solve(jac, rhs)

    def check(self, jac: Tensor) -> dict[str, float]:
        out = {"net_cr_residual_max": float(cr_residual(jac).max())}
        if self.invertible:
            out["net_min_modulus"] = float(torch.sqrt(jac[:, 0, 0] ** 2 + jac[:, 1, 0] ** 2).min())
        return out

    def constants(self) -> dict[str, float]:
        return {"min_modulus": self.min_modulus}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        return CauchyRiemann(self.min_modulus * float(x_scale[0] / y_scale[0]))


def complex_solve(jac: Tensor, rhs: Tensor) -> Tensor:
    """Solve J v = rhs for J = [[a, -b], [b, a]]: w · v = rhs as complex numbers, so
    v = conj(w) rhs / |w|². (N, 2, 2), (N, 2) -> (N, 2)."""
    a, b = jac[:, 0, 0], jac[:, 1, 0]  # (N,)
    det = a * a + b * b  # (N,)
    v0 = (a * rhs[:, 0] + b * rhs[:, 1]) / det
    v1 = (a * rhs[:, 1] - b * rhs[:, 0]) / det
    return torch.stack([v0, v1], dim=-1)  # (N, 2)
