from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_contracts.errors import ModelError
from screening.commands.retrain_cmds import tracking_target
from screening.retrain.registry import fetch_model_folder, load_registered_model, parse_model_ref
from screening.retrain.tracking import resolve_tracking


def test_parse_model_ref():
    assert parse_model_ref("models:/ipw@champion").alias == "champion"
    ref = parse_model_ref(" models:/ipw/12 ")
    assert (ref.name, ref.version, str(ref)) == ("ipw", "12", "models:/ipw/12")


@pytest.mark.parametrize(
    "bad", ["ipw@champion", "models:/ipw", "models:/ipw/x1", "models:/@champion", ""]
)
def test_malformed_reference(bad):
    with pytest.raises(ModelError, match="is not models:/NAME@alias or models:/NAME/VERSION"):
        parse_model_ref(bad)


def test_unknown_model_in_an_empty_store(tmp_path):
    from screening.retrain.tracking import check_store

    target = resolve_tracking(tmp_path / "mlruns")
    check_store(target, "ip-whitelist")  # the store exists, the model does not
    uri = target.uri
    with pytest.raises(
        ModelError, match=r"models:/nope@champion cannot be resolved in the MLflow registry"
    ):
        load_registered_model("models:/nope@champion", tracking_uri=uri)


def test_folder_reference_must_exist(tmp_path):
    with pytest.raises(ModelError, match="neither a model folder nor a models:/ reference"):
        fetch_model_folder(str(tmp_path / "none"), tmp_path)
    assert fetch_model_folder(str(tmp_path), tmp_path) == tmp_path


def test_embedded_store_layout(tmp_path):
    t = resolve_tracking(tmp_path / "store")
    assert t.uri == f"sqlite:///{(tmp_path / 'store' / 'mlflow.db').resolve()}"
    assert t.artifact_root == (tmp_path / "store" / "mlartifacts").resolve().as_uri()
    assert resolve_tracking(Path("x"), "http://127.0.0.1:5000").artifact_root is None


def test_cli_edge_reads_mlflow_tracking_uri_unless_a_dir_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking_target(None).uri == "http://127.0.0.1:5999"
    assert tracking_target(tmp_path).embedded
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    assert tracking_target(None).uri == f"sqlite:///{tmp_path.resolve() / 'mlruns' / 'mlflow.db'}"


def test_a_plain_folder_as_tracking_uri_is_the_embedded_store(tmp_path):
    """MLFLOW_TRACKING_URI=/some/folder (no scheme) means the embedded store kept there, as
    --tracking-dir does; a URI with a scheme is used as given."""
    folder = resolve_tracking(None, str(tmp_path / "mlt"))
    assert folder == resolve_tracking(tmp_path / "mlt")
    assert folder.uri == f"sqlite:///{(tmp_path / 'mlt' / 'mlflow.db').resolve()}"
    assert resolve_tracking(None, "http://127.0.0.1:5000").uri == "http://127.0.0.1:5000"


def test_corrupt_model_folder_is_a_model_error(model_dir, tmp_path):
    """Random bytes in the booster or a model card that is not a JSON object: ModelError
    (two lines on the command line), not a UnicodeDecodeError or AttributeError."""
    import shutil

    from data_contracts.errors import ModelError
    from models.persist import load_model

    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    (bad / "booster.txt").write_bytes(b"\xff\xfe\x00garbage" * 50)
    with pytest.raises(ModelError, match="cannot read .*booster"):
        load_model(bad)
    card = tmp_path / "card"
    shutil.copytree(model_dir, card)
    (card / "model_card.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelError, match="not a model card"):
        load_model(card)


def test_a_file_uri_is_the_embedded_store_in_that_folder(tmp_path):
    """MLFLOW_TRACKING_URI=file:///srv/mlruns: MLflow's own file store is in maintenance mode
    (a traceback before); it means the same folder as the plain path."""
    a = resolve_tracking(None, (tmp_path / "ml").as_uri())
    b = resolve_tracking(None, str(tmp_path / "ml"))
    assert a == b and a.uri == f"sqlite:///{tmp_path / 'ml' / 'mlflow.db'}"


def test_an_unreachable_tracking_server_is_two_lines_before_any_training(
    monkeypatch, capsys, data_folder, tmp_path
):
    from data_contracts.errors import ConfigError
    from screening.cli import main
    from screening.retrain.tracking import check_store

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    target = resolve_tracking(None, "http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(ConfigError, match="tracking store at http://127.0.0.1:9 failed"):
        check_store(target, "ip-whitelist")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", str(data_folder), "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert "tracking store at http://127.0.0.1:9 failed" in " ".join(err.split())
    assert not (tmp_path / "m").exists()  # checked before the model was trained


def test_a_models_reference_without_a_store_creates_none(tmp_path, monkeypatch):
    """`screening run --model models:/x@champion` in a folder without ./mlruns used to
    create an empty ./mlruns/mlflow.db before failing."""
    from data_contracts.errors import ModelError
    from screening.retrain.registry import load_registered_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ModelError, match="no model registry at .*mlruns"):
        load_registered_model("models:/ipw@champion")
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize("how", ["run", "monitor", "promote"])
def test_looking_up_a_model_in_a_folder_without_a_store_creates_nothing(how, tmp_path, monkeypatch):
    """`screening run --tracking-dir DIR` (the URI of DIR), `screening monitor` (the same
    through fetch_model_folder) and `promote` each created DIR/mlflow.db, then said the
    model was unknown; a mistyped folder must be named instead."""
    from screening.retrain.pipeline import run_promotion

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    target = resolve_tracking(tmp_path / "typo" / "nostore")
    with pytest.raises(ModelError, match="no model registry at .*nostore") as info:
        if how == "run":
            load_registered_model("models:/ipw@champion", tracking_uri=target.uri)
        elif how == "monitor":
            fetch_model_folder("models:/ipw@champion", tmp_path, tracking_uri=target.uri)
        else:
            run_promotion(object(), name="ipw", version="1", config=None, target=target)
    assert "--tracking-dir" in info.value.remedy
    assert not (tmp_path / "typo").exists()


def test_a_sqlite_registry_under_another_file_name_is_found(tmp_path):
    """MLFLOW_TRACKING_URI may name any SQLite file: the look-up checks that file, not a
    mlflow.db beside it (registry.db was refused as 'no model registry')."""
    import sqlite3

    from screening.retrain.registry import _target, lookup_client

    db = tmp_path / "registry.db"
    sqlite3.connect(db).close()  # the file exists: the look-up must not refuse it
    client = lookup_client(_target(f"sqlite:///{db}"))
    assert client is not None
    with pytest.raises(ModelError, match=r"no model registry at .* \(no other\.db there\)"):
        lookup_client(_target(f"sqlite:///{tmp_path / 'other.db'}"))
    assert not (tmp_path / "other.db").exists()


def _register_champion(model_dir, folder, name: str = "ipw"):
    """Register ``model_dir`` in the embedded store at ``folder`` as ``name``@champion."""
    from mlflow.tracking import MlflowClient

    from screening.retrain.experiment import log_training

    target = resolve_tracking(folder)
    run = log_training(target, model_dir, params={}, metrics={}, tags={}, register=name)
    MlflowClient(target.uri, target.uri).set_registered_model_alias(name, "champion", run.version)
    return target


def test_a_moved_tracking_folder_keeps_its_models_references(
    model_dir, tmp_path, monkeypatch, capfd
):
    """The database records absolute file:// artifact paths: after `mv track moved`,
    models:/ipw@champion was "holds no model folder" (MLflow looked in track/), and new runs
    logged to moved/ recreated track/. Both now use moved/mlartifacts; no MLflow console
    lines (download bar, "No artifacts found") on the way."""
    import shutil

    from mlflow.tracking import MlflowClient

    from screening.retrain.experiment import log_training

    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    _register_champion(model_dir, tmp_path / "track")
    shutil.move(tmp_path / "track", tmp_path / "moved")
    capfd.readouterr()
    moved = resolve_tracking(tmp_path / "moved")

    scorer = load_registered_model("models:/ipw@champion", tracking_uri=moved.uri)
    assert scorer.model_id == json.loads((model_dir / "model_card.json").read_text())["model_id"]
    err = capfd.readouterr().err
    assert "Downloading artifacts" not in err and "No artifacts found" not in err

    # a new version logged into the moved folder stays inside it
    run = log_training(moved, model_dir, params={}, metrics={}, tags={}, register="ipw")
    assert run.version == "2"
    uri = MlflowClient(moved.uri, moved.uri).get_model_version_download_uri("ipw", "2")
    assert uri.startswith((tmp_path / "moved" / "mlartifacts").as_uri())
    assert not (tmp_path / "track").exists()
    assert load_registered_model("models:/ipw/2", tracking_uri=moved.uri).model_id == (
        scorer.model_id
    )

    # artifacts gone altogether: the recorded place is named, not "holds no model folder"
    shutil.rmtree(tmp_path / "moved" / "mlartifacts")
    with pytest.raises(ModelError, match=r"models:/ipw/1 records its artifacts at .*track/mlart"):
        load_registered_model("models:/ipw/1", tracking_uri=moved.uri)


def test_a_copied_tracking_folder_reads_its_own_artifacts(model_dir, tmp_path):
    """A copy must not depend on the original: its artifacts are read from the copy."""
    import shutil

    _register_champion(model_dir, tmp_path / "track")
    shutil.copytree(tmp_path / "track", tmp_path / "copy")
    # break the original: a copy still reading it would fail
    for booster in (tmp_path / "track" / "mlartifacts").rglob("booster.txt"):
        booster.write_bytes(b"\xff\xfe\x00garbage")
    copy = resolve_tracking(tmp_path / "copy")
    assert load_registered_model("models:/ipw@champion", tracking_uri=copy.uri).model_id


def test_a_corrupt_registered_model_is_named_by_its_reference(model_dir, tmp_path):
    """The error named /tmp/ipw-model-…/artifacts/m, a folder gone by the time it is read."""
    target = _register_champion(model_dir, tmp_path / "track")
    # the run's copy of the folder and the registered model's
    for booster in (tmp_path / "track" / "mlartifacts").rglob("booster.txt"):
        booster.write_bytes(b"\xff\xfe\x00garbage" * 50)
    with pytest.raises(ModelError) as info:
        load_registered_model("models:/ipw@champion", tracking_uri=target.uri)
    cause = info.value.cause
    assert cause.startswith("models:/ipw@champion (version 1) cannot be loaded: cannot read")
    assert "ipw-model-" not in cause and "booster" in cause
    assert "screening train --register ipw" in info.value.remedy
