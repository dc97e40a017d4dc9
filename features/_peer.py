"""Peer-relative percentiles (高于同行业 x% 企业)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from data_contracts.errors import DataError

PEER_BASES = ("valid_invention_count", "total_application_count", "forward_citations_per_year")


def peer_percentiles(
    matrix: pd.DataFrame,
    reference: pd.DataFrame,
    by: str = "firm_industry_section",
    features: Sequence[str] = PEER_BASES,
    *,
    on: str | None = None,
    side: str = "lower",
    min_peers: int = 1,
) -> pd.DataFrame:
    """Percentile (0–100) of each row's value among the reference firms of its group.

    The percentile is the share of reference firms in the same ``by`` group (and the same
    ``on`` value, e.g. a reference date) whose value is strictly lower, so ``85`` reads
    "高于同行业 85% 企业" (``side="higher"``: strictly higher; the two differ by the firms
    tied with the row, which an explanation needs to tell "the best value, shared by 89 % of
    peers" from "above 11 % of peers"). Rows whose group is NA, or absent from the
    reference, are ranked among all reference firms (of the same ``on`` value). NaN values
    get NaN.

    Parameters
    ----------
    matrix : pd.DataFrame
        Rows to rank; needs ``by``, every feature, and ``on`` if given.
    reference : pd.DataFrame
        The peer population (e.g. all registry firms at the same as_of).
    by : str
        Grouping column.
    features : sequence of str
        Columns to rank.
    on : str, optional
        Extra key that must match between matrix and reference rows.
    side : {"lower", "higher", "both"}
        Share of peers strictly lower (default) or strictly higher; ``"both"`` gives the
        lower shares as ``peer_pct_<feature>`` and the higher as
        ``peer_pct_higher_<feature>`` from one sort of each peer group.
    min_peers : int
        A group with fewer reference firms with a value than this is no peer group: its
        rows are ranked among all reference firms (per feature: a per-patent average of a
        section may have a handful of firms with patents). A firm alone in its section is
        otherwise "the highest" on everything.

    Returns
    -------
    pd.DataFrame
        ``peer_pct_<feature>`` per feature, index = ``matrix.index``.
    """
    if side not in ("lower", "higher", "both"):
        raise ValueError(
            f"The 'side' parameter must be 'lower', 'higher' or 'both'. Got {side!r} instead."
        )
    need = [by, *features] + ([on] if on else [])
    for name, df in (("matrix", matrix), ("reference", reference)):
        if not isinstance(df, pd.DataFrame):
            raise DataError(
                f"peer_percentiles: {name} must be a DataFrame, got {type(df).__name__}.",
                "Pass feature matrices from build_feature_matrix.",
            )
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise DataError(
                f"peer_percentiles: {name} lacks column(s) {', '.join(missing)}.",
                "Pass feature matrices with the grouping column and the features to rank.",
            )
    out = pd.DataFrame(index=matrix.index)
    m_on = matrix[on].to_numpy() if on else np.zeros(len(matrix))
    r_on = reference[on].to_numpy() if on else np.zeros(len(reference))
    m_grp = matrix[by].astype("object").where(matrix[by].notna(), None).to_numpy()
    r_grp = reference[by].astype("object").where(reference[by].notna(), None).to_numpy()
    for f in features:
        x = _rounded(matrix[f])
        ref = _rounded(reference[f])
        res = np.full(len(matrix), np.nan)
        res_hi = np.full(len(matrix), np.nan)
        for key in pd.unique(m_on):
            m_sel = m_on == key
            r_sel = r_on == key
            everyone = np.sort(ref[r_sel & ~np.isnan(ref)])
            groups = {}
            for g in pd.unique(r_grp[r_sel]):
                if g is None:
                    continue
                v = ref[r_sel & (r_grp == g)]
                groups[g] = np.sort(v[~np.isnan(v)])
            for g in pd.unique(m_grp[m_sel]):
                rows = m_sel & ((m_grp == g) if g is not None else pd.isna(m_grp))
                pool = groups.get(g) if g is not None else None
                if pool is None or len(pool) < max(min_peers, 1):
                    pool = everyone
                if len(pool) == 0:
                    continue
                xv = x[rows]
                missing = np.isnan(xv)
                if side != "higher":
                    pct = 100.0 * np.searchsorted(pool, xv, side="left") / len(pool)
                    res[rows] = np.where(missing, np.nan, pct)
                if side != "lower":
                    above = len(pool) - np.searchsorted(pool, xv, side="right")
                    res_hi[rows] = np.where(missing, np.nan, 100.0 * above / len(pool))
        out[f"peer_pct_{f}"] = res_hi if side == "higher" else res
        if side == "both":
            out[f"peer_pct_higher_{f}"] = res_hi
    return out


def _rounded(column: pd.Series) -> np.ndarray:
    """A feature as floats rounded to 9 decimals (NaN kept), so that a firm never ranks above
    itself by a float's last bit and percentiles and medians compare the same numbers."""
    return np.round(column.to_numpy(dtype=float, na_value=np.nan), 9)


ALL_PEERS = "*"
"""Row of :func:`peer_medians` for the whole reference (unknown or too small groups)."""


def peer_medians(
    reference: pd.DataFrame, by: str, features: Sequence[str], *, min_peers: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The median firm of each peer group, feature by feature, as :func:`peer_percentiles`
    counts peers: the lower median of the group's firms with a value (values rounded the
    same way), the whole reference's for a group with fewer than ``min_peers`` of them.

    A firm whose share of strictly lower peers is at least 50 % then has a value above this
    median, and one whose share of strictly higher peers is at least 50 % a value at most
    it: an explanation told against it never contradicts the percentile.

    Where more than half of a group's firms have no value (a pledge ratio of firms that never
    pledged), the median firm has none either: NaN. Told against the median of the few with
    a value, the typical firm of the group would read as worse than its own median firm.

    Returns
    -------
    (medians, pooled)
        ``medians``: one row per group plus :data:`ALL_PEERS`, one column per feature (NaN
        where most firms have no value). ``pooled``: same shape, True where the group was
        too small and the whole reference was used.
    """
    values = pd.DataFrame({f: _rounded(reference[f]) for f in features}, index=reference.index)
    key = reference[by].astype("object")
    key = key.where(key.notna(), None)
    grouped = values.groupby(key.to_numpy(), sort=True, dropna=True)
    medians = grouped.quantile(0.5, interpolation="lower")
    counts = grouped.count()
    sizes = grouped.size().to_numpy()[:, None]
    overall = values.quantile(0.5, interpolation="lower") if len(values) else values.sum() * np.nan
    overall = overall.mask(values.count() * 2 < len(values))
    typical_missing = (counts * 2 < sizes) & (sizes >= min_peers)
    pooled = (counts < min_peers) & ~typical_missing
    medians = medians.mask(pooled, overall, axis=1).mask(typical_missing)
    medians.loc[ALL_PEERS] = overall
    pooled.loc[ALL_PEERS] = False
    return medians, pooled.astype(bool)
