"""Credit records, programme memberships and nominations for a range of firms.

Negative credit records cluster after a firm's distress onset (plus a background rate for
everyone); tax grades are yearly (published in April of the following year) and fall to
C/D after distress; programme certificates come in renewal chains whose odds rise with the
firm's hidden technical quality.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts.contracts import NEGATIVE_RECORD_TYPES, TAX_RATING
from screening.sample import _vocab as V
from screening.sample._arrow import NEVER, concat, dates, day, int_str, pick, segment_index, years
from screening.sample.firms import Firms

NEGATIVE_TYPES = NEGATIVE_RECORD_TYPES
TAX_GRADES = TAX_RATING
IP_STANDARD_2013_VOID_FROM = day("2026-01-01")
_VERSION_2023_FROM = day("2024-01-01")
# Listings whose removal date is not published in advance: NA while still listed.
_OPEN_ENDED = {"dishonest_debtor", "consumption_restriction", "abnormal_operation"}


def _sig(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def make_credit(
    firms: Firms,
    lo: int,
    hi: int,
    as_of: int,
    rng: np.random.Generator,
    defaults: tuple[np.ndarray, np.ndarray, np.random.Generator] | None = None,
):
    """Credit records (negative listings and yearly tax ratings) of firms ``lo..hi-1``.

    ``defaults`` = (firm, default day, own generator) of bad ledger loans: the bank goes to
    court and about half of those firms are listed as dishonest debtors (and restricted from
    high consumption) 3-12 months later. Its own generator leaves every other draw as it was.

    Returns the table and the facts the PD needs: ``neg`` (firm, start, end) and ``tax``
    (firm, day, grade index).
    """
    f = np.arange(lo, hi)
    n = len(f)
    est, dist, h = firms.established[f], firms.distress[f], firms.health[f]
    life = np.maximum(as_of - est, 1)
    parts = []  # (type, firm, start, end, severity)

    def add(rtype, mask, start, dur_years, severity=None):
        start = np.asarray(start)
        end = start + years(dur_years)
        m = mask & (start <= as_of) & (start >= est)
        parts.append((rtype, f[m], start[m], end[m], None if severity is None else severity[m]))

    d = dist < NEVER
    u = lambda a, b: rng.uniform(a, b, n)  # noqa: E731
    add("abnormal_operation", d & (rng.random(n) < 0.5), dist + years(u(0, 1)), u(0.2, 2.5))
    add("dishonest_debtor", d & (rng.random(n) < 0.35), dist + years(u(0.3, 1.5)), u(0.5, 2.0))
    add(
        "consumption_restriction", d & (rng.random(n) < 0.3), dist + years(u(0.3, 1.5)), u(0.5, 2.0)
    )
    add("serious_violation", d & (rng.random(n) < 0.06), dist + years(u(0.5, 2)), np.full(n, 3.0))
    add("major_tax_violation", d & (rng.random(n) < 0.05), dist + years(u(0.5, 2)), np.full(n, 3.0))
    sev = np.where(rng.random(n) < 0.5, 1, 0)
    add(
        "admin_penalty",
        d & (rng.random(n) < 0.2),
        dist + years(u(0, 2)),
        np.where(sev == 1, 3.0, 0.25),
        sev,
    )
    # Background listings for anyone, any time in the firm's life.
    anytime = est + (rng.random(n) * life).astype(np.int64)
    add("abnormal_operation", rng.random(n) < 0.03 * np.exp(-0.5 * h), anytime, u(0.1, 0.5))
    anytime2 = est + (rng.random(n) * life).astype(np.int64)
    sev2 = np.where(rng.random(n) < 0.1, 1, 0)
    add("admin_penalty", rng.random(n) < 0.08, anytime2, np.where(sev2 == 1, 3.0, 0.25), sev2)
    anytime3 = est + (rng.random(n) * life).astype(np.int64)
    add("dishonest_debtor", rng.random(n) < 0.01 * np.exp(-0.5 * h), anytime3, u(0.2, 1.0))

    if defaults is not None:
        df_, dd, drng = defaults
        m = len(df_)
        sued = drng.random(m) < 0.5
        listed = dd + drng.integers(90, 365, m)
        keep = sued & (listed <= as_of)
        dur = years(drng.uniform(0.5, 2.0, m))
        restricted = keep & (drng.random(m) < 0.6)
        for rtype, mask in (("dishonest_debtor", keep), ("consumption_restriction", restricted)):
            parts.append((rtype, df_[mask], listed[mask], (listed + dur)[mask], None))

    types = np.concatenate([np.full(len(p[1]), NEGATIVE_TYPES.index(p[0])) for p in parts])
    nf = np.concatenate([p[1] for p in parts])
    ns = np.concatenate([p[2] for p in parts])
    ne = np.concatenate([p[3] for p in parts])
    nsev = np.concatenate([p[4] if p[4] is not None else np.full(len(p[1]), -1) for p in parts])
    open_ended = np.isin(types, [NEGATIVE_TYPES.index(t) for t in _OPEN_ENDED])
    written_end = np.where(open_ended & (ne > as_of), NEVER, ne)

    # Tax ratings: one per year of life in the last 8 evaluation years.
    as_of_year = int(np.datetime64(as_of, "D").astype("datetime64[Y]").astype(int)) + 1970
    est_year = est.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    first_year = np.maximum(est_year, as_of_year - 9)
    n_years = np.maximum(as_of_year - first_year, 0)
    owner, pos = segment_index(n_years)
    y = first_year[owner] + pos
    pub = np.array([day(f"{yy + 1}-04-01") for yy in range(1990, as_of_year + 2)])
    pub_day = pub[y + 1 - 1991] + rng.integers(0, 30, len(y))
    dist_y = np.where(
        dist < NEVER,
        dist.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970,
        99_999,
    )
    in_distress = y >= dist_y[owner]
    score = 84 + 9 * h[owner] + rng.normal(0, 6, len(y)) - 38 * in_distress
    grade = np.select([score >= 90, score >= 70, score >= 40], [0, 1, 3], 4)
    grade = np.where(pos == 0, 2, grade)  # first year: M (new, no revenue to rate)
    keep = pub_day <= as_of
    tf, tday, tgrade, ty = f[owner][keep], pub_day[keep], grade[keep], y[keep]

    kinds = np.concatenate([types, np.full(len(tf), len(NEGATIVE_TYPES))])
    firm_all = np.concatenate([nf, tf])
    start_all = np.concatenate([ns, tday])
    end_all = np.concatenate([written_end, np.full(len(tf), NEVER)])
    sev_all = np.concatenate([nsev, np.full(len(tf), -1)])
    val_all = np.concatenate([np.full(len(nf), -1), tgrade])
    order = np.lexsort((kinds, start_all, firm_all))
    kinds, firm_all, start_all, end_all, sev_all, val_all = (
        a[order] for a in (kinds, firm_all, start_all, end_all, sev_all, val_all)
    )
    m = len(kinds)
    type_names = NEGATIVE_TYPES + ("tax_rating",)
    year_s = pa.array(
        start_all.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    ).cast(pa.string())
    serial = int_str(rng.integers(1, 9999, m), 4)
    court = concat(pa.scalar("（"), year_s, pa.scalar("）豫0105执"), serial, pa.scalar("号"))
    penalty = concat(pa.scalar("豫市监罚〔"), year_s, pa.scalar("〕"), serial, pa.scalar("号"))
    rid = pc.if_else(
        pa.array(kinds <= 1),
        court,
        pc.if_else(pa.array(kinds == 5), penalty, pa.nulls(m, pa.string())),
    )
    sources = [V.CREDIT_SOURCES[t] for t in type_names]
    table = pa.table(
        {
            "uscc": firms.uscc.take(pa.array(firm_all)),
            "name": firms.name.take(pa.array(firm_all)),
            "record_type": pick(type_names, kinds),
            "start_date": dates(start_all),
            "end_date": dates(end_all),
            "severity": pick(("general", "serious"), np.maximum(sev_all, 0), mask=sev_all < 0),
            "value": pick(TAX_GRADES, np.maximum(val_all, 0), mask=val_all < 0),
            "record_id": rid,
            "source": pick(sources, kinds),
        }
    )
    # Serious listings for the PD: every negative type except general admin penalties.
    counts = (types != NEGATIVE_TYPES.index("admin_penalty")) | (nsev == 1)
    neg = (nf[counts], ns[counts], ne[counts])
    return table, neg, (tf, tday, tgrade, ty)


# programme: (intercept, quality slope, patents slope, period years, renew prob, level);
# level: index into LEVELS, -1 drawn per certificate, -2 none (a certification).
_PROG = {
    "little_giant": (-5.2, 1.5, 0.35, 3, 0.7, 0),
    "srdi_sme": (-2.4, 0.9, 0.3, 3, 0.6, 1),
    "innovative_sme": (-1.8, 0.8, 0.2, 3, 0.5, 1),
    "high_tech": (-1.6, 1.0, 0.35, 3, 0.7, 0),
    "tech_sme": (-0.6, 0.8, 0.2, 1, 0.85, 1),
    "ip_advantage": (-3.4, 1.0, 0.35, 3, 0.6, -1),
    "ip_demonstration": (-5.0, 1.2, 0.4, 3, 0.6, 0),
    "ip_standard": (-2.4, 0.7, 0.25, 3, 0.6, -2),
}
_CERT_PREFIX = {
    "little_giant": "XJR",
    "srdi_sme": "ZJTX",
    "innovative_sme": "CXX",
    "high_tech": "GR",
    "tech_sme": "KJX",
    "ip_advantage": "IPA",
    "ip_demonstration": "IPD",
    "ip_standard": "165IP",
}
LEVELS = ("national", "provincial", "city")
PROG_STATUS = ("valid", "suspended", "revoked")
STRONG_PROGRAMMES = (
    "little_giant",
    "srdi_sme",
    "high_tech",
    "ip_advantage",
    "ip_demonstration",
    "ip_standard",
)


def make_programmes(firms: Firms, lo: int, hi: int, as_of: int, rng: np.random.Generator):
    """Programme certificates of firms ``lo..hi-1``.

    Returns the table and, for the PD, (firm, active_from, active_to) of valid
    certificates of the programmes in ``STRONG_PROGRAMMES``.
    """
    f = np.arange(lo, hi)
    n = len(f)
    q, est = firms.quality[f], firms.established[f]
    lp = np.log1p(firms.n_patents[f])
    end_life = np.minimum(firms.closed[f], as_of)
    rows = []
    for code, (a, bq, bp, period, renew, level) in _PROG.items():
        member = rng.random(n) < _sig(a + bq * q + bp * lp)
        first = est + years(rng.uniform(1.0, 6.0, n))
        first = np.maximum(first, as_of - years(rng.uniform(0, 10, n)))
        member &= first <= end_life
        k = np.where(member, 1 + rng.geometric(1 - renew, n) - 1, 0)
        k = np.minimum(k, 12)
        owner, pos = segment_index(k)
        vf = first[owner] + years(pos * period) + rng.integers(-20, 20, len(owner))
        if period == 1:
            # Annual register: valid to 31 Dec of the following year.
            yr = vf.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
            vt = np.array([day(f"{y + 2}-01-01") for y in range(1960, 2101)])[yr - 1960] - 1
        else:
            vt = vf + years(period) - 1
        keep = vf <= end_life[owner]
        owner, vf, vt = owner[keep], vf[keep], vt[keep]
        m = len(owner)
        if level >= 0:
            lvl = np.full(m, level)
        elif level == -1:  # recognised at national, provincial or city level
            lvl = rng.choice(3, m, p=[0.3, 0.45, 0.25])
        else:  # a certification (贯标) has no government level
            lvl = np.full(m, -1)
        status = rng.choice(3, m, p=[0.96, 0.02, 0.02])
        version = np.where(vf < _VERSION_2023_FROM, 2013, 2023) if code == "ip_standard" else None
        rows.append((code, f[owner], vf, vt, lvl, status, version))

    code_idx = np.concatenate([np.full(len(r[1]), V.PROGRAMMES.index(r[0])) for r in rows])
    pf = np.concatenate([r[1] for r in rows])
    vf = np.concatenate([r[2] for r in rows])
    vt = np.concatenate([r[3] for r in rows])
    lvl = np.concatenate([r[4] for r in rows])
    st = np.concatenate([r[5] for r in rows])
    ver = np.concatenate([r[6] if r[6] is not None else np.zeros(len(r[1]), int) for r in rows])
    order = np.lexsort((vf, code_idx, pf))
    code_idx, pf, vf, vt, lvl, st, ver = (a[order] for a in (code_idx, pf, vf, vt, lvl, st, ver))
    m = len(pf)
    year_s = pa.array(
        vf.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    ).cast(pa.string())
    cert = concat(
        pick([_CERT_PREFIX[c] for c in V.PROGRAMMES], code_idx),
        year_s,
        pa.scalar("41"),
        int_str(rng.integers(0, 999_999, m), 6),
    )
    table = pa.table(
        {
            "uscc": firms.uscc.take(pa.array(pf)),
            "name": firms.name.take(pa.array(pf)),
            "programme": pick(V.PROGRAMMES, code_idx),
            "level": pick(LEVELS, np.maximum(lvl, 0), mask=lvl < 0),
            "valid_from": dates(vf),
            "valid_to": dates(vt),
            "certificate_no": cert,
            "standard_version": pick(("2013", "2023"), (ver == 2023).astype(int), mask=ver == 0),
            "status": pick(PROG_STATUS, st),
        }
    )
    strong = np.isin(code_idx, [V.PROGRAMMES.index(c) for c in STRONG_PROGRAMMES]) & (st == 0)
    active_to = np.where(ver == 2013, np.minimum(vt + 1, IP_STANDARD_2013_VOID_FROM), vt + 1)
    return table, (pf[strong], vf[strong], active_to[strong])


def make_nominations(firms: Firms, lo: int, hi: int, as_of: int, rng: np.random.Generator):
    """Bottom-up nominations: a few % of firms, by their city bureau or park committee."""
    f = np.arange(lo, hi)
    n = len(f)
    active = firms.closed[f] > as_of
    nominated = active & (rng.random(n) < _sig(-3.8 + 0.6 * firms.quality[f]))
    g = f[nominated]
    m = len(g)
    park = firms.table["park"].take(pa.array(g))
    city = pick([r[1] for r in V.REGIONS], firms.city_idx[g])
    bureau = concat(city, pa.scalar("市市场监督管理局"))
    by_park = pc.and_(pc.is_valid(park), pa.array(rng.random(m) < 0.5))
    by = pc.if_else(by_park, concat(park, pa.scalar("管理委员会")), bureau)
    note = pick(
        ("园区重点培育企业", "首贷培育", "专精特新后备企业", "知识产权优势培育"),
        rng.integers(0, 4, m),
    )
    on = as_of - rng.integers(10, 300, m)
    return pa.table(
        {
            "uscc": firms.uscc.take(pa.array(g)),
            "name": firms.name.take(pa.array(g)),
            "nominated_by": by,
            "nominated_on": dates(on),
            "note": note,
        }
    )
