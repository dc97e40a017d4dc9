"""Reading in row chunks gives exactly what reading the file in one piece gives.

The reader validates ``CHUNK_ROWS`` rows at a time and finds duplicates over the rows kept
from all chunks. With 7-row chunks every interesting case straddles a chunk border: exact and
conflicting copies far apart, rejects in several chunks, warnings on rows later dropped as
duplicates, a ragged CSV line, a conflicting key written differently (full-width) from its
typed value.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import data_contracts.reader as reader
from data_contracts import DataBundle, read_data_dir, read_table
from data_contracts._files import open_raw
from data_contracts.errors import DataError
from data_contracts.identifiers import make_app_no

from .conftest import REAL_USCCS, TODAY

AS_OF = TODAY.replace(year=2020)


def _patents() -> pd.DataFrame:
    rows = []
    for i in range(40):
        digit = (1, 2, 3)[i % 3]
        year = 2012 + i % 10
        rows.append(
            {
                "app_no": make_app_no(year, digit, 300_000 + i),
                "app_date": f"{year}-0{1 + i % 9}-1{i % 10}",
                "patent_type": {1: "发明", 2: "实用新型", 3: "外观设计"}[digit],
                "title": f"一种装置{i}",
                "claims": str(2 + i % 9),
                "applicants": f"企业{i % 6}",
                "owners": None if i % 11 == 3 else f"企业{i % 6}",
            }
        )
    frame = pd.DataFrame(rows)
    frame.loc[[2, 9, 23], "claims"] = "-3"  # negative_count, three chunks
    good = frame.loc[5, "app_no"]
    frame.loc[5, "app_no"] = good[:-1] + ("1" if good.endswith("0") else "0")  # app_no_check
    frame.loc[16, "app_date"] = "2019-13-01"  # date_unparseable
    tail = [
        frame.loc[[14]],  # exact copy of a row whose owners were defaulted (warning)
        frame.loc[[20]].assign(title="另一个名称"),  # conflict: same app_no, other title
        frame.loc[[25]].assign(claims="7", app_no="ＣＮ" + frame.loc[25, "app_no"][2:].lower()),
        frame.loc[[25]],  # exact copy of a row that is also in a conflict
    ]
    # Row 6's copy lands in the second 7-row chunk, the rest in the last ones.
    return pd.concat([frame.iloc[:8], frame.loc[[6]], frame.iloc[8:], *tail], ignore_index=True)


def _programmes() -> pd.DataFrame:
    codes = list(REAL_USCCS.values())
    rows = [
        {
            "uscc": codes[i % 5] if i % 4 else None,
            "name": f"企业{i % 5}",
            "programme": ("高新技术企业", "科技型中小企业", "专精特新")[i % 3],
            "valid_from": f"20{10 + i % 12}-0{1 + i % 8}-01",
            "valid_to": None if i % 3 else f"20{14 + i % 12}-12-31",
        }
        for i in range(30)
    ]
    frame = pd.DataFrame(rows)
    frame.loc[11, "uscc"] = "914403001922038217"  # bad check: uscc_check
    conflict = frame.loc[[4]].assign(valid_to="2030-01-01")
    return pd.concat([frame, frame.loc[[1, 8]], conflict], ignore_index=True)


def _credit_records() -> pd.DataFrame:
    codes = list(REAL_USCCS.values())
    rows = [
        {
            "uscc": codes[i % 5] if i % 6 else None,
            "name": f"企业{i % 5}",
            "record_type": ("经营异常", "行政处罚", "纳税信用等级")[i % 3],
            "start_date": f"20{15 + i % 9}-03-0{1 + i % 9}",
            "value": ("A", "B", "M")[i % 3] if i % 3 == 2 else None,
            "record_id": f"文书{i:03d}",
        }
        for i in range(30)
    ]
    frame = pd.DataFrame(rows)
    frame.loc[14, "value"] = "Z"  # not a tax rating
    other = frame.loc[[3]].assign(start_date="2024-01-01")  # same record id, other date
    return pd.concat([frame, frame.loc[[2]], other, frame.loc[[27]]], ignore_index=True)


def _write_csv(frame: pd.DataFrame, path: Path, ragged_after: int) -> None:
    """CSV with one ragged line (too many fields) inserted after data row ``ragged_after``."""
    lines = frame.to_csv(index=False).splitlines(keepends=True)
    lines.insert(ragged_after + 1, "x,y,z,1,2,3,4,5,6,7,8,9\n")
    path.write_text("".join(lines), encoding="utf-8")


def _write_enterprises(folder: Path) -> None:
    """The registry of the firms the other tables name (real USCCs), as CSV."""
    pd.DataFrame(
        {"uscc": list(REAL_USCCS.values()), "name": list(REAL_USCCS), "status": "存续"}
    ).assign(region_code="440300").to_csv(folder / "enterprises.csv", index=False)


def _write(frame: pd.DataFrame, folder: Path, table: str, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.{fmt}"
    if fmt == "csv":
        _write_csv(frame, path, ragged_after=12)
    elif fmt == "xlsx":
        frame.to_excel(path, index=False, engine="xlsxwriter")
    else:
        # Row groups of 5 rows: batches that never line up with the 7-row chunks.
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=5)
    return path


def _assert_same(a: DataBundle, b: DataBundle) -> None:
    assert a.tables.keys() == b.tables.keys()
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)
    pd.testing.assert_frame_equal(a.rejects, b.rejects, check_exact=True)
    pd.testing.assert_frame_equal(a.warnings, b.warnings, check_exact=True)
    assert a.stats == b.stats
    assert a.files == b.files
    assert a.notes == b.notes


def _read_both(monkeypatch: pytest.MonkeyPatch, read) -> tuple[DataBundle, DataBundle]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reader, "CHUNK_ROWS", 10**6)
    whole = read()
    monkeypatch.setattr(reader, "CHUNK_ROWS", 7)
    return whole, read()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_tiny_chunks_give_the_same_patents(tmp_path, monkeypatch, fmt) -> None:
    path = _write(_patents(), tmp_path, "patents", fmt)
    whole, chunked = _read_both(
        monkeypatch, lambda: read_table(path, "patents", as_of=AS_OF, today=TODAY)
    )
    _assert_same(whole, chunked)
    stats = chunked.stats["patents"]
    assert stats.duplicates == 3  # base rows 6 and 14 copied, and base row 25's second copy
    assert stats.by_rule["duplicate_conflict"] == 4  # two keys, two rows each
    assert stats.by_rule["negative_count"] == 3
    assert stats.rows == stats.accepted + stats.rejected + stats.duplicates
    if fmt == "csv":
        assert stats.by_rule["column_count"] == 1
    conflicts = chunked.rejects[chunked.rejects["rule"] == "duplicate_conflict"]
    # The conflicting copy written in full-width letters is quoted as written.
    assert conflicts["value"].str.startswith("ＣＮ").sum() == 1
    # owners is empty in base rows 3, 14, 25 and 36 (written at 3, 15, 26, 37; the ragged
    # CSV line shifts rows after the 12th). Row 14's copy is dropped and row 25 is in a
    # conflict: their warnings go with them.
    shift = 1 if fmt == "csv" else 0
    assert list(chunked.warnings["source_row"]) == [4, 16 + shift, 38 + shift]
    assert set(chunked.warnings["rule"]) == {"owners_defaulted"}


def test_tiny_chunks_give_the_same_folder(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "data"
    _write(_patents(), folder, "patents", "csv")
    _write(_programmes(), folder, "programmes", "csv")
    _write(_credit_records(), folder, "credit_records", "parquet")
    _write_enterprises(folder)
    whole, chunked = _read_both(
        monkeypatch,
        lambda: read_data_dir(folder, as_of=AS_OF, today=TODAY, errors="collect"),
    )
    _assert_same(whole, chunked)
    stats = chunked.stats["programmes"]
    assert stats.duplicates >= 1 and stats.by_rule.get("duplicate_conflict", 0) == 2
    # a credit record's conflicting copy replaces it: only the earlier copy is rejected
    stats = chunked.stats["credit_records"]
    assert stats.duplicates >= 1 and stats.by_rule.get("duplicate_superseded", 0) == 1
    assert "duplicate_conflict" not in stats.by_rule
    assert chunked.stats["programmes"].warnings_by_rule["valid_to_defaulted"] > 0


def test_chunks_number_rows_across_borders_and_bad_lines(tmp_path) -> None:
    frame = _patents()
    path = _write(frame, tmp_path, "patents", "csv")
    source = open_raw(path)
    chunks = list(source.chunks(7))
    assert [c.data.num_rows for c in chunks] == [7] * 6 + [len(frame) - 42]
    numbers = [int(n) for c in chunks for n in c.source_row]
    assert numbers == [n for n in range(1, len(frame) + 2) if n != 13]  # line 13 is ragged
    assert [b[0] for b in source.bad_lines] == [13]


def test_empty_parquet_gives_one_empty_chunk(tmp_path) -> None:
    path = _write(_patents().iloc[:0], tmp_path, "patents", "parquet")
    chunks = list(open_raw(path).chunks(7))
    assert len(chunks) == 1 and chunks[0].data.num_rows == 0
    bundle = read_table(path, "patents", today=TODAY)
    assert bundle.stats["patents"].rows == 0 and bundle.tables["patents"].empty


def test_reader_allocates_from_malloc_and_restores_the_pool(tmp_path, monkeypatch) -> None:
    seen = []
    check = reader._check_chunk

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(pa.default_memory_pool().backend_name)
        return check(*args, **kwargs)

    monkeypatch.setattr(reader, "_check_chunk", spy)
    before = pa.default_memory_pool().backend_name
    path = _write(_patents(), tmp_path, "patents", "parquet")
    assert read_table(path, "patents", today=TODAY).stats["patents"].accepted > 0
    assert seen == [pa.system_memory_pool().backend_name]
    assert pa.default_memory_pool().backend_name == before


def test_a_parquet_broken_after_its_first_chunk_is_a_data_error(tmp_path, monkeypatch) -> None:
    """Streaming meets the damage only after validating earlier rows: still a DataError."""
    monkeypatch.setattr(reader, "CHUNK_ROWS", 100)
    frame = pd.concat([_patents()] * 20, ignore_index=True)
    path = tmp_path / "patents.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=300)
    start = pq.ParquetFile(path).metadata.row_group(2).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[start + 20 : start + 200] = b"\xff" * 180
    path.write_bytes(bytes(data))
    pool = pa.default_memory_pool().backend_name
    with pytest.raises(DataError, match=r"patents.parquet is not a readable parquet file"):
        read_table(path, "patents", today=TODAY)
    assert pa.default_memory_pool().backend_name == pool


def test_kept_columns_change_only_the_frames(tmp_path, monkeypatch) -> None:
    """``columns=`` drops columns from the frames, never a rule, a reject or a count."""
    folder = tmp_path / "data"
    _write(_patents(), folder, "patents", "parquet")
    _write(_credit_records(), folder, "credit_records", "parquet")
    _write_enterprises(folder)
    monkeypatch.setattr(reader, "CHUNK_ROWS", 7)
    later = pd.Timestamp(AS_OF) - pd.Timedelta(days=3000)  # some rows dated after it
    full = read_data_dir(folder, as_of=later.date(), today=TODAY, errors="collect")
    keep = {"patents": ["app_no", "grant_date"], "programmes": ["uscc"]}
    slim = read_data_dir(folder, as_of=later.date(), today=TODAY, errors="collect", columns=keep)
    assert list(slim.tables["patents"].columns) == ["app_no", "grant_date"]
    pd.testing.assert_frame_equal(
        slim.tables["patents"], full.tables["patents"][["app_no", "grant_date"]]
    )
    assert list(slim.tables["programmes"].columns) == ["uscc"]  # missing table: empty frame
    pd.testing.assert_frame_equal(slim.tables["credit_records"], full.tables["credit_records"])
    pd.testing.assert_frame_equal(slim.rejects, full.rejects, check_exact=True)
    pd.testing.assert_frame_equal(slim.warnings, full.warnings, check_exact=True)
    assert slim.stats == full.stats and slim.notes == full.notes
    assert full.stats["patents"].after_as_of > 0  # counted from a column the frame lacks


def test_unknown_kept_column_is_a_caller_error(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"'colour'.*patents"):
        read_data_dir(tmp_path, columns={"patents": ["app_no", "colour"]})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_categorical_columns_change_only_the_dtypes(tmp_path, monkeypatch, fmt) -> None:
    """``categorical=`` holds text columns as categoricals: the same values (rows dropped as
    duplicates or conflicts included), rules, rejects and counts; other columns untouched."""
    folder = tmp_path / "data"
    _write(_patents(), folder, "patents", fmt)
    _write(_credit_records(), folder, "credit_records", fmt)
    _write_enterprises(folder)
    monkeypatch.setattr(reader, "CHUNK_ROWS", 7)
    cats = {
        "patents": ["applicants", "owners", "patent_type"],
        "credit_records": ["uscc", "record_type"],
        "programmes": ["programme"],  # a missing table: empty, with the dtype
    }
    full = read_data_dir(folder, today=TODAY, errors="collect")
    compact = read_data_dir(folder, today=TODAY, errors="collect", categorical=cats)
    for table, cols in cats.items():
        got, want = compact.tables[table], full.tables[table]
        assert list(got.columns) == list(want.columns)
        for col in got.columns:
            if col in cols:
                assert isinstance(got[col].dtype, pd.CategoricalDtype), (table, col)
                assert got[col].cat.categories.dtype == "str"
                pd.testing.assert_series_equal(got[col].astype("str"), want[col])
            else:
                pd.testing.assert_series_equal(got[col], want[col])
    assert len(compact.tables["patents"]) > 0
    assert compact.tables["patents"]["patent_type"].nunique() < len(compact.tables["patents"])
    pd.testing.assert_frame_equal(compact.rejects, full.rejects, check_exact=True)
    pd.testing.assert_frame_equal(compact.warnings, full.warnings, check_exact=True)
    assert compact.stats == full.stats and compact.notes == full.notes


def test_categorical_needs_known_text_columns(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"'categorical'.*'colour'.*patents"):
        read_data_dir(tmp_path, categorical={"patents": ["colour"]})
    with pytest.raises(ValueError, match=r"non-text column\(s\) \['app_date'\]"):
        read_data_dir(tmp_path, categorical={"patents": ["app_date"]})
