"""What real data folders hold besides clean tables: empty files, blank records, numbers with
stray commas or their unit, files appended in another encoding, files with the wrong name."""

from __future__ import annotations

import re

import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from data_contracts import read_data_dir, read_table
from data_contracts._parse import parse_float, parse_int
from data_contracts.errors import ContractViolation, DataError

from .conftest import TODAY

# --- a file of 0 bytes -------------------------------------------------------------------


@pytest.mark.parametrize("table", ["credit_records", "loans", "enterprises"])
def test_a_zero_byte_file_is_a_broken_export_for_every_table(folder, table) -> None:
    (folder / f"{table}.csv").write_bytes(b"")
    with pytest.raises(
        ContractViolation, match=rf"^{table}.csv is empty \(no header row\)$"
    ) as info:
        read_data_dir(folder, today=TODAY)
    if table != "enterprises":
        assert info.value.remedy == (
            f"export {table} again, or remove {table}.csv if the table is not supplied"
        )
    bundle = read_data_dir(folder, today=TODAY, errors="collect")
    assert bundle.stats[table].status == "failed"
    assert bundle.stats[table].error == f"{table}.csv is empty (no header row)"


def test_a_header_only_optional_file_is_a_valid_empty_table(folder) -> None:
    (folder / "credit_records.csv").write_text("统一社会信用代码,记录类型,列入日期\n")
    bundle = read_data_dir(folder, today=TODAY)
    assert bundle.stats["credit_records"].status == "ok"
    assert bundle.stats["credit_records"].rows == 0
    assert bundle.tables["credit_records"].empty


# --- thousands separators ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234,567.8", 1234567.8),
        ("1,234", 1234.0),
        ("-12,345.", -12345.0),
        ("１，２３４", 1234.0),  # full width
        (" 1 200 ", 1200.0),
        ("9601,9", None),
        ("12,34", None),
        ("1,2345", None),
        (",123", None),
        ("1,234,", None),
        ("1.234,5", None),
        ("1,234.5,6", None),
    ],
)
def test_commas_are_read_only_as_thousands_separators(text, value) -> None:
    vals, failures = parse_float(pa.chunked_array([[text]]))
    assert vals.to_pylist() == [value]
    assert bool(failures and failures[0].mask[0]) == (value is None)
    if value is not None and float(value).is_integer():
        ints, int_failures = parse_int(pa.chunked_array([[text]]))
        assert ints.to_pylist() == [int(value)] and not int_failures


def _oracle(text: str) -> float | None:
    """Row by row: a comma is allowed only between groups of three digits."""
    if "," in text:
        if not re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", text):
            return None
        text = text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


@given(st.lists(st.text("0123456789,.-", min_size=1, max_size=9), min_size=1, max_size=30))
def test_number_parsing_matches_a_row_by_row_oracle(texts) -> None:
    vals, failures = parse_float(pa.chunked_array([texts]))
    expected = [_oracle(t) for t in texts]
    assert vals.to_pylist() == expected
    bad = failures[0].mask.tolist() if failures else [False] * len(texts)
    assert bad == [v is None for v in expected]


def test_a_malformed_grouping_rejects_the_row(write, enterprises, tmp_path) -> None:
    frame = enterprises.assign(registered_capital=["9601,9", "1,234.5", "6500", "1", "2"])
    bundle = read_table(write("enterprises", frame, folder=tmp_path), "enterprises", today=TODAY)
    rej = bundle.rejects
    assert list(zip(rej["source_row"], rej["rule"], rej["value"], strict=True)) == [
        (1, "number_unparseable", "9601,9")
    ]
    assert bundle.tables["enterprises"]["registered_capital"].tolist() == [1234.5, 6500, 1, 2]


# --- blank records -----------------------------------------------------------------------


def test_lines_of_only_commas_or_whitespace_are_not_rows(folder, enterprises) -> None:
    lines = enterprises.to_csv(index=False).splitlines()
    width = len(enterprises.columns)
    blank = [
        "," * (width - 1),  # what Excel writes for an empty row
        "   ",
        " ," * (width - 1) + "\u3000",
        "," * (width + 3),  # wider than the header: would be a ragged line
    ]
    # a real reject after the blank records keeps its number among the records
    bad = lines[2].replace("9144030010001686XA", "9144030010001686XB")
    text = "\n".join([lines[0], lines[1], *blank, bad, *lines[3:], *blank[:1]]) + "\n"
    (folder / "enterprises.csv").write_text(text, encoding="utf-8")
    bundle = read_data_dir(folder, today=TODAY)
    stats = bundle.stats["enterprises"]
    assert (stats.rows, stats.accepted, stats.rejected, stats.blank_records) == (5, 4, 1, 5)
    assert bundle.rejects["source_row"].tolist() == [2]
    assert "required_missing" not in set(bundle.rejects["rule"])
    assert bundle.tables["enterprises"]["uscc"].notna().all()
    assert (
        "enterprises: 5 blank records in enterprises.csv (every cell empty, e.g. lines of only "
        "commas) skipped: not rows" in bundle.notes
    )
    assert bundle.to_json_dict()["tables"]["enterprises"]["blank_records"] == 5


def test_a_ragged_line_keeps_its_reject_among_blank_records(folder, patents) -> None:
    lines = patents.to_csv(index=False).splitlines()
    text = "\n".join([lines[0], ",,,", lines[1], "x,y", *lines[2:]]) + "\n"
    (folder / "patents.csv").write_text(text, encoding="utf-8")
    bundle = read_data_dir(folder, today=TODAY)
    stats = bundle.stats["patents"]
    assert (stats.rows, stats.rejected, stats.blank_records) == (len(patents) + 1, 1, 1)
    assert bundle.rejects[["source_row", "rule"]].values.tolist() == [[2, "column_count"]]


def test_xlsx_counts_blank_rows_between_records_only(tmp_path, patents) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["申请号", "申请日", "专利类型", "申请人"])
    ws.append([patents["app_no"][0], "2015-03-01", "发明", "甲"])
    ws.append([None, " ", None, None])
    ws.append([patents["app_no"][3], "2018-03-02", "发明", "甲"])
    ws.append([None, None, None, None])  # after the last record: formatting, not counted
    wb.save(tmp_path / "patents.xlsx")
    stats = read_table(tmp_path / "patents.xlsx", "patents", today=TODAY).stats["patents"]
    assert (stats.rows, stats.accepted, stats.blank_records) == (2, 2, 1)


# --- files appended in another encoding --------------------------------------------------


def test_gbk_rows_appended_to_utf8_are_reported_where_they_start(folder, enterprises) -> None:
    head = enterprises.iloc[:3].to_csv(index=False).encode("utf-8")
    tail = enterprises.iloc[3:].to_csv(index=False, header=False).encode("gbk")
    (folder / "enterprises.csv").write_bytes(head + tail)
    line = head.count(b"\n") + 1
    with pytest.raises(DataError) as info:
        read_data_dir(folder, today=TODAY)
    offset = len(head) + next(i for i, byte in enumerate(tail) if byte >= 0x80)
    assert info.value.cause == (
        f"enterprises.csv is neither UTF-8 nor GBK/GB18030 (undecodable bytes at offset "
        f"{offset}, line {line}: the file reads as UTF-8 up to there)"
    )
    assert f"check line {line} and after" in info.value.remedy


def test_a_gbk_file_with_a_bad_byte_is_reported_at_that_byte(tmp_path) -> None:
    path = tmp_path / "patents.csv"
    head = "申请号,申请日\n".encode("gbk")
    path.write_bytes(head + b"\xff\xfe\xff,2020-01-01\n")
    with pytest.raises(DataError, match=r"offset 14, line 2: the file reads as GB18030"):
        read_table(path, "patents")


def test_a_bad_byte_after_a_bom_is_counted_from_the_start_of_the_file(tmp_path) -> None:
    path = tmp_path / "patents.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "申请号,申请日\n".encode() + b"\xff,2020-01-01\n")
    with pytest.raises(DataError, match=r"offset 23, line 2: the file reads as UTF-8"):
        read_table(path, "patents")


# --- a unit repeated in a number cell ----------------------------------------------------


def test_a_suffix_repeating_the_columns_unit_is_dropped_with_a_warning(
    write, enterprises, tmp_path
) -> None:
    frame = enterprises.assign(
        registered_capital=["14191.6万元", "1048.6 万", "1,234万", "1.2亿元", "5"],
        employees=["731人", "12", "300000", "100000", "8万人"],
    )
    bundle = read_table(write("enterprises", frame, folder=tmp_path), "enterprises", today=TODAY)
    out = bundle.tables["enterprises"]
    assert out["registered_capital"].tolist() == [14191.6, 1048.6, 1234.0]
    assert out["employees"].tolist() == [731, 12, 300000]
    rej = bundle.rejects
    assert list(zip(rej["source_row"], rej["column"], rej["value"], strict=True)) == [
        (4, "registered_capital", "1.2亿元"),  # another unit: not converted by a guess
        (5, "employees", "8万人"),
    ]
    assert set(rej["rule"]) == {"number_unparseable"}
    warn = bundle.warnings[bundle.warnings["rule"] == "unit_suffix_stripped"]
    assert list(zip(warn["source_row"], warn["column"], strict=True)) == [
        (1, "employees"),
        (1, "registered_capital"),
        (2, "registered_capital"),
        (3, "registered_capital"),
    ]
    assert warn["message"].iloc[1] == (
        "registered_capital '14191.6万元' read without its unit: the column is in 万元"
    )


def test_a_unit_suffix_in_a_column_without_that_unit_is_still_rejected(
    write, patents, tmp_path
) -> None:
    bundle = read_table(
        write("patents", patents.assign(claims=[f"{i}人" for i in range(8)]), folder=tmp_path),
        "patents",
        today=TODAY,
    )
    assert bundle.stats["patents"].accepted == 0
    assert set(bundle.rejects["rule"]) == {"number_unparseable"}


# --- files that are not a table ----------------------------------------------------------


def test_unrecognised_files_are_listed_and_lock_and_hidden_files_ignored(folder) -> None:
    for name in ("enterprises_old.csv", "readme.txt", "patents.xls"):
        (folder / name).write_text("x\n")
    for name in ("~$programmes.xlsx", ".DS_Store", "Thumbs.db"):
        (folder / name).write_bytes(b"\0")
    (folder / "old").mkdir()
    bundle = read_data_dir(folder, today=TODAY)
    assert bundle.unrecognised_files == ["enterprises_old.csv", "patents.xls", "readme.txt"]
    assert bundle.to_json_dict()["unrecognised_files"] == bundle.unrecognised_files
    assert (
        f"files not read in {folder.name} (not named after a table, or not .csv, .xlsx or "
        ".parquet): enterprises_old.csv, patents.xls, readme.txt" in bundle.notes
    )


def test_a_missing_required_table_points_at_a_file_that_looks_like_it(folder) -> None:
    (folder / "enterprises.csv").rename(folder / "enterprises (1).csv")
    with pytest.raises(DataError, match=r"^required table enterprises is missing") as info:
        read_data_dir(folder, today=TODAY)
    assert info.value.remedy == "found enterprises (1).csv: rename it to enterprises.csv"
    (folder / "enterprises (1).csv").rename(folder / "Enterprise.XLS")
    with pytest.raises(DataError) as info:
        read_data_dir(folder, today=TODAY)
    assert (
        info.value.remedy == "found Enterprise.XLS: save it as enterprises.csv, .xlsx or .parquet"
    )
    (folder / "Enterprise.XLS").unlink()
    with pytest.raises(DataError) as info:
        read_data_dir(folder, today=TODAY)
    assert info.value.remedy.startswith("export the enterprises table into")


def test_a_missing_optional_table_notes_a_file_that_looks_like_it(folder) -> None:
    (folder / "loans_2026q3.csv").write_text("x\n")
    bundle = read_data_dir(folder, today=TODAY)
    assert (
        "optional table loans missing: treated as empty (found loans_2026q3.csv: rename it "
        "to loans.csv)" in bundle.notes
    )


def test_several_lookalikes_are_all_named(folder) -> None:
    (folder / "patents.csv").rename(folder / "patents (1).csv")
    pd.DataFrame({"a": [1]}).to_csv(folder / "patents_old.csv", index=False)
    with pytest.raises(DataError) as info:
        read_data_dir(folder, today=TODAY)
    assert info.value.remedy == (
        "found patents (1).csv, patents_old.csv: rename the one holding the patents table to "
        "patents.csv, .xlsx or .parquet (by its type)"
    )


# --- invisible characters ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_invisible_characters_leave_names_and_lists(write, enterprises, patents, tmp_path, fmt):
    """A zero-width space, a bidi override, a NUL or a stray BOM inside a name is no part of
    it: they made two spellings of one firm differ (so a record missed its firm), broke CSV
    readers and let a name show backwards. Tab-free visible text is kept as written."""
    names = enterprises["name"].tolist()
    dirty = [
        names[0][:2] + "\u200b" + names[0][2:],
        "\u202e" + names[1],
        names[2] + "\x00",
        "\ufeff" + names[3],
        names[4],
    ]
    path = write("enterprises", enterprises.assign(name=dirty), fmt=fmt, folder=tmp_path / fmt)
    got = read_table(path, "enterprises", today=TODAY).tables["enterprises"]["name"].tolist()
    assert got == names
    applicants = patents["applicants"].astype(str).tolist()
    applicants[0] = "\u2060" + applicants[0].replace(";", "\u200d;")
    path = write("patents", patents.assign(applicants=applicants), fmt=fmt, folder=tmp_path / fmt)
    got = read_table(path, "patents", today=TODAY).tables["patents"]["applicants"]
    assert got.iloc[0] == patents["applicants"].astype(str).iloc[0]
