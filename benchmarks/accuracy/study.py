"""Run the study's sweeps (conf/sweep/*.yaml) in one process, the way `jacnet train -m` would.

Each sweep file is a Hydra config whose `hydra.sweeper.params` is the grid; the same file
runs from the command line as

    jacnet train -m hydra.searchpath=[file://$PWD/benchmarks/accuracy/conf] +sweep=NAME

(one run directory per job, then `jacnet report`). Here every job is composed from the same
files (`hydra.searchpath` + `+sweep=NAME` + the job's overrides) and trained by the harness,
without the per-job output files. Rows go to `results/<sweep>.jsonl`, one per job, and a
rerun skips the jobs already there.
"""

from __future__ import annotations

import itertools
import json
import re
import statistics
from pathlib import Path
from typing import Any, Collection

from omegaconf import OmegaConf

from jacnet_cli.plots.tables import markdown_table

HERE = Path(__file__).resolve().parent
CONF = HERE / "conf"
SEARCHPATH = f"hydra.searchpath=[file://{CONF}]"


def sweep_names() -> list[str]:
    return sorted(p.stem for p in (CONF / "sweep").glob("*.yaml"))


def _values(spec: Any) -> list[str]:
    """A sweeper value: "a,b,c" or "range(n)" / "range(a,b)" -> its strings."""
    spec = str(spec).strip()
    m = re.fullmatch(r"range\((\d+)(?:,\s*(\d+))?\)", spec)
    if m:
        lo, hi = (0, int(m[1])) if m[2] is None else (int(m[1]), int(m[2]))
        return [str(i) for i in range(lo, hi)]
    return [v.strip() for v in spec.split(",")]


def grid(name: str) -> list[dict[str, str]]:
    """The jobs of a sweep: one {key: value} dict per combination, in Hydra's order."""
    params = OmegaConf.load(CONF / "sweep" / f"{name}.yaml")["hydra"]["sweeper"]["params"]
    keys = list(params)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(_values(params[k])
                                                                     for k in keys))]


def overrides(name: str, job: dict[str, str]) -> list[str]:
    return [SEARCHPATH, f"+sweep={name}", *(f"{k}={v}" for k, v in job.items())]


def _key(job: dict[str, str]) -> str:
    return json.dumps(job, sort_keys=True)


def _wanted(job: dict[str, str], seeds: Collection[int] | None,
            targets: Collection[str] | None) -> bool:
    """Whether a job is among the chosen seeds and targets (None: all)."""
    if seeds is not None and "seed" in job and int(job["seed"]) not in seeds:
        return False
    return targets is None or "+task" not in job or job["+task"] in targets


def run(name: str, results: Path, measure: bool = False, seeds: Collection[int] | None = None,
        targets: Collection[str] | None = None, log=print) -> Path:
    """Run every job of sweep `name` (on `seeds` and `targets` only, when given) not yet in
    results/<name>.jsonl; return that path."""
    from benchmarks.accuracy.harness import run_jacnet

    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.jsonl"
    done = {_key(r["job"]) for r in load(results, name)}
    jobs = [j for j in grid(name) if _key(j) not in done and _wanted(j, seeds, targets)]
    log(f"[study] {name}: {len(jobs)} jobs to run ({len(done)} done)")
    with open(path, "a") as f:
        for i, job in enumerate(jobs):
            task = job.get("+task", "")
            row = {"job": job, **run_jacnet(task, int(job.get("seed", 0)), measure=measure,
                                            overrides=overrides(name, job))}
            f.write(json.dumps(row) + "\n")
            f.flush()
            if (i + 1) % 100 == 0:
                log(f"[study] {name}: {i + 1}/{len(jobs)}")
    return path


def load(results: Path, name: str) -> list[dict[str, Any]]:
    path = results / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summarise(rows: list[dict[str, Any]], metric: str = "test_mae",
              over: str = "seed") -> list[dict[str, Any]]:
    """Median, mean and max of `metric` over `over` (the seeds) per remaining job keys."""
    groups: dict[tuple, list[float]] = {}
    keys: list[str] = []
    for r in rows:
        k = tuple((a, b) for a, b in r["job"].items() if a != over)
        keys = [a for a, _ in k]
        groups.setdefault(k, []).append(r[metric])
    out = []
    for k, vals in groups.items():
        out.append({**dict(k), "n": len(vals), "median": statistics.median(vals),
                    "mean": statistics.fmean(vals), "max": max(vals)})
    return out


def table(results: Path, name: str) -> str:
    """The sweep's Markdown table: rows = settings, median / mean test MAE per task."""
    summary = summarise(load(results, name))
    tasks = sorted({s.get("+task", "") for s in summary}, key=lambda t: (t not in ("exp", "abs"), t))
    settings: dict[tuple, dict[str, dict]] = {}
    for s in summary:
        k = tuple((a, b) for a, b in s.items()
                  if a not in ("+task", "n", "median", "mean", "max"))
        settings.setdefault(k, {})[s.get("+task", "")] = s
    cols = [a for a, _ in next(iter(settings))] if settings else []
    header = [c.lstrip("+") for c in cols] + [f"{t} {m}" for t in tasks
                                              for m in ("median", "mean")]
    rows = []
    for k, by_task in settings.items():
        cells = [b for _, b in k]
        for t in tasks:
            s = by_task.get(t)
            cells += [f"{s['median']:.3f}", f"{s['mean']:.3f}"] if s else ["", ""]
        rows.append(cells)
    return markdown_table(header, rows)
