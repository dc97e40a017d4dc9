"""Package writers that fail or stall on purpose, for the export tests.

They stand in for ``write_bank_package`` (``monkeypatch.setattr(output, "write_bank_package",
...)``) and are module-level so they reach the writer processes: a writer is a fresh
interpreter that receives its writer function by reference, not a fork that would inherit a
monkeypatched module.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time

from data_contracts.errors import DataError
from screening.run import packages


def fail_on_second_bank(folder, *args, **kwargs):
    """Write every package but ``bank-b``'s, which fails like a full disk."""
    if folder.name == "bank-b":
        raise RuntimeError("disk full while writing the second bank")
    return packages.write_bank_package(folder, *args, **kwargs)


def refuse(folder, *args, **kwargs):
    """Fail with a data problem (cause and remedy) before writing anything."""
    raise DataError(f"{folder.name}: cannot write", "free some disk space")


def stall_after_workbook(folder, *args, **kwargs):
    """Write a package up to its workbook (written in the writer process whether a package
    is written whole or in parts), say ``WROTE <pid>`` on stdout and hang: the run can then
    be killed while a package writer is mid-way."""
    real = packages.write_workbook

    def slow(*a, **k):
        out = real(*a, **k)
        sys.stdout.write(f"WROTE {os.getpid()}\n")
        sys.stdout.flush()
        time.sleep(60)
        return out

    packages.write_workbook = slow
    try:
        return packages.write_bank_package(folder, *args, **kwargs)
    finally:
        packages.write_workbook = real


def killed(folder, *args, **kwargs):
    """Die as the kernel's out-of-memory killer ends a process: SIGKILL, no clean-up."""
    os.kill(os.getpid(), signal.SIGKILL)


def disk_full(folder, *args, **kwargs):
    """Fail as writing a package on a full disk does."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "whitelist.xlsx"))


def fail_second_bank_while_others_write(folder, *args, **kwargs):
    """``bank-b`` fails at once; every other package takes two minutes (a national one)."""
    if folder.name == "bank-b":
        raise RuntimeError("bank-b failed at once")
    time.sleep(120)
    return packages.write_bank_package(folder, *args, **kwargs)


def record_signal_mask(folder, *args, **kwargs):
    """Write the package, then note whether this writer holds SIGINT (``sigint_held`` in
    the package folder's parent: the run's own outputs must not list it)."""
    out = packages.write_bank_package(folder, *args, **kwargs)
    held = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    (folder.parent.parent.parent / f"sigint-{os.getpid()}").write_text(str(held))
    return out
