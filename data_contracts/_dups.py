"""Duplicate rows: exact copies are dropped (counted), conflicting copies of a key rejected.

Two passes keep this fast on tens of millions of rows. First every row gets a 64-bit hash of
its key columns computed with numpy over the raw Arrow buffers; sorting the hashes (radix
sort, milliseconds) finds the few rows whose key may repeat. Only those suspects are then
compared exactly (dictionary-encoded values), so hash collisions cost time, never accuracy.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts._text import take_rows
from data_contracts.contracts import TableContract

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_NULL = np.uint64(0x9E3779B97F4A7C15)


# Rows mixed at a time: the shifts need a temporary, a block's rather than the column's.
_BLOCK = 1 << 20
# Hashes are sorted 2^4 slices of the hash space at a time (see _repeated_hash).
_SLICE_BITS = 4


def _splitmix(x: np.ndarray) -> np.ndarray:
    """A good 64-bit mixer (SplitMix64 finaliser); wraps around on purpose.

    Mixes ``x`` in place, block by block, when it is writeable (every caller hands over an
    array it no longer needs): at tens of millions of rows a temporary of the whole column
    is hundreds of MB.
    """
    if not x.flags.writeable:
        x = x.copy()
    with np.errstate(over="ignore"):
        for start in range(0, x.size, _BLOCK):
            v = x[start : start + _BLOCK]
            v ^= v >> np.uint64(30)
            v *= _M1
            v ^= v >> np.uint64(27)
            v *= _M2
            v ^= v >> np.uint64(31)
    return x


def _chunks(arr: pa.ChunkedArray | pa.Array) -> list[pa.Array]:
    return arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]


def _string_words(arr: pa.ChunkedArray | pa.Array) -> Iterator[np.ndarray]:
    """Unmixed 64-bit words of each string value, chunk by chunk.

    Fixed-width values (application numbers, USCCs: the big key columns) are read straight
    from the Arrow data buffers; other strings fall back to Arrow's hash table (dictionary
    encoding), whose codes are exact.
    """
    widths = [pc.min_max(pc.binary_length(c)) for c in _chunks(arr) if len(c) > c.null_count]
    lows = {w["min"].as_py() for w in widths}
    highs = {w["max"].as_py() for w in widths}
    if len(lows | highs) != 1 or 0 in highs or max(highs) > 64:
        yield from _dictionary_codes(arr)
        return
    hi = highs.pop()
    for chunk in _chunks(arr):
        if chunk.null_count:
            chunk = pc.fill_null(chunk, "\x00" * hi)
        yield _fixed_width_hash(chunk, hi)


def _dictionary_codes(arr: pa.ChunkedArray | pa.Array) -> Iterator[np.ndarray]:
    """Dictionary codes of the values (null -> 0), the same code for a value in any chunk."""
    chunks = _chunks(pc.dictionary_encode(arr))
    # Arrow encodes all chunks with one hash table and gives them its final dictionary;
    # should a version not, unifying the dictionaries makes the codes comparable again.
    if len({c.dictionary.buffers()[-1].address for c in chunks if len(c.dictionary)}) > 1:
        chunks = pa.table({"v": pa.chunked_array(chunks)}).unify_dictionaries()["v"].chunks
    for chunk in chunks:
        yield pc.fill_null(chunk.indices, 0).to_numpy().astype(np.uint64)


def _fixed_width_hash(chunk: pa.Array, width: int) -> np.ndarray:
    """Hash of each value of a string chunk whose values all have ``width`` bytes."""
    n = len(chunk)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    large = pa.types.is_large_string(chunk.type)
    offsets = np.frombuffer(
        chunk.buffers()[1],
        dtype=np.int64 if large else np.int32,
        count=n + 1,
        offset=chunk.offset * (8 if large else 4),
    )
    start = int(offsets[0])
    raw = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[start : start + n * width]
    padded = np.zeros((n, -(-width // 8) * 8), dtype=np.uint8)
    padded[:, :width] = raw.reshape(n, width)
    words = padded.view(np.uint64)
    h = words[:, 0].copy()
    with np.errstate(over="ignore"):
        for j in range(1, words.shape[1]):
            h = _splitmix(h)
            h += words[:, j]
    return h


def _value_words(chunk: pa.Array) -> np.ndarray:
    """The 64-bit words of a chunk of numbers, dates or flags (nulls as 0)."""
    t = chunk.type
    if pa.types.is_floating(t):
        vals = pc.fill_null(pc.cast(chunk, pa.float64()), 0.0).to_numpy(zero_copy_only=False)
        return np.ascontiguousarray(vals).view(np.uint64)
    if pa.types.is_boolean(t):
        return pc.fill_null(chunk, False).to_numpy(zero_copy_only=False).astype(np.uint64)
    # integers, timestamps, dates
    vals = pc.fill_null(pc.cast(chunk, pa.int64()), 0).to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(vals).view(np.uint64)


def _column_hashes(arr: pa.ChunkedArray | pa.Array) -> Iterator[np.ndarray]:
    """The hash of each value, one array per chunk of ``arr``; nulls share one value."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        words = _string_words(arr)
    else:
        words = map(_value_words, _chunks(arr))
    for chunk, h in zip(_chunks(arr), words, strict=True):
        h = _splitmix(h)
        if chunk.null_count:
            h[chunk.is_null().to_numpy(zero_copy_only=False)] = _NULL
        yield h


def column_hash(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A 64-bit hash per value; nulls share one value."""
    parts = list(_column_hashes(arr))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def row_hash(arrays: list[pa.ChunkedArray | pa.Array]) -> np.ndarray:
    """Combine column hashes into one 64-bit hash per row.

    Each column's hashes are folded into the result chunk by chunk: besides the result, only
    one chunk's hashes exist at a time (no column-sized temporary).
    """
    out = np.empty(len(arrays[0]), dtype=np.uint64)
    for i, arr in enumerate(arrays):
        start = 0
        for h in _column_hashes(arr):
            seg = out[start : start + len(h)]
            start += len(h)
            if i == 0:
                seg[:] = h
                continue
            with np.errstate(over="ignore"):
                seg *= np.uint64(31)
                seg += h
            _splitmix(seg)
    return out


def _repeated_hash(h: np.ndarray) -> np.ndarray:
    """Mask of values that occur more than once.

    The hashes are mixed, so their top bits split them into even slices; sorting one slice
    at a time finds the repeats with a sixteenth of the memory a sorted copy would take.
    """
    if h.size < 2:
        return np.zeros(h.size, dtype=bool)
    top = (h >> np.uint64(64 - _SLICE_BITS)).astype(np.uint8)
    found = []
    for part in range(1 << _SLICE_BITS):
        s = np.sort(h[top == part])
        found.append(s[1:][s[1:] == s[:-1]])
    del top, s
    repeats = np.unique(np.concatenate(found))
    if not repeats.size:
        return np.zeros(h.size, dtype=bool)
    # A hash set of the (few) repeated values: one pass, a byte per row; a search in the
    # sorted repeats would take two more arrays of 8 bytes per row.
    return pd.Series(h, copy=False).isin(repeats).to_numpy(dtype=bool)


def _codes(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Exact integer codes of a column's values (null -> -1); for the few suspect rows."""
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = pc.dictionary_encode(arr)
    return pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def group_codes(arrays: list[pa.ChunkedArray | pa.Array]) -> tuple[np.ndarray, np.ndarray]:
    """One exact code per distinct combination of values across ``arrays``.

    Returns (codes, any_null): rows with equal codes have equal values in every array.
    """
    code: np.ndarray | None = None
    any_null: np.ndarray | None = None
    for arr in arrays:
        c = _codes(arr)
        null = c < 0
        any_null = null if any_null is None else any_null | null
        if code is None:
            code = c + 1
        else:
            # Mix, then re-factorise so the codes stay below the row count (no overflow).
            code = pd.factorize(code * (int(c.max(initial=0)) + 2) + (c + 1))[0].astype(np.int64)
    assert code is not None and any_null is not None
    return code, any_null


def _repeated(code: np.ndarray) -> np.ndarray:
    if not code.size:
        return np.zeros(0, dtype=bool)
    return np.bincount(code)[code] > 1


def key_array(cols: dict[str, pa.ChunkedArray], name: str) -> pa.ChunkedArray:
    """A key column; ``uscc|name`` is the USCC, or the name when the USCC is empty."""
    if name == "uscc|name":
        ls = pa.large_string()
        name = cols["name"].cast(ls)
        by_name = pc.binary_join_element_wise(pa.scalar("name:", ls), name, pa.scalar("", ls))
        return pc.coalesce(cols["uscc"].cast(ls), by_name)
    return cols[name]


def _suspects(arrays: list[pa.ChunkedArray], idx: np.ndarray | None) -> np.ndarray:
    """Rows of ``idx`` (None: all rows) whose values in ``arrays`` may repeat within it."""
    h = row_hash(arrays)
    if idx is None:
        return np.flatnonzero(_repeated_hash(h))
    return idx[_repeated_hash(h[idx])]


def find_duplicates(
    contract: TableContract,
    cols: dict[str, pa.ChunkedArray],
    candidates: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact duplicates and key conflicts among the ``candidates`` rows.

    Returns
    -------
    exact : ndarray of bool
        Rows identical (all canonical columns) to an earlier candidate row (to a later one
        when the contract keeps the last copy of a key): dropped.
    conflict : ndarray of bool
        Rows sharing a key with another kept row but differing elsewhere: all rejected.
    conflict_group : ndarray of int
        Group id of each conflicting row, in row order (aligned with
        ``np.flatnonzero(conflict)``), to name the other rows of its key.

    Notes
    -----
    Only the hashes (8 bytes a row) and masks span the whole table; when every row is a
    candidate (the reader's case) no row-index array is built.
    """
    n = len(candidates)
    exact = np.zeros(n, dtype=bool)
    conflict = np.zeros(n, dtype=bool)
    group = np.zeros(0, dtype=np.int64)
    idx = None if candidates.all() else np.flatnonzero(candidates)
    if (n if idx is None else idx.size) < 2:
        return exact, conflict, group
    prefilter = contract.match_on or contract.key or tuple(cols)
    suspects = _suspects([key_array(cols, k) for k in prefilter], idx)
    if suspects.size >= 2:
        full, _ = group_codes([take_rows(arr, suspects) for arr in cols.values()])
        # when the last copy of a key wins (corrections appended), the last of identical
        # rows is the one kept: B, A, B must leave B, not A
        keep = "last" if contract.on_conflict == "keep_last" else "first"
        exact[suspects[pd.Series(full).duplicated(keep=keep).to_numpy()]] = True
    if not contract.key:
        return exact, conflict, group
    if contract.key != prefilter:
        keep = np.flatnonzero(~exact if idx is None else candidates & ~exact)
        suspects = _suspects([key_array(cols, k) for k in contract.key], keep)
    else:
        suspects = suspects[~exact[suspects]]
    if suspects.size < 2:
        return exact, conflict, group
    code, null = group_codes([take_rows(key_array(cols, k), suspects) for k in contract.key])
    clash = _repeated(code) & ~null
    conflict[suspects[clash]] = True
    return exact, conflict, code[clash]
