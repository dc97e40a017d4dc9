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
    registry: tuple[str, ...] = field(default=(), repr=False)


class _Linker:
    def __init__(self, enterprises: pd.DataFrame, fuzzy_threshold: float | None) -> None:
        self.index = NameIndex(enterprises, fuzzy_threshold)
        self.registry = pa.array(enterprises["uscc"].astype("str"), type=pa.large_string())
        self.report: dict[str, dict[str, int]] = {}
        self.examples: list[pd.DataFrame] = []

    def link(self, source: str, names: pa.Array, codes: pa.Array | None = None) -> pd.DataFrame:
        """Resolve mentions (one per element); returns uscc, method, score, candidates."""
        n = len(names)
        names = names.cast(pa.large_string())
        uscc = pa.nulls(n, pa.large_string())
        by_code = np.zeros(n, dtype=bool)
        if codes is not None:
            codes = codes.cast(pa.large_string())
            by_code = pc.fill_null(pc.is_in(codes, value_set=self.registry), False)
            by_code = by_code.to_numpy(zero_copy_only=False)
            uscc = pc.if_else(pa.array(by_code), codes, uscc)
        todo = ~by_code
        uniq = pc.unique(names.filter(pa.array(todo))).drop_null()
        matched = self.index.match(uniq)
        pos = pc.index_in(names, value_set=uniq).to_numpy(zero_copy_only=False)
        pos = np.where(todo, np.nan_to_num(pos, nan=-1), -1).astype(np.int64)
        has = pos >= 0
        m_uscc = matched["uscc"].to_numpy(dtype=object, na_value=None)
        m_method = matched["method"].to_numpy(dtype=object)
        out_uscc = np.asarray(uscc.to_pylist(), dtype=object)
        method = np.where(by_code, "uscc", "unmatched").astype(object)
        score = np.full(n, np.nan)
        cands = np.full(n, None, dtype=object)
        out_uscc[has] = m_uscc[pos[has]]
        method[has] = m_method[pos[has]]
        score[has] = matched["score"].to_numpy()[pos[has]]
        cands[has] = matched["candidates"].to_numpy(dtype=object, na_value=None)[pos[has]]
        res = pd.DataFrame(
            {
                "uscc": pd.array(out_uscc, dtype="str"),
                "method": pd.array(method, dtype="str"),
                "score": score,
                "candidates": pd.array(cands, dtype="str"),
            }
        )
        self._record(source, names, res)
        return res

    def _record(self, source: str, names: pa.Array, res: pd.DataFrame) -> None:
        counts = res["method"].value_counts()
        self.report[source] = {m: int(counts.get(m, 0)) for m in METHODS}
        kinds = res["method"].isin(["ambiguous", "unmatched", "fuzzy"]).to_numpy()
        if not kinds.any():
            return
        df = pd.DataFrame(
            {
                "name": pd.Series(names.filter(pa.array(kinds)).to_pandas(), dtype="str"),
                "method": res["method"][kinds].to_numpy(),
                "score": res["score"][kinds].to_numpy(),
                "candidates": res["candidates"][kinds].to_numpy(),
            }
        ).dropna(subset=["name"])
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
    out["uscc"] = res["uscc"].to_numpy()
    out["uscc"] = out["uscc"].astype("str")
    out["match_method"] = res["method"].to_numpy()
    out["match_score"] = res["score"].to_numpy()
    return out


def _owner_epochs(patents: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Owner lists per patent and period, from the TR01 history (see EntityLinks)."""
    n = len(patents)
    owners = patents["owners"].fillna(patents["applicants"])
    base = pd.DataFrame(
        {
            "patent_row": np.arange(n, dtype=np.int64),
            "k": 0,
            "start": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
            "end": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
            "owners": owners.to_numpy(),
        }
    )
    tr = events.loc[
        events["event_code"] == "TR01", ["app_no", "event_date", "from_party", "to_party"]
    ]
    row_of = pd.Series(np.arange(n, dtype=np.int64), index=patents["app_no"].to_numpy())
    row_of = row_of[~row_of.index.duplicated()]
    tr = tr.assign(patent_row=tr["app_no"].map(row_of)).dropna(subset=["patent_row", "event_date"])
    if tr.empty:
        return base
    tr["patent_row"] = tr["patent_row"].astype(np.int64)
    tr = tr.reset_index(drop=True).reset_index(names="seq")
    tr = tr.sort_values(["patent_row", "event_date", "seq"], kind="stable").reset_index(drop=True)
    g = tr.groupby("patent_row", sort=False)
    tr["k"] = g.cumcount() + 1
    tr["next_date"] = g["event_date"].shift(-1)
    tr["next_from"] = g["from_party"].shift(-1)
    first = tr[tr["k"] == 1]
    rows = first["patent_row"].to_numpy()
    appl = patents["applicants"].to_numpy(dtype=object, na_value=None)
    f0 = first["from_party"].to_numpy(dtype=object, na_value=None)
    e0 = pd.DataFrame(
        {
            "patent_row": rows,
            "k": 0,
            "start": pd.Series(pd.NaT, index=range(len(rows)), dtype="datetime64[ns]"),
            "end": first["event_date"].to_numpy(),
            "owners": np.where(pd.isna(f0), appl[rows], f0),
        }
    )
    last = tr["next_date"].isna()
    mid_owners = tr["next_from"].fillna(tr["to_party"])
    ek = pd.DataFrame(
        {
            "patent_row": tr["patent_row"].to_numpy(),
            "k": tr["k"].to_numpy(),
            "start": tr["event_date"].to_numpy(),
            "end": tr["next_date"].to_numpy(),
            "owners": np.where(
                last.to_numpy(),
                owners.iloc[tr["patent_row"].to_numpy()].to_numpy(),
                mid_owners.to_numpy(),
            ),
        }
    )
    has_tr = np.zeros(n, dtype=bool)
    has_tr[rows] = True
    out = pd.concat([base[~has_tr], e0, ek], ignore_index=True)
    # zero-length periods (two transfers on one day) hold nothing
    keep = out["start"].isna() | out["end"].isna() | (out["start"] < out["end"])
    return out[keep].sort_values(["patent_row", "k"], kind="stable").reset_index(drop=True)


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
        isinstance(fuzzy_threshold, int | float) and 50 <= fuzzy_threshold <= 100
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

    # original applicants, codes aligned by position when the two lists have equal length
    parent, names, pos = split_list(patents["applicants"])
    cparent, codes, cpos = split_list(patents["applicant_usccs"])
    code_by = pd.Series(
        codes.to_pandas().to_numpy(), index=pd.MultiIndex.from_arrays([cparent, cpos])
    )
    n_names = np.bincount(parent, minlength=len(patents))
    n_codes = np.bincount(cparent, minlength=len(patents))
    aligned = pd.MultiIndex.from_arrays([parent, pos])
    mention_codes = (
        code_by.reindex(aligned).to_numpy(dtype=object)
        if len(code_by)
        else np.full(len(parent), None, dtype=object)
    )
    mention_codes = np.where(n_names[parent] == n_codes[parent], mention_codes, None)
    app = linker.link("patent_applicants", names, pa.array(mention_codes, type=pa.large_string()))
    app_no = patents["app_no"].to_numpy(dtype=object)
    applicants = pd.DataFrame(
        {
            "patent_row": parent,
            "uscc": res_col(app, "uscc"),
            "method": app["method"].to_numpy(),
            "score": app["score"].to_numpy(),
        }
    )
    applicants = applicants[applicants["uscc"].notna()].drop_duplicates(["patent_row", "uscc"])

    # ownership periods
    epochs = _owner_epochs(patents, events)
    eparent, enames, _ = split_list(epochs["owners"])
    # an owner that is also a coded applicant of the same patent keeps the applicant's code
    coded = pd.DataFrame(
        {
            "patent_row": parent,
            "name": names.to_pandas().to_numpy(dtype=object),
            "code": mention_codes,
        }
    ).dropna(subset=["code"])
    coded = coded.drop_duplicates(["patent_row", "name"]).set_index(["patent_row", "name"])["code"]
    own_codes = None
    if len(coded):
        key = pd.MultiIndex.from_arrays(
            [epochs["patent_row"].to_numpy()[eparent], enames.to_pandas().to_numpy(dtype=object)]
        )
        own_codes = pa.array(
            coded.reindex(key).to_numpy(dtype=object), type=pa.large_string(), from_pandas=True
        )
    own = linker.link("patent_owners", enames, own_codes)
    n_owners = np.bincount(eparent, minlength=len(epochs))
    owners = pd.DataFrame(
        {
            "epoch": eparent,
            "uscc": res_col(own, "uscc"),
            "method": own["method"].to_numpy(),
            "score": own["score"].to_numpy(),
        }
    )
    owners = owners[owners["uscc"].notna()].drop_duplicates(["epoch", "uscc"])
    ep = epochs.iloc[owners["epoch"].to_numpy()].reset_index(drop=True)
    owners = owners.reset_index(drop=True)
    owners["patent_row"] = ep["patent_row"].to_numpy()
    owners["k"] = ep["k"].to_numpy()
    owners["held_from"] = ep["start"].to_numpy()
    owners["held_to"] = ep["end"].to_numpy()
    owners["n_owners"] = n_owners[owners["epoch"].to_numpy()]
    owners = owners.sort_values(["patent_row", "uscc", "k"], kind="stable").reset_index(drop=True)
    # consecutive periods of one firm form one holding; its start is the acquisition date
    island = owners["k"] - owners.groupby(["patent_row", "uscc"], sort=False).cumcount()
    owners["acquired_on"] = owners.groupby(
        [owners["patent_row"], owners["uscc"], island], sort=False
    )["held_from"].transform("first", skipna=False)
    applicants["role"] = "applicant"
    owners["role"] = "owner"
    links = pd.concat(
        [
            applicants.assign(
                held_from=pd.NaT, held_to=pd.NaT, n_owners=np.nan, acquired_on=pd.NaT
            ),
            owners,
        ],
        ignore_index=True,
    )
    links["app_no"] = app_no[links["patent_row"].to_numpy()]
    links = links[
        [
            "app_no",
            "patent_row",
            "uscc",
            "role",
            "held_from",
            "held_to",
            "n_owners",
            "acquired_on",
            "method",
            "score",
        ]
    ]
    links["app_no"] = links["app_no"].astype("str")
    links["uscc"] = links["uscc"].astype("str")
    links["role"] = links["role"].astype("str")
    links["method"] = links["method"].astype("str")
    for c in ("held_from", "held_to", "acquired_on"):
        links[c] = links[c].astype("datetime64[ns]")
    links["n_owners"] = links["n_owners"].astype("Int64")

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
                    "uscc": res_col(res, "uscc"),
                    "method": res["method"].to_numpy(),
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
        patent_links=links.reset_index(drop=True),
        event_links=ev_links,
        credit_records=credit,
        programmes=progs,
        nominations=noms,
        match_report=report,
        match_examples=examples.reset_index(drop=True),
        n_patents=len(patents),
        registry=tuple(ent["uscc"].tolist()),
    )


def res_col(res: pd.DataFrame, col: str) -> np.ndarray:
    return res[col].to_numpy(dtype=object, na_value=None)
