"""Wall time and peak resident memory of one stage of work.

Method (documented in ``benchmarks/README.md``):

* **Wall time**: ``time.perf_counter`` around the stage.
* **Peak RSS**: two independent readings, the larger one wins.

  1. The kernel's own high-water mark. At the start of a stage we reset it by writing ``5``
     to ``/proc/self/clear_refs`` (Linux >= 4.0), and at the end read ``VmHWM`` from
     ``/proc/self/status``. This catches spikes of any length, including ones inside
     DuckDB's or LightGBM's native threads.
  2. A daemon thread reading ``VmRSS`` every ``interval_s`` (20 ms by default). It is the
     fallback where the reset is not allowed, and a cross-check where it is.

  Both measure the whole process (all threads), not only Python objects. The sampler adds
  the private memory of child processes (``smaps_rollup``, read every
  :data:`CHILDREN_INTERVAL_S` seconds: the read is expensive), so forked package writers
  count without counting the pages they share with the parent twice. Memory that an
  earlier stage still holds counts towards a later stage's peak: that is what the machine
  must have, so it is what we report.
* **Subprocesses** (the sample generator) report their own peak through
  ``resource.getrusage(RUSAGE_CHILDREN)``; see :func:`run_measured_subprocess`.
"""

from __future__ import annotations

import resource
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _proc_kb(path: Path, *keys: str) -> int | None:
    """The sum of the ``kB`` fields ``keys`` of a /proc file such as ``status`` or
    ``smaps_rollup`` (``None`` where the file cannot be read or has none of them)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    found = [int(line.split()[1]) for line in text.splitlines() if line.split(":")[0] in keys]
    return sum(found) if found else None


def _status_kb(key: str) -> int | None:
    """One ``kB`` field of ``/proc/self/status`` (``None`` where /proc is absent)."""
    return _proc_kb(_STATUS, key)


def _child_pids() -> list[int]:
    """Direct children of this process (Linux ``/proc/self/task/*/children``)."""
    pids: list[int] = []
    for f in Path("/proc/self/task").glob("*/children"):
        try:
            pids.extend(int(p) for p in f.read_text().split())
        except OSError:
            continue
    return pids


def children_private_mb() -> float:
    """Memory the worker processes hold of their own (``Private_*`` of ``smaps_rollup``), MiB.

    Forked workers share the parent's pages until they write them; counting their full RSS
    would count the shared pages twice, so only what is private to each child is added.
    """
    rollups = (Path(f"/proc/{pid}/smaps_rollup") for pid in _child_pids())
    return sum(_proc_kb(f, "Private_Clean", "Private_Dirty") or 0 for f in rollups) / 1024


CHILDREN_INTERVAL_S = 5.0
"""How often the samplers read the children's private memory. ``smaps_rollup`` walks a
process's page tables under its memory-map lock: ~350 ms for a 12 GB package writer. Read
every 20 ms, it kept a core busy and stalled the writers' page faults, so that two writers
measured slower than one (the 1M export: 820 s instead of ~360 s unmeasured)."""
_children_cache: tuple[float, float] = (float("-inf"), 0.0)


def current_rss_mb(children_max_age_s: float = 0.0) -> float:
    """Resident memory of this process now plus the private memory of its child
    processes (the package writers), in MiB (0.0 where it cannot be read).

    ``children_max_age_s`` > 0 reuses a reading of the children up to that old (their own
    memory grows with the rows they write, slowly next to 20 ms sampling).
    """
    global _children_cache
    now = time.monotonic()
    taken, children = _children_cache
    if now - taken > children_max_age_s:
        children = children_private_mb()
        _children_cache = (now, children)
    return _own_rss_mb() + children


def _own_rss_mb() -> float:
    kb = _status_kb("VmRSS")
    if kb is None:
        try:
            import psutil  # optional: only where /proc is missing
        except ImportError:
            return 0.0
        return psutil.Process().memory_info().rss / 2**20
    return kb / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark of this process; ``True`` if it worked."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def kernel_peak_rss_mb() -> float | None:
    """``VmHWM`` (peak RSS since start or since the last reset), in MiB."""
    kb = _status_kb("VmHWM")
    return None if kb is None else kb / 1024


class RSSSampler:
    """Background thread recording the largest ``VmRSS`` seen while it runs.

    Parameters
    ----------
    interval_s : float, default 0.02
        Time between two readings. Must be in (0, 10].

    Attributes
    ----------
    peak_mb_ : float
        Largest resident size seen, in MiB (set by :meth:`stop`).
    samples_ : int
        How many readings were taken.
    """

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s

    def start(self) -> RSSSampler:
        """Begin sampling in a daemon thread; returns ``self``."""
        if not (isinstance(self.interval_s, int | float) and 0 < self.interval_s <= 10):
            raise ValueError(
                "The 'interval_s' parameter of RSSSampler must be a number in (0, 10]. "
                f"Got {self.interval_s!r} instead."
            )
        self._stop = threading.Event()
        self._peak = current_rss_mb()
        self._count = 1
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            rss = current_rss_mb(CHILDREN_INTERVAL_S)
            self._count += 1
            if rss > self._peak:
                self._peak = rss

    def stop(self) -> float:
        """Stop sampling, take a last reading and return the peak in MiB."""
        if not hasattr(self, "_thread"):
            raise RuntimeError("This RSSSampler was never started; call start() first.")
        self._stop.set()
        self._thread.join()
        self.peak_mb_ = max(self._peak, current_rss_mb())
        self.samples_ = self._count + 1
        return self.peak_mb_


@dataclass
class Measurement:
    """What one measured stage cost.

    Attributes
    ----------
    wall_s : float
        Elapsed seconds.
    peak_rss_mb : float
        Peak resident memory of the process during the stage, MiB.
    method : str
        ``hwm+sampler`` when the kernel high-water mark was reset and read, ``sampler``
        when only the sampling thread was available, ``child`` for a subprocess.
    rows : int | None
        Rows the stage processed (filled in by the caller).
    """

    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    method: str = ""
    rows: int | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float | None:
        """Throughput, ``None`` where rows are unknown or the stage took no time."""
        if self.rows is None or self.wall_s <= 0:
            return None
        return self.rows / self.wall_s


@contextmanager
def measure(interval_s: float = 0.02) -> Iterator[Measurement]:
    """Measure wall time and peak RSS of the ``with`` block.

    Examples
    --------
    >>> with measure() as m:
    ...     data = list(range(1000))
    >>> m.wall_s >= 0 and m.peak_rss_mb > 0
    True
    """
    result = Measurement()
    hwm_ok = reset_peak_rss()
    sampler = RSSSampler(interval_s).start()
    t0 = time.perf_counter()
    try:
        yield result
    finally:
        result.wall_s = time.perf_counter() - t0
        sampled = sampler.stop()
        hwm = kernel_peak_rss_mb() if hwm_ok else None
        result.peak_rss_mb = max(sampled, hwm or 0.0)
        result.method = "hwm+sampler" if hwm is not None else "sampler"


def _child_rss_mb(pid: int) -> float:
    return (_proc_kb(Path(f"/proc/{pid}/status"), "VmRSS") or 0) / 1024


def run_measured_subprocess(
    cmd: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    max_rss_mb: float | None = None,
) -> tuple[Measurement, subprocess.CompletedProcess[str]]:
    """Run ``cmd`` to completion and measure its wall time and peak RSS.

    The child's peak comes from ``getrusage(RUSAGE_CHILDREN).ru_maxrss``, which is the
    largest peak of any child waited for so far; we report it only when this child raised
    it, otherwise the earlier children's peak is an upper bound and we say so in ``method``.
    With ``max_rss_mb`` the child is polled every 100 ms and killed above it (return code
    -9, ``method`` = ``killed by memory guard``), so a generator cannot exhaust a shared
    machine either.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    killed = False
    with subprocess.Popen(
        list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        if max_rss_mb is not None:
            while child.poll() is None:
                if _child_rss_mb(child.pid) > max_rss_mb:
                    child.kill()
                    killed = True
                    break
                time.sleep(0.1)
        out, err = child.communicate()
    proc = subprocess.CompletedProcess(list(cmd), child.returncode, out, err)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss is in KiB on Linux.
    method = "child" if after > before else "child (upper bound)"
    if killed:
        method = "killed by memory guard"
    return Measurement(wall_s=wall, peak_rss_mb=after / 1024, method=method), proc


class MemoryGuard:
    """Stop a benchmark before it exhausts a shared machine's memory.

    A daemon thread reads ``VmRSS`` every ``interval_s``; the first time it exceeds
    ``limit_mb`` it calls ``on_exceed(rss_mb)`` once (which typically saves partial results
    and ends the process). The kernel's OOM killer would otherwise pick a process at
    random, possibly another user's, and leave no result behind.

    Parameters
    ----------
    limit_mb : float
        Resident-memory budget in MiB (> 0).
    on_exceed : callable
        Called from the guard thread with the resident size that crossed the budget.
    interval_s : float, default 0.1
    """

    def __init__(self, limit_mb: float, on_exceed, interval_s: float = 0.1) -> None:
        self.limit_mb = limit_mb
        self.on_exceed = on_exceed
        self.interval_s = interval_s

    def start(self) -> MemoryGuard:
        """Start watching; returns ``self``."""
        if not (isinstance(self.limit_mb, int | float) and self.limit_mb > 0):
            raise ValueError(
                "The 'limit_mb' parameter of MemoryGuard must be a positive number. "
                f"Got {self.limit_mb!r} instead."
            )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-guard", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            rss = current_rss_mb(CHILDREN_INTERVAL_S)
            if rss > self.limit_mb:
                self.on_exceed(rss)
                return

    def stop(self) -> None:
        """Stop watching."""
        if hasattr(self, "_stop"):
            self._stop.set()
            self._thread.join()
