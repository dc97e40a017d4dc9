"""Identifier normalisation and check digits (domain.md §4).

USCC: 统一社会信用代码, GB 32100-2015. Patent application numbers: CNIPA, 12-digit body
plus a mod-11 check character.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_APP_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_SPACES = re.compile(r"\s+")
# Early Fujian pilot codes are genuine but fail the mod-31 check (domain.md §4).
LEGACY_PILOT_REGION_PREFIX = "35"


def to_halfwidth(text: str) -> str:
    """NFKC-normalise: full-width letters, digits and brackets become half-width."""
    return unicodedata.normalize("NFKC", text)


def normalize_uscc(raw: object) -> str:
    """Upper-case, half-width, no spaces or separators. Returns '' for empty input."""
    if raw is None:
        return ""
    text = to_halfwidth(str(raw))
    text = _SPACES.sub("", text).replace("-", "").upper()
    return text


def uscc_check_char(first17: str) -> str:
    """The 18th character of a USCC from its first 17 (weights of GB 32100-2015)."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """The check character of a GB 11714 organisation code from its first 8 characters."""
    total = 0
    for c, w in zip(first8, _ORG_WEIGHTS, strict=True):
        value = int(c) if c.isdigit() else ord(c) - ord("A") + 10
        total += value * w
    c = 11 - total % 11
    return "X" if c == 10 else ("0" if c == 11 else str(c))


@dataclass(frozen=True)
class CheckResult:
    """Outcome of an identifier check: ``ok`` (usable), ``warning`` (usable, flagged) or not ok."""

    value: str
    ok: bool
    rule: str = ""
    message: str = ""

    @property
    def warning(self) -> bool:
        return self.ok and bool(self.rule)


_USCC_SHAPE = re.compile(r"^[1-9ANY][0-9A-Z]\d{6}[0-9A-Z]{10}$")


_EXCEL_NUMBER = re.compile(r"^\d(?:\.\d+)?E\+?\d+$")
"""An all-digit code that a spreadsheet turned into a number (``9.14101E+17``)."""


def check_uscc(raw: object) -> CheckResult:
    """Normalise and validate a USCC with both checks of domain.md §4.

    A code whose organisation-code check passes but whose mod-31 check fails is accepted with
    a warning (``uscc_legacy_check``) only when it belongs to the early Fujian pilot series
    (region code 35xxxx): those codes are genuine but fail mod 31. Any other mod-31 failure
    is rejected (``uscc_check``), naming the expected check character.
    """
    code = normalize_uscc(raw)
    if not code:
        return CheckResult(code, False, "uscc_missing", "统一社会信用代码为空 / USCC is empty")
    if _EXCEL_NUMBER.match(code):
        return CheckResult(
            code,
            False,
            "uscc_length",
            f"USCC {code} was stored as a number (scientific notation), so its digits are "
            "lost: format the column as text in Excel and export the file again",
        )
    if len(code) != 18:
        return CheckResult(
            code, False, "uscc_length", f"USCC must have 18 characters, got {len(code)}"
        )
    bad = sorted({c for c in code if c not in _USCC_VALUE})
    if bad or not _USCC_SHAPE.match(code):
        what = f"characters {''.join(bad)!r} are not in the USCC alphabet" if bad else "bad shape"
        return CheckResult(code, False, "uscc_charset", f"USCC {code}: {what}")
    org = code[8:17]
    org_ok = org_code_check_char(org[:8]) == org[8]
    expected = uscc_check_char(code[:17])
    mod31_ok = expected == code[17]
    if org_ok and mod31_ok:
        return CheckResult(code, True)
    if not org_ok:
        return CheckResult(
            code,
            False,
            "uscc_org_check",
            f"USCC {code}: organisation-code check character {org[8]!r} is wrong "
            f"(expected {org_code_check_char(org[:8])!r})",
        )
    if code[2:4] != LEGACY_PILOT_REGION_PREFIX:
        return CheckResult(
            code,
            False,
            "uscc_check",
            f"USCC {code}: check character {code[17]!r} is wrong (expected {expected!r})",
        )
    return CheckResult(
        code,
        True,
        "uscc_legacy_check",
        f"USCC {code}: check character {code[17]!r} fails mod 31 (expected {expected!r}); "
        "accepted as a legacy pilot-series code",
    )


def make_uscc(authority: str, category: str, region: str, org8: str) -> str:
    """Build a valid USCC from its parts (used by the sample generator and tests)."""
    org = org8 + org_code_check_char(org8)
    first17 = f"{authority}{category}{region}{org}"
    return first17 + uscc_check_char(first17)


APP_NO_PATTERN = r"^(?:CN|ZL)?(?P<body>\d{12})\.?(?P<check>[0-9X])?$"
"""Every accepted spelling of an application number, once normalised
(:func:`normalize_app_no`): the 12-digit body and the optional check character."""
_APP_BODY = re.compile(APP_NO_PATTERN)


def app_no_check_char(body12: str) -> str:
    """Check character of a 12-digit application-number body (mod 11, 10 -> X)."""
    total = sum(int(d) * w for d, w in zip(body12, _APP_WEIGHTS, strict=True))
    c = total % 11
    return "X" if c == 10 else str(c)


def normalize_app_no(raw: object) -> str:
    """Upper-case, half-width, no spaces; ``CN`` prefix and dot are optional on input."""
    if raw is None:
        return ""
    return _SPACES.sub("", to_halfwidth(str(raw))).upper()


def check_app_no(raw: object) -> CheckResult:
    """Normalise to ``CNYYYYTNNNNNNN.C`` and verify the check character.

    An input without a check character is accepted and the check character is computed.
    """
    text = normalize_app_no(raw)
    if not text:
        return CheckResult(
            text, False, "app_no_missing", "申请号为空 / application number is empty"
        )
    m = _APP_BODY.match(text)
    if not m:
        return CheckResult(
            text, False, "app_no_format", f"application number {text!r} is not CNYYYYTNNNNNNN.C"
        )
    body, check = m.group(1), m.group(2)
    expected = app_no_check_char(body)
    if check is not None and check != expected:
        return CheckResult(
            text,
            False,
            "app_no_check",
            f"application number {text}: check character {check!r} is wrong (expected {expected!r})",
        )
    if body[4] not in "12389":
        return CheckResult(
            text, False, "app_no_format", f"application number {text}: type digit {body[4]} unknown"
        )
    return CheckResult(f"CN{body}.{expected}", True)


def make_app_no(year: int, type_digit: int, serial: int) -> str:
    """Build a valid normalised application number."""
    body = f"{year:04d}{type_digit:d}{serial:07d}"
    return f"CN{body}.{app_no_check_char(body)}"


PATENT_TYPE_BY_DIGIT = {
    "1": "invention",
    "8": "invention",
    "2": "utility_model",
    "9": "utility_model",
    "3": "design",
}
