"""Which whitelisted firms go to a bank: regions, industries (with or without the section
letter) and the minimum grade."""

from __future__ import annotations

import pandas as pd
import pytest

from screening.run.config import BankConfig
from screening.run.packages import bank_mask

WL = pd.DataFrame(
    {
        "uscc": list("abcdef"),
        "region_code": ["410102", "410102", "410302", "410102", "410102", None],
        "industry_code": ["C3919", "3919", "C2669", "I6510", "6510", None],
        "industry_section": ["C", "C", "C", "I", "I", None],
        "grade": ["T1", "T3", "T2", "T5", "T6", "T1"],
    }
)


@pytest.mark.parametrize(
    ("industries", "expected"),
    [
        (("C39",), "ab"),  # with the letter: also the code written without it
        (("39",), "ab"),  # without the letter: also the code written with it
        (("C",), "abc"),  # a section letter: the section
        (("I65", "26"), "cde"),
        (("3919",), "ab"),
    ],
)
def test_industry_prefixes_match_codes_with_or_without_the_section_letter(industries, expected):
    bank = BankConfig(id="x", name="x", industries=industries)
    assert "".join(WL["uscc"][bank_mask(WL, bank)]) == expected


def test_regions_and_grade_combine():
    bank = BankConfig(id="x", name="x", regions=("4101",), min_grade="T5")
    assert "".join(WL["uscc"][bank_mask(WL, bank)]) == "abd"
