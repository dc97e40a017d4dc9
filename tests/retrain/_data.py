"""Small hand-made ledgers and bundles for the retraining tests (imported by conftest)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data_contracts.identifiers import make_uscc


def uscc(i: int) -> str:
    return make_uscc("9", "1", "410100", f"{10000000 + i:08d}")


def loan_rows(loan_id, firm, disbursed, reports, *, bank="工商银行", amount=100.0, first=True):
    """Ledger rows of one loan: ``reports`` is a list of (report_date, classification, dpd)."""
    d = pd.Timestamp(disbursed)
    return [
        {
            "loan_id": loan_id,
            "uscc": firm,
            "bank": bank,
            "disbursed_on": d,
            "maturity": d + pd.DateOffset(years=1),
            "amount": amount,
            "report_date": pd.Timestamp(r),
            "balance": amount if cls != "loss" else amount * 0.8,
            "classification": cls,
            "dpd": dpd,
            "pledged_app_nos": pd.NA,
            "pledge_reg_no": f"R{loan_id}",
            "first_loan": first,
        }
        for r, cls, dpd in reports
    ]


def make_loans(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for c in ("loan_id", "uscc", "bank", "classification", "pledged_app_nos", "pledge_reg_no"):
        df[c] = df[c].astype("str")
    df["dpd"] = df["dpd"].astype("Int64")
    df["first_loan"] = df["first_loan"].astype("boolean")
    return df


@dataclass
class FakeBundle:
    """Only what the retraining layer reads from a ``DataBundle``."""

    tables: dict[str, pd.DataFrame]
    files: dict = field(default_factory=dict)


def synthetic_bundle(n_firms: int = 400, seed: int = 0, *, unknown_loans: int = 2):
    """Firms with one informative feature ``x`` (PD rises with x) and a quarterly ledger.

    Returns the bundle and a feature builder reading ``x`` from the enterprises table, so
    training tests need neither the features layer nor real patents.
    """
    rng = np.random.default_rng(seed)
    firms = [uscc(i) for i in range(n_firms)]
    x = rng.normal(size=n_firms)
    noise = rng.normal(size=n_firms)
    ent = pd.DataFrame(
        {
            "uscc": pd.Series(firms, dtype="str"),
            "region_code": pd.Series(
                rng.choice(["410100", "410300"], n_firms).tolist(), dtype="str"
            ),
            "x": x,
            "noise": noise,
        }
    )
    rows: list[dict] = []
    start = pd.Timestamp("2021-01-01")
    for i, f in enumerate(firms):
        d = start + pd.Timedelta(days=int(rng.integers(0, 3 * 365)))
        pd_i = 1 / (1 + np.exp(-(-2.0 + 1.5 * x[i])))
        bad = rng.random() < pd_i
        reps = []
        for q in range(1, 6):
            r = d + pd.DateOffset(months=3 * q)
            cls = "substandard" if bad and q >= 2 else "normal"
            reps.append((r, cls, 100 if bad and q >= 2 else 0))
        rows += loan_rows(f"L{i:05d}", f, d, reps, bank=["工商银行", "中国银行"][i % 2])
    for j in range(unknown_loans):
        rows += loan_rows(f"U{j}", uscc(90000 + j), "2021-06-01", [("2021-09-30", "normal", 0)])
    bundle = FakeBundle({"enterprises": ent, "loans": make_loans(rows)})

    def builder(pairs: pd.DataFrame, b) -> pd.DataFrame:
        e = b.tables["enterprises"][["uscc", "x", "noise"]]
        return pairs.merge(e, on="uscc", how="left")

    return bundle, builder
