"""A reduced `make reproduce` (few iterations, 2 seeds) writes every figure and table, and
the pd and lipschitz guarantees hold."""

from __future__ import annotations

import json

import pytest

from jacnet_cli.reproduce.paper import reproduce


@pytest.mark.slow
def test_reduced_reproduce(tmp_path):
    result = reproduce(tmp_path, seeds=2, iterations=5, grid_points=201, log=lambda *_: None)
    for name in ("figure1_exp_invertible.png", "figure2_abs_lipschitz.png",
                 "figure3_training.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
    table = (tmp_path / "results.md").read_text()
    assert "| claim | held | evidence |" in table and "odeint_adjoint" in table
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["runs"]) == 2 * 3 * 2
    claims = {c["claim"]: c["held"] for c in result["claims"]}
    pd = next(k for k in claims if k.startswith("the pd model"))
    lip = next(k for k in claims if k.startswith("the lipschitz model"))
    assert claims[pd] and claims[lip]
    for row in saved["runs"]:
        if row["model"] == "JacNet pd":
            assert row["min_derivative"] > 0 and row["min_derivative_init"] > 0
        if row["model"] == "JacNet lipschitz":
            assert max(row["max_slope"], row["max_slope_init"]) <= 1 + 1e-6
        assert row["solver"].startswith("odeint_adjoint dopri5 + anneal") or row["model"] == "plain MLP"
