"""Firm-name normalisation and the registry name index used by entity resolution.

Matching key (vectorised with pyarrow): NFKC (full-width letters, digits and brackets become
half-width), lower case, whitespace and punctuation removed (brackets too, so ``(北京)`` and
``（北京）`` agree), and the company-form variants 有限责任公司 / 股份有限公司 written as
有限公司. Two registry firms that share a key are *ambiguous* for that key: a name that
maps to it is reported, never linked to either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

_PUNCT = r"[\s()\[\]{}<>【】〔〕〈〉《》「」『』\"'“”‘’`·•・.,，、。:：;；!！?？\-_—/\\|&＆*+]+"
_FORMS = r"(股份有限公司|有限责任公司)"

DEFAULT_FUZZY_THRESHOLD = 95.0
"""rapidfuzz ``fuzz.ratio`` on matching keys (0–100). At 95 a one-character difference is only
accepted in keys of 20+ characters, so near-identical short names (华科电子 vs 华科电气) are never
linked by fuzz; two candidate firms at or above the threshold make the name *ambiguous*."""

FUZZY_MIN_KEY_LENGTH = 6
"""Shorter keys (personal names, abbreviations) are never fuzzy-matched."""


def name_keys(names: pa.Array | pa.ChunkedArray | pd.Series) -> pa.Array:
    """Matching keys for an array of names (nulls stay null; empty keys become null)."""
    keys = pc.utf8_normalize(arrow_array(names), "NFKC")
    keys = pc.utf8_lower(keys)
    keys = pc.replace_substring_regex(keys, _PUNCT, "")
    keys = pc.replace_substring_regex(keys, _FORMS, "有限公司")
    return pc.if_else(pc.equal(pc.utf8_length(keys), 0), pa.scalar(None, keys.type), keys)


def exact_keys(names: pa.Array | pa.ChunkedArray | pd.Series) -> pa.Array:
    """Names as written, up to width and spaces (NFKC, no whitespace): what tells apart
    two firms whose matching keys (:func:`name_keys`) are equal."""
    keys = pc.utf8_normalize(arrow_array(names), "NFKC")
    return pc.replace_substring_regex(keys, r"\s+", "")


SPLIT_CHUNK_ROWS = 1 << 20
"""Rows split at a time: the list array Arrow builds holds a copy of the chunk's text, so
chunking bounds that transient to one chunk instead of the whole column."""


def split_ids(
    col: pd.Series | pa.Array | pa.ChunkedArray,
    *,
    fullwidth: bool = True,
    strip: Callable[[pa.Array], pa.Array] = pc.utf8_trim_whitespace,
) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Explode a ``;``-joined list column into dictionary ids of its stripped items.

    Empty items (after ``strip``) are dropped. Only the distinct items are stripped and kept
    as text: each item is an int32 id, so a column of millions of names costs 4 bytes per item
    instead of a copy of its text.

    Parameters
    ----------
    col : pd.Series or Arrow string array
    fullwidth : bool, default True
        Whether a full-width ``；`` separates like ``;``.
    strip : callable, default ``pc.utf8_trim_whitespace``
        Applied to the distinct items; items equal after it share an id.

    Returns
    -------
    parent : np.ndarray
        Row index of each item (int64).
    ids : np.ndarray
        Position of each item in ``dictionary`` (int32); equal ids mean equal text.
    dictionary : pa.Array
        The distinct items (``large_string``); may hold entries no item uses.
    """
    if is_text_categorical(col):
        return _split_categorical(col, fullwidth=fullwidth, strip=strip)
    parents, indices, dicts = [], [], []
    for start, part in _pieces(arrow_strings(col)):
        if fullwidth and pc.any(pc.match_substring(part, "；")).as_py():
            part = pc.replace_substring(part, "；", ";")
        lists = pc.split_pattern(part, ";")
        parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
        parents.append(parent + start)
        enc = pc.dictionary_encode(pc.list_flatten(lists))
        indices.append(enc.indices.to_numpy(zero_copy_only=False))
        dicts.append(enc.dictionary)
    if not dicts:
        return (
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int32),
            pa.array([], pa.large_string()),
        )
    # strip the distinct raw items only, then merge those that become equal
    merged = pc.dictionary_encode(strip(pa.concat_arrays(dicts)))
    remap = merged.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    base = np.cumsum([0] + [len(d) for d in dicts])
    ids = np.concatenate([remap[b + i] for b, i in zip(base, indices, strict=False)])
    parent = np.concatenate(parents)
    keep = pc.greater(pc.utf8_length(merged.dictionary), 0).to_numpy(zero_copy_only=False)[ids]
    if not keep.all():
        ids, parent = ids[keep], parent[keep]
    return parent, ids, merged.dictionary


def _split_categorical(
    col: pd.Series, *, fullwidth: bool, strip: Callable[[pa.Array], pa.Array]
) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """:func:`split_ids` of a text categorical: its categories are split once, and each row
    takes the items of its category (the same items in the same order as splitting the
    rows' text; only the dictionary's order differs)."""
    codes, values = codes_values(col)
    cparent, cids, dictionary = split_ids(values, fullwidth=fullwidth, strip=strip)
    per_value = np.bincount(cparent, minlength=len(values))  # items of each category
    first_item = np.cumsum(per_value) - per_value  # cparent is sorted
    valid = codes >= 0
    # a null row reads the 0 appended past the categories (there may be none at all: a
    # column with no text, as in a ledger-only retraining folder)
    per_row = np.append(per_value, 0)[np.where(valid, codes, len(values))]
    parent = np.repeat(np.arange(len(codes), dtype=np.int64), per_row)
    within = np.arange(len(parent), dtype=np.int64) - np.repeat(
        np.cumsum(per_row) - per_row, per_row
    )
    ids = cids[first_item[codes[parent]] + within]
    return parent, ids, dictionary


def split_list(col: pd.Series | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Explode a ``;``-joined list column (see :func:`split_ids`).

    Returns
    -------
    parent : np.ndarray
        Row index of each item.
    items : pa.Array
        The items, stripped.
    """
    parent, ids, dictionary = split_ids(col)
    return parent, dictionary.take(pa.array(ids))


def is_text_categorical(col: Any) -> bool:
    """Whether ``col`` is a pandas categorical of strings (``read_data_dir(categorical=)``)."""
    return (
        isinstance(col, pd.Series)
        and isinstance(col.dtype, pd.CategoricalDtype)
        and col.cat.categories.dtype == "str"
    )


def codes_values(col: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """A text categorical's codes (-1 = null) and its categories as ``large_string``."""
    values = pa.array(col.cat.categories).cast(pa.large_string())
    return col.cat.codes.to_numpy(), values


def take_text(col: pd.Series, rows: np.ndarray) -> pa.Array:
    """``col`` at positions ``rows`` as ``large_string``; a categorical is taken by its codes
    and only the taken rows are decoded."""
    if is_text_categorical(col):
        codes, values = codes_values(col)
        picked = codes[rows]
        return values.take(pa.array(picked, mask=picked < 0))
    return arrow_array(arrow_strings(col).take(pa.array(rows, type=pa.int64())))


def as_text(s: pd.Series) -> pd.Series:
    """``s`` as a ``str`` column with its index; a categorical is decoded by
    :func:`arrow_strings` (pandas' own ``astype`` goes through Python objects: ~10× slower
    at national scale)."""
    if is_text_categorical(s):
        out = arrow_strings(s).to_pandas()
        out = out if out.dtype == "str" else out.astype("str")
        return pd.Series(out.array, index=s.index, name=s.name, copy=False)
    return s.astype("str")


def arrow_strings(col: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The ``large_string`` Arrow data of a column, zero-copy for a pandas ``str`` column.

    A column read from a file is usually chunked; it stays chunked, because combining the
    chunks would copy the whole column (Arrow compute functions take either). A categorical
    is decoded by an Arrow take of its categories (a copy, for as long as the caller holds
    it; :func:`encode` and :func:`take_text` avoid it).
    """
    if is_text_categorical(col):
        codes, values = codes_values(col)
        return values.take(pa.array(codes, mask=codes < 0))
    if isinstance(col, pd.Series):
        col = pa.array(col.astype("str"), type=pa.large_string(), from_pandas=True)
    return col.cast(pa.large_string())


def arrow_array(col: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """One Arrow array (strings as ``large_string``), for small columns and look-up sets."""
    if isinstance(col, pd.Series):
        col = arrow_strings(col)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def encode(col: pd.Series | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Each row's position among the column's distinct values (-1 for null), and those
    values: integer ids for grouping, joining and evaluating a function once per value.

    A text categorical gives its codes and categories as they are (no pass over the rows);
    its categories may include values no row has."""
    if is_text_categorical(col):
        codes, values = codes_values(col)
        return codes.astype(np.int32), values
    arr = arrow_strings(col) if isinstance(col, pd.Series) else col
    values = arrow_array(pc.unique(arr).drop_null())
    ids = pc.fill_null(pc.index_in(arr, value_set=values), -1)
    return ids.to_numpy(zero_copy_only=False).astype(np.int32), values


def _pieces(arr: pa.Array | pa.ChunkedArray):
    """``(first row, slice)`` of at most ``SPLIT_CHUNK_ROWS`` rows, chunk by chunk (no copy)."""
    offset = 0
    for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        for start in range(0, len(chunk), SPLIT_CHUNK_ROWS):
            yield offset + start, chunk.slice(start, SPLIT_CHUNK_ROWS)
        offset += len(chunk)


@dataclass
class NameIndex:
    """Registry names and former names by matching key.

    Built with Arrow and numpy (no Python object per registry firm): the distinct keys
    sorted, and the distinct (key, firm) pairs sorted, firms as ranks of the sorted USCCs.

    Parameters
    ----------
    enterprises : pd.DataFrame
        Canonical enterprises table (``uscc``, ``name``, ``former_names``).
    fuzzy_threshold : float or None
        Minimum ``fuzz.ratio`` for a fuzzy link; ``None`` disables fuzzy matching.
    """

    enterprises: pd.DataFrame
    fuzzy_threshold: float | None = DEFAULT_FUZZY_THRESHOLD
    _keys: pa.Array = field(init=False, repr=False)
    _usccs: pa.Array = field(init=False, repr=False)
    _pair_firm: np.ndarray = field(init=False, repr=False)
    _start: np.ndarray = field(init=False, repr=False)
    _current: np.ndarray = field(init=False, repr=False)
    _exact: pa.Array = field(init=False, repr=False)
    _row_of_firm: np.ndarray = field(init=False, repr=False)
    _former_exact: pa.Array = field(init=False, repr=False)
    _former_firm: np.ndarray = field(init=False, repr=False)
    _block_index: dict[tuple[str, int], tuple[list[str], list[int]]] | None = field(
        init=False, repr=False, default=None
    )

    def __post_init__(self) -> None:
        ent = self.enterprises
        parent, former = split_list(ent["former_names"])
        keys = pa.concat_arrays([name_keys(ent["name"]), name_keys(former)])
        row = np.concatenate([np.arange(len(ent)), parent])
        uid, usccs = encode(ent["uscc"])
        self._usccs, firm = _sorted_ids(usccs, uid[row])
        kid, distinct = encode(keys)
        self._keys, kid = _sorted_ids(distinct, kid)
        ok = (kid >= 0) & (firm >= 0)
        width = max(len(self._usccs), 1)
        pairs = np.unique(kid[ok].astype(np.int64) * width + firm[ok])
        # one extra -1: the start of key id -1 (no key) is len(pairs) and reads it
        self._pair_firm = np.append(pairs % width, -1)
        self._start = np.searchsorted(pairs // width, np.arange(len(self._keys) + 1))
        # each firm's current name as written (half-width, no spaces): among firms sharing
        # a matching key, the one whose name is exactly the mention's wins (see match)
        self._exact = exact_keys(ent["name"])
        self._row_of_firm = np.full(len(self._usccs), -1, dtype=np.int64)
        current_firm = firm[: len(ent)]
        has = current_firm >= 0
        self._row_of_firm[current_firm[has]] = np.flatnonzero(has)
        # former names as written, with their firm: a name another firm used before is no
        # exact match for the firm that bears it now
        self._former_exact = exact_keys(former).cast(pa.large_string())
        self._former_firm = firm[len(ent) :]
        cur = kid[: len(ent)]
        # one extra False: key id -1 (no key) reads it
        self._current = np.append(np.bincount(cur[cur >= 0], minlength=len(self._keys)) > 0, False)

    def _former_users(self, written: list[str | None]) -> dict[str, set[int]]:
        """Firms that used each of ``written`` (exact names) as a former name."""
        wanted = pa.array([w for w in written if w is not None], pa.large_string())
        if not len(wanted) or not len(self._former_exact):
            return {}
        hit = pc.fill_null(pc.is_in(self._former_exact, value_set=wanted), False)
        idx = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
        out: dict[str, set[int]] = {}
        texts = self._former_exact.take(pa.array(idx, type=pa.int64())).to_pylist()
        for text, f in zip(texts, self._former_firm[idx].tolist(), strict=True):
            out.setdefault(text, set()).add(int(f))
        return out

    def _firms(self, k: int) -> list[str]:
        """Sorted USCCs of the firms with key id ``k``."""
        return self._usccs.take(self._pair_firm[self._start[k] : self._start[k + 1]]).to_pylist()

    def match(self, names: pa.Array) -> pd.DataFrame:
        """Match distinct names.

        Returns
        -------
        pd.DataFrame
            One row per input name (same order): ``uscc`` (NA unless linked), ``method``
            (``name``, ``former_name``, ``fuzzy``, ``ambiguous``, ``unmatched``), ``score``
            and ``candidates`` (``;``-joined USCCs for ambiguous names).
        """
        keys = name_keys(names)
        n = len(keys)
        kid = pc.fill_null(pc.index_in(keys, value_set=self._keys), -1)
        kid = kid.to_numpy(zero_copy_only=False)
        hit = kid >= 0
        n_firms = np.where(hit, self._start[kid + 1] - self._start[kid], 0)
        one = n_firms == 1
        firm = np.where(one, self._pair_firm[self._start[kid]], -1)
        uscc = self._usccs.take(pa.array(firm, mask=~one)).to_pylist()
        method = np.where(one, np.where(self._current[kid], "name", "former_name"), "unmatched")
        method = method.astype(object)
        score = np.where(hit, 100.0, np.nan)
        cands: list[str | None] = [None] * n
        several = np.flatnonzero(n_firms > 1)
        written = exact_keys(names.take(pa.array(several, type=pa.int64()))).to_pylist()
        used_before = self._former_users(written)
        for i, name in zip(several, written, strict=True):
            # 有限公司 and 有限责任公司 share a key: a name written exactly as one firm's
            # current name is that firm, not an ambiguity
            firms = self._pair_firm[self._start[kid[i]] : self._start[kid[i] + 1]]
            rows = self._row_of_firm[firms]
            same = [
                f
                for f, r in zip(firms.tolist(), rows.tolist(), strict=True)
                if r >= 0 and self._exact[r].as_py() == name
            ]
            if name is not None and len(same) == 1 and used_before.get(name, set()) <= set(same):
                uscc[i] = self._usccs[same[0]].as_py()
                method[i] = "name"
                continue
            method[i] = "ambiguous"
            cands[i] = ";".join(f"{u}:100.0" for u in self._firms(kid[i]))
        if self.fuzzy_threshold is not None:
            long = pc.fill_null(pc.greater_equal(pc.utf8_length(keys), FUZZY_MIN_KEY_LENGTH), False)
            todo = np.flatnonzero(~hit & long.to_numpy(zero_copy_only=False))
            for i, k in zip(
                todo, keys.take(pa.array(todo, type=pa.int64())).to_pylist(), strict=True
            ):
                self._fuzzy(i, k, uscc, method, score, cands)
        return pd.DataFrame(
            {
                "uscc": pd.array(uscc, dtype="str"),
                "method": pd.array(method, dtype="str"),
                "score": score,
                "candidates": pd.array(cands, dtype="str"),
            }
        )

    def _blocks(self) -> dict[tuple[str, int], tuple[list[str], list[int]]]:
        """Keys (sorted) and their ids by (first two characters, length), built on first use."""
        if self._block_index is None:
            blocks: dict[tuple[str, int], tuple[list[str], list[int]]] = {}
            for j, k in enumerate(self._keys.to_pylist()):
                keys, ids = blocks.setdefault((k[:2], len(k)), ([], []))
                keys.append(k)
                ids.append(j)
            self._block_index = blocks
        return self._block_index

    def _fuzzy(self, i, key, uscc, method, score, cands) -> None:
        t = float(self.fuzzy_threshold)  # type: ignore[arg-type]
        n = len(key)
        # fuzz.ratio = 2·matches/(len_a+len_b)·100 bounds the candidate key lengths.
        lo, hi = int(np.ceil(n * t / (200 - t))), int(np.floor(n * (200 - t) / t))
        choices: list[str] = []
        ids: list[int] = []
        blocks = self._blocks()
        for length in range(lo, hi + 1):
            block = blocks.get((key[:2], length))
            if block is not None:
                choices.extend(block[0])
                ids.extend(block[1])
        if not choices:
            return
        found = process.extract(key, choices, scorer=fuzz.ratio, score_cutoff=t, limit=5)
        if not found:
            return
        firms: dict[str, float] = {}
        for _, s, j in found:
            for u in self._firms(ids[j]):
                firms[u] = max(firms.get(u, 0.0), float(s))
        best = max(firms.values())
        score[i] = best
        if len(firms) == 1:
            uscc[i] = next(iter(firms))
            method[i] = "fuzzy"
        else:
            method[i] = "ambiguous"
            ranked = sorted(firms.items(), key=lambda kv: (-kv[1], kv[0]))
            cands[i] = ";".join(f"{u}:{s:.1f}" for u, s in ranked)


def _sorted_ids(values: pa.Array, ids: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """``values`` sorted, and ``ids`` (positions in ``values``, -1 = none) renumbered to the
    sorted positions: integer order is then string order."""
    order = pc.sort_indices(values).to_numpy()
    rank = np.empty(len(values) + 1, dtype=np.int64)
    rank[order] = np.arange(len(values))
    rank[-1] = -1
    return values.take(pa.array(order)), rank[ids]
