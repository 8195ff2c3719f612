"""Data too big for memory: a file read once into a binary cache, then streamed in blocks.

A large table (e.g. 10⁶ rows x 100 columns) is converted in one pass of bounded memory into a
row-major float64 cache file, while the same pass counts rows, rejects (or drops) rows with
NaN or inf, assigns each row to the test, validation or training split (seeded, by fixed
blocks of rows, so the split does not depend on how the file was read) and accumulates the
training split's means, variances and the data's bounding box. Training then reads blocks of
a few batches, shuffles the block order and the rows inside each block every epoch (seeded),
and evaluation reads the splits in chunks: memory stays at a few blocks whatever the file's
size.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from jacnet_cli.data.tables import (  # noqa: F401 - moved to tables (no torch), kept here
    column_names, npy_header, select_indices, table_bytes)

ASSIGN_ROWS = 65536  # rows per split-assignment block (fixed: the split is file-order stable)
SPLITS = {"train": 0, "val": 1, "test": 2}


def cache_dir() -> Path:
    """Where converted tables live: $JACNET_CACHE, else a folder in the system temp dir."""
    return Path(os.environ.get("JACNET_CACHE") or Path(tempfile.gettempdir()) / "jacnet-cache")


@dataclass
class Moments:
    """Running sums for means and variances per column (float64)."""

    n: int = 0
    total: np.ndarray | None = None
    squares: np.ndarray | None = None

    def add(self, block: np.ndarray) -> None:
        if block.shape[0] == 0:
            return
        s, q = block.sum(0), (block * block).sum(0)
        self.total = s if self.total is None else self.total + s
        self.squares = q if self.squares is None else self.squares + q
        self.n += block.shape[0]

    def mean(self) -> np.ndarray:
        return self.total / max(self.n, 1)

    def var(self) -> np.ndarray:
        m = self.mean()
        return np.maximum(self.squares / max(self.n, 1) - m * m, 0.0)


def _chunks(path: Path, names: list[str], rows: int, key: str, usecols: list[int],
            delimiter: str | None = None) -> Iterator[np.ndarray]:
    """The table's columns `usecols` in chunks (N, k), float64, any format, memory bounded
    by `rows` (a CSV reads only those columns; empty cells are NaN)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        from jacnet_cli.data.tables import csv_blocks

        yield from csv_blocks(path, key, delimiter, usecols, rows)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        wanted = [names[i] for i in usecols]
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=wanted):
            yield np.column_stack([batch.column(n).to_numpy().astype(np.float64)
                                   for n in wanted])
    else:  # .npz: arrays x and y, read member by member in chunks
        import zipfile

        with zipfile.ZipFile(path) as archive:
            handles, shapes = [], []
            for member in ("x.npy", "y.npy"):
                handle = archive.open(member)
                shape, order, dtype = npy_header(handle)
                if order or dtype.kind not in "biuf":
                    raise ValueError(f"{key}={str(path)!r}: array {member[0]!r} must be numeric "
                                     "and C-ordered")
                handles.append((handle, dtype, int(np.prod(shape[1:])) if len(shape) > 1 else 1))
                shapes.append(shape)
            total = shapes[0][0]
            for start in range(0, total, rows):
                n = min(rows, total - start)
                parts = [np.frombuffer(h.read(n * w * dt.itemsize), dtype=dt).astype(np.float64)
                         .reshape(n, w) for h, dt, w in handles]
                yield np.concatenate(parts, axis=1)[:, usecols]


@dataclass
class Stream:
    """A converted table: the cache file, its split labels and statistics.

    Attributes:
        path: the cache file (row-major float64, columns x then y).
        d_x, d_y: dimensions.
        labels: (R,) uint8 split of each row (0 train, 1 validation, 2 test).
        counts: rows per split.
        lo, hi: (d_x,) the bounding box of x over every row.
        x_mean, x_var, y_mean, y_var: training-split moments.
    """

    path: Path
    d_x: int
    d_y: int
    labels: Tensor
    counts: dict[str, int]
    lo: np.ndarray
    hi: np.ndarray
    x_mean: np.ndarray
    x_var: np.ndarray
    y_mean: np.ndarray
    y_var: np.ndarray
    dropped: int = 0  # rows dropped for a missing value, NaN or inf (drop_nonfinite)

    @property
    def width(self) -> int:
        return self.d_x + self.d_y

    def read(self, start: int, rows: int) -> np.ndarray:
        """Rows [start, start + rows) of the cache: (n, d_x + d_y)."""
        with open(self.path, "rb") as f:
            f.seek(start * self.width * 8)
            block = np.fromfile(f, dtype=np.float64, count=rows * self.width)
        return block.reshape(-1, self.width)

    def split(self, name: str, chunk: int = 65536) -> Iterator[tuple[Tensor, Tensor]]:
        """The rows of one split in chunks, (x (n, d_x), y (n, d_y)) float64."""
        code = SPLITS[name]
        total = self.labels.shape[0]
        for start in range(0, total, chunk):
            block = self.read(start, chunk)
            keep = (self.labels[start:start + block.shape[0]] == code).numpy()
            if keep.any():
                rows = torch.from_numpy(np.ascontiguousarray(block[keep]))
                yield rows[:, :self.d_x], rows[:, self.d_x:]

    def sample(self, name: str, rows: int) -> tuple[Tensor, Tensor]:
        """The first `rows` rows of a split (for plots, anchors, snapshots)."""
        xs, ys, got = [], [], 0
        for x, y in self.split(name, chunk=max(rows, 4096)):
            xs.append(x)
            ys.append(y)
            got += x.shape[0]
            if got >= rows:
                break
        if not xs:
            return torch.zeros(0, self.d_x, dtype=torch.float64), torch.zeros(0, self.d_y,
                                                                             dtype=torch.float64)
        return torch.cat(xs)[:rows], torch.cat(ys)[:rows]


def assign(rows: int, start: int, seed: int, test: float, val: float) -> np.ndarray:
    """Split labels of rows [start, start + rows), from fixed seeded blocks of ASSIGN_ROWS."""
    out = np.empty(rows, dtype=np.uint8)
    pos = 0
    while pos < rows:
        block, offset = divmod(start + pos, ASSIGN_ROWS)
        n = min(rows - pos, ASSIGN_ROWS - offset)
        g = torch.Generator().manual_seed(int(seed) * 1_000_003 + block)
        u = torch.rand(ASSIGN_ROWS, generator=g, dtype=torch.float64)[offset:offset + n].numpy()
        out[pos:pos + n] = np.where(u < test, 2, np.where(u < test + val, 1, 0))
        pos += n
    return out


def convert(path: str | Path, names: list[str], x_idx: list[int], y_idx: list[int],
            seed: int, test: float, val: float, drop_nonfinite: bool,
            chunk_rows: int = 65536, key: str = "data.path",
            delimiter: str | None = None) -> Stream:
    """Read the table once into the cache; count, split and measure it (bounded memory)."""
    path = Path(path)
    stat = path.stat()
    tag = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{x_idx}|{y_idx}|"
                       f"{drop_nonfinite}|{delimiter}".encode()).hexdigest()[:16]
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.stem}-{tag}.bin"
    partial = target.with_suffix(".partial")
    labels: list[np.ndarray] = []
    xm, ym = Moments(), Moments()
    lo = hi = None
    bad = first_bad = seen = 0
    rows = 0
    write = not target.is_file()
    with open(partial, "wb") if write else open(os.devnull, "wb") as out:
        for chosen in _chunks(path, names, chunk_rows, key, x_idx + y_idx, delimiter):
            finite = np.isfinite(chosen).all(1)
            seen += chosen.shape[0]
            if not finite.all():
                if bad == 0:
                    first_bad = seen - chosen.shape[0] + int(np.argmax(~finite))
                bad += int((~finite).sum())
                if not drop_nonfinite:
                    continue
                chosen = chosen[finite]
            if write:
                out.write(np.ascontiguousarray(chosen).tobytes())
            lab = assign(chosen.shape[0], rows, seed, test, val)
            labels.append(lab)
            x, y = chosen[:, :len(x_idx)], chosen[:, len(x_idx):]
            train = lab == 0
            xm.add(x[train])
            ym.add(y[train])
            blo, bhi = x.min(0) if x.shape[0] else None, x.max(0) if x.shape[0] else None
            if blo is not None:
                lo = blo if lo is None else np.minimum(lo, blo)
                hi = bhi if hi is None else np.maximum(hi, bhi)
            rows += chosen.shape[0]
    if bad and not drop_nonfinite:
        partial.unlink(missing_ok=True)
        from jacnet_cli.data.tables import locate

        where = locate(path, key, delimiter, [first_bad]).get(first_bad, f"row {first_bad + 1}")
        raise ValueError(f"{key}={str(path)!r}: {bad} row(s) hold a missing value, NaN or inf "
                         f"in the chosen columns (first: {where}); remove them or pass "
                         "data.drop_nonfinite=true")
    if write:
        os.replace(partial, target)
    label = torch.from_numpy(np.concatenate(labels) if labels else np.zeros(0, np.uint8))
    counts = {name: int((label == code).sum()) for name, code in SPLITS.items()}
    if lo is None:
        raise ValueError(f"{key}={str(path)!r} holds no data rows")
    return Stream(target, len(x_idx), len(y_idx), label, counts, lo, hi, xm.mean(), xm.var(),
                  ym.mean(), ym.var(), bad if drop_nonfinite else 0)


class StreamBatches:
    """Mini-batches of the training split read from a Stream, shuffled per epoch (seeded).

    Each epoch permutes the order of blocks of `block_batches` batches and the rows inside
    each block; batches are cut from that order, so memory holds one block. An epoch has
    ceil(training rows / batch_size) steps. `state_dict(step)` records the generator at the
    epoch's start; restoring replays the epoch's order up to the step (reading, not training).

    Args:
        stream: the converted table.
        batch_size: rows per step.
        seed: seeds the shuffling.
        transform: applied to each batch (x, y) (e.g. standardisation), or None.
        block_batches: batches per block.
    """

    def __init__(self, stream: Stream, batch_size: int, seed: int = 0,
                 transform: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None,
                 block_batches: int = 8, dtype: torch.dtype = torch.float64,
                 device: torch.device | str = "cpu"):
        self.stream, self.batch_size = stream, int(batch_size)
        self.full = False
        self.sampler = None
        self.transform = transform
        self.dtype, self.device = dtype, device
        self.block = self.batch_size * block_batches
        self.per_epoch = max(1, math.ceil(stream.counts["train"] / self.batch_size))
        self.generator = torch.Generator().manual_seed(int(seed))
        self._mark = self.generator.get_state()
        self._epoch = -1
        self._iter: Iterator[tuple[Tensor, Tensor]] | None = None

    def _epoch_batches(self) -> Iterator[tuple[Tensor, Tensor]]:
        total = self.stream.labels.shape[0]
        starts = torch.arange(0, total, self.block)
        order = starts[torch.randperm(starts.numel(), generator=self.generator)]
        carry_x: list[Tensor] = []
        carry_y: list[Tensor] = []
        held = 0
        for start in order.tolist():
            block = self.stream.read(start, self.block)
            keep = (self.stream.labels[start:start + block.shape[0]] == 0).numpy()
            rows = torch.from_numpy(np.ascontiguousarray(block[keep]))
            rows = rows[torch.randperm(rows.shape[0], generator=self.generator)]
            carry_x.append(rows[:, :self.stream.d_x])
            carry_y.append(rows[:, self.stream.d_x:])
            held += rows.shape[0]
            while held >= self.batch_size:
                x, y = torch.cat(carry_x), torch.cat(carry_y)
                yield x[:self.batch_size], y[:self.batch_size]
                carry_x, carry_y = [x[self.batch_size:]], [y[self.batch_size:]]
                held -= self.batch_size
        if held:
            yield torch.cat(carry_x), torch.cat(carry_y)

    def get(self, iteration: int) -> tuple[Tensor, Tensor]:
        epoch, pos = divmod(iteration, self.per_epoch)
        if epoch != self._epoch or self._iter is None:
            self._mark = self.generator.get_state()
            self._epoch = epoch
            self._iter = self._epoch_batches()
            self._pos = 0
        while self._pos < pos:  # only after a resume: skip to the step
            next(self._iter)
            self._pos += 1
        x, y = next(self._iter)
        self._pos += 1
        x, y = x.to(device=self.device, dtype=self.dtype), y.to(device=self.device, dtype=self.dtype)
        return self.transform(x, y) if self.transform is not None else (x, y)

    def state_dict(self, step: int) -> dict[str, Any]:
        epoch = step // self.per_epoch
        started = epoch == self._epoch
        return {"generator": (self._mark if started else self.generator.get_state()).clone()}

    def load_state_dict(self, state: dict[str, Any], step: int) -> None:
        self.generator.set_state(state["generator"])
        self._epoch, self._iter = -1, None


def chunked_loss(model: Callable[[Tensor], Tensor], stream: Stream, name: str,
                 loss: Callable[[Tensor, Tensor], Tensor],
                 transform: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None,
                 dtype: torch.dtype, device: torch.device | str = "cpu",
                 chunk: int = 65536) -> float:
    """The mean of a per-batch-mean loss over a split, weighting chunks by their rows."""
    total, n = 0.0, 0
    with torch.no_grad():
        for x, y in stream.split(name, chunk):
            x, y = x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)
            if transform is not None:
                x, y = transform(x, y)
            total += float(loss(model(x), y)) * x.shape[0]
            n += x.shape[0]
    return total / max(n, 1)


