"""The stage meter sees memory that a stage allocates and releases before it ends."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmarks.rss import RSSSampler, current_rss_mb, measure, run_measured_subprocess


def test_measure_catches_a_transient_allocation() -> None:
    with measure() as m:
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched so it is resident
        del block
    base = current_rss_mb()
    assert m.peak_rss_mb >= base + 150
    assert m.wall_s > 0
    assert m.method in ("hwm+sampler", "sampler")


def test_rows_per_second() -> None:
    with measure() as m:
        pass
    m.rows = 1000
    assert m.rows_per_s == pytest.approx(1000 / m.wall_s)
    m.rows = None
    assert m.rows_per_s is None


def test_sampler_rejects_bad_interval() -> None:
    with pytest.raises(ValueError, match=r"'interval_s' parameter of RSSSampler must be a number"):
        RSSSampler(0).start()
    with pytest.raises(RuntimeError, match="never started"):
        RSSSampler().stop()


def test_subprocess_peak_is_the_child_peak() -> None:
    code = "import numpy as np; a = np.ones(300 * 2**20 // 8); print(a.sum() > 0)"
    m, proc = run_measured_subprocess([sys.executable, "-c", code])
    assert proc.returncode == 0 and proc.stdout.strip() == "True"
    assert m.peak_rss_mb >= 300


def test_memory_guard_fires_once_above_its_budget() -> None:
    import threading

    from benchmarks.rss import MemoryGuard

    seen: list[float] = []
    fired = threading.Event()

    def on_exceed(rss: float) -> None:
        seen.append(rss)
        fired.set()

    guard = MemoryGuard(1.0, on_exceed, interval_s=0.01).start()  # 1 MiB: already exceeded
    assert fired.wait(5)
    guard.stop()
    assert len(seen) == 1 and seen[0] > 1.0
    with pytest.raises(ValueError, match=r"'limit_mb' parameter of MemoryGuard must be a positive"):
        MemoryGuard(0, on_exceed).start()


def test_subprocess_over_its_memory_guard_is_killed() -> None:
    code = "import numpy as np, time; a = np.ones(400 * 2**20 // 8); time.sleep(30)"
    m, proc = run_measured_subprocess([sys.executable, "-c", code], max_rss_mb=200)
    assert m.method == "killed by memory guard"
    assert proc.returncode != 0 and m.wall_s < 25


def test_child_private_memory_counts_towards_the_reading():
    """A worker process that allocates its own memory shows up in current_rss_mb."""
    import subprocess
    import sys
    import time

    from benchmarks.rss import children_private_mb, current_rss_mb

    before = children_private_mb()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; x = bytearray(150_000_000); "
            "sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        own = current_rss_mb() - children_private_mb()
        assert children_private_mb() - before > 120
        assert current_rss_mb() > own + 120
    finally:
        child.kill()
        child.wait()
    time.sleep(0.05)
    assert children_private_mb() < before + 50


def test_children_reading_is_reused_within_its_age(monkeypatch):
    """The samplers read the children's smaps_rollup (a page-table walk) at most every
    CHILDREN_INTERVAL_S; a reading of age 0 is always fresh."""
    from benchmarks import rss

    calls = []
    monkeypatch.setattr(rss, "children_private_mb", lambda: calls.append(1) or 100.0)
    monkeypatch.setattr(rss, "_children_cache", (float("-inf"), 0.0))
    own = rss._own_rss_mb()
    assert rss.current_rss_mb(60.0) >= own + 100.0 - 50  # first reading: taken
    rss.current_rss_mb(60.0)
    rss.current_rss_mb(60.0)
    assert len(calls) == 1  # reused within 60 s
    rss.current_rss_mb()
    rss.current_rss_mb()
    assert len(calls) == 3  # age 0: read every time
