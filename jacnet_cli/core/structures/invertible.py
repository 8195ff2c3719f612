"""`invertible`: any invertible map of R^d, not only monotone gradients, by construction."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks, defaults
from jacnet_cli.core.structures.base import Bound, NetworkOptions, Owned, Structure, linear_fit


D = defaults.of("activation", "invertible")  # conf/activation/invertible.yaml


def signed_det_root(jac: Tensor) -> Tensor:
    """sign(det J) |det J|^(1/d) per point (the signed geometric mean of |eigenvalues|, which
    stays in range where det itself would underflow at large d): (N, d, d) -> (N,)."""
    sign, logabs = torch.linalg.slogdet(jac)
    return sign * torch.exp(logabs / jac.shape[-1])


class Invertible(Owned):
    """A bijection of R^d whose Jacobian determinant has one fixed sign everywhere.

    The structure owns a network of B blocks, each an invertible mixing (a rotation, det +1)
    then an autoregressive map whose Jacobian is triangular with diagonal >= ε, a sum of
    non-negative terms plus ε, so exactly so in floating point (`core.nets.triangular`):

        ŷ = y0 + f(x) - f(x0),   f = R W_out T_B(W_B ... T_1(W_1 x)),   R = diag(±1, 1, ...),

    evaluated in closed form (nothing is integrated), so D = dŷ/dx = R W_out Π T_b' W_b and
    sign det D = orientation, |det D| >= ε^(dB), for every x and every weight. Each T_b is a
    bijection (solve coordinate 1, then 2, ...: every coordinate is increasing in its own
    input with slope >= ε), so ŷ is a bijection of R^d, inverted by substitution: d
    bracketed scalar solves per block, each convergent from any start.

    Why this form: a JacNet of a triangular Jacobian is the cheap inverse the paper names;
    composing triangular maps with rotations makes the whole map non-triangular and lets it
    fit maps that are not monotone (a rotation composed with a deformation), which no
    symmetric positive definite J can; unlike coupling flows, the inverse is guaranteed
    (bracketed) and the determinant's bound is stated.

    Orientation: a map of positive determinant cannot be trained into one of negative
    determinant (det D would have to cross 0). `orientation="auto"` takes the sign of det of
    the least-squares linear fit to the training data; the run reports it.

    Args:
        eps: the floor ε > 0 of every diagonal slope (|det D| >= ε^(d·blocks)).
        blocks: mixing + triangular blocks B >= 1.
        units: monotone tanh units per coordinate and block.
        depth: hidden layers of each block's conditioner (width: model.hidden).
        max_slope: a cap k > ε on every diagonal slope, or None; with it (and no `affine`) the
            map is bi-Lipschitz with bounds from the weights (`lipschitz_bound`,
            `inverse_lipschitz_bound` in metrics.json).
        orientation: "auto", 1 (det D > 0) or -1 (det D < 0).
        mixing: "learned" rotations, "fixed" rotations, or "linear" (rotation x upper
            triangular with a positive diagonal: any linear map of positive determinant).
        affine: let each coordinate's slope depend on the earlier ones (more expressive; no
            global Lipschitz bound then).
        hidden: width of each block's conditioner; None: model.hidden.
    """

    name = "invertible"
    invertible = True
    scalar_units = True  # D = (s_y/s_x) J: the orientation and the bounds carry over exactly
    needs_points = True  # the orientation and the linear start come from the data
    shape_rule = "needs d_x == d_y (a map of R^d onto itself)"

    def __init__(self, eps: float = D["eps"], blocks: int = D["blocks"], units: int = D["units"],
                 depth: int = D["depth"], max_slope: float | None = D["max_slope"],
                 orientation: int | str = D["orientation"], mixing: str = D["mixing"],
                 affine: bool = D["affine"], hidden: int | None = D["hidden"]):
        self.eps = checks.positive("activation.eps", eps)
        self.blocks = checks.integer("activation.blocks", blocks, 1)
        self.units = checks.integer("activation.units", units, 1)
        self.depth = checks.integer("activation.depth", depth, 1)
        self.max_slope = checks.positive("activation.max_slope", max_slope, optional=True)
        if self.max_slope is not None and self.max_slope <= self.eps:
            raise checks.refuse("activation.max_slope", max_slope,
                                f"it must be > activation.eps = {self.eps:g}")
        if orientation not in ("auto", 1, -1) or isinstance(orientation, bool):
            raise checks.refuse("activation.orientation", orientation,
                                "it must be auto, 1 or -1")
        self.orientation = orientation
        self.mixing = checks.one_of("activation.mixing", mixing, ("learned", "fixed", "linear"))
        self.affine = checks.boolean("activation.affine", affine)
        self.hidden = checks.integer("activation.hidden", hidden, 1, optional=True)
        self.model_keys = frozenset() if self.hidden is not None else frozenset({"hidden"})
        sign = {1: "det D > 0", -1: "det D < 0"}.get(orientation, "det D of one sign")
        self.guarantee = (f"invertible map of R^d: {sign} everywhere (never 0), exact inverse "
                          f"by substitution; slopes >= ε = {self.eps:g} inside each block")

    def accepts(self, d_x: int, d_y: int) -> bool:
        return d_x == d_y

    def describe(self, d_x: int, d_y: int) -> str:
        return self.guarantee

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"jacobian_det_root_min": Bound(">", 0.0)}

    def measure(self, key: str, jac: Tensor) -> Tensor:
        if key != "jacobian_det_root_min":
            return super().measure(key, jac)
        root = signed_det_root(jac)  # (N,)
        sign = self.orientation if self.orientation in (1, -1) else \
            (1.0 if float(root.median()) >= 0 else -1.0)
        return sign * root

    def reduction(self, key: str) -> str:
        return "min" if key == "jacobian_det_root_min" else super().reduction(key)

    def check(self, jac: Tensor) -> dict[str, float]:
        return {"net_det_root_min": float(self.measure("jacobian_det_root_min", jac).min())}

    def constants(self) -> dict[str, float]:
        return {"eps": self.eps, **({"max_slope": self.max_slope} if self.max_slope else {})}

    # -- the network -----------------------------------------------------------------

    def make_network(self, d_x: int, d_y: int, options: NetworkOptions) -> nn.Module:
        from jacnet_cli.core.nets.triangular import InvertibleNet

        orientation = self.orientation if self.orientation in (1, -1) else 1
        width = options.hidden if self.hidden is None else self.hidden
        return InvertibleNet(d_x, hidden=width, blocks=self.blocks, eps=self.eps,
                             max_slope=self.max_slope, orientation=orientation,
                             units=self.units, depth=self.depth, mixing=self.mixing,
                             affine=self.affine)

    def fit_data(self, net: nn.Module, x: Tensor, y: Tensor) -> None:
        """Orientation (if auto) and the linear part from the training data (x, y)."""
        from jacnet_cli.core.nets.triangular import orientation_from_data

        if x.shape[0] <= x.shape[1]:
            return  # too few points to fit a linear map
        if self.orientation == "auto":
            sign = orientation_from_data(x, y)
            net.orientation = sign
            net.flip[0] = float(sign)
        net.init_from_data(x, y)

    def resolved(self, net: nn.Module) -> dict[str, Any]:
        return {"orientation": int(net.orientation)} if self.orientation == "auto" else {}

    def log_det(self, net: nn.Module, x: Tensor) -> Tensor:
        """log |det D| in closed form: (N, d) -> (N,)."""
        return net.log_det(x)

    # -- the inverse -----------------------------------------------------------------

    def solve_linear(self, jac: Tensor, rhs: Tensor) -> Tensor:
        return torch.linalg.solve(jac, rhs)

    def inverse_method(self, d: int) -> str:
        return "substitution"

    def invert_primitive(self, net: nn.Module, p: Tensor) -> tuple[Tensor, Tensor]:
        return net.inverse(p)

    def report(self, net: nn.Module, x_scale: Tensor, y_scale: Tensor) -> dict[str, Any]:
        """What the weights bound, in the user's units (scalar units: D = (s_y/s_x) J)."""
        ratio = float(y_scale[0] / x_scale[0])
        out: dict[str, Any] = {"orientation": int(net.orientation)}
        low, _ = net.det_bounds()
        out["det_lower_bound"] = low * ratio ** net.d
        if not self.affine:
            out["lipschitz_bound"] = net.lipschitz_bound() * ratio
            inverse = net.inverse_lipschitz_bound()
            out["inverse_lipschitz_bound"] = inverse / ratio if math.isfinite(inverse) else inverse
        return out

    def direction(self, x: Tensor, y: Tensor, names: list[str]) -> str | None:
        """A fixed orientation against the sign of det of the data's linear fit (in
        standardised units, where |det| <= 1 for a fit of correlated columns)."""
        fit = linear_fit(x, y) if self.orientation in (1, -1) and x.shape[1] == y.shape[1] \
            else None
        if fit is None:
            return None
        scale = x.double().std(0)[None, :] / y.double().std(0)[:, None].clamp_min(1e-300)
        det = float(torch.linalg.det(fit.slope * scale))
        if abs(det) < 0.05 or (det > 0) == (self.orientation > 0):
            return None
        sign = "<" if det < 0 else ">"
        return (f"the data's linear fit has det {sign} 0 (orientation {-self.orientation}, det "
                f"{det:.3g} in standard units) but activation.orientation={self.orientation} "
                f"fixes det D {'>' if self.orientation > 0 else '<'} 0; use "
                f"activation.orientation={-self.orientation} (or auto)")

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        # The guarantee (one sign of det D, never 0) does not depend on units; ε and
        # max_slope bound the slopes inside the model's blocks, in its standard units, and
        # the bounds it reports (`report`) are converted to the data's units.
        return Invertible(self.eps, self.blocks, self.units, self.depth, self.max_slope,
                          self.orientation, self.mixing, self.affine, self.hidden)
