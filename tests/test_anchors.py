"""FixedAnchor's y0 options: target, learned, nearest, trainable, and the rate of a trained y0."""

from __future__ import annotations

import pytest
import torch

from jacnet_cli.core.anchors import FixedAnchor
from jacnet_cli.core.targets import get_target

F64 = torch.float64
X = torch.tensor([[-0.7], [0.2], [0.9]], dtype=F64)


def test_target_y0_is_fixed_by_default():
    anchor = FixedAnchor(1, 1, 0.0, "target", target=get_target("exp"))
    assert list(anchor.parameters()) == []
    assert anchor.value().item() == 1.0


def test_trainable_target_y0_starts_at_the_target_value():
    anchor = FixedAnchor(1, 1, 0.0, "target", target=get_target("exp"), trainable=True)
    assert [p.numel() for p in anchor.parameters()] == [1]
    assert anchor.value().item() == 1.0


def test_nearest_y0_starts_at_the_training_point_nearest_x0():
    anchor = FixedAnchor(1, 1, 0.0, "nearest", points=(X, torch.exp(X)))
    assert anchor.value().item() == pytest.approx(float(torch.exp(torch.tensor(0.2))))
    assert anchor.learned
    with pytest.raises(ValueError, match="anchor.y0='nearest' needs training points"):
        FixedAnchor(1, 1, 0.0, "nearest")


@pytest.mark.parametrize("rate", [1.0, 0.1])
def test_rate_sets_how_far_one_adam_step_moves_y0(rate):
    anchor = FixedAnchor(1, 1, 0.0, 2.0, trainable=True, rate=rate)
    opt = torch.optim.Adam(anchor.parameters(), lr=0.01)
    _, y0 = anchor(torch.zeros(1, 1, dtype=F64))
    y0.sum().backward()
    opt.step()
    # Adam's first step is lr in the gradient's sign, whatever its size.
    assert anchor.value().item() == pytest.approx(2.0 - rate * 0.01)


def test_bad_rate_names_the_key():
    with pytest.raises(ValueError, match="anchor.rate"):
        FixedAnchor(1, 1, 0.0, 1.0, trainable=True, rate=0.0)


def test_data_slope_is_the_least_squares_slope_through_the_anchor():
    y = 3.0 + 2.0 * X + torch.tensor([[0.1], [-0.2], [0.05]], dtype=F64)
    anchor = FixedAnchor(1, 1, 0.0, 3.0, points=(X, y))
    expected = float(((X) * (y - 3.0)).sum() / (X * X).sum())
    assert anchor.data_slope == pytest.approx(expected)
    assert FixedAnchor(1, 1, 0.0, 3.0).data_slope is None
    assert FixedAnchor(2, 2, 0.0, 0.0, points=(torch.rand(4, 2), torch.rand(4, 2))).data_slope is None


def test_trained_anchor_round_trips_through_a_state_dict():
    a = FixedAnchor(1, 1, 0.0, 1.0, trainable=True, rate=0.1)
    with torch.no_grad():
        next(a.parameters()).fill_(0.5)
    b = FixedAnchor(1, 1, 0.0, 1.0, trainable=True, rate=0.1)
    b.load_state_dict(a.state_dict())
    assert b.value().item() == pytest.approx(1.05)
