from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pandas as pd
from hypothesis import given, settings

from screening.retrain.psi import (
    BinnedReference,
    category_bins,
    psi_level,
    psi_table,
    psi_value,
    reference_bins,
)


def test_same_distribution_is_stable_and_shift_is_act():
    rng = np.random.default_rng(0)
    ref = reference_bins(rng.normal(size=5000), 10)
    assert psi_value(ref, rng.normal(size=5000)) < 0.02
    assert psi_value(ref, rng.normal(0.8, 1, size=5000)) > 0.25


def test_missing_values_have_their_own_bin():
    ref = reference_bins(np.r_[np.arange(100.0), [np.nan] * 0], 4)
    table = psi_table(ref, [np.nan] * 50 + list(range(50)))
    assert table["bin"].iloc[-1].startswith("缺失")
    assert table["actual"].iloc[-1] == 0.5
    assert psi_value(ref, [np.nan] * 50 + list(range(50))) > 0.25


def test_flag_gets_two_bins_and_round_trips():
    ref = reference_bins([0, 0, 1, 1, 1, 0, 1, 1], 10)
    assert len(ref.edges) == 1
    assert BinnedReference.from_dict(ref.to_dict()) == ref


def test_levels():
    assert psi_level(0.05, 0.1, 0.25) == "stable"
    assert psi_level(0.10, 0.1, 0.25) == "watch"
    assert psi_level(0.30, 0.1, 0.25) == "act"
    assert psi_level(float("nan"), 0.1, 0.25) == "unknown"


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), min_size=1, max_size=200),
    st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), min_size=1, max_size=200),
    st.integers(2, 20),
)
def test_psi_is_non_negative_and_zero_on_itself(ref_values, cur_values, bins):
    ref = reference_bins(ref_values, bins)
    assert abs(sum(ref.shares) - 1) < 1e-9
    assert psi_value(ref, cur_values) >= 0
    assert psi_value(ref, ref_values) < 1e-9


def test_categories_get_their_own_bins_and_unseen_go_to_other():
    ref = category_bins(pd.Series(["C", "C", "M", None], dtype="category"))
    assert ref.categories == ["C", "M"]
    assert ref.shares == [0.5, 0.25, 0.0, 0.25]
    table = psi_table(ref, ["C", "I", "I", None])
    assert list(table["bin"]) == ["C", "M", "其他 other", "缺失 missing"]
    assert list(table["actual"]) == [0.25, 0.0, 0.5, 0.25]
    assert psi_value(ref, ["C", "C", "M", None]) == 0
    assert BinnedReference.from_dict(ref.to_dict()) == ref


def test_bin_labels_say_where_a_value_on_an_edge_falls():
    """A count of 0 (the edge of a count's first bin) is counted in the bin above the
    edge; the label used to say '(-inf, 0]' for the bin it was not in."""
    ref = reference_bins([0, 0, 0, 1, 2, 3, 5, 8], 4)
    table = psi_table(ref, [0, 0, 0, 0])
    hit = table.loc[table["actual"] == 1.0, "bin"].tolist()
    assert len(hit) == 1 and hit[0].startswith("[0,")
    assert table["bin"].iloc[0].startswith("(-inf, ")
