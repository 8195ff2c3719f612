"""Files replaced atomically: written to a temporary file beside them, then renamed.

A reader never sees half a file, and a write cut short (a signal, a full disk) leaves the
previous version in place and no temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable


def replace(path: str | Path, write: Callable[[IO], None], binary: bool = False) -> Path:
    """Call write(file) on a temporary file in path's folder, flush it to disk, then rename
    it over path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
