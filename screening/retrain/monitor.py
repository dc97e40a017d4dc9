"""Monitoring a model in use: population stability and realised default rates.

- Score PSI and per-feature PSI between the model's training population (bins stored in
  its ``reference.json``) and today's population: the active firms holding a pledgeable
  patent at ``as_of`` (borrowers all pledged one), or a run's whitelist;
  0.10 = watch, 0.25 = act (domain.md §8).
- Realised default rate by grade for matured loans against the PD predicted at
  disbursement. Loans disbursed from the model's test cut on (the newer half of its
  out-of-time window, which its calibration never saw) are out of sample;
  when none has matured yet, all matured loans are used and the report says so.
- Alerts: one line each, with a level (``watch`` / ``act``).

Results are a :class:`MonitorResult` (DataFrames and dicts); JSON and HTML build on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.errors import DataError
from screening.retrain.config import RetrainConfig
from screening.retrain.labels import FeatureBuilder, _default_builder, label_loans, ledger_tables
from screening.retrain.psi import BinnedReference, psi_level, psi_table
from screening.retrain.train import tested_from


@dataclass(frozen=True)
class MonitorResult:
    """Everything ``screening monitor`` reports.

    Attributes
    ----------
    summary : dict
        as_of, model_id, population size, score PSI and level, realised-rate sample.
    feature_psi : DataFrame
        ``feature, label_zh, psi, level`` sorted by PSI (descending).
    score_bins : DataFrame
        ``bin, expected, actual, psi`` of the score.
    grades : DataFrame
        ``grade, training_share, today_share``.
    realised : DataFrame
        ``grade, n, bad, observed_rate, mean_pd, jeffreys_low, jeffreys_high, excess``.
    alerts : list of dict
        ``level, kind, subject, message``.
    """

    summary: dict[str, Any]
    feature_psi: pd.DataFrame
    score_bins: pd.DataFrame
    grades: pd.DataFrame
    realised: pd.DataFrame
    alerts: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def rec(df: pd.DataFrame) -> list[dict]:
            return json.loads(df.to_json(orient="records", double_precision=10, force_ascii=False))

        return {
            "summary": self.summary,
            "alerts": self.alerts,
            "score_bins": rec(self.score_bins),
            "feature_psi": rec(self.feature_psi),
            "grades": rec(self.grades),
            "realised_by_grade": rec(self.realised),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def screened_population(
    bundle: Any, as_of: pd.Timestamp, whitelist: pd.Series | None = None
) -> pd.DataFrame:
    """``(uscc, as_of)`` of today's screened firms: every enterprise active at ``as_of``,
    or only those on ``whitelist`` (the firms banks will actually lend to)."""
    ent = bundle.tables["enterprises"]
    keep = ent["status"].eq("active") if "status" in ent else pd.Series(True, index=ent.index)
    if whitelist is not None:
        keep &= ent["uscc"].isin(pd.Series(whitelist).dropna())
    if "established" in ent:
        keep &= ~(ent["established"] > as_of).fillna(False).astype(bool)
    usccs = ent.loc[keep.fillna(False).astype(bool), "uscc"].dropna().drop_duplicates()
    return pd.DataFrame({"uscc": usccs.astype("str").to_numpy(), "as_of": as_of})


_REALISED_COLUMNS = (
    "grade", "n", "bad", "observed_rate", "mean_pd", "jeffreys_low", "jeffreys_high", "excess",
)  # fmt: skip
"""Realised against predicted default by grade, as ``monitor`` reports it."""


def _realised(model, bundle, as_of, cut, builder, config) -> tuple[pd.DataFrame, dict]:
    from models.evaluation import jeffreys_interval

    cols = list(_REALISED_COLUMNS)
    loans = bundle.tables.get("loans")
    if loans is None or loans.empty:
        # population drift still says something without a ledger; realised rates cannot
        info = {"matured_loans": 0, "sample_loans": 0, "sample": "no_ledger", "since": None}
        return pd.DataFrame(columns=cols), info
    loans, rejected, _shared = ledger_tables(bundle)
    labels = label_loans(
        loans,
        as_of=as_of,
        known_usccs=bundle.tables["enterprises"]["uscc"],
        config=config.labels,
        rejected=rejected,
    )
    # Matured = the whole horizon observed; a young loan's outcome is not final yet.
    matured = labels[labels["status"].isin(["bad", "good"]) & labels["horizon_complete"]]
    out_of_sample = matured[matured["disbursed_on"] >= cut]
    sample = out_of_sample if len(out_of_sample) else matured
    info = {
        "matured_loans": int(len(matured)),
        "sample_loans": int(len(sample)),
        "sample": "out_of_sample" if len(out_of_sample) else "all_matured",
        "since": cut.date().isoformat() if len(out_of_sample) else None,
    }
    if sample.empty:
        return pd.DataFrame(columns=cols), info
    pairs = sample[["uscc", "disbursed_on"]].rename(columns={"disbursed_on": "as_of"})
    pairs = pairs.drop_duplicates().reset_index(drop=True)
    X = builder(pairs, bundle)
    rows = sample[["uscc", "disbursed_on", "status"]].merge(
        X.rename(columns={"as_of": "disbursed_on"}), on=["uscc", "disbursed_on"], how="left"
    )
    res = model.score(rows[model.feature_names_in_], explain=False)
    frame = pd.DataFrame(
        {"grade": res.grade, "bad": (rows["status"] == "bad").to_numpy(int), "pd": res.pd}
    )
    labels_order = list(model.grade_scale_.labels)
    agg = frame.groupby("grade").agg(n=("bad", "size"), bad=("bad", "sum"), mean_pd=("pd", "mean"))
    agg = agg.reindex(labels_order).dropna(subset=["n"]).reset_index()
    agg["n"] = agg["n"].astype(int)
    agg["bad"] = agg["bad"].astype(int)
    agg["observed_rate"] = agg["bad"] / agg["n"]
    lo, hi = jeffreys_interval(agg["bad"].to_numpy(), agg["n"].to_numpy())
    agg["jeffreys_low"], agg["jeffreys_high"] = lo, hi
    agg["excess"] = agg["observed_rate"] - agg["mean_pd"]
    return agg[cols], info


def default_rate_alerts(realised: pd.DataFrame, mc: Any) -> list[dict[str, str]]:
    """Alerts for grades whose realised default rate exceeds the predicted PD by more than
    ``mc.default_rate_excess`` on at least ``mc.min_loans_per_grade`` loans."""
    alerts: list[dict[str, str]] = []
    for r in realised.itertuples(index=False):
        if r.n >= mc.min_loans_per_grade and r.excess > mc.default_rate_excess:
            # act only when chance cannot explain it: the predicted PD lies below the 95 %
            # interval of the realised rate (3 defaults of 21 loans, 4-34 %, is no evidence
            # against 7.7 %); otherwise the excess is watched
            beyond_chance = r.jeffreys_low > r.mean_pd
            alerts.append(
                {
                    "level": "act" if beyond_chance else "watch",
                    "kind": "default_rate",
                    "subject": r.grade,
                    "message": f"{r.grade} 实际违约率 {r.observed_rate:.1%} exceeds predicted "
                    f"{r.mean_pd:.1%} by more than {mc.default_rate_excess:.0%} ({r.n} loans"
                    + (
                        ")"
                        if beyond_chance
                        else f"; within chance: 95% interval {r.jeffreys_low:.1%}–"
                        f"{r.jeffreys_high:.1%} includes the prediction)"
                    ),
                }
            )
    return alerts


def monitor(
    model: Any,
    reference: dict[str, Any],
    training_report: dict[str, Any],
    bundle: Any,
    *,
    as_of: pd.Timestamp | str,
    config: RetrainConfig,
    feature_builder: FeatureBuilder | None = None,
    whitelist: pd.Series | None = None,
) -> MonitorResult:
    """Compare today's population and outcomes with what the model was trained on.

    Parameters
    ----------
    model : Scorer
        A learned model loaded from its folder.
    reference, training_report : dict
        The folder's ``reference.json`` and ``training_report.json``.
    bundle : DataBundle
        Today's data folder (enterprises, patents, …, loans).
    as_of : date
        Screening date: features and labels use only facts known then.
    config : RetrainConfig
        PSI levels and realised-rate alert rules.
    feature_builder : callable, optional
        Default ``features.build_feature_matrix``.
    whitelist : Series, optional
        USCCs of a run's whitelist: compare only those firms with the training population.
        Past borrowers were mostly whitelisted firms, so this isolates drift from the
        selection effect of comparing borrowers with the whole registry.
    """
    as_of = pd.Timestamp(as_of)
    builder = feature_builder or _default_builder
    pairs = screened_population(bundle, as_of, whitelist)
    if pairs.empty and whitelist is not None and len(whitelist):
        raise DataError(
            f"none of the {len(whitelist)} firms of --whitelist is an active registry firm "
            f"at {as_of.date()}: nothing to monitor",
            "pass the whitelist of a run on this data folder (its screened.csv or a bank's "
            "whitelist.csv), or leave --whitelist out to monitor every active firm",
        )
    if pairs.empty:
        raise DataError(
            f"no active enterprise at {as_of.date()}: nothing to monitor",
            "check the enterprises table and --as-of",
        )
    X = builder(pairs, bundle)
    source = "whitelist" if whitelist is not None else "active_enterprises"
    if whitelist is None and "pledgeable_patent_count" in X:
        # the training population is borrowers, who all pledged patents: the comparable
        # firms today hold a pledgeable patent (the others have no valid patent, so every
        # share feature is missing for them — a PSI alarm on the selection, not a drift)
        pledgeable = X["pledgeable_patent_count"].fillna(0).to_numpy() > 0
        if pledgeable.any():
            X = X.loc[pledgeable].reset_index(drop=True)
            pairs = pairs.loc[pledgeable].reset_index(drop=True)
            source = "pledgeable_firms"
    result = model.score(X[model.feature_names_in_], explain=False)
    watch, act = config.psi.watch, config.psi.act
    alerts: list[dict[str, str]] = []

    score_bins = psi_table(BinnedReference.from_dict(reference["score"]), result.score)
    score_psi = float(score_bins["psi"].sum())
    level = psi_level(score_psi, watch, act)
    if level in ("watch", "act"):
        alerts.append(
            {
                "level": level,
                "kind": "score_psi",
                "subject": "score",
                "message": f"评分 PSI {score_psi:.3f} (≥ {watch if level == 'watch' else act}): "
                f"today's population differs from the training population",
            }
        )

    labels_zh = getattr(model, "labels_zh_", {}) or {}
    rows = []
    for name, ref in sorted(reference["features"].items()):
        if name not in X.columns:
            continue
        value = float(psi_table(BinnedReference.from_dict(ref), X[name])["psi"].sum())
        lv = psi_level(value, watch, act)
        rows.append((name, labels_zh.get(name, ""), value, lv))
        if lv in ("watch", "act"):
            alerts.append(
                {
                    "level": lv,
                    "kind": "feature_psi",
                    "subject": name,
                    "message": f"{labels_zh.get(name, name)} PSI {value:.3f}",
                }
            )
    feature_psi = pd.DataFrame(rows, columns=["feature", "label_zh", "psi", "level"])
    feature_psi = feature_psi.sort_values(["psi", "feature"], ascending=[False, True]).reset_index(
        drop=True
    )

    today = pd.Series(result.grade).value_counts(normalize=True)
    grade_labels = list(model.grade_scale_.labels)
    grades = pd.DataFrame(
        {
            "grade": grade_labels,
            "training_share": [reference["grade_shares"].get(g, 0.0) for g in grade_labels],
            "today_share": [float(today.get(g, 0.0)) for g in grade_labels],
        }
    )

    # out of sample = from the test cut: the loans before it tuned the calibration
    cut = tested_from(training_report)
    realised, info = _realised(model, bundle, as_of, cut, builder, config)
    mc = config.monitor
    alerts += default_rate_alerts(realised, mc)
    big = realised[realised["n"] >= mc.min_loans_per_grade]
    if len(big) >= 3 and not big["observed_rate"].is_monotonic_increasing:
        alerts.append(
            {
                "level": "watch",
                "kind": "grade_order",
                "subject": "grades",
                "message": "实际违约率未随档位单调上升: realised default rates do not rise "
                "from T1 to T10",
            }
        )
    summary = {
        "as_of": as_of.date().isoformat(),
        "model_id": str(model.model_id),
        "population": int(len(pairs)),
        "population_source": source,
        "reference_population": int(reference["n"]),
        "score_psi": round(score_psi, 6),
        "score_psi_level": level,
        "mean_pd_today": round(float(np.mean(result.pd)), 6),
        "mean_pd_training": round(float(reference["pd_mean"]), 6),
        "psi_watch": watch,
        "psi_act": act,
        "features_watch": int((feature_psi["level"] == "watch").sum()),
        "features_act": int((feature_psi["level"] == "act").sum()),
        "realised": info,
        "alerts": len(alerts),
    }
    return MonitorResult(summary, feature_psi, score_bins, grades, realised, alerts)


_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>模型监测报告 {{ s.as_of }}</title>
<style>{{ css }}</style></head><body>
<h1>模型监测报告 / Model monitoring — {{ s.as_of }}</h1>
<p>模型 model <code>{{ s.model_id }}</code>; 今日{% if s.population_source == 'whitelist' %}白名单{% elif s.population_source == 'pledgeable_firms' %}有可质押专利的在业{% else %}在业{% endif %}企业 {{ s.population }} 家 vs 训练样本
{{ s.reference_population }} 笔; PSI 预警线 watch {{ s.psi_watch }}, 行动线 act {{ s.psi_act }}.</p>
<h2>预警 Alerts ({{ alerts|length }})</h2>
{% if alerts %}<ul>{% for a in alerts %}<li class="alert-{{ a.level }}">[{{ a.level }}] {{ a.message }}</li>{% endfor %}</ul>
{% else %}<p>无预警 / no alerts.</p>{% endif %}
<h2>评分稳定性 Score PSI: {{ s.score_psi|num }} ({{ s.score_psi_level }})</h2>
<p>平均预测违约率 mean PD: 今日 {{ s.mean_pd_today|pct(2) }}, 训练 {{ s.mean_pd_training|pct(2) }}</p>
{{ plots.score|safe }}
<table><tr><th class="l">分数区间 bin</th><th>训练占比</th><th>今日占比</th><th>PSI</th></tr>
{% for r in score_bins %}<tr><td class="l">{{ r.bin }}</td><td>{{ r.expected|pct }}</td><td>{{ r.actual|pct }}</td><td>{{ r.psi|num(4) }}</td></tr>{% endfor %}
</table>
<h2>档位分布 Grade mix</h2>
<table><tr><th class="l">档位</th><th>训练占比</th><th>今日占比</th></tr>
{% for r in grades %}<tr><td class="l">{{ r.grade }}</td><td>{{ r.training_share|pct }}</td><td>{{ r.today_share|pct }}</td></tr>{% endfor %}
</table>
<h2>特征稳定性 Feature PSI</h2>
{{ plots.features|safe }}
<table><tr><th class="l">特征</th><th class="l">feature</th><th>PSI</th><th class="l">level</th></tr>
{% for r in feature_psi %}<tr class="{{ r.level }}"><td class="l">{{ r.label_zh }}</td><td class="l">{{ r.feature }}</td><td>{{ r.psi|num(4) }}</td><td class="l">{{ r.level }}</td></tr>{% endfor %}
</table>
<h2>分档实际违约率 Realised default rate by grade</h2>
<p>到期贷款 matured loans: {{ s.realised.matured_loans }}; 使用 used {{ s.realised.sample_loans }}
({% if s.realised.sample == 'out_of_sample' %}放款于 {{ s.realised.since }} 之后, 模型未见过 out of sample{% else %}全部到期贷款, 含训练样本 all matured loans, includes training loans{% endif %}).</p>
{% if plots.realised %}{{ plots.realised|safe }}{% endif %}
<table><tr><th class="l">档位</th><th>贷款数</th><th>违约</th><th>实际违约率</th><th>预测 PD</th><th>95% 区间</th><th>超出</th></tr>
{% for r in realised %}<tr><td class="l">{{ r.grade }}</td><td>{{ r.n }}</td><td>{{ r.bad }}</td><td>{{ r.observed_rate|pct }}</td><td>{{ r.mean_pd|pct }}</td><td>{{ r.jeffreys_low|pct }}–{{ r.jeffreys_high|pct }}</td><td>{{ r.excess|pct }}</td></tr>{% endfor %}
</table>
<p class="note">PSI = Σ (今日占比 − 训练占比) × ln(今日占比 / 训练占比), 分箱取自训练样本 (缺失值单独一箱).</p>
</body></html>
"""


def _plots(res: MonitorResult) -> dict[str, str | None]:
    import matplotlib.pyplot as plt

    from screening.retrain._html import RC, svg

    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7, 2.8))
        x = np.arange(len(res.score_bins))
        ax.bar(x - 0.2, res.score_bins["expected"], 0.4, label="训练 training")
        ax.bar(x + 0.2, res.score_bins["actual"], 0.4, label="今日 today")
        ax.set_xticks(x, [str(i + 1) for i in x])
        ax.set_xlabel("分数分箱 score bin")
        ax.set_ylabel("占比 share")
        ax.legend(frameon=False)
        plots: dict[str, str | None] = {"score": svg(fig)}
        top = res.feature_psi.head(15).iloc[::-1]
        fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(top), 3) + 0.8))
        ax.barh([n or f for n, f in zip(top["label_zh"], top["feature"], strict=True)], top["psi"])
        for lv, style in ((res.summary["psi_watch"], ":"), (res.summary["psi_act"], "--")):
            ax.axvline(lv, color="grey", linestyle=style)
        ax.set_xlabel("PSI")
        plots["features"] = svg(fig)
        plots["realised"] = None
        if len(res.realised):
            fig, ax = plt.subplots(figsize=(7, 2.8))
            r = res.realised
            ax.plot(r["grade"], r["mean_pd"], "o-", label="预测 PD")
            ax.errorbar(
                r["grade"],
                r["observed_rate"],
                yerr=[
                    r["observed_rate"] - r["jeffreys_low"],
                    r["jeffreys_high"] - r["observed_rate"],
                ],
                fmt="s",
                capsize=3,
                label="实际违约率 realised",
            )
            ax.set_ylabel("违约率 default rate")
            ax.legend(frameon=False)
            plots["realised"] = svg(fig)
    return plots


def render_monitor_html(res: MonitorResult) -> str:
    """Self-contained HTML (inline SVG, Chinese labels) of a monitoring result."""
    from screening.retrain._html import render

    d = res.to_dict()
    return render(
        _TEMPLATE,
        s=res.summary,
        alerts=res.alerts,
        score_bins=d["score_bins"],
        feature_psi=d["feature_psi"],
        grades=d["grades"],
        realised=d["realised_by_grade"],
        plots=_plots(res),
    )


def write_monitor(res: MonitorResult, out: Path) -> tuple[Path, Path]:
    """Write ``monitor.json`` and ``monitor.html`` into ``out`` (each atomically)."""
    from screening.retrain._html import write_atomic

    out = Path(out)
    j, h = out / "monitor.json", out / "monitor.html"
    write_atomic(j, res.to_json())
    write_atomic(h, render_monitor_html(res))
    return j, h
