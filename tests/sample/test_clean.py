"""A clean sample: complete, canonical, valid identifiers, internally consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from data_contracts.identifiers import check_app_no, check_uscc
from screening.sample.writer import TABLES

from .conftest import AS_OF

HEADERS = {
    "enterprises": "uscc,name,former_names,status,established,region_code,industry_code,park,size,employees,registered_capital,revenue,rd_expense",
    "patents": "app_no,app_date,patent_type,title,pub_date,grant_date,ipc_main,ipc_all,claims,forward_citations,family_size,family_countries,pct,applicants,applicant_usccs,owners,inventors,legal_status,award",
    "patent_events": "app_no,event_code,event_date,description,from_party,to_party",
    "credit_records": "uscc,name,record_type,start_date,end_date,severity,value,record_id,source",
    "programmes": "uscc,name,programme,level,valid_from,valid_to,certificate_no,standard_version,status",
    "nominations": "uscc,name,nominated_by,nominated_on,note",
    "loans": "loan_id,uscc,bank,disbursed_on,maturity,amount,report_date,balance,classification,dpd,pledged_app_nos,pledge_reg_no,first_loan",
}
ENUMS = {
    ("enterprises", "status"): {"active", "revoked", "cancelled", "moved", "liquidating"},
    ("enterprises", "size"): {"large", "medium", "small", "micro"},
    ("patents", "patent_type"): {"invention", "utility_model", "design"},
    ("credit_records", "record_type"): {
        "dishonest_debtor",
        "consumption_restriction",
        "serious_violation",
        "abnormal_operation",
        "major_tax_violation",
        "admin_penalty",
        "tax_rating",
    },
    ("programmes", "programme"): {
        "little_giant",
        "srdi_sme",
        "innovative_sme",
        "high_tech",
        "tech_sme",
        "ip_advantage",
        "ip_demonstration",
        "ip_standard",
    },
    ("programmes", "level"): {"national", "provincial", "city"},
    ("programmes", "status"): {"valid", "suspended", "revoked"},
    ("loans", "classification"): {"normal", "special_mention", "substandard", "doubtful", "loss"},
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def read(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


def test_all_seven_tables_with_canonical_headers(clean_sample: Path):
    assert sorted(p.name for p in clean_sample.iterdir()) == sorted(f"{t}.csv" for t in TABLES)
    for table, header in HEADERS.items():
        first = (clean_sample / f"{table}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert first == header
        assert len(read(clean_sample, table)) > 0, table


def test_identifiers_valid_and_unique(clean_sample: Path):
    ent = read(clean_sample, "enterprises")
    assert ent.uscc.is_unique and ent.name.is_unique
    assert all(check_uscc(u).ok for u in ent.uscc)
    assert ent.uscc.str[2:8].eq(ent.region_code).all()
    pat = read(clean_sample, "patents")
    assert pat.app_no.is_unique
    assert all(check_app_no(a).value == a for a in pat.app_no)
    digit = pat.app_no.str[6].map({"1": "invention", "2": "utility_model", "3": "design"})
    assert digit.eq(pat.patent_type).all()
    assert pat.app_no.str[2:6].eq(pat.app_date.str[:4]).all()


def test_enums_and_dates_canonical(clean_sample: Path):
    for (table, col), allowed in ENUMS.items():
        values = set(read(clean_sample, table)[col]) - {""}
        assert values <= allowed, (table, col, values - allowed)
    date_cols = {
        "patents": ["app_date", "pub_date", "grant_date"],
        "patent_events": ["event_date"],
        "credit_records": ["start_date", "end_date"],
        "loans": ["disbursed_on", "report_date"],
    }
    for table, cols in date_cols.items():
        df = read(clean_sample, table)
        for c in cols:
            v = df[c][df[c] != ""]
            assert v.str.match(DATE).all()
            assert (v <= AS_OF.isoformat()).all() or c in ("end_date",)


def test_events_consistent_with_patents(clean_sample: Path):
    pat = read(clean_sample, "patents").set_index("app_no")
    ev = read(clean_sample, "patent_events")
    assert set(ev.app_no) <= set(pat.index)
    gr = ev[ev.event_code == "GR01"].set_index("app_no").event_date
    granted = pat.grant_date[pat.grant_date != ""]
    assert gr.sort_index().equals(granted.sort_index().rename("event_date"))
    assert (pat.grant_date[pat.grant_date != ""] >= pat.app_date[pat.grant_date != ""]).all()
    # Nothing but a restoration follows a terminal event on the same patent.
    ev = ev.sort_values(["app_no", "event_date"], kind="stable")
    terminal = ev[ev.event_code.isin(["CX01", "IW01", "AV01"])].groupby("app_no").event_date.min()
    later = ev.join(terminal.rename("end"), on="app_no")
    assert not ((later.event_date > later.end) & later.end.notna()).any()
    # A transfer out of the registry changes the current owner.
    tr = ev[(ev.event_code == "TR01")].drop_duplicates("app_no", keep="last").set_index("app_no")
    assert (pat.loc[tr.index, "owners"] == tr.to_party).all()


def test_loans_pledge_real_patents(clean_sample: Path):
    loans = read(clean_sample, "loans")
    ent = read(clean_sample, "enterprises")
    assert set(loans.uscc) <= set(ent.uscc)
    ev = read(clean_sample, "patent_events")
    pe = ev[ev.event_code == "PE01"]
    pledges = loans.drop_duplicates("loan_id")[["loan_id", "disbursed_on", "pledged_app_nos"]]
    pairs = pledges.assign(app_no=pledges.pledged_app_nos.str.split(";")).explode("app_no")
    merged = pairs.merge(pe, on="app_no")
    # Every pledged patent has a PE01 registered before (within 30 days of) disbursement.
    hit = merged[(merged.event_date <= merged.disbursed_on)]
    assert set(pairs.loan_id) == set(hit.loan_id)
    assert (loans.report_date > loans.disbursed_on).all()
    assert pd.to_numeric(loans.dpd).ge(0).all()


def test_truth_file_beside_folder(clean_sample: Path):
    truth = pd.read_csv(clean_sample.parent / "data.truth.csv", dtype=str, keep_default_na=False)
    assert list(truth.columns) == ["uscc", "as_of", "true_pd", "loan_id"]
    firm_rows = truth[truth.loan_id == ""]
    loan_rows = truth[truth.loan_id != ""]
    ent = read(clean_sample, "enterprises")
    assert list(firm_rows.uscc) == list(ent.uscc)
    assert (firm_rows.as_of == AS_OF.isoformat()).all()
    loans = read(clean_sample, "loans").drop_duplicates("loan_id")
    assert sorted(loan_rows.loan_id) == sorted(loans.loan_id)
    lt = loan_rows.merge(loans, on="loan_id")
    assert (lt.as_of == lt.disbursed_on).all() and (lt.uscc_x == lt.uscc_y).all()
    pd_ = pd.to_numeric(truth.true_pd)
    assert pd_.between(0, 1, inclusive="neither").all()


def test_bad_loans_follow_true_pd(clean_sample: Path):
    """Labelled loans: observed bad flags agree with the oracle (higher PD, more defaults)."""
    loans = read(clean_sample, "loans")
    loans["bad_report"] = loans.classification.isin(["substandard", "doubtful", "loss"]) | (
        pd.to_numeric(loans.dpd) > 90
    )
    within = pd.to_datetime(loans.report_date) <= pd.to_datetime(
        loans.disbursed_on
    ) + pd.DateOffset(months=12)
    bad = (loans.bad_report & within).groupby(loans.loan_id).any()
    first = loans.drop_duplicates("loan_id").set_index("loan_id")
    old = pd.to_datetime(first.disbursed_on) <= pd.Timestamp(AS_OF) - pd.DateOffset(months=12)
    truth = pd.read_csv(clean_sample.parent / "data.truth.csv", dtype={"loan_id": str})
    p = truth.dropna(subset=["loan_id"]).set_index("loan_id").true_pd
    lab = bad[old[old].index]
    assert 0.03 < lab.mean() < 0.2
    assert p[lab[lab].index].mean() > 1.5 * p[lab[~lab].index].mean()


@pytest.mark.parametrize("table", TABLES)
def test_reader_accepts_clean_sample_without_rejects(clean_sample: Path, table: str):
    from data_contracts.reader import read_data_dir

    bundle = read_data_dir(clean_sample, tables=[table])
    stats = bundle.stats[table]
    assert stats.rows > 0
    assert stats.rejected == 0 and stats.duplicates == 0 and stats.warnings == 0
    assert stats.accepted == stats.rows
