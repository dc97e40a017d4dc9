"""The naive baseline: what an analyst would write without this project.

Three pieces, each the textbook way:

* **indicators**: pandas ``read_parquet``, then ``groupby("uscc").apply`` with a Python function
  per firm that walks the firm's patents and their legal events;
* **explanations**: ``shap.TreeExplainer(model).shap_values(X)``;
* **Excel**: ``DataFrame.to_excel(engine="openpyxl")``; the benchmark also writes the same
  table with the project's writer (:func:`our_excel`), because our export stage writes far
  more (four banks' workbooks, CSV, JSON, HTML) and is not the same work.

It computes the same 32 indicators with the same choices as :mod:`benchmarks.reference_duckdb`
(a test checks that both agree), so the time difference is the engineering, not the
definition. The benchmark runs it on a 1/20 sample of firms and extrapolates linearly to the
full size; per-firm ``apply`` is linear in firms, so this is a fair (if anything kind) estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.reference_duckdb import (
    INDICATORS,
    MIN_CITATION_YEARS,
    SEI_IPC_SUBCLASSES,
    TERMINAL_FOR_GOOD,
    TERMINAL_RESTORABLE,
    ReferenceInputs,
)

_TYPE = {
    "invention": "invention",
    "发明": "invention",
    "utility_model": "utility_model",
    "实用新型": "utility_model",
    "design": "design",
    "外观设计": "design",
}
_DAYS_PER_YEAR = 365.25


def _split(cell: object) -> list[str]:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell is pd.NA:
        return []
    return [x.strip() for x in str(cell).split(";") if x.strip()]


def _add_years(d: pd.Timestamp, years: int) -> pd.Timestamp:
    # DuckDB's DATE + INTERVAL n YEAR clamps 29 Feb to 28 Feb; so do we.
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def _subtract_months(d: pd.Timestamp, months: int) -> pd.Timestamp:
    return d - pd.DateOffset(months=months)


@dataclass(frozen=True)
class _Dates:
    """Window starts relative to ``as_of``, computed once per run."""

    as_of: pd.Timestamp
    one_year_ago: pd.Timestamp
    three_years_ago: pd.Timestamp
    five_years_ago: pd.Timestamp
    twelve_months_ago: pd.Timestamp

    @classmethod
    def at(cls, as_of: pd.Timestamp) -> _Dates:
        return cls(
            as_of,
            _add_years(as_of, -1),
            _add_years(as_of, -3),
            _add_years(as_of, -5),
            _subtract_months(as_of, 12),
        )


def load_tables(data_dir: Path, firms: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Read the three parquet files with pandas (optionally only some firms' rows)."""
    inputs = ReferenceInputs.from_dir(Path(data_dir))
    ent = pd.read_parquet(inputs.enterprises, columns=["uscc", "name"])
    pat = pd.read_parquet(inputs.patents)
    ev = (
        pd.read_parquet(inputs.patent_events)
        if inputs.patent_events is not None
        else pd.DataFrame(columns=["app_no", "event_code", "event_date", "from_party", "to_party"])
    )
    if firms is not None:
        ent = ent[ent["uscc"].isin(firms)]
    for col in ("app_date", "pub_date", "grant_date"):
        pat[col] = pd.to_datetime(pat[col])
    ev["event_date"] = pd.to_datetime(ev["event_date"])
    return {"enterprises": ent, "patents": pat, "patent_events": ev}


def _patent_status(p: Any, evs: list[tuple], d: _Dates) -> dict[str, object]:
    """Everything about one patent at ``as_of``, from its row and its known events.

    ``p`` is a row (named tuple) of the patents table, ``evs`` its ``(code, date, to_party)``
    events known at ``as_of``.
    """
    as_of = d.as_of
    codes = [e[0] for e in evs]

    def last(*wanted: str) -> pd.Timestamp | None:
        found = [e[1] for e in evs if e[0] in wanted]
        return max(found) if found else None

    ptype = _TYPE.get(p.patent_type)
    app_date = p.app_date
    granted = (pd.notna(p.grant_date) and p.grant_date <= as_of) or "GR01" in codes
    if ptype == "invention":
        expiry = _add_years(app_date, 20)
    elif ptype == "design" and app_date >= pd.Timestamp("2021-06-01"):
        expiry = _add_years(app_date, 15)
    else:
        expiry = _add_years(app_date, 10)
    t_end = last(*TERMINAL_FOR_GOOD)
    t_stop = last(*TERMINAL_RESTORABLE)
    t_restore = last("RR01")
    stopped = t_stop is not None and (t_restore is None or t_restore < t_stop)
    terminated = t_end is not None or stopped
    stop_dates = [x for x in (t_end, t_stop if stopped else None) if x is not None]
    t_terminated = min(stop_dates) if stop_dates else None
    t_cf01 = last("CF01")
    lapsed_5y = (
        t_cf01 is not None
        and t_cf01 > d.five_years_ago
        and (t_restore is None or t_restore < t_cf01)
    )
    in_force_5y = (
        granted
        and expiry > d.five_years_ago
        and (not terminated or (t_terminated is not None and t_terminated > d.five_years_ago))
    )
    t_pp, t_pd = last("PP01"), last("PD01")
    t_pe, t_pc = last("PE01"), last("PC01")
    ipc_codes = _split(p.ipc_all if isinstance(p.ipc_all, str) else p.ipc_main)
    countries = _split(p.family_countries)
    pct = bool(p.pct) if pd.notna(p.pct) else False
    return {
        "ptype": ptype,
        "granted": granted,
        "refused": any(c in ("RJ01", "WD01") for c in codes),
        "valid": granted and not terminated and expiry > as_of,
        "expiry": expiry,
        "lapsed_5y": lapsed_5y,
        "in_force_5y": in_force_5y,
        "preserved": t_pp is not None and (t_pd is None or t_pd < t_pp),
        "pledged": t_pe is not None and (t_pc is None or t_pc < t_pe),
        "n_invalidation": sum(c in ("IW01", "IP01") for c in codes),
        "n_licence": codes.count("EE01"),
        "n_pc": codes.count("PC01"),
        "n_pe_old": sum(e[0] == "PE01" and e[1] <= d.one_year_ago for e in evs),
        "sei": any(c[:4] in SEI_IPC_SUBCLASSES for c in ipc_codes),
        "overseas": pct or any(c not in ("", "CN") for c in countries),
        "age_years": (as_of - app_date).days / _DAYS_PER_YEAR,
        "co_owned": len(str(p.owners).split(";")) > 1,
    }


def _ratio(num: float, den: float) -> float:
    return num / den if den else np.nan


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else np.nan


def _held_indicators(
    g: pd.DataFrame, events_of: dict[str, list[tuple]], d: _Dates, name: str
) -> pd.Series:
    """Portfolio indicators of one firm from the patents it holds (one ``apply`` call)."""
    as_of = d.as_of
    rows = [(p, _patent_status(p, events_of.get(p.app_no, []), d)) for p in g.itertuples()]
    valid = [(p, s) for p, s in rows if s["valid"]]
    inv = [(p, s) for p, s in valid if s["ptype"] == "invention"]
    util = [(p, s) for p, s in valid if s["ptype"] == "utility_model"]
    subclasses_per_patent = []
    all_subclasses: set[str] = set()
    groups: dict[str, int] = {}
    for p, _ in valid:
        codes = _split(p.ipc_all if isinstance(p.ipc_all, str) else p.ipc_main)
        subs = {c[:4] for c in codes}
        if codes:
            subclasses_per_patent.append(len(subs))
        all_subclasses |= subs
        if isinstance(p.ipc_main, str):
            grp = p.ipc_main.split("/")[0].strip()
            groups[grp] = groups.get(grp, 0) + 1
    exposure = [
        max(
            (as_of - (p.pub_date if pd.notna(p.pub_date) else p.grant_date)).days / _DAYS_PER_YEAR,
            MIN_CITATION_YEARS,
        )
        for p, _ in valid
    ]
    cites = sum(p.forward_citations for p, _ in valid if pd.notna(p.forward_citations))
    acquired = 0
    for p, _ in valid:
        for code, when, to_party in events_of.get(p.app_no, []):
            if code == "TR01" and when > d.twelve_months_ago and str(to_party).strip() == name:
                acquired += 1
                break
    families = [p.family_size for p, _ in valid if pd.notna(p.family_size)]
    n_valid = len(valid)
    out = {
        "valid_invention_count": len(inv),
        "valid_utility_model_count": len(util),
        "invention_share": _ratio(len(inv), len(inv) + len(util)),
        "ipc_subclass_breadth": len(all_subclasses),
        "core_ipc_concentration": _ratio(max(groups.values(), default=0), n_valid),
        "sei_invention_share": _ratio(sum(s["sei"] for _, s in inv), len(inv)),
        "self_filed_share": _ratio(sum(bool(p.self_filed) for p, _ in valid), n_valid),
        "avg_claims_per_invention": _mean([p.claims for p, _ in inv if pd.notna(p.claims)]),
        "avg_patent_scope": _mean(subclasses_per_patent),
        "forward_citations_per_year": _ratio(cites, sum(exposure)) if valid else np.nan,
        "cited_patent_share": _ratio(
            sum(pd.notna(p.forward_citations) and p.forward_citations >= 1 for p, _ in valid),
            n_valid,
        ),
        "avg_family_size": _mean(families),
        "overseas_family_invention_count": sum(s["overseas"] for _, s in inv),
        "high_value_invention_count": sum(
            s["sei"] or s["overseas"] or s["age_years"] > 10 or pd.notna(p.award) for p, s in inv
        ),
        "avg_invention_age_years": _mean([s["age_years"] for _, s in inv]),
        "invention_maintained_10y_count": sum(s["age_years"] > 10 for _, s in inv),
        "avg_remaining_term_years": _mean(
            [(s["expiry"] - as_of).days / _DAYS_PER_YEAR for _, s in valid]
        ),
        "annuity_lapse_rate": _ratio(
            sum(s["lapsed_5y"] for _, s in rows), sum(s["in_force_5y"] for _, s in rows)
        ),
        "invalidation_loss_count": sum(s["n_invalidation"] for _, s in rows),
        "preservation_litigation_count": sum(s["preserved"] for _, s in rows),
        "co_owned_share": _ratio(sum(s["co_owned"] for _, s in valid), n_valid),
        "license_record_count": sum(s["n_licence"] for _, s in rows),
        "recent_acquired_share": _ratio(acquired, n_valid),
        "pledge_release_ratio": _ratio(
            sum(s["n_pc"] for _, s in rows), sum(s["n_pe_old"] for _, s in rows)
        ),
        "currently_pledged_share": _ratio(sum(s["pledged"] for _, s in valid), n_valid),
    }
    return pd.Series(out)


def _filed_indicators(g: pd.DataFrame, events_of: dict[str, list[tuple]], d: _Dates) -> pd.Series:
    """Filing indicators of one firm from the applications it filed (one ``apply`` call)."""
    n_recent = pending = granted = decided = 0
    years: set[int] = set()
    inventors: dict[str, set[str]] = {}
    for p in g.itertuples():
        st = _patent_status(p, events_of.get(p.app_no, []), d)
        if p.app_date > d.three_years_ago:
            n_recent += 1
        if p.app_date.year > d.as_of.year - 5:
            years.add(p.app_date.year)
        if st["ptype"] == "invention":
            pending += not st["granted"] and not st["refused"]
            granted += st["granted"]
            decided += st["granted"] or st["refused"]
        if p.app_date > d.five_years_ago:
            for who in _split(p.inventors):
                inventors.setdefault(who, set()).add(p.app_no)
    return pd.Series(
        {
            "total_application_count": len(g),
            "recent3y_application_count": n_recent,
            "pending_invention_count": pending,
            "invention_grant_rate": _ratio(granted, decided),
            "filing_continuity_years": len(years),
            "core_inventor_count": sum(len(apps) >= 2 for apps in inventors.values()),
        }
    )


def _links(pat: pd.DataFrame, column: str, key: pd.Series) -> pd.DataFrame:
    """(uscc, app_no) pairs: ``column`` split on ';', exploded and mapped through ``key``."""
    pairs = pat[["app_no", column]].assign(**{column: pat[column].str.split(";")}).explode(column)
    pairs["uscc"] = pairs[column].str.strip().map(key)
    return pairs.dropna(subset=["uscc"])[["uscc", "app_no"]]


def naive_indicators(tables: dict[str, pd.DataFrame], as_of: date | str) -> pd.DataFrame:
    """The 32 indicators per firm with ``groupby().apply``; same output shape as the reference."""
    d = _Dates.at(pd.Timestamp(as_of))
    ent, pat, ev = tables["enterprises"], tables["patents"], tables["patent_events"]
    known = pat["pub_date"].fillna(pat["grant_date"]) <= d.as_of
    pat = pat[known].copy()
    pat["owners"] = pat["owners"].fillna(pat["applicants"])
    ev = ev[ev["event_date"] <= d.as_of]
    name_to_uscc = pd.Series(ent["uscc"].to_numpy(), index=ent["name"].to_numpy())
    uscc_self = pd.Series(ent["uscc"].to_numpy(), index=ent["uscc"].to_numpy())

    filed = pd.concat(
        [_links(pat, "applicants", name_to_uscc), _links(pat, "applicant_usccs", uscc_self)]
    ).drop_duplicates()
    held = _links(pat, "owners", name_to_uscc).drop_duplicates()
    held = held.merge(filed.assign(self_filed=True), on=["uscc", "app_no"], how="left")
    held["self_filed"] = held["self_filed"].fillna(False).astype(bool)
    held = held.merge(pat, on="app_no")
    filed = filed.merge(pat, on="app_no")
    events_of = {
        app: list(zip(g["event_code"], g["event_date"], g["to_party"], strict=True))
        for app, g in ev.groupby("app_no")
    }
    uscc_to_name = dict(zip(ent["uscc"], ent["name"], strict=True))

    parts = []
    if len(held):
        parts.append(
            held.groupby("uscc")[held.columns.drop("uscc")].apply(
                lambda g: _held_indicators(g, events_of, d, uscc_to_name[g.name])
            )
        )
    if len(filed):
        parts.append(
            filed.groupby("uscc")[filed.columns.drop("uscc")].apply(
                lambda g: _filed_indicators(g, events_of, d)
            )
        )
    tr = ev[(ev["event_code"] == "TR01") & (ev["event_date"] > _subtract_months(d.as_of, 24))]
    tr = tr.assign(uscc=tr["from_party"].astype("str").str.strip().map(name_to_uscc))
    parts.append(
        tr.dropna(subset=["uscc"]).groupby("uscc").size().rename("recent_transfer_out_count")
    )
    out = pd.DataFrame(index=pd.Index(sorted(ent["uscc"]), name="uscc"))
    for part in parts:
        out = out.join(part)
    counts = [
        c
        for c in INDICATORS
        if c.endswith("_count") or c in ("filing_continuity_years", "ipc_subclass_breadth")
    ]
    for c in INDICATORS:
        if c not in out:
            out[c] = np.nan
    out[counts] = out[counts].fillna(0).astype("int64")
    other = [c for c in INDICATORS if c not in counts]
    out[other] = out[other].astype("float64")
    return out[list(INDICATORS)]


def naive_explain(booster: object, X: pd.DataFrame) -> np.ndarray:
    """SHAP values with ``shap.TreeExplainer`` (the analyst's default)."""
    import warnings

    import shap

    with warnings.catch_warnings():
        # shap notes that its LightGBM output shape changed; irrelevant to a timing.
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(shap.TreeExplainer(booster).shap_values(X))


def naive_excel(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to an .xlsx file with pandas + openpyxl (the analyst's default)."""
    frame.to_excel(path, engine="openpyxl", index=False)
    return path


def our_excel(frame: pd.DataFrame, path: Path) -> Path:
    """The same table written by the project's workbook writer (the yardstick's other side)."""
    from screening.run.xlsx import Sheet, write_workbook

    write_workbook(
        path,
        [Sheet("screened", frame, [str(c) for c in frame.columns])],
        [("内容", "benchmark")],
        created=datetime(2026, 1, 1),
        title="benchmark",
    )
    return path


@dataclass(frozen=True)
class SampleSpec:
    """Which firms the naive baseline runs on and how its times scale back up.

    Attributes
    ----------
    firms : list[str]
        The sampled USCCs (every ``step``-th firm in sorted order: deterministic).
    factor : float
        Total firms ÷ sampled firms: multiply a sample time by it to extrapolate.
    """

    firms: list[str]
    factor: float


def sample_firms(usccs: pd.Series | list[str], fraction: float = 1 / 20) -> SampleSpec:
    """Every ``round(1/fraction)``-th firm of the sorted USCCs (at least one)."""
    if not (isinstance(fraction, int | float) and 0 < fraction <= 1):
        raise ValueError(
            f"The 'fraction' parameter must be a number in (0, 1]. Got {fraction!r} instead."
        )
    ordered = sorted(usccs)
    step = max(1, round(1 / fraction))
    chosen = ordered[::step]
    return SampleSpec(chosen, len(ordered) / max(1, len(chosen)))
