"""Benchmark data: generate once per (size, seed) and cache outside git.

The folder comes from the project's own generator, ``screening sample --format parquet``, run
as a subprocess so that its time and peak memory are measured like any other stage. Where
that command is not available (an older checkout), the small vectorised builder of
:mod:`benchmarks.synth` is used instead and the results say so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.rss import Measurement, measure, run_measured_subprocess
from data_contracts import TABLES
from data_contracts.errors import DataError

REQUIRED = ("enterprises.parquet", "patents.parquet")
# The date the data is generated "as of" (the generator's own default): no fact is later.
DATA_AS_OF = "2026-09-30"
MARKER = ".bench.json"


@dataclass(frozen=True)
class BenchData:
    """A data folder ready for the benchmark.

    Attributes
    ----------
    path : Path
        The folder (``<cache>/<size>-<seed>``).
    generator : str
        ``screening sample`` or ``benchmarks.synth``.
    as_of : str
        The date the folder was generated as of (ISO); the benchmark screens at it.
    cached : bool
        ``True`` when the folder was already there (``generation`` is then ``None``).
    generation : Measurement | None
        Time and peak memory of generating it.
    rows : dict[str, int]
        Rows per table file present.
    """

    path: Path
    generator: str
    as_of: str
    cached: bool
    generation: Measurement | None
    rows: dict[str, int]


def table_rows(path: Path) -> dict[str, int]:
    """Rows of each ``<table>.parquet`` in ``path`` (from the parquet footers, no data read)."""
    rows = {}
    for table in TABLES:
        file = path / f"{table}.parquet"
        if file.is_file():
            rows[table] = pq.ParquetFile(file).metadata.num_rows
    return rows


def _complete(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in REQUIRED)


def _screening_exe() -> list[str]:
    exe = Path(sys.executable).with_name("screening")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "screening.cli"]


def _sample_command_available() -> bool:
    proc = subprocess.run(
        [*_screening_exe(), "sample", "--help"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and "--firms" in proc.stdout


def ensure_data(
    size: int,
    seed: int,
    cache_dir: Path,
    *,
    generator: str = "auto",
    as_of: str = DATA_AS_OF,
    refresh: bool = False,
    max_rss_mb: float | None = None,
) -> BenchData:
    """Return the cached folder for ``(size, seed)``, generating it first when missing.

    Parameters
    ----------
    size : int
        Number of firms (>= 2).
    seed : int
        Generator seed.
    cache_dir : Path
        Where folders are kept (``benchmarks/.cache``, git-ignored).
    generator : {"auto", "screening", "synth"}
        ``auto`` uses ``screening sample`` when the command exists, else the synth builder.
    as_of : str
        Date the data is generated as of (nothing later is written).
    refresh : bool
        Regenerate even when cached.
    max_rss_mb : float, optional
        Memory guard for the generator subprocess (killed above it).

    The generator's ground-truth file (``screening sample`` writes ``DIR.truth.csv`` beside
    the folder) is kept as ``<cache>/<size>-<seed>.truth.csv``.
    """
    if not isinstance(size, int) or size < 2:
        raise ValueError(f"The 'size' parameter must be an int >= 2. Got {size!r} instead.")
    if generator not in ("auto", "screening", "synth"):
        raise ValueError(
            "The 'generator' parameter must be one of 'auto', 'screening', 'synth'. "
            f"Got {generator!r} instead."
        )
    target = Path(cache_dir) / f"{size}-{seed}"
    marker = target / MARKER
    if _complete(target) and marker.is_file() and not refresh:
        info = json.loads(marker.read_text())
        if info.get("as_of") == as_of:
            return BenchData(target, info["generator"], as_of, True, None, table_rows(target))

    use_cli = generator == "screening" or (generator == "auto" and _sample_command_available())
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        if use_cli:
            used = "screening sample"
            cmd = [*_screening_exe(), "sample", "--firms", str(size), "--seed", str(seed)]
            cmd += ["--out", str(tmp / "data"), "--format", "parquet", "--as-of", as_of]
            meas, proc = run_measured_subprocess(cmd, max_rss_mb=max_rss_mb)
            if meas.method == "killed by memory guard":
                raise DataError(
                    f"`screening sample` for {size:,} firms went over the memory guard "
                    f"({max_rss_mb / 1024:.1f} GB) and was stopped",
                    "Generate a smaller --size, or raise --max-rss-gb on a machine with more "
                    "free memory.",
                )
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                raise DataError(
                    f"`screening sample` failed for {size} firms: {' / '.join(tail)}",
                    "Fix the generator or rerun with --generator synth.",
                )
            produced = tmp / "data"
        else:
            from benchmarks.synth import write_data_dir

            used = "benchmarks.synth"
            with measure() as meas:
                produced = write_data_dir(tmp / "data", size, seed, data_date=as_of)
        if not _complete(produced):
            raise DataError(
                f"{used} wrote no {' / '.join(REQUIRED)} into {produced}",
                "Check that the generator supports --format parquet.",
            )
        (produced / MARKER).write_text(json.dumps({"generator": used, "as_of": as_of}) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(produced, target)
        truth = tmp / "data.truth.csv"
        if truth.is_file():
            os.replace(truth, target.parent / f"{target.name}.truth.csv")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = table_rows(target)
    meas.rows = sum(rows.values())
    return BenchData(target, used, as_of, False, meas, rows)
