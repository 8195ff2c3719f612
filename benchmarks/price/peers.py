"""The specialist peers, built from their libraries (installed in the venv, not vendored):
deel-torchlip and orthogonium (SLL, AOL) for 1-Lipschitz maps, zuko for invertible maps.
Each factory takes a width; `matched` picks the width whose trainable parameter count is
closest to a target (jacnet's structure), so peers are compared at equal parameters.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn


def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def matched(factory: Callable[[int], nn.Module], target: int, widths=range(4, 1025, 2)) -> int:
    """The even width w whose factory(w) has the parameter count closest to target."""
    best, gap = widths[0], float("inf")
    for w in widths:
        n = _count(factory(w))
        if abs(n - target) < gap:
            best, gap = w, abs(n - target)
        if n > target:
            break
    return best


# -- 1-Lipschitz peers ------------------------------------------------------------------------

def torchlip(d_x: int, d_y: int, layers: int = 2) -> Callable[[int], nn.Module]:
    """deel-torchlip: SpectralLinear (spectral normalisation + Björck) and GroupSort2, the
    library's recipe for 1-Lipschitz regression."""
    import deel.torchlip as tl

    def make(width: int) -> nn.Module:
        mods: list[nn.Module] = [tl.SpectralLinear(d_x, width), tl.GroupSort2()]
        for _ in range(layers - 1):
            mods += [tl.SpectralLinear(width, width), tl.GroupSort2()]
        mods.append(tl.SpectralLinear(width, d_y))
        return tl.Sequential(*mods)
    return make


class _Flat(nn.Module):
    """A 1x1 convolution stack applied to vectors: (N, C) <-> (N, C, 1, 1)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x[:, :, None, None])[:, :, 0, 0]


def aol(d_x: int, d_y: int, layers: int = 2) -> Callable[[int], nn.Module]:
    """orthogonium's AOL layers (Prach & Lampert 2022: W = V diag(Σ|VᵀV|)^-1/2, 1-Lipschitz
    by construction) as 1x1 convolutions, with MaxMin."""
    from orthogonium.layers.conv.AOL.aol import AOLConv2D
    from orthogonium.layers.custom_activations import MaxMin

    def make(width: int) -> nn.Module:
        mods: list[nn.Module] = [AOLConv2D(d_x, width, 1), MaxMin()]
        for _ in range(layers - 1):
            mods += [AOLConv2D(width, width, 1), MaxMin()]
        mods.append(AOLConv2D(width, d_y, 1))
        return _Flat(nn.Sequential(*mods))
    return make


def sll(d_x: int, d_y: int, blocks: int = 3) -> Callable[[int], nn.Module]:
    """orthogonium's SLL (SDP-based Lipschitz layers, Araujo et al. 2023) residual blocks,
    between orthogonal (Björck) input and output layers: the network 1-Lipschitz
    distance fields are trained with (Coiffier & Béthune 2024)."""
    from orthogonium.layers.conv.SLL.sll_layer import SDPBasedLipschitzDense
    from orthogonium.layers.linear.ortho_linear import OrthoLinear

    def make(width: int) -> nn.Module:
        mods: list[nn.Module] = [OrthoLinear(d_x, width)]
        mods += [SDPBasedLipschitzDense(width, width, width) for _ in range(blocks)]
        mods.append(OrthoLinear(width, d_y))
        return nn.Sequential(*mods)
    return make


# -- invertible peers -------------------------------------------------------------------------

class Flow(nn.Module):
    """A zuko flow's transform used as the map x -> y (a bijection of R^d, det > 0), after a
    fixed reflection where the data reverse orientation (jacnet picks its orientation the
    same way, from the sign of det of the data's linear fit)."""

    def __init__(self, flow: nn.Module, orientation: int, d: int):
        super().__init__()
        self.flow = flow
        flip = torch.ones(d)
        flip[0] = float(orientation)
        self.register_buffer("flip", flip)

    def forward(self, x: Tensor) -> Tensor:
        return self.flow().transform(x) * self.flip


def zuko_flow(kind: str, d: int, orientation: int, transforms: int = 4
              ) -> Callable[[int], nn.Module]:
    """zuko's MAF (affine autoregressive) or NSF (rational-quadratic spline autoregressive)
    with two hidden layers of `width` per transform."""
    import zuko

    def make(width: int) -> nn.Module:
        cls = {"maf": zuko.flows.MAF, "nsf": zuko.flows.NSF}[kind]
        flow = cls(features=d, context=0, transforms=transforms,
                   hidden_features=(width, width))
        return Flow(flow, orientation, d)
    return make
