"""ScoreScale and GradeScale."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from data_contracts.errors import ConfigError, ModelError
from models import GradeScale, ScoreScale


def test_anchor_and_points_to_double_the_odds():
    s = ScoreScale()  # 600 at 50:1, 20 points to double
    assert float(s.score_from_pd(1 / 51)) == pytest.approx(600)
    assert float(s.score_from_pd(1 / 101)) == pytest.approx(620)
    assert float(s.score_from_pd(1 / 26)) == pytest.approx(580)
    assert s.factor == pytest.approx(20 / math.log(2))


@given(st.floats(1e-5, 1 - 1e-5), st.floats(1e-5, 1 - 1e-5))
def test_score_falls_as_pd_rises_and_round_trips(p1, p2):
    s = ScoreScale(500, 20, 40)
    a, b = s.score_from_pd(p1), s.score_from_pd(p2)
    if p1 < p2:
        assert a >= b
    assert float(s.pd_from_score(a)) == pytest.approx(p1, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(pdo=0),
            r"The 'pdo' parameter of ScoreScale must be a number in \(0, 1e\+06\). Got 0 instead.",
        ),
        (dict(base_odds=-1), r"The 'base_odds' parameter of ScoreScale must be a number"),
        (dict(base_score="600"), r"The 'base_score' parameter of ScoreScale must be a number"),
    ],
)
def test_bad_score_scale(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ScoreScale(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(n_grades=0),
            r"The 'n_grades' parameter of GradeScale must be an int in \[2, 20\]. Got 0 instead.",
        ),
        (
            dict(method="kmeans"),
            r"The 'method' parameter of GradeScale must be 'quantile' or 'geometric'. Got 'kmeans' instead.",
        ),
        (
            dict(n_grades=3, cutoffs=(0.2, 0.1)),
            r"The 'cutoffs' of GradeScale must be 2 strictly increasing PDs",
        ),
    ],
)
def test_bad_grade_scale(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GradeScale(**kwargs)


def test_assign_uses_documented_boundaries():
    g = GradeScale(3, cutoffs=(0.01, 0.05))
    assert g.assign(np.array([0.001, 0.01, 0.0100001, 0.05, 0.2])).tolist() == [
        "T1",
        "T1",
        "T2",
        "T2",
        "T3",
    ]


def test_unfitted_grade_scale_refuses_to_assign():
    with pytest.raises(ModelError, match="GradeScale has no cut-offs yet"):
        GradeScale().assign(np.array([0.1]))


def test_quantile_cuts_give_equal_populations():
    p = np.random.default_rng(0).uniform(0.001, 0.3, 10_000)
    g = GradeScale().fit(p)
    counts = np.unique(g.assign(p), return_counts=True)[1]
    assert g.method == "quantile"
    assert counts.min() >= 950 and counts.max() <= 1050


def test_tied_pds_never_leave_a_grade_empty():
    # Isotonic calibration gives steps: 12 distinct PDs with very unequal counts.
    rng = np.random.default_rng(1)
    levels = np.linspace(0.005, 0.25, 12)
    p = rng.choice(levels, 5000, p=np.r_[0.4, np.full(11, 0.6 / 11)])
    g = GradeScale().fit(p)
    grades = g.assign(p)
    assert set(grades) == {f"T{i}" for i in range(1, 11)}
    # Tied PDs share a grade.
    for level in levels:
        assert len(set(grades[p == level])) == 1


def test_too_few_distinct_pds_fall_back_to_geometric_ladder():
    p = np.repeat([0.01, 0.02, 0.05], 100)
    g = GradeScale().fit(p)
    assert g.method == "geometric"
    ratios = np.diff(np.log(g.cutoffs))
    np.testing.assert_allclose(ratios, ratios[0])


@given(st.lists(st.floats(1e-4, 0.9), min_size=20, max_size=200))
@example([0.0001] * 19 + [0.00010000000000000002])  # two PDs an ulp apart
def test_grade_order_follows_pd(values):
    p = np.asarray(values)
    g = GradeScale(5).fit(p)
    idx = np.array([int(s[1:]) for s in g.assign(p)])
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(idx[order]) >= 0)
