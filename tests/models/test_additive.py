"""Oracle test: the additive contribution tables equal LightGBM's own TreeSHAP and margin."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_contracts.errors import ModelError
from models._additive import AdditiveTables


def _booster(
    seed: int, nan_rate: float, with_cat: bool, monotone: bool, interactions: bool = False
):
    rng = np.random.default_rng(seed)
    n = 400
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.integers(0, 4, n).astype(float),  # integer-valued: ties at thresholds
            rng.exponential(size=n),
            rng.integers(0, 6, n).astype(float),
        ]
    )
    X[rng.random((n, 4)) < nan_rate] = np.nan
    z = np.nan_to_num(X[:, 0]) - 0.5 * np.nan_to_num(X[:, 1]) + (X[:, 3] == 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    params = {
        "objective": "binary",
        "num_leaves": 5,
        "min_data_in_leaf": 5,
        "learning_rate": 0.2,
        "verbosity": -1,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 1,
        "seed": seed,
    }
    if not interactions:
        params["interaction_constraints"] = [[0], [1], [2], [3]]
    if monotone:
        params["monotone_constraints"] = [1, -1, 0, 0]
    ds = lgb.Dataset(X, y, categorical_feature=[3] if with_cat else [], free_raw_data=False)
    kinds = ["numeric", "numeric", "numeric", "category" if with_cat else "numeric"]
    return lgb.train(params, ds, 25), kinds, rng


@given(
    seed=st.integers(0, 10_000),
    nan_rate=st.sampled_from([0.0, 0.1, 0.4]),
    with_cat=st.booleans(),
    monotone=st.booleans(),
)
@settings(max_examples=25, deadline=None)
def test_tables_equal_pred_contrib_and_margin(seed, nan_rate, with_cat, monotone):
    booster, kinds, rng = _booster(seed, nan_rate, with_cat, monotone)
    tables = AdditiveTables.from_booster_dump(booster.dump_model(), kinds)
    # Probe values the booster never saw: NaN everywhere, exact split thresholds, ±0,
    # unseen and negative category codes, tiny and huge values.
    probe = rng.normal(size=(300, 4)) * 3
    probe[:, 1] = rng.integers(-1, 6, 300)
    probe[:, 3] = rng.integers(-2, 9, 300)
    probe[rng.random((300, 4)) < 0.2] = np.nan
    probe[:5] = [[0.0, -0.0, 1e-40, 0.0]] * 5
    probe[5] = np.nan
    for j, tab in enumerate(tables.tables):  # values exactly on every split threshold
        if tab.kind == "numeric" and len(tab.thresholds):
            k = min(len(tab.thresholds), 100)
            probe[100 : 100 + k, j] = tab.thresholds[:k]
    ours = tables.contributions(probe)
    theirs = booster.predict(probe, pred_contrib=True)
    np.testing.assert_allclose(ours, theirs[:, :-1], atol=1e-10)
    np.testing.assert_allclose(tables.base, theirs[0, -1], atol=1e-10)
    np.testing.assert_allclose(
        tables.base + ours.sum(axis=1), booster.predict(probe, raw_score=True), atol=1e-10
    )


def test_a_booster_with_interactions_is_refused():
    booster, kinds, _ = _booster(0, 0.0, False, False, interactions=True)
    with pytest.raises(
        ModelError, match="splits on several features, so the booster is not additive"
    ):
        AdditiveTables.from_booster_dump(booster.dump_model(), kinds)
