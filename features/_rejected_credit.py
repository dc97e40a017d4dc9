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

from data_contracts import rejected_rows
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
_READ = ("uscc", "name", "record_type", "severity", "value", "start_date", "end_date", "record_id")


def rejected_credit_records(data: Any) -> pd.DataFrame:
    """The rejected ``credit_records`` rows that may hide a knock-out.

    A row counts unless it was rejected only as a duplicate of an accepted row, and its type
    is a negative record type, unreadable, or a tax rating whose grade is not plainly A, B
    or M (C, D, empty or unreadable, e.g. ``D级``: an A/B/M rating hides nothing). Each cell
    comes back as the contract parses it, null where the cell itself failed. Reading the
    rows again costs a pass over the credit file, only when it had rejects.
    """
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in REJECTED_CREDIT_COLUMNS})
    rows = rejected_rows(data, "credit_records", _READ)
    # a row rejected only as a duplicate repeats an accepted one: it hides nothing
    rows = rows.loc[(rows["read"] & ~rows["only_duplicate"]).to_numpy(dtype=bool)]
    if rows.empty:
        return empty
    kind = rows["record_type"].astype("str")
    grade = rows["value"].astype("str").str.strip().str.upper()
    # a grade that is not plainly A, B or M (C, D, empty, or unreadable such as 'D级')
    harmless = grade.isin(_HARMLESS_GRADES).fillna(False).astype(bool)
    may_hide = kind.isna() | kind.isin(NEGATIVE_RECORD_TYPES) | ((kind == "tax_rating") & ~harmless)
    rows = rows.loc[may_hide.to_numpy(dtype=bool)]
    if rows.empty:
        return empty
    # a rule about the end date (unreadable, or before the start) leaves the end unknown
    end_unread = rows["failed"].astype("str").str.contains("end_date", regex=False)
    out = rows.assign(end_unread=end_unread.fillna(False).to_numpy(dtype=bool))
    return out[list(REJECTED_CREDIT_COLUMNS)].reset_index(drop=True)
