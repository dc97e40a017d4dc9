"""What may leave the building: formula-injection neutralisation and personal-data scrubbing.

A firm name must never execute in a credit officer's spreadsheet, and nothing pushed to a
bank may carry an individual's ID-card number or mobile number.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import INVISIBLE

# Cells Excel (and LibreOffice) treat as formulas or DDE when they start with these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Patterns run on an ASCII view of the text (:func:`_ascii_view`: every decimal digit,
# full-width ones too, as its ASCII digit; full-width X, spaces and dashes half-width), so
# that ０ and 0 are the same digit; the view has the text's length, so spans map back.
# Between digit groups a writer may put up to two separators (space, dash, dot, slash,
# underscore).
_SEP = r"[-\s./_]{0,2}"
# The shapes the patterns below share: a region code, a month and day, a birth date of
# 18xx/19xx/20xx (which keeps an all-digit USCC such as 911000001000013428 from reading as
# an ID), and a mobile prefix (13–19).
_REGION = r"[1-9][0-9]{5}"
_MMDD = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_BIRTH = rf"(?:18|19|20)[0-9]{{2}}{_MMDD}"
_MOBILE_HEAD = r"1[3-9][0-9]"
# 18-digit resident ID: region, birth date, 3-digit sequence, check. Letters around it do
# not protect it (``ID11010519491231002X``).
_ID_CARD = re.compile(rf"(?<![0-9]){_REGION}{_SEP}{_BIRTH}{_SEP}[0-9]{{3}}[0-9Xx](?![0-9])")
# 15-digit resident ID (issued before 1999): region, yymmdd, 3-digit sequence.
_ID_CARD_15 = re.compile(rf"(?<![0-9]){_REGION}{_SEP}[0-9]{{2}}{_MMDD}{_SEP}[0-9]{{3}}(?![0-9Xx])")
# Mainland mobile numbers (11 digits starting 13–19), optionally with +86 / 86 prefix.
_MOBILE = re.compile(
    rf"(?<![0-9])(?:\+?86{_SEP})?{_MOBILE_HEAD}{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}}(?![0-9])"
)
_PII = (_ID_CARD, _ID_CARD_15, _MOBILE)
# A run of digits with spaces, dashes, dots, underscores or middle dots between them (``1101 0519 4912
# 3100 26``, ``110105-1949-12-31-0026``, ``138-001-38000``): its digits alone, separators
# dropped, are tested whole against these. The patterns above catch the usual groupings
# inside longer text; this catches any other grouping of one number. Commas, 、 and slashes
# end a run (they separate numbers, and group amounts), and so does a dot before a last
# group of one or two digits (``150000000.00`` is an amount, not a mobile number). The old
# 15-digit ID is left to the pattern above (6-6-3 or unbroken): regrouped, many 15-digit
# account and licence numbers have its shape.
_RUN = re.compile(
    r"(?<![0-9])\+?[0-9](?:[- \t._·・()（）]{0,3}[0-9])*(?:[- \t._·・()（）]{0,3}[Xx])?"
)
_GROUP = re.compile(r"\+?[0-9]+[Xx]?|[Xx]")
_AMOUNT_END = re.compile(r"\.[0-9]{1,2}$")
_WHOLE = (
    re.compile(rf"{_REGION}{_BIRTH}[0-9]{{3}}[0-9Xx]"),
    re.compile(rf"(?:\+?86)?{_MOBILE_HEAD}[0-9]{{8}}"),
)
_WIDE = str.maketrans(
    {"Ｘ": "X", "ｘ": "x", "\u3000": " ", "－": "-", "—": "-", "–": "-", "‐": "-", "‑": "-",
     "‒": "-", "．": ".", "／": "/", "＋": "+", "＿": "_"}
)  # fmt: skip
REDACTED = "[已脱敏]"


def neutralise_formula(text: object) -> object:
    """Prefix ``'`` to a text cell that a spreadsheet would evaluate; other values pass."""
    if isinstance(text, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Apply :func:`neutralise_formula` to every text column (vectorised per column)."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]):
            text = out[col].astype("str")
            risky = text.str.match(r"^[=+\-@\t\r]", na=False)
            if risky.any():
                out[col] = text.where(~risky, "'" + text)
    return out


def scrub_pii(text: object) -> object:
    """Replace ID-card (18- and 15-digit) and mobile numbers inside free text by
    ``[已脱敏]``, whatever the digits' width and the separators between their groups, and
    drop control and invisible characters (NUL, ESC, zero-width, bidi overrides…; tab and
    line breaks stay)."""
    if not isinstance(text, str):
        return text
    text = re.sub(_CONTROL, "", text)
    view = _ascii_view(text)
    for pattern in _PII:
        text, view = _redact(text, view, pattern)
    return _redact_runs(text, view)


def _ascii_view(text: str) -> str:
    """``text`` with each decimal digit as its ASCII digit and wide X, spaces and dashes
    half-width: one character for one, so a match's span is the same in ``text``."""
    out = text.translate(_WIDE)
    if out.isascii():
        return out
    return "".join(
        str(unicodedata.decimal(c)) if not c.isascii() and c.isdecimal() else c for c in out
    )


def _redact_runs(text: str, view: str) -> str:
    """``text`` with every stretch of consecutive digit groups of a run of ``view``
    (:data:`_RUN`) whose digits alone are an ID-card or mobile number (:data:`_WHOLE`)
    replaced: the whole run (``1101 0519 4912 3100 26``) or part of it (``138-001-38000
    2024-05-06``), longest first from the left."""
    spans = []
    for run in _RUN.finditer(view):
        body = run.group()
        if _AMOUNT_END.search(body):  # an amount's cents: drop them, keep the rest
            body = body[: _AMOUNT_END.search(body).start()]
        groups = [(g.start() + run.start(), g.end() + run.start(), g.group())
                  for g in _GROUP.finditer(body)]  # fmt: skip
        i = 0
        while i < len(groups):
            best = None
            digits = ""
            for j in range(i, len(groups)):
                digits += groups[j][2]
                if len(digits) > 18:
                    break
                if any(p.fullmatch(digits) for p in _WHOLE):
                    best = j
            if best is None:
                i += 1
                continue
            spans.append((groups[i][0], groups[best][1]))
            i = best + 1
    if not spans:
        return text
    parts, last = [], 0
    for a, b in spans:
        parts += [text[last:a], REDACTED]
        last = b
    return "".join(parts) + text[last:]


def _redact(text: str, view: str, pattern: re.Pattern[str]) -> tuple[str, str]:
    """``text`` and ``view`` with the spans ``pattern`` finds in ``view`` replaced."""
    spans = [m.span() for m in pattern.finditer(view)]
    if not spans:
        return text, view
    parts_t, parts_v, last = [], [], 0
    for a, b in spans:
        parts_t += [text[last:a], REDACTED]
        parts_v += [view[last:a], REDACTED]
        last = b
    return "".join(parts_t) + text[last:], "".join(parts_v) + view[last:]


def scrub_series(series: pd.Series) -> pd.Series:
    """Vectorised :func:`scrub_pii` for a text column.

    Both patterns need at least 11 digits (separators aside), so a cheap C-level prefilter
    picks the few cells worth the full regex pass.
    """
    text = series.astype("str")
    arr = pa.array(text, type=pa.large_string())
    # control characters (NUL, ESC, vertical tab…) never reach a bank: they break CSV
    # readers and show as _x0000_ in Excel; tab and line breaks stay
    ctrl = pc.fill_null(pc.match_substring_regex(arr, INVISIBLE), False)
    ctrl = ctrl.to_numpy(zero_copy_only=False)
    if ctrl.any():
        text = text.copy()
        text[ctrl] = text[ctrl].str.replace(_CONTROL, "", regex=True)
        arr = pa.array(text, type=pa.large_string())
    # \p{Nd} is what Python's \d matches in text (any Unicode decimal digit, full-width
    # too), counted by Arrow in C++: a per-cell Python regex was ~7 s at national scale
    counts = pc.count_substring_regex(arr, r"\p{Nd}")
    digits = pc.fill_null(pc.greater_equal(counts, 11), False).to_numpy(zero_copy_only=False)
    if not digits.any():
        return text
    out = text.copy()
    out[digits] = [scrub_pii(t) for t in text[digits].tolist()]
    return out


_CONTROL = (
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
    r"\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
"""C0 control characters and DEL (not tab, line feed and carriage return) and the invisible
format characters of ``data_contracts``' ``INVISIBLE`` (which is the same set for Arrow)."""


def scrub_frame(frame: pd.DataFrame, *, keep: tuple[str, ...] = ("uscc",)) -> pd.DataFrame:
    """Scrub every text column except identifier columns in ``keep``."""
    out = frame.copy()
    for col in out.columns:
        if col in keep:
            continue
        if pd.api.types.is_string_dtype(out[col]) and not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = scrub_series(out[col])
    return out
