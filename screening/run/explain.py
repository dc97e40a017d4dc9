"""Chinese explanations in score points (domain.md §8).

For each explained firm: the top-k factors raising and the top-k lowering its score, with
the firm's value and its percentile among peers of the same industry section, generated
from the feature registry labels, e.g. ``有效发明专利数 12 件（高于同行业 85% 企业），+38 分``.
Near-duplicate features (a count and its peer percentile, or features correlated above a
threshold) are explained as one factor so a reader never sees the same fact twice.

Everything is vectorised over firms; only the final string assembly loops, over at most
``2 × top_k`` cells per firm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from screening.run._frames import join_by

REASON_COLUMNS = [
    "uscc",
    "direction",
    "slot",
    "factor",
    "label_zh",
    "members",
    "points",
    "value",
    "percentile",
    "percentile_higher",
    "text",
]
_PCT_KINDS = {"count", "share", "rate", "years", "amount"}
GROUP_ZH = {
    "quantity": "专利数量",
    "structure": "专利结构",
    "technical": "技术含量",
    "legal": "法律稳定性",
    "use": "运用情况",
    "pledge": "可质押专利",
    "credit": "信用记录",
    "programme": "资质荣誉",
    "firm": "企业基本情况",
}
"""Chinese names of the registry groups, for the points of the factors a reason list does
not name (the waterfall's 其他 bars, by group)."""


def _spec_get(spec, key, default=None):
    return getattr(spec, key, default) if spec is not None else default


def factor_groups(
    features: Sequence[str],
    *,
    specs: Mapping[str, object],
    sample: pd.DataFrame | None = None,
    threshold: float = 0.95,
) -> dict[str, str]:
    """Map every feature to the lead feature of its explanation group.

    ``peer_pct_X`` always joins ``X``. With ``sample`` (a deterministic sample of the
    scored feature matrix), numeric features whose Spearman correlation is at least
    ``threshold`` in absolute value are merged too (single linkage). The lead of a group is
    its first member in ``features`` order that is not a ``peer_pct_`` feature; a reason
    names, firm by firm, the member that carries the group's points (:func:`top_reasons`).

    Parameters
    ----------
    features : sequence of str
        Model features in model order.
    specs : mapping
        Registry records by name (``features.registry.by_name()``).
    sample : DataFrame, optional
        Feature values used for the correlation merge.
    threshold : float
        Absolute Spearman correlation at or above which two features merge.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"The 'threshold' parameter must be in (0, 1]. Got {threshold!r} instead.")
    features = list(features)
    parent = {f: f for f in features}

    def find(f: str) -> str:
        while parent[f] != f:
            parent[f] = parent[parent[f]]
            f = parent[f]
        return f

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            # keep the earlier feature as root so the result does not depend on merge order
            first, second = sorted((ra, rb), key=features.index)
            parent[second] = first

    for f in features:
        if f.startswith("peer_pct_") and f[len("peer_pct_") :] in parent:
            union(f[len("peer_pct_") :], f)
    if sample is not None and len(sample) > 2:
        numeric = [
            f
            for f in features
            if f in sample.columns
            and _spec_get(specs.get(f), "kind", "count") != "category"
            and pd.api.types.is_numeric_dtype(sample[f])
        ]
        values = sample[numeric].astype("float64")
        values = values.loc[:, values.nunique(dropna=True) > 1]
        if values.shape[1] > 1:
            ranks = values.rank()
            ranks = ranks.fillna(ranks.mean()).to_numpy(dtype="float64", na_value=np.nan)
            corr = np.corrcoef(ranks.T)
            cols = list(values.columns)
            ii, jj = np.nonzero(np.triu(np.abs(np.nan_to_num(corr)) >= threshold, k=1))
            for i, j in zip(ii, jj, strict=True):
                union(cols[i], cols[j])
    groups: dict[str, list[str]] = {}
    for f in features:
        groups.setdefault(find(f), []).append(f)
    lead_of = {}
    for members in groups.values():
        plain = [m for m in members if not m.startswith("peer_pct_")]
        lead = (plain or members)[0]
        for m in members:
            lead_of[m] = lead
    return lead_of


def _fmt_value(value: float, spec) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "无数据"
    kind = _spec_get(spec, "kind", "count")
    unit = _spec_get(spec, "unit", "") or ""
    vmax = _spec_get(spec, "valid_max")
    if kind == "flag":
        return "是" if value >= 0.5 else "否"
    if kind == "count":
        return f"{value:.0f} {unit}".strip()
    # a share is a fraction whatever its range (R&D ÷ revenue has no upper bound); a rate is
    # one when bounded by 1 (peer percentiles are rates on 0–100, already in percent)
    if kind == "share" or (kind == "rate" and vmax is not None and vmax <= 1):
        return _percent(value * 100)
    if kind == "years":
        return f"{value:.1f} {unit or '年'}"
    if unit == "%":
        return _percent(value)
    if unit in _WHOLE_UNITS:
        return f"{value:.0f} {unit}"
    return f"{value:.2f} {unit}".strip()


def _percent(pct: float) -> str:
    """Whole percent, one decimal below 10 % so that small shares stay apart ("3.2%", not
    "3%"; R&D intensity is mostly 1–10 %) and a small non-zero share never reads "0%"."""
    return f"{pct:.1f}%" if 0 < abs(pct) < 9.95 else f"{pct:.0f}%"


_WHOLE_UNITS = frozenset({"天"})
"""Units of amounts that are whole numbers: "299 天", never "299.00 天" (averages such as
claims per invention keep their decimals)."""


def _peer_note(lower: float, higher: float, direction: int, *, everyone: bool = False) -> str:
    """Where a value stands among its peers.

    ``lower`` / ``higher``: exact percent of peers strictly lower / higher (``higher`` NaN
    when unknown: then only the share lower is told); the number shown is the share lower,
    rounded down. A value no peer beats is "the highest" however many peers share it (89 %
    of peers at a 100 % share made it "高于同行业 11% 企业"). At either end a risk factor
    (registry direction −1) says which end is good: a firm without disputes read
    "处于同行业最低水平" next to +3 分. ``everyone``: the peers are all screened firms (the
    firm's industry is unknown or has too few firms with a value).
    """
    peers = "参评企业" if everyone else "同行业"

    def above(pct: float) -> str:
        n = int(np.floor(pct))
        if everyone:
            return f"高于 {n}% 的参评企业" if n >= 1 else "高于不到 1% 的参评企业"
        return f"高于同行业 {n}% 企业" if n >= 1 else "高于同行业不到 1% 的企业"

    if np.isnan(higher):
        return above(lower) if lower >= 1 else f"处于{peers}最低水平"
    if lower == 0 and higher == 0:
        return f"与{peers}持平"
    if higher == 0:
        return f"为{peers}最高（最差）水平" if direction < 0 else f"为{peers}最高水平"
    if lower == 0:
        return f"为{peers}最低（最优）水平" if direction < 0 else f"为{peers}最低水平"
    return above(lower)


def _fmt_points(points: float) -> str:
    """One decimal, as the waterfall and the packages' ``points`` show them (whole points
    made 4.3 read "+4" beside a "+4.3" bar)."""
    return f"{points:+.1f} 分"


def _by_group(points: np.ndarray, leads: Sequence[str], specs: Mapping[str, object]):
    """Sum the columns of ``points`` (one per lead feature) by registry group."""
    groups: dict[str, list[int]] = {}
    for i, lead in enumerate(leads):
        group = _spec_get(specs.get(lead), "group", "")
        groups.setdefault(group if group in GROUP_ZH else "", []).append(i)
    return {g: points[:, idx].sum(axis=1) for g in [*GROUP_ZH, ""] if (idx := groups.get(g))}


def explain(
    contributions: pd.DataFrame,
    values: pd.DataFrame,
    percentiles: pd.DataFrame,
    uscc: Sequence[str],
    *,
    specs: Mapping[str, object],
    lead_of: Mapping[str, str],
    top_k: int = 3,
    with_rest: bool = False,
    higher: pd.DataFrame | None = None,
    pooled: pd.DataFrame | None = None,
    no_typical: pd.DataFrame | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Top-k reasons up and down per firm, as a long table.

    Parameters
    ----------
    contributions : DataFrame
        Score points per feature (rows aligned with ``uscc``), from ``ScoreResult``.
    values : DataFrame
        The firms' feature values (same rows; at least the lead features).
    percentiles : DataFrame
        Peer percentiles: share of peers strictly lower (same rows; NaN where not
        meaningful).
    uscc : sequence of str
        Firm identifiers, one per row.
    specs : mapping
        Registry records by feature name (labels, units, kinds).
    lead_of : mapping
        :func:`factor_groups` output.
    top_k : int
        Reasons per direction.
    with_rest : bool
        Also return, per firm, the points of the factors not shown (``other_up``,
        ``other_down``) and the same by registry group (``up:<group>``, ``down:<group>``,
        groups of :data:`GROUP_ZH`), for the waterfall's 其他 bars.
    higher : DataFrame, optional
        Share of peers strictly higher (same rows and columns as ``percentiles``). With it
        the text tells ties apart (a firm no peer beats reads "为同行业最高水平", not "高于同行业
        11% 企业" when 89 % of peers share its value) and, at either end, which end of a
        risk factor (registry direction −1) is good: "为同行业最低（最优）水平".
    pooled : DataFrame, optional
        True where a firm's percentile (and median) for a feature is among all screened
        firms, not its industry (an unknown or too small section): the text then says
        参评企业, not 同行业.
    no_typical : DataFrame, optional
        True where most of a firm's peers have no value for a feature (their median firm
        has none: a pledge ratio where most never pledged). Points are told against that
        firm, so a value's text says so ("同行业多数企业无此项数据") instead of a percentile
        among the few with a value, which could read "高于同行业 37% 企业" beside "+4.1 分".

    Returns
    -------
    DataFrame
        Columns :data:`REASON_COLUMNS`; one row per (firm, direction, slot) with a non-zero
        factor, ``direction`` = ``up`` or ``down``, ordered by firm input order. With
        ``with_rest``, a tuple (reasons, rest) where rest has ``uscc, other_up, other_down``.
    """
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"The 'top_k' parameter must be a positive int. Got {top_k!r} instead.")
    features = list(contributions.columns)
    leads = list(dict.fromkeys(lead_of.get(f, f) for f in features))
    g_index = {g: i for i, g in enumerate(leads)}
    onehot = np.zeros((len(features), len(leads)))
    for i, f in enumerate(features):
        onehot[i, g_index[lead_of.get(f, f)]] = 1.0
    members = onehot.sum(axis=0).astype(int)
    grouped = np.nan_to_num(contributions.to_numpy(dtype="float64")) @ onehot
    k = min(top_k, len(leads))
    uscc = np.asarray(uscc, dtype=object)

    frames = []
    rest = {}
    for direction, sign in (("up", 1.0), ("down", -1.0)):
        # stable sort on the signed points: ties go to the earlier factor, reproducibly
        order = np.argsort(-sign * grouped, axis=1, kind="stable")[:, :k]
        pts = np.take_along_axis(grouped, order, axis=1)
        keep = sign * pts >= 0.05
        rows, slots = np.nonzero(keep)
        unshown = np.where(sign * grouped > 0, grouped, 0.0)
        np.put_along_axis(unshown, order, np.where(keep, 0.0, pts * (sign * pts > 0)), axis=1)
        rest[f"other_{direction}"] = unshown.sum(axis=1)
        if with_rest:
            for group, points in _by_group(unshown, leads, specs).items():
                rest[f"{direction}:{group}"] = points
        frames.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "direction": direction,
                    "slot": slots + 1,
                    "g": order[rows, slots],
                    "points": pts[rows, slots],
                }
            )
        )
    long = pd.concat(frames, ignore_index=True).sort_values(
        ["row", "direction", "slot"], ascending=[True, False, True], kind="mergesort"
    )
    g = long["g"].to_numpy()
    r = long["row"].to_numpy()
    lead_names = _shown_members(contributions, leads, lead_of, long)
    val_arr = np.full(len(long), np.nan)
    pct_arr = np.full(len(long), np.nan)
    hi_arr = np.full(len(long), np.nan)
    all_arr = np.zeros(len(long), dtype=bool)
    none_arr = np.zeros(len(long), dtype=bool)
    cat_arr = np.full(len(long), "", dtype=object)
    for lead in dict.fromkeys(lead_names):
        sel = lead_names == lead
        if lead not in values.columns:
            continue
        if not pd.api.types.is_numeric_dtype(values[lead]):
            cat_arr[sel] = (
                values[lead].astype("str").fillna("无数据").to_numpy(dtype=object)[r[sel]]
            )
        else:
            val_arr[sel] = values[lead].to_numpy(dtype="float64", na_value=np.nan)[r[sel]]
        if lead in percentiles.columns:
            pct_arr[sel] = percentiles[lead].to_numpy(dtype="float64", na_value=np.nan)[r[sel]]
        if higher is not None and lead in higher.columns:
            hi_arr[sel] = higher[lead].to_numpy(dtype="float64", na_value=np.nan)[r[sel]]
        if pooled is not None and lead in pooled.columns:
            all_arr[sel] = pooled[lead].to_numpy(dtype=bool)[r[sel]]
        if no_typical is not None and lead in no_typical.columns:
            none_arr[sel] = no_typical[lead].to_numpy(dtype=bool)[r[sel]]
    # the extremes are judged on the exact shares ("the highest" only when no peer is
    # higher); the numbers shown are whole percent rounded down: "高于同行业 98% 企业" must
    # not claim more than the data, and the package's percentile fields are those numbers
    raw_lo, raw_hi = pct_arr, hi_arr
    pct_arr = np.floor(pct_arr)
    hi_arr = np.ceil(hi_arr)  # rounded up: 0 means no peer is higher, as the text says

    texts = []
    labels = []
    untold = []  # percentiles the text does not tell (most peers have no value)
    for lead, val, cat, lo, hi, everyone, untypical, pts, gi in zip(
        lead_names,
        val_arr,
        cat_arr,
        raw_lo,
        raw_hi,
        all_arr,
        none_arr,
        # rounded as every number of a package is (numpy, half to even on the scaled
        # value): "+0.3 分" beside a points field of 0.4 did not add up
        np.round(long["points"].to_numpy(dtype="float64"), 1),
        g,
        strict=True,
    ):
        spec = specs.get(lead)
        label = _spec_get(spec, "label_zh", lead)
        labels.append(label)
        kind = _spec_get(spec, "kind", "count")
        if kind == "category" or cat:
            body = f"{label}：{cat or '无数据'}"
        elif kind == "flag":
            body = f"{label}：{_fmt_value(val, spec)}"
        else:
            body = f"{label} {_fmt_value(val, spec)}"
        notes = []
        untold.append(kind in _PCT_KINDS and untypical and not np.isnan(val))
        if untold[-1]:
            notes.append(f"{'参评企业' if everyone else '同行业'}多数企业无此项数据")
        elif kind in _PCT_KINDS and not np.isnan(lo):
            notes.append(
                _peer_note(lo, hi, _spec_get(spec, "direction", 0) or 0, everyone=everyone)
            )
        if members[gi] > 1:
            notes.append(f"含同类指标 {members[gi]} 项")
        if notes:
            body += "（" + "，".join(notes) + "）"
        texts.append(f"{body}，{_fmt_points(pts)}")
    # the package's percentile fields are the numbers the text shows, or none
    pct_arr = np.where(untold, np.nan, pct_arr) if untold else pct_arr
    hi_arr = np.where(untold, np.nan, hi_arr) if untold else hi_arr
    reasons = pd.DataFrame(
        {
            "uscc": pd.array(uscc[r], dtype="str"),
            "direction": pd.array(long["direction"].to_numpy(), dtype="str"),
            "slot": long["slot"].to_numpy(dtype="int64"),
            "factor": pd.array(lead_names, dtype="str"),
            "label_zh": pd.array(labels, dtype="str"),
            "members": members[g].astype("int64"),
            "points": long["points"].to_numpy(dtype="float64"),
            "value": val_arr,
            "percentile": pct_arr,
            "percentile_higher": hi_arr,
            "text": pd.array(texts, dtype="str"),
        }
    ).reset_index(drop=True)
    if not with_rest:
        return reasons
    rest_frame = pd.DataFrame({"uscc": pd.array(uscc, dtype="str"), **rest})
    return reasons, rest_frame


def _shown_members(
    contributions: pd.DataFrame, leads: list[str], lead_of: Mapping[str, str], long: pd.DataFrame
) -> np.ndarray:
    """The feature each reason names: in a merged group, the member carrying most of the
    group's points in the reason's direction for that firm (its peer percentile's points
    counted with it), so "平均同族规模 … +4.1 分" never stands for points its overseas-family
    sibling earned. Ties go to the earlier member; a group of one names its lead."""
    g = long["g"].to_numpy()
    r = long["row"].to_numpy()
    shown = np.asarray(leads, dtype=object)[g]
    col = {f: i for i, f in enumerate(contributions.columns)}
    points = np.nan_to_num(contributions.to_numpy(dtype="float64"))
    sign = np.where(long["direction"].to_numpy() == "up", 1.0, -1.0)
    for gi, lead in enumerate(leads):
        plain = [
            f for f in contributions.columns
            if lead_of.get(f, f) == lead and not f.startswith("peer_pct_")
        ]  # fmt: skip
        sel = np.flatnonzero(g == gi)
        if len(plain) < 2 or not len(sel):
            continue
        own = np.column_stack(
            [
                points[r[sel], col[f]]
                + (points[r[sel], col[f"peer_pct_{f}"]] if f"peer_pct_{f}" in col else 0.0)
                for f in plain
            ]
        )
        shown[sel] = np.asarray(plain, dtype=object)[np.argmax(own * sign[sel, None], axis=1)]
    return shown


def reasons_wide(reasons: pd.DataFrame) -> pd.DataFrame:
    """Per firm: ``reasons_up`` and ``reasons_down`` (texts joined by ``；``)."""
    if reasons.empty:
        return pd.DataFrame(
            {
                "uscc": pd.Series(dtype="str"),
                "reasons_up": pd.Series(dtype="str"),
                "reasons_down": pd.Series(dtype="str"),
            }
        )
    up = reasons["direction"] == "up"
    ups = join_by(reasons.loc[up, "uscc"], reasons.loc[up, "text"], "；")
    downs = join_by(reasons.loc[~up, "uscc"], reasons.loc[~up, "text"], "；")
    firms = pd.Index(pd.unique(reasons["uscc"].to_numpy()))
    return pd.DataFrame(
        {
            "uscc": pd.array(firms.to_numpy(), dtype="str"),
            "reasons_up": pd.array(ups.reindex(firms).to_numpy(), dtype="str"),
            "reasons_down": pd.array(downs.reindex(firms).to_numpy(), dtype="str"),
        }
    )
