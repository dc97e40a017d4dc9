"""Vectorised text clean-up on pyarrow arrays (header matching, codes, names, lists).

Everything here works on whole columns with ``pyarrow.compute`` kernels: the reader must stay
well above a million rows a second on clean input, so no Python loop per cell.
"""

from __future__ import annotations

import re
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

# Characters ignored when matching a header to a canonical name or alias.
_HEADER_NOISE = re.compile(r"[\s_\-*:：·.]+")


def normalize_header(header: object) -> str:
    """Normalise a column header for matching.

    NFKC (full-width brackets and letters become half-width), strip, casefold, and remove
    spaces, underscores, hyphens, dots and asterisks (templates mark required columns with
    ``*``). ``注册资本（万元）``, ``注册资本(万元)`` and `` 注册资本(万元) `` all normalise alike.
    """
    text = unicodedata.normalize("NFKC", str(header)).strip().casefold()
    return _HEADER_NOISE.sub("", text)


def strip_parenthetical(norm: str) -> str:
    """``注册资本(万元)`` -> ``注册资本``: the unit-free spelling of an alias."""
    return re.sub(r"\([^()]*\)", "", norm)


def as_string(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Any column as strings (numbers from parquet/XLSX keep their digits, ``12.0`` -> ``12``)."""
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_floating(arr.type):
        # Spreadsheets store integers as floats; 42795.0 must read as 42795.
        as_int = pc.equal(pc.floor(arr), arr)
        ints = pc.cast(pc.if_else(as_int, arr, None), pa.int64(), safe=False)
        return pc.if_else(as_int, pc.cast(ints, pa.string()), pc.cast(arr, pa.string()))
    if pa.types.is_null(arr.type):
        return arr.cast(pa.string())
    return pc.cast(arr, pa.string())


def _all_ascii(arr: pa.ChunkedArray) -> bool:
    if len(arr) == 0 or arr.null_count == len(arr):
        return True
    return bool(pc.all(pc.string_is_ascii(arr)).as_py())


def nfkc(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """NFKC-normalise, skipping the work when the column is plain ASCII (the common case)."""
    if _all_ascii(arr):
        return arr
    return pc.utf8_normalize(arr, form="NFKC")


def empty_to_null(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Empty strings are missing values."""
    if len(arr) == 0:
        return arr
    return pc.if_else(pc.equal(pc.binary_length(arr), 0), None, arr)


def clean_text(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Names and free text: keep the characters, strip surrounding whitespace."""
    return empty_to_null(pc.utf8_trim_whitespace(as_string(arr)))


def clean_code(
    arr: pa.ChunkedArray, *, remove_spaces: bool = True, upper: bool = True, drop: str = ""
) -> pa.ChunkedArray:
    """Codes: half-width (NFKC), no surrounding spaces, upper case.

    Parameters
    ----------
    remove_spaces : bool
        Remove every whitespace character (USCCs, application numbers); otherwise collapse
        runs of whitespace to one space (IPC ``H01M 10/052``).
    drop : str
        Extra characters to remove (e.g. ``-`` in USCCs).
    """
    out = nfkc(as_string(arr))
    out = pc.utf8_trim_whitespace(out)
    if remove_spaces:
        out = pc.replace_substring_regex(out, r"\s+", "")
    else:
        out = pc.replace_substring_regex(out, r"\s+", " ")
    for ch in drop:
        out = pc.replace_substring(out, ch, "")
    if upper:
        out = pc.utf8_upper(out)
    return empty_to_null(out)


def enum_key(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Key used to look an enum value up: NFKC, casefold, no spaces or quotes."""
    out = nfkc(as_string(arr))
    out = pc.utf8_lower(out)
    out = pc.replace_substring_regex(out, r"[\s\"'“”‘’「」_]+", "")
    return empty_to_null(out)


def enum_lookup_key(value: str) -> str:
    """The scalar twin of :func:`enum_key`, used to build mapping tables."""
    text = unicodedata.normalize("NFKC", value).lower()
    return re.sub(r"[\s\"'“”‘’「」_]+", "", text)


def clean_list(
    arr: pa.ChunkedArray, *, code: bool = False, remove_spaces: bool = True
) -> pa.ChunkedArray:
    """List cells: split on ``;`` or ``；``, strip items, drop empty ones, join with ``;``.

    ``code=True`` also NFKC-normalises and upper-cases each item and removes its inner
    spaces (USCCs, country codes) or, with ``remove_spaces=False``, collapses them (IPC). Order is kept; a cell with no item becomes missing.
    """
    text = as_string(arr)
    if code:
        text = nfkc(text)
    else:
        # Only the separator is normalised in names; the names themselves keep their characters.
        text = pc.replace_substring(text, "；", ";")
    if code:
        text = pc.replace_substring_regex(text, r"[ \t]+", "" if remove_spaces else " ")
        text = pc.utf8_upper(text)
    # Whitespace around separators and repeated/leading/trailing separators go.
    text = pc.replace_substring_regex(text, r"\s*;[\s;]*", ";")
    text = pc.replace_substring_regex(text, r"^[\s;]+|[\s;]+$", "")
    return empty_to_null(text)
