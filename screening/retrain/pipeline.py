"""The retraining steps wired together (the CLI calls these; each step is a pure function
elsewhere in this package)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.errors import ModelError
from screening.retrain.config import RetrainConfig
from screening.retrain.experiment import DEFAULT_EXPERIMENT, LoggedRun, log_decision, log_training
from screening.retrain.gate import (
    GateDecision,
    ModelEvaluation,
    decide,
    evaluate_model,
    feature_mismatch,
)
from screening.retrain.labels import FeatureBuilder, TrainingSet, build_training_set
from screening.retrain.registry import (
    CHAMPION,
    ModelRef,
    load_version,
    lookup_client,
    resolve_version,
)
from screening.retrain.tracking import TrackingTarget, check_store
from screening.retrain.train import TrainedModel, load_folder, registry_version, tested_from, train

Progress = Callable[[str], None]


def ledger_as_of(bundle: Any) -> pd.Timestamp:
    """The data's date of knowledge for labels: the latest ledger report date."""
    loans = bundle.tables["loans"]
    if loans.empty or loans["report_date"].isna().all():
        raise ModelError(
            "the data folder has no loan ledger (loans table empty or missing)",
            "add loans.csv with the banks' ledger; until outcomes exist use the expert scorecard",
        )
    return pd.Timestamp(loans["report_date"].max())


def label_date(bundle: Any, as_of: Any | None) -> pd.Timestamp:
    """The date loans are labelled at: ``as_of`` if given, else the ledger's last report.

    Raises
    ------
    ModelError
        ``as_of`` after the last report (a loan nobody has observed since would be labelled
        good) or before the first disbursement (nothing to learn from).
    """
    last = ledger_as_of(bundle)
    if as_of is None:
        return last
    day = pd.Timestamp(as_of)
    if day > last:
        raise ModelError(
            f"--as-of {day.date()} is after the loan ledger's last report ({last.date()}): "
            "loans not observed since would be labelled good.",
            f"Pass --as-of {last.date()} or earlier, or leave it out (the last report date).",
        )
    first = pd.Timestamp(bundle.tables["loans"]["disbursed_on"].min())
    if pd.isna(first) or day < first:
        raise ModelError(
            f"--as-of {day.date()} is before the first loan in the ledger "
            f"({'none' if pd.isna(first) else first.date()}): there is nothing to learn from.",
            "Pass an --as-of within the ledger's period, or leave it out.",
        )
    return day


def data_hashes(bundle: Any) -> dict[str, str]:
    """``table -> sha256`` of the files the bundle was read from."""
    return {
        t: getattr(f, "sha256", str(f)) for t, f in sorted(getattr(bundle, "files", {}).items())
    }


@dataclass(frozen=True)
class TrainingOutcome:
    trained: TrainedModel
    training_set: TrainingSet
    model_dir: Path
    run: LoggedRun


def run_training(
    bundle: Any,
    *,
    out: Path,
    config: RetrainConfig,
    target: TrackingTarget,
    as_of: pd.Timestamp | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    register: str | None = None,
    feature_builder: FeatureBuilder | None = None,
    progress: Progress | None = None,
) -> TrainingOutcome:
    """Labels → point-in-time features → fit → model folder → MLflow run (+ version)."""
    from models import render_model_report

    say = progress or (lambda _m: None)
    as_of = label_date(bundle, as_of)
    say(f"checking the MLflow store at {target.uri}")
    check_store(target, experiment)
    say(f"labelling loans known at {as_of.date()} and building point-in-time features")
    ts = build_training_set(
        bundle, as_of=as_of, config=config.labels, feature_builder=feature_builder
    )
    for line in ts.report.lines():
        say(line)
    hashes = data_hashes(bundle)
    reg = registry_version()
    trained = train(ts, config, data_hashes=hashes, registry_hash=reg, progress=say)
    nb = trained.report["new_borrowers"]
    say(
        f"first-time borrowers in the test window 首贷企业: {nb['loans']} loans, {nb['bad']} bad"
        + (
            f", AUC {nb['auc']:.3f}, KS {nb['ks']:.3f} (firms the model never saw a loan of)"
            if "auc" in nb
            else f" ({nb['note']})"
        )
        + f"; {nb['repeat_loans']} loans to repeat borrowers"
    )
    say("writing the model folder and report")
    html = render_model_report(trained.model.evaluation_, trained.model.card_)
    model_dir = trained.save(Path(out), report_html=html)
    say(f"logging to MLflow at {target.uri}")
    c = trained.report["labels"]["counts"]
    metrics = {f"valid_{k}": v for k, v in trained.metrics.items()}
    metrics.update({f"loans_{k}": float(v) for k, v in c.items()})
    metrics.update(
        {f"new_borrowers_{k}": float(v) for k, v in nb.items() if isinstance(v, int | float)}
    )
    params = {
        "lightgbm": config.lightgbm_params,
        "labels": {"as_of": as_of.date().isoformat(), **vars(config.labels)},
        "oot_cut": trained.report["oot_cut"],
        "test_cut": trained.report["test_cut"],
        "validation": vars(config.validation),
        "training_rows": len(ts),
        "feature_registry_version": reg,
        "data_sha256": hashes,
    }
    tags = {
        "model_id": trained.model.model_id,
        "feature_registry_version": reg,
        "oot_cut": trained.report["oot_cut"],
        "labels_as_of": as_of.date().isoformat(),
    }
    run = log_training(
        target,
        model_dir,
        params=params,
        metrics=metrics,
        tags=tags,
        experiment=experiment,
        register=register,
    )
    return TrainingOutcome(trained, ts, model_dir, run)


@dataclass(frozen=True)
class PromotionOutcome:
    """Result of ``promote``: the decision, both evaluations and what the alias now is."""

    name: str
    version: str
    champion_before: str | None
    decision: GateDecision
    challenger: ModelEvaluation | None
    champion: ModelEvaluation | None
    run_id: str | None
    sample: dict[str, Any] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.decision.promote


def _current_champion(client, name: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def run_promotion(
    bundle: Any,
    *,
    name: str,
    version: str,
    config: RetrainConfig,
    target: TrackingTarget,
    as_of: pd.Timestamp | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    feature_builder: FeatureBuilder | None = None,
    progress: Progress | None = None,
) -> PromotionOutcome:
    """Gate ``name`` version ``version`` against ``@champion`` and move the alias if it passes.

    Both models are scored on the same out-of-time loans: the labelled loans of ``bundle``
    disbursed on or after the challenger's test cut (the newer half of its out-of-time
    window: loans it was neither trained nor calibrated on).

    A challenger that cannot be evaluated on today's features (some missing from the
    feature builder, or another ``feature_registry_version``) is a ``ModelError``; a
    champion in that state is not compared, and the challenger is judged on the absolute
    floors as a first champion is (a warning says why). Looking the models up never creates
    a store: no registry at ``target`` is a ``ModelError``.
    """
    say = progress or (lambda _m: None)
    # A lookup: a mistyped --tracking-dir is an error, not a new empty store.
    client = lookup_client(target)
    # Fails early with a clear message when the version does not exist.
    resolve_version(client, ModelRef(name, version=str(version)))
    champion_mv = _current_champion(client, name)
    before = str(champion_mv.version) if champion_mv is not None else None
    as_of = label_date(bundle, as_of)
    warnings: list[str] = []
    unusable: str | None = None
    with tempfile.TemporaryDirectory(prefix="ipw-promote-") as tmp:
        say(f"downloading {name} version {version}")
        ch_model, ch_ref, ch_rep = load_version(
            client, ModelRef(name, version=str(version)), Path(tmp) / "c", load_folder
        )
        cp = None
        if champion_mv is not None and before != str(version):
            say(f"downloading the champion, {name} version {before}")
            cp = load_version(client, ModelRef(name, version=before), Path(tmp) / "p", load_folder)
        say(f"labelling loans known at {as_of.date()} and building point-in-time features")
        ts = build_training_set(
            bundle, as_of=as_of, config=config.labels, feature_builder=feature_builder
        )
        # both models must read today's features as they were trained on them: a model
        # missing some, or trained on other feature definitions, cannot be compared
        installed = registry_version()
        problem = feature_mismatch(ch_model, ch_rep, ts.X.columns, installed)
        if problem:
            raise ModelError(
                f"{name} version {version} cannot be evaluated on today's features: {problem}",
                f"train a new version on this feature registry (`screening train --register "
                f"{name}`) and promote that one",
            )
        if cp is not None:
            cp_problem = feature_mismatch(cp[0], cp[2], ts.X.columns, installed)
            if cp_problem:
                # the champion cannot score today's firms either: it must not block a valid
                # challenger, which is judged as a first champion is (absolute floors)
                unusable = (
                    f"the champion, {name} version {before}, cannot be evaluated on today's "
                    f"features ({cp_problem}): version {version} is judged on the absolute "
                    "floors ([gate] min_auc, max_calibration_gap), as a first champion is"
                )
                warnings.append(unusable)
                cp = None
        # the challenger's test window: loans none of it (trees, early stopping, calibration,
        # grade cut-offs) was fitted to; a model trained before the split has only oot_cut
        cut = tested_from(ch_rep)
        sample = ts.subset((ts.time >= cut).to_numpy())
        info = {
            "as_of": as_of.date().isoformat(),
            "oot_cut": cut.date().isoformat(),
            "loans": len(sample),
            "bad": int(sample.y.sum()),
        }
        if len(sample) == 0 or sample.y.nunique() < 2:
            raise ModelError(
                f"the out-of-time window from {cut.date()} has {len(sample)} labelled loans "
                f"and {int(sample.y.sum())} defaults: the models cannot be compared",
                "promote with a data folder whose ledger covers the challenger's validation window",
            )
        say(f"scoring {len(sample)} out-of-time loans from {cut.date()} with both models")
        ch_eval = evaluate_model(ch_model, ch_ref, sample)
        cp_eval = None
        if cp is not None:
            cp_eval = evaluate_model(cp[0], cp[1], sample)
            # the champion was fitted (trees, early stopping, calibration) to its loans
            # before its own test cut; on those its metrics are optimistic
            rep = cp[2]
            fitted_to = pd.Timestamp(rep.get("test_cut") or rep["period"]["last_loan"])
            n_seen = int((sample.time < fitted_to).sum())
            if n_seen:
                warnings.append(
                    f"the champion was fitted to loans disbursed before {fitted_to.date()}: "
                    f"{n_seen} of the comparison loans were among them, so its metrics are "
                    "optimistic"
                )
    if champion_mv is not None and before == str(version):
        decision = GateDecision(
            False, _table_of(ch_eval), [f"version {version} is already the champion"]
        )
    else:
        decision = decide(ch_eval, cp_eval, config.gate, min_bads=config.validation.min_oot_bads)
        if unusable and decision.promote:
            decision = GateDecision(
                True,
                decision.table,
                [
                    f"the champion, version {before}, cannot be evaluated on today's features: "
                    f"version {version} replaces it, clearing the absolute floors"
                ],
            )
    decision = GateDecision(decision.promote, decision.table, decision.reasons, warnings)
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, str(version))
        say(f"{name}@{CHAMPION} → version {version}")
    metrics = {f"challenger_{k}": v for k, v in ch_eval.metrics.items() if np.isfinite(v)}
    if cp_eval is not None:
        metrics.update({f"champion_{k}": v for k, v in cp_eval.metrics.items() if np.isfinite(v)})
    metrics["promoted"] = float(decision.promote)
    run_id = log_decision(
        target,
        experiment=experiment,
        params={"model": name, "challenger_version": version, "champion_version": before, **info},
        metrics=metrics,
        tags={
            "decision": (
                "unchanged"
                if before == str(version)
                else ("promoted" if decision.promote else "refused")
            ),
            "challenger_model_id": ch_eval.model_id,
            "champion_model_id": cp_eval.model_id if cp_eval else "",
        },
        table=decision.table,
        decision={
            **decision.to_dict(),
            "sample": info,
            "champion_before": before,
            "calibration_by_grade": {
                "challenger": _records(ch_eval.by_grade),
                "champion": _records(cp_eval.by_grade) if cp_eval is not None else None,
            },
        },
    )
    return PromotionOutcome(name, str(version), before, decision, ch_eval, cp_eval, run_id, info)


def _table_of(ev: ModelEvaluation) -> pd.DataFrame:
    rows = [(k, "", np.nan, v, np.nan, np.nan, True) for k, v in ev.metrics.items()]
    return pd.DataFrame(
        rows, columns=["metric", "label_zh", "champion", "challenger", "change", "limit", "ok"]
    )


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.astype(object).where(df.notna(), None).to_dict("records")
