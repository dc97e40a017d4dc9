"""What changed since the previous push (``--previous PREV_OUT``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from data_contracts.errors import DataError

_NEEDED = ("uscc", "status", "grade")


def read_previous(previous: Path, as_of: pd.Timestamp | None = None) -> tuple[pd.DataFrame, str]:
    """``screened.parquet`` and the batch id of a previous run folder.

    Raises
    ------
    DataError
        Not a run output (no or unreadable ``screened.parquet``, columns missing), or a run
        as of a later date than ``as_of`` (the changes would read backwards).
    """
    previous = Path(previous)
    path = previous / "screened.parquet"
    remedy = "Pass the OUT folder of an earlier `screening run` (the one pushed last)."
    if not path.is_file():
        raise DataError(
            f"--previous {previous} holds no screened.parquet: it is not a screening run output.",
            remedy,
        )
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"--previous {path} cannot be read: {exc}", remedy) from None
    missing = [c for c in _NEEDED if c not in frame.columns]
    if missing:
        raise DataError(
            f"--previous {path} lacks column(s) {missing}: it is not a screening run output.",
            remedy,
        )
    _check_contents(frame, path, remedy)
    batch, before = "", None
    report = previous / "run_report.json"
    if not report.is_file():
        raise DataError(
            f"--previous {previous} holds no run_report.json: it is not a whole screening "
            "run output (its date cannot be checked against this run's).",
            remedy,
        )
    try:
        doc = json.loads(report.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"--previous {report} cannot be read: {exc}", remedy) from None
    if isinstance(doc, dict):
        batch = str(doc.get("batch_id", ""))
        before = doc.get("as_of")
    if as_of is not None and before and pd.Timestamp(before) > as_of:
        raise DataError(
            f"--previous {previous} is as of {before}, after this run's {as_of.date()}: the "
            "changes since the last push would read backwards.",
            remedy,
        )
    return frame, batch


def _check_contents(frame: pd.DataFrame, path: Path, remedy: str) -> None:
    """A run writes every firm once under a code, a known status and a grade T1…T10 (or
    none): anything else is not a run's output, and its changes would be made up."""
    from screening.run.selection import STATUSES

    status = frame["status"].astype("object")
    # a rejected registry row without a readable code is listed without one
    uscc = frame["uscc"].loc[frame["uscc"].notna() | (status != "rejected_input")]
    problems = []
    if uscc.isna().any() or not uscc.map(lambda v: isinstance(v, str)).all():
        problems.append("uscc holds empty or non-text codes")
    elif uscc.duplicated().any():
        problems.append(f"uscc {uscc[uscc.duplicated()].iloc[0]} is listed twice")
    odd = status[~status.isin(STATUSES)]
    if len(odd):
        problems.append(f"status {odd.iloc[0]!r} is not one a run writes")
    grade = frame["grade"].astype("object")
    valid = {f"T{i}" for i in range(1, 11)}
    odd = grade[grade.notna() & ~grade.isin(valid)]
    if len(odd):
        problems.append(f"grade {odd.iloc[0]!r} is not T1…T10")
    if problems:
        raise DataError(
            f"--previous {path} is not a screening run output: {'; '.join(problems)}.", remedy
        )


def compare(
    current: pd.DataFrame, previous: pd.DataFrame, previous_batch: str = ""
) -> dict[str, Any]:
    """Added, removed (with the reason) and grade changes between two screened tables.

    A removed firm's reason is the rule that knocked it out now, ``低于门槛`` when it fell
    below the threshold, the cap (``超出地区名额（region_code 410100 上限 50）``) when it meets
    the threshold but a cap left it out, ``输入数据被拒收`` or ``本批次无此企业``.
    """
    now = current.set_index("uscc")
    before = previous.drop_duplicates("uscc").set_index("uscc")
    wl_now = set(now.index[now["status"] == "whitelisted"])
    wl_before = set(before.index[before["status"] == "whitelisted"])

    def name(u: str) -> str:
        src = now if u in now.index else before
        value = src.at[u, "name"]
        return "" if pd.isna(value) else str(value)

    added = [
        {"uscc": u, "name": name(u), "grade": str(now.at[u, "grade"])}
        for u in sorted(wl_now - wl_before)
    ]
    removed = []
    for u in sorted(wl_before - wl_now):
        if u not in now.index:
            reason = "本批次无此企业"
        else:
            status = now.at[u, "status"]
            if status == "knocked_out":
                reason = f"否决规则：{now.at[u, 'rules_fired']}"
            elif status == "below_threshold":
                # a firm that meets the threshold but lost its place to a cap says which cap
                note = now.at[u, "selection_note"] if "selection_note" in now else None
                reason = (
                    str(note)
                    if isinstance(note, str) and note
                    else f"低于门槛（当前等级 {now.at[u, 'grade']}）"
                )
            else:
                reason = "输入数据被拒收"
        removed.append({"uscc": u, "name": name(u), "reason": reason})
    up, down = [], []
    for u in sorted(wl_now & wl_before):
        g_now = int(str(now.at[u, "grade"])[1:])
        g_before = int(str(before.at[u, "grade"])[1:])
        item = {"uscc": u, "name": name(u), "from": f"T{g_before}", "to": f"T{g_now}"}
        if g_now < g_before:
            up.append(item)
        elif g_now > g_before:
            down.append(item)
    return {
        "previous_batch_id": previous_batch,
        "added": added,
        "removed": removed,
        "grade_up": up,
        "grade_down": down,
    }
