from __future__ import annotations

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import given, settings

from data_contracts.errors import DataError
from screening.retrain.ledger_report import ledger_report, read_whitelist, write_ledger_report
from tests.retrain._data import FakeBundle, loan_rows, make_loans, uscc

A, B, C, D = (uscc(i) for i in range(4))


@pytest.fixture
def bundle():
    rows = []
    # Bank 工行: A new in the quarter (first loan), B old and now substandard.
    rows += loan_rows(
        "L1", A, "2024-08-01", [("2024-09-30", "normal", 0)], bank="工行", amount=100, first=True
    )
    rows += loan_rows(
        "L2",
        B,
        "2023-03-01",
        [("2023-06-30", "normal", 0), ("2024-09-30", "substandard", 100)],
        bank="工行",
        amount=200,
        first=False,
    )
    # Bank 中行: C new in the quarter, not first; D before the quarter, loss.
    rows += loan_rows(
        "L3",
        C,
        "2024-07-15",
        [("2024-09-30", "special_mention", 30)],
        bank="中行",
        amount=50,
        first=False,
    )
    rows += loan_rows(
        "L4", D, "2024-02-01", [("2024-06-30", "loss", 200)], bank="中行", amount=80, first=True
    )
    # A report after the report date must not count.
    rows += loan_rows("L5", A, "2024-12-15", [("2025-03-31", "loss", 300)], bank="中行", amount=999)
    ent = pd.DataFrame(
        {
            "uscc": pd.Series([A, B, C], dtype="str"),
            "region_code": pd.Series(["410100", "410100", "410300"], dtype="str"),
        }
    )
    return FakeBundle({"enterprises": ent, "loans": make_loans(rows)})


def test_kpis_by_bank(bundle):
    rep = ledger_report(bundle, as_of="2024-09-30")
    assert rep.since == pd.Timestamp("2024-06-30")
    t = rep.by_bank.set_index("bank")
    assert t.loc["工行", "new_loans"] == 1 and t.loc["工行", "new_amount"] == 100
    assert t.loc["工行", "first_time_borrowers"] == 1
    assert t.loc["工行", "balance"] == 300 and t.loc["工行", "npl_balance"] == 200
    assert t.loc["中行", "new_loans"] == 1 and t.loc["中行", "first_time_borrowers"] == 0
    # loss balance in loan_rows is 80% of the amount
    assert t.loc["中行", "npl_balance"] == pytest.approx(64)
    assert t.loc["中行", "npl_ratio"] == pytest.approx(64 / 114)
    total = t.loc["合计 total"]
    assert total["balance"] == t.drop("合计 total")["balance"].sum()
    assert total["new_amount"] == 150


def test_regions_include_unknown_firms_and_note_them(bundle):
    rep = ledger_report(bundle, as_of="2024-09-30")
    r = rep.by_region.set_index("region_code")
    assert r.loc["未知 unknown", "balance"] == pytest.approx(64)
    assert any("not in the enterprise registry" in n for n in rep.notes)
    assert (
        r.loc["合计 total", "balance"] == rep.by_bank.set_index("bank").loc["合计 total", "balance"]
    )


def test_funnel_with_whitelist(bundle):
    rep = ledger_report(bundle, as_of="2024-09-30", whitelist=pd.Series([A, B, uscc(9)]))
    f = rep.funnel.set_index("stage")
    assert list(f.index) == ["whitelisted", "borrowed", "bad"]
    assert f.loc["whitelisted", "firms"] == 3
    assert f.loc["borrowed", "firms"] == 2
    assert f.loc["bad", "firms"] == 1
    assert f.loc["bad", "share_of_previous"] == pytest.approx(0.5)


def test_outputs(bundle, tmp_path):
    rep = ledger_report(bundle, as_of="2024-09-30")
    paths = write_ledger_report(rep, tmp_path)
    assert [p.name for p in paths] == [
        "ledger_by_bank.csv",
        "ledger_by_region.csv",
        "ledger_funnel.csv",
        "ledger_report.html",
    ]
    back = pd.read_csv(paths[0], encoding="utf-8-sig")
    assert list(back["bank"]) == ["中行", "工行", "合计 total"]
    assert "不良率" in paths[3].read_text(encoding="utf-8")


def test_bad_period_and_empty_ledger(bundle):
    with pytest.raises(
        DataError, match="period start 2024-10-01 is not before the report date 2024-09-30"
    ):
        ledger_report(bundle, as_of="2024-09-30", since="2024-10-01")
    empty = FakeBundle(
        {"enterprises": bundle.tables["enterprises"], "loans": bundle.tables["loans"].iloc[:0]}
    )
    with pytest.raises(DataError, match="loans table is empty"):
        ledger_report(empty)


def test_read_whitelist_from_screened_csv(tmp_path):
    p = tmp_path / "screened.csv"
    pd.DataFrame(
        {
            "统一社会信用代码": [A, B.lower(), C],
            "status": ["whitelisted", "whitelisted", "knocked_out"],
        }
    ).to_csv(p, index=False, encoding="utf-8-sig")
    assert list(read_whitelist(p)) == [A, B]
    bad = tmp_path / "x.csv"
    pd.DataFrame({"name": ["x"]}).to_csv(bad, index=False)
    with pytest.raises(DataError, match="is not a whitelist"):
        read_whitelist(bad)
    # a registry file has codes but is no whitelist (neither status nor grade)
    registry = tmp_path / "enterprises.csv"
    pd.DataFrame({"统一社会信用代码": [A], "企业名称": ["甲"]}).to_csv(registry, index=False)
    with pytest.raises(DataError, match="is not a whitelist"):
        read_whitelist(registry)
    with_status = tmp_path / "registry.csv"
    pd.DataFrame({"uscc": [A], "status": ["active"]}).to_csv(with_status, index=False)
    with pytest.raises(DataError, match="holds no screening status"):
        read_whitelist(with_status)


def test_read_whitelist_re_saved_by_excel_as_gbk(tmp_path):
    """A bank's whitelist.csv opened and saved again in Excel on a Chinese Windows is GBK."""
    p = tmp_path / "whitelist.csv"
    pd.DataFrame({"序号": [1, 2], "统一社会信用代码": [A, B], "等级": ["T1", "T3"]}).to_csv(
        p, index=False, encoding="gbk"
    )
    assert list(read_whitelist(p)) == [A, B]


_cls = st.sampled_from(["normal", "special_mention", "substandard", "doubtful", "loss"])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),  # firm
            st.sampled_from(["工行", "中行", "建行"]),
            st.integers(0, 900),  # disbursement day
            st.lists(
                st.tuples(st.integers(1, 400), _cls, st.integers(0, 200)), min_size=1, max_size=3
            ),
            st.floats(1, 1000),
        ),
        min_size=1,
        max_size=10,
    ),
    st.integers(100, 1300),
)
def test_totals_add_up_and_npl_ratio_is_a_share(loans, as_of_day):
    base = pd.Timestamp("2022-01-01")
    rows = []
    for i, (firm, bank, d, reps, amount) in enumerate(loans):
        disb = base + pd.Timedelta(days=d)
        rows += loan_rows(
            f"L{i}",
            uscc(firm),
            disb,
            [(disb + pd.Timedelta(days=r), c, p) for r, c, p in reps],
            bank=bank,
            amount=amount,
        )
    ent = pd.DataFrame(
        {
            "uscc": pd.Series([uscc(i) for i in range(4)], dtype="str"),
            "region_code": pd.Series(["410100", "410300"] * 2, dtype="str"),
        }
    )
    b = FakeBundle({"enterprises": ent, "loans": make_loans(rows)})
    as_of = base + pd.Timedelta(days=as_of_day)
    rep = ledger_report(b, as_of=as_of, since=base - pd.Timedelta(days=1))
    for table in (rep.by_bank, rep.by_region):
        body, total = table.iloc[:-1], table.iloc[-1]
        for col in ("new_loans", "new_amount", "balance", "npl_balance", "outstanding_loans"):
            assert body[col].sum() == pytest.approx(total[col])
        ratio = table["npl_ratio"].dropna()
        assert ((ratio >= 0) & (ratio <= 1)).all()
    disbursed = {
        i for i, (_, _, d, _, _) in enumerate(loans) if base + pd.Timedelta(days=d) <= as_of
    }
    assert rep.by_bank.iloc[-1]["new_loans"] == len(disbursed)


def test_balances_last_reported_over_a_quarter_ago_are_noted(bundle):
    """A loss last reported in June still counts in December's NPL balance (the ledger has
    nothing newer), but the supervisor is told how much of the balance is that old."""
    rep = ledger_report(bundle, as_of="2024-12-31")
    (note,) = [n for n in rep.notes if "last reported more than 92 days" in n]
    assert note.startswith("1 outstanding loans (64.0 万元, of which NPL 1 loans, 64.0 万元)")
    fresh = ledger_report(bundle, as_of="2024-09-30")
    assert not [n for n in fresh.notes if "last reported more than" in n]


def test_rejected_ledger_rows_are_told_and_their_npl_counted_in_the_funnel(tmp_path):
    """The supervisor report reads accepted rows; rejected ones must not vanish: L1's only
    次级 report was rejected (two copies, different balances) — the funnel counts its firm
    as gone bad and the notes say so; L2 exists only in rejected rows."""
    from data_contracts import read_data_dir
    from tests.retrain.test_labels import A, _ledger_folder

    loan = f"{A},郑州银行,2022-01-10,2023-01-10,100"
    bad_check = A[:-1] + ("0" if A[-1] != "0" else "1")
    folder = _ledger_folder(
        tmp_path / "d",
        [
            f"L1,{loan},2022-06-30,100,正常,0",
            f"L1,{loan},2022-09-30,100,次级,119",
            f"L1,{loan},2022-09-30,101,次级,119",
            f"L2,{bad_check},郑州银行,2022-01-10,2023-01-10,100,2022-06-30,100,正常,0",
        ],
    )
    rep = ledger_report(read_data_dir(folder), as_of="2022-12-31")
    text = "\n".join(rep.notes)
    assert "3 ledger rows were rejected" in text and "duplicate_conflict 2" in text
    assert "1 loans appear only in rejected rows" in text
    assert "1 loans have a newer report that was rejected" in text  # L1's 2022-09-30
    assert "1 loans show NPL" in text and "only in a rejected report" in text
    funnel = rep.funnel.set_index("stage")["firms"]
    assert funnel["bad"] == 1  # L1's firm, by its rejected 次级 report
