"""The peers jacnet is compared with, built and trained exactly as jacnet is on each seed.

Every peer is a jacnet `Model` (the protocol `fit` and `measure` ask of a model; a peer has
no structure and no solver) mapping x (N, 1) -> ŷ (N, 1), built right after
`torch.manual_seed(seed)` and trained by the library's own `fit` (full-batch Adam, the paper's
loss |y - ŷ|), so each method sees the same data and the same optimiser per seed.

- `umnn`: the `umnn` package's MonotonicNN, one hidden layer of 64 (ReLU, ELU + 1 integrand,
  Clenshaw–Curtis quadrature with 50 steps), integrated from x0 = 0 with a learned offset and
  scale: no oracle anchor. Monotone increasing by construction.
- `mlp_tanh`, `mlp_relu`: the library's plain `MLPRegressor`, one hidden layer of 64.
- `lipmlp`: a 1-Lipschitz MLP (Anil et al., 2018): each weight matrix divided by its exact
  spectral norm (so ‖W‖₂ = 1) and GroupSort (pairs sorted) as the activation; hidden width 64.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from jacnet_cli import MLPRegressor, Model


class UMNN(Model):
    """MonotonicNN(2, [64]) (x and a constant condition) from the `umnn` package as a map x (N, 1) -> (N, 1)."""

    d_x = d_y = 1

    def __init__(self, hidden: int = 64, nb_steps: int = 50):
        super().__init__()
        from UMNN import MonotonicNN  # the `umnn` package (pip install umnn)

        # in_d counts x and the conditioning h; the package cannot take an empty h, so a 1-D
        # function is conditioned on a constant 0 (its offset/scale network sees only biases).
        self.net = MonotonicNN(2, [hidden], nb_steps=nb_steps, dev="cpu")

    def forward(self, x: Tensor) -> Tensor:
        h = x.new_zeros(x.shape[0], 1)  # constant conditioning: (N, 1)
        return self.net(x, h)  # (N, 1)


def group_sort(z: Tensor) -> Tensor:
    """GroupSort with groups of 2 (MaxMin): (N, 2m) -> (N, 2m), 1-Lipschitz and norm preserving."""
    pairs = z.reshape(z.shape[0], -1, 2)  # (N, m, 2)
    return torch.cat([pairs.min(-1).values, pairs.max(-1).values], dim=-1)  # (N, 2m)


class SpectralLinear(nn.Linear):
    """A linear layer whose weight is divided by its exact spectral norm: ‖W‖₂ = 1."""

    def forward(self, x: Tensor) -> Tensor:
        sigma = torch.linalg.matrix_norm(self.weight, ord=2)
        return nn.functional.linear(x, self.weight / sigma, self.bias)


class LipschitzMLP(Model):
    """A 1-Lipschitz MLP: spectrally normalised linear layers and GroupSort activations.

    Each layer is 1-Lipschitz in the 2-norm (‖W‖₂ = 1 exactly, GroupSort is a permutation per
    point), so the whole map is 1-Lipschitz, whatever the weights.

    Args:
        hidden: width of every hidden layer (even).
        depth: number of hidden layers.
    """

    d_x = d_y = 1

    def __init__(self, hidden: int = 64, depth: int = 1):
        super().__init__()
        widths = [1] + [hidden] * depth + [1]
        self.layers = nn.ModuleList(SpectralLinear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers[:-1]:
            x = group_sort(layer(x))
        return self.layers[-1](x)  # (N, 1)


PEERS: dict[str, Callable[[], nn.Module]] = {
    "umnn": lambda: UMNN(64),
    "mlp_tanh": lambda: MLPRegressor(1, 1, 64, 1, "tanh"),
    "mlp_relu": lambda: MLPRegressor(1, 1, 64, 1, "relu"),
    "lipmlp": lambda: LipschitzMLP(64, 1),
    "lipmlp2": lambda: LipschitzMLP(64, 2),
}
