"""Adding a structure is its module and its YAML, nothing else: a structure defined outside
jacnet (tests/toy_structure.py) and one YAML file in a copy of the configs train, evaluate and
invert from the command line, and the shared guarantee test picks it up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from jacnet_cli.run import configs

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def test_a_new_structure_is_its_module_and_its_yaml(tmp_path, jacnet):
    conf = tmp_path / "conf"
    shutil.copytree(configs.PACKAGE_CONF, conf)
    (conf / "activation" / "toy_scaled.yaml").write_text(
        "# J = (eps + softplus(a)) I: increasing with slope >= eps in 1-D.\n"
        "_target_: toy_structure.Scaled\neps: 0.1\n")
    env = {"JACNET_CONF_DIR": str(conf),
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    train = jacnet(["train", "activation=toy_scaled", "hydra.run.dir=run", "plots=false"],
                   cwd=tmp_path, env=env)
    assert train.returncode == 0, train.stderr
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["structure"] == "toy_scaled" and m["guarantee_by_construction"] is True
    assert m["guarantee_keys"] == "jacobian_min_eig,roundtrip_max_err"
    assert m["jacobian_min_eig"] >= 0.1 * (1 - 1e-6) and m["guarantee_held"] is True
    evaluated = jacnet(["eval", "run_dir=run", "hydra.run.dir=ev", "plots=false"], cwd=tmp_path,
                       env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["guarantee_held"] is True
    inverted = jacnet(["invert", "run_dir=run", "y=[1.5,2.0]", "hydra.run.dir=inv"],
                      cwd=tmp_path, env=env)
    assert inverted.returncode == 0, inverted.stderr
    assert json.loads((tmp_path / "inv" / "inverse.json").read_text())["unconverged"] == 0
    # A bad value of its own is one line, before any run directory.
    bad = jacnet(["train", "activation=toy_scaled", "activation.eps=0", "hydra.run.dir=bad"],
                 cwd=tmp_path, env=env)
    assert bad.returncode == 2 and not (tmp_path / "bad").exists()
    assert bad.stderr.strip() == ("jacnet train: error: activation.eps=0 is not allowed; it "
                                  "must be a finite number > 0")
    # The shared guarantee test runs it, with no line of the tests naming it.
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         str(TESTS / "test_structures.py"), "-k", "toy_scaled"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, **env, "JACNET_TEST_IMPORT": "toy_structure"})
    assert child.returncode == 0, child.stdout[-2000:]
    assert " passed" in child.stdout and "failed" not in child.stdout
    # Nothing in the package names it.
    for path in (ROOT / "jacnet_cli").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".yaml"):
            assert "toy_scaled" not in path.read_text(), path
