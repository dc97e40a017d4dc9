"""The banks' loan ledger (台账) with outcomes drawn from the ground-truth PD.

Firms with granted patents borrow with odds rising in quality, health and portfolio size.
Each borrower has a chain of loans in the last ~5 years (the next one 45-150 days after the
previous matures; a chain stops at a default). Every loan pledges 1-8 of the firm's patents
that are in force (PE01 registered 5-30 days before disbursement, PC01 after repayment),
so no patent is ever pledged twice at once. A loan is bad with probability ``true_pd`` at
its disbursement date; a bad loan shows 次级/可疑/损失 or dpd > 90 in one quarterly report
within 12 months of disbursement and worsens afterwards.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from screening.sample import _vocab as V
from screening.sample._arrow import (
    NEVER,
    concat,
    dates,
    day,
    int_str,
    join_lists,
    pick,
    segment_index,
    years,
)
from screening.sample.firms import Firms
from screening.sample.patents import DES, PatentFacts
from screening.sample.truth import StateIndex, true_pd

CLASSES = ("normal", "special_mention", "substandard", "doubtful", "loss")
_MAX_CHAIN = 6
_TRIES = 12
_QE = np.array(
    [day(f"{y}-{md}") for y in range(1985, 2101) for md in ("03-31", "06-30", "09-30", "12-31")]
)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def make_loans(
    firms: Firms,
    lo: int,
    hi: int,
    as_of: int,
    rng: np.random.Generator,
    facts: PatentFacts,
    index: StateIndex,
    id_base: int,
):
    """Loans of firms ``lo..hi-1`` with their pledge events and ground truth.

    Returns
    -------
    loans : pa.Table
        One row per (loan, report date).
    events : list of dict
        PE01/PC01 events (``idx`` = patent row in this chunk).
    truth_loans : dict
        ``firm, day, pd, loan_id`` per loan.
    pledged_now : ndarray
        Patents under an outstanding ledger pledge at the run date, per firm of the chunk.
    """
    f = np.arange(lo, hi)
    n = len(f)
    pledgeable = (facts.valid_from < NEVER) & (facts.ptype != DES)
    n_granted = np.bincount(facts.firm - lo, weights=pledgeable, minlength=n)
    p = _sig(1.4 + 0.6 * firms.quality[f] + 0.5 * firms.health[f] + 0.35 * np.log1p(n_granted))
    borrower = f[(n_granted > 0) & (rng.random(n) < p)]
    b = len(borrower)

    # Candidate chains: up to _MAX_CHAIN loans per borrower.
    term = rng.choice([1.0, 2.0, 3.0], (b, _MAX_CHAIN), p=[0.85, 0.1, 0.05])
    gap = rng.integers(45, 150, (b, _MAX_CHAIN))
    # A chain starts once the firm has something to pledge (60 days after its first grant).
    earliest = np.full(n, NEVER)
    np.minimum.at(earliest, facts.firm[pledgeable] - lo, facts.valid_from[pledgeable])
    first = np.maximum(as_of - years(5.5 - 5.0 * rng.random(b) ** 2), earliest[borrower - lo] + 60)
    disb = np.zeros((b, _MAX_CHAIN), dtype=np.int64)
    mat = np.zeros((b, _MAX_CHAIN), dtype=np.int64)
    cur = first.copy()
    for k in range(_MAX_CHAIN):  # a loop over chain position (6), not over firms
        disb[:, k] = cur
        mat[:, k] = cur + years(term[:, k])
        cur = mat[:, k] + gap[:, k]
    cont = np.cumprod(np.c_[np.ones(b, bool), rng.random((b, _MAX_CHAIN - 1)) < 0.92], axis=1) > 0
    est = firms.established[borrower][:, None]
    closed = firms.closed[borrower][:, None]
    keep = cont & (disb <= as_of - 1) & (disb >= est + 180) & (disb < closed - 60)
    lf = np.repeat(borrower, _MAX_CHAIN).reshape(b, _MAX_CHAIN)[keep]
    ld, lm, lterm = disb[keep], mat[keep], term[keep]
    lpos = np.tile(np.arange(_MAX_CHAIN), (b, 1))[keep]

    # Pledged patents: first eligible distinct draws among the firm's patents.
    start = np.searchsorted(facts.firm, lf, "left")
    cnt = np.searchsorted(facts.firm, lf, "right") - start
    off = np.sort(rng.integers(0, 1 << 30, (len(lf), _TRIES)) % np.maximum(cnt, 1)[:, None], axis=1)
    dup = np.c_[np.zeros(len(lf), bool), off[:, 1:] == off[:, :-1]]
    pidx = start[:, None] + off
    pidx = np.minimum(pidx, max(len(facts.firm) - 1, 0))
    dd, mm = ld[:, None], lm[:, None]
    ok = (
        (cnt[:, None] > 0)
        & ~dup
        & pledgeable[pidx]
        & (facts.valid_from[pidx] <= dd - 30)
        & (facts.valid_to[pidx] > dd + 30)
        & ~((facts.gap_from[pidx] <= mm + 30) & (facts.gap_to[pidx] > dd - 60))
    )
    want = 1 + np.minimum(rng.poisson(0.4 + 0.3 * np.log1p(cnt)), 7)
    chosen = ok & (np.cumsum(ok, axis=1) <= want[:, None])
    n_pledged = chosen.sum(axis=1)
    has = n_pledged > 0
    lf, ld, lm, lterm, lpos, chosen, pidx, n_pledged = (
        a[has] for a in (lf, ld, lm, lterm, lpos, chosen, pidx, n_pledged)
    )

    st = index.state(lf, ld)
    share = n_pledged / np.maximum(st.valid, 1)
    pd_ = true_pd(st, firms.effect[lf], share)
    bad = rng.random(len(lf)) < pd_

    # A chain stops at its first bad loan.
    order = np.lexsort((lpos, lf))
    lf, ld, lm, lterm, lpos, chosen, pidx, n_pledged, pd_, bad = (
        a[order] for a in (lf, ld, lm, lterm, lpos, chosen, pidx, n_pledged, pd_, bad)
    )
    new_firm = np.r_[True, lf[1:] != lf[:-1]][: len(lf)]
    seg = np.cumsum(new_firm) - 1
    cb = np.cumsum(bad)
    base = (cb - bad)[new_firm][seg]
    prior_bad = (cb - bad - base) > 0
    k = ~prior_bad
    lf, ld, lm, lterm, chosen, pidx, n_pledged, pd_, bad = (
        a[k] for a in (lf, ld, lm, lterm, chosen, pidx, n_pledged, pd_, bad)
    )
    new_firm = np.r_[True, lf[1:] != lf[:-1]][: len(lf)]
    L = len(lf)

    loan_no = id_base + np.arange(L)
    year_s = pa.array(
        ld.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    ).cast(pa.string())
    loan_id = concat(pa.scalar("IPL"), year_s, int_str(loan_no, 8))
    reg_no = concat(pa.scalar("Y"), year_s, pa.scalar("41"), int_str(loan_no, 8))
    bank_w = np.array([w for _, w in V.BANKS])
    home_bank = rng.choice(len(V.BANKS), hi - lo, p=bank_w / bank_w.sum())
    bank = np.where(
        rng.random(L) < 0.8,
        home_bank[lf - lo],
        rng.choice(len(V.BANKS), L, p=bank_w / bank_w.sum()),
    )
    amount = np.round(
        np.clip(np.exp(rng.normal(np.log(300) + 0.2 * np.log1p(n_pledged), 0.6)), 50, 5000), -1
    )
    first_loan = new_firm & (rng.random(L) < 0.6)

    # Pledged app_nos joined per loan; PE01/PC01 events.
    rows, cols = np.nonzero(chosen)
    pat = pidx[rows, cols]
    pledged_list = join_lists(rows, facts.app_no.take(pa.array(pat)), L)
    pe_day = ld[rows] - rng.integers(5, 30, len(rows))
    pc_day = lm[rows] + rng.integers(0, 10, len(rows))
    # No release once the patent itself has ended (the pledge ends with it).
    released = ~bad[rows] & (pc_day <= as_of) & (pc_day < facts.valid_to[pat])
    bank_names = pick([bk for bk, _ in V.BANKS], bank)
    firm_name = firms.name.take(pa.array(lf))
    events = [
        {
            "code": "PE01",
            "idx": pat,
            "day": pe_day,
            "frm": firm_name.take(pa.array(rows)),
            "to": bank_names.take(pa.array(rows)),
        },
        {
            "code": "PC01",
            "idx": pat[released],
            "day": pc_day[released],
            "frm": firm_name.take(pa.array(rows[released])),
            "to": bank_names.take(pa.array(rows[released])),
        },
    ]
    outstanding = (pc_day > as_of) & (facts.valid_to[pat] > as_of)
    pledged_now = np.bincount(lf[rows[outstanding]] - lo, minlength=hi - lo)

    # Quarterly reports.
    first_q = np.searchsorted(_QE, ld, "right")
    end_good = np.searchsorted(_QE, lm, "left")
    end_bad = np.searchsorted(_QE, lm + 365, "left")
    last_obs = np.searchsorted(_QE, as_of, "right") - 1
    last_q = np.minimum(np.where(bad, end_bad, end_good), last_obs)
    n_rep = np.maximum(last_q - first_q + 1, 0)
    at_as_of = n_rep == 0  # disbursed after the last quarter end: one report at the run date
    n_rep = np.where(at_as_of, 1, n_rep)
    owner, j = segment_index(n_rep)
    rday = np.where(at_as_of[owner], as_of, _QE[np.minimum(first_q[owner] + j, len(_QE) - 1)])
    m12 = np.searchsorted(_QE, ld + 365, "right") - first_q
    j_bad = (rng.random(L) * np.maximum(m12, 1)).astype(np.int64)
    dpd_flag = rng.random(L) < 0.15  # banks that keep 关注 although dpd > 90
    rel = j - j_bad[owner]
    isbad = bad[owner]
    r = len(owner)
    cls = np.zeros(r, dtype=np.int64)
    dpd = np.zeros(r, dtype=np.int64)
    cls = np.where(isbad & (rel == -1) & (rng.random(r) < 0.5), 1, cls)
    dpd = np.where(cls == 1, rng.integers(30, 90, r), dpd)
    cls = np.where(isbad & (rel == 0), np.where(dpd_flag[owner], 1, 2), cls)
    dpd = np.where(isbad & (rel == 0), rng.integers(91, 150, r), dpd)
    cls = np.where(isbad & (rel == 1), 3, cls)
    cls = np.where(isbad & (rel >= 2), 4, cls)
    dpd = np.where(isbad & (rel >= 1), 91 * (rel + 1) + rng.integers(0, 60, r), dpd)
    watch = ~isbad & (
        rng.random(r) < np.minimum(0.5, 0.02 + pd_[owner]) / np.maximum(n_rep[owner], 1)
    )
    cls = np.where(watch, 1, cls)
    dpd = np.where(watch, rng.integers(1, 60, r), dpd)
    amt = amount[owner]
    balance = np.where(isbad, np.round(amt * 0.9, 1), np.where(rday >= lm[owner], 0.0, amt))
    dpd = np.where(~isbad & (rday >= lm[owner]), 0, dpd)
    cls = np.where(~isbad & (rday >= lm[owner]), 0, cls)

    take = pa.array(owner)
    loans = pa.table(
        {
            "loan_id": loan_id.take(take),
            "uscc": firms.uscc.take(pa.array(lf[owner])),
            "bank": bank_names.take(take),
            "disbursed_on": dates(ld[owner]),
            "maturity": dates(lm[owner]),
            "amount": pa.array(amt),
            "report_date": dates(rday),
            "balance": pa.array(balance),
            "classification": pick(CLASSES, cls),
            "dpd": pa.array(dpd),
            "pledged_app_nos": pledged_list.take(take),
            "pledge_reg_no": reg_no.take(take),
            "first_loan": pa.array(first_loan[owner]),
        }
    )
    # The day the default became visible (the first bad report), for court listings.
    first_bad = isbad & (rel == 0)
    default_day = np.full(L, NEVER)
    default_day[owner[first_bad]] = rday[first_bad]
    truth = {
        "firm": lf,
        "day": ld,
        "pd": pd_,
        "loan_id": loan_id,
        "bad": bad,
        "term": lterm,
        "default_day": default_day,
    }
    return loans, events, truth, pledged_now, L


def firm_truth(
    firms: Firms, lo: int, hi: int, as_of: int, index: StateIndex, pledged_now: np.ndarray
):
    """PD of every firm of the chunk at the run date."""
    f = np.arange(lo, hi)
    st = index.state(f, np.full(len(f), as_of))
    return true_pd(st, firms.effect[f], pledged_now / np.maximum(st.valid, 1))
