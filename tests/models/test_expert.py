"""Expert scorecard: weights file, points, explanation identity, monotonicity, errors."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from data_contracts.errors import ConfigError, FeatureMismatchError
from features.registry import FeatureSpec
from models import ExpertScorecard, load_expert_spec, load_model, parse_expert_spec
from models.expert import PATENT_GROUPS


@pytest.fixture(scope="module")
def spec():
    return load_expert_spec()


@pytest.fixture(scope="module")
def card(spec):
    return ExpertScorecard(spec, feature_specs=())


def _firms(spec, n=300, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    for f in spec.factors:
        p = dict(f.params)
        if f.transform == "percentile":
            x = rng.uniform(0, 100, n)
        elif f.transform == "flag":
            x = (rng.random(n) < 0.1).astype(float)
        elif f.transform == "bins":
            x = rng.integers(0, 5, n).astype(float)
        else:
            x = rng.uniform(p["lo"] - 0.2 * p["hi"], 1.3 * p["hi"], n)
            x = np.maximum(x, 0)
        x[rng.random(n) < 0.05] = np.nan
        cols[f.feature] = x
    return pd.DataFrame(cols)


def test_packaged_weights_follow_the_domain_groups(spec):
    for group, weight in PATENT_GROUPS.items():
        assert sum(f.hi - f.lo for f in spec.factors if f.group == group) == pytest.approx(weight)
    groups = {f.group for f in spec.factors}
    assert {"credit", "programme"} <= groups
    assert all(f.hi <= 0 for f in spec.factors if f.group == "credit")
    assert all(f.lo >= 0 for f in spec.factors if f.group == "programme")
    assert spec.version and len(spec.grade_scale.cutoffs) == 9


def test_points_stay_in_range_and_explanations_add_up(spec, card):
    X = _firms(spec)
    pts = card.points(X)
    for f in spec.factors:
        assert pts[f.feature].between(f.lo, f.hi).all()
    res = card.score(X)
    np.testing.assert_allclose(
        res.base_points + res.contributions.sum(axis=1).to_numpy(), res.score, atol=1e-9
    )
    # points → PD → score follow the documented mapping.
    total = pts.sum(axis=1).to_numpy()
    odds = spec.anchor_odds * 2 ** ((total - spec.anchor_points) / spec.points_to_double_odds)
    np.testing.assert_allclose(res.pd, 1 / (1 + odds), rtol=1e-9)
    np.testing.assert_allclose(res.score, spec.score_scale.score_from_pd(1 / (1 + odds)), atol=1e-6)
    assert set(res.grade) <= {f"T{i}" for i in range(1, 11)}


def test_documented_transform_values(spec, card):
    firm = _firms(spec, n=1).fillna(0)
    firm["valid_invention_count"] = 30.0  # at the log1p cap: full points
    firm["invention_share"] = 0.5  # halfway on cap [0, 1]
    firm["credit_dishonest_debtor_active"] = 1.0  # flag: full penalty
    firm["invalidation_loss_count"] = 1.0  # bins: t = 0.6, direction -1
    firm["credit_tax_grade"] = np.nan  # missing: its missing_points
    pts = card.points(firm).iloc[0]
    assert pts["valid_invention_count"] == pytest.approx(4)
    assert pts["invention_share"] == pytest.approx(3)
    assert pts["credit_dishonest_debtor_active"] == pytest.approx(-60)
    assert pts["invalidation_loss_count"] == pytest.approx(3 - 0.6 * 3)
    assert pts["credit_tax_grade"] == pytest.approx(0)


@given(seed=st.integers(0, 10_000), which=st.integers(0, 10_000), step=st.floats(0.01, 50))
@settings(max_examples=40, deadline=None)
def test_each_factor_is_monotone_in_its_direction(spec, card, seed, which, step):
    X = _firms(spec, n=20, seed=seed).fillna(0)
    f = spec.factors[which % len(spec.factors)]
    bumped = X.copy()
    bumped[f.feature] = bumped[f.feature] + step
    delta = card.score(bumped).score - card.score(X).score
    assert np.all(f.direction * delta >= -1e-9)


def test_save_and_load_round_trip(card, spec, tmp_path):
    card.save(str(tmp_path / "expert"))
    loaded = load_model(tmp_path / "expert")
    X = _firms(spec)
    assert loaded.model_id == card.model_id
    np.testing.assert_array_equal(loaded.score(X).score, card.score(X).score)


def test_missing_features_are_listed(spec, card):
    X = _firms(spec).drop(columns=["valid_invention_count", "prog_high_tech"])
    with pytest.raises(
        FeatureMismatchError, match="missing 2: valid_invention_count, prog_high_tech"
    ):
        card.score(X)


def _raw():
    from importlib.resources import files

    return yaml.safe_load(files("models").joinpath("expert_scorecard.yaml").read_text("utf-8"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: r["factors"][0].update(points=[0, 5]),
            r"group quantity: weight must be 15 and its factor ranges must sum to it \(declared 15, factors sum to 16\)",
        ),
        (
            lambda r: r["factors"][0].update(transform={"type": "sqrt"}),
            r"factor 1 \(valid_invention_count\): transform type must be one of",
        ),
        (lambda r: r["factors"][0].update(direction=2), r"direction must be 1 or -1, got 2"),
        (
            lambda r: r["factors"][1].update(feature="valid_invention_count"),
            r"the feature is used twice",
        ),
        (lambda r: r.pop("grades"), r"the key 'grades' is missing"),
        (
            lambda r: r["grades"].update(pd_cutoffs=[0.1, 0.05]),
            r"cutoffs' of GradeScale must be 2 strictly increasing",
        ),
        (
            lambda r: r["factors"][0].update(missing_points=9),
            r"missing_points 9.0 is outside points \[0.0, 4.0\]",
        ),
    ],
)
def test_bad_weights_are_rejected_with_the_place(edit, message):
    raw = copy.deepcopy(_raw())
    edit(raw)
    with pytest.raises(ConfigError, match=message):
        parse_expert_spec(raw)


def test_direction_must_agree_with_the_registry(spec):
    clash = [FeatureSpec("annuity_lapse_rate", "年费失效率", "legal", "", "", "", 1)]
    with pytest.raises(ConfigError, match=r"annuity_lapse_rate \(weights -1, registry \+1\)"):
        ExpertScorecard(spec, feature_specs=clash)


def test_unreadable_weights_file(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("factors: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the expert weights file"):
        load_expert_spec(path)
