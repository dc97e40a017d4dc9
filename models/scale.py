"""The points scale and the T1…T10 grade ladder shared by every scorer.

``ScoreScale`` turns a probability of default into points (higher = safer) the way credit
scorecards do: ``score = offset + factor * ln(odds)`` with odds = good:bad, so that a fixed
number of points (``pdo``) doubles the odds everywhere on the scale. Because the score is
*linear in log-odds*, any additive decomposition of the log-odds is an additive
decomposition of the score, which is what makes explanations in points exact.

``GradeScale`` holds nine PD cut-offs fixed when a model is fitted (or declared in the
expert weights file) and stored with the model; grades never move when the population
scored later changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from data_contracts.errors import ConfigError, ModelError

# PDs are kept away from 0 and 1 so scores stay finite; 1e-6 is below any PD a bank would
# act on and far above float64 resolution.
PD_EPS = 1e-6


def _check_number(owner: str, name: str, value: object, low: float, high: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and low < value < high
    if not ok or not math.isfinite(float(value)):
        raise ConfigError(
            f"The {name!r} parameter of {owner} must be a number in ({low:g}, {high:g}). "
            f"Got {value!r} instead.",
            f"pass a valid {name}",
        )
    return float(value)


@dataclass(frozen=True)
class ScoreScale:
    """PD ↔ points: ``base_score`` points at odds ``base_odds``:1 (good:bad), ``pdo`` points
    to double the odds.

    Parameters
    ----------
    base_score : float, default 600
        Score at the anchor odds.
    base_odds : float, default 50
        Good:bad odds at ``base_score`` (50 means PD = 1/51 ≈ 1.96 %).
    pdo : float, default 20
        Points to double the odds.
    """

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    def __post_init__(self) -> None:
        _check_number("ScoreScale", "base_score", self.base_score, -1e6, 1e6)
        _check_number("ScoreScale", "base_odds", self.base_odds, 0, 1e9)
        _check_number("ScoreScale", "pdo", self.pdo, 0, 1e6)

    @property
    def factor(self) -> float:
        """Points per unit of ln(odds): ``pdo / ln 2``."""
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        """Score at odds 1:1: ``base_score - factor * ln(base_odds)``."""
        return self.base_score - self.factor * math.log(self.base_odds)

    def score_from_logit(self, logit_pd: np.ndarray | float) -> np.ndarray:
        """Score from the log-odds of *default* ``ln(pd / (1 - pd))``."""
        return self.offset - self.factor * np.asarray(logit_pd, dtype=float)

    def score_from_pd(self, pd_: np.ndarray | float) -> np.ndarray:
        """Score from a probability of default (clipped to [1e-6, 1 - 1e-6])."""
        p = np.clip(np.asarray(pd_, dtype=float), PD_EPS, 1 - PD_EPS)
        return self.score_from_logit(np.log(p) - np.log1p(-p))

    def pd_from_score(self, score: np.ndarray | float) -> np.ndarray:
        """Inverse of :meth:`score_from_pd`."""
        logit = (self.offset - np.asarray(score, dtype=float)) / self.factor
        return 1.0 / (1.0 + np.exp(-logit))

    def points_per_logit(self) -> float:
        """Score points per unit of log-odds of default (negative: riskier = fewer points)."""
        return -self.factor

    def to_dict(self) -> dict:
        return {
            "base_score": self.base_score,
            "base_odds": self.base_odds,
            "pdo": self.pdo,
            "factor": self.factor,
            "offset": self.offset,
            "formula": "score = offset + factor * ln((1 - pd) / pd)",
        }

    @classmethod
    def from_dict(cls, d: dict) -> ScoreScale:
        return cls(float(d["base_score"]), float(d["base_odds"]), float(d["pdo"]))


def _quantile_cuts(p: np.ndarray, n_grades: int) -> tuple[float, ...] | None:
    """Cut-offs between distinct PDs, each as close as possible to an equal-population
    quantile. Cutting *between* distinct values keeps tied PDs (isotonic steps) in one
    grade and leaves no grade empty on the development sample. None when there are fewer
    distinct PDs than grades."""
    u, counts = np.unique(p, return_counts=True)
    n_gaps = len(u) - 1
    if n_gaps < n_grades - 1:
        return None
    cum = np.cumsum(counts)[:-1] / len(p)  # share of rows at or below gap i
    chosen: list[int] = []
    for k in range(1, n_grades):
        first = chosen[-1] + 1 if chosen else 0
        last = n_gaps - (n_grades - 1 - k) - 1  # leave a gap for each later cut
        i = first + int(np.argmin(np.abs(cum[first : last + 1] - k / n_grades)))
        chosen.append(i)
    cuts = tuple(float((u[i] + u[i + 1]) / 2) for i in chosen)
    if cuts[0] <= 0 or cuts[-1] >= 1:
        return None
    return cuts


def grade_labels(n: int) -> list[str]:
    """``['T1', …, 'Tn']``, T1 = best (lowest PD)."""
    return [f"T{i}" for i in range(1, n + 1)]


@dataclass(frozen=True)
class GradeScale:
    """Grade ladder T1 (best) … Tn on PD.

    A firm is in grade ``Tk`` when ``cutoffs[k-2] < pd <= cutoffs[k-1]`` (T1: ``pd <=
    cutoffs[0]``; Tn: ``pd > cutoffs[-1]``).

    Parameters
    ----------
    n_grades : int, default 10
        Number of grades, in [2, 20].
    method : {'quantile', 'geometric'}, default 'quantile'
        How :meth:`fit` places the cut-offs. ``quantile``: equal-population grades on the
        development PDs (each grade gets enough loans for its observed default rate to be
        checked); when PDs are tied so that quantiles collide (isotonic calibration gives
        steps) it falls back to ``geometric``. ``geometric``: a master scale whose cut-offs
        are evenly spaced in log-PD between the 2nd and 98th percentile of the development
        PDs, as bank rating master scales are.
    cutoffs : tuple of float, optional
        Fixed cut-offs (strictly increasing, in (0, 1)); set by :meth:`fit` or a weights file.
    """

    n_grades: int = 10
    method: str = "quantile"
    cutoffs: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if (
            not isinstance(self.n_grades, int)
            or isinstance(self.n_grades, bool)
            or not (2 <= self.n_grades <= 20)
        ):
            raise ConfigError(
                "The 'n_grades' parameter of GradeScale must be an int in [2, 20]. "
                f"Got {self.n_grades!r} instead.",
                "use e.g. n_grades=10 (T1 … T10)",
            )
        if self.method not in ("quantile", "geometric"):
            raise ConfigError(
                "The 'method' parameter of GradeScale must be 'quantile' or 'geometric'. "
                f"Got {self.method!r} instead.",
                "use method='quantile' or method='geometric'",
            )
        if self.cutoffs:
            c = np.asarray(self.cutoffs, dtype=float)
            if (
                len(c) != self.n_grades - 1
                or not np.all(np.isfinite(c))
                or np.any(c <= 0)
                or np.any(c >= 1)
                or np.any(np.diff(c) <= 0)
            ):
                raise ConfigError(
                    f"The 'cutoffs' of GradeScale must be {self.n_grades - 1} strictly "
                    f"increasing PDs in (0, 1). Got {list(self.cutoffs)!r} instead.",
                    "fix the grade cut-offs in the weights file or refit the model",
                )

    @property
    def labels(self) -> list[str]:
        return grade_labels(self.n_grades)

    @property
    def is_fitted(self) -> bool:
        return bool(self.cutoffs)

    def fit(self, pd_: np.ndarray) -> GradeScale:
        """Return a copy with cut-offs placed on the development PDs ``pd_``."""
        p = np.asarray(pd_, dtype=float)
        p = p[np.isfinite(p)]
        if len(p) < self.n_grades:
            raise ModelError(
                f"cannot place {self.n_grades} grade cut-offs on {len(p)} PDs",
                "fit on more rows or use fewer grades",
            )
        method = self.method
        if method == "quantile":
            cuts = _quantile_cuts(p, self.n_grades)
            if cuts is not None:
                return GradeScale(self.n_grades, "quantile", cuts)
            method = "geometric"
        lo, hi = np.quantile(np.clip(p, PD_EPS, 1 - PD_EPS), [0.02, 0.98])
        if not hi > lo * 1.01:
            # (nearly) one PD: spread the ladder around it. PDs a few ulps apart would give
            # cut-offs that round to the same float (found by hypothesis)
            lo, hi = max(PD_EPS, lo / 4), min(1 - PD_EPS, hi * 4)
        cuts = np.exp(np.linspace(np.log(lo), np.log(hi), self.n_grades - 1))
        return GradeScale(self.n_grades, method, tuple(float(c) for c in cuts))

    def assign(self, pd_: np.ndarray) -> np.ndarray:
        """Grade labels for PDs (``Tk`` strings, object array)."""
        if not self.cutoffs:
            raise ModelError(
                "GradeScale has no cut-offs yet",
                "fit the model (or GradeScale.fit) before assigning grades",
            )
        idx = np.searchsorted(np.asarray(self.cutoffs), np.asarray(pd_, dtype=float), "left")
        return np.asarray(self.labels, dtype=object)[idx]

    def to_dict(self) -> dict:
        return {
            "n_grades": self.n_grades,
            "method": self.method,
            "pd_cutoffs": list(self.cutoffs),
            "rule": "Tk when cutoffs[k-2] < pd <= cutoffs[k-1]; T1 best",
        }

    @classmethod
    def from_dict(cls, d: dict) -> GradeScale:
        return cls(int(d["n_grades"]), str(d["method"]), tuple(float(c) for c in d["pd_cutoffs"]))
