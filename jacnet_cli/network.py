"""The multilayer perceptron behind both the Jacobian network and the plain MLP baseline."""

from __future__ import annotations

from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


def _size(key: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key}={value!r} is not allowed; it must be an integer >= {minimum}")
    return value


class MLP(nn.Module):
    """x (N, d_in) -> (N, d_out) through `depth` hidden layers of `hidden` units.

    Args:
        d_in: input dimension.
        d_out: output dimension.
        hidden: units per hidden layer (paper: 64).
        depth: number of hidden layers (paper: 1).
        activation: hidden activation, one of ACTIVATIONS.
    """

    def __init__(self, d_in: int, d_out: int, hidden: int = 64, depth: int = 1,
                 activation: str = "tanh"):
        super().__init__()
        _size("model.hidden", hidden, 1)
        _size("model.depth", depth, 1)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"model.activation={activation!r} is not allowed; choose one of: "
                + ", ".join(ACTIVATIONS)
            )
        layers: list[nn.Module] = []
        width = d_in
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
            width = hidden
        layers.append(nn.Linear(width, d_out))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
