"""Excel output with xlsxwriter, row by row in constant-memory mode.

pandas ``to_excel`` with ``constant_memory`` silently writes only column A (perf_facts.md),
so rows are written one by one. A sheet holds 1,048,575 data rows; longer lists continue on
``<name>_2``, ``<name>_3``… and the 说明 sheet says so. Workbook properties carry a fixed
creation date (the batch's as-of) so the file is byte-identical across reruns.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from screening.run.safety import neutralise_formula

EXCEL_MAX_DATA_ROWS = 1_048_575
EXCEL_MAX_CELL_CHARS = 32_767
_CUT_MARK = "…（超长截断，全文见 CSV/JSON）"
_BLOCK_ROWS = 50_000


@dataclass(frozen=True)
class Sheet:
    """One logical sheet: a name, Chinese headers and the columns of a DataFrame."""

    name: str
    frame: pd.DataFrame
    headers: Sequence[str]
    widths: Sequence[int] = ()
    formats: Mapping[str, str] = field(default_factory=dict)
    """Excel number format by column of ``frame`` (e.g. ``{"pd": "0.00%"}``: the cell keeps
    its number, the reader sees 0.59%)."""


def _is_number(column: pd.Series) -> bool:
    """Whether :func:`_cells` gives numbers (else text) for ``column``."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _cells(column: pd.Series) -> list:
    """Python values for one column: text neutralised, NaN/NA → None."""
    if pd.api.types.is_bool_dtype(column):
        return [None if v is pd.NA else ("是" if v else "否") for v in column.astype(object)]
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        return [None if math.isnan(v) else v for v in values.tolist()]
    if pd.api.types.is_datetime64_any_dtype(column):
        return [None if pd.isna(v) else v for v in column.dt.strftime("%Y-%m-%d").astype(object)]
    return [
        None
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
        else _fit(neutralise_formula(str(v)))
        for v in column.astype(object)
    ]


def _fit(text: str) -> str:
    """``text`` cut to what an Excel cell holds, saying so (xlsxwriter would cut it silently;
    the CSV and JSON keep the full text)."""
    if len(text) <= EXCEL_MAX_CELL_CHARS:
        return text
    return text[: EXCEL_MAX_CELL_CHARS - len(_CUT_MARK)] + _CUT_MARK


def write_workbook(
    path: Path,
    sheets: Sequence[Sheet],
    notes: Sequence[tuple[str, str]],
    *,
    created: dt.datetime,
    title: str,
    max_rows: int = EXCEL_MAX_DATA_ROWS,
) -> dict[str, list[str]]:
    """Write ``sheets`` then a 说明 sheet of ``notes`` (key, value) to ``path``.

    Returns the physical sheet names per logical sheet (more than one when split).
    """
    if not 1 <= max_rows <= EXCEL_MAX_DATA_ROWS:
        raise ValueError(
            f"The 'max_rows' parameter must be in [1, {EXCEL_MAX_DATA_ROWS}]. Got {max_rows!r} instead."
        )
    wb = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    wb.set_properties({"title": title, "author": "ip-whitelist", "created": created})
    header_fmt = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    number_formats = {
        f: wb.add_format({"num_format": f})
        for f in sorted({f for sheet in sheets for f in sheet.formats.values()})
    }
    split: dict[str, list[str]] = {}
    for sheet in sheets:
        n = len(sheet.frame)
        parts = max(1, math.ceil(n / max_rows))
        names = [sheet.name] if parts == 1 else [f"{sheet.name}_{i + 1}" for i in range(parts)]
        split[sheet.name] = names
        for part, name in enumerate(names):
            ws = wb.add_worksheet(name)
            lo, hi = part * max_rows, min(n, (part + 1) * max_rows)
            for j, column in enumerate(sheet.frame.columns):
                width = sheet.widths[j] if j < len(sheet.widths) else None
                fmt = sheet.formats.get(column)
                if width is not None or fmt is not None:
                    ws.set_column(j, j, width, number_formats.get(fmt) if fmt else None)
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, max(hi - lo, 1), len(sheet.headers) - 1)
            ws.write_row(0, 0, list(sheet.headers), header_fmt)
            # Each column's cells are all text or all numbers, so they go to write_string /
            # write_number directly (what write_row would pick per cell; empty cells without a
            # format are not written either way): ~6-10% faster on a large sheet.
            writers = [
                ws.write_number if _is_number(sheet.frame[c]) else ws.write_string
                for c in sheet.frame.columns
            ]
            # Python values for one block of rows at a time: a national list is millions of
            # cells, and holding them all as Python objects would cost gigabytes
            for start in range(lo, hi, _BLOCK_ROWS):
                block = sheet.frame.iloc[start : min(hi, start + _BLOCK_ROWS)]
                columns = [_cells(block[c]) for c in block.columns]
                for i, row in enumerate(zip(*columns, strict=True), start=start - lo + 1):
                    for j, (write, value) in enumerate(zip(writers, row, strict=True)):
                        if value is not None:
                            write(i, j, value)
    ws = wb.add_worksheet("说明")
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 90)
    ws.write_row(0, 0, ["项目", "内容"], header_fmt)
    extra = [
        (
            f"{logical}（分表）",
            f"记录超过 Excel 单表上限 {max_rows:,} 行，已拆分为 {'、'.join(names)}",
        )
        for logical, names in split.items()
        if len(names) > 1
    ]
    for i, (key, value) in enumerate([*notes, *extra], start=1):
        ws.write_string(i, 0, str(neutralise_formula(key)))
        ws.write_string(i, 1, str(neutralise_formula(value)))
    wb.close()
    return split
