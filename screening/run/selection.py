"""Selection (上下联动): thresholds, caps per city and park, bottom-up nominations.

The province screens everyone; cities and parks nominate firms bottom-up. A nominated firm
is always screened and marked, must pass the knock-outs like everyone else, and bypasses
the grade/PD threshold only when the configuration says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from screening.run._frames import join_by, member
from screening.run.config import SelectionConfig, grade_number

STATUSES = ("whitelisted", "below_threshold", "knocked_out", "rejected_input")


def nomination_sources(
    nominations: pd.DataFrame, as_of: pd.Timestamp | None = None
) -> pd.DataFrame:
    """One row per nominated firm: ``uscc``, ``nominated_by`` (sources joined by ``;``, each
    with its date when given: ``开封市知识产权局（2026-08-01）``).

    With ``as_of``, a nomination dated after it (``nominated_on``) is not known yet and
    does not count; an undated one does.
    """
    empty = pd.DataFrame({"uscc": pd.Series(dtype="str"), "nominated_by": pd.Series(dtype="str")})
    if nominations is None or nominations.empty:
        return empty
    known = nominations["uscc"].notna()
    if as_of is not None and "nominated_on" in nominations:
        dated = pd.to_datetime(nominations["nominated_on"])
        known &= ~(dated > pd.Timestamp(as_of)).fillna(False).astype(bool)
    if not known.any():
        return empty
    noms = nominations.loc[known].copy()
    # when the office nominated the firm, which a credit officer asks; not its 备注, free
    # text that may name a person, an e-mail or a landline (the scrubber removes ID-card
    # and mobile numbers only) and would reach every bank
    on = (
        pd.to_datetime(noms["nominated_on"]).dt.strftime("%Y-%m-%d")
        if "nominated_on" in noms
        else pd.Series(pd.NA, index=noms.index, dtype="str")
    )
    source = noms["nominated_by"].fillna("未注明").astype("str")
    noms = pd.DataFrame(
        {
            "uscc": noms["uscc"].to_numpy(),
            "nominated_by": source.where(on.isna(), source + "（" + on.astype("str") + "）"),
        }
    )
    noms = noms.drop_duplicates().sort_values(["uscc", "nominated_by"], kind="mergesort")
    joined = join_by(noms["uscc"], noms["nominated_by"], ";")
    return pd.DataFrame(
        {"uscc": pd.array(joined.index.to_numpy(), dtype="str"), "nominated_by": joined.to_numpy()}
    )


def region_prefix(code: str) -> str:
    """The region codes a 6-digit GB/T 2260 cap key covers, as a prefix: a province
    (``410000``) its 2 digits, a city (``410100``) its 4, a county or district itself."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def _covering(values: np.ndarray, caps: dict[str, int], *, by_prefix: bool) -> list[tuple]:
    """Per firm, the cap keys that cover its value (region codes by prefix, parks exactly)."""
    if not by_prefix:
        return [(v,) if v in caps else () for v in values]
    prefixes = [(k, region_prefix(k)) for k in sorted(caps)]
    memo: dict[str, tuple] = {}
    out = []
    for v in values:
        hit = memo.get(v)
        if hit is None:
            hit = memo[v] = tuple(k for k, p in prefixes if v.startswith(p))
        out.append(hit)
    return out


_CAPS = (("region_code", "region_caps", "超出地区名额"), ("park", "park_caps", "超出园区名额"))
"""Per capped column: the :class:`SelectionConfig` field holding its caps and the note of a
firm it leaves out. Region codes are covered by prefix (:func:`region_prefix`), parks
exactly."""


def unmatched_caps(scored: pd.DataFrame, config: SelectionConfig) -> list[str]:
    """Notes for the cap keys that cover no firm of the run (a misspelt park, a code not in
    the registry): such a cap limits nothing, which the analyst should know."""
    notes = []
    for column, key, _ in _CAPS:
        caps = dict(getattr(config, key))
        what = f"selection.{key}"
        if not caps:
            continue
        if column not in scored or scored[column].isna().all():
            notes.append(f"{what}：登记数据没有 {column} 列，这些名额限制不起作用")
            continue
        values = scored[column].dropna().astype("str").unique()
        covered = {
            k for hit in _covering(values, caps, by_prefix=column == "region_code") for k in hit
        }
        for code in sorted(set(caps) - covered):
            notes.append(
                f"{what} 中的“{code}”不对应任何登记企业，该名额限制不起作用（请核对名称或代码）"
            )
    return notes


def order_firms(frame: pd.DataFrame, tie_break: tuple[tuple[str, bool], ...]) -> pd.Index:
    """The index of ``frame`` in selection order (a total order: ``uscc`` breaks ties)."""
    keys = [k for k, _ in tie_break]
    ascending = [a for _, a in tie_break]
    return frame.sort_values(keys, ascending=ascending, kind="mergesort", na_position="last").index


def select(
    scored: pd.DataFrame,
    knocked_out: pd.Index,
    nominated: pd.DataFrame,
    config: SelectionConfig,
) -> pd.DataFrame:
    """Decide the status of every scored firm.

    Parameters
    ----------
    scored : DataFrame
        One row per firm: ``uscc``, ``name``, ``region_code``, ``park``, ``score``, ``pd``,
        ``grade``.
    knocked_out : Index
        USCCs with at least one knock-out rule fired.
    nominated : DataFrame
        :func:`nomination_sources` output.
    config : SelectionConfig
        Thresholds, caps, nomination switch and tie-break order.

    Returns
    -------
    DataFrame
        ``scored`` in selection order with ``status``, ``rank`` (1… over firms that were not
        knocked out, in selection order), ``nominated``, ``nominated_by``, ``meets_threshold``
        and ``selection_note`` (why a firm above the threshold was not whitelisted).
    """
    frame = scored.merge(nominated, on="uscc", how="left")
    frame["nominated"] = frame["nominated_by"].notna()
    frame = frame.loc[order_firms(frame, config.tie_break)].reset_index(drop=True)

    ko = member(frame["uscc"], knocked_out)
    meets = np.ones(len(frame), dtype=bool)
    if config.min_grade is not None:
        grade_num = frame["grade"].astype("str").str.slice(1).astype("int64").to_numpy()
        meets &= grade_num <= grade_number(config.min_grade)
    if config.max_pd is not None:
        meets &= frame["pd"].to_numpy(dtype="float64") <= config.max_pd
    nominated_flag = frame["nominated"].to_numpy(dtype=bool)
    bypass = nominated_flag & config.nominations_bypass_threshold
    candidate = ~ko & (meets | bypass)

    # Caps are filled greedily in selection order; bypassing nominations always get a place
    # but still use one up, so a city's quota counts everyone it sends to the banks.
    whitelisted = candidate.copy()
    note = np.full(len(frame), "", dtype=object)
    for column, key, label in _CAPS:
        caps = dict(getattr(config, key))
        if not caps or column not in frame:
            continue
        value = frame[column].astype("str").fillna("").to_numpy(dtype=object)
        covering = _covering(value, caps, by_prefix=column == "region_code")
        if not any(covering):
            continue
        # Bypassing nominations first, then the rest in selection order. A firm needs room
        # under every cap that covers it (a city's and its district's).
        order = np.lexsort((np.arange(len(frame)), ~(bypass & whitelisted)))
        taken = dict.fromkeys(caps, 0)
        for i in order:
            if not whitelisted[i] or not covering[i]:
                continue
            full = [k for k in covering[i] if taken[k] >= caps[k]]
            if full and not bypass[i]:
                whitelisted[i] = False
                note[i] = f"{label}（{column} {full[0]} 上限 {caps[full[0]]}）"
            else:
                for k in covering[i]:
                    taken[k] += 1

    status = np.where(ko, "knocked_out", np.where(whitelisted, "whitelisted", "below_threshold"))
    frame["status"] = pd.array(status, dtype="str")
    frame["meets_threshold"] = meets
    frame["selection_note"] = pd.array(note, dtype="str")
    frame.loc[frame["selection_note"] == "", "selection_note"] = pd.NA
    rank = np.full(len(frame), np.nan)
    rank[~ko] = np.arange(1, int((~ko).sum()) + 1)
    frame["rank"] = pd.array(rank, dtype="Int64")
    return frame
