"""Small vectorised helpers (pandas' per-group Python paths are too slow at 1M firms)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _arrow(values) -> pa.Array:
    if isinstance(values, pd.Series | pd.Index):
        arr = pa.array(values, from_pandas=True)
    else:
        arr = pa.array(
            np.asarray(
                list(values) if not isinstance(values, np.ndarray) else values, dtype=object
            ),
            from_pandas=True,
        )
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type):
        arr = arr.cast(pa.string())
    return arr


def member(values: pd.Series | np.ndarray, universe: Iterable[str]) -> np.ndarray:
    """Boolean mask: which ``values`` are in ``universe`` (Arrow hash look-up).

    ``Series.isin`` on pandas 3 string arrays walks the look-up values in Python, and
    converting 20M codes to Python objects costs gigabytes; Arrow's ``is_in`` does neither.
    Missing values are never members.
    """
    arr = _arrow(values)
    value_set = _arrow(universe)
    if len(arr) == 0:
        return np.zeros(0, dtype=bool)
    if value_set.type != arr.type:
        value_set = value_set.cast(arr.type)
    hit = pc.fill_null(pc.is_in(arr, value_set=value_set), False)
    return hit.to_numpy(zero_copy_only=False).astype(bool)


def join_by(keys: pd.Series, values: pd.Series, sep: str) -> pd.Series:
    """``values`` joined by ``sep`` per key, keys sorted, order within a key kept.

    Equivalent to ``groupby(keys, sort=True)[values].agg(sep.join)`` without pandas'
    per-group frame slicing.
    """
    if len(keys) == 0:
        return pd.Series([], dtype="str", index=pd.Index([], dtype="str"))
    k = np.asarray(keys, dtype=object)
    v = np.asarray(values.astype("str"), dtype=object)
    order = np.argsort(k, kind="stable")
    k, v = k[order], v[order]
    uniq, starts = np.unique(k, return_index=True)
    ends = np.append(starts[1:], len(k))
    joined = [sep.join(v[a:b]) for a, b in zip(starts, ends, strict=True)]
    return pd.Series(joined, index=pd.Index(uniq, dtype="str"), dtype="str")
