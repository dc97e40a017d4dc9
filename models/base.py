"""What every scorer returns, so screening treats the expert scorecard and the learned
model the same way: a PD, a score on the points scale, a grade, and per-feature points
such that ``base_points + contributions.sum(axis=1) == score``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ScoreResult:
    """Scores for a table of firms (row order = input order).

    Attributes
    ----------
    pd : np.ndarray
        Probability of default within 12 months, float64 in (0, 1).
    score : np.ndarray
        Points on the model's score scale (higher = safer).
    grade : np.ndarray
        ``T1`` (best) … ``T10`` as strings.
    contributions : pd.DataFrame
        Score points per feature (columns = model features, index = input index).
    base_points : float
        Points every firm starts from; ``base_points + contributions.sum(axis=1) == score``.
    """

    pd: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    contributions: pd.DataFrame
    base_points: float


class Scorer(Protocol):
    """The interface screening uses: expert scorecard and learned model alike."""

    model_id: str
    feature_names_in_: list[str]

    def score(self, X: pd.DataFrame, *, explain: bool = True) -> ScoreResult:
        """Score ``X`` (features in any column order; extra or missing columns raise
        ``FeatureMismatchError``). ``explain=False`` may leave ``contributions`` empty."""
        ...
