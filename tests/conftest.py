"""Shared fixtures: configs composed as the command line composes them, the `jacnet` command in
a child process (such tests are marked `subprocess`), and exact models whose Jacobian is a
target's closed-form one.

Markers: `subprocess` (runs the real command in a child process; given automatically to every
test that asks for the `jacnet` fixture) and `slow` (a few seconds or more in-process).
`make test-fast` runs the others.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from jacnet_cli.core.anchors import FixedAnchor
from jacnet_cli.core.model import JacNet
from jacnet_cli.core.structures import Structure
from jacnet_cli.run.configs import compose as compose_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# Modules to import before collection, e.g. a structure under development, so the shared
# guarantee test (test_structures.py) collects it: JACNET_TEST_IMPORT=my_structure.
for _name in filter(None, os.environ.get("JACNET_TEST_IMPORT", "").split(",")):
    importlib.import_module(_name)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "subprocess: runs the jacnet command in a child process")
    config.addinivalue_line("markers", "slow: takes a few seconds or more in-process")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "jacnet" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.subprocess)


class ExactJacNet(JacNet):
    """A JacNet whose J is the target's analytic Jacobian: its integral must be the target."""

    def __init__(self, target, structure: Structure, solver, path=None, x0=0.0):
        super().__init__(target.d_x, target.d_y, structure, hidden=1, solver=solver,
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


@pytest.fixture
def compose() -> Callable[..., Any]:
    """compose(overrides, task="train", plain=False): the task's config as the command line
    composes it (a DictConfig; `plain=True`: a dict for `run.experiment.Experiment`)."""
    def make(overrides: list[str] | tuple[str, ...] = (), task: str = "train",
             plain: bool = False) -> Any:
        return compose_config(list(overrides), task=task, plain=plain)

    return make


def run_jacnet(args: list[str], cwd: Path | str, env: dict[str, str] | None = None,
               timeout: float = 300, capture_output: bool = True,
               **kwargs: Any) -> subprocess.CompletedProcess:
    """`python -m jacnet_cli ARGS` in a child process, output captured as text: the one way
    the tests run the command (the `jacnet` fixture)."""
    full = {**os.environ, "HYDRA_FULL_ERROR": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "jacnet_cli", *map(str, args)], cwd=cwd,
                          env=full, capture_output=capture_output, text=True, timeout=timeout,
                          **kwargs)


@pytest.fixture
def jacnet() -> Callable[..., subprocess.CompletedProcess]:
    """The real `jacnet` command in a child process (marks the test `subprocess`)."""
    return run_jacnet
