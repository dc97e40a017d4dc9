"""The enterprise registry and each firm's hidden traits.

Hidden traits (never written to the data folder):

- ``quality`` q ~ N(0, 1): technical strength; drives portfolio size, invention share,
  claims, citations, programme memberships, R&D intensity and the chance of borrowing.
- ``health`` h ~ N(0, 1): financial health; drives fee lapses, credit records, tax grades
  and the chance of a *distress episode* (a date after which fees lapse in batches,
  negative credit records appear and tax grades fall).
- ``effect`` u ~ N(0, sd): the firm-level random effect in the ground-truth PD, which no
  feature can see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from screening.sample import _vocab as V
from screening.sample._arrow import NEVER, concat, dates, pick, uscc_array, years

STATUS_ACTIVE, STATUS_REVOKED, STATUS_CANCELLED, STATUS_MOVED, STATUS_LIQUIDATING = range(5)
STATUS_NAMES = ("active", "revoked", "cancelled", "moved", "liquidating")
SIZE_NAMES = ("large", "medium", "small", "micro")
RANDOM_EFFECT_SD = 0.2


@dataclass
class Firms:
    """All firms of a run, as column arrays (index = firm number)."""

    n: int
    region: np.ndarray  # int GB/T 2260 code
    city_idx: np.ndarray
    cluster: np.ndarray  # index into V.CLUSTERS
    industry_idx: np.ndarray
    established: np.ndarray  # day
    quality: np.ndarray
    health: np.ndarray
    effect: np.ndarray
    distress: np.ndarray  # day of distress onset or NEVER
    closed: np.ndarray  # day the registry status left 'active', or NEVER
    status: np.ndarray  # index into STATUS_NAMES
    n_patents: np.ndarray
    renamed: np.ndarray  # day the current name was adopted (NEVER: never renamed)
    revenue: np.ndarray  # NaN when unknown
    rd_expense: np.ndarray
    uscc: pa.Array
    name: pa.Array
    former_name: pa.Array  # null when never renamed
    table: pa.Table  # the enterprises table, canonical columns


def _weights(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w / w.sum()


def _names(rng: np.random.Generator, cluster: np.ndarray) -> tuple:
    """Firm name parts: (trade name, industry word, its index, company form index)."""
    n = len(cluster)
    chars = V.TRADE_CHARS
    a = pick(list(chars), rng.integers(0, len(chars), n))
    b = pick(list(chars), rng.integers(0, len(chars), n))
    trade = concat(a, b)
    word_idx = rng.integers(0, 4, n)
    words = [w for c in V.CLUSTERS for w in V.NAME_WORDS[c]]
    word = pick(words, cluster * 4 + word_idx)
    form = rng.choice(3, n, p=V.COMPANY_FORM_WEIGHTS)
    return trade, word, word_idx, form


def make_firms(n: int, as_of: int, rng: np.random.Generator) -> Firms:
    """Draw ``n`` firms registered before ``as_of`` (a day number)."""
    reg_codes = np.array([int(r[0]) for r in V.REGIONS])
    cities = [r[1] for r in V.REGIONS]
    city_idx = rng.choice(len(V.REGIONS), n, p=_weights([r[2] for r in V.REGIONS]))
    region = reg_codes[city_idx]
    ind_idx = rng.choice(len(V.INDUSTRIES), n, p=_weights([i[1] for i in V.INDUSTRIES]))
    cluster_of_ind = np.array([V.CLUSTERS.index(i[2]) for i in V.INDUSTRIES])
    cluster = cluster_of_ind[ind_idx]

    quality = rng.standard_normal(n)
    health = 0.3 * quality + np.sqrt(1 - 0.09) * rng.standard_normal(n)
    effect = RANDOM_EFFECT_SD * rng.standard_normal(n)
    # Firm age: most tech SMEs are 3-15 years old; a few date back to the 1990s.
    age_years = np.clip(rng.lognormal(np.log(8.0), 0.6, n), 0.3, 35.0)
    established = as_of - years(age_years)

    # Distress episodes: rarer for healthy firms, within the last 8 years of the firm's life.
    p_distress = 1 / (1 + np.exp(2.3 + 1.3 * health))
    has_distress = rng.random(n) < p_distress
    window_start = np.maximum(established + 365, as_of - years(8.0))
    onset = window_start + (rng.random(n) * np.maximum(as_of - window_start, 1)).astype(np.int64)
    distress = np.where(has_distress & (window_start < as_of), onset, NEVER)
    # Some distressed firms leave the register 1-3 years later.
    close_day = distress + years(rng.uniform(1.0, 3.0, n))
    closes = (distress < NEVER) & (rng.random(n) < 0.4) & (close_day <= as_of)
    closed = np.where(closes, close_day, NEVER)
    status = np.where(closes, rng.choice([1, 2, 3, 4], n, p=[0.4, 0.35, 0.1, 0.15]), 0)

    # Portfolio size: lognormal on quality (median ~4, mean ~20, tail into thousands),
    # ~15% of firms holding nothing.
    log_n = 1.72 + 0.85 * quality + 1.55 * rng.standard_normal(n)
    n_pat = np.minimum(np.round(np.exp(log_n)), 20_000).astype(np.int64)
    n_pat[rng.random(n) < 0.06] = 0
    # Young firms cannot have filed that much.
    n_pat = np.minimum(n_pat, np.maximum(1, (as_of - established) // 3)).astype(np.int64)

    employees = np.maximum(
        3, np.round(np.exp(3.3 + 0.45 * quality + 0.25 * np.log1p(n_pat) + rng.normal(0, 0.8, n)))
    ).astype(np.int64)
    size = np.select([employees >= 1000, employees >= 300, employees >= 20], [0, 1, 2], 3)
    capital = np.round(np.exp(6.0 + 0.5 * np.log(employees) + rng.normal(0, 0.7, n)), 1)
    revenue = np.round(employees * np.exp(rng.normal(3.4, 0.5, n)), 1)
    rd_share = np.clip(np.exp(-3.2 + 0.45 * quality + rng.normal(0, 0.4, n)), 0.001, 0.6)
    rd = np.round(revenue * rd_share, 1)
    unknown_fin = rng.random(n) < 0.25
    revenue = np.where(unknown_fin, np.nan, revenue)
    rd = np.where(unknown_fin, np.nan, rd)

    city = pick(cities, city_idx)
    trade, word, word_idx, form = _names(rng, cluster)
    forms = pick(V.COMPANY_FORMS, form)
    name = concat(city, trade, word, forms)
    # ~10% renamed once: a different trade name or industry word, often the other form.
    renamed_mask = rng.random(n) < 0.10
    rename_day = established + (rng.random(n) * np.maximum(as_of - established, 1)).astype(np.int64)
    renamed = np.where(renamed_mask, rename_day, NEVER)
    chars = V.TRADE_CHARS
    old_trade = concat(
        pick(list(chars), rng.integers(0, len(chars), n)),
        pick(list(chars), rng.integers(0, len(chars), n)),
    )
    words = [w for c in V.CLUSTERS for w in V.NAME_WORDS[c]]
    old_word = pick(words, cluster * 4 + (word_idx + 1 + rng.integers(0, 3, n)) % 4)
    keep_trade = rng.random(n) < 0.5
    old_name = concat(
        city,
        pc.if_else(pa.array(keep_trade), trade, old_trade),
        pc.if_else(pa.array(keep_trade), old_word, word),
        pick(V.COMPANY_FORMS, np.where(form == 2, 0, rng.choice(2, n))),
    )
    name, trade = _dedupe(name, city, trade, word, forms, rng)
    former = pc.if_else(pa.array(renamed_mask), old_name, pa.nulls(n, pa.string()))
    former = pc.if_else(pc.equal(former, name), pa.nulls(n, pa.string()), former)
    renamed = np.where(pc.is_null(former).to_numpy(zero_copy_only=False), NEVER, renamed)

    org = _org_codes(n, rng)
    uscc = uscc_array(region, org)

    has_park = rng.random(n) < 0.45
    park_lists = [V.parks_of(c) for c in cities]
    park_pos = rng.integers(0, 4, n) % np.array([len(p) for p in park_lists])[city_idx]
    flat = [p for ps in park_lists for p in ps]
    starts = np.cumsum([0] + [len(p) for p in park_lists[:-1]])
    park = pick(flat, starts[city_idx] + park_pos, mask=~has_park)

    ind_codes = [i[0] for i in V.INDUSTRIES]
    table = pa.table(
        {
            "uscc": uscc,
            "name": name,
            "former_names": former,
            "status": pick(STATUS_NAMES, status),
            "established": dates(established),
            "region_code": pa.array(region.astype(str)),
            "industry_code": pick(ind_codes, ind_idx),
            "park": park,
            "size": pick(SIZE_NAMES, size),
            "employees": pa.array(employees),
            "registered_capital": pa.array(capital),
            "revenue": pa.array(revenue, from_pandas=True),
            "rd_expense": pa.array(rd, from_pandas=True),
        }
    )
    return Firms(
        n=n,
        region=region,
        city_idx=city_idx,
        cluster=cluster,
        industry_idx=ind_idx,
        established=established,
        quality=quality,
        health=health,
        effect=effect,
        distress=distress,
        closed=closed,
        status=status,
        n_patents=n_pat,
        renamed=renamed,
        revenue=revenue,
        rd_expense=rd,
        uscc=uscc,
        name=name,
        former_name=former,
        table=table,
    )


def _dedupe(name, city, trade, word, forms, rng: np.random.Generator):
    """Registries do not allow two firms with one name: lengthen the trade name (字号)."""
    for _ in range(10):
        codes = pc.dictionary_encode(name).indices.to_numpy()
        seen = np.zeros(len(codes), dtype=bool)
        _, first = np.unique(codes, return_index=True)
        seen[first] = True
        dup = pa.array(~seen)
        if seen.all():
            break
        extra = pick(list(V.TRADE_CHARS), rng.integers(0, len(V.TRADE_CHARS), len(codes)))
        trade = pc.if_else(dup, concat(trade, extra), trade)
        name = pc.if_else(dup, concat(city, trade, word, forms), name)
    return name, trade


def _org_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unique organisation-code symbols: new 'MA' codes (60%) or legacy 8-digit ones."""
    out = np.zeros((n, 8), dtype=np.int64)
    new = rng.random(n) < 0.6
    k_new, k_old = int(new.sum()), int((~new).sum())
    # Letters of the USCC alphabet: M = 21, A = 10.
    vals = rng.choice(31**6, k_new, replace=False)
    sym = np.zeros((k_new, 8), dtype=np.int64)
    sym[:, 0], sym[:, 1] = 21, 10
    for i in range(6):
        sym[:, 2 + i] = (vals // 31 ** (5 - i)) % 31
    out[new] = sym
    old = rng.choice(10**8 - 10**7, k_old, replace=False) + 10**7
    osym = np.zeros((k_old, 8), dtype=np.int64)
    for i in range(8):
        osym[:, i] = (old // 10 ** (7 - i)) % 10
    out[~new] = osym
    return out
