"""The expert scorecard: documented points per factor for the cold start.

Before any loan outcome exists there is nothing to learn from, yet a whitelist must go out.
The weights file (``models/expert_scorecard.yaml``, versioned) declares each factor's
feature, transform, points range and direction, the group weights of domain.md §6 and the
mapping points → PD → score → grade. The scorecard explains itself exactly like the learned
model: per-feature score points around a reference firm, ``base_points + Σ = score``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from data_contracts.errors import ConfigError, ModelError
from features.registry import FeatureSpec
from models._artifact import CARD_FILE, CARD_SCHEMA, canonical_json, content_id, write_model_dir
from models._tabular import check_columns
from models.base import ScoreResult
from models.scale import PD_EPS, GradeScale, ScoreScale

TRANSFORMS = ("log1p", "cap", "percentile", "bins", "flag")
PATENT_GROUPS = {"quantity": 15, "structure": 20, "technical": 25, "legal": 25, "use": 15}
DEFAULT_WEIGHTS_FILE = "expert_scorecard.yaml"


def _fail(where: str, what: str) -> ConfigError:
    return ConfigError(f"expert weights {where}: {what}", "fix the weights file (see its header)")


@dataclass(frozen=True)
class Factor:
    """One scorecard factor (see the weights file header for the semantics)."""

    feature: str
    group: str
    lo: float
    hi: float
    direction: int
    transform: str
    params: tuple[tuple[str, object], ...]
    missing_points: float
    reference_points: float

    def fraction(self, x: np.ndarray) -> np.ndarray:
        """The transform: value → t in [0, 1], increasing in x (NaN stays NaN)."""
        p = dict(self.params)
        if self.transform == "log1p":
            a, b = math.log1p(p["lo"]), math.log1p(p["hi"])
            t = (np.log1p(np.maximum(x, 0.0)) - a) / (b - a)
        elif self.transform == "cap":
            t = (x - p["lo"]) / (p["hi"] - p["lo"])
        elif self.transform == "percentile":
            t = x / 100.0
        elif self.transform == "bins":
            edges = np.asarray(p["edges"], dtype=float)
            ts = np.asarray(p["t"], dtype=float)
            t = ts[np.searchsorted(edges, np.nan_to_num(x), side="right")]
        else:  # flag
            t = (x > 0).astype(float)
        t = np.clip(t, 0.0, 1.0)
        return np.where(np.isnan(x), np.nan, t)

    def points(self, x: np.ndarray) -> np.ndarray:
        t = self.fraction(np.asarray(x, dtype=float))
        span = self.hi - self.lo
        pts = self.lo + t * span if self.direction > 0 else self.hi - t * span
        return np.where(np.isnan(pts), self.missing_points, pts)


@dataclass(frozen=True)
class ExpertSpec:
    """A parsed, validated weights file."""

    version: str
    name: str
    anchor_points: float
    anchor_odds: float
    points_to_double_odds: float
    score_scale: ScoreScale
    grade_scale: GradeScale
    groups: tuple[tuple[str, dict], ...]
    factors: tuple[Factor, ...]
    source: dict  # the raw mapping, stored in the model card

    @property
    def feature_names(self) -> list[str]:
        return [f.feature for f in self.factors]

    def log_odds_good(self, points: np.ndarray) -> np.ndarray:
        """ln(good:bad odds) of a total of expert points."""
        return math.log(self.anchor_odds) + (np.asarray(points, float) - self.anchor_points) * (
            math.log(2.0) / self.points_to_double_odds
        )


def _num(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, f"must be a number, got {value!r}")
    return float(value)


def parse_expert_spec(raw: Mapping) -> ExpertSpec:
    """Validate a weights mapping (as loaded from YAML) into an :class:`ExpertSpec`."""
    if not isinstance(raw, Mapping):
        raise _fail("file", f"must be a mapping, got {type(raw).__name__}")
    for key in ("version", "name", "points_to_pd", "score_scale", "grades", "groups", "factors"):
        if key not in raw:
            raise _fail("file", f"the key {key!r} is missing")
    ptp = raw["points_to_pd"]
    anchor_odds = _num("points_to_pd.anchor_odds", ptp.get("anchor_odds"))
    pdo = _num("points_to_pd.points_to_double_odds", ptp.get("points_to_double_odds"))
    if anchor_odds <= 0 or pdo <= 0:
        raise _fail("points_to_pd", "anchor_odds and points_to_double_odds must be > 0")
    ss = raw["score_scale"]
    scale = ScoreScale(ss.get("base_score", 600), ss.get("base_odds", 50), ss.get("pdo", 20))
    cut = tuple(raw["grades"].get("pd_cutoffs", ()))
    grades = GradeScale(len(cut) + 1, "geometric", cut)
    groups = raw["groups"]
    for g, spec in groups.items():
        if spec.get("neutral", "mid") not in ("mid", "zero"):
            raise _fail(
                f"group {g}", f"neutral must be 'mid' or 'zero', got {spec.get('neutral')!r}"
            )
    missing_groups = [g for g in PATENT_GROUPS if g not in groups]
    if missing_groups:
        raise _fail("groups", f"the patent groups {missing_groups} are missing")
    factors: list[Factor] = []
    seen: set[str] = set()
    for i, f in enumerate(raw["factors"], start=1):
        where = f"factor {i} ({f.get('feature', '?')})"
        feat = f.get("feature")
        if not isinstance(feat, str) or not feat:
            raise _fail(where, "needs a 'feature' name")
        if feat in seen:
            raise _fail(where, "the feature is used twice")
        seen.add(feat)
        group = f.get("group")
        if group not in groups:
            raise _fail(where, f"group {group!r} is not declared in 'groups'")
        pts = f.get("points")
        if not isinstance(pts, list | tuple) or len(pts) != 2:
            raise _fail(where, f"points must be [lo, hi], got {pts!r}")
        lo, hi = _num(where + " points", pts[0]), _num(where + " points", pts[1])
        if not lo < hi:
            raise _fail(where, f"points must be [lo, hi] with lo < hi, got {pts!r}")
        direction = f.get("direction")
        if direction not in (1, -1):
            raise _fail(where, f"direction must be 1 or -1, got {direction!r}")
        tr = dict(f.get("transform") or {})
        kind = tr.pop("type", None)
        if kind not in TRANSFORMS:
            raise _fail(where, f"transform type must be one of {TRANSFORMS}, got {kind!r}")
        if kind in ("log1p", "cap"):
            a, b = (
                _num(where + " transform.lo", tr.get("lo")),
                _num(where + " transform.hi", tr.get("hi")),
            )
            if not a < b or (kind == "log1p" and a < 0):
                raise _fail(where, f"transform needs lo < hi (lo ≥ 0 for log1p), got {a}, {b}")
            params: dict = {"lo": a, "hi": b}
        elif kind == "bins":
            edges, ts = list(tr.get("edges", [])), list(tr.get("t", []))
            if (
                not edges
                or len(ts) != len(edges) + 1
                or any(b <= a for a, b in zip(edges, edges[1:], strict=False))
                or any(b < a for a, b in zip(ts, ts[1:], strict=False))
                or min(ts) < 0
                or max(ts) > 1
            ):
                raise _fail(
                    where,
                    "bins need increasing edges and len(edges)+1 non-decreasing t values in [0, 1]",
                )
            params = {"edges": [float(e) for e in edges], "t": [float(t) for t in ts]}
        else:
            params = {}
        missing = _num(where + " missing_points", f.get("missing_points", lo))
        if not lo <= missing <= hi:
            raise _fail(where, f"missing_points {missing} is outside points [{lo}, {hi}]")
        neutral = groups[group].get("neutral", "mid")
        ref = (lo + hi) / 2 if neutral == "mid" else min(max(0.0, lo), hi)
        factors.append(
            Factor(feat, group, lo, hi, int(direction), kind, tuple(params.items()), missing, ref)
        )
    for g, weight in PATENT_GROUPS.items():
        declared = groups[g].get("weight")
        total = sum(f.hi - f.lo for f in factors if f.group == g)
        if declared != weight or abs(total - weight) > 1e-9:
            raise _fail(
                f"group {g}",
                f"weight must be {weight} and its factor ranges must sum to it "
                f"(declared {declared}, factors sum to {total:g})",
            )
    return ExpertSpec(
        version=str(raw["version"]),
        name=str(raw["name"]),
        anchor_points=_num("points_to_pd.anchor_points", ptp.get("anchor_points")),
        anchor_odds=anchor_odds,
        points_to_double_odds=pdo,
        score_scale=scale,
        grade_scale=grades,
        groups=tuple((g, dict(v)) for g, v in groups.items()),
        factors=tuple(factors),
        source=dict(raw),
    )


def load_expert_spec(path: str | os.PathLike | None = None) -> ExpertSpec:
    """Parse a weights file (default: the packaged ``models/expert_scorecard.yaml``)."""
    try:
        if path is None:
            text = files("models").joinpath(DEFAULT_WEIGHTS_FILE).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"cannot read the expert weights file {path or DEFAULT_WEIGHTS_FILE}: {exc}",
            "pass a readable YAML weights file",
        ) from None
    return parse_expert_spec(raw)


class ExpertScorecard:
    """Points-per-factor scorer for the cold start.

    Parameters
    ----------
    spec : ExpertSpec, optional
        Parsed weights (default: the packaged weights file).
    feature_specs : sequence of FeatureSpec, optional
        Registry records to check factor directions against (default: the registry).
        A factor whose direction contradicts its feature's registry direction is refused.
    """

    kind = "expert"

    def __init__(
        self, spec: ExpertSpec | None = None, *, feature_specs: Sequence[FeatureSpec] | None = None
    ) -> None:
        self.spec = spec
        self.feature_specs = feature_specs
        self._prepare()

    def _prepare(self) -> None:
        spec = self.spec or load_expert_spec()
        if not isinstance(spec, ExpertSpec):
            raise ConfigError(
                "The 'spec' parameter of ExpertScorecard must be an ExpertSpec. "
                f"Got {type(spec).__name__} instead.",
                "pass models.load_expert_spec(path)",
            )
        if self.feature_specs is None:
            from features.registry import registry

            known = {f.name: f for f in registry()}
        else:
            known = {f.name: f for f in self.feature_specs}
        clash = [
            f"{f.feature} (weights {f.direction:+d}, registry {known[f.feature].direction:+d})"
            for f in spec.factors
            if f.feature in known and known[f.feature].direction not in (0, f.direction)
        ]
        if clash:
            raise ConfigError(
                "expert factor directions contradict the feature registry: " + ", ".join(clash),
                "fix the direction in the weights file (or the registry record)",
            )
        self.spec_ = spec
        self.labels_zh_ = {n: known[n].label_zh for n in spec.feature_names if n in known}
        self.feature_names_in_ = spec.feature_names
        self.n_features_in_ = len(spec.feature_names)
        self.score_scale_ = spec.score_scale
        self.grade_scale_ = spec.grade_scale
        self._k = spec.score_scale.factor * math.log(2.0) / spec.points_to_double_odds
        ref_total = sum(f.reference_points for f in spec.factors)
        self.base_points_ = float(
            spec.score_scale.score_from_logit(-spec.log_odds_good(np.array([ref_total])))[0]
        )
        self.card_ = {
            "schema": CARD_SCHEMA,
            "kind": "expert",
            "feature_names": list(spec.feature_names),
            "weights": spec.source,
            "score_scale": spec.score_scale.to_dict(),
            "grade_scale": spec.grade_scale.to_dict(),
            "points_to_score": {
                "score_points_per_expert_point": self._k,
                "reference_points": ref_total,
                "base_points": self.base_points_,
            },
        }
        self.model_id = content_id(canonical_json(self.card_))
        self.card_ = {"model_id": self.model_id, **self.card_}

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Expert points per factor (columns = factor features)."""
        Xa = check_columns(X, self.feature_names_in_, what="expert scorecard")
        out = {}
        bad = []
        for f in self.spec_.factors:
            col = Xa[f.feature]
            num = pd.to_numeric(col, errors="coerce")
            if (num.isna() & col.notna()).any():
                bad.append(f.feature)
                continue
            out[f.feature] = f.points(num.astype("Float64").to_numpy(np.float64, na_value=np.nan))
        if bad:
            raise ModelError(
                f"expert scorecard features must be numeric; text found in {', '.join(bad)}",
                "rebuild the feature table (features.build_feature_matrix)",
            )
        return pd.DataFrame(out, index=X.index)

    def score(self, X: pd.DataFrame, *, explain: bool = True) -> ScoreResult:
        """Score a feature table; contributions are score points around the reference firm."""
        pts = self.points(X)
        total = pts.sum(axis=1).to_numpy()
        logit_pd = -self.spec_.log_odds_good(total)
        score = self.score_scale_.score_from_logit(logit_pd)
        pd_ = np.clip(1.0 / (1.0 + np.exp(-logit_pd)), PD_EPS, 1 - PD_EPS)
        if explain:
            ref = np.array([f.reference_points for f in self.spec_.factors])
            contributions = (pts - ref) * self._k
        else:
            contributions = pd.DataFrame(index=X.index, columns=[], dtype=float)
        return ScoreResult(
            pd=pd_,
            score=np.asarray(score, dtype=float),
            grade=self.grade_scale_.assign(pd_),
            contributions=contributions,
            base_points=self.base_points_,
        )

    def save(self, path: str, *, extra_files: dict[str, str | bytes] | None = None) -> str:
        """Write the model folder (model card with the full weights) atomically."""
        files_ = {CARD_FILE: canonical_json(self.card_) + "\n", **(extra_files or {})}
        return str(write_model_dir(path, files_))

    @classmethod
    def _from_card(cls, card: dict) -> ExpertScorecard:
        return cls(parse_expert_spec(card["weights"]))
