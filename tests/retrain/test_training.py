"""Training on the real feature pipeline: learns the signal, cannot learn shuffled outcomes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from data_contracts.errors import ConfigError, ModelError
from screening.retrain.config import parse_retrain_config
from screening.retrain.gate import evaluate_model
from screening.retrain.labels import build_training_set
from screening.retrain.train import REFERENCE_FILE, TRAINING_REPORT_FILE, load_folder, train
from tests.retrain._folder import write_data_folder


def test_model_learns_and_records_its_provenance(trained, model_dir):
    tm, ts = trained
    assert tm.model.card_["metrics"]["auc"] > 0.7
    rep = tm.report
    assert rep["labels"]["counts"]["unknown_firm"] == 1
    assert rep["oot_rows"] == int((ts.time >= np.datetime64(rep["oot_cut"])).sum())
    assert rep["data_sha256"] == {"loans": "x"}
    assert set(tm.reference["features"]) <= set(tm.model.feature_names_in_)
    assert abs(sum(tm.reference["score"]["shares"]) - 1) < 1e-9
    for name in (REFERENCE_FILE, TRAINING_REPORT_FILE, "model_card.json", "booster.txt"):
        assert (model_dir / name).is_file(), name


def test_folder_round_trip_scores_identically(trained, model_dir):
    tm, ts = trained
    model, reference, report = load_folder(model_dir)
    assert model.model_id == tm.model.model_id
    X = ts.X[model.feature_names_in_]
    np.testing.assert_allclose(
        model.score(X, explain=False).pd, tm.model.score(X, explain=False).pd
    )
    assert reference == json.loads(json.dumps(tm.reference))
    assert report["model_id"] == tm.model.model_id


def test_retraining_is_byte_identical(trained, bundle, config, tmp_path):
    tm, _ = trained
    ts = build_training_set(bundle, as_of="2025-06-30", config=config.labels)
    again = train(ts, config, data_hashes={"loans": "x"}, registry_hash="r")
    a = tm.save(tmp_path / "a")
    b = again.save(tmp_path / "b")
    for f in sorted(p.name for p in a.iterdir()):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def _shuffle_outcomes(bundle, seed):
    """Move every loan (with its outcome) to a random borrower of the ledger."""
    rng = np.random.default_rng(seed)
    loans = bundle.tables["loans"]
    ids = loans["loan_id"].unique()
    firms = loans.drop_duplicates("loan_id")["uscc"].to_numpy()
    move = dict(zip(ids, rng.permutation(firms), strict=True))
    tables = {**bundle.tables, "loans": loans.assign(uscc=loans["loan_id"].map(move).astype("str"))}
    return type("Bundle", (), {"tables": tables, "files": {}})()


def test_shuffled_outcomes_give_no_signal(config, tmp_path):
    """Outcomes moved to random loans: a validation AUC above chance would mean labels
    leak into features (e.g. facts dated after disbursement). 1,000 firms keep the
    out-of-time AUC's sampling noise well below the 0.6 bar."""
    from data_contracts import read_data_dir

    bundle = read_data_dir(write_data_folder(tmp_path / "big", n_firms=1000, seed=5))
    real = train(build_training_set(bundle, as_of="2025-06-30"), config, registry_hash="r")
    assert real.model.card_["metrics"]["auc"] > 0.7  # the same pipeline does find signal
    ts = build_training_set(_shuffle_outcomes(bundle, 42), as_of="2025-06-30")
    tm = train(ts, config, registry_hash="r")
    assert tm.model.card_["metrics"]["auc"] <= 0.6


def test_too_few_labelled_loans_is_a_clear_error(bundle, config):
    ts = build_training_set(bundle, as_of="2022-01-01", config=config.labels)
    with pytest.raises(ModelError, match=r"only \d+ labelled loans .* training needs at least 50"):
        train(ts, config, registry_hash="r")


def test_evaluate_model_on_its_own_test_window_matches_the_card(trained):
    """The card's metrics, and the gate's comparison, are on the test window: the newer half
    of the out-of-time window, after the loans that tuned the calibration."""
    tm, ts = trained
    assert tm.report["test_cut"] > tm.report["oot_cut"]
    cut = np.datetime64(tm.report["test_cut"])
    sample = ts.subset((ts.time >= cut).to_numpy())
    assert len(sample) == tm.report["test_rows"] < tm.report["oot_rows"]
    ev = evaluate_model(tm.model, tm.reference, sample)
    assert abs(ev.metrics["auc"] - tm.model.card_["metrics"]["auc"]) < 1e-9
    assert ev.metrics["n"] == len(sample)


def test_unknown_lightgbm_parameter_is_refused(trained):
    """Refused when the file is read, and by train for a config built in code."""
    import dataclasses

    _, ts = trained
    with pytest.raises(ConfigError, match=r"unknown lightgbm parameter\(s\) num_leafs"):
        parse_retrain_config({"lightgbm": {"num_leafs": 8}})
    cfg = dataclasses.replace(parse_retrain_config({}), lightgbm=(("num_leafs", 8),))
    with pytest.raises(ConfigError, match=r"unknown lightgbm parameter\(s\) num_leafs"):
        train(ts, cfg, registry_hash="r")


def test_training_set_is_the_same_from_the_categorical_tables_train_reads(
    data_folder, bundle, config
):
    """`screening train` reads the features layer's repeated text as categoricals, as the
    screening run does: the training set equals the one built from plain text."""
    import pandas as pd

    from screening.commands.retrain_cmds import _read

    cat = _read(data_folder, None)
    assert isinstance(cat.tables["patents"]["owners"].dtype, pd.CategoricalDtype)
    assert isinstance(cat.tables["credit_records"]["record_type"].dtype, pd.CategoricalDtype)
    assert not isinstance(bundle.tables["patents"]["owners"].dtype, pd.CategoricalDtype)
    plain = build_training_set(bundle, as_of="2025-06-30", config=config.labels)
    ts = build_training_set(cat, as_of="2025-06-30", config=config.labels)
    assert len(ts.X) == len(plain.X) > 50
    pd.testing.assert_frame_equal(ts.X, plain.X)
    pd.testing.assert_series_equal(ts.y, plain.y)
    pd.testing.assert_series_equal(ts.loan_ids, plain.loan_ids)


def test_export_snapshot_features_are_left_out_of_training_by_default(trained, config):
    """Citations, families, PCT and awards come from an undated export: for a 2021 loan a
    2026 export would tell what happened after the loan. The model never sees them unless
    retrain.toml says so; the training report names them."""
    import dataclasses

    from features.registry import registry
    from screening.retrain.config import FeatureConfig
    from screening.retrain.train import excluded_features

    tm, ts = trained
    snapshots = {s.name for s in registry() if s.known_at == "export snapshot"}
    assert {"forward_citations_per_year", "avg_family_size", "high_value_invention_count"} <= (
        snapshots
    )
    assert not snapshots & set(tm.model.feature_names_in_)
    registry_snapshots = {s.name for s in registry() if s.known_at == "registry snapshot"}
    assert set(tm.report["excluded_features"]["features"]) == (
        (snapshots | registry_snapshots) & set(ts.X.columns)
    )
    keep = dataclasses.replace(
        config,
        features=FeatureConfig(exclude_export_snapshots=False, exclude_registry_snapshots=False),
    )
    assert excluded_features(ts.X, keep) == []


def test_registry_snapshot_features_are_left_out_of_training_by_default(trained, config):
    """Employees, capital, R&D intensity and size class are today's registry figures: for an
    old loan they tell how the firm fared after it. The industry section stays."""
    import dataclasses

    from features.registry import registry
    from screening.retrain.config import FeatureConfig
    from screening.retrain.train import excluded_features

    tm, ts = trained
    registry_snapshots = {s.name for s in registry() if s.known_at == "registry snapshot"}
    assert registry_snapshots == {
        "firm_log_employees",
        "firm_log_registered_capital",
        "firm_rd_intensity",
        "firm_size_rank",
    }
    assert not registry_snapshots & set(tm.model.feature_names_in_)
    assert "firm_industry_section" in tm.model.feature_names_in_
    only_export = dataclasses.replace(
        config, features=FeatureConfig(exclude_registry_snapshots=False)
    )
    kept = set(ts.X.columns) - set(excluded_features(ts.X, only_export))
    assert registry_snapshots & set(ts.X.columns) <= kept


@pytest.mark.parametrize(
    ("as_of", "checked"),
    [
        ("2023-06-30", "window"),  # 9 defaults in the out-of-time window: before fitting
        ("2024-06-30", "test half"),  # 15 in the window, too few in its newer (test) half
    ],
)
def test_a_model_tested_on_too_few_defaults_is_refused(bundle_and_builder, config, as_of, checked):
    """`train --as-of 2023-03-31` on the sample tested its model on 3 defaults and promote
    made it the first champion: fewer than validation.min_oot_bads is noise, not a test."""
    import re

    import pandas as pd

    from data_contracts.errors import DataError

    bundle, builder = bundle_and_builder
    ts = build_training_set(bundle, as_of=as_of, feature_builder=builder)
    assert int(ts.y.sum()) >= 2 * config.validation.min_oot_bads  # enough to train on
    with pytest.raises(DataError, match=r"only \d+ defaults at .*at least 10 are needed") as e:
        train(ts, config, registry_hash="r")
    assert "--as-of" in e.value.remedy and "min_oot_bads" in e.value.remedy
    since = pd.Timestamp(re.search(r"disbursed from (\S+)\)", str(e.value))[1])
    oot = ts.oot_split(config.validation.oot_share)
    assert since == oot if checked == "window" else since > oot
    # the documented setting lowers the bar
    lower = parse_retrain_config({"validation": {"min_oot_bads": 2}})
    assert train(ts, lower, registry_hash="r").model.card_["metrics"]["n_bad"] < 10


def test_first_time_borrowers_are_measured_on_their_own(trained):
    """The test window's loans split into firms with an earlier loan and firms without; the
    first-time borrowers' AUC is computed on them alone (the programme is for them)."""
    from sklearn.metrics import roc_auc_score

    tm, ts = trained
    nb = tm.report["new_borrowers"]
    tested = (ts.time >= pd.Timestamp(tm.report["test_cut"])).to_numpy()
    assert nb["loans"] + nb["repeat_loans"] == tm.report["test_rows"] == int(tested.sum())
    before = set(ts.uscc[~tested].astype(str))
    new = tested & ~ts.uscc.astype(str).isin(before).to_numpy()
    assert nb["loans"] == int(new.sum()) and nb["bad"] == int(np.asarray(ts.y)[new].sum())
    if "auc" in nb:
        X = ts.X.loc[new, list(tm.model.feature_names_in_)]
        expect = roc_auc_score(np.asarray(ts.y)[new], tm.model.score(X, explain=False).pd)
        assert nb["auc"] == pytest.approx(expect) and 0 <= nb["ks"] <= 1
    else:
        assert "no AUC" in nb["note"]
