"""The ground-truth PD sees exactly the facts written, as of each date (oracle test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screening.sample._arrow import NEVER, day
from screening.sample.firms import make_firms
from screening.sample.generator import build_chunk
from screening.sample.records import NEGATIVE_TYPES, STRONG_PROGRAMMES, TAX_GRADES
from screening.sample.truth import State, true_pd

AS_OF = day("2026-09-30")
FIVE_YEARS = 1826


@pytest.fixture(scope="module")
def chunk():
    firms = make_firms(300, AS_OF, np.random.default_rng(5))
    c = build_chunk(firms, 0, 300, AS_OF, np.random.SeedSequence(9), 0, 9_000_000, 0)
    tables = {k: v.to_pandas() for k, v in c.tables.items()}
    for df in tables.values():
        for col in df.columns:
            if (
                df[col].dtype == object
                and len(df)
                and hasattr(df[col].dropna().iloc[:1].squeeze(), "year")
            ):
                df[col] = pd.to_datetime(df[col])
    return firms, c, tables


def _days(value) -> int:
    if value is None or pd.isna(value):
        return NEVER
    return int((pd.Timestamp(value) - pd.Timestamp("1970-01-01")).days)


def naive_state(tables, firm_row, d: int) -> dict:
    """Row-by-row reading of the written tables, the way a careful analyst would."""
    uscc, name = firm_row.uscc, firm_row["name"]
    pat, ev = tables["patents"], tables["patent_events"]
    own = pat[pat.applicant_usccs.fillna("").str.contains(uscc, regex=False)]
    bought = ev[(ev.event_code == "TR01") & (ev.to_party == name)]
    own_from = {a: _days(g) for a, g in zip(own.app_no, own.grant_date, strict=True)}
    for a, when in zip(bought.app_no, bought.event_date, strict=True):
        own_from[a] = _days(when)
    types = pat.set_index("app_no").patent_type
    inv = um = valid = lapsed = 0
    if "_events_by_patent" not in tables:
        days = (pd.to_datetime(ev.event_date) - pd.Timestamp("1970-01-01")).dt.days
        tables["_events_by_patent"] = dict(tuple(ev.assign(day=days).groupby("app_no")))
    by_patent = tables["_events_by_patent"]
    for app_no, start in own_from.items():
        e = by_patent.get(app_no, ev.iloc[:0].assign(day=0))
        seen = e[e.day <= d]
        ended = (
            seen.event_code.isin(["CX01", "IW01", "AV01"]).any()
            or ((seen.event_code == "TR01") & (seen.from_party == name)).any()
        )
        cf = seen[seen.event_code == "CF01"].day
        rr = e[e.event_code == "RR01"].day
        lapsed_now = False
        for c in cf:
            restored_by_d = ((rr > c) & (rr <= d)).any()
            if not restored_by_d:
                lapsed_now = True
            if d < c + FIVE_YEARS and not restored_by_d:
                lapsed += 1
        if start <= d and not ended and not lapsed_now:
            valid += 1
            inv += types[app_no] == "invention"
            um += types[app_no] == "utility_model"
    cr = tables["credit_records"]
    cr = cr[cr.uscc == uscc]
    neg = 0
    for r in cr.itertuples():
        if r.record_type in NEGATIVE_TYPES and (
            r.record_type != "admin_penalty" or r.severity == "serious"
        ):
            neg += _days(r.start_date) <= d < _days(r.end_date)
    tax = cr[(cr.record_type == "tax_rating")]
    tax = tax[[(_days(x) <= d) for x in tax.start_date]]
    grade = TAX_GRADES.index(tax.sort_values("start_date").value.iloc[-1]) if len(tax) else 5
    pg = tables["programmes"]
    prog = 0
    for r in pg[pg.uscc == uscc].itertuples():
        end = _days(r.valid_to) + 1
        if r.standard_version == "2013":
            end = min(end, day("2026-01-01"))
        prog += (
            r.programme in STRONG_PROGRAMMES
            and r.status == "valid"
            and _days(r.valid_from) <= d < end
        )
    return {
        "inv": inv,
        "um": um,
        "valid": valid,
        "lapsed": lapsed,
        "neg": neg,
        "tax": grade,
        "prog": prog,
    }


def test_state_matches_row_by_row_reading_of_written_tables(chunk):
    firms, c, tables = chunk
    rng = np.random.default_rng(0)
    ent = tables["enterprises"]
    has_patents = ent.uscc.isin(
        tables["patents"].applicant_usccs.fillna("").str.split(";").explode()
    ).to_numpy()
    candidates = np.flatnonzero(has_patents)
    qf = rng.choice(candidates, 40)
    qd = AS_OF - rng.integers(0, 6 * 365, 40)
    st = c.index.state(qf, qd)
    for i, (f, d) in enumerate(zip(qf, qd, strict=True)):
        want = naive_state(tables, ent.iloc[f], int(d))
        got_lapse = st.lapse_share[i]
        assert st.inv[i] == want["inv"], (f, d)
        assert st.um[i] == want["um"], (f, d)
        assert st.valid[i] == want["valid"], (f, d)
        assert st.neg[i] == want["neg"], (f, d)
        assert st.tax[i] == want["tax"], (f, d)
        assert st.prog[i] == want["prog"], (f, d)
        expected = want["lapsed"] / (want["valid"] + want["lapsed"]) if want["lapsed"] else 0.0
        assert got_lapse == pytest.approx(expected)


def _state(**kw) -> State:
    base = dict(inv=3, um=5, valid=9, lapse_share=0.1, neg=0, tax=1, prog=1, age=6.0, rdi=0.05)
    base.update(kw)
    return State(**{k: np.array([v]) for k, v in base.items()})


@pytest.mark.parametrize(
    ("field", "low", "high", "riskier"),
    [
        ("inv", 1, 30, False),
        ("lapse_share", 0.0, 0.6, True),
        ("neg", 0, 2, True),
        ("tax", 0, 4, True),
        ("prog", 0, 3, False),
        ("age", 1.0, 15.0, False),
        ("rdi", 0.01, 0.2, False),
    ],
)
def test_pd_moves_the_documented_way(field, low, high, riskier):
    p_low = true_pd(_state(**{field: low}), np.zeros(1), np.zeros(1))[0]
    p_high = true_pd(_state(**{field: high}), np.zeros(1), np.zeros(1))[0]
    assert (p_high > p_low) if riskier else (p_high < p_low)


def test_firm_truth_rows_are_the_formula_at_the_run_date(chunk):
    firms, c, _ = chunk
    f = np.arange(300)
    st = c.index.state(f, np.full(300, AS_OF))
    no_pledge = true_pd(st, firms.effect[f], np.zeros(300))
    # Only firms with an outstanding ledger pledge may differ (the pledged share term).
    assert (c.firm_pd >= no_pledge - 1e-12).all()
    assert np.isclose(c.firm_pd, no_pledge).mean() > 0.5


def test_documented_formula_matches_the_constants():
    """The formula in the module docstring and docs/sample.md is the one the code uses."""
    from pathlib import Path

    import screening.sample.truth as T
    from screening.sample.firms import RANDOM_EFFECT_SD

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sample.md").read_text(encoding="utf-8")

    def spelled(v: float) -> tuple[str, ...]:
        return (f"{v:g}", f"{v:.1f}")

    for text in (T.__doc__, doc):
        flat = text.replace("−", "-")
        assert f"{T.INTERCEPT:g}" in flat
        for name, value in T.COEF.items():
            assert any(f"{x}·" in flat for x in spelled(abs(value))), name
        for grade, value in zip("ABMCD", T.TAX_EFFECT, strict=False):
            sign = "+" if value > 0 else ""
            assert any(f"{grade}: {sign}{x}" in flat for x in spelled(value)), grade
        assert f"N(0, {RANDOM_EFFECT_SD:g}²)" in flat


def test_loan_pd_is_the_formula_on_final_facts_at_disbursement(chunk):
    """Facts added after a default (court listings) never change a past loan's PD."""
    firms, c, tables = chunk
    t = c.loan_truth
    loans = tables["loans"].drop_duplicates("loan_id").set_index("loan_id")
    pledged = loans.pledged_app_nos.str.count(";").add(1).reindex(t["loan_id"].to_pylist())
    st = c.index.state(t["firm"], t["day"])
    share = pledged.to_numpy() / np.maximum(st.valid, 1)
    np.testing.assert_allclose(true_pd(st, firms.effect[t["firm"]], share), t["pd"], rtol=1e-12)
    # And the court listings exist: some dishonest records start after a firm's default.
    seen = t["default_day"] < NEVER
    assert seen.any()
    cr = tables["credit_records"]
    dis = cr[cr.record_type == "dishonest_debtor"]
    uscc = firms.uscc.to_pylist()
    after = [
        (dis.uscc == uscc[f])
        & (pd.to_datetime(dis.start_date) > pd.Timestamp("1970-01-01") + pd.Timedelta(days=int(d)))
        for f, d in zip(t["firm"][seen], t["default_day"][seen], strict=True)
    ]
    assert any(a.any() for a in after)
