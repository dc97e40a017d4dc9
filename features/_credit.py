"""Credit records at an as-of date: listing windows, active records, tax grades."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_contracts.contracts import NEGATIVE_RECORD_TYPES
from data_contracts.errors import DataError

# Default listing windows (years) applied when a record has no end_date. Sources: 失信被执行人
# are listed 2 years unless removed early (最高法 规定); 限制高消费 follows the same 2 years
# [assumed]; 严重违法失信名单 3 years; 重大税收违法失信主体 3 years; 行政处罚 publication windows
# are 1 year (一般) and 3 years (严重). None = listed until removed (经营异常名录).
DEFAULT_WINDOW_YEARS: dict[str, int | None] = {
    "dishonest_debtor": 2,
    "consumption_restriction": 2,
    "serious_violation": 3,
    "abnormal_operation": None,
    "major_tax_violation": 3,
}
ADMIN_PENALTY_WINDOW_YEARS = {"general": 1, "serious": 3}
NEGATIVE_TYPES = NEGATIVE_RECORD_TYPES
TAX_GRADE_VALUE = {"A": 4, "B": 3, "M": 2, "C": 1, "D": 0}


def to_timestamp(as_of: object, what: str = "as_of") -> pd.Timestamp:
    """Parse a scalar as-of date (date-only) or raise a DataError that names it."""
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"The {what!r} date {as_of!r} cannot be read as a date.",
            "Give it as YYYY-MM-DD.",
        ) from exc
    if pd.isna(ts):
        raise DataError(f"The {what!r} date is missing.", "Give it as YYYY-MM-DD.")
    return ts.normalize().as_unit("ns").tz_localize(None)


def effective_end(records: pd.DataFrame, unknown_severity: str = "general") -> pd.Series:
    """End of each record's listing (exclusive): ``end_date`` when given, else the type's
    default window from ``start_date`` (NaT = until removed; tax ratings never end).
    ``unknown_severity``: the window of a penalty whose severity is not given (``general``,
    1 year; ``serious``, 3 years)."""
    start = records["start_date"].astype("datetime64[ns]")
    end = records["end_date"].astype("datetime64[ns]").copy()
    rtype = records["record_type"].astype("str")
    years = pd.Series(np.nan, index=records.index)
    for t, y in DEFAULT_WINDOW_YEARS.items():
        if y is not None:
            years[rtype == t] = y
    sev = records["severity"].astype("str").fillna(unknown_severity)
    is_pen = rtype == "admin_penalty"
    years[is_pen] = np.where(sev[is_pen] == "serious", 3, 1)
    fill = end.isna() & years.notna()
    for y in (1, 2, 3):
        m = fill & (years == y)
        end[m] = start[m] + pd.DateOffset(years=y)
    return end


def active_credit_records(
    credit_records: pd.DataFrame, as_of: object, *, unknown_severity: str = "general"
) -> pd.DataFrame:
    """Negative credit records listed at ``as_of``.

    A record is active when ``start_date ≤ as_of < effective_end`` (``effective_end`` =
    ``end_date``, else ``start_date`` + the type's default window: dishonest_debtor 2 y,
    consumption_restriction 2 y, serious_violation 3 y, major_tax_violation 3 y,
    admin_penalty 1 y (一般) / 3 y (严重, also when severity is empty: 1 y, or 3 y with
    ``unknown_severity="serious"``), abnormal_operation until removed). Tax ratings are not
    listings: see :func:`latest_tax_ratings`. A missing severity stays missing in the result.

    Parameters
    ----------
    credit_records : pd.DataFrame
        Canonical credit_records (``uscc`` resolved, e.g. ``EntityLinks.credit_records``).
    as_of : date-like

    Returns
    -------
    pd.DataFrame
        The active rows with their columns plus ``effective_end`` (NaT = until removed),
        sorted by uscc, record_type, start_date.
    """
    ts = to_timestamp(as_of)
    _require(credit_records, ("uscc", "record_type", "start_date"), "active_credit_records")
    rec = credit_records.copy()
    for c in ("end_date", "severity"):
        if c not in rec.columns:
            rec[c] = pd.NA
    rec["effective_end"] = effective_end(rec, unknown_severity)
    start = rec["start_date"].astype("datetime64[ns]")
    active = (
        rec["record_type"].isin(NEGATIVE_TYPES)
        & (start <= ts)
        & (rec["effective_end"].isna() | (rec["effective_end"] > ts))
    )
    out = rec[active.to_numpy()]
    return out.sort_values(["uscc", "record_type", "start_date"], kind="stable").reset_index(
        drop=True
    )


def latest_tax_ratings(credit_records: pd.DataFrame, as_of: object) -> pd.DataFrame:
    """Latest tax rating per firm published ≤ as_of (worst grade on a tie, so a
    contradictory export never hides a C/D rating): ``uscc, value, start_date, grade`` with
    grade A=4 … D=0, and ``record_id`` when the table has one (the knock-out rule names it)."""
    ts = to_timestamp(as_of)
    _require(credit_records, ("uscc", "record_type", "start_date", "value"), "latest_tax_ratings")
    rec = credit_records[
        (credit_records["record_type"] == "tax_rating")
        & (credit_records["start_date"] <= ts)
        & credit_records["uscc"].notna()
    ].copy()
    rec["grade"] = rec["value"].map(TAX_GRADE_VALUE).astype("float64")
    rec = rec[rec["grade"].notna()]
    rec = rec.sort_values(["uscc", "start_date", "grade"], ascending=[True, False, True])
    keep = ["uscc", "value", "start_date", "grade"] + (
        ["record_id"] if "record_id" in rec.columns else []
    )
    return rec.drop_duplicates("uscc")[keep].sort_values("uscc").reset_index(drop=True)


def _require(df: pd.DataFrame, cols: tuple[str, ...], fn: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"{fn} expects a DataFrame of credit_records, got {type(df).__name__}.",
            "Pass the canonical credit_records table.",
        )
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"{fn}: the table lacks column(s) {', '.join(missing)}.",
            "Pass the canonical table (docs/data_model.md), e.g. EntityLinks.credit_records.",
        )
