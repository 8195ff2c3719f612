"""What a sweep engine costs: `python -m benchmarks.sweep_costs [--repeats N]`.

For each launcher, the wall time of `jacnet train -m` on 1 and on 4 tiny jobs
(`experiment=debug plots=false`, one thread each), beside one plain run measured in the same
session: the start of a sweep is (1 job) - (one run), each further job ((4 jobs) - (1 job)) / 3.
Ray starts on this machine with 2 CPUs, every address on loopback. Launchers whose plugin is
not installed are skipped. Prints a Markdown table (medians over the repeats) and the raw
times; timings on a shared machine move with its load, which the table states.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

TINY = ["experiment=debug", "plots=false"]
ENGINES = {
    "grid, in this process": ([], None),
    "joblib (2 workers)": (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
                           "hydra_plugins.hydra_joblib_launcher"),
    "submitit_local": (["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"],
                       "hydra_plugins.hydra_submitit_launcher"),
    "ray, started here (2 CPUs)": (["hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2"],
                                   "hydra_plugins.hydra_ray_launcher"),
}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0",
       "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def seconds(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "jacnet_cli", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"jacnet {' '.join(args)} exited {proc.returncode}:\n"
                         f"{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    raw: dict[str, list[tuple[float, float, float]]] = {}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        for _ in range(args.repeats):
            for name, (extra, plugin) in ENGINES.items():
                if plugin is not None and find_spec(plugin) is None:
                    continue
                single = seconds(["train", *TINY, "overwrite=true",
                                  f"hydra.run.dir={cwd}/one"], cwd)
                one = seconds(["train", "-m", *extra, *TINY, "seed=0"], cwd)
                four = seconds(["train", "-m", *extra, *TINY, "seed=0,1,2,3"], cwd)
                raw.setdefault(name, []).append((single, one, four))
                loads.append(os.getloadavg()[0])
    print("| engine | one run | start of a sweep | each further job |\n|---|---|---|---|")
    for name, times in raw.items():
        single = statistics.median(t[0] for t in times)
        start = statistics.median(t[1] - t[0] for t in times)
        each = statistics.median((t[2] - t[1]) / 3 for t in times)
        print(f"| {name} | {single:.1f} s | {start:.1f} s | {each:.1f} s |")
    print(f"\nload average during the runs: {min(loads):.1f}-{max(loads):.1f} on "
          f"{os.cpu_count()} cores")
    for name, times in raw.items():
        print(f"{name}: " + "; ".join(f"run {a:.1f} s, 1 job {b:.1f} s, 4 jobs {c:.1f} s"
                                      for a, b, c in times))


if __name__ == "__main__":
    main()
