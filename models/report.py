"""Self-contained HTML model report (模型报告) built on an :class:`Evaluation`.

Plots are matplotlib figures rendered to inline SVG with ``svg.fonttype='none'``: text stays
text, so the browser draws the Chinese labels with its own CJK fonts (no font needs to be
installed where the report is made, nothing is fetched from the network). A fixed
``svg.hashsalt`` and no date metadata keep the file byte-identical across reruns.
"""

from __future__ import annotations

import io
import warnings

import jinja2
import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from models.evaluation import Evaluation  # noqa: E402

# Shared by every HTML report of the project (screening imports it): deterministic SVG
# (fixed hash salt, no Date metadata) with text kept as text so the browser renders Chinese.
SVG_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "ip-whitelist",
    "font.family": ["sans-serif"],
    "font.sans-serif": [
        "Noto Sans CJK SC",
        "Source Han Sans SC",
        "Microsoft YaHei",
        "PingFang SC",
        "SimHei",
        "WenQuanYi Micro Hei",
        "DejaVu Sans",
    ],
    "axes.unicode_minus": False,
    "figure.dpi": 96,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def svg_figure(fig: plt.Figure) -> str:
    """A figure as an inline ``<svg>`` element (closes the figure)."""
    buf = io.StringIO()
    with warnings.catch_warnings():
        # Glyph warnings only concern layout metrics here; the browser renders the text.
        warnings.simplefilter("ignore", UserWarning)
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _roc(ev: Evaluation) -> str:
    fpr, tpr, _ = roc_curve(ev.y, ev.pd)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.plot(fpr, tpr, color="#1f5fa8", label=f"模型 AUC = {ev.summary['auc']:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", color="#999", lw=1, label="随机")
    ax.set_xlabel("误拒率 (好客户被判为坏, FPR)")
    ax.set_ylabel("命中率 (坏客户被识别, TPR)")
    ax.set_title("ROC 曲线")
    ax.legend(loc="lower right")
    return svg_figure(fig)


def _ks(ev: Evaluation) -> str:
    order = np.argsort(-ev.pd, kind="stable")
    y = ev.y[order]
    share = np.arange(1, len(y) + 1) / len(y)
    cum_bad = np.cumsum(y) / max(y.sum(), 1)
    cum_good = np.cumsum(1 - y) / max((1 - y).sum(), 1)
    i = int(np.argmax(cum_bad - cum_good))
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.plot(share, cum_bad, color="#c0392b", label="累计坏客户占比")
    ax.plot(share, cum_good, color="#27ae60", label="累计好客户占比")
    ax.vlines(share[i], cum_good[i], cum_bad[i], color="#333", ls=":")
    ax.set_title(f"KS 曲线 (KS = {ev.summary['ks']:.3f})")
    ax.set_xlabel("按违约概率从高到低的客户占比")
    ax.set_ylabel("累计占比")
    ax.legend(loc="lower right")
    return svg_figure(fig)


def _calibration(ev: Evaluation) -> str:
    g = ev.by_grade[ev.by_grade["n"] > 0]
    x = np.arange(len(g))
    fig, ax = plt.subplots(figsize=(5.6, 4))
    obs = g["observed_rate"].to_numpy(float)
    lo = obs - g["jeffreys_low"].to_numpy(float)
    hi = g["jeffreys_high"].to_numpy(float) - obs
    ax.errorbar(
        x,
        obs,
        yerr=[lo, hi],
        fmt="o",
        color="#c0392b",
        capsize=3,
        label="实际违约率 (95% Jeffreys 区间)",
    )
    ax.plot(x, g["mean_pd"].to_numpy(float), "s-", color="#1f5fa8", label="预测违约概率均值")
    ax.set_xticks(x, g["grade"].tolist())
    ax.set_xlabel("等级 (T1 最优)")
    ax.set_ylabel("违约率")
    ax.set_title("分等级校准: 预测 vs 实际")
    ax.legend(loc="upper left")
    return svg_figure(fig)


def _rate_by_grade(ev: Evaluation) -> str:
    g = ev.by_grade
    fig, ax = plt.subplots(figsize=(5.6, 4))
    x = np.arange(len(g))
    ax.bar(x, np.nan_to_num(g["observed_rate"].to_numpy(float)), color="#e67e22")
    for xi, (n, r) in enumerate(zip(g["n"], g["observed_rate"], strict=True)):
        if n > 0:
            ax.text(xi, float(r), f"{int(n)}户", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, g["grade"].tolist())
    ax.set_xlabel("等级 (T1 最优)")
    ax.set_ylabel("实际违约率")
    ax.set_title("各等级实际违约率 (应自 T1 至 T10 递增)")
    return svg_figure(fig)


def _shap_summary(ev: Evaluation, labels: dict[str, str], top: int = 15) -> str | None:
    C = ev.contributions
    if C is None or C.shape[1] == 0:
        return None
    order = C.abs().mean().sort_values(ascending=False).index[:top][::-1]
    rng = np.random.default_rng(0)
    sample = C.index if len(C) <= 2000 else np.sort(rng.choice(C.index, 2000, replace=False))
    fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(order) + 1.4))
    for i, feat in enumerate(order):
        pts = C.loc[sample, feat].to_numpy(float)
        colour = np.full(len(pts), 0.5)
        vals = None if ev.feature_values is None else ev.feature_values.get(feat)
        if vals is not None:
            numeric = pd.api.types.is_numeric_dtype(vals.dtype)
            v = (
                vals.loc[sample].astype("Float64").to_numpy(float, na_value=np.nan)
                if numeric
                else None
            )
            if v is not None and np.isfinite(v).any():
                ranks = np.argsort(np.argsort(np.nan_to_num(v, nan=np.nanmedian(v))))
                colour = ranks / max(len(ranks) - 1, 1)
        jitter = rng.uniform(-0.3, 0.3, len(pts))
        ax.scatter(
            pts,
            i + jitter,
            c=colour,
            cmap="coolwarm",
            s=4,
            alpha=0.6,
            linewidths=0,
            rasterized=True,
        )
    ax.axvline(0, color="#666", lw=0.8)
    ax.set_yticks(range(len(order)), [labels.get(f, f) for f in order])
    ax.set_xlabel("对评分的贡献 (分); 颜色: 特征取值 低(蓝) → 高(红)")
    ax.set_title("特征贡献分布 (SHAP 摘要)")
    return svg_figure(fig)


def _score_hist(ev: Evaluation) -> str | None:
    if ev.score is None or ev.score_reference is None:
        return None
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    bins = np.histogram_bin_edges(np.concatenate([ev.score, ev.score_reference]), bins=30)
    ax.hist(ev.score_reference, bins=bins, density=True, alpha=0.5, label="训练样本")
    ax.hist(ev.score, bins=bins, density=True, alpha=0.5, label="验证样本")
    ax.set_xlabel("评分")
    ax.set_ylabel("密度")
    psi = ev.summary.get("psi_score")
    ax.set_title(f"评分分布 (PSI = {psi:.3f})" if psi is not None else "评分分布")
    ax.legend()
    return svg_figure(fig)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("models", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )


def render_model_report(
    evaluation: Evaluation, card: dict, *, title: str = "模型报告 / Model report"
) -> str:
    """HTML report of a fitted model: metrics, calibration by grade, plots, importance.

    Parameters
    ----------
    evaluation : Evaluation
        From ``LearnedModel.evaluation_`` or :func:`models.evaluate` (with its arrays).
    card : dict
        The model card (``model.card_``).

    Returns
    -------
    str
        A self-contained HTML document (inline SVG, no external resources).
    """
    labels = {f["name"]: f.get("label_zh", f["name"]) for f in card.get("features", [])}
    with plt.rc_context(SVG_RC):
        plots = {
            "roc": _roc(evaluation),
            "ks": _ks(evaluation),
            "calibration": _calibration(evaluation) if len(evaluation.by_grade) else None,
            "rate_by_grade": _rate_by_grade(evaluation) if len(evaluation.by_grade) else None,
            "shap": _shap_summary(evaluation, labels),
            "score_hist": _score_hist(evaluation),
        }
    fi = evaluation.feature_importance.head(30).copy()
    if len(fi):
        fi.insert(1, "label_zh", [labels.get(f, "") for f in fi["feature"]])
    return (
        _env()
        .get_template("model_report.html.j2")
        .render(
            title=title,
            card=card,
            summary=evaluation.summary,
            by_grade=evaluation.by_grade.to_dict(orient="records"),
            importance=fi.to_dict(orient="records"),
            warnings=evaluation.warnings,
            plots=plots,
        )
    )
