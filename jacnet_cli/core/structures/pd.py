"""`pd`: J symmetric positive definite with eigenvalues >= ε, so ŷ is invertible.

1-D: the paper's form J = a² + ε (section 4.2), a quadrature of an MLP: every 1-D field is
conservative, so ŷ' >= ε up to the solver's error. n-D: an MLP's A Aᵀ + εI need not be
the Jacobian of anything, and the integrated ŷ's D is then neither symmetric nor positive
definite (section 4.5; random MLPs at d = 2-8 reach λ_min(sym D) ≈ -1.7). So an n-D model
owns a convex-potential network, J = ∇²φ + εI with φ convex (`monotone`'s mGradNet-C),
evaluated exactly. `conservative=false` keeps the paper's form in n-D, measured only.
"""

from __future__ import annotations

import torch
from torch import Tensor

from jacnet_cli.core import checks, defaults
from jacnet_cli.core.structures.base import (Bound, Family, OutputForm, Structure,
                                             increasing_direction, spd_solve, square)
from jacnet_cli.core.structures.monotone import Monotone

SHAPE_RULE = "needs d_x == d_y"
D = defaults.of("activation", "pd")  # conf/activation/pd.yaml


class PositiveDefinite(Family):
    """Invertible: J symmetric with every eigenvalue >= ε.

    Args:
        eps: the eigenvalue floor ε > 0 (paper: 1e-4).
        conservative: in n-D, own the convex-potential network (guaranteed) rather than the
            paper's MLP form (measured only). No effect in 1-D.
    """

    name = "pd"
    invertible = True
    scalar_units = True
    shape_rule = SHAPE_RULE

    def __init__(self, eps: float = D["eps"], conservative: bool = D["conservative"]):
        self.eps = checks.positive("activation.eps", eps)
        self.conservative = checks.boolean("activation.conservative", conservative)

    def accepts(self, d_x: int, d_y: int) -> bool:
        return square(d_x, d_y)

    def at(self, d_x: int, d_y: int) -> Structure:
        self.check_dims(d_x, d_y)
        form = ConvexPositiveDefinite(self.eps) if self.conservative and d_x > 1 else \
            PaperPositiveDefinite(self.eps)
        form.option = self
        if not self.conservative:
            form.remedy = "activation.conservative=true holds it by construction"
        return form


class PaperPositiveDefinite(OutputForm, option=False):
    """J = A Aᵀ + εI from an MLP's raw A (paper section 4.2)."""

    name = "pd"
    invertible = True
    scalar_units = True
    shape_rule = SHAPE_RULE

    def __init__(self, eps: float = D["eps"]):
        self.eps = checks.positive("activation.eps", eps)
        self.guarantee = f"invertible: J = A Aᵀ + εI has eigenvalues >= ε = {self.eps:g}"

    def accepts(self, d_x: int, d_y: int) -> bool:
        return square(d_x, d_y)

    def describe(self, d_x: int, d_y: int) -> str:
        return self.guarantee

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"jacobian_min_eig": Bound(">=", self.eps, label="ε")}

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_x

    def form(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        a = raw.reshape(raw.shape[0], d_x, d_x)  # (N, d, d)
        eye = torch.eye(d_x, dtype=raw.dtype, device=raw.device)
        return a @ a.transpose(-1, -2) + self.eps * eye  # (N, d, d)

    def solve_linear(self, jac: Tensor, rhs: Tensor) -> Tensor:
        return spd_solve(jac, rhs)

    def check(self, jac: Tensor) -> dict[str, float]:
        sym = 0.5 * (jac + jac.transpose(-1, -2))
        return {"net_min_eig": float(torch.linalg.eigvalsh(sym).min())}

    def constants(self) -> dict[str, float]:
        return {"eps": self.eps}

    def direction(self, x: Tensor, y: Tensor, names: list[str]) -> str | None:
        """Increasing only: falling data get a line naming monotone_in's decreasing."""
        return increasing_direction(self.name, x, y, names)

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        # D = (s_y/s_x) J: eigenvalues >= ε in user units need ε s_x/s_y for J.
        return PaperPositiveDefinite(self.eps * float(x_scale[0] / y_scale[0]))


class ConvexPositiveDefinite(Monotone, option=False):
    """J = ∇²φ + εI, φ convex (mGradNet-C): D symmetric with eigenvalues >= ε for every x
    and every weight, ŷ ε-strongly monotone, so a bijection of R^d."""

    name = "pd"

    def __init__(self, eps: float = D["eps"]):
        super().__init__(eps)

    def describe(self, d_x: int, d_y: int) -> str:
        return (f"invertible: D = ∇²φ + εI symmetric with eigenvalues >= ε = {self.eps:g} "
                "(φ convex; ŷ ε-strongly monotone)")

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        return ConvexPositiveDefinite(self.eps * float(x_scale[0] / y_scale[0]))
