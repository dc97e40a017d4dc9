"""Each bad-input case of the issue: the rule that fires and its message, pinned."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from data_contracts import read_data_dir, read_table
from data_contracts.errors import ContractViolation, DataError
from data_contracts.identifiers import make_app_no, make_uscc

from .conftest import TODAY


def _read(write, table: str, frame: pd.DataFrame, tmp_path: Path, **kw):
    path = write(table, frame, folder=tmp_path / table)
    return read_table(path, table, today=kw.pop("today", TODAY), **kw)


def _rejects(bundle, rule: str) -> pd.DataFrame:
    return bundle.rejects[bundle.rejects["rule"] == rule]


def _accounted(bundle, table: str) -> None:
    s = bundle.stats[table]
    assert s.rows == s.accepted + s.rejected + s.duplicates
    assert s.accepted == len(bundle.tables[table])
    assert bundle.rejects["source_row"].nunique() == s.rejected


def test_exact_duplicates_are_dropped_and_counted(write, patents, tmp_path) -> None:
    frame = pd.concat([patents, patents.iloc[[1, 1, 4]]], ignore_index=True)
    # Same record with the application number written another way is still a duplicate.
    frame.loc[len(frame)] = patents.iloc[0].to_dict() | {"app_no": patents["app_no"][0][2:]}
    bundle = _read(write, "patents", frame, tmp_path)
    stats = bundle.stats["patents"]
    assert (stats.rows, stats.accepted, stats.duplicates, stats.rejected) == (12, 8, 4, 0)
    _accounted(bundle, "patents")


def test_conflicting_duplicates_are_rejected_naming_both_rows(write, patents, tmp_path) -> None:
    frame = pd.concat([patents, patents.iloc[[2]].assign(claims="99")], ignore_index=True)
    bundle = _read(write, "patents", frame, tmp_path)
    conflict = _rejects(bundle, "duplicate_conflict")
    assert list(conflict["source_row"]) == [3, 9]
    assert (
        conflict["message"]
        .str.match(rf"app_no {patents['app_no'][2]} appears on rows 3, 9 with different values")
        .all()
    )
    assert bundle.stats["patents"].accepted == 7
    _accounted(bundle, "patents")


def test_credit_record_correction_replaces_it_and_case_numbers_are_per_firm(
    write, tmp_path
) -> None:
    """A corrected copy (更正) of a firm's record is used in place of the earlier copy (both
    rejected would let an active 失信 record vanish); two firms named in one case number
    (co-defendants) are two records, not a conflict."""
    from tests.data_contracts.conftest import REAL_USCCS

    a, b = list(REAL_USCCS.values())[:2]
    frame = pd.DataFrame(
        {
            "统一社会信用代码": [a, b, a, a, b],
            "记录类型": ["失信被执行人", "限制高消费", "失信被执行人", "限制高消费", "限制高消费"],
            "列入日期": ["2026-05-01", "2026-02-01", "2026-05-01", "2026-02-01", "2026-02-01"],
            "文书号": ["(2026)豫01执1号", "(2026)豫01执9号", "(2026)豫01执1号",
                       "(2026)豫01执9号", "(2026)豫01执9号"],
            "来源": ["中国执行信息公开网", "法院", "中国执行信息公开网（更正）", "法院", "法院"],
        }
    )  # fmt: skip
    bundle = read_table(write("credit_records", frame, folder=tmp_path / "c"), "credit_records",
                        today=TODAY)  # fmt: skip
    superseded = _rejects(bundle, "duplicate_superseded")
    assert list(superseded["source_row"]) == [1]
    assert "appears again on row 3" in superseded["message"].iloc[0]
    assert _rejects(bundle, "duplicate_conflict").empty
    kept = bundle.tables["credit_records"]
    assert len(kept) == 3  # the correction of a's 失信 record, a's and b's 限高 (row 5 = row 2)
    dishonest = kept.loc[kept["record_type"] == "dishonest_debtor"]
    assert dishonest["source"].tolist() == ["中国执行信息公开网（更正）"]
    assert sorted(kept.loc[kept["record_type"] == "consumption_restriction", "uscc"]) == sorted(
        [a, b]
    )
    stats = bundle.stats["credit_records"]
    assert (stats.accepted, stats.rejected, stats.duplicates) == (3, 1, 1)
    _accounted(bundle, "credit_records")


def test_unknown_enum_value(write, patents, tmp_path) -> None:
    frame = patents.assign(
        patent_type=patents["patent_type"].where(patents.index != 0, "集成电路布图")
    )
    bundle = _read(write, "patents", frame, tmp_path)
    (msg,) = _rejects(bundle, "enum_unknown")["message"]
    assert msg == (
        "patent_type '集成电路布图' is not a known value (accepted: design, invention, "
        "utility_model, or their Chinese names)"
    )


def test_enum_values_in_english_and_chinese(write, enterprises, tmp_path) -> None:
    frame = enterprises.assign(status=["存续", "Active", " 吊销 ", "注销", "迁出"], size="小型")
    bundle = _read(write, "enterprises", frame, tmp_path)
    assert list(bundle.tables["enterprises"]["status"]) == [
        "active",
        "active",
        "revoked",
        "cancelled",
        "moved",
    ]
    assert set(bundle.tables["enterprises"]["size"]) == {"small"}


def test_negative_count(write, patents, tmp_path) -> None:
    frame = patents.copy()
    frame.loc[5, "forward_citations"] = "-2"
    bundle = _read(write, "patents", frame, tmp_path)
    rej = _rejects(bundle, "negative_count")
    assert list(rej["source_row"]) == [6]
    assert list(rej["message"]) == ["forward_citations '-2' is negative; counts must be >= 0"]


def test_unparseable_date_and_number(write, patents, tmp_path) -> None:
    frame = patents.copy()
    frame.loc[1, "app_date"] = "2017-02-30"
    frame.loc[2, "claims"] = "十二"
    bundle = _read(write, "patents", frame, tmp_path)
    (date_msg,) = _rejects(bundle, "date_unparseable")["message"]
    assert date_msg.startswith("app_date '2017-02-30' is not a valid date (YYYY-MM-DD, ")
    (num_msg,) = _rejects(bundle, "number_unparseable")["message"]
    assert num_msg == "claims '十二' is not a whole number of at most 15 digits"


def test_a_count_too_large_for_int64_is_a_reject_not_a_crash(write, patents, tmp_path) -> None:
    frame = patents.copy()
    frame.loc[1, "claims"] = "99999999999999999999"  # ArrowInvalid in the int64 cast before
    frame.loc[2, "claims"] = "000000000000000000012"  # leading zeros are not digits of size
    bundle = _read(write, "patents", frame, tmp_path)
    rej = _rejects(bundle, "number_unparseable")
    assert list(rej["source_row"]) == [2]
    assert list(bundle.tables["patents"]["claims"])[1] == 12


def test_parquet_infinities_and_huge_floats_read_as_written(tmp_path, patents) -> None:
    """A float cell that is inf, -inf or 1e300 is one reject each, shown as written (it used
    to wrap to -9223372036854775808 in the int64 cast, and 1e300 was accepted as a count)."""
    frame = patents.assign(claims=[float("inf"), float("-inf"), 1e300, 2.5, 7.0, 8.0, 9.0, 10.0])
    folder = tmp_path / "pq"
    folder.mkdir()
    frame.to_parquet(folder / "patents.parquet", index=False)
    bundle = read_table(folder / "patents.parquet", "patents", today=TODAY)
    rej = bundle.rejects.loc[bundle.rejects["table"] == "patents"]
    assert list(rej["source_row"]) == [1, 2, 3, 4]
    assert list(rej["value"]) == ["inf", "-inf", "1e+300", "2.5"]
    assert set(rej["rule"]) == {"number_unparseable"}
    assert list(bundle.tables["patents"]["claims"]) == [7, 8, 9, 10]


def test_grant_before_application(write, patents, tmp_path) -> None:
    frame = patents.copy()
    frame.loc[1, "grant_date"] = "2010-01-01"
    bundle = _read(write, "patents", frame, tmp_path)
    rej = _rejects(bundle, "grant_before_application")
    assert list(rej["message"]) == ["grant_date '2010-01-01' is before app_date"]
    assert list(rej["source_row"]) == [2]


def test_date_after_today_rejected_but_after_as_of_kept(write, patents, tmp_path) -> None:
    frame = patents.copy()
    frame.loc[1, "grant_date"] = "2027-01-01"
    bundle = _read(write, "patents", frame, tmp_path, as_of=dt.date(2019, 1, 1))
    assert list(_rejects(bundle, "date_in_future")["message"]) == [
        "grant_date '2027-01-01' is after today (2026-11-23)"
    ]
    stats = bundle.stats["patents"]
    kept = bundle.tables["patents"]
    # Applications filed after the as-of date are valid history (backtests, training).
    assert stats.after_as_of == int((kept["app_date"] > "2019-01-01").sum()) > 0
    assert any("dated after as-of 2019-01-01" in n for n in bundle.notes)


def test_expiry_dates_may_lie_in_the_future(write, tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "统一社会信用代码": ["914403001922038216"],
            "资质类型": ["高新技术企业"],
            "认定日期": ["2025-12-01"],
            "有效期至": ["2028-11-30"],
        }
    )
    bundle = _read(write, "programmes", frame, tmp_path)
    assert bundle.stats["programmes"].accepted == 1
    assert bundle.tables["programmes"]["valid_to"][0] == pd.Timestamp("2028-11-30")


def test_programme_default_validity_is_filled_and_noted(write, tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "uscc": ["914403001922038216", None],
            "name": [None, "招商银行股份有限公司"],
            "programme": ["high_tech", "科技型中小企业"],
            "valid_from": ["2024-03-15", "2025-05-01"],
        }
    )
    bundle = _read(write, "programmes", frame, tmp_path)
    out = bundle.tables["programmes"]
    assert list(out["valid_to"]) == [pd.Timestamp("2027-03-14"), pd.Timestamp("2026-12-31")]
    assert list(bundle.warnings["rule"]) == ["valid_to_defaulted", "valid_to_defaulted"]
    assert bundle.stats["programmes"].warnings == 2


def test_uscc_or_name_required(write, tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "uscc": [None],
            "name": [" "],
            "record_type": ["失信被执行人"],
            "start_date": ["2024-01-01"],
        }
    )
    bundle = _read(write, "credit_records", frame, tmp_path)
    assert list(bundle.rejects["message"]) == ["uscc or name is required; both are empty"]


def test_tax_rating_value_checked(write, tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "uscc": ["914403001922038216"] * 2,
            "record_type": ["纳税信用等级"] * 2,
            "start_date": ["2024-04-01", "2025-04-01"],
            "value": ["a", "E"],
        }
    )
    bundle = _read(write, "credit_records", frame, tmp_path)
    assert list(bundle.tables["credit_records"]["value"]) == ["A"]
    assert list(bundle.rejects["message"]) == [
        "value 'E' is not a tax rating (accepted: A, B, M, C, D)"
    ]


def test_uscc_rejects_and_legacy_warning(write, enterprises, tmp_path) -> None:
    pilot = make_uscc("9", "1", "350100", "M0001234")
    pilot = pilot[:-1] + ("0" if pilot[-1] != "0" else "1")
    frame = enterprises.copy()
    frame.loc[0, "uscc"] = "914403001922038217"
    frame.loc[1, "uscc"] = pilot
    frame.loc[2, "uscc"] = " 9110 0000 1000 0134 28 "  # spaces: normalised, valid
    bundle = _read(write, "enterprises", frame, tmp_path)
    (msg,) = _rejects(bundle, "uscc_check")["message"]
    assert msg == "USCC 914403001922038217: check character '7' is wrong (expected '6')"
    assert list(bundle.warnings["rule"]) == ["uscc_legacy_check"]
    assert pilot in set(bundle.tables["enterprises"]["uscc"])
    assert "911000001000013428" in set(bundle.tables["enterprises"]["uscc"])


def test_a_uscc_excel_turned_into_a_number_says_how_to_fix_it(write, enterprises, tmp_path):
    frame = enterprises.copy()
    frame.loc[0, "uscc"] = "9.14101E+17"
    bundle = _read(write, "enterprises", frame, tmp_path)
    (msg,) = _rejects(bundle, "uscc_length")["message"]
    assert "scientific notation" in msg and "format the column as text" in msg


def test_app_no_check_and_normalisation(write, patents, tmp_path) -> None:
    frame = patents.copy()
    good = patents["app_no"][1]
    frame.loc[1, "app_no"] = " cn" + good[2:].replace(".", "")  # lower case, no dot: fine
    frame.loc[2, "app_no"] = patents["app_no"][2][:-1] + (
        "1" if patents["app_no"][2][-1] != "1" else "2"
    )
    frame.loc[3, "app_no"] = "CN2017ABC"
    bundle = _read(write, "patents", frame, tmp_path)
    assert good in set(bundle.tables["patents"]["app_no"])
    assert _rejects(bundle, "app_no_check")["message"].str.contains("check character").all()
    assert list(_rejects(bundle, "app_no_format")["message"]) == [
        "application number 'CN2017ABC' is not CNYYYYTNNNNNNN.C"
    ]


def test_patent_type_must_match_the_type_digit(write, patents, tmp_path) -> None:
    frame = patents.copy()
    frame.loc[0, "patent_type"] = "外观设计"  # the number says invention
    bundle = _read(write, "patents", frame, tmp_path)
    assert list(_rejects(bundle, "patent_type_mismatch")["source_row"]) == [1]


def test_required_value_missing(write, patents, tmp_path) -> None:
    frame = patents.copy()
    frame.loc[4, "applicants"] = "  ；"
    bundle = _read(write, "patents", frame, tmp_path)
    assert list(_rejects(bundle, "required_missing")["message"]) == [
        "applicants is required but empty"
    ]


def test_missing_required_column_names_column_and_aliases(write, patents, tmp_path) -> None:
    path = write("patents", patents.drop(columns="app_no"), folder=tmp_path)
    with pytest.raises(
        ContractViolation,
        match=r"^patents.csv lacks required column app_no \(accepted headers: app_no, 申请号, 专利申请号\)$",
    ) as info:
        read_table(path, "patents")
    assert "rename its header" in info.value.remedy


def test_two_columns_for_one_field(write, patents, tmp_path) -> None:
    frame = patents.assign(申请号=patents["app_no"])
    with pytest.raises(ContractViolation, match=r"two columns for app_no: 'app_no' and '申请号'"):
        read_table(write("patents", frame, folder=tmp_path), "patents")


def test_empty_files(tmp_path, folder) -> None:
    (folder / "loans.csv").write_bytes(b"")  # no header row: a broken export
    with pytest.raises(ContractViolation, match=r"^loans.csv is empty \(no header row\)$"):
        read_data_dir(folder, today=TODAY)
    (folder / "loans.csv").unlink()
    (folder / "patents.csv").write_bytes("\ufeff\n".encode())
    with pytest.raises(ContractViolation, match=r"^patents.csv is empty \(no header row\)$"):
        read_data_dir(folder, today=TODAY)


def test_header_only_required_table_is_unusable(folder) -> None:
    (folder / "patents.csv").write_text("申请号,申请日,专利类型,申请人\n", encoding="utf-8")
    with pytest.raises(
        ContractViolation, match=r"required table patents \(patents.csv\) has no usable row"
    ):
        read_data_dir(folder, today=TODAY)
    bundle = read_data_dir(folder, today=TODAY, errors="collect")
    assert bundle.stats["patents"].status == "failed" and not bundle.usable("patents")


def test_missing_optional_table_is_noted(folder) -> None:
    bundle = read_data_dir(folder, today=TODAY)
    assert "optional table loans missing: treated as empty" in bundle.notes
    assert bundle.stats["loans"].status == "missing"
    assert list(bundle.tables["loans"].columns)[:3] == ["loan_id", "uscc", "bank"]


def test_missing_required_table(folder) -> None:
    (folder / "enterprises.csv").unlink()
    with pytest.raises(
        DataError, match=r"^required table enterprises is missing: no enterprises.csv"
    ):
        read_data_dir(folder, today=TODAY)


def test_ragged_csv_line_is_rejected_not_lost(folder) -> None:
    path = folder / "patents.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, lines[3] + ",extra,fields")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bundle = read_data_dir(folder, today=TODAY)
    rej = _rejects(bundle, "column_count")
    assert list(rej["source_row"]) == [3]
    assert rej["message"].iloc[0].startswith("line has ")
    stats = bundle.stats["patents"]
    assert (stats.rows, stats.rejected, stats.accepted) == (9, 1, 8)


def test_bad_arguments(folder, tmp_path) -> None:
    with pytest.raises(DataError, match=r"unknown table 'patent'"):
        read_table(folder / "patents.csv", "patent")
    with pytest.raises(DataError, match=r"data folder .* does not exist"):
        read_data_dir(tmp_path / "nope")
    with pytest.raises(ValueError, match=r"The 'errors' parameter of read_data_dir must be"):
        read_data_dir(folder, errors="ignore")  # type: ignore[arg-type]
    (tmp_path / "patents.txt").write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type '.txt'"):
        read_table(tmp_path / "patents.txt", "patents")


def test_progress_callback_and_subset(folder) -> None:
    calls = []
    bundle = read_data_dir(
        folder, today=TODAY, tables=["patents", "loans"], progress=lambda *a: calls.append(a)
    )
    assert calls == [("patents", 1, 2), ("loans", 2, 2)]
    assert set(bundle.tables) == {"patents", "loans"}


def test_loans_rules(write, tmp_path) -> None:
    base = {
        "借据号": "L1",
        "统一社会信用代码": "914403001922038216",
        "贷款银行": "中国银行",
        "放款日期": "2024-01-10",
        "到期日期": "2025-01-09",
        "放款金额（万元）": "500",
        "报告日期": "2024-03-31",
        "五级分类": "正常",
        "逾期天数": "0",
        "质押专利申请号": f"2017101170817；{make_app_no(2018, 1, 1)}",
        "是否首贷": "是",
    }
    rows = [
        base,
        base | {"报告日期": "2024-06-30", "五级分类": "关注", "逾期天数": "35"},
        base | {"借据号": "L2", "到期日期": "2023-12-31"},
        base | {"借据号": "L3", "放款金额（万元）": "-5"},
    ]
    bundle = _read(write, "loans", pd.DataFrame(rows), tmp_path)
    out = bundle.tables["loans"]
    assert list(out["classification"]) == ["normal", "special_mention"]
    assert out["first_loan"].tolist() == [True, True]
    assert out["pledged_app_nos"][0] == f"CN201710117081.7;{make_app_no(2018, 1, 1)}"
    assert set(bundle.rejects["rule"]) == {"maturity_before_disbursement", "negative_amount"}


def test_invalid_pledged_number_is_dropped_with_a_warning(write, tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "loan_id": ["L1"],
            "uscc": ["914403001922038216"],
            "bank": ["中国银行"],
            "disbursed_on": ["2024-01-10"],
            "maturity": ["2025-01-09"],
            "amount": ["500"],
            "report_date": ["2024-03-31"],
            "classification": ["正常"],
            "pledged_app_nos": ["CN201710117081.8; CN201710117081.7"],
        }
    )
    bundle = _read(write, "loans", frame, tmp_path)
    assert list(bundle.tables["loans"]["pledged_app_nos"]) == ["CN201710117081.7"]
    assert list(bundle.warnings["message"]) == [
        "application number CN201710117081.8: check character '8' is wrong (expected '7'); "
        "item dropped"
    ]


def test_region_code_format_is_a_pandera_check(write, enterprises, tmp_path) -> None:
    frame = enterprises.copy()
    frame.loc[2, "region_code"] = "4101"
    bundle = _read(write, "enterprises", frame, tmp_path)
    rej = _rejects(bundle, "region_code_format")
    assert list(rej["source_row"]) == [3]
    assert list(rej["message"]) == ["region_code '4101' does not match the pattern ^\\d{6}$"]


def test_conflicts_keyed_by_name_when_uscc_is_missing(write, tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "企业名称": ["甲科技有限公司", "甲科技有限公司", "甲科技有限公司", "乙公司"],
            "推荐单位": ["郑州市知识产权局"] * 4,
            "推荐日期": ["2026-07-01", "2026-07-02", "2026-07-01", "2026-07-01"],
        }
    )
    bundle = _read(write, "nominations", frame, tmp_path)
    rej = _rejects(bundle, "duplicate_conflict")
    assert list(rej["source_row"]) == [1, 2]
    assert (
        rej["message"]
        .iloc[0]
        .startswith(
            "uscc (or name) + nominated_by 甲科技有限公司 + 郑州市知识产权局 appears on rows 1, 2"
        )
    )
    stats = bundle.stats["nominations"]
    assert (stats.accepted, stats.rejected, stats.duplicates) == (1, 2, 1)


def test_unreadable_file_is_a_data_error(folder, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("data_contracts.reader.sha256_of", refuse)
    with pytest.raises(DataError, match=r"^enterprises.csv cannot be read \(Permission denied\)$"):
        read_data_dir(folder, today=TODAY)


def test_typed_parquet_values_read_naturally_in_rejects(write, patents, tmp_path) -> None:
    frame = patents.assign(
        app_date=pd.to_datetime(patents["app_date"]),
        grant_date=pd.to_datetime(patents["grant_date"]),
        claims=patents["claims"].astype("Int64"),
    )
    frame.loc[1, "grant_date"] = pd.Timestamp("2099-01-01")
    frame.loc[2, "claims"] = -1
    path = write("patents", frame, fmt="parquet", folder=tmp_path / "pq")
    bundle = read_table(path, "patents", today=TODAY)
    assert list(bundle.rejects["value"]) == ["2099-01-01", "-1"]
    assert list(bundle.rejects["message"]) == [
        "grant_date '2099-01-01' is after today (2026-11-23)",
        "claims '-1' is negative; counts must be >= 0",
    ]


def test_credit_record_with_a_mistyped_code_is_linked_by_its_name(write, tmp_path) -> None:
    """In a table whose rows name the firm by code or name, a wrong check character beside a
    name makes the row a name-only row with a warning, not a reject: an active 失信 record
    must not vanish for a typo. Without a name the row is still rejected."""
    from tests.data_contracts.conftest import REAL_USCCS

    good = list(REAL_USCCS.values())[0]
    typo = good[:-1] + ("0" if good[-1] != "0" else "1")
    frame = pd.DataFrame(
        {
            "统一社会信用代码": [typo, typo, good],
            "企业名称": ["洛阳祥博科技有限公司", None, "甲公司"],
            "记录类型": ["失信被执行人"] * 3,
            "列入日期": ["2026-05-01", "2026-05-02", "2026-05-03"],
            "文书号": ["(2026)豫03执1号", "(2026)豫03执2号", "(2026)豫03执3号"],
        }
    )
    bundle = read_table(write("credit_records", frame, folder=tmp_path / "c"), "credit_records",
                        today=TODAY)  # fmt: skip
    kept = bundle.tables["credit_records"]
    assert kept["record_id"].tolist() == ["(2026)豫03执1号", "(2026)豫03执3号"]
    assert pd.isna(kept["uscc"].iloc[0]) and kept["name"].iloc[0] == "洛阳祥博科技有限公司"
    warned = bundle.warnings[bundle.warnings["rule"] == "uscc_invalid_name_used"]
    assert list(warned["source_row"]) == [1]
    assert typo in warned["message"].iloc[0]
    assert list(bundle.rejects["source_row"]) == [2]
    assert bundle.rejects["rule"].iloc[0] == "uscc_check"
    _accounted(bundle, "credit_records")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_end_date_9999_means_no_end(write, tmp_path, fmt) -> None:
    """An end date written 9999-12-31 (or any year after 2200) is an open-ended record with a
    warning, not a reject that would drop an active 失信 record; typed parquet dates that far
    out do not wrap around. A start date that far out is still rejected."""
    import datetime as dt

    from tests.data_contracts.conftest import REAL_USCCS

    code = list(REAL_USCCS.values())[0]
    far = "9999-12-31" if fmt == "csv" else dt.date(9999, 12, 31)
    frame = pd.DataFrame(
        {
            "统一社会信用代码": [code, code],
            "记录类型": ["失信被执行人", "经营异常"],
            "列入日期": ["2026-05-01", "2026-05-01"],
            "移出日期": [far, None],
            "文书号": ["(2026)豫01执1号", "(2026)豫01执2号"],
        }
    )
    if fmt == "parquet":
        frame["列入日期"] = [dt.date(2026, 5, 1), dt.date(9999, 1, 1)]
    bundle = read_table(write("credit_records", frame, fmt=fmt, folder=tmp_path / fmt),
                        "credit_records", today=TODAY)  # fmt: skip
    kept = bundle.tables["credit_records"]
    warned = bundle.warnings[bundle.warnings["rule"] == "date_open_ended"]
    assert list(warned["source_row"]) == [1]
    assert kept["record_id"].iloc[0] == "(2026)豫01执1号" and pd.isna(kept["end_date"].iloc[0])
    if fmt == "parquet":
        assert list(bundle.rejects["source_row"]) == [2]
        assert bundle.rejects["rule"].iloc[0] == "date_unparseable"
    else:
        assert len(kept) == 2
    _accounted(bundle, "credit_records")


def test_parquet_list_column_reads_as_a_joined_list(write, enterprises, tmp_path) -> None:
    """A parquet export holding former names as list<string> reads like the CSV's
    ';'-joined cell instead of failing on an unsupported cast."""
    frame = enterprises.assign(
        former_names=[["华为技术公司", "华为公司"], None, [], ["腾讯计算机", None], None]
    )
    path = write("enterprises", frame, fmt="parquet", folder=tmp_path / "e")
    bundle = read_table(path, "enterprises", today=TODAY)
    got = bundle.tables["enterprises"]["former_names"].tolist()
    assert got[0] == "华为技术公司;华为公司" and got[3] == "腾讯计算机"
    assert pd.isna(got[1]) and pd.isna(got[2])
    _accounted(bundle, "enterprises")


def test_a_repeated_copy_of_a_credit_record_still_wins_as_the_last(write, tmp_path) -> None:
    """B, A, B (the active record, its ended copy, the active one again): the last copy in
    the file is B, so B is used — the identical earlier B is the duplicate, not the last."""
    from tests.data_contracts.conftest import REAL_USCCS

    code = list(REAL_USCCS.values())[0]
    frame = pd.DataFrame(
        {
            "统一社会信用代码": [code] * 3,
            "记录类型": ["失信被执行人"] * 3,
            "列入日期": ["2020-01-23"] * 3,
            "移出日期": [None, "2021-01-23", None],
            "文书号": ["(2020)豫01执1号"] * 3,
        }
    )
    bundle = read_table(write("credit_records", frame, folder=tmp_path / "c"), "credit_records",
                        today=TODAY)  # fmt: skip
    kept = bundle.tables["credit_records"]
    assert len(kept) == 1 and pd.isna(kept["end_date"].iloc[0])
    stats = bundle.stats["credit_records"]
    assert (stats.accepted, stats.rejected, stats.duplicates) == (1, 1, 1)
    assert list(_rejects(bundle, "duplicate_superseded")["source_row"]) == [2]
    _accounted(bundle, "credit_records")


def test_a_correction_dated_after_as_of_does_not_replace_the_record_yet(write, tmp_path) -> None:
    """Point in time: a later copy whose start date is after the as-of date is not known
    then, so the earlier copy stands at that as-of; from the correction's date on (or without
    an as-of) the later copy is used."""
    import datetime as dt

    from tests.data_contracts.conftest import REAL_USCCS

    code = list(REAL_USCCS.values())[0]
    frame = pd.DataFrame(
        {
            "统一社会信用代码": [code, code],
            "记录类型": ["失信被执行人", "失信被执行人"],
            "列入日期": ["2020-01-23", "2026-01-01"],
            "文书号": ["(2020)豫01执1号"] * 2,
        }
    )
    path = write("credit_records", frame, folder=tmp_path / "c")

    def kept_start(as_of):
        bundle = read_table(path, "credit_records", today=TODAY, as_of=as_of)
        _accounted(bundle, "credit_records")
        return bundle.tables["credit_records"]["start_date"].dt.strftime("%Y-%m-%d").tolist()

    assert kept_start(dt.date(2025, 6, 30)) == ["2020-01-23"]
    assert kept_start(dt.date(2026, 6, 30)) == ["2026-01-01"]
    assert kept_start(None) == ["2026-01-01"]


def test_placeholders_in_optional_typed_columns_are_empty_with_a_warning(
    write, enterprises, tmp_path
) -> None:
    """'—', 'null', 'NA' in an optional number/date/enum cell mean "no value": the row is kept
    (before, the whole registry row was rejected for an empty optional cell)."""
    frame = enterprises.assign(
        registered_capital=["NA", "null", "—", "1200", " n/a "],
        established=["-", "2015-03-01", "2016-04-02", "无", "2018-06-03"],
    )
    bundle = _read(write, "enterprises", frame, tmp_path)
    got = bundle.tables["enterprises"]
    assert len(got) == 5 and bundle.rejects.empty
    assert got["registered_capital"].isna().tolist() == [True, True, True, False, True]
    assert got["established"].isna().tolist() == [True, False, False, True, False]
    assert (bundle.warnings["rule"] == "placeholder_empty").sum() == 6


def test_a_placeholder_in_a_required_column_still_rejects_the_row(
    write, enterprises, tmp_path
) -> None:
    frame = enterprises.assign(status=["存续", "—", "存续", "存续", "存续"])
    bundle = _read(write, "enterprises", frame, tmp_path)
    assert len(bundle.tables["enterprises"]) == 4
    assert list(bundle.rejects["source_row"]) == [2]  # data rows count from 1


def test_a_placeholder_word_a_column_reads_as_a_value_stays_a_value(
    write, patents, tmp_path
) -> None:
    """无 is "no" in a yes/no column (PCT), not an empty cell."""
    frame = patents.assign(pct=["是", "否", "无", "—", "有"] + ["否"] * (len(patents) - 5))
    bundle = _read(write, "patents", frame, tmp_path)
    got = bundle.tables["patents"]["pct"].tolist()[:5]
    assert got[:3] == [True, False, False] and pd.isna(got[3]) and got[4] is True
    assert (bundle.warnings["rule"] == "placeholder_empty").sum() == 1
