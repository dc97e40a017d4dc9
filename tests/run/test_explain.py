"""Explanations: Chinese texts in points with value and peer percentile; grouped duplicates."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from screening.run.explain import explain, factor_groups, reasons_wide
from tests.run._data import SPECS

FEATS = [
    "valid_invention_count",
    "peer_pct_valid_invention_count",
    "forward_citations_per_year",
    "credit_negative_3y_count",
    "prog_high_tech",
    "firm_age_years",
]


def test_text_reads_like_a_credit_officer_expects():
    contributions = pd.DataFrame([[30.0, 8.0, -4.0, -15.0, 12.0, 0.5]], columns=FEATS)
    values = pd.DataFrame([[12.0, 85.0, 0.4, 1.0, 1.0, 6.0]], columns=FEATS)
    pct = pd.DataFrame([[85.0, np.nan, 20.0, 90.0, np.nan, 40.0]], columns=FEATS)
    lead_of = factor_groups(FEATS, specs=SPECS)
    out = explain(contributions, values, pct, ["U1"], specs=SPECS, lead_of=lead_of, top_k=3)
    up = out.loc[out["direction"] == "up", "text"].tolist()
    down = out.loc[out["direction"] == "down", "text"].tolist()
    assert up == [
        "有效发明专利数 12 件（高于同行业 85% 企业，含同类指标 2 项），+38.0 分",
        "高新技术企业：是，+12.0 分",
        "企业成立年限 6.0 年（高于同行业 40% 企业），+0.5 分",
    ]
    assert down == [
        "近3年负面信用记录数 1 条（高于同行业 90% 企业），-15.0 分",
        "前向被引率 0.40 次/年（高于同行业 20% 企业），-4.0 分",
    ]
    wide = reasons_wide(out).set_index("uscc")
    assert wide.at["U1", "reasons_up"].count("；") == 2


def test_percentile_field_is_the_number_the_text_shows_and_days_are_whole():
    """The text says "高于同行业 98%" for a percentile of 98.7 (never more than the data),
    and the reasons' percentile field is that same 98, not a rounded 99."""
    from features.registry import by_name

    feats = ["valid_invention_count", "credit_days_since_negative"]
    specs = {**SPECS, "credit_days_since_negative": by_name()["credit_days_since_negative"]}
    contributions = pd.DataFrame([[30.0, 9.0]], columns=feats)
    values = pd.DataFrame([[12.0, 299.0]], columns=feats)
    pct = pd.DataFrame([[98.7, 99.6]], columns=feats)
    lead_of = factor_groups(feats, specs=specs)
    out = explain(contributions, values, pct, ["U1"], specs=specs, lead_of=lead_of, top_k=3)
    first = out.loc[out["points"] == 30.0].iloc[0]
    assert "高于同行业 98% 企业" in first["text"] and first["percentile"] == 98
    days = out.loc[out["points"] == 9.0, "text"].iloc[0]
    assert days.startswith("距最近负面记录天数 299 天")


def test_correlated_features_merge_into_one_factor():
    rng = np.random.default_rng(0)
    base = rng.poisson(5, 500).astype(float)
    sample = pd.DataFrame(
        {
            "valid_invention_count": base,
            "forward_citations_per_year": base * 0.1 + 1e-9,
            "firm_age_years": rng.normal(8, 2, 500),
        }
    )
    lead_of = factor_groups(list(sample.columns), specs=SPECS, sample=sample, threshold=0.95)
    assert lead_of["forward_citations_per_year"] == "valid_invention_count"
    assert lead_of["firm_age_years"] == "firm_age_years"
    with pytest.raises(ValueError, match=r"'threshold' parameter must be in \(0, 1\]"):
        factor_groups(FEATS, specs=SPECS, threshold=0)


def test_a_merged_factor_names_the_member_that_carries_its_points():
    """Two merged features: each firm's reason names the one whose points it states."""
    feats = ["valid_invention_count", "peer_pct_valid_invention_count",
             "forward_citations_per_year"]  # fmt: skip
    lead_of = {f: "valid_invention_count" for f in feats}
    contributions = pd.DataFrame(
        [[0.1, 0.0, 4.0], [3.0, 2.0, 1.0], [-0.5, 0.0, -3.0]], columns=feats
    )
    values = pd.DataFrame([[1.0, 20.0, 0.8], [9.0, 70.0, 0.1], [0.0, 0.0, 0.0]], columns=feats)
    pct = pd.DataFrame([[20.0, np.nan, 90.0], [70.0, np.nan, 30.0], [5.0, np.nan, 2.0]],
                       columns=feats)  # fmt: skip
    out = explain(contributions, values, pct, ["U1", "U2", "U3"], specs=SPECS,
                  lead_of=lead_of, top_k=3).set_index("uscc")  # fmt: skip
    assert out.at["U1", "factor"] == "forward_citations_per_year"
    assert (
        out.at["U1", "text"]
        == "前向被引率 0.80 次/年（高于同行业 90% 企业，含同类指标 3 项），+4.1 分"
    )
    # the count and its own percentile's points (3 + 2) outweigh the citations' 1
    assert out.at["U2", "factor"] == "valid_invention_count"
    assert out.at["U2", "text"].startswith("有效发明专利数 9 件（高于同行业 70% 企业")
    assert out.at["U3", "factor"] == "forward_citations_per_year"  # lowering: most negative


def test_bad_top_k():
    c = pd.DataFrame([[1.0]], columns=["firm_age_years"])
    with pytest.raises(ValueError, match="'top_k' parameter must be a positive int"):
        explain(c, c, c, ["U"], specs=SPECS, lead_of={}, top_k=0)


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.just(len(FEATS))),
        elements=st.floats(-50, 50, allow_nan=False),
    ),
    st.integers(1, 4),
)
def test_reason_invariants(points, k):
    contributions = pd.DataFrame(points, columns=FEATS)
    values = pd.DataFrame(np.abs(points), columns=FEATS)
    pct = pd.DataFrame(np.full(points.shape, np.nan), columns=FEATS)
    lead_of = factor_groups(FEATS, specs=SPECS)
    uscc = [f"U{i}" for i in range(len(points))]
    out = explain(contributions, values, pct, uscc, specs=SPECS, lead_of=lead_of, top_k=k)
    grouped = contributions.copy()
    grouped["valid_invention_count"] += grouped.pop("peer_pct_valid_invention_count")
    for i, u in enumerate(uscc):
        mine = out[out["uscc"] == u]
        for direction, sign in (("up", 1), ("down", -1)):
            d = mine[mine["direction"] == direction]
            assert len(d) <= k
            assert (sign * d["points"] >= 0.05).all()
            assert list(d["slot"]) == list(range(1, len(d) + 1))
            # the reasons are exactly the k largest group points of that sign
            row = grouped.iloc[i]
            best = sorted((sign * row[row * sign >= 0.05]).tolist(), reverse=True)[:k]
            assert np.allclose(sorted((sign * d["points"]).tolist(), reverse=True), best)
            assert all(t.endswith("分") for t in d["text"])


def test_a_share_without_an_upper_bound_is_still_a_fraction():
    """R&D intensity is R&D expense ÷ revenue (0.041 = 4.1 %), with no upper bound in the
    registry: it read "研发投入强度 0%（高于同行业 99% 企业）" for a firm at the top of its peers.
    Shares keep whole percent from 10 %, and a small non-zero share never reads 0 %."""
    from features.registry import by_name

    feats = ["firm_rd_intensity", "invention_share", "currently_pledged_share"]
    specs = {name: by_name()[name] for name in feats}
    contributions = pd.DataFrame([[18.0, 9.0, 4.0], [2.0, 3.0, 1.0]], columns=feats)
    values = pd.DataFrame([[0.041, 0.4567, 0.0], [1.25, 0.004, 0.0996]], columns=feats)
    pct = pd.DataFrame([[99.0, 60.0, 0.0], [99.0, 3.0, 50.0]], columns=feats)
    lead_of = factor_groups(feats, specs=specs)
    out = explain(contributions, values, pct, ["U1", "U2"], specs=specs, lead_of=lead_of, top_k=3)
    texts = dict(zip(zip(out["uscc"], out["points"], strict=True), out["text"], strict=True))
    assert texts["U1", 18.0].startswith("研发投入强度 4.1%（")
    assert texts["U1", 9.0].startswith("发明占比 46%（")
    assert texts["U1", 4.0].startswith("当前在押占比 0%（")
    assert texts["U2", 2.0].startswith("研发投入强度 125%（")
    assert texts["U2", 3.0].startswith("发明占比 0.4%（")
    assert texts["U2", 1.0].startswith("当前在押占比 10%（")


def test_peer_wording_follows_the_better_direction_and_ties():
    """A risk factor at the lowest value says it is the best place, and a value no peer
    beats is the highest however many peers share it (89 % of peers at 100 % made it "高于同行业
    11% 企业"; 0 disputes read "处于同行业最低水平" next to +3 分)."""
    from features.registry import by_name

    feats = ["self_filed_share", "preservation_litigation_count", "valid_invention_count"]
    specs = {name: by_name()[name] for name in feats}
    assert [specs[f].direction for f in feats] == [1, -1, 1]
    contributions = pd.DataFrame([[2.0, 3.0, -1.0], [1.0, -2.0, 4.0]], columns=feats)
    values = pd.DataFrame([[1.0, 0.0, 0.0], [0.5, 2.0, 7.0]], columns=feats)
    lower = pd.DataFrame([[11.0, 0.0, 0.0], [40.0, 70.0, 60.0]], columns=feats)
    higher = pd.DataFrame([[0.0, 20.0, 55.0], [30.0, 10.0, 35.5]], columns=feats)
    lead_of = factor_groups(feats, specs=specs)
    out = explain(
        contributions, values, lower, ["U1", "U2"], specs=specs, lead_of=lead_of, higher=higher
    )
    text = dict(zip(zip(out["uscc"], out["factor"], strict=True), out["text"], strict=True))
    assert "（为同行业最高水平）" in text["U1", "self_filed_share"]
    assert "（为同行业最低（最优）水平）" in text["U1", "preservation_litigation_count"]
    assert "（为同行业最低水平）" in text["U1", "valid_invention_count"]
    assert "（高于同行业 40% 企业）" in text["U2", "self_filed_share"]
    assert "（高于同行业 70% 企业）" in text["U2", "preservation_litigation_count"]
    assert "（高于同行业 60% 企业）" in text["U2", "valid_invention_count"]
    row = out.loc[(out["uscc"] == "U2") & (out["factor"] == "valid_invention_count")].iloc[0]
    assert (row["percentile"], row["percentile_higher"]) == (60.0, 36.0)


def test_unnamed_points_are_split_by_registry_group():
    """The waterfall's one 其他加分因素 bar held 64–81 % of a firm's plus points: the rest is
    also returned per registry group, and the groups add up to it."""
    from features.registry import by_name

    feats = [
        "valid_invention_count",
        "forward_citations_per_year",
        "prog_high_tech",
        "firm_age_years",
        "credit_negative_3y_count",
        "invention_share",
    ]
    specs = {name: by_name()[name] for name in feats}
    contributions = pd.DataFrame([[9.0, 4.0, 3.0, 2.0, -1.0, 1.5]], columns=feats)
    values = pd.DataFrame([[12.0, 0.4, 1.0, 6.0, 1.0, 0.5]], columns=feats)
    lead_of = factor_groups(feats, specs=specs)
    _, rest = explain(
        contributions,
        values,
        pd.DataFrame(index=values.index),
        ["U1"],
        specs=specs,
        lead_of=lead_of,
        top_k=2,
        with_rest=True,
    )
    row = rest.iloc[0]
    # shown: 9 and 4 up, -1 down; unshown up: programme 3, firm 2, structure 1.5
    assert row["other_up"] == pytest.approx(6.5) and row["other_down"] == 0
    assert row["up:programme"] == 3 and row["up:firm"] == 2 and row["up:structure"] == 1.5
    groups = [c for c in rest.columns if c.startswith("up:")]
    assert sum(row[c] for c in groups) == pytest.approx(row["other_up"])


def test_extremes_are_exact_and_small_peer_groups_say_all_firms():
    """0.5 % of peers higher is not "the highest" (rounding made 46 of 75 such texts false),
    and a firm ranked among all screened firms (its section too small) says so."""
    from features.registry import by_name

    feats = ["valid_invention_count", "self_filed_share"]
    specs = {name: by_name()[name] for name in feats}
    contributions = pd.DataFrame([[9.0, 2.0], [4.0, 1.0]], columns=feats)
    values = pd.DataFrame([[44.0, 1.0], [3.0, 0.5]], columns=feats)
    lower = pd.DataFrame([[99.4, 0.6], [60.0, 0.0]], columns=feats)
    higher = pd.DataFrame([[0.5, 0.0], [30.0, 0.0]], columns=feats)
    pooled = pd.DataFrame([[False, False], [True, True]], columns=feats)
    out = explain(
        contributions,
        values,
        lower,
        ["U1", "U2"],
        specs=specs,
        lead_of=factor_groups(feats, specs=specs),
        higher=higher,
        pooled=pooled,
    )
    text = dict(zip(zip(out["uscc"], out["factor"], strict=True), out["text"], strict=True))
    assert "（高于同行业 99% 企业）" in text["U1", "valid_invention_count"]
    assert "（为同行业最高水平）" in text["U1", "self_filed_share"]
    assert "（高于 60% 的参评企业）" in text["U2", "valid_invention_count"]
    assert "（与参评企业持平）" in text["U2", "self_filed_share"]
    lone = explain(
        contributions.iloc[:1],
        values.iloc[:1],
        lower.iloc[:1].assign(valid_invention_count=0.4),
        ["U3"],
        specs=specs,
        lead_of=factor_groups(feats, specs=specs),
        higher=higher.iloc[:1].assign(valid_invention_count=50.0),
    )
    assert "（高于同行业不到 1% 的企业）" in lone["text"].iloc[0]


def test_against_a_typical_peer_without_a_value_the_text_tells_no_percentile():
    """Most of the section never pledged: a firm with a ratio is told against that typical
    firm (no ratio), and the text does not quote a percentile among the few with one."""
    feats = ["valid_invention_count", "forward_citations_per_year"]
    contributions = pd.DataFrame([[3.0, 4.1]], columns=feats)
    values = pd.DataFrame([[5.0, 0.8]], columns=feats)
    pct = pd.DataFrame([[60.0, 37.0]], columns=feats)
    higher = pd.DataFrame([[30.0, 62.0]], columns=feats)
    lead_of = factor_groups(feats, specs=SPECS)
    none = pd.DataFrame([[False, True]], columns=feats)
    out = explain(contributions, values, pct, ["U1"], specs=SPECS, lead_of=lead_of,
                  higher=higher, no_typical=none).set_index("factor")  # fmt: skip
    assert out.at["forward_citations_per_year", "text"] == (
        "前向被引率 0.80 次/年（同行业多数企业无此项数据），+4.1 分"
    )
    assert np.isnan(out.at["forward_citations_per_year", "percentile"])
    assert out.at["valid_invention_count", "percentile"] == 60
    assert "高于同行业 60% 企业" in out.at["valid_invention_count", "text"]


def test_the_points_a_text_states_are_the_packaged_points():
    """Diff review: a reason of 0.35 points read "+0.3 分" (Python's rounding of the binary
    0.3499…) while the package's points field and the 评分理由 breakdown rounded it to 0.4
    (numpy), so the row did not add up. Texts take the numbers the package shows."""
    feats = ["valid_invention_count", "prog_high_tech"]
    contributions = pd.DataFrame([[0.35, 0.25]], columns=feats)
    values = pd.DataFrame([[3.0, 1.0]], columns=feats)
    pct = pd.DataFrame([[50.0, np.nan]], columns=feats)
    lead_of = factor_groups(feats, specs=SPECS)
    out = explain(contributions, values, pct, ["U1"], specs=SPECS, lead_of=lead_of, top_k=3)
    for text, points in zip(out["text"], out["points"].round(1), strict=True):
        assert text.endswith(f"{points:+.1f} 分"), (text, points)
    assert out["text"].iloc[0].endswith("+0.4 分")
