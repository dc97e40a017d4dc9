"""Bank package writers in processes of their own.

Writing a national workbook is pure Python (xlsxwriter, ~4 µs a cell), so banks are written
side by side in processes, not threads. Each writer is a fresh interpreter (``spawn``) that
reads only its bank's part of the package inputs from a spool file the run wrote for it.

Writers used to be forked from the run. A fork starts as a copy of the whole run (features,
scores, every bank's frames: ~4.8 GB at 1M firms) and every page it then touches —
reference counts, allocator headers, freed blocks it reuses — becomes its own: each writer
held 3.7–4.5 GB of private memory at 1M firms, whatever the run freed before forking. A
fresh interpreter holds its imports and its bank's rows; it also never inherits a lock held
by one of the run's native threads (DuckDB, OpenMP), which a fork of a threaded process can.
"""

from __future__ import annotations

import ctypes
import functools
import os
import pickle
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from screening.run.config import RunConfig
from screening.run.manifest import SigningKey
from screening.run.packages import PARTS, PackageInputs, template_env


@dataclass(frozen=True)
class BankJob:
    """How every bank's package of a run is written (picklable: it goes to each writer).

    ``writer`` is :func:`screening.run.packages.write_bank_package` (a module-level function,
    sent by reference).
    """

    folder: Path
    config: RunConfig
    max_rows: int
    key: SigningKey | None
    writer: Callable[..., int]

    def write(
        self,
        index: int,
        inputs: PackageInputs,
        env: jinja2.Environment | None = None,
        parts: tuple[str, ...] = PARTS,
    ) -> int:
        """Write bank ``index``'s package from ``inputs`` (all banks' or its own part); with
        ``parts`` only those files (``write_bank_package``)."""
        bank = self.config.banks[index]
        return self.writer(
            self.folder / bank.id,
            bank,
            inputs,
            env=env if env is not None else _env(),
            detail_limit=self.config.report.detail_limit,
            patents_per_firm=self.config.report.patents_per_firm,
            max_rows=self.max_rows,
            key=self.key,
            parts=parts,
        )


@functools.cache
def _env() -> jinja2.Environment:
    return template_env()


def spool(inputs: PackageInputs, path: Path) -> None:
    """Write one bank's package inputs for its writer (read back by :func:`write_spooled`)."""
    with path.open("wb") as fh:
        pickle.dump(inputs, fh, protocol=pickle.HIGHEST_PROTOCOL)


def write_spooled(job: BankJob, index: int, path: str, parts: tuple[str, ...] = PARTS) -> int:
    """Writer process: read bank ``index``'s inputs from ``path`` and write ``parts`` of its
    package (the run removes the spool file once every part of the bank is written)."""
    with open(path, "rb") as fh:
        inputs = pickle.load(fh)  # noqa: S301 - written by this run, in its own folder
    return job.write(index, inputs, parts=parts)


def die_with_parent(parent: int) -> None:
    """Initializer of the writers: on Linux the kernel kills a writer when the run that
    started it dies, so a killed run leaves no writer behind still filling its temporary
    folder (elsewhere a writer ends after its current package)."""
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return
    prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the run died before the signal was armed
        os._exit(1)
