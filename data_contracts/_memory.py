"""Give freed memory back to the operating system between chunks and tables.

Both allocators keep freed blocks for reuse: Arrow's pool (mimalloc or jemalloc) and glibc's
malloc (numpy arrays, Python objects). A reader that frees a gigabyte of raw rows and then
allocates the next table's would otherwise stay at its high-water mark, and the resident
size is what the machine's limit counts.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

import pyarrow as pa


def _glibc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None on other platforms and C libraries (musl has none)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _glibc_malloc_trim()


def release_memory() -> None:
    """Return the unused pages of the Arrow pool and of the C heap to the system."""
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
