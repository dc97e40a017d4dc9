"""Vectorised identifier builders and point-in-time look-ups against obvious references."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from data_contracts.identifiers import (
    USCC_ALPHABET,
    check_app_no,
    check_uscc,
    make_app_no,
    make_uscc,
)
from screening.sample._arrow import app_no_array, concat, join_lists, uscc_array
from screening.sample._pit import LatestValue, StepCounter

REGIONS = st.sampled_from([410100, 410300, 410700, 419001, 411700])
ORG = st.lists(st.integers(0, 30), min_size=8, max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(REGIONS, ORG), min_size=1, max_size=20))
def test_uscc_array_matches_make_uscc(items):
    region = np.array([r for r, _ in items])
    org = np.array([o for _, o in items])
    got = uscc_array(region, org).to_pylist()
    for code, (r, o) in zip(got, items, strict=True):
        org8 = "".join(USCC_ALPHABET[i] for i in o)
        assert code == make_uscc("9", "1", str(r), org8)
        assert check_uscc(code).ok


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1985, 2026), st.sampled_from([1, 2, 3]), st.integers(0, 9_999_999)),
        min_size=1,
        max_size=20,
    )
)
def test_app_no_array_matches_make_app_no(items):
    y, t, s = (np.array(x) for x in zip(*items, strict=True))
    got = app_no_array(y, t, s).to_pylist()
    for code, (yy, tt, ss) in zip(got, items, strict=True):
        assert code == make_app_no(yy, tt, ss)
        assert check_app_no(code).ok


STEPS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(-500, 500), st.sampled_from([-1.0, 1.0, 2.0])),
    max_size=40,
)
QUERIES = st.lists(st.tuples(st.integers(0, 5), st.integers(-600, 600)), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(STEPS, QUERIES)
def test_step_counter_matches_a_loop(steps, queries):
    f = np.array([s[0] for s in steps], dtype=np.int64)
    d = np.array([s[1] for s in steps], dtype=np.int64)
    v = np.array([s[2] for s in steps])
    qf = np.array([q[0] for q in queries], dtype=np.int64)
    qd = np.array([q[1] for q in queries], dtype=np.int64)
    got = StepCounter(f, d, v).at(qf, qd)
    want = [sum(s[2] for s in steps if s[0] == a and s[1] <= b) for a, b in queries]
    np.testing.assert_allclose(got, want)


@settings(max_examples=80, deadline=None)
@given(STEPS, QUERIES)
def test_latest_value_matches_a_loop(steps, queries):
    # Distinct (firm, day) keys so "latest" is unambiguous.
    seen, uniq = set(), []
    for s in steps:
        if (s[0], s[1]) not in seen:
            seen.add((s[0], s[1]))
            uniq.append(s)
    f = np.array([s[0] for s in uniq], dtype=np.int64)
    d = np.array([s[1] for s in uniq], dtype=np.int64)
    v = np.arange(len(uniq))
    qf = np.array([q[0] for q in queries], dtype=np.int64)
    qd = np.array([q[1] for q in queries], dtype=np.int64)
    got = LatestValue(f, d, v).at(qf, qd, -1)
    for g, (a, b) in zip(got, queries, strict=True):
        cands = [(s[1], i) for i, s in enumerate(uniq) if s[0] == a and s[1] <= b]
        assert g == (max(cands)[1] if cands else -1)


def test_concat_skips_nulls_and_keeps_length():
    a = pa.array(["a", None, None, "x"])
    b = pa.array([None, None, "d", "y"])
    assert concat(a, b, sep=";").to_pylist() == ["a", None, "d", "x;y"]


def test_join_lists_groups_and_empty_groups():
    values = pa.array(["p", "q", "r"])
    assert join_lists(np.array([0, 0, 2]), values, 4).to_pylist() == ["p;q", None, "r", None]
