"""Helpers every study shares: threads, timing, load averages, the machine, the timing lock."""

from __future__ import annotations

import contextlib
import tempfile
import fcntl
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run with torch.set_num_threads(n) (None: leave the default), then restore it."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call, by time.perf_counter."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


@dataclass
class Section:
    """Book-keeping for one section: wall time and load averages around it."""

    name: str
    start: float = 0.0
    load_start: list[float] | None = None

    def __enter__(self) -> "Section":
        self.start = time.perf_counter()
        self.load_start = loadavg()
        print(f"[bench] {self.name}: start (load {self.load_start})", flush=True)
        return self

    def __exit__(self, *exc) -> None:
        pass

    def meta(self) -> dict:
        seconds = time.perf_counter() - self.start
        print(f"[bench] {self.name}: done in {seconds:.1f}s (load {loadavg()})", flush=True)
        return {"seconds": round(seconds, 2), "load_start": self.load_start, "load_end": loadavg()}


def stall_probe(reps: int = 20) -> dict[str, float]:
    """Median time of a float64 tanh on 5120 elements (the 5 x 16 x 64 hidden activations of
    one GL16 training step) with the default threads and with one thread.

    Above ~2048 elements torch hands float64 tanh to a parallel (OpenMP) kernel; when another
    process holds the second core that region can stall for a scheduler slice (milliseconds),
    which is what dominates small-batch timings on a shared 2-core machine.
    """
    x = torch.randn(5120, dtype=torch.float64)
    out = {}
    for label, n in (("default_threads_us", None), ("one_thread_us", 1)):
        with threads(n):
            torch.tanh(x)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                torch.tanh(x)
                times.append(time.perf_counter() - t0)
        out[label] = round(statistics.median(times) * 1e6, 1)
    return out


def machine() -> dict[str, object]:
    """What ran the benchmark, from platform and torch."""
    import torchdiffeq

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchdiffeq": getattr(torchdiffeq, "__version__", "?"),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda": torch.cuda.is_available(),
        "parallel_backend": torch.__config__.parallel_info().splitlines()[-1].strip(),
    }


#: scratch space for caches, locks and quick outputs ($JACNET_BENCH_DIR, else a temp folder)
SCRATCH = Path(os.environ.get("JACNET_BENCH_DIR", Path(tempfile.gettempdir()) / "jacnet-bench"))
#: the exclusive lock every timing benchmark on a shared machine holds while it times
TIMING_LOCK = SCRATCH / "timing.lock"


@contextlib.contextmanager
def timing_lock(path: Path = TIMING_LOCK) -> Iterator[None]:
    """Hold an exclusive flock on `path` (a no-op where its folder does not exist), so two
    benchmarks never time at once."""
    if not path.parent.is_dir():
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
