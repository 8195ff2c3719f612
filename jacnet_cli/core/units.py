"""The user's units: a model trains on standardised data and is used in the data's own units.

    ŷ(x) = μ_y + s_y ⊙ f((x - μ_x) / s_x)

`Standardized` wraps the trained model f. Everything a run reports (errors, plots,
predictions, inverses, guarantees) goes through it, so it is in the user's units. Its
Jacobian is D = diag(s_y) J_f diag(1/s_x), so a structure's constants are rescaled for f
(`Structure.rescaled`) to make the guarantee hold for ŷ in the user's units:

- structures whose J is square and structured (pd, gradient, monotone, cauchy_riemann) use one
  scale for all of x and one for all of y (a per-coordinate scaling would break symmetry and
  the Cauchy–Riemann form), so D = (s_y/s_x) J_f: ε and k scale by s_x/s_y exactly;
- the others (none, lipschitz, monotone_in) scale each coordinate; a k-Lipschitz bound then
  uses k_f = k min(s_x)/max(s_y), which bounds ‖D‖₂ <= k (conservative when scales differ).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core.evaluation import Model, as_points


class Units(nn.Module):
    """The affine map between the user's units and the model's standard units.

    Buffers x_mean, x_scale (d_x,) and y_mean, y_scale (d_y,), saved with the model.
    """

    def __init__(self, x_mean: Tensor, x_scale: Tensor, y_mean: Tensor, y_scale: Tensor):
        super().__init__()
        for name, value in (("x_mean", x_mean), ("x_scale", x_scale), ("y_mean", y_mean),
                            ("y_scale", y_scale)):
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float64).flatten().clone())

    @classmethod
    def fit(cls, x: Tensor, y: Tensor, scalar: bool) -> "Units":
        """Means and standard deviations of (x, y); one scale per side when `scalar`.

        A constant column gets scale 1 (nothing to divide by).
        """
        def scale(t: Tensor) -> Tensor:
            if scalar:
                s = (t - t.mean(0)).pow(2).mean().sqrt().expand(t.shape[1])
            else:
                s = t.std(0, unbiased=False)
            return torch.where(s > 0, s, torch.ones_like(s))

        x, y = x.double(), y.double()
        return cls(x.mean(0), scale(x), y.mean(0), scale(y))

    def logits(self) -> "Units":
        """The same x units with y left as it is: outputs that are logits of 0/1 labels."""
        return Units(self.x_mean, self.x_scale, torch.zeros_like(self.y_mean),
                     torch.ones_like(self.y_scale))

    def _cast(self, t: Tensor, name: str) -> Tensor:
        return getattr(self, name).to(dtype=t.dtype, device=t.device)

    def x_in(self, x: Tensor) -> Tensor:
        """User x -> model x̃: (N, d_x)."""
        return (x - self._cast(x, "x_mean")) / self._cast(x, "x_scale")

    def x_out(self, x: Tensor) -> Tensor:
        """Model x̃ -> user x: (N, d_x)."""
        return self._cast(x, "x_mean") + self._cast(x, "x_scale") * x

    def y_in(self, y: Tensor) -> Tensor:
        """User y -> model ỹ: (N, d_y)."""
        return (y - self._cast(y, "y_mean")) / self._cast(y, "y_scale")

    def y_out(self, y: Tensor) -> Tensor:
        """Model ỹ -> user y: (N, d_y)."""
        return self._cast(y, "y_mean") + self._cast(y, "y_scale") * y

    def describe(self) -> dict[str, Any]:
        return {k: [float(v) for v in getattr(self, k)]
                for k in ("x_mean", "x_scale", "y_mean", "y_scale")}


class Standardized(Model):
    """A model f trained in standard units, evaluated in the user's: μ_y + s_y f((x - μ_x)/s_x).

    It answers the whole model protocol (`core.model.Model`) in the user's units, so callers
    use it exactly as the model it wraps; only this class looks inside.

    Args:
        core: the model f (a JacNet or an MLPRegressor), built with the rescaled structure.
        units: the affine maps.
        structure: the structure as the user configured it (constants in the user's units),
            which guarantees and reports refer to; None for a plain MLP.
    """

    def __init__(self, core: Model, units: Units, structure: Any = None):
        super().__init__()
        self.core = core
        self.units = units
        self.structure = structure

    @property
    def units(self) -> Units:
        return self._modules["units"]

    @property
    def d_x(self) -> int:
        return self.core.d_x

    @property
    def d_y(self) -> int:
        return self.core.d_y

    @property
    def solver(self) -> Any:
        return self.core.solver

    @property
    def invertible(self) -> bool:
        return self.core.invertible

    def forward(self, x: Tensor) -> Tensor:
        """ŷ(x) in the user's units: (N, d_x) -> (N, d_y)."""
        x = as_points(x, self.d_x, self)
        return self.units.y_out(self.core(self.units.x_in(x)))

    def predict(self, x: Tensor, rows: int = 16384, method: str = "direct") -> Tensor:
        x = as_points(x, self.d_x, self)
        return self.units.y_out(self.core.predict(self.units.x_in(x), rows, method))

    def jacobian(self, x: Tensor) -> Tensor:
        """The network's J in the user's units, diag(s_y) J_f diag(1/s_x): (N, d_y, d_x)."""
        u = self.units
        jac = self.core.jacobian(u.x_in(x))  # (N, d_y, d_x)
        return u._cast(x, "y_scale")[:, None] * jac / u._cast(x, "x_scale")[None, :]

    def solve(self, y: Tensor, x: Tensor | None = None, **options: Any) -> Any:
        """The inverse in the user's units: solved in the model's units (where an input
        inverted in starts at its mean, 0, with steps of one standard deviation), residuals
        measured in the user's."""
        from jacnet_cli.core.inverse import Inversion, check_invertible

        check_invertible(self)
        u = self.units
        y = as_points(y, self.d_y, self).detach()
        inner = self.core.solve(u.y_in(y), None if x is None else u.x_in(as_points(x, self.d_x, self)),
                                **options)
        x_user = u.x_out(inner.x)
        with torch.no_grad():
            residual = torch.linalg.vector_norm(self.predict(x_user) - y, dim=-1)
        return Inversion(x_user, inner.converged, residual)

    def inverse(self, y: Tensor, x: Tensor | None = None, **options: Any) -> Tensor:
        from jacnet_cli.core.inverse import invert

        return invert(self, y, x=x, **options)

    def log_det(self, x: Tensor) -> Tensor:
        """log |det dŷ/dx| in the user's units: the core's plus Σ log s_y - Σ log s_x."""
        u = self.units
        x = as_points(x, self.d_x, self)
        shift = torch.log(u._cast(x, "y_scale")).sum() - torch.log(u._cast(x, "x_scale")).sum()
        return self.core.log_det(u.x_in(x)) + shift

    def trainable(self) -> tuple[Model, Any]:
        u = self.units
        return self.core, (lambda x, y: (u.x_in(x), u.y_in(y)))

    def penalty(self) -> Tensor | None:
        return self.core.penalty()

    def weight_report(self) -> dict[str, Any]:
        if self.core.structure is None:
            return {}
        return self.core.structure.report(self.core.net, self.units.x_scale, self.units.y_scale)

    def region(self) -> tuple[Tensor, Tensor] | None:
        box = self.core.region()
        if box is None:
            return None
        return self.units.x_out(box[0][None])[0], self.units.x_out(box[1][None])[0]

    def resolved(self) -> dict[str, Any]:
        return self.core.resolved()

    def standard_constants(self) -> dict[str, float]:
        """The structure's constants as the standardised model uses them."""
        return {} if self.core.structure is None else self.core.structure.constants()

    def conservation(self, x_test: Tensor, grid: Tensor) -> dict[str, float]:
        """The conservation diagnostics, in the model's units (path gaps in the user's)."""
        from jacnet_cli.core.guarantees import conservation

        if self.core.structure is None or self.d_x == 1:
            return {}
        u = self.units
        return conservation(self.core, u.x_in(x_test), u.x_in(grid),
                            y_scale=u._cast(x_test, "y_scale"))

    def config(self) -> dict[str, Any]:
        from jacnet_cli.core.specs import spec

        out = self.core.config()
        if self.structure is not None:
            out["activation"] = spec(self.structure.option or self.structure)
        out["units"] = self.units.describe()
        return out
