"""Adding a task is its function (with a check), its row and its YAML, as CONTRIBUTING.md says:
a task defined outside jacnet (tests/toy_task.py) runs from the command line, with its bad
input refused in one line before any run directory exists."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest

from jacnet_cli.cli.tasks import TASKS, Task, register
from jacnet_cli.run import configs

TESTS = Path(__file__).resolve().parent
cli = importlib.import_module("jacnet_cli.cli.main")  # the module (its package exports `main`)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    shutil.copytree(configs.PACKAGE_CONF, conf)
    (conf / "toy.yaml").write_text("# jacnet toy: the sum of the first n squares.\n"
                                   "defaults:\n  - runtime\n  - _self_\n\n"
                                   "n: 3  # how many squares\n\n"
                                   "hydra:\n  job:\n    name: toy\n")
    monkeypatch.setenv("JACNET_CONF_DIR", str(conf))
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.chdir(tmp_path)
    register(Task("toy", "sum squares", "jacnet toy n=3", run="toy_task:run",
                  check="toy_task:check", result="toy.json"))
    yield tmp_path
    TASKS.pop("toy")


def test_a_new_task_is_its_function_its_row_and_its_yaml(toy, capsys):
    cli.main(["toy", "n=4", "hydra.run.dir=out"])
    out = json.loads((toy / "out" / "toy.json").read_text())
    assert out == {"n": 4, "sum": 4 * 5 * 9 // 6}
    assert "toy" in cli.usage() and "sum squares" in cli.usage()
    with pytest.raises(SystemExit) as exit_:
        cli.main(["toy", "n=0", "hydra.run.dir=bad"])
    assert exit_.value.code == 2 and not (toy / "bad").exists()
    assert capsys.readouterr().err.strip() == ("jacnet toy: error: n=0 is not allowed; it must "
                                               "be an integer >= 1")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["toy", "m=1"])
    assert exit_.value.code == 2 and "m" in capsys.readouterr().err
