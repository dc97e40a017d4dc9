"""The distribution ships exactly the four layered packages (style.md: generic names such as
``features`` and ``models`` must never pick up tests, notebooks or benchmarks)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_top_level_names(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("ip_whitelist-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"data_contracts", "features", "models", "screening"}
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "benchmarks/"))]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "screening = screening.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
