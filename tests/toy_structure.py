"""A structure that is not part of jacnet, for the test that adding one takes only its module
and its YAML (test_adding_a_structure.py). Nothing in jacnet_cli names it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from jacnet_cli.core import checks
from jacnet_cli.core.structures import Bound, OutputForm, Structure


class Scaled(OutputForm):
    """J = (ε + softplus(a)) I: a positive multiple of the identity, so ŷ is increasing in
    1-D (invertible, slope >= ε); in n-D only J has the property (measured).

    Args:
        eps: the slope floor ε > 0.
    """

    name = "toy_scaled"
    invertible = True
    scalar_units = True
    shape_rule = "needs d_x == d_y"

    def __init__(self, eps: float = 0.1):
        self.eps = checks.positive("activation.eps", eps)

    def accepts(self, d_x: int, d_y: int) -> bool:
        return d_x == d_y

    def describe(self, d_x: int, d_y: int) -> str:
        return f"increasing with slope >= {self.eps:g} (1-D)"

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"jacobian_min_eig": Bound(">=", self.eps, label="ε")}

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return 1

    def form(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        scale = self.eps + F.softplus(raw[:, 0])  # (N,)
        return scale[:, None, None] * torch.eye(d_x, dtype=raw.dtype, device=raw.device)

    def solve_linear(self, jac: Tensor, rhs: Tensor) -> Tensor:
        return rhs / jac[:, 0, 0:1]

    def constants(self) -> dict[str, float]:
        return {"eps": self.eps}

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        return Scaled(self.eps * float(x_scale[0] / y_scale[0]))
