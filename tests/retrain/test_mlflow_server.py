"""Against a real MLflow tracking server on 127.0.0.1 (SQLite backend, proxied artifacts):
train → register → promote → load by alias → score; a worse challenger is refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from screening.retrain.pipeline import run_promotion, run_training
from screening.retrain.registry import load_registered_model
from screening.retrain.tracking import resolve_tracking
from tests.retrain._data import synthetic_bundle

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: workers die with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("mlflow server did not answer /health within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_train_register_promote_load_score(server, config, tmp_path):
    import mlflow.pyfunc

    target = resolve_tracking(None, server)
    bundle, builder = synthetic_bundle(500, seed=11)
    first = run_training(
        bundle,
        out=tmp_path / "m1",
        config=config,
        target=target,
        register="ipw-it",
        feature_builder=builder,
    )
    assert first.run.version == "1"
    promo = run_promotion(
        bundle, name="ipw-it", version="1", config=config, target=target, feature_builder=builder
    )
    assert promo.promoted and promo.champion_before is None

    # A challenger trained on outcomes shuffled across loans is worse: refused.
    rng = np.random.default_rng(5)
    loans = bundle.tables["loans"]
    ids = loans["loan_id"].unique()
    firms = loans.drop_duplicates("loan_id")["uscc"].to_numpy()
    move = dict(zip(ids, rng.permutation(firms), strict=True))
    shuffled = type(bundle)(
        {**bundle.tables, "loans": loans.assign(uscc=loans["loan_id"].map(move).astype("str"))}
    )
    second = run_training(
        shuffled,
        out=tmp_path / "m2",
        config=config,
        target=target,
        register="ipw-it",
        feature_builder=builder,
    )
    assert second.run.version == "2"
    refused = run_promotion(
        bundle, name="ipw-it", version="2", config=config, target=target, feature_builder=builder
    )
    assert not refused.promoted
    assert refused.champion_before == "1"
    assert any(r.startswith("auc") for r in refused.decision.reasons)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=server, registry_uri=server)
    assert client.get_model_version_by_alias("ipw-it", "champion").version == "1"
    decision_runs = client.search_runs([first.run.experiment_id], "tags.decision = 'refused'")
    assert len(decision_runs) == 1

    scorer = load_registered_model("models:/ipw-it@champion", tracking_uri=server)
    assert scorer.model_id == first.trained.model.model_id
    X = first.training_set.X.head(50)
    result = scorer.score(X[scorer.feature_names_in_])
    np.testing.assert_allclose(
        result.score, result.base_points + result.contributions.sum(axis=1).to_numpy(), atol=1e-6
    )
    # The generic MLflow pyfunc gives the same PD without importing this project.
    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    py = mlflow.pyfunc.load_model("models:/ipw-it@champion")
    np.testing.assert_allclose(py.predict(X)["pd"].to_numpy(), result.pd, rtol=1e-9)
