"""Users' own data: files, splits, units, guarantees in the data's units, predicting and
inverting files, monotone_in, loggers; and one clear line for each bad file."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from jacnet_cli.cli.tasks import train as train_task
from jacnet_cli.core.evaluation import derivative
from jacnet_cli.run.configs import compose
from jacnet_cli.run.rundir import load_run as load

ROOT = Path(__file__).resolve().parent.parent


def _cfg(*overrides: str):
    return compose(list(overrides), plain=False)


def _write_csv(path: Path, header: list[str], rows: np.ndarray | list) -> Path:
    lines = [",".join(header)] + [",".join(repr(float(v)) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _curve(tmp_path: Path, n: int = 120, seed: int = 0) -> Path:
    """A monotone calibration curve in awkward units: x ~ 1e6, y ~ 1e-3."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(1e6, 5e6, n))
    y = 1e-3 * (1 + np.tanh((x - 3e6) / 1e6)) + rng.normal(0, 2e-6, n)
    return _write_csv(tmp_path / "curve.csv", ["pressure", "signal"], np.column_stack([x, y]))


def _train(tmp_path: Path, *overrides: str, name: str = "run") -> Path:
    run = tmp_path / name
    run.mkdir()
    train_task.train(_cfg(*overrides), run)
    return run


def test_a_file_trains_and_reports_in_its_units(tmp_path):
    data = _curve(tmp_path)
    run = _train(tmp_path, "data=file", f"data.path={data}", "data.x=[pressure]",
                 "data.y=[signal]", "activation=pd", "iterations=150", "plots=true")
    m = json.loads((run / "metrics.json").read_text())
    assert m["status"] == "completed" and m["target"] == "curve"
    assert 1e6 < m["units_x_scale"][0] < 2e6 and 1e-4 < m["units_y_scale"][0] < 1e-3
    # ε = 1e-4 in the data's units is far larger than the data's slope: the model's ε is
    # scaled by s_x/s_y (~1e9), and the guarantee is measured in the data's units.
    assert m["constant_eps_standard_units"] == pytest.approx(
        1e-4 * m["units_x_scale"][0] / m["units_y_scale"][0])
    assert m["jacobian_min_eig"] >= 1e-4 * (1 - 1e-6) and m["guarantee_held"] is True
    assert {"fit.png", "jacobian.png", "parity.png"} <= {p.name for p in run.iterdir()}
    assert "test_mae" in m and "true" not in json.dumps(m).lower().replace("true,", "")


def test_guarantees_hold_in_the_data_units(tmp_path):
    """k-Lipschitz and ε-monotone for the map in the user's units, with scales far from 1."""
    rng = np.random.default_rng(1)
    x = rng.uniform([0, 1e3], [1e-2, 5e3], (200, 2))
    y = np.column_stack([3e5 * x[:, 0] + 2e-3 * x[:, 1], 1e4 * x[:, 0] + 0.5 * x[:, 1]])
    data = _write_csv(tmp_path / "xy.csv", ["a", "b", "u", "v"], np.column_stack([x, y]))
    common = ["data=file", f"data.path={data}", "iterations=60", "plots=false"]
    # lipschitz holds by construction in 1-D (in n-D it is only measured: paper section 4.5)
    lip = _train(tmp_path, *common, "data.x=[a]", "data.y=[u]", "activation=lipschitz",
                 "activation.k=2.5", name="lip")
    mono = _train(tmp_path, *common, "data.x=[a,b]", "data.y=[u,v]", "activation=monotone",
                  "activation.eps=0.3", name="mono")
    for run, check in ((lip, lambda d: torch.linalg.matrix_norm(d, ord=2).max() <= 2.5 * (1 + 1e-9)),
                       (mono, lambda d: torch.linalg.eigvalsh(0.5 * (d + d.mT))[:, 0].min()
                        >= 0.3 * (1 - 1e-9))):
        loaded = load(run)
        box = loaded.data.x_grid[:2000]
        assert bool(check(derivative(loaded.model, box)))  # autograd in the user's units
        assert json.loads((run / "metrics.json").read_text())["guarantee_held"] is True


def test_eval_predicts_a_new_file_and_invert_reads_named_columns(tmp_path, jacnet):
    data = _curve(tmp_path)
    run = _train(tmp_path, "data=file", f"data.path={data}", "data.x=[pressure]",
                 "data.y=[signal]", "activation=pd", "iterations=100", "plots=false")
    new = _write_csv(tmp_path / "new.csv", ["signal", "pressure"], [[1e-3, 2e6], [1.5e-3, 4e6]])
    ys = _write_csv(tmp_path / "ys.csv", ["note", "signal"], [[0, 5e-4], [1, 1e-3], [2, 1.5e-3]])
    ev = jacnet(["eval", f"run_dir={run}", f"data.path={new}", f"hydra.run.dir={tmp_path / 'ev'}"],
                cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    rows = (tmp_path / "ev" / "predictions.csv").read_text().splitlines()
    assert rows[0] == "pressure,signal_pred,signal,error" and len(rows) == 3
    inv = jacnet(["invert", f"run_dir={run}", f"y_file={ys}", f"hydra.run.dir={tmp_path / 'inv'}"],
                 cwd=tmp_path)
    assert inv.returncode == 0, inv.stderr
    out = (tmp_path / "inv" / "inverse.csv").read_text().splitlines()
    assert out[0] == "signal,pressure,converged,roundtrip_err"
    loaded = load(run)
    for line in out[1:]:
        y, x, ok, err = line.split(",")
        assert ok == "True"
        again = float(loaded.model(torch.tensor([[float(x)]], dtype=torch.float64)).detach())
        # round trip, relative: this fit is steep (dy/dx ~ 1e-4 at x ~ 3e6), so evaluating in
        # another process (other batch, other threads) moves y by ~3e-8 of itself
        assert abs(again - float(y)) <= 1e-6 * abs(float(y))


def test_a_run_rebuilds_without_its_file(tmp_path):
    data = _curve(tmp_path)
    run = _train(tmp_path, "data=file", f"data.path={data}", "data.x=[pressure]",
                 "data.y=[signal]", "activation=pd", "iterations=20", "plots=false")
    before = load(run).model(torch.tensor([[2.5e6]], dtype=torch.float64))
    data.unlink()
    loaded = load(run)
    assert loaded.data.x_names == ["pressure"] and loaded.data.x_train.shape[0] == 0
    assert torch.equal(loaded.model(torch.tensor([[2.5e6]], dtype=torch.float64)), before)


def test_splits_are_seeded_and_validation_is_used(tmp_path):
    data = _curve(tmp_path, n=100)
    cfg = ["data=file", f"data.path={data}", "data.x=[pressure]", "data.y=[signal]",
           "data.val_fraction=0.2", "data.test_fraction=0.1", "batch_size=16", "epochs=3",
           "iterations=null", "plots=false"]
    a = _train(tmp_path, *cfg, name="a")
    b = _train(tmp_path, *cfg, name="b")
    c = _train(tmp_path, *cfg, "seed=3", name="c")
    ma, mb, mc = (json.loads((r / "metrics.json").read_text()) for r in (a, b, c))
    assert ma["test_mae"] == mb["test_mae"] and ma["test_mae"] != mc["test_mae"]
    assert ma["iterations"] == 3 * 5  # 70 training rows in batches of 16
    csv_rows = (a / "metrics.csv").read_text().splitlines()[1:]
    assert sum(1 for r in csv_rows if r.split(",")[3]) == 3  # one validation loss per epoch


def test_monotone_in_chosen_inputs_by_construction(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, (300, 3))
    y = np.tanh(x[:, 0]) - 0.5 * x[:, 1] + np.sin(3 * x[:, 2])
    data = _write_csv(tmp_path / "m.csv", ["a", "b", "c", "y"], np.column_stack([x, y]))
    run = _train(tmp_path, "data=file", f"data.path={data}", "data.x=[a,b,c]", "data.y=[y]",
                 "activation=monotone_in", "activation.inputs=[a]", "activation.decreasing=[b]",
                 "iterations=200", "plots=false")
    m = json.loads((run / "metrics.json").read_text())
    assert m["partial_min"] >= 0 and m["guarantee_held"] is True
    loaded = load(run)
    pts = loaded.data.x_grid[:3000]
    jac = derivative(loaded.model, pts)[:, 0, :]
    assert float(jac[:, 0].min()) >= 0 and float(jac[:, 1].max()) <= 0
    assert float(jac[:, 2].abs().max()) > 1e-3  # the free input stays free


def test_monotone_in_inverts_in_its_input(tmp_path, jacnet):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (200, 2))
    y = np.exp(x[:, 0]) * (1 + x[:, 1])
    data = _write_csv(tmp_path / "e.csv", ["t", "z", "y"], np.column_stack([x, y]))
    run = _train(tmp_path, "data=file", f"data.path={data}", "data.x=[t,z]", "data.y=[y]",
                 "activation=monotone_in", "activation.inputs=[t]", "activation.eps=0.01",
                 "iterations=100", "plots=false")
    ys = _write_csv(tmp_path / "q.csv", ["y", "z"], [[1.5, 0.2], [2.5, 0.7]])
    proc = jacnet(["invert", f"run_dir={run}", f"y_file={ys}", f"hydra.run.dir={tmp_path / 'inv'}"],
                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "inv" / "inverse.csv").read_text().splitlines()
    assert lines[0] == "y,t,z,converged,roundtrip_err"
    loaded = load(run)
    for line in lines[1:]:
        y, t, z, ok, _ = line.split(",")
        assert ok == "True" and float(z) in (0.2, 0.7)
        pred = float(loaded.model(torch.tensor([[float(t), float(z)]], dtype=torch.float64)).detach())
        assert pred == pytest.approx(float(y), rel=1e-9)


BAD_FILES = {
    "missing": (None, "does not exist"),
    "empty": ("", "is empty"),
    "no_header": ("1,2\n3,4\n", "has no header row"),
    "non_numeric": ("x,y\n1,2\n3,abc\n", "line 3, column 'y': 'abc' is not a number"),
    "nan_rows": ("x,y\n1,2\nnan,3\n4,inf\n5,6\n7,8\n9,10\n", "2 row(s) hold a missing value"),
    "unknown_column": ("a,b\n1,2\n3,4\n", "no column 'x'"),
    "too_few_rows": ("x,y\n1,2\n3,4\n", "usable rows"),
    "ragged": ("x,y\n1,2\n3\n", "line 3 has 1 cells"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_each_bad_file_is_one_line_and_leaves_nothing_complete(tmp_path, kind, jacnet):
    text, message = BAD_FILES[kind]
    path = tmp_path / "bad.csv"
    if text is not None:
        path.write_text(text)
    run = tmp_path / "out"
    proc = jacnet(["train", "data=file", f"data.path={path}", "data.x=[x]", "data.y=[y]",
                   f"hydra.run.dir={run}"], cwd=tmp_path)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert message in lines[0] and "Traceback" not in proc.stderr
    assert not (run / "checkpoint.pt").exists()
    if (run / "metrics.json").exists():  # a run that got as far as setup says it failed
        assert json.loads((run / "metrics.json").read_text())["status"] == "failed"


def test_square_structure_on_mismatched_columns_is_one_line(tmp_path):
    data = _write_csv(tmp_path / "d.csv", ["a", "b", "y"], np.random.rand(20, 3))
    with pytest.raises(ValueError, match="needs d_x == d_y, got d_x=2, d_y=1"):
        _train(tmp_path, "data=file", f"data.path={data}", "data.x=[a,b]", "data.y=[y]",
               "activation=pd")


def test_nonfinite_rows_can_be_dropped(tmp_path):
    rows = [[i, 2.0 * i] for i in range(20)] + [[float("nan"), 1.0]]
    data = _write_csv(tmp_path / "d.csv", ["x", "y"], rows)
    run = _train(tmp_path, "data=file", f"data.path={data}", "data.x=[x]", "data.y=[y]",
                 "data.drop_nonfinite=true", "iterations=5", "plots=false")
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"


def test_npz_files_and_column_indices(tmp_path):
    x = np.random.rand(40, 2)
    np.savez(tmp_path / "d.npz", x=x, y=x.sum(1))
    run = _train(tmp_path, "data=file", f"data.path={tmp_path / 'd.npz'}", "data.x=[0,1]",
                 "data.y=[y]", "activation=lipschitz", "iterations=5", "plots=false")
    loaded = load(run)
    assert loaded.data.x_names == ["x1", "x2"] and loaded.data.y_names == ["y"]


class _Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *a, **k: self.calls.append((name, a, k))


def test_loggers_receive_steps_validation_and_final_metrics(tmp_path, monkeypatch):
    mlflow = _Recorder()
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    writer = _Recorder()
    board = types.ModuleType("torch.utils.tensorboard")
    board.SummaryWriter = lambda log_dir: writer
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", board)
    common = ["experiment=debug", "iterations=4", "data.n_val=3", "plots=false"]
    _train(tmp_path, *common, "logger=mlflow", "logger.tracking_uri=http://localhost:5000",
           name="ml")
    names = [c[0] for c in mlflow.calls]
    assert names[:3] == ["set_tracking_uri", "set_experiment", "start_run"]
    steps = [c for c in mlflow.calls if c[0] == "log_metrics" and "step" in c[2]]
    assert len(steps) == 4 and all("val_loss" in c[1][0] for c in steps)  # full batch: 1 step/epoch
    assert ("end_run", (), {"status": "FINISHED"}) in mlflow.calls
    _train(tmp_path, *common, "logger=tensorboard", name="tb")
    tags = {c[1][0] for c in writer.calls if c[0] == "add_scalar"}
    assert {"train/loss", "train/nfe_forward", "val/loss", "final/test_mae"} <= tags
    assert writer.calls[-1][0] == "close"


@pytest.mark.slow
def test_mlflow_end_to_end_with_its_default_kind_of_store(tmp_path):
    """The real MLflow (the dev extra installs it, as CI does): a SQLite store, the final
    metrics with the guarantee verdict, the tags, and the plots and metrics.json as
    artifacts; a refused store is one line naming the fix."""
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    _train(tmp_path, "experiment=debug", "iterations=3", "logger=mlflow",
           f"logger.tracking_uri={uri}", "plots=true", name="ml")
    client = mlflow.tracking.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("jacnet").experiment_id])
    assert run.data.metrics["final_guarantee_held"] == 1.0 and "final_test_mae" in run.data.metrics
    assert run.data.tags["guarantee_held"] == "True" and run.data.tags["status"] == "completed"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "metrics.json" in artifacts and any(a.endswith(".png") for a in artifacts)
    assert (tmp_path / "store" / "mlartifacts").is_dir()  # beside the database
    with pytest.raises(ValueError, match=r"logger.tracking_uri='file:.*was refused by MLflow.*sqlite"):
        _train(tmp_path, "experiment=debug", "iterations=1", "logger=mlflow",
               f"logger.tracking_uri=file://{tmp_path / 'mlruns'}", "plots=false", name="file")


@pytest.mark.slow
def test_tensorboard_end_to_end(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = _train(tmp_path, "experiment=debug", "iterations=3", "logger=tensorboard",
                 "plots=true", name="tb")
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0}).Reload()
    tags = events.Tags()
    assert {"train/loss", "final/guarantee_held", "final/test_mae"} <= set(tags["scalars"])
    assert events.Scalars("final/guarantee_held")[0].value == 1.0
    assert any(t.startswith("plots/") for t in tags["images"])


def test_a_missing_tracker_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ValueError, match=r"pip install 'jacnet\[mlflow\]'"):
        _train(tmp_path, "experiment=debug", "iterations=1", "logger=mlflow", "plots=false")


@pytest.mark.slow
def test_the_readme_example_runs_from_the_shipped_file(tmp_path):
    """The worked example: Engel's food expenditure, trained, checked and inverted."""
    data = ROOT / "examples" / "engel.csv"
    run = _train(tmp_path, "data=file", f"data.path={data}", "data.x=[income]",
                 "data.y=[foodexp]", "activation=pd", "iterations=300", "plots=false")
    m = json.loads((run / "metrics.json").read_text())
    assert m["guarantee_held"] is True and m["jacobian_min_eig"] > 0
    assert m["roundtrip_max_err"] <= 1e-8 * 5000


def _wide(tmp_path: Path, n: int = 3000, d: int = 6, bad_row: int | None = None) -> Path:
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (n, d))
    y = np.tanh(x @ np.linspace(1, -1, d))[:, None]
    rows = np.hstack([x, y])
    if bad_row is not None:
        rows[bad_row, 2] = np.nan
    return _write_csv(tmp_path / "wide.csv", [f"c{i}" for i in range(d)] + ["y"], rows)


def test_streamed_data_matches_its_rows_and_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("JACNET_CACHE", str(tmp_path / "cache"))
    data = _wide(tmp_path)
    cols = "[c0,c1,c2,c3,c4,c5]"
    common = ["data=file", f"data.path={data}", f"data.x={cols}", "data.y=[y]",
              "data.stream=true", "data.val_fraction=0.1", "batch_size=128", "epochs=3",
              "iterations=null", "activation=monotone_in", "activation.inputs=[c0]",
              "plots=false"]
    full = _train(tmp_path, *common, name="full")
    m = json.loads((full / "metrics.json").read_text())
    assert m["test_rows"] + m["train_rows"] + m["val_rows"] == 3000
    assert abs(m["test_rows"] / 3000 - 0.2) < 0.03 and abs(m["val_rows"] / 3000 - 0.1) < 0.03
    assert m["iterations"] == 3 * -(-m["train_rows"] // 128)
    # the streamed test error is the error over every test row, as evaluated in memory
    loaded = load(full)
    source = loaded.data.stream
    xs, ys = zip(*source.split("test"))
    x, y = torch.cat(xs), torch.cat(ys)
    err = torch.linalg.vector_norm(loaded.model(x).detach() - y, dim=-1)
    assert float(err.mean()) == pytest.approx(m["test_mae"], rel=1e-12)
    # interrupted mid-epoch, then resumed: the same run
    from jacnet_cli.run.interrupts import Interrupted
    from test_lifecycle import _same, _StopAt

    cut = tmp_path / "cut"
    cut.mkdir()
    with monkeypatch.context() as mp:
        _StopAt(mp, iteration=40)
        with pytest.raises(Interrupted):
            train_task.train(_cfg(*common), cut)
    train_task.train(_cfg(f"resume={cut}"), tmp_path / "unused")
    _same(*(json.loads((r / "metrics.json").read_text()) for r in (full, cut)))


def test_streamed_bad_rows_are_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("JACNET_CACHE", str(tmp_path / "cache"))
    data = _wide(tmp_path, n=500, bad_row=321)
    with pytest.raises(ValueError, match=r"1 row\(s\) hold a missing value, NaN or inf .*first: line 323\)"):
        _train(tmp_path, "data=file", f"data.path={data}", "data.x=[c0,c1,c2]", "data.y=[y]",
               "data.stream=true", "batch_size=64")
    with pytest.raises(ValueError, match="batch_size=null is not allowed with streamed data"):
        _train(tmp_path, "data=file", f"data.path={data}", "data.x=[c0,c1,c2]", "data.y=[y]",
               "data.stream=true", "data.drop_nonfinite=true", "activation=lipschitz",
               "batch_size=null", name="r2")


# ------------------------------------------------------------------ binary classification


def _labels(tmp_path: Path, n: int = 400, seed: int = 0, bad: float | None = None) -> Path:
    """0/1 labels drawn from P(y = 1) = sigmoid(3 a - 2 b + 0.5), a known monotone logit."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    p = 1 / (1 + np.exp(-(3 * x[:, 0] - 2 * x[:, 1] + 0.5)))
    y = (rng.uniform(size=n) < p).astype(float)
    if bad is not None:
        y[7] = bad
    return _write_csv(tmp_path / "labels.csv", ["a", "b", "label"], np.column_stack([x, y]))


def test_bce_reports_classification_scores_and_a_monotone_probability(tmp_path):
    from jacnet_cli.run.metrics import auc

    data = _labels(tmp_path, n=1500)  # Bayes accuracy 0.81, AUC 0.88
    run = _train(tmp_path, "data=file", f"data.path={data}", "data.x=[a,b]", "data.y=[label]",
                 "loss=bce", "activation=monotone_in", "activation.inputs=[a]",
                 "activation.decreasing=[b]", "plots=false")
    m = json.loads((run / "metrics.json").read_text())
    for split in ("test", "val"):
        assert {f"{split}_accuracy", f"{split}_balanced_accuracy", f"{split}_auc",
                f"{split}_log_loss"} <= set(m)
    assert m["plan_loss"] == "bce" and m["units_y_scale"] == [1.0]  # logits are not rescaled
    assert m["test_accuracy"] > 0.72 and m["test_auc"] > 0.8 and m["guarantee_held"] is True
    # the probability is monotone: increasing in a, decreasing in b, on a grid
    loaded = load(run)
    g = torch.linspace(-1, 1, 21)
    grid = torch.cartesian_prod(g, g)
    prob = torch.sigmoid(loaded.model(grid)).reshape(21, 21).detach()
    assert (prob.diff(dim=0) >= 0).all() and (prob.diff(dim=1) <= 0).all()
    # AUC against a direct count over all positive/negative pairs
    s, y = torch.tensor([0.1, 0.4, 0.35, 0.8, 0.4]), torch.tensor([0, 0, 1, 1, 1]).bool()
    pairs = [(float(a > b) + 0.5 * float(a == b)) for a in s[y] for b in s[~y]]
    assert auc(s, y) == pytest.approx(sum(pairs) / len(pairs))


def test_bce_eval_writes_probabilities(tmp_path, jacnet):
    data = _labels(tmp_path)
    run = _train(tmp_path, "data=file", f"data.path={data}", "data.x=[a,b]", "data.y=[label]",
                 "loss=bce", "activation=none", "epochs=5", "plots=false")
    ev = jacnet(["eval", f"run_dir={run}", f"data.path={data}", f"hydra.run.dir={tmp_path / 'ev'}"],
                cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    rows = (tmp_path / "ev" / "predictions.csv").read_text().splitlines()
    assert rows[0] == "a,b,label_prob,label,error"
    probs = [float(r.split(",")[2]) for r in rows[1:]]
    assert all(0 < p < 1 for p in probs) and len(probs) == 400
    assert "test_accuracy" in json.loads((tmp_path / "ev" / "metrics.json").read_text())


def test_bce_bad_labels_are_one_line_exit_2(tmp_path, jacnet):
    data = _labels(tmp_path, bad=0.5)
    res = jacnet(["train", "data=file", f"data.path={data}", "data.x=[a,b]", "data.y=[label]",
                  "loss=bce", "activation=none", f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr
    assert "loss=bce needs 0/1 labels" in lines[0] and "'label' holds 0.5 (line 9)" in lines[0]
    res = jacnet(["train", "loss=bce", f"hydra.run.dir={tmp_path / 's'}"], cwd=tmp_path)
    assert res.returncode == 2 and "loss=bce needs 0/1 labels from a file" in res.stderr


def test_a_large_training_split_is_scored_on_an_even_sample(tmp_path, monkeypatch):
    """Above TRAIN_SCORE_ROWS training rows, train_* errors come from every k-th training row
    (and say so in train_rows_scored); the other splits are scored whole."""
    from jacnet_cli.data.files import FileData
    from jacnet_cli.run import metrics

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (400, 2))
    y = x @ np.array([1.0, -2.0]) + 0.5 + rng.normal(0, 0.1, 400)
    path = _write_csv(tmp_path / "t.csv", ["a", "b", "y"], np.column_stack([x, y]))
    data = FileData(path=str(path), x=["a", "b"], y=["y"], test_fraction=0.2,
                    val_fraction=0.15).load(0)
    model = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.8, -1.5]]))
        model.bias.fill_(0.3)
    mae = lambda xs, ys: float((model(xs) - ys).abs().mean().detach())  # noqa: E731
    whole = metrics.errors(model, data)
    assert "train_rows_scored" not in whole
    assert whole["train_mae"] == pytest.approx(mae(data.x_train, data.y_train), rel=1e-12)
    monkeypatch.setattr(metrics, "TRAIN_SCORE_ROWS", 50)
    step = -(-data.x_train.shape[0] // 50)
    sampled = metrics.errors(model, data)
    assert sampled["train_rows_scored"] == data.x_train[::step].shape[0] <= 50
    assert sampled["train_mae"] == pytest.approx(
        mae(data.x_train[::step], data.y_train[::step]), rel=1e-12)
    assert sampled["train_mae"] != pytest.approx(whole["train_mae"], rel=1e-6)
    for key in ("test_mae", "val_mae"):
        assert sampled[key] == whole[key]
