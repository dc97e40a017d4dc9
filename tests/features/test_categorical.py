"""Repeated text held as pandas categoricals (``read_data_dir(categorical=...)``, what the
screening run does at national scale) gives exactly the results of plain ``str`` columns:
links, match report and examples, the feature matrix and the pledge list.

The categoricals are made awkward on purpose: categories in reverse order, plus values no
row has (a filtered table keeps its categories), and tables whose index is not 0…n-1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features import (
    CATEGORICAL_COLUMNS,
    build_feature_matrix,
    pledgeable_patents,
    resolve_entities,
)
from features._names import split_ids

from .conftest import random_tables

SETTINGS = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _categorical(data: dict[str, pd.DataFrame], shift: int) -> dict[str, pd.DataFrame]:
    """``data`` with every CATEGORICAL_COLUMNS column a categorical of reversed categories
    and unused extra values; index shifted by ``shift`` (not 0…n-1)."""
    out = {}
    for name, df in data.items():
        df = df.copy()
        for col in CATEGORICAL_COLUMNS.get(name, ()):
            if col in df:
                present = sorted(df[col].dropna().unique().tolist(), reverse=True)
                extra = [f"无此值{i}" for i in range(3)] + ["张三;李四"]
                cats = pd.Index(present + extra, dtype="str")
                df[col] = pd.Categorical(df[col], categories=cats)
        df.index = df.index + shift
        out[name] = df
    return out


def _plain(data: dict[str, pd.DataFrame], shift: int) -> dict[str, pd.DataFrame]:
    out = {}
    for name, df in data.items():
        df = df.copy()
        df.index = df.index + shift
        out[name] = df
    return out


def test_categorical_columns_are_text_the_layer_reads() -> None:
    from features import INPUT_COLUMNS
    from features._tables import COLUMNS

    for table, cols in CATEGORICAL_COLUMNS.items():
        assert set(cols) <= set(INPUT_COLUMNS[table])
        assert all(COLUMNS[table][c] == "str" for c in cols)
    # unique-by-nature text stays plain: a categorical of it would only add codes
    assert "app_no" not in CATEGORICAL_COLUMNS["patents"]
    assert "title" not in CATEGORICAL_COLUMNS["patents"]


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    shift=st.integers(0, 5),
    as_of=st.sampled_from(["2012-06-30", "2018-03-31", "2023-12-31"]),
    blank=st.sampled_from(
        [
            None,
            ("patents", "applicant_usccs"),
            ("patents", "award"),
            ("patent_events", "to_party"),
            ("patent_events", "event_code"),
        ]
    ),
)
def test_categorical_inputs_give_the_same_results(seed, shift, as_of, blank) -> None:
    data = random_tables(seed, n_firms=10, n_patents=60, n_events=140)
    if blank is not None:  # a column with no text at all: a categorical without categories
        table, col = blank
        data[table][col] = pd.Series([None] * len(data[table]), dtype="str")
    plain, cat = _plain(data, shift), _categorical(data, shift)
    assert isinstance(cat["patents"]["applicants"].dtype, pd.CategoricalDtype)

    lp, lc = resolve_entities(plain), resolve_entities(cat)
    try:
        assert lc.match_report == lp.match_report
        pd.testing.assert_frame_equal(lc.match_examples, lp.match_examples)
        pd.testing.assert_frame_equal(lc.patent_links, lp.patent_links)
        pd.testing.assert_frame_equal(lc.event_links, lp.event_links)
        for name in ("credit_records", "programmes"):
            a = getattr(lp, name).reset_index(drop=True)
            b = getattr(lc, name).reset_index(drop=True)
            assert list(a.columns) == list(b.columns)
            for col in a.columns:  # the linked tables keep their input dtypes
                left, right = a[col], b[col]
                if isinstance(right.dtype, pd.CategoricalDtype):
                    right = right.astype("str")
                pd.testing.assert_series_equal(right, left, check_dtype=False)

        pairs = pd.DataFrame({"uscc": data["enterprises"]["uscc"], "as_of": pd.Timestamp(as_of)})
        pd.testing.assert_frame_equal(
            build_feature_matrix(pairs, cat, links=lc), build_feature_matrix(pairs, plain, links=lp)
        )
        pd.testing.assert_frame_equal(
            pledgeable_patents(cat, as_of, links=lc), pledgeable_patents(plain, as_of, links=lp)
        )
    finally:
        lp.close()
        lc.close()
    # transfers were there to read (a bug once dropped the parties of the TR01 subset,
    # whose index is not 0…n-1: the event links and match report above caught it)
    if blank != ("patent_events", "event_code"):
        assert (data["patent_events"]["event_code"] == "TR01").any()


@pytest.mark.parametrize("fullwidth", [True, False])
def test_split_of_a_categorical_is_the_split_of_its_text(fullwidth) -> None:
    text = pd.Series(["甲;乙", None, " 乙 ；丙", "", "甲", ";;", "丙;甲;乙", "甲;乙"], dtype="str")
    cat = pd.Series(
        pd.Categorical(
            text,
            categories=pd.Index(
                ["甲", "丙;甲;乙", "未用", " 乙 ；丙", "甲;乙", "", ";;"], dtype="str"
            ),
        )
    )
    p1, i1, d1 = split_ids(text, fullwidth=fullwidth)
    p2, i2, d2 = split_ids(cat, fullwidth=fullwidth)
    np.testing.assert_array_equal(p2, p1)
    assert d2.take(i2).to_pylist() == d1.take(i1).to_pylist()


@pytest.mark.parametrize(
    "text",
    [
        pd.Series([None, None, None], dtype="str"),  # no text at all: no categories
        pd.Series([], dtype="str"),
        pd.Series(["", None, ";"], dtype="str"),  # text, but no item in it
    ],
    ids=["all-null", "no-rows", "no-items"],
)
def test_split_of_a_categorical_without_items(text) -> None:
    """A categorical with no categories, or none that holds an item, splits to nothing,
    like its text (a retraining folder's empty applicant_usccs once raised IndexError)."""
    cat = text.astype("category")
    p1, i1, d1 = split_ids(text)
    p2, i2, d2 = split_ids(cat)
    assert len(p1) == len(p2) == 0 and len(i2) == 0
    assert d2.take(i2).to_pylist() == d1.take(i1).to_pylist() == []
