"""Rejected registry rows in screened.csv: one line per firm, named by its code."""

from __future__ import annotations

import pandas as pd


def test_a_ragged_registry_line_is_listed_under_the_code_it_holds():
    """A CSV line with too many fields cannot be parsed into columns, but the one
    code-shaped field in it names the firm in screened.csv; a line without one stays
    unnamed, and two rows of one code make one line."""
    from screening.run.pipeline import _rejected_rows

    rej = pd.DataFrame(
        {
            "table": "enterprises",
            "file": "enterprises.csv",
            "source_row": pd.array([3, 5, 7], dtype="Int64"),
            "column": ["", "", "employees"],
            "value": ["91410600MAY43PCN14,某公司,,存续,多,余", "a,b,c", "-18"],
            "rule": ["column_count", "column_count", "negative_count"],
            "message": ["line has 6 fields", "line has 3 fields", "negative"],
        }
    )
    ids = pd.DataFrame(
        {"file": ["enterprises.csv"], "source_row": [7], "uscc": ["91410600MAY43PCN14"],
         "name": ["某公司"], "region_code": ["410600"]}
    )  # fmt: skip
    out = _rejected_rows(rej, pd.Index([]), ids)
    assert out["uscc"].tolist()[0] == "91410600MAY43PCN14" and pd.isna(out["uscc"].iloc[1])
    assert len(out) == 2  # rows 3 and 7 are one firm
    first = out.iloc[0]
    assert first["rules_fired"] == "column_count;negative_count" and first["name"] == "某公司"
