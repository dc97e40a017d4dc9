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
    firms = ent.loc[ent["登记状态"] == "存续", ["统一社会信用代码", "企业名称"]].head(9)
    (u1, n1), (u2, n2), (u3, n3), (u4, n4), (u5, n5), (u6, n6), (u7, n7), (u8, n8), (u9, n9) = (
        firms.to_numpy()
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
        # a grade written 'D级' is rejected as unknown: it may be a D, held back
        [u8, n8, "纳税信用等级", "2025-04-01", "", "", "D级", "T-8", "税务"],
        # a general (一般) penalty with a bad date: only serious ones knock out, it hides nothing
        [u9, n9, "行政处罚", "2025-13-01", "", "一般", "", "T-9", "市场监管"],
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
    (_, u2, u3, _, _, u6, u7, u8, _), screened, report, _ = run
    for uscc in (u2, u3, u6, u7, u8):
        assert "unreadable_credit_record" in _rules(screened, uscc), uscc
        assert screened.loc[uscc, "status"] == "knocked_out"
    # the bundled sample's own messy rows (record type 黑名单 …) are held back too: the
    # warning counts every firm the rule holds back, and names the remedy
    held = screened["rules_fired"].fillna("").str.contains("unreadable_credit_record")
    warned = [w for w in report["warnings"] if "被拒收的信用记录" in w]
    assert len(warned) == 1 and f"指向 {int(held.sum())} 家参评企业" in warned[0]
    assert "rejects.csv" in warned[0]


def test_rejected_records_that_hide_nothing_or_come_later_do_not(run):
    (_, _, _, u4, u5, _, _, _, u9), screened, _, _ = run
    for uscc in (u4, u5, u9):
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
    marker = "    kind: unreadable_credit_record\n"
    assert marker in rules
    (cfg / "knockouts.yaml").write_text(
        rules.replace(marker, marker + "    enabled: false\n"), encoding="utf-8"
    )
    out = tmp_path / "out"
    args = ["run", "--data", str(_FOLDERS["data"]), "--as-of", AS_OF, "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--config", str(cfg / "run.toml")])
    assert result.exit_code == 0, result.output
    screened = pd.read_csv(out / "screened.csv", dtype=str)
    assert not screened["rules_fired"].fillna("").str.contains("unreadable").any()
    report = json.loads((out / "run_report.json").read_text(encoding="utf-8"))
    assert not [w for w in report["warnings"] if "被拒收的信用记录" in w]
