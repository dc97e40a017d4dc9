"""Labels from the banks' loan ledger and the point-in-time training set.

A loan is **bad** if any report dated within ``horizon_months`` of its disbursement
classifies it substandard/doubtful/loss (次级/可疑/损失) or shows ``dpd > bad_dpd``
(input_format.md). Only reports dated on or before ``as_of`` count: a label is a fact
known at ``as_of`` like any other. A loan without a bad report is **good** once its
horizon has fully elapsed by ``as_of`` *and* the ledger saw it through: a report dated on or
after the end of its horizon or its maturity (whichever is first), or a last report with a
zero balance (repaid). A loan whose horizon has elapsed but whose reports stop before that
is **unobserved** (its bank stopped reporting, or reports later than the others): never
labelled good, because nobody knows. It is **unlabelled** (too young) before its horizon
ends.

Ledger rows the reader rejected are not ignored: a rejected report that still plainly shows
default makes the loan bad, and one that cannot be read, or that would have seen the loan
further than its accepted reports, keeps it from being labelled good (see
:func:`label_loans`).

Every loan ends in exactly one ``status``: ``bad``, ``good``, ``unlabelled``,
``unobserved``, ``not_disbursed`` (disbursed after ``as_of``), ``unknown_firm`` (its USCC is
not among the accepted enterprises, so it has no features; reported, never silently
dropped) or ``rejected`` (every report of the loan was rejected by the reader).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.errors import DataError
from screening.retrain._rejected_loans import (
    REJECTED_LOAN_COLUMNS,
    empty_rejected,
    rejected_loan_rows,
)
from screening.retrain.config import LabelConfig

NPL_CLASSES = ("substandard", "doubtful", "loss")
STATUSES = (
    "bad",
    "good",
    "unlabelled",
    "unobserved",
    "not_disbursed",
    "unknown_firm",
    "rejected",
)
_LOAN_ATTRS = ["uscc", "bank", "disbursed_on", "maturity", "amount"]
_REQUIRED = ["loan_id", *_LOAN_ATTRS, "report_date", "classification"]


def qualify_loan_ids(
    loans: pd.DataFrame, rejected: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    """``loans`` and ``rejected`` with every loan id that several banks use for different
    loans renamed ``ID@bank``, and those ids (sorted).

    A 借据号 is unique within its bank only. Keyed by the id alone, two banks' loans of one
    id were one loan: attributes from the earliest report, outcomes from both (a repaid
    loan labelled bad by another bank's 损失 report, the other loan gone from the counts).
    An id written with two spellings of one bank (郑州银行, 郑州银行股份有限公司) for one loan
    (same firm, disbursement date and amount) stays one loan (its reports disagree on the
    bank: the label report names it); two banks' loans of one firm are two loans.

    A rejected row of a shared id whose bank cell is empty belongs to the bank whose loan
    of that id is its firm's; when its firm does not say which, it is a report of each
    candidate loan with no date: it keeps all of them from being labelled good and makes
    none bad (nobody can tell which loan it is about).
    """
    frames = [f for f in (loans, rejected) if f is not None and len(f) and "bank" in f]
    if not frames:
        return loans, rejected, []
    cols = ["loan_id", "bank", "uscc", "disbursed_on", "amount"]
    rows = pd.concat([f[[c for c in cols if c in f]] for f in frames], ignore_index=True)
    rows = rows.astype({"loan_id": "str", "bank": "str", "uscc": "str"})
    rows = rows.dropna(subset=["loan_id", "bank"])
    # each bank's loan of an id, as its first row reads it: two spellings of one bank for
    # one loan agree on the firm, the disbursement date and the amount; two banks' loans
    # (even to one firm) do not
    firsts = rows.drop_duplicates(["loan_id", "bank"])
    what = [c for c in ("uscc", "disbursed_on", "amount") if c in firsts]
    banks = firsts.groupby("loan_id").size()
    loans_of = firsts.drop_duplicates(["loan_id", *what]).groupby("loan_id").size()
    shared = sorted(banks.index[(banks > 1) & (loans_of.reindex(banks.index) > 1)].tolist())
    if not shared:
        return loans, rejected, []
    # (id, firm) -> the bank whose loan it is, when one bank alone lends that id to it
    known = rows.loc[rows["loan_id"].isin(shared), ["loan_id", "bank", "uscc"]]
    known = known.dropna(subset=["uscc"]).drop_duplicates()
    owner = known.groupby(["loan_id", "uscc"])["bank"].agg(
        lambda b: b.iloc[0] if len(b) == 1 else None
    )
    banks_of = known.groupby("loan_id")["bank"].agg(lambda b: sorted(set(b)))

    def qualify(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or not len(frame) or "bank" not in frame:
            return frame
        ids = frame["loan_id"].astype("str")
        mine = ids.isin(shared).to_numpy(dtype=bool)
        if not mine.any():
            return frame
        out = frame.copy()
        bank = out["bank"].astype("str")
        blank = mine & bank.isna().to_numpy(dtype=bool)
        if blank.any():  # its firm's loan of that id, where one bank alone lends it
            keys = list(zip(ids[blank], out.loc[blank, "uscc"].astype("str"), strict=True))
            bank.loc[blank] = [owner.get(k) for k in keys]
        unknown = mine & bank.isna().to_numpy(dtype=bool)
        out["loan_id"] = ids.where(~mine | unknown, ids + "@" + bank)
        out["bank"] = out["bank"].astype("str").where(~(mine & ~unknown), bank)
        if not unknown.any():
            return out
        # a report of each candidate loan, undated
        each = out.loc[unknown].assign(bank=ids[unknown].map(banks_of)).explode("bank")
        each["loan_id"] = each["loan_id"].astype("str") + "@" + each["bank"].astype("str")
        each["report_date"] = pd.NaT
        if "date_unreadable" in each:
            each["date_unreadable"] = True
        return pd.concat([out.loc[~unknown], each], ignore_index=True)

    return qualify(loans), qualify(rejected), shared


def ledger_tables(bundle: Any) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The bundle's accepted ledger reports and its rejected ledger rows read again, loan ids
    told apart by bank where banks share one (:func:`qualify_loan_ids`)."""
    loans, rejected, shared = qualify_loan_ids(bundle.tables["loans"], rejected_loan_rows(bundle))
    return loans, rejected if rejected is not None else empty_rejected(), shared


def _check_loans(loans: pd.DataFrame) -> None:
    missing = [c for c in _REQUIRED if c not in loans.columns]
    if missing:
        raise DataError(
            f"loans table lacks column(s) {', '.join(missing)}",
            "the ledger needs loan_id, uscc, bank, disbursed_on, maturity, amount, "
            "report_date and classification (input_format.md, loans)",
        )


def _rejected_frame(rejected: pd.DataFrame | None) -> pd.DataFrame:
    """The rejected rows that name a loan, with the columns the labels read."""
    if rejected is None or rejected.empty:
        return empty_rejected()
    missing = [c for c in ("loan_id", "report_date", "classification", "dpd") if c not in rejected]
    if missing:
        raise DataError(
            f"rejected ledger rows lack column(s) {', '.join(missing)}",
            "pass the frame of screening.retrain._rejected_loans.rejected_loan_rows",
        )
    rej = rejected.loc[rejected["loan_id"].notna()].copy()
    for c in REJECTED_LOAN_COLUMNS:
        if c not in rej:
            rej[c] = False if c in ("dpd_unreadable", "date_unreadable") else pd.NA
    # a report date the reader rejected (after today, before the disbursement) is not the
    # report's date: the report is undated, so it keeps the loan from being labelled good
    # and dates no default (a 损失 "of 2018" on a loan of 2023 was read as before the
    # horizon and ignored, and the loan trained on as good)
    wrong = rej["date_unreadable"].fillna(False).astype(bool).to_numpy()
    rej["report_date"] = pd.to_datetime(rej["report_date"]).mask(wrong)
    rej["dpd_unreadable"] = rej["dpd_unreadable"].fillna(False).astype(bool)
    rej["rule"] = rej["rule"].astype("str")
    return rej


def label_loans(
    loans: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str,
    known_usccs: pd.Series | None = None,
    config: LabelConfig | None = None,
    rejected: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per loan with its label as known at ``as_of``.

    Parameters
    ----------
    loans : DataFrame
        The canonical ``loans`` table (one row per loan and reporting date).
    as_of : Timestamp or str
        Date of knowledge: later reports and later disbursements are ignored.
    known_usccs : Series, optional
        USCCs of accepted enterprises; loans of other firms get status ``unknown_firm``.
        ``None`` accepts every firm.
    config : LabelConfig, optional
        Horizon and dpd threshold (default 12 months, 90 days).
    rejected : DataFrame, optional
        The ledger rows the reader rejected, re-read
        (:func:`screening.retrain._rejected_loans.rejected_loan_rows`: ``loan_id,
        report_date, classification, dpd, dpd_unreadable, rule`` and the loan attributes).
        A label never ignores them: a rejected report that still plainly shows default
        (次级/可疑/损失 or ``dpd > bad_dpd``) within the horizon makes the loan bad; one
        that cannot be read (its date, 五级分类 or ``dpd`` failed) within the horizon keeps
        it from being labelled good (``unobserved``, ``unobserved_reason = "rejected"``);
        a loan the accepted reports do not see through whose later report was rejected is
        ``unobserved`` with that reason too (not "missing"). Rejected rows never make a
        loan good. A loan whose every report was rejected gets status ``rejected``.

    Returns
    -------
    DataFrame
        ``loan_id, uscc, bank, disbursed_on, maturity, amount, first_loan, horizon_end,
        first_bad_on, observed_to, outcome (bad/good/unlabelled/unobserved/None), status,
        horizon_complete, unobserved_reason (missing/rejected/None), rejected_reports,
        rejected_rules, bad_from_rejected``, sorted by ``disbursed_on, loan_id``.
        ``status`` is one of :data:`STATUSES`.

    Notes
    -----
    A report dated after the horizon whose ``dpd`` shows that the loan was already more
    than ``bad_dpd`` days overdue inside the horizon (``report_date - (dpd - bad_dpd - 1)``
    days, the first day past ``bad_dpd``, on or before the horizon's end) makes the loan bad
    from that day.
    """
    config = config or LabelConfig()
    _check_loans(loans)
    as_of = pd.Timestamp(as_of)
    rej = _rejected_frame(rejected)
    cols = ["loan_id", *_LOAN_ATTRS, "report_date", "classification"]
    cols += [c for c in ("dpd", "first_loan", "balance") if c in loans.columns]
    rep = loans[cols].sort_values(["loan_id", "report_date"], kind="stable")
    # Loan attributes come from the earliest report; later rows only add outcomes. A loan
    # whose reports disagree on them is flagged (the label report names such loans).
    first = rep.drop_duplicates("loan_id", keep="first").set_index("loan_id")
    out = first[_LOAN_ATTRS].copy()
    varies = rep.groupby("loan_id", sort=False)[_LOAN_ATTRS].nunique(dropna=False) > 1
    out["attributes_vary"] = varies.any(axis=1).reindex(out.index).fillna(False).astype(bool)
    out["first_loan"] = (
        first["first_loan"] if "first_loan" in first else pd.Series(pd.NA, index=first.index)
    ).astype("boolean")
    # loans whose every report was rejected: counted (attributes as the earliest rejected
    # report reads), never trained on
    only = sorted(set(rej["loan_id"].astype("str")) - set(out.index.astype("str")))
    if only:
        rj = rej.loc[rej["loan_id"].isin(only)].sort_values(
            ["loan_id", "report_date"], kind="stable", na_position="last"
        )
        extra = rj.drop_duplicates("loan_id").set_index("loan_id")[_LOAN_ATTRS].copy()
        extra["attributes_vary"] = False
        extra["first_loan"] = pd.array([pd.NA] * len(extra), dtype="boolean")
        for c in ("disbursed_on", "maturity"):
            extra[c] = pd.to_datetime(extra[c])
        extra["amount"] = extra["amount"].astype("float64")
        out = pd.concat([out, extra.astype({"uscc": "str", "bank": "str"})])
        out.index.name = "loan_id"
    all_rejected = pd.Series(out.index.isin(only), index=out.index)
    out["horizon_end"] = out["disbursed_on"] + pd.DateOffset(months=config.horizon_months)
    start_of, end_of = out["disbursed_on"], out["horizon_end"]

    # evidence of default: accepted reports, and rejected ones whose date is readable
    known = rep[rep["report_date"] <= as_of]
    rej_known = rej.loc[rej["report_date"].notna() & (rej["report_date"] <= as_of)]
    ev = pd.concat(
        [
            pd.DataFrame(
                {
                    "loan_id": known["loan_id"].to_numpy(),
                    "report_date": known["report_date"].to_numpy(),
                    "classification": known["classification"].to_numpy(),
                    "dpd": (
                        known["dpd"].astype("Float64").fillna(0).to_numpy()
                        if "dpd" in known
                        else 0.0
                    ),
                    "rejected": False,
                }
            ),
            pd.DataFrame(
                {
                    "loan_id": rej_known["loan_id"].astype("str").to_numpy(),
                    "report_date": rej_known["report_date"].to_numpy(),
                    "classification": rej_known["classification"].to_numpy(),
                    # an unreadable dpd shows nothing (the 五级分类 may still show default)
                    "dpd": rej_known["dpd"]
                    .astype("Float64")
                    .mask(rej_known["dpd_unreadable"].to_numpy())
                    .fillna(0)
                    .to_numpy(),
                    "rejected": True,
                }
            ),
        ],
        ignore_index=True,
    )
    ev["dpd"] = ev["dpd"].astype("float64")
    ev["report_date"] = pd.to_datetime(ev["report_date"])
    start = ev["loan_id"].map(start_of)
    end = ev["loan_id"].map(end_of)
    over = ev["dpd"] > config.bad_dpd
    is_bad = ev["classification"].isin(NPL_CLASSES) | over
    in_window = (ev["report_date"] >= start) & (ev["report_date"] <= end)
    bad_on = ev["report_date"].where((is_bad & in_window).fillna(False).astype(bool))
    # a report after the horizon whose dpd says the loan passed bad_dpd inside it
    crossed = ev["report_date"] - pd.to_timedelta(ev["dpd"] - config.bad_dpd - 1, unit="D")
    late = (over & (ev["report_date"] > end) & (crossed <= end)).fillna(False).astype(bool)
    bad_on = bad_on.mask(late, crossed.where(crossed >= start, start))
    ev["bad_on"] = bad_on
    first_bad = ev.groupby("loan_id")["bad_on"].min()
    first_bad_accepted = ev.loc[~ev["rejected"]].groupby("loan_id")["bad_on"].min()
    out["first_bad_on"] = first_bad.reindex(out.index)

    # seen through: a report on or after the horizon's end or the maturity, or repaid
    last = known.groupby("loan_id").tail(1).set_index("loan_id")
    seen_to = last["report_date"].reindex(out.index)
    through = pd.concat([out["horizon_end"], out["maturity"]], axis=1).min(axis=1)
    observed = (seen_to >= through).fillna(False).astype(bool)
    if "balance" in last:
        repaid = last["balance"].astype("Float64").reindex(out.index) == 0
        observed |= repaid.fillna(False).astype(bool)
    out["observed_to"] = seen_to

    # rejected reports that keep a loan from being labelled good: unreadable within the
    # horizon (or undated), or dated after the last accepted report (they would have seen
    # the loan further: the report exists, it was rejected) while still inside the horizon,
    # or later with an unreadable dpd (which may date a default inside it); a readable
    # report after the horizon says nothing the late-dpd rule above has not read
    r_start = rej["loan_id"].map(start_of)
    r_end = rej["loan_id"].map(end_of)
    r_date = rej["report_date"]
    unreadable = rej["classification"].isna() | rej["dpd_unreadable"]
    r_window = (r_date >= r_start) & (r_date <= r_end) & (r_date <= as_of)
    doubt = r_date.isna() | (unreadable & r_window).fillna(False).astype(bool)
    gap = ((r_date <= as_of) & ~(r_date <= rej["loan_id"].map(seen_to))).fillna(False)
    gap &= ((r_date <= r_end) | rej["dpd_unreadable"]).fillna(False)
    blocking = rej.loc[(doubt | gap.astype(bool)).to_numpy(dtype=bool)]
    doubted = pd.Series(out.index.isin(rej.loc[doubt.to_numpy(dtype=bool), "loan_id"]), out.index)
    rules = blocking.groupby("loan_id")["rule"].agg(lambda s: "+".join(sorted(set(s))))

    disbursed = (out["disbursed_on"] <= as_of) | (all_rejected & out["disbursed_on"].isna())
    bad = out["first_bad_on"].notna()
    matured = (out["horizon_end"] <= as_of).fillna(False).astype(bool)
    good = matured & observed & ~doubted
    outcome = np.select([bad, good, matured], ["bad", "good", "unobserved"], default="unlabelled")
    out["outcome"] = pd.Series(outcome, index=out.index, dtype="str").where(disbursed)
    status = out["outcome"].copy()
    if known_usccs is not None:
        unknown = ~out["uscc"].isin(pd.Series(known_usccs).dropna().unique())
        status = status.mask(unknown & disbursed & ~all_rejected, "unknown_firm")
    status = status.mask(all_rejected & disbursed, "rejected")
    out["status"] = status.fillna("not_disbursed").astype("str")
    out["horizon_complete"] = matured.to_numpy()
    unobs = out["status"] == "unobserved"
    by_reject = out.index.isin(blocking["loan_id"])
    out["unobserved_reason"] = pd.Series(
        np.where(by_reject, "rejected", "missing"), index=out.index, dtype="str"
    ).where(unobs)
    out["rejected_reports"] = (
        rej.groupby("loan_id").size().reindex(out.index).fillna(0).astype("int64")
    )
    out["rejected_rules"] = rules.reindex(out.index).astype("str").where(unobs)
    out["bad_from_rejected"] = (
        (out["status"] == "bad") & first_bad_accepted.reindex(out.index).isna()
    ).astype(bool)
    out = out.reset_index().sort_values(["disbursed_on", "loan_id"], kind="stable")
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class LabelReport:
    """What happened to every loan of the ledger (rows in = sum of ``counts``).

    Attributes
    ----------
    as_of : Timestamp
        Date of knowledge of the labels.
    counts : dict
        Loans per status (:data:`STATUSES`).
    unknown_firm_examples : list
        Up to 5 ``(loan_id, uscc)`` of loans whose firm is not an accepted enterprise.
    labels : DataFrame
        The per-loan table of :func:`label_loans`.
    young_bad_excluded : int
        Bad loans younger than the horizon left out of training (``complete_horizon_only``).
    unobserved_by_bank : dict
        Loans per bank whose horizon has elapsed but whose reports stop before it (the
        reports are missing from the ledger).
    unobserved_rejected_by_bank : dict
        Loans per bank not labelled good because a report of theirs exists but was
        rejected by the reader (unreadable within the horizon, or dated after the loan's
        last accepted report).
    unobserved_reject_rules : dict
        For those loans: loans per reader rule of the rejected reports (a loan with
        reports rejected for two rules counts under both).
    rejected_ledger : dict
        The rejected ledger rows and what they did to the labels: ``rows``, ``by_rule``
        (rows per rule combination), ``without_loan_id`` (rows naming no readable loan),
        ``loans`` (loans with a rejected report), ``bad_from_rejected`` (loans bad only by
        a rejected report), ``unobserved_rejected`` and ``all_rejected`` (loans whose
        every report was rejected: status ``rejected``, never trained on).
    attributes_vary : list
        Up to 5 ids of loans whose reports disagree on uscc, bank, disbursement date,
        maturity or amount (the earliest report's values are used), and their count.
    """

    as_of: pd.Timestamp
    counts: dict[str, int]
    unknown_firm_examples: list[tuple[str, str]]
    labels: pd.DataFrame = field(repr=False)
    young_bad_excluded: int = 0
    unobserved_by_bank: dict[str, int] = field(default_factory=dict)
    attributes_vary: tuple[int, list[str]] = (0, [])
    before_own_pledge: int = 0
    """Training loans whose features are taken the day before their own pledge registration
    (see :func:`decision_dates`)."""
    unobserved_rejected_by_bank: dict[str, int] = field(default_factory=dict)
    unobserved_reject_rules: dict[str, int] = field(default_factory=dict)
    rejected_ledger: dict[str, Any] = field(default_factory=dict)
    shared_loan_ids: tuple[int, list[str]] = (0, [])
    """Loan ids reported by more than one bank (told apart as ``ID@bank``) and up to 5 of
    them."""

    @property
    def loans(self) -> int:
        return int(sum(self.counts.values()))

    @property
    def bad_rate(self) -> float:
        n = self.counts["bad"] + self.counts["good"]
        return self.counts["bad"] / n if n else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-loan rows)."""
        return {
            "as_of": self.as_of.date().isoformat(),
            "loans": self.loans,
            "counts": dict(self.counts),
            "bad_rate": None if np.isnan(self.bad_rate) else round(self.bad_rate, 6),
            "unknown_firm_examples": [list(e) for e in self.unknown_firm_examples],
            "young_bad_excluded": int(self.young_bad_excluded),
            "unobserved_by_bank": dict(self.unobserved_by_bank),
            "attributes_vary": {
                "loans": int(self.attributes_vary[0]),
                "examples": list(self.attributes_vary[1]),
            },
            "before_own_pledge": int(self.before_own_pledge),
            "unobserved_rejected_by_bank": dict(self.unobserved_rejected_by_bank),
            "unobserved_reject_rules": dict(self.unobserved_reject_rules),
            "rejected_ledger": dict(self.rejected_ledger),
            "shared_loan_ids": {
                "ids": int(self.shared_loan_ids[0]),
                "examples": list(self.shared_loan_ids[1]),
            },
        }

    def lines(self) -> list[str]:
        """Human-readable summary lines (Chinese and English)."""
        c = self.counts
        out = [
            f"loans in ledger 台账贷款 {self.loans}: bad 坏 {c['bad']}, good 好 {c['good']}, "
            f"unlabelled (younger than the horizon) 未满观察期 {c['unlabelled']}, "
            f"unobserved (reports stop before the horizon) 报告中断 {c['unobserved']}, "
            f"disbursed after as-of 晚于基准日 {c['not_disbursed']}, "
            f"unknown firm 企业不在名录 {c['unknown_firm']}, "
            f"every report rejected 报告全部被拒 {c['rejected']}",
        ]
        rl = self.rejected_ledger
        if rl.get("rows"):
            rules = ", ".join(f"{r} {n}" for r, n in rl["by_rule"].items())
            line = (
                f"{rl['rows']} ledger rows were rejected by the reader ({rules}) 台账被拒行; "
                f"the labels still read them: {rl['bad_from_rejected']} loans are bad only by "
                f"a rejected report, {rl['unobserved_rejected']} are not labelled good because "
                f"of one, {rl['all_rejected']} have every report rejected (not trained on)"
            )
            if rl.get("without_loan_id"):
                line += (
                    f"; {rl['without_loan_id']} rejected rows name no readable loan and "
                    "cannot be used"
                )
            out.append(line)
        if self.young_bad_excluded:
            out.append(
                f"{self.young_bad_excluded} bad loans younger than the horizon are left out of "
                "training (their good peers are not labelled yet) 未满观察期的不良贷款不入训练"
            )
        if self.unobserved_by_bank:
            banks = ", ".join(f"{b} {n}" for b, n in self.unobserved_by_bank.items())
            out.append(
                f"loans not labelled good because their bank's reports stop before the end of "
                f"their horizon or maturity 报告中断未标注: {banks} — ask these banks for the "
                "missing ledger reports"
            )
        if self.unobserved_rejected_by_bank:
            banks = ", ".join(f"{b} {n}" for b, n in self.unobserved_rejected_by_bank.items())
            rules = ", ".join(f"{r} {n}" for r, n in self.unobserved_reject_rules.items())
            out.append(
                f"loans not labelled good because a ledger report of theirs was rejected "
                f"({rules}) 报告被拒未标注: {banks} — fix the rejected rows (`screening "
                "validate DATA --out DIR` lists them with their reasons in rejects.csv) or ask "
                "these banks to resend them"
            )
        n_shared, shared_ex = self.shared_loan_ids
        if n_shared:
            out.append(
                f"{n_shared} loan ids are reported by more than one bank (e.g. "
                f"{', '.join(shared_ex)}): each bank's loan is a loan of its own, named ID@bank "
                "同一借据号由多家银行报送，按银行区分"
            )
        n_vary, vary_ex = self.attributes_vary
        if n_vary:
            out.append(
                f"{n_vary} loans whose reports disagree on the borrower, bank, dates or amount "
                f"(e.g. {', '.join(vary_ex)}): the earliest report's values are used "
                "同一贷款各期报告要素不一致，按首期报告"
            )
        if self.before_own_pledge:
            out.append(
                f"{self.before_own_pledge} training loans take the borrower's features the day "
                "before their own pledge registration (as the bank saw the firm) "
                "按质押登记前一日取特征"
            )
        if self.unknown_firm_examples:
            ex = ", ".join(f"{lid} ({u})" for lid, u in self.unknown_firm_examples)
            out.append(f"loans whose USCC is not an accepted enterprise, e.g. {ex}")
        return out


def training_mask(labels: pd.DataFrame, config: LabelConfig | None = None) -> pd.Series:
    """Loans that become training rows: labelled, and (by default) with a complete horizon."""
    config = config or LabelConfig()
    mask = labels["status"].isin(["bad", "good"])
    if config.complete_horizon_only:
        mask &= labels["horizon_complete"].astype(bool)
    return mask


def _by_bank(labels: pd.DataFrame, mask: pd.Series) -> dict[str, int]:
    counts = labels.loc[mask, "bank"].astype("str").value_counts()
    return {str(b): int(n) for b, n in sorted(counts.items())}


def summarise_labels(
    labels: pd.DataFrame,
    as_of: pd.Timestamp,
    config: LabelConfig | None = None,
    rejected: pd.DataFrame | None = None,
) -> LabelReport:
    """Count statuses and pick unknown-firm examples from a :func:`label_loans` table.

    ``rejected`` (the re-read rejected ledger rows given to :func:`label_loans`) adds the
    count of rejected rows per rule to the report.
    """
    counts = {s: int((labels["status"] == s).sum()) for s in STATUSES}
    unknown = labels.loc[labels["status"] == "unknown_firm", ["loan_id", "uscc"]].head(5)
    examples = [(str(a), str(b)) for a, b in unknown.itertuples(index=False)]
    young_bad = int(((labels["status"] == "bad") & ~training_mask(labels, config)).sum())
    unobs = labels["status"] == "unobserved"
    reason = (
        labels["unobserved_reason"]
        if "unobserved_reason" in labels
        else pd.Series("missing", index=labels.index)
    )
    by_bank = _by_bank(labels, unobs & (reason != "rejected"))
    by_bank_rejected = _by_bank(labels, unobs & (reason == "rejected"))
    reject_rules: dict[str, int] = {}
    if by_bank_rejected:
        per_loan = labels.loc[unobs & (reason == "rejected"), "rejected_rules"].astype("str")
        exploded = per_loan.str.split("+").explode()
        reject_rules = {str(r): int(n) for r, n in exploded.value_counts().sort_index().items()}
    rejected_ledger: dict[str, Any] = {}
    if rejected is not None and len(rejected):
        # a row of a shared id that names no bank is a report of each candidate loan
        # (qualify_loan_ids): it is still one row of the file
        rows = (
            rejected.drop_duplicates("source_row")
            if "source_row" in rejected and rejected["source_row"].notna().all()
            else rejected
        )
        rows_by_rule = rows["rule"].astype("str").value_counts().sort_index()
        rejected_ledger = {
            "rows": int(len(rows)),
            "by_rule": {str(r): int(n) for r, n in rows_by_rule.items()},
            "without_loan_id": int(rejected["loan_id"].isna().sum()),
            "loans": int(rejected["loan_id"].dropna().nunique()),
            "bad_from_rejected": int(labels.get("bad_from_rejected", pd.Series(False)).sum()),
            "unobserved_rejected": int((unobs & (reason == "rejected")).sum()),
            "all_rejected": counts["rejected"],
        }
    vary = (
        labels["loan_id"].loc[labels["attributes_vary"].astype(bool)]
        if ("attributes_vary" in labels)
        else pd.Series([], dtype="str")
    )
    return LabelReport(
        pd.Timestamp(as_of), counts, examples, labels, young_bad, by_bank,
        (int(len(vary)), [str(v) for v in vary.head(5)]),
        unobserved_rejected_by_bank=by_bank_rejected,
        unobserved_reject_rules=reject_rules,
        rejected_ledger=rejected_ledger,
    )  # fmt: skip


@dataclass(frozen=True)
class TrainingSet:
    """Point-in-time training rows, one per labelled loan (sorted by disbursement date).

    Attributes
    ----------
    X : DataFrame
        Features of the borrower at the loan's decision date (registry columns): the
        disbursement date, or the day before the loan's own pledge registration
        (:func:`decision_dates`).
    y : Series
        1 = bad, 0 = good.
    time : Series
        Disbursement dates (the as-of of each row).
    loan_ids : Series
    uscc : Series
    report : LabelReport
    """

    X: pd.DataFrame
    y: pd.Series
    time: pd.Series
    loan_ids: pd.Series
    uscc: pd.Series
    report: LabelReport

    def __len__(self) -> int:
        return len(self.y)

    def oot_split(self, share: float) -> pd.Timestamp:
        """First disbursement date of the out-of-time window (latest ``share`` of rows).

        All loans disbursed on that date fall in the window, so no day is split.
        """
        if len(self) == 0:
            raise DataError(
                "no labelled loans to split into training and out-of-time validation",
                "the ledger needs loans older than the label horizon",
            )
        k = min(len(self) - 1, int(np.floor(len(self) * (1 - share))))
        return pd.Timestamp(self.time.iloc[k])

    def subset(self, mask: pd.Series | np.ndarray) -> TrainingSet:
        """Rows where ``mask`` is true (the report is kept whole)."""
        m = np.asarray(mask, dtype=bool)
        return TrainingSet(
            self.X.loc[m].reset_index(drop=True),
            self.y.loc[m].reset_index(drop=True),
            self.time.loc[m].reset_index(drop=True),
            self.loan_ids.loc[m].reset_index(drop=True),
            self.uscc.loc[m].reset_index(drop=True),
            self.report,
        )


FeatureBuilder = Callable[[pd.DataFrame, Any], pd.DataFrame]


def _pledged_patents(rows: pd.DataFrame, loans: pd.DataFrame) -> pd.DataFrame:
    """``loan_id, app_no``: the patents each loan of ``rows`` pledged, as listed by its
    earliest report that lists any (the reader gives them canonical)."""
    empty = pd.DataFrame({"loan_id": pd.Series(dtype="str"), "app_no": pd.Series(dtype="str")})
    if "pledged_app_nos" not in loans.columns or rows.empty:
        return empty
    listed = (
        loans.loc[loans["pledged_app_nos"].notna(), ["loan_id", "report_date", "pledged_app_nos"]]
        .sort_values(["loan_id", "report_date"], kind="stable")
        .drop_duplicates("loan_id")
    )
    listed = listed.loc[listed["loan_id"].astype("str").isin(rows["loan_id"].astype("str"))]
    if listed.empty:
        return empty
    pledged = (
        listed.assign(app_no=listed["pledged_app_nos"].astype("str").str.split(r"[;；]"))
        .explode("app_no")
        .assign(app_no=lambda d: d["app_no"].str.strip())
    )
    pledged = pledged.loc[pledged["app_no"].str.len() > 0, ["loan_id", "app_no"]]
    return pledged.astype({"loan_id": "str", "app_no": "str"}).reset_index(drop=True)


def rejected_pledge_events(data: Any, app_nos: Any) -> pd.DataFrame:
    """Rejected ``patent_events`` rows that may be the registration of a pledge of one of
    ``app_nos`` (canonical numbers): ``app_no`` (canonical), ``event_code`` (``PE01``, or
    null when the code could not be read), ``event_date``.

    A loan's own pledge registration may be a row the reader rejected (its application
    number has a wrong check character, its code is not a known one, ...). The feature store
    still honours such a row: it makes the patent 状态待核实 from its date
    (``features.rejected_event_rows``, the rows read again once per bundle, its number as
    written when only the check character is wrong), so at the disbursement date the loan's
    own pledge would show. Kept: a readable date (a row whose date cannot be read dates
    nothing) and a code that is ``PE01`` or unreadable (see :func:`decision_dates`).
    Rejected copies of a duplicate are kept too: their number, code and date are what every
    copy says.
    """
    from features import rejected_event_rows

    wanted = set(pd.Series(app_nos, dtype="str").dropna())
    ev = rejected_event_rows(data)
    code = ev["event_code"].astype("str")
    keep = (
        ev["app_no"].isin(wanted)
        & ev["event_date"].notna()
        & (code.isna() | (code == "PE01")).astype(bool)
    )
    ev = ev.loc[keep.to_numpy(dtype=bool)]
    return pd.DataFrame(
        {
            "app_no": pd.Series(ev["app_no"].to_numpy(), dtype="str"),
            "event_code": pd.Series(ev["event_code"].to_numpy(), dtype="str"),
            "event_date": pd.Series(ev["event_date"].to_numpy(dtype="datetime64[ns]")),
        }
    )


def decision_dates(
    rows: pd.DataFrame,
    loans: pd.DataFrame,
    events: pd.DataFrame | None,
    within_days: int,
    rejected: pd.DataFrame | None = None,
) -> pd.Series:
    """The as-of of each loan's training row: the day the bank saw the firm.

    A patent-pledge loan is disbursed after its pledge is registered (PE01), so at the
    disbursement date the borrower's own patents already show as pledged; a firm being
    screened never shows its next loan's pledge. A PE01 of one of the loan's
    ``pledged_app_nos`` dated at most ``within_days`` before disbursement (or on the day) is
    taken as the loan's own (per patent the latest such registration: an earlier one
    belongs to a loan this one renewed), and the row's as-of is the day before the earliest
    of them. Every other loan (no pledged patents listed, no such event, or
    ``within_days`` = 0) keeps its disbursement date. Older pledges of the same patents stay
    facts of the past, as any other event.

    Rejected event rows (``rejected``, from :func:`rejected_pledge_events`) count too: the
    feature store marks their patents 状态待核实 from their date, so a rejected own pledge
    would show at disbursement as an accepted one does. A rejected ``PE01`` counts as an
    accepted one. A rejected row whose code could not be read, on one of the loan's pledged
    patents inside the window, is most likely that pledge, and counts only for a patent
    without a readable ``PE01`` in the window: if it was something else, the row is merely
    taken earlier than it had to be (a few weeks' staler features, never a later fact),
    whereas ignoring a mistyped pledge would show the pledge itself.

    Parameters
    ----------
    rows : DataFrame
        ``loan_id, disbursed_on`` per loan (e.g. :func:`label_loans` rows).
    loans : DataFrame
        The canonical ``loans`` table (``pledged_app_nos`` read from the earliest report).
    events : DataFrame or None
        The canonical ``patent_events`` table (``app_no, event_code, event_date``).
    within_days : int
    rejected : DataFrame, optional
        Rejected event rows (``app_no, event_code, event_date``; a null code is unreadable,
        a null date is ignored).

    Returns
    -------
    Series
        Timestamps aligned with ``rows``.
    """
    disbursed = pd.Series(pd.to_datetime(rows["disbursed_on"]).to_numpy(), index=rows.index)
    cand = []
    if events is not None and not events.empty:
        cand.append(
            events.loc[events["event_code"] == "PE01", ["app_no", "event_date"]].assign(
                readable=True
            )
        )
    if rejected is not None and not rejected.empty:
        code = rejected["event_code"].astype("str")
        keep = rejected["event_date"].notna() & (code.isna() | (code == "PE01"))
        cand.append(
            rejected.loc[keep, ["app_no", "event_date"]].assign(
                readable=(code[keep] == "PE01").to_numpy(dtype=bool)
            )
        )
    if within_days <= 0 or not cand or rows.empty:
        return disbursed
    pledged = _pledged_patents(rows, loans)
    regs = pd.concat(cand, ignore_index=True).astype(
        {"app_no": "str", "event_date": "datetime64[ns]", "readable": "bool"}
    )
    own = (
        rows[["loan_id", "disbursed_on"]]
        .astype({"loan_id": "str"})
        .merge(pledged, on="loan_id")
        .merge(regs, on="app_no")
    )
    lag = own["disbursed_on"] - own["event_date"]
    own = own.loc[(lag >= pd.Timedelta(0)) & (lag <= pd.Timedelta(days=within_days))]
    if own.empty:
        return disbursed
    # a row of unreadable code stands for a patent's registration only when the patent has
    # no readable one in the window
    has_readable = own.groupby(["loan_id", "app_no"], sort=False)["readable"].transform("any")
    own = own.loc[own["readable"] | ~has_readable]
    # each patent's latest registration up to disbursement is this loan's (an earlier one in
    # the window belongs to a loan it renewed); the loan's own pledge began with the first
    # of its patents' registrations
    latest = own.groupby(["loan_id", "app_no"], sort=False)["event_date"].max()
    first = latest.groupby(level="loan_id").min() - pd.Timedelta(days=1)
    before = first.reindex(rows["loan_id"].astype("str").to_numpy()).to_numpy(
        dtype="datetime64[ns]"
    )
    return pd.Series(
        np.where(np.isnat(before), disbursed.to_numpy(dtype="datetime64[ns]"), before),
        index=rows.index,
    )


def _default_builder(pairs: pd.DataFrame, bundle: Any) -> pd.DataFrame:
    from features import build_feature_matrix

    return build_feature_matrix(pairs, without_undated_status(bundle))


def without_undated_status(bundle: Any) -> Any:
    """``bundle`` with the programme lists' ``status`` left out, for features at past dates.

    A list says a membership is 撤销 (revoked) or 暂停 (suspended) without saying since when.
    At the run date that is current and screening honours it; for a loan of 2023 it may have
    happened after the loan, and a status that correlates with the outcome would leak it.
    Loans are therefore seen with each membership valid over its certificate's dates, as the
    list showed it before the change (a revocation before the loan is then missed: the
    lesser error, since it cannot flatter validation).
    """
    tables = getattr(bundle, "tables", bundle)
    progs = tables.get("programmes") if isinstance(tables, dict) else None
    if progs is None or "status" not in progs:
        return bundle
    tables = {**tables, "programmes": progs.drop(columns="status")}
    return (
        dataclasses.replace(bundle, tables=tables) if dataclasses.is_dataclass(bundle) else tables
    )


def build_training_set(
    bundle: Any,
    *,
    as_of: pd.Timestamp | str,
    config: LabelConfig | None = None,
    feature_builder: FeatureBuilder | None = None,
) -> TrainingSet:
    """Labelled loans joined to their borrower's features at the disbursement date.

    Parameters
    ----------
    bundle : DataBundle
        What ``data_contracts.read_data_dir`` returned (``tables`` with ``enterprises`` and
        ``loans``). The ledger rows it rejected (``rejects``) are read again from the loans
        file and used by the labels (:func:`label_loans`, ``rejected``). A bundle read
        without a date (``as_of`` None) gets ``as_of``: its undated rejected facts are
        taken as known by the label date, not at every decision date.
    as_of : Timestamp or str
        Date of knowledge of the outcomes (usually the latest ledger report date).
    config : LabelConfig, optional
    feature_builder : callable, optional
        ``(pairs, bundle) -> DataFrame`` with ``uscc, as_of`` and feature columns;
        default ``features.build_feature_matrix``. Each row's features are computed at
        the loan's decision date (:func:`decision_dates`: the disbursement date, or the
        day before the loan's own pledge registration), so nothing known later, not even
        the loan's own pledge, leaks into them.

    Returns
    -------
    TrainingSet
    """
    tables = bundle.tables
    if getattr(bundle, "as_of", "") is None:
        # the folder holds what was known at the label date: a rejected fact whose date
        # cannot be read happened by then, not by every loan's earlier decision date
        # (features' rejected legal events); a bundle read for another date keeps it
        bundle.as_of = pd.Timestamp(as_of).date()
    loans, rejected, shared = ledger_tables(bundle)
    labels = label_loans(
        loans,
        as_of=as_of,
        known_usccs=tables["enterprises"]["uscc"],
        config=config,
        rejected=rejected,
    )
    report = summarise_labels(labels, pd.Timestamp(as_of), config, rejected)
    report = dataclasses.replace(report, shared_loan_ids=(len(shared), shared[:5]))
    rows = labels[training_mask(labels, config)].reset_index(drop=True)
    if rows.empty:
        c = report.counts
        raise DataError(
            f"no labelled loan to train on at {pd.Timestamp(as_of).date()}: of {report.loans} "
            f"loans, {c['unlabelled']} are younger than the horizon, {c['unobserved']} "
            f"unobserved, {c['not_disbursed']} disbursed later, {c['unknown_firm']} of firms "
            f"not in the registry, {c['rejected']} with every report rejected",
            "train at a later --as-of (loans need their 12 months), or check that the ledger's "
            "USCCs are the registry's",
        )
    config = config or LabelConfig()
    rejected_events = None
    if config.own_pledge_days > 0:
        # the loans' own pledges the reader rejected (a mistyped number or code) still
        # show in the features: read them again, only for the loans' pledged patents
        pledged = _pledged_patents(rows, loans)
        rejected_events = rejected_pledge_events(bundle, pledged["app_no"])
    rows["as_of"] = decision_dates(
        rows,
        loans,
        tables.get("patent_events"),
        config.own_pledge_days,
        rejected=rejected_events,
    )
    report = dataclasses.replace(
        report, before_own_pledge=int((rows["as_of"] != rows["disbursed_on"]).sum())
    )
    pairs = rows[["uscc", "as_of"]].drop_duplicates().reset_index(drop=True)
    builder = feature_builder or _default_builder
    matrix = builder(pairs, bundle)
    feats = [c for c in matrix.columns if c not in ("uscc", "as_of")]
    joined = rows[["loan_id", "uscc", "disbursed_on", "as_of", "status"]].merge(
        matrix,
        on=["uscc", "as_of"],
        how="left",
        validate="many_to_one",
        indicator=True,
    )
    if (joined["_merge"] != "both").any():
        lost = joined.loc[joined["_merge"] != "both", "loan_id"].head(5).tolist()
        raise DataError(
            f"the feature builder returned no row for {int((joined['_merge'] != 'both').sum())} "
            f"labelled loans, e.g. {lost}",
            "build_feature_matrix must return one row per (uscc, as_of) pair",
        )
    return TrainingSet(
        X=joined[feats].reset_index(drop=True),
        y=(joined["status"] == "bad").astype("int64"),
        time=joined["disbursed_on"],
        loan_ids=joined["loan_id"],
        uscc=joined["uscc"],
        report=report,
    )
