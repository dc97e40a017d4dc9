from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import given, settings

from data_contracts.errors import DataError
from screening.retrain._rejected_loans import rejected_loan_rows
from screening.retrain.config import LabelConfig
from screening.retrain.labels import STATUSES, build_training_set, label_loans
from tests.retrain._data import loan_rows, make_loans, uscc

A, B = uscc(1), uscc(2)


def _one(rows, as_of, **kw):
    out = label_loans(make_loans(rows), as_of=as_of, **kw)
    return out.set_index("loan_id")


def test_substandard_within_horizon_is_bad():
    rows = loan_rows(
        "L1", A, "2022-01-10", [("2022-06-30", "normal", 0), ("2022-12-31", "substandard", 40)]
    )
    out = _one(rows, "2024-01-01")
    assert out.loc["L1", "status"] == "bad"
    assert out.loc["L1", "first_bad_on"] == pd.Timestamp("2022-12-31")


def test_dpd_over_90_is_bad_but_90_is_not():
    rows = loan_rows("L1", A, "2022-01-10", [("2022-06-30", "special_mention", 91)])
    rows += loan_rows(
        "L2", A, "2022-01-10", [("2022-06-30", "special_mention", 90), ("2023-01-31", "normal", 0)]
    )
    out = _one(rows, "2024-01-01")
    assert out.loc["L1", "status"] == "bad"
    assert out.loc["L2", "status"] == "good"


def test_bad_report_after_horizon_does_not_count():
    # 91 days overdue on 2023-01-11: past 90 only from that day, after the horizon's end
    rows = loan_rows(
        "L1", A, "2022-01-10", [("2023-01-10", "normal", 0), ("2023-01-11", "loss", 91)]
    )
    assert _one(rows, "2024-01-01").loc["L1", "status"] == "good"


def test_report_after_horizon_whose_dpd_dates_the_default_inside_it_is_bad():
    """dpd 119 on 2023-03-31: more than 90 days overdue since 2023-03-03, inside a horizon
    ending 2023-03-10, although the last report inside it (2022-12-31) was still 正常."""
    rows = loan_rows(
        "L1", A, "2022-03-10", [("2022-12-31", "normal", 0), ("2023-03-31", "substandard", 119)]
    )
    rows += loan_rows(
        "L2", A, "2022-03-10", [("2022-12-31", "normal", 0), ("2023-03-31", "substandard", 111)]
    )
    out = _one(rows, "2024-01-01")
    assert out.loc["L1", "status"] == "bad"
    assert out.loc["L1", "first_bad_on"] == pd.Timestamp("2023-03-03")
    assert out.loc["L2", "status"] == "good"  # past 90 days only from 2023-03-11


def test_young_loan_without_bad_report_is_unlabelled_and_young_bad_is_bad():
    rows = loan_rows("L1", A, "2023-06-01", [("2023-09-30", "normal", 0)])
    rows += loan_rows("L2", A, "2023-06-01", [("2023-09-30", "doubtful", 120)])
    out = _one(rows, "2024-01-01")
    assert out.loc["L1", "status"] == "unlabelled"
    assert out.loc["L2", "status"] == "bad"


def test_reports_after_as_of_are_not_known():
    rows = loan_rows(
        "L1", A, "2023-01-01", [("2023-03-31", "normal", 0), ("2023-09-30", "loss", 200)]
    )
    before = _one(rows, "2023-06-30").loc["L1"]
    after = _one(rows, "2023-12-31").loc["L1"]
    assert before["status"] == "unlabelled"
    assert after["status"] == "bad"


def test_future_disbursement_and_unknown_firm_are_reported():
    rows = loan_rows("L1", A, "2025-01-01", [("2025-03-31", "normal", 0)])
    rows += loan_rows(
        "L2", B, "2021-01-01", [("2021-03-31", "normal", 0), ("2022-01-31", "normal", 0)]
    )
    out = _one(rows, "2024-01-01", known_usccs=pd.Series([A]))
    assert out.loc["L1", "status"] == "not_disbursed"
    assert out.loc["L2", "status"] == "unknown_firm"
    assert out.loc["L2", "outcome"] == "good"


def test_horizon_is_configurable():
    rows = loan_rows("L1", A, "2022-01-01", [("2022-10-31", "substandard", 0)])
    assert (
        _one(rows, "2024-01-01", config=LabelConfig(horizon_months=6)).loc["L1", "status"] == "good"
    )


def test_missing_column_names_the_column():
    loans = make_loans(loan_rows("L1", A, "2022-01-01", [("2022-03-31", "normal", 0)]))
    with pytest.raises(DataError, match="loans table lacks column.*classification"):
        label_loans(loans.drop(columns=["classification"]), as_of="2024-01-01")


_cls = st.sampled_from(["normal", "special_mention", "substandard", "doubtful", "loss"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1500),
            st.lists(
                st.tuples(st.integers(0, 800), _cls, st.integers(0, 200)), min_size=1, max_size=4
            ),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 2000),
)
def test_every_loan_gets_exactly_one_status_and_later_reports_never_unbad(loans, as_of_day):
    base = pd.Timestamp("2020-01-01")
    rows = []
    for i, (d, reps) in enumerate(loans):
        disb = base + pd.Timedelta(days=d)
        rows += loan_rows(
            f"L{i}",
            A if i % 3 else B,
            disb,
            [(disb + pd.Timedelta(days=r), c, p) for r, c, p in reps],
        )
    ledger = make_loans(rows)
    as_of = base + pd.Timedelta(days=as_of_day)
    out = label_loans(ledger, as_of=as_of, known_usccs=pd.Series([A]))
    assert len(out) == len(loans)
    assert out["status"].isin(STATUSES).all()
    # Knowing more (a later as_of) never turns a bad loan good: bad is absorbing.
    later = label_loans(ledger, as_of=as_of + pd.Timedelta(days=400)).set_index("loan_id")
    bad_now = out.loc[out["outcome"] == "bad", "loan_id"]
    assert (later.loc[bad_now, "outcome"] == "bad").all()


def test_training_set_rows_accounting(bundle_and_builder):
    bundle, builder = bundle_and_builder
    ts = build_training_set(bundle, as_of="2025-06-30", feature_builder=builder)
    rep = ts.report
    assert rep.loans == bundle.tables["loans"]["loan_id"].nunique()
    assert rep.counts["unknown_firm"] == 2
    assert len(ts) == rep.counts["bad"] + rep.counts["good"]
    assert int(ts.y.sum()) == rep.counts["bad"]
    assert list(ts.X.columns) == ["x", "noise"]
    assert ts.time.is_monotonic_increasing
    assert "U0" in " ".join(rep.lines())


def test_feature_builder_that_loses_rows_is_an_error(bundle_and_builder):
    bundle, _ = bundle_and_builder
    with pytest.raises(DataError, match="feature builder returned no row"):
        build_training_set(
            bundle, as_of="2025-06-30", feature_builder=lambda p, b: p.iloc[:3].assign(x=1.0)
        )


def test_young_bad_loans_are_bad_but_not_trained_on_by_default(bundle_and_builder):
    bundle, builder = bundle_and_builder
    as_of = "2024-06-30"
    ts = build_training_set(bundle, as_of=as_of, feature_builder=builder)
    labels = ts.report.labels
    young_bad = (labels["status"] == "bad") & ~labels["horizon_complete"]
    assert young_bad.sum() > 0
    assert ts.report.young_bad_excluded == int(young_bad.sum())
    assert not set(labels.loc[young_bad, "loan_id"]) & set(ts.loan_ids)
    assert len(ts) == ts.report.counts["bad"] + ts.report.counts["good"] - int(young_bad.sum())
    assert "younger than the horizon are left out" in " ".join(ts.report.lines())
    everything = build_training_set(
        bundle,
        as_of=as_of,
        feature_builder=builder,
        config=LabelConfig(complete_horizon_only=False),
    )
    assert len(everything) == len(ts) + int(young_bad.sum())


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 700),
    st.lists(st.tuples(st.integers(1, 400), _cls, st.integers(0, 200)), min_size=1, max_size=5),
)
def test_reports_dated_after_as_of_never_change_labels(as_of_day, later):
    """Point-in-time: appending reports dated after as_of leaves every label unchanged."""
    base = pd.Timestamp("2022-01-01")
    rows = loan_rows("L1", A, base, [(base + pd.Timedelta(days=40), "normal", 0)])
    rows += loan_rows(
        "L2", A, base + pd.Timedelta(days=100), [(base + pd.Timedelta(days=190), "normal", 0)]
    )
    as_of = base + pd.Timedelta(days=as_of_day)
    before = label_loans(make_loans(rows), as_of=as_of)
    extra = []
    for d, c, p in later:
        for lid, disb in (("L1", base), ("L2", base + pd.Timedelta(days=100))):
            extra += loan_rows(lid, A, disb, [(as_of + pd.Timedelta(days=d), c, p)])
    after = label_loans(make_loans(rows + extra), as_of=as_of)
    pd.testing.assert_frame_equal(before, after)


def test_a_loan_its_bank_stopped_reporting_is_unobserved_not_good():
    """Good needs a report on or after the horizon's end (or the maturity, or a repaid last
    report): a bank that stopped sending its ledger must not turn its loans into goods."""
    rows = loan_rows("L1", A, "2022-01-10", [("2022-06-30", "normal", 0)], bank="郑州银行")
    rows += loan_rows(
        "L2", A, "2022-01-10", [("2022-06-30", "normal", 0), ("2023-01-31", "normal", 0)]
    )
    short = loan_rows(
        "L3", A, "2022-01-10", [("2022-03-31", "normal", 0), ("2022-06-30", "normal", 0)]
    )
    for r in short:
        r["maturity"] = pd.Timestamp("2022-06-30")  # a 6-month loan, seen to its maturity
    early = loan_rows(
        "L4", A, "2022-01-10", [("2022-03-31", "normal", 0), ("2022-06-30", "normal", 0)]
    )
    early[-1]["balance"] = 0.0  # repaid early: the last report shows nothing owed
    out = _one(rows + short + early, "2024-01-01")
    assert out["status"].to_dict() == {"L1": "unobserved", "L2": "good", "L3": "good", "L4": "good"}
    assert out.loc["L1", "observed_to"] == pd.Timestamp("2022-06-30")


def test_unobserved_loans_are_counted_per_bank_and_never_train(tmp_path):
    from screening.retrain.labels import summarise_labels, training_mask

    rows = loan_rows("L1", A, "2022-01-10", [("2022-06-30", "normal", 0)], bank="郑州银行")
    rows += loan_rows("L2", A, "2022-01-10", [("2023-03-31", "normal", 0)], bank="工商银行")
    labels = label_loans(make_loans(rows), as_of="2024-01-01")
    report = summarise_labels(labels, pd.Timestamp("2024-01-01"))
    assert report.counts["unobserved"] == 1 and report.loans == 2
    assert report.unobserved_by_bank == {"郑州银行": 1}
    assert any("郑州银行 1" in line for line in report.lines())
    assert labels.loc[training_mask(labels), "loan_id"].tolist() == ["L2"]


def test_no_labelled_loan_is_a_data_error_not_a_crash(bundle):
    """The real feature pipeline raised 'No objects to concatenate' on an empty batch."""
    with pytest.raises(DataError, match="no labelled loan to train on at 2020-06-30"):
        build_training_set(bundle, as_of="2020-06-30")


def test_loans_whose_reports_disagree_are_named():
    """Reports of one loan that change its borrower or amount are flagged: the earliest
    report's values are used, and the label report says so instead of staying silent."""
    from screening.retrain.labels import summarise_labels

    rows = loan_rows(
        "L1", A, "2022-01-10", [("2022-06-30", "normal", 0), ("2023-01-31", "normal", 0)]
    )
    rows[1]["amount"] = 250.0
    rows += loan_rows(
        "L2", A, "2022-01-10", [("2022-06-30", "normal", 0), ("2023-01-31", "normal", 0)]
    )
    rows[3]["uscc"] = B
    rows += loan_rows(
        "L3", A, "2022-01-10", [("2022-06-30", "normal", 0), ("2023-01-31", "normal", 0)]
    )
    labels = label_loans(make_loans(rows), as_of="2024-01-01").set_index("loan_id")
    assert labels["attributes_vary"].to_dict() == {"L1": True, "L2": True, "L3": False}
    assert labels.loc["L1", "amount"] == 100.0 and labels.loc["L2", "uscc"] == A
    report = summarise_labels(labels.reset_index(), pd.Timestamp("2024-01-01"))
    assert report.to_dict()["attributes_vary"] == {"loans": 2, "examples": ["L1", "L2"]}
    assert any("2 loans whose reports disagree" in line for line in report.lines())


def _pe01(*events):
    return pd.DataFrame(
        [
            {"app_no": app, "event_code": code, "event_date": pd.Timestamp(day)}
            for app, code, day in events
        ]
    )


def test_decision_date_is_the_day_before_the_loans_own_pledge():
    from screening.retrain.labels import decision_dates

    rows = pd.DataFrame(
        {
            "loan_id": ["L1", "L2", "L3", "L4", "L5"],
            "disbursed_on": pd.to_datetime(
                ["2023-03-20", "2023-03-20", "2023-03-20", "2023-03-20", "2023-03-20"]
            ),
        }
    )
    loans = pd.DataFrame(
        {
            "loan_id": ["L1", "L1", "L2", "L3", "L4", "L5"],
            "report_date": pd.to_datetime(
                ["2023-06-30", "2023-09-30", "2023-06-30", "2023-06-30", "2023-06-30", "2023-06-30"]
            ),
            "pledged_app_nos": [
                "CN202010000001.1;CN202010000002.2",  # two patents: the earliest PE01 counts
                None,  # a later report without the list: the earliest listing is used
                "CN202010000003.3",  # pledged 120 days before: an older loan's pledge
                "CN202010000004.4",  # pledged after disbursement: not known then
                None,  # no patents listed
                "CN202010000005.5；CN202010000001.1",  # full-width separator
            ],
        }
    )
    events = _pe01(
        ("CN202010000001.1", "PE01", "2023-03-03"),
        ("CN202010000002.2", "PE01", "2023-03-01"),
        ("CN202010000002.2", "PC01", "2023-02-01"),  # not a registration
        ("CN202010000003.3", "PE01", "2022-11-20"),
        ("CN202010000004.4", "PE01", "2023-03-21"),
        ("CN202010000005.5", "PE01", "2023-03-20"),  # registered on the day of disbursement
    )
    got = decision_dates(rows, loans, events, within_days=90).tolist()
    assert (
        got
        == pd.to_datetime(
            ["2023-02-28", "2023-03-20", "2023-03-20", "2023-03-20", "2023-03-02"]
        ).tolist()
    )
    # 0 switches it off; no events table leaves every row at its disbursement date
    assert decision_dates(rows, loans, events, within_days=0).equals(
        pd.Series(rows["disbursed_on"].to_numpy(), index=rows.index)
    )
    assert (decision_dates(rows, loans, None, 90) == rows["disbursed_on"]).all()
    # events, but none of the loans' own in the window: every row at disbursement (this
    # raised a TypeError inside pandas before)
    far = _pe01(("CN202010000001.1", "PE01", "2020-01-01"))
    assert decision_dates(rows, loans, far, 90).tolist() == rows["disbursed_on"].tolist()


def test_a_renewal_takes_the_latest_registration_of_each_patent():
    """A patent pledged for a loan and again, weeks later, for its renewal: the renewal's own
    pledge is the later registration, so its row is taken the day before that one."""
    from screening.retrain.labels import decision_dates

    rows = pd.DataFrame({"loan_id": ["R"], "disbursed_on": pd.to_datetime(["2023-03-20"])})
    loans = pd.DataFrame(
        {"loan_id": ["R"], "report_date": pd.to_datetime(["2023-06-30"]),
         "pledged_app_nos": ["CN202010000001.1;CN202010000002.2"]}
    )  # fmt: skip
    events = _pe01(
        ("CN202010000001.1", "PE01", "2023-01-05"),  # the renewed loan's pledge
        ("CN202010000001.1", "PE01", "2023-03-10"),  # the renewal's
        ("CN202010000002.2", "PE01", "2023-03-12"),
    )
    assert decision_dates(rows, loans, events, 90).tolist() == [pd.Timestamp("2023-03-09")]


def test_training_rows_do_not_show_the_loans_own_pledge():
    """On the bundled sample every loan's pledge is registered days before disbursement; at
    the disbursement date nearly every borrower showed its patents as pledged (a state no
    screened firm is in). The training rows are taken the day before that registration."""
    from pathlib import Path

    from data_contracts import read_data_dir

    root = Path(__file__).resolve().parents[2]
    bundle = read_data_dir(root / "data" / "sample")
    pairs_seen = []

    def builder(pairs, b):
        from features import build_feature_matrix

        pairs_seen.append(pairs)
        return build_feature_matrix(pairs, b)

    ts = build_training_set(bundle, as_of="2026-09-30", feature_builder=builder)
    assert len(ts) > 50 and ts.report.before_own_pledge > 0.8 * len(ts)
    pledged = ts.X["currently_pledged_share"].fillna(0) > 0
    assert pledged.mean() < 0.2, pledged.mean()
    off = build_training_set(bundle, as_of="2026-09-30", config=LabelConfig(own_pledge_days=0))
    assert off.report.before_own_pledge == 0
    assert (off.X["currently_pledged_share"].fillna(0) > 0).mean() > 0.8
    assert off.time.equals(ts.time)  # the out-of-time split still goes by disbursement


def test_loans_see_programme_memberships_without_their_undated_status():
    """撤销/暂停 carry no date: for a loan of 2023 the revocation may have come after it. The
    loans' features count a membership over its certificate dates; screening (the run date)
    still honours the status."""
    from pathlib import Path

    from data_contracts import read_data_dir
    from features import build_feature_matrix
    from screening.retrain.labels import _default_builder

    bundle = read_data_dir(Path(__file__).resolve().parents[2] / "data" / "sample")
    progs = bundle.tables["programmes"]
    tech = progs.loc[progs["uscc"].notna() & (progs["programme"] == "tech_sme")]
    # a revoked certificate of a firm with no other tech_sme certificate
    alone = tech.groupby("uscc")["programme"].transform("size") == 1
    revoked = tech.loc[(tech["status"] == "revoked") & alone].iloc[0]
    pairs = pd.DataFrame(
        {"uscc": [revoked["uscc"]], "as_of": [revoked["valid_from"] + pd.Timedelta(days=30)]}
    )
    as_listed = build_feature_matrix(pairs, bundle).iloc[0]
    for_loans = _default_builder(pairs, bundle).iloc[0]
    assert as_listed["prog_tech_sme"] == 0 and for_loans["prog_tech_sme"] == 1
    assert "status" in bundle.tables["programmes"]  # the caller's bundle is untouched


def _rejected(*rows):
    """Re-read rejected ledger rows: (loan_id, report_date, classification, dpd, rule)."""
    return pd.DataFrame(
        [
            {
                "loan_id": lid,
                "uscc": A,
                "bank": "郑州银行",
                "disbursed_on": pd.Timestamp("2022-01-10"),
                "maturity": pd.Timestamp("2023-01-10"),
                "amount": 100.0,
                "report_date": pd.Timestamp(day) if day else pd.NaT,
                "classification": cls,
                "dpd": pd.NA if dpd == "unreadable" else dpd,
                "dpd_unreadable": dpd == "unreadable",
                "rule": rule,
            }
            for lid, day, cls, dpd, rule in rows
        ]
    ).astype({"dpd": "Int64"})


def test_rejected_reports_are_used_by_the_labels_never_to_make_a_loan_good():
    """A rejected report that shows default makes the loan bad; one that cannot be read
    within the horizon, or that would have seen the loan further, keeps it from good."""
    from screening.retrain.labels import summarise_labels, training_mask

    seen = [("2022-06-30", "normal", 0), ("2023-01-31", "normal", 0)]
    rows = loan_rows("L1", A, "2022-01-10", seen)  # its 次级 report was rejected
    rows += loan_rows("L2", A, "2022-01-10", seen)  # a report with an unknown 五级分类
    rows += loan_rows("L3", A, "2022-01-10", seen)  # a rejected report that reads 正常
    rows += loan_rows("L4", A, "2022-01-10", [("2022-06-30", "normal", 0)])  # next rejected
    rows += loan_rows("L5", A, "2022-01-10", [("2022-06-30", "normal", 0)], bank="中原银行")
    rejected = _rejected(
        ("L1", "2022-09-30", "substandard", 119, "duplicate_conflict"),
        ("L1", "2022-09-30", "substandard", 119, "duplicate_conflict"),
        ("L2", "2022-09-30", None, 0, "enum_unknown"),
        ("L3", "2022-09-30", "normal", 0, "uscc_check"),
        ("L4", "2023-01-31", "normal", 0, "uscc_check"),
        ("L4", "2022-09-30", "normal", "unreadable", "negative_count"),
        ("L6", "2022-03-31", "normal", 0, "uscc_check"),  # every report rejected
        (pd.NA, "2022-03-31", "normal", 0, "column_count"),  # names no loan
    )
    labels = label_loans(make_loans(rows), as_of="2024-01-01", rejected=rejected)
    out = labels.set_index("loan_id")
    assert out["status"].to_dict() == {
        "L1": "bad", "L2": "unobserved", "L3": "good", "L4": "unobserved",
        "L5": "unobserved", "L6": "rejected",
    }  # fmt: skip
    assert out.loc["L1", "first_bad_on"] == pd.Timestamp("2022-09-30")
    assert out["bad_from_rejected"].tolist() == [True, False, False, False, False, False]
    assert out["unobserved_reason"].dropna().to_dict() == {
        "L2": "rejected", "L4": "rejected", "L5": "missing"
    }  # fmt: skip
    # the 正常 report of 2023-01-31, after the horizon (2023-01-10) with a readable dpd, hides
    # nothing: only the unreadable one inside the horizon keeps L4 from good
    assert out.loc["L4", "rejected_rules"] == "negative_count"
    assert labels.loc[training_mask(labels), "loan_id"].tolist() == ["L1", "L3"]

    report = summarise_labels(labels, pd.Timestamp("2024-01-01"), rejected=rejected)
    assert report.loans == 6 and report.counts["rejected"] == 1
    assert report.unobserved_by_bank == {"中原银行": 1}
    assert report.unobserved_rejected_by_bank == {"工商银行": 2}
    assert report.unobserved_reject_rules == {"enum_unknown": 1, "negative_count": 1}
    assert report.to_dict()["rejected_ledger"] == {
        "rows": 8,
        "by_rule": {
            "column_count": 1, "duplicate_conflict": 2, "enum_unknown": 1,
            "negative_count": 1, "uscc_check": 3,
        },
        "without_loan_id": 1,
        "loans": 5,
        "bad_from_rejected": 1,
        "unobserved_rejected": 2,
        "all_rejected": 1,
    }  # fmt: skip
    text = "\n".join(report.lines())
    missing = next(line for line in report.lines() if "missing ledger reports" in line)
    assert "中原银行 1" in missing and "工商银行" not in missing
    assert "a ledger report of theirs was rejected (enum_unknown 1" in text
    assert "工商银行 2 — fix the rejected rows" in text
    assert "8 ledger rows were rejected" in text and "1 loans are bad only by" in text


def test_an_undated_rejected_report_keeps_a_loan_from_good():
    rows = loan_rows(
        "L1", A, "2022-01-10", [("2022-06-30", "normal", 0), ("2023-01-31", "normal", 0)]
    )
    out = label_loans(
        make_loans(rows),
        as_of="2024-01-01",
        rejected=_rejected(("L1", None, "normal", 0, "date_format")),
    ).set_index("loan_id")
    assert out.loc["L1", "status"] == "unobserved"
    assert out.loc["L1", "unobserved_reason"] == "rejected"


def _ledger_folder(folder, lines):
    from data_contracts.identifiers import make_app_no

    folder.mkdir()
    (folder / "enterprises.csv").write_text(
        f"uscc,name,status,region_code\n{A},甲公司,存续,410100\n", encoding="utf-8"
    )
    (folder / "patents.csv").write_text(
        f"app_no,app_date,patent_type,applicants\n{make_app_no(2020, 1, 1)},2020-03-01,发明,甲公司\n",
        encoding="utf-8",
    )
    head = "借据号,统一社会信用代码,贷款银行,放款日期,到期日期,放款金额(万元),报告日期,贷款余额(万元),五级分类,逾期天数\n"
    (folder / "loans.csv").write_text(head + "\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_training_set_reads_the_rejected_ledger_rows_again(tmp_path):
    """End to end through the reader: the only 次级 report of L1 appears twice with
    different balances, so the reader rejects both copies (duplicate_conflict). The loan was
    labelled good from the accepted rows; it is bad. L2's every row is rejected (wrong
    USCC check character): it is still a loan of the ledger."""
    from data_contracts import read_data_dir

    loan = f"{A},郑州银行,2022-01-10,2023-01-10,100"
    bad_usccc = A[:-1] + ("0" if A[-1] != "0" else "1")
    folder = _ledger_folder(
        tmp_path / "d",
        [
            f"L1,{loan},2022-06-30,100,正常,0",
            f"L1,{loan},2022-09-30,100,次级,119",
            f"L1,{loan},2022-09-30,101,次级,119",
            f"L1,{loan},2023-01-31,0,正常,0",
            f"L2,{bad_usccc},郑州银行,2022-01-10,2023-01-10,100,2022-06-30,100,正常,0",
        ],
    )
    bundle = read_data_dir(folder)
    assert len(bundle.tables["loans"]) == 2  # the two copies and L2's row were rejected

    def builder(pairs, _b):
        return pairs.assign(x=1.0)

    ts = build_training_set(bundle, as_of="2024-01-01", feature_builder=builder)
    assert ts.loan_ids.tolist() == ["L1"] and ts.y.tolist() == [1]
    rep = ts.report
    assert rep.loans == 2 and rep.counts["rejected"] == 1
    assert rep.rejected_ledger["bad_from_rejected"] == 1
    assert rep.rejected_ledger["by_rule"] == {"duplicate_conflict": 2, "uscc_check": 1}


def test_a_rejected_report_date_is_no_date(tmp_path):
    """Retraining review: a 损失 report dated before its loan's disbursement (rejected,
    report_before_disbursement) was read as before the horizon and ignored, and the loan
    trained on as good; a report dated after today (date_in_future) left its loan
    "unobserved, missing" though the bank had sent it. A report date the reader rejected is
    no date: the loan is never labelled good, and the reason is the rejected row."""
    from data_contracts import read_data_dir

    loan = f"{A},郑州银行,2023-03-01,2024-03-01,100"
    seen = [f",{loan},2023-06-30,100,正常,0", f",{loan},2024-03-31,0,正常,0"]
    folder = _ledger_folder(
        tmp_path / "d",
        [
            *(f"L1{r}" for r in seen),
            f"L1,{loan},2022-12-31,100,次级,120",  # before the disbursement
            *(f"L2{r}" for r in seen[:1]),
            f"L2,{loan},2031-06-30,100,正常,0",  # after today: the loan's later report
            *(f"L3{r}" for r in seen),  # a clean loan beside them
        ],
    )
    bundle = read_data_dir(folder, today=dt.date(2026, 11, 23))
    rules = set(bundle.rejects["rule"])
    assert {"report_before_disbursement", "date_in_future"} <= rules
    labels = label_loans(
        bundle.tables["loans"], as_of="2025-06-30", rejected=rejected_loan_rows(bundle)
    ).set_index("loan_id")
    assert labels["status"].to_dict() == {"L1": "unobserved", "L2": "unobserved", "L3": "good"}
    assert labels.loc["L1", "unobserved_reason"] == "rejected"
    assert labels.loc["L2", "unobserved_reason"] == "rejected"
    assert labels.loc["L1", "rejected_rules"] == "report_before_disbursement"
    assert labels.loc["L2", "rejected_rules"] == "date_in_future"


def test_two_banks_loans_of_one_id_are_two_loans(tmp_path):
    """Retraining review: a 借据号 is unique within its bank only. Keyed by the id alone,
    firm A's repaid loan at 郑州银行 took the 损失 reports of B's loan at 中原银行 of the same
    id and was trained on as bad, and B's loan vanished from the counts; two banks reporting
    on one quarter-end were rejected as duplicate copies."""
    from data_contracts import read_data_dir

    a = f"{A},郑州银行,2023-03-01,2024-03-01,100"
    b = f"{B},中原银行,2023-05-01,2024-05-01,300"
    folder = _ledger_folder(
        tmp_path / "d",
        [
            f"L9,{a},2023-06-30,100,正常,0",
            f"L9,{a},2024-03-31,0,正常,0",
            f"L9,{b},2023-06-30,300,正常,0",  # same id and date, another bank
            f"L9,{b},2023-12-31,300,损失,200",
            f"L8,{a},2023-06-30,100,正常,0",
            f"L8,{a},2024-03-31,0,正常,0",
        ],
    )
    (folder / "enterprises.csv").write_text(
        f"uscc,name,status,region_code\n{A},甲公司,存续,410100\n{B},乙公司,存续,410100\n",
        encoding="utf-8",
    )
    bundle = read_data_dir(folder)
    assert bundle.rejects.empty  # two banks' rows of one date are no duplicate

    def builder(pairs, _b):
        return pairs.assign(x=1.0)

    ts = build_training_set(bundle, as_of="2025-06-30", feature_builder=builder)
    got = dict(zip(ts.loan_ids, ts.y, strict=True))
    assert got == {"L8": 0, "L9@郑州银行": 0, "L9@中原银行": 1}
    assert ts.report.loans == 3
    assert ts.report.shared_loan_ids == (1, ["L9"])
    assert any("reported by more than one bank" in line for line in ts.report.lines())


def test_a_shared_id_keeps_its_rejected_rows_and_one_banks_spellings():
    """Diff review: a rejected report of a shared id with an empty bank cell became a loan
    of its own and its 损失 was lost (both banks' loans good); and two spellings of one
    bank for one firm's loan were split into two loans."""
    from screening.retrain.labels import qualify_loan_ids

    seen = [("2023-06-30", "normal", 0), ("2024-03-31", "normal", 0)]
    rows = loan_rows("L1", A, "2023-03-01", seen, bank="甲行")
    rows += loan_rows("L1", B, "2023-03-01", seen, bank="乙行")
    rows += loan_rows("L2", A, "2023-03-01", seen, bank="甲行")
    rows += loan_rows("L3", A, "2023-03-01", seen[:1], bank="郑州银行")
    rows += loan_rows("L3", A, "2023-03-01", seen[1:], bank="郑州银行股份有限公司")
    # one firm's loans at two banks under one id (sixth diff review): two loans
    rows += loan_rows("L4", A, "2023-01-10", seen, bank="工商银行")
    rows += loan_rows("L4", A, "2023-06-01", [("2023-12-31", "loss", 200)], bank="建设银行")
    rejected = _rejected(
        ("L1", "2023-09-30", "loss", 200, "required"),  # bank empty, firm A: 甲行's loan
        ("L2", "2023-09-30", "normal", 0, "required"),
    ).assign(bank=pd.NA, uscc=[A, A])
    blind = _rejected(("L1", "2023-12-31", "normal", 0, "required+uscc_check"))
    blind = blind.assign(bank=pd.NA, uscc=pd.NA)  # neither bank nor firm: either loan
    rej = pd.concat([rejected, blind], ignore_index=True).assign(source_row=[11, 12, 13])
    loans, rej, shared = qualify_loan_ids(make_loans(rows), rej)
    assert shared == ["L1", "L4"]
    out = label_loans(loans, as_of="2025-06-30", rejected=rej).set_index("loan_id")
    assert out["status"].to_dict() == {
        "L1@甲行": "bad", "L1@乙行": "unobserved", "L2": "good", "L3": "good",
        "L4@工商银行": "good", "L4@建设银行": "bad",
    }  # fmt: skip
    # the row attached by its firm names its bank; the blind one is counted once
    assert set(rej.loc[rej["loan_id"] == "L1@甲行", "bank"]) == {"甲行"}
    from screening.retrain.labels import summarise_labels

    labels = label_loans(loans, as_of="2025-06-30", rejected=rej)
    report = summarise_labels(labels, pd.Timestamp("2025-06-30"), rejected=rej)
    assert report.rejected_ledger["rows"] == 3  # the file's rows, not their copies
    assert out.loc["L1@乙行", "unobserved_reason"] == "rejected"
    assert bool(out.loc["L3", "attributes_vary"])  # one loan whose reports differ on the bank
