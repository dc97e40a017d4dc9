"""The workbook writer on its own: what a cell can hold."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd

from screening.run.xlsx import EXCEL_MAX_CELL_CHARS, Sheet, write_workbook


def test_text_longer_than_a_cell_is_cut_and_says_so(tmp_path):
    """Excel holds 32,767 characters a cell; a longer text (a garbage name, a huge owners
    list) is cut with a note instead of silently (the CSV and JSON keep it whole), and a
    formula-looking text is still neutralised."""
    long = "甲" * (EXCEL_MAX_CELL_CHARS + 10)
    frame = pd.DataFrame({"name": [long, "=HYPERLINK(1)", "乙公司"], "n": [1.0, 2.0, None]})
    path = tmp_path / "w.xlsx"
    write_workbook(
        path, [Sheet("表", frame, ["名称", "数"])], [("k", "v")],
        created=dt.datetime(2026, 9, 30), title="t",
    )  # fmt: skip
    ws = openpyxl.load_workbook(path, read_only=True)["表"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    first = rows[0][0]
    assert len(first) == EXCEL_MAX_CELL_CHARS and first.endswith("超长截断，全文见 CSV/JSON）")
    assert first.startswith("甲" * 100)
    assert rows[1][0] == "'=HYPERLINK(1)" and rows[2] == ("乙公司", None)
