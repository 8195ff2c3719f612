"""Issue 27, points 6 and 8: how long the first commands take, against `import torch`.

    .venv/bin/python -m benchmarks.newcomer27.startup [--reps 5] [--before SRC]

Each command is a fresh process, timed wall-clock; the commands run interleaved (one of
each per repetition), so a slow moment of the shared machine hits them all alike, and each
figure is the median over the repetitions, reported as a ratio to the median of `python -c
"import torch"` measured in the same rounds. Two conditions, side by side: as the machine
is ("quiet": no load of ours; the load average is recorded, since other work shares it) and
busy (one busy-loop process per core started by this script). With --before SRC the same
commands also run on the code in SRC (`python -m jacnet_cli` with PYTHONPATH=SRC).

- point 8: `jacnet train plots=false` (the default 1-D run; target <= 1.5x) and `jacnet
  train` (plots on; <= 2.2x);
- point 6: a missing `data.path` and a bad column (targets <= 0.5x), a typo for reference.

Every timing holds /work/bench/timing.lock when that folder exists (other benchmarks share
the machine). Writes startup.json and startup.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PY = sys.executable

COMMANDS = {
    "import torch": ["-c", "import torch"],
    "train plots=false": ["-m", "jacnet_cli", "train", "plots=false"],
    "train (plots)": ["-m", "jacnet_cli", "train"],
    "missing data.path": ["-m", "jacnet_cli", "train", "data=file", "data.path=missing.csv",
                          "data.x=[a]", "data.y=[b]"],
    "bad column": ["-m", "jacnet_cli", "train", "data=file", "data.path=f.csv",
                   "data.x=[a]", "data.y=[nope]"],
    "typo (reference)": ["-m", "jacnet_cli", "train", "model.hiden=3"],
}
TARGETS = {"train plots=false": 1.5, "train (plots)": 2.2, "missing data.path": 0.5,
           "bad column": 0.5}


@contextmanager
def busy(cores: int) -> Iterator[None]:
    """One busy-loop process per core while the block runs."""
    procs = [subprocess.Popen([PY, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def lock() -> object:
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import timing_lock

    return timing_lock(Path("/work/bench/timing.lock"))


def measure(reps: int, before: Path | None, tmp: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    codes = [("after", None)] + ([("before", before)] if before else [])
    for rep in range(reps):
        for name, args in COMMANDS.items():
            for code, src in codes if name != "import torch" else [("", None)]:
                env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
                if src is not None:
                    env["PYTHONPATH"] = str(src)
                runs = len(list(tmp.iterdir()))
                extra = [f"hydra.run.dir={tmp / f'run-{runs}'}"] if name.startswith("train") else []
                start = time.perf_counter()
                proc = subprocess.run([PY, *args, *extra], cwd=tmp, env=env,
                                      capture_output=True, text=True)
                seconds = time.perf_counter() - start
                expect_ok = name == "import torch" or name.startswith("train")
                if (proc.returncode == 0) != expect_ok:
                    raise SystemExit(f"{code} {name}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
                times.setdefault(f"{code}: {name}".lstrip(": "), []).append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--before", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from jacnet_cli.plots.tables import markdown_table

    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp, lock():
        (Path(tmp) / "f.csv").write_text("a,b\n1,2\n2,3\n3,4\n4,5\n5,6\n")
        for condition in ("quiet", "busy"):
            load = os.getloadavg()[0]
            if condition == "busy":
                with busy(os.cpu_count() or 2):
                    times = measure(args.reps, args.before, Path(tmp))
            else:
                times = measure(args.reps, args.before, Path(tmp))
            results[condition] = {"load_average_before": load, "times": times}
    (HERE / "startup.json").write_text(json.dumps(results, indent=1) + "\n")
    rows = []
    for condition, got in results.items():
        base = statistics.median(got["times"]["import torch"])
        for name, values in got["times"].items():
            med = statistics.median(values)
            label = name.split(": ", 1)[-1]
            target = TARGETS.get(label)
            ratio = med / base
            verdict = "" if target is None or name.startswith("before") else \
                ("met" if ratio <= target else "missed")
            rows.append([condition, name, f"{med:.2f}", f"{ratio:.2f}",
                         f"<= {target}" if target else "", verdict])
    text = ["# Start-up and refusals against `import torch` (issue 27, points 6 and 8)", "",
            f"Medians of {args.reps} interleaved repetitions, fresh processes, wall-clock; "
            "ratio to `import torch` in the same rounds.",
            "Load average at the start of each condition: "
            + ", ".join(f"{c} {r['load_average_before']:.1f}" for c, r in results.items())
            + " (2 shared cores; busy adds one busy loop per core).",
            "Reproduce: `.venv/bin/python -m benchmarks.newcomer27.startup --before SRC`", "",
            markdown_table(["condition", "command", "median s", "/ import torch", "target",
                            ""], rows), ""]
    (HERE / "startup.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
