"""Shared fixtures: exact models whose Jacobian is a target's closed-form one."""

from __future__ import annotations

import pytest
import torch

from jacnet_cli.activations import Structure
from jacnet_cli.anchors import FixedAnchor
from jacnet_cli.model import JacNet


class ExactJacNet(JacNet):
    """A JacNet whose J is the target's analytic Jacobian: its integral must be the target."""

    def __init__(self, target, structure: Structure, integrator, path=None, x0=0.0):
        super().__init__(target.d_x, target.d_y, structure, hidden=1, integrator=integrator,
                         path=path, anchor=FixedAnchor(target.d_x, target.d_y, x0, "target",
                                                       target=target))
        self.target = target

    def jacobian(self, x):
        return self.target.jacobian(x)


@pytest.fixture(autouse=True)
def _float64_and_seed():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(old)
