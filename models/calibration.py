"""Probability calibration of a raw LightGBM margin, and its exact mapping to score points.

Two methods, chosen on the calibration sample (out-of-time validation loans or out-of-fold
predictions) by cross-validated Brier score:

- ``platt``: ``logit(pd) = a * margin + b``. Affine in the margin, so margin contributions
  become score points by one constant factor: ``points_f = -factor * a * c_f``.
- ``isotonic``: a non-decreasing, piecewise-linear map margin → PD (scikit-learn's
  ``IsotonicRegression`` thresholds within [:data:`PD_FLOOR`, 1 - :data:`PD_FLOOR`],
  interpolated linearly, clipped outside). Not affine, so
  a firm's total move from the base score is shared among features in proportion to their
  margin contributions, i.e. every contribution is multiplied by the firm's secant slope
  ``(S(m) - S(m0)) / (m - m0)``. The slope is ≥ 0 and at most the map's steepest piece, so
  signs are kept and no contribution is blown up; the sum is exact by construction.

Both are stored as plain numbers in the model card (no pickles).
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from data_contracts.errors import ConfigError, ModelError
from models.scale import PD_EPS

METHODS = ("auto", "platt", "isotonic", "none")

ISOTONIC_MIN_BADS = 200
"""``auto`` considers isotonic only with at least this many defaults in the calibration
sample. With fewer, its steps are noise: whole blocks of firms get PD 0 or 1 (clipped) and
tie on one score, so a whitelist's top would be ordered by USCC, not by risk."""

PD_FLOOR = 0.0003
"""Isotonic PDs are kept within [PD_FLOOR, 1 - PD_FLOOR]: no block of firms is given a PD of
0 because no default was seen in it (0.03%, the Basel floor for corporate PDs)."""


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, PD_EPS, 1 - PD_EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class Calibrator:
    """Map a raw margin (log-odds of default) to a calibrated log-odds of default.

    Parameters
    ----------
    method : {'platt', 'isotonic', 'none'}
    """

    def __init__(self, method: str = "platt") -> None:
        self.method = method

    def fit(self, margin: np.ndarray, y: np.ndarray) -> Calibrator:
        if self.method not in ("platt", "isotonic", "none"):
            raise ConfigError(
                "The 'method' parameter of Calibrator must be 'platt', 'isotonic' or 'none'. "
                f"Got {self.method!r} instead.",
                "choose one of platt, isotonic, none",
            )
        m = np.asarray(margin, dtype=float)
        y = np.asarray(y, dtype=float)
        if self.method == "platt":
            lr = LogisticRegression(C=1e6, max_iter=1000)
            lr.fit(m.reshape(-1, 1), y)
            self.a_ = float(lr.coef_[0, 0])
            self.b_ = float(lr.intercept_[0])
        elif self.method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            iso.fit(m, y)
            self.x_ = np.asarray(iso.X_thresholds_, dtype=float)
            self.y_ = np.clip(np.asarray(iso.y_thresholds_, dtype=float), PD_FLOOR, 1 - PD_FLOOR)
        return self

    def _check(self) -> None:
        fitted = {"platt": "a_", "isotonic": "x_", "none": None}[self.method]
        if fitted is not None and not hasattr(self, fitted):
            raise ModelError("this Calibrator is not fitted yet", "call fit(margin, y) first")

    def logit(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated log-odds of default."""
        self._check()
        m = np.asarray(margin, dtype=float)
        if self.method == "platt":
            return self.a_ * m + self.b_
        if self.method == "isotonic":
            return _logit(np.interp(m, self.x_, self.y_))
        return m

    def pd(self, margin: np.ndarray) -> np.ndarray:
        return _sigmoid(self.logit(margin))

    def margin_to_points(
        self, contrib: np.ndarray, margin: np.ndarray, base_margin: float, points_per_logit: float
    ) -> np.ndarray:
        """Score points per feature from margin contributions (rows × features).

        ``Σ_f points_f = points_per_logit * (logit(margin) - logit(base_margin))`` exactly
        (to float rounding), where ``margin = base_margin + Σ_f contrib_f``.
        """
        if self.method == "none":
            return points_per_logit * contrib
        if self.method == "platt":
            return (points_per_logit * self.a_) * contrib
        m = np.asarray(margin, dtype=float)
        dm = m - base_margin
        total = points_per_logit * (self.logit(m) - self.logit(np.array([base_margin]))[0])
        small = np.abs(dm) < 1e-9
        slope = np.empty_like(m)
        slope[~small] = total[~small] / dm[~small]
        if small.any():
            # A firm at the base margin: use the local slope; its total move is ~0 anyway.
            h = 1e-6
            slope[small] = (
                points_per_logit * (self.logit(m[small] + h) - self.logit(m[small] - h)) / (2 * h)
            )
        return contrib * slope[:, None]

    def to_dict(self) -> dict:
        self._check()
        d: dict = {"method": self.method}
        if self.method == "platt":
            d.update(a=self.a_, b=self.b_, formula="logit(pd) = a * margin + b")
        elif self.method == "isotonic":
            d.update(
                x_thresholds=self.x_.tolist(),
                y_thresholds=self.y_.tolist(),
                formula="pd = interp(margin, x_thresholds, y_thresholds), clipped outside",
            )
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        c = cls(d["method"])
        if c.method == "platt":
            c.a_, c.b_ = float(d["a"]), float(d["b"])
        elif c.method == "isotonic":
            c.x_ = np.asarray(d["x_thresholds"], dtype=float)
            c.y_ = np.asarray(d["y_thresholds"], dtype=float)
        return c


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def choose_calibrator(
    margin: np.ndarray, y: np.ndarray, method: str = "auto", *, n_splits: int = 5, seed: int = 0
) -> tuple[Calibrator, dict]:
    """Fit the calibrator; with ``auto`` pick platt or isotonic by cross-validated Brier
    (isotonic only with :data:`ISOTONIC_MIN_BADS` defaults or more).

    Returns the calibrator fitted on all of ``margin`` and a dict of the Brier scores
    (raw = sigmoid of the margin; each candidate out-of-fold) behind the choice.
    """
    if method not in METHODS:
        raise ConfigError(
            f"The 'calibration' parameter must be one of {', '.join(METHODS)}. "
            f"Got {method!r} instead.",
            "use calibration='auto' (choose on validation), 'platt', 'isotonic' or 'none'",
        )
    m = np.asarray(margin, dtype=float)
    y = np.asarray(y, dtype=int)
    report: dict = {"brier_raw": brier(y, _sigmoid(m))}
    n_bad = int(y.sum())
    if method == "auto":
        candidates = ["platt", "isotonic"] if n_bad >= ISOTONIC_MIN_BADS else ["platt"]
    else:
        candidates = [method]
    k = min(n_splits, n_bad, len(y) - n_bad)
    if k >= 2 and method != "none":
        folds = StratifiedKFold(k, shuffle=True, random_state=seed)
        for cand in candidates:
            oof = np.empty(len(m))
            for tr, te in folds.split(m.reshape(-1, 1), y):
                oof[te] = Calibrator(cand).fit(m[tr], y[tr]).pd(m[te])
            report[f"brier_cv_{cand}"] = brier(y, oof)
    if method == "auto":
        if "brier_cv_platt" in report:
            method = min(candidates, key=lambda c: report[f"brier_cv_{c}"])
        else:
            method = "platt"
    report["chosen"] = method
    return Calibrator(method).fit(m, y), report
