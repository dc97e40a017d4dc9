"""Ledger reports the reader rejected, read again for the labels.

A loan is labelled from its reports; a report rejected by the reader (two copies of one
report date with different balances, a USCC with a wrong check character, a negative
``dpd``, an unknown 五级分类) is still the bank's word about the loan. Labelling from the
accepted rows alone would turn a loan whose only 次级 report was rejected into a good one,
so the rejected rows are read again here (only when the ledger had rejects: one more pass
over the loans file) with each cell parsed as the contract parses it, null where the cell
itself failed, and :func:`screening.retrain.labels.label_loans` uses what is readable.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from data_contracts import rejected_rows

REJECTED_LOAN_COLUMNS = (
    "source_row",
    "loan_id",
    "uscc",
    "bank",
    "disbursed_on",
    "maturity",
    "amount",
    "report_date",
    "classification",
    "dpd",
    "dpd_unreadable",
    "date_unreadable",
    "rule",
)
"""What :func:`rejected_loan_rows` gives per rejected row. ``dpd_unreadable`` is true when
the row's ``dpd`` cell itself failed (an empty cell is 0, as on accepted rows);
``date_unreadable`` when its ``report_date`` failed a rule (unreadable, after today, before
the disbursement: the date it gives is not the report's); ``rule`` is
the reader's rules for the row, sorted and joined with ``+`` (e.g. ``duplicate_conflict``)."""

_ADDED = ("source_row", "dpd_unreadable", "date_unreadable", "rule")
_READ = tuple(c for c in REJECTED_LOAN_COLUMNS if c not in _ADDED)
"""The ledger cells read again: every column above but those this module adds."""


def empty_rejected() -> pd.DataFrame:
    """A frame with :data:`REJECTED_LOAN_COLUMNS` and no rows."""
    out = pd.DataFrame({c: pd.Series(dtype="object") for c in REJECTED_LOAN_COLUMNS})
    for c in ("disbursed_on", "maturity", "report_date"):
        out[c] = pd.Series(dtype="datetime64[ns]")
    out["dpd"] = pd.Series(dtype="Int64")
    out["dpd_unreadable"] = pd.Series(dtype="bool")
    out["date_unreadable"] = pd.Series(dtype="bool")
    return out


def rejected_loan_rows(data: Any) -> pd.DataFrame:
    """Every rejected ``loans`` row, re-read from the ledger file.

    Parameters
    ----------
    data : DataBundle
        What ``data_contracts.read_data_dir`` returned (``rejects`` and ``files``). An object
        without them (a hand-made bundle) has no rejected rows.

    Returns
    -------
    DataFrame
        :data:`REJECTED_LOAN_COLUMNS`, one row per rejected data row, sorted by
        ``source_row``. A row the file cannot give back (a line with the wrong number of
        fields) keeps its ``rule`` with every cell null, so it is still counted.
    """
    rows = rejected_rows(data, "loans", _READ)
    if rows.empty:
        return empty_rejected()
    failed = rows["failed"].astype("str").str.split(";")
    out = rows.assign(
        dpd_unreadable=failed.map(lambda c: "dpd" in c).fillna(False).astype(bool),
        date_unreadable=failed.map(lambda c: "report_date" in c).fillna(False).astype(bool),
        rule=rows["rules"],
    )
    for c in ("disbursed_on", "maturity", "report_date"):
        out[c] = pd.to_datetime(out[c])
    out["dpd"] = out["dpd"].astype("Int64")
    return out[list(REJECTED_LOAN_COLUMNS)].reset_index(drop=True)
