"""Population stability on stored reference bins.

The bins are fixed on the training population when the model is trained and stored in the
model folder (``reference.json``), so monitoring needs only the model folder and today's
population, never the training data. Missing values get their own bin: a feature becoming
more often unknown (e.g. a source stops delivering) is exactly the drift to catch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# Shares are floored so an empty bin stays finite (the usual 1e-4 convention).
_FLOOR = 1e-4


@dataclass(frozen=True)
class BinnedReference:
    """Bins of one variable on the reference population.

    Attributes
    ----------
    edges : list of float
        Inner cut points (``len(edges) + 1`` value bins; a value equal to an edge falls in
        the bin above it: ``[edge, next edge)``).
    shares : list of float
        Share of the reference in each value bin, then the missing bin last.
    n : int
        Reference rows.
    """

    edges: list[float]
    shares: list[float]
    n: int
    categories: list[str] | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.categories is None:
            d.pop("categories")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BinnedReference:
        cats = d.get("categories")
        return cls(
            [float(e) for e in d["edges"]],
            [float(s) for s in d["shares"]],
            int(d["n"]),
            None if cats is None else [str(c) for c in cats],
        )


def category_bins(values: object) -> BinnedReference:
    """One bin per category seen in the reference, then ``other`` (unseen), then missing."""
    s = pd.Series(values).astype("object")
    cats = sorted({str(v) for v in s[s.notna()]})
    ref = BinnedReference([], [], int(len(s)), cats)
    return BinnedReference([], _category_shares(ref, s).tolist(), int(len(s)), cats)


def _category_shares(ref: BinnedReference, values: object) -> np.ndarray:
    s = pd.Series(values).astype("object")
    present = s.notna().to_numpy()
    cats = ref.categories or []
    index = {c: i for i, c in enumerate(cats)}
    idx = np.array([index.get(str(v), len(cats)) for v in s[present]], dtype=np.int64)
    counts = np.bincount(idx, minlength=len(cats) + 1).astype(float)
    counts = np.append(counts, float((~present).sum()))
    return counts / max(len(s), 1)


def _counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    idx = np.searchsorted(edges, values[finite], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return np.append(counts, float((~finite).sum()))


def _as_float(values: object) -> np.ndarray:
    s = pd.Series(values)
    if s.dtype == bool or str(s.dtype) == "boolean":
        s = s.astype("Float64")
    return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def reference_bins(values: object, n_bins: int = 10) -> BinnedReference:
    """Quantile bins of ``values`` (ties merged, so a flag gets two bins, not ten)."""
    v = _as_float(values)
    finite = v[np.isfinite(v)]
    if len(finite):
        # Edges are observed values ("lower" quantiles), so a flag or a count gets its
        # natural bins; an edge at the maximum would only add an always-empty top bin.
        qs = np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1], method="lower")
        edges = np.unique(qs)
        edges = edges[edges < finite.max()]
    else:
        edges = np.array([], dtype=float)
    counts = _counts(v, edges)
    shares = counts / max(len(v), 1)
    return BinnedReference(edges.tolist(), shares.tolist(), int(len(v)))


def psi_table(ref: BinnedReference, values: object) -> pd.DataFrame:
    """Per-bin expected and actual shares and PSI terms of ``values`` against ``ref``."""
    expected = np.asarray(ref.shares, dtype=float)
    if ref.categories is not None:
        actual = _category_shares(ref, values)
        labels = [*ref.categories, "其他 other", "缺失 missing"]
    else:
        v = _as_float(values)
        edges = np.asarray(ref.edges, dtype=float)
        actual = _counts(v, edges) / max(len(v), 1)
        lows = [-np.inf, *edges.tolist()]
        highs = [*edges.tolist(), np.inf]
        # _counts puts a value equal to an edge in the bin above it: [lo, hi)
        labels = [f"[{lo:.4g}, {hi:.4g})" for lo, hi in zip(lows, highs, strict=True)]
        labels[0] = f"(-inf, {highs[0]:.4g})"
        labels.append("缺失 missing")
    e, a = np.maximum(expected, _FLOOR), np.maximum(actual, _FLOOR)
    return pd.DataFrame(
        {
            "bin": labels,
            "expected": expected,
            "actual": actual,
            "psi": (a - e) * np.log(a / e),
        }
    )


def psi_value(ref: BinnedReference, values: object) -> float:
    """Population stability index of ``values`` against the reference bins."""
    return float(psi_table(ref, values)["psi"].sum())


def psi_level(value: float, watch: float, act: float) -> str:
    """``stable``, ``watch`` or ``act`` (domain.md §8: 0.10 watch, 0.25 act)."""
    if not np.isfinite(value):
        return "unknown"
    return "act" if value >= act else ("watch" if value >= watch else "stable")
