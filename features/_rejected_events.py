"""Legal events the reader rejected that may still have happened: the patents they name
have an unknown state from the event's date on, so they are never counted or listed as
pledgeable (the feature store and the pledge list read the same dates)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import rejected_rows
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


REJECTED_EVENT_COLUMNS = (
    "source_row",
    "app_no",
    "event_code",
    "event_date",
    "from_party",
    "to_party",
    "failed",
    "duplicate",
)
"""What :func:`rejected_event_rows` gives per rejected row."""

_CACHE_KEY = "features.rejected_event_rows"


def rejected_event_rows(data: Any) -> pd.DataFrame:
    """Every ``patent_events`` row the reader rejected, read again from its file, once per
    data bundle (the result is kept in ``DataBundle.derived``; later calls copy it).

    Columns :data:`REJECTED_EVENT_COLUMNS`: ``app_no`` is the canonical number of the
    patent the row names: as written when the number is what failed (read as the reader
    reads it: every accepted spelling) and only its check character is wrong, its 12 digits
    then naming the patent; else the reader's; null when neither can be read.
    ``event_code``, ``event_date``, ``from_party``, ``to_party`` are parsed as the contract
    parses them, null where the cell itself failed; ``failed`` the columns the row failed
    on, ``;``-joined (empty when it was rejected only as a duplicate); ``duplicate``
    whether one of its rules was a duplicate rule.

    The legal-event state (:func:`unverified_since`), the transfers of entity resolution and
    a training row's decision date each read these rows: one pass over the events file
    serves them all, and only when the reader rejected event rows.
    """
    empty = pd.DataFrame(
        {
            "source_row": pd.Series(dtype="int64"),
            **{c: pd.Series(dtype="str") for c in ("app_no", "event_code")},
            "event_date": pd.Series(dtype="datetime64[ns]"),
            **{c: pd.Series(dtype="str") for c in ("from_party", "to_party", "failed")},
            "duplicate": pd.Series(dtype="bool"),
        }
    )
    rejects = getattr(data, "rejects", None)
    files = getattr(data, "files", None) or {}
    if rejects is None or not len(rejects) or "patent_events" not in files:
        return empty
    cache = getattr(data, "derived", None)
    if isinstance(cache, dict) and _CACHE_KEY in cache:
        return cache[_CACHE_KEY].copy()
    out = _read_rejected_events(rejects, data, empty)
    if isinstance(cache, dict):
        cache[_CACHE_KEY] = out
    return out.copy()


def _read_rejected_events(rejects: pd.DataFrame, data: Any, empty: pd.DataFrame) -> pd.DataFrame:
    rows = rejected_rows(
        data, "patent_events", ("app_no", "event_code", "event_date", "from_party", "to_party")
    )
    rows = rows.loc[rows["read"].to_numpy(dtype=bool)]
    if rows.empty:
        return empty
    # the number as written when it is what failed (read as the reader reads it: every
    # accepted spelling), else the reader's canonical one
    mine = rejects.loc[(rejects["table"] == "patent_events") & (rejects["column"] == "app_no")]
    typed = mine.loc[mine["source_row"].notna()].drop_duplicates("source_row")
    written = typed["value"].map(normalize_app_no).astype("str").str.extract(APP_NO_PATTERN)
    body = pd.Series(
        written["body"].to_numpy(), index=typed["source_row"].astype("int64").to_numpy(),
        dtype="str",
    )  # fmt: skip
    src = rows["source_row"].astype("int64")
    body = src.map(body).astype("str").fillna(rows["app_no"].astype("str").str.slice(2, 14))
    number = [f"CN{b}.{app_no_check_char(b)}" if isinstance(b, str) else None for b in body]
    return pd.DataFrame(
        {
            "source_row": src.to_numpy(),
            "app_no": pd.array(number, dtype="str"),
            "event_code": pd.Series(rows["event_code"].to_numpy(), dtype="str"),
            "event_date": rows["event_date"].to_numpy(dtype="datetime64[ns]"),
            "from_party": pd.Series(rows["from_party"].to_numpy(), dtype="str"),
            "to_party": pd.Series(rows["to_party"].to_numpy(), dtype="str"),
            "failed": pd.Series(rows["failed"].to_numpy(), dtype="str"),
            "duplicate": rows["duplicate"].to_numpy(dtype=bool),
        }
    )


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
    if not len(app_no):
        return none
    ev = rejected_event_rows(data)
    # a row rejected only as a duplicate repeats an accepted one: it hides nothing
    only_dup = ev["duplicate"] & (ev["failed"].astype("str") == "")
    ev = ev.loc[~only_dup.to_numpy(dtype=bool) & ev["app_no"].notna().to_numpy(dtype=bool)]
    code = ev["event_code"].astype("str")
    ev = ev.loc[(code.isna() | code.isin(STATE_CODES)).to_numpy(dtype=bool)]
    if ev.empty:
        return none
    when = ev["event_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    when = np.where(np.isnat(when), _undated_from(data), np.maximum(when, _EARLIEST))
    first = pd.Series(when).groupby(ev["app_no"].astype("str").to_numpy()).min()
    # looked up among the patents (the few numbers are the hash table, the patents are
    # probed: no table of 20M numbers)
    numbers = pa.array(first.index.tolist(), app_no.type)
    at = pc.index_in(app_no, value_set=numbers, skip_nulls=True)
    named = np.flatnonzero(pc.is_valid(at).to_numpy(zero_copy_only=False))
    if not len(named):
        return none
    which = pc.filter(at, pc.is_valid(at)).to_numpy(zero_copy_only=False).astype(np.int64)
    return named.astype(np.int64), first.to_numpy(dtype="datetime64[D]")[which]
