"""Train the learned model on a point-in-time training set and write its folder.

The folder is what ``models`` writes (booster text, model card, metrics) plus two files of
this layer: ``reference.json`` (score, grade and per-feature bins of the training
population, which monitoring and the promotion gate compare against) and
``training_report.json`` (label accounting, out-of-time window, data and registry hashes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.errors import DataError, ModelError
from screening.retrain.config import RetrainConfig, check_lightgbm_params
from screening.retrain.labels import TrainingSet
from screening.retrain.psi import category_bins, reference_bins

REFERENCE_FILE = "reference.json"
TRAINING_REPORT_FILE = "training_report.json"


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False) + "\n"


def registry_version(specs: Any | None = None) -> str:
    """Short SHA-256 of the feature registry records: which feature definitions a model saw."""
    if specs is None:
        from features.registry import registry

        specs = registry()
    records = [asdict(s) for s in specs]
    text = json.dumps(records, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def make_model(config: RetrainConfig):
    """An unfitted ``models.LearnedModel`` with the configured parameters."""
    from models.learned import LearnedModel

    check_lightgbm_params(config)  # a config built in code, not read from a file
    params = config.lightgbm_params
    params["validation_fraction"] = config.validation.oot_share
    return LearnedModel(**params)


def fit_model(
    ts: TrainingSet, config: RetrainConfig, *, progress: Callable[[str], None] | None = None
):
    """Fit a learned model with out-of-time validation on the newest loans.

    Raises
    ------
    ModelError
        Too few labelled loans, or a validation window without defaults.
    DataError
        Fewer than ``validation.min_oot_bads`` defaults in the out-of-time window.
    """
    n_bad = int(ts.y.sum())
    if len(ts) < 50 or n_bad < 2 * config.validation.min_oot_bads:
        raise ModelError(
            f"only {len(ts)} labelled loans ({n_bad} bad) at {ts.report.as_of.date()}; "
            f"training needs at least 50 loans and {2 * config.validation.min_oot_bads} bad ones",
            "wait for more loans to pass the 12-month horizon, or keep the expert scorecard",
        )
    window = ts.time >= ts.oot_split(config.validation.oot_share)
    _check_window_defaults(ts, config, window, "whole out-of-time window (validation and test)")
    model = make_model(config)
    dropped = excluded_features(ts.X, config)
    return model.fit(ts.X.drop(columns=dropped), ts.y, time=ts.time, progress=progress)


def _check_window_defaults(
    ts: TrainingSet, config: RetrainConfig, window: pd.Series, what: str
) -> None:
    """Refuse a model whose out-of-time test window holds too few defaults to measure it.

    Checked on the whole out-of-time window before fitting (the test window is part of it,
    so fewer there means fewer in the test window), and on the test window the fit chose.
    """
    need = config.validation.min_oot_bads
    n_bad = int(ts.y[np.asarray(window, dtype=bool)].sum())
    if n_bad >= need:
        return
    first = pd.Timestamp(ts.time[np.asarray(window, dtype=bool)].min())
    raise DataError(
        f"the {what} (loans disbursed from {first.date()}) holds "
        f"{int(np.asarray(window, dtype=bool).sum())} labelled loans and only {n_bad} "
        f"defaults at {ts.report.as_of.date()}: at least {need} are needed to measure the "
        "model (validation.min_oot_bads), fewer make its AUC and KS noise",
        "train at a later --as-of (more loans past their 12 months), or set a lower "
        "[validation] min_oot_bads in a copy of retrain.toml passed with --config",
    )


def excluded_features(X: pd.DataFrame, config: RetrainConfig) -> list[str]:
    """Columns of ``X`` a learned model must not see (``[features]`` of retrain.toml)."""
    kinds = {
        kind
        for kind, excluded in (
            ("export snapshot", config.features.exclude_export_snapshots),
            ("registry snapshot", config.features.exclude_registry_snapshots),
        )
        if excluded
    }
    if not kinds:
        return []
    from features.registry import registry

    return [s.name for s in registry() if s.known_at in kinds and s.name in X]


def oot_cut(model) -> pd.Timestamp:
    """First disbursement date of the model's out-of-time validation window."""
    cut = model.card_["training"]["validation"].get("cut")
    if cut is None:
        raise ModelError(
            f"model {model.model_id} was not validated out of time",
            "train it with `screening train` (loan dates give the out-of-time window)",
        )
    return pd.Timestamp(cut)


def tested_from(report: dict[str, Any]) -> pd.Timestamp:
    """First disbursement date of a trained model's test window, from its training report:
    the newer half of its out-of-time window, which neither its trees nor its calibration
    saw (its out-of-time cut for a model trained before the window was split)."""
    return pd.Timestamp(report.get("test_cut") or report["oot_cut"])


def build_reference(model, ts: TrainingSet, n_bins: int) -> dict[str, Any]:
    """Bins of score and features on the rows the booster was fitted on (before the cut)."""
    fit_rows = (ts.time < oot_cut(model)).to_numpy()
    X = ts.X.loc[fit_rows].reset_index(drop=True)
    result = model.score(X[model.feature_names_in_], explain=False)
    grades = pd.Series(result.grade).value_counts(normalize=True).sort_index()
    features = {}
    for name in model.feature_names_in_:
        col = X[name]
        if isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(col):
            features[name] = category_bins(col).to_dict()
        else:
            features[name] = reference_bins(col, n_bins).to_dict()
    return {
        "population": "training rows before the out-of-time cut (loans at disbursement)",
        "n": int(len(X)),
        "score": reference_bins(result.score, n_bins).to_dict(),
        "pd_mean": float(np.mean(result.pd)),
        "grade_shares": {str(k): float(v) for k, v in grades.items()},
        "features": features,
    }


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with its reference population and training report."""

    model: Any
    reference: dict[str, Any]
    report: dict[str, Any]

    @property
    def metrics(self) -> dict[str, float]:
        """Numeric validation metrics of the model card (for MLflow)."""
        return {
            k: float(v)
            for k, v in self.model.card_["metrics"].items()
            if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
        }

    def save(self, out: Path, *, report_html: str | None = None) -> Path:
        """Write the model folder atomically (``models`` writes it; we add two files)."""
        extra: dict[str, str | bytes] = {
            REFERENCE_FILE: _json(self.reference),
            TRAINING_REPORT_FILE: _json(self.report),
        }
        if report_html is not None:
            extra["model_report.html"] = report_html
        return Path(self.model.save(str(out), extra_files=extra))


def train(
    ts: TrainingSet,
    config: RetrainConfig,
    *,
    data_hashes: dict[str, str] | None = None,
    registry_hash: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainedModel:
    """Fit, build the reference population and the training report.

    Parameters
    ----------
    ts : TrainingSet
        From :func:`screening.retrain.labels.build_training_set`.
    config : RetrainConfig
    data_hashes : dict, optional
        ``table -> sha256`` of the input files (recorded, never recomputed here).
    registry_hash : str, optional
        Feature registry version (default: :func:`registry_version`).
    progress : callable, optional
        Receives one-line status messages.
    """
    model = fit_model(ts, config, progress=progress)
    tested_rows = ts.time >= pd.Timestamp(
        model.card_["training"]["validation"].get("test_cut") or oot_cut(model)
    )
    _check_window_defaults(ts, config, tested_rows, "out-of-time test window")
    reference = build_reference(model, ts, config.psi.bins)
    cut = oot_cut(model)
    tested = pd.Timestamp(model.card_["training"]["validation"].get("test_cut") or cut)
    report = {
        "model_id": model.model_id,
        "labels": ts.report.to_dict(),
        "training_rows": int(len(ts)),
        "period": {
            "first_loan": ts.time.min().date().isoformat(),
            "last_loan": ts.time.max().date().isoformat(),
        },
        "oot_cut": cut.date().isoformat(),
        "oot_rows": int((ts.time >= cut).sum()),
        "test_cut": tested.date().isoformat(),
        "test_rows": int((ts.time >= tested).sum()),
        "feature_registry_version": registry_hash or registry_version(),
        "excluded_features": {
            "reason": "undated snapshots of the patent export or the registry: not known at "
            "the loan's decision date",
            "features": excluded_features(ts.X, config),
        },
        "data_sha256": dict(sorted((data_hashes or {}).items())),
        "lightgbm": config.lightgbm_params,
        "new_borrowers": new_borrower_metrics(model, ts, tested),
    }
    return TrainedModel(model, reference, report)


NEW_BORROWER_MIN_BADS = 5
"""Defaults a new-borrower test subset needs before its AUC is reported (fewer: counts only)."""


def new_borrower_metrics(model: Any, ts: TrainingSet, tested_from: pd.Timestamp) -> dict[str, Any]:
    """The test window's loans to firms with no loan before it: the first-time borrowers the
    programme exists for. A repeat borrower's earlier loans taught the model about that very
    firm; its AUC on new firms alone says how it ranks firms it has never seen.

    Returns ``loans``, ``bad``, and ``auc`` / ``ks`` when both outcomes are present with at
    least :data:`NEW_BORROWER_MIN_BADS` defaults (else ``note`` says why they are absent).
    """
    from sklearn.metrics import roc_auc_score

    time = pd.to_datetime(ts.time).to_numpy()
    uscc = ts.uscc.astype("str").to_numpy()
    tested = time >= np.datetime64(tested_from)
    earlier = set(uscc[~tested])
    new = tested & ~np.isin(uscc, list(earlier))
    y = np.asarray(ts.y)[new].astype(int)
    out: dict[str, Any] = {
        "loans": int(new.sum()),
        "bad": int(y.sum()),
        "repeat_loans": int((tested & ~new).sum()),
    }
    if out["bad"] < NEW_BORROWER_MIN_BADS or out["bad"] == out["loans"]:
        out["note"] = (
            f"fewer than {NEW_BORROWER_MIN_BADS} defaults among new borrowers: no AUC"
            if out["bad"] < NEW_BORROWER_MIN_BADS
            else "every new borrower defaulted: no AUC"
        )
        return out
    X = ts.X.loc[new, list(model.feature_names_in_)]
    pd_new = np.asarray(model.score(X, explain=False).pd, dtype=float)
    out["auc"] = float(roc_auc_score(y, pd_new))
    order = np.argsort(-pd_new, kind="stable")
    cum_bad = np.cumsum(y[order]) / max(y.sum(), 1)
    cum_good = np.cumsum(1 - y[order]) / max((1 - y).sum(), 1)
    out["ks"] = float(np.max(np.abs(cum_bad - cum_good)))
    return out


def load_folder(folder: Path) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Model, reference and training report of a model folder written by :func:`train`."""
    from models import load_model

    folder = Path(folder)
    model = load_model(folder)
    ref_path = folder / REFERENCE_FILE
    rep_path = folder / TRAINING_REPORT_FILE
    if not ref_path.is_file() or not rep_path.is_file():
        raise ModelError(
            f"{folder} holds no {REFERENCE_FILE}/{TRAINING_REPORT_FILE}: it was not trained "
            "by `screening train`",
            "train the model with `screening train` so that it can be monitored and gated",
        )
    return (
        model,
        json.loads(ref_path.read_text(encoding="utf-8")),
        json.loads(rep_path.read_text(encoding="utf-8")),
    )
