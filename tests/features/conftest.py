"""Canonical tables built by hand (docs/data_model.md), so these tests do not depend on the
reader. ``tiny`` is a hand-checked case; ``random_data(seed)`` feeds the oracle and the
point-in-time property tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_contracts.identifiers import make_app_no, make_uscc

D = pd.Timestamp


def uscc(i: int) -> str:
    return make_uscc("9", "1", "410100", f"{10000000 + i}")


def _frame(rows: list[dict], columns: dict[str, str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(columns))
    for c, t in columns.items():
        df[c] = df[c].astype(t)
    return df


ENT_COLS = {
    "uscc": "str", "name": "str", "former_names": "str", "status": "str",
    "established": "datetime64[ns]", "region_code": "str", "industry_code": "str", "park": "str",
    "size": "str", "employees": "Int64", "registered_capital": "float64", "revenue": "float64",
    "rd_expense": "float64",
}  # fmt: skip
PAT_COLS = {
    "app_no": "str", "app_date": "datetime64[ns]", "patent_type": "str", "title": "str",
    "pub_date": "datetime64[ns]", "grant_date": "datetime64[ns]", "ipc_main": "str",
    "ipc_all": "str", "claims": "Int64", "forward_citations": "Int64", "family_size": "Int64",
    "family_countries": "str", "pct": "boolean", "applicants": "str", "applicant_usccs": "str",
    "owners": "str", "inventors": "str", "legal_status": "str", "award": "str",
}  # fmt: skip
EV_COLS = {
    "app_no": "str", "event_code": "str", "event_date": "datetime64[ns]", "description": "str",
    "from_party": "str", "to_party": "str",
}  # fmt: skip
CR_COLS = {
    "uscc": "str", "name": "str", "record_type": "str", "start_date": "datetime64[ns]",
    "end_date": "datetime64[ns]", "severity": "str", "value": "str", "record_id": "str",
    "source": "str",
}  # fmt: skip
PR_COLS = {
    "uscc": "str", "name": "str", "programme": "str", "level": "str",
    "valid_from": "datetime64[ns]", "valid_to": "datetime64[ns]", "certificate_no": "str",
    "standard_version": "str", "status": "str",
}  # fmt: skip
NOM_COLS = {
    "uscc": "str", "name": "str", "nominated_by": "str", "nominated_on": "datetime64[ns]",
    "note": "str",
}  # fmt: skip


def tables(ent, pat, ev=(), cr=(), pr=(), nom=()) -> dict[str, pd.DataFrame]:
    return {
        "enterprises": _frame(list(ent), ENT_COLS),
        "patents": _frame(list(pat), PAT_COLS),
        "patent_events": _frame(list(ev), EV_COLS),
        "credit_records": _frame(list(cr), CR_COLS),
        "programmes": _frame(list(pr), PR_COLS),
        "nominations": _frame(list(nom), NOM_COLS),
    }


def firm(i: int, name: str, **kw) -> dict:
    row = {"uscc": uscc(i), "name": name, "status": "active", "region_code": "410100"}
    row.update(kw)
    return row


def patent(year: int, tdigit: int, serial: int, **kw) -> dict:
    ptype = {1: "invention", 2: "utility_model", 3: "design"}[tdigit]
    row = {"app_no": make_app_no(year, tdigit, serial), "patent_type": ptype}
    row.update(kw)
    if "owners" not in row:
        row["owners"] = row.get("applicants")
    return row


@pytest.fixture
def make_tables():
    return tables


@pytest.fixture
def ids():
    return uscc


@pytest.fixture
def mk():
    """Row builders: mk.firm(i, name, ...), mk.patent(year, type_digit, serial, ...)."""

    class _Mk:
        pass

    m = _Mk()
    m.firm = firm
    m.patent = patent
    m.uscc = uscc
    m.tables = tables
    return m


_IPC = ["H01M 10/052", "G06F 17/30", "A61K 31/00", "B23K 26/00", "F16H 1/00", "G06N 3/08"]
_CODES = ["CF01", "RR01", "CX01", "AV01", "IW01", "IP01", "PE01", "PC01", "PP01", "PD01",
          "EE01", "RJ01", "WD01", "PB01", "GR01", "TR01"]  # fmt: skip


def random_tables(seed: int, n_firms: int = 12, n_patents: int = 90, n_events: int = 160):
    """Random canonical tables with exact firm names (name variants are tested elsewhere)."""
    rng = np.random.default_rng(seed)

    def day(lo: str, hi: str):
        a, b = D(lo).value // 86_400_000_000_000, D(hi).value // 86_400_000_000_000
        return D(int(rng.integers(a, b)) * 86_400_000_000_000)

    names = [f"郑州随机{i}科技有限公司" for i in range(n_firms)]
    ent = []
    for i in range(n_firms):
        ent.append(
            firm(
                i,
                names[i],
                former_names=f"郑州旧名{i}有限公司" if rng.random() < 0.3 else None,
                established=day("1995-01-01", "2020-01-01") if rng.random() < 0.9 else None,
                industry_code=rng.choice(["C3919", "I6510", "M7320", "3511", None]),
                size=rng.choice(["micro", "small", "medium", "large", None]),
                employees=int(rng.integers(1, 900)) if rng.random() < 0.8 else None,
                registered_capital=float(rng.integers(10, 9000)),
                revenue=float(rng.choice([0, 500, 3000])) if rng.random() < 0.8 else None,
                rd_expense=float(rng.integers(0, 300)),
            )
        )
    pats = []
    for k in range(n_patents):
        t = int(rng.choice([1, 1, 2, 3]))
        app = day("2004-01-01", "2024-06-30")
        pub = app + pd.Timedelta(days=540) if t == 1 and rng.random() < 0.85 else None
        grant = None
        if rng.random() < (0.6 if t == 1 else 0.9):
            grant = app + pd.Timedelta(days=int(rng.integers(200, 1500)))
        owners_n = int(rng.choice([1, 1, 1, 2]))
        who = list(rng.choice(n_firms, size=owners_n, replace=False))
        appl = [names[w] for w in who]
        if rng.random() < 0.15:
            appl.append("张三")
        codes = None
        if rng.random() < 0.3 and "张三" not in appl:
            codes = ";".join(uscc(w) for w in who)
        ipc_all = ";".join(rng.choice(_IPC, size=int(rng.integers(1, 3)), replace=False))
        pats.append(
            patent(
                int(app.year),
                t,
                k + 1,
                app_date=app,
                pub_date=pub,
                grant_date=grant,
                ipc_main=ipc_all.split(";")[0] if rng.random() < 0.9 else None,
                ipc_all=ipc_all if rng.random() < 0.9 else None,
                claims=int(rng.integers(1, 20)) if rng.random() < 0.9 else None,
                forward_citations=int(rng.integers(0, 6)) if rng.random() < 0.9 else None,
                family_size=int(rng.choice([1, 1, 2, 4])) if rng.random() < 0.8 else None,
                family_countries=rng.choice(["CN", "CN;US", None]),
                pct=bool(rng.random() < 0.1),
                applicants=";".join(appl),
                applicant_usccs=codes,
                owners=";".join(appl),
                inventors=";".join(
                    rng.choice(["王一", "李二", "赵三", "钱四", "孙五"], size=2, replace=False)
                ),
                award="中国专利优秀奖" if rng.random() < 0.05 else None,
            )
        )
    evs = []
    for _ in range(n_events):
        p = pats[int(rng.integers(0, n_patents))]
        code = str(rng.choice(_CODES))
        d = p["app_date"] + pd.Timedelta(days=int(rng.integers(30, 6000)))
        row = {"app_no": p["app_no"], "event_code": code, "event_date": d}
        if code == "TR01":
            row["from_party"] = p["owners"] if rng.random() < 0.7 else None
            row["to_party"] = names[int(rng.integers(0, n_firms))]
        evs.append(row)
    crs = []
    for _ in range(n_firms * 2):
        i = int(rng.integers(0, n_firms))
        rt = str(rng.choice(["dishonest_debtor", "consumption_restriction", "serious_violation",
                             "abnormal_operation", "major_tax_violation", "admin_penalty",
                             "tax_rating", "tax_rating"]))  # fmt: skip
        start = day("2014-01-01", "2025-06-30")
        by_name = rng.random() < 0.3
        crs.append(
            {
                "uscc": None if by_name else uscc(i),
                "name": names[i],
                "record_type": rt,
                "start_date": start,
                "end_date": start + pd.Timedelta(days=int(rng.integers(30, 900)))
                if rng.random() < 0.4 else None,
                "severity": rng.choice(["general", "serious", None]) if rt == "admin_penalty" else None,
                "value": rng.choice(list("ABMCD")) if rt == "tax_rating" else None,
            }
        )  # fmt: skip
    prs = []
    for _ in range(n_firms):
        i = int(rng.integers(0, n_firms))
        prog = str(rng.choice(["little_giant", "srdi_sme", "innovative_sme", "high_tech",
                               "tech_sme", "ip_advantage", "ip_demonstration", "ip_standard"]))  # fmt: skip
        vf = day("2015-01-01", "2025-01-01")
        prs.append(
            {
                "uscc": None if rng.random() < 0.3 else uscc(i),
                "name": names[i],
                "programme": prog,
                "level": rng.choice(["national", "provincial", "city", None]),
                "valid_from": vf,
                "valid_to": vf + pd.Timedelta(days=int(rng.integers(300, 1500)))
                if rng.random() < 0.7 else None,
                "standard_version": rng.choice(["2013", "2023", None]) if prog == "ip_standard" else None,
                "status": rng.choice(["valid", "valid", "suspended", None]),
            }
        )  # fmt: skip
    return tables(ent, pats, evs, crs, prs)


@pytest.fixture
def random_data():
    return random_tables
