"""Atomic file writes for every command: a temporary sibling, then ``os.replace``.

A reader never sees a half-written file, and a failed write leaves the previous file (or
none) in place. Folders are made atomic the same way by their owners (build in a temporary
sibling folder, then rename).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_via(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` on a temporary sibling of ``path``, then rename it into place.

    Parameters
    ----------
    path : path-like
        The final file. Its folder is created when missing.
    write : callable
        Writes the whole file to the path it is given (e.g. ``frame.to_parquet``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp creates 0600; outputs are shared files, so honour the umask like open() does.
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: str | os.PathLike, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text is encoded with ``encoding``) atomically to ``path``."""
    raw = data.encode(encoding) if isinstance(data, str) else data
    return write_via(path, lambda p: p.write_bytes(raw))
