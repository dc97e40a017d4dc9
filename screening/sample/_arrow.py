"""Small vectorised helpers: identifiers, dates and strings as Arrow arrays.

The generator never loops in Python per patent: identifiers are built as fixed-width byte
matrices and handed to Arrow without copying, strings are composed with Arrow kernels.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts.identifiers import USCC_ALPHABET

# Days are int64 counts since 1970-01-01; NEVER marks "no such date" (year ~4700).
NEVER = 1_000_000
_USCC_W = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
_ORG_W = np.array([3, 7, 9, 10, 5, 8, 4, 2])
_APP_W = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])
_ALPHA = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)


def day(text: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int(np.datetime64(text, "D").astype(np.int64))


def years(x: np.ndarray | float) -> np.ndarray:
    """Years → whole days."""
    return np.round(np.asarray(x) * 365.25).astype(np.int64)


def _wsum(m: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row-wise weighted sum; integer ``@`` has no BLAS path and is ~10x slower."""
    out = np.zeros(len(m), dtype=np.int64)
    for j, wj in enumerate(w):
        out += m[:, j] * int(wj)
    return out


def fixed_strings(chars: np.ndarray) -> pa.Array:
    """An (n, w) uint8 matrix of ASCII codes → Arrow string array, without a Python loop."""
    n, w = chars.shape
    offsets = np.arange(n + 1, dtype=np.int64) * w
    data = np.ascontiguousarray(chars, dtype=np.uint8).tobytes()
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return arr.cast(pa.string())


def uscc_array(region: np.ndarray, org_values: np.ndarray) -> pa.Array:
    """Valid USCCs (authority 9, category 1) from 6-digit regions and org-code symbols.

    Parameters
    ----------
    region : ndarray of int
        GB/T 2260 region codes, e.g. 410100.
    org_values : ndarray of shape (n, 8)
        Alphabet indices (0-30 of ``USCC_ALPHABET``) of the first 8 organisation-code
        characters; the 9th (its own GB 11714 check) and the 18th are computed here.
    """
    n = len(region)
    vals = np.zeros((n, 18), dtype=np.int64)
    vals[:, 0] = 9
    vals[:, 1] = 1
    for i in range(6):
        vals[:, 2 + i] = (region // 10 ** (5 - i)) % 10
    vals[:, 8:16] = org_values
    # GB 11714 check over the first 8 org characters: digits as-is, letters A=10 ... Z=35.
    org_chars = _ALPHA[org_values]
    org_num = np.where(org_chars <= ord("9"), org_chars - ord("0"), org_chars - ord("A") + 10)
    c = 11 - _wsum(org_num.astype(np.int64), _ORG_W) % 11
    org_check = np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), ord("0") + c))
    vals[:, 16] = np.searchsorted(_ALPHA, org_check)
    total = _wsum(vals[:, :17], _USCC_W)
    vals[:, 17] = (31 - total % 31) % 31
    return fixed_strings(_ALPHA[vals])


def app_no_array(year: np.ndarray, type_digit: np.ndarray, serial: np.ndarray) -> pa.Array:
    """Valid normalised application numbers ``CNYYYYTNNNNNNN.C``."""
    n = len(year)
    digits = np.zeros((n, 12), dtype=np.int64)
    for i in range(4):
        digits[:, i] = (year // 10 ** (3 - i)) % 10
    digits[:, 4] = type_digit
    for i in range(7):
        digits[:, 5 + i] = (serial // 10 ** (6 - i)) % 10
    c = _wsum(digits, _APP_W) % 11
    chars = np.empty((n, 16), dtype=np.uint8)
    chars[:, 0] = ord("C")
    chars[:, 1] = ord("N")
    chars[:, 2:14] = digits + ord("0")
    chars[:, 14] = ord(".")
    chars[:, 15] = np.where(c == 10, ord("X"), c + ord("0"))
    return fixed_strings(chars)


def pick(vocab: tuple[str, ...] | list[str], idx: np.ndarray, mask: np.ndarray | None = None):
    """Strings ``vocab[idx]`` as an Arrow array (null where ``mask``)."""
    out = pa.array(list(vocab), type=pa.string()).take(pa.array(idx.astype(np.int64)))
    if mask is not None:
        out = pc.if_else(pa.array(mask), pa.nulls(len(idx), pa.string()), out)
    return out


def concat(*parts, sep: str = ""):
    """Element-wise join of string arrays/scalars; a null part is skipped, all-null → null.

    (pyarrow 25's ``binary_join_element_wise(null_handling="skip")`` drops all-null rows, so
    nulls are filled with "" and separators trimmed instead.)
    """
    filled = []
    for i, p in enumerate(parts):
        if isinstance(p, pa.Scalar):
            filled.append(p)
            continue
        if i > 0 and sep:
            p = pc.binary_join_element_wise(pa.scalar(sep), p, "")
        filled.append(pc.fill_null(p, ""))
    out = pc.binary_join_element_wise(*filled, "")
    if sep:
        out = pc.utf8_ltrim(out, characters=sep)
    return pc.if_else(pc.equal(out, ""), pa.nulls(len(out), pa.string()), out)


def dates(days: np.ndarray) -> pa.Array:
    """Days since epoch → Arrow date32, null where ``days >= NEVER``."""
    d = np.asarray(days, dtype=np.int64)
    mask = d >= NEVER
    return pa.array(np.where(mask, 0, d).astype("datetime64[D]"), mask=mask, type=pa.date32())


def int_str(values: np.ndarray, width: int) -> pa.Array:
    """Zero-padded decimal strings of non-negative ints."""
    return pc.utf8_lpad(pa.array(values.astype(np.int64)).cast(pa.string()), width, "0")


def join_lists(group: np.ndarray, values: pa.Array, n_groups: int, sep: str = ";"):
    """Join ``values`` into one string per group (``group`` sorted ascending); null if empty."""
    counts = np.bincount(group, minlength=n_groups)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    joined = pc.binary_join(lists, sep)
    return pc.if_else(pa.array(counts == 0), pa.nulls(n_groups, pa.string()), joined)


def segment_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``np.repeat(arange(n), counts)``: the owner and the position within its segment."""
    owner = np.repeat(np.arange(len(counts)), counts)
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    pos = np.arange(len(owner)) - np.repeat(starts, counts)
    return owner, pos
