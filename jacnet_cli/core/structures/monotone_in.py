"""`monotone_in`: scalar regression monotone in chosen inputs, free in the others."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks, defaults
from jacnet_cli.core.structures.base import Bound, NetworkOptions, Owned, Structure, linear_fit


D = defaults.of("activation", "monotone_in")  # conf/activation/monotone_in.yaml


def _as_list(value: Any) -> list[str | int]:
    return [value] if isinstance(value, (str, int)) else list(value)


class MonotoneIn(Owned):
    """f: R^d -> R monotone in chosen inputs, free in the others (scalar regression).

    ∂ŷ/∂x_i >= ε (inputs) or <= -ε (decreasing) for the chosen i, by construction, for the
    function as evaluated, in any dimension: the structure owns a partially monotone network
    (`core.nets.partial_monotone`) whose partials in those inputs are sums of products of
    non-negative factors, evaluated in closed form (solver=exact). With exactly one monotone
    input and ε > 0, ŷ is invertible in that input given the others.

    Args:
        inputs: the non-decreasing inputs, as column names or 0-based indices.
        decreasing: the non-increasing inputs, likewise.
        eps: the floor ε >= 0 of each signed partial (ε > 0: strictly monotone).
        hidden: width of the owned partially monotone network; None: model.hidden. The YAML
            default, 32, won the tabular study (benchmarks/tabular/tables.md): on 4 small
            tables it matched or beat width 128 at a quarter of the time.
        linear: add a linear term (monotone in the chosen inputs, free in the others) beside
            the network.
        members: K networks averaged in one module (an ensemble; a mean of monotone
            functions is monotone).
        independent: each member trains on its own loss (the training loss adds the
            members' variance, `penalty`), instead of the loss of their mean.
        average: decay of an exponential moving average of the weights, which every
            evaluation uses (0: off).
        keypoints: calibrate inputs with many distinct values by an increasing
            monotone cubic map through this many training quantiles (0: off).
    """

    name = "monotone_in"
    inverse_kind = "input"
    jacobian_by_autograd = True  # J is the network's autograd gradient (torch.func cannot
    #                              transform it; `guarantees` takes plain double backward)
    shape_rule = "needs one output (scalar regression)"

    def __init__(self, inputs: list[str | int] | str | int = (),
                 decreasing: list[str | int] | str | int = (), eps: float = D["eps"],
                 hidden: int | None = D["hidden"], linear: bool = D["linear"],
                 members: int = D["members"], independent: bool = D["independent"],
                 average: float = D["average"], keypoints: int = D["keypoints"]):
        self.inputs, self.decreasing = _as_list(inputs), _as_list(decreasing)
        self.keypoints = checks.integer("activation.keypoints", keypoints, 0)
        if self.keypoints == 1:
            raise ValueError("activation.keypoints=1 is not allowed; it must be 0 (off) or >= 2")
        self.needs_points = self.keypoints > 0  # fit_data: the inputs' training quantiles
        self.average = checks.nonnegative("activation.average", average)
        if self.average >= 1:
            raise ValueError(f"activation.average={average!r} is not allowed; it must be in [0, 1)")
        self.members = checks.integer("activation.members", members, 1)
        self.independent = checks.boolean("activation.independent", independent)
        self.hidden = checks.integer("activation.hidden", hidden, 1, optional=True)
        self.linear = checks.boolean("activation.linear", linear)
        # model.depth always; model.hidden only where activation.hidden is null
        self.model_keys = frozenset({"depth"} | ({"hidden"} if self.hidden is None else set()))
        if not self.inputs and not self.decreasing:
            raise ValueError("activation.inputs=[] is not allowed with activation.decreasing=[]; "
                             "name at least one monotone input, e.g. activation.inputs=[x1]")
        self.eps = checks.nonnegative("activation.eps", eps)
        self.indices: list[int] | None = None
        self.signs: list[float] = []
        self.names: list[str] = []
        self.guarantee = "monotone in " + ", ".join(
            [f"{v} (non-decreasing)" for v in self.inputs]
            + [f"{v} (non-increasing)" for v in self.decreasing]) + \
            (f"; |∂ŷ/∂x_i| >= {self.eps:g}" if self.eps else "")

    def spec_arguments(self) -> dict[str, Any]:
        if self.indices is None:
            return {"inputs": list(self.inputs), "decreasing": list(self.decreasing),
                    "eps": self.eps, "hidden": self.hidden, "linear": self.linear,
                    "members": self.members, "independent": self.independent,
                    "average": self.average, "keypoints": self.keypoints}
        # Bound to the data's inputs: by index, which rebuilds without the column names.
        pairs = list(zip(self.indices, self.signs))
        return {"inputs": [i for i, s in pairs if s > 0],
                "decreasing": [i for i, s in pairs if s < 0], "eps": self.eps,
                "hidden": self.hidden, "linear": self.linear, "members": self.members,
                "independent": self.independent, "average": self.average,
                "keypoints": self.keypoints}

    def bind(self, names: list[str]) -> None:
        """Resolve the chosen inputs against the data's column names."""
        indices, signs = [], []
        for sign, chosen in ((1.0, self.inputs), (-1.0, self.decreasing)):
            for item in chosen:
                if isinstance(item, int) and not isinstance(item, bool):
                    if not 0 <= item < len(names):
                        raise ValueError(f"activation.inputs: index {item} is out of range; the "
                                         f"inputs are 0..{len(names) - 1} ({', '.join(names)})")
                    index = item
                elif item in names:
                    index = names.index(item)
                else:
                    raise ValueError(f"activation.inputs: {item!r} is not an input; the inputs "
                                     f"are: {', '.join(names)}")
                if index in indices:
                    raise ValueError(f"activation.inputs: {names[index]!r} is named twice")
                indices.append(index)
                signs.append(sign)
        self.indices, self.signs = indices, signs
        self.names = [names[i] for i in indices]

    @property
    def inverse_input(self) -> tuple[int, float] | None:
        """The input ŷ inverts in and its sign: exactly one strictly monotone input, else
        None."""
        if self.indices and len(self.indices) == 1 and self.eps > 0:
            return self.indices[0], self.signs[0]
        return None

    def why_not_invertible(self) -> str:
        return ("activation=monotone_in inverts in exactly one strictly monotone input (one of "
                f"inputs/decreasing, and activation.eps > 0); this run has "
                f"{len(self.indices or [])} monotone input(s) and eps={self.eps:g}")

    def accepts(self, d_x: int, d_y: int) -> bool:
        return d_y == 1

    def check_dims(self, d_x: int, d_y: int) -> None:
        super().check_dims(d_x, d_y)
        if self.indices is None:
            self.bind([f"x{i + 1}" for i in range(d_x)] if d_x > 1 else ["x"])

    def describe(self, d_x: int, d_y: int) -> str:
        return self.guarantee

    def bounds(self, d_x: int, d_y: int) -> dict[str, Bound]:
        return {"partial_min": Bound(">=", self.eps)}

    def measure(self, key: str, jac: Tensor) -> Tensor:
        if key != "partial_min":
            return super().measure(key, jac)
        signs = torch.tensor(self.signs, dtype=jac.dtype, device=jac.device)
        return (jac[:, 0, self.indices] * signs).min(dim=-1).values  # (N,)

    def reduction(self, key: str) -> str:
        return "min" if key == "partial_min" else super().reduction(key)

    def make_network(self, d_x: int, d_y: int, options: NetworkOptions) -> nn.Module:
        from jacnet_cli.core.nets.partial_monotone import PartialMonotone

        width = options.hidden if self.hidden is None else self.hidden
        return PartialMonotone(d_x, self.indices, self.signs, width, options.depth, self.eps,
                               self.linear, self.members, self.average, self.keypoints)

    def fit_data(self, net: nn.Module, x: Tensor, y: Tensor) -> None:
        """With `keypoints`: the inputs' calibration from the training inputs."""
        if self.keypoints and x.shape[0]:
            net.calibrate(x)

    def penalty(self, net: nn.Module) -> Tensor | None:
        """With `independent` and several members: the members' variance at the last training
        batch, which turns the mean squared error of their mean into the mean of their own."""
        if not (self.independent and self.members > 1):
            return None
        return net.spread if net.spread is not None else torch.zeros((), dtype=net.w1.dtype)

    def jacobian(self, net: nn.Module, x: Tensor, d_x: int, d_y: int) -> Tensor:
        return net.gradient(x)  # (N, 1, d)

    def check(self, jac: Tensor) -> dict[str, float]:
        return {"net_partial_min": float(self.measure("partial_min", jac).min())}

    def constants(self) -> dict[str, float]:
        return {"eps": self.eps}

    def direction(self, x: Tensor, y: Tensor, names: list[str]) -> str | None:
        """Each monotone input's partial least-squares slope against its direction; the line
        names the inputs and decreasing lists that fit."""
        fit = linear_fit(x, y) if y.shape[1] == 1 else None
        if fit is None:
            return None
        if self.indices is None:
            self.bind(names)
        wrong = [(i, s) for i, s in zip(self.indices, self.signs) if fit.clear(0, i, -s)]
        if not wrong:
            return None
        flip = {i for i, _ in wrong}
        up = [names[i] for i, s in zip(self.indices, self.signs) if (s > 0) != (i in flip)]
        down = [names[i] for i, s in zip(self.indices, self.signs) if (s < 0) != (i in flip)]
        said = "; ".join(f"the data {'fall' if s > 0 else 'rise'} in {names[i]} (partial "
                         f"least-squares slope {float(fit.slope[0, i]):.3g}) but "
                         f"activation.{'inputs' if s > 0 else 'decreasing'} makes ŷ "
                         f"{'non-decreasing' if s > 0 else 'non-increasing'} in it"
                         for i, s in wrong)
        option = "activation=monotone_in" + (f" activation.inputs=[{','.join(up)}]" if up else "") \
            + (f" activation.decreasing=[{','.join(down)}]" if down else "")
        return f"{said}; use {option}"

    def rescaled(self, x_scale: Tensor, y_scale: Tensor) -> "Structure":
        # s_i ∂ŷ/∂x_i = (s_y / s_x_i) ∂f/∂x̃_i: a floor ε in user units needs max_i ε s_x_i / s_y.
        new = MonotoneIn(self.inputs, self.decreasing,
                         self.eps * float(x_scale[self.indices].max() / y_scale[0]), self.hidden,
                         self.linear, self.members, self.independent, self.average,
                         self.keypoints)
        new.indices, new.signs, new.names = self.indices, self.signs, self.names
        return new
