"""MLflow side of training and promotion: runs, logged artifacts, registered versions.

One training run logs the parameters, validation metrics, model card, model report,
feature-registry version and input-file hashes, then registers the model folder as a new
version of a registered model (an MLflow pyfunc "model from code": nothing pickled).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from screening.retrain.registry import PYFUNC_CODE
from screening.retrain.tracking import (
    TrackingTarget,
    ensure_experiment,
    make_client,
    quiet_mlflow,
)

DEFAULT_EXPERIMENT = "ip-whitelist"


@dataclass(frozen=True)
class LoggedRun:
    """Where a training run went: run id and, when registered, the model version."""

    run_id: str
    experiment_id: str
    model_name: str | None = None
    version: str | None = None

    @property
    def ref(self) -> str | None:
        return f"models:/{self.model_name}/{self.version}" if self.version else None


def _use(target: TrackingTarget) -> None:
    import mlflow

    mlflow.set_tracking_uri(target.uri)
    mlflow.set_registry_uri(target.uri)


def _flat_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat_params(v, f"{key}."))
        else:
            out[key] = str(v)[:6000]
    return out


# MLflow's INFO lines and its artifact download bar (log_model reads the folder back) would
# otherwise reach the console of every caller, not only the command line's
@quiet_mlflow()
def log_training(
    target: TrackingTarget,
    model_dir: Path,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    experiment: str = DEFAULT_EXPERIMENT,
    register: str | None = None,
    input_example: pd.DataFrame | None = None,
) -> LoggedRun:
    """Log a trained model folder to MLflow and optionally register it.

    Parameters
    ----------
    target : TrackingTarget
        Tracking store (embedded SQLite or a server).
    model_dir : Path
        Folder written by :meth:`screening.retrain.train.TrainedModel.save`.
    params, metrics, tags : mapping
        Logged as run parameters (nested keys flattened with dots), metrics and tags.
    experiment : str
        Experiment name (created when missing).
    register : str, optional
        Registered-model name; a new version is created from this run's model.
    input_example : DataFrame, optional
        A few feature rows: MLflow infers the model signature from them.
    """
    import mlflow

    client = make_client(target)
    exp_id = ensure_experiment(client, target, experiment)
    _use(target)
    model_dir = Path(model_dir)
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_params(_flat_params(params))
        mlflow.log_metrics(dict(metrics))
        mlflow.set_tags(dict(tags))
        mlflow.log_artifacts(str(model_dir), artifact_path="model_folder")
        # The feature table has a categorical column MLflow's schema cannot express, so
        # the model is deliberately unsigned; silence MLflow's "cannot infer" warning.
        pyfunc_log = logging.getLogger("mlflow.pyfunc")
        level = pyfunc_log.level
        pyfunc_log.setLevel(logging.ERROR)
        try:
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_CODE),
                artifacts={"model_dir": str(model_dir)},
                input_example=input_example,
            )
        finally:
            pyfunc_log.setLevel(level)
    version = None
    if register:
        from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

        # MLflow prints "Successfully registered model …" / "Created version …" straight to
        # its own stream; the caller reports the version itself
        enabled = MLFLOW_LOGGING_STREAM.enabled
        MLFLOW_LOGGING_STREAM.enabled = False
        try:
            mv = mlflow.register_model(info.model_uri, register, tags=dict(tags))
        finally:
            MLFLOW_LOGGING_STREAM.enabled = enabled
        version = str(mv.version)
    return LoggedRun(run.info.run_id, exp_id, register, version)


def log_decision(
    target: TrackingTarget,
    *,
    experiment: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    table: pd.DataFrame,
    decision: Mapping[str, Any],
) -> str:
    """Log a promotion decision (comparison table as CSV + JSON) as its own run."""
    import mlflow

    client = make_client(target)
    exp_id = ensure_experiment(client, target, experiment)
    _use(target)
    with quiet_mlflow(), mlflow.start_run(experiment_id=exp_id, run_name="promote") as run:
        mlflow.log_params(_flat_params(params))
        mlflow.log_metrics(dict(metrics))
        mlflow.set_tags(dict(tags))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "comparison.csv").write_text(
                table.to_csv(index=False), encoding="utf-8-sig"
            )
            (Path(tmp) / "decision.json").write_text(
                json.dumps(decision, ensure_ascii=False, indent=2, sort_keys=True, default=str),
                encoding="utf-8",
            )
            mlflow.log_artifacts(tmp, artifact_path="promotion")
    return run.info.run_id
