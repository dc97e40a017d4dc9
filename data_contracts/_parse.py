"""Column parsers by kind: whole-column, vectorised, each returning values plus failure masks.

A parser gets the raw column (strings from CSV/XLSX, typed from parquet) and returns the
canonical Arrow array and a list of :class:`Failure` (boolean mask, rule, message template).
Templates use ``{column}`` and ``{value}`` and are filled only for failing rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts._text import (
    _has,
    as_string,
    by_dictionary,
    empty_to_null,
    enum_key,
    enum_lookup_key,
    nfkc,
)

DATE_FORMATS = "YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, YYYY年MM月DD日 or an Excel serial"
# Excel serials accepted as dates: 10000 (1927-05-18) .. 99999 (2173). Smaller numbers are
# far more likely to be years or counts than dates.
SERIAL_MIN, SERIAL_MAX = 10_000, 99_999
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
_YEAR_MIN, _YEAR_MAX = 1900, 2200

_DATE_SEP = (
    r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d*)?)?)?$"
)
_DATE_COMPACT = r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"
_SERIAL = r"^\d{5}(?:\.\d+)?$"
_INT = r"^[+-]?0*\d{1,15}(?:\.0*)?$"  # a count of at most 15 digits: exact in int64 and float64
_MAX_COUNT = 1e15
_FLOAT = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
# Commas as thousands separators: groups of three digits after a first group of 1-3.
_GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$"

_TRUE = ("是", "y", "yes", "true", "t", "1", "有", "√")
_FALSE = ("否", "n", "no", "false", "f", "0", "无", "×")
BOOL_MAP: Mapping[str, bool] = {
    **{enum_lookup_key(k): True for k in _TRUE},
    **{enum_lookup_key(k): False for k in _FALSE},
}


@dataclass(frozen=True)
class Failure:
    """Rows of one column failing one rule."""

    mask: np.ndarray
    rule: str
    message: str


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _chunked(arr: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def parse_date(raw: pa.ChunkedArray) -> tuple[pa.ChunkedArray, list[Failure]]:
    """Dates of every accepted format to ``timestamp[ns]`` at midnight.

    A typed (parquet/xlsx) date outside the years 1900–2200 fails as ``date_unparseable``
    like a text one (``timestamp[ns]`` ends in 2262: a cast would wrap it around)."""
    t = raw.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        if pa.types.is_timestamp(t) and t.tz is not None:
            raw = pc.local_timestamp(raw)
        year = pc.year(raw)
        outside = _np(pc.or_(pc.less(year, _YEAR_MIN), pc.greater(year, _YEAR_MAX)))
        if outside.any():
            raw = pc.if_else(pa.array(~outside), raw, pa.scalar(None, raw.type))
        ts = pc.cast(raw, pa.timestamp("ns"), safe=False) if not pa.types.is_date(t) else raw
        if pa.types.is_date(t):
            ts = pc.cast(pc.cast(raw, pa.date32()), pa.timestamp("ns"))
        failures = (
            [Failure(outside, "date_unparseable", "{column} {value!r} is outside 1900-2200")]
            if outside.any()
            else []
        )
        return _chunked(pc.floor_temporal(ts, unit="day")), failures
    values, (bad,) = by_dictionary(as_string(raw), _parse_date_text)
    message = "{column} {value!r} is not a valid date (" + DATE_FORMATS + ")"
    return _chunked(values), [Failure(bad, "date_unparseable", message)] if bad.any() else []


def far_future(raw: pa.ChunkedArray) -> np.ndarray:
    """Rows holding a date after 2200 (a year such as 9999 written for "no end"), typed or
    as text in an accepted format."""
    t = raw.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return _np(pc.greater(pc.year(raw), _YEAR_MAX))
    text = empty_to_null(pc.utf8_trim_whitespace(nfkc(as_string(raw))))
    y = pc.coalesce(
        pc.struct_field(pc.extract_regex(text, _DATE_SEP), "y"),
        pc.struct_field(pc.extract_regex(text, _DATE_COMPACT), "y"),
    )
    return _np(pc.greater(pc.cast(y, pa.int64()), _YEAR_MAX))


def _parse_date_text(raw: pa.ChunkedArray) -> tuple[pa.Array, list[np.ndarray]]:
    text = empty_to_null(pc.utf8_trim_whitespace(nfkc(raw)))
    present = _np(text.is_valid())
    sep = pc.extract_regex(text, _DATE_SEP)
    compact = pc.extract_regex(text, _DATE_COMPACT)
    y = pc.coalesce(pc.struct_field(sep, "y"), pc.struct_field(compact, "y"))
    m = pc.coalesce(pc.struct_field(sep, "m"), pc.struct_field(compact, "m"))
    d = pc.coalesce(pc.struct_field(sep, "d"), pc.struct_field(compact, "d"))
    yi = pc.fill_null(pc.cast(y, pa.int64()), 0).to_numpy(zero_copy_only=False)
    mi = pc.fill_null(pc.cast(m, pa.int64()), 0).to_numpy(zero_copy_only=False)
    di = pc.fill_null(pc.cast(d, pa.int64()), 0).to_numpy(zero_copy_only=False)
    ymd = _np(y.is_valid())
    in_range = ymd & (yi >= _YEAR_MIN) & (yi <= _YEAR_MAX) & (mi >= 1) & (mi <= 12) & (di >= 1)
    months = np.where(in_range, (yi - 1970) * 12 + (mi - 1), 0).astype("datetime64[M]")
    first = months.astype("datetime64[D]")
    month_len = ((months + 1).astype("datetime64[D]") - first).astype(np.int64)
    ok_ymd = in_range & (di <= month_len)
    days = np.where(ok_ymd, first + (di - 1), np.datetime64("NaT", "D"))
    is_serial = _np(pc.match_substring_regex(text, _SERIAL)) & ~ymd
    if is_serial.any():
        serial = pc.cast(pc.if_else(pa.array(is_serial), text, None), pa.float64())
        serial_np = pc.fill_null(serial, 0.0).to_numpy(zero_copy_only=False)
        serial_ok = is_serial & (serial_np >= SERIAL_MIN) & (serial_np <= SERIAL_MAX)
        serial_days = _EXCEL_EPOCH + np.floor(serial_np).astype(np.int64)
        days = np.where(serial_ok, serial_days, days)
        ok_ymd = ok_ymd | serial_ok
    bad = present & ~ok_ymd
    out = pa.array(days.astype("datetime64[ns]"), pa.timestamp("ns"), from_pandas=True)
    return out, [bad]


def _numeric_text(raw: pa.ChunkedArray) -> pa.ChunkedArray:
    """Number text without spaces, and without its commas where they group thousands
    (``1,234,567.8``); other commas stay, so the number fails (``9601,9`` is not 96019)."""
    text = pc.replace_substring_regex(nfkc(as_string(raw)), r"\s", "")
    if _has(text, ","):  # a byte scan: columns without a comma skip the grouping check
        grouped = pc.match_substring_regex(text, _GROUPED)
        text = pc.if_else(grouped, pc.replace_substring(text, ",", ""), text)
    return empty_to_null(text)


def parse_int(raw: pa.ChunkedArray) -> tuple[pa.ChunkedArray, list[Failure]]:
    """Counts to int64; ``12``, ``12.0``, `` 1,200 `` accepted (commas only between
    groups of three digits)."""
    t = raw.type
    if pa.types.is_integer(t):
        return _chunked(pc.cast(raw, pa.int64())), []
    if pa.types.is_floating(t):
        whole = pc.and_(pc.equal(pc.floor(raw), raw), pc.less(pc.abs(raw), _MAX_COUNT))
        finite = pc.and_(pc.is_finite(raw), whole)
        bad = _np(pc.and_(raw.is_valid(), pc.invert(pc.fill_null(finite, False))))
        vals = pc.cast(pc.if_else(finite, raw, None), pa.int64(), safe=False)
        msg = "{column} {value!r} is not a whole number of at most 15 digits"
        return _chunked(vals), [Failure(bad, "number_unparseable", msg)] if bad.any() else []
    # Counts repeat a few hundred values: parse the distinct ones only.
    vals, (bad,) = by_dictionary(as_string(raw), _parse_int_text)
    msg = "{column} {value!r} is not a whole number of at most 15 digits"
    return _chunked(vals), [Failure(bad, "number_unparseable", msg)] if bad.any() else []


def _parse_int_text(raw: pa.ChunkedArray) -> tuple[pa.Array, list[np.ndarray]]:
    text = _numeric_text(raw)
    good = pc.match_substring_regex(text, _INT)
    bad = _np(pc.and_(text.is_valid(), pc.invert(pc.fill_null(good, False))))
    clean = pc.replace_substring_regex(pc.if_else(good, text, None), r"\.0*$", "")
    return pc.cast(clean, pa.int64()), [bad]


def parse_float(raw: pa.ChunkedArray) -> tuple[pa.ChunkedArray, list[Failure]]:
    """Amounts to float64; spaces and thousands separators (``1,234.5``; a comma anywhere
    else makes the text unparseable) are ignored."""
    t = raw.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        vals = pc.cast(raw, pa.float64())
        nan = pc.fill_null(pc.is_nan(vals), False)
        bad = _np(pc.and_(vals.is_valid(), pc.invert(pc.is_finite(vals))))
        bad &= ~_np(nan)  # NaN is how pandas writes a missing number
        vals = pc.if_else(pc.fill_null(pc.is_finite(vals), False), vals, None)  # one reject
        msg = "{column} {value!r} is not a finite number"
        return _chunked(vals), [Failure(bad, "number_unparseable", msg)] if bad.any() else []
    vals, (bad,) = by_dictionary(as_string(raw), _parse_float_text)
    msg = "{column} {value!r} is not a number"
    return _chunked(vals), [Failure(bad, "number_unparseable", msg)] if bad.any() else []


def _parse_float_text(raw: pa.ChunkedArray) -> tuple[pa.Array, list[np.ndarray]]:
    text = _numeric_text(raw)
    good = pc.match_substring_regex(text, _FLOAT)
    bad = _np(pc.and_(text.is_valid(), pc.invert(pc.fill_null(good, False))))
    return pc.cast(pc.if_else(good, text, None), pa.float64()), [bad]


def map_enum(
    raw: pa.ChunkedArray, mapping: Mapping[str, object], value_type: pa.DataType
) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Dictionary look-up of normalised values; returns (canonical, unknown mask)."""
    lookup_keys = pa.array(list(mapping), pa.string())
    lookup_vals = pa.array(list(mapping.values()), value_type)

    def lookup(values: pa.ChunkedArray) -> tuple[pa.Array, list[np.ndarray]]:
        keys = enum_key(values)
        idx = pc.index_in(keys, value_set=lookup_keys)
        unknown = _np(pc.and_(keys.is_valid(), idx.is_null()))
        return pc.take(lookup_vals, idx), [unknown]

    vals, (unknown,) = by_dictionary(as_string(raw), lookup)
    return _chunked(vals), unknown


def parse_enum(
    raw: pa.ChunkedArray, mapping: Mapping[str, str], allowed: tuple[str, ...]
) -> tuple[pa.ChunkedArray, list[Failure]]:
    vals, unknown = map_enum(raw, mapping, pa.string())
    shown = ", ".join(allowed)
    msg = (
        "{column} {value!r} is not a known value (accepted: " + shown + ", or their Chinese names)"
    )
    return vals, [Failure(unknown, "enum_unknown", msg)] if unknown.any() else []


def parse_bool(raw: pa.ChunkedArray) -> tuple[pa.ChunkedArray, list[Failure]]:
    if pa.types.is_boolean(raw.type):
        return raw, []
    vals, unknown = map_enum(raw, BOOL_MAP, pa.bool_())
    msg = "{column} {value!r} is not yes/no (accepted: 是/否, Y/N, 1/0, true/false)"
    return vals, [Failure(unknown, "bool_unparseable", msg)] if unknown.any() else []
