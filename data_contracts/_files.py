"""Find a table's file in a data folder and read its raw columns in row chunks.

CSV encodings are detected from the bytes (BOM -> utf-8-sig; valid UTF-8 -> utf-8; else a
strict GB18030 decode, reported as ``gbk`` when the text is also valid GBK); nothing is
assumed. CSV cells are read as strings; parquet keeps its types; XLSX cells become strings
except real dates. Records whose every cell is empty (``,,,,``, blank spreadsheet rows) are
blank lines: set aside and counted, not rows.

Parquet is streamed: only one chunk of raw rows is in memory at a time, whatever the size of
the file. CSV and XLSX are parsed whole (a CSV's encoding and its ragged lines are found over
the whole file), then handed out chunk by chunk, each raw chunk freed once it is validated.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from data_contracts.errors import DataError

FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}


@dataclass(frozen=True)
class RawChunk:
    """Consecutive raw rows of a file: the columns as read and each row's data row number."""

    data: pa.Table
    source_row: np.ndarray  # 1-based data row number of each row of ``data``


@dataclass
class RawSource:
    """An opened table file, read chunk by chunk with :meth:`chunks` (once).

    ``bad_lines`` are CSV lines whose number of fields differs from the header:
    (data row number, text, fields found). ``blank_records`` counts the records set aside
    because every cell is empty or whitespace (``,,,,`` lines, blank spreadsheet rows):
    like blank lines they are not rows.
    """

    schema: pa.Schema  # raw column names and types; no column: the file has no header row
    encoding: str
    batches: Callable[[int], Iterator[pa.RecordBatch]]  # called once, with the chunk size
    source_row: np.ndarray | None = None  # data row numbers of all rows; None: 1, 2, 3…
    bad_lines: tuple[tuple[int, str, int], ...] = ()
    blank_records: int = 0

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    def chunks(self, rows: int) -> Iterator[RawChunk]:
        """Chunks of ``rows`` rows (the last one shorter; one empty chunk for a table with
        no data row).

        No generator here keeps a reference to a chunk it has handed out (``map`` instead of
        loop variables), so a chunk is freed as soon as its consumer drops it.
        """
        done = 0

        def numbered(table: pa.Table) -> RawChunk:
            nonlocal done
            n = table.num_rows
            if self.source_row is None:
                numbers = np.arange(done + 1, done + n + 1, dtype=np.int64)
            else:
                numbers = self.source_row[done : done + n]
            done += n
            return RawChunk(table, numbers)

        return map(numbered, _rechunk(self.batches(rows), self.schema, rows))


def _rechunk(batches: Iterable[pa.RecordBatch], schema: pa.Schema, rows: int) -> Iterator[pa.Table]:
    """Regroup record batches of any size into tables of ``rows`` rows (zero-copy slices)."""
    pending: list[pa.RecordBatch] = []
    size = 0
    emitted = False
    for batch in batches:
        while batch.num_rows:
            take = min(rows - size, batch.num_rows)
            pending.append(batch.slice(0, take))
            size += take
            batch = batch.slice(take)
            if size == rows:
                yield _table_of(pending, schema)
                size, emitted = 0, True
        del batch  # not held while the consumer works on the chunk
    if size or not emitted:
        yield _table_of(pending, schema)


def _table_of(pending: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    """A table of the pending batches, emptying the list (the table is the only holder)."""
    table = pa.Table.from_batches(pending, schema)
    pending.clear()
    return table


def _drain(batches: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches of a table read whole, each dropped once handed out so that the raw
    rows already validated are freed while the later ones wait."""
    batches.reverse()
    while batches:
        yield batches.pop()


# Files a data folder may hold that are nobody's table: Office lock files (``~$x.xlsx``,
# while a workbook is open), hidden files, the desktop files of Windows.
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini"})


@dataclass(frozen=True)
class FolderScan:
    """The files of a data folder: those named after a table, and the others."""

    tables: dict[str, list[Path]]  # table -> its files (``patents.csv``, ``Patents.XLSX``)
    unrecognised: tuple[Path, ...]  # files named after no table, or of a type not read

    def similar(self, table: str) -> list[Path]:
        """Unrecognised files whose names look like ``table``'s (``enterprises (1).csv``,
        ``enterprises_old.csv``, ``enterprise.csv``, ``enterprises.xls``)."""
        return [p for p in self.unrecognised if _looks_like(p, table)]


def _looks_like(path: Path, table: str) -> bool:
    stem = path.stem.casefold()  # "enterprises (1)", "enterprises.csv" of a .bak
    return table in stem or difflib.SequenceMatcher(None, stem, table).ratio() >= 0.8


def scan_folder(folder: Path, tables: Iterable[str]) -> FolderScan:
    """Sort the files of ``folder`` into table files (by name, of a readable type) and
    unrecognised ones; lock files, hidden files and sub-folders are left out."""
    known = set(tables)
    found: dict[str, list[Path]] = {}
    other = []
    for p in sorted(folder.iterdir()):
        name = p.name
        if name.startswith((".", "~$")) or name.casefold() in _SYSTEM_FILES or not p.is_file():
            continue
        stem = p.stem.casefold()
        if stem in known and p.suffix.casefold() in FORMATS:
            found.setdefault(stem, []).append(p)
        else:
            other.append(p)
    return FolderScan(found, tuple(other))


def table_file(scan: FolderScan, folder: Path, table: str) -> Path | None:
    """The single file holding ``table`` in a scanned folder; None when there is none."""
    found = scan.tables.get(table, [])
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise DataError(
            f"table {table} has {len(found)} files: {names}",
            f"keep exactly one file for {table} in {folder} and move the others away",
        )
    return found[0] if found else None


def rename_hint(table: str, files: list[Path]) -> str:
    """What to do with files that look like ``table``'s but are not named after it."""
    if not files:
        return ""
    first = files[0]
    suffix = first.suffix.casefold()
    if len(files) == 1:
        if suffix in FORMATS:
            return f"found {first.name}: rename it to {table}{suffix}"
        return f"found {first.name}: save it as {table}.csv, .xlsx or .parquet"
    names = ", ".join(p.name for p in files[:5]) + (", …" if len(files) > 5 else "")
    return (
        f"found {names}: rename the one holding the {table} table to {table}.csv, .xlsx "
        "or .parquet (by its type)"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def detect_encoding(data: bytes, name: str) -> tuple[str, str]:
    """Return (encoding, decoded text) of CSV bytes, raising a DataError when unreadable."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return "utf-8-sig", data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _undecodable(name, data, exc.start + 3, "UTF-8") from None
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # UTF-8 Chinese up to a character cut off at the very end: a truncated UTF-8 file
        # (GBK text is not valid UTF-8 this far; read as GBK it would only be mojibake)
        if exc.reason == "unexpected end of data" and not data[: exc.start].isascii():
            raise _truncated(name, exc.start, len(data)) from None
        utf8_end = exc.start
    # GBK first: it is what most Chinese exports are, and GB18030 is its superset, so a
    # GBK decode that succeeds gives the same text with one pass fewer.
    try:
        return "gbk", data.decode("gbk")
    except UnicodeDecodeError:
        pass
    try:
        return "gb18030", data.decode("gb18030")
    except UnicodeDecodeError as exc:
        if exc.end >= len(data):
            raise _truncated(name, exc.start, len(data)) from None
        # The encoding that reads further is the file's own; the fault is where it stops
        # (rows in GBK appended to a UTF-8 file: UTF-8 reads up to the first of them, while
        # GB18030 stumbles over the UTF-8 Chinese of the header line).
        if utf8_end >= exc.start:
            raise _undecodable(name, data, utf8_end, "UTF-8") from None
        raise _undecodable(name, data, exc.start, "GB18030") from None


def _undecodable(name: str, data: bytes, offset: int, read_as: str) -> DataError:
    """The file decodes as ``read_as`` up to ``offset`` and as nothing from there."""
    line = data.count(b"\n", 0, offset) + 1
    return DataError(
        f"{name} is neither UTF-8 nor GBK/GB18030 (undecodable bytes at offset {offset}, "
        f"line {line}: the file reads as {read_as} up to there)",
        f"re-export {name} as UTF-8 CSV, XLSX or parquet (if rows were added to it from "
        f"another file, check line {line} and after)",
    )


def _truncated(name: str, offset: int, size: int) -> DataError:
    """Everything decodes but the last bytes, which start a character that never ends."""
    return DataError(
        f"{name} ends in the middle of a character (offset {offset} of {size} bytes): the "
        "file looks cut off",
        f"copy or export {name} again in full (compare its size with the source), then run again",
    )


def open_raw(path: Path) -> RawSource:
    """Open a CSV, XLSX (first sheet) or parquet file for reading in chunks."""
    fmt = FORMATS[path.suffix.casefold()]
    if fmt == "csv":
        return _read_csv(path)
    if fmt == "parquet":
        return _open_parquet(path)
    return _read_xlsx(path)


def _whole(
    table: pa.Table,
    encoding: str,
    source_row: np.ndarray,
    bad_lines: tuple[tuple[int, str, int], ...] = (),
    drop: np.ndarray | None = None,
    blank_records: int = 0,
) -> RawSource:
    """A table read whole, handed out in chunks like a streamed one; the rows of the
    ``drop`` mask are left out (``source_row`` numbers the others)."""
    batches = table.to_batches()

    def drained(_rows: int) -> Iterator[pa.RecordBatch]:
        return _drain(batches) if drop is None else _without(_drain(batches), ~drop)

    return RawSource(
        table.schema, encoding, drained, source_row, bad_lines, blank_records=blank_records
    )


def _without(batches: Iterator[pa.RecordBatch], keep: np.ndarray) -> Iterator[pa.RecordBatch]:
    """The batches without the rows ``keep`` drops, filtered one batch at a time (a copy of
    the whole table would double the peak)."""
    start = 0
    for batch in batches:
        mask = keep[start : start + batch.num_rows]
        start += batch.num_rows
        yield batch if mask.all() else batch.filter(pa.array(mask))


def _blank_rows(table: pa.Table) -> np.ndarray | None:
    """Rows whose every cell is empty or whitespace (what a spreadsheet writes for an empty
    row: ``,,,,``); None when there is none.

    Columns with the fewest empty cells go first, so a table without such rows is done
    after one column."""
    blank = None
    for col in sorted(table.columns, key=lambda c: c.null_count):
        empty = pc.or_kleene(col.is_null(), pc.utf8_is_space(col))
        blank = empty if blank is None else pc.and_kleene(blank, empty)
        if not pc.any(blank).as_py():
            return None
    if blank is None:
        return None
    return np.asarray(pc.fill_null(blank, False).to_numpy(zero_copy_only=False), dtype=bool)


def _blank_line(text: str, delimiter: str) -> bool:
    """A ragged line of only separators and whitespace (``,,,,`` wider than the header)."""
    return not text.replace(delimiter, "").strip()


def _csv_head(path: Path) -> tuple[str, bytes, list[str] | None, str]:
    """Encoding, UTF-8 bytes, header record (None: no header row) and delimiter of a CSV.

    Its own function so that the decoded text (up to four times the file's size as a Python
    string) is gone before Arrow parses the bytes.
    """
    data = path.read_bytes()
    encoding, text = detect_encoding(data, path.name)
    if encoding != "utf-8":
        data = text.encode("utf-8")
    # Only whitespace (a BOM-only or blank file) means no header row. Checking the first
    # kilobytes is enough: a header is short and a long file is not blank.
    if not text[:4096].strip() and not text.strip():
        return encoding, data, None, ","
    delimiter = sniff_delimiter(text)
    # The header is the first record; csv.reader stops there without reading the rest.
    return encoding, data, next(csv.reader(_lines(text), delimiter=delimiter), []), delimiter


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text``, split after each ``\n`` as ``io.StringIO`` does, one at a time
    (a StringIO would hold a copy of the whole text)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _read_csv(path: Path) -> RawSource:
    encoding, data, header, delimiter = _csv_head(path)
    if header is None:
        return _whole(pa.table({}), encoding, np.zeros(0, dtype=np.int64))
    try:
        table, bad = _parse_csv(data, header, delimiter, threads=True)
        if any(number is None for number, _, _ in bad):
            # Multi-threaded parsing cannot tell where a ragged line was: parse again on one
            # thread (only files that have such lines pay for it).
            table, bad = _parse_csv(data, header, delimiter, threads=False)
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"{path.name} cannot be parsed as CSV: {str(exc).splitlines()[0]}",
            f"check the quoting and the header line of {path.name}",
        ) from None
    for _, text, _ in bad:
        if "\n" in text:
            raise _runaway_quote(path, data, text)
    # Pyarrow numbers rows from the header (= 1), skipping blank lines.
    lines = sorted((number - 1, text, fields) for number, text, fields in bad)
    # Data row numbers skip the lines set aside as invalid.
    total = table.num_rows + len(lines)
    rows = np.setdiff1d(np.arange(1, total + 1, dtype=np.int64), [b[0] for b in lines])
    # Records of only empty cells are blank lines too: not rows, and not numbered.
    blank = _blank_rows(table)
    gone = np.array([b[0] for b in lines if _blank_line(b[1], delimiter)], dtype=np.int64)
    if blank is None and not gone.size:
        return _whole(table, encoding, rows, tuple(lines))
    if blank is not None:
        gone = np.union1d(gone, rows[blank])
        rows = rows[~blank]
    rows = rows - np.searchsorted(gone, rows)
    kept = tuple(
        (int(n - np.searchsorted(gone, n)), t, f)
        for n, t, f in lines
        if not _blank_line(t, delimiter)
    )
    return _whole(table, encoding, rows, kept, blank, blank_records=int(gone.size))


def _runaway_quote(path: Path, data: bytes, text: str) -> DataError:
    """A ragged record that spans several lines: a quote opened a field that swallowed the
    lines after it (``newlines_in_values`` lets a quoted value hold line breaks). Setting
    one record aside would silently drop every line it swallowed, so the table stops."""
    raw = text.encode("utf-8")
    at = data.find(raw)
    first = data.count(b"\n", 0, at) + 1 if at >= 0 else None
    spans = text.count("\n") + 1
    where = f"line {first}" if first is not None else "a line"
    upto = f" (to line {first + spans - 1})" if first is not None else ""
    return DataError(
        f"{path.name} {where}: a quote opens a field that runs over {spans} lines{upto}, "
        "so those lines cannot be read as rows (most likely a stray or unbalanced quote)",
        f"fix or remove that quote in {path.name} (a quote inside a field is written twice: "
        '""), then run again',
    )


def sniff_delimiter(text: str) -> str:
    """``,`` unless the header line holds more tabs or ``|`` (tab-separated ".csv" exports).

    ``;`` is never a delimiter: it separates list items inside cells.
    """
    end = text.find("\n")
    first = text if end < 0 else text[:end]  # not split(): it would copy the whole text
    counts = {d: first.count(d) for d in (",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _parse_csv(
    data: bytes, header: list[str], delimiter: str, *, threads: bool
) -> tuple[pa.Table, list[tuple[int | None, str, int]]]:
    bad: list[tuple[int | None, str, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text, row.actual_columns))
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(use_threads=threads, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    return table, bad


def _open_parquet(path: Path) -> RawSource:
    try:
        schema = pq.ParquetFile(path).schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise _unreadable_parquet(path, exc) from None
    plain = pa.schema([pa.field(str(f.name), _plain_type(f.type)) for f in schema])
    return RawSource(plain, "binary", lambda rows: _parquet_batches(path, plain, rows))


def _plain_type(t: pa.DataType) -> pa.DataType:
    # Dictionary-encoded columns are decoded so every later step sees plain values.
    return t.value_type if pa.types.is_dictionary(t) else t


def _parquet_batches(path: Path, schema: pa.Schema, rows: int) -> Iterator[pa.RecordBatch]:
    try:
        with pq.ParquetFile(path) as file:
            plain = partial(_decoded, schema=schema)
            yield from map(plain, file.iter_batches(batch_size=rows))
    except (pa.ArrowInvalid, OSError) as exc:
        raise _unreadable_parquet(path, exc) from None


def _decoded(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    cols = [
        c if c.type == f.type else c.cast(f.type)
        for c, f in zip(batch.columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def _unreadable_parquet(path: Path, exc: Exception) -> DataError:
    return DataError(
        f"{path.name} is not a readable parquet file ({str(exc).splitlines()[0]})",
        f"re-export {path.name}",
    )


def _xlsx_cell(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return None
    return str(value)


def _read_xlsx(path: Path) -> RawSource:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken archive
        raise DataError(
            f"{path.name} is not a readable XLSX workbook ({type(exc).__name__})",
            f"open {path.name} in a spreadsheet program and save it again as .xlsx",
        ) from None
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return _whole(pa.table({}), "xlsx", np.zeros(0, dtype=np.int64))
        names = [str(h) if h is not None else "" for h in header]
        while names and names[-1] == "":
            names.pop()
        width = len(names)
        columns: list[list[object]] = [[] for _ in range(width)]
        numbers: list[int] = []
        skipped = 0  # blank rows since the last record
        blank = 0  # blank rows between records (those after the last one are formatting)
        for i, row in enumerate(rows, start=1):
            cells = [_xlsx_cell(v) for v in row[:width]]
            if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                skipped += 1
                continue  # blank spreadsheet rows are not records
            blank += skipped
            skipped = 0
            cells += [None] * (width - len(cells))
            for col, cell in zip(columns, cells, strict=True):
                col.append(cell)
            numbers.append(i)
    finally:
        wb.close()
    table = pa.table(
        [pa.array(c, pa.string()) for c in columns],
        names=[n if n else f"column_{j + 1}" for j, n in enumerate(names)],
    )
    return _whole(table, "xlsx", np.array(numbers, dtype=np.int64), blank_records=blank)
