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
    from models.evaluation import evaluate

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
        ``champion`` is None when no version holds the alias yet: the challenger then
        becomes champion unless its own checks fail (too few defaults to judge it, or a
        score PSI beyond the limit); there is nothing to compare its metrics with.
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
        limit = (old - tol) if higher_better else (old + tol)
        ok = bool(new >= limit if higher_better else new <= limit) if champion else True
        if champion and not np.isfinite(new):
            ok = False
        rows.append((metric, label, old, new, change, limit, ok))
        if not ok:
            worse = "lower" if higher_better else "higher"
            reasons.append(
                f"{metric} {new:.4f} is {worse} than the champion's {old:.4f} by more than "
                f"the tolerance {tol:g}"
            )
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
