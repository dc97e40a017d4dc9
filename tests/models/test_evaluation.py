"""Evaluation: metrics, calibration by grade, PSI, Jeffreys intervals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta
from sklearn.metrics import roc_auc_score

from data_contracts.errors import ModelError
from models import evaluate, jeffreys_interval, psi


def _sample(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 12, n)
    y = (rng.random(n) < p).astype(int)
    return y, p


def test_summary_metrics():
    y, p = _sample()
    ev = evaluate(y, p)
    auc = roc_auc_score(y, p)
    assert ev.summary["auc"] == pytest.approx(auc)
    assert ev.summary["gini"] == pytest.approx(2 * auc - 1)
    assert ev.summary["brier"] == pytest.approx(np.mean((p - y) ** 2))
    # KS from its definition: max gap of the empirical CDFs of bads and goods.
    grid = np.sort(p)
    cdf_bad = np.searchsorted(np.sort(p[y == 1]), grid, "right") / (y == 1).sum()
    cdf_good = np.searchsorted(np.sort(p[y == 0]), grid, "right") / (y == 0).sum()
    assert ev.summary["ks"] == pytest.approx(np.max(cdf_good - cdf_bad), abs=1e-9)


def test_jeffreys_interval_matches_beta_quantiles():
    lo, hi = jeffreys_interval(np.array([3, 0, 10]), np.array([100, 50, 10]))
    assert lo[0] == pytest.approx(beta.ppf(0.025, 3.5, 97.5))
    assert hi[0] == pytest.approx(beta.ppf(0.975, 3.5, 97.5))
    assert lo[1] == 0.0 and hi[2] == 1.0


def test_calibration_by_grade_and_monotone_flag():
    # Grade Tk holds 200 loans with 2k defaults and a predicted PD of k %.
    grade = np.repeat([f"T{k}" for k in range(1, 11)], 200)
    y = np.concatenate([np.r_[np.ones(2 * k), np.zeros(200 - 2 * k)] for k in range(1, 11)])
    p = np.repeat(np.arange(1, 11) / 100, 200)
    ev = evaluate(y, p, grade)
    by = ev.by_grade
    assert by["n"].tolist() == [200] * 10
    assert by["bad"].tolist() == [2 * k for k in range(1, 11)]
    np.testing.assert_allclose(by["observed_rate"], np.arange(1, 11) / 100)
    assert by["pd_within_interval"].all()
    assert ev.summary["grades_monotone"] is True and not ev.warnings
    # Swap two grades' labels: the report must say the rates do not rise.
    swapped = np.where(grade == "T9", "T2", np.where(grade == "T2", "T9", grade))
    ev2 = evaluate(y, p, swapped)
    assert ev2.summary["grades_monotone"] is False
    assert any("T3 (3.00%) < T2 (9.00%)" in w for w in ev2.warnings)


def test_psi_zero_for_same_distribution_and_large_for_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(600, 40, 20000)
    assert psi(a, a) == pytest.approx(0.0, abs=1e-12)
    assert psi(a, rng.normal(600, 40, 20000)) < 0.01
    assert psi(a, a + 60) > 0.25


def test_psi_warning_and_json():
    y, p = _sample()
    score = 600 - 100 * p
    ev = evaluate(y, p, score=score, score_reference=score + 50)
    assert ev.summary["psi_score"] > 0.25
    assert any("act" in w for w in ev.warnings)
    json.loads(ev.to_json())


def test_feature_importance_from_contributions():
    y, p = _sample(500)
    contrib = pd.DataFrame({"a": np.linspace(-5, 5, 500), "b": np.full(500, 0.5)})
    ev = evaluate(y, p, contributions=contrib, gain={"a": 10.0, "b": 1.0})
    fi = ev.feature_importance
    assert fi["feature"].tolist() == ["a", "b"]
    assert fi["share"].sum() == pytest.approx(1.0)
    assert fi.loc[fi.feature == "b", "mean_points"].item() == pytest.approx(0.5)


def test_bad_inputs():
    with pytest.raises(ModelError, match="y has 3 rows but pd has 2"):
        evaluate([0, 1, 0], [0.1, 0.2])
    with pytest.raises(ModelError, match=r"pd must be finite probabilities in \[0, 1\]"):
        evaluate([0, 1], [0.1, 1.2])
