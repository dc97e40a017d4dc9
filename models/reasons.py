"""Top reasons per firm from its per-feature points (vectorised, no per-row Python loop)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def top_reasons(
    contributions: pd.DataFrame,
    k: int = 3,
    *,
    labels: dict[str, str] | None = None,
    min_points: float = 0.05,
) -> pd.DataFrame:
    """The ``k`` features raising and the ``k`` lowering each firm's score most.

    Parameters
    ----------
    contributions : DataFrame
        Score points per feature (rows = firms), as in ``ScoreResult.contributions``.
    k : int
        Reasons per direction.
    labels : dict, optional
        Display names (e.g. Chinese labels) per feature; default the feature name.
    min_points : float
        Contributions smaller than this in absolute value are not reasons.

    Returns
    -------
    DataFrame
        ``reasons_up`` and ``reasons_down``: ``"name +12.3; name +4.0"`` strings (empty when
        none), index as ``contributions``.
    """
    if contributions.shape[1] == 0:
        empty = pd.Series([""] * len(contributions), index=contributions.index, dtype="str")
        return pd.DataFrame({"reasons_up": empty, "reasons_down": empty})
    names = np.array([(labels or {}).get(c, c) for c in contributions.columns], dtype=object)
    P = contributions.to_numpy(dtype=float)
    k = min(k, P.shape[1])
    out = {}
    for col, sign in (("reasons_up", 1.0), ("reasons_down", -1.0)):
        S = sign * P
        # argsort on the negated values with a stable sort keeps ties in column order.
        idx = np.argsort(-S, axis=1, kind="stable")[:, :k]
        vals = np.take_along_axis(P, idx, axis=1)
        keep = sign * vals >= min_points
        parts = np.where(
            keep,
            names[idx] + " " + np.char.mod("%+.1f", vals).astype(object),
            "",
        )
        joined = ["; ".join(p for p in row if p) for row in parts]
        out[col] = pd.Series(joined, index=contributions.index, dtype="str")
    return pd.DataFrame(out)
