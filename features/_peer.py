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
    side : {"lower", "higher"}
        Share of peers strictly lower (default) or strictly higher.

    Returns
    -------
    pd.DataFrame
        ``peer_pct_<feature>`` per feature, index = ``matrix.index``.
    """
    if side not in ("lower", "higher"):
        raise ValueError(f"The 'side' parameter must be 'lower' or 'higher'. Got {side!r} instead.")
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
        # rounded so a firm never ranks above itself by a float's last bit
        x = np.round(matrix[f].to_numpy(dtype=float, na_value=np.nan), 9)
        ref = np.round(reference[f].to_numpy(dtype=float, na_value=np.nan), 9)
        res = np.full(len(matrix), np.nan)
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
                if pool is None or len(pool) == 0:
                    pool = everyone
                if len(pool) == 0:
                    continue
                xv = x[rows]
                if side == "lower":
                    pct = 100.0 * np.searchsorted(pool, xv, side="left") / len(pool)
                else:
                    pct = 100.0 * (len(pool) - np.searchsorted(pool, xv, side="right")) / len(pool)
                res[rows] = np.where(np.isnan(xv), np.nan, pct)
        out[f"peer_pct_{f}"] = res
    return out
