"""DuckDB connections of the features layer: a bounded buffer pool and a private spill folder.

DuckDB's default memory limit is 80% of the machine's RAM, and an in-memory database with no
``temp_directory`` cannot spill (or spills into ``.tmp`` under the current directory). Every
connection here gets a fresh folder under ``tempfile.gettempdir()``, removed on close, and the
caller's ``memory_limit`` (``None`` = DuckDB's default).
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import duckdb

from data_contracts.errors import DataError


class DuckConnection:
    """A DuckDB in-memory connection that owns its spill folder.

    Parameters
    ----------
    memory_limit : str or None
        DuckDB ``memory_limit`` (e.g. ``'4GB'``, ``'500MB'``); ``None`` keeps DuckDB's default.
    threads : int or None
        DuckDB threads (``None`` = all cores).

    Raises
    ------
    DataError
        If ``memory_limit`` is not a DuckDB memory size.
    """

    def __init__(self, memory_limit: str | None = None, threads: int | None = None) -> None:
        check_memory_limit(memory_limit)
        self.spill_dir: str | None = tempfile.mkdtemp(prefix="features-duckdb-")
        # also removed when the connection is garbage-collected or the interpreter exits
        # without close() (a store dropped unclosed): no folder is left in the temp dir
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.spill_dir, True)
        config: dict[str, str | int | bool] = {
            "temp_directory": self.spill_dir,
            # results are ordered explicitly where order matters; this lets DuckDB stream
            "preserve_insertion_order": False,
        }
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = int(threads)
        try:
            self.con = duckdb.connect(config=config)
        except duckdb.Error as e:
            self._remove_spill()
            raise DataError(
                f"memory_limit={memory_limit!r} is not a DuckDB memory size ({e}).",
                "Give a size such as '4GB' or '500MB', or None for DuckDB's default.",
            ) from None

    def close(self) -> None:
        """Close the connection (frees its tables) and remove the spill folder; idempotent."""
        self.con.close()
        self._remove_spill()

    def _remove_spill(self) -> None:
        if self.spill_dir is not None:
            self._finalizer.detach()
            shutil.rmtree(self.spill_dir, ignore_errors=True)
            self.spill_dir = None


def check_memory_limit(memory_limit: object) -> None:
    """Raise ``DataError`` unless ``memory_limit`` is ``None`` or a non-empty string."""
    if memory_limit is not None and not (isinstance(memory_limit, str) and memory_limit.strip()):
        raise DataError(
            f"memory_limit must be a DuckDB memory size such as '4GB', or None. "
            f"Got {memory_limit!r} instead.",
            "Pass a string like '4GB' or '500MB', or leave it out for DuckDB's default.",
        )


@contextmanager
def duck(
    memory_limit: str | None = None, threads: int | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived :class:`DuckConnection`: closed and its spill folder removed on exit."""
    dc = DuckConnection(memory_limit, threads)
    try:
        yield dc.con
    finally:
        dc.close()


F = TypeVar("F", bound=Callable[..., Any])


def reports_out_of_memory(func: F) -> F:
    """Turn DuckDB's out-of-memory error inside ``func`` into a ``DataError`` that names the
    ``memory_limit`` keyword it was called with and the remedy."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except duckdb.OutOfMemoryException as e:
            limit = kwargs.get("memory_limit")
            cause = str(e).splitlines()[0]
            raise DataError(
                f"{func.__name__} ran out of DuckDB memory (memory_limit={limit!r}): {cause}",
                "Raise memory_limit (e.g. '2GB'; DuckDB spills to disk beyond it but needs "
                "some working memory), or free memory first (links.close() drops a feature "
                "store that is no longer needed).",
            ) from None

    return wrapper  # type: ignore[return-value]
