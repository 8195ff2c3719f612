"""`none`: J is the raw network output, unconstrained (the paper's comparison)."""

from __future__ import annotations

from torch import Tensor

from jacnet_cli.core.structures.base import Bound, OutputForm, Structure


class Unconstrained(OutputForm):
    """J is the raw output reshaped: no guarantee (the paper's comparison)."""

    name = "none"
    guarantee = "none: the Jacobian is unconstrained"

    def describe(self, d_x: int, d_y: int) -> str:
        return self.guarantee

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {}

    def by_construction(self, d_x: int, d_y: int) -> bool:
        return False

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> Structure:
        return self

    def raw_dim(self, d_x: int, d_y: int) -> int:
        return d_x * d_y

    def form(self, raw: Tensor, d_x: int, d_y: int) -> Tensor:
        return raw.reshape(raw.shape[0], d_y, d_x)  # (N, d_y, d_x)
