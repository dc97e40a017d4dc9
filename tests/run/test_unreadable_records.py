"""A negative credit record the reader cannot fully read must not let its firm through.

A 失信 listing whose removal date reads ``—`` used to reject the whole row: the firm was then
screened as if the record did not exist and pushed to banks, with nothing in 需要注意.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
AS_OF = "2026-09-30"
_FOLDERS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from typer.testing import CliRunner

    from screening.cli import app

    data = tmp_path_factory.mktemp("unreadable") / "data"
    shutil.copytree(SAMPLE, data)
    ent = pd.read_csv(data / "enterprises.csv", encoding="gbk", dtype=str)
    firms = ent.loc[ent["登记状态"] == "存续", ["统一社会信用代码", "企业名称"]].head(16)
    (u1, n1), (u2, n2), (u3, n3), (u4, n4), (u5, n5), (u6, n6), (u7, n7), (u8, n8), (u9, n9) = (
        firms.to_numpy()[:9]
    )
    (u10, n10), (u11, n11), (u12, n12), (u13, n13), (u14, n14), (u15, n15), (u16, n16) = (
        firms.to_numpy()[9:]
    )
    credit = data / "credit_records.csv"
    columns = pd.read_csv(credit, encoding="gbk", dtype=str, nrows=0).columns
    rows = [
        # a placeholder removal date: read as empty (active), the record counts
        [u1, n1, "失信被执行人", "2025-01-01", "—", "", "", "T-1", "法院"],
        # an unknown severity on a penalty: the row is rejected, the firm held back
        [u2, n2, "行政处罚", "2025-06-01", "", "较重", "", "T-2", "市场监管"],
        # removal before listing: rejected (which date is wrong is unknown), held back
        [u3, n3, "失信被执行人", "2025-06-01", "2025-05-01", "", "", "T-3", "法院"],
        # a rejected tax rating of grade A hides nothing
        [u4, n4, "纳税信用等级", "2025-02-30", "", "", "A", "T-4", "税务"],
        # a rejected record listed after the as-of date is not known then
        [u5, n5, "失信被执行人", "2026-12-01", "2026-11-01", "", "", "T-5", "法院"],
        # named only by its firm name (code cell unreadable): linked by name, held back
        ["91XXXX", n6, "经营异常名录", "2025-13-01", "", "", "", "T-6", "市场监管"],
        # a rejected tax rating whose grade is D may hide a knock-out
        [u7, n7, "纳税信用等级", "2025/02/30", "", "", "D", "T-7", "税务"],
        # a grade written 'D级', newer than the firm's accepted ratings, is rejected as
        # unknown: it may be a D and it is the latest, held back
        [u8, n8, "纳税信用等级", "2026-06-01", "", "", "D级", "T-8", "税务"],
        # a general (一般) penalty with a bad date: only serious ones knock out, it hides nothing
        [u9, n9, "行政处罚", "2025-13-01", "", "一般", "", "T-9", "市场监管"],
        # a penalty of 2024 with no severity given: it may be a serious one (3-year window)
        [u10, n10, "行政处罚", "2024-12-01", "", "", "", "T-10", "市场监管"],
        # the same as a general one: its 1-year window is over
        [u11, n11, "行政处罚", "2024-12-01", "", "一般", "", "T-11", "市场监管"],
        # rejected (severity unreadable) but plainly over: removed in 2021
        [u12, n12, "失信被执行人", "2020-01-01", "2021-06-01", "较重", "", "T-12", "法院"],
        # rejected, no end given: even a serious penalty's 3-year window ended in 2022
        [u13, n13, "行政处罚", "2019-03-01", "", "较重", "", "T-13", "市场监管"],
        # a garbled 2019 grade is not the latest: the firm's 2025 A rating is
        [u14, n14, "纳税信用等级", "2019-04-01", "", "", "D级", "T-14a", "税务"],
        [u14, n14, "纳税信用等级", "2025-04-01", "", "", "A", "T-14b", "税务"],
        # listed until removed, no removal given: may still be listed, held back
        [u15, n15, "经营异常名录", "2019-05-01", "", "较重", "", "T-15", "市场监管"],
        # an unreadable removal date leaves the end unknown, held back
        [u16, n16, "失信被执行人", "2020-01-01", "2021-13-01", "", "", "T-16", "法院"],
    ]
    pd.DataFrame(rows, columns=columns).to_csv(
        credit, mode="a", header=False, index=False, encoding="gbk"
    )
    out = tmp_path_factory.mktemp("unreadable") / "out"
    result = CliRunner().invoke(
        app, ["run", "--data", str(data), "--as-of", AS_OF, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    screened = pd.read_csv(out / "screened.csv", dtype=str).set_index("uscc")
    report = json.loads((out / "run_report.json").read_text(encoding="utf-8"))
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    _FOLDERS.update(out=out, data=data)
    return firms["统一社会信用代码"].tolist(), screened, report, rejects


def _rules(screened, uscc):
    return str(screened.loc[uscc, "rules_fired"])


def test_a_placeholder_end_date_keeps_the_record(run):
    (u1, *_), screened, _, rejects = run
    assert "dishonest_debtor@2025-01-01#T-1" in _rules(screened, u1)
    assert screened.loc[u1, "status"] == "knocked_out"
    assert not (rejects["value"] == "—").any()


def test_rejected_negative_records_hold_their_firms_back(run):
    (_, u2, u3, _, _, u6, u7, u8, _, _, _, _, _, _, u15, u16), screened, report, _ = run
    for uscc in (u2, u3, u6, u7, u8, u15, u16):
        assert "unreadable_credit_record" in _rules(screened, uscc), uscc
        assert screened.loc[uscc, "status"] == "knocked_out"
    # the bundled sample's own messy rows (record type 黑名单 …) are held back too: the
    # warning counts every firm the rule holds back, and names the remedy
    held = screened["rules_fired"].fillna("").str.contains("unreadable_credit_record")
    held &= screened.index != run[0][9]  # held back for a penalty's unknown severity instead
    warned = [w for w in report["warnings"] if "被拒收的信用记录" in w]
    assert len(warned) == 1 and f"指向 {int(held.sum())} 家参评企业" in warned[0]
    assert "rejects.csv" in warned[0]


def test_a_penalty_of_unknown_severity_holds_its_firm_back(run):
    """An empty 严重程度 cell is not a minor penalty: a serious one is listed for three years,
    so a 2024 penalty without a severity holds its firm back in 2026 (it passed as 一般)."""
    uscc, screened, report, _ = run
    u10, u11 = uscc[9], uscc[10]
    assert "unreadable_credit_record@2024-12-01#T-10" in _rules(screened, u10)
    assert "serious_penalty" not in _rules(screened, u10)  # not claimed to be serious
    assert "T-11" not in _rules(screened, u11)
    warned = [w for w in report["warnings"] if "严重程度" in w]
    assert len(warned) == 1 and "“严重程度”为空" in warned[0]


def test_no_severity_column_says_so(tmp_path):
    """A renamed 严重程度 column: every penalty is of unknown severity, and 需要注意 says the
    column is missing (the serious-penalty rule had silently stopped firing)."""
    from typer.testing import CliRunner

    from screening.cli import app

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    credit = data / "credit_records.csv"
    frame = pd.read_csv(credit, encoding="gbk", dtype=str)
    serious = frame.loc[frame["严重程度"] == "严重", "统一社会信用代码"].dropna()
    frame.rename(columns={"严重程度": "处罚严重程度"}).to_csv(credit, index=False, encoding="gbk")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", "--data", str(data), "--as-of", "2025-12-31", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "run_report.json").read_text(encoding="utf-8"))
    warned = [w for w in report["warnings"] if "严重程度" in w]
    assert len(warned) == 1 and "没有“严重程度”列" in warned[0]
    # the decision rests on the reader's structured record of the absent column
    credit_stats = next(t for t in report["tables"] if t["table"] == "credit_records")
    assert "severity" in credit_stats["absent_columns"]
    screened = pd.read_csv(out / "screened.csv", dtype=str).set_index("uscc")
    held = screened["rules_fired"].fillna("").str.contains("unreadable_credit_record")
    # every firm with a serious penalty in the window is still kept from the banks
    recent = frame.loc[
        (frame["严重程度"] == "严重")
        & (pd.to_datetime(frame["列入日期"], errors="coerce") > "2022-12-31")
        & (pd.to_datetime(frame["列入日期"], errors="coerce") <= "2025-12-31")
    ]
    assert len(serious) and len(recent)
    for uscc in recent["统一社会信用代码"].dropna().unique():
        if uscc in screened.index:
            assert screened.loc[uscc, "status"] != "whitelisted", uscc
    assert held.any()


def test_rejected_records_that_hide_nothing_or_come_later_do_not(run):
    (_, _, _, u4, u5, _, _, _, u9, _, _, u12, u13, u14, _, _), screened, _, rejects = run
    # the rows were rejected (not accepted as ended listings): what passes them is their dates
    assert (rejects["value"] == "较重").sum() == 4 and (rejects["value"] == "D级").sum() == 2
    for uscc in (u4, u5, u9, u12, u13, u14):
        assert "unreadable_credit_record" not in _rules(screened, uscc), uscc


def test_unlinked_records_keep_the_code_as_written(run):
    """unlinked.csv names each unlinked credit record by the code its row gave (it was blank:
    linking had already replaced the column), so the analyst can look the firm up."""
    assert run
    unlinked = pd.read_csv(_FOLDERS["out"] / "unlinked.csv", dtype=str)
    records = unlinked.loc[unlinked["kind"] == "credit_record"].dropna(subset=["record_id"])
    assert len(records)
    source = pd.read_csv(_FOLDERS["data"] / "credit_records.csv", encoding="gbk", dtype=str)
    written = source.set_index("文书号")["统一社会信用代码"]
    for rid, code in zip(records["record_id"], records["uscc_as_written"], strict=True):
        assert code == written[rid], rid


def test_with_the_rule_disabled_nothing_is_held_back_or_claimed(run, tmp_path):
    """A bureau that disables the rule gets no firm held back by it and no 需要注意 line
    saying firms were held back."""
    from typer.testing import CliRunner

    from screening.cli import app
    from screening.run.config import default_config_path

    assert run
    shipped = default_config_path().parent
    cfg = tmp_path / "cfg"
    shutil.copytree(shipped, cfg)
    rules = (cfg / "knockouts.yaml").read_text(encoding="utf-8")
    marker = "    kind: unreadable_credit_record\n    enabled: true\n"
    assert marker in rules
    (cfg / "knockouts.yaml").write_text(
        rules.replace(marker, marker.replace("true", "false")), encoding="utf-8"
    )
    out = tmp_path / "out"
    args = ["run", "--data", str(_FOLDERS["data"]), "--as-of", AS_OF, "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--config", str(cfg / "run.toml")])
    assert result.exit_code == 0, result.output
    screened = pd.read_csv(out / "screened.csv", dtype=str)
    assert not screened["rules_fired"].fillna("").str.contains("unreadable").any()
    report = json.loads((out / "run_report.json").read_text(encoding="utf-8"))
    assert not [w for w in report["warnings"] if "被拒收的信用记录" in w]


def test_no_credit_table_stops_the_run_unless_its_rules_are_off(tmp_path, capsys):
    """Without credit_records every credit check would pass and the packages would say so:
    the run stops, naming the checks; with those rules disabled it goes on."""
    from typer.testing import CliRunner

    from screening.cli import app, main
    from screening.run.config import default_config_path

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    credit = data / "credit_records.csv"
    credit.unlink()
    args = ["run", "--data", str(data), "--as-of", AS_OF]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(tmp_path / "o1")])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "no credit_records table" in err and "失信被执行人" in err and "remedy" in err
    assert "Traceback" not in err and not (tmp_path / "o1").exists()
    # a header-only export is no better: nothing was checked
    (data / "credit_records.csv").write_text(
        "统一社会信用代码,记录类型,列入日期\n", encoding="utf-8"
    )
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(tmp_path / "o1")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "header-only" in err and "remedy" in err
    cfg = tmp_path / "cfg"
    shutil.copytree(default_config_path().parent, cfg)
    rules = (cfg / "knockouts.yaml").read_text(encoding="utf-8")
    for kind in ("credit_active", "tax_grade", "unreadable_credit_record"):
        marker = f"    kind: {kind}\n    enabled: true\n"
        assert marker in rules
        rules = rules.replace(marker, marker.replace("true", "false"))
    (cfg / "knockouts.yaml").write_text(rules, encoding="utf-8")
    result = CliRunner().invoke(
        app, [*args, "--out", str(tmp_path / "o2"), "--config", str(cfg / "run.toml")]
    )
    assert result.exit_code == 0, result.output


def test_an_ambiguous_listing_holds_back_every_firm_it_may_name(tmp_path):
    """A 失信 listing given only by a name that fits two registry firms (有限公司 /
    有限责任公司 share a key) is linked to neither; before, both were pushed. Now both are
    held back, the detail names the record, and 需要注意 says how to resolve it."""
    from screening.cli import main

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    ent = pd.read_csv(data / "enterprises.csv", encoding="gbk", dtype=str)
    alive = ent.index[ent["登记状态"] == "存续"]
    x, y, z = alive[20], alive[21], alive[22]
    base = "郑州歧义测试科技"
    ent.loc[x, "企业名称"] = base + "有限公司"
    ent.loc[y, "企业名称"] = base + "有限责任公司"
    ent.loc[[x, y], "曾用名"] = ""
    ent.loc[[x, y], "成立日期"] = "2015-01-01"
    # two long names one character apart: a third spelling is a fuzzy near-match to both,
    # which may be a firm outside the registry: listed, not held back
    v, w = alive[23], alive[24]
    near = "河南省郑州市歧义测试智能装备制造研究"
    ent.loc[v, "企业名称"] = near + "院有限公司"
    ent.loc[w, "企业名称"] = near + "所有限公司"
    ent.loc[[v, w], "曾用名"] = ""
    ent.to_csv(data / "enterprises.csv", index=False, encoding="gbk")
    credit = data / "credit_records.csv"
    columns = pd.read_csv(credit, encoding="gbk", dtype=str, nrows=0).columns
    rows = [
        # the name as neither firm writes it: ambiguous between x and y
        ["", base + "股份有限公司", "失信被执行人", "2026-03-01", "", "", "", "A-1", "法院"],
        # the same kind of name on a listing that is over: holds nothing back
        ["", base + "股份有限公司", "失信被执行人", "2020-03-01", "2021-03-01", "", "", "A-2", "法院"],
        ["", near + "室有限公司", "失信被执行人", "2026-03-01", "", "", "", "A-3", "法院"],
        # a penalty of unknown severity, over if minor, active if serious: held and listed
        ["", base + "股份有限公司", "行政处罚", "2025-03-01", "", "", "", "A-4", "市场监管"],
    ]  # fmt: skip
    pd.DataFrame(rows, columns=columns).to_csv(
        credit, mode="a", header=False, index=False, encoding="gbk"
    )
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["run", "--data", str(data), "--as-of", AS_OF, "--out", str(out)])
    assert exc.value.code == 0
    screened = pd.read_csv(out / "screened.csv", dtype=str).set_index("uscc")
    for code in ent.loc[[x, y], "统一社会信用代码"]:
        assert screened.loc[code, "status"] == "knocked_out", code
        assert "unreadable_credit_record@2026-03-01#A-1" in _rules(screened, code)
        assert "unreadable_credit_record@2025-03-01#A-4" in _rules(screened, code)
        assert "A-2" not in _rules(screened, code)
        assert "对应 2 家企业" in str(screened.loc[code, "reason"])
    assert "A-1" not in _rules(screened, ent.loc[z, "统一社会信用代码"])
    for code in ent.loc[[v, w], "统一社会信用代码"]:
        assert "A-3" not in _rules(screened, code), code
    report = json.loads((out / "run_report.json").read_text(encoding="utf-8"))
    warned = [w for w in report["warnings"] if "该名称对应多家企业" in w]
    assert len(warned) == 1 and "2 条" in warned[0] and "2 家参评企业" in warned[0]
    unlinked = pd.read_csv(out / "unlinked.csv", dtype=str)
    amb = unlinked.loc[unlinked["cause"] == "ambiguous"].set_index("record_id")
    assert sorted(amb.index) == ["A-1", "A-3", "A-4"]  # every record held back is listed
    assert sorted(amb.loc["A-1", "candidates"].split(";")) == sorted(
        ent.loc[[x, y], "统一社会信用代码"]
    )
    assert sorted(amb.loc["A-3", "candidates"].split(";")) == sorted(
        ent.loc[[v, w], "统一社会信用代码"]
    )
