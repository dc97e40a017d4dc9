"""Checks and encodings of feature tables shared by the scorers.

A model remembers its feature list, order and per-column kind (numeric or categorical with
its category list). Scoring aligns a new table to that list and, like scikit-learn's
feature-name check, refuses a table with missing or unexpected columns, naming both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_contracts.errors import FeatureMismatchError, ModelError

# Identifier columns a feature matrix carries besides features (docs/data_model.md); they
# are never features and scoring tolerates them.
ID_COLUMNS = ("uscc", "as_of")

# More distinct values than this in a text column looks like an identifier or free text,
# not a category a credit model should learn from.
MAX_CATEGORIES = 200


@dataclass(frozen=True)
class ColumnInfo:
    """How a model reads one feature column."""

    name: str
    kind: str  # "numeric" or "category"
    categories: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d: dict = {"name": self.name, "kind": self.kind}
        if self.kind == "category":
            d["categories"] = list(self.categories)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ColumnInfo:
        return cls(d["name"], d["kind"], tuple(d.get("categories", ())))


def _preview(values: Iterable[object], limit: int = 8) -> str:
    items = [str(v) for v in values]
    more = f" … (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def infer_columns(
    X: pd.DataFrame, categorical: Sequence[str] = (), max_categories: int = MAX_CATEGORIES
) -> list[ColumnInfo]:
    """Decide numeric vs categorical per column of a training table.

    Numeric and boolean columns are numeric unless listed in ``categorical``; text and
    pandas ``category`` columns are categorical. A text column with more than
    ``max_categories`` distinct values is rejected (it is an identifier or free text).
    """
    if X.shape[1] == 0:
        raise ModelError(
            "the feature table has no feature columns",
            "pass a table with at least one feature column besides the label/time/id",
        )
    dup = X.columns[X.columns.duplicated()].tolist()
    if dup:
        raise ModelError(
            f"the feature table has duplicated columns: {_preview(dup)}",
            "rename or drop the duplicated columns",
        )
    out: list[ColumnInfo] = []
    too_many: list[str] = []
    for name in X.columns:
        col = X[name]
        is_cat = (
            name in categorical
            or isinstance(col.dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(col.dtype)
            or col.dtype == object
        )
        if not is_cat:
            if not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col)):
                raise ModelError(
                    f"feature column {name!r} has dtype {col.dtype}, which is neither "
                    "numeric nor categorical",
                    "convert it to numbers or text categories, or drop it",
                )
            out.append(ColumnInfo(str(name), "numeric"))
            continue
        values = col.dropna().astype(str)
        cats = sorted(set(values.tolist()))
        if len(cats) > max_categories:
            too_many.append(f"{name} ({len(cats)} distinct values)")
            continue
        out.append(ColumnInfo(str(name), "category", tuple(cats)))
    if too_many:
        raise ModelError(
            f"non-numeric columns with more than {max_categories} distinct values cannot be "
            f"used as categories: {_preview(too_many)}",
            "drop identifier/free-text columns, pass them as --id, or convert them to numbers",
        )
    return out


def check_columns(X: pd.DataFrame, expected: Sequence[str], *, what: str = "model") -> pd.DataFrame:
    """Reorder ``X`` to ``expected``; raise listing missing and unexpected columns.

    Identifier columns (``uscc``, ``as_of``) are tolerated and dropped.
    """
    if not isinstance(X, pd.DataFrame):
        raise FeatureMismatchError(
            f"features must be a pandas DataFrame with named columns, got {type(X).__name__}",
            "pass a DataFrame whose columns are the model's feature names",
        )
    present = [str(c) for c in X.columns]
    expected_set = set(expected)
    missing = [c for c in expected if c not in set(present)]
    unexpected = [c for c in present if c not in expected_set and c not in ID_COLUMNS]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {_preview(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {_preview(unexpected)}")
        raise FeatureMismatchError(
            f"the feature table does not match the {what}'s features ({'; '.join(parts)})",
            "build the table with the same feature list as the model "
            "(model_card.json 'features'), or drop the extra columns",
        )
    return X[list(expected)]


def encode(X: pd.DataFrame, columns: Sequence[ColumnInfo]) -> np.ndarray:
    """Float matrix for LightGBM: numeric columns as floats (NaN = missing), categorical
    columns as the integer code of their category in the stored list (unseen or missing =
    NaN, which LightGBM sends to the 'other' side of every categorical split)."""
    out = np.empty((len(X), len(columns)), dtype=np.float64)
    bad: list[str] = []
    for j, info in enumerate(columns):
        col = X[info.name]
        if info.kind == "numeric":
            if pd.api.types.is_bool_dtype(col.dtype):
                col = col.astype("Float64")
            if not pd.api.types.is_numeric_dtype(col.dtype):
                num = pd.to_numeric(col, errors="coerce")
                if (num.isna() & col.notna()).any():
                    bad.append(info.name)
                    continue
                col = num
            out[:, j] = col.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            lookup = {c: float(i) for i, c in enumerate(info.categories)}
            mask = col.notna().to_numpy()
            codes = np.full(len(col), np.nan)
            if mask.any():
                codes[mask] = col[mask].astype(str).map(lookup).astype(float).to_numpy()
            out[:, j] = codes
    if bad:
        raise FeatureMismatchError(
            f"numeric feature columns contain text: {_preview(bad)}",
            "fix the values (numbers only, empty for missing) or refit with them as categories",
        )
    inf = ~np.isfinite(out) & ~np.isnan(out)
    if inf.any():
        cols = sorted({columns[j].name for j in np.nonzero(inf)[1]})
        raise FeatureMismatchError(
            f"feature columns contain infinite values: {_preview(cols)}",
            "replace ±inf by a capped value or leave the cell empty (missing)",
        )
    return out


def check_binary_label(y: object, name: str = "label") -> np.ndarray:
    """The label as int8 0/1; reject anything that is not a complete binary label."""
    s = pd.Series(y)
    if s.isna().any():
        raise ModelError(
            f"the label {name!r} is missing in {int(s.isna().sum())} of {len(s)} rows",
            "drop unlabelled rows before fitting (e.g. loans younger than 12 months)",
        )
    values = pd.unique(s)
    allowed = {0, 1}
    try:
        as_num = {float(v) for v in values}
    except (TypeError, ValueError):
        as_num = set()
    if not as_num or not as_num <= allowed:
        shown = sorted(str(v) for v in values)
        raise ModelError(
            f"the label {name!r} must be binary (0 = good, 1 = bad); found "
            f"{len(shown)} values: {_preview(shown)}",
            "recode the label to 0/1 (1 = default) before fitting",
        )
    arr = s.astype(float).to_numpy().astype(np.int8)
    if len(set(arr.tolist())) < 2:
        raise ModelError(
            f"the label {name!r} has only one class ({int(arr[0])}) in {len(arr)} rows",
            "a default model needs both good (0) and bad (1) rows",
        )
    return arr


def table_hash(*parts: object) -> str:
    """sha256 of a training table's content (values and column names, not row index)."""
    h = hashlib.sha256()
    for part in parts:
        if part is None:
            h.update(b"\x00none")
            continue
        if isinstance(part, pd.DataFrame):
            h.update("\x1f".join(map(str, part.columns)).encode())
            values = pd.util.hash_pandas_object(part, index=False).to_numpy()
        else:
            values = pd.util.hash_pandas_object(pd.Series(part), index=False).to_numpy()
        h.update(values.tobytes())
    return h.hexdigest()
