"""Duplicate detection against an obviously-correct pandas version (oracle), including the
worst case where every row hashes alike: collisions may cost time, never accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from data_contracts import CONTRACTS, _dups

small = st.sampled_from(["a", "b", "甲公司", None])
dates = st.sampled_from([pd.Timestamp("2020-01-01"), pd.Timestamp("2021-06-30"), None])
apps = st.sampled_from(["CN201710117081.7", "CN201810100001.1", None])


def _frame(rows: list[tuple]) -> dict[str, pa.ChunkedArray]:
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    names = ["app_no", "event_code", "event_date", "from_party", "to_party"]
    types = [
        pa.large_string(),
        pa.large_string(),
        pa.timestamp("ns"),
        pa.large_string(),
        pa.large_string(),
    ]
    return {
        n: pa.chunked_array([pa.array(list(c), t)], t)
        for n, c, t in zip(names, cols, types, strict=True)
    }


def _oracle(cols: dict[str, pa.ChunkedArray], key: tuple[str, ...], candidates: np.ndarray):
    df = pd.DataFrame({k: v.to_pylist() for k, v in cols.items()}).astype(object)
    df = df.where(df.notna(), "<NA>")
    idx = np.flatnonzero(candidates)
    sub = df.iloc[idx]
    exact = np.zeros(len(df), bool)
    exact[idx[sub.duplicated(keep="first").to_numpy()]] = True
    conflict = np.zeros(len(df), bool)
    if key:
        keep = idx[~exact[idx]]
        kdf = df.iloc[keep][list(key)]
        null = (kdf == "<NA>").any(axis=1).to_numpy()
        conflict[keep[kdf.duplicated(keep=False).to_numpy() & ~null]] = True
    return exact, conflict


rows = st.lists(st.tuples(apps, small, dates, small, small), max_size=25)


@settings(max_examples=200, deadline=None)
@given(rows=rows, collide=st.booleans(), data=st.data())
def test_duplicates_equal_the_oracle(rows, collide: bool, data) -> None:
    cols = _frame(rows)
    candidates = np.array(
        data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows))), bool
    )
    base = CONTRACTS["patent_events"]
    for key in [(), ("app_no",), ("app_no", "event_date")]:
        contract = type(base)(base.name, base.columns, key=key, match_on=base.match_on)
        original = _dups.row_hash
        if collide:
            _dups.row_hash = lambda arrays: np.zeros(len(arrays[0]), dtype=np.uint64)
        try:
            exact, conflict, group = _dups.find_duplicates(contract, cols, candidates)
        finally:
            _dups.row_hash = original
        want_exact, want_conflict = _oracle(cols, key, candidates)
        assert exact.tolist() == want_exact.tolist()
        assert conflict.tolist() == want_conflict.tolist()
        # Rows in one conflict group share their key.
        rows = np.flatnonzero(conflict)
        assert len(group) == len(rows)
        for g in set(group):
            members = rows[group == g]
            keys = {tuple(cols[k].to_pylist()[i] for k in key) for i in members}
            assert len(keys) == 1 and len(members) >= 2
