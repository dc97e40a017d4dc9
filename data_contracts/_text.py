"""Vectorised text clean-up on pyarrow arrays (header matching, codes, names, lists).

Everything here works on whole columns with ``pyarrow.compute`` kernels: the reader must stay
well above a million rows a second on clean input, so no Python loop per cell.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts.errors import ContractViolation

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
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr
    if pa.types.is_string_view(arr.type):
        return arr.cast(pa.large_string())
    if pa.types.is_floating(arr.type):
        # Spreadsheets store integers as floats; 42795.0 must read as 42795. Only where the
        # integer is exact: inf or 1e300 cast to int64 would wrap to -9223372036854775808.
        as_int = pc.and_(pc.equal(pc.floor(arr), arr), pc.less(pc.abs(arr), 2.0**53))
        ints = pc.cast(pc.if_else(as_int, arr, None), pa.int64(), safe=False)
        return pc.if_else(as_int, pc.cast(ints, pa.string()), pc.cast(arr, pa.string()))
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        # Dates read as dates, not "2017-03-01 00:00:00.000000000".
        seconds = pa.timestamp("s", getattr(arr.type, "tz", None))
        arr = pc.cast(arr, seconds, safe=False)  # %S would print fractions of finer units
        text = pc.strftime(arr, format="%Y-%m-%d %H:%M:%S")
        return pc.replace_substring_regex(text, r" 00:00:00$", "")
    if pa.types.is_null(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        # a parquet list column (e.g. former names as list<string>): the items joined by
        # ';', the separator of list cells in CSV
        try:
            lists = pc.cast(arr, pa.list_(pa.string()))
            if not pc.list_flatten(lists).null_count:
                return pc.binary_join(lists, ";")
            # a null item would make the whole cell null in binary_join: the few lists with
            # one are joined item by item, a null item dropped like an empty CSV item
            joined = [
                None if v is None else ";".join(x for x in v if x is not None)
                for v in lists.to_pylist()
            ]
            return pa.chunked_array([pa.array(joined, pa.string())])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # items that are not text or numbers: refused below
    if pa.types.is_nested(arr.type):
        raise ContractViolation(
            f"a column holds {arr.type} values, not text or numbers",
            "export the table with plain columns (text, numbers, dates)",
        )
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


def _any(mask: pa.ChunkedArray | pa.Array) -> bool:
    return bool(pc.any(mask).as_py()) if len(mask) else False


def _string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A string chunk's value offsets (int64, one per value plus one) and its data buffer,
    as zero-copy numpy views; ``None`` when it holds no bytes."""
    if len(chunk) == 0 or chunk.buffers()[2] is None:
        return None
    large = pa.types.is_large_string(chunk.type)
    offsets = np.frombuffer(
        chunk.buffers()[1],
        dtype=np.int64 if large else np.int32,
        count=len(chunk) + 1,
        offset=chunk.offset * (8 if large else 4),
    )
    return offsets.astype(np.int64, copy=False), np.frombuffer(chunk.buffers()[2], np.uint8)


def _value_bytes(chunk: pa.Array) -> np.ndarray:
    """The UTF-8 bytes of all values of a string chunk, back to back (a zero-copy view)."""
    buffers = _string_buffers(chunk)
    if buffers is None:
        return np.zeros(0, dtype=np.uint8)
    offsets, data = buffers
    return data[int(offsets[0]) : int(offsets[-1])]


def _chunks(arr: pa.ChunkedArray | pa.Array) -> list[pa.Array]:
    return arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]


# The checks below scan the raw data buffer with numpy (memory speed) instead of running a
# kernel per value. A match across two adjacent values is a harmless false positive: the
# exact clean-up then runs.


def _has(arr: pa.ChunkedArray, needle: str) -> bool:
    """Whether any value may contain ``needle``."""
    encoded = needle.encode("utf-8")
    for chunk in _chunks(arr):
        data = _value_bytes(chunk)
        if len(encoded) == 1:
            if (data == encoded[0]).any():
                return True
        elif encoded in data.tobytes():
            return True
    return False


def _has_space(arr: pa.ChunkedArray, *, runs_only: bool = False) -> bool:
    """Whether any value may hold whitespace (``runs_only``: two spaces or a tab/newline)."""
    for chunk in _chunks(arr):
        data = _value_bytes(chunk)
        if (data < 32).any():
            return True
        space = data == 32
        if (space[1:] & space[:-1]).any() if runs_only else space.any():
            return True
    return False


def _upper(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Upper-case, skipped when an ASCII column has no lower-case letter (clean exports)."""
    if _all_ascii(arr) and not any(
        ((data >= 97) & (data <= 122)).any() for data in map(_value_bytes, _chunks(arr))
    ):
        return arr
    # Not ascii_upper: in pyarrow 25 it writes corrupt offsets for arrays whose first offset
    # is not 0 (what casting a sliced large_string parquet chunk produces).
    return pc.utf8_upper(arr)


def empty_to_null(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Empty strings are missing values."""
    if len(arr) == 0:
        return arr
    empty = pc.equal(pc.binary_length(arr), 0)
    return pc.if_else(empty, None, arr) if _any(empty) else arr


INVISIBLE = (
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
    r"\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{2069}\x{FEFF}]"
)
"""Characters no name or text means to hold: C0 controls and DEL (tab and line breaks
stay), zero-width spaces and joiners, direction marks, bidi embeddings, overrides (U+202E
shows a name backwards) and isolates, word joiners, and a stray BOM. They break CSV readers,
show as ``_x0000_`` in Excel, make two spellings of one firm name differ, and let a name
look like another on screen."""


def _has_invisible(arr: pa.ChunkedArray) -> bool:
    """Whether any value may hold an :data:`INVISIBLE` character (a byte scan; the exact
    regex pass runs only then)."""
    for chunk in _chunks(arr):
        data = _value_bytes(chunk)
        if not data.size:
            continue
        if ((data < 32) & (data != 9) & (data != 10) & (data != 13)).any() or (data == 127).any():
            return True
        # U+200B-200F, U+202A-202E (E2 80 xx), U+2060-2069 (E2 81 A0-A9), U+FEFF (EF BB BF)
        lead = np.flatnonzero(data[:-2] == 0xE2)
        if lead.size:
            b1, b2 = data[lead + 1], data[lead + 2]
            if (
                ((b1 == 0x80) & (((b2 >= 0x8B) & (b2 <= 0x8F)) | ((b2 >= 0xAA) & (b2 <= 0xAE))))
                | ((b1 == 0x81) & (b2 >= 0xA0) & (b2 <= 0xA9))
            ).any():
                return True
        bom = np.flatnonzero(data[:-2] == 0xEF)
        if bom.size and ((data[bom + 1] == 0xBB) & (data[bom + 2] == 0xBF)).any():
            return True
    return False


def clean_text(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Names and free text: keep the characters, strip :data:`INVISIBLE` ones and the
    surrounding whitespace."""
    out = as_string(arr)
    if _has_invisible(out):
        out = pc.replace_substring_regex(out, INVISIBLE, "")
    return empty_to_null(pc.utf8_trim_whitespace(out))


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
    out = pc.utf8_trim_whitespace(nfkc(as_string(arr)))
    # Regex passes are the slow part; run them only when a value needs them.
    if remove_spaces and _has_space(out):
        out = pc.replace_substring_regex(out, r"\s+", "")
    elif not remove_spaces and _has_space(out, runs_only=True):
        out = pc.replace_substring_regex(out, r"\s+", " ")
    for ch in drop:
        if _has(out, ch):
            out = pc.replace_substring(out, ch, "")
    if upper:
        out = _upper(out)
    return empty_to_null(out)


def enum_key(arr: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Key used to look an enum value up: NFKC, casefold, no spaces or quotes.

    Meant for the (few) distinct values of a column: see :func:`by_dictionary`.
    """
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
    """List cells: split on ``;`` or ``；``, strip items, drop empty ones, join with ``;``;
    :data:`INVISIBLE` characters go.

    ``code=True`` also NFKC-normalises and upper-cases each item and removes its inner
    spaces (USCCs, country codes) or, with ``remove_spaces=False``, collapses them (IPC).
    Order is kept; a cell with no item becomes missing.
    """
    text = as_string(arr)
    if _has_invisible(text):
        text = pc.replace_substring_regex(text, INVISIBLE, "")
    if code:
        text = nfkc(text)
        if remove_spaces and _has_space(text):
            text = pc.replace_substring_regex(text, r"[ \t]+", "")
        elif not remove_spaces and _has_space(text, runs_only=True):
            text = pc.replace_substring_regex(text, r"[ \t]+", " ")
        text = _upper(text)
    elif not _all_ascii(text) and _has(text, "；"):
        # Only the separator is normalised in names; the names keep their characters.
        text = pc.replace_substring(text, "；", ";")
    # Whitespace around separators and repeated/leading/trailing separators go. Clean
    # exports (the common case) skip the regex passes after a few literal scans.
    messy = _separators_messy(text) or _edges_messy(text)
    if messy:
        # RE2's \s is ASCII only; \p{Z} adds the ideographic and no-break spaces.
        text = pc.replace_substring_regex(text, r"[\s\p{Z}]*;[\s\p{Z};]*", ";")
        text = pc.replace_substring_regex(text, r"^[\s\p{Z};]+|[\s\p{Z};]+$", "")
    return empty_to_null(text)


def _has_wide_space(data: np.ndarray) -> bool:
    """U+3000 (E3 80 80) or U+00A0 (C2 A0) in UTF-8 bytes; their lead bytes are rare in
    Chinese names (ideographs start with E4-E9), so only a few candidates are checked."""
    n = data.size
    lead = np.flatnonzero(data[: max(n - 2, 0)] == 0xE3)
    if lead.size and ((data[lead + 1] == 0x80) & (data[lead + 2] == 0x80)).any():
        return True
    lead = np.flatnonzero(data[: max(n - 1, 0)] == 0xC2)
    return bool(lead.size and (data[lead + 1] == 0xA0).any())


def _separators_messy(arr: pa.ChunkedArray) -> bool:
    """Whether any value may have ``;;``, a space next to ``;`` or a tab/newline.

    One numpy pass over the raw bytes instead of a regex per value.
    """
    for chunk in _chunks(arr):
        data = _value_bytes(chunk)
        if not data.size:
            continue
        if (data < 32).any():
            return True
        if _has_wide_space(data):
            return True
        semi = np.flatnonzero(data == 59)  # ';'
        if semi.size:
            after = data[np.minimum(semi + 1, data.size - 1)]
            before = data[np.maximum(semi - 1, 0)]
            if ((after == 59) | (after == 32) | (before == 32)).any():
                return True
    return False


def _edges_messy(arr: pa.ChunkedArray) -> bool:
    """Whether any value may start or end with a separator or ASCII whitespace.

    (Ideographic and no-break spaces anywhere are caught by :func:`_separators_messy`.)
    """
    for chunk in _chunks(arr):
        buffers = _string_buffers(chunk)
        if buffers is None:
            continue
        offsets, data = buffers
        starts, ends = offsets[:-1], offsets[1:]
        nonempty = ends > starts
        first, last = data[starts[nonempty]], data[ends[nonempty] - 1]
        if ((first <= 32) | (first == 59) | (last <= 32) | (last == 59)).any():
            return True
    return False


def by_dictionary(arr: pa.ChunkedArray, fn):  # type: ignore[no-untyped-def]
    """Apply ``fn`` to the distinct values of ``arr`` only, then expand back to every row.

    Enum, flag and date columns repeat a few thousand values over millions of rows; parsing
    the dictionary instead of every cell is what keeps the reader fast. ``fn`` gets an Arrow
    array and returns ``(values, masks)``; masks are numpy boolean arrays over the dictionary.
    Returns values and masks over the rows (nulls map to null / False).
    """
    combined = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    encoded = pc.dictionary_encode(combined)
    values, masks = fn(pa.chunked_array([encoded.dictionary], encoded.dictionary.type))
    indices = encoded.indices
    out = pc.take(values, indices)
    idx = pc.fill_null(indices, -1).to_numpy(zero_copy_only=False)
    valid = idx >= 0
    safe = np.where(valid, idx, 0)
    return out, [(m[safe] & valid) if len(m) else np.zeros(len(idx), bool) for m in masks]


def take_rows(arr: pa.ChunkedArray | pa.Array, positions: np.ndarray) -> pa.Array:
    """``arr[positions]`` as one array, fast on many-chunk columns.

    Arrow's ``ChunkedArray.take`` costs about as much as copying the whole column; the
    reader only ever takes the few failing or suspect rows, so it takes per chunk instead.
    """
    pos = np.asarray(positions, dtype=np.int64)
    if isinstance(arr, pa.Array):
        return arr.take(pa.array(pos))
    if arr.num_chunks == 1:
        return arr.chunk(0).take(pa.array(pos))
    order = np.argsort(pos, kind="stable")
    ordered = pos[order]
    bounds = np.cumsum([0] + [len(c) for c in arr.chunks])
    pieces = []
    for i, chunk in enumerate(arr.chunks):
        lo, hi = np.searchsorted(ordered, [bounds[i], bounds[i + 1]])
        if hi > lo:
            pieces.append(chunk.take(pa.array(ordered[lo:hi] - bounds[i])))
    out = pa.concat_arrays(pieces) if pieces else pa.array([], arr.type)
    if pos.size and (np.diff(pos) < 0).any():
        out = out.take(pa.array(np.argsort(order)))
    return out
