"""Vectorised identifier checks (numpy over character codes).

The scalar functions in :mod:`data_contracts.identifiers` are the definition; these compute
the same verdicts for millions of codes at once. A property test holds them equal on random
input. Messages for the (few) failing codes come from the scalar functions so the two can
never word a failure differently.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts.identifiers import (
    _APP_WEIGHTS,
    _ORG_WEIGHTS,
    _USCC_WEIGHTS,
    APP_NO_PATTERN,
    LEGACY_PILOT_REGION_PREFIX,
    USCC_ALPHABET,
)

# Verdict codes shared with the reader.
OK = 0
MISSING = 1
LENGTH = 2
CHARSET = 3
ORG_CHECK = 4
CHECK = 5
LEGACY = 6  # accepted with a warning
FORMAT = 7
TYPE_DIGIT = 8

USCC_RULES = {
    MISSING: "uscc_missing",
    LENGTH: "uscc_length",
    CHARSET: "uscc_charset",
    ORG_CHECK: "uscc_org_check",
    CHECK: "uscc_check",
    LEGACY: "uscc_legacy_check",
}
APP_NO_RULES = {
    MISSING: "app_no_missing",
    FORMAT: "app_no_format",
    CHECK: "app_no_check",
    TYPE_DIGIT: "app_no_format",
}

_USCC_LUT = np.full(256, -1, dtype=np.int16)
for _i, _c in enumerate(USCC_ALPHABET):
    _USCC_LUT[ord(_c)] = _i
_AUTHORITY = np.zeros(256, dtype=bool)
for _c in "123456789ANY":
    _AUTHORITY[ord(_c)] = True
_USCC_W = np.array(_USCC_WEIGHTS, dtype=np.int64)
_ORG_W = np.array(_ORG_WEIGHTS, dtype=np.int64)
_APP_W = np.array(_APP_WEIGHTS, dtype=np.int64)


def _combined(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 1:
            arr = arr.chunk(0)
        else:
            arr = arr.combine_chunks() if arr.num_chunks else pa.array([], arr.type)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())
    return arr


def char_matrix(arr: pa.Array, width: int) -> np.ndarray:
    """View a string array whose every value is ``width`` ASCII bytes as an (n, width) uint8 matrix.

    Zero-copy when possible: fixed-width values are contiguous in the Arrow data buffer.
    """
    arr = _combined(arr)
    n = len(arr)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    large = pa.types.is_large_string(arr.type)
    offsets = np.frombuffer(
        arr.buffers()[1],
        dtype=np.int64 if large else np.int32,
        count=n + 1,
        offset=arr.offset * (8 if large else 4),
    )
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    start = int(offsets[0])
    return data[start : start + n * width].reshape(n, width)


def _fill_fixed(arr: pa.Array, usable: np.ndarray, width: int) -> np.ndarray:
    filler = "0" * width
    safe = pc.if_else(pa.array(usable), arr, filler)
    return char_matrix(pc.fill_null(safe, filler), width)


def uscc_verdicts(codes: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Verdict code per normalised USCC (see module constants), mirroring ``check_uscc``."""
    arr = _combined(codes)
    n = len(arr)
    verdict = np.zeros(n, dtype=np.int8)
    if n == 0:
        return verdict
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    nchar = pc.fill_null(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False)
    nbyte = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False)
    length_bad = ~missing & (nchar != 18)
    usable = ~missing & ~length_bad & (nbyte == 18)
    m = _fill_fixed(arr, usable, 18)
    vals = _USCC_LUT[m]
    shape_ok = (
        (vals >= 0).all(axis=1)
        & _AUTHORITY[m[:, 0]]
        & ((m[:, 2:8] >= 48) & (m[:, 2:8] <= 57)).all(axis=1)
    )
    charset_bad = ~missing & ~length_bad & ~(usable & shape_ok)
    org = m[:, 8:16].astype(np.int64)
    org_vals = np.where(org <= 57, org - 48, org - 55)
    c = 11 - (org_vals @ _ORG_W) % 11
    org_expected = np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), 48 + c))
    org_ok = org_expected == m[:, 16]
    total = vals[:, :17].astype(np.int64) @ _USCC_W
    mod31_ok = (31 - total % 31) % 31 == vals[:, 17]
    pilot = (m[:, 2] == ord(LEGACY_PILOT_REGION_PREFIX[0])) & (
        m[:, 3] == ord(LEGACY_PILOT_REGION_PREFIX[1])
    )
    verdict[~org_ok] = ORG_CHECK
    verdict[org_ok & ~mod31_ok] = np.where(pilot, LEGACY, CHECK)[org_ok & ~mod31_ok]
    verdict[charset_bad] = CHARSET
    verdict[length_bad] = LENGTH
    verdict[missing] = MISSING
    return verdict


def _check_chars(digits: np.ndarray) -> np.ndarray:
    """Expected check byte (``0``-``9`` or ``X``) for an (n, 12) matrix of digit values."""
    total = np.zeros(len(digits), dtype=np.int64)
    for j, w in enumerate(_APP_WEIGHTS):
        total += digits[:, j].astype(np.int64) * w
    c = total % 11
    return np.where(c == 10, ord("X"), 48 + c).astype(np.uint8)


def _canonical_shape(arr: pa.Array, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows already reading ``CNYYYYTNNNNNNN.C`` (the clean-export case) and their bytes."""
    lengths = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False)
    fixed = ~missing & (lengths == 16)
    m = _fill_fixed(arr, fixed, 16)
    body = m[:, 2:14]
    shape = (
        fixed
        & (m[:, 0] == ord("C"))
        & (m[:, 1] == ord("N"))
        & ((body >= 48) & (body <= 57)).all(axis=1)
        & (m[:, 14] == ord("."))
        & (((m[:, 15] >= 48) & (m[:, 15] <= 57)) | (m[:, 15] == ord("X")))
    )
    return shape, m


def _regex_verdicts(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """The general path: any accepted spelling, parsed with a regular expression."""
    n = len(arr)
    verdict = np.zeros(n, dtype=np.int8)
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    parts = pc.extract_regex(arr, APP_NO_PATTERN)
    matched = parts.is_valid().to_numpy(zero_copy_only=False)
    body = pc.struct_field(parts, "body")
    given = pc.struct_field(parts, "check")
    m = _fill_fixed(body, matched, 12)
    expected = _check_chars(m - 48)
    expected_str = pa.array(expected.view("S1"), pa.binary(1)).cast(pa.string())
    given = pc.fill_null(given, "")
    differs = pc.and_(pc.not_equal(given, ""), pc.not_equal(given, expected_str))
    check_bad = matched & differs.to_numpy(zero_copy_only=False)
    type_bad = matched & ~np.isin(m[:, 4], np.frombuffer(b"12389", dtype=np.uint8))
    verdict[type_bad] = TYPE_DIGIT
    verdict[check_bad] = CHECK
    verdict[~matched] = FORMAT
    verdict[missing] = MISSING
    ls = pa.large_string()
    canonical = pc.binary_join_element_wise(
        pa.scalar("CN", ls),
        pc.fill_null(body, "").cast(ls),
        pa.scalar(".", ls),
        expected_str.cast(ls),
        pa.scalar("", ls),
    )
    return verdict, pc.if_else(pa.array(verdict == OK), canonical, None)


def app_no_verdicts(texts: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Verdict code and canonical ``CNYYYYTNNNNNNN.C`` per normalised application number.

    The canonical value is null where the verdict is not OK. Values already in canonical
    shape are checked straight from their bytes; only the others pay for the regex.
    """
    arr = _combined(texts).cast(pa.large_string())
    n = len(arr)
    verdict = np.zeros(n, dtype=np.int8)
    if n == 0:
        return verdict, pa.array([], pa.large_string())
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    shape, m = _canonical_shape(arr, missing)
    body = m[:, 2:14]
    expected = _check_chars(body - 48)
    verdict[shape & ~np.isin(body[:, 4], np.frombuffer(b"12389", dtype=np.uint8))] = TYPE_DIGIT
    verdict[shape & (m[:, 15] != expected)] = CHECK
    verdict[missing] = MISSING
    canonical = pc.if_else(pa.array(shape & (verdict == OK)), arr, None)
    rest = np.flatnonzero(~shape & ~missing)
    if rest.size:
        sub_verdict, sub_canonical = _regex_verdicts(arr.take(pa.array(rest)))
        verdict[rest] = sub_verdict
        mask = np.zeros(n, dtype=bool)
        mask[rest] = True
        canonical = pc.replace_with_mask(canonical, pa.array(mask), sub_canonical.cast(arr.type))
    return verdict, canonical
