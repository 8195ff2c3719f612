"""`jacnet report` on a sweep directory built by hand, with known medians."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jacnet_cli.plots import draw as plots
from jacnet_cli.cli.tasks import report

HIDDEN, NONLINEARITIES, SEEDS = (4, 16), ("pd", "lipschitz"), (0, 1, 2)
FAILED = (16, "lipschitz", 2)  # crashed: no metrics.json
INTERRUPTED = (4, "pd", 3)  # an extra seed that was stopped; its test_mae would spoil a median


def mae(hidden: int, activation: str, seed: int) -> float:
    return hidden / 100 + (0.5 if activation == "lipschitz" else 0.0) + seed / 100


def write_job(job: Path, overrides: list[str], metrics: dict | None,
              log: str | None = None) -> None:
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / ".hydra" / "config.yaml").write_text("seed: 0\nmodel:\n  hidden: 64\n  depth: 1\n")
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps(metrics))
    if log is not None:
        (job / "train.log").write_text(log)


@pytest.fixture
def sweep(tmp_path) -> Path:
    """13 jobs as `jacnet train -m` leaves them: 0/, 1/, ... one crashed, one interrupted."""
    root = tmp_path / "sweep"
    points = [(h, a, s) for s in SEEDS for h in HIDDEN for a in NONLINEARITIES] + [INTERRUPTED]
    for num, (h, a, s) in enumerate(points):
        overrides = ["experiment=debug", f"model.hidden={h}", f"activation={a}", f"seed={s}"]
        metrics = {"test_mae": mae(h, a, s), "test_rmse": 2 * mae(h, a, s), "train_loss": 0.1,
                   "wall_time_s": 1.5, "nfe_per_iter": 4.0, "status": "completed",
                   "eval_solver": "GaussLegendre(nodes=4)", "iterations": 3}
        key = "lipschitz_max" if a == "lipschitz" else "jacobian_min_eig"
        metrics[key], metrics["guarantee_keys"] = 0.5, key
        log = "[INFO] - iter 0 loss 0.4\n"
        if (h, a, s) == FAILED:
            # A launcher's sign-off after the error, as submitit writes into train.log.
            metrics, log = None, log + ("[jacnet][ERROR] - ValueError: boom at iteration 1\n\n"
                                        "[submitit][INFO] - Job completed successfully\n")
        elif (h, a, s) == INTERRUPTED:
            metrics.update(test_mae=99.0, status="interrupted", iterations=7,
                           reason="SIGTERM during training after 7 iterations")
        write_job(root / str(num), overrides, metrics, log)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def error_line(capsys) -> str:
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out + err, err
    return lines[0]


def test_table_csv_failed_jobs_and_plot(sweep, capsys):
    assert report.main([str(sweep)]) == 0
    out = capsys.readouterr().out
    rows = read_csv(sweep / "report.csv")
    assert len(rows) == 13
    assert [r["job"] for r in rows] == [str(i) for i in range(13)]  # 10 after 9, not after 1
    by_status = {s: [r for r in rows if r["status"] == s] for s in ("completed", "failed", "interrupted")}
    assert [len(v) for v in by_status.values()] == [11, 1, 1]
    (failed,) = by_status["failed"]
    assert [failed[k] for k in ("model.hidden", "activation", "seed")] == ["16", "lipschitz", "2"]
    assert failed["test_mae"] == "" and "no metrics.json" in failed["reason"]
    assert float(by_status["interrupted"][0]["test_mae"]) == 99.0  # kept in the CSV, marked
    assert {"experiment", "eval_solver", "lipschitz_max", "jacobian_min_eig"} <= set(rows[0])
    ok = by_status["completed"][0]
    assert float(ok["test_mae"]) == pytest.approx(mae(int(ok["model.hidden"]), ok["activation"],
                                                      int(ok["seed"])))

    assert "2 of 13 jobs failed" in out
    failed_lines = out[out.index("2 of 13 jobs failed"):]
    assert str(sweep / failed["job"]) in failed_lines
    assert "ValueError: boom at iteration 1" in failed_lines
    assert "model.hidden=16 activation=lipschitz seed=2" in failed_lines
    assert "SIGTERM during training after 7 iterations" in failed_lines
    header = next(line for line in out.splitlines() if "test_mae" in line and "job" in line)
    for column in ("model.hidden", "activation", "seed", "test_rmse", "wall_time_s",
                   "nfe_per_iter", "jacobian_min_eig", "lipschitz_max"):
        assert column in header
    assert "experiment" not in header  # the same in every job
    assert "roundtrip_max_err" not in header  # no job has it
    assert "0.05" in out and "1.5" in out  # 4 significant digits

    png = sweep / "report_test_mae_vs_model.hidden.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_groups_by_the_second_key_and_takes_medians_over_seeds(sweep, monkeypatch, capsys):
    calls = []
    real = plots.metric_vs_param

    def spy(path, table, x_key, y_key, group_key=None, title=""):
        calls.append((list(table), x_key, y_key, group_key))
        return real(path, table, x_key, y_key, group_key=group_key, title=title)

    monkeypatch.setattr(plots, "metric_vs_param", spy)
    assert report.main([str(sweep)]) == 0
    ((table, x_key, y_key, group_key),) = calls
    assert (x_key, y_key, group_key) == ("model.hidden", "test_mae", "activation")
    assert len(table) == 11  # neither the crashed nor the interrupted job
    cells = {(c["activation"], c["model.hidden"]): c
             for c in report.summarise(table, x_key, y_key, group_key)}
    assert set(cells) == {(a, str(h)) for a in NONLINEARITIES for h in HIDDEN}
    for (a, h), cell in cells.items():
        seeds = [s for s in SEEDS if (int(h), a, s) != FAILED]
        values = [mae(int(h), a, s) for s in seeds]
        assert cell["n"] == len(seeds)
        assert cell["median"] == pytest.approx(sorted(values)[len(values) // 2]
                                               if len(values) % 2 else sum(values) / 2)
        assert (cell["min"], cell["max"]) == pytest.approx((min(values), max(values)))
    assert cells[("lipschitz", "16")]["median"] == pytest.approx(0.665)  # seeds 0, 1 only
    assert cells[("pd", "4")]["median"] == pytest.approx(0.05)  # interrupted seed 3 left out
    out = capsys.readouterr().out
    assert "test_mae: median [min..max] over seed" in out and "0.665" in out


def test_options_choose_metric_axes_columns_and_out_dir(sweep, tmp_path, capsys):
    out_dir = tmp_path / "elsewhere"
    code = report.main([str(sweep), "--metric", "test_rmse", "--x", "seed", "--group", "none",
                        "--metrics", "wall_time_s,test_rmse", "--out", str(out_dir)])
    assert code == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "wall_time_s" in line)
    assert "test_rmse" in header and "test_mae" not in header
    assert "over model.hidden, activation" in out and "--group model.hidden" in out
    assert (out_dir / "report_test_rmse_vs_seed.png").read_bytes()[:4] == b"\x89PNG"
    assert len(read_csv(out_dir / "report.csv")) == 13
    assert not (sweep / "report.csv").exists()


def test_x_may_be_a_key_of_the_composed_config(sweep, capsys):
    assert report.main([str(sweep), "--x", "model.depth", "--no-plot"]) == 0
    assert "model.depth" in capsys.readouterr().out
    assert read_csv(sweep / "report.csv")[0]["model.depth"] == "1"


@pytest.mark.parametrize("args,words", [
    (["--metric", "test_mea"], ["'test_mea'", "test_mae", "lipschitz_max"]),
    (["--metrics", "test_mae,nope"], ["'nope'", "test_rmse"]),
    (["--x", "model.hiden"], ["'model.hiden'", "model.hidden", "activation", "seed"]),
    (["--group", "activatoin"], ["'activatoin'", "activation"]),
])
def test_bad_option_is_one_line_exit_2(sweep, capsys, args, words):
    assert report.main([str(sweep), *args]) == 2
    line = error_line(capsys)
    assert line.startswith("jacnet report: error:")
    assert all(word in line for word in words), line
    assert not (sweep / "report.csv").exists()


def test_missing_or_empty_directory_is_one_line_exit_2(tmp_path, capsys):
    assert report.main([str(tmp_path / "nope")]) == 2
    assert "does not exist" in error_line(capsys)
    assert report.main([str(tmp_path)]) == 2
    assert "no jobs under" in error_line(capsys)
    with pytest.raises(SystemExit) as exit_:
        report.main([])
    assert exit_.value.code == 2
    assert "SWEEP_DIR" in error_line(capsys)


def test_single_run_directory_and_all_finished(tmp_path, capsys):
    run = tmp_path / "2026-01-01" / "10-00-00-train"
    write_job(run, [], {"test_mae": 0.25, "train_loss": 0.5})
    assert report.main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "all 1 jobs finished" in out and "no plot: no key varies" in out
    (row,) = read_csv(run / "report.csv")
    assert row["job"] == "10-00-00-train" and row["status"] == "completed" and row["test_mae"] == "0.25"


def test_markup_like_override_values_print_verbatim(tmp_path, capsys):
    for num, rng in enumerate(["[-3,3]", "[-4,4]"]):
        write_job(tmp_path / str(num), [f"data.test_range={rng}"], {"test_mae": 0.1 * (num + 1)})
    assert report.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[-3,3]" in out and "[-4,4]" in out
    assert (tmp_path / "report_test_mae_vs_data.test_range.png").is_file()  # categorical x


@pytest.mark.subprocess
def test_importing_report_loads_nothing_heavy():
    code = ("import sys, jacnet_cli.cli.tasks.report\n"
            "heavy = [m for m in ('torch', 'rich', 'matplotlib', 'hydra') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
