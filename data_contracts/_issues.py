"""Failing (row, column, rule) triples of one table, turned into rejects/warnings frames.

Messages are templates filled only for failing rows, so a clean table costs nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from data_contracts._text import as_string, take_rows
from data_contracts.bundle import empty_issues
from data_contracts.contracts import TABLES, TableContract


class Issues:
    """Collects failing (row, column, rule) triples; messages are filled only for failures."""

    def __init__(self, raw: dict[str, pa.ChunkedArray], n: int) -> None:
        self._raw = raw
        self.n = n
        self.parts: list[tuple[np.ndarray, str, str, list[str] | str]] = []

    def add(self, mask: np.ndarray, column: str, rule: str, message: str | list[str]) -> None:
        pos = np.flatnonzero(mask)
        if pos.size:
            self.parts.append((pos, column, rule, message))

    def add_positions(self, pos: np.ndarray, column: str, rule: str, messages: list[str]) -> None:
        if pos.size:
            self.parts.append((pos, column, rule, messages))

    def move(
        self,
        column: str,
        rules: Iterable[str],
        rows: np.ndarray,
        to: Issues,
        rule: str,
        message: str,
    ) -> np.ndarray:
        """Move the ``rules`` failures of ``column`` in the ``rows`` mask to ``to`` as one
        ``rule`` (e.g. a reject that becomes a warning); returns the rows moved."""
        wanted = set(rules)
        moved = np.zeros(self.n, dtype=bool)
        parts = []
        for pos, col, r, msg in self.parts:
            sel = rows[pos] if col == column and r in wanted else None
            if sel is None or not sel.any():
                parts.append((pos, col, r, msg))
                continue
            moved[pos[sel]] = True
            if (~sel).any():
                rest = (
                    msg
                    if isinstance(msg, str)
                    else [m for m, s in zip(msg, sel, strict=True) if not s]
                )
                parts.append((pos[~sel], col, r, rest))
        self.parts = parts
        to.add(moved, column, rule, message)
        return moved

    def row_mask(self, rules: Iterable[str] | None = None) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        wanted = set(rules) if rules is not None else None
        for pos, _col, rule, _msg in self.parts:
            if wanted is None or rule in wanted:
                mask[pos] = True
        return mask

    def column_mask(self, column: str) -> np.ndarray:
        """Rows already failing some rule in ``column``."""
        mask = np.zeros(self.n, dtype=bool)
        for pos, col, _rule, _msg in self.parts:
            if col == column:
                mask[pos] = True
        return mask

    def raw_values(self, column: str, pos: np.ndarray) -> list[str | None]:
        arr = self._raw.get(column)
        if arr is None:
            return [None] * len(pos)
        return as_string(take_rows(arr, pos)).to_pylist()

    def frame(
        self, table: str, file: str, source_row: np.ndarray, keep: np.ndarray | None
    ) -> pd.DataFrame:
        frames = []
        for pos, column, rule, message in self.parts:
            if keep is not None:
                sel = keep[pos]
                pos = pos[sel]
                if isinstance(message, list):
                    message = [m for m, s in zip(message, sel, strict=True) if s]
            if not pos.size:
                continue
            values = self.raw_values(column, pos)
            if isinstance(message, str):
                texts = [message.format(column=column, value=v) for v in values]
            else:
                texts = message
            frames.append(
                pd.DataFrame(
                    {
                        "table": table,
                        "file": file,
                        "source_row": source_row[pos],
                        "column": column,
                        "value": pd.Series(values, dtype="str"),
                        "rule": rule,
                        "message": pd.Series(texts, dtype="str"),
                    }
                )
            )
        if not frames:
            return empty_issues()
        out = pd.concat(frames, ignore_index=True)
        out["source_row"] = out["source_row"].astype("Int64")
        return out.astype({c: "str" for c in ("table", "file", "column", "rule")})


def rows_per_rule(rejects: pd.DataFrame) -> pd.Series:
    return rejects.drop_duplicates(["source_row", "rule"])["rule"].value_counts()


def bad_lines_frame(
    contract: TableContract, bad_lines: tuple[tuple[int, str, int], ...], width: int, file: str
) -> pd.DataFrame:
    """One ``column_count`` reject per CSV line whose fields do not match the header's."""
    return pd.DataFrame(
        {
            "table": contract.name,
            "file": file,
            "source_row": pd.array([b[0] for b in bad_lines], dtype="Int64"),
            "column": "",
            "value": pd.Series([b[1][:200] for b in bad_lines], dtype="str"),
            "rule": "column_count",
            "message": pd.Series(
                [f"line has {b[2]} fields, the header has {width}" for b in bad_lines],
                dtype="str",
            ),
        }
    ).astype({c: "str" for c in ("table", "file", "column", "rule")})


def sort_issues(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return empty_issues()
    order = {t: i for i, t in enumerate(TABLES)}
    frame = frame.assign(_t=frame["table"].map(order))
    frame = frame.sort_values(["_t", "source_row", "column", "rule"], kind="stable")
    return frame.drop(columns="_t").reset_index(drop=True)
