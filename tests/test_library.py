"""The library takes what the command line takes: a loaded model accepts numpy arrays, lists
and any float dtype, answers without a graph over its weights, and inverts whatever
`jacnet invert` inverts (issue 27, points 3 and 4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import jacnet_cli
from jacnet_cli import Invertible, JacNet, Monotone, MonotoneIn, NotInvertibleError


def _saved(model, tmp_path, name):
    return jacnet_cli.load(jacnet_cli.save(model, tmp_path / f"{name}.pt")).model


def test_a_loaded_model_takes_arrays_lists_and_any_float_dtype(tmp_path):
    torch.manual_seed(0)
    model = _saved(JacNet(3, 3, Monotone(eps=0.1), hidden=8).double(), tmp_path, "m")
    x = torch.rand(4, 3, dtype=torch.float64)
    want = model(x)
    assert want.grad_fn is None  # no graph over the weights unless asked
    for given in (x.numpy(), x.tolist(), x.float(), x.numpy().astype(np.float32)):
        got = model(given)
        assert got.dtype == torch.float64 and got.grad_fn is None
        assert torch.allclose(got, want, atol=1e-6)  # float32 inputs lose their last digits
    assert torch.allclose(model(x[0].numpy()), want[:1], atol=1e-12)  # one point, 1-D array
    with pytest.raises(ValueError, match=r"expected points of shape \(N, 3\)"):
        model(np.ones((4, 2)))
    with pytest.raises(ValueError, match="a tensor, a numpy array or a list"):
        model("1, 2, 3")
    model.requires_grad_(True)
    assert model(x).grad_fn is not None  # trainable again when asked


def test_the_library_inverts_what_the_command_line_inverts(tmp_path):
    torch.manual_seed(1)
    one = _saved(JacNet(1, 1, MonotoneIn(inputs=[0], eps=0.1), hidden=8).double(), tmp_path, "a")
    x = torch.linspace(-2, 2, 7, dtype=torch.float64)[:, None]
    assert torch.allclose(one.inverse(one(x)), x, atol=1e-8)  # as `jacnet invert y=[...]`
    result = jacnet_cli.solve(one, one(x).numpy())
    assert bool(result.converged.all()) and torch.allclose(result.x, x, atol=1e-8)
    # Several inputs: invert in the monotone one, the others given (as `jacnet invert y_file=`).
    two = _saved(JacNet(3, 1, MonotoneIn(inputs=[1], eps=0.1), hidden=8).double(), tmp_path, "b")
    x3 = torch.rand(6, 3, dtype=torch.float64) * 2 - 1
    given = x3.clone()
    given[:, 1] = float("nan")  # the column solved for
    back = two.inverse(two(x3), x=given)
    assert torch.allclose(back, x3, atol=1e-8)
    with pytest.raises(ValueError, match="pass x="):
        two.inverse(two(x3))
    # A map of R^d: the same call.
    inv = _saved(JacNet(2, 2, Invertible(), hidden=8).double(), tmp_path, "c")
    z = torch.randn(5, 2, dtype=torch.float64)
    assert torch.allclose(inv.inverse(inv(z).tolist()), z, atol=1e-8)
    # What cannot be inverted says why, whichever way it is asked.
    several = JacNet(2, 1, MonotoneIn(inputs=[0], decreasing=[1], eps=0.1), hidden=8)
    for ask in (lambda: several.inverse([[0.5]]), lambda: jacnet_cli.solve(several, [[0.5]])):
        with pytest.raises(NotInvertibleError, match="exactly one strictly monotone input"):
            ask()
