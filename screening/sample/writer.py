"""Deterministic, streaming, atomic writing of the data folder.

Each table is written chunk by chunk (CSV via Arrow's writer, then re-encoded when the
file is GBK/GB18030; parquet via one row group per chunk; XLSX row by row with a fixed
creation date) into a temporary sibling folder that replaces ``out`` only when complete.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data_contracts import TABLES
from data_contracts.errors import DataError
from screening._atomic import current_umask, write_bytes

XLSX_MAX_ROWS = 1_048_575
_FIXED_TIME = dt.datetime(2000, 1, 1)


@dataclass(frozen=True)
class FileSpec:
    """How one table is written: format (csv/parquet/xlsx), CSV text encoding, header language."""

    fmt: str = "csv"
    encoding: str = "utf-8"
    chinese_headers: bool = False


def _csv_ready(table: pa.Table) -> pa.Table:
    """Booleans as Y/N (an accepted spelling; Arrow would write true/false)."""
    cols = []
    for col in table.columns:
        if pa.types.is_boolean(col.type):
            col = pc.if_else(col, "Y", "N")
        cols.append(col)
    return pa.table(cols, names=table.column_names)


class TableSink:
    """Appends chunks of one table to its file in the temporary folder."""

    def __init__(self, folder: Path, name: str, spec: FileSpec) -> None:
        self.name = name
        self.spec = spec
        self.path = folder / f"{name}.{spec.fmt}"
        self.rows = 0
        self._fh = None
        self._pq: pq.ParquetWriter | None = None
        self._xlsx = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self.spec.fmt == "parquet":
            if self._pq is None:
                self._schema = table.schema
                self._pq = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._pq.write_table(table.cast(self._schema))
        elif self.spec.fmt == "xlsx":
            self._write_xlsx(table)
        else:
            self._write_csv(table)
        self.rows += table.num_rows

    def _write_csv(self, table: pa.Table) -> None:
        first = self._fh is None
        if first:
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        buf = io.BytesIO()
        # polars quotes only where needed (Arrow quotes every string), which keeps the
        # committed sample small and readable; both are deterministic.
        pl.from_arrow(_csv_ready(table)).write_csv(buf, include_header=first)
        data = buf.getvalue()
        enc = self.spec.encoding
        if enc == "utf-8-sig":
            if first:
                self._fh.write(b"\xef\xbb\xbf")
        elif enc != "utf-8":
            data = data.decode("utf-8").encode(enc)
        self._fh.write(data)

    def _write_xlsx(self, table: pa.Table) -> None:
        import xlsxwriter

        if self._xlsx is None:
            wb = xlsxwriter.Workbook(str(self.path), {"constant_memory": True})
            wb.set_properties({"created": _FIXED_TIME})
            ws = wb.add_worksheet("Sheet1")
            for j, name in enumerate(table.column_names):
                ws.write_string(0, j, name)
            self._xlsx = (wb, ws)
        wb, ws = self._xlsx
        cols = [c.to_pylist() for c in table.columns]
        for i in range(table.num_rows):
            r = self.rows + i + 1
            for j, col in enumerate(cols):
                v = col[i]
                if v is None:
                    continue
                if isinstance(v, str) and v.startswith("\x00"):  # an Excel serial date
                    ws.write_number(r, j, int(v[1:]))
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(r, j, v)
                else:
                    ws.write_string(r, j, str(v))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._pq is not None:
            self._pq.close()
        if self._xlsx is not None:
            self._xlsx[0].close()


_OURS = {f"{t}.{ext}" for t in TABLES for ext in ("csv", "parquet", "xlsx")}


def check_target(out: Path, truth: Path) -> None:
    """Refuse to replace a folder that is not a previous sample.

    A previous sample is a folder holding only table files *and* having its ground truth
    beside it; a real data folder never has the latter, so it is never overwritten.
    """
    if out.exists():
        if not out.is_dir():
            raise DataError(
                f"--out {out} exists and is a file, not a data folder",
                "Choose a folder path (it is created, or replaced if it holds a previous sample).",
            )
        names = sorted(p.name for p in out.iterdir())
        foreign = [n for n in names if n not in _OURS]
        if foreign:
            raise DataError(
                f"--out {out} holds files that are not sample tables: {', '.join(foreign[:5])}",
                "Choose an empty or new folder; the generator only replaces a previous sample.",
            )
        if names and not truth.exists():
            raise DataError(
                f"--out {out} holds data tables but no {truth.name} beside it, so it is not "
                "a previous sample",
                "Choose an empty or new folder; real data folders are never overwritten.",
            )
    out.parent.mkdir(parents=True, exist_ok=True)


def staging_dir(out: Path) -> Path:
    """A fresh temporary folder beside ``out`` (same file system, so rename is atomic)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp's 0700 would hide the data from colleagues
    return tmp


def publish(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp``: the old folder disappears only after the new one is ready."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.rename(out, old)
    os.rename(tmp, out)
    if old is not None:
        shutil.rmtree(old)


write_atomic_bytes = write_bytes
