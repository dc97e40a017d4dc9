"""Small vectorised helpers (pandas' per-group Python paths are too slow at 1M firms)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def member(values: pd.Series | np.ndarray, universe: Iterable[str]) -> np.ndarray:
    """Boolean mask: which ``values`` are in ``universe`` (hash look-up, no Python loop).

    ``Series.isin`` on pandas 3 string arrays walks the look-up values in Python; an index
    look-up does the same in C.
    """
    index = pd.Index(
        pd.unique(
            np.asarray(
                list(universe)
                if not isinstance(universe, pd.Index | np.ndarray | pd.Series)
                else universe,
                dtype=object,
            )
        )
    )
    return index.get_indexer(np.asarray(values, dtype=object)) >= 0


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
