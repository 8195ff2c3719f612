"""Bad input becomes one line: the key, the bad value and what is allowed.

Two layers, both run before Hydra makes a run directory, so nothing that failed looks like
a run:

- `preflight(task, args)` reads the command line the way Hydra will: a malformed override,
  an unknown key (at any depth, with or without `+`), a config group the task does not take,
  a sweep without `-m`, a launcher whose plugin is not installed, an output directory that
  cannot be made. It composes the real config with Hydra's compose API (once per group
  choice of a sweep) and then runs the value checks on every swept value.
- `validate(task, cfg)` checks values against the table `CHECKS`, one row per key and task.
  It also runs at the start of every task (every job of a sweep included), so a config that
  reaches a task another way is checked the same.

A check is a function of the value that returns None when it is fine, else the phrase that
follows `key=value` in the message ("is not allowed; it must be a number > 0"), or that
raises ValueError with the whole line. Adding a key is adding a row to `CHECKS`, e.g.
`"epochs": integer(1)` under "train".

Only the standard library loads on import; Hydra, OmegaConf (and torch, for the checks that
ask the library) load when a check runs.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

Check = Callable[[Any], "str | None"]

#: fewer grid points per axis than this cannot stand for "the guarantee holds on the range":
#: at 11 the grid over data.guarantee_range has a step of a tenth of the range.
MIN_GRID_POINTS = 11

#: Hydra's launcher options that come from a plugin, and the module that plugin installs.
LAUNCHER_PLUGINS = {
    "joblib": ("hydra-joblib-launcher", "hydra_plugins.hydra_joblib_launcher"),
    "submitit_local": ("hydra-submitit-launcher", "hydra_plugins.hydra_submitit_launcher"),
    "submitit_slurm": ("hydra-submitit-launcher", "hydra_plugins.hydra_submitit_launcher"),
    "slurm": ("hydra-submitit-launcher", "hydra_plugins.hydra_submitit_launcher"),  # our preset
}
LAUNCHERS_EXTRA = "pip install 'jacnet[launchers]' (in a checkout: pip install -e '.[launchers]')"

_MISSING = object()


# --------------------------------------------------------------------------- value checks


def must(rule: str) -> str:
    return f"is not allowed; it must be {rule}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_number(value: Any) -> str | None:
    """A finite number > 0 (a learning rate, a tolerance)."""
    if _is_number(value) and math.isfinite(value) and value > 0:
        return None
    return must("a finite number > 0, e.g. 1e-3")


def integer(low: int) -> Check:
    """An integer >= low (not a bool, not a float)."""
    def check(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= low:
            return None
        return must(f"an integer >= {low}")
    return check


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else must("true or false")


def auto_or_boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) or value == "auto" else must("auto, true or false")


def one_of(options: Callable[[], Iterable[str]]) -> Check:
    """One of a list the library owns (a callable, so the list loads only when checked)."""
    def check(value: Any) -> str | None:
        allowed = list(options())
        return None if value in allowed else f"is not allowed; choose one of: {', '.join(allowed)}"
    return check


def optional(check: Check) -> Check:
    """null (keep the saved run's value) or what `check` allows."""
    def wrapped(value: Any) -> str | None:
        problem = None if value is None else check(value)
        return problem and problem.replace("it must be ", "it must be null or ", 1)
    return wrapped


def device(value: Any) -> str | None:
    """auto, cpu, cuda or cuda:N; whether CUDA is there is checked where the job runs."""
    text = str(value)
    index = text[5:] if text.startswith("cuda:") else "0"
    if isinstance(value, str) and (text in ("auto", "cpu", "cuda") or
                                   (text.startswith("cuda:") and index.isdigit())):
        return None
    return must("auto, cpu, cuda or cuda:N")


def grid_points(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= MIN_GRID_POINTS:
        return None
    return (f"is too few to measure a guarantee; it must be an integer >= {MIN_GRID_POINTS} "
            "(grid points per axis over data.guarantee_range)")


def present(value: Any) -> str | None:
    """Any value: the row only makes a required key (`???`) name what to pass."""
    return None


def nonnegative_number(value: Any) -> str | None:
    """A finite number >= 0 (a penalty weight)."""
    if _is_number(value) and math.isfinite(value) and value >= 0:
        return None
    return must("a finite number >= 0")


def threads(value: Any) -> str | None:
    """auto or an integer >= 1."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return None
    return must("auto or an integer >= 1")


def run_dir(value: Any) -> str | None:
    """A run directory with a checkpoint (checkpoint.find says what is wrong otherwise)."""
    from jacnet_cli import checkpoint

    path = Path(str(value)).expanduser()
    if path.exists() and not path.is_dir():
        return "is a file; pass the directory of a `jacnet train` run (it holds checkpoint.pt)"
    checkpoint.find(path)  # raises ValueError: "run_dir='...' does not exist; ..."
    return None


def _dtypes() -> Iterable[str]:
    from jacnet_cli.build import DTYPES

    return DTYPES


def _losses() -> Iterable[str]:
    from jacnet_cli.training import LOSSES

    return LOSSES


def inverse_method(value: Any) -> str | None:
    from jacnet_cli.inverse import METHODS

    solvers = _torchdiffeq_methods()
    if isinstance(value, str) and (value in METHODS or value in solvers):
        return None
    return (f"is not allowed; choose one of: {', '.join(METHODS)}, or a torchdiffeq method: "
            f"{', '.join(solvers)}")


def _torchdiffeq_methods() -> list[str]:
    from torchdiffeq._impl.odeint import SOLVERS

    # scipy_solver needs options (`solver=`) that `jacnet invert` does not pass.
    return [name for name in SOLVERS if name != "scipy_solver"]


COMMON: dict[str, Check] = {"device": device, "progress": auto_or_boolean}

#: task -> {dotted key: check}, checked in this order. A key a config does not have is
#: skipped (e.g. `hydra.*` inside a task, where Hydra keeps its own node apart). The checks
#: that ask the library (and so load torch) or read the disk come last, so that most bad
#: values are refused at once.
CHECKS: dict[str, dict[str, Check]] = {
    "train": {
        "seed": integer(0),
        "iterations": optional(integer(0)),
        "epochs": optional(integer(0)),
        "batch_size": optional(integer(1)),
        "patience": optional(integer(1)),
        "restore_best": boolean,
        "overwrite": boolean,
        "curl_weight": nonnegative_number,
        "optim.lr": positive_number,
        "eval_tolerance": positive_number,
        "plots": boolean,
        **COMMON,
        "runtime.threads": threads,
        "data.n_train": integer(1),
        "data.n_test": integer(1),
        "data.n_val": integer(0),
        "data.guarantee_points": integer(16),
        "data.grid_points": grid_points,
        "data.path": present,
        "data.x": present,
        "data.y": present,
        "loss": one_of(_losses),
        "dtype": one_of(_dtypes),
    },
    "eval": {
        "seed": optional(integer(0)),
        "eval_tolerance": optional(positive_number),
        "plots": boolean,
        **COMMON,
        "data.n_test": optional(integer(1)),
        "data.grid_points": optional(grid_points),
        "dtype": one_of(_dtypes),
        "run_dir": run_dir,
    },
    "invert": {
        "newton_steps": integer(0),
        "allow_unconverged": boolean,
        **COMMON,
        "dtype": one_of(_dtypes),
        "method": inverse_method,
        "run_dir": run_dir,
    },
}

#: what to write for a required key (`???` in the task's YAML) left unset.
REQUIRED_HINTS = {"run_dir": "pass run_dir=PATH, the directory of a `jacnet train` run",
                  "data.path": "pass data.path=FILE (.csv with a header, .npz, .parquet)",
                  "data.x": "name the input columns, e.g. data.x=[a,b]",
                  "data.y": "name the output columns, e.g. data.y=[y]"}


def _lookup(cfg: Any, key: str) -> Any:
    """cfg's value at a dotted key (resolved), _MISSING if the key is absent, or '???'."""
    from omegaconf import OmegaConf

    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key, default=None) if parent_key else cfg
    if not OmegaConf.is_dict(parent) or leaf not in parent.keys():
        return _MISSING
    if OmegaConf.is_missing(parent, leaf):
        return "???"
    value = parent[leaf]
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def validate(task: str, cfg: Any, skip: Iterable[str] = ()) -> None:
    """Check every key of CHECKS[task] that cfg has; raise ValueError with one line if bad.

    Args:
        task: train, eval or invert.
        cfg: the task's composed config (with or without Hydra's node).
        skip: keys not to check here (values that only resolve inside a job).
    """
    for key, check in CHECKS.get(task, {}).items():
        if key in skip:
            continue
        value = _lookup(cfg, key)
        if value is _MISSING:
            continue
        if value == "???" and isinstance(value, str):
            raise ValueError(f"{key} is required; {REQUIRED_HINTS.get(key, f'pass {key}=VALUE')}")
        problem = check(value)
        if problem:
            raise ValueError(f"{key}={value!r} {problem}")


def output_dir(key: str, value: Any) -> None:
    """Raise ValueError unless Hydra can make (or reuse) the directory `value`."""
    path = Path(str(value)).expanduser().absolute()
    rule = "it must be a directory you can write to (or one that can be made)"
    if path.exists() and not path.is_dir():
        raise ValueError(f"{key}={str(value)!r} is a file; {rule}")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{key}={str(value)!r} cannot be made: {existing} is a file; {rule}")
    try:  # a real try, not os.access: root passes os.access on a read-only file system
        os.rmdir(tempfile.mkdtemp(prefix=".jacnet-check-", dir=existing))
    except OSError as exc:
        raise ValueError(f"{key}={str(value)!r} is not writable: nothing can be made in "
                         f"{existing} ({exc.strerror or exc}); {rule}") from None


# --------------------------------------------------------------------------- the command line


class BadInput(Exception):
    """One line for the user; the command exits 2."""


def preflight(task: str, args: list[str]) -> str | None:
    """The one-line error for `jacnet <task> args`, or None when Hydra may run it."""
    if args and all(a in ("-h", "--help", "--hydra-help") for a in args):
        return None  # help: nothing to check, nothing to load
    try:
        _preflight(task, args)
    except BadInput as exc:
        return str(exc)
    return None


def _parse_args(args: list[str]) -> Any:
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def error(message: str) -> None:
        raise BadInput(f"{message} (see `jacnet <command> --help`)")

    parser.error = error  # type: ignore[method-assign]  # one line, not usage + error
    return parser.parse_args(args)


def _parse_overrides(lines: list[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    out = []
    for line in lines:
        if line.startswith("="):
            raise BadInput(f"{line!r} has no key; write key=value{_did_you_mean(line[1:])}")
        if "=" not in line and not line.startswith("~"):
            raise BadInput(f"{line!r} is not an override; write {_key_value_hint(line)}")
        try:
            out.append(parser.parse_override(line))
        except HydraException as exc:
            detail = [ln for ln in str(exc).splitlines()
                      if ln.strip() and not ln.startswith(("Error parsing", "See https"))]
            raise BadInput(f"{line!r} is not a valid override ({detail[0] if detail else exc}); "
                           "write key=value, quoting a value with spaces or commas: "
                           "key='a, b'") from None
    return out


def _key_value_hint(word: str) -> str:
    from jacnet_cli.cli import CONF_DIR, group_options

    if (CONF_DIR / word).is_dir():
        return f"{word}=OPTION, one of: {', '.join(group_options(word))}"
    return "key=value, e.g. seed=1"


def _did_you_mean(value: str) -> str:
    from jacnet_cli.cli import CONF_DIR, group_options

    groups = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir()
                    and value in group_options(p.name))
    return f", e.g. {groups[0]}={value}" if groups else ", e.g. target=exp"


def _preflight(task: str, args: list[str]) -> None:
    from jacnet_cli.cli import CONF_DIR

    ns = _parse_args(args)
    if ns.config_dir or ns.config_path or ns.config_name or ns.experimental_rerun \
            or any(a.lstrip("+").startswith("hydra.searchpath") for a in ns.overrides):
        return  # another config source: leave it all to Hydra
    overrides = _parse_overrides(list(ns.overrides))
    running = not (ns.help or ns.hydra_help or ns.cfg or ns.info is not None
                   or ns.shell_completion)
    if not overrides and not running:
        return

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            loader = GlobalHydra.instance().config_loader()
            _Composer(task, overrides, ns.multirun, running, loader, compose).run()
    finally:
        GlobalHydra.instance().clear()


_COMPOSED: dict[tuple[str, ...], Any] = {}


class _Composer:
    """Compose the task's config for each group choice of the sweep; check keys and values."""

    def __init__(self, task: str, overrides: list[Any], multirun: bool, running: bool,
                 loader: Any, compose: Callable[..., Any]) -> None:
        self.task, self.overrides, self.multirun, self.running = task, overrides, multirun, running
        self.loader, self._compose = loader, compose
        # The task's own groups (its defaults list); a job's choices replace these per job.
        self.choices: dict[str, Any] = dict(self.compose([]).hydra.runtime.choices)

    def compose(self, group_lines: list[str]) -> Any:
        """The task's config with these group overrides and Hydra's node (read-only here)."""
        key = (self.task, *group_lines)
        if key not in _COMPOSED:  # a process that checks many command lines composes once
            try:
                _COMPOSED[key] = self._compose(config_name=self.task, overrides=group_lines,
                                               return_hydra_config=True)
            except Exception as exc:  # noqa: BLE001 - any composition error becomes one line
                raise BadInput(_one_line(exc)) from None
        return _COMPOSED[key]

    def is_group(self, key: str) -> bool:
        return bool(self.loader.get_group_options(key))

    def elements(self, o: Any) -> list[str]:
        """The override lines one job each sees: `k=a,b` -> ['k=a', 'k=b']."""
        if not o.is_sweep_override():
            return [o.input_line]
        if not self.multirun:
            raise BadInput(f"{o.input_line} has several values; add -m to run one job per "
                           "value, or write a list as key=[a,b] or a string as key='a,b'")
        from hydra.core.override_parser.types import ValueType

        try:
            if o.value_type == ValueType.GLOB_CHOICE_SWEEP:
                values = o.value().filter(self.loader.get_group_options(o.key_or_group))
            else:
                values = list(o.sweep_string_iterator())
        except Exception as exc:  # noqa: BLE001
            raise BadInput(f"{o.input_line} cannot be swept here ({_one_line(exc)}); "
                           "sweep a list of values, a,b,c, or range(start,stop)") from None
        if not values:
            raise BadInput(f"{o.input_line} sweeps over no values")
        return [f"{o.get_key_element()}={v}" for v in values]

    def run(self) -> None:
        groups: list[list[str]] = []  # per group override: the line each job sees
        values: list[list[Any]] = []  # per value override: the parsed override each job sees
        for o in self.overrides:
            lines = self.elements(o)
            if self.is_group(o.key_or_group):
                for line in lines:
                    self.check_group(_parse_overrides([line])[0])
                groups.append(lines)
            else:
                values.append(_parse_overrides(lines))
        # Jobs vary one sweep at a time from the first job: each group choice is composed
        # once, and each swept value is checked against the first values of the others.
        group_sets = [[g[0] for g in groups]]
        for i, g in enumerate(groups):
            group_sets += [[*(h[0] for h in groups[:i]), line, *(h[0] for h in groups[i + 1:])]
                           for line in g[1:]]
        first = [v[0] for v in values]
        jobs = [first] + [[*first[:i], o, *first[i + 1:]]
                          for i, v in enumerate(values) for o in v[1:]]
        for group_lines in group_sets:
            cfg = self.compose(group_lines)
            self.choices = dict(cfg.hydra.runtime.choices)
            for v in values:
                self.check_key(v[0], cfg)
            for job in jobs if self.running else []:
                self.check_values(cfg, job)

    def check_group(self, o: Any) -> None:
        key, choice = o.key_or_group, o.value()
        if key not in self.choices:
            mine = [g for g in self.choices if not g.startswith("hydra/")]
            takes = (f"its groups: {', '.join(mine)}" if mine else
                     "it takes no config groups (the saved run fixes them)")
            raise BadInput(f"{o.input_line}: {key} is not a config group of jacnet {self.task}; "
                           f"{takes}")
        if o.is_delete():
            return
        if o.is_add():
            raise BadInput(f"{o.input_line}: {key} is already in the config; drop the +: "
                           f"{o.input_line.lstrip('+')}")
        if key == "hydra/launcher" and choice in LAUNCHER_PLUGINS:
            package, module = LAUNCHER_PLUGINS[choice]
            if not _installed(module):
                raise BadInput(f"hydra/launcher={choice} needs the {package} plugin, which is "
                               f"not installed; install the launchers extra: {LAUNCHERS_EXTRA}")
        options = self.loader.get_group_options(key)
        if choice is not None and choice not in options:
            raise BadInput(f"{key}={choice!r} is not an option; choose one of: "
                           f"{', '.join(options)}")

    def check_key(self, o: Any, cfg: Any) -> None:
        """An override of a value must name a key the composed config has."""
        from omegaconf import OmegaConf

        key = o.key_or_group
        adding = o.is_add() or o.is_force_add()
        parts = key.split(".")
        node: Any = OmegaConf.to_container(cfg, resolve=False)
        for depth, part in enumerate(parts):
            here, there = ".".join(parts[:depth]), ".".join(parts[:depth + 1])
            if isinstance(node, dict):
                if part in node:
                    pass
                elif not node and depth == len(parts) - 1 and depth > 0:
                    if adding:  # an empty mapping (e.g. a launcher's additional_parameters)
                        return  # is there for the user's own keys
                    raise BadInput(f"{o.input_line}: {here} is an empty mapping; add a key to "
                                   f"it with +: +{o.input_line}")
                elif depth == 0 and self.choices.get(part, "") is None:
                    raise BadInput(f"{o.input_line}: {part} is not chosen in jacnet {self.task}; "
                                   f"choose one first, e.g. "
                                   f"{part}={self.example(part, parts[1] if len(parts) > 1 else None)} "
                                   f"{o.input_line.lstrip('+~')}")
                else:
                    raise BadInput(f"{o.input_line}: {there} is not a key of "
                                   f"{self.describe(here)}; valid keys: {_keys(node, depth)}")
            elif isinstance(node, list):
                if not (part.isdigit() and int(part) < len(node)):
                    raise BadInput(f"{o.input_line}: {here} is a list of {len(node)}; "
                                   f"{part!r} is not one of its indices")
            elif node is None:
                raise BadInput(f"{o.input_line}: {here} is null in jacnet {self.task}; "
                               + (f"choose one first, e.g. {here}={self.example(here)}"
                                  if self.is_group(here) else f"set {here} itself"))
            else:
                raise BadInput(f"{o.input_line}: {here} is a value ({node!r}), not a group of "
                               "keys")
            node = node[part] if isinstance(node, dict) else node[int(part)]
        if o.is_add() and not isinstance(o.value(), (dict, list)):
            raise BadInput(f"{o.input_line}: {key} is already in the config; drop the +: "
                           f"{o.input_line.lstrip('+')}")

    def describe(self, path: str) -> str:
        if not path:
            return f"jacnet {self.task}"
        group = path.replace(".", "/")
        choice = self.choices.get(group)
        return f"{group}={choice}" if choice is not None else path

    def example(self, group: str, key: str | None = None) -> str:
        """An option of the group, one that has `key` where one does."""
        import yaml

        from jacnet_cli.cli import CONF_DIR

        options = self.loader.get_group_options(group)
        for option in options if key else ():
            try:
                node = yaml.safe_load((CONF_DIR / group / f"{option}.yaml").read_text()) or {}
            except (OSError, yaml.YAMLError):
                continue
            if key in node:
                return option
        return options[0] if options else "OPTION"

    def check_values(self, cfg: Any, job: list[Any]) -> None:
        """Apply a job's value overrides as Hydra does, then run the value checks."""
        from omegaconf import OmegaConf, open_dict

        cfg = copy.deepcopy(cfg)
        for o in job:
            try:
                if o.is_delete():
                    parent, _, leaf = o.key_or_group.rpartition(".")
                    with open_dict(cfg):
                        del (OmegaConf.select(cfg, parent) if parent else cfg)[leaf]
                else:
                    OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True,
                                     force_add=o.is_add() or o.is_force_add())
            except Exception as exc:  # noqa: BLE001
                raise BadInput(f"{o.input_line}: {_one_line(exc)}") from None
        # An interpolation (seed=${hydra:job.num}) resolves only inside its job, where the
        # task-start check sees it.
        later = {o.key_or_group for o in job if isinstance(o.value(), str) and "${" in o.value()}
        try:
            validate(self.task, cfg, skip=later)
            key = "hydra.sweep.dir" if self.multirun else "hydra.run.dir"
            if key not in later:
                output_dir(key, OmegaConf.select(cfg, key))
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - e.g. an interpolation that does not resolve
            raise BadInput(_one_line(exc)) from None


def _keys(node: dict, depth: int) -> str:
    keys = sorted(k for k in node if not str(k).startswith("_") and not (depth == 0 and k == "hydra"))
    return ", ".join(keys) if keys else "(none)"


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _one_line(exc: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line messages as one line (first line of each cause)."""
    parts: list[str] = []
    while exc is not None and len(parts) < 3:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        if lines and lines[0] not in parts:
            parts.append(lines[0].rstrip("."))
        exc = exc.__cause__  # type: ignore[assignment]
    return "; ".join(parts) or "the config does not compose"
