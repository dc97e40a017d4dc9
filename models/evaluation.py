"""Model checks a credit model owner reads: discrimination, calibration by grade, stability.

Results are DataFrames and plain dicts first (``Evaluation.summary``, ``.by_grade``,
``.feature_importance``; ``to_json()``); the HTML report is built on top of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import beta
from sklearn.metrics import roc_auc_score, roc_curve

from data_contracts.errors import ModelError
from models._tabular import check_binary_label

# Population-stability alert levels of domain.md §8.
PSI_WATCH, PSI_ACT = 0.10, 0.25


def jeffreys_interval(bad: np.ndarray, n: np.ndarray, level: float = 0.95) -> tuple:
    """Jeffreys interval for a default rate: Beta(bad + ½, n - bad + ½) quantiles.

    The bounds are 0 / 1 when no / every loan defaulted (the usual convention).
    """
    bad = np.asarray(bad, dtype=float)
    n = np.asarray(n, dtype=float)
    a = (1 - level) / 2
    lo = np.where(bad > 0, beta.ppf(a, bad + 0.5, n - bad + 0.5), 0.0)
    hi = np.where(bad < n, beta.ppf(1 - a, bad + 0.5, n - bad + 0.5), 1.0)
    return lo, hi


def psi(reference: np.ndarray, current: np.ndarray, n_bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` on the reference's
    decile bins (each share floored at 1e-4 so empty bins stay finite)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, n_bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, ref, "right"), minlength=len(edges) + 1) / len(ref)
    a = np.bincount(np.searchsorted(edges, cur, "right"), minlength=len(edges) + 1) / len(cur)
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_statistic(y: np.ndarray, pd_: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance between the PD distributions of bads and goods."""
    fpr, tpr, _ = roc_curve(y, pd_)
    return float(np.max(tpr - fpr))


@dataclass
class Evaluation:
    """Metrics of one scored, labelled sample.

    Attributes
    ----------
    summary : dict
        ``n, n_bad, bad_rate, mean_pd, auc, gini, ks, brier, psi_score,
        grades_monotone``.
    by_grade : DataFrame
        Per grade: ``grade, n, bad, observed_rate, mean_pd, jeffreys_low, jeffreys_high,
        pd_within_interval``.
    feature_importance : DataFrame
        Per feature: ``feature, mean_abs_points, mean_points, share`` (from the per-firm
        explanations) and ``gain`` when the booster is known; sorted by importance.
    warnings : list of str
        Findings the report must state (e.g. default rates not rising with the grade).
    """

    summary: dict
    by_grade: pd.DataFrame
    feature_importance: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    # Arrays behind the plots; not serialised.
    y: np.ndarray | None = field(default=None, repr=False)
    pd: np.ndarray | None = field(default=None, repr=False)
    score: np.ndarray | None = field(default=None, repr=False)
    score_reference: np.ndarray | None = field(default=None, repr=False)
    contributions: pd.DataFrame | None = field(default=None, repr=False)
    feature_values: pd.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        def _records(df: pd.DataFrame) -> list[dict]:
            return json.loads(df.to_json(orient="records", double_precision=12))

        return {
            "summary": self.summary,
            "by_grade": _records(self.by_grade),
            "feature_importance": _records(self.feature_importance),
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, sort_keys=True)

    def to_frame(self) -> pd.DataFrame:
        """The summary as a one-row DataFrame."""
        return pd.DataFrame([self.summary])


def evaluate(
    y: object,
    pd_: object,
    grade: object | None = None,
    *,
    grade_labels: list[str] | None = None,
    score: object | None = None,
    score_reference: object | None = None,
    contributions: pd.DataFrame | None = None,
    gain: dict[str, float] | None = None,
    feature_values: pd.DataFrame | None = None,
) -> Evaluation:
    """Evaluate PDs against outcomes.

    Parameters
    ----------
    y : array-like of {0, 1}
        1 = default.
    pd_ : array-like of float
        Predicted probability of default.
    grade : array-like of str, optional
        Grades (``T1`` best …); ``grade_labels`` fixes their order (default: sorted by number).
    score : array-like, optional
        Scores of the same rows; with ``score_reference`` (e.g. training scores) gives PSI.
    contributions : DataFrame, optional
        Per-firm points per feature; gives the feature importance.
    gain : dict, optional
        LightGBM gain importance per feature, added as a column.

    Returns
    -------
    Evaluation
    """
    yy = check_binary_label(y, "y")
    p = np.asarray(pd_, dtype=float)
    if p.shape != yy.shape:
        raise ModelError(
            f"y has {len(yy)} rows but pd has {p.size}",
            "pass the outcome and the PD of the same rows",
        )
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ModelError("pd must be finite probabilities in [0, 1]", "check the model output")
    auc = float(roc_auc_score(yy, p))
    summary = {
        "n": int(len(yy)),
        "n_bad": int(yy.sum()),
        "bad_rate": float(yy.mean()),
        "mean_pd": float(p.mean()),
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks_statistic(yy, p),
        "brier": float(np.mean((p - yy) ** 2)),
    }
    warnings: list[str] = []
    if score is not None and score_reference is not None:
        summary["psi_score"] = psi(np.asarray(score_reference), np.asarray(score))
        if summary["psi_score"] >= PSI_ACT:
            warnings.append(
                f"score PSI between development and validation is {summary['psi_score']:.3f} "
                f"(≥ {PSI_ACT}: act)"
            )
        elif summary["psi_score"] >= PSI_WATCH:
            warnings.append(f"score PSI is {summary['psi_score']:.3f} (≥ {PSI_WATCH}: watch)")
    by_grade = pd.DataFrame(
        columns=["grade", "n", "bad", "observed_rate", "mean_pd", "jeffreys_low", "jeffreys_high"]
    )
    if grade is not None:
        g = pd.Series(np.asarray(grade, dtype=object), name="grade")
        labels = grade_labels or sorted(g.dropna().unique(), key=lambda s: int(str(s)[1:]))
        frame = pd.DataFrame({"grade": g, "bad": yy, "pd": p})
        agg = frame.groupby("grade", sort=False).agg(
            n=("bad", "size"), bad=("bad", "sum"), mean_pd=("pd", "mean")
        )
        agg = agg.reindex(labels).fillna({"n": 0, "bad": 0})
        agg["n"] = agg["n"].astype(int)
        agg["bad"] = agg["bad"].astype(int)
        with np.errstate(invalid="ignore", divide="ignore"):
            agg["observed_rate"] = np.where(agg["n"] > 0, agg["bad"] / agg["n"], np.nan)
        lo, hi = jeffreys_interval(agg["bad"].to_numpy(), agg["n"].to_numpy())
        agg["jeffreys_low"] = np.where(agg["n"] > 0, lo, np.nan)
        agg["jeffreys_high"] = np.where(agg["n"] > 0, hi, np.nan)
        agg["pd_within_interval"] = (agg["mean_pd"] >= agg["jeffreys_low"]) & (
            agg["mean_pd"] <= agg["jeffreys_high"]
        )
        by_grade = agg.reset_index()[
            [
                "grade",
                "n",
                "bad",
                "observed_rate",
                "mean_pd",
                "jeffreys_low",
                "jeffreys_high",
                "pd_within_interval",
            ]
        ]
        rates = by_grade.loc[by_grade["n"] > 0, ["grade", "observed_rate"]].to_numpy()
        breaks = [
            f"{rates[i + 1][0]} ({rates[i + 1][1]:.2%}) < {rates[i][0]} ({rates[i][1]:.2%})"
            for i in range(len(rates) - 1)
            if rates[i + 1][1] < rates[i][1]
        ]
        summary["grades_monotone"] = not breaks
        if breaks:
            warnings.append(
                "observed default rates do not rise monotonically from T1 to the worst grade: "
                + "; ".join(breaks)
            )
    fi = pd.DataFrame(columns=["feature", "mean_abs_points", "mean_points", "share"])
    if contributions is not None and contributions.shape[1] > 0:
        abs_mean = contributions.abs().mean()
        total = float(abs_mean.sum()) or 1.0
        fi = pd.DataFrame(
            {
                "feature": [str(c) for c in contributions.columns],
                "mean_abs_points": abs_mean.to_numpy(),
                "mean_points": contributions.mean().to_numpy(),
                "share": (abs_mean / total).to_numpy(),
            }
        )
        if gain is not None:
            fi["gain"] = fi["feature"].map(gain).astype(float)
        fi = fi.sort_values(["mean_abs_points", "feature"], ascending=[False, True]).reset_index(
            drop=True
        )
    return Evaluation(
        summary=summary,
        by_grade=by_grade,
        feature_importance=fi,
        warnings=warnings,
        y=yy,
        pd=p,
        score=None if score is None else np.asarray(score, dtype=float),
        score_reference=None if score_reference is None else np.asarray(score_reference, float),
        contributions=contributions,
        feature_values=feature_values,
    )
