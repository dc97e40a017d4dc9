"""Firm-level features from the registry and the GB/T 4754 section."""

from __future__ import annotations

import numpy as np
import pandas as pd

SECTIONS = tuple("ABCDEFGHIJKLMNOPQRST")
# GB/T 4754-2017: first division (2 digits) of each section.
_SECTION_START = (
    (1, "A"), (6, "B"), (13, "C"), (44, "D"), (47, "E"), (51, "F"), (53, "G"), (61, "H"),
    (63, "I"), (66, "J"), (70, "K"), (71, "L"), (73, "M"), (76, "N"), (80, "O"), (83, "P"),
    (84, "Q"), (86, "R"), (91, "S"), (97, "T"),
)  # fmt: skip
SIZE_RANK = {"micro": 1, "small": 2, "medium": 3, "large": 4}


def industry_section(codes: pd.Series) -> pd.Categorical:
    """GB/T 4754 section letter from an industry code (``C3919`` or ``3919`` → ``C``)."""
    c = codes.astype("str").str.strip().str.upper()
    first = c.str[0]
    letter = first.where(first.isin(SECTIONS))
    div = pd.to_numeric(c.str.extract(r"^(\d{2})", expand=False), errors="coerce")
    starts = np.array([s for s, _ in _SECTION_START])
    letters = np.array([x for _, x in _SECTION_START], dtype=object)
    idx = np.searchsorted(starts, div.fillna(0).to_numpy(), side="right") - 1
    by_div = np.where((div.notna().to_numpy()) & (idx >= 0) & (div.fillna(0).to_numpy() <= 97),
                      letters[np.clip(idx, 0, None)], None)  # fmt: skip
    out = letter.to_numpy(dtype=object, na_value=None)
    out = np.where(pd.isna(out), by_div, out)
    return pd.Categorical(out, categories=list(SECTIONS))


def firm_features(ent: pd.DataFrame, firm_id: np.ndarray, as_of: np.ndarray) -> pd.DataFrame:
    """Firm features for pairs given registry row ids (-1 = unknown firm → NaN)."""
    known = firm_id >= 0
    take = np.where(known, firm_id, 0)
    e = ent.iloc[take].reset_index(drop=True)
    as_of = pd.to_datetime(pd.Series(as_of)).astype("datetime64[ns]")
    est = e["established"].astype("datetime64[ns]")
    age = (as_of - est).dt.days.to_numpy(dtype=float, na_value=np.nan) / 365.25
    age = np.where(age >= 0, age, np.nan)
    emp = e["employees"].astype("float64").to_numpy(na_value=np.nan)
    cap = e["registered_capital"].astype("float64").to_numpy(na_value=np.nan)
    rev = e["revenue"].astype("float64").to_numpy(na_value=np.nan)
    rd = e["rd_expense"].astype("float64").to_numpy(na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame(
            {
                "firm_age_years": age,
                "firm_log_employees": np.where(
                    emp >= 0, np.log1p(np.where(emp >= 0, emp, 0)), np.nan
                ),
                "firm_log_registered_capital": np.where(
                    cap >= 0, np.log1p(np.where(cap >= 0, cap, 0)), np.nan
                ),
                "firm_rd_intensity": np.where(rev > 0, rd / np.where(rev > 0, rev, 1), np.nan),
                "firm_size_rank": e["size"].map(SIZE_RANK).astype("float64").to_numpy(),
            }
        )
    out["firm_industry_section"] = industry_section(e["industry_code"])
    for col in out.columns[:-1]:
        out.loc[~known, col] = np.nan
    out.loc[~known, "firm_industry_section"] = pd.NA
    return out
