"""The ground-truth PD: a documented logistic function of a firm's point-in-time state.

For a firm f at a date d (a loan's disbursement date, or the run date) the generator
computes, from exactly the facts it writes and only those dated on or before d:

====================  =====================================================================
x_inv                 valid inventions held at d (granted ≤ d, owned, not lapsed, expired,
                      invalidated, abandoned or transferred out by d)
x_um                  valid utility models held at d (same rule)
x_lapse               fee lapses (CF01 ≤ d, announced in the last 5 years, not restored by
                      d) ÷ (valid patents of all types at d + those lapses)
x_neg                 active negative credit records at d: start ≤ d < end (open end =
                      still listed); dishonest_debtor, consumption_restriction,
                      serious_violation, abnormal_operation, major_tax_violation and
                      admin_penalty of severity serious
x_tax                 the latest tax grade published (start_date) on or before d
x_prog                certificates active at d (valid_from ≤ d ≤ valid_to, status valid;
                      a 2013-version ip_standard certificate stops on 2026-01-01) of
                      little_giant, srdi_sme, high_tech, ip_advantage, ip_demonstration,
                      ip_standard
x_age                 years since ``established``
x_rdi                 rd_expense ÷ revenue of the registry (0.04 when unknown), capped at 0.3
x_pledged             patents pledged at d under the loan's own pledge (PE01 registered
                      before disbursement) ÷ valid patents at d (0 at the run date unless
                      a ledger loan is outstanding)
u                     a firm-level random effect ~ N(0, 0.2²) that no feature can see
====================  =====================================================================

    logit(PD) = −1.9
                − 0.6·ln(1 + x_inv) − 0.15·ln(1 + x_um)
                + 3.0·x_lapse + 1.1·min(x_neg, 3) + TAX[x_tax]
                − 0.35·min(x_prog, 3) − 0.35·ln(1 + x_age)
                − 6·x_rdi + 0.6·x_pledged + u

with TAX = {A: −0.6, B: 0, M: +0.3, C: +1.2, D: +2.0, none yet: +0.3} and u ~ N(0, 0.2²).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.sample._arrow import NEVER, years
from screening.sample._pit import LatestValue, StepCounter

INTERCEPT = -1.9
COEF = {
    "ln_inv": -0.6,
    "ln_um": -0.15,
    "lapse": 3.0,
    "neg": 1.1,
    "prog": -0.35,
    "ln_age": -0.35,
    "rdi": -6.0,
    "pledged": 0.6,
}
# Tax grade index (A, B, M, C, D, none) → logit effect.
TAX_EFFECT = np.array([-0.6, 0.0, 0.3, 1.2, 2.0, 0.3])


@dataclass
class State:
    """Point-in-time state of query firms (one entry per query)."""

    inv: np.ndarray
    um: np.ndarray
    valid: np.ndarray
    lapse_share: np.ndarray
    neg: np.ndarray
    tax: np.ndarray
    prog: np.ndarray
    age: np.ndarray
    rdi: np.ndarray


class StateIndex:
    """Indexes a chunk's facts once; ``state(firm, day)`` answers many queries at once."""

    def __init__(self, firms, patents, neg, tax, progs) -> None:
        self._firms = firms
        pf = patents.firm
        vf, vt, gf, gt = patents.valid_from, patents.valid_to, patents.gap_from, patents.gap_to
        has = vf < NEVER
        steps = []
        for kind in (0, 1, 2):
            m = has & (patents.ptype == kind)
            steps.append(self._interval_steps(pf[m], vf[m], vt[m], gf[m], gt[m]))
        self._inv = StepCounter(*steps[0])
        self._um = StepCounter(*steps[1])
        all_f = np.concatenate([s[0] for s in steps])
        all_d = np.concatenate([s[1] for s in steps])
        all_v = np.concatenate([s[2] for s in steps])
        self._valid = StepCounter(all_f, all_d, all_v)
        # A fee lapse counts from its CF01 day until restored or 5 years later.
        lp = patents.lapse < NEVER
        lf, ld = pf[lp], patents.lapse[lp]
        lend = np.minimum(ld + years(5.0), gt[lp])
        self._lapse = StepCounter(
            np.concatenate([lf, lf]),
            np.concatenate([ld, lend]),
            np.r_[np.ones(len(lf)), -np.ones(len(lf))],
        )
        nf, ns, ne = neg
        self._neg = StepCounter(
            np.concatenate([nf, nf]),
            np.concatenate([ns, ne]),
            np.r_[np.ones(len(nf)), -np.ones(len(nf))],
        )
        tf, tday, tgrade, _ = tax
        self._tax = LatestValue(tf, tday, tgrade)
        gf_, gs, ge = progs
        self._prog = StepCounter(
            np.concatenate([gf_, gf_]),
            np.concatenate([gs, ge]),
            np.r_[np.ones(len(gf_)), -np.ones(len(gf_))],
        )

    @staticmethod
    def _interval_steps(f, vf, vt, gf, gt):
        """+1 at the start of validity, −1 at its end, and a −1/+1 pair around a restored lapse."""
        ends = vt < NEVER
        gap = gf < NEVER
        firm = np.concatenate([f, f[ends], f[gap], f[gap]])
        day = np.concatenate([vf, vt[ends], gf[gap], gt[gap]])
        delta = np.concatenate(
            [
                np.ones(len(f)),
                -np.ones(int(ends.sum())),
                -np.ones(int(gap.sum())),
                np.ones(int(gap.sum())),
            ]
        )
        return firm, day, delta

    def state(self, firm: np.ndarray, day: np.ndarray) -> State:
        f = self._firms
        inv = self._inv.at(firm, day)
        um = self._um.at(firm, day)
        valid = self._valid.at(firm, day)
        lapsed = self._lapse.at(firm, day)
        rev, rd = f.revenue[firm], f.rd_expense[firm]
        with np.errstate(invalid="ignore", divide="ignore"):
            rdi = np.where(np.isfinite(rd) & (rev > 0), rd / rev, 0.04)
        return State(
            inv=inv,
            um=um,
            valid=valid,
            lapse_share=np.where(valid + lapsed > 0, lapsed / np.maximum(valid + lapsed, 1), 0.0),
            neg=self._neg.at(firm, day),
            tax=self._tax.at(firm, day, 5).astype(np.int64),
            prog=self._prog.at(firm, day),
            age=np.maximum(day - f.established[firm], 0) / 365.25,
            rdi=np.clip(rdi, 0.0, 0.3),
        )


def true_pd(s: State, effect: np.ndarray, pledged: np.ndarray) -> np.ndarray:
    """The ground-truth probability of default of the formula in the module docstring."""
    logit = (
        INTERCEPT
        + COEF["ln_inv"] * np.log1p(s.inv)
        + COEF["ln_um"] * np.log1p(s.um)
        + COEF["lapse"] * s.lapse_share
        + COEF["neg"] * np.minimum(s.neg, 3)
        + TAX_EFFECT[s.tax]
        + COEF["prog"] * np.minimum(s.prog, 3)
        + COEF["ln_age"] * np.log1p(s.age)
        + COEF["rdi"] * s.rdi
        + COEF["pledged"] * np.clip(pledged, 0, 1)
        + effect
    )
    return 1 / (1 + np.exp(-logit))
