"""Champion/challenger: evaluate two models on the same out-of-time loans and decide.

The challenger replaces the champion only when it is not worse beyond the configured
tolerances on any of AUC, KS, Brier score and calibration by grade, and its score is stable
(PSI against its own training population below the limit). Results are DataFrames first;
the CLI prints them and MLflow stores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from screening.retrain.config import GateConfig
from screening.retrain.labels import TrainingSet
from screening.retrain.psi import BinnedReference, psi_value


@dataclass(frozen=True)
class ModelEvaluation:
    """One model on one labelled sample.

    Attributes
    ----------
    model_id : str
    metrics : dict
        ``n, n_bad, auc, ks, brier, calibration_gap, score_psi``.
    by_grade : DataFrame
        ``grade, n, bad, observed_rate, mean_pd`` (calibration by grade).
    """

    model_id: str
    metrics: dict[str, float]
    by_grade: pd.DataFrame = field(repr=False)


def calibration_gap(by_grade: pd.DataFrame) -> float:
    """Loan-weighted mean of |mean predicted PD − observed default rate| over grades."""
    g = by_grade[by_grade["n"] > 0]
    if g.empty:
        return float("nan")
    gap = (g["mean_pd"] - g["observed_rate"]).abs()
    return float(np.average(gap, weights=g["n"]))


def calibration_noise(by_grade: pd.DataFrame) -> float:
    """The calibration gap sampling noise alone gives a perfectly calibrated model.

    Per grade, the observed rate of ``n`` loans with default probability ``p`` misses
    ``p`` by about ``sqrt(2 / pi) * sqrt(p (1 - p) / n)`` on average (normal
    approximation); weighted by loans as :func:`calibration_gap` is. 0 when ``by_grade``
    has no ``n``/``mean_pd`` (nothing to go on).
    """
    if by_grade is None or not {"n", "mean_pd"} <= set(by_grade.columns):
        return 0.0
    g = by_grade[(by_grade["n"] > 0) & by_grade["mean_pd"].notna()]
    if g.empty:
        return 0.0
    p = g["mean_pd"].astype(float).clip(0, 1)
    n = g["n"].astype(float)
    per_grade = np.sqrt(2 / np.pi) * np.sqrt(p * (1 - p) / n)
    return float(np.average(per_grade, weights=n))


def feature_mismatch(
    model: Any, report: dict[str, Any], columns: Any, registry: str | None
) -> str | None:
    """Why ``model`` cannot be evaluated on today's feature matrix, or None if it can.

    Parameters
    ----------
    model : Scorer
        A learned model (``feature_names_in_``).
    report : dict
        Its ``training_report.json`` (``feature_registry_version``).
    columns : iterable of str
        The columns the current feature builder produces.
    registry : str, optional
        The installed feature registry version; None skips that check.
    """
    have = set(map(str, columns))
    missing = [f for f in getattr(model, "feature_names_in_", []) if f not in have]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        return (
            f"the current feature builder does not produce its feature(s) "
            f"{', '.join(missing[:5])}{more}"
        )
    trained_on = report.get("feature_registry_version")
    if registry and trained_on and trained_on != registry:
        return (
            f"it was trained on feature registry version {trained_on}, the installed one is "
            f"{registry} (feature definitions changed)"
        )
    return None


def evaluate_model(model: Any, reference: dict[str, Any], sample: TrainingSet) -> ModelEvaluation:
    """Score ``sample`` with ``model`` and compute the gate metrics.

    Parameters
    ----------
    model : Scorer
        A learned model (``score``, ``grade_scale_``).
    reference : dict
        The model's ``reference.json`` (its training score bins, for PSI).
    sample : TrainingSet
        Labelled out-of-time loans.
    """
    from data_contracts.errors import ModelError
    from models.evaluation import evaluate

    problem = feature_mismatch(model, {}, sample.X.columns, None)
    if problem:
        raise ModelError(
            f"model {model.model_id} cannot be evaluated on these loans: {problem}",
            "evaluate it on features built by the feature registry it was trained on, or "
            "retrain it with `screening train`",
        )
    result = model.score(sample.X[model.feature_names_in_], explain=False)
    labels = list(getattr(model.grade_scale_, "labels", [])) or None
    ev = evaluate(sample.y.to_numpy(), result.pd, result.grade, grade_labels=labels)
    by_grade = ev.by_grade[["grade", "n", "bad", "observed_rate", "mean_pd"]].copy()
    metrics = {
        "n": float(ev.summary["n"]),
        "n_bad": float(ev.summary["n_bad"]),
        "auc": float(ev.summary["auc"]),
        "ks": float(ev.summary["ks"]),
        "brier": float(ev.summary["brier"]),
        "calibration_gap": calibration_gap(by_grade),
        "score_psi": psi_value(BinnedReference.from_dict(reference["score"]), result.score),
    }
    return ModelEvaluation(str(model.model_id), metrics, by_grade)


# metric, Chinese label, higher is better?, tolerance attribute of GateConfig
_RULES = (
    ("auc", "区分度 AUC", True, "auc_drop"),
    ("ks", "KS 值", True, "ks_drop"),
    ("brier", "Brier 分数", False, "brier_rise"),
    ("calibration_gap", "分档校准偏差", False, "calibration_gap_rise"),
)


# absolute floors (GateConfig attribute) applied when there is no champion to compare with
_FLOORS = {"auc": "min_auc", "calibration_gap": "max_calibration_gap"}


@dataclass(frozen=True)
class GateDecision:
    """The promotion decision.

    Attributes
    ----------
    promote : bool
    table : DataFrame
        ``metric, label_zh, champion, challenger, change, limit, ok`` per rule.
    reasons : list of str
        Why the challenger was refused (empty when promoted), or why it was promoted
        without comparison.
    warnings : list of str
        Findings that do not block (e.g. the champion saw some of the comparison loans).
    """

    promote: bool
    table: pd.DataFrame
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "table": self.table.astype(object).where(self.table.notna(), None).to_dict("records"),
        }


PSI_MIN_LOANS = 200
"""The score PSI rule applies from this many comparison loans. Between two samples of the
same population PSI is about (bins - 1) / n: 0.24 for 38 loans in 10 bins, already near the
0.25 limit, so on fewer loans it would refuse models for noise (0.045 at 200)."""


def decide(
    challenger: ModelEvaluation,
    champion: ModelEvaluation | None,
    gate: GateConfig,
    *,
    min_bads: int = 0,
) -> GateDecision:
    """Compare the challenger with the champion on the same loans.

    Parameters
    ----------
    challenger, champion : ModelEvaluation
        ``champion`` is None when no version holds the alias yet (or the champion cannot
        be evaluated on today's features): the challenger then becomes champion unless its
        own checks fail: too few defaults to judge it, a score PSI beyond the limit, or an
        AUC below ``gate.min_auc`` or a calibration gap above ``gate.max_calibration_gap``
        (the absolute floors; with a champion the rules are relative to it instead).
    gate : GateConfig
        Tolerances.
    min_bads : int
        Below this many defaults in the sample the evaluation is too noisy to promote any
        version, the first one included: refused.
    """
    rows = []
    reasons: list[str] = []
    for metric, label, higher_better, tol_name in _RULES:
        tol = float(getattr(gate, tol_name))
        new = challenger.metrics[metric]
        old = champion.metrics[metric] if champion else float("nan")
        change = new - old
        worse = "lower" if higher_better else "higher"
        if champion is not None:
            limit = (old - tol) if higher_better else (old + tol)
            ok = bool(np.isfinite(new) and (new >= limit if higher_better else new <= limit))
            why = (
                f"{metric} {new:.4f} is {worse} than the champion's {old:.4f} by more than "
                f"the tolerance {tol:g}"
            )
        elif metric in _FLOORS:
            # nothing to compare with: the version must clear an absolute floor
            floor = float(getattr(gate, _FLOORS[metric]))
            noise = calibration_noise(challenger.by_grade) if metric == "calibration_gap" else 0
            # a gap of a few loans per grade is mostly sampling noise: it is allowed on top
            limit = floor + noise
            ok = bool(np.isfinite(new) and (new >= limit if higher_better else new <= limit))
            allowance = f" plus {noise:.4f} expected from sampling noise" if noise else ""
            why = (
                f"{metric} {new:.4f} is {worse} than the floor {floor:g}{allowance} a version "
                f"needs without a champion to compare with ([gate] {_FLOORS[metric]})"
            )
        else:
            limit, ok, why = float("nan"), True, ""
        rows.append((metric, label, old, new, change, limit, ok))
        if not ok:
            reasons.append(why)
    psi_new = challenger.metrics["score_psi"]
    psi_ok = bool(np.isfinite(psi_new) and psi_new <= gate.max_score_psi)
    if challenger.metrics["n"] < PSI_MIN_LOANS:
        psi_ok = True  # noise, not a shift: see PSI_MIN_LOANS
    rows.append(
        (
            "score_psi",
            "分数稳定性 PSI",
            champion.metrics["score_psi"] if champion else float("nan"),
            psi_new,
            psi_new - champion.metrics["score_psi"] if champion else float("nan"),
            gate.max_score_psi,
            psi_ok,
        )
    )
    if not psi_ok:
        reasons.append(
            f"score PSI {psi_new:.3f} between the challenger's training population and the "
            f"comparison loans exceeds {gate.max_score_psi:g}"
        )
    n_bad = int(challenger.metrics["n_bad"])
    if n_bad < min_bads:
        reasons.append(
            f"only {n_bad} defaults among the {int(challenger.metrics['n'])} comparison loans "
            f"(at least {min_bads} needed to judge a model)"
        )
    table = pd.DataFrame(
        rows, columns=["metric", "label_zh", "champion", "challenger", "change", "limit", "ok"]
    )
    if champion is None and not reasons:
        return GateDecision(True, table, ["no champion yet: the first version becomes champion"])
    return GateDecision(not reasons, table, reasons)
