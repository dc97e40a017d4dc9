"""Contribution waterfall charts as inline SVG (matplotlib, text kept as text).

``svg.fonttype='none'`` keeps Chinese labels as ``<text>`` so the browser renders them
with a CJK font; a fixed ``svg.hashsalt`` and no date metadata make the SVG byte-identical
across reruns. Layout uses fixed margins (no tight_layout) so it never depends on which
fonts matplotlib happens to find.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "ip-whitelist",
    "font.family": "sans-serif",
    "font.sans-serif": [
        "Noto Sans CJK SC",
        "Source Han Sans SC",
        "Microsoft YaHei",
        "PingFang SC",
        "DejaVu Sans",
    ],
    "font.size": 9,
}
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)
_UP, _DOWN, _TOTAL = "#2e7d32", "#c62828", "#1f4e79"


def waterfall_svg(
    base_points: float,
    steps: Sequence[tuple[str, float]],
    score: float,
    *,
    title: str = "",
) -> str:
    """An inline ``<svg>`` waterfall: base points, each factor's points, the final score.

    Parameters
    ----------
    base_points : float
        Where every firm starts.
    steps : sequence of (label, points)
        Factors in display order (e.g. top raising, top lowering, then 其他因素).
    score : float
        The final score (``base_points`` + all points).
    title : str
        Chart title (escaped by matplotlib).
    """
    labels = ["基础分", *(label for label, _ in steps), "总分"]
    lefts, widths, colors = [0.0], [base_points], [_TOTAL]
    running = base_points
    for _, points in steps:
        lefts.append(running if points >= 0 else running + points)
        widths.append(abs(points))
        colors.append(_UP if points >= 0 else _DOWN)
        running += points
    lefts.append(0.0)
    widths.append(score)
    colors.append(_TOTAL)
    ends = [base_points, score] + [lf + w for lf, w in zip(lefts[1:-1], widths[1:-1], strict=True)]
    starts = [lf for lf in lefts[1:-1]] + [base_points, score]
    lo = min(starts + ends)
    hi = max(starts + ends)
    pad = max((hi - lo) * 0.15, 5.0)
    n = len(labels)
    with matplotlib.rc_context(_RC), warnings.catch_warnings():
        # Glyph-missing warnings are harmless: the SVG keeps text, the browser picks a font.
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(6.4, 0.32 * n + 0.9))
        ax = fig.add_axes((0.36, 0.12, 0.6, 0.78))
        y = list(range(n))[::-1]
        ax.barh(y, widths, left=lefts, color=colors, height=0.6)
        for yi, lf, w, (lab_pts) in zip(
            y, lefts, widths, [None, *(p for _, p in steps), None], strict=True
        ):
            text = f"{lf + w:.0f}" if lab_pts is None else f"{lab_pts:+.1f}"
            ax.text(lf + w + pad * 0.05, yi, text, va="center", fontsize=8)
        ax.set_yticks(y, labels)
        ax.set_xlim(max(0.0, lo - pad), hi + pad)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_xlabel("分")
        if title:
            ax.set_title(title, fontsize=10, loc="left")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _PROLOGUE.sub("", buf.getvalue(), count=1)
