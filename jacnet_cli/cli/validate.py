"""Bad input becomes one line: the key, the bad value and what is allowed.

Everything is checked before a run directory exists, so nothing that failed looks like a
run. A single run is composed once (`compose_run`): Hydra's composition with all overrides,
then the value check, which is building the config without running it (`check_config`:
the task's settings, and for `train` every group's object and the model, `run.build.preview`);
the composed config is what the run then uses. When composition fails, or for sweeps and
`--cfg`/`--info`, `preflight` reads the command line the way Hydra will: a malformed override,
an unknown key (at any depth, with or without `+`), a config group the task does not take, a
sweep without `-m`, a launcher whose plugin is not installed, an output directory that cannot
be made; then the value check runs on every swept value.

Only the standard library loads on import; Hydra, OmegaConf and torch load when a check runs.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from jacnet_cli.run import configs
from jacnet_cli.run.configs import group_options

#: Hydra's launcher options that come from a plugin, and the module that plugin installs.
LAUNCHER_PLUGINS = {
    "joblib": ("hydra-joblib-launcher", "hydra_plugins.hydra_joblib_launcher"),
    "submitit_local": ("hydra-submitit-launcher", "hydra_plugins.hydra_submitit_launcher"),
    "submitit_slurm": ("hydra-submitit-launcher", "hydra_plugins.hydra_submitit_launcher"),
    "slurm": ("hydra-submitit-launcher", "hydra_plugins.hydra_submitit_launcher"),  # our preset
    "ray": ("hydra-ray-launcher", "hydra_plugins.hydra_ray_launcher"),  # our preset on it
}
#: Hydra's sweeper options that come from a plugin, and the module that plugin installs.
SWEEPER_PLUGINS = {
    "optuna": ("hydra-optuna-sweeper", "hydra_plugins.hydra_optuna_sweeper"),
}
PLUGINS = {"hydra/launcher": LAUNCHER_PLUGINS, "hydra/sweeper": SWEEPER_PLUGINS}
#: The extra that installs each plugin's option (the others: `launchers`).
EXTRAS = {"ray": "ray", "optuna": "sweeps"}
LAUNCHERS_EXTRA = "pip install 'jacnet[launchers]' (in a checkout: pip install -e '.[launchers]')"
#: Launchers that submit to SLURM, and the SLURM commands they run.
SLURM_LAUNCHERS = ("slurm", "submitit_slurm")
SLURM_COMMANDS = ("sbatch", "srun")

#: keys that were renamed: old -> new (the old one gets a line naming the new one).
RENAMED = {"model.activation": "model.nonlinearity"}


class BadInput(Exception):
    """One line for the user; the command exits 2."""


def check_config(task: str, cfg: Any, multirun: bool = False, skip: set[str] = frozenset(),
                 typed: Iterable[str] = ()) -> None:
    """Check a composed config by building it without running: BadInput on the first
    problem. `skip`: keys whose values resolve only inside a job; `typed`: keys set on the
    command line beyond those in the config's own record of its overrides."""
    from omegaconf import OmegaConf, open_dict

    from hydra.core.hydra_config import HydraConfig

    before = HydraConfig.instance().cfg
    try:
        if "hydra" in cfg:
            HydraConfig.instance().set_config(cfg)  # for ${hydra:...} in the task's keys
        task_cfg = copy.copy(cfg)
        with open_dict(task_cfg):
            task_cfg.pop("hydra", None)
        plain = OmegaConf.to_container(task_cfg, resolve=True, throw_on_missing=False)
    except Exception as exc:  # noqa: BLE001 - an interpolation that does not resolve
        raise BadInput(_one_line(exc)) from None
    finally:
        HydraConfig.instance().cfg = before  # the job sets its own; a check leaves none
    given = {*typed, *(o.split("=", 1)[0].lstrip("+~")
                       for o in (OmegaConf.select(cfg, "hydra.overrides.task") or []))}
    try:
        check_values(task, plain, given)
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        if key not in skip and OmegaConf.select(cfg, key) is not None:
            output_dir(key, OmegaConf.select(cfg, key))
    except ValueError as exc:
        raise BadInput(str(exc).strip().splitlines()[0]) from None
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - a value that breaks a constructor's assumptions
        raise BadInput(_one_line(exc)) from None


def check_values(task: str, cfg: dict[str, Any], typed: Iterable[str] = ()) -> None:
    """Build the task's config without running it (its row's `check`, told which keys the
    command line set); raise ValueError (one line) if bad."""
    from jacnet_cli.cli.tasks import TASKS

    TASKS[task].check_config(cfg, frozenset(typed))


def compose_run(task: str, args: list[str]) -> tuple[Any, Any]:
    """Compose a single run's config once and check it: (the Hydra object, the config with
    Hydra's node). Raises BadInput with one line."""
    ns = _parse_args(args)
    overrides = _parse_overrides(list(ns.overrides))
    if any(o.is_add() or o.is_force_add() or o.is_delete() for o in overrides):
        _preflight(task, args)  # keys added or deleted: checked against the config without them
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    GlobalHydra.instance().clear()
    hydra = Hydra.create_main_hydra2(
        task_name=f"jacnet-{task}",
        config_search_path=create_config_search_path(str(configs.conf_dir())))
    try:
        cfg = hydra.compose_config(config_name=task, overrides=list(ns.overrides),
                                   run_mode=RunMode.RUN, with_log_configuration=False)
    except Exception as exc:  # noqa: BLE001 - find out why, in one line
        GlobalHydra.instance().clear()
        _preflight(task, args)  # raises BadInput naming the problem
        raise BadInput(_one_line(exc)) from None
    from omegaconf import read_write

    with read_write(cfg.hydra):
        if cfg.hydra.mode is None:
            cfg.hydra.mode = RunMode.RUN
    try:
        check_config(task, cfg)
    except BaseException:
        GlobalHydra.instance().clear()
        raise
    return hydra, cfg


def prepare(task: str, args: list[str]) -> tuple[Any, Any] | None:
    """Check `jacnet <task> args` before anything is made: (the Hydra object, the composed
    config) for a single run, composed once; None for what Hydra's own entry runs (sweeps,
    --cfg, --info, --help), after the same checks. Raises BadInput with one line."""
    flags = {a.split("=", 1)[0] for a in args if a.startswith("-")}
    if flags:
        if not all(a in ("-h", "--help", "--hydra-help") for a in args):
            _preflight(task, args)
        return None
    return compose_run(task, args)


def preflight(task: str, args: list[str]) -> str | None:
    """The one-line error for `jacnet <task> args`, or None when it may run."""
    try:
        prepare(task, args)
    except BadInput as exc:
        return str(exc)
    finally:
        from hydra.core.global_hydra import GlobalHydra

        GlobalHydra.instance().clear()
    return None


def _preflight(task: str, args: list[str]) -> None:
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
        with initialize_config_dir(config_dir=str(configs.conf_dir()), version_base="1.3"):
            loader = GlobalHydra.instance().config_loader()
            _Composer(task, overrides, ns.multirun, running, loader, compose).run()
    finally:
        GlobalHydra.instance().clear()


def _hint(key: str) -> str:
    """A line's ending for a key that belongs to another option of its group."""
    if key.startswith("data.") and key.split(".")[1] in ("path", "x", "y", "delimiter"):
        return "; for your own file choose data=file first, e.g. data=file data.path=FILE"
    return ""


_COMPOSED: dict[tuple[str, ...], Any] = {}


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
    if word in configs.groups():
        return f"{word}=OPTION, one of: {', '.join(group_options(word))}"
    return "key=value, e.g. seed=1"


def _did_you_mean(value: str) -> str:
    groups = [g for g in configs.groups() if value in group_options(g)]
    return f", e.g. {groups[0]}={value}" if groups else ", e.g. target=exp"



#: Counts of a search that Hydra's sweeper would take at any value and fail on later.
SEARCH_COUNTS = {"hydra.sweeper.n_trials": "the number of trials the search runs",
                 "hydra.sweeper.n_jobs": "how many trials run at once"}


def _check_count(o: Any) -> None:
    """A search's trial counts must be whole numbers >= 1 (0 trials ends in a traceback)."""
    from jacnet_cli.core import checks

    key = o.key_or_group
    if key not in SEARCH_COUNTS or o.is_delete():
        return
    try:
        checks.integer(key, o.value(), 1)
    except ValueError as exc:
        raise BadInput(f"{exc} ({SEARCH_COUNTS[key]})") from None


class _Composer:
    """Compose the task's config for each group choice of the sweep; check keys and values."""

    def __init__(self, task: str, overrides: list[Any], multirun: bool, running: bool,
                 loader: Any, compose: Callable[..., Any]) -> None:
        self.task, self.overrides, self.multirun, self.running = task, overrides, multirun, running
        self.loader, self._compose = loader, compose
        # A search (a sweeper other than Hydra's basic one) takes intervals as well as lists.
        self.search = any(o.key_or_group == "hydra/sweeper" and o.value() not in (None, "basic")
                          for o in overrides)
        # The task's own groups (its defaults list), with the launcher and sweeper chosen (they
        # bring groups of their own, e.g. hydra/sweeper/sampler); a job's choices replace these.
        engines = [o for o in overrides if o.key_or_group in PLUGINS and not o.is_sweep_override()
                   and not (o.is_delete() or o.is_add())]
        for o in engines:
            self.check_plugin(o.key_or_group, o.value())
        lines = [o.input_line for o in engines
                 if o.value() in loader.get_group_options(o.key_or_group)]
        self.choices: dict[str, Any] = dict(self.compose(lines).hydra.runtime.choices)

    def compose(self, group_lines: list[str]) -> Any:
        """The task's config with these group overrides and Hydra's node (read-only here)."""
        key = (str(configs.conf_dir()), self.task, *group_lines)
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
        from hydra.core.override_parser.types import IntervalSweep, ValueType

        if isinstance(o.value(), IntervalSweep):  # a range to search: its ends are checked
            if not self.search:
                raise BadInput(f"{o.input_line} cannot be swept: an interval is a range to "
                               "search, not a list of values; search it with "
                               "hydra/sweeper=optuna hydra.sweeper.n_trials=N, or sweep a list "
                               "of values, a,b,c")
            return [f"{o.get_key_element()}={v}" for v in (o.value().start, o.value().end)]
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
                for parsed in v:
                    _check_count(parsed)
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
        self.check_plugin(key, choice)
        if key == "hydra/launcher" and choice in SLURM_LAUNCHERS and self.multirun \
                and self.running:
            missing = [c for c in SLURM_COMMANDS if shutil.which(c) is None]
            if missing:
                raise BadInput(f"hydra/launcher={choice} submits each job to SLURM, but "
                               f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                               "not on PATH: run the sweep on the cluster's login node, or try "
                               "it on this machine with hydra/launcher=submitit_local")
        options = self.loader.get_group_options(key)
        if choice is not None and choice not in options:
            raise BadInput(f"{key}={choice!r} is not an option; choose one of: "
                           f"{', '.join(options)}")

    def check_plugin(self, key: str, choice: Any) -> None:
        """A launcher or sweeper that comes from a plugin must have it installed."""
        plugins = PLUGINS.get(key, {})
        if choice in plugins:
            package, module = plugins[choice]
            if not _installed(module):
                extra = EXTRAS.get(choice, "launchers")
                raise BadInput(f"{key}={choice} needs the {package} plugin, which is not "
                               f"installed; install the {extra} extra: "
                               + LAUNCHERS_EXTRA.replace("launchers", extra))

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
                elif there in RENAMED:
                    raise BadInput(f"{o.input_line}: {there} is now {RENAMED[there]}; write "
                                   f"{RENAMED[there]}={o.input_line.split('=', 1)[-1]}")
                else:
                    raise BadInput(f"{o.input_line}: {there} is not a key of "
                                   f"{self.describe(here)}; valid keys: {_keys(node, depth)}"
                                   + _hint(there))
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

        options = self.loader.get_group_options(group)
        for option in options if key else ():
            try:
                node = yaml.safe_load((configs.conf_dir() / group / f"{option}.yaml").read_text()) or {}
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
            if isinstance(o.value(), str) and "${" in o.value():
                continue
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
        # An interpolation (seed=${hydra:job.num}) resolves only inside its job; the job's
        # own build checks it there.
        later = {o.key_or_group for o in job if isinstance(o.value(), str) and "${" in o.value()}
        check_config(self.task, cfg, self.multirun, later, {o.key_or_group for o in job})


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
