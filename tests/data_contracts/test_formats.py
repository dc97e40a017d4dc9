"""Every accepted file form gives the same validated table: encodings detected from the bytes,
XLSX, parquet, Chinese headers with full-width brackets, all date forms, both list separators."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import CONTRACTS, read_data_dir, read_table
from data_contracts._files import detect_encoding
from data_contracts.errors import DataError

from .conftest import TODAY, chinese


def _accepted(path: Path, table: str = "patents"):
    bundle = read_table(path, table, today=TODAY)
    return bundle, bundle.tables[table]


def _same_result(a, b, table: str = "patents") -> None:
    pd.testing.assert_frame_equal(a.tables[table], b.tables[table])
    assert a.stats[table] == b.stats[table]
    cols = ["source_row", "column", "value", "rule", "message"]
    pd.testing.assert_frame_equal(a.rejects[cols], b.rejects[cols])


@pytest.fixture
def messy_patents(patents: pd.DataFrame) -> pd.DataFrame:
    """Clean rows plus a bad check digit, a negative count and an exact duplicate."""
    bad = patents.iloc[[0]].assign(app_no=patents["app_no"][0][:-1] + "Y", title="坏")
    neg = patents.iloc[[1]].assign(app_no="CN201910100001.5", claims="-3")
    return pd.concat([patents, bad, neg, patents.iloc[[2]]], ignore_index=True)


def test_gbk_chinese_headers_validate_exactly_like_utf8_english(
    write, messy_patents, tmp_path
) -> None:
    english = write("patents", messy_patents, folder=tmp_path / "en")
    english_bundle, frame = _accepted(english)
    gbk = write(
        "patents", chinese("patents", messy_patents), encoding="gbk", folder=tmp_path / "gbk"
    )
    gbk_bundle, _ = _accepted(gbk)
    _same_result(english_bundle, gbk_bundle)
    assert gbk_bundle.files["patents"].encoding == "gbk"
    assert english_bundle.files["patents"].encoding == "utf-8"
    stats = gbk_bundle.stats["patents"]
    assert (stats.rows, stats.accepted, stats.rejected, stats.duplicates) == (11, 8, 2, 1)
    assert set(gbk_bundle.rejects["rule"]) >= {"app_no_check", "negative_count"}
    assert len(frame) == 8


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gbk"), ("utf-8", "utf-8")],
)
def test_encoding_is_detected_from_the_bytes(write, patents, tmp_path, encoding, expected) -> None:
    frame = chinese("patents", patents)
    if encoding == "gb18030":
        # 𠮷 exists in GB18030 but not in GBK: the detector must not settle for GBK.
        frame[frame.columns[3]] = frame[frame.columns[3]] + "𠮷"
    path = write("patents", frame, encoding=encoding, folder=tmp_path / encoding)
    bundle, accepted = _accepted(path)
    assert bundle.files["patents"].encoding == expected
    assert len(accepted) == len(patents)
    assert accepted["title"].str.startswith("一种电池装置").all()
    if encoding == "gb18030":
        assert accepted["title"].str.endswith("𠮷").all()


def test_undecodable_bytes_name_the_file(tmp_path) -> None:
    path = tmp_path / "patents.csv"
    path.write_bytes("申请号,申请日\n".encode("gbk") + b"\xff\xfe\xff,2020-01-01\n")
    with pytest.raises(DataError, match=r"patents.csv is neither UTF-8 nor GBK/GB18030"):
        read_table(path, "patents")
    assert detect_encoding(b"abc", "x.csv")[0] == "utf-8"


def test_xlsx_and_parquet_give_the_same_table(write, patents, tmp_path) -> None:
    csv_bundle, _ = _accepted(write("patents", patents, folder=tmp_path / "csv"))
    xlsx_frame = chinese("patents", patents)
    # Real spreadsheet cells: dates as datetimes, claims as numbers, one Excel serial date.
    xlsx_frame[" 申请日 "] = pd.to_datetime(patents["app_date"])
    xlsx_frame[" 权利要求数量 "] = patents["claims"].astype(int)
    serial = (pd.to_datetime(patents["pub_date"]) - pd.Timestamp("1899-12-30")).dt.days
    xlsx_frame[" 公开（公告）日 "] = serial
    xlsx_bundle, _ = _accepted(write("patents", xlsx_frame, fmt="xlsx", folder=tmp_path / "xlsx"))
    _same_result(csv_bundle, xlsx_bundle)
    assert xlsx_bundle.files["patents"].encoding == "xlsx"
    parquet_frame = patents.assign(
        app_date=pd.to_datetime(patents["app_date"]),
        claims=patents["claims"].astype("Int64"),
    )
    pq_bundle, _ = _accepted(write("patents", parquet_frame, fmt="parquet", folder=tmp_path / "pq"))
    _same_result(csv_bundle, pq_bundle)


def test_canonical_dtypes(folder) -> None:
    bundle = read_data_dir(folder, today=TODAY)
    for name, contract in CONTRACTS.items():
        frame = bundle.tables[name]
        assert list(frame.columns) == list(contract.column_names), name
        for col in contract.columns:
            assert str(frame[col.name].dtype) == col.dtype, (name, col.name)


@pytest.mark.parametrize(
    "header",
    [
        "注册资本(万元)",
        "注册资本（万元）",
        " 注册资本 ",
        "Registered_Capital",
        "REGISTERED CAPITAL",
    ],
)
def test_header_variants_match(write, enterprises, tmp_path, header) -> None:
    path = write(
        "enterprises", enterprises.rename(columns={"registered_capital": header}), folder=tmp_path
    )
    bundle = read_table(path, "enterprises", today=TODAY)
    assert bundle.tables["enterprises"]["registered_capital"].iloc[0] == pytest.approx(4104113.182)


def test_unit_mismatch_header_is_not_matched(write, enterprises, tmp_path) -> None:
    path = write(
        "enterprises",
        enterprises.rename(columns={"registered_capital": "注册资本(元)"}),
        folder=tmp_path,
    )
    bundle = read_table(path, "enterprises", today=TODAY)
    assert bundle.tables["enterprises"]["registered_capital"].isna().all()
    assert any("columns ignored" in n and "注册资本(元)" in n for n in bundle.notes)


@pytest.mark.parametrize(
    "text",
    [
        "2017-03-01",
        "2017/03/01",
        "2017/3/1",
        "20170301",
        "2017年03月01日",
        "2017年3月1日",
        "42795",
        "42795.0",
        "2017-03-01 00:00:00",
        "２０１７－０３－０１",
    ],
)
def test_every_date_form(write, patents, tmp_path, text) -> None:
    frame = patents.copy()
    frame.loc[0, "app_date"] = text
    frame.loc[0, "pub_date"] = None  # would otherwise precede the new application date
    bundle = read_table(write("patents", frame, folder=tmp_path), "patents", today=TODAY)
    assert bundle.tables["patents"]["app_date"].iloc[0] == pd.Timestamp("2017-03-01")
    assert bundle.stats["patents"].rejected == 0


def test_list_separators_and_spaces(write, patents, tmp_path) -> None:
    frame = patents.copy()
    frame.loc[0, "applicants"] = " 甲公司 ； 乙公司;;丙公司\u3000；\u3000丁 公司\u3000"
    frame.loc[0, "ipc_all"] = "h01m 10/052； H01M  4/00;"
    bundle = read_table(write("patents", frame, folder=tmp_path), "patents", today=TODAY)
    row = bundle.tables["patents"].iloc[0]
    assert row["applicants"] == "甲公司;乙公司;丙公司;丁 公司"
    assert row["ipc_all"] == "H01M 10/052;H01M 4/00"
    assert row["ipc_main"] == "H01M 10/052"


def test_owners_default_to_applicants_with_a_warning(write, patents, tmp_path) -> None:
    bundle = read_table(write("patents", patents, folder=tmp_path), "patents", today=TODAY)
    frame = bundle.tables["patents"]
    assert frame.loc[3, "owners"] == frame.loc[3, "applicants"]
    warn = bundle.warnings
    assert list(warn["rule"]) == ["owners_defaulted"] and list(warn["source_row"]) == [4]
    assert bundle.stats["patents"].warnings_by_rule == {"owners_defaulted": 1}


def test_two_files_for_one_table_is_an_error_naming_both(write, patents, folder) -> None:
    write("patents", patents, fmt="xlsx", folder=folder)
    with pytest.raises(DataError, match=r"table patents has 2 files: patents.csv and patents.xlsx"):
        read_data_dir(folder, today=TODAY)


def test_parquet_dictionary_and_large_strings(tmp_path, patents) -> None:
    table = pa.Table.from_pandas(patents, preserve_index=False)
    table = table.set_column(2, "patent_type", table.column("patent_type").dictionary_encode())
    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(table, folder / "patents.parquet")
    bundle = read_table(folder / "patents.parquet", "patents", today=TODAY)
    assert list(bundle.tables["patents"]["patent_type"][:3]) == [
        "invention",
        "utility_model",
        "design",
    ]
    assert bundle.files["patents"].format == "parquet"
    assert len(bundle.files["patents"].sha256) == 64


def test_xlsx_blank_rows_keep_sheet_row_numbers(tmp_path, patents) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["申请号", "申请日", "专利类型", "申请人"])
    ws.append([patents["app_no"][0], "2015-03-01", "发明", "甲"])
    ws.append([None, None, None, None])  # a blank spreadsheet row is not a record
    ws.append([patents["app_no"][1], "2016-03-02", "发明", "甲"])  # wrong type for digit 2
    wb.save(folder / "patents.xlsx")
    bundle = read_table(folder / "patents.xlsx", "patents", today=TODAY)
    assert bundle.stats["patents"].rows == 2
    assert list(bundle.rejects["source_row"]) == [3]
    assert list(bundle.rejects["rule"]) == ["patent_type_mismatch"]


@pytest.mark.parametrize("text", ["2017", "9999", "100000", "0"])
def test_small_numbers_are_not_excel_dates(write, patents, tmp_path, text) -> None:
    frame = patents.copy()
    frame.loc[0, "app_date"] = text
    bundle = read_table(write("patents", frame, folder=tmp_path), "patents", today=TODAY)
    assert list(bundle.rejects["rule"]) == ["date_unparseable"]


@pytest.mark.parametrize("sep", ["\t", "|"])
def test_tab_and_pipe_separated_exports(tmp_path, patents, sep) -> None:
    folder = tmp_path / "sep"
    folder.mkdir()
    path = folder / "patents.csv"
    path.write_bytes(chinese("patents", patents).to_csv(index=False, sep=sep).encode("gbk"))
    bundle = read_table(path, "patents", today=TODAY)
    assert bundle.stats["patents"].accepted == len(patents)
    assert (
        bundle.tables["patents"]["applicants"][2] == "华为技术有限公司;深圳市腾讯计算机系统有限公司"
    )


def test_a_stray_quote_that_swallows_lines_stops_the_table(write, enterprises, tmp_path) -> None:
    """A quote opening a field mid-file made the following lines one value of a ragged
    record: set aside as one reject, it silently dropped every line it swallowed (531
    firms of a 2,045-row registry, and the run succeeded)."""
    text = enterprises.to_csv(index=False, lineterminator="\n").splitlines()
    row = 3  # the 3rd data row, file line 4
    text[row] = text[row].replace(",", ',"', 1)
    path = tmp_path / "enterprises.csv"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    spans = len(text) - row
    with pytest.raises(
        DataError,
        match=rf"enterprises.csv line 4: a quote opens a field that runs over {spans} lines",
    ) as exc:
        read_table(path, "enterprises", today=TODAY)
    assert 'a quote inside a field is written twice: ""' in exc.value.remedy
    # a quote that closes on its own line is a plain value, and a ragged line without one
    # is still one reject among accepted rows
    text[row] = text[row].replace(',"', ",", 1)
    fine = text[:row] + [text[row] + ",extra"] + text[row + 1 :]
    path.write_text("\n".join(fine) + "\n", encoding="utf-8")
    bundle = read_table(path, "enterprises", today=TODAY)
    stats = bundle.stats["enterprises"]
    assert stats.rows == len(enterprises) and stats.rejected == 1


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_a_file_cut_in_the_middle_of_a_character_is_called_cut_off(tmp_path, encoding) -> None:
    """A GBK file cut mid-character was "neither UTF-8 nor GBK" with the remedy to
    re-export as UTF-8; the file was only incomplete."""
    path = tmp_path / "patents.csv"
    data = "申请号,申请日,专利名称\nCN201710117081.7,2017-01-01,一种电池\n".encode(encoding)
    path.write_bytes(data[:-2])  # the newline and half of 池 (GBK) / two of its bytes (UTF-8)
    with pytest.raises(DataError, match=r"patents.csv ends in the middle of a character") as exc:
        read_table(path, "patents")
    assert "again in full" in exc.value.remedy
