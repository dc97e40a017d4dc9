"""Reaching the tracking store: a probe that gives up in seconds, and a remedy that names
what the user chose the store with (--tracking-dir, ./mlruns or MLFLOW_TRACKING_URI)."""

from __future__ import annotations

import os

import pytest

from data_contracts.errors import ConfigError
from screening.retrain.tracking import (
    PROBE_ENV,
    check_store,
    ensure_experiment,
    make_client,
    resolve_tracking,
)

_HTTP_VARS = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")


@pytest.fixture
def refused_http(monkeypatch):
    """Every MLflow HTTP request is refused at once; what it was sent with is recorded."""
    import mlflow.utils.rest_utils as rest
    import requests

    seen: list[dict] = []

    def refuse(method, url, max_retries, backoff_factor, *args, timeout=None, **kwargs):
        seen.append({"max_retries": max_retries, "timeout": timeout})
        raise requests.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(rest, "_get_http_response_with_retries", refuse)
    for name in (*_HTTP_VARS, "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"):
        monkeypatch.delenv(name, raising=False)
    return seen


def test_the_probe_of_a_server_caps_mlflow_retries_only_while_probing(refused_http):
    """MLflow's default is 7 retries with backoff and a 120 s timeout: about four minutes
    before `screening train` said the server was unreachable."""
    target = resolve_tracking(None, "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="tracking store at http://127.0.0.1:9 failed") as info:
        check_store(target, "ip-whitelist")
    assert refused_http[0] == {
        "max_retries": int(PROBE_ENV["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]),
        "timeout": int(PROBE_ENV["MLFLOW_HTTP_REQUEST_TIMEOUT"]),
    }
    assert int(PROBE_ENV["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]) <= 2
    # the user's environment is as it was: logging after the probe keeps MLflow's patience
    assert not [v for v in _HTTP_VARS if v in os.environ]
    assert "Start the tracking server at http://127.0.0.1:9" in info.value.remedy


def test_the_probe_keeps_retry_settings_the_user_made(refused_http, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "4")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "300")
    with pytest.raises(ConfigError):
        check_store(resolve_tracking(None, "http://127.0.0.1:9"), "ip-whitelist")
    assert refused_http[0] == {"max_retries": 4, "timeout": 300}
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "4"


def test_a_database_that_cannot_be_opened_is_reported_without_retries(tmp_path, monkeypatch, capfd):
    """MLflow opens a SQL store with ten attempts over ~100 s, a four-line warning before
    each (`MLFLOW_TRACKING_URI=sqlite:////proc/x.db`); it is opened once instead."""
    import mlflow.store.db.utils as db_utils

    slept: list[float] = []
    monkeypatch.setattr(db_utils.time, "sleep", slept.append)
    (tmp_path / "x.db").mkdir()  # a folder where the database file goes: cannot be opened
    target = resolve_tracking(None, f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ConfigError, match="unable to open database file") as info:
        check_store(target, "ip-whitelist")
    assert slept == []
    assert "retried" not in capfd.readouterr().err  # MLflow's handler writes to stderr
    assert info.value.remedy.startswith("Fix MLFLOW_TRACKING_URI: the database it names")


def test_the_remedy_names_the_tracking_dir_that_was_given(tmp_path):
    """`--tracking-dir /proc/mlruns` was told to start the tracking server."""
    (tmp_path / "file").write_text("x", encoding="utf-8")
    target = resolve_tracking(tmp_path / "file" / "mlruns")
    with pytest.raises(ConfigError) as info:
        check_store(target, "ip-whitelist")
    remedy = info.value.remedy
    assert remedy.startswith("Pass --tracking-dir a folder") and str(tmp_path / "file") in remedy
    assert "server" not in remedy


def test_the_remedy_names_the_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlruns").write_text("a file where the store goes", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        check_store(resolve_tracking(), "ip-whitelist")
    assert info.value.remedy.startswith("Run where ./mlruns can be created and written")


def test_the_remedy_names_the_folder_mlflow_tracking_uri_gave(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    target = resolve_tracking(None, str(tmp_path / "file" / "ml"))
    assert target.embedded and target.given_as == "uri"
    with pytest.raises(ConfigError) as info:
        check_store(target, "ip-whitelist")
    assert info.value.remedy.startswith("Fix MLFLOW_TRACKING_URI: it names the folder")


def test_train_with_an_unusable_tracking_dir_says_so_on_two_lines(
    tmp_path, monkeypatch, capsys, data_folder
):
    from screening.cli import main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # --tracking-dir wins
    (tmp_path / "file").write_text("x", encoding="utf-8")
    bad = tmp_path / "file" / "track"
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", str(data_folder), "--out", str(tmp_path / "m"),
              "--tracking-dir", str(bad)])  # fmt: skip
    err = " ".join(capsys.readouterr().err.split())
    assert exit_.value.code == 2 and "Traceback" not in err
    assert "remedy: Pass --tracking-dir a folder" in err and "MLFLOW_TRACKING_URI" not in err
    assert not (tmp_path / "m").exists()


def test_an_experiment_of_a_moved_store_is_pointed_at_its_new_folder(tmp_path):
    """Runs are created under the experiment's recorded (absolute) location: a store moved
    from track/ wrote new runs to a recreated track/mlartifacts."""
    import shutil

    before = resolve_tracking(tmp_path / "track")
    # the experiment alone, no artifact folder yet (a train that stopped at its labels;
    # a copy by a tool that drops empty folders): still the store's own layout
    ensure_experiment(make_client(before), before, "ip-whitelist")
    shutil.move(tmp_path / "track", tmp_path / "moved")
    moved = resolve_tracking(tmp_path / "moved")
    client = make_client(moved)
    exp_id = ensure_experiment(client, moved, "ip-whitelist")
    assert client.get_experiment(exp_id).artifact_location == (
        f"{moved.artifact_root}/ip-whitelist"
    )


def test_an_experiment_location_the_user_chose_is_left_alone(tmp_path):
    target = resolve_tracking(tmp_path / "track")
    client = make_client(target)
    chosen = (tmp_path / "elsewhere" / "artifacts").as_uri()
    exp_id = client.create_experiment("mine", artifact_location=chosen)
    assert ensure_experiment(client, target, "mine") == exp_id
    assert client.get_experiment(exp_id).artifact_location == chosen


def test_a_chosen_location_shaped_like_the_stores_own_is_left_alone(tmp_path):
    """Diff review: a location the user chose that happens to end in mlartifacts/NAME (a
    NAS share) was rewritten to the local store: only a moved or copied store is."""
    target = resolve_tracking(tmp_path / "store")
    client = make_client(target)
    nas = tmp_path / "nas" / "mlartifacts" / "ip-whitelist"
    nas.mkdir(parents=True)
    exp_id = client.create_experiment("ip-whitelist", artifact_location=nas.as_uri())
    assert ensure_experiment(client, target, "ip-whitelist") == exp_id
    assert client.get_experiment(exp_id).artifact_location == nas.as_uri()
    # the share unmounted (the folder gone) and nothing of it here: still the user's
    nas.rmdir()
    assert ensure_experiment(client, target, "ip-whitelist") == exp_id
    assert client.get_experiment(exp_id).artifact_location == nas.as_uri()
