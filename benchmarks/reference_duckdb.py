"""Reference aggregation: the 32 patent indicators of domain.md §6 as one plain DuckDB query.

This is the yardstick for the features stage: what a competent engineer gets from a single
SQL statement over the parquet files, with no Python loops. The features layer is reported
as a ratio to its time (target <= 1.5x).

Choices where domain.md leaves one (the naive baseline makes the same ones, and a test checks
that both give the same numbers):

* A patent is *known* at ``as_of`` once published or granted:
  ``coalesce(pub_date, grant_date) <= as_of``; an event once ``event_date <= as_of``.
* Firm links: a firm *holds* a patent when its registered name is one of the patent's
  ``owners`` (``owners`` defaults to ``applicants``); it *filed* a patent when its USCC is in
  ``applicant_usccs`` or its name is in ``applicants``. Indicators about portfolios
  (1, 2, 7-19, 21-28, 30-32) use holdings; indicators about filing (3-6, 20) use filings;
  29 uses the TR01 assignor name.
* Terms run from ``app_date``: invention 20 years, utility model 10, design 10 (filed before
  2021-06-01) or 15. CF01/AV01 end a patent unless a later RR01 restores it; CX01 and IW01
  end it for good.
* Ratios are NULL where the denominator is 0; counts are 0 for firms with no patents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from data_contracts.errors import DataError
from features._sei import SEI_SUBCLASSES

INDICATORS: tuple[str, ...] = (
    "valid_invention_count",
    "valid_utility_model_count",
    "total_application_count",
    "recent3y_application_count",
    "pending_invention_count",
    "filing_continuity_years",
    "invention_share",
    "invention_grant_rate",
    "ipc_subclass_breadth",
    "core_ipc_concentration",
    "sei_invention_share",
    "self_filed_share",
    "avg_claims_per_invention",
    "avg_patent_scope",
    "forward_citations_per_year",
    "cited_patent_share",
    "avg_family_size",
    "overseas_family_invention_count",
    "high_value_invention_count",
    "core_inventor_count",
    "avg_invention_age_years",
    "invention_maintained_10y_count",
    "avg_remaining_term_years",
    "annuity_lapse_rate",
    "invalidation_loss_count",
    "preservation_litigation_count",
    "co_owned_share",
    "license_record_count",
    "recent_transfer_out_count",
    "recent_acquired_share",
    "pledge_release_ratio",
    "currently_pledged_share",
)

# IPC subclasses counted as 战略性新兴产业 (strategic emerging industries): the features
# layer's documented list, imported as data so both compute the same indicator 11.
SEI_IPC_SUBCLASSES: tuple[str, ...] = tuple(SEI_SUBCLASSES)
# Years of exposure a patent counts for at least, in indicator 15 (as the features layer).
MIN_CITATION_YEARS = 0.5

TERMINAL_FOR_GOOD = ("CX01", "IW01")
TERMINAL_RESTORABLE = ("CF01", "AV01")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


REFERENCE_SQL = f"""
WITH
firms AS (
    SELECT DISTINCT uscc, name FROM enterprises
),
pat AS (
    SELECT
        app_no,
        CAST(app_date AS DATE) AS app_date,
        CASE
            WHEN patent_type IN ('invention', '发明') THEN 'invention'
            WHEN patent_type IN ('utility_model', '实用新型') THEN 'utility_model'
            WHEN patent_type IN ('design', '外观设计') THEN 'design'
        END AS ptype,
        CAST(pub_date AS DATE) AS pub_date,
        CAST(grant_date AS DATE) AS grant_date,
        ipc_main, ipc_all, claims, forward_citations, family_size, family_countries,
        coalesce(pct, false) AS pct,
        applicants, applicant_usccs,
        coalesce(owners, applicants) AS owners,
        inventors, award
    FROM patents
    WHERE coalesce(CAST(pub_date AS DATE), CAST(grant_date AS DATE)) <= $as_of
),
ev AS (
    SELECT app_no, event_code, CAST(event_date AS DATE) AS event_date, from_party, to_party
    FROM patent_events
    WHERE CAST(event_date AS DATE) <= $as_of
),
ev_pat AS (
    SELECT
        app_no,
        bool_or(event_code = 'GR01') AS gr01,
        max(event_date) FILTER (WHERE event_code IN ({_sql_list(TERMINAL_FOR_GOOD)})) AS t_end,
        max(event_date) FILTER (WHERE event_code IN ({_sql_list(TERMINAL_RESTORABLE)})) AS t_stop,
        max(event_date) FILTER (WHERE event_code = 'RR01') AS t_restore,
        max(event_date) FILTER (WHERE event_code = 'CF01') AS t_cf01,
        bool_or(event_code IN ('RJ01', 'WD01')) AS refused,
        count(*) FILTER (WHERE event_code IN ('IW01', 'IP01')) AS n_invalidation,
        count(*) FILTER (WHERE event_code = 'EE01') AS n_licence,
        max(event_date) FILTER (WHERE event_code = 'PP01') AS t_pp,
        max(event_date) FILTER (WHERE event_code = 'PD01') AS t_pd,
        max(event_date) FILTER (WHERE event_code = 'PE01') AS t_pe,
        max(event_date) FILTER (WHERE event_code = 'PC01') AS t_pc,
        count(*) FILTER (WHERE event_code = 'PC01') AS n_pc,
        count(*) FILTER (
            WHERE event_code = 'PE01' AND event_date <= $as_of - INTERVAL 1 YEAR
        ) AS n_pe_old
    FROM ev
    GROUP BY app_no
),
pstat AS (
    SELECT
        p.*,
        e.n_invalidation, e.n_licence, e.n_pc, e.n_pe_old,
        (coalesce(p.grant_date <= $as_of, false) OR coalesce(e.gr01, false)) AS granted,
        CAST(p.app_date + CASE
            WHEN p.ptype = 'invention' THEN INTERVAL 20 YEAR
            WHEN p.ptype = 'design' AND p.app_date >= DATE '2021-06-01' THEN INTERVAL 15 YEAR
            ELSE INTERVAL 10 YEAR
        END AS DATE) AS expiry,
        (e.t_end IS NOT NULL
         OR (e.t_stop IS NOT NULL AND (e.t_restore IS NULL OR e.t_restore < e.t_stop)))
            AS terminated,
        least(e.t_end, CASE WHEN e.t_restore IS NULL OR e.t_restore < e.t_stop
                            THEN e.t_stop END) AS t_terminated,
        (e.t_cf01 > $as_of - INTERVAL 5 YEAR
         AND (e.t_restore IS NULL OR e.t_restore < e.t_cf01)) AS lapsed_5y,
        coalesce(e.refused, false) AS refused,
        (e.t_pp IS NOT NULL AND (e.t_pd IS NULL OR e.t_pd < e.t_pp)) AS preserved,
        (e.t_pe IS NOT NULL AND (e.t_pc IS NULL OR e.t_pc < e.t_pe)) AS pledged,
        len(list_filter(string_split(coalesce(p.ipc_all, p.ipc_main, ''), ';'),
                        lambda x: left(trim(x), 4) IN ({_sql_list(SEI_IPC_SUBCLASSES)}))) > 0
            AS sei,
        (p.pct OR len(list_filter(string_split(coalesce(p.family_countries, ''), ';'),
                                  lambda x: trim(x) NOT IN ('', 'CN'))) > 0) AS overseas,
        date_diff('day', p.app_date, $as_of) / 365.25 AS age_years,
        len(string_split(p.owners, ';')) > 1 AS co_owned
    FROM pat p LEFT JOIN ev_pat e USING (app_no)
),
pv AS (
    SELECT
        *,
        (granted AND NOT terminated AND expiry > $as_of) AS valid,
        (granted AND expiry > $as_of - INTERVAL 5 YEAR
         AND (NOT terminated OR t_terminated > $as_of - INTERVAL 5 YEAR)) AS in_force_5y
    FROM pstat
),
held AS (
    SELECT DISTINCT f.uscc, p.app_no
    FROM (SELECT app_no, unnest(string_split(owners, ';')) AS holder FROM pat) p
    JOIN firms f ON f.name = trim(p.holder)
),
filed AS (
    SELECT f.uscc, p.app_no
    FROM (SELECT app_no, unnest(string_split(applicants, ';')) AS who FROM pat) p
    JOIN firms f ON f.name = trim(p.who)
    UNION
    SELECT f.uscc, p.app_no
    FROM (SELECT app_no, unnest(string_split(applicant_usccs, ';')) AS code FROM pat) p
    JOIN firms f ON f.uscc = trim(p.code)
),
hv AS (
    SELECT h.uscc, v.*, (fl.uscc IS NOT NULL) AS self_filed
    FROM held h
    JOIN pv v USING (app_no)
    LEFT JOIN filed fl ON fl.uscc = h.uscc AND fl.app_no = h.app_no
),
ipc_valid AS (
    SELECT h.uscc, h.app_no, left(trim(x.code), 4) AS subclass
    FROM (SELECT uscc, app_no, ipc_all, ipc_main FROM hv WHERE valid) h,
         LATERAL (SELECT unnest(string_split(coalesce(h.ipc_all, h.ipc_main), ';')) AS code) x
    WHERE trim(x.code) <> ''
),
ipc_firm AS (
    SELECT uscc, count(DISTINCT subclass) AS ipc_subclass_breadth FROM ipc_valid GROUP BY uscc
),
scope_firm AS (
    SELECT uscc, avg(n) AS avg_patent_scope
    FROM (SELECT uscc, app_no, count(DISTINCT subclass) AS n FROM ipc_valid
          GROUP BY uscc, app_no)
    GROUP BY uscc
),
core_firm AS (
    SELECT uscc, max(n) AS top_group_n
    FROM (SELECT uscc, trim(split_part(ipc_main, '/', 1)) AS grp, count(*) AS n
          FROM hv WHERE valid AND ipc_main IS NOT NULL GROUP BY uscc, grp)
    GROUP BY uscc
),
held_agg AS (
    SELECT
        uscc,
        count(*) FILTER (WHERE valid AND ptype = 'invention') AS valid_invention_count,
        count(*) FILTER (WHERE valid AND ptype = 'utility_model') AS valid_utility_model_count,
        count(*) FILTER (WHERE valid) AS n_valid,
        count(*) FILTER (WHERE valid AND ptype = 'invention' AND sei) AS n_sei_inv,
        count(*) FILTER (WHERE valid AND self_filed) AS n_self_filed,
        avg(claims) FILTER (WHERE valid AND ptype = 'invention') AS avg_claims_per_invention,
        sum(forward_citations) FILTER (WHERE valid) AS cites,
        sum(greatest(date_diff('day', coalesce(pub_date, grant_date), $as_of) / 365.25,
                     {MIN_CITATION_YEARS})) FILTER (WHERE valid) AS pub_years,
        count(*) FILTER (WHERE valid AND forward_citations >= 1) AS n_cited,
        avg(family_size) FILTER (WHERE valid) AS avg_family_size,
        count(*) FILTER (WHERE valid AND ptype = 'invention' AND overseas)
            AS overseas_family_invention_count,
        count(*) FILTER (
            WHERE valid AND ptype = 'invention'
              AND (sei OR overseas OR age_years > 10 OR award IS NOT NULL)
        ) AS high_value_invention_count,
        avg(age_years) FILTER (WHERE valid AND ptype = 'invention') AS avg_invention_age_years,
        count(*) FILTER (WHERE valid AND ptype = 'invention' AND age_years > 10)
            AS invention_maintained_10y_count,
        avg(date_diff('day', $as_of, expiry) / 365.25) FILTER (WHERE valid)
            AS avg_remaining_term_years,
        count(*) FILTER (WHERE lapsed_5y) AS n_lapsed_5y,
        count(*) FILTER (WHERE in_force_5y) AS n_in_force_5y,
        sum(coalesce(n_invalidation, 0)) AS invalidation_loss_count,
        count(*) FILTER (WHERE preserved) AS preservation_litigation_count,
        count(*) FILTER (WHERE valid AND co_owned) AS n_co_owned,
        sum(coalesce(n_licence, 0)) AS license_record_count,
        sum(coalesce(n_pc, 0)) AS n_released,
        sum(coalesce(n_pe_old, 0)) AS n_pledges_old,
        count(*) FILTER (WHERE valid AND pledged) AS n_pledged
    FROM hv
    GROUP BY uscc
),
filed_agg AS (
    SELECT
        fl.uscc,
        count(*) AS total_application_count,
        count(*) FILTER (WHERE p.app_date > $as_of - INTERVAL 3 YEAR)
            AS recent3y_application_count,
        count(*) FILTER (WHERE p.ptype = 'invention' AND NOT p.granted AND NOT p.refused)
            AS pending_invention_count,
        count(*) FILTER (WHERE p.ptype = 'invention' AND p.granted) AS n_inv_granted,
        count(*) FILTER (WHERE p.ptype = 'invention' AND (p.granted OR p.refused)) AS n_inv_decided,
        count(DISTINCT year(p.app_date)) FILTER (WHERE year(p.app_date) > year($as_of) - 5)
            AS filing_continuity_years
    FROM filed fl JOIN pstat p USING (app_no)
    GROUP BY fl.uscc
),
inventor_firm AS (
    SELECT uscc, count(*) AS core_inventor_count
    FROM (
        SELECT fl.uscc, trim(x.who) AS inventor
        FROM filed fl
        JOIN pat p USING (app_no),
        LATERAL (SELECT unnest(string_split(p.inventors, ';')) AS who) x
        WHERE p.app_date > $as_of - INTERVAL 5 YEAR AND trim(x.who) <> ''
        GROUP BY fl.uscc, inventor
        HAVING count(DISTINCT p.app_no) >= 2
    )
    GROUP BY uscc
),
transfer_out AS (
    SELECT f.uscc, count(*) AS recent_transfer_out_count
    FROM ev JOIN firms f ON f.name = trim(ev.from_party)
    WHERE ev.event_code = 'TR01' AND ev.event_date > $as_of - INTERVAL 24 MONTH
    GROUP BY f.uscc
),
acquired AS (
    SELECT h.uscc, count(DISTINCT h.app_no) AS n_acquired
    FROM hv h
    JOIN ev ON ev.app_no = h.app_no
    JOIN firms f ON f.uscc = h.uscc AND f.name = trim(ev.to_party)
    WHERE h.valid AND ev.event_code = 'TR01' AND ev.event_date > $as_of - INTERVAL 12 MONTH
    GROUP BY h.uscc
)
SELECT
    f.uscc,
    coalesce(h.valid_invention_count, 0) AS valid_invention_count,
    coalesce(h.valid_utility_model_count, 0) AS valid_utility_model_count,
    coalesce(a.total_application_count, 0) AS total_application_count,
    coalesce(a.recent3y_application_count, 0) AS recent3y_application_count,
    coalesce(a.pending_invention_count, 0) AS pending_invention_count,
    coalesce(a.filing_continuity_years, 0) AS filing_continuity_years,
    h.valid_invention_count
        / nullif(h.valid_invention_count + h.valid_utility_model_count, 0) AS invention_share,
    a.n_inv_granted / nullif(a.n_inv_decided, 0) AS invention_grant_rate,
    coalesce(i.ipc_subclass_breadth, 0) AS ipc_subclass_breadth,
    coalesce(c.top_group_n, 0) / nullif(h.n_valid, 0) AS core_ipc_concentration,
    h.n_sei_inv / nullif(h.valid_invention_count, 0) AS sei_invention_share,
    h.n_self_filed / nullif(h.n_valid, 0) AS self_filed_share,
    h.avg_claims_per_invention,
    s.avg_patent_scope,
    h.cites / nullif(h.pub_years, 0) AS forward_citations_per_year,
    h.n_cited / nullif(h.n_valid, 0) AS cited_patent_share,
    h.avg_family_size,
    coalesce(h.overseas_family_invention_count, 0) AS overseas_family_invention_count,
    coalesce(h.high_value_invention_count, 0) AS high_value_invention_count,
    coalesce(inv.core_inventor_count, 0) AS core_inventor_count,
    h.avg_invention_age_years,
    coalesce(h.invention_maintained_10y_count, 0) AS invention_maintained_10y_count,
    h.avg_remaining_term_years,
    h.n_lapsed_5y / nullif(h.n_in_force_5y, 0) AS annuity_lapse_rate,
    CAST(coalesce(h.invalidation_loss_count, 0) AS BIGINT) AS invalidation_loss_count,
    coalesce(h.preservation_litigation_count, 0) AS preservation_litigation_count,
    h.n_co_owned / nullif(h.n_valid, 0) AS co_owned_share,
    CAST(coalesce(h.license_record_count, 0) AS BIGINT) AS license_record_count,
    coalesce(t.recent_transfer_out_count, 0) AS recent_transfer_out_count,
    coalesce(q.n_acquired, 0) / nullif(h.n_valid, 0) AS recent_acquired_share,
    h.n_released / nullif(h.n_pledges_old, 0) AS pledge_release_ratio,
    h.n_pledged / nullif(h.n_valid, 0) AS currently_pledged_share
FROM firms f
LEFT JOIN held_agg h USING (uscc)
LEFT JOIN filed_agg a USING (uscc)
LEFT JOIN ipc_firm i USING (uscc)
LEFT JOIN scope_firm s USING (uscc)
LEFT JOIN core_firm c USING (uscc)
LEFT JOIN inventor_firm inv USING (uscc)
LEFT JOIN transfer_out t USING (uscc)
LEFT JOIN acquired q USING (uscc)
ORDER BY f.uscc
"""


@dataclass(frozen=True)
class ReferenceInputs:
    """Parquet files the reference reads (``patent_events`` may be absent = no events)."""

    enterprises: Path
    patents: Path
    patent_events: Path | None

    @classmethod
    def from_dir(cls, data_dir: Path) -> ReferenceInputs:
        """Locate ``<table>.parquet`` in ``data_dir``; raise ``DataError`` if one is missing."""
        data_dir = Path(data_dir)
        missing = [
            t for t in ("enterprises", "patents") if not (data_dir / f"{t}.parquet").is_file()
        ]
        if missing:
            raise DataError(
                f"{data_dir}: the reference aggregation needs "
                f"{', '.join(m + '.parquet' for m in missing)}, which is missing",
                "Generate the folder with `screening sample --format parquet` first.",
            )
        events = data_dir / "patent_events.parquet"
        return cls(
            data_dir / "enterprises.parquet",
            data_dir / "patents.parquet",
            events if events.is_file() else None,
        )


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def reference_indicators(
    data_dir: Path | str,
    as_of: date | str,
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Compute the 32 indicators for every firm of ``enterprises`` at ``as_of`` in DuckDB.

    Parameters
    ----------
    data_dir : path
        Folder with ``enterprises.parquet``, ``patents.parquet`` and optionally
        ``patent_events.parquet`` in the canonical shape of ``docs/data_model.md``.
    as_of : date or ISO string
        Only facts known at this date are used.
    threads : int, optional
        DuckDB worker threads (default: DuckDB's own choice, all cores).
    memory_limit : str, optional
        DuckDB ``memory_limit`` (e.g. ``"8GB"``); above it DuckDB spills to a temporary
        directory instead of growing (default: DuckDB's own, 80% of RAM).

    Returns
    -------
    pandas.DataFrame
        One row per firm, index ``uscc`` (sorted), the columns of :data:`INDICATORS`.
    """
    inputs = ReferenceInputs.from_dir(Path(data_dir))
    as_of = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    # the statement ends in ORDER BY: insertion order costs memory for nothing (at 1M firms
    # the reference ran out of a 12.5 GB limit without it, as the feature engine would)
    config: dict[str, object] = {"preserve_insertion_order": False}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(config=config)
    try:
        con.execute(
            f"CREATE VIEW enterprises AS SELECT * FROM read_parquet({_quote(inputs.enterprises)})"
        )
        con.execute(f"CREATE VIEW patents AS SELECT * FROM read_parquet({_quote(inputs.patents)})")
        if inputs.patent_events is not None:
            con.execute(
                f"CREATE VIEW patent_events AS SELECT * FROM read_parquet({_quote(inputs.patent_events)})"
            )
        else:
            con.execute(
                "CREATE VIEW patent_events AS SELECT NULL::VARCHAR AS app_no, "
                "NULL::VARCHAR AS event_code, NULL::DATE AS event_date, "
                "NULL::VARCHAR AS from_party, NULL::VARCHAR AS to_party WHERE false"
            )
        frame = con.execute(REFERENCE_SQL, {"as_of": as_of}).df()
    finally:
        con.close()
    return frame.set_index("uscc")
