"""The supervisor's report from the banks' loan ledger (监管统计).

Per bank and per region: new loans in the period (loans, firms, amount), first-time
borrowers, pledge registrations, outstanding loans and balance at the latest report on or
before ``as_of``, NPL balance (次级+可疑+损失) and NPL ratio; and the funnel
whitelisted → borrowed → bad. Results are DataFrames; CSV and HTML build on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.errors import DataError
from screening.retrain.config import LabelConfig
from screening.retrain.labels import NPL_CLASSES, label_loans, ledger_tables
from screening.run.selection import STATUSES

STALE_DAYS = 92
"""A loan's latest report older than this (a quarter) before as_of is stale."""

KPI_COLUMNS = [
    "new_loans",
    "new_firms",
    "new_amount",
    "first_time_borrowers",
    "pledge_registrations",
    "outstanding_loans",
    "borrowers",
    "balance",
    "npl_balance",
    "npl_ratio",
]
KPI_LABELS_ZH = {
    "bank": "贷款银行",
    "region_code": "行政区划",
    "new_loans": "新增贷款笔数",
    "new_firms": "新增贷款企业数",
    "new_amount": "新增放款金额(万元)",
    "first_time_borrowers": "首贷企业数",
    "pledge_registrations": "质押登记数",
    "outstanding_loans": "在贷笔数",
    "borrowers": "在贷企业数",
    "balance": "贷款余额(万元)",
    "npl_balance": "不良余额(万元)",
    "npl_ratio": "不良率",
}


@dataclass(frozen=True)
class LedgerReport:
    """KPIs of the ledger.

    Attributes
    ----------
    as_of, since : Timestamp
        The period is ``(since, as_of]`` for new loans; balances are at ``as_of``.
    by_bank, by_region : DataFrame
        One row per bank / region code plus a final ``合计 total`` row; :data:`KPI_COLUMNS`.
    funnel : DataFrame
        ``stage, label_zh, firms, share_of_previous`` for whitelisted → borrowed → bad
        (whitelisted only when a whitelist was given).
    notes : list of str
    """

    as_of: pd.Timestamp
    since: pd.Timestamp
    by_bank: pd.DataFrame
    by_region: pd.DataFrame
    funnel: pd.DataFrame
    notes: list[str]


def _kpis(loans: pd.DataFrame, key: str) -> pd.DataFrame:
    g = loans.groupby(key, sort=True, dropna=False)
    new = loans[loans["is_new"]]
    gn = new.groupby(key, sort=True, dropna=False)
    out_ = loans[loans["outstanding"]]
    # the NPL balance as a column summed beside the balance, in the same groups and order:
    # summed from a subset it could come out an ulp above the balance (a ratio above 1)
    out_ = out_.assign(npl_balance=out_["balance"].where(out_["npl"].astype(bool), 0.0))
    go = out_.groupby(key, sort=True, dropna=False)
    frame = pd.DataFrame(index=g.size().index)
    frame["new_loans"] = gn.size()
    frame["new_firms"] = gn["uscc"].nunique()
    frame["new_amount"] = gn["amount"].sum()
    frame["first_time_borrowers"] = (
        new[new["first_loan"].fillna(False).astype(bool)]
        .groupby(key, dropna=False)["uscc"]
        .nunique()
    )
    frame["pledge_registrations"] = gn["pledge_reg_no"].nunique()
    frame["outstanding_loans"] = go.size()
    frame["borrowers"] = go["uscc"].nunique()
    frame["balance"] = go["balance"].sum()
    frame["npl_balance"] = go["npl_balance"].sum()
    frame = frame.fillna(0)
    total = {
        "new_loans": len(new),
        "new_firms": new["uscc"].nunique(),
        "new_amount": new["amount"].sum(),
        "first_time_borrowers": new.loc[
            new["first_loan"].fillna(False).astype(bool), "uscc"
        ].nunique(),
        "pledge_registrations": new["pledge_reg_no"].nunique(),
        "outstanding_loans": len(out_),
        "borrowers": out_["uscc"].nunique(),
        "balance": out_["balance"].sum(),
        "npl_balance": out_["npl_balance"].sum(),
    }
    frame.index = frame.index.astype(object).where(frame.index.notna(), "未知 unknown")
    frame.loc["合计 total"] = pd.Series(total)
    for c in (
        "new_loans",
        "new_firms",
        "first_time_borrowers",
        "pledge_registrations",
        "outstanding_loans",
        "borrowers",
    ):
        frame[c] = frame[c].astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["npl_ratio"] = np.where(
            frame["balance"] > 0, frame["npl_balance"] / frame["balance"], np.nan
        )
    frame.index.name = key
    return frame[KPI_COLUMNS].reset_index()


def read_whitelist(path: Path) -> pd.Series:
    """USCCs on a whitelist file: ``whitelist.csv`` of a run, or ``screened.csv`` (rows with
    ``status == whitelisted``). Headers ``uscc`` or ``统一社会信用代码``."""
    frame = None
    # a bank's whitelist.csv re-saved by Excel on a Chinese Windows is GBK (GB18030)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            frame = pd.read_csv(path, dtype=str, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(
                f"cannot read whitelist {path}: {exc}",
                "pass the whitelist.csv or screened.csv of a run",
            ) from None
    if frame is None:
        raise DataError(
            f"cannot read whitelist {path}: neither UTF-8 nor GB18030 text",
            "pass the whitelist.csv or screened.csv of a run",
        )
    cols = {c.strip(): c for c in frame.columns}
    col = cols.get("uscc") or cols.get("统一社会信用代码")
    # a run's screened.csv has a status, a package's whitelist.csv a grade: a registry or
    # any other table of codes is not a whitelist
    if col is None or not ({"status", "grade", "等级"} & set(cols)):
        raise DataError(
            f"{path} is not a whitelist: it needs a uscc / 统一社会信用代码 column and a status "
            f"or 等级 column (columns: {', '.join(list(frame.columns)[:8])})",
            "pass the whitelist.csv or screened.csv written by `screening run`",
        )
    if "status" in cols:
        status = frame[cols["status"]].str.strip()
        # a run's screened.csv uses the run's statuses; a registry's 存续/active is no whitelist
        if not status.isin(STATUSES).any():
            raise DataError(
                f"{path} is not a whitelist: its status column holds no screening status "
                f"(e.g. {', '.join(map(str, status.dropna().unique()[:3]))})",
                "pass the whitelist.csv or screened.csv written by `screening run`",
            )
        frame = frame[status == "whitelisted"]
    return frame[col].str.strip().str.upper().dropna().drop_duplicates().reset_index(drop=True)


def _rejected_bad(rejected: pd.DataFrame, as_of: pd.Timestamp, cfg: LabelConfig) -> set:
    """Loans a rejected report (readable date on or before ``as_of``) shows as NPL."""
    if rejected.empty:
        return set()
    dated = rejected.loc[rejected["report_date"].notna() & (rejected["report_date"] <= as_of)]
    dpd = dated["dpd"].astype("Float64").mask(dated["dpd_unreadable"].to_numpy()).fillna(0)
    sour = dated["classification"].isin(NPL_CLASSES) | (dpd > cfg.bad_dpd)
    return set(dated.loc[sour.fillna(False).astype(bool), "loan_id"].dropna())


def _rejected_notes(
    rejected: pd.DataFrame,
    latest: pd.DataFrame,
    bad_loans: set,
    as_of: pd.Timestamp,
    cfg: LabelConfig,
) -> list[str]:
    """What the rejected ledger rows mean for this report: how many, loans whose newest
    report was rejected (their status here is an older report's), and loans that show NPL
    only in a rejected report."""
    if rejected.empty:
        return []
    by_rule = rejected["rule"].value_counts().sort_index()
    notes = [
        f"{len(rejected)} ledger rows were rejected by the reader 台账被拒行 ("
        + ", ".join(f"{k} {v}" for k, v in by_rule.items())
        + "): balances and classifications here come from the accepted reports"
    ]
    dated = rejected.loc[rejected["report_date"].notna() & (rejected["report_date"] <= as_of)]
    last_ok = dated["loan_id"].map(latest["report_date"])
    newer = dated.loc[(dated["report_date"] > last_ok).fillna(False).to_numpy(dtype=bool)]
    unseen = set(rejected["loan_id"].dropna()) - set(latest.index)
    if unseen:
        notes.append(
            f"{len(unseen)} loans appear only in rejected rows: not in any figure above — fix "
            "the rejected rows (rejects.csv) 贷款全部报告被拒"
        )
    if len(newer):
        notes.append(
            f"{newer['loan_id'].nunique()} loans have a newer report that was rejected: their "
            "balance and classification here are from an older report — fix the rejected rows "
            "(rejects.csv) 最新报告被拒"
        )
    only = _rejected_bad(rejected, as_of, cfg) - bad_loans
    if only:
        notes.append(
            f"{len(only)} loans show NPL (次级/可疑/损失 or dpd > {cfg.bad_dpd}) only in a rejected "
            "report: counted as 出现不良 in the funnel, not in the NPL balances"
        )
    return notes


def ledger_report(
    bundle: Any,
    *,
    as_of: pd.Timestamp | str | None = None,
    since: pd.Timestamp | str | None = None,
    whitelist: pd.Series | None = None,
    config: LabelConfig | None = None,
) -> LedgerReport:
    """Supervisor KPIs per bank and region, and the whitelist funnel.

    Parameters
    ----------
    bundle : DataBundle
        Needs ``loans`` and ``enterprises`` (for the region of each borrower).
    as_of : date, optional
        Reporting date (default: latest ledger report date). Later reports are ignored.
    since : date, optional
        Start of the period for new loans (exclusive); default: the day before the first
        day of ``as_of``'s quarter, i.e. the quarter to date.
    whitelist : Series, optional
        USCCs that were pushed to banks; gives the first funnel stage.
    config : LabelConfig, optional
        ``bad_dpd`` threshold for the funnel's last stage (any NPL report or
        ``dpd > bad_dpd`` up to ``as_of``, whatever the loan's age).
    """
    loans = bundle.tables["loans"]
    if loans.empty:
        raise DataError(
            "the loans table is empty: there is no ledger to report on",
            "add the banks' ledger as loans.csv in the data folder",
        )
    as_of = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(loans["report_date"].max())
    if since is None:
        since = as_of.to_period("Q").start_time - pd.Timedelta(days=1)
    since = pd.Timestamp(since)
    if since >= as_of:
        raise DataError(
            f"the period start {since.date()} is not before the report date {as_of.date()}",
            "pass --since earlier than --as-of",
        )
    notes: list[str] = []
    # each bank's loan its own, where banks share a 借据号 (labels.qualify_loan_ids)
    loans, rejected, _shared = ledger_tables(bundle)
    labels = label_loans(loans, as_of=as_of, config=config)
    known = loans[loans["report_date"] <= as_of].sort_values(
        ["loan_id", "report_date"], kind="stable"
    )
    latest = known.drop_duplicates("loan_id", keep="last").set_index("loan_id")
    per = labels.set_index("loan_id")[
        ["uscc", "bank", "disbursed_on", "maturity", "amount", "first_loan", "status"]
    ]
    per = per[per["disbursed_on"] <= as_of].copy()
    per["balance"] = (
        latest["balance"].reindex(per.index).astype("float64") if "balance" in latest else np.nan
    )
    per["classification"] = latest["classification"].reindex(per.index)
    per["pledge_reg_no"] = (
        loans.drop_duplicates("loan_id").set_index("loan_id")["pledge_reg_no"].reindex(per.index)
        if "pledge_reg_no" in loans
        else pd.NA
    )
    missing_balance = per["balance"].isna() & per["classification"].notna()
    if missing_balance.any():
        notes.append(
            f"{int(missing_balance.sum())} loans report no balance at their latest report: counted as 0"
        )
    per["balance"] = per["balance"].fillna(0.0)
    per["is_new"] = (per["disbursed_on"] > since) & (per["disbursed_on"] <= as_of)
    per["outstanding"] = per["classification"].notna() & (per["balance"] > 0)
    per["npl"] = per["classification"].isin(NPL_CLASSES)
    # a balance last reported more than a quarter before as_of is stale: still counted
    # (the ledger has nothing newer), but the supervisor is told how much of it there is
    seen = latest["report_date"].reindex(per.index)
    stale = per["outstanding"] & (seen < as_of - pd.Timedelta(days=STALE_DAYS)).fillna(False)
    if stale.any():
        npl_stale = stale & per["npl"]
        notes.append(
            f"{int(stale.sum())} outstanding loans ({per.loc[stale, 'balance'].sum():,.1f} 万元, "
            f"of which NPL {int(npl_stale.sum())} loans, "
            f"{per.loc[npl_stale, 'balance'].sum():,.1f} 万元) were last reported more than "
            f"{STALE_DAYS} days before {as_of.date()}: their balances are the last reported "
            "ones — ask the banks for current reports 报告超过一个季度未更新"
        )
    regions = bundle.tables["enterprises"].drop_duplicates("uscc").set_index("uscc")["region_code"]
    per["region_code"] = per["uscc"].map(regions)
    unknown = per["region_code"].isna()
    if unknown.any():
        notes.append(
            f"{int(unknown.sum())} loans of firms not in the enterprise registry: region 未知 unknown"
        )
    per = per.reset_index()
    by_bank = _kpis(per, "bank")
    by_region = _kpis(per, "region_code")

    borrowed = set(per["uscc"].dropna())
    # The funnel's "bad" is any NPL report (or dpd beyond the threshold) up to as_of, at
    # any age: the supervisor counts every loan that went bad, not the model's 12-month label.
    cfg = config or LabelConfig()
    dpd = known["dpd"].astype("Float64").fillna(0) if "dpd" in known else 0
    sour = known["classification"].isin(NPL_CLASSES) | (dpd > cfg.bad_dpd)
    bad_loans = set(known.loc[sour.fillna(False).astype(bool), "loan_id"])
    notes += _rejected_notes(rejected, latest, bad_loans, as_of, cfg)
    # a rejected report that still plainly shows NPL is the bank's word too: the funnel
    # counts the loan as gone bad (the KPIs keep the accepted reports' balances)
    bad_loans |= _rejected_bad(rejected, as_of, cfg)
    bad = set(per.loc[per["loan_id"].isin(bad_loans), "uscc"].dropna())
    stages = []
    if whitelist is not None:
        wl = set(pd.Series(whitelist).dropna())
        stages = [
            ("whitelisted", "白名单企业", len(wl)),
            ("borrowed", "已获贷款", len(wl & borrowed)),
            ("bad", "出现不良", len(wl & bad)),
        ]
        outside = len(borrowed - wl)
        notes.append(f"{outside} borrowing firms were not on the given whitelist")
    else:
        stages = [("borrowed", "已获贷款", len(borrowed)), ("bad", "出现不良", len(bad))]
        notes.append("no whitelist given (--whitelist): the funnel starts at borrowers")
    funnel = pd.DataFrame(stages, columns=["stage", "label_zh", "firms"])
    prev = funnel["firms"].shift(1)
    funnel["share_of_previous"] = np.where(prev > 0, funnel["firms"] / prev, np.nan)
    return LedgerReport(as_of, since, by_bank, by_region, funnel, notes)


_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>知识产权质押融资监管报表 {{ as_of }}</title>
<style>{{ css }}</style></head><body>
<h1>知识产权质押融资监管报表 / IP-pledge loan supervisor report</h1>
<p>报告日 as of {{ as_of }}; 新增统计期 period ({{ since }}, {{ as_of }}]. 不良 = 次级 + 可疑 + 损失.</p>
{% for title, key, rows in tables %}
<h2>{{ title }}</h2>
<table><tr><th class="l">{{ labels[key] }}</th>{% for c in cols %}<th>{{ labels[c] }}</th>{% endfor %}</tr>
{% for r in rows %}<tr><td class="l">{{ r[key] }}</td>{% for c in cols %}<td>{% if c == 'npl_ratio' %}{{ r[c]|pct(2) }}{% elif c in money %}{{ r[c]|num(1) }}{% else %}{{ r[c] }}{% endif %}</td>{% endfor %}</tr>{% endfor %}
</table>
{% endfor %}
<h2>转化漏斗 Funnel</h2>
{{ plot|safe }}
<table><tr><th class="l">阶段</th><th>企业数</th><th>占上一阶段</th></tr>
{% for r in funnel %}<tr><td class="l">{{ r.label_zh }} {{ r.stage }}</td><td>{{ r.firms }}</td><td>{{ r.share_of_previous|pct }}</td></tr>{% endfor %}
</table>
{% if notes %}<h2>说明 Notes</h2><ul>{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
</body></html>
"""


def render_ledger_html(rep: LedgerReport) -> str:
    """Self-contained HTML of the supervisor report (inline SVG funnel)."""
    import matplotlib.pyplot as plt

    from screening.retrain._html import RC, render, svg

    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6, 0.5 * len(rep.funnel) + 0.8))
        ax.barh(rep.funnel["label_zh"][::-1], rep.funnel["firms"][::-1], color="#4a78b0")
        ax.set_xlabel("企业数 firms")
        plot = svg(fig)

    def rec(df: pd.DataFrame) -> list[dict]:
        return df.astype(object).where(df.notna(), None).to_dict("records")

    return render(
        _TEMPLATE,
        as_of=rep.as_of.date().isoformat(),
        since=rep.since.date().isoformat(),
        tables=[
            ("按银行 By bank", "bank", rec(rep.by_bank)),
            ("按地区 By region", "region_code", rec(rep.by_region)),
        ],
        cols=KPI_COLUMNS,
        labels=KPI_LABELS_ZH,
        money={"new_amount", "balance", "npl_balance"},
        funnel=rec(rep.funnel),
        plot=plot,
        notes=rep.notes,
    )


def write_ledger_report(rep: LedgerReport, out: Path) -> list[Path]:
    """``ledger_by_bank.csv``, ``ledger_by_region.csv``, ``ledger_funnel.csv`` (UTF-8 with
    BOM, for Excel) and ``ledger_report.html`` in ``out``, each written atomically."""
    from screening.retrain._html import write_atomic

    out = Path(out)
    paths = []
    for name, df in (
        ("ledger_by_bank.csv", rep.by_bank),
        ("ledger_by_region.csv", rep.by_region),
        ("ledger_funnel.csv", rep.funnel),
    ):
        p = out / name
        write_atomic(
            p,
            df.to_csv(index=False, lineterminator="\n", float_format="%.6g"),
            encoding="utf-8-sig",
        )
        paths.append(p)
    html = out / "ledger_report.html"
    write_atomic(html, render_ledger_html(rep))
    paths.append(html)
    return paths
