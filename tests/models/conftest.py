"""Small synthetic credit data for the model tests (fast: a few thousand rows, small trees)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.registry import FeatureSpec
from models import LearnedModel

# A tiny stand-in for the feature registry: tests must not depend on the catalog's content.
SPECS = (
    FeatureSpec("inventions", "有效发明专利数", "quantity", "test", "test", "grant_date", 1),
    FeatureSpec("lapse_rate", "年费失效率", "legal", "test", "test", "event_date", -1),
    FeatureSpec("scope", "专利宽度", "structure", "test", "test", "grant_date", 0),
)


def make_credit_data(n: int = 3000, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Firms with a known PD: more inventions safer, higher lapse rate riskier, a non-monotone
    'scope' effect, an industry category, some missing values and a loan date.

    ``shift`` adds to the default log-odds of the newer half (a prior shift, as when the
    economy turns), which leaves the raw model miscalibrated on newer loans.
    """
    rng = np.random.default_rng(seed)
    inventions = rng.poisson(4, n).astype(float)
    lapse = rng.beta(1, 6, n)
    scope = rng.normal(0, 1, n)
    industry = rng.choice(["C", "I", "M"], n, p=[0.5, 0.3, 0.2])
    noise = rng.normal(0, 1, n)
    date = pd.Timestamp("2019-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 5 * 365, n)), "D")
    logit = (
        -2.2
        - 0.45 * np.log1p(inventions) * 2
        + 4.0 * lapse
        + 0.6 * scope**2
        + np.where(industry == "I", 0.6, 0.0)
    )
    logit = logit + np.where(np.arange(n) >= n // 2, shift, 0.0)
    pd_true = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < pd_true).astype(int)
    inv_col = inventions.copy()
    inv_col[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "inventions": inv_col,
            "lapse_rate": lapse,
            "scope": scope,
            "industry": industry,
            "noise": noise,
            "loan_date": date,
            "bad": y,
            "true_pd": pd_true,
        }
    )


FEATURES = ["inventions", "lapse_rate", "scope", "industry", "noise"]

SMALL = dict(
    feature_specs=SPECS, n_estimators=300, learning_rate=0.1, early_stopping_rounds=30, n_folds=3
)


@pytest.fixture(scope="session")
def credit_data() -> pd.DataFrame:
    return make_credit_data()


@pytest.fixture(scope="session")
def oot_model(credit_data: pd.DataFrame) -> LearnedModel:
    """Additive model, out-of-time validation, registry monotone constraints."""
    return LearnedModel(**SMALL).fit(
        credit_data[FEATURES], credit_data["bad"], time=credit_data["loan_date"]
    )


@pytest.fixture(scope="session")
def kfold_trees_model(credit_data: pd.DataFrame) -> LearnedModel:
    """Ordinary trees, stratified k-fold, explained by pred_contrib."""
    return LearnedModel(**SMALL, structure="trees", num_leaves=6).fit(
        credit_data[FEATURES], credit_data["bad"]
    )
