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
    st.text(alphabet="0123456789１２３４５６７８９０٣٤-+_＿ 企业Xx\x00\x1b\x0b\t", max_size=25),
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


def test_identifiers_in_any_width_or_spacing_are_scrubbed():
    """What slipped through: full-width digits (common in Chinese input), a full-width check
    letter, an ID glued to letters, separators other than a space or a dash, a spaced ID,
    and the old 15-digit ID. The rest of the text keeps its own characters."""
    leaks = [
        "身份证１１０１０５１９４９１２３１００２Ｘ",
        "手机１３８１２３４５６７８",
        "11010519491231002Ｘ",
        "ID11010519491231002X",
        "138.1234.5678",
        "138/1234/5678",
        "138—1234—5678",
        "138  1234  5678",
        "+86 138 1234 5678",
        "110105 19491231 002X",
        "110105-19491231-002x",
        "110105491231002",
        # any other grouping of one number (diff review)
        "1101 0519 4912 3100 26",
        "110105-1949-12-31-0026",
        "110105·19491231·0026",
        "138-001-38000",
        # beside another number (second diff review)
        "0371-65950000/1380 013 8000",
        "138-001-38000, 139-001-39000",
        "1101 0519 4912 3100 26、1380 013 8000",
        "成立于2015.03.18，1380 013 8000",
        # beside another number in the same run (third diff review)
        "张三 138-001-38000 0371-65950000",
        "138-001-38000 2024-05-06",
        "138 001 38000 12.5",
        "（138）0013-8000",
        "+86 (138) 0013 8000",
        "138‐0013‐8000",
        "138 - 0013 - 8000",
        # underscores (fourth diff review), half- and full-width
        "138_0013_8000",
        "138＿0013＿8000",
        "110105_19491231_002X",
        "1101_0519_4912_3100_26",
    ]
    for text in leaks:
        out = scrub_pii("联系人" + text + "号")
        assert REDACTED in out, text
        kept = "".join(c for c in out if c.isdecimal())
        assert not any(p in kept for p in ("1380", "0519", "12345678", "１３８")), (text, out)
        assert out.startswith("联系人") and out.endswith("号")
    assert (
        scrub_pii("身份证１１０１０５１９４９１２３１００２Ｘ（全角）")
        == f"身份证{REDACTED}（全角）"
    )
    series = pd.Series(leaks, dtype="str")
    assert scrub_series(series).tolist() == [scrub_pii(t) for t in leaks]


def test_codes_and_numbers_that_are_not_identifiers_stay():
    """An all-digit USCC, a 15-digit business licence number, a landline, an application
    number and a pledge registration number are not personal identifiers."""
    for text in (
        "911000001000013428",
        "410100000012345",
        "0371-65950000",
        "CN202310123456.7",
        "Y2023980012345",
        "注册资本 12000000 元",
        "注册资本 12,000,000 元",
        "编号 1234-5678-9012-3456",
        "2024.05.06 12:30",
        "注册资本 150,000,000.00 元",
        "贷款金额 150000000.00 元",
        "金额 15,000,000,000 元",
        "账号 4101 0100 0105 123",
        "注册号 4101 0000 0123 456",
        "13.5, 14.2, 15.8, 16",
        "（2024）豫01执123号",
        "(0371)6595 0000",
    ):
        assert scrub_pii(text) == text, text


def test_invisible_characters_never_reach_a_bank():
    """A bidi override shows a name backwards; zero-width characters make look-alike names."""
    series = pd.Series(["\u202e司公限有", "郑州\u200b甲\u2066公司\ufeff"], dtype="str")
    assert scrub_series(series).tolist() == ["司公限有", "郑州甲公司"]
