"""`jacnet eval`: rebuild a saved run and evaluate it again, into this run's own directory.

The saved run's files are never touched. Overrides: another solver (`solver=dopri5`), its
tolerance (`eval_tolerance=`), other test or guarantee ranges (`data.test_range=[-4,4]`), a
test-set seed, device and dtype. For a run trained on a file, `data.path=new.csv` predicts
that file instead: predictions.csv holds its inputs, ŷ and, where the file has the output
columns, the error; the metrics are computed on it when it has them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from jacnet_cli.cli.tasks.train import show_progress
from jacnet_cli.plots import figures
from jacnet_cli.run import build, experiment, metrics, rundir
from jacnet_cli.run.progress import status

log = logging.getLogger("jacnet")


def check(cfg: dict[str, Any], typed: frozenset[str] = frozenset()) -> None:
    """The keys eval takes, and the solver it may swap in."""
    from jacnet_cli.run import settings

    rundir.check(settings.EvalSettings.of(cfg).run_dir)  # last: it reads the disk
    if cfg.get("solver") is not None:
        build.make("solver", cfg["solver"])


def overrides(cfg: DictConfig) -> dict[str, Any]:
    """The saved config's entries this eval replaces (only those the user set)."""
    out: dict[str, Any] = {}
    data = {k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items()
            if v is not None and k != "path"}
    if data:
        out["data"] = data
    if cfg.get("solver") is not None:
        out["solver"] = OmegaConf.to_container(cfg.solver, resolve=True)
    if cfg.seed is not None:
        out["seed"] = cfg.seed
    return out


def evaluate(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Evaluate the run at cfg.run_dir; write metrics.json and plots into run_dir."""
    dev, dt = build.device(cfg.device), build.dtype(cfg.dtype)
    changes = overrides(cfg)
    new_file = cfg.data.get("path")
    run = rundir.load_run(cfg.run_dir, dev, dt, changes, data=new_file is None)
    if run.unfinished:
        log.warning(run.unfinished)
    tolerance = cfg.eval_tolerance if cfg.eval_tolerance is not None else run.config.get("eval_tolerance")
    if new_file is not None:
        return _predict_file(cfg, run, str(new_file), run_dir, tolerance)
    data = run.data.to(dev, dt)
    out: dict[str, Any] = {"source_run": str(run.path.resolve()),
                           "source_status": run.status, "target": run.target.name,
                           "device": str(dev), "dtype": cfg.dtype,
                           "overrides": ", ".join(sorted(changes)) or "none"}
    with status("evaluating", show_progress(cfg.get("progress", "auto"))) as shown:
        out.update(metrics.evaluate(run.model, data, tolerance, shown, classify=_classifies(run)))
    out["status"] = "completed"
    metrics.write_json(run_dir / "metrics.json", out)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(run.config)))
    if cfg.plots:
        figures.write(run_dir, run.model, run.target, data)
    log.info("evaluated %s (%s)", run.path, f"overrides: {out['overrides']}"
             if out["overrides"] != "none" else "as trained")
    experiment.summary(out, log)  # the same summary as `jacnet train` ends with
    log.info("run directory: %s", run_dir)
    return out


def _classifies(run: rundir.Loaded) -> bool:
    """Whether the run was trained as a classifier (loss=bce: its outputs are logits)."""
    return run.config.get("loss") == "bce"


def _predict_file(cfg: DictConfig, run: rundir.Loaded, path: str, run_dir: Path,
                  tolerance: float | None) -> dict[str, Any]:
    """Predict a new file with a run trained on a file; write predictions.csv."""
    import csv
    import dataclasses

    import torch

    from jacnet_cli.core.evaluation import predict
    from jacnet_cli.data.files import FileData

    spec = build.data_spec(run.config)
    if not isinstance(spec, FileData):
        raise ValueError(f"data.path={path!r} is only for runs trained on a file (data=file); "
                         "this run sampled its data from a target")
    dev, dt = build.device(cfg.device), build.dtype(cfg.dtype)
    x, y = spec.read_inputs(path)
    x = x.to(device=dev, dtype=dt)
    solver = run.model.solver
    if solver is not None and tolerance is not None:
        solver.set_tolerance(tolerance)
    pred = predict(run.model, x)
    classify = _classifies(run)
    out: dict[str, Any] = {"source_run": str(run.path.resolve()),
                           "source_status": run.status, "file": path,
                           "rows": x.shape[0], "device": str(dev), "dtype": cfg.dtype}
    names_x, names_y = spec.meta["x_names"], spec.meta["y_names"]
    if classify:  # the model's outputs are logits: write probabilities
        from jacnet_cli.data.files import check_labels

        pred = torch.sigmoid(pred)
        if y is not None:
            check_labels(y.numpy(), names_y, "data.path")
    with open(run_dir / "predictions.csv", "w", newline="") as f:
        writer = csv.writer(f)
        header = [*names_x, *(f"{n}_prob" if classify else f"{n}_pred" for n in names_y)]
        if y is not None:
            header += [*names_y, "error"]
        writer.writerow(header)
        err = None
        if y is not None:
            y = y.to(device=dev, dtype=dt)
            # a classifier's error: |p - label| (the Brier residual), summed over outputs
            err = (pred - y).abs().sum(-1) if classify else torch.linalg.vector_norm(pred - y, dim=-1)
        for i in range(x.shape[0]):
            row = [*map(repr, x[i].tolist()), *map(repr, pred[i].tolist())]
            if y is not None:
                row += [*map(repr, y[i].tolist()), repr(float(err[i]))]
            writer.writerow(row)
    if y is not None:
        # Only the rows given: the guarantee box is the saved run's, no training rows mix in.
        data = dataclasses.replace(spec.without_rows(int(cfg.seed or 0)).to(dev, dt),
                                   x_test=x, y_test=y)
        with status("evaluating", show_progress(cfg.get("progress", "auto"))) as shown:
            out.update(metrics.evaluate(run.model, data, tolerance, shown, classify=classify))
        log.info("evaluated %s on %d rows of %s", run.path, x.shape[0], path)
        experiment.summary(out, log)
    out["status"] = "completed"
    metrics.write_json(run_dir / "metrics.json", out)
    log.info("wrote %s (%d rows, in the data's units)", run_dir / "predictions.csv", x.shape[0])
    return out
