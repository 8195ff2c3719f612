"""`jacnet report SWEEP_DIR`: one table, one CSV and one plot for a multirun sweep.

A job is any directory holding `.hydra/overrides.yaml`; its results are `metrics.json`.
Each job has the status its metrics.json gives (`completed`, `interrupted`, `failed`, with the
reason); a job without `metrics.json` (a bad value, a crash, or still running) is failed. Jobs
that did not complete are listed on their own with the reason or the end of their log, never
dropped without a word.
Only the standard library loads on import; PyYAML, rich and matplotlib load when used.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import statistics
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

DEFAULT_METRICS = ("test_mae", "test_rmse", "test_mse_db", "val_mse_db", "train_loss",
                   "wall_time_s", "nfe_per_iter")
# Yes/no results shown in the table after the numbers, when the jobs report them.
FLAGS = ("guarantee_held",)
SEED_KEY = "seed"
LOG_TAIL_LINES = 2
# A log line that says what went wrong; preferred over the log's last lines, which after a
# failure are often a launcher's sign-off (submitit logs into the job's train.log too).
ERROR_LINE = re.compile(r"\b(?:ERROR|CRITICAL)\b|Traceback|Error\b|Exception\b|error:")

EPILOG = """\
examples:
  jacnet report outputs/multirun/<day>/<time>-train
  jacnet report SWEEP --metric lipschitz_max --x model.hidden --group activation
  jacnet report SWEEP --metrics test_mae,wall_time_s --out reports/

Writes report.csv (every job, every override and metric, and a status column) and
report_<metric>_vs_<x>.png (median over the keys that are neither x nor group, usually the
seeds, with min..max bars) into SWEEP_DIR, or into --out.
"""


class ReportError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


@dataclass
class Job:
    """One run directory of a sweep: its overrides, its metrics and whether it finished."""

    dir: Path
    name: str
    overrides: dict[str, str]
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "completed"  # completed | interrupted | failed
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    @cached_property
    def config(self) -> dict[str, str]:
        """The composed config (`.hydra/config.yaml`), flattened to dotted keys."""
        path = self.dir / ".hydra" / "config.yaml"
        if not path.is_file():
            return {}
        import yaml

        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            return {}
        return _flatten(data) if isinstance(data, dict) else {}

    def value(self, key: str) -> str | None:
        """The job's value of a config key: its override, else its composed config."""
        if key in self.overrides:
            return self.overrides[key]
        return self.config.get(key)

    def log_tail(self, n: int = LOG_TAIL_LINES) -> list[str]:
        """The last n error lines of train.log (or another *.log / *.err in the job), else
        its last n non-empty lines."""
        logs = sorted(self.dir.glob("*.log"), key=lambda p: (p.name != "train.log", p.name))
        for path in [*logs, *sorted(self.dir.glob("*.err"))]:
            try:
                lines = [ln.rstrip() for ln in path.read_text(errors="replace").splitlines()]
            except OSError:
                continue
            lines = [ln for ln in lines if ln.strip()]
            errors = [ln for ln in lines if ERROR_LINE.search(ln)]
            if lines:
                return [f"{path.name}: {_clip(ln)}" for ln in (errors or lines)[-n:]]
        return []


# --------------------------------------------------------------------------- reading


def _flatten(data: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = _yaml_str(value)
    return out


def _yaml_str(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return str(value)


def _clip(line: str, width: int = 240) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def parse_overrides(items: list[str]) -> dict[str, str]:
    """Hydra's override strings ("model.hidden=16", "+foo=1") as key -> value strings."""
    out: dict[str, str] = {}
    for item in items:
        item = str(item)
        if "=" not in item or item.startswith("~"):
            continue  # deletions name no value
        key, value = item.split("=", 1)
        out[key.lstrip("+")] = value
    return out


def read_job(job_dir: Path, root: Path) -> Job:
    """Read one job directory; a missing or unreadable metrics.json makes it failed."""
    import yaml

    name = job_dir.relative_to(root).as_posix() if job_dir != root else job_dir.name
    try:
        items = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    except (OSError, yaml.YAMLError):
        items = []
    job = Job(job_dir, name, parse_overrides(items if isinstance(items, list) else []))
    path = job_dir / "metrics.json"
    if not path.is_file():
        job.status, job.reason = "failed", "no metrics.json (crashed, or still running)"
        return job
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        job.status, job.reason = "failed", f"metrics.json is unreadable ({exc})"
        return job
    if not isinstance(metrics, dict):
        job.status, job.reason = "failed", "metrics.json is not a JSON object"
        return job
    job.metrics = metrics
    status = metrics.get("status")
    if status in ("interrupted", "failed"):
        job.status = status
        job.reason = str(metrics.get("reason") or status)
    return job


def find_jobs(root: Path) -> list[Job]:
    """Every job under root (root itself may be a single run), in natural path order."""
    dirs = {p.parent.parent for p in root.rglob("overrides.yaml") if p.parent.name == ".hydra"}
    jobs = [read_job(d, root) for d in dirs]
    return sorted(jobs, key=lambda j: _natural_key(j.name))


# --------------------------------------------------------------------------- analysis


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _natural_key(text: Any) -> tuple:
    """Numbers numerically, before words; path parts one by one ('2' < '10' < 'a/1')."""
    parts = re.split(r"(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)", str(text))
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts) if p)


def swept_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose value differs between jobs, in the order they first appear."""
    keys: list[str] = []
    for job in jobs:
        keys += [k for k in job.overrides if k not in keys]
    return [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]


def is_numeric(jobs: list[Job], key: str) -> bool:
    values = [job.value(key) for job in jobs]
    values = [v for v in values if v is not None]
    return bool(values) and all(_number(v) is not None for v in values)


def guarantee_keys(jobs: list[Job]) -> list[str]:
    """The guarantee keys the jobs' structures state (each run lists its own in
    metrics.json's `guarantee_keys`), in the order they first appear."""
    keys: list[str] = []
    for job in jobs:
        listed = job.metrics.get("guarantee_keys")
        if isinstance(listed, str):
            keys += [k for k in listed.split(",") if k and k not in keys]
    return keys


def metric_names(jobs: list[Job]) -> list[str]:
    """Numeric metrics any job reports, the usual ones and the guarantees first."""
    seen: list[str] = []
    for job in jobs:
        seen += [k for k, v in job.metrics.items() if _number(v) is not None and k not in seen]
    first = [k for k in (*DEFAULT_METRICS, *guarantee_keys(jobs)) if k in seen]
    return first + sorted(k for k in seen if k not in first)


def default_x(jobs: list[Job], swept: list[str]) -> str | None:
    """The first swept numeric key that is not the seed, else any swept key, else None."""
    others = [k for k in swept if k != SEED_KEY]
    for key in others:
        if is_numeric(jobs, key):
            return key
    return others[0] if others else (SEED_KEY if SEED_KEY in swept else None)


def summarise(rows: list[dict[str, Any]], x_key: str, y_key: str,
              group_key: str | None = None) -> list[dict[str, Any]]:
    """Median, min, max and count of y_key for each (group, x), as the sweep plot shows them.

    Args:
        rows: one dict per job; rows without x_key or a finite numeric y_key are skipped.
        x_key, y_key, group_key: the parameter, the metric, and the key that splits lines.

    Returns:
        One dict per (group, x) in natural order, with keys group_key (when given), x_key,
        "median", "min", "max" and "n".
    """
    cells: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        y = _number(row.get(y_key))
        if row.get(x_key) is None or y is None or not math.isfinite(y):
            continue
        group = "" if group_key is None else str(row.get(group_key))
        cells.setdefault((group, str(row[x_key])), []).append(y)
    out = []
    for (group, x), ys in sorted(cells.items(),
                                 key=lambda kv: (_natural_key(kv[0][0]), _natural_key(kv[0][1]))):
        entry: dict[str, Any] = {group_key: group} if group_key is not None else {}
        entry.update({x_key: x, "median": statistics.median(ys), "min": min(ys), "max": max(ys),
                      "n": len(ys)})
        out.append(entry)
    return out


# --------------------------------------------------------------------------- output


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def job_row(job: Job, keys: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"job": job.name, "status": job.status}
    row.update({k: job.value(k) for k in keys})
    row.update(job.metrics)
    return row


def write_csv(path: Path, jobs: list[Job], keys: list[str]) -> Path:
    """Every job (failed ones too) with every override key, every metric and its status."""
    metrics: list[str] = []
    for job in jobs:
        metrics += [k for k in job.metrics if k not in metrics and k not in keys
                    and k not in ("job", "status", "reason")]
    columns = ["job", "status", *keys, *metrics, "reason"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for job in jobs:
            row = job_row(job, keys)
            row["reason"] = job.reason
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return path


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped or captured output: no 80-column squeeze of a wide table.
        console = Console(highlight=False, width=max(console.width, 200))
    return console


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jacnet report", description="Tabulate and plot the jobs of a "
                "`jacnet train -m` sweep (or a single run directory).", epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep_dir", metavar="SWEEP_DIR", type=Path,
                   help="a multirun sweep directory, e.g. outputs/multirun/<day>/<time>-train")
    p.add_argument("--metric", default=None,
                   help="metric to plot (default: test_mae)")
    p.add_argument("--x", dest="x", default=None, metavar="KEY",
                   help="config key on the plot's x-axis (default: the first swept numeric key)")
    p.add_argument("--group", default=None, metavar="KEY",
                   help="one plot line per value of this key (default: the next swept key "
                        "other than seed; 'none' for a single line)")
    p.add_argument("--metrics", default=None, metavar="A,B,C",
                   help="metrics shown in the table (default: %s, the guarantee checks and %s, "
                        "where present; report.csv always has all)"
                        % (", ".join(DEFAULT_METRICS), ", ".join(FLAGS)))
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where report.csv and the plot go (default: SWEEP_DIR)")
    p.add_argument("--no-plot", action="store_true", help="skip the plot")
    return p


def _check_key(option: str, key: str, jobs: list[Job], swept: list[str]) -> None:
    if any(key in job.overrides for job in jobs) or any(key in job.config for job in jobs):
        return
    keys = [*swept, *[k for job in jobs for k in job.overrides if k not in swept]]
    keys = list(dict.fromkeys(keys))
    raise ReportError(f"{option} {key!r} is not a key of these jobs; choose one of: "
                      f"{', '.join(keys) or '(no overrides)'}, or any dotted key of the jobs' "
                      ".hydra/config.yaml (e.g. model.depth)")


def _check_metric(option: str, name: str, allowed: list[str]) -> None:
    if name not in allowed:
        raise ReportError(f"{option} {name!r} is not a metric of these jobs; choose one of: "
                          f"{', '.join(allowed) or '(none: no job finished)'}")


def main(argv: list[str]) -> int:
    """Run `jacnet report`; returns the exit code (0, or 2 for a bad directory or option)."""
    args = _parser().parse_args(argv)
    try:
        return _report(args)
    except ReportError as exc:
        print(f"jacnet report: error: {exc}", file=sys.stderr)
        return 2


def _report(args: argparse.Namespace) -> int:
    root: Path = args.sweep_dir
    if not root.is_dir():
        raise ReportError(f"SWEEP_DIR {str(root)!r} does not exist" if not root.exists()
                          else f"SWEEP_DIR {str(root)!r} is not a directory")
    jobs = find_jobs(root)
    if not jobs:
        raise ReportError(f"no jobs under {str(root)!r} (no directory holds "
                          ".hydra/overrides.yaml); pass a sweep such as "
                          "outputs/multirun/<day>/<time>-train")
    done = [job for job in jobs if job.ok]
    swept = swept_keys(jobs)
    allowed = metric_names(done)

    # Check every option before writing anything.
    flags = [f for f in FLAGS if any(isinstance(job.metrics.get(f), bool) for job in done)]
    table_metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics \
        else [m for m in (*DEFAULT_METRICS, *guarantee_keys(done)) if m in allowed] + flags
    if args.metrics:
        for name in table_metrics:
            _check_metric("--metrics", name, allowed + flags)
    if args.metric is not None:
        _check_metric("--metric", args.metric, allowed)
    for option, key in (("--x", args.x), ("--group", args.group)):
        if key is not None and not (option == "--group" and key.lower() == "none"):
            _check_key(option, key, jobs, swept)

    x_key = args.x or default_x(done or jobs, swept)
    group_key = _group_key(args.group, swept, x_key)
    shown = list(dict.fromkeys([*swept, *(k for k in (x_key, group_key) if k)]))
    all_keys = list(dict.fromkeys([*shown, *(k for job in jobs for k in job.overrides)]))

    console = _console()
    _print_table(console, done, shown, table_metrics, root)
    _print_failed(console, jobs)
    out_dir: Path = args.out or root
    csv_path = write_csv(out_dir / "report.csv", jobs, all_keys)
    console.print(f"wrote {csv_path}", markup=False, soft_wrap=True)

    metric = args.metric or "test_mae"
    if args.no_plot:
        return 0
    if x_key is None:
        console.print("no plot: no key varies between the jobs (pass --x KEY to choose one)",
                      markup=False, soft_wrap=True)
        return 0
    if metric not in allowed:
        console.print(f"no plot: no finished job reports {metric!r} (pass --metric)",
                      markup=False, soft_wrap=True)
        return 0
    rows = [job_row(job, shown) for job in done]
    pooled = [k for k in swept if k not in (x_key, group_key)]
    _print_summary(console, summarise(rows, x_key, metric, group_key), x_key, metric, group_key,
                   pooled)
    from jacnet_cli.plots import draw as plots

    over = f" over {', '.join(pooled)}" if pooled else ""
    png = out_dir / f"report_{_safe_name(metric)}_vs_{_safe_name(x_key)}.png"
    try:
        plots.metric_vs_param(png, rows, x_key, metric, group_key=group_key,
                              title=f"{metric} vs {x_key} (median, min..max{over})")
    except ValueError as exc:
        console.print(f"no plot: {exc}", markup=False, soft_wrap=True)
        return 0
    console.print(f"wrote {png}", markup=False, soft_wrap=True)
    return 0


def _group_key(option: str | None, swept: list[str], x_key: str | None) -> str | None:
    if option is not None:
        return None if option.lower() == "none" else option
    rest = [k for k in swept if k not in (SEED_KEY, x_key)]
    return rest[0] if rest else None


def _print_table(console: Any, jobs: list[Job], keys: list[str], metrics: list[str],
                 root: Path) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table()
    table.add_column("job", no_wrap=True)
    for key in keys:
        table.add_column(key, no_wrap=True)
    for name in metrics:
        table.add_column(name, justify="right", no_wrap=True)
    for job in jobs:
        # Text, not str: override values such as [-3,3] must not be read as rich markup.
        table.add_row(Text(job.name), *(Text(_fmt(job.value(k))) for k in keys),
                      *(Text(_fmt(job.metrics.get(m))) for m in metrics))
    if jobs:
        console.print(f"{root}: {len(jobs)} finished job{'s' * (len(jobs) != 1)}", markup=False,
                      soft_wrap=True, style="bold")
        console.print(table)


def _print_failed(console: Any, jobs: list[Job]) -> None:
    failed = [job for job in jobs if not job.ok]
    if not failed:
        console.print(f"all {len(jobs)} jobs finished", markup=False)
        return
    console.print(f"{len(failed)} of {len(jobs)} jobs failed:", markup=False, style="bold red")
    for job in failed:
        overrides = " ".join(f"{k}={v}" for k, v in job.overrides.items()) or "(no overrides)"
        console.print(f"  {job.dir}  [{overrides}]: {job.reason}", markup=False, soft_wrap=True)
        tail = job.log_tail()
        # Under submitit a job's stderr (a traceback) is in the sweep's .submitit/<id>/.
        submitit = next((p / ".submitit" for p in job.dir.parents if (p / ".submitit").is_dir()),
                        None)
        if submitit is not None:
            tail.append(f"stdout and stderr of each job: {submitit}/*/*_log.*")
        for line in tail or ["(no log file)"]:
            console.print(f"      {line}", markup=False, soft_wrap=True)


def _print_summary(console: Any, summary: list[dict[str, Any]], x_key: str, metric: str,
                   group_key: str | None, pooled: list[str]) -> None:
    from rich.table import Table
    from rich.text import Text

    over = f" over {', '.join(pooled)}" if pooled else ""
    table = Table()
    keys = ([group_key] if group_key else []) + [x_key]
    for key in keys:
        table.add_column(key, no_wrap=True)
    for name in ("median", "min", "max", "n"):
        table.add_column(name, justify="right", no_wrap=True)
    for cell in summary:
        table.add_row(*(Text(cell[k]) for k in keys), _fmt(cell["median"]), _fmt(cell["min"]),
                      _fmt(cell["max"]), str(cell["n"]))
    console.print(f"{metric}: median [min..max]{over}", markup=False, soft_wrap=True,
                  style="bold")
    console.print(table)
    mixed = [k for k in pooled if k != SEED_KEY]
    if mixed:
        console.print(f"note: {', '.join(mixed)} also vary and are pooled into the median and "
                      f"bars; pass --group {mixed[0]} to separate them", markup=False,
                      soft_wrap=True)
