"""The point-in-time engine: per-patent state and per-firm aggregates in DuckDB.

Built once per input (``PatentStore``), then evaluated for any table of ``(firm, as_of)``
pairs: the firm's holdings at as_of are found by an interval join on the ownership periods
of ``EntityLinks``, each held patent's legal state at as_of from its events dated ≤ as_of,
and every indicator is one conditional aggregate over those rows. One as_of for a million
firms and thousands of as_of values for a few thousand firms use the same SQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features._credit import NEGATIVE_TYPES, TAX_GRADE_VALUE, effective_end
from features._duck import DuckConnection
from features._entities import EntityLinks
from features._names import (
    arrow_array,
    arrow_strings,
    codes_values,
    encode,
    is_text_categorical,
    split_ids,
    take_text,
)
from features._programmes import is_2013_standard, level_value, status_ok, valid_to_filled
from features._rejected_events import unverified_since
from features._sei import SEI_SUBCLASSES
from features._tables import get_table

Progress = Callable[[str, int, int], None]

_EVENT_CODES = (
    "GR01", "PB01", "CF01", "CX01", "AV01", "IW01", "IP01", "RR01",
    "PE01", "PC01", "PP01", "PD01", "EE01", "RJ01", "WD01",
)  # fmt: skip


# ev, ipc and inv are built with Arrow and numpy (``_events``, ``_ipc_subclasses``, ``_inventors``): hash
# look-ups and integer de-duplication instead of string joins and string DISTINCT. The
# string expressions on family_countries, award and ipc_main run once per distinct value
# (``_per_distinct``); main_group is kept as an integer id (it is only grouped on).
_ABROAD_SQL = """coalesce(len(list_filter(string_split(v, ';'),
                 lambda x: upper(trim(x)) NOT IN ('CN', ''))) > 0, false)"""
_NO_COUNTRIES_SQL = """coalesce(len(list_filter(string_split(v, ';'),
                       lambda x: trim(x) <> '')) = 0, true)"""
_AWARD_SQL = "(v IS NOT NULL AND trim(v) <> '')"
_MAIN_GROUP_SQL = "nullif(split_part(replace(upper(trim(v)), ' ', ''), '/', 1), '')"
_PATENT_SQL = """
    WITH base AS (
      SELECT p.app_id,
        CASE p.patent_type WHEN 'invention' THEN 0 WHEN 'utility_model' THEN 1
             WHEN 'design' THEN 2 ELSE 3 END AS ptype,
        CAST(p.app_date AS DATE) AS app_date,
        least(CAST(p.grant_date AS DATE), CAST(p.gr01 AS DATE)) AS grant_d,
        least(CAST(p.pub_date AS DATE), CAST(p.pb01 AS DATE)) AS pub0,
        CAST(p.claims AS INTEGER) AS claims,
        coalesce(CAST(p.forward_citations AS INTEGER), 0) AS cites,
        CAST(p.family_size AS INTEGER) AS fam,
        (coalesce(p.pct, false) OR p.abroad
         OR (p.no_countries AND coalesce(p.family_size, 0) >= 2)) AS overseas,
        p.award, p.n_sub, p.sei, p.main_group
      FROM t_in p)
    SELECT *,
      CASE WHEN ptype = 0 THEN pub0 ELSE least(pub0, grant_d) END AS pub_d,
      -- an application with no publication or grant date given: public 18 months after
      -- filing at the latest (Patent Law art. 34), never on its filing date
      coalesce(least(pub0, grant_d), CAST(app_date + INTERVAL 18 MONTH AS DATE)) AS known,
      coalesce(least(pub0, grant_d), grant_d) AS cite_start,
      CAST(app_date + to_years(CASE ptype WHEN 0 THEN 20 WHEN 1 THEN 10
          WHEN 2 THEN (CASE WHEN app_date < DATE '2021-06-01' THEN 10 ELSE 15 END)
          ELSE 10 END) AS DATE) AS expiry
    FROM base
    """


_KEPT_PATENT_COLUMNS = ("app_no", "title", "owners", "applicants")
"""Patent columns the store keeps for ``pledgeable_patents`` (app numbers, titles, owners)."""
STORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "patents": (
        *_KEPT_PATENT_COLUMNS,
        "app_date",
        "patent_type",
        "pub_date",
        "grant_date",
        "ipc_main",
        "ipc_all",
        "claims",
        "forward_citations",
        "family_size",
        "family_countries",
        "pct",
        "inventors",
        "award",
    ),
    "patent_events": ("app_no", "event_code", "event_date"),
}
"""The patent and event columns the store is built from (the parties of transfers are read
by entity resolution, the applicants' codes too: the store works from the links)."""


class PatentStore:
    """Precomputed tables for fast as-of evaluation (internal).

    Parameters
    ----------
    data : DataBundle or Mapping
        Canonical tables.
    links : EntityLinks
        Resolved links for ``data``.
    threads : int or None
        DuckDB threads (None = DuckDB default, all cores).
    memory_limit : str or None
        DuckDB ``memory_limit`` (None = DuckDB's default, 80% of RAM); beyond it DuckDB
        spills its tables and operators to a private folder removed by :meth:`close`.
    """

    def __init__(
        self,
        data,
        links: EntityLinks,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self._duck = DuckConnection(memory_limit, threads)
        self.con = self._duck.con
        self._pairs_key: tuple | None = None  # the registered pairs (see load_pairs)
        self._held_key: tuple | None = None  # the pairs and term fpx was built for
        # built ahead by build_feature_store: its caller may trim the tables afterwards, so
        # the store is never silently rebuilt from another mapping (see _matrix._store_for)
        self.pinned = False
        ent = get_table(data, "enterprises")
        self.enterprises = ent
        self._registry = arrow_array(ent["uscc"])
        self._build_patents(
            # categoricals stay so: the store reads them per category or decodes one
            # column at a time, and keeps the owners' names compact for the pledge list
            get_table(data, "patents", STORE_COLUMNS["patents"], categorical=True),
            get_table(data, "patent_events", STORE_COLUMNS["patent_events"], categorical=True),
            data,
        )
        self._build_links(links)
        self._build_credit(links.credit_records)
        self._build_programmes(links.programmes)

    def close(self) -> None:
        """Close the DuckDB connection (frees its tables) and remove the spill folder."""
        self._duck.close()

    # -- construction ----------------------------------------------------------------------
    def firm_ids(self, usccs: pd.Series) -> np.ndarray:
        """Firm ids (registry row; the first when repeated) for USCCs; -1 when not in the
        registry. An Arrow hash look-up: no pandas index over a million strings."""
        ids = pc.index_in(arrow_array(usccs), value_set=self._registry, skip_nulls=True)
        return pc.fill_null(ids, -1).to_numpy(zero_copy_only=False).astype(np.int64)

    def _build_patents(self, patents: pd.DataFrame, events: pd.DataFrame, data) -> None:
        # only what the pledge list reads later: holding every column would keep the whole
        # patents table alive for as long as the store (gigabytes at national scale)
        self.patents = patents[[c for c in _KEPT_PATENT_COLUMNS if c in patents]]
        n = len(patents)
        # each input table is freed as soon as DuckDB has copied it: one at a time in memory
        ev = _events(patents, events)
        first = {"gr01": _first_date(ev, "GR01", n), "pb01": _first_date(ev, "PB01", n)}
        # one row per distinct event: a correction row (更正) repeating an event's patent,
        # code and date is the same event, never a second pledge or release
        self._create(
            "ev", "SELECT DISTINCT app_id, code, CAST(event_date AS DATE) AS d FROM t_in", ev
        )
        del ev
        ipc, n_sub, sei = _ipc_subclasses(patents)
        self._create("ipc", "SELECT app_id, sub FROM t_in", ipc)
        del ipc
        self._create("inv", "SELECT app_id, ih FROM t_in", _inventors(patents))
        self._create("pat", _PATENT_SQL, self._patent_input(patents, n_sub, sei, first))
        # the date from which a rejected legal event leaves a patent's state unknown: a
        # table as small as the rejects, joined when the held patents are built
        rows, since = unverified_since(data, arrow_array(patents["app_no"]))
        self._create(
            "unv", "SELECT app_id, CAST(d AS DATE) AS d FROM t_in",
            pa.table({"app_id": rows, "d": since}),
        )  # fmt: skip

    def _patent_input(self, patents: pd.DataFrame, n_sub, sei, first: dict) -> pa.Table:
        """The patent columns ``_PATENT_SQL`` reads; per-value string expressions evaluated
        once per distinct value."""
        con = self.con
        (abroad, no_countries), pos = _per_distinct(
            con, patents["family_countries"], _ABROAD_SQL, _NO_COUNTRIES_SQL
        )
        (award,), apos = _per_distinct(con, patents["award"], _AWARD_SQL)
        (groups,), gpos = _per_distinct(con, patents["ipc_main"], _MAIN_GROUP_SQL)
        group_id = encode(groups)[0][gpos]
        return pa.table(
            {
                "app_id": np.arange(len(patents), dtype=np.int64),
                "patent_type": arrow_strings(patents["patent_type"]),
                **{c: patents[c].to_numpy() for c in ("app_date", "pub_date", "grant_date")},
                **{c: pa.array(patents[c]) for c in ("claims", "forward_citations", "family_size")},
                "pct": pa.array(patents["pct"]),
                "abroad": abroad.to_numpy(zero_copy_only=False)[pos],
                "no_countries": no_countries.to_numpy(zero_copy_only=False)[pos],
                "award": award.to_numpy(zero_copy_only=False)[apos],
                "main_group": pa.array(group_id, mask=group_id < 0),
                "n_sub": n_sub,
                "sei": sei,
                **first,
            }
        )

    def _create(self, name: str, select: str, table: pa.Table | pd.DataFrame) -> None:
        """``CREATE TABLE name AS select`` over ``table`` registered as ``t_in``."""
        self.con.register("t_in", table)
        try:
            self.con.execute(f"CREATE TABLE {name} AS {select}")
        finally:
            self.con.unregister("t_in")

    def _build_links(self, links: EntityLinks) -> None:
        con = self.con
        pl = links.patent_links
        app_id = pl["patent_row"].to_numpy(dtype=np.int64)
        firm_id = self._firm_ids_of(pl["uscc"])
        owner = (pl["role"] == "owner").to_numpy(dtype=bool)
        hf, ht = pl["held_from"].to_numpy(), pl["held_to"].to_numpy()
        con.register(
            "l_in",
            pa.table(
                {
                    "app_id": app_id,
                    "firm_id": firm_id,
                    "owner": owner,
                    "hf": hf,
                    "ht": ht,
                    "n_owners": pa.array(pl["n_owners"]),
                    "acq": pl["acquired_on"].to_numpy(),
                }
            ),
        )
        el = links.event_links
        tr = el.loc[el["side"] == "from"]
        # transfers out: the firm named as assignor (from_party), and a holder before a
        # transfer that holds nothing of the patent after it (an empty from_party means the
        # holders then): integer keys of the transferred holdings only, not a join in DuckDB
        # (keyed by application number, as the named ones are: looking the named numbers
        # up among 20M patents would build a hash table of every number, +1.6 GB at 1M)
        i_firm, i_app, i_day = _left_holders(firm_id, app_id, owner, hf, ht)
        left = take_text(self.patents["app_no"], i_app)
        con.register(
            "t_in",
            pa.table(
                {
                    "firm_id": np.concatenate([self.firm_ids(tr["uscc"]), i_firm]),
                    "app_no": pa.concat_arrays([arrow_array(tr["app_no"]), left]),
                    "d": np.concatenate(
                        [
                            tr["event_date"].to_numpy(dtype="datetime64[ns]"),
                            i_day.astype("datetime64[ns]"),
                        ]
                    ),  # fmt: skip
                }
            ),
        )
        # firm ids are registry rows (integers): no join on USCC strings
        con.execute(
            """
            CREATE TABLE appl AS
            SELECT DISTINCT firm_id, app_id FROM l_in WHERE NOT owner AND firm_id >= 0;
            CREATE TABLE hold AS
            SELECT l.firm_id, l.app_id, CAST(l.hf AS DATE) AS hf, CAST(l.ht AS DATE) AS ht,
                   coalesce(l.n_owners, 1) AS n_owners, CAST(l.acq AS DATE) AS acq,
                   (a.app_id IS NOT NULL) AS self_filed
            FROM l_in l LEFT JOIN appl a ON a.firm_id = l.firm_id AND a.app_id = l.app_id
            WHERE l.owner AND l.firm_id >= 0;
            CREATE TABLE trout AS
            SELECT DISTINCT firm_id, app_no, CAST(d AS DATE) AS d FROM t_in
            WHERE firm_id >= 0 AND d IS NOT NULL;
            """
        )
        for name in ("l_in", "t_in"):
            con.unregister(name)

    def _firm_ids_of(self, usccs: pd.Series) -> np.ndarray:
        """:meth:`firm_ids` of a column; a categorical one is looked up per category."""
        if not isinstance(usccs.dtype, pd.CategoricalDtype):
            return self.firm_ids(usccs)
        codes = usccs.cat.codes.to_numpy()
        ids = np.append(self.firm_ids(pd.Series(usccs.cat.categories)), -1)
        return ids[codes]  # code -1 (missing) takes the appended -1

    def _build_credit(self, credit: pd.DataFrame) -> None:
        df = pd.DataFrame(
            {
                "firm_id": self.firm_ids(credit["uscc"]),
                "type": credit["record_type"].astype("str").to_numpy(),
                "start": credit["start_date"].to_numpy(),
                "eff_end": effective_end(credit).to_numpy(),
                "serious": (credit["severity"].astype("str") == "serious").fillna(False).to_numpy(),
                "grade": credit["value"].map(TAX_GRADE_VALUE).astype("float64").to_numpy(),
            }
        )
        df = df[(df["firm_id"] >= 0) & df["start"].notna()]
        self._create(
            "credit",
            "SELECT firm_id, type, CAST(start AS DATE) AS start, "
            "CAST(eff_end AS DATE) AS eff_end, serious, grade FROM t_in",
            df,
        )

    def _build_programmes(self, progs: pd.DataFrame) -> None:
        df = pd.DataFrame(
            {
                "firm_id": self.firm_ids(progs["uscc"]),
                "programme": progs["programme"].astype("str").to_numpy(),
                "lvl": level_value(progs),
                "vf": progs["valid_from"].to_numpy(),
                "vt": valid_to_filled(progs).to_numpy(),
                "ok": status_ok(progs),
                "v2013": is_2013_standard(progs),
            }
        )
        df = df[(df["firm_id"] >= 0) & df["ok"] & df["vf"].notna()]
        self._create(
            "prog",
            "SELECT firm_id, programme, lvl, CAST(vf AS DATE) AS vf, CAST(vt AS DATE) AS vt, "
            "v2013 FROM t_in",
            df,
        )

    # -- evaluation --------------------------------------------------------------------------
    def load_pairs(self, firm_id: np.ndarray, as_of: np.ndarray) -> None:
        """Register the (pair_id, firm_id, as_of) table the queries run on.

        Loading the pairs already registered (same firms and dates, in the same order)
        keeps them and the held-patent state built on them (:meth:`held_patents`)."""
        firm_id = np.ascontiguousarray(firm_id, dtype=np.int64)
        as_of = np.ascontiguousarray(as_of, dtype="datetime64[ns]")
        digest = hashlib.blake2b(firm_id.tobytes(), digest_size=16)
        digest.update(as_of.view(np.int64).tobytes())
        key = (len(firm_id), digest.hexdigest())
        if key == self._pairs_key:
            return
        self._pairs_key = self._held_key = None
        self.con.execute("DROP TABLE IF EXISTS pairs")
        df = pd.DataFrame(
            {
                "pair_id": np.arange(len(firm_id), dtype=np.int64),
                "firm_id": firm_id,
                "as_of": as_of,
            }
        )
        self._create("pairs", "SELECT pair_id, firm_id, CAST(as_of AS DATE) AS as_of FROM t_in", df)
        self._pairs_key = key

    def drop_request(self) -> None:
        """Drop the per-request tables (pairs and held patents: as large as the store's own
        tables for a screening run), once the request's results are out."""
        self.con.execute(
            "DROP TABLE IF EXISTS fpx; DROP TABLE IF EXISTS st; DROP TABLE IF EXISTS fp; "
            "DROP TABLE IF EXISTS pairs"
        )
        self._pairs_key = None
        self._held_key = None

    def held_patents(self, min_remaining_years: float) -> None:
        """Materialise ``fpx``: one row per (pair, patent held and known at as_of) with state.

        Kept until the next request: a second call on the same pairs and
        ``min_remaining_years`` (the pledge list after the feature matrix of a screening
        run) reuses it: at 1M firms this join of 20M patents with 39M events is ~20 s."""
        key = (self._pairs_key, float(min_remaining_years))
        if self._pairs_key is not None and key == self._held_key:
            return
        self._held_key = None
        self.con.execute(
            f"""
            DROP TABLE IF EXISTS fp; DROP TABLE IF EXISTS st; DROP TABLE IF EXISTS fpx;
            CREATE TEMP TABLE fp AS
            SELECT q.pair_id, q.as_of, h.app_id, h.n_owners, h.acq, h.self_filed
            FROM pairs q JOIN hold h ON h.firm_id = q.firm_id
            WHERE (h.hf IS NULL OR h.hf <= q.as_of) AND (h.ht IS NULL OR h.ht > q.as_of);
            CREATE TEMP TABLE st AS
            SELECT q.app_id, q.as_of,
              min(e.d) FILTER (WHERE e.code IN ('CX01', 'IW01', 'AV01')) AS end_final,
              max(e.d) FILTER (WHERE e.code = 'CF01') AS last_cf,
              max(e.d) FILTER (WHERE e.code = 'RR01') AS last_rr,
              min(e.d) FILTER (WHERE e.code = 'RJ01') AS first_rj,
              max(e.d) FILTER (WHERE e.code = 'WD01') AS last_wd,
              max(e.d) FILTER (WHERE e.code = 'PE01') AS last_pe,
              max(e.d) FILTER (WHERE e.code = 'PC01') AS last_pc,
              max(e.d) FILTER (WHERE e.code = 'PP01') AS last_pp,
              max(e.d) FILTER (WHERE e.code = 'PD01') AS last_pd,
              count(*) FILTER (WHERE e.code = 'EE01') AS n_ee,
              count(*) FILTER (WHERE e.code IN ('IW01', 'IP01')) AS n_inval
            FROM (SELECT DISTINCT app_id, as_of FROM fp) q
            JOIN ev e ON e.app_id = q.app_id AND e.d <= q.as_of
            WHERE e.code NOT IN ('GR01', 'PB01')
            GROUP BY q.app_id, q.as_of;
            CREATE TEMP TABLE fpx AS
            WITH x AS (
              SELECT f.pair_id, f.as_of, f.app_id, f.n_owners, f.acq, f.self_filed,
                p.ptype, p.app_date, p.pub_d, p.grant_d, p.expiry, p.claims, p.cites, p.fam,
                p.overseas, p.sei, p.award, p.n_sub, p.main_group, p.cite_start,
                coalesce(u.d <= f.as_of, false) AS unverified,
                s.end_final, s.last_cf, s.last_rr,
                -- decided against: rejected, or withdrawn (WD01) and not restored (RR01)
                -- on or after the withdrawal
                coalesce(s.first_rj, CASE WHEN s.last_rr IS NULL OR s.last_rr < s.last_wd
                                          THEN s.last_wd END) AS dec_neg,
                coalesce(s.n_ee, 0) AS n_ee,
                coalesce(s.n_inval, 0) AS n_inval,
                coalesce(p.grant_d <= f.as_of, false) AS granted,
                (s.last_cf IS NOT NULL AND (s.last_rr IS NULL OR s.last_rr < s.last_cf))
                  AS lapsed,
                -- the last pledge (preservation) not released by a later PC01 (PD01); a
                -- release dated the same day as the pledge does not count as later: the
                -- order within a day is unknown, and a pledged patent must never be listed
                -- as free
                (s.last_pe IS NOT NULL AND (s.last_pc IS NULL OR s.last_pc <= s.last_pe))
                  AS pledged,
                (s.last_pp IS NOT NULL AND (s.last_pd IS NULL OR s.last_pd <= s.last_pp))
                  AS preserved
              FROM fp f JOIN pat p ON p.app_id = f.app_id
              LEFT JOIN st s ON s.app_id = f.app_id AND s.as_of = f.as_of
              LEFT JOIN unv u ON u.app_id = f.app_id
              WHERE p.known <= f.as_of)
            SELECT *,
              granted AND end_final IS NULL AND NOT lapsed AND as_of < expiry AS valid,
              date_diff('day', as_of, expiry) / 365.25 AS rem,
              date_diff('day', app_date, as_of) / 365.25 AS age,
              app_date + INTERVAL 10 YEAR < as_of AS old10,
              least(end_final, CASE WHEN lapsed THEN last_cf END,
                    CASE WHEN expiry <= as_of THEN expiry END) AS end_d,
              (granted AND end_final IS NULL AND NOT lapsed AND as_of < expiry
                AND NOT pledged AND NOT preserved AND NOT unverified
                AND date_diff('day', as_of, expiry) / 365.25 > {float(min_remaining_years)!r})
                AS pledgeable
            FROM x;
            DROP TABLE fp; DROP TABLE st;
            """
        )
        self._held_key = key

    def patent_features(self) -> pd.DataFrame:
        """Per-pair patent and pledge indicators (needs :meth:`held_patents`)."""
        main = self.con.execute(
            """
            SELECT pair_id,
              count(*) FILTER (WHERE valid AND ptype = 0) AS valid_invention_count,
              count(*) FILTER (WHERE valid AND ptype = 1) AS valid_utility_model_count,
              count(*) FILTER (WHERE ptype = 0 AND pub_d <= as_of AND NOT granted
                               AND dec_neg IS NULL) AS pending_invention_count,
              count(*) FILTER (WHERE valid) AS n_valid,
              count(*) FILTER (WHERE valid AND main_group IS NOT NULL) AS n_valid_mg,
              count(*) FILTER (WHERE valid AND ptype = 0 AND sei) AS n_sei_inv,
              count(*) FILTER (WHERE valid AND self_filed) AS n_self,
              avg(claims) FILTER (WHERE valid AND ptype = 0) AS avg_claims_per_invention,
              avg(n_sub) FILTER (WHERE valid AND n_sub > 0) AS avg_patent_scope,
              sum(cites) FILTER (WHERE valid) AS sum_cites,
              sum(greatest(date_diff('day', cite_start, as_of) / 365.25, 0.5))
                FILTER (WHERE valid) AS sum_pub_years,
              count(*) FILTER (WHERE valid AND cites >= 1) AS n_cited,
              avg(fam) FILTER (WHERE valid) AS avg_family_size,
              count(*) FILTER (WHERE valid AND ptype = 0 AND overseas)
                AS overseas_family_invention_count,
              count(*) FILTER (WHERE valid AND ptype = 0 AND (sei OR overseas OR old10 OR award))
                AS high_value_invention_count,
              avg(age) FILTER (WHERE valid AND ptype = 0) AS avg_invention_age_years,
              count(*) FILTER (WHERE valid AND ptype = 0 AND old10)
                AS invention_maintained_10y_count,
              avg(rem) FILTER (WHERE valid) AS avg_remaining_term_years,
              count(*) FILTER (WHERE granted AND lapsed
                               AND last_cf > as_of - INTERVAL 5 YEAR) AS n_lapse,
              count(*) FILTER (WHERE granted AND (valid OR end_d > as_of - INTERVAL 5 YEAR))
                AS n_force5,
              sum(n_inval) AS invalidation_loss_count,
              count(*) FILTER (WHERE preserved) AS preservation_litigation_count,
              count(*) FILTER (WHERE valid AND n_owners > 1) AS n_co,
              sum(n_ee) AS license_record_count,
              count(*) FILTER (WHERE valid AND acq > as_of - INTERVAL 1 YEAR) AS n_acq,
              count(*) FILTER (WHERE valid AND pledged) AS n_pledged,
              count(*) FILTER (WHERE pledgeable) AS pledgeable_patent_count,
              count(*) FILTER (WHERE pledgeable AND ptype = 0) AS pledgeable_invention_count,
              avg(rem) FILTER (WHERE pledgeable) AS pledgeable_avg_remaining_years
            FROM fpx GROUP BY pair_id
            """
        ).df()
        breadth = self.con.execute(
            """
            SELECT f.pair_id, count(DISTINCT i.sub) AS ipc_subclass_breadth
            FROM fpx f JOIN ipc i ON i.app_id = f.app_id WHERE f.valid GROUP BY f.pair_id
            """
        ).df()
        conc = self.con.execute(
            """
            SELECT pair_id, max(c) AS top_mg FROM (
              SELECT pair_id, main_group, count(*) AS c FROM fpx
              WHERE valid AND main_group IS NOT NULL GROUP BY pair_id, main_group)
            GROUP BY pair_id
            """
        ).df()
        apps = self.con.execute(
            """
            SELECT q.pair_id, count(*) AS total_application_count,
              count(*) FILTER (WHERE p.app_date > q.as_of - INTERVAL 3 YEAR)
                AS recent3y_application_count,
              count(DISTINCT year(p.app_date)) FILTER (WHERE year(p.app_date) >= year(q.as_of) - 4)
                AS filing_continuity_years
            FROM pairs q JOIN appl a ON a.firm_id = q.firm_id JOIN pat p ON p.app_id = a.app_id
            WHERE p.known <= q.as_of AND p.app_date <= q.as_of
            GROUP BY q.pair_id
            """
        ).df()
        inventors = self.con.execute(
            """
            WITH f AS (
              SELECT q.pair_id, p.app_id FROM pairs q JOIN appl a ON a.firm_id = q.firm_id
              JOIN pat p ON p.app_id = a.app_id
              WHERE p.known <= q.as_of AND p.app_date <= q.as_of
                AND p.app_date > q.as_of - INTERVAL 5 YEAR)
            SELECT pair_id, count(*) AS core_inventor_count FROM (
              SELECT f.pair_id, i.ih FROM f JOIN inv i ON i.app_id = f.app_id
              GROUP BY f.pair_id, i.ih HAVING count(*) >= 2)
            GROUP BY pair_id
            """
        ).df()
        # pledges the firm made: PE01 on a patent it held on the pledge's date, also when it
        # no longer holds it (a pledged patent transferred to the lender without a release
        # is the default this indicator is for), against the firm's own releases
        pledges = self.con.execute(
            """
            WITH mine AS (
              SELECT q.pair_id, q.firm_id, q.as_of, h.app_id,
                count(DISTINCT e.d) AS n_pe_old, min(e.d) AS first_pe
              FROM pairs q JOIN hold h ON h.firm_id = q.firm_id
              JOIN ev e ON e.app_id = h.app_id AND e.code = 'PE01'
              JOIN pat p ON p.app_id = h.app_id AND p.known <= q.as_of
              WHERE e.d <= q.as_of - INTERVAL 1 YEAR
                AND (h.hf IS NULL OR h.hf <= e.d) AND (h.ht IS NULL OR h.ht > e.d)
              GROUP BY q.pair_id, q.firm_id, q.as_of, h.app_id),
            rel AS (
              -- the firm's releases: after its first pledge of the patent, while it held it
              -- (or on the day its holding ended); a previous owner's release, or the
              -- lender's after taking the patent over, is not the firm's
              SELECT m.pair_id, m.app_id, count(DISTINCT c.d) AS n_pc
              FROM mine m JOIN ev c ON c.app_id = m.app_id AND c.code = 'PC01'
                AND c.d >= m.first_pe AND c.d <= m.as_of
              JOIN hold h ON h.firm_id = m.firm_id AND h.app_id = m.app_id
                AND (h.hf IS NULL OR h.hf <= c.d) AND (h.ht IS NULL OR h.ht >= c.d)
              GROUP BY m.pair_id, m.app_id)
            SELECT m.pair_id, sum(least(coalesce(r.n_pc, 0), m.n_pe_old)) AS n_released,
              sum(m.n_pe_old) AS n_pe_old
            FROM mine m LEFT JOIN rel r ON r.pair_id = m.pair_id AND r.app_id = m.app_id
            GROUP BY m.pair_id
            """
        ).df()
        # the firm's own examination record: invention applications it filed (whoever holds
        # them now), decided by as_of; a granted patent bought later is not the firm's grant
        grants = self.con.execute(
            """
            WITH f AS (
              SELECT q.pair_id, q.as_of, p.app_id, coalesce(p.grant_d <= q.as_of, false) AS granted
              FROM pairs q JOIN appl a ON a.firm_id = q.firm_id JOIN pat p ON p.app_id = a.app_id
              WHERE p.ptype = 0 AND p.known <= q.as_of AND p.app_date <= q.as_of),
            neg AS (
              SELECT f.pair_id, f.app_id,
                min(e.d) FILTER (WHERE e.code = 'RJ01') AS rj,
                max(e.d) FILTER (WHERE e.code = 'WD01') AS wd,
                max(e.d) FILTER (WHERE e.code = 'RR01') AS rr
              FROM f JOIN ev e ON e.app_id = f.app_id AND e.d <= f.as_of
              WHERE NOT f.granted AND e.code IN ('RJ01', 'WD01', 'RR01')
              GROUP BY f.pair_id, f.app_id)
            SELECT f.pair_id, count(*) FILTER (WHERE f.granted) AS inv_granted,
              -- a refusal counts once the application was public (published by as_of): one
              -- withdrawn before publication is never published
              count(*) FILTER (WHERE f.granted OR (p.pub_d <= f.as_of AND (n.rj IS NOT NULL
                               OR (n.wd IS NOT NULL AND (n.rr IS NULL OR n.rr < n.wd)))))
                AS inv_decided
            FROM f JOIN pat p ON p.app_id = f.app_id
            LEFT JOIN neg n ON n.pair_id = f.pair_id AND n.app_id = f.app_id
            GROUP BY f.pair_id
            """
        ).df()
        trans = self.con.execute(
            """
            SELECT q.pair_id, count(*) AS recent_transfer_out_count
            FROM pairs q JOIN trout t ON t.firm_id = q.firm_id
            WHERE t.d <= q.as_of AND t.d > q.as_of - INTERVAL 24 MONTH GROUP BY q.pair_id
            """
        ).df()
        n = self._n_pairs()
        out = _frame(n, main, breadth, conc, apps, inventors, trans, pledges, grants)
        nv = out["n_valid"].to_numpy(dtype=float)
        inv = out["valid_invention_count"].to_numpy(dtype=float)
        um = out["valid_utility_model_count"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["invention_share"] = _ratio(inv, inv + um)
            out["invention_grant_rate"] = _ratio(out["inv_granted"], out["inv_decided"])
            out["core_ipc_concentration"] = _ratio(out["top_mg"], nv)
            out["sei_invention_share"] = _ratio(out["n_sei_inv"], inv)
            out["self_filed_share"] = _ratio(out["n_self"], nv)
            out["forward_citations_per_year"] = _ratio(out["sum_cites"], out["sum_pub_years"])
            out["cited_patent_share"] = _ratio(out["n_cited"], nv)
            out["annuity_lapse_rate"] = _ratio(out["n_lapse"], out["n_force5"])
            out["co_owned_share"] = _ratio(out["n_co"], nv)
            out["recent_acquired_share"] = _ratio(out["n_acq"], nv)
            out["pledge_release_ratio"] = _ratio(out["n_released"], out["n_pe_old"])
            out["currently_pledged_share"] = _ratio(out["n_pledged"], nv)
        return out

    def peer_base_features(self) -> pd.DataFrame:
        """Only the peer-ranked indicators (cheap: used for reference populations)."""
        main = self.con.execute(
            """
            SELECT pair_id,
              count(*) FILTER (WHERE valid AND ptype = 0) AS valid_invention_count,
              sum(cites) FILTER (WHERE valid) AS sum_cites,
              sum(greatest(date_diff('day', cite_start, as_of) / 365.25, 0.5))
                FILTER (WHERE valid) AS sum_pub_years
            FROM fpx GROUP BY pair_id
            """
        ).df()
        apps = self.con.execute(
            """
            SELECT q.pair_id, count(*) AS total_application_count
            FROM pairs q JOIN appl a ON a.firm_id = q.firm_id JOIN pat p ON p.app_id = a.app_id
            WHERE p.known <= q.as_of AND p.app_date <= q.as_of
            GROUP BY q.pair_id
            """
        ).df()
        out = _frame(self._n_pairs(), main, apps)
        out["forward_citations_per_year"] = _ratio(out["sum_cites"], out["sum_pub_years"])
        return out

    def credit_features(self) -> pd.DataFrame:
        neg = ", ".join(f"'{t}'" for t in NEGATIVE_TYPES)
        act = "c.start <= q.as_of AND (c.eff_end IS NULL OR c.eff_end > q.as_of)"
        df = self.con.execute(
            f"""
            SELECT q.pair_id,
              count(*) FILTER (WHERE c.type = 'dishonest_debtor' AND {act})
                AS credit_dishonest_debtor_active,
              count(*) FILTER (WHERE c.type = 'consumption_restriction' AND {act})
                AS credit_consumption_restriction_active,
              count(*) FILTER (WHERE c.type = 'serious_violation' AND {act})
                AS credit_serious_violation_active,
              count(*) FILTER (WHERE c.type = 'abnormal_operation' AND {act})
                AS credit_abnormal_operation_active,
              count(*) FILTER (WHERE c.type = 'major_tax_violation' AND {act})
                AS credit_major_tax_violation_active,
              count(*) FILTER (WHERE c.type = 'admin_penalty' AND c.serious AND {act})
                AS credit_serious_penalty_active,
              count(*) FILTER (WHERE c.type = 'admin_penalty' AND c.start <= q.as_of
                               AND c.start > q.as_of - INTERVAL 3 YEAR)
                AS credit_admin_penalty_3y_count,
              count(*) FILTER (WHERE c.type IN ({neg}) AND c.start <= q.as_of
                               AND c.start > q.as_of - INTERVAL 3 YEAR) AS credit_negative_3y_count,
              date_diff('day', max(c.start) FILTER (WHERE c.type IN ({neg})
                                                    AND c.start <= q.as_of), q.as_of) AS days_neg,
              -max({{'d': c.start, 'g': -c.grade}}) FILTER (WHERE c.type = 'tax_rating'
                    AND c.start <= q.as_of AND c.grade IS NOT NULL).g AS credit_tax_grade
            FROM pairs q JOIN credit c ON c.firm_id = q.firm_id
            GROUP BY q.pair_id, q.as_of
            """
        ).df()
        out = _frame(self._n_pairs(), df)
        days = out.pop("days_neg").to_numpy(dtype=float)
        out["credit_days_since_negative"] = np.where(np.isnan(days), 3650, np.minimum(days, 3650))
        if "credit_tax_grade" not in out:
            out["credit_tax_grade"] = np.nan
        return out

    def programme_features(self) -> pd.DataFrame:
        flags = ",\n".join(
            f"max(CASE WHEN g.programme = '{p}' THEN 1 ELSE 0 END) AS prog_{p}"
            for p in (
                "little_giant", "srdi_sme", "innovative_sme", "high_tech", "tech_sme",
                "ip_advantage", "ip_demonstration", "ip_standard",
            )
        )  # fmt: skip
        # years held: back from as_of through renewals, to the start of the firm's unbroken
        # run of memberships (any programme; a gap of up to RENEWAL_GRACE_DAYS between one
        # certificate's end and the next start does not break it), not the start of the
        # certificate active today (a renewed 高新 read 0.4 years after seven)
        df = self.con.execute(
            f"""
            WITH c AS (
              SELECT q.pair_id, g.vf,
                least(g.vt, q.as_of, CASE WHEN g.v2013 THEN DATE '2025-12-31' END) AS e
              FROM pairs q JOIN prog g ON g.firm_id = q.firm_id
              WHERE g.vf <= q.as_of),
            o AS (
              SELECT pair_id, vf, max(e) OVER (
                PARTITION BY pair_id ORDER BY vf, e
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
              FROM c),
            run AS (
              SELECT pair_id, max(vf) AS run_start FROM o
              WHERE prev_end IS NULL OR vf > prev_end + INTERVAL {RENEWAL_GRACE_DAYS} DAY
              GROUP BY pair_id),
            act AS (
              SELECT q.pair_id, q.as_of, {flags}, max(g.lvl) AS prog_max_level
              FROM pairs q JOIN prog g ON g.firm_id = q.firm_id
              WHERE g.vf <= q.as_of AND q.as_of <= g.vt
                AND NOT (g.v2013 AND q.as_of > DATE '2025-12-31')
              GROUP BY q.pair_id, q.as_of)
            SELECT a.* EXCLUDE (as_of),
              date_diff('day', r.run_start, a.as_of) / 365.25 AS prog_years_held
            FROM act a JOIN run r ON r.pair_id = a.pair_id
            """
        ).df()
        return _frame(self._n_pairs(), df)

    def valid_patent_rows(self) -> pd.DataFrame:
        """Valid held patents with their state (for the pledgeability list)."""
        return self.con.execute(
            """
            SELECT pair_id, app_id, ptype, grant_d, expiry, rem, n_owners, pledged, preserved,
                   unverified, pledgeable
            FROM fpx WHERE valid ORDER BY pair_id, app_id
            """
        ).df()

    def _n_pairs(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM pairs").fetchone()[0])


# the characters DuckDB's trim() removes (Unicode space separators), kept for identical keys
_ZS = " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"


RENEWAL_GRACE_DAYS = 180
"""Longest gap between a programme certificate's end and the next one's start that still
counts as holding memberships without a break (``prog_years_held``): renewals are often
certified some months after the previous certificate ended."""


def _events(patents: pd.DataFrame, events: pd.DataFrame) -> pa.Table:
    """Dated events of the codes the engine reads, with the row of their patent (the first
    row when an app_no repeats); events of unknown patents are dropped."""
    date = pa.array(events["event_date"].to_numpy(dtype="datetime64[ns]"))
    wanted = pa.array(_EVENT_CODES, pa.large_string())
    col = events["event_code"]
    if is_text_categorical(col):
        # a handful of categories: test them, and decode only the kept rows' codes (not
        # 38.7M strings at 1M firms)
        codes, values = codes_values(col)
        hit = pc.fill_null(pc.is_in(values, value_set=wanted), False)
        hit = np.append(hit.to_numpy(zero_copy_only=False), False)  # code -1 (null): no
        keep_np = hit[codes] & pc.is_valid(date).to_numpy(zero_copy_only=False)
        keep = pa.array(keep_np)
        code = values.take(pa.array(codes[keep_np]))
    else:
        code = arrow_strings(col)
        keep = pc.and_(pc.fill_null(pc.is_in(code, value_set=wanted), False), pc.is_valid(date))
        code = code.filter(keep)
    # each event's patent row, then the kept ones: no filtered copy of 38.7M app_no strings
    app_id = pc.index_in(
        arrow_strings(events["app_no"]), value_set=arrow_array(patents["app_no"]), skip_nulls=True
    ).filter(keep)
    tbl = pa.table(
        {"app_id": app_id.cast(pa.int64()), "code": code, "event_date": date.filter(keep)}
    )
    return tbl.filter(pc.is_valid(tbl["app_id"]))


def _left_holders(firm_id, app_id, owner, hf, ht) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(firm, patent, day) of every holding that ends at a transfer with the firm holding
    nothing of the patent from that day: holdings end only at transfers, so these are the
    transfers out of firms the TR01 may not name. Keys are packed into one int64 (firm 21
    bits, patent 26, day 16) and compared with ``np.isin`` over the transferred holdings."""
    keep = owner & (firm_id >= 0)
    ends = keep & ~np.isnat(ht)
    starts = keep & ~np.isnat(hf)
    day = np.datetime64("1970-01-01", "D")

    def key(rows, when):
        d = (when[rows].astype("datetime64[D]") - day).astype(np.int64) + 25_000  # ≥ 1902
        return (firm_id[rows] << 42) | (app_id[rows] << 16) | np.clip(d, 0, 65_535)

    if firm_id.max(initial=0) < 1 << 21 and app_id.max(initial=0) < 1 << 26:
        gone = ~np.isin(key(ends, ht), key(starts, hf))
    else:  # beyond 2M firms or 67M patents the keys would not fit: compare as tuples
        after = pd.MultiIndex.from_arrays([firm_id[starts], app_id[starts], hf[starts]])
        gone = ~pd.MultiIndex.from_arrays([firm_id[ends], app_id[ends], ht[ends]]).isin(after)
    rows = np.flatnonzero(ends)[gone]
    return firm_id[rows], app_id[rows], ht[rows].astype("datetime64[D]")


def _first_date(ev: pa.Table, code: str, n: int) -> np.ndarray:
    """Earliest date (day) of the ``code`` events of each patent row; NaT when none."""
    sub = ev.filter(pc.equal(ev["code"], code))
    rows = sub["app_id"].to_numpy()
    days = sub["event_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, rows, days)
    first[first == np.iinfo(np.int64).max] = np.iinfo(np.int64).min  # NaT
    return first.view("datetime64[D]").astype("datetime64[s]")


def _per_distinct(con, col: pd.Series, *exprs: str) -> tuple[list[pa.Array], np.ndarray]:
    """SQL ``exprs`` over ``v`` evaluated once per distinct value of ``col`` (and for NULL),
    in one pass: the results (one array per expression), and each row's position in them."""
    ids, values = encode(col)
    con.register("v_in", pa.table({"i": np.arange(len(values) + 1), "v": pa.concat_arrays(
        [values, pa.nulls(1, values.type)])}))  # fmt: skip
    select = ", ".join(f"{e} AS x{k}" for k, e in enumerate(exprs))
    out = con.sql(f"SELECT {select} FROM v_in ORDER BY i").to_arrow_table()
    con.unregister("v_in")
    results = [arrow_array(out[f"x{k}"]) for k in range(len(exprs))]
    return results, np.where(ids >= 0, ids, len(values))


def _distinct_per_row(parent: np.ndarray, ids: np.ndarray, width: int):
    """Distinct (row, id) pairs, sorted: rows and ids."""
    width = max(width, 1)
    # rows come in order, so the keys are nearly sorted: a stable (merge) sort is cheap,
    # where np.unique's hashing is several times slower
    key = np.sort(parent * width + ids, kind="stable")
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    return key // width, key % width


def _strip_zs(items: pa.Array) -> pa.Array:
    """Trim the characters DuckDB's trim() removes (kept for identical keys)."""
    return pc.utf8_trim(items, _ZS)


def _ipc_subclasses(patents: pd.DataFrame) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Distinct valid IPC subclasses (``ipc_all``, else ``ipc_main``) per patent row, as ids;
    the count and whether any is a strategic-emerging-industry subclass, per row. The codes
    are parsed once per distinct code, not once per mention."""
    n = len(patents)
    col = pc.coalesce(arrow_strings(patents["ipc_all"]), arrow_strings(patents["ipc_main"]))
    parent, ids, codes = split_ids(col, fullwidth=False, strip=_strip_zs)
    sub = pc.utf8_upper(pc.utf8_slice_codeunits(pc.replace_substring(codes, " ", ""), 0, 4))
    ok = pc.fill_null(pc.match_substring_regex(sub, "^[A-H][0-9]{2}[A-Z]$"), False)
    sub_id, subs = encode(pc.if_else(ok, sub, pa.scalar(None, sub.type)))
    sid = sub_id[ids]
    row, sid = _distinct_per_row(parent[sid >= 0], sid[sid >= 0], len(subs))
    is_sei = pc.is_in(subs, value_set=pa.array(sorted(SEI_SUBCLASSES), pa.large_string()))
    sei = np.bincount(row, weights=is_sei.to_numpy(zero_copy_only=False)[sid], minlength=n) > 0
    n_sub = np.bincount(row, minlength=n).astype(np.int64)
    return pa.table({"app_id": row, "sub": sid}), n_sub, sei


def _inventors(patents: pd.DataFrame) -> pa.Table:
    """Distinct inventors per patent row as integer ids (names trimmed of spaces)."""
    parent, ids, names = split_ids(patents["inventors"], fullwidth=False, strip=_strip_zs)
    row, iid = _distinct_per_row(parent, ids, len(names))
    return pa.table({"app_id": row, "ih": iid})


def _ratio(num, den) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _frame(n: int, *parts: pd.DataFrame) -> pd.DataFrame:
    """Dense per-pair frame (index 0..n-1): counts default to 0, averages to NaN."""
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for part in parts:
        part = part.set_index("pair_id")
        for col in part.columns:
            s = part[col]
            vals = np.zeros(n) if _is_count(col) else np.full(n, np.nan)
            idx = s.index.to_numpy(dtype=np.int64)
            v = s.to_numpy(dtype=float, na_value=np.nan)
            vals[idx] = v
            if _is_count(col):
                vals = np.nan_to_num(vals, nan=0.0)
            out[col] = vals
    return out


_AVG_PREFIXES = ("avg_", "pledgeable_avg", "prog_years", "credit_tax", "days_", "sum_pub")


def _is_count(col: str) -> bool:
    return not col.startswith(_AVG_PREFIXES)
