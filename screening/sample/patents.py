"""Patents and their legal events (事务) for a range of firms, fully vectorised.

Only what is public at the run date is written: an invention appears once published
(PB01), a utility model or design once granted. Every event is dated on or before the run
date and is consistent with the patent row (GR01 = grant_date, a TR01 changes the owners, no
event after a terminal one). The per-patent dates the ground-truth PD needs (validity
start/end, fee-lapse gap) are returned alongside the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts.identifiers import make_uscc
from screening.sample import _vocab as V
from screening.sample._arrow import (
    NEVER,
    app_no_array,
    concat,
    dates,
    day,
    join_lists,
    pick,
    segment_index,
    years,
)
from screening.sample.firms import Firms

INV, UM, DES = 0, 1, 2
TYPE_NAMES = ("invention", "utility_model", "design")
_DESIGN_15Y_FROM = day("2021-06-01")
EVENT_TEXT = {
    "PB01": "公开",
    "SE01": "实质审查的生效",
    "GR01": "授权",
    "RJ01": "发明专利申请公布后的驳回",
    "WD01": "发明专利申请公布后的视为撤回",
    "CF01": "未缴年费专利权终止",
    "RR01": "专利权的恢复",
    "CX01": "专利权有效期届满",
    "AV01": "避免重复授权放弃专利权",
    "IW01": "专利权全部无效",
    "IP01": "专利权部分无效",
    "TR01": "专利权的转移",
    "EE01": "专利实施许可合同备案的生效",
    "EC01": "专利实施许可合同备案的注销",
    "PE01": "专利权质押合同登记的生效",
    "PC01": "专利权质押合同登记的注销",
    "PP01": "专利权的保全",
    "PD01": "专利权保全的解除",
}
EVENT_CODES = tuple(EVENT_TEXT)
UNIVERSITY_USCC = tuple(
    make_uscc("1", "2", "410000", f"4{i:07d}") for i in range(1, len(V.UNIVERSITIES) + 1)
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰建国志红文斌辉鹏飞宇浩然博凯"
# A fixed universe of inventor names (one- and two-character given names), picked by key.
_PEOPLE = pa.array(
    [s + g for s in _SURNAMES for g in _GIVEN]
    + [s + g1 + g2 for s in _SURNAMES for g1 in _GIVEN for g2 in _GIVEN]
)


def _ipc_combos() -> list[str]:
    out = []
    for k in V.CLUSTERS:
        codes = V.IPC[k]
        for i in range(8):
            for extra in range(4):
                out.append(";".join([codes[i]] + [codes[(i + 1 + j) % 8] for j in range(extra)]))
    return out


_IPC_COMBOS = _ipc_combos()
_DESIGN_SUFFIXES = ("外壳", "面板", "壳体")
_N_SUFFIX = len(V.INVENTION_SUFFIXES) + len(V.UTILITY_SUFFIXES) + len(_DESIGN_SUFFIXES)
_TITLES = [
    *(
        (f"一种{o}{s}" if i < len(V.INVENTION_SUFFIXES) + len(V.UTILITY_SUFFIXES) else f"{o}{s}")
        for k in V.CLUSTERS
        for o in V.TITLE_OBJECTS[k]
        for i, s in enumerate(V.INVENTION_SUFFIXES + V.UTILITY_SUFFIXES + _DESIGN_SUFFIXES)
    )
]


@dataclass
class PatentFacts:
    """Per-patent dates the PD and the loan book need (chunk-local arrays)."""

    firm: np.ndarray  # global firm index, ascending
    ptype: np.ndarray
    app_no: pa.Array
    valid_from: np.ndarray  # grant (or acquisition) day, NEVER if never valid for the firm
    valid_to: np.ndarray  # first terminal day (lapse not restored, expiry, invalidation...)
    gap_from: np.ndarray  # restored fee lapse: CF01 day, else NEVER
    gap_to: np.ndarray  # RR01 day, else NEVER
    lapse: np.ndarray  # CF01 day (restored or not), NEVER if none


def _u(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return years(rng.uniform(lo, hi, n))


def make_patents(
    firms: Firms,
    lo: int,
    hi: int,
    as_of: int,
    rng: np.random.Generator,
    serial_base: int,
    serial_span: int,
):
    """Patents and events of firms ``lo..hi-1``.

    Returns
    -------
    patents : pa.Table
    events : dict of column arrays (unsorted; ``_idx`` is the patent row)
    facts : PatentFacts
    """
    counts = firms.n_patents[lo:hi]
    local, _ = segment_index(counts)
    firm = local + lo
    n = len(firm)
    q = firms.quality[firm]
    h = firms.health[firm]

    est = firms.established[firm]
    start = np.maximum(est, as_of - years(20.0))
    stop = np.minimum(np.minimum(firms.closed[firm], firms.distress[firm] + 365), as_of)
    stop = np.maximum(stop, start + 1)
    app = start + ((stop - start) * rng.random(n) ** 0.6).astype(np.int64)

    p_inv = np.clip(0.33 + 0.08 * q, 0.08, 0.75)
    r = rng.random(n)
    ptype = np.where(r < p_inv, INV, np.where(r < p_inv + 0.15, DES, UM))

    # Invention prosecution: publication 6-18 months, grant or refusal 2-4.5 years.
    pub = app + _u(rng, n, 0.5, 1.5)
    se = pub + _u(rng, n, 0.0, 0.5)
    decide = app + _u(rng, n, 2.0, 4.5)
    p_grant = np.clip(0.58 + 0.1 * q, 0.3, 0.9)
    r = rng.random(n)
    outcome = np.where(r < p_grant, 0, np.where(r < p_grant + 0.6 * (1 - p_grant), 1, 2))
    decided = decide <= as_of
    um_grant = app + _u(rng, n, 0.45, 1.0)
    des_grant = app + _u(rng, n, 0.3, 0.7)
    grant = np.where(
        ptype == INV,
        np.where(decided & (outcome == 0), decide, NEVER),
        np.where(ptype == UM, um_grant, des_grant),
    )
    pub = np.where(ptype == INV, pub, grant)
    grant = np.where(grant <= as_of, grant, NEVER)
    public = np.where(ptype == INV, pub <= as_of, grant < NEVER)

    keep = public
    firm, ptype, app, pub, se, grant, q, h = (
        a[keep] for a in (firm, ptype, app, pub, se, grant, q, h)
    )
    outcome, decide, decided = outcome[keep], decide[keep], decided[keep]
    n = len(firm)
    granted = grant < NEVER

    term = np.where(
        ptype == INV,
        20.0,
        np.where((ptype == DES) & (app >= _DESIGN_15Y_FROM), 15.0, 10.0),
    )
    expiry = app + years(term)

    # Acquired patents (filed by a university or an outside firm, bought by this firm).
    acquired = granted & (rng.random(n) < 0.02)
    acq_day = np.maximum(grant, firms.established[firm]) + _u(rng, n, 0.2, 3.0)
    acquired &= acq_day <= as_of
    own_from = np.where(acquired, acq_day, grant)

    # Fee lapses: a base hazard by type, higher for unhealthy firms; a distress episode
    # lets ~60% of the portfolio lapse within 0.3-1.5 years.
    rate = np.array([0.035, 0.11, 0.13])[ptype] * np.exp(-0.45 * h)
    natural = own_from + years(rng.exponential(1.0, n) / rate)
    dist = firms.distress[firm]
    batch = np.where(
        (dist < NEVER) & (rng.random(n) < 0.6),
        np.maximum(dist, own_from) + _u(rng, n, 0.3, 1.5),
        NEVER,
    )
    lapse = np.minimum(natural, batch)
    invalid = np.where(
        granted & (ptype != DES) & (rng.random(n) < 0.004), own_from + _u(rng, n, 1, 6), NEVER
    )
    abandon = np.where(
        granted & (ptype == UM) & (rng.random(n) < 0.005), own_from + _u(rng, n, 0.5, 4), NEVER
    )
    tr_out = np.where(
        granted & ~acquired & (rng.random(n) < 0.02), own_from + _u(rng, n, 0.5, 6), NEVER
    )
    other_end = np.minimum.reduce([expiry, invalid, abandon, tr_out])
    lapse = np.where(granted & (lapse < other_end) & (lapse <= as_of), lapse, NEVER)
    restore = lapse + rng.integers(60, 330, n)
    restored = (lapse < NEVER) & (rng.random(n) < np.where(batch < NEVER, 0.05, 0.18))
    restored &= (restore < other_end) & (restore <= as_of)
    restore = np.where(restored, restore, NEVER)
    valid_to = np.where(restored, other_end, np.minimum(other_end, lapse))
    valid_from = np.where(granted, own_from, NEVER)
    terminal_listed = valid_to <= as_of

    def ev(code, mask, when, **parties):
        idx = np.flatnonzero(mask)
        taken = {k: v.take(pa.array(idx)) for k, v in parties.items()}
        return {"code": code, "idx": idx, "day": when[mask], **taken}

    in_force = valid_from < NEVER

    # Events while in force: licences, partial invalidation, preservation.
    lic = in_force & (ptype != DES) & (rng.random(n) < 0.015)
    lic_day = valid_from + _u(rng, n, 0.3, 5.0)
    lic &= (lic_day < valid_to) & (lic_day <= as_of)
    lic_end = lic_day + _u(rng, n, 1.0, 5.0)
    lic_ends = lic & (rng.random(n) < 0.35) & (lic_end < valid_to) & (lic_end <= as_of)
    partial = in_force & (ptype != DES) & (rng.random(n) < 0.003)
    part_day = valid_from + _u(rng, n, 1.0, 6.0)
    partial &= (part_day < valid_to) & (part_day <= as_of)
    pres = in_force & (dist < NEVER) & (rng.random(n) < 0.08)
    pres_day = np.maximum(dist, valid_from) + _u(rng, n, 0.2, 1.0)
    pres &= (pres_day < valid_to) & (pres_day <= as_of)
    pres_end = pres_day + _u(rng, n, 0.3, 1.5)
    pres_ends = pres & (rng.random(n) < 0.4) & (pres_end < valid_to) & (pres_end <= as_of)

    # Names: the applicant as registered on the filing day (former name before a rename).
    cur = firms.name.take(pa.array(firm))
    former = firms.former_name.take(pa.array(firm))
    renamed_later = firms.renamed[firm] > app
    at_filing = pc.if_else(pa.array(renamed_later), pc.coalesce(former, cur), cur)
    uscc = firms.uscc.take(pa.array(firm))
    uni_idx = rng.integers(0, len(V.UNIVERSITIES), n)
    co_owned = ~acquired & (rng.random(n) < np.where(ptype == INV, 0.08, 0.03))
    uni = pick(V.UNIVERSITIES, uni_idx, mask=~co_owned)
    uni_code = pick(UNIVERSITY_USCC, uni_idx, mask=~co_owned)
    outside = _outside_names(rng, n)
    applicants = pc.if_else(pa.array(acquired), outside, _with(at_filing, uni, co_owned))
    applicant_usccs = pc.if_else(
        pa.array(acquired), pa.nulls(n, pa.string()), _with(uscc, uni_code, co_owned)
    )
    buyer = _outside_names(rng, n)
    tr_listed = (tr_out < NEVER) & (tr_out <= as_of) & (tr_out == valid_to)
    owners = pc.if_else(
        pa.array(tr_listed), buyer, pc.if_else(pa.array(acquired), cur, _with(cur, uni, co_owned))
    )

    # Application numbers: serials unique per (year, type) inside this chunk's reserved range.
    year = app.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    type_digit = np.array([1, 2, 3])[ptype]
    grp = year * 4 + type_digit
    order = np.lexsort((rng.random(n), grp))
    rank = np.empty(n, dtype=np.int64)
    sg = grp[order]
    first = np.r_[True, sg[1:] != sg[:-1]]
    starts = np.flatnonzero(first)
    run = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    rank[order] = run
    biggest = int(run.max()) + 1 if n else 1
    stride = max(1, serial_span // biggest)
    serial = serial_base + rank * stride + rng.integers(0, stride, n)
    app_no = app_no_array(year, type_digit, serial)

    cl = firms.cluster[firm]
    focus = (firm * 7) % 8
    zipf = rng.choice(8, n, p=np.array([30, 20, 15, 10, 8, 7, 5, 5]) / 100)
    ipc_idx = (focus + zipf) % 8
    ipc_flat = [c for k in V.CLUSTERS for c in V.IPC[k]]
    is_des = ptype == DES
    main = pick(ipc_flat, cl * 8 + ipc_idx, mask=is_des)
    extra_n = rng.choice(4, n, p=[0.35, 0.35, 0.2, 0.1])
    # Every (main group, number of extra groups) combination is spelt out once, then picked.
    ipc_all = pick(_IPC_COMBOS, (cl * 8 + ipc_idx) * 4 + extra_n, mask=is_des)

    obj = rng.integers(0, 6, n)
    n_suf = len(V.INVENTION_SUFFIXES)
    suffix = np.where(
        ptype == INV,
        rng.integers(0, n_suf, n),
        np.where(
            ptype == UM,
            n_suf + rng.integers(0, len(V.UTILITY_SUFFIXES), n),
            n_suf + len(V.UTILITY_SUFFIXES) + rng.integers(0, 3, n),
        ),
    )
    title = pick(_TITLES, (cl * 6 + obj) * _N_SUFFIX + suffix)

    claims = np.where(
        ptype == INV, 1 + rng.poisson(np.exp(1.95 + 0.15 * q)), 1 + rng.poisson(5.0, n)
    )
    age = np.maximum(as_of - pub, 0) / 365.25
    cites = rng.poisson(np.where(ptype == INV, 0.18, 0.07) * age * np.exp(0.4 * q))
    foreign = (ptype == INV) & (rng.random(n) < 1 / (1 + np.exp(3.2 - 0.9 * q)))
    extra_off = np.where(foreign, 1 + rng.poisson(1.5, n), 0)
    family = 1 + extra_off
    country_lists = ("CN", "CN;US", "CN;US;EP", "CN;US;EP;JP", "CN;US;EP;JP;KR")
    countries = pick(country_lists, np.minimum(extra_off, 4))
    pct = foreign & (rng.random(n) < 0.7)
    award_pick = granted & (ptype == INV) & (rng.random(n) < 0.002 * np.exp(q))
    award = pick(
        ("河南省专利奖", "中国专利优秀奖", "河南省专利奖", "中国专利金奖"),
        rng.choice(4, n, p=[0.5, 0.3, 0.17, 0.03]),
        mask=~award_pick,
    )

    status = np.select(
        [
            ~granted & (ptype == INV) & decided & (outcome == 1),
            ~granted & (ptype == INV) & decided & (outcome == 2),
            ~granted,
            (valid_to <= as_of) & (valid_to == expiry),
            (valid_to <= as_of) & (valid_to == tr_out),
            valid_to <= as_of,
        ],
        ["驳回", "撤回", "审中", "届满", "有效", "失效"],
        "有效",
    )

    inventors = _inventors(rng, firm, n)

    patents = pa.table(
        {
            "app_no": app_no,
            "app_date": dates(app),
            "patent_type": pick(TYPE_NAMES, ptype),
            "title": title,
            "pub_date": dates(np.where(ptype == INV, pub, grant)),
            "grant_date": dates(grant),
            "ipc_main": main,
            "ipc_all": ipc_all,
            "claims": pa.array(claims, mask=is_des),
            "forward_citations": pa.array(cites),
            "family_size": pa.array(family),
            "family_countries": countries,
            "pct": pa.array(pct),
            "applicants": applicants,
            "applicant_usccs": applicant_usccs,
            "owners": owners,
            "inventors": inventors,
            "legal_status": pa.array(status),
            "award": award,
        }
    )

    name_at = _name_on(firms, firm)
    evs = [
        ev("PB01", ptype == INV, pub),
        ev("SE01", (ptype == INV) & (se <= as_of), se),
        ev("GR01", granted, grant),
        ev("RJ01", (ptype == INV) & ~granted & decided & (outcome == 1), decide),
        ev("WD01", (ptype == INV) & ~granted & decided & (outcome == 2), decide),
        ev("CF01", (lapse < NEVER), lapse),
        ev("RR01", restored, restore),
        ev("CX01", terminal_listed & (valid_to == expiry), expiry),
        ev("AV01", terminal_listed & (valid_to == abandon), abandon),
        ev("IW01", terminal_listed & (valid_to == invalid), invalid),
        ev("IP01", partial, part_day),
        ev("EE01", lic, lic_day, frm=name_at, to=outside),
        ev("EC01", lic_ends, lic_end, frm=name_at, to=outside),
        ev("PP01", pres, pres_day),
        ev("PD01", pres_ends, pres_end),
        ev("TR01", tr_listed, tr_out, frm=name_at, to=buyer),
        ev("TR01", acquired, acq_day, frm=outside, to=cur),
    ]
    facts = PatentFacts(
        firm=firm,
        ptype=ptype,
        app_no=app_no,
        valid_from=valid_from,
        valid_to=valid_to,
        gap_from=np.where(restored, lapse, NEVER),
        gap_to=restore,
        lapse=lapse,
    )
    return patents, evs, facts


def _with(first: pa.Array, second: pa.Array, mask: np.ndarray) -> pa.Array:
    """``first;second`` where ``mask``, else ``first`` (joins only the few rows that need it)."""
    idx = pa.array(np.flatnonzero(mask))
    if len(idx) == 0:
        return first
    joined = concat(first.take(idx), second.take(idx), sep=";")
    return pc.replace_with_mask(first, pa.array(mask), joined)


def _name_on(firms: Firms, firm: np.ndarray) -> pa.Array:
    """The firm's current registry name (transfers and licences are recorded under it)."""
    return firms.name.take(pa.array(firm))


def _outside_names(rng: np.random.Generator, n: int) -> pa.Array:
    """Counterparties outside Henan's registry (buyers, licensees, former applicants).

    Drawn from a pool of 4,096 names: only a few % of patents ever need one, so composing
    a fresh name per patent would be wasted work.
    """
    pool = _outside_pool(rng, 4096)
    return pool.take(pa.array(rng.integers(0, len(pool), n)))


def _outside_pool(rng: np.random.Generator, n: int) -> pa.Array:
    chars = list(V.TRADE_CHARS)
    words = [w for c in V.CLUSTERS for w in V.NAME_WORDS[c]]
    return concat(
        pick(V.OUTSIDE_CITIES, rng.integers(0, len(V.OUTSIDE_CITIES), n)),
        pick(chars, rng.integers(0, len(chars), n)),
        pick(chars, rng.integers(0, len(chars), n)),
        pick(words, rng.integers(0, len(words), n)),
        pa.scalar("有限公司"),
    )


def _inventors(rng: np.random.Generator, firm: np.ndarray, n: int) -> pa.Array:
    """1-5 inventors per patent from a per-firm pool (so core inventors recur)."""
    k = rng.choice(np.arange(1, 6), n, p=[0.2, 0.3, 0.25, 0.15, 0.1])
    owner, _ = segment_index(k)
    pool = 3 + (firm % 9)
    j = rng.integers(0, 1 << 30, len(owner)) % pool[owner]
    key = (firm[owner] * 131 + j * 17) % len(_PEOPLE)
    names = _PEOPLE.take(pa.array(key))
    # Drop a repeated name inside one patent (two draws of the same pool member).
    dup = np.zeros(len(owner), dtype=bool)
    for lag in range(1, 5):
        same = np.zeros(len(owner), dtype=bool)
        same[lag:] = (owner[lag:] == owner[:-lag]) & (j[lag:] == j[:-lag])
        dup |= same
    keep = ~dup
    return join_lists(owner[keep], names.filter(pa.array(keep)), n)
