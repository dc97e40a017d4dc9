"""Hand-made cases: one small portfolio whose every indicator was worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features import (
    active_credit_records,
    active_programmes,
    build_feature_matrix,
    latest_tax_ratings,
    pledgeable_patents,
    resolve_entities,
)

D = pd.Timestamp
AS_OF = D("2024-06-30")
A, B, C = "郑州甲科技有限公司", "郑州乙（河南）电子有限责任公司", "郑州丙科技有限公司"


def yrs(a: str, b: str) -> float:
    return (D(b) - D(a)).days / 365.25


@pytest.fixture
def case(mk):
    ent = [
        mk.firm(1, A, former_names="郑州老甲有限公司", established=D("2010-05-01"),
                industry_code="C3919", size="small", employees=99, registered_capital=500.0,
                revenue=1000.0, rd_expense=50.0),
        mk.firm(2, B, industry_code="3919"),
        mk.firm(3, C, industry_code="I6510"),
    ]  # fmt: skip
    p = mk.patent
    pats = [
        # P1 valid SEI invention with PCT family
        p(2015, 1, 1, app_date=D("2015-03-01"), pub_date=D("2016-09-01"),
          grant_date=D("2018-05-01"), applicants=A, ipc_main="H01M 10/052",
          ipc_all="H01M 10/052;H01M 4/13;B60L 50/64", claims=10, forward_citations=4,
          family_size=3, pct=True, inventors="张工"),
        # P2 lapsed for fees then restored; older than 10 years
        p(2012, 1, 2, app_date=D("2012-01-10"), pub_date=D("2013-07-01"),
          grant_date=D("2015-01-01"), applicants=A, ipc_main="F16H 1/00", claims=6),
        # P3 utility co-owned with B (half-width brackets, 有限公司 form), pledged
        p(2019, 2, 3, app_date=D("2019-08-01"), grant_date=D("2020-01-15"),
          applicants=f"{A};郑州乙(河南)电子有限公司", ipc_main="F16H 1/00", inventors="王一;李二"),
        # P4 utility expired 2022-02-01
        p(2012, 2, 4, app_date=D("2012-02-01"), grant_date=D("2012-10-01"), applicants=A),
        # P5 pending invention
        p(2021, 1, 5, app_date=D("2021-09-01"), pub_date=D("2023-03-01"), applicants=A,
          inventors="王一;赵三"),
        # P6 rejected invention
        p(2018, 1, 6, app_date=D("2018-01-01"), pub_date=D("2019-07-01"), applicants=A),
        # P7 filed by C, transferred to A on 2023-10-01, licensed earlier
        p(2016, 1, 7, app_date=D("2016-01-01"), pub_date=D("2017-07-01"),
          grant_date=D("2019-01-01"), applicants=C, owners=A, ipc_main="G06F 17/30", claims=12),
        # P8 utility lapsed for fees (not restored)
        p(2017, 2, 8, app_date=D("2017-05-01"), grant_date=D("2018-01-01"), applicants=A),
        # P9 invention published after as_of: invisible
        p(2023, 1, 9, app_date=D("2023-01-01"), pub_date=D("2024-09-01"), applicants=A),
        # P10 partially invalidated, preserved, pledged once and released
        p(2014, 1, 10, app_date=D("2014-01-01"), pub_date=D("2015-07-01"),
          grant_date=D("2017-01-01"), applicants=A, ipc_main="A61K 31/00", claims=8),
    ]  # fmt: skip
    no = {i + 1: r["app_no"] for i, r in enumerate(pats)}
    ev = [
        {"app_no": no[2], "event_code": "CF01", "event_date": D("2020-03-01")},
        {"app_no": no[2], "event_code": "RR01", "event_date": D("2020-09-01")},
        {"app_no": no[3], "event_code": "PE01", "event_date": D("2021-01-01")},
        {"app_no": no[6], "event_code": "RJ01", "event_date": D("2021-05-01")},
        {"app_no": no[7], "event_code": "EE01", "event_date": D("2020-01-01")},
        {"app_no": no[7], "event_code": "TR01", "event_date": D("2023-10-01"),
         "from_party": C, "to_party": A},
        {"app_no": no[8], "event_code": "CF01", "event_date": D("2021-01-01")},
        {"app_no": no[10], "event_code": "IP01", "event_date": D("2022-01-01")},
        {"app_no": no[10], "event_code": "PP01", "event_date": D("2023-01-01")},
        {"app_no": no[10], "event_code": "PE01", "event_date": D("2019-01-01")},
        {"app_no": no[10], "event_code": "PC01", "event_date": D("2020-06-01")},
        {"app_no": "CN209910000000.0", "event_code": "CF01", "event_date": D("2020-01-01")},
    ]  # fmt: skip
    u1 = mk.uscc(1)
    cr = [
        {"uscc": u1, "record_type": "dishonest_debtor", "start_date": D("2023-01-01")},
        {"uscc": u1, "record_type": "abnormal_operation", "start_date": D("2020-01-01"),
         "end_date": D("2021-01-01")},
        {"uscc": u1, "record_type": "admin_penalty", "start_date": D("2022-01-01"),
         "severity": "serious"},
        {"uscc": u1, "record_type": "admin_penalty", "start_date": D("2023-03-01"),
         "severity": "general"},
        {"uscc": u1, "record_type": "tax_rating", "start_date": D("2023-04-01"), "value": "B"},
        {"uscc": u1, "record_type": "tax_rating", "start_date": D("2024-04-01"), "value": "A"},
        {"uscc": u1, "record_type": "tax_rating", "start_date": D("2024-09-01"), "value": "C"},
        {"name": "郑州乙（河南）电子有限公司", "record_type": "serious_violation",
         "start_date": D("2024-01-01")},
    ]  # fmt: skip
    pr = [
        {"uscc": u1, "programme": "high_tech", "level": "national",
         "valid_from": D("2022-12-01"), "valid_to": D("2025-11-30"), "status": "valid"},
        {"uscc": u1, "programme": "ip_standard", "valid_from": D("2023-01-01"),
         "valid_to": D("2026-12-31"), "standard_version": "2013", "status": "valid"},
        {"uscc": u1, "programme": "little_giant", "level": "national",
         "valid_from": D("2023-01-01"), "valid_to": D("2026-01-01"), "status": "suspended"},
        {"uscc": u1, "programme": "tech_sme", "level": "city", "valid_from": D("2023-05-01")},
        {"name": "郑州老甲有限公司", "programme": "srdi_sme", "level": "provincial",
         "valid_from": D("2021-06-01"), "valid_to": D("2024-12-31")},
    ]  # fmt: skip
    data = mk.tables(ent, pats, ev, cr, pr)
    return data, no


def row(data, uscc, as_of=AS_OF):
    m = build_feature_matrix(pd.DataFrame({"uscc": [uscc], "as_of": [as_of]}), data)
    return m.iloc[0]


def test_grant_rate_is_the_filers_record_not_the_holders(case, mk):
    """P7, filed by C and granted, then sold to A: the grant is C's examination record."""
    data, _ = case
    c = row(data, mk.uscc(3))
    assert c["valid_invention_count"] == 0  # C holds nothing now
    assert c["invention_grant_rate"] == 1.0  # but its one filed invention was granted
    before_grant = row(data, mk.uscc(3), D("2018-12-31"))
    assert np.isnan(before_grant["invention_grant_rate"])  # pending then: nothing decided


def test_patent_indicators_of_firm_a(case, mk):
    data, _ = case
    r = row(data, mk.uscc(1))
    expect = {
        "valid_invention_count": 4,  # P1 P2 P7 P10
        "valid_utility_model_count": 1,  # P3
        "total_application_count": 8,  # all filed by A and known (not P7, not P9)
        "recent3y_application_count": 1,  # P5
        "pending_invention_count": 1,  # P5
        "filing_continuity_years": 1,  # 2021
        "invention_share": 0.8,
        "invention_grant_rate": 0.75,  # filed by A: P1 P2 P10 granted, P6 rejected (not P7)
        "ipc_subclass_breadth": 5,  # H01M B60L F16H G06F A61K
        "core_ipc_concentration": 0.4,  # F16H1 on P2 and P3
        "sei_invention_share": 0.75,  # P1 P7 P10 of 4
        "self_filed_share": 0.8,  # all but P7
        "avg_claims_per_invention": 9.0,
        "avg_patent_scope": 1.2,
        "cited_patent_share": 0.2,
        "avg_family_size": 3.0,
        "overseas_family_invention_count": 1,
        "high_value_invention_count": 4,  # P1 P7 P10 SEI, P2 older than 10 y
        "core_inventor_count": 1,  # 王一 on P3 and P5
        "invention_maintained_10y_count": 2,  # P2 P10
        "annuity_lapse_rate": 1 / 7,  # P8 of 7 granted in force in the window
        "invalidation_loss_count": 1,
        "preservation_litigation_count": 1,
        "co_owned_share": 0.2,
        "license_record_count": 1,
        "recent_transfer_out_count": 0,
        "recent_acquired_share": 0.2,  # P7
        "pledge_release_ratio": 0.5,  # P10 released, P3 not
        "currently_pledged_share": 0.2,  # P3
        "pledgeable_patent_count": 3,  # P1 P2 P7
        "pledgeable_invention_count": 3,
    }
    for k, v in expect.items():
        assert r[k] == pytest.approx(v), k
    years = sum(yrs(a, "2024-06-30") for a in
                ("2016-09-01", "2013-07-01", "2020-01-15", "2017-07-01", "2015-07-01"))  # fmt: skip
    assert r["forward_citations_per_year"] == pytest.approx(4 / years)
    ages = [yrs(a, "2024-06-30") for a in ("2015-03-01", "2012-01-10", "2016-01-01", "2014-01-01")]
    assert r["avg_invention_age_years"] == pytest.approx(np.mean(ages))
    rem = [yrs("2024-06-30", e) for e in
           ("2035-03-01", "2032-01-10", "2029-08-01", "2036-01-01", "2034-01-01")]  # fmt: skip
    assert r["avg_remaining_term_years"] == pytest.approx(np.mean(rem))
    assert r["pledgeable_avg_remaining_years"] == pytest.approx(np.mean([rem[0], rem[1], rem[3]]))


def test_credit_programme_and_firm_features_of_firm_a(case, mk):
    data, _ = case
    r = row(data, mk.uscc(1))
    assert r["credit_dishonest_debtor_active"] == 1  # default 2-year window
    assert r["credit_abnormal_operation_active"] == 0  # removed 2021
    assert r["credit_serious_penalty_active"] == 1  # serious: 3 years
    assert r["credit_admin_penalty_3y_count"] == 2
    assert r["credit_negative_3y_count"] == 3
    assert r["credit_days_since_negative"] == (AS_OF - D("2023-03-01")).days
    assert r["credit_tax_grade"] == 4  # A of 2024-04; the C of 2024-09 is not known yet
    assert (r["prog_high_tech"], r["prog_ip_standard"], r["prog_tech_sme"]) == (1, 1, 1)
    assert r["prog_srdi_sme"] == 1  # listed under the former name
    assert r["prog_little_giant"] == 0  # suspended
    assert r["prog_max_level"] == 3
    assert r["prog_years_held"] == pytest.approx(yrs("2021-06-01", "2024-06-30"))
    assert r["firm_age_years"] == pytest.approx(yrs("2010-05-01", "2024-06-30"))
    assert r["firm_log_employees"] == pytest.approx(math.log(100))
    assert r["firm_rd_intensity"] == pytest.approx(0.05)
    assert r["firm_size_rank"] == 2
    assert r["firm_industry_section"] == "C"


def test_2013_standard_certificate_is_void_after_2025(case, mk):
    data, _ = case
    assert row(data, mk.uscc(1), D("2025-12-31"))["prog_ip_standard"] == 1
    assert row(data, mk.uscc(1), D("2026-01-15"))["prog_ip_standard"] == 0


def test_tech_sme_without_valid_to_lasts_to_end_of_next_year(case, mk):
    data, _ = case
    assert row(data, mk.uscc(1), D("2024-12-31"))["prog_tech_sme"] == 1
    assert row(data, mk.uscc(1), D("2025-01-01"))["prog_tech_sme"] == 0


def test_co_owner_and_former_owner_see_their_share(case, mk):
    data, _ = case
    b = row(data, mk.uscc(2))
    assert b["valid_utility_model_count"] == 1  # P3, via normalised name
    assert b["co_owned_share"] == 1.0
    assert b["credit_serious_violation_active"] == 1  # record by name, 有限公司 form
    assert b["firm_industry_section"] == "C"  # division 39
    c_now = row(data, mk.uscc(3))
    assert c_now["valid_invention_count"] == 0  # P7 left on 2023-10-01
    assert c_now["recent_transfer_out_count"] == 1
    assert c_now["total_application_count"] == 1
    c_before = row(data, mk.uscc(3), D("2023-09-30"))
    assert c_before["valid_invention_count"] == 1
    assert c_before["recent_transfer_out_count"] == 0
    a_before = row(data, mk.uscc(1), D("2023-09-30"))
    assert a_before["valid_invention_count"] == 3


def test_lapse_and_restore_follow_event_dates(case, mk):
    data, _ = case
    # P2 lapsed on 2020-03-01 and was restored on 2020-09-01
    during = row(data, mk.uscc(1), D("2020-05-01"))
    after = row(data, mk.uscc(1), D("2020-10-01"))
    assert after["valid_invention_count"] - during["valid_invention_count"] == 1


def test_pledgeable_list_gives_reasons(case, mk):
    data, no = case
    pl = pledgeable_patents(data, pd.DataFrame({"uscc": [mk.uscc(1)], "as_of": [AS_OF]}))
    assert list(pl["app_no"]) == sorted([no[1], no[2], no[3], no[7], no[10]])
    by = pl.set_index("app_no")
    assert by.loc[no[3], "reason"] == "已质押未解除"
    assert by.loc[no[3], "co_owned"]
    assert "共有" in by.loc[no[3], "note"]
    assert by.loc[no[10], "reason"] == "处于保全状态"
    assert by.loc[[no[1], no[2], no[7]], "pledgeable"].all()
    assert by.loc[no[7], "owners"] == A
    long = pledgeable_patents(
        data, pd.DataFrame({"uscc": [mk.uscc(1)], "as_of": [AS_OF]}), min_remaining_years=9.0
    ).set_index("app_no")
    assert not long.loc[no[2], "pledgeable"]  # 7.5 years left
    assert long.loc[no[2], "reason"].startswith("剩余保护期7.5年")


def test_pledge_list_owner_names_before_a_transfer(case, mk):
    data, no = case
    pl = pledgeable_patents(data, pd.DataFrame({"uscc": [mk.uscc(3)], "as_of": ["2023-01-01"]}))
    assert pl.set_index("app_no").loc[no[7], "owners"] == C


def test_active_credit_records_and_tax_ratings(case, mk):
    data, _ = case
    links = resolve_entities(data)
    act = active_credit_records(links.credit_records, AS_OF)
    got = sorted(zip(act["uscc"], act["record_type"], strict=True))
    assert got == sorted([(mk.uscc(1), "dishonest_debtor"), (mk.uscc(1), "admin_penalty"),
                          (mk.uscc(2), "serious_violation")])  # fmt: skip
    dd = act[act["record_type"] == "dishonest_debtor"].iloc[0]
    assert dd["effective_end"] == D("2025-01-01")
    tax = latest_tax_ratings(links.credit_records, AS_OF)
    assert tax.set_index("uscc").loc[mk.uscc(1), "value"] == "A"


def test_active_programmes_lists_memberships(case, mk):
    data, _ = case
    links = resolve_entities(data)
    act = active_programmes(links.programmes, AS_OF)
    assert sorted(act["programme"]) == ["high_tech", "ip_standard", "srdi_sme", "tech_sme"]
    assert (act["uscc"] == mk.uscc(1)).all()
    assert act.set_index("programme").loc["tech_sme", "valid_to_effective"] == D("2024-12-31")


def test_rows_follow_input_order_and_duplicates(case, mk):
    data, _ = case
    pairs = pd.DataFrame(
        {
            "uscc": [mk.uscc(3), mk.uscc(1), mk.uscc(3)],
            "as_of": ["2024-06-30", "2020-01-01", "2024-06-30"],
        }
    )
    m = build_feature_matrix(pairs, data)
    assert list(m["uscc"]) == list(pairs["uscc"])
    assert list(m.columns[:2]) == ["uscc", "as_of"]
    pd.testing.assert_series_equal(m.iloc[0], m.iloc[2], check_names=False)


def test_pledge_state_follows_event_order_not_counts(mk):
    """Pledged = the last PE01 has no later PC01 (domain.md §7). A correction row (更正)
    repeating a release must not free a patent pledged again afterwards, a repeated pledge
    must not keep a released one pledged, and a release dated the same day as the pledge
    leaves it pledged (the order within a day is unknown)."""
    a = "郑州甲科技有限公司"
    pats = [
        mk.patent(2015, 1, i, app_date=D("2015-03-01"), grant_date=D("2018-05-01"), applicants=a)
        for i in range(1, 6)
    ]
    no = [p["app_no"] for p in pats]
    ev = [
        # 0: pledged, released (+ its 更正 repeat), pledged again → pledged
        (no[0], "PE01", "2021-07-23"), (no[0], "PC01", "2022-08-12"),
        (no[0], "PC01", "2022-08-12"), (no[0], "PE01", "2022-10-21"),
        # 1: pledge repeated by a correction, released → free
        (no[1], "PE01", "2021-01-05"), (no[1], "PE01", "2021-01-05"),
        (no[1], "PC01", "2023-09-24"),
        # 2: released and pledged again the same day → pledged
        (no[2], "PE01", "2020-01-01"), (no[2], "PC01", "2023-03-03"),
        (no[2], "PE01", "2023-03-03"),
        # 3: preserved, released, preserved again → preserved
        (no[3], "PP01", "2020-01-01"), (no[3], "PD01", "2021-01-01"),
        (no[3], "PP01", "2022-01-01"),
        # 4: a release with no pledge on record, then nothing → free
        (no[4], "PC01", "2022-01-01"),
    ]  # fmt: skip
    events = [{"app_no": n, "event_code": c, "event_date": D(d)} for n, c, d in ev]
    data = mk.tables([mk.firm(1, a)], pats, events, [], [])
    pairs = pd.DataFrame({"uscc": [mk.uscc(1)], "as_of": [AS_OF]})
    pl = pledgeable_patents(data, pairs).set_index("app_no")
    assert pl.loc[no, "pledged"].tolist() == [True, False, True, False, False]
    assert pl.loc[no, "preserved"].tolist() == [False, False, False, True, False]
    assert pl.loc[no, "pledgeable"].tolist() == [False, True, False, False, True]
    m = build_feature_matrix(pairs, data).iloc[0]
    assert m["pledgeable_patent_count"] == 2
    assert m["currently_pledged_share"] == pytest.approx(2 / 5)
    # releases ÷ pledges older than a year, per patent min(PC01, old PE01): 0 → min(1, 2),
    # 1 → min(1, 1) (its repeated PE01 is one pledge, else 1 of 2), 2 → min(1, 2)
    assert m["pledge_release_ratio"] == pytest.approx(3 / 5)
    assert m["preservation_litigation_count"] == 1


def test_industry_sections_at_the_division_boundaries():
    """GB/T 4754-2017: R (culture, sport, entertainment) is divisions 86–90, S starts at 91."""
    from features._firm import industry_section

    codes = pd.Series(["9011", "R9011", "9101", "8610", "9700", "1310", "0610", "x"])
    assert list(industry_section(codes)) == ["R", "R", "S", "R", "T", "C", "B", np.nan]


def test_a_standard_certificate_without_version_issued_before_2024_is_a_2013_one(mk):
    """贯标 lists often have no version column: a certificate issued before GB/T 29490-2023
    took effect (2024-01-01) can only be a 2013 one, void after 2025-12-31."""
    a, b = "郑州甲科技有限公司", "郑州乙科技有限公司"
    pr = [
        {"uscc": mk.uscc(1), "programme": "ip_standard", "valid_from": D("2023-06-01"),
         "valid_to": D("2026-05-31")},
        {"uscc": mk.uscc(2), "programme": "ip_standard", "valid_from": D("2024-03-01"),
         "valid_to": D("2027-02-28")},
    ]  # fmt: skip
    data = mk.tables([mk.firm(1, a), mk.firm(2, b)], [], [], [], pr)
    pairs = pd.DataFrame(
        {"uscc": [mk.uscc(1), mk.uscc(1), mk.uscc(2)],
         "as_of": [D("2025-12-31"), D("2026-01-15"), D("2026-01-15")]}
    )  # fmt: skip
    assert build_feature_matrix(pairs, data)["prog_ip_standard"].tolist() == [1, 0, 1]
    active = active_programmes(data["programmes"], D("2026-01-15"))
    assert active["uscc"].tolist() == [mk.uscc(2)]


def test_a_withdrawal_restored_by_rr01_is_pending_again(mk):
    """WD01 (deemed withdrawn) then RR01 (权利恢复): the application is pending again, not
    decided against; a rejection (RJ01) stays decided."""
    a = "郑州甲科技有限公司"
    pats = [
        mk.patent(2020, 1, i, app_date=D("2020-03-01"), pub_date=D("2020-09-01"), applicants=a)
        for i in (1, 2, 3)
    ]
    no = [p["app_no"] for p in pats]
    ev = [
        (no[0], "WD01", "2021-05-01"), (no[0], "RR01", "2021-08-01"),  # restored
        (no[1], "WD01", "2022-05-01"),  # withdrawn
        (no[2], "RR01", "2021-01-01"), (no[2], "WD01", "2022-02-01"),  # restored, then withdrawn
    ]  # fmt: skip
    events = [{"app_no": n, "event_code": c, "event_date": D(d)} for n, c, d in ev]
    data = mk.tables([mk.firm(1, a)], pats, events, [], [])
    pairs = pd.DataFrame({"uscc": [mk.uscc(1)] * 2, "as_of": [D("2021-06-30"), D("2024-01-01")]})
    m = build_feature_matrix(pairs, data)
    assert m["pending_invention_count"].tolist() == [2, 1]  # mid-2021: no[0] withdrawn
    assert m["invention_grant_rate"].tolist() == [0.0, 0.0]


def test_a_transfer_without_assignor_is_a_transfer_out_of_the_holder(mk):
    """A TR01 whose from_party is empty moves the patent away from whoever held it (the
    holdings already read it so): it counts as a transfer out of that holder."""
    a, b = "郑州甲科技有限公司", "郑州乙科技有限公司"
    pats = [
        mk.patent(
            2015, 1, i, app_date=D("2015-03-01"), grant_date=D("2018-05-01"), applicants=a, owners=b
        )
        for i in (1, 2)
    ]
    no = [p["app_no"] for p in pats]
    events = [
        {"app_no": no[0], "event_code": "TR01", "event_date": D("2023-03-01"),
         "from_party": a, "to_party": b},
        {"app_no": no[1], "event_code": "TR01", "event_date": D("2023-03-01"), "to_party": b},
    ]  # fmt: skip
    data = mk.tables([mk.firm(1, a), mk.firm(2, b)], pats, events, [], [])
    pairs = pd.DataFrame(
        {"uscc": [mk.uscc(1), mk.uscc(1), mk.uscc(2)],
         "as_of": [D("2023-02-28"), D("2023-03-01"), D("2023-03-01")]}
    )  # fmt: skip
    m = build_feature_matrix(pairs, data)
    assert m["valid_invention_count"].tolist() == [2, 0, 2]
    assert m["recent_transfer_out_count"].tolist() == [0, 2, 0]


def test_pledge_release_ratio_counts_the_firms_own_pledges(mk):
    """质押履约比 is about the firm's pledges: a pledged patent it no longer holds because it
    went to the lender without a release (a default) still counts, unreleased; a pledge a
    previous owner made and released is not the acquirer's."""
    a, b, bank = "郑州甲科技有限公司", "郑州乙科技有限公司", "某银行股份有限公司"
    p1, p2 = (
        mk.patent(2015, 1, i, app_date=D("2015-03-01"), grant_date=D("2018-05-01"),
                  applicants=a, owners=owner)
        for i, owner in ((1, bank), (2, b))
    )  # fmt: skip
    ev = [
        # p1: pledged by 甲, never released, transferred to the lender, who then releases
        # the pledge on what is now its own patent (not 甲's release)
        (p1["app_no"], "PE01", "2022-11-08"), (p1["app_no"], "TR01", "2024-03-22", a, bank),
        (p1["app_no"], "PC01", "2024-04-01"),
        # p2: pledged by 甲 and released, then sold to 乙
        (p2["app_no"], "PE01", "2020-02-01"), (p2["app_no"], "PC01", "2021-02-01"),
        (p2["app_no"], "TR01", "2022-01-10", a, b),
    ]  # fmt: skip
    events = [
        {"app_no": e[0], "event_code": e[1], "event_date": D(e[2]),
         "from_party": e[3] if len(e) > 3 else None, "to_party": e[4] if len(e) > 3 else None}
        for e in ev
    ]  # fmt: skip
    data = mk.tables([mk.firm(1, a), mk.firm(2, b), mk.firm(3, bank)], [p1, p2], events, [], [])
    pairs = pd.DataFrame({"uscc": [mk.uscc(1), mk.uscc(2)], "as_of": D("2024-06-30")})
    m = build_feature_matrix(pairs, data).set_index("uscc")
    # 甲: p1 unreleased (held when pledged, gone now) + p2 released → 1 of 2
    assert m.loc[mk.uscc(1), "pledge_release_ratio"] == pytest.approx(1 / 2)
    assert m.loc[mk.uscc(1), "valid_invention_count"] == 0  # holds nothing now
    # 乙 holds p2 but never pledged it
    assert np.isnan(m.loc[mk.uscc(2), "pledge_release_ratio"])


def test_a_previous_owners_release_is_not_the_firms(mk):
    """乙 pledges and releases a patent, sells it to 甲; 甲 pledges it and never releases:
    甲's record is 0 of 1, not 1 of 1 (乙's release counted for 甲 hid the default)."""
    a, b = "郑州甲科技有限公司", "郑州乙科技有限公司"
    p = mk.patent(2014, 1, 7, app_date=D("2014-03-01"), grant_date=D("2016-05-01"),
                  applicants=b, owners=a)  # fmt: skip
    ev = [
        (p["app_no"], "PE01", "2016-02-01", None, None),
        (p["app_no"], "PC01", "2017-02-01", None, None),
        (p["app_no"], "TR01", "2018-01-10", b, a),
        (p["app_no"], "PE01", "2019-03-01", None, None),
    ]
    events = [
        {"app_no": n, "event_code": c, "event_date": D(d), "from_party": f, "to_party": t}
        for n, c, d, f, t in ev
    ]
    data = mk.tables([mk.firm(1, a), mk.firm(2, b)], [p], events, [], [])
    pairs = pd.DataFrame({"uscc": [mk.uscc(1), mk.uscc(2)], "as_of": D("2024-06-30")})
    m = build_feature_matrix(pairs, data).set_index("uscc")
    assert m.loc[mk.uscc(1), "pledge_release_ratio"] == 0.0
    assert m.loc[mk.uscc(2), "pledge_release_ratio"] == 1.0


def test_years_held_runs_back_through_renewals_not_to_the_current_certificate(mk):
    """高新 held since 2019 and renewed twice (gaps of 78 and 62 days): at 2026-09-30 it has
    been held 7.4 years, not the 1.0 since the current certificate. A gap of more than
    180 days breaks the run, and a 2013-version 贯标 certificate ends with 2025."""
    u = mk.uscc(1)
    ht = [("2019-05-16", "2022-05-15"), ("2022-08-01", "2025-07-31"), ("2025-10-01", "2028-09-30")]
    pr = [
        {
            "uscc": u,
            "programme": "high_tech",
            "level": "national",
            "valid_from": D(a),
            "valid_to": D(b),
        }
        for a, b in ht
    ]
    u2 = mk.uscc(2)
    pr += [
        {"uscc": u2, "programme": "tech_sme", "valid_from": D("2019-01-01"), "valid_to": D("2021-12-31")},
        # two years out, then back: the run starts again
        {"uscc": u2, "programme": "tech_sme", "valid_from": D("2024-01-01"), "valid_to": D("2026-12-31")},
        # a 2013-version 贯标 running to 2027 is void after 2025: it cannot bridge to a 2026 start
        {"uscc": mk.uscc(3), "programme": "ip_standard", "standard_version": "2013",
         "valid_from": D("2021-01-01"), "valid_to": D("2027-12-31")},
        {"uscc": mk.uscc(3), "programme": "tech_sme", "valid_from": D("2026-08-01"),
         "valid_to": D("2026-12-31")},
    ]  # fmt: skip
    ent = [mk.firm(1, A), mk.firm(2, B), mk.firm(3, C)]
    data = mk.tables(ent, [], (), (), pr)
    as_of = D("2026-09-30")
    m = build_feature_matrix(
        pd.DataFrame({"uscc": [u, u2, mk.uscc(3)], "as_of": as_of}), data
    ).set_index("uscc")
    assert m.at[u, "prog_years_held"] == pytest.approx(yrs("2019-05-16", "2026-09-30"))
    assert m.at[u2, "prog_years_held"] == pytest.approx(yrs("2024-01-01", "2026-09-30"))
    assert m.at[mk.uscc(3), "prog_years_held"] == pytest.approx(yrs("2026-08-01", "2026-09-30"))
    # before the first renewal was certified: the run is the first certificate's alone
    early = build_feature_matrix(pd.DataFrame({"uscc": [u], "as_of": [D("2022-05-01")]}), data)
    assert early.at[0, "prog_years_held"] == pytest.approx(yrs("2019-05-16", "2022-05-01"))
