"""Legal events the reader rejected that may still have happened: the patents they name
have an unknown state from the event's date on, so they are never counted or listed as
pledgeable (the feature store and the pledge list read the same dates)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts.identifiers import APP_NO_PATTERN, app_no_check_char, normalize_app_no

STATE_CODES = ("PE01", "PP01", "CF01", "CX01", "IW01", "IP01", "AV01", "TR01")
"""Legal events that can end a patent's pledgeability (pledge, preservation, lapse, end,
invalidation, transfer); a release (PC01, PD01, RR01) never can."""

_EARLIEST = np.datetime64("1900-01-01", "D")
"""The date of a rejected event whose date is unreadable when the data's own date is not
known: it may be any date, so it counts at every as_of."""


def _undated_from(data: Any) -> np.datetime64:
    """When a rejected event of unreadable date counts: from the date the data was read for
    (``DataBundle.as_of``; a screening run's as-of), else from :data:`_EARLIEST`.

    The event happened by the data's date, but nobody can say it happened by an earlier
    one: counting it at every earlier as_of (a training row dated at a loan's disbursement)
    put a lapse or pledge of later years into the firm's past, the label-related leak a
    backtest must not have. At the data's own date, and after, it still counts.
    """
    as_of = getattr(data, "as_of", None)
    if as_of is None:
        return _EARLIEST
    return max(np.datetime64(pd.Timestamp(as_of).date(), "D"), _EARLIEST)


def unverified_since(data: Any, app_no: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The patents of ``app_no`` (canonical numbers) named by a rejected legal event that
    may change their state: their rows and the first such event's date (``datetime64[D]``).

    A rejected event counts when its application number is the patent's (read as written,
    also when only its check character is wrong: the 12 digits match), its code is one of
    :data:`STATE_CODES` or unreadable; an unreadable date counts from the date the data was
    read for (:func:`_undated_from`).
    Without this, a patent whose pledge (PE01) or lapse (CF01) was mistyped would be shown
    to banks as 有效，未质押. Reading the rejected rows again costs a pass over the events
    file, only when the reader rejected event rows. The result is as small as the rejects:
    a hash look-up of a few canonical numbers among the patents, not a column per patent.
    """
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype="datetime64[D]"))
    rejects = getattr(data, "rejects", None)
    files = getattr(data, "files", None) or {}
    if rejects is None or not len(rejects) or "patent_events" not in files or not len(app_no):
        return none
    sel = (rejects["table"] == "patent_events") & rejects["source_row"].notna()
    sel &= ~rejects["rule"].astype("str").str.startswith("duplicate_")
    if not sel.any():
        return none
    from data_contracts import read_rows

    rej = rejects.loc[sel, ["source_row", "column", "value"]]
    rows = read_rows(
        files["patent_events"].path, "patent_events",
        rej["source_row"].astype("int64").unique(), ("app_no", "event_code", "event_date"),
    )  # fmt: skip
    # the number as written when it is what failed (read as the reader reads it: every
    # accepted spelling), else the reader's canonical one
    typed = rej.loc[rej["column"] == "app_no"].drop_duplicates("source_row")
    written = typed["value"].map(normalize_app_no).astype("str").str.extract(APP_NO_PATTERN)
    body = pd.Series(
        written["body"].to_numpy(), index=typed["source_row"].astype("int64").to_numpy(),
        dtype="str",
    )  # fmt: skip
    canonical = rows["app_no"].astype("str").str.slice(2, 14)
    ev = rows.assign(body=rows["source_row"].map(body).astype("str").fillna(canonical))
    ev = ev.dropna(subset=["body"])
    code = ev["event_code"].astype("str")
    ev = ev.loc[code.isna() | code.isin(STATE_CODES)]
    if ev.empty:
        return none
    when = ev["event_date"].astype("datetime64[ns]").to_numpy().astype("datetime64[D]")
    when = np.where(np.isnat(when), _undated_from(data), np.maximum(when, _EARLIEST))
    first = pd.Series(when).groupby(ev["body"].to_numpy()).min()
    # each body's canonical number (CN + 12 digits + . + check), looked up among the patents
    # (the few numbers are the hash table, the patents are probed: no table of 20M numbers)
    numbers = pa.array([f"CN{b}.{app_no_check_char(b)}" for b in first.index], app_no.type)
    at = pc.index_in(app_no, value_set=numbers, skip_nulls=True)
    named = np.flatnonzero(pc.is_valid(at).to_numpy(zero_copy_only=False))
    if not len(named):
        return none
    which = pc.filter(at, pc.is_valid(at)).to_numpy(zero_copy_only=False).astype(np.int64)
    return named.astype(np.int64), first.to_numpy(dtype="datetime64[D]")[which]
