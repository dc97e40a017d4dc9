"""Credit records the reader rejected that may still hide a knock-out.

A 失信被执行人 listing whose removal date reads ``—``, or a penalty with an unknown severity,
is rejected as a row (and counted in ``rejects.csv``); without a second look, the firm it
names would be screened as if the record did not exist. The rows are read again here and
linked to firms like accepted records, so the run can hold such firms back until a person
has checked them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from data_contracts.contracts import NEGATIVE_RECORD_TYPES

REJECTED_CREDIT_COLUMNS = (
    "source_row",
    "uscc",
    "name",
    "record_type",
    "severity",
    "value",
    "start_date",
    "end_date",
    "end_unread",
    "record_id",
    "reason",
)
"""What :func:`rejected_credit_records` gives per row (``uscc`` as written when readable,
``end_unread`` whether the row was rejected for its end date, so that an empty ``end_date``
means "not given" only when it is false; ``reason`` the reader's messages joined)."""

_HARMLESS_GRADES = ("A", "B", "M")


def rejected_credit_records(data: Any) -> pd.DataFrame:
    """The rejected ``credit_records`` rows that may hide a knock-out.

    A row counts unless it was rejected only as a duplicate of an accepted row, and its type
    is a negative record type, unreadable, or a tax rating whose grade is not plainly A, B
    or M (C, D, empty or unreadable, e.g. ``D级``: an A/B/M rating hides nothing). Each cell
    comes back as the contract parses it, null where the cell itself failed. Reading the
    rows again costs a pass over the credit file, only when it had rejects.
    """
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in REJECTED_CREDIT_COLUMNS})
    rejects = getattr(data, "rejects", None)
    files = getattr(data, "files", None) or {}
    if rejects is None or not len(rejects) or "credit_records" not in files:
        return empty
    mine = rejects.loc[(rejects["table"] == "credit_records") & rejects["source_row"].notna()]
    duplicate = mine["rule"].astype("str").str.startswith("duplicate_")
    only_duplicate = duplicate.groupby(mine["source_row"]).all()
    mine = mine.loc[mine["source_row"].map(~only_duplicate).astype(bool)]
    if mine.empty:
        return empty
    from data_contracts import read_rows

    rows = read_rows(
        files["credit_records"].path,
        "credit_records",
        mine["source_row"].astype("int64").unique(),
        ("uscc", "name", "record_type", "severity", "value", "start_date", "end_date", "record_id"),
    )
    kind = rows["record_type"].astype("str")
    grade = rows["value"].astype("str").str.strip().str.upper()
    # a grade that is not plainly A, B or M (C, D, empty, or unreadable such as 'D级')
    harmless = grade.isin(_HARMLESS_GRADES).fillna(False).astype(bool)
    may_hide = kind.isna() | kind.isin(NEGATIVE_RECORD_TYPES) | ((kind == "tax_rating") & ~harmless)
    rows = rows.loc[may_hide.to_numpy(dtype=bool)]
    if rows.empty:
        return empty
    reasons = (
        mine.assign(message=mine["message"].astype("str"))
        .groupby(mine["source_row"].astype("int64"))["message"]
        .agg(lambda s: "；".join(dict.fromkeys(s)))
    )
    # a rule about the end date (unreadable, or before the start) leaves the end unknown
    end_rules = mine["column"].astype("str").str.contains("end_date", regex=False).fillna(False)
    end_unread = pd.Index(mine.loc[end_rules.to_numpy(dtype=bool), "source_row"].astype("int64"))
    source = rows["source_row"].astype("int64")
    out = rows.assign(
        reason=source.map(reasons), end_unread=source.isin(end_unread).to_numpy(dtype=bool)
    )
    return out[list(REJECTED_CREDIT_COLUMNS)].reset_index(drop=True)
