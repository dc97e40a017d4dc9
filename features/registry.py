"""The feature registry: one record per feature, the single source of truth.

Training, screening, monotone constraints, reports and Chinese explanations all read it.
Entries are declared in ``features/_catalog.py`` (owned by the features layer); this module
defines the record and the look-ups every other layer uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Group = Literal[
    "quantity", "structure", "technical", "legal", "use", "credit", "programme", "firm", "pledge"
]


@dataclass(frozen=True)
class FeatureSpec:
    """One feature.

    Attributes
    ----------
    name : str
        Column name in the feature matrix (snake_case English).
    label_zh : str
        Chinese label used in explanations and reports, e.g. ``有效发明专利数``.
    group : str
        Scorecard group (domain.md §6: quantity, structure, technical, legal, use) or
        credit / programme / firm / pledge.
    description : str
        Exact definition, including every choice made where domain.md leaves one.
    source : str
        Source table(s), e.g. ``patents+patent_events``.
    known_at : str
        Which date makes the fact known (e.g. ``grant_date``, ``event_date``, ``start_date``).
    direction : int
        Monotone direction of risk *safety*: +1 higher is safer (lower PD, higher score),
        -1 higher is riskier, 0 not monotone.
    valid_min, valid_max : float | None
        Valid range (None = unbounded).
    unit : str
        Unit shown to people, e.g. ``件``, ``年``, ``%``, ``天``.
    kind : str
        ``count``, ``share``, ``rate``, ``years``, ``flag``, ``category`` or ``amount``.
    """

    name: str
    label_zh: str
    group: Group
    description: str
    source: str
    known_at: str
    direction: int
    valid_min: float | None = None
    valid_max: float | None = None
    unit: str = ""
    kind: str = "count"

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(
                f"The 'direction' of feature {self.name!r} must be -1, 0 or +1. "
                f"Got {self.direction!r} instead."
            )


def registry() -> tuple[FeatureSpec, ...]:
    """All registered features, in matrix column order."""
    from features._catalog import CATALOG

    return CATALOG


def by_name() -> dict[str, FeatureSpec]:
    """Registry records keyed by feature name."""
    return {f.name: f for f in registry()}


def feature_names() -> list[str]:
    """Feature column names in matrix order."""
    return [f.name for f in registry()]


def monotone_signs() -> dict[str, int]:
    """Monotone direction per feature, as LightGBM expects it for *score* (safety).

    A model of the probability of *default* uses the negated signs.
    """
    return {f.name: f.direction for f in registry()}
