"""Knock-out rules: each fires with its record and date; an oracle checks the tax grade."""

from __future__ import annotations

import hypothesis.strategies as st
import pandas as pd
from hypothesis import given, settings

from features import latest_tax_ratings
from screening.run.knockouts import evaluate_knockouts, summarise_fired
from tests.run._data import AS_OF, USCC, build_inputs, shipped_rules


def _fired(inputs=None):
    inputs = inputs or build_inputs()
    return evaluate_knockouts(
        shipped_rules(),
        enterprises=inputs.tables["enterprises"],
        active_records=inputs.active_records,
        credit_records=inputs.tables["credit_records"],
        matrix=inputs.matrix,
        pledgeable=inputs.pledgeable,
        as_of=AS_OF,
    )


def test_each_rule_fires_with_its_record():
    fired = _fired()
    got = {(r.uscc, r.rule_id): r for r in fired.itertuples()}
    b = got[(USCC["B"], "dishonest_debtor")]
    assert (b.record_id, b.record_date) == ("(2026)豫01执123号", pd.Timestamp("2026-03-01"))
    assert got[(USCC["C"], "registry_status")].detail == "登记状态：吊销"
    d = got[(USCC["D"], "tax_grade_cd")]
    assert (d.record_id, d.record_date) == ("TAX-2025", pd.Timestamp("2026-04-15"))
    assert got[(USCC["E"], "serious_penalty")].record_id == "郑开市监罚〔2026〕7号"
    assert (USCC["E"], "abnormal_operation") in got
    assert {(USCC["G"], "no_valid_patent"), (USCC["G"], "no_pledgeable_patent")} <= set(got)
    # firm A: tax grade A and a *general* penalty whose window ended: nothing fires
    assert not (fired["uscc"] == USCC["A"]).any()


def test_disabled_rule_never_fires():
    rules = shipped_rules()
    from dataclasses import replace

    off = replace(
        rules, rules=tuple(replace(r, enabled=r.id != "dishonest_debtor") for r in rules.rules)
    )
    inputs = build_inputs()
    fired = evaluate_knockouts(
        off,
        enterprises=inputs.tables["enterprises"],
        active_records=inputs.active_records,
        credit_records=inputs.tables["credit_records"],
        matrix=inputs.matrix,
        pledgeable=inputs.pledgeable,
        as_of=AS_OF,
    )
    assert "dishonest_debtor" not in set(fired["rule_id"])


def test_summary_lists_every_firing_in_rule_order():
    summary = summarise_fired(_fired()).set_index("uscc")
    assert summary.at[USCC["G"], "rules_fired"] == "no_valid_patent;no_pledgeable_patent"
    assert summary.at[USCC["E"], "ko_reasons"].startswith("经营异常名录：经营异常记录 ABN-2025-88")


def test_future_tax_rating_is_ignored():
    inputs = build_inputs()
    credit = inputs.tables["credit_records"]
    later = credit.iloc[[5]].assign(
        start_date=pd.Timestamp("2026-12-01"), value="D", record_id="TAX-FUTURE"
    )
    inputs.tables["credit_records"] = pd.concat([credit, later], ignore_index=True)
    fired = _fired(inputs)
    assert not ((fired["uscc"] == USCC["A"]) & (fired["rule_id"] == "tax_grade_cd")).any()


ratings = st.lists(
    st.tuples(
        st.sampled_from(["F1", "F2", "F3"]),
        st.integers(0, 40),  # month offset from 2024-01
        st.sampled_from(list("ABMCD")),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ratings)
def test_latest_tax_grade_matches_row_by_row_oracle(rows):
    frame = pd.DataFrame(
        {
            "uscc": [r[0] for r in rows],
            "record_type": "tax_rating",
            "start_date": [pd.Timestamp("2024-01-01") + pd.DateOffset(months=r[1]) for r in rows],
            "value": [r[2] for r in rows],
            "record_id": [f"id{i}" for i in range(len(rows))],
        }
    )
    as_of = pd.Timestamp("2026-01-31")
    got = latest_tax_ratings(frame, as_of).set_index("uscc")["value"].to_dict() if rows else {}
    worse = "ABMCD"
    expected = {}
    for firm in {r[0] for r in rows}:
        known = [
            (pd.Timestamp("2024-01-01") + pd.DateOffset(months=m), worse.index(v), v)
            for f, m, v in rows
            if f == firm and pd.Timestamp("2024-01-01") + pd.DateOffset(months=m) <= as_of
        ]
        if known:
            expected[firm] = max(known)[2]
    assert got == expected


def test_each_passed_check_shows_the_newest_record_it_reads():
    """One newest credit record of any type was the date beside every credit check: a
    2026-09-29 tax-violation record dated the tax-rating check, whose newest rating was
    2026-04-30. The registry extract has no date and says so."""
    from screening.run.knockouts import source_dates

    rules = [r for r in shipped_rules().rules if r.enabled]
    credit = pd.DataFrame(
        {
            "record_type": [
                "tax_rating",
                "major_tax_violation",
                "admin_penalty",
                "admin_penalty",
                "tax_rating",
                "admin_penalty",
            ],
            "severity": [None, None, "serious", "minor", None, None],
            "start_date": pd.to_datetime(
                ["2026-04-30", "2026-09-29", "2026-02-01", "2026-08-01", "2026-12-31", "2026-03-15"]
            ),  # fmt: skip
        }
    )
    patents = pd.DataFrame({"grant_date": pd.to_datetime(["2026-09-01", "2027-01-01"])})
    events = pd.DataFrame({"event_date": pd.to_datetime(["2026-09-20"])})
    tables = {"credit_records": credit, "patents": patents, "patent_events": events}
    got = source_dates(tables, pd.Timestamp("2026-09-30"), rules)
    assert got["tax_grade_cd"] == pd.Timestamp(
        "2026-04-30"
    )  # the 2026-12-31 rating is not known yet
    assert got["major_tax_violation"] == pd.Timestamp("2026-09-29")
    # serious penalties and those of unknown severity (the rule reads them too), not minor
    assert got["serious_penalty"] == pd.Timestamp("2026-03-15")
    assert got["dishonest_debtor"] is None and got["registry_status"] is None
    assert got["no_pledgeable_patent"] == pd.Timestamp("2026-09-20")


def test_negative_records_and_nominations_that_reach_no_firm_are_warned():
    """An active 失信 record whose name fit two firms (one's name, the other's former name)
    was dropped without a trace, and a nomination of an unknown firm only counted. The
    ambiguous records come first, and every one is in unlinked.csv."""
    from screening.run.pipeline import unlinked_records, unlinked_warnings

    active = pd.DataFrame(
        {
            "uscc": [None] * 5,
            "name": ["查无此人有限公司", "甲公司", "乙公司", "新乡永润生物工程有限公司", None],
            "record_type": ["abnormal_operation"] * 3 + ["dishonest_debtor", "abnormal_operation"],
            "start_date": pd.to_datetime(["2026-02-03"] * 3 + ["2026-05-01", "2026-01-01"]),
            "record_id": [None, None, None, "(2026)豫07执1号", "(2026)豫01执1号"],
            "match_method": ["unmatched"] * 3 + ["ambiguous", "unmatched"],
        }
    )
    noms = pd.DataFrame(
        {
            "uscc": [USCC["A"], None],
            "name": ["甲", None],
            "nominated_by": ["郑州市知识产权局", "安阳市市场监督管理局"],
            "match_method": ["uscc", "unmatched"],
            "uscc_as_written": [USCC["A"], "91410100123456788Y"],
        }
    )
    table = unlinked_records(active, noms)
    assert len(table) == 6 and table["kind"].tolist()[:2] == ["credit_record", "credit_record"]
    assert table["name"].iloc[0] == "新乡永润生物工程有限公司"  # ambiguous first
    records, nominations = unlinked_warnings(table)
    assert records.startswith(
        "5 条在核查日有效的负面信用记录未能关联到企业（名称对应多家企业 1 条、未找到企业 4 条）"
    )
    assert "新乡永润生物工程有限公司（失信被执行人，2026-05-01 起，名称对应多家企业）" in records
    assert records.endswith("等，完整清单见 unlinked.csv")
    assert nominations == (
        "1 条推荐未能关联到登记企业（信用代码或名称不在登记数据中），未参与筛选："
        "91410100123456788Y（安阳市市场监督管理局）（见 unlinked.csv）"
    )
    nameless = unlinked_warnings(unlinked_records(active.iloc[[4]], None))[0]
    assert "文书号 (2026)豫01执1号（经营异常" in nameless and "nan" not in nameless
    assert unlinked_warnings(unlinked_records(active.iloc[:0], noms.iloc[:1])) == []
    # no nominating office: said so, not "nan"
    anonymous = unlinked_warnings(unlinked_records(active.iloc[:0], noms.assign(nominated_by=None)))
    assert anonymous[0].endswith("91410100123456788Y（推荐单位未注明）（见 unlinked.csv）")


def test_a_rejected_rating_with_a_past_end_date_still_holds_its_firm():
    """A tax rating is no listing: an end date on its row says nothing (the accepted path
    ignores it), so a garbled D rating that is the firm's latest holds it back whatever
    its row's end date; a listing whose end date is over does not."""
    from screening.run.knockouts import held_back_records

    as_of = pd.Timestamp("2026-06-30")
    rejected = pd.DataFrame(
        {
            "source_row": [1, 2],
            "uscc": [USCC["A"], USCC["B"]],
            "record_type": ["tax_rating", "dishonest_debtor"],
            "severity": [None, None],
            "value": ["D级", None],
            "start_date": pd.to_datetime(["2026-05-10", "2024-01-01"]),
            "end_date": pd.to_datetime(["2026-06-01", "2025-01-01"]),
            "end_unread": [False, False],
            "record_id": ["T-1", "J-1"],
            "reason": ["等级无法识别", "严重程度无法识别"],
        }
    )
    held = held_back_records(rejected, as_of, shipped_rules())
    assert held["record_id"].tolist() == ["T-1"]


def test_each_passed_check_states_the_firms_own_facts():
    """Credit-officer review: the date beside a passed check is the source's newest record,
    the same for every firm, and the firm's own tax grade never reached the bank. Each check
    a detailed firm passed now says what it found for that firm: its latest rating and date,
    its past listing of a rule's type with when it began and ended, its patent counts."""
    from screening.run.knockouts import passed_check_details

    inputs = build_inputs()
    credit = inputs.tables["credit_records"]
    past = pd.DataFrame(
        {
            "uscc": [USCC["A"], USCC["A"], USCC["A"], USCC["H"], USCC["A"]],
            "record_type": [
                "abnormal_operation", "abnormal_operation", "abnormal_operation", "admin_penalty",
                "admin_penalty",
            ],
            "start_date": pd.to_datetime(
                ["2022-03-01", "2024-07-06", "2026-12-01", "2021-05-01", "2026-06-01"]
            ),
            "end_date": pd.to_datetime(["2022-09-01", "2025-01-04", None, "2022-05-01", None]),
            # H's penalty and A's listed one: severity not given
            "severity": [pd.NA, pd.NA, pd.NA, pd.NA, pd.NA],
            "record_id": ["ABN-1", "ABN-2", "ABN-LATER", "罚-未注明", "罚-在期"],
        }
    ).astype({"uscc": "str", "record_type": "str", "record_id": "str", "severity": "str"})  # fmt: skip
    credit = pd.concat([credit, past], ignore_index=True)
    from screening.run.pipeline import _with_tax_grade

    pledgeable = inputs.pledgeable.loc[inputs.pledgeable["pledgeable"]].groupby("uscc").size()
    # the firms' whitelist rows: their pledgeable counts and the tax rating every view states
    listed = _with_tax_grade(pd.DataFrame({"uscc": [USCC["A"], USCC["H"]]}), credit, AS_OF)
    listed = listed.assign(pledgeable_count=listed["uscc"].map(pledgeable)).set_index("uscc")
    got = passed_check_details(
        shipped_rules(),
        [USCC["A"], USCC["H"]],
        enterprises=inputs.tables["enterprises"],
        credit_records=credit,
        matrix=inputs.matrix,
        listed=listed,
        as_of=AS_OF,
        labels={"valid_invention_count": "有效发明专利数"},
    )
    enabled = [r.id for r in shipped_rules().rules if r.enabled]
    assert len(got) == 2 * len(enabled)  # every enabled rule, for each firm
    a = dict(
        zip(
            got.loc[got["uscc"] == USCC["A"], "rule_id"],
            got.loc[got["uscc"] == USCC["A"], "detail"],
            strict=True,
        )
    )
    h = dict(
        zip(
            got.loc[got["uscc"] == USCC["H"], "rule_id"],
            got.loc[got["uscc"] == USCC["H"], "detail"],
            strict=True,
        )
    )
    assert list(a) == enabled
    assert a["tax_grade_cd"] == "最近评价 A 级（2026-04-15）"
    # the two past listings are counted; the one dated after as_of is not known yet
    assert a["abnormal_operation"] == (
        "曾有 2 条，最近一条 2024-07-06 列入、2025-01-04 移出或期满，核查日已不在有效期内"
    )
    # A's general penalty is no record of a rule that counts serious ones only; its penalty
    # of unknown severity, still listed, is said to be (a firm passes with it only while
    # the unreadable-record check is off)
    assert a["serious_penalty"].startswith("最近一条 2026-06-01 列入，核查日仍在有效期内")
    assert a["registry_status"] == "登记状态：存续"
    assert a["no_pledgeable_patent"] == f"可质押专利 {pledgeable[USCC['A']]} 件"
    n = int(inputs.matrix.set_index("uscc").loc[USCC["A"], "valid_invention_count"])
    assert a["no_valid_patent"].startswith(f"有效发明专利数 {n}")
    assert h["tax_grade_cd"] == "无纳税信用评价记录"
    assert h["abnormal_operation"] == "无此类记录"
    # a past penalty of unknown severity is one a serious-penalty rule would have read
    assert h["serious_penalty"].startswith("曾有 1 条，最近一条 2021-05-01 列入、2022-05-01")
