"""Selection: thresholds, caps, nominations (上下联动) and deterministic order."""

from __future__ import annotations

from dataclasses import replace

import hypothesis.strategies as st
import numpy as np
import pandas as pd
from hypothesis import given, settings

from screening.run.config import SelectionConfig
from screening.run.selection import nomination_sources, select


def _scored(n=6):
    return pd.DataFrame(
        {
            "uscc": [f"U{i:02d}" for i in range(n)],
            "name": [f"企业{i}" for i in range(n)],
            "region_code": ["410100", "410100", "410100", "410300", "410300", "410200"][:n],
            "park": ["P1", "P1", None, "P2", None, None][:n],
            "score": [650.0, 650.0, 640.0, 630.0, 600.0, 590.0][:n],
            "pd": [0.003, 0.002, 0.004, 0.006, 0.02, 0.03][:n],
            "grade": ["T3", "T3", "T3", "T4", "T6", "T6"][:n],
        }
    )


NO_NOMS = nomination_sources(
    pd.DataFrame({"uscc": pd.Series(dtype="str"), "nominated_by": pd.Series(dtype="str")})
)


def test_threshold_and_tie_break():
    out = select(_scored(), pd.Index([]), NO_NOMS, SelectionConfig(min_grade="T5"))
    # equal scores: lower PD first, then uscc
    assert list(out["uscc"]) == ["U01", "U00", "U02", "U03", "U04", "U05"]
    assert list(out["status"]) == ["whitelisted"] * 4 + ["below_threshold"] * 2
    assert list(out["rank"]) == [1, 2, 3, 4, 5, 6]


def test_max_pd_and_knockouts():
    out = select(
        _scored(), pd.Index(["U01"]), NO_NOMS, SelectionConfig(min_grade=None, max_pd=0.004)
    )
    status = dict(zip(out["uscc"], out["status"], strict=True))
    assert status == {
        "U00": "whitelisted",
        "U01": "knocked_out",
        "U02": "whitelisted",
        "U03": "below_threshold",
        "U04": "below_threshold",
        "U05": "below_threshold",
    }
    assert out.loc[out["uscc"] == "U01", "rank"].isna().all()


def test_region_and_park_caps():
    cfg = SelectionConfig(min_grade="T5", region_caps=(("410100", 2),), park_caps=(("P2", 0),))
    out = select(_scored(), pd.Index([]), NO_NOMS, cfg).set_index("uscc")
    assert out.loc[["U01", "U00", "U02", "U03"], "status"].tolist() == [
        "whitelisted",
        "whitelisted",
        "below_threshold",
        "below_threshold",
    ]
    assert "超出地区名额" in out.at["U02", "selection_note"]
    assert "超出园区名额" in out.at["U03", "selection_note"]


def test_nominations_marked_and_bypass_switch():
    noms = nomination_sources(
        pd.DataFrame(
            {"uscc": ["U04", "U04", "U05"], "nominated_by": ["开封市局", "郑州高新区", "开封市局"]}
        )
    )
    assert noms.set_index("uscc").at["U04", "nominated_by"] == "开封市局;郑州高新区"
    strict = select(_scored(), pd.Index(["U05"]), noms, SelectionConfig(min_grade="T5")).set_index(
        "uscc"
    )
    assert strict.at["U04", "status"] == "below_threshold" and strict.at["U04", "nominated"]
    assert strict.at["U05", "status"] == "knocked_out" and strict.at["U05", "nominated"]
    cfg = SelectionConfig(
        min_grade="T5", nominations_bypass_threshold=True, region_caps=(("410300", 1),)
    )
    loose = select(_scored(), pd.Index(["U05"]), noms, cfg).set_index("uscc")
    # bypassing nominations get a place even beyond the cap; knocked-out ones never do
    assert loose.at["U04", "status"] == "whitelisted"
    assert loose.at["U05", "status"] == "knocked_out"
    assert loose.at["U03", "status"] == "below_threshold"


firms = st.lists(
    st.tuples(
        st.integers(550, 700),
        st.sampled_from(["410100", "410200", "410300"]),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(firms, st.integers(0, 5), st.booleans(), st.randoms(use_true_random=False))
def test_invariants(rows, cap, bypass, rnd):
    n = len(rows)
    score = np.array([r[0] for r in rows], dtype=float)
    scored = pd.DataFrame(
        {
            "uscc": [f"U{i:03d}" for i in range(n)],
            "name": "x",
            "region_code": [r[1] for r in rows],
            "park": None,
            "score": score,
            "pd": 1 / (1 + 50 * 2 ** ((score - 600) / 20)),
            "grade": [f"T{int(np.clip((700 - s) // 20 + 1, 1, 10))}" for s in score],
        }
    )
    ko = pd.Index(scored["uscc"][[r[2] for r in rows]])
    noms = nomination_sources(
        pd.DataFrame({"uscc": scored["uscc"][[r[3] for r in rows]], "nominated_by": "市局"})
    )
    cfg = SelectionConfig(
        min_grade="T5", region_caps=(("410100", cap),), nominations_bypass_threshold=bypass
    )
    out = select(scored, ko, noms, cfg)
    # every firm exactly once, knocked-out firms never whitelisted
    assert sorted(out["uscc"]) == sorted(scored["uscc"])
    assert not out.loc[out["uscc"].isin(ko), "status"].eq("whitelisted").any()
    # the cap holds for firms that did not bypass
    capped = out[(out["region_code"] == "410100") & (out["status"] == "whitelisted")]
    bypassing = capped["nominated"] & bypass
    assert len(capped) <= cap + bypassing.sum()
    # input order does not matter
    shuffled = scored.sample(frac=1, random_state=rnd.randint(0, 10**6)).reset_index(drop=True)
    again = select(shuffled, ko, noms, cfg)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), again.reset_index(drop=True))
    # a stricter grade never adds firms
    stricter = select(scored, ko, noms, replace(cfg, min_grade="T3"))
    assert set(stricter.loc[stricter["status"] == "whitelisted", "uscc"]) <= set(
        out.loc[out["status"] == "whitelisted", "uscc"]
    ) | set(noms["uscc"])


def test_a_city_cap_covers_its_districts_and_a_province_cap_its_cities():
    """Registry codes are often districts (410105 in 郑州市 410100): a city's cap matched
    only the exact code, so 44 firms of a district went over a quota of 20."""
    from screening.run.selection import region_prefix, unmatched_caps

    scored = _scored().assign(
        region_code=["410105", "410100", "410102", "410300", "410322", "410200"]
    )
    cfg = SelectionConfig(min_grade=None, region_caps=(("410100", 2), ("410322", 0)))
    out = select(scored, pd.Index([]), NO_NOMS, cfg)
    status = dict(zip(out["uscc"], out["status"], strict=True))
    # 郑州 (410100, 410102, 410105): the first two in selection order; 410322 is closed;
    # 410300 itself has no cap of its own and 410322's does not reach it
    assert [status[u] for u in ("U01", "U00", "U02")] == [
        "whitelisted",
        "whitelisted",
        "below_threshold",
    ]
    assert status["U04"] == "below_threshold" and status["U03"] == "whitelisted"
    note = out.set_index("uscc")["selection_note"]
    assert note["U02"] == "超出地区名额（region_code 410100 上限 2）"
    # a province cap and a district cap both bind a district firm
    both = SelectionConfig(min_grade=None, region_caps=(("410000", 3), ("410105", 0)))
    out = select(scored, pd.Index([]), NO_NOMS, both)
    status = dict(zip(out["uscc"], out["status"], strict=True))
    assert status["U00"] == "below_threshold"
    assert sum(s == "whitelisted" for s in status.values()) == 3
    assert [region_prefix(c) for c in ("410000", "410100", "410105")] == ["41", "4101", "410105"]
    # a cap that covers no firm limits nothing, and the run says so
    stray = SelectionConfig(
        region_caps=(("999999", 5), ("410100", 9)), park_caps=(("郑州高新区", 3),)
    )
    assert unmatched_caps(scored, stray) == [
        "selection.region_caps 中的“999999”不对应任何登记企业，该名额限制不起作用（请核对名称或代码）",
        "selection.park_caps 中的“郑州高新区”不对应任何登记企业，该名额限制不起作用（请核对名称或代码）",
    ]


def test_a_nomination_dated_after_as_of_is_not_known_yet():
    noms = pd.DataFrame(
        {
            "uscc": ["U1", "U2", "U3", None],
            "nominated_by": ["郑州高新区", "洛阳市", None, "开封市"],
            "nominated_on": pd.to_datetime(["2026-09-01", "2026-12-01", None, "2026-01-01"]),
        }
    )
    got = nomination_sources(noms, pd.Timestamp("2026-09-30"))
    assert got["uscc"].tolist() == ["U1", "U3"]  # U2 later, U3 undated, the last unlinked
    # each source with when it nominated the firm (credit-officer review)
    assert got["nominated_by"].tolist() == ["郑州高新区（2026-09-01）", "未注明"]
    assert nomination_sources(noms)["uscc"].tolist() == ["U1", "U2", "U3"]


def test_a_nomination_names_its_source_and_date_never_its_note():
    """The 备注 is free text that may name a person or an e-mail (diff review): it never
    reaches a bank."""
    noms = pd.DataFrame(
        {
            "uscc": ["U1", "U1", "U2"],
            "nominated_by": ["开封市知识产权局", "郑州高新区", "洛阳市"],
            "nominated_on": pd.to_datetime(["2026-08-01", None, None]),
            "note": ["首贷培育，联系人王伟 wangwei@kf.gov.cn", None, "  "],
        }
    )
    got = nomination_sources(noms, pd.Timestamp("2026-09-30")).set_index("uscc")["nominated_by"]
    assert got["U1"] == "开封市知识产权局（2026-08-01）;郑州高新区"
    assert got["U2"] == "洛阳市"
