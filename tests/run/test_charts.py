"""Contribution waterfalls: what the chart states adds up."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from screening.run.charts import waterfall_svg

_POINTS = st.floats(-40, 40, allow_nan=False).map(lambda v: round(v, 3))


def _texts(svg: str) -> list[str]:
    """The value labels of the bars, top to bottom (base, steps, total)."""
    return re.findall(r'font-size="11">([^<]+)</text>', svg)


@given(
    base=st.floats(400, 700, allow_nan=False),
    named=st.lists(_POINTS, min_size=1, max_size=6),
    rest=st.lists(_POINTS, min_size=0, max_size=4),
)
def test_the_bars_as_shown_add_up_to_the_score_as_shown(base, named, rest):
    """Credit-officer review: each bar rounded alone missed the total by up to 0.3. The
    base and the steps as shown add up to the score as shown; the named factors show their
    own rounding (their reasons state it), the difference goes to an unnamed remainder."""
    steps = [(f"因素{i}", p) for i, p in enumerate(named)]
    steps += [(f"其他·类{i}", p) for i, p in enumerate(rest)]
    score = base + sum(p for _, p in steps)
    svg = waterfall_svg(base, steps, score)
    texts = _texts(svg)
    assert len(texts) == len(steps) + 2
    shown = [float(t) for t in texts]
    if rest:  # an unnamed remainder takes the difference
        assert round(shown[0] + sum(shown[1:-1]), 1) == round(shown[-1], 1)
    else:  # without one, only by the roundings of the named steps, base and total
        assert abs(shown[0] + sum(shown[1:-1]) - shown[-1]) <= 0.05 * (len(steps) + 2) + 1e-9
    # every number rounded as the package rounds it (numpy: the workbook, CSV and JSON)
    assert float(texts[0]) == np.round(base, 1) and float(texts[-1]) == np.round(score, 1)
    # every named factor shows the points its reason states
    got = [float(t) for t in texts[1 : 1 + len(named)]]
    assert got == [np.round(p, 1) for p in named]
    assert not any(t in ("+0.0", "-0.0") for t in texts[1:-1])
    title = re.search(r"<title>([^<]+)</title>", svg).group(1)
    assert title.endswith(f"总分 {texts[-1]}")
