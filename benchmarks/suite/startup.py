"""Section 5: start-up wall time of the command line against a bare `import torch`.

Each command runs `reps` times, interleaved, as a fresh process; the median is reported.
`jacnet train iterations=1 plots=false` runs in a temporary directory (its outputs go there).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import median

BIN = Path(sys.executable).parent


def commands() -> dict[str, list[str]]:
    jacnet = str(BIN / "jacnet")
    return {
        "jacnet --help": [jacnet, "--help"],
        "jacnet train iterations=1 plots=false": [jacnet, "train", "iterations=1", "plots=false"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }


def run(reps: int) -> dict:
    cmds = commands()
    times: dict[str, list[float]] = {name: [] for name in cmds}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="jacnet-bench-") as tmp:
        for _ in range(reps):
            for name, cmd in cmds.items():
                start = time.perf_counter()
                proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
                times[name].append(time.perf_counter() - start)
                if proc.returncode != 0:
                    failures[name] = (proc.stderr or proc.stdout)[-500:]
    out = {"reps": reps, "rows": {name: {"median_s": median(t), "all_s": t}
                                  for name, t in times.items()}, "failures": failures}
    help_s = out["rows"]["jacnet --help"]["median_s"]
    torch_s = out["rows"]['python -c "import torch"']["median_s"]
    out["help_over_torch"] = help_s / torch_s
    out["target_met"] = help_s <= torch_s / 4 and "jacnet --help" not in failures
    for name, row in out["rows"].items():
        print(f"  {name:40s} {row['median_s']:.3f}s", flush=True)
    return out
