"""Small synthetic parquet folders shared by the benchmark-harness tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.synth import write_data_dir


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 firms with every legal-event type, canonical parquet."""
    return write_data_dir(tmp_path_factory.mktemp("bench") / "tiny", 120, seed=3)
