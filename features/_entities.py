"""Entity resolution: link patents, transfer parties, credit records, programme lists and
nominations to registry firms (issue 3, part 1).

Order of evidence: a USCC present in the source and found in the registry wins; otherwise the
normalised name is looked up among registry names and 曾用名 (``features._names``); otherwise a
fuzzy match above ``fuzzy_threshold`` is accepted only when exactly one firm reaches it. Names
that match several firms are *ambiguous* and names that match none are *unmatched*: neither
is linked, both are counted and shown with scores in the match report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts.errors import DataError
from features._names import DEFAULT_FUZZY_THRESHOLD, NameIndex, split_list
from features._tables import get_table

METHODS = ("uscc", "name", "former_name", "fuzzy", "ambiguous", "unmatched")
EXAMPLES_PER_KIND = 20


@dataclass
class EntityLinks:
    """Links from every source table to registry firms.

    Attributes
    ----------
    patent_links : pd.DataFrame
        ``app_no, patent_row, uscc, role, held_from, held_to, n_owners, acquired_on, method,
        score``. ``role`` is ``applicant`` (an original applicant; no dates) or ``owner``
        (one row per ownership period: the firm is among the owners from ``held_from``
        (NaT = since filing) until ``held_to`` (NaT = still), ``n_owners`` owners in total,
        ``acquired_on`` = date of the TR01 that brought it in, NaT when it held from filing).
    event_links : pd.DataFrame
        TR01 parties: ``app_no, event_date, side ('from'/'to'), party, uscc, method, score``.
    credit_records, programmes, nominations : pd.DataFrame
        The source tables with ``uscc`` replaced by the resolved code (NA when not linked),
        plus ``match_method`` and ``match_score``; row order kept.
    match_report : dict
        Counts of mentions by method per source, and the fuzzy threshold used.
    match_examples : pd.DataFrame
        ``source, method, name, mentions, score, candidates``: up to 20 names per source and
        method among ``ambiguous``, ``unmatched`` and ``fuzzy`` (most mentioned first).
    """

    patent_links: pd.DataFrame
    event_links: pd.DataFrame
    credit_records: pd.DataFrame
    programmes: pd.DataFrame
    nominations: pd.DataFrame
    match_report: dict[str, Any]
    match_examples: pd.DataFrame
    n_patents: int = 0
    _store: Any = field(default=None, repr=False, compare=False)


class _Linker:
    def __init__(self, enterprises: pd.DataFrame, fuzzy_threshold: float | None) -> None:
        self.index = NameIndex(enterprises, fuzzy_threshold)
        self.registry = pa.array(enterprises["uscc"].astype("str"), type=pa.large_string())
        self.report: dict[str, dict[str, int]] = {}
        self.examples: list[pd.DataFrame] = []

    def link(self, source: str, names: pa.Array, codes: pa.Array | None = None) -> pa.Table:
        """Resolve mentions (one per element): a table of uscc, method, score, candidates."""
        names = names.cast(pa.large_string())
        null_str = pa.scalar(None, pa.large_string())
        if codes is not None:
            codes = codes.cast(pa.large_string())
            by_code = pc.fill_null(pc.is_in(codes, value_set=self.registry), False)
            todo = pc.if_else(by_code, null_str, names)
        else:
            by_code = None
            todo = names
        uniq = pc.unique(todo).drop_null()
        matched = self.index.match(uniq)
        pos = pc.index_in(todo, value_set=uniq)  # null where linked by code or empty
        take = {
            c: pa.array(matched[c], from_pandas=True).take(pos)
            for c in ("uscc", "method", "score", "candidates")
        }
        uscc = take["uscc"].cast(pa.large_string())
        method = pc.fill_null(take["method"].cast(pa.large_string()), "unmatched")
        score = take["score"].cast(pa.float64())
        if by_code is not None:
            uscc = pc.if_else(by_code, codes, uscc)
            method = pc.if_else(by_code, pa.scalar("uscc", pa.large_string()), method)
        res = pa.table(
            {
                "uscc": uscc,
                "method": method,
                "score": score,
                "candidates": take["candidates"].cast(pa.large_string()),
            }
        )
        self._record(source, names, res)
        return res

    def _record(self, source: str, names: pa.Array, res: pa.Table) -> None:
        counts = dict(
            zip(*(c.to_pylist() for c in pc.value_counts(res["method"]).flatten()), strict=True)
        )
        self.report[source] = {m: int(counts.get(m, 0)) for m in METHODS}
        kinds = pc.is_in(res["method"], value_set=pa.array(["ambiguous", "unmatched", "fuzzy"]))
        if not pc.any(kinds).as_py():
            return
        df = (
            res.append_column("name", names)
            .filter(kinds)
            .select(["name", "method", "score", "candidates"])
            .to_pandas()
            .dropna(subset=["name"])
        )
        g = (
            df.groupby(["method", "name"], sort=True, dropna=False)
            .agg(
                mentions=("name", "size"),
                score=("score", "max"),
                candidates=("candidates", "first"),
            )
            .reset_index()
            .sort_values(["method", "mentions", "name"], ascending=[True, False, True])
        )
        g = g.groupby("method", sort=True).head(EXAMPLES_PER_KIND)
        g.insert(0, "source", source)
        self.examples.append(g[["source", "method", "name", "mentions", "score", "candidates"]])


def _link_rows(linker: _Linker, source: str, table: pd.DataFrame) -> pd.DataFrame:
    """Link a table whose rows carry a uscc and/or a name."""
    names = pa.array(table["name"].astype("str"), type=pa.large_string(), from_pandas=True)
    codes = pa.array(table["uscc"].astype("str"), type=pa.large_string(), from_pandas=True)
    res = linker.link(source, names, codes)
    out = table.copy()
    out["uscc"] = _pd(res["uscc"])
    out["match_method"] = _pd(res["method"])
    out["match_score"] = res["score"].to_numpy()
    return out


def _pd(col: pa.ChunkedArray | pa.Array) -> pd.Series:
    """Arrow strings → pandas ``str`` column without Python objects."""
    s = col.to_pandas()
    return s.astype("str") if s.dtype != "str" else s


def _arrow(col: pd.Series) -> pa.Array:
    arr = pa.array(col, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def _owner_epochs(patents: pd.DataFrame, events: pd.DataFrame):
    """Owner lists per patent and period, from the TR01 history (see EntityLinks).

    Returns ``(patent_row, k, start, end, owners)``: numpy arrays and an Arrow string array.
    Patents without a transfer have one period, the whole time, with the current owners.
    """
    n = len(patents)
    owners = pc.coalesce(_arrow(patents["owners"]), _arrow(patents["applicants"]))
    tr = events.loc[
        events["event_code"] == "TR01", ["app_no", "event_date", "from_party", "to_party"]
    ]
    # first patent row of each event's app_no (Arrow hash look-up, no pandas index)
    row = pc.index_in(_arrow(tr["app_no"]), value_set=_arrow(patents["app_no"]))
    tr = tr.assign(patent_row=row.to_numpy(zero_copy_only=False))
    tr = tr.dropna(subset=["patent_row", "event_date"])
    has_tr = np.zeros(n, dtype=bool)
    plain = np.arange(n, dtype=np.int64)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if tr.empty:
        return plain, np.zeros(n, dtype=np.int64), nat, nat, owners
    tr["patent_row"] = tr["patent_row"].astype(np.int64)
    tr = tr.reset_index(drop=True).reset_index(names="seq")
    tr = tr.sort_values(["patent_row", "event_date", "seq"], kind="stable").reset_index(drop=True)
    g = tr.groupby("patent_row", sort=False)
    tr["k"] = g.cumcount() + 1
    tr["next_date"] = g["event_date"].shift(-1)
    tr["next_from"] = g["from_party"].shift(-1)
    first = tr[tr["k"] == 1]
    rows = first["patent_row"].to_numpy()
    has_tr[rows] = True
    # Python strings only for the transferred patents' rows, not for every patent
    appl_first = _arrow(patents["applicants"]).take(pa.array(rows)).to_numpy(zero_copy_only=False)
    f0 = first["from_party"].to_numpy(dtype=object, na_value=None)
    last = tr["next_date"].isna().to_numpy()
    mid = tr["next_from"].fillna(tr["to_party"]).to_numpy(dtype=object, na_value=None)
    trow = tr["patent_row"].to_numpy()
    e_row = np.concatenate([plain[~has_tr], rows, trow])
    e_k = np.concatenate([np.zeros(n - len(rows) + len(rows), dtype=np.int64), tr["k"].to_numpy()])
    e_start = np.concatenate([nat[:n], tr["event_date"].to_numpy(dtype="datetime64[ns]")])
    e_end = np.concatenate(
        [nat[~has_tr], first["event_date"].to_numpy(dtype="datetime64[ns]"),
         tr["next_date"].to_numpy(dtype="datetime64[ns]")]
    )  # fmt: skip
    cur_moved = owners.take(pa.array(trow)).to_numpy(zero_copy_only=False)
    small = np.concatenate([np.where(pd.isna(f0), appl_first, f0), np.where(last, cur_moved, mid)])
    e_owners = pa.concat_arrays(
        [
            owners.filter(pa.array(~has_tr)),
            pa.array(small, type=pa.large_string(), from_pandas=True),
        ]
    )
    # zero-length periods (two transfers on one day) hold nothing
    keep = np.isnat(e_start) | np.isnat(e_end) | (e_start < e_end)
    return e_row[keep], e_k[keep], e_start[keep], e_end[keep], e_owners.filter(pa.array(keep))


def _firm_ranks(registry: pa.Array, *cols: pa.ChunkedArray | pa.Array):
    """Sorted distinct USCCs and, for each column, every value's position in them."""
    cols = tuple(c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in cols)
    firms = pc.unique(registry)
    ranks = [pc.index_in(c, value_set=firms) for c in cols]
    if any(r.null_count != c.null_count for r, c in zip(ranks, cols, strict=True)):
        # a linked code outside the registry (should not happen): rank the union instead
        firms = pc.unique(pa.concat_arrays([firms, *(c.drop_null() for c in cols)]))
    firms = firms.take(pc.sort_indices(firms))
    return (firms, *(pc.index_in(c, value_set=firms) for c in cols))


def resolve_entities(
    data: Any, *, fuzzy_threshold: float | None = DEFAULT_FUZZY_THRESHOLD
) -> EntityLinks:
    """Link every firm mention in the input to a registry USCC.

    Parameters
    ----------
    data : DataBundle or Mapping[str, pd.DataFrame]
        Canonical tables (docs/data_model.md).
    fuzzy_threshold : float or None, default 95
        Minimum rapidfuzz ``fuzz.ratio`` (0–100) between matching keys for a fuzzy link,
        accepted only when a single firm reaches it; ``None`` disables fuzzy matching.

    Returns
    -------
    EntityLinks
        Link tables and the match report. Co-owned patents link to every matched owner.

    Raises
    ------
    DataError
        If ``fuzzy_threshold`` is outside [50, 100] or a required table is missing.
    """
    if fuzzy_threshold is not None and not (
        isinstance(fuzzy_threshold, int | float)
        and not isinstance(fuzzy_threshold, bool)
        and 50 <= fuzzy_threshold <= 100
    ):
        raise DataError(
            f"The 'fuzzy_threshold' parameter of resolve_entities must be a number in "
            f"[50, 100] or None. Got {fuzzy_threshold!r} instead.",
            "Use the default 95, or None to disable fuzzy matching.",
        )
    ent = get_table(data, "enterprises")
    patents = get_table(data, "patents")
    events = get_table(data, "patent_events")
    linker = _Linker(ent, fuzzy_threshold)
    n_pat = len(patents)

    # original applicants; codes are aligned by position when both lists have equal length
    parent, names, pos = split_list(patents["applicants"])
    cparent, codes, _ = split_list(patents["applicant_usccs"])
    n_names = np.bincount(parent, minlength=n_pat)
    n_codes = np.bincount(cparent, minlength=n_pat)
    cstart = np.cumsum(n_codes) - n_codes
    aligned = n_names[parent] == n_codes[parent]
    idx = np.where(aligned, cstart[parent] + pos, 0)
    mention_codes = (
        codes.take(pa.array(idx, mask=~aligned))
        if len(codes)
        else pa.nulls(len(parent), pa.large_string())
    )
    app = linker.link("patent_applicants", names, mention_codes)

    # ownership periods; an owner who is also a coded applicant keeps the applicant's code
    e_row, e_k, e_start, e_end, e_owners = _owner_epochs(patents, events)
    eparent, enames, _ = split_list(e_owners)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order=false")
    # names as dictionary ids: the join and group-by below run on integers, not strings
    nid = pc.dictionary_encode(pa.concat_arrays([names, enames])).indices
    am = pa.table({"patent_row": parent, "nid": nid[: len(names)], "code": mention_codes})
    om = pa.table(
        {"i": np.arange(len(eparent)), "patent_row": e_row[eparent], "nid": nid[len(names) :]}
    )
    con.register("am", am)
    con.register("om", om)
    hit = con.sql(
        "SELECT o.i, a.code FROM om o JOIN (SELECT patent_row, nid, min(code) AS code "
        "FROM am WHERE code IS NOT NULL GROUP BY patent_row, nid) a "
        "ON a.patent_row = o.patent_row AND a.nid = o.nid"
    ).to_arrow_table()
    own_codes = None
    if hit.num_rows:
        where = np.full(len(eparent), -1, dtype=np.int64)
        where[hit["i"].to_numpy()] = np.arange(hit.num_rows)
        own_codes = hit["code"].combine_chunks().take(pa.array(where, mask=where < 0))
    own = linker.link("patent_owners", enames, own_codes)

    n_owners = np.bincount(eparent, minlength=len(e_row))
    # firms as ranks among the sorted distinct USCCs: integer group-by and sort keys that
    # order exactly like the strings
    firms, app_fid, own_fid = _firm_ranks(linker.registry, app["uscc"], own["uscc"])
    con.register(
        "app_m",
        pa.table(
            {"patent_row": parent, "uscc": app_fid, "method": app["method"], "score": app["score"]}
        ),
    )
    con.register(
        "own_m",
        pa.table(
            {"epoch": eparent, "uscc": own_fid, "method": own["method"], "score": own["score"]}
        ),
    )
    con.register(
        "ep",
        pa.table(
            {
                "epoch": np.arange(len(e_row)),
                "patent_row": e_row,
                "k": e_k,
                "held_from": e_start,
                "held_to": e_end,
                "n_owners": n_owners[: len(e_row)],
            }
        ),
    )
    links_tbl = con.sql(
        """
        WITH o AS (
          SELECT epoch, uscc, min(method) AS method, max(score) AS score FROM own_m
          WHERE uscc IS NOT NULL GROUP BY epoch, uscc),
        moved AS (SELECT DISTINCT patent_row FROM ep WHERE k > 0),
        h AS (
          SELECT e.patent_row, o.uscc, e.k, e.held_from, e.held_to, e.n_owners, o.method,
                 o.score, (m.patent_row IS NOT NULL) AS moved
          FROM o JOIN ep e ON e.epoch = o.epoch
          LEFT JOIN moved m ON m.patent_row = e.patent_row),
        -- only transferred patents need the island logic (consecutive periods of one firm
        -- form one holding whose start is the acquisition date)
        w AS (
          SELECT *, k - row_number() OVER (PARTITION BY patent_row, uscc ORDER BY k) AS island
          FROM h WHERE moved),
        owners AS (
          SELECT patent_row, uscc, 'owner' AS role, held_from, held_to, n_owners,
                 NULL::TIMESTAMP_NS AS acquired_on, method, score, k
          FROM h WHERE NOT moved
          UNION ALL
          SELECT patent_row, uscc, 'owner' AS role, held_from, held_to, n_owners,
                 first_value(held_from) OVER (PARTITION BY patent_row, uscc, island ORDER BY k)
                   AS acquired_on, method, score, k
          FROM w),
        applicants AS (
          SELECT patent_row, uscc, 'applicant' AS role,
                 NULL::TIMESTAMP_NS AS held_from, NULL::TIMESTAMP_NS AS held_to,
                 NULL::BIGINT AS n_owners, NULL::TIMESTAMP_NS AS acquired_on,
                 min(method) AS method, max(score) AS score, -1 AS k
          FROM app_m WHERE uscc IS NOT NULL GROUP BY patent_row, uscc)
        SELECT * FROM applicants UNION ALL SELECT * FROM owners
        ORDER BY patent_row, role, uscc, k
        """
    ).to_arrow_table()
    con.close()
    app_no = _arrow(patents["app_no"]).take(links_tbl["patent_row"].combine_chunks())
    links = pd.DataFrame(
        {
            "app_no": _pd(app_no),
            "patent_row": links_tbl["patent_row"].to_numpy(),
            "uscc": _pd(firms.take(links_tbl["uscc"].combine_chunks())),
            "role": _pd(links_tbl["role"]),
            "held_from": links_tbl["held_from"].to_pandas().astype("datetime64[ns]").to_numpy(),
            "held_to": links_tbl["held_to"].to_pandas().astype("datetime64[ns]").to_numpy(),
            "n_owners": links_tbl["n_owners"].to_pandas().astype("Int64").array,
            "acquired_on": links_tbl["acquired_on"].to_pandas().astype("datetime64[ns]").to_numpy(),
            "method": _pd(links_tbl["method"]),
            "score": links_tbl["score"].to_numpy(),
        }
    )

    # TR01 parties
    tr = events.loc[events["event_code"] == "TR01"].reset_index(drop=True)
    parts = []
    for side, col in (("from", "from_party"), ("to", "to_party")):
        p, pn, _ = split_list(tr[col])
        res = linker.link(f"transfer_{side}_parties", pn)
        parts.append(
            pd.DataFrame(
                {
                    "app_no": tr["app_no"].to_numpy(dtype=object)[p],
                    "event_date": tr["event_date"].to_numpy()[p],
                    "side": side,
                    "party": pn.to_pandas().to_numpy(dtype=object),
                    "uscc": res["uscc"].to_pandas().to_numpy(dtype=object),
                    "method": res["method"].to_pandas().to_numpy(dtype=object),
                    "score": res["score"].to_numpy(),
                }
            )
        )
    ev_links = pd.concat(parts, ignore_index=True)
    for c in ("app_no", "side", "party", "uscc", "method"):
        ev_links[c] = ev_links[c].astype("str")
    ev_links["event_date"] = ev_links["event_date"].astype("datetime64[ns]")

    credit = _link_rows(linker, "credit_records", get_table(data, "credit_records"))
    progs = _link_rows(linker, "programmes", get_table(data, "programmes"))
    noms = _link_rows(linker, "nominations", get_table(data, "nominations"))

    report = {
        "fuzzy_threshold": fuzzy_threshold,
        "registry_firms": len(ent),
        "sources": {
            src: {"mentions": sum(c.values()), "by_method": c} for src, c in linker.report.items()
        },
    }
    examples = (
        pd.concat(linker.examples, ignore_index=True)
        if linker.examples
        else pd.DataFrame(columns=["source", "method", "name", "mentions", "score", "candidates"])
    )
    return EntityLinks(
        patent_links=links,
        event_links=ev_links,
        credit_records=credit,
        programmes=progs,
        nominations=noms,
        match_report=report,
        match_examples=examples.reset_index(drop=True),
        n_patents=n_pat,
    )
