"""Every bad input is one line on stderr naming the key, exit code 2, no traceback, no run.

The many bad inputs go through `jacnet_cli.cli.main` (the `jacnet` entry point) in one
Python process, so the check stays fast; a handful then go through the real `jacnet`
command in their own processes to show it behaves the same. That batch process, and some
of the single runs, see a `hydra_plugins` package that hides the installed launcher
plugins, as on an install without the `launchers` extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from jacnet_cli.data.sampled import MIN_GRID_POINTS
from jacnet_cli.run import configs, settings
from jacnet_cli.run.configs import group_options

GROUPS = configs.groups()
ENGEL = Path(__file__).resolve().parents[1] / "examples" / "engel.csv"
FILE, EMPTY, READ_ONLY = "{file}", "{empty}", "{read_only}"  # filled in per test run

# (arguments, text the one line must contain: the key)
BAD = [
    # malformed overrides
    (["train", "target"], "'target' is not an override"),
    (["train", "=exp"], "'=exp' has no key"),
    (["train", "a=[1,2"], "'a=[1,2' is not a valid override"),
    (["train", "--cfg", "foo"], "--cfg"),
    (["train", "activation=pd,none"], "activation=pd,none has several values; add -m"),
    (["train", "-m", "seed=interval(0,1)"], "seed=interval(0,1) cannot be swept"),
    (["frobnicate"], "'frobnicate' is not a command"),
    # unknown keys at any level, with or without +
    (["train", "foo=1"], "foo is not a key of jacnet train; valid keys: activation, anchor"),
    (["train", "+foo=1"], "foo is not a key of jacnet train"),
    (["train", "model.hiden=16"],
     "model.hiden is not a key of model=jacnet; valid keys: bias_scale, depth, hidden, "
     "nonlinearity, output_bias, output_init"),
    (["train", "model.activation=tanh"],
     "model.activation is now model.nonlinearity; write model.nonlinearity=tanh"),
    (["train", "data.path=x.csv"], "for your own file choose data=file first"),
    (["train", "data=file", f"data.path={ENGEL}", "data.x=[income,foodexp]",
      "data.y=[foodexp]"], "data.x and data.y share the column(s) foodexp"),
    (["train", "activation.eps=0"], "activation.eps=0 is not allowed; it must be a finite number > 0"),
    (["train", "target=icgn_convex", "activation=monotone_in", "activation.inputs=[x1]"],
     "activation=monotone_in needs one output (scalar regression), got d_x=2, d_y=2; use one of:"),
    (["train", "activation=monotone_in", "activation.inputs=[0]", "activation.linear=maybe"],
     "activation.linear='maybe' is not allowed; it must be true or false"),
    (["train", "activation=monotone_in", "activation.inputs=[0]", "activation.hidden=0"],
     "activation.hidden=0 is not allowed; it must be null or an integer >= 1"),
    (["train", "activation=monotone_in", "activation.inputs=[0]", "activation.members=0"],
     "activation.members=0 is not allowed; it must be an integer >= 1"),
    (["train", "+model.hiden=16"], "model.hiden is not a key of model=jacnet"),
    (["train", "~model.hiden"], "model.hiden is not a key of model=jacnet"),
    (["train", "data.foo.bar=1"], "data.foo is not a key of data=auto"),
    (["train", "model.hidden.x=3"], "model.hidden is a value (128)"),
    (["train", "+activation=pd"], "activation is already in the config; drop the +"),
    (["train", "+experiment=debug"], "experiment is already in the config"),
    (["train", "hydra.foo=1"], "hydra.foo is not a key of hydra"),
    (["train", "hydra.launcher.n_jobs=2"], "hydra.launcher.n_jobs is not a key of hydra/launcher=basic"),
    (["train", "-m", "activation=pd,lipschitz", "activation.k=2"],
     "activation.k is not a key of activation=pd; valid keys: conservative, eps"),
    (["train", "activation=foo"], "activation='foo' is not an option; choose one of:"),
    # keys a structure's own network would not read: refused, not ignored
    (["train", "target=rotated_tanh", "activation=invertible", "model.depth=5",
      "model.nonlinearity=relu"],
     "model.depth=5 is not used by activation=invertible: its network reads model.hidden; "
     "set its own activation.* keys instead"),
    (["train", "target=mobius", "activation=cauchy_riemann", "model.hidden=64"],
     "model.hidden=64 is not used by activation=cauchy_riemann: its network reads no model.* key"),
    (["train", "target=icgn_convex", "activation=monotone", "model.bias_scale=1.0"],
     "model.bias_scale=1.0 is not used by activation=monotone"),
    (["train", "target=icgn_convex", "activation=pd", "model.output_init=default"],
     "model.output_init='default' is not used by activation=pd"),
    # ... and an option's keys that the form it takes at these dimensions does not read
    (["train", "target=abs", "activation=lipschitz", "activation.hidden=32"],
     "activation.hidden=32 is not used by activation=lipschitz with 1 input(s) and 1 output(s)"),
    (["train", "target=ortho_ridge", "activation=lipschitz", "activation.norm=frobenius"],
     "activation.norm='frobenius' is not used by activation=lipschitz with 4 input(s)"),
    (["train", "target=mobius", "activation=cauchy_riemann", "activation.conservative=false",
      "activation.units=8"],
     "activation.units=8 is not used by activation=cauchy_riemann with 2 input(s)"),
    (["train", "model=mlp", "activation=lipschitz"],
     "activation settings do not apply to model=mlp"),
    (["train", "hydra/launcher=nope"], "hydra/launcher='nope' is not an option"),
    # launchers without the `launchers` extra
    (["train", "-m", "hydra/launcher=joblib", "seed=0,1"],
     "hydra/launcher=joblib needs the hydra-joblib-launcher plugin, which is not installed; "
     "install the launchers extra: pip install 'jacnet[launchers]'"),
    (["train", "-m", "hydra/launcher=submitit_slurm", "seed=0,1"],
     "hydra/launcher=submitit_slurm needs the hydra-submitit-launcher plugin"),
    (["train", "hydra/launcher=slurm", "--cfg", "hydra"], "hydra/launcher=slurm needs the"),
    # values
    (["train", "optim.lr=0"], "optim.lr=0 is not allowed; it must be a finite number > 0"),
    (["train", "optim.lr=-0.1"], "optim.lr=-0.1 is not allowed"),
    (["train", "optim.lr=nan"], "optim.lr=nan is not allowed"),
    (["train", "optim.lr=inf"], "optim.lr=inf is not allowed"),
    (["train", "optim.lr=abc"], "optim.lr='abc' is not allowed"),
    (["train", "optim=sgd", "optim.lr=-1"], "optim.lr=-1 is not allowed"),
    (["train", "seed=1.5"], "seed=1.5 is not allowed; it must be an integer >= 0"),
    (["train", "seed=abc"], "seed='abc' is not allowed"),
    (["train", "seed=true"], "seed=True is not allowed"),
    (["train", "plots=yes"], "plots='yes' is not allowed; it must be true or false"),
    (["train", "plots=1"], "plots=1 is not allowed"),
    (["train", "progress=maybe"], "progress='maybe' is not allowed; it must be auto, true or false"),
    (["train", "eval_tolerance=0"], "eval_tolerance=0 is not allowed"),
    (["train", "eval_tolerance=-1e-7"], "eval_tolerance=-1e-07 is not allowed"),
    (["train", "eval_tolerance=abc"], "eval_tolerance='abc' is not allowed"),
    (["train", "iterations=-1"], "iterations=-1 is not allowed"),
    (["train", "loss=l1"], "loss='l1' is not allowed; choose one of: norm, mse, bce, auto"),
    (["train", "device=tpu"], "device='tpu' is not allowed"),
    (["train", "dtype=float16"], "dtype='float16' is not allowed"),
    (["train", "data.n_train=0"], "data.n_train=0 is not allowed"),
    (["train", "data.grid_points=3"],
     f"data.grid_points=3 is too few to measure a guarantee; it must be an integer >= {MIN_GRID_POINTS}"),
    (["train", "data=plane", "data.grid_points=1"], "data.grid_points=1 is too few"),
    (["train", "hydra.run.dir=" + FILE], "hydra.run.dir="),
    (["train", f"hydra.run.dir={FILE}/run"], "hydra.run.dir="),
    (["train", "hydra.run.dir=" + READ_ONLY], "hydra.run.dir="),
    # sweeps: every swept value is checked before any job runs
    (["train", "-m", "seed=0,abc"], "seed='abc' is not allowed"),
    (["train", "-m", "model.hidden=4,8", "optim.lr=0.1,-1"], "optim.lr=-1 is not allowed"),
    (["train", "-m", f"hydra.sweep.dir={FILE}/sweep", "seed=0,1"], "hydra.sweep.dir="),
    # eval: run_dir is checked last, so EMPTY (no checkpoint) serves the other checks
    (["eval"], "run_dir is required; pass run_dir=PATH"),
    (["eval", "run_dir=" + FILE], "is a file; pass the directory of a `jacnet train` run"),
    (["eval", "run_dir=/no/such/run"], "run_dir='/no/such/run' does not exist"),
    (["eval", "run_dir=" + EMPTY], "holds no checkpoint.pt"),
    (["eval", "run_dir=" + EMPTY, "eval_tolerance=0"], "eval_tolerance=0 is not allowed; it must be null or"),
    (["eval", "run_dir=" + EMPTY, "eval_tolerance=abc"], "eval_tolerance='abc' is not allowed"),
    (["eval", "run_dir=" + EMPTY, "seed=0.5"], "seed=0.5 is not allowed"),
    (["eval", "run_dir=" + EMPTY, "plots=maybe"], "plots='maybe' is not allowed"),
    (["eval", "run_dir=" + EMPTY, "data.grid_points=5"], "data.grid_points=5 is too few"),
    (["eval", "run_dir=" + EMPTY, "+activation=pd"],
     "activation is not a config group of jacnet eval; its groups: solver"),
    (["eval", "run_dir=" + EMPTY, "activation=lipschitz"], "activation is not a config group"),
    (["eval", "run_dir=" + EMPTY, "iterations=3"], "iterations is not a key of jacnet eval"),
    (["eval", "run_dir=" + EMPTY, "data.hiden=1"], "data.hiden is not a key of data"),
    (["eval", "run_dir=" + EMPTY, "solver.rtol=1e-9"],
     "solver is not chosen in jacnet eval; choose one first, e.g. solver=dopri5"),
    (["eval", "run_dir=" + EMPTY, "solver=dopri5", "solver.nodes=4"],
     "solver.nodes is not a key of solver=dopri5"),
    # invert
    (["invert", "run_dir=" + EMPTY, "newton_steps=-1"], "newton_steps=-1 is not allowed"),
    (["invert", "run_dir=" + EMPTY, "newton_steps=2.5"], "newton_steps=2.5 is not allowed"),
    (["invert", "run_dir=" + EMPTY, "method=foo"],
     "method='foo' is not allowed; choose one of: auto, table, bracket, newton, grid, ode, "
     "substitution, or a torchdiffeq method: dopri8, dopri5"),
    (["invert", "run_dir=" + EMPTY, "+activation=pd"],
     "activation is not a config group of jacnet invert; it takes no config groups"),
    (["invert", "run_dir=" + EMPTY, "solver=dopri5"], "solver is not a config group"),
    (["invert", "run_dir=" + EMPTY, "foo=1"], "foo is not a key of jacnet invert; valid keys:"),
    (["invert", "run_dir=" + EMPTY, "progress=2"], "progress=2 is not allowed"),
    (["invert", "run_dir=" + FILE, "y=[1]"], "is a file"),
]
GOOD = [["eval", "--help"], ["invert", "--help"], ["train", "--help"]]

DRIVER = """\
import contextlib, io, json, sys, traceback
from jacnet_cli import cli

results = []
for args in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            traceback.print_exc()
            code = "raised"
    results.append({"args": args, "code": code, "stdout": out.getvalue(),
                    "stderr": err.getvalue()})
print(json.dumps(results))
"""


def _paths(tmp: Path) -> dict[str, str]:
    file = tmp / "a_file.txt"
    file.write_text("not a directory\n")
    empty = tmp / "empty_run"
    empty.mkdir()
    if os.geteuid() == 0 and Path("/proc").is_dir():
        read_only = "/proc/jacnet-run"  # root writes anywhere else; /proc takes no new dirs
    else:
        locked = tmp / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        read_only = str(locked / "run")
    return {FILE: str(file), EMPTY: str(empty), READ_ONLY: read_only}


def _fill(args: list[str], paths: dict[str, str]) -> list[str]:
    for mark, path in paths.items():
        args = [a.replace(mark, path) for a in args]
    return args


def _no_launchers(tmp: Path) -> dict[str, str]:
    """An environment whose `hydra_plugins` hides the installed launcher plugins."""
    shadow = tmp / "shadow"
    (shadow / "hydra_plugins").mkdir(parents=True)
    (shadow / "hydra_plugins" / "__init__.py").write_text("")
    return {**os.environ, "PYTHONPATH": str(shadow), "HYDRA_FULL_ERROR": "0"}


def _run_batch(tmp: Path, cases: list[list[str]]) -> tuple[list[dict], Path, dict[str, str]]:
    """Cases through the entry point in one process, whose cwd must stay empty."""
    paths = _paths(tmp)
    cwd = tmp / "cwd"
    cwd.mkdir()
    proc = subprocess.run([sys.executable, "-c", DRIVER],
                          input=json.dumps([_fill(args, paths) for args in cases]), cwd=cwd,
                          env=_no_launchers(tmp), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1]), cwd, paths


def _assert_one_line(result: dict, expected: str, paths: dict[str, str]) -> None:
    args = " ".join(result["args"])
    lines = [line for line in result["stderr"].splitlines() if line.strip()]
    assert result["code"] == 2, f"{args}: exit {result['code']}\n{result['stderr']}"
    assert "Traceback" not in result["stderr"] + result["stdout"], args
    assert len(lines) == 1, f"{args}: {len(lines)} lines:\n{result['stderr']}"
    assert _fill([expected], paths)[0] in lines[0], f"{args}: {lines[0]}"
    command = result["args"][0]
    if command in ("train", "eval", "invert"):
        assert lines[0].startswith(f"jacnet {command}: error: "), lines[0]


def test_at_least_40_bad_inputs():
    assert len(BAD) >= 40


# Two halves, one process each, so that `pytest -n 2` runs them side by side.
HALVES = {"train": [c for c in BAD if c[0][0] == "train"],
          "others": [c for c in BAD if c[0][0] != "train"]}


@pytest.mark.parametrize("half", sorted(HALVES))
@pytest.mark.subprocess
def test_each_bad_input_is_one_line_exit_2_and_leaves_no_run(tmp_path, half):
    cases = HALVES[half]
    extra = GOOD if half == "others" else []
    results, cwd, paths = _run_batch(tmp_path, [args for args, _ in cases] + extra)
    for result, (_, expected) in zip(results, cases):
        _assert_one_line(result, expected, paths)
    assert list(cwd.iterdir()) == []  # no run directory was made for any of them
    assert not list(Path(paths[EMPTY]).iterdir())
    if extra:
        _assert_help_lists_only_what_each_command_takes(results[len(cases):])


def _groups_in_help(lines: list[str]) -> dict[str, set[str]]:
    """{group: options} from the help's "groups" section: `  group  chosen: summary` (the
    summary wrapped onto deeper-indented lines), then `also: a, b` (wrapped likewise)."""
    groups, group, inside, also = {}, None, False, False

    def options(text: str) -> set[str]:
        return {o.strip() for o in text.split(",") if o.strip()}

    for line in lines:
        if line.startswith("groups"):
            inside = True
        elif inside and not line.strip():
            break
        elif inside and line.strip().startswith("also:"):
            also = True
            groups[group] |= options(line.split("also:", 1)[1])
        elif inside and line.startswith("  ") and not line.startswith("   "):
            also = False
            group, chosen = line.split()[0], line.split()[1].rstrip(":")
            groups[group] = set() if chosen == "null" else {chosen}
        elif inside and also:  # the list of other options, wrapped
            groups[group] |= options(line)
    return groups


def _assert_help_lists_only_what_each_command_takes(results: list[dict]) -> None:
    helps = {r["args"][0]: r for r in results}
    assert all(r["code"] == 0 for r in helps.values()), helps
    lines = {cmd: r["stdout"].splitlines() for cmd, r in helps.items()}
    listed = {cmd: _groups_in_help(text) for cmd, text in lines.items()}
    assert listed["train"] == {g: set(group_options(g)) for g in GROUPS}  # every group, every option
    assert listed["eval"] == {"solver": set(group_options("solver"))}  # eval takes only the solver
    assert listed["invert"] == {}  # invert takes no group: the saved run's
    assert any(l.split() == ["run_dir=???", *l.split()[1:]] for l in lines["eval"])
    assert any(l.split()[:1] == ["newton_steps=8"] for l in lines["invert"])
    assert "iterations" not in helps["eval"]["stdout"] + helps["invert"]["stdout"]


# A few through the real `jacnet` command, one process each: the same line and exit code.
REAL = [
    (["train", "model.hiden=16"], "model.hiden is not a key of model=jacnet", False),
    (["train", "target"], "'target' is not an override", False),
    (["train", "-m", "seed=0,1.5"], "seed=1.5 is not allowed", False),
    (["train", "-m", "hydra/launcher=joblib", "seed=0,1"], "pip install 'jacnet[launchers]'", True),
]


@pytest.mark.parametrize("args,expected,hide_launchers", REAL,
                         ids=[" ".join(a) for a, _, _ in REAL])
def test_real_command_line(tmp_path, jacnet, args, expected, hide_launchers):
    paths = _paths(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = _no_launchers(tmp_path) if hide_launchers else {}
    proc = jacnet(_fill(args, paths), cwd=cwd, env=env)
    result = {"args": args, "code": proc.returncode, "stdout": proc.stdout,
              "stderr": proc.stderr}
    _assert_one_line(result, expected, paths)
    assert list(cwd.iterdir()) == []


def test_sweep_with_a_failing_job_runs_the_others_and_exits_1(tmp_path, capsys, jacnet):
    """A job that diverges is found only when it runs: job 1 fails where it runs, job 0
    still runs, the sweep exits 1 and `jacnet report` lists the failed job."""
    (tmp_path / "good.csv").write_text("a,b\n" + "".join(f"{i / 10},{i / 5}\n" for i in range(20)))
    proc = jacnet(["train", "-m", "data=file", "data.path=good.csv", "data.x=[a]",
                   "data.y=[b]", "optim.lr=0.01,1e30", "iterations=3", "plots=false"],
                  cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*-train")
    # The failed job says so in its metrics.json, with the last finite weights.
    failed = json.loads((sweep / "1" / "metrics.json").read_text())
    assert failed["status"] == "failed" and "iteration" in failed["reason"]
    assert json.loads((sweep / "0" / "metrics.json").read_text())["status"] == "completed"
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("jacnet train:")]
    assert len(errors) == 2 and "failed" in errors[0]
    assert errors[1] == (f"jacnet train: 1 of 2 jobs failed (job 1); the others finished; "
                         f"`jacnet report {sweep.relative_to(tmp_path)}` lists them all")
    from jacnet_cli.cli.tasks import report

    assert report.main([str(sweep), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "1 of 2 jobs failed" in out


def test_a_bad_file_in_a_sweep_is_refused_before_any_job_runs(tmp_path, jacnet):
    """Every swept file is read before the first job (issue 27): a file with NaN rows is one
    line, exit 2, and no job, no sweep folder."""
    (tmp_path / "good.csv").write_text("a,b\n" + "".join(f"{i / 10},{i / 5}\n" for i in range(20)))
    (tmp_path / "bad.csv").write_text("a,b\n" + "".join(f"{i / 10},{i / 5}\n" for i in range(19))
                                     + "nan,1\n")
    proc = jacnet(["train", "-m", "data=file", "data.path=good.csv,bad.csv", "data.x=[a]",
                   "data.y=[b]", "iterations=3", "plots=false"], cwd=tmp_path)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert "data.path='bad.csv': 1 row(s) hold a missing value" in lines[0]
    assert "line 21 (a)" in lines[0] and not (tmp_path / "outputs").exists()


def test_a_structure_that_cannot_take_the_target_is_refused_before_any_job_runs(tmp_path):
    from jacnet_cli.cli.validate import preflight

    line = preflight("train", ["-m", "experiment=debug", "activation=cauchy_riemann,pd"])
    assert line.startswith("activation=cauchy_riemann needs a map R² -> R², got d_x=1, d_y=1; "
                           "use one of:")


@pytest.mark.parametrize("solver", group_options("solver"))
def test_debug_preset_trains_with_every_solver(compose, tmp_path, solver):
    from jacnet_cli.run.experiment import Experiment

    structure = ["activation=monotone"] if solver == "exact" else []  # exact needs a closed form
    cfg = compose(["experiment=debug", f"solver={solver}", "plots=false", *structure], plain=True)
    assert cfg["iterations"] == 3 and cfg["model"]["hidden"] == 8
    metrics = Experiment(cfg, tmp_path).run()
    assert metrics["iterations"] == 3 and metrics["status"] == "completed"
    assert metrics["guarantee_held"] is True


@pytest.mark.parametrize("task,typed", [("train", settings.TrainSettings),
                                        ("eval", settings.EvalSettings),
                                        ("invert", settings.InvertSettings)])
def test_every_setting_is_a_key_of_the_task_config(compose, task, typed):
    """A renamed key would be read as its default without a word: the typed settings must
    name the task's real keys, and the defaults must pass."""
    flat = _flatten(compose([], task=task))
    assert set(settings.names(typed)) <= flat, set(settings.names(typed)) - flat
    if task == "train":
        settings.TrainSettings.of(compose([], plain=True))


def _flatten(cfg) -> set[str]:
    def walk(node: dict, prefix: str) -> set[str]:
        keys = set()
        for key, value in node.items():
            keys.add(f"{prefix}{key}")
            if isinstance(value, dict):
                keys |= walk(value, f"{prefix}{key}.")
        return keys

    return walk(OmegaConf.to_container(cfg, resolve=False), "")


def test_the_debug_preset_sets_no_solver_keys():
    """Solvers differ in their keys (nodes, rtol, step_size): a preset for all sets none."""
    conf = configs.conf_dir()
    assert "solver" not in yaml.safe_load((conf / "experiment" / "debug.yaml").read_text())


RUN = "{run}"  # a directory with a checkpoint file
GOOD_LINES = [
    ["train", "target=exp", "activation=pd"],
    ["train", "target=abs", "activation=lipschitz", "activation.k=2"],
    ["train", "experiment=paper_faithful"],
    ["train", "experiment=complex_exp", "activation.min_modulus=0.1", "data.grid_points=21"],
    ["train", "experiment=debug", "solver=dopri5", "solver.rtol=1e-8", "eval_tolerance=1e-9"],
    ["train", "-m", "model.hidden=16,64,256", "activation.eps=1e-4,1e-2", "seed=0,1,2"],
    ["train", "-m", "activation=pd,lipschitz", "seed=range(0,3)", "optim=adam,sgd"],
    ["train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1"],
    ["train", "-m", "hydra/launcher=slurm", "hydra.launcher.partition=gpu",
     "hydra.launcher.gpus_per_node=1", "model.hidden=16,64"],
    ["train", "-m", "hydra/launcher=submitit_slurm",
     "+hydra.launcher.additional_parameters.mail_type=END", "seed=0,1"],
    ["train", "optim=sgd", "~optim.momentum", "plots=false", "progress=true", "seed=7"],
    ["train", "data.test_range=[-4,4]", "iterations=0", "loss=mse", "device=cpu"],
    ["train", "hydra.run.dir={tmp}/runs/one"],
    ["train", "--cfg", "job", "activation=lipschitz"],
    ["train", "hydra/launcher=slurm", "--cfg", "hydra", "-p", "hydra.launcher"],
    ["eval", f"run_dir={RUN}"],
    ["eval", f"run_dir={RUN}", "solver=dopri5", "solver.rtol=1e-9", "data.test_range=[-3,3]",
     "eval_tolerance=1e-9", "seed=3", "plots=false"],
    ["invert", f"run_dir={RUN}", "y=[1.5,2.0]", "method=ode", "newton_steps=0"],
    ["invert", f"run_dir={RUN}", "y_file=ys.txt", "method=rk4", "dtype=float32"],
]


@pytest.mark.slow
def test_good_command_lines_pass_the_checks(tmp_path, monkeypatch):
    """No false alarms: the README's command lines and their kin get through."""
    from jacnet_cli.cli.validate import preflight
    from jacnet_cli.run import checkpoint

    slurm = tmp_path / "bin"  # as on a cluster's login node: SLURM sweeps need sbatch and srun
    slurm.mkdir()
    for name in ("sbatch", "srun"):
        (slurm / name).write_text("#!/bin/sh\n")
        (slurm / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{slurm}{os.pathsep}{os.environ['PATH']}")

    run = tmp_path / "run"
    run.mkdir()
    (run / checkpoint.FILENAME).write_bytes(b"")
    for args in GOOD_LINES:
        args = [a.replace(RUN, str(run)).replace("{tmp}", str(tmp_path)) for a in args]
        assert preflight(args[0], args[1:]) is None, args
