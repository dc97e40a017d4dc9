"""The one entry point: the feature matrix for (uscc, as_of) pairs, and the pledge list."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts.errors import DataError
from data_contracts.identifiers import normalize_uscc
from features._duck import check_memory_limit, reports_out_of_memory
from features._engine import PatentStore, Progress
from features._entities import EntityLinks, resolve_entities
from features._firm import SECTIONS, firm_features
from features._names import arrow_array, take_text
from features._peer import PEER_BASES, peer_percentiles
from features._tables import as_tables, get_table
from features.registry import registry

_STEPS = 7
PEER_SAMPLE = 5_000
"""Registry firms ranked per reference date when a batch spans several dates."""
_PEER_CHUNK_ROWS = 1_000_000


def _check_pairs(pairs: Any) -> pd.DataFrame:
    if not isinstance(pairs, pd.DataFrame):
        raise DataError(
            f"pairs must be a DataFrame with columns uscc and as_of, got {type(pairs).__name__}.",
            "Build it with pd.DataFrame({'uscc': [...], 'as_of': [...]}).",
        )
    missing = [c for c in ("uscc", "as_of") if c not in pairs.columns]
    if missing:
        raise DataError(
            f"pairs lacks column(s) {', '.join(missing)}.",
            "Give one row per (uscc, as_of) to evaluate.",
        )
    as_of = pd.to_datetime(pairs["as_of"], errors="coerce")
    bad = np.flatnonzero(as_of.isna().to_numpy())
    if len(bad):
        ex = ", ".join(f"row {i}: {pairs['as_of'].iloc[i]!r}" for i in bad[:5])
        raise DataError(
            f"pairs has {len(bad)} as_of value(s) that are not dates ({ex}).",
            "Give as_of as YYYY-MM-DD dates.",
        )
    uscc = _normalized_usccs(pairs["uscc"])
    return pd.DataFrame(
        {"uscc": uscc.to_numpy(), "as_of": as_of.dt.normalize().astype("datetime64[ns]").to_numpy()}
    )


def _normalized_usccs(raw: pd.Series) -> pd.Series:
    """``normalize_uscc`` of every value; values already normal (upper-case ASCII letters and
    digits only) are kept as they are without a Python call per row."""
    text = raw.astype("str")
    ok = pc.fill_null(pc.match_substring_regex(arrow_array(text), "^[0-9A-Z]+$"), False)
    ok = ok.to_numpy(zero_copy_only=False)
    if ok.all():
        return text
    out = text.to_numpy(dtype=object)
    out[~ok] = raw[~ok].map(normalize_uscc).to_numpy(dtype=object)
    return pd.Series(out, index=raw.index, dtype="str")


def _links_for(data: Any, links: EntityLinks | None, memory_limit: str | None) -> EntityLinks:
    check_memory_limit(memory_limit)
    if links is None:
        return resolve_entities(data, memory_limit=memory_limit)
    _require_links(links)
    n = len(get_table(data, "patents", ["app_no"]))
    if links.n_patents != n:
        raise DataError(
            f"links were resolved on {links.n_patents} patents but data has {n}.",
            "Resolve the links again on the same data.",
        )
    return links


def _require_links(links: Any) -> None:
    """Raise ``DataError`` unless ``links`` is an :class:`EntityLinks`."""
    if not isinstance(links, EntityLinks):
        raise DataError(
            f"links must be an EntityLinks from resolve_entities, got {type(links).__name__}.",
            "Call features.resolve_entities(data) and pass its result.",
        )


def _store_for(
    data: Any, links: EntityLinks, threads: int | None, memory_limit: str | None = None
) -> PatentStore:
    """The precomputed store for (data, links), built once and kept on ``links`` so that the
    matrix, the pledge list and training batches on the same input share it (until
    ``links.close()``). A store built for other data or settings is closed first: only one
    holds memory at a time."""
    key = (id(as_tables(data)), threads, memory_limit)
    cached = getattr(links, "_store", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    if cached is not None and getattr(cached[1], "pinned", False):
        # built by build_feature_store, whose caller may have trimmed the tables since:
        # a store rebuilt from them would silently lack what they no longer hold
        raise DataError(
            "the feature store on these links was built by build_feature_store for another "
            "table mapping, thread count or memory_limit.",
            "Pass the same data object (trim its tables in place) and the same threads and "
            "memory_limit, or call links.close() before building from other tables.",
        )
    links.close()
    store = PatentStore(data, links, threads=threads, memory_limit=memory_limit)
    links._store = (key, store)
    return store


@reports_out_of_memory
def build_feature_store(
    data: Any,
    *,
    links: EntityLinks,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> None:
    """Build the feature store that :func:`build_feature_matrix` and
    :func:`pledgeable_patents` share, ahead of them (they build it on first use otherwise).

    The store holds what they read of the patent and event tables. Called with the same
    ``links``, ``threads`` and ``memory_limit`` and the same table mapping, they then read
    nothing more of ``patent_events`` and only ``REQUIRED_COLUMNS['patents']`` of
    ``patents``: a caller holding national-scale tables may drop the rest first (the
    screening run frees gigabytes at 1M firms this way), in the same mapping. The store
    stays cached on ``links`` until ``links.close()``; until then a call with another
    mapping, thread count or memory_limit raises ``DataError`` instead of rebuilding it
    from tables that may have been trimmed.

    Raises
    ------
    DataError
        Links from other data, or a ``memory_limit`` that is not a memory size or too small
        for DuckDB to work in.
    """
    _require_links(links)  # here None too: links resolved now would hold the store unseen
    _store_for(data, _links_for(data, links, memory_limit), threads, memory_limit).pinned = True


@reports_out_of_memory
def build_feature_matrix(
    pairs: pd.DataFrame,
    data: Any,
    *,
    links: EntityLinks | None = None,
    progress: Progress | None = None,
    allow_unknown: bool = False,
    min_remaining_years: float = 1.0,
    threads: int | None = None,
    memory_limit: str | None = None,
    keep_patent_state: bool = False,
) -> pd.DataFrame:
    """Point-in-time feature matrix for a table of ``(uscc, as_of)`` pairs.

    Training passes one pair per loan (as_of = disbursement date); screening passes every
    firm with as_of = the run date. Only facts known at each row's as_of are used.

    Parameters
    ----------
    pairs : pd.DataFrame
        Columns ``uscc`` and ``as_of`` (date-like). Duplicates are allowed.
    data : DataBundle or Mapping[str, pd.DataFrame]
        Canonical tables (docs/data_model.md).
    links : EntityLinks, optional
        From :func:`resolve_entities` on the same data (computed when omitted).
    progress : callable, optional
        ``progress(step, done, total)`` after each step (the CLI drives a progress bar).
    allow_unknown : bool, default False
        Rows whose uscc is not in the registry raise ``DataError``; with True they get
        0 counts, NaN ratios/firm fields and NaN peer percentiles.
    min_remaining_years : float, default 1.0
        Remaining term a patent needs to be pledgeable (the loan term).
    threads : int, optional
        DuckDB threads (default: all cores).
    memory_limit : str, optional
        DuckDB ``memory_limit`` (e.g. ``'4GB'``) of the feature store and of entity
        resolution when ``links`` is omitted; DuckDB spills to a private folder under
        ``tempfile.gettempdir()`` beyond it (default: DuckDB's, 80% of RAM). The store stays
        cached on ``links`` until ``links.close()``.
    keep_patent_state : bool, default False
        Keep the per-pair patent state (every held patent's validity, pledges and term at
        as_of) in the store, so that :func:`pledgeable_patents` on the same pairs (or the
        same date for every registry firm) and ``min_remaining_years`` reuses it instead
        of joining patents and events again (the screening run: ~20 s at 1M firms). The
        state is as large as the store's patent table; it goes with the next request or
        ``links.close()``.

    Returns
    -------
    pd.DataFrame
        ``uscc``, ``as_of``, then every registry feature in registry order; one row per
        pair, in input order (RangeIndex). Counts and flags are int64,
        ``firm_industry_section`` is categorical (A–T), everything else float64.

    Raises
    ------
    DataError
        Malformed pairs, unknown USCCs (up to 5 named), links from other data, a
        ``memory_limit`` that is not a memory size or too small for DuckDB to work in.
    """
    q = _check_pairs(pairs)
    if not (isinstance(min_remaining_years, int | float) and min_remaining_years >= 0):
        raise DataError(
            "The 'min_remaining_years' parameter of build_feature_matrix must be a number "
            f">= 0. Got {min_remaining_years!r} instead.",
            "Pass the loan term in years, e.g. 1.0.",
        )
    step = _stepper(progress)
    links = _links_for(data, links, memory_limit)
    step("entity resolution")
    store = _store_for(data, links, threads, memory_limit)
    step("patent state")
    fid = store.firm_ids(q["uscc"])
    unknown = q["uscc"][fid < 0]
    if len(unknown) and not allow_unknown:
        ex = ", ".join(pd.unique(unknown.fillna("<empty>"))[:5])
        raise DataError(
            f"{unknown.nunique(dropna=False)} uscc value(s) in pairs are not in the enterprise "
            f"registry (e.g. {ex}).",
            "Add the firms to enterprises, fix the codes, or pass allow_unknown=True.",
        )
    as_of = q["as_of"].to_numpy()
    store.load_pairs(fid, as_of)
    store.held_patents(min_remaining_years)
    pat = store.patent_features()
    step("patent indicators")
    credit = store.credit_features()
    prog = store.programme_features()
    prog["prog_years_held"] = prog["prog_years_held"].fillna(0.0)
    step("credit and programmes")
    firm = firm_features(store.enterprises, fid, as_of)
    step("firm features")
    base = pd.concat([pat, credit, prog, firm], axis=1)
    base["as_of"] = as_of
    peer = _peer_block(store, base, fid, as_of, min_remaining_years)
    if not keep_patent_state:
        store.drop_request()
    step("peer percentiles")
    full = pd.concat([base, peer], axis=1)
    out = _assemble(q, full)
    step("assemble")
    return out


def _stepper(progress: Progress | None):
    state = {"i": 0}

    def step(name: str) -> None:
        state["i"] += 1
        if progress is not None:
            progress(name, state["i"], _STEPS)

    return step


def _existing(store, fid: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Registry firms established by ``dates`` (or of unknown date): the peers a firm had
    then. A firm founded later is no peer at an earlier as_of (point in time)."""
    est = store.enterprises["established"]
    known = est.to_numpy(dtype="datetime64[ns]")[np.where(fid >= 0, fid, 0)]
    return (fid >= 0) & (np.isnat(known) | (known <= np.asarray(dates, dtype="datetime64[ns]")))


def _peer_block(store, base, fid, as_of, min_rem) -> pd.DataFrame:
    """Peer percentiles against all registry firms at the (rounded) as_of dates."""
    dates = pd.unique(as_of)
    if len(dates) == 1:
        ref_dates = np.asarray(as_of)
    else:
        # latest quarter end on or before as_of: never a later date, so nothing leaks
        ts = pd.DatetimeIndex(as_of)
        qe = (ts + pd.Timedelta(days=1)).to_period("Q").start_time - pd.Timedelta(days=1)
        ref_dates = np.asarray(qe.where(~ts.is_quarter_end, ts), dtype="datetime64[ns]")
    n_firms = len(store.enterprises)
    matrix = base[[*PEER_BASES, "firm_industry_section"]].copy()
    matrix["ref"] = ref_dates
    covers_all = len(dates) == 1 and (fid >= 0).all() and np.unique(fid).size == n_firms
    if covers_all:
        reference = matrix.loc[_existing(store, fid, ref_dates)]
    else:
        udates = np.unique(ref_dates)
        firms = np.arange(n_firms, dtype=np.int64)
        if len(udates) > 1 and n_firms > PEER_SAMPLE:
            # many reference dates over a large registry: a fixed random sample of firms keeps
            # training batches cheap (standard error ~1 point in a 2,000-firm section, ~3 in
            # a 250-firm one); screening at one date always ranks against every firm
            firms = np.sort(np.random.default_rng(0).choice(n_firms, PEER_SAMPLE, replace=False))
        per_chunk = max(1, _PEER_CHUNK_ROWS // max(len(firms), 1))
        parts = []
        for i in range(0, len(udates), per_chunk):
            d = udates[i : i + per_chunk]
            rfid = np.tile(firms, len(d))
            rdates = np.repeat(d, len(firms))
            store.load_pairs(rfid, rdates)
            store.held_patents(min_rem)
            part = store.peer_base_features()[list(PEER_BASES)].copy()
            part["firm_industry_section"] = firm_features(store.enterprises, rfid, rdates)[
                "firm_industry_section"
            ].to_numpy()
            part["ref"] = rdates
            parts.append(part.loc[_existing(store, rfid, rdates)])
        # no pairs, no reference dates: an empty batch gives an empty matrix
        reference = pd.concat(parts, ignore_index=True) if parts else matrix.iloc[:0]
    return peer_percentiles(matrix, reference, features=PEER_BASES, on="ref")


def _assemble(q: pd.DataFrame, full: pd.DataFrame) -> pd.DataFrame:
    cols: dict[str, Any] = {"uscc": q["uscc"].astype("str").to_numpy(), "as_of": q["as_of"]}
    for spec in registry():
        s = full[spec.name]
        if spec.kind == "category":
            cols[spec.name] = pd.Categorical(s, categories=list(SECTIONS))
        elif spec.kind in ("count", "flag"):
            cols[spec.name] = s.to_numpy(dtype=float).astype(np.int64)
        else:
            # DuckDB sums floats in parallel, in no fixed order: round away the last bits so
            # a rerun gives byte-identical output
            cols[spec.name] = np.round(s.to_numpy(dtype=float), 10) + 0.0  # no -0.0
    out = pd.DataFrame(cols)
    out["uscc"] = out["uscc"].astype("str")
    out["as_of"] = out["as_of"].astype("datetime64[ns]")
    return out


_TYPE_ZH = {0: "invention", 1: "utility_model", 2: "design", 3: "other"}
_TYPE_NAMES = np.array([_TYPE_ZH[i] for i in range(4)], dtype=object)
_NOTES = pa.array(["", "共有专利，质押需全体共有人同意"], pa.large_string())


def _take_str(col: pd.Series, idx: np.ndarray) -> pd.Series:
    """``col`` at positions ``idx`` as a ``str`` column, by Arrow take (no Python objects)."""
    return _str_series(take_text(col, idx))


def _str_series(arr: pa.Array) -> pd.Series:
    s = arr.to_pandas()
    return s if s.dtype == "str" else s.astype("str")


@reports_out_of_memory
def pledgeable_patents(
    data: Any,
    pairs_or_as_of: Any,
    *,
    min_remaining_years: float = 1.0,
    links: EntityLinks | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Each firm's valid patents at as_of, with whether they can be pledged and why not.

    A valid patent held at as_of is pledgeable when it is not under an unreleased pledge
    (its last PE01 not followed by a later PC01), not under preservation (likewise PP01 and
    PD01) and its remaining term exceeds
    ``min_remaining_years`` (domain.md §7). Co-owned patents stay pledgeable but carry the
    note that every co-owner must consent.

    Parameters
    ----------
    data : DataBundle or Mapping
    pairs_or_as_of : DataFrame of (uscc, as_of) or a date
        A date means every registry firm at that date.
    min_remaining_years : float, default 1.0
    links : EntityLinks, optional
    memory_limit : str, optional
        DuckDB ``memory_limit`` of the feature store (see :func:`build_feature_matrix`).

    Returns
    -------
    pd.DataFrame
        ``uscc, as_of, app_no, patent_type, title, grant_date, expiry_date, remaining_years,
        owners, n_owners, co_owned, pledged, preserved, pledgeable, reason, note``; one row per
        (pair, patent), sorted by pair order then app_no. ``reason`` (Chinese) is empty when
        pledgeable.
    """
    links = _links_for(data, links, memory_limit)
    ent = get_table(data, "enterprises", ["uscc"])
    if isinstance(pairs_or_as_of, pd.DataFrame):
        q = _check_pairs(pairs_or_as_of)
    else:
        from features._credit import to_timestamp

        ts = to_timestamp(pairs_or_as_of)
        q = pd.DataFrame(
            {
                "uscc": ent["uscc"].astype("str").to_numpy(),
                "as_of": np.repeat(ts.to_datetime64(), len(ent)),
            }
        )
        q["as_of"] = q["as_of"].astype("datetime64[ns]")
    store = _store_for(data, links, None, memory_limit)
    fid = store.firm_ids(q["uscc"])
    store.load_pairs(fid, q["as_of"].to_numpy())
    store.held_patents(min_remaining_years)
    rows = store.valid_patent_rows()
    store.drop_request()
    pats = store.patents
    # sorted on (pair, app_no) first, by a stable Arrow sort (no pandas factorisation of a
    # million strings), so every column is built once, in its final order: sorting the
    # finished frame held two copies of its text (+4 GB at 1M firms)
    aid = rows["app_id"].to_numpy(dtype=np.int64)
    app_no = arrow_array(pats["app_no"]).take(pa.array(aid, type=pa.int64()))
    order = pc.sort_indices(
        pa.table({"pid": rows["pair_id"].to_numpy(dtype=np.int64), "app_no": app_no}),
        sort_keys=[("pid", "ascending"), ("app_no", "ascending")],
    )
    app_no = app_no.take(order)
    rows = rows.take(order.to_numpy()).reset_index(drop=True)
    del order
    pid = rows["pair_id"].to_numpy(dtype=np.int64)
    aid = rows["app_id"].to_numpy(dtype=np.int64)
    as_of = q["as_of"].to_numpy()[pid]
    owners = _owners_at(pats, links, aid, as_of)
    rem = rows["rem"].to_numpy(dtype=float)
    pledged = rows["pledged"].to_numpy(dtype=bool)
    preserved = rows["preserved"].to_numpy(dtype=bool)
    short = rem <= min_remaining_years
    unverified = rows["unverified"].to_numpy(dtype=bool)
    reason = _reasons(pledged, preserved, short, rem, min_remaining_years, unverified)
    n_owners = rows["n_owners"].to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            "uscc": _take_str(q["uscc"], pid),
            "as_of": as_of,
            "app_no": _str_series(app_no),
            "patent_type": _TYPE_NAMES.take(rows["ptype"].to_numpy(dtype=np.int64)),
            "title": _take_str(pats["title"], aid),
            "grant_date": pd.to_datetime(rows["grant_d"]).to_numpy(),
            "expiry_date": pd.to_datetime(rows["expiry"]).to_numpy(),
            "remaining_years": np.round(rem, 2),
            "owners": owners,
            "n_owners": n_owners,
            "co_owned": n_owners > 1,
            "pledged": pledged,
            "preserved": preserved,
            "pledgeable": rows["pledgeable"].to_numpy(dtype=bool),
            "reason": reason,
            # two distinct texts: an Arrow take, not a fixed-width numpy array per row
            "note": _str_series(_NOTES.take(pa.array((n_owners > 1).astype(np.int8)))),
        }
    )
    for c in ("uscc", "app_no", "patent_type", "title", "owners", "reason", "note"):
        out[c] = out[c].astype("str")
    for c in ("as_of", "grant_date", "expiry_date"):
        out[c] = out[c].astype("datetime64[ns]")
    return out.reset_index(drop=True)


def _reasons(pledged, preserved, short, rem, min_years, unverified) -> np.ndarray:
    """Chinese reason text per patent ('' when pledgeable), built only for the others."""
    out = np.full(len(rem), "", dtype=object)
    idx = np.flatnonzero(pledged | preserved | short | unverified)
    if len(idx) == 0:
        return out
    d = pd.Series(
        np.where(unverified[idx], "有法律事件记录有误被拒收，状态待核实", ""), dtype="str"
    )
    a = pd.Series(np.where(pledged[idx], "已质押未解除", ""), dtype="str")
    b = pd.Series(np.where(preserved[idx], "处于保全状态", ""), dtype="str")
    years = pd.Series(rem[idx]).round(1).map("{:.1f}".format).astype("str")
    c = ("剩余保护期" + years + f"年，不超过{min_years:g}年").where(pd.Series(short[idx]), "")
    joined = a + "；" + b + "；" + c + "；" + d
    joined = joined.str.replace("；+", "；", regex=True).str.strip("；")
    out[idx] = joined.to_numpy(dtype=object)
    return out


def _owners_at(pats: pd.DataFrame, links: EntityLinks, aid: np.ndarray, as_of: np.ndarray):
    """Owner names at as_of: current owners unless a TR01 after as_of says otherwise."""
    take = pa.array(aid, type=pa.int64())
    out = pc.coalesce(take_text(pats["owners"], aid), take_text(pats["applicants"], aid))
    ev = links.event_links
    tr = ev[(ev["side"] == "from")]
    if tr.empty or len(aid) == 0:
        return _str_series(out)
    # the from_party of the first TR01 after as_of lists who owned the patent at as_of; the
    # parties of one transfer are joined in input order (single-threaded Arrow group-by)
    first_from = (
        pa.table(
            {
                "app_no": arrow_array(tr["app_no"]),
                "event_date": tr["event_date"].to_numpy(),
                "party": arrow_array(tr["party"]),
            }
        )
        .group_by(["app_no", "event_date"], use_threads=False)
        .aggregate([("party", "list")])
    )
    first_from = pd.DataFrame(
        {
            "app_no": _str_series(first_from["app_no"].combine_chunks()),
            "event_date": first_from["event_date"].to_numpy(),
            "party": _str_series(
                pc.binary_join(
                    first_from["party_list"], pa.scalar(";", pa.large_string())
                ).combine_chunks()
            ),
        }
    )
    app_no = arrow_array(pats["app_no"]).take(take)
    # only patents that were ever transferred can differ from the current owners
    moved = np.flatnonzero(
        pc.is_in(app_no, value_set=arrow_array(first_from["app_no"])).to_numpy(zero_copy_only=False)
    )
    look = pd.DataFrame(
        {"i": moved, "app_no": _str_series(app_no.take(moved)), "as_of": as_of[moved]}
    )
    cand = look.merge(first_from, on="app_no", how="inner")
    cand = cand[cand["event_date"] > cand["as_of"]].sort_values(["i", "event_date"])
    cand = cand.drop_duplicates("i")
    mask = np.zeros(len(aid), dtype=bool)
    mask[cand["i"].to_numpy()] = True
    out = pc.replace_with_mask(out, pa.array(mask), arrow_array(cand["party"]).cast(out.type))
    return _str_series(out)
