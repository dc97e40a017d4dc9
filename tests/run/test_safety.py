"""Formula injection and personal identifiers never leave in an export."""

from __future__ import annotations

import hypothesis.strategies as st
import pandas as pd
from hypothesis import given

from screening.run.safety import (
    REDACTED,
    neutralise_formula,
    neutralise_frame,
    scrub_pii,
    scrub_series,
)


@given(st.text(max_size=30))
def test_neutralised_text_never_starts_a_formula(text):
    out = neutralise_formula(text)
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert out.endswith(text)


def test_frame_neutralises_text_columns_only():
    frame = pd.DataFrame(
        {"name": ["=1+1", "@SUM(A1)", "正常", "-2", "+86"], "score": [-1.0, 2, 3, 4, 5]}
    )
    out = neutralise_frame(frame)
    assert out["name"].tolist() == ["'=1+1", "'@SUM(A1)", "正常", "'-2", "'+86"]
    assert out["score"].tolist() == [-1.0, 2, 3, 4, 5]


def test_scrub_ids_and_mobiles_but_not_uscc_or_landlines():
    text = "法人 410102199003071234 手机 13912345678 / +86 139-1234-5678，代码 911000001000013428，电话 0371-65950000"
    out = scrub_pii(text)
    assert out == (
        f"法人 {REDACTED} 手机 {REDACTED} / {REDACTED}，代码 911000001000013428，电话 0371-65950000"
    )
    assert scrub_series(pd.Series([text, None], dtype="str")).iloc[0] == out
    assert scrub_pii(None) is None


@given(
    st.from_regex(
        r"[1-9]\d{5}(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|1\d|2[0-8])\d{3}[0-9X]", fullmatch=True
    ),
    st.text(alphabet="企业名称有限公司", max_size=5),
)
def test_any_id_card_is_scrubbed(idcard, prefix):
    assert idcard not in scrub_pii(prefix + idcard + "。")


_PIECES = st.one_of(
    st.text(alphabet="0123456789１２３４５６７８９０٣٤-+ 企业Xx\x00\x1b\x0b\t", max_size=25),
    st.from_regex(
        r"[1-9]\d{5}(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|1\d|2[0-8])\d{3}[0-9X]", fullmatch=True
    ),
    st.from_regex(r"(\+?86)?1[3-9]\d{9}", fullmatch=True),
)


@given(st.lists(st.lists(_PIECES, max_size=4).map("".join), max_size=8))
def test_vectorised_scrub_equals_the_scalar_one(texts):
    """scrub_series (an Arrow digit-count prefilter, then the regexes on the few cells with
    11+ digits) gives what scrub_pii gives cell by cell, whatever the digits' script."""
    series = pd.Series([*texts, None], dtype="str")
    want = [scrub_pii(t) for t in texts]
    assert scrub_series(series).tolist()[: len(texts)] == want
    assert pd.isna(scrub_series(series).iloc[-1])


def test_control_characters_never_reach_a_bank():
    """NUL, ESC and vertical tab in a firm name are dropped (they break CSV readers and show
    as _x0000_ in Excel); a tab stays."""
    series = pd.Series(["郑州\x00甲\x1b公司\x0b", "乙\t公司"], dtype="str")
    assert scrub_series(series).tolist() == ["郑州甲公司", "乙\t公司"]
    assert scrub_pii("丙\x00公司") == "丙公司"
