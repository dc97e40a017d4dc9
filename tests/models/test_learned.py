"""LearnedModel: monotonicity, exact explanations, calibration, grades, persistence, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_contracts.errors import ConfigError, FeatureMismatchError, ModelError
from models import LearnedModel, load_model
from models.calibration import brier
from tests.models.conftest import FEATURES, SMALL, make_credit_data


def _random_rows(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return df[FEATURES].sample(n, random_state=seed, replace=True).reset_index(drop=True)


@pytest.mark.parametrize("fixture", ["oot_model", "kfold_trees_model"])
def test_raising_a_safer_feature_never_lowers_the_score(fixture, credit_data, request):
    model = request.getfixturevalue(fixture)
    X = _random_rows(credit_data, 400, 1)
    rng = np.random.default_rng(2)
    for name, sign in (("inventions", 1), ("lapse_rate", -1)):
        base = model.score(X, explain=False).score
        for _ in range(5):
            bumped = X.copy()
            bumped[name] = bumped[name].fillna(0) + rng.uniform(0, 3 if sign > 0 else 0.3, len(X))
            X0 = X.copy()
            X0[name] = X0[name].fillna(0)
            before = model.score(X0, explain=False).score
            after = model.score(bumped, explain=False).score
            assert np.all(sign * (after - before) >= -1e-9), name
        assert base.shape == (len(X),)


@given(
    inventions=st.lists(st.floats(0, 60), min_size=2, max_size=2),
    lapse=st.floats(0, 1),
    scope=st.floats(-3, 3),
    industry=st.sampled_from(["C", "I", "M", "unseen"]),
)
@settings(max_examples=40, deadline=None)
def test_monotone_property_on_arbitrary_firms(oot_model, inventions, lapse, scope, industry):
    lo, hi = sorted(inventions)
    X = pd.DataFrame(
        {
            "inventions": [lo, hi],
            "lapse_rate": [lapse, lapse],
            "scope": [scope, scope],
            "industry": [industry, industry],
            "noise": [0.0, 0.0],
        }
    )
    s = oot_model.score(X).score
    assert s[1] >= s[0] - 1e-9


@pytest.mark.parametrize("fixture", ["oot_model", "kfold_trees_model"])
def test_base_plus_contributions_equals_score(fixture, credit_data, request):
    model = request.getfixturevalue(fixture)
    X = _random_rows(credit_data, 500, 3)
    X.loc[::7, "scope"] = np.nan
    X.loc[::11, "industry"] = "never seen"
    res = model.score(X)
    total = res.base_points + res.contributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, res.score, atol=1e-6)
    assert list(res.contributions.columns) == FEATURES
    assert res.contributions.index.equals(X.index)
    # The explained path and the plain prediction path agree.
    np.testing.assert_allclose(model.score(X, explain=False).score, res.score, atol=1e-8)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_exact_points_for_each_calibration(method, credit_data):
    model = LearnedModel(**SMALL, calibration=method).fit(
        credit_data[FEATURES], credit_data["bad"], time=credit_data["loan_date"]
    )
    assert model.calibrator_.method == method
    res = model.score(_random_rows(credit_data, 300, 4))
    np.testing.assert_allclose(
        res.base_points + res.contributions.sum(axis=1).to_numpy(), res.score, atol=1e-6
    )
    # A feature that raises the default margin never earns positive points.
    margin_contrib = model.tables_.contributions(_encoded(model, _random_rows(credit_data, 300, 4)))
    points = res.contributions.to_numpy()
    assert np.all(np.sign(points) * np.sign(margin_contrib) <= 0)


def _encoded(model, X):
    from models._tabular import encode

    return encode(X[model.feature_names_in_], model.columns_)


def test_additive_contributions_are_treeshap(oot_model, credit_data):
    """The cheap table path equals LightGBM's own pred_contrib on an additive booster."""
    X = _random_rows(credit_data, 300, 5)
    X.loc[::5, "inventions"] = np.nan
    M = _encoded(oot_model, X)
    ours = oot_model.tables_.contributions(M)
    theirs = oot_model.booster_.predict(M, pred_contrib=True)
    np.testing.assert_allclose(ours, theirs[:, :-1], atol=1e-10)
    np.testing.assert_allclose(oot_model.base_margin_, theirs[:, -1], atol=1e-10)


def test_calibration_improves_validation_brier_under_prior_shift():
    df = make_credit_data(n=3000, seed=5, shift=1.2)
    model = LearnedModel(**SMALL, validation_fraction=0.4).fit(
        df[FEATURES], df["bad"], time=df["loan_date"]
    )
    s = model.evaluation_.summary
    assert s["brier_calibrated_cv"] < s["brier_raw"]
    # Out-of-fold on the validation loans, not just in-sample.
    val = df["loan_date"] >= pd.Timestamp(model.card_["training"]["validation"]["cut"])
    raw_pd = 1 / (1 + np.exp(-model.margin(df.loc[val, FEATURES])))
    assert brier(df.loc[val, "bad"], model.score(df.loc[val, FEATURES]).pd) < brier(
        df.loc[val, "bad"], raw_pd
    )


def test_grades_order_default_rates_on_validation(oot_model, kfold_trees_model):
    for model in (oot_model, kfold_trees_model):
        by = model.evaluation_.by_grade
        assert list(by["grade"]) == [f"T{i}" for i in range(1, 11)]
        assert (by["n"] > 0).all()
        assert model.evaluation_.summary["grades_monotone"] == bool(
            np.all(np.diff(by["observed_rate"].to_numpy()) >= 0)
        )
        # Top grade and bottom grade differ clearly on this strong-signal data.
        assert by["observed_rate"].iloc[-1] > 3 * by["observed_rate"].iloc[0]
    cut = oot_model.grade_scale_.cutoffs
    assert len(cut) == 9 and all(a < b for a, b in zip(cut, cut[1:], strict=False))


def test_out_of_time_split_trains_on_older_loans(oot_model, credit_data):
    val = oot_model.card_["training"]["validation"]
    assert val["scheme"] == "out_of_time"
    cut = pd.Timestamp(val["cut"])
    assert val["n_train"] == int((credit_data["loan_date"] < cut).sum())
    assert val["n_valid"] == int((credit_data["loan_date"] >= cut).sum())
    assert oot_model.card_["training"]["period"]["min"].startswith("2019-01")


def test_save_load_round_trip_gives_identical_scores(
    oot_model, kfold_trees_model, credit_data, tmp_path
):
    X = _random_rows(credit_data, 300, 6)
    for i, model in enumerate((oot_model, kfold_trees_model)):
        folder = tmp_path / f"m{i}"
        model.save(str(folder))
        loaded = load_model(folder)
        a, b = model.score(X), loaded.score(X)
        assert np.array_equal(a.score, b.score)
        assert np.array_equal(a.pd, b.pd)
        assert np.array_equal(a.grade, b.grade)
        pd.testing.assert_frame_equal(a.contributions, b.contributions)
        assert loaded.model_id == model.model_id
        assert not list(folder.glob("*.pkl"))


def test_refit_with_same_inputs_writes_byte_identical_files(credit_data, tmp_path):
    df = credit_data.iloc[:1500]
    for name in ("a", "b"):
        LearnedModel(**SMALL).fit(df[FEATURES], df["bad"], time=df["loan_date"]).save(
            str(tmp_path / name)
        )
    for f in ("booster.txt", "model_card.json", "metrics.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_model_card_records_what_scoring_needs(oot_model):
    card = oot_model.card_
    json.dumps(card, allow_nan=False)
    assert card["feature_names"] == FEATURES
    signs = {f["name"]: f["monotone"] for f in card["features"]}
    assert signs == {"inventions": 1, "lapse_rate": -1, "scope": 0, "industry": 0, "noise": 0}
    assert card["lightgbm_params"]["monotone_constraints"] == [-1, 1, 0, 0, 0]
    assert {f["name"]: f["kind"] for f in card["features"]}["industry"] == "category"
    assert card["score_scale"]["base_score"] == 600 and card["score_scale"]["pdo"] == 20
    assert len(card["training"]["data_hash"]) == 64
    assert card["calibration"]["method"] in ("platt", "isotonic")


def test_tampered_model_folder_is_refused(oot_model, tmp_path):
    oot_model.save(str(tmp_path / "m"))
    card_path = tmp_path / "m" / "model_card.json"
    card = json.loads(card_path.read_text())
    card["grade_scale"]["pd_cutoffs"][0] = 1e-9
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="do not match model_id"):
        load_model(tmp_path / "m")


def test_missing_and_unexpected_columns_are_both_listed(oot_model, credit_data):
    X = credit_data[FEATURES].drop(columns=["scope"]).assign(extra_col=1.0)
    with pytest.raises(FeatureMismatchError, match=r"missing 1: scope; unexpected 1: extra_col"):
        oot_model.score(X)
    # identifier columns are tolerated
    ok = credit_data[FEATURES].assign(uscc="x", as_of=pd.Timestamp("2024-01-01")).head(3)
    assert len(oot_model.score(ok).score) == 3


def test_text_in_numeric_feature_is_refused(oot_model, credit_data):
    X = credit_data[FEATURES].head(5).astype({"inventions": object})
    X.loc[2, "inventions"] = "many"
    with pytest.raises(
        FeatureMismatchError, match="numeric feature columns contain text: inventions"
    ):
        oot_model.score(X)


def test_unfitted_model_says_so():
    with pytest.raises(ModelError, match="not fitted yet"):
        LearnedModel().score(pd.DataFrame({"a": [1.0]}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            dict(num_leaves=1),
            r"The 'num_leaves' parameter of LearnedModel must be an int in the range \[2, 131072\]. Got 1 instead.",
        ),
        (
            dict(learning_rate=0),
            r"The 'learning_rate' parameter of LearnedModel must be a float in the range \(0.0, 1.0\). Got 0 instead.",
        ),
        (
            dict(monotone="up"),
            r"The 'monotone' parameter of LearnedModel must be one of 'registry', 'auto', 'none'. Got 'up' instead.",
        ),
        (
            dict(n_folds=1),
            r"The 'n_folds' parameter of LearnedModel must be an int in the range \[2, 50\]. Got 1 instead.",
        ),
        (dict(calibration="beta"), r"The 'calibration' parameter of LearnedModel must be one of"),
        (dict(validation_fraction=1.5), r"The 'validation_fraction' parameter"),
        (
            dict(score_scale=600),
            r"The 'score_scale' parameter of LearnedModel must be a ScoreScale. Got int instead.",
        ),
    ],
)
def test_bad_parameters_are_rejected_at_fit(params, message, credit_data):
    model = LearnedModel(**params)  # __init__ only stores
    with pytest.raises(ConfigError, match=message):
        model.fit(credit_data[FEATURES], credit_data["bad"])


def test_non_binary_label_names_the_values(credit_data):
    y = credit_data["bad"].to_numpy().copy()
    y[:3] = 2
    with pytest.raises(ModelError, match=r"must be binary .* found 3 values: 0, 1, 2"):
        LearnedModel(**SMALL).fit(credit_data[FEATURES], y)
    with pytest.raises(ModelError, match="only one class"):
        LearnedModel(**SMALL).fit(credit_data[FEATURES], np.zeros(len(credit_data)))


def test_identifier_like_text_column_is_rejected(credit_data):
    X = credit_data[FEATURES].assign(firm_name=[f"firm {i}" for i in range(len(credit_data))])
    with pytest.raises(
        ModelError, match=r"more than 200 distinct values .*firm_name \(3000 distinct"
    ):
        LearnedModel(**SMALL).fit(X, credit_data["bad"])


def test_time_column_errors(credit_data):
    with pytest.raises(ModelError, match="not dates, e.g. soon"):
        LearnedModel(**SMALL).fit(
            credit_data[FEATURES], credit_data["bad"], time=["soon"] + ["2020-01-01"] * 2999
        )
    late = credit_data["loan_date"].where(credit_data["bad"] == 0, pd.Timestamp("2010-01-01"))
    with pytest.raises(ModelError, match="validation period .* 0 defaults; it needs both classes"):
        LearnedModel(**SMALL).fit(credit_data[FEATURES], credit_data["bad"], time=late)


def test_auto_monotone_signs_follow_the_data(credit_data):
    model = LearnedModel(**{**SMALL, "monotone": "auto"}).fit(
        credit_data[FEATURES], credit_data["bad"]
    )
    assert model.monotone_signs_["inventions"] == 1
    assert model.monotone_signs_["lapse_rate"] == -1
    # U-shaped (scope²) and pure noise are left free; categories are never constrained.
    assert model.monotone_signs_["scope"] == 0
    assert model.monotone_signs_["noise"] == 0
    assert model.monotone_signs_["industry"] == 0


def test_model_beats_chance_and_tracks_true_pd(oot_model, credit_data):
    from sklearn.metrics import roc_auc_score

    # the metrics are the test half's: the newer half of the out-of-time window, which no
    # part of the model (trees, early stopping, calibration, grade cut-offs) was fitted to
    v = oot_model.card_["training"]["validation"]
    assert pd.Timestamp(v["test_cut"]) > pd.Timestamp(v["cut"])
    assert v["n_calibration"] + v["n_test"] == v["n_valid"] and v["n_test"] > 0
    val = credit_data["loan_date"] >= pd.Timestamp(v["test_cut"])
    sub = credit_data[val]
    assert len(sub) == v["n_test"]
    auc_model = roc_auc_score(sub["bad"], oot_model.score(sub[FEATURES]).pd)
    auc_truth = roc_auc_score(sub["bad"], sub["true_pd"])
    assert auc_model >= 0.9 * auc_truth
    assert oot_model.evaluation_.summary["auc"] == pytest.approx(auc_model, abs=1e-9)


def test_auto_calibration_keeps_platt_with_few_defaults_and_isotonic_pds_are_floored():
    """50 defaults: isotonic steps are noise (whole blocks at PD 0 or 1, tied on one score),
    so auto stays with Platt; a forced isotonic map never gives PD 0 or 1."""
    from models.calibration import ISOTONIC_MIN_BADS, PD_FLOOR, choose_calibrator

    rng = np.random.default_rng(0)
    m = rng.normal(size=700)
    y = (rng.random(700) < 1 / (1 + np.exp(-(m * 2 - 3)))).astype(int)
    assert 20 < y.sum() < ISOTONIC_MIN_BADS
    cal, report = choose_calibrator(m, y, "auto")
    assert report["chosen"] == "platt" and "brier_cv_isotonic" not in report
    iso, _ = choose_calibrator(m, y, "isotonic")
    p = iso.pd(np.linspace(-10, 10, 101))
    assert p.min() == pytest.approx(PD_FLOOR) and p.max() == pytest.approx(1 - PD_FLOOR)
    assert len(np.unique(cal.pd(m))) == len(np.unique(m))  # platt: no ties
