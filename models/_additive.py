"""Exact, cheap contributions for an additive (one feature per tree) LightGBM booster.

With ``interaction_constraints=[[0], [1], …]`` every tree splits on a single feature, so the
raw margin is ``Σ_f g_f(x_f)`` where ``g_f`` is the sum of that feature's trees: a step
function of ``x_f`` alone. TreeSHAP of such a tree is ``tree(x) - E_cover[tree]`` (the
expectation weighted by the training counts stored in the tree), so the SHAP value of
feature ``f`` is ``g_f(x_f) - Σ E_cover``. We tabulate ``g_f`` once per model on the sorted
union of the feature's split thresholds, and a firm's contribution is one ``searchsorted``
and one lookup per feature: prediction speed instead of TreeSHAP's trees × leaves × depth².
The tables reproduce LightGBM's own decision rules (``x <= threshold`` goes left; NaN takes
the default side when the split's missing type is NaN and is read as 0 when it is None;
categorical: code in the split's set goes left, NaN/unknown goes right), which the tests
check against ``predict(raw_score=True)`` and ``pred_contrib``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_contracts.errors import ModelError

# LightGBM's kZeroThreshold is the float literal 1e-35f, i.e. 1.0000000180025095e-35.
K_ZERO_THRESHOLD = float(np.float32(1e-35))


@dataclass(frozen=True)
class FeatureTable:
    """Step function of one feature's trees, centred on their training expectation."""

    kind: str  # "numeric" or "category"
    thresholds: np.ndarray  # numeric: sorted split thresholds; category: unused
    values: np.ndarray  # numeric: len(thresholds)+1 bins; category: one per code, then "other"
    nan_value: float


def _split_features(node: dict, acc: set[int]) -> None:
    if "split_index" in node:
        acc.add(int(node["split_feature"]))
        _split_features(node["left_child"], acc)
        _split_features(node["right_child"], acc)


def _expected(node: dict) -> float:
    """Training-count-weighted mean leaf value: TreeSHAP's expectation of the tree."""
    if "leaf_value" in node:
        return float(node["leaf_value"])
    lc, rc = node["left_child"], node["right_child"]
    nl = lc.get("leaf_count", lc.get("internal_count", 0))
    nr = rc.get("leaf_count", rc.get("internal_count", 0))
    total = nl + nr
    if total == 0:
        return 0.5 * (_expected(lc) + _expected(rc))
    return (nl * _expected(lc) + nr * _expected(rc)) / total


def _cat_set(node: dict) -> set[int]:
    return {int(t) for t in str(node["threshold"]).split("||") if t != ""}


def _eval_numeric(
    node: dict, bins: np.ndarray, nan: bool, thr_index: dict[float, int]
) -> np.ndarray:
    """Tree value for each bin index (x in bin j ⇔ #thresholds < x == j), or for NaN."""
    if "leaf_value" in node:
        return np.full(bins.shape, float(node["leaf_value"]))
    if node["decision_type"] != "<=":
        raise ModelError("unexpected decision type in a numeric tree", "refit the model")
    m = thr_index[float(node["threshold"])]
    missing = node.get("missing_type", "None")
    if missing == "Zero":
        raise ModelError(
            "the booster treats zeros as missing, which additive tables do not support",
            "refit without zero_as_missing",
        )
    if nan:
        if missing == "NaN":
            go_left = np.full(bins.shape, bool(node["default_left"]))
        else:  # LightGBM reads NaN as 0.0 when the split has no missing type
            go_left = np.full(bins.shape, float(node["threshold"]) >= 0.0)
    else:
        go_left = bins <= m
    out = np.empty(bins.shape)
    if go_left.any():
        out[go_left] = _eval_numeric(node["left_child"], bins[go_left], nan, thr_index)
    if (~go_left).any():
        out[~go_left] = _eval_numeric(node["right_child"], bins[~go_left], nan, thr_index)
    return out


def _eval_category(node: dict, codes: np.ndarray) -> np.ndarray:
    """Tree value per category code; code -1 stands for NaN/unknown (always goes right)."""
    if "leaf_value" in node:
        return np.full(codes.shape, float(node["leaf_value"]))
    if node["decision_type"] != "==":
        raise ModelError("unexpected decision type in a categorical tree", "refit the model")
    go_left = np.isin(codes, list(_cat_set(node)))
    out = np.empty(codes.shape)
    if go_left.any():
        out[go_left] = _eval_category(node["left_child"], codes[go_left])
    if (~go_left).any():
        out[~go_left] = _eval_category(node["right_child"], codes[~go_left])
    return out


def _thresholds(node: dict, acc: set[float]) -> None:
    if "split_index" in node:
        acc.add(float(node["threshold"]))
        _thresholds(node["left_child"], acc)
        _thresholds(node["right_child"], acc)


def _categories(node: dict, acc: set[int]) -> None:
    if "split_index" in node:
        acc.update(_cat_set(node))
        _categories(node["left_child"], acc)
        _categories(node["right_child"], acc)


@dataclass(frozen=True)
class AdditiveTables:
    """Per-feature contribution tables of an additive booster."""

    base: float  # Σ over trees of E_cover[tree]: the margin of the 'average' firm
    tables: tuple[FeatureTable, ...]

    @classmethod
    def from_booster_dump(cls, dump: dict, kinds: list[str]) -> AdditiveTables:
        """Build tables from ``Booster.dump_model()``; raise if a tree mixes features."""
        by_feature: list[list[dict]] = [[] for _ in kinds]
        base = 0.0
        for info in dump["tree_info"]:
            root = info["tree_structure"]
            feats: set[int] = set()
            _split_features(root, feats)
            base += _expected(root)
            if len(feats) > 1:
                raise ModelError(
                    f"tree {info['tree_index']} splits on several features, so the booster "
                    "is not additive",
                    "fit with structure='additive' or explain with pred_contrib",
                )
            if feats:
                by_feature[feats.pop()].append(root)
        tables = []
        for kind, trees in zip(kinds, by_feature, strict=True):
            if kind == "category":
                cats: set[int] = set()
                for t in trees:
                    _categories(t, cats)
                k = max(cats) + 1 if cats else 0
                codes = np.append(np.arange(k), -1)
                vals = np.zeros(k + 1)
                for t in trees:
                    vals += _eval_category(t, codes) - _expected(t)
                tables.append(FeatureTable("category", np.empty(0), vals, float(vals[-1])))
                continue
            thr: set[float] = set()
            for t in trees:
                _thresholds(t, thr)
            sorted_thr = np.array(sorted(thr), dtype=np.float64)
            index = {v: i for i, v in enumerate(sorted_thr.tolist())}
            bins = np.arange(len(sorted_thr) + 1)
            vals = np.zeros(len(bins))
            nan_val = 0.0
            for t in trees:
                e = _expected(t)
                vals += _eval_numeric(t, bins, False, index) - e
                nan_val += float(_eval_numeric(t, np.zeros(1, dtype=int), True, index)[0]) - e
            tables.append(FeatureTable("numeric", sorted_thr, vals, nan_val))
        return cls(base, tuple(tables))

    def contributions(self, M: np.ndarray) -> np.ndarray:
        """Margin contribution per row and feature for the encoded matrix ``M``."""
        out = np.empty(M.shape, dtype=np.float64)
        for j, tab in enumerate(self.tables):
            x = M[:, j]
            nan = np.isnan(x)
            if tab.kind == "numeric":
                # LightGBM's dense-row reader drops |x| <= kZeroThreshold (1e-35 as a float32)
                # as a sparse zero, so such values are compared as exactly 0.
                xz = np.where(np.abs(x) <= K_ZERO_THRESHOLD, 0.0, x)
                # x in bin j ⇔ j thresholds are < x: x <= thresholds[j] goes left there.
                col = tab.values[np.searchsorted(tab.thresholds, xz, side="left")]
            else:
                k = len(tab.values) - 1
                codes = np.where(nan, -1, x).astype(np.int64)
                codes = np.where((codes < 0) | (codes >= k), k, codes)
                col = tab.values[codes]
            col[nan] = tab.nan_value
            out[:, j] = col
        return out
