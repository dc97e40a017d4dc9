"""The DuckDB reference and the naive baseline are two independent implementations of the 32
indicators: each is the other's oracle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.naive_baseline import load_tables, naive_indicators, sample_firms
from benchmarks.reference_duckdb import INDICATORS, reference_indicators
from benchmarks.synth import write_data_dir
from data_contracts.errors import DataError


@pytest.mark.parametrize("as_of", ["2026-06-30", "2021-02-28", "2012-07-01"])
def test_reference_matches_naive(tiny_dir: Path, as_of: str) -> None:
    ref = reference_indicators(tiny_dir, as_of)
    naive = naive_indicators(load_tables(tiny_dir), as_of)
    pd.testing.assert_frame_equal(ref, naive, check_exact=False, rtol=1e-9, atol=1e-12)


def test_reference_shape_and_ranges(tiny_dir: Path) -> None:
    ref = reference_indicators(tiny_dir, "2026-06-30")
    firms = pq.read_table(tiny_dir / "enterprises.parquet").column("uscc").to_pylist()
    assert list(ref.columns) == list(INDICATORS)
    assert len(INDICATORS) == 32
    assert sorted(firms) == ref.index.tolist()
    shares = [c for c in INDICATORS if c.endswith(("_share", "_rate", "_ratio", "concentration"))]
    assert ((ref[shares] >= 0) & (ref[shares] <= 1) | ref[shares].isna()).all().all()
    assert ref["valid_invention_count"].sum() > 0
    assert ref["filing_continuity_years"].between(0, 5).all()


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shift_days=st.integers(min_value=1, max_value=4000),
    code=st.sampled_from(["CF01", "AV01", "IW01", "PE01", "PP01", "TR01", "EE01", "RJ01"]),
)
def test_future_events_change_nothing(
    tiny_dir: Path, tmp_path_factory, shift_days: int, code: str
) -> None:
    """Point in time: events announced after as_of never change an indicator."""
    as_of = pd.Timestamp("2020-01-01")
    work = tmp_path_factory.mktemp("pit") / "d"
    shutil.copytree(tiny_dir, work)
    events = pq.read_table(work / "patent_events.parquet")
    apps = pq.read_table(work / "patents.parquet").column("app_no").to_pylist()[:50]
    names = pq.read_table(work / "enterprises.parquet").column("name").to_pylist()
    future = pa.table(
        {
            "app_no": apps,
            "event_code": [code] * len(apps),
            "event_date": pa.array(
                [(as_of + pd.Timedelta(days=shift_days)).date()] * len(apps), pa.date32()
            ),
            "from_party": [names[0]] * len(apps),
            "to_party": [names[1]] * len(apps),
        }
    )
    pq.write_table(
        pa.concat_tables([events, future.cast(events.schema)]), work / "patent_events.parquet"
    )
    before = reference_indicators(tiny_dir, as_of.date())
    after = reference_indicators(work, as_of.date())
    pd.testing.assert_frame_equal(before, after)


def test_missing_patents_file_is_a_data_error(tmp_path: Path) -> None:
    write_data_dir(tmp_path / "d", 5, seed=1)
    (tmp_path / "d" / "patents.parquet").unlink()
    with pytest.raises(DataError, match=r"needs patents\.parquet, which is missing"):
        reference_indicators(tmp_path / "d", "2026-01-01")


def test_sample_firms_is_deterministic_and_scales() -> None:
    firms = [f"F{i:03d}" for i in range(100)]
    spec = sample_firms(list(reversed(firms)), 1 / 20)
    assert spec.firms == firms[::20]
    assert spec.factor == pytest.approx(20.0)
    with pytest.raises(ValueError, match=r"'fraction' parameter must be a number in \(0, 1\]"):
        sample_firms(firms, 0)
