"""The multilayer perceptron behind the paper's Jacobian network and the plain MLP baseline."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks

NONLINEARITIES: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "mish": nn.Mish,
    "leaky_relu": nn.LeakyReLU,
}
# Hidden nonlinearities that are analytic (no kinks): a fixed Gauss–Legendre rule converges
# exponentially on the integrals of a network built from them.
SMOOTH_NONLINEARITIES = ("tanh", "softplus", "silu", "gelu", "mish")
OUTPUT_INITS = ("default", "constant", "data")


class MLP(nn.Module):
    """x (N, d_in) -> (N, d_out) through `depth` hidden layers of `hidden` units.

    Initialisation starts from torch's default (weights and biases uniform in ±1/sqrt(fan_in))
    and changes only what the options ask for, without drawing more random numbers, so a
    seed gives the same weights whatever the options.

    Args:
        d_in: input dimension.
        d_out: output dimension.
        hidden: units per hidden layer (paper: 64).
        depth: number of hidden layers (paper: 1).
        nonlinearity: the hidden layers' nonlinearity, one of NONLINEARITIES.
        bias_scale: multiplies the hidden layers' initial biases. A hidden unit of the first
            layer is centred at x = -b/w; below 1 the centres gather around the origin (where
            jacnet's anchor sits) instead of spreading with a heavy tail far outside the data.
        output_init: "default" (torch's), or "constant": output weights 0 and every output
            bias `output_bias`, so the network starts as the constant `output_bias` (a JacNet
            then starts with the same J everywhere: 1 + ε for `pd`, k·tanh(1) for `lipschitz`).
            "data" starts like "constant" with one input; a 1-D JacNet then moves the
            constant to where J equals the slope of the training data (`raw_for_slope`).
            With more inputs "data" keeps torch's initialisation.
        output_bias: the constant for output_init="constant" (and "data" with one input and
            no training points).
    """

    def __init__(self, d_in: int, d_out: int, hidden: int = 64, depth: int = 1,
                 nonlinearity: str = "tanh", bias_scale: float = 1.0,
                 output_init: str = "default", output_bias: float = 1.0):
        super().__init__()
        checks.integer("model.hidden", hidden, 1)
        checks.integer("model.depth", depth, 1)
        checks.one_of("model.nonlinearity", nonlinearity, NONLINEARITIES)
        checks.one_of("model.output_init", output_init, OUTPUT_INITS)
        bias_scale = checks.nonnegative("model.bias_scale", bias_scale)
        output_bias = checks.number("model.output_bias", output_bias)
        self.hidden, self.depth, self.nonlinearity = hidden, depth, nonlinearity
        self.bias_scale, self.output_init, self.output_bias = bias_scale, output_init, output_bias
        layers: list[nn.Module] = []
        width = d_in
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), NONLINEARITIES[nonlinearity]()]
            width = hidden
        layers.append(nn.Linear(width, d_out))
        self.layers = nn.Sequential(*layers)
        with torch.no_grad():
            for layer in layers[:-1]:
                if isinstance(layer, nn.Linear):
                    layer.bias.mul_(bias_scale)
            # "data" with one input: constant until the model knows the data's slope; with
            # more inputs torch's init, since a constant start makes a pd J a rank-1 matrix
            # plus εI everywhere, which trained monotone_2d to test MAE 1.1 instead of 0.05.
            if output_init == "constant" or (output_init == "data" and d_in == 1):
                self.start_constant(float(output_bias))

    def start_constant(self, value: float) -> None:
        """Make the network the constant `value`: output weights 0, output biases `value`."""
        with torch.no_grad():
            self.layers[-1].weight.zero_()
            self.layers[-1].bias.fill_(float(value))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def raw_for_slope(structure: Callable[[Tensor], Tensor], slope: float, floor: float = 0.1,
                  cap: float = 1.5) -> float:
    """The raw network output c whose 1-D Jacobian structure(c) is closest to `slope`.

    Every 1-D structure here is increasing in c >= 0 (pd: c² + ε, lipschitz: k·tanh c, none: c)
    and odd or even, so bisection on [0, cap] (or [-cap, 0]) finds c. The result is kept in
    floor <= |c| <= cap: at c = 0 a pd J network has no gradient (dJ/dc = 2c), and past
    |c| ~ 1.5 k·tanh saturates; training takes J the rest of the way.

    Args:
        structure: raw (1, 1) -> J (1, 1, 1), e.g. `lambda r: PositiveDefinite()(r, 1, 1)`.
        slope: the wanted J.

    Returns:
        c, a float.
    """
    def jac(c: float) -> float:
        return float(structure(torch.tensor([[c]], dtype=torch.float64)).reshape(()))

    sign = 1.0 if slope >= jac(0.0) or jac(-cap) >= jac(0.0) else -1.0
    lo, hi = 0.0, cap
    if (jac(sign * hi) - slope) * sign <= 0:  # not reachable within the cap: take the cap
        return sign * cap
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if (jac(sign * mid) - slope) * sign < 0:
            lo = mid
        else:
            hi = mid
    return sign * max(0.5 * (lo + hi), floor)
