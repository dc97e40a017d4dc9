"""Changes since the previous push: added, removed with the reason, grade up/down."""

from __future__ import annotations

import pandas as pd
import pytest

from data_contracts.errors import DataError
from screening.run.changes import compare, read_previous
from tests.run._data import AS_OF, USCC, build_inputs, make_config, run_into


def test_compare_with_previous_run(tmp_path, scorer):
    config = make_config()
    prev_s, _ = run_into(tmp_path / "prev", build_inputs(), scorer, config, AS_OF)
    # next quarter: firm A gets a dishonest-debtor record, firm K loses its programme and patents
    inputs = build_inputs()
    rec = inputs.active_records.iloc[[0]].assign(uscc=USCC["A"], record_id="(2026)豫01执999号")
    inputs.active_records = pd.concat([inputs.active_records, rec], ignore_index=True)
    inputs.matrix.loc[
        inputs.matrix["uscc"] == USCC["K"], ["prog_high_tech", "valid_invention_count"]
    ] = 0.0
    inputs.matrix.loc[inputs.matrix["uscc"] == USCC["H"], "valid_invention_count"] = 12.0
    _, report = run_into(
        tmp_path / "now", inputs, scorer, config, AS_OF, previous=read_previous(tmp_path / "prev")
    )
    changes = report["changes"]
    assert changes["previous_batch_id"] == "2026Q3-0000test"
    assert [a["uscc"] for a in changes["added"]] == [USCC["H"]]
    removed = {r["uscc"]: r["reason"] for r in changes["removed"]}
    assert removed[USCC["A"]].startswith("否决规则：dishonest_debtor@2026-03-01#(2026)豫01执999号")
    assert removed[USCC["K"]].startswith("低于门槛")
    html = (tmp_path / "now" / "run_report.html").read_text(encoding="utf-8")
    assert "与上批次（2026Q3-0000test）相比" in html


def test_a_firm_left_out_by_a_cap_is_removed_for_the_cap(tmp_path, scorer):
    """71 of 90 removals read "低于门槛（当前等级 T5）" for firms at T5 that a city cap left
    out: the changes name the cap, as their own screened.csv reason does."""
    prev, _ = run_into(tmp_path / "prev", build_inputs(), scorer, make_config(), AS_OF)
    capped = make_config(region_caps={"410100": 1})
    now, report = run_into(
        tmp_path / "now",
        build_inputs(),
        scorer,
        capped,
        AS_OF,
        previous=read_previous(tmp_path / "prev"),
    )
    removed = {r["uscc"]: r["reason"] for r in report["changes"]["removed"]}
    assert removed and set(removed.values()) == {"超出地区名额（region_code 410100 上限 1）"}
    reason = now.screened.set_index("uscc")["reason"]
    assert all(reason[u].startswith("超出地区名额") for u in removed)


def test_grade_moves():
    prev = pd.DataFrame(
        {
            "uscc": ["a", "b"],
            "name": ["甲", "乙"],
            "status": "whitelisted",
            "grade": ["T3", "T2"],
            "rules_fired": None,
        }
    )
    now = prev.assign(grade=["T2", "T4"])
    out = compare(now, prev, "2026Q2-x")
    assert [(g["uscc"], g["from"], g["to"]) for g in out["grade_up"]] == [("a", "T3", "T2")]
    assert [(g["uscc"], g["from"], g["to"]) for g in out["grade_down"]] == [("b", "T2", "T4")]


def test_previous_must_be_a_run_folder(tmp_path):
    with pytest.raises(DataError, match="holds no screened.parquet"):
        read_previous(tmp_path)


def test_a_damaged_or_later_previous_run_is_refused(tmp_path):
    """--previous must be an earlier run's output: a damaged parquet, one without the run's
    columns, or a run as of a later date is a two-line error, not a traceback or a change
    report read backwards."""
    import json

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "screened.parquet").write_bytes(b"\x00not parquet\xff" * 10)
    with pytest.raises(DataError, match="cannot be read"):
        read_previous(bad)
    other = tmp_path / "other"
    other.mkdir()
    pd.DataFrame({"name": ["x"]}).to_parquet(other / "screened.parquet")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['uscc', 'status', 'grade'\]"):
        read_previous(other)
    later = tmp_path / "later"
    later.mkdir()
    pd.DataFrame({"uscc": ["a"], "status": ["whitelisted"], "grade": ["T3"]}).to_parquet(
        later / "screened.parquet"
    )
    (later / "run_report.json").write_text(
        json.dumps({"batch_id": "2026Q3-x", "as_of": "2026-09-30"}), encoding="utf-8"
    )
    with pytest.raises(DataError, match="after this run's 2026-06-30"):
        read_previous(later, pd.Timestamp("2026-06-30"))
    frame, batch = read_previous(later, pd.Timestamp("2026-12-31"))
    assert batch == "2026Q3-x" and list(frame["uscc"]) == ["a"]
    (later / "run_report.json").unlink()
    with pytest.raises(DataError, match="holds no run_report.json"):
        read_previous(later, pd.Timestamp("2026-12-31"))


@pytest.mark.parametrize(
    ("column", "values", "match"),
    [
        ("grade", [42, 7], r"grade 42 is not T1…T10"),
        ("uscc", [None, "b"], "empty or non-text codes"),
        ("uscc", ["a", "a"], "uscc a is listed twice"),
        ("status", ["whitelisted", "approved"], "status 'approved' is not one a run writes"),
    ],
)
def test_a_previous_run_with_made_up_contents_is_refused(tmp_path, column, values, match):
    """Contents a run never writes would give made-up changes (a grade of 42 read as T2→T5
    drops, a missing code as 'added'): refused with the reason."""
    import json

    prev = tmp_path / "prev"
    prev.mkdir()
    frame = pd.DataFrame({"uscc": ["a", "b"], "status": ["whitelisted"] * 2, "grade": ["T1", "T2"]})
    frame[column] = pd.Series(values, dtype="object")
    frame.to_parquet(prev / "screened.parquet")
    (prev / "run_report.json").write_text(json.dumps({"as_of": "2026-06-30"}), encoding="utf-8")
    with pytest.raises(DataError, match=match):
        read_previous(prev, pd.Timestamp("2026-09-30"))
