"""A loan's own pledge registration (PE01) that the reader rejected still decides the date of
its training row: the features mark a rejected event's patent 状态待核实 from its date, so
at the disbursement date the loan's own pledge would show through."""

from __future__ import annotations

import pandas as pd

from data_contracts.identifiers import make_app_no
from screening.retrain.labels import build_training_set, decision_dates
from tests.retrain._data import uscc

P = [make_app_no(2017, 1, i) for i in range(1, 9)]


def _wrong_check(app_no: str) -> str:
    """``app_no`` with a check character that is not its own."""
    return app_no[:-1] + ("1" if app_no[-1] != "1" else "2")


def _events(*rows):
    return pd.DataFrame(
        {
            "app_no": pd.Series([r[0] for r in rows], dtype="str"),
            "event_code": pd.Series([r[1] for r in rows], dtype="str"),
            "event_date": pd.to_datetime(pd.Series([r[2] for r in rows])),
        }
    )


def test_rejected_event_rows_can_be_the_loans_own_pledge():
    n = 7
    rows = pd.DataFrame(
        {
            "loan_id": [f"L{i}" for i in range(1, n + 1)],
            "disbursed_on": pd.to_datetime(["2023-03-20"] * n),
        }
    )
    loans = pd.DataFrame(
        {
            "loan_id": rows["loan_id"],
            "report_date": pd.to_datetime(["2023-06-30"] * n),
            "pledged_app_nos": [P[0], P[1], P[2], P[3], P[4], f"{P[5]};{P[6]}", P[7]],
        }
    )
    accepted = _events(
        (P[2], "PE01", "2023-03-12"),
        (P[5], "PE01", "2023-03-15"),
    )
    rejected = _events(
        (P[0], "PE01", "2023-03-05"),  # a PE01 with a wrong check digit: the loan's own
        (P[1], None, "2023-03-10"),  # an unreadable code on a pledged patent: its pledge
        (P[2], None, "2023-03-15"),  # the patent has a readable PE01: that one is its pledge
        (P[2], None, "2023-03-01"),
        (P[3], "PE01", None),  # an unreadable date dates nothing
        (P[4], "CF01", "2023-03-10"),  # a lapse is no pledge
        (P[6], "PE01", "2023-03-08"),  # the first of the loan's registrations counts
        (P[7], "PE01", "2022-11-01"),  # 139 days before: an older loan's pledge
    )
    got = decision_dates(rows, loans, accepted, 90, rejected=rejected)
    want = ["2023-03-04", "2023-03-09", "2023-03-11", "2023-03-20", "2023-03-20", "2023-03-07"]
    assert got.tolist() == pd.to_datetime([*want, "2023-03-20"]).tolist()
    # without accepted events the rejected ones still count; 0 days switches it off
    alone = decision_dates(rows, loans, None, 90, rejected=rejected)
    assert alone.iloc[:2].tolist() == pd.to_datetime(["2023-03-04", "2023-03-09"]).tolist()
    assert (decision_dates(rows, loans, accepted, 0, rejected=rejected) == rows.disbursed_on).all()


def _folder(folder, events: list[str]):
    """Three firms, one invention each, one loan each pledging it (disbursed 2022-01-10,
    labelled good at 2024-01-01), and the legal events ``events`` (CSV lines)."""
    folder.mkdir()
    firms = [(uscc(i), f"{name}公司") for i, name in enumerate("甲乙丙", start=1)]
    (folder / "enterprises.csv").write_text(
        "uscc,name,status,region_code,established\n"
        + "".join(f"{u},{n},存续,410100,2010-01-01\n" for u, n in firms),
        encoding="utf-8",
    )
    (folder / "patents.csv").write_text(
        "app_no,app_date,patent_type,grant_date,applicants\n"
        + "".join(f"{P[i]},2017-03-01,发明,2019-03-01,{n}\n" for i, (_, n) in enumerate(firms)),
        encoding="utf-8",
    )
    head = (
        "借据号,统一社会信用代码,贷款银行,放款日期,到期日期,放款金额(万元),报告日期,"
        "贷款余额(万元),五级分类,逾期天数,质押专利申请号\n"
    )
    lines = [
        f"L{i},{u},郑州银行,2022-01-10,2023-01-10,100,{day},{bal},正常,0,{P[i - 1]}\n"
        for i, (u, _) in enumerate(firms, start=1)
        for day, bal in (("2022-06-30", 100), ("2023-01-31", 0))
    ]
    (folder / "loans.csv").write_text(head + "".join(lines), encoding="utf-8")
    (folder / "patent_events.csv").write_text(
        "app_no,event_code,event_date\n" + "".join(f"{e}\n" for e in events), encoding="utf-8"
    )
    return folder


def test_training_row_of_a_loan_whose_own_pledge_row_was_rejected(tmp_path):
    """End to end through the reader. L1's PE01 has a wrong check digit: rejected, its row is
    still taken the day before it, where its patent is pledgeable. L2's own PE01 cannot be
    dated (rejected): its row stays at disbursement. L3's PE01 is readable (accepted)."""
    from data_contracts import read_data_dir
    from features import build_feature_matrix

    folder = _folder(
        tmp_path / "d",
        [
            f"{_wrong_check(P[0])},PE01,2022-01-03",
            f"{P[1]},PE01,2022-13-45",
            f"{P[2]},PE01,2022-01-05",
        ],
    )
    bundle = read_data_dir(folder)
    assert len(bundle.tables["patent_events"]) == 1  # the other two rows were rejected
    seen = []

    def builder(pairs, b):
        seen.append(pairs)
        return build_feature_matrix(pairs, b)

    ts = build_training_set(bundle, as_of="2024-01-01", feature_builder=builder)
    assert ts.loan_ids.tolist() == ["L1", "L2", "L3"]
    as_of = dict(zip(seen[0]["uscc"], seen[0]["as_of"], strict=True))
    assert [as_of[u] for u in ts.uscc] == pd.to_datetime(
        ["2022-01-02", "2022-01-10", "2022-01-04"]
    ).tolist()
    assert ts.report.before_own_pledge == 2
    # the loan's own pledge does not show: its patent is pledgeable the day before
    assert ts.X["pledgeable_patent_count"].tolist()[0] == 1
    # L2's undated rejected row happened by the label date, not by every earlier date: the
    # bundle read without a date (as `screening train` reads it) takes the label date
    assert bundle.as_of == pd.Timestamp("2024-01-01").date()
    assert ts.X["pledgeable_patent_count"].tolist()[1] == 1
    at_disbursement = build_feature_matrix(
        pd.DataFrame({"uscc": [uscc(1)], "as_of": [pd.Timestamp("2022-01-10")]}), bundle
    )
    assert at_disbursement["pledgeable_patent_count"].tolist() == [0]
