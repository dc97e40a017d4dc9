"""Entity resolution: link patents, transfer parties, credit records, programme lists and
nominations to registry firms (issue 3, part 1).

Order of evidence: a USCC present in the source and found in the registry wins; otherwise the
normalised name is looked up among registry names and 曾用名 (``features._names``); otherwise a
fuzzy match above ``fuzzy_threshold`` is accepted only when exactly one firm reaches it. Names
that match several firms are *ambiguous* and names that match none are *unmatched*: neither
is linked, both are counted and shown with scores in the match report. An ambiguous name is
still told apart by deductions from facts: the founding dates of its candidates against the
date of its record (``_Linker._by_date``), and, for an owner or a transfer party, the one
candidate linked to the same patent by code (``_Linker._by_code``).

Memory: millions of mentions are held as integers (dictionary ids of the names, ranks of the
firms among the sorted registry USCCs, method codes); text is only looked up once per
distinct name, and the link table stores USCC, role and method as categoricals.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts.errors import DataError
from features._duck import check_memory_limit, duck, reports_out_of_memory
from features._names import (
    DEFAULT_FUZZY_THRESHOLD,
    NameIndex,
    arrow_array,
    arrow_strings,
    as_text,
    encode,
    is_text_categorical,
    name_keys,
    split_ids,
    take_text,
)
from features._rejected_credit import rejected_credit_records
from features._rejected_events import rejected_event_rows
from features._tables import get_table

METHODS = ("uscc", "name", "former_name", "fuzzy", "ambiguous", "unmatched")
EXAMPLES_PER_KIND = 20
ROLES = ("applicant", "owner")
# method codes follow the alphabetical order, so the smallest code is the smallest string
# (a firm named twice in one list keeps min(method), as the string version did)
METHOD_ORDER = tuple(sorted(METHODS))
_CODE = {m: i for i, m in enumerate(METHOD_ORDER)}
_EXAMPLE_CODES = np.array([_CODE[m] for m in ("ambiguous", "unmatched", "fuzzy")])


@dataclass
class EntityLinks:
    """Links from every source table to registry firms.

    Attributes
    ----------
    patent_links : pd.DataFrame
        ``patent_row, uscc, role, held_from, held_to, n_owners, acquired_on, method,
        score``, sorted by ``(patent_row, role, uscc)``. ``patent_row`` is the row of the
        patent in the patents table (its ``app_no`` is ``patents["app_no"][patent_row]``).
        ``uscc``, ``role`` and ``method`` are categoricals (values compare like strings).
        ``role`` is ``applicant`` (an original applicant; no dates) or ``owner`` (one row per
        ownership period: the firm is among the owners from ``held_from`` (NaT = since filing)
        until ``held_to`` (NaT = still), ``n_owners`` owners in total, ``acquired_on`` = date
        of the TR01 that brought it in, NaT when it held from filing).
    event_links : pd.DataFrame
        TR01 parties: ``app_no, event_date, side ('from'/'to'), party, uscc, method, score``;
        the accepted TR01 rows, then the rejected ones that still state a transfer
        (:func:`_rejected_transfers`; ``app_no`` is then the patent's own number).
    credit_records, programmes, nominations : pd.DataFrame
        The source tables with ``uscc`` replaced by the resolved code (NA when not linked),
        plus ``match_method`` and ``match_score``; row order kept. Credit records and
        nominations also get ``match_candidates``: for a row whose name is ambiguous, the ``;``-joined USCCs of the
        firms it may name (:meth:`_Linker.candidates`), NA otherwise.
    match_report : dict
        Counts of mentions by method per source, and the fuzzy threshold used.
    rejected_credit_records : pd.DataFrame
        The rejected credit rows that may hide a knock-out
        (``features._rejected_credit.rejected_credit_records``), linked like the accepted
        ones (``uscc`` NA when not linked); not counted in the match report.
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
    rejected_credit_records: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["uscc", "match_method", "match_score"])
    )
    _store: Any = field(default=None, repr=False, compare=False)

    def close(self) -> None:
        """Drop the feature store cached on these links.

        Closes its DuckDB connection (its tables are most of the memory of a feature run:
        ~1 GB per 2M patents) and removes its spill folder. The links stay usable: a later
        ``build_feature_matrix`` or ``pledgeable_patents`` builds the store again.
        """
        cached, self._store = self._store, None
        if cached is not None:
            cached[1].close()


@dataclass
class _Lookup:
    """The match of each distinct name looked up (``NameIndex.match``), as codes."""

    names: pa.Array
    firm: np.ndarray  # rank among the registry firms, -1 = not linked
    method: np.ndarray  # METHOD_ORDER code
    score: np.ndarray
    candidates: pd.Series


@dataclass
class _CodeLinks:
    """Firms linked to patents by a code given with an applicant: the patent row of each
    applicant mention, its code id (-1: none) and each code id's firm rank (-1: a code not
    in the registry). The arrays are the applicants' own (no copy); :meth:`keys` reads the
    few patents asked for."""

    row: np.ndarray
    code: np.ndarray
    code_firm: np.ndarray

    def keys(self, rows: np.ndarray, n_firms: int) -> np.ndarray:
        """Sorted distinct ``patent_row * n_firms + firm`` of the firms linked by code to
        the patents ``rows``."""
        if not len(rows) or not len(self.row):
            return np.zeros(0, dtype=np.int64)
        need = np.zeros(max(int(self.row.max()), int(rows.max())) + 1, dtype=bool)
        need[rows] = True
        sel = need[self.row] & (self.code >= 0)
        firm = self.code_firm[self.code[sel]]
        ok = firm >= 0
        return np.unique(self.row[sel][ok].astype(np.int64) * n_firms + firm[ok])

    def of(self, rows: np.ndarray, n_firms: int) -> _CodeLinks:
        """The links of the patents ``rows`` only (kept for the transfer parties after the
        applicants' arrays are freed)."""
        keys = self.keys(rows, n_firms)
        return _CodeLinks(keys // n_firms, np.arange(len(keys)), (keys % n_firms).astype(np.int32))


@dataclass
class _Context:
    """Where mentions are: each mention's list (``lists``: an owner list, one side of a
    transfer), each list's patent row (``list_row``, -1: no known patent) and the firms
    linked to those patents by code (``codes``)."""

    lists: np.ndarray
    list_row: np.ndarray
    codes: _CodeLinks


@dataclass
class _Mentions:
    """The link of each mention, and where its name is in the lookup (-1: none looked up)."""

    firm: np.ndarray
    method: np.ndarray
    score: np.ndarray
    pos: np.ndarray
    lookup: _Lookup


class _Linker:
    def __init__(self, enterprises: pd.DataFrame, fuzzy_threshold: float | None) -> None:
        self.index = NameIndex(enterprises, fuzzy_threshold)
        firms = arrow_array(pc.unique(arrow_strings(enterprises["uscc"])).drop_null())
        # sorted, so that ranks order (and group) exactly like the USCC strings
        self.firms = firms.take(pc.sort_indices(firms))
        self._enterprises = enterprises
        self.report: dict[str, dict[str, int]] = {}
        self.examples: list[pd.DataFrame] = []
        # firms linked by code to the transferred patents (set by _link_patents)
        empty = np.zeros(0, dtype=np.int64)
        self.transfer_codes = _CodeLinks(empty, empty, np.zeros(0, dtype=np.int32))

    @functools.cached_property
    def founded(self) -> np.ndarray:
        """:attr:`established` by firm rank (NaT: unknown)."""
        out = np.full(len(self.firms), np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
        if self.established:
            ranks = self.ranks(pa.array(list(self.established), type=self.firms.type))
            days = np.array(list(self.established.values()), dtype="datetime64[ns]")
            out[ranks[ranks >= 0]] = days[ranks >= 0]
        return out

    @functools.cached_property
    def established(self) -> dict[str, np.datetime64]:
        """Each firm's founding date by USCC (firms of unknown date left out), for telling
        apart the candidates of an ambiguous name by the date of the record that names it;
        built on first use, as most runs have few ambiguous dated mentions."""
        ent = self._enterprises
        if "established" not in ent:
            return {}
        known = ent.loc[ent["established"].notna(), ["uscc", "established"]]
        return dict(
            zip(
                known["uscc"].astype("str").tolist(),
                known["established"].to_numpy(dtype="datetime64[ns]").tolist(),
                strict=True,
            )
        )

    def ranks(self, codes: pa.Array) -> np.ndarray:
        """Rank of each code among the registry firms; -1 when not a registry code."""
        ranks = pc.index_in(codes, value_set=self.firms)
        return pc.fill_null(ranks, -1).to_numpy(zero_copy_only=False).astype(np.int32)

    def usccs(self, firm: np.ndarray) -> pd.Series:
        """USCC strings of firm ranks (NA for -1)."""
        return _str(self.firms.take(pa.array(firm, mask=firm < 0)))

    def link(
        self,
        ids: np.ndarray,
        names: pa.Array,
        code_firm: np.ndarray | None = None,
        dates: np.ndarray | None = None,
        context: _Context | None = None,
    ) -> _Mentions:
        """Resolve mentions given as ids into ``names`` (-1: no name) and, optionally, the
        rank of a code given with each mention (-1: none or not in the registry), the date
        of the record each mention is in (NaT: unknown; see :meth:`_by_date`) and the
        patent it is about (see :meth:`_by_code`)."""
        look = ids if code_firm is None else np.where(code_firm >= 0, -1, ids)
        used = np.bincount(look[look >= 0], minlength=len(names)) > 0
        where = np.full(len(names) + 1, -1, dtype=np.int32)  # the extra slot maps -1 to -1
        where[np.flatnonzero(used)] = np.arange(int(used.sum()), dtype=np.int32)
        pos = where[look]
        found = self._lookup(names.filter(pa.array(used)))
        firm = _at(found.firm, pos, -1)
        method = _at(found.method, pos, _CODE["unmatched"])
        score = _at(found.score, pos, np.nan)
        if dates is not None:
            firm, method = self._by_date(found, pos, dates, firm, method)
        if code_firm is not None:
            coded = code_firm >= 0
            firm = np.where(coded, code_firm, firm)
            method = np.where(coded, np.int8(_CODE["uscc"]), method)
        if context is not None:
            firm, method = self._by_code(found, pos, dates, firm, method, context)
        return _Mentions(firm.astype(np.int32), method.astype(np.int8), score, pos, found)

    def _by_date(
        self,
        found: _Lookup,
        pos: np.ndarray,
        dates: np.ndarray,
        firm: np.ndarray,
        method: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """An ambiguous mention whose record is dated: a firm established after that date
        cannot be the one named (a patent filed in 2015 has no applicant founded in 2027).
        When exactly one candidate remains (established by then, or of unknown date), the
        mention is that firm, by name; otherwise it stays ambiguous. This is a deduction
        from two facts, not a guess: without it, a firm registered later under a name that
        normalises alike made an older firm's records ambiguous at every date."""
        dates = np.asarray(dates, dtype="datetime64[ns]")
        # only names whose normalised key several firms share (score 100): a fuzzy
        # near-match to several firms stays a guess whatever the dates
        exact = np.isclose(_at(found.score, pos, np.nan), 100.0)
        todo = np.flatnonzero(
            (method == _CODE["ambiguous"]) & (pos >= 0) & ~np.isnat(dates) & exact
        )
        if not todo.size or not self.established:
            return firm, method
        cands: dict[int, list[tuple[str, np.datetime64]]] = {}
        never = np.datetime64("NaT", "ns")
        chosen: list[int] = []
        chosen_uscc: list[str] = []
        for i, p, when in zip(todo.tolist(), pos[todo].tolist(), dates[todo], strict=True):
            if p not in cands:
                text = found.candidates.iloc[p]
                usccs = [c.split(":")[0] for c in str(text).split(";")] if text else []
                cands[p] = [(u, np.datetime64(self.established.get(u, never), "ns")) for u in usccs]
            alive = [u for u, est in cands[p] if np.isnat(est) or est <= when]
            if len(alive) == 1:
                chosen.append(i)
                chosen_uscc.append(alive[0])
        if chosen:  # one look-up of all the chosen codes among the registry firms
            firm, method = firm.copy(), method.copy()
            firm[chosen] = self.ranks(pa.array(chosen_uscc, type=self.firms.type))
            method[chosen] = _CODE["name"]
        return firm, method

    def _by_code(
        self,
        found: _Lookup,
        pos: np.ndarray,
        dates: np.ndarray | None,
        firm: np.ndarray,
        method: np.ndarray,
        ctx: _Context,
    ) -> tuple[np.ndarray, np.ndarray]:
        """An ambiguous mention about a patent (an owner, a transfer party) whose candidates
        include exactly one firm linked to that patent by code (a coded applicant), not
        named by another mention of the same list and established by the record's date
        (or of unknown date): the mention is that firm, by name. A firm that filed under
        its former name, which another firm now bears, keeps its patent: without this its
        current name in the owners column matched both. Like :meth:`_by_date`, a deduction
        (the code says who the patent's applicant is), only for names whose normalised key
        several firms share; nothing else is decided."""
        exact = np.isclose(_at(found.score, pos, np.nan), 100.0)
        todo = np.flatnonzero((method == _CODE["ambiguous"]) & (pos >= 0) & exact)
        if not todo.size:
            return firm, method
        row = ctx.list_row[ctx.lists[todo]]
        todo, row = todo[row >= 0], row[row >= 0]
        known = ctx.codes.keys(row, len(self.firms))
        if not todo.size or not known.size:
            return firm, method
        # each todo mention's candidates as firm ranks: (mention, candidate) pairs
        upos, inv = np.unique(pos[todo], return_inverse=True)
        texts = found.candidates.to_numpy(dtype=object)[upos]
        per = [[c.split(":")[0] for c in t.split(";")] if isinstance(t, str) else [] for t in texts]
        n_c = np.array([len(c) for c in per], dtype=np.int64)
        ranks = self.ranks(pa.array([u for c in per for u in c], type=self.firms.type))
        counts = n_c[inv]
        mention = np.repeat(np.arange(todo.size), counts)
        offset = np.arange(len(mention)) - np.repeat(np.cumsum(counts) - counts, counts)
        cand = ranks[(np.cumsum(n_c) - n_c)[inv][mention] + offset]
        n_firms = len(self.firms)
        ok = (cand >= 0) & np.isin(row[mention].astype(np.int64) * n_firms + cand, known)
        if dates is not None:  # a firm founded after the record is not the one it names
            when = np.asarray(dates, dtype="datetime64[ns]")[todo][mention]
            est = self.founded[np.maximum(cand, 0)]
            ok &= np.isnat(when) | np.isnat(est) | (est <= when)
        # a firm another mention of the same list names is not this one too
        lists = ctx.lists[todo]
        in_list = np.zeros(int(ctx.lists.max()) + 1, dtype=bool)
        in_list[lists] = True
        other = np.flatnonzero(in_list[ctx.lists] & (firm >= 0))
        named = ctx.lists[other].astype(np.int64) * n_firms + firm[other]
        ok &= ~np.isin(lists[mention].astype(np.int64) * n_firms + cand, named)
        one = np.bincount(mention[ok], minlength=todo.size) == 1
        pick = ok & one[mention]
        # two different ambiguous names of one list deduced to be the same firm (both sides
        # of a transfer between two firms that swapped names): neither is decided. The same
        # name written twice (an owner listed twice, a seller kept as co-owner) is one firm.
        chosen = lists[mention[pick]].astype(np.int64) * n_firms + cand[pick]
        texts = found.names.take(pa.array(pos[todo[mention[pick]]], type=pa.int64()))
        names = pd.factorize(np.asarray(texts.to_pylist(), dtype=object))[0].astype(np.int64)
        distinct = np.unique(np.stack([chosen, names]), axis=1)[0]
        seen, times = np.unique(distinct, return_counts=True)
        pick[np.flatnonzero(pick)[np.isin(chosen, seen[times > 1])]] = False
        if pick.any():
            firm, method = firm.copy(), method.copy()
            firm[todo[mention[pick]]] = cand[pick]
            method[todo[mention[pick]]] = _CODE["name"]
        return firm, method

    def candidates(self, m: _Mentions, dates: np.ndarray | None) -> pd.Series:
        """The firms each ambiguous mention may be: ``;``-joined USCCs (best match first) of
        the candidates established by the date of its record (or of unknown founding date);
        NA for every other mention. Nothing is linked by this: it tells who must be checked
        (a negative record on one of them holds them all back)."""
        out = np.full(len(m.method), None, dtype=object)
        amb = np.flatnonzero((m.method == _CODE["ambiguous"]) & (m.pos >= 0))
        never = np.datetime64("NaT", "ns")
        when = (
            np.asarray(dates, dtype="datetime64[ns]")[amb]
            if dates is not None
            else np.full(amb.size, never)
        )
        texts = m.lookup.candidates.to_numpy(dtype=object)[m.pos[amb]]
        for i, text, day in zip(amb.tolist(), texts, when, strict=True):
            usccs = [c.split(":")[0] for c in text.split(";")] if isinstance(text, str) else []
            if not np.isnat(day):
                est = {u: np.datetime64(self.established.get(u, never), "ns") for u in usccs}
                usccs = [u for u in usccs if np.isnat(est[u]) or est[u] <= day]
            out[i] = ";".join(usccs) or None
        return pd.Series(pd.array(out, dtype="str"))

    def _lookup(self, names: pa.Array) -> _Lookup:
        m = self.index.match(names)
        method = pd.Categorical(m["method"], categories=METHOD_ORDER).codes
        return _Lookup(
            names=names,
            firm=self.ranks(pa.array(m["uscc"], type=pa.large_string(), from_pandas=True)),
            method=np.asarray(method, dtype=np.int8),
            score=m["score"].to_numpy(dtype=np.float64),
            candidates=m["candidates"],
        )

    def record(self, source: str, *parts: tuple[_Mentions, np.ndarray | None]) -> None:
        """Report counts by method and the example names of ``source``, whose mentions are
        ``parts`` (each a set of mentions and an optional boolean selection of them)."""
        counts = np.zeros(len(METHOD_ORDER), dtype=np.int64)
        frames = []
        for m, sel in parts:
            method = m.method if sel is None else m.method[sel]
            counts += np.bincount(method, minlength=len(METHOD_ORDER))
            frames.append(_name_counts(m, None if sel is None else m.pos[sel]))
        self.report[source] = {k: int(counts[_CODE[k]]) for k in METHODS}
        df = pd.concat(frames, ignore_index=True)
        if df.empty:
            return
        # a name's method, score and candidates depend on the name only: sum the mentions
        g = (
            df.groupby(["method", "name"], sort=True)
            .agg(mentions=("mentions", "sum"), score=("score", "max"),
                 candidates=("candidates", "first"))
            .reset_index()
            .sort_values(["method", "mentions", "name"], ascending=[True, False, True])
        )  # fmt: skip
        g = g.groupby("method", sort=True).head(EXAMPLES_PER_KIND)
        g.insert(0, "source", source)
        self.examples.append(g[["source", "method", "name", "mentions", "score", "candidates"]])


def _name_counts(m: _Mentions, pos: np.ndarray | None) -> pd.DataFrame:
    """Ambiguous, unmatched and fuzzy names among mentions at lookup positions ``pos``."""
    lk = m.lookup
    pos = m.pos if pos is None else pos
    n = np.bincount(pos[pos >= 0], minlength=len(lk.names))
    idx = np.flatnonzero(np.isin(lk.method, _EXAMPLE_CODES) & (n > 0))
    return pd.DataFrame(
        {
            "method": pd.array(np.asarray(METHOD_ORDER, dtype=object)[lk.method[idx]], dtype="str"),
            "name": _str(lk.names.take(pa.array(idx, type=pa.int64()))),
            "mentions": n[idx].astype(np.int64),
            "score": lk.score[idx],
            "candidates": lk.candidates.iloc[idx].reset_index(drop=True),
        }
    )


def _at(values: np.ndarray, pos: np.ndarray, missing) -> np.ndarray:
    """``values[pos]`` with ``missing`` where ``pos`` is -1."""
    return np.append(values, np.asarray(missing, dtype=values.dtype))[pos]


def _str(arr: pa.Array | pa.ChunkedArray) -> pd.Series:
    """Arrow strings → pandas ``str`` column without Python objects."""
    s = arr.to_pandas()
    return s.astype("str") if s.dtype != "str" else s


_RECORD_DATE = {
    "credit_records": "start_date",
    "programmes": "valid_from",
    "nominations": "nominated_on",
}
"""The date of each row of these sources: the firm it names existed by then."""


def _link_rows(
    linker: _Linker, source: str, table: pd.DataFrame, *, record: bool = True
) -> pd.DataFrame:
    """Link a table whose rows carry a uscc and/or a name (``table`` is modified); ``record``
    counts the mentions in the match report."""
    ids, names = encode(table["name"])
    column = _RECORD_DATE.get(source)
    dates = table[column].to_numpy(dtype="datetime64[ns]") if column and column in table else None
    m = linker.link(ids, names, linker.ranks(arrow_strings(table["uscc"])), dates)
    if record:
        linker.record(source, (m, None))
    table["uscc"] = linker.usccs(m.firm)
    table["match_method"] = _methods(m.method)
    table["match_score"] = m.score
    if source in ("credit_records", "nominations"):
        table["match_candidates"] = linker.candidates(m, dates)
    return table


def _methods(codes: np.ndarray) -> pd.Series:
    return _str(pa.array(METHOD_ORDER, pa.large_string()).take(pa.array(codes)))


# -- patents ---------------------------------------------------------------------------------
@dataclass
class _Applicants:
    """Applicant mentions: patent row, name id, code id (rank among the sorted distinct
    codes given, -1 = none) and their links."""

    parent: np.ndarray
    ids: np.ndarray
    names: pa.Array
    code: np.ndarray
    code_firm: np.ndarray  # per code id: rank among the registry firms, -1 = not registered
    links: _Mentions | None = None


def _applicants(patents: pd.DataFrame, linker: _Linker) -> _Applicants:
    """Split and link the applicants of every patent."""
    parent, ids, names = split_ids(patents["applicants"])
    code, code_firm = _aligned_codes(patents["applicant_usccs"], parent, linker)
    a = _Applicants(parent, ids, names, code, code_firm)
    filed = (
        patents["app_date"].to_numpy(dtype="datetime64[ns]")[parent]
        if "app_date" in patents
        else None
    )
    a.links = linker.link(ids, names, _at(code_firm, code, -1), filed)
    return a


def _aligned_codes(
    col: pd.Series, parent: np.ndarray, linker: _Linker
) -> tuple[np.ndarray, np.ndarray]:
    """The code given with each applicant mention, aligned by position among the non-empty
    items when the row has as many codes as names: its id among the sorted distinct codes
    (-1 = none; ids order like the codes, so min() over ids is min() over the codes), and
    each code id's rank among the registry firms (-1 = not registered)."""
    n = len(col)
    cparent, cids, cdict = split_ids(col)
    order = pc.sort_indices(cdict)
    rank = np.empty(len(cdict), dtype=np.int32)
    rank[order.to_numpy()] = np.arange(len(cdict), dtype=np.int32)
    n_codes = np.bincount(cparent, minlength=n)
    del cparent
    aligned = np.bincount(parent, minlength=n)[parent] == n_codes[parent]
    code = np.full(len(parent), -1, dtype=np.int32)
    if len(cids):
        # mentions come in row order: position in the row = index - the row's first index
        pos = np.arange(len(parent)) - np.searchsorted(parent, parent)
        at = (np.cumsum(n_codes) - n_codes)[parent[aligned]] + pos[aligned]
        code[aligned] = rank[cids[at]]
    return code, linker.ranks(cdict.take(order))


def _group_firms(row, firm, method, score, n_firms):
    """Distinct (row, firm) among linked mentions, sorted, with min(method), max(score)."""
    ok = firm >= 0
    key = row[ok].astype(np.int64) * n_firms + firm[ok]
    order = np.argsort(key, kind="stable")
    key = key[order]
    if len(key) == 0:
        return key, key.astype(np.int32), np.zeros(0, np.int8), np.zeros(0)
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return (
        key[start] // n_firms,
        (key[start] % n_firms).astype(np.int32),
        np.minimum.reduceat(method[ok][order], start),
        np.fmax.reduceat(score[ok][order], start),
    )


def _reusable(patents: pd.DataFrame, a: _Applicants, moved: np.ndarray) -> np.ndarray:
    """Rows whose owner links are their applicant links: never transferred, owners text
    equal to the applicants text (or empty, which means the applicants), so the same
    mentions with the same codes, unless a name appears twice in the list (an owner takes
    the smallest code of its name, an applicant its own)."""
    same = (
        _same_text(patents["owners"], patents["applicants"]) | patents["owners"].isna().to_numpy()
    )
    return same & ~moved & ~_duplicate_name_rows(a, len(moved))


def _same_text(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Rows where both columns hold the same text (False where either is null). Two text
    categoricals compare by codes, after mapping ``left``'s categories into ``right``'s
    (no row's text is decoded)."""
    if is_text_categorical(left) and is_text_categorical(right):
        into = pc.index_in(pa.array(left.cat.categories), value_set=pa.array(right.cat.categories))
        lcode = left.cat.codes.to_numpy()
        mapped = _at(pc.fill_null(into, -2).to_numpy(zero_copy_only=False), lcode, -1)
        rcode = right.cat.codes.to_numpy()
        return (mapped == rcode) & (rcode >= 0)
    equal = pc.equal(arrow_strings(left), arrow_strings(right))
    return pc.fill_null(equal, False).to_numpy(zero_copy_only=False)


def _duplicate_name_rows(a: _Applicants, n_pat: int) -> np.ndarray:
    """Rows whose applicant list names one party twice."""
    width = len(a.names) + 1
    key = np.sort(a.parent * width + a.ids)
    out = np.zeros(n_pat, dtype=bool)
    out[key[1:][key[1:] == key[:-1]] // width] = True
    return out


def _first_rows(app_nos: pd.Series, wanted: pd.Series) -> np.ndarray:
    """Row of the first patent with each ``wanted`` app_no (-1: none). The hash table is
    built on the few wanted values and probed with every patent: no copy of the patent
    column and no table of millions of strings."""
    wanted = arrow_strings(wanted)
    keys = arrow_array(pc.unique(wanted).drop_null())
    hit = pc.fill_null(pc.index_in(arrow_strings(app_nos), value_set=keys), -1)
    hit = hit.to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(hit >= 0)
    found, first = np.unique(hit[rows], return_index=True)
    first_row = np.full(len(keys), -1, dtype=np.int64)
    first_row[found] = rows[first]
    pos = pc.fill_null(pc.index_in(wanted, value_set=keys), -1).to_numpy(zero_copy_only=False)
    return _at(first_row, pos, -1)


def _tr01(events: pd.DataFrame) -> pd.DataFrame:
    """The TR01 (transfer) events, their parties as plain text (a categorical's categories
    also name the parties of the other events)."""
    tr = events.loc[(events["event_code"] == "TR01").to_numpy(dtype=bool)]
    return tr.assign(**{c: as_text(tr[c]) for c in ("from_party", "to_party") if c in tr})


_TRANSFER_COLUMNS = ["app_no", "event_date", "from_party", "to_party"]
_READ_AGAIN = ("app_no", "event_code", "event_date", "from_party", "to_party")
"""The cells a rejected event row is read again for; a row whose code, date or party cell
is what failed is no readable transfer."""


def _transfer_events(
    patents: pd.DataFrame,
    events: pd.DataFrame,
    data: Any = None,
    enterprises: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every transfer: the accepted TR01 rows, then the rejected ones read again as
    transfers (:func:`_rejected_transfers`, when ``data`` is a bundle whose reader rejected
    event rows; ``enterprises`` gives the holders' other names, see
    :func:`_sold_by_a_holder`); ``app_no, event_date, from_party, to_party`` and
    ``patent_row`` (the first patent row of the number, -1: none)."""
    tr = _tr01(events)[_TRANSFER_COLUMNS]
    tr = tr.assign(patent_row=_first_rows(patents["app_no"], tr["app_no"]))
    extra = _rejected_transfers(data, patents)
    if extra.empty:
        return tr
    # a rejected copy of an accepted transfer (same patent, date and parties) adds nothing
    extra = extra.astype({"event_date": tr["event_date"].dtype})
    keys = ["patent_row", "event_date", "from_party", "to_party"]
    both = extra.merge(tr[keys].drop_duplicates(), on=keys, how="left", indicator=True)
    extra = extra.loc[(both["_merge"] == "left_only").to_numpy()].drop_duplicates(keys)
    extra = extra.loc[_sold_by_a_holder(extra.reset_index(drop=True), patents, tr, enterprises)]
    if extra.empty:
        return tr
    tr = tr.assign(app_no=as_text(tr["app_no"]))
    return pd.concat([tr, extra[tr.columns]], ignore_index=True)


def _rejected_transfers(data: Any, patents: pd.DataFrame) -> pd.DataFrame:
    """The event rows the reader rejected that still state a transfer, as
    :func:`_transfer_events` rows (``features._rejected_events.rejected_event_rows``, read
    once per bundle): the event code is TR01, the date and both party cells are readable
    (none of them is what failed), the row is no duplicate, and its number is a patent's, as
    written or with only its check character wrong (its 12 digits match). A sale recorded
    in a row with a mistyped check digit then moves the patent on its date, not at every
    date through the current ``owners``. A row whose code is unreadable is no transfer (its
    patent is 状态待核实 from its date instead)."""
    none = pd.DataFrame(
        {c: pd.Series(dtype="str") for c in _TRANSFER_COLUMNS}
        | {"event_date": pd.Series(dtype="datetime64[ns]"), "patent_row": pd.Series(dtype="int64")}
    )
    if not len(patents):
        return none
    ev = rejected_event_rows(data)
    failed = ev["failed"].astype("str").str.split(";")
    clean = ~failed.map(lambda cols: bool(set(cols) & set(_READ_AGAIN[1:]))).astype(bool)
    keep = (
        clean
        & ~ev["duplicate"].astype(bool)
        & (ev["event_code"].astype("str") == "TR01").fillna(False).astype(bool)
        & ev["event_date"].notna()
        & ev["app_no"].notna()
    )
    ev = ev.loc[keep.to_numpy(dtype=bool)]
    if ev.empty:
        return none
    out = pd.DataFrame(
        {
            "app_no": ev["app_no"].to_numpy(),
            "event_date": ev["event_date"].to_numpy(dtype="datetime64[ns]"),
            "from_party": ev["from_party"].to_numpy(),
            "to_party": ev["to_party"].to_numpy(),
        }
    ).astype({c: "str" for c in ("app_no", "from_party", "to_party")})
    out["patent_row"] = _first_rows(patents["app_no"], out["app_no"])
    # the number is what failed: its 12 digits name the patent only if no digit is wrong
    mistyped = ev["failed"].astype("str").str.split(";").map(lambda cols: "app_no" in cols)
    out["mistyped"] = mistyped.to_numpy(dtype=bool)
    return out.loc[out["patent_row"] >= 0].reset_index(drop=True)


def _sold_by_a_holder(
    extra: pd.DataFrame,
    patents: pd.DataFrame,
    tr: pd.DataFrame,
    enterprises: pd.DataFrame | None = None,
) -> np.ndarray:
    """Which rejected transfers of a mistyped number (``mistyped``) have a seller who held
    the patent they name: one of its applicants (by name or by code) or owners, or the
    buyer of an earlier accepted transfer of it, under any name the registry knows for that
    firm (``enterprises``: current and former names), compared by matching key. A typo
    among the 12 digits lands on another patent, whose holder did not sell it; such a row
    is left out (the patent then keeps its current owners, as without the row). Rows whose
    number was read are kept."""
    keep = np.ones(len(extra), dtype=bool)
    typo = np.flatnonzero(extra["mistyped"].to_numpy(dtype=bool))
    if not typo.size:
        return keep
    rows = extra.iloc[typo][["patent_row", "event_date", "from_party"]].assign(i=typo)
    prow = rows["patent_row"].to_numpy(dtype=np.int64)
    # every name a holder may bear, per typo row: the patent's applicants and owners, and
    # the buyers of its earlier transfers (one pass over the transfers of those patents)
    held = [
        pd.DataFrame({"i": typo, "names": _text_at(patents[col], prow)})
        for col in ("applicants", "owners")
        if col in patents
    ]
    mine = tr.loc[tr["patent_row"].isin(np.unique(prow)), ["patent_row", "event_date", "to_party"]]
    earlier = rows.merge(mine, on="patent_row", suffixes=("", "_tr"))
    earlier = earlier.loc[earlier["event_date_tr"] < earlier["event_date"]]
    held.append(
        pd.DataFrame({"i": earlier["i"].to_numpy(), "names": earlier["to_party"].to_numpy()})
    )
    holders = _name_key_pairs(pd.concat(held, ignore_index=True))
    if enterprises is not None and len(enterprises):
        holders = _with_aliases(holders, enterprises, typo, _text_at(patents["applicant_usccs"], prow)
                                if "applicant_usccs" in patents else None)  # fmt: skip
    sellers = _name_key_pairs(pd.DataFrame({"i": typo, "names": rows["from_party"].to_numpy()}))
    sold = sellers.merge(holders, on=["i", "key"])["i"].unique()
    keep[typo] = np.isin(typo, sold)
    return keep


def _text_at(col: pd.Series, rows: np.ndarray) -> np.ndarray:
    """The cells ``rows`` of a text column as Python strings (None where missing)."""
    values = col.iloc[rows].astype("str")
    return values.where(values.notna(), None).to_numpy(dtype=object)


def _with_aliases(
    holders: pd.DataFrame, enterprises: pd.DataFrame, i: np.ndarray, codes: np.ndarray | None
) -> pd.DataFrame:
    """``holders`` (``i, key``) with every name the registry knows for the firms they are:
    the firms bearing or having borne one of the keys, and the applicants by code
    (``codes``, per ``i``: ``;``-joined USCCs)."""
    names = enterprises[["uscc", "name"]].astype({"uscc": "str", "name": "str"})
    if "former_names" in enterprises:
        former = enterprises[["uscc", "former_names"]].astype("str")
        names = pd.concat(
            [names, former.rename(columns={"former_names": "name"})], ignore_index=True
        )
    alias = _name_key_pairs(
        pd.DataFrame({"i": names["uscc"].to_numpy(), "names": names["name"].to_numpy()})
    ).rename(columns={"i": "uscc"})
    firms = [holders.merge(alias, on="key")[["i", "uscc"]]]
    if codes is not None:
        coded = pd.DataFrame({"i": i, "uscc": codes}).dropna()
        coded = coded.assign(uscc=coded["uscc"].astype("str").str.split(r"[;；]")).explode("uscc")
        firms.append(coded.assign(uscc=coded["uscc"].str.strip()))
    firms = pd.concat(firms, ignore_index=True).drop_duplicates()
    more = firms.merge(alias, on="uscc")[["i", "key"]]
    return pd.concat([holders, more], ignore_index=True).drop_duplicates()


def _name_key_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """``i, key``: the matching key of every ``;``- or ``；``-separated name of
    ``frame['names']``."""
    names = frame.assign(name=frame["names"].astype("str").str.split(r"[;；]")).explode("name")
    keys = name_keys(pd.Series(names["name"].to_numpy(), dtype="str"))
    out = pd.DataFrame({"i": names["i"].to_numpy(), "key": keys.to_pandas()})
    return out.dropna().drop_duplicates()


def _transfers(
    patents: pd.DataFrame, events: pd.DataFrame, transfers: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Dated transfers of known patents (the first row of their app_no; ``transfers`` from
    :func:`_transfer_events`, by default the accepted TR01 of ``events``), in order of
    ``patent_row, event_date`` then input order, with ``k`` (1, 2, … per patent) and the next
    transfer's ``next_date`` and ``next_from``."""
    tr = _transfer_events(patents, events) if transfers is None else transfers
    tr = tr.loc[(tr["patent_row"] >= 0) & tr["event_date"].notna()]
    tr = tr.reset_index(drop=True).reset_index(names="seq")
    tr = tr.sort_values(["patent_row", "event_date", "seq"], kind="stable").reset_index(drop=True)
    g = tr.groupby("patent_row", sort=False)
    tr["k"] = g.cumcount() + 1
    tr["next_date"] = g["event_date"].shift(-1)
    tr["next_from"] = g["from_party"].shift(-1)
    return tr


@dataclass
class _Epochs:
    """Ownership periods (see EntityLinks) and their owner mentions (``parent`` = period)."""

    row: np.ndarray
    k: np.ndarray
    start: np.ndarray
    end: np.ndarray
    parent: np.ndarray
    ids: np.ndarray
    names: pa.Array


def _owner_epochs(patents: pd.DataFrame, tr: pd.DataFrame, plain: np.ndarray) -> _Epochs:
    """Ownership periods of the patents rows ``plain`` (never transferred: one period, the
    whole time, with the current owners) and of every transferred patent (``tr``)."""

    def owners_now(rows: np.ndarray) -> pa.Array:
        return pc.coalesce(
            take_text(patents["owners"], rows), take_text(patents["applicants"], rows)
        )

    first = tr[tr["k"] == 1]
    rows = first["patent_row"].to_numpy()
    # Python strings only for the transferred patents' rows, not for every patent
    appl_first = take_text(patents["applicants"], rows).to_numpy(zero_copy_only=False)
    f0 = first["from_party"].to_numpy(dtype=object, na_value=None)
    last = tr["next_date"].isna().to_numpy()
    mid = tr["next_from"].fillna(tr["to_party"]).to_numpy(dtype=object, na_value=None)
    trow = tr["patent_row"].to_numpy()
    n0 = len(plain) + len(rows)
    nat = np.full(n0, np.datetime64("NaT"), dtype="datetime64[ns]")
    e_row = np.concatenate([plain, rows, trow]).astype(np.int64)
    e_k = np.concatenate([np.zeros(n0, dtype=np.int64), tr["k"].to_numpy(dtype=np.int64)])
    e_start = np.concatenate([nat, tr["event_date"].to_numpy(dtype="datetime64[ns]")])
    e_end = np.concatenate(
        [nat[: len(plain)], first["event_date"].to_numpy(dtype="datetime64[ns]"),
         tr["next_date"].to_numpy(dtype="datetime64[ns]")]
    )  # fmt: skip
    cur_moved = owners_now(trow).to_numpy(zero_copy_only=False)
    small = np.concatenate([np.where(pd.isna(f0), appl_first, f0), np.where(last, cur_moved, mid)])
    e_owners = pa.concat_arrays(
        [
            arrow_array(owners_now(plain)),
            pa.array(small, type=pa.large_string(), from_pandas=True),
        ]
    )
    # zero-length periods (two transfers on one day) hold nothing
    keep = np.isnat(e_start) | np.isnat(e_end) | (e_start < e_end)
    parent, ids, names = split_ids(e_owners.filter(pa.array(keep)))
    return _Epochs(e_row[keep], e_k[keep], e_start[keep], e_end[keep], parent, ids, names)


def _owner_codes(a: _Applicants, ep: _Epochs, n_pat: int) -> np.ndarray:
    """Code rank of each owner mention: an owner who is also a coded applicant of the same
    patent keeps the applicant's code (the smallest if the name is coded twice); -1 = none."""
    need = np.zeros(n_pat, dtype=bool)
    need[ep.row] = True
    sel = need[a.parent] & (a.code >= 0)
    width = len(a.names) + 1
    key = a.parent[sel] * width + a.ids[sel]
    code = a.code[sel]
    if len(key) == 0:
        return np.full(len(ep.ids), -1, dtype=np.int32)
    order = np.lexsort((code, key))
    key, code = key[order], code[order]
    first = np.r_[True, key[1:] != key[:-1]]
    key, code = key[first], code[first]
    # owner names as applicant name ids (-1: not an applicant name anywhere, so no code)
    as_app = pc.fill_null(pc.index_in(ep.names, value_set=a.names), -1)
    nid = as_app.to_numpy(zero_copy_only=False)[ep.ids]
    okey = ep.row[ep.parent] * width + nid
    j = np.minimum(np.searchsorted(key, okey), len(key) - 1)
    hit = (nid >= 0) & (key[j] == okey)
    return _at(a.code_firm, np.where(hit, code[j], -1), -1)


_MOVED_OWNERS_SQL = """
WITH o AS (
  SELECT epoch, uscc, min(method) AS method, max(score) AS score FROM own_m
  WHERE uscc >= 0 GROUP BY epoch, uscc),
moved AS (SELECT DISTINCT patent_row FROM ep WHERE k > 0),
h AS (
  SELECT e.patent_row, o.uscc, e.k, e.held_from, e.held_to, e.n_owners, o.method,
         o.score, (m.patent_row IS NOT NULL) AS moved
  FROM o JOIN ep e ON e.epoch = o.epoch
  LEFT JOIN moved m ON m.patent_row = e.patent_row),
-- only transferred patents need the island logic (consecutive periods of one firm form one
-- holding whose start is the acquisition date)
w AS (
  SELECT *, k - row_number() OVER (PARTITION BY patent_row, uscc ORDER BY k) AS island
  FROM h WHERE moved)
SELECT patent_row, uscc, held_from, held_to, n_owners, NULL::TIMESTAMP_NS AS acquired_on,
       method, score, k
FROM h WHERE NOT moved
UNION ALL
SELECT patent_row, uscc, held_from, held_to, n_owners,
       first_value(held_from) OVER (PARTITION BY patent_row, uscc, island ORDER BY k)
         AS acquired_on, method, score, k
FROM w
ORDER BY patent_row, uscc, k
"""


def _owner_links(ep: _Epochs, own: _Mentions, memory_limit: str | None) -> pa.Table:
    """Owner links of the periods in ``ep``: one row per (period, firm), consecutive periods
    of one firm sharing their acquisition date; sorted by ``patent_row, uscc, k``."""
    n_owners = np.bincount(ep.parent, minlength=len(ep.row))
    # NaN scores (linked by code) as nulls: max() skips nulls, but NaN is DuckDB's largest
    score = pa.array(own.score, from_pandas=True)
    own_m = pa.table({"epoch": ep.parent, "uscc": own.firm, "method": own.method, "score": score})
    periods = pa.table(
        {
            "epoch": np.arange(len(ep.row)),
            "patent_row": ep.row,
            "k": ep.k,
            "held_from": ep.start,
            "held_to": ep.end,
            "n_owners": n_owners,
        }
    )
    with duck(memory_limit) as con:
        con.register("own_m", own_m)
        con.register("ep", periods)
        return con.sql(_MOVED_OWNERS_SQL).to_arrow_table()


def _patent_links(
    applicants: tuple[np.ndarray, ...],
    n_names: np.ndarray,
    reused: np.ndarray,
    owners: pa.Table,
    firms: pd.Index,
) -> pd.DataFrame:
    """The link table: ``applicants`` (``_group_firms``), owners of the ``reused`` rows (the
    same firms as their applicants, whole time, ``n_names`` owners) and the other
    ``owners``; sorted by patent_row, role, uscc, k."""
    row, firm, method, score = applicants
    same = np.flatnonzero(reused[row])
    n_app, n_ab = len(row), len(row) + len(same)
    rows = np.concatenate([row, row[same], owners["patent_row"].to_numpy()])
    # sort key: row, then applicants before owners; the stable sort keeps each part's
    # (firm, k) order, and a row's owners come all from the reused part or all from the other
    key = rows * 2
    key[n_app:] += 1
    at = np.empty(len(rows), dtype=np.int64)
    at[np.argsort(key, kind="stable")] = np.arange(len(rows))
    del key
    app_at, reused_at, other_at = at[:n_app], at[n_app:n_ab], at[n_ab:]
    del at

    def place(app: np.ndarray | None, other: str, missing: Any = None) -> np.ndarray:
        """A column with each part written at its final positions (no concatenation);
        ``app is None``: ``missing`` for the applicants and the reused owners."""
        values = owners[other].to_numpy()
        if app is None:
            out = np.full(len(rows), missing, dtype=values.dtype)
        else:
            out = np.empty(len(rows), dtype=app.dtype)
            out[app_at], out[reused_at] = app, app[same]
        out[other_at] = values
        return out

    role = np.zeros(len(rows), dtype=np.int8)
    role[reused_at], role[other_at] = 1, 1
    n_owners = place(None, "n_owners", 0)
    n_owners[reused_at] = n_names[row[same]]
    nat = np.datetime64("NaT", "ns")
    links = {
        "patent_row": place(row, "patent_row"),
        "uscc": pd.Categorical.from_codes(place(firm, "uscc"), categories=firms),
        "role": pd.Categorical.from_codes(role, categories=ROLES),
        "held_from": place(None, "held_from", nat),
        "held_to": place(None, "held_to", nat),
        "n_owners": pd.arrays.IntegerArray(n_owners, role == 0),
        "acquired_on": place(None, "acquired_on", nat),
        "method": pd.Categorical.from_codes(place(method, "method"), METHOD_ORDER),
        "score": place(score, "score"),
    }
    # copy=False: no consolidation of the columns into blocks (a second copy of the table)
    return pd.DataFrame(links, copy=False)


def _link_patents(
    linker: _Linker,
    patents: pd.DataFrame,
    events: pd.DataFrame,
    memory_limit: str | None,
    reuse: bool = True,
    transfers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Applicant and owner links of every patent (``EntityLinks.patent_links``).

    ``reuse=False`` links every owner list on its own (the tests compare both ways).
    ``transfers``: :func:`_transfer_events` (by default the accepted TR01 of ``events``).
    Keeps on ``linker`` the firms linked by code to the transferred patents, for
    :func:`_event_links`.
    """
    n_pat = len(patents)
    a = _applicants(patents, linker)
    linker.record("patent_applicants", (a.links, None))
    if transfers is None:
        transfers = _transfer_events(patents, events)
    tr = _transfers(patents, events, transfers)
    moved = np.zeros(n_pat, dtype=bool)
    moved[tr["patent_row"].to_numpy()] = True
    reused = _reusable(patents, a, moved) & reuse
    ep = _owner_epochs(patents, tr, np.flatnonzero(~reused & ~moved))
    # the date an owner list was true from: a transfer's date, or the filing date for the
    # period before a patent's first transfer; unknown (NaT) for a never-transferred patent,
    # whose owners are the export's current ones
    since = ep.start.copy()
    before_first = np.isnat(since) & ~np.isnat(ep.end)
    if "app_date" in patents:
        since[before_first] = patents["app_date"].to_numpy(dtype="datetime64[ns]")[
            ep.row[before_first]
        ]
    codes = _CodeLinks(a.parent, a.code, a.code_firm)
    context = _Context(ep.parent, ep.row, codes)
    own = linker.link(ep.ids, ep.names, _owner_codes(a, ep, n_pat), since[ep.parent], context)
    named = transfers["patent_row"].to_numpy()
    linker.transfer_codes = codes.of(named[named >= 0], len(linker.firms))
    linker.record("patent_owners", (a.links, reused[a.parent]), (own, None))
    owners = _owner_links(ep, own, memory_limit)
    del ep, own
    m = a.links
    applicants = _group_firms(a.parent, m.firm, m.method, m.score, len(linker.firms))
    n_names = np.bincount(a.parent, minlength=n_pat)
    del a, m  # the mentions: only their grouped links are needed from here
    return _patent_links(applicants, n_names, reused, owners, pd.Index(_str(linker.firms)))


def _event_links(linker: _Linker, transfers: pd.DataFrame) -> pd.DataFrame:
    """Transfer parties (``EntityLinks.event_links``) of ``transfers``
    (:func:`_transfer_events`).

    Both sides of every transfer are linked in one pass, each transfer one list: a firm
    one side names is no candidate of the other side's ambiguous name (a patent filed under
    a firm's former name that another firm now bears, then sold to that other firm, must
    not be deduced sold by the seller to itself)."""
    tr = transfers.reset_index(drop=True)
    rows = tr["patent_row"].to_numpy()
    sides = [("from", *split_ids(tr["from_party"])), ("to", *split_ids(tr["to_party"]))]
    n_from_names = len(sides[0][3])
    parent = np.concatenate([sides[0][1], sides[1][1]])
    ids = np.concatenate([sides[0][2], sides[1][2].astype(np.int64) + n_from_names])
    names = pa.concat_arrays([sides[0][3], sides[1][3].cast(sides[0][3].type)])
    dates = tr["event_date"].to_numpy(dtype="datetime64[ns]")[parent]
    context = _Context(parent, rows, linker.transfer_codes)
    m = linker.link(ids.astype(sides[0][2].dtype), names, dates=dates, context=context)
    is_from = np.arange(len(parent)) < len(sides[0][1])
    parts = []
    for (side, p, _, _), sel in ((sides[0], is_from), (sides[1], ~is_from)):
        linker.record(f"transfer_{side}_parties", (m, sel))
        parts.append(
            pd.DataFrame(
                {
                    "app_no": _str(arrow_strings(tr["app_no"]).take(pa.array(p, type=pa.int64()))),
                    "event_date": tr["event_date"].to_numpy()[p],
                    "side": pd.Series(np.full(len(p), side, dtype=object), dtype="str"),
                    "party": _str(names.take(pa.array(ids[sel]))),
                    "uscc": linker.usccs(m.firm[sel]),
                    "method": _methods(m.method[sel]),
                    "score": m.score[sel],
                }
            )
        )
    ev_links = pd.concat(parts, ignore_index=True)
    ev_links["event_date"] = ev_links["event_date"].astype("datetime64[ns]")
    return ev_links


@reports_out_of_memory
def resolve_entities(
    data: Any,
    *,
    fuzzy_threshold: float | None = DEFAULT_FUZZY_THRESHOLD,
    memory_limit: str | None = None,
) -> EntityLinks:
    """Link every firm mention in the input to a registry USCC.

    Parameters
    ----------
    data : DataBundle or Mapping[str, pd.DataFrame]
        Canonical tables (docs/data_model.md).
    fuzzy_threshold : float or None, default 95
        Minimum rapidfuzz ``fuzz.ratio`` (0–100) between matching keys for a fuzzy link,
        accepted only when a single firm reaches it; ``None`` disables fuzzy matching.
    memory_limit : str or None, default None
        DuckDB ``memory_limit`` of the connection used here (e.g. ``'2GB'``); it spills to a
        private folder under ``tempfile.gettempdir()`` beyond it. None = DuckDB's default.

    Returns
    -------
    EntityLinks
        Link tables and the match report. Co-owned patents link to every matched owner.

    Raises
    ------
    DataError
        If ``fuzzy_threshold`` is outside [50, 100], ``memory_limit`` is not a memory size
        or too small for DuckDB to work in, or a required table is missing.
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
    check_memory_limit(memory_limit)
    ent = get_table(data, "enterprises", ["uscc", "name", "former_names", "established"])
    # categoricals stay so: names are split once per category, not once per row
    patents = get_table(
        data,
        "patents",
        ["app_no", "app_date", "applicants", "applicant_usccs", "owners"],
        categorical=True,
    )
    events = get_table(
        data,
        "patent_events",
        ["app_no", "event_code", "event_date", "from_party", "to_party"],
        categorical=True,
    )
    linker = _Linker(ent, fuzzy_threshold)
    transfers = _transfer_events(patents, events, data, ent)
    links = _link_patents(linker, patents, events, memory_limit, transfers=transfers)
    ev_links = _event_links(linker, transfers)
    del transfers
    credit = _link_rows(linker, "credit_records", get_table(data, "credit_records"))
    progs = _link_rows(linker, "programmes", get_table(data, "programmes"))
    noms = _link_rows(linker, "nominations", get_table(data, "nominations"))
    rejected = _link_rows(linker, "credit_records", rejected_credit_records(data), record=False)

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
        n_patents=len(patents),
        rejected_credit_records=rejected,
    )
