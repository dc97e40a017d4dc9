"""Knock-out rules (一票否决, domain.md §7), evaluated vectorised.

Every rule of the versioned rules file is evaluated for every firm; each firing is one row
naming the rule and the record that triggered it (record type, id and date), so a credit
officer and an auditor can trace every exclusion. Patent-level pledgeability comes from
``features.pledgeable_patents``; this module only turns it into a firm-level rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features import effective_end, latest_tax_ratings
from screening.run._frames import join_by, member
from screening.run.config import KnockoutRule, KnockoutRules

FIRED_COLUMNS = [
    "uscc",
    "rule_id",
    "rule_name_zh",
    "record_type",
    "record_id",
    "record_date",
    "detail",
]

_STATUS_ZH = {
    "active": "存续",
    "revoked": "吊销",
    "cancelled": "注销",
    "moved": "迁出",
    "liquidating": "清算",
    "suspended": "歇业/停业",
}
RECORD_TYPE_ZH = {
    "dishonest_debtor": "失信被执行人",
    "consumption_restriction": "限制高消费",
    "serious_violation": "严重违法失信",
    "abnormal_operation": "经营异常",
    "major_tax_violation": "重大税收违法",
    "admin_penalty": "行政处罚",
    "tax_rating": "纳税信用等级",
}


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uscc": pd.Series(dtype="str"),
            "rule_id": pd.Series(dtype="str"),
            "rule_name_zh": pd.Series(dtype="str"),
            "record_type": pd.Series(dtype="str"),
            "record_id": pd.Series(dtype="str"),
            "record_date": pd.Series(dtype="datetime64[ns]"),
            "detail": pd.Series(dtype="str"),
        }
    )


def _frame(rule: KnockoutRule, uscc, record_type, record_id, record_date, detail) -> pd.DataFrame:
    n = len(uscc)
    out = pd.DataFrame(
        {
            "uscc": pd.array(np.asarray(uscc, dtype=object), dtype="str"),
            "rule_id": pd.array([rule.id] * n, dtype="str"),
            "rule_name_zh": pd.array([rule.name_zh] * n, dtype="str"),
            "record_type": pd.array(np.asarray(record_type, dtype=object), dtype="str"),
            "record_id": pd.array(np.asarray(record_id, dtype=object), dtype="str"),
            "record_date": pd.to_datetime(
                pd.Series(np.asarray(record_date), dtype="datetime64[ns]")
            ),
            "detail": pd.array(np.asarray(detail, dtype=object), dtype="str"),
        }
    )
    return out


def _registry_status(rule: KnockoutRule, enterprises: pd.DataFrame) -> pd.DataFrame:
    allowed = set(rule.param("allowed", ("active",)))
    bad = enterprises.loc[~enterprises["status"].isin(allowed) | enterprises["status"].isna()]
    status = bad["status"].astype("str")
    detail = "登记状态：" + status.map(
        lambda s: _STATUS_ZH.get(s, s) if isinstance(s, str) else "缺失"
    )
    return _frame(
        rule,
        bad["uscc"].to_numpy(),
        np.full(len(bad), "enterprise_status", dtype=object),
        np.full(len(bad), None, dtype=object),
        np.full(len(bad), np.datetime64("NaT"), dtype="datetime64[ns]"),
        detail.to_numpy(dtype=object),
    )


def _read_by(rule: KnockoutRule, records: pd.DataFrame, *, unread_severity: bool = False):
    """Rows of ``records`` a ``credit_active`` rule reads: its record types, and of them the
    severities it names, if any (``unread_severity``: a missing severity too, as it may be
    one of them)."""
    mask = records["record_type"].isin(set(rule.param("record_types", ()))).to_numpy(dtype=bool)
    severities = rule.param("severities")
    if severities:
        severity = records["severity"]
        counted = severity.isin(set(severities))
        if unread_severity:
            counted |= severity.isna()
        mask = mask & counted.to_numpy(dtype=bool)
    return mask


def _records_fired(rule: KnockoutRule, hit: pd.DataFrame, tail: pd.Series | str) -> pd.DataFrame:
    """Firings of ``rule`` by the credit records ``hit``, each told as "<type>记录 <文书号>，
    列入日期 <date>" followed by ``tail``."""
    rtype = hit["record_type"].astype("str")
    detail = (
        rtype.map(lambda t: RECORD_TYPE_ZH.get(t, t))
        + "记录 "
        + hit["record_id"].astype("str").fillna("无文书号")
        + "，列入日期 "
        + hit["start_date"].dt.strftime("%Y-%m-%d").fillna("日期不详")
        + tail
    )
    return _frame(
        rule,
        hit["uscc"].to_numpy(),
        rtype.to_numpy(dtype=object),
        hit["record_id"].to_numpy(dtype=object),
        hit["start_date"].to_numpy(dtype="datetime64[ns]"),
        detail.to_numpy(dtype=object),
    )


def _credit_active(rule: KnockoutRule, active: pd.DataFrame, universe: pd.Index) -> pd.DataFrame:
    hit = active.loc[_read_by(rule, active) & member(active["uscc"], universe)]
    end_col = "effective_end" if "effective_end" in hit.columns else "end_date"
    end = hit[end_col].dt.strftime("%Y-%m-%d").fillna("未移出") if end_col in hit else "未移出"
    return _records_fired(rule, hit, "，有效至 " + end)


def _tax_grade(rule: KnockoutRule, credit_records: pd.DataFrame, as_of, universe) -> pd.DataFrame:
    grades = set(rule.param("grades", ("C", "D")))
    latest = latest_tax_ratings(credit_records, as_of)
    hit = latest.loc[
        latest["value"].isin(grades).to_numpy(dtype=bool) & member(latest["uscc"], universe)
    ]
    detail = (
        "纳税信用等级 "
        + hit["value"].astype("str")
        + "，评价日期 "
        + hit["start_date"].dt.strftime("%Y-%m-%d")
    )
    return _frame(
        rule,
        hit["uscc"].to_numpy(),
        np.full(len(hit), "tax_rating", dtype=object),
        hit["record_id"].to_numpy(dtype=object),
        hit["start_date"].to_numpy(dtype="datetime64[ns]"),
        detail.to_numpy(dtype=object),
    )


def held_back_records(
    rejected: pd.DataFrame | None,
    as_of: pd.Timestamp,
    rules: KnockoutRules,
    credit_records: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The rejected credit rows (``features.EntityLinks.rejected_credit_records``) that may
    hide a knock-out of an enabled rule: their type unreadable, or one an enabled
    ``credit_active`` rule reads with a severity it counts or an unreadable one, or a tax
    rating (the reader keeps only those not plainly A/B/M) while a ``tax_grade`` rule is on;
    not dated after ``as_of``. A rejected 一般 penalty hides nothing when only 严重 ones
    knock out.

    Nor does a rejected row that plainly lies in the past: a listing whose readable end
    date, or whose longest window from its readable start (a penalty's 3 years whatever
    its severity, a 失信 listing's 2 …), ends by ``as_of`` (a 2019 row with a garbled
    severity must not hold its firm back forever; an unreadable end date, or a listing kept
    until removed, still holds); and a tax rating dated before a rating of the same firm
    accepted in ``credit_records`` (linked, published by ``as_of``): only the latest grade
    counts.
    """
    if rejected is None or rejected.empty:
        return pd.DataFrame(columns=[] if rejected is None else list(rejected.columns))
    kind = rejected["record_type"].astype("str")
    may_hide = kind.isna().to_numpy(dtype=bool).copy()
    for r in rules.rules:
        if not r.enabled:
            continue
        if r.kind == "credit_active":
            may_hide |= _read_by(r, rejected, unread_severity=True)
        elif r.kind == "tax_grade":
            may_hide |= (kind == "tax_rating").fillna(False).to_numpy(dtype=bool)
    start = pd.to_datetime(rejected["start_date"])
    may_hide &= (start.isna() | (start <= as_of)).to_numpy(dtype=bool)
    return rejected.loc[
        may_hide & ~_ended(rejected, as_of) & ~_superseded(rejected, credit_records, as_of)
    ]


def _ended(rejected: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Rejected listings that are over at ``as_of`` whatever their unreadable cells say."""
    if "end_date" not in rejected:
        return np.zeros(len(rejected), dtype=bool)
    end_unread = rejected.get("end_unread", pd.Series(True, index=rejected.index))
    # an end not given is the type's window from the start, the longest one when the
    # severity is unknown; an end the reader rejected is unknown (NaT: never over)
    end = effective_end(
        rejected.assign(
            start_date=pd.to_datetime(rejected["start_date"]),
            end_date=pd.to_datetime(rejected["end_date"]),
        ),
        unknown_severity="serious",
    )
    end = end.where(~end_unread.fillna(True).astype(bool))
    # a tax rating is no listing: it leaves only when a newer one comes (_superseded); an
    # end date on its row says nothing (the accepted path ignores it too)
    rating = (rejected["record_type"].astype("str") == "tax_rating").fillna(False)
    return (end.notna() & (end <= as_of) & ~rating.astype(bool)).to_numpy(dtype=bool)


def _superseded(
    rejected: pd.DataFrame, credit_records: pd.DataFrame | None, as_of: pd.Timestamp
) -> np.ndarray:
    """Rejected tax ratings older than the firm's latest accepted one (not its latest)."""
    is_rating = (rejected["record_type"].astype("str") == "tax_rating").fillna(False)
    if credit_records is None or credit_records.empty or not is_rating.any():
        return np.zeros(len(rejected), dtype=bool)
    firms = rejected.loc[is_rating.to_numpy(dtype=bool), "uscc"].astype("str")
    # only those firms' records: this runs for the rule and again for the run's warnings,
    # and a national credit table is millions of rows
    theirs = credit_records.loc[member(credit_records["uscc"].astype("str"), pd.Index(firms))]
    latest = latest_tax_ratings(theirs, as_of).set_index("uscc")["start_date"]
    newer = rejected["uscc"].astype("str").map(latest)
    start = pd.to_datetime(rejected["start_date"])
    return (is_rating & start.notna() & newer.notna() & (start < newer)).to_numpy(dtype=bool)


def unknown_severity_records(active: pd.DataFrame, rules: KnockoutRules) -> pd.DataFrame:
    """Accepted credit records active at as_of that an enabled ``credit_active`` rule would
    read if their severity were one it counts, but whose severity is not given (an empty
    严重程度 cell, or no such column at all): a penalty of unknown severity may be a serious
    one, so it must not pass as a minor one."""
    if active.empty:
        return active
    unknown = np.zeros(len(active), dtype=bool)
    for r in rules.rules:
        if r.enabled and r.kind == "credit_active" and r.param("severities"):
            unknown |= _read_by(r, active, unread_severity=True) & ~_read_by(r, active)
    return active.loc[unknown]


def ambiguous_records_held(ambiguous: pd.DataFrame | None, rules: KnockoutRules) -> pd.DataFrame:
    """Active credit records whose name fits several firms (one row per candidate firm,
    ``pipeline.ScreenInputs.ambiguous_records``) that an enabled ``credit_active`` rule
    would read (a missing severity as one it counts): nobody can tell which of the firms is
    listed, so each of them is held back until the record carries its code."""
    if ambiguous is None or ambiguous.empty:
        return pd.DataFrame(columns=[] if ambiguous is None else list(ambiguous.columns))
    read = np.zeros(len(ambiguous), dtype=bool)
    for r in rules.rules:
        if r.enabled and r.kind == "credit_active":
            read |= _read_by(r, ambiguous, unread_severity=True)
    return ambiguous.loc[read]


def _ambiguous(rule: KnockoutRule, ambiguous, universe, rules) -> pd.DataFrame:
    hit = ambiguous_records_held(ambiguous, rules)
    if hit.empty:
        return _empty()
    hit = hit.loc[member(hit["uscc"].astype("str"), universe)]
    if hit.empty:
        return _empty()
    n = hit["candidates"].astype("str").str.count(";") + 1
    tail = (
        "，所载名称“"
        + hit["name"].astype("str").fillna("")
        + "”对应 "
        + n.astype("str")
        + " 家企业，无法确定是哪一家；在该记录中补上统一社会信用代码后重跑，或人工核实"
    )
    return _records_fired(rule, hit.assign(start_date=pd.to_datetime(hit["start_date"])), tail)


def _unknown_severity(rule: KnockoutRule, active: pd.DataFrame, universe, rules) -> pd.DataFrame:
    hit = unknown_severity_records(active, rules)
    hit = hit.loc[member(hit["uscc"], universe)]
    return _records_fired(
        rule, hit, "，未注明严重程度，无法排除严重处罚；补全严重程度后重跑，或人工核实"
    )


def _unreadable_credit(
    rule: KnockoutRule,
    rejected: pd.DataFrame | None,
    as_of: pd.Timestamp,
    universe,
    rules: KnockoutRules,
    active: pd.DataFrame | None = None,
    credit_records: pd.DataFrame | None = None,
    ambiguous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Firms named by a rejected credit row that may hide a knock-out
    (:func:`held_back_records`): the row cannot be read, so nobody knows the firm is clean;
    and firms with an active record of unknown severity (:func:`unknown_severity_records`)."""
    unknown = _unknown_severity(rule, active, universe, rules) if active is not None else _empty()
    unknown = pd.concat(
        [p for p in (unknown, _ambiguous(rule, ambiguous, universe, rules)) if len(p)]
        or [_empty()],
        ignore_index=True,
    )
    held = held_back_records(rejected, as_of, rules, credit_records)
    if held.empty:
        return unknown
    hit = held.loc[member(held["uscc"].astype("str"), universe)]
    start = pd.to_datetime(hit["start_date"])
    kind = (
        hit["record_type"]
        .astype("str")
        .map(lambda t: RECORD_TYPE_ZH.get(t, t) if isinstance(t, str) else "类型无法识别")
    )
    where = (
        hit.get("file", pd.Series("credit_records", index=hit.index)).astype("str")
        + " 第 "
        + hit["source_row"].astype("int64").astype("str")
        + " 行"
    )
    several = (
        hit["candidates"].notna() if "candidates" in hit else pd.Series(False, index=hit.index)
    )
    detail = (
        "信用记录（"
        + kind
        + "）无法读取，已拒收（"
        + where
        + "："
        + hit["reason"].astype("str")
        + "）"
        + several.map({True: "，且所载名称对应多家企业", False: ""}).astype("str")
        + "；修正该行后重跑，或人工核实"
    )
    rejected_part = _frame(
        rule,
        hit["uscc"].to_numpy(dtype=object),
        hit["record_type"].to_numpy(dtype=object),
        hit["record_id"].to_numpy(dtype=object),
        start.to_numpy(dtype="datetime64[ns]"),
        detail.to_numpy(dtype=object),
    )
    return pd.concat([unknown, rejected_part], ignore_index=True) if len(unknown) else rejected_part


def _no_valid_patent(rule: KnockoutRule, matrix: pd.DataFrame, universe) -> pd.DataFrame:
    cols = list(rule.param("features", ("valid_invention_count", "valid_utility_model_count")))
    counts = matrix.set_index("uscc")[cols].fillna(0).sum(axis=1)
    counts = counts.reindex(universe).fillna(0)
    hit = counts.index[counts.to_numpy() <= 0]
    return _frame(
        rule,
        hit.to_numpy(),
        np.full(len(hit), "patents", dtype=object),
        np.full(len(hit), None, dtype=object),
        np.full(len(hit), np.datetime64("NaT"), dtype="datetime64[ns]"),
        np.full(len(hit), "截至核查日无有效发明或实用新型专利", dtype=object),
    )


def _no_pledgeable(rule: KnockoutRule, pledgeable: pd.DataFrame, universe) -> pd.DataFrame:
    ok = pledgeable.loc[pledgeable["pledgeable"].fillna(False).astype(bool), "uscc"]
    hit = universe[~member(universe, pd.Index(ok.unique()))]
    return _frame(
        rule,
        hit.to_numpy(),
        np.full(len(hit), "patents", dtype=object),
        np.full(len(hit), None, dtype=object),
        np.full(len(hit), np.datetime64("NaT"), dtype="datetime64[ns]"),
        np.full(len(hit), "无满足质押条件的专利（权属、有效、未质押、剩余期限）", dtype=object),
    )


def evaluate_knockouts(
    rules: KnockoutRules,
    *,
    enterprises: pd.DataFrame,
    active_records: pd.DataFrame,
    credit_records: pd.DataFrame,
    matrix: pd.DataFrame,
    pledgeable: pd.DataFrame,
    as_of: pd.Timestamp,
    rejected_records: pd.DataFrame | None = None,
    ambiguous_records: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Evaluate every enabled rule for every firm of ``enterprises``.

    Parameters
    ----------
    rules : KnockoutRules
        The parsed rules file.
    enterprises : DataFrame
        Canonical enterprises table (``uscc``, ``status``).
    active_records : DataFrame
        Credit records active at ``as_of`` (``features.active_credit_records``): ``uscc``,
        ``record_type``, ``record_id``, ``start_date``, ``severity`` and the effective end
        date (``effective_end`` or ``end_date``).
    credit_records : DataFrame
        Canonical credit records (for the latest tax grade published by ``as_of``).
    matrix : DataFrame
        Feature matrix with ``uscc`` and the features a ``no_valid_patent`` rule names.
    pledgeable : DataFrame
        ``features.pledgeable_patents`` output (``uscc``, ``pledgeable``).
    as_of : Timestamp
        The screening date.
    rejected_records : DataFrame, optional
        Rejected credit rows that may hide a knock-out, linked to firms (``uscc``,
        ``record_type``, ``record_id``, ``start_date``, ``source_row``, ``reason``, ``file``):
        what an ``unreadable_credit_record`` rule reads.
    ambiguous_records : DataFrame, optional
        Active credit records whose name fits several firms, one row per candidate firm
        (``uscc``, ``name``, ``record_type``, ``record_id``, ``start_date``, ``severity``,
        ``candidates``): an ``unreadable_credit_record`` rule holds each candidate back
        (:func:`ambiguous_records_held`).

    Returns
    -------
    DataFrame
        One row per (firm, rule, triggering record) with columns :data:`FIRED_COLUMNS`,
        ordered by firm, rule order of the file, record date and id.
    """
    as_of = pd.Timestamp(as_of)
    universe = pd.Index(enterprises["uscc"].unique())
    parts = [_empty()]
    for order, rule in enumerate(rules.rules):
        if not rule.enabled:
            continue
        if rule.kind == "registry_status":
            part = _registry_status(rule, enterprises)
        elif rule.kind == "credit_active":
            part = _credit_active(rule, active_records, universe)
        elif rule.kind == "tax_grade":
            part = _tax_grade(rule, credit_records, as_of, universe)
        elif rule.kind == "unreadable_credit_record":
            part = _unreadable_credit(
                rule,
                rejected_records,
                as_of,
                universe,
                rules,
                active_records,
                credit_records,
                ambiguous_records,
            )
        elif rule.kind == "no_valid_patent":
            part = _no_valid_patent(rule, matrix, universe)
        else:
            part = _no_pledgeable(rule, pledgeable, universe)
        parts.append(part.assign(_order=order))
    fired = pd.concat(parts, ignore_index=True)
    fired["_order"] = fired["_order"].fillna(-1)
    fired = fired.sort_values(
        ["uscc", "_order", "record_date", "record_id"], kind="mergesort", na_position="last"
    )
    return fired.drop(columns="_order").drop_duplicates().reset_index(drop=True)[FIRED_COLUMNS]


def summarise_fired(fired: pd.DataFrame) -> pd.DataFrame:
    """One row per knocked-out firm: ``rules_fired`` (ids) and ``ko_reasons`` (Chinese).

    ``rules_fired`` reads ``rule_id@YYYY-MM-DD#record_id`` per firing, joined by ``;``, so a
    spreadsheet user can filter on a rule id and still see the record and its date.
    """
    if fired.empty:
        return pd.DataFrame(
            {
                "uscc": pd.Series(dtype="str"),
                "rules_fired": pd.Series(dtype="str"),
                "ko_reasons": pd.Series(dtype="str"),
            }
        )
    date = fired["record_date"].dt.strftime("%Y-%m-%d")
    token = fired["rule_id"].astype("str")
    token = token.where(date.isna(), token + "@" + date.fillna(""))
    rid = fired["record_id"].astype("str")
    token = token.where(rid.isna(), token + "#" + rid.fillna(""))
    reason = fired["rule_name_zh"].astype("str") + "：" + fired["detail"].astype("str")
    tokens = join_by(fired["uscc"], token, ";")
    reasons = join_by(fired["uscc"], reason, "；")
    return pd.DataFrame(
        {
            "uscc": pd.array(tokens.index.to_numpy(), dtype="str"),
            "rules_fired": tokens.to_numpy(),
            "ko_reasons": reasons.to_numpy(),
        }
    )


def source_dates(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, rules: Sequence[KnockoutRule]
) -> dict[str, pd.Timestamp | None]:
    """Per rule id, the newest fact date at or before ``as_of`` in the records it reads.

    Shown beside each passed check ("数据源最新记录"), so a credit officer sees how fresh the
    data behind a pass was: a credit rule the newest record of its own types (one newest
    record of any type put a 2026-09-29 tax-violation date beside the tax-rating check,
    whose newest rating was 2026-04-30), a patent rule the newest grant or legal event.
    None where the source carries no date (the registry extract) or has no record.
    """
    as_of = pd.Timestamp(as_of)

    def newest(table: str, column: str, where: pd.Series | None = None) -> pd.Timestamp | None:
        frame = tables.get(table)
        if frame is None or frame.empty or column not in frame:
            return None
        values = frame[column] if where is None else frame.loc[where, column]
        values = values[values <= as_of]
        return None if values.empty else pd.Timestamp(values.max())

    credit = tables.get("credit_records")

    def of_types(
        types: Sequence[str], severities: Sequence[str] | None = None
    ) -> pd.Timestamp | None:
        if credit is None or credit.empty or "record_type" not in credit:
            return None
        where = credit["record_type"].astype("str").isin(list(types))
        if severities and "severity" in credit:
            # a record of unknown severity is one the rule reads too (a firm's own record
            # shown beside the check must not be newer than the check's source date)
            severity = credit["severity"].astype("str")
            where &= severity.isin(list(severities)) | severity.isna()
        return newest("credit_records", "start_date", where.fillna(False).to_numpy(dtype=bool))

    patent_dates = [
        d
        for d in (newest("patent_events", "event_date"), newest("patents", "grant_date"))
        if d is not None
    ]
    patents = max(patent_dates) if patent_dates else None
    out: dict[str, pd.Timestamp | None] = {}
    for rule in rules:
        params = dict(rule.params)
        if rule.kind == "credit_active":
            out[rule.id] = of_types(params.get("record_types", ()), params.get("severities"))
        elif rule.kind == "tax_grade":
            out[rule.id] = of_types(("tax_rating",))
        elif rule.kind == "unreadable_credit_record":  # every credit record is read
            out[rule.id] = newest("credit_records", "start_date")
        elif rule.kind in ("no_valid_patent", "no_pledgeable_patent"):
            out[rule.id] = patents
        else:  # the registry extract carries no date of its own
            out[rule.id] = None
    return out


def passed_check_details(
    rules: KnockoutRules,
    firms: Sequence[str],
    *,
    enterprises: pd.DataFrame,
    credit_records: pd.DataFrame | None,
    matrix: pd.DataFrame,
    listed: pd.DataFrame,
    as_of: pd.Timestamp,
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """What each enabled rule found for each of ``firms`` (firms that passed every rule),
    in Chinese: ``uscc, rule_id, detail``, one row per firm and enabled rule, rule order.

    A pass is shown with the firm's own facts beside the source's freshness: its registry
    status, its latest tax rating and date, its most recent record of a credit rule's types
    and when it ended (a 2024 经营异常 listing removed in 2025 is not "no record"), its valid
    patent and pledgeable patent counts. ``credit_records`` are the linked records
    (``uscc, record_type, severity, start_date, end_date``); ``listed`` is the firms' rows
    of the whitelist, indexed by firm (``pledgeable_count``, and ``tax_grade`` and
    ``tax_grade_date``, the rating every view of the package states); ``labels`` names the
    features a ``no_valid_patent`` rule counts.
    """
    as_of = pd.Timestamp(as_of)
    ids = pd.Index(pd.unique(np.asarray(firms, dtype=object)))
    labels = labels or {}
    credit = None
    if credit_records is not None and len(credit_records):
        credit = credit_records.loc[member(credit_records["uscc"].astype("str"), ids)]
        credit = credit.loc[(credit["start_date"] <= as_of).fillna(False).to_numpy(dtype=bool)]
    # only these firms' rows (a national matrix is a million rows of a hundred columns)
    ent = enterprises.loc[member(enterprises["uscc"].astype("str"), ids), ["uscc", "status"]]
    status = ent.drop_duplicates("uscc").set_index("uscc")["status"].reindex(ids)
    counts = matrix.loc[member(matrix["uscc"].astype("str"), ids)]
    counts = counts.drop_duplicates("uscc").set_index("uscc").reindex(ids)
    parts = []
    for rule in rules.rules:
        if not rule.enabled:
            continue
        if rule.kind == "registry_status":
            detail = "登记状态：" + status.map(
                lambda s: _STATUS_ZH.get(s, s) if isinstance(s, str) else "缺失"
            )
        elif rule.kind == "credit_active":
            detail = _latest_past(rule, credit, ids, as_of)
        elif rule.kind == "tax_grade":
            detail = _latest_rating(listed, ids)
        elif rule.kind == "unreadable_credit_record":
            # what the rule read: the records it holds firms back for, not every rejected or
            # unlinked row (an ended listing, or a name no registry firm bears, holds no one)
            detail = pd.Series("无需核实后才能推送的被拒收或同名信用记录", index=ids)
        elif rule.kind == "no_valid_patent":
            cols = list(
                rule.param("features", ("valid_invention_count", "valid_utility_model_count"))
            )
            detail = pd.Series("", index=ids, dtype=object)
            for i, c in enumerate(cols):
                n = counts[c].fillna(0).astype("int64") if c in counts else pd.Series(0, index=ids)
                detail = detail + ("，" if i else "") + labels.get(c, c) + " " + n.astype("str")
        else:
            n = listed["pledgeable_count"].reindex(ids).fillna(0).astype("int64")
            detail = "可质押专利 " + n.astype("str") + " 件"
        parts.append(
            pd.DataFrame(
                {
                    "uscc": ids.to_numpy(),
                    "rule_id": rule.id,
                    "detail": detail.to_numpy(dtype=object),
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in ("uscc", "rule_id", "detail")})
    return pd.concat(parts, ignore_index=True).astype("str")


def _latest_past(
    rule: KnockoutRule, credit: pd.DataFrame | None, ids: pd.Index, as_of: pd.Timestamp
) -> pd.Series:
    """Per firm: its most recent record of the rule's types (and severities), when it began
    and ended, or that it has none."""
    out = pd.Series("无此类记录", index=ids, dtype=object)
    if credit is None or credit.empty:
        return out
    # a past record of unknown severity is one the rule would have read while it was listed
    mine = credit.loc[_read_by(rule, credit, unread_severity=True)]
    if mine.empty:
        return out
    end = effective_end(
        mine.assign(end_date=mine.get("end_date", pd.NaT)),
        unknown_severity="serious",
    )
    mine = mine.assign(_end=end).sort_values(["uscc", "start_date"], kind="mergesort")
    last = mine.groupby("uscc", sort=False).tail(1).set_index("uscc")
    n = mine.groupby("uscc", sort=False).size()
    begun = last["start_date"].dt.strftime("%Y-%m-%d")
    text = (
        "曾有 "
        + n.reindex(last.index).astype("str")
        + " 条，最近一条 "
        + begun
        + " 列入、"
        + last["_end"].dt.strftime("%Y-%m-%d").fillna("日期不详")
        + " 移出或期满，核查日已不在有效期内"
    )
    # still listed and yet passed: only a record whose severity is not given, under a rule
    # that counts some severities (with the unreadable-record check switched off)
    listed = (last["_end"].isna() | (last["_end"] > as_of)).to_numpy(dtype=bool)
    text = text.where(
        ~listed, "最近一条 " + begun + " 列入，核查日仍在有效期内；严重程度未注明，未按本规则否决"
    )
    return text.reindex(ids).fillna(out).astype(object)


def _latest_rating(listed: pd.DataFrame, ids: pd.Index) -> pd.Series:
    """Per firm: its latest tax rating and its date as the whitelist states them, or none."""
    grade = listed["tax_grade"].reindex(ids)
    text = (
        "最近评价 " + grade.astype("str") + " 级（" + listed["tax_grade_date"].reindex(ids) + "）"
    )
    return text.where(grade.notna(), "无纳税信用评价记录").astype(object)
