"""promote with models that cannot read today's features, and the stores it may touch."""

from __future__ import annotations

import json
import shutil

import pytest

from data_contracts.errors import ConfigError, ModelError
from screening.retrain.experiment import log_training
from screening.retrain.pipeline import run_promotion
from screening.retrain.tracking import check_store, resolve_tracking
from screening.retrain.train import TRAINING_REPORT_FILE, registry_version


def _register(target, model_dir, dst, registry: str) -> str:
    """Register a copy of ``model_dir`` recorded as trained on feature registry ``registry``."""
    shutil.copytree(model_dir, dst)
    path = dst / TRAINING_REPORT_FILE
    report = json.loads(path.read_text(encoding="utf-8"))
    report["feature_registry_version"] = registry
    path.write_text(json.dumps(report), encoding="utf-8")
    run = log_training(target, dst, params={}, metrics={}, tags={}, register="ipw")
    return run.version


@pytest.fixture(scope="module")
def store(model_dir, tmp_path_factory):
    """v1 trained on other feature definitions holds @champion; v2 matches today's.

    Shared by the module (registering is slow): only the first test below moves the alias,
    and the others fail on the challenger before the champion is looked at.
    """
    import contextlib
    import io

    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("promotion")
    target = resolve_tracking(root / "ml")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert _register(target, model_dir, root / "v1", "0ld-registry") == "1"
        assert _register(target, model_dir, root / "v2", registry_version()) == "2"
    # MLflow's own "Successfully registered model" lines do not reach the console
    assert "Successfully registered" not in err.getvalue()
    assert "Created version" not in err.getvalue()
    MlflowClient(target.uri, target.uri).set_registered_model_alias("ipw", "champion", "1")
    return target


def test_a_champion_on_other_features_does_not_block_a_valid_challenger(store, bundle, config):
    """The champion cannot be evaluated on today's features (nor score today's firms): the
    challenger is judged as a first champion is, on the absolute floors, and told why."""
    out = run_promotion(bundle, name="ipw", version="2", config=config, target=store)
    assert out.promoted and out.champion_before == "1" and out.champion is None
    assert out.decision.reasons == [
        "the champion, version 1, cannot be evaluated on today's features: version 2 "
        "replaces it, clearing the absolute floors"
    ]
    (warning,) = [w for w in out.decision.warnings if "champion, ipw version 1" in w]
    assert "trained on feature registry version 0ld-registry" in warning
    table = out.decision.table.set_index("metric")
    assert table.loc["auc", "limit"] == config.gate.min_auc


def test_a_challenger_on_other_features_is_a_clear_error(store, bundle, config):
    with pytest.raises(
        ModelError,
        match="ipw version 1 cannot be evaluated on today's features: it was trained on "
        "feature registry version 0ld-registry",
    ) as info:
        run_promotion(bundle, name="ipw", version="1", config=config, target=store)
    assert "screening train --register ipw" in info.value.remedy


def test_a_challenger_whose_feature_the_builder_lacks_is_named_not_a_key_error(
    store, bundle, config, model_dir
):
    """A feature renamed in the feature layer raised KeyError in gate.evaluate_model."""
    from features import build_feature_matrix
    from screening.retrain.labels import without_undated_status
    from screening.retrain.train import load_folder

    used = load_folder(model_dir)[0].feature_names_in_[0]

    def renamed(pairs, b):
        m = build_feature_matrix(pairs, without_undated_status(b))
        return m.rename(columns={used: f"{used}_v2"})

    with pytest.raises(ModelError, match=f"does not produce its feature\\(s\\) {used}"):
        run_promotion(
            bundle, name="ipw", version="2", config=config, target=store, feature_builder=renamed
        )


def test_an_artifact_store_that_cannot_be_written_stops_train_before_labelling(tmp_path):
    """The database accepted the experiment, so training ran for minutes and then failed
    logging the model folder: both halves of the store are checked first."""
    target = resolve_tracking(tmp_path / "ml")
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "mlartifacts").write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match="artifact store at .*mlartifacts.* cannot be written"):
        check_store(target, "ip-whitelist")
    check_store(resolve_tracking(tmp_path / "fine"), "ip-whitelist")
    assert not list((tmp_path / "fine" / "mlartifacts").rglob(".ipw-probe-*"))
