"""Read and validate one table or a whole data folder.

Pipeline per table (all steps vectorised over whole columns):

1. find the file, detect its encoding, open its raw columns (``_files``);
2. map headers to canonical names (contracts); a missing required column fails the table;
3. per chunk of ``CHUNK_ROWS`` rows: parse each column by kind (ids, dates, numbers, enums,
   lists) collecting failures, cross-column rules (dates that cannot be true, type vs
   application number, uscc-or-name), pandera value checks (negative counts, code patterns,
   future dates); keep the typed rows that pass, file the rejects, free the raw chunk;
4. over the kept rows of all chunks: exact duplicates dropped, conflicting duplicates of a key
   rejected (both rows);
5. accounting: every row read is accepted, rejected (in ``rejects``) or a dropped duplicate.

Memory: the raw rows of one chunk, the typed rows kept so far and the duplicate check's
hashes (a few bytes per row) are all that is held, so a national table needs about the size
of its output plus a working set that does not grow with the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts._checks import (
    ARROW_TYPE,
    PANDAS_TYPES,
    conflict_messages,
    cross_checks,
    key_column,
    map_headers,
    pandera_checks,
    parse_column,
)
from data_contracts._dups import find_duplicates
from data_contracts._files import (
    FORMATS,
    RawChunk,
    open_raw,
    rename_hint,
    scan_folder,
    sha256_of,
    table_file,
)
from data_contracts._issues import Issues, bad_lines_frame, rows_per_rule, sort_issues
from data_contracts._memory import malloc_pool, release_memory
from data_contracts._text import as_string, take_rows
from data_contracts.bundle import DataBundle, FileInfo, TableStats, empty_issues
from data_contracts.contracts import (
    CONTRACTS,
    TABLES,
    TableContract,
)
from data_contracts.errors import ContractViolation, DataError, IPWhitelistError

Progress = Callable[[str, int, int], None]

# Rows validated at a time. The working set of a chunk of patents (the widest table) is about
# 0.35 GB per million rows (raw + typed columns + clean-up temporaries); 2^19 rows keep it near
# 0.2 GB with the same CPU time as 2^20 (per-chunk costs are noise from ~2^17 up; measured in
# docs/data_contracts.md). Tests lower it.
CHUNK_ROWS = 1 << 19

# The date that places a row in time, for counting rows dated after the as-of date.
_DATED_BY = {
    "enterprises": "established",
    "patents": "app_date",
    "patent_events": "event_date",
    "credit_records": "start_date",
    "programmes": "valid_from",
    "nominations": "nominated_on",
    "loans": "report_date",
}


def empty_frame(
    contract: TableContract,
    columns: Iterable[str] | None = None,
    categorical: Iterable[str] = (),
) -> pd.DataFrame:
    """A table with no rows and the canonical columns (or those of ``columns``) and dtypes;
    the ``categorical`` ones as categoricals of strings (see :func:`read_data_dir`)."""
    keep = None if columns is None else set(columns)
    cats = set(categorical)
    return pd.DataFrame(
        {
            c.name: pd.Series([], dtype=c.dtype).astype("category")
            if c.name in cats
            else pd.Series([], dtype=c.dtype)
            for c in contract.columns
            if keep is None or c.name in keep
        }
    )


@dataclass
class _Part:
    """What one validated chunk leaves behind (its raw rows are gone).

    ``raw_pos``/``raw_key`` are the kept rows whose raw key cell differs from its typed value
    (e.g. ``cn2015…`` typed as ``CN2015…``) and that raw text: a conflict found later quotes the
    raw cell like every other reject, without the whole raw column being kept.
    """

    kept: pa.Table  # typed rows that passed every row rule: candidates for the duplicate check
    source_row: np.ndarray  # of the kept rows
    rejects: pd.DataFrame
    warnings: pd.DataFrame  # of the kept rows
    rows: int
    rejected: int
    raw_pos: np.ndarray
    raw_key: pa.Array


def _text(arr: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return as_string(arr).cast(pa.large_string())


def _raw_keys(
    contract: TableContract,
    raw_cols: dict[str, pa.ChunkedArray],
    kept: pa.Table,
    keep: np.ndarray,
) -> tuple[np.ndarray, pa.Array]:
    """Kept rows whose raw key cell reads differently from the typed value, and that cell."""
    column = key_column(contract)
    if not column or not kept.num_rows:
        return np.zeros(0, dtype=np.int64), pa.array([], pa.large_string())
    typed = _text(kept.column(column))
    raw = raw_cols.get(column)
    if raw is None:  # an absent column reads as empty cells
        raw_text = pa.nulls(kept.num_rows, pa.large_string())
    else:
        raw_text = _text(raw if keep.all() else raw.filter(pa.array(keep)))
    differs = pc.fill_null(pc.not_equal(raw_text, typed), True)
    differs = pc.and_(differs, pc.or_(raw_text.is_valid(), typed.is_valid()))
    pos = np.flatnonzero(differs.to_numpy(zero_copy_only=False))
    return pos, take_rows(raw_text, pos)


def _check_chunk(
    contract: TableContract,
    chunk: RawChunk,
    mapped: dict[str, str],
    file: str,
    today: dt.date | None,
) -> _Part:
    """Every row rule on one chunk; the rows that pass, typed, and the chunk's issues."""
    n = chunk.data.num_rows
    raw_cols = {name: chunk.data.column(header) for name, header in mapped.items()}
    issues = Issues(raw_cols, n)
    warn = Issues(raw_cols, n)
    cols: dict[str, pa.ChunkedArray] = {}
    for spec in contract.columns:
        if spec.name in raw_cols:
            cols[spec.name] = parse_column(spec, raw_cols[spec.name], issues, warn)
        else:
            cols[spec.name] = pa.chunked_array([pa.nulls(n, ARROW_TYPE[spec.dtype])])
    cross_checks(contract, cols, set(raw_cols), issues, warn)
    table = pa.table([cols[c] for c in contract.column_names], names=list(contract.column_names))
    pandera_checks(contract, table, today, issues)
    keep = ~issues.row_mask()
    kept = table if keep.all() else table.filter(pa.array(keep))
    raw_pos, raw_key = _raw_keys(contract, raw_cols, kept, keep)
    return _Part(
        kept=kept,
        source_row=chunk.source_row[keep],
        rejects=issues.frame(contract.name, file, chunk.source_row, None),
        warnings=warn.frame(contract.name, file, chunk.source_row, keep),
        rows=n,
        rejected=int((~keep).sum()),
        raw_pos=raw_pos,
        raw_key=raw_key,
    )


def _released(parts: Iterator[_Part]) -> Iterator[_Part]:
    """The parts, with the memory of each raw chunk handed back once its part is made."""
    for part in parts:
        release_memory()
        yield part


def _column_notes(
    contract: TableContract, mapped: dict[str, str], ignored: list[str], file: str
) -> list[str]:
    notes = []
    if ignored:
        notes.append(f"{contract.name}: columns ignored in {file}: {', '.join(ignored)}")
    absent = [c for c in contract.column_names if c not in mapped]
    if absent:
        notes.append(f"{contract.name}: optional columns absent from {file}: {', '.join(absent)}")
    if contract.name == "patents" and "owners" in absent:
        notes.append(f"patents: no owners column in {file}: owners = applicants for every row")
    return notes


def _conflict_rejects(
    contract: TableContract,
    cols: dict[str, pa.ChunkedArray],
    found: tuple[np.ndarray, np.ndarray, np.ndarray],
    source_row: _SourceRows,
    raw: tuple[np.ndarray, pa.Array],
    file: str,
    rejected: np.ndarray,
) -> pd.DataFrame:
    """``duplicate_conflict`` rejects (``duplicate_superseded`` for the copies a kept one
    replaces when the contract keeps the last), quoting each row's raw key cell.

    ``rejected`` are the conflicting rows that are rejected (:func:`_rejected_conflicts`);
    the others of ``found``'s conflicts are the copies kept."""
    _dup, conflict, group = found
    rows = np.flatnonzero(conflict)
    if not rows.size:
        return empty_issues()
    sources = source_row[rows]
    drop = rejected[rows]
    used = None
    if contract.on_conflict == "keep_last":
        used = {int(g): int(r) for g, r in zip(group[~drop], sources[~drop], strict=True)}
    column, messages = conflict_messages(contract, cols, rows, group, sources, used)
    if not drop.all():
        rows, sources = rows[drop], sources[drop]
        messages = [m for m, d in zip(messages, drop, strict=True) if d]
        if not rows.size:
            return empty_issues()
    values = _text(take_rows(cols[column], rows)).to_pylist()
    raw_pos, raw_key = raw
    at = np.minimum(np.searchsorted(raw_pos, rows), max(len(raw_pos) - 1, 0))
    hit = np.flatnonzero(raw_pos[at] == rows) if len(raw_pos) else np.zeros(0, dtype=np.int64)
    for i, text in zip(hit, take_rows(raw_key, at[hit]).to_pylist(), strict=True):
        values[i] = text
    issues = Issues({column: pa.chunked_array([pa.array(values, pa.large_string())])}, rows.size)
    rule = "duplicate_superseded" if contract.on_conflict == "keep_last" else "duplicate_conflict"
    issues.add_positions(np.arange(rows.size), column, rule, messages)
    return issues.frame(contract.name, file, sources, None)


def _last_of_group(
    rows: np.ndarray, group: np.ndarray, late: np.ndarray | None = None
) -> np.ndarray:
    """Whether each of ``rows`` (ascending, with their key ``group``) is the copy its group
    keeps: the last one not dated after the as-of date (``late``), else the last one.

    A correction dated after as-of is not known at as-of: the copy it will replace stands
    until then (point in time)."""
    known = np.zeros(rows.size, dtype=np.int8) if late is None else (~late).astype(np.int8)
    order = np.lexsort((rows, known, group))
    g = group[order]
    last = np.empty(rows.size, dtype=bool)
    last[order] = np.r_[g[1:] != g[:-1], True] if rows.size else np.zeros(0, dtype=bool)
    return last


def _rejected_conflicts(
    contract: TableContract,
    found: tuple[np.ndarray, np.ndarray, np.ndarray],
    late: np.ndarray | None = None,
) -> np.ndarray:
    """The rows a key conflict rejects: every copy, or all but the kept one (``keep_last``,
    see :func:`_last_of_group`)."""
    _dup, conflict, group = found
    if contract.on_conflict != "keep_last" or not conflict.any():
        return conflict
    rows = np.flatnonzero(conflict)
    out = conflict.copy()
    out[rows[_last_of_group(rows, group, None if late is None else late[rows])]] = False
    return out


def _late(
    contract: TableContract, cols: dict[str, pa.ChunkedArray], as_of: dt.date | None
) -> np.ndarray | None:
    """Rows dated after the as-of date (by the table's dating column); None without one.
    Accepted ones are kept as history for backtests; of conflicting copies of a key, one
    dated after as-of is not yet known (see :func:`_last_of_group`)."""
    dated = _DATED_BY.get(contract.name)
    if as_of is None or not dated or dated not in cols:
        return None
    dates = cols[dated].to_numpy().astype("datetime64[ns]")  # nulls become NaT: never after
    return dates > np.datetime64(as_of, "ns")


def _keep_rows(col: pa.ChunkedArray, keep: np.ndarray) -> pa.ChunkedArray:
    """``col`` without the dropped rows; chunks that lose no row are kept as they are."""
    chunks, start = [], 0
    for chunk in col.chunks:
        mask = keep[start : start + len(chunk)]
        start += len(chunk)
        chunks.append(chunk if mask.all() else chunk.filter(pa.array(mask)))
    return pa.chunked_array(chunks, col.type)


def _to_frame(
    cols: dict[str, pa.ChunkedArray],
    keep: np.ndarray | None,
    categorical: Iterable[str] = (),
) -> pd.DataFrame:
    """The output frame, built one column at a time, each Arrow column released as soon as
    it is converted: the peak is the output plus one column, not two copies of the table.

    Strings are not copied (pandas' str dtype wraps the Arrow data); numbers and dates are.
    The ``categorical`` text columns become categoricals (codes and one copy of each
    distinct value) before the next column is converted.
    """
    cats = set(categorical)
    out = {}
    for name in list(cols):
        col = cols.pop(name)
        if keep is not None:
            col = _keep_rows(col, keep)
        # Through a one-column table: ChunkedArray.to_pandas with a types mapper gives an
        # all-null string column the object dtype instead of str.
        one = pa.Table.from_arrays([col], names=[name])
        del col
        out[name] = one.to_pandas(types_mapper=PANDAS_TYPES.get)[name]
        del one
        if name in cats:
            out[name] = out[name].astype("category")
        # Numbers and dates were copied into numpy and their Arrow column freed: trim now,
        # or the freed columns stay resident next to their copies until the table is done.
        release_memory()
    return pd.DataFrame(out, copy=False)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else empty_issues()


class _SourceRows:
    """Source row numbers of the kept rows of all chunks, indexable like an array.

    A chunk whose kept rows are consecutive (no reject, no ragged line: the usual case) is
    stored as its first number, so a clean national table costs nothing per row here.
    """

    def __init__(self) -> None:
        self._starts = [0]  # position of each chunk's first kept row
        self._parts: list[int | np.ndarray] = []

    def add(self, rows: np.ndarray) -> None:
        # Numbers increase within a chunk, so equal ends mean no gap.
        consecutive = rows.size and int(rows[-1]) - int(rows[0]) == rows.size - 1
        self._parts.append(int(rows[0]) if consecutive else rows)
        self._starts.append(self._starts[-1] + rows.size)

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        """Numbers at ``index`` (positions, or a boolean mask over the kept rows)."""
        pos = np.flatnonzero(index) if index.dtype == bool else np.asarray(index, np.int64)
        part = np.searchsorted(self._starts, pos, side="right") - 1
        out = np.empty(pos.size, dtype=np.int64)
        for p in np.unique(part):
            sel = part == p
            local = pos[sel] - self._starts[p]
            stored = self._parts[p]
            out[sel] = stored + local if isinstance(stored, int) else stored[local]
        return out


@dataclass
class _Kept:
    """The kept rows of all chunks of a table, and what the chunks reported."""

    cols: dict[str, pa.ChunkedArray]  # typed columns (the chunks' Arrow data, not copied)
    source_row: _SourceRows
    raw: tuple[np.ndarray, pa.Array]  # kept rows whose raw key cell differs, and that cell
    rejects: list[pd.DataFrame]
    warnings: list[pd.DataFrame]
    rows: int = 0
    rejected: int = 0


def _gather(contract: TableContract, parts: Iterable[_Part]) -> _Kept:
    """Validate the chunks one after the other and put their kept rows end to end.

    Its own function so that no loop variable outlives it holding a chunk's columns: the
    output frame is built by releasing these columns one at a time.
    """
    kept, raw_pos, raw_key = [], [], []
    out = _Kept({}, _SourceRows(), (np.zeros(0), pa.array([])), [], [])
    for part in parts:
        raw_pos.append(part.raw_pos + len(out.source_row))
        kept.append(part.kept)
        out.source_row.add(part.source_row)
        raw_key.append(part.raw_key)
        out.rejects.append(part.rejects)
        out.warnings.append(part.warnings)
        out.rows += part.rows
        out.rejected += part.rejected
    table = pa.concat_tables(kept)
    out.cols = {c: table.column(c) for c in contract.column_names}
    out.raw = (np.concatenate(raw_pos), pa.concat_arrays(raw_key))
    return out


def _validate(
    contract: TableContract,
    parts: Iterable[_Part],
    bad_lines: tuple[tuple[int, str, int], ...],
    width: int,
    file: str,
    *,
    as_of: dt.date | None,
    keep_columns: tuple[str, ...] | None = None,
    categorical: tuple[str, ...] = (),
    blank_records: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, TableStats, list[str]]:
    """Duplicates over the kept rows of all chunks, then the table's frames and stats.

    Every column is validated; only ``keep_columns`` (all when None) reach the frame.
    ``blank_records`` (records of only empty cells, set aside by the file reader) are
    counted and noted.
    """
    kept = _gather(contract, parts)
    found = find_duplicates(contract, kept.cols, np.ones(len(kept.source_row), dtype=bool))
    # rows dated after as-of: counted as history, and a copy not yet known at as-of
    late = _late(contract, kept.cols, as_of)
    conflict = _rejected_conflicts(contract, found, late)
    rejects = kept.rejects
    rejects.append(
        _conflict_rejects(contract, kept.cols, found, kept.source_row, kept.raw, file, conflict)
    )
    if bad_lines:
        rejects.append(bad_lines_frame(contract, bad_lines, width, file))
    dup = found[0]
    del found
    dropped = dup | conflict
    warnings = _concat(kept.warnings)
    if dropped.any() and len(warnings):
        gone = warnings["source_row"].isin(kept.source_row[dropped]).to_numpy(dtype=bool)
        warnings = warnings.loc[~gone].reset_index(drop=True)
    accepted = ~dropped
    after = 0 if late is None else int((late & accepted).sum())
    del late
    if keep_columns is not None:
        kept.cols = {c: kept.cols[c] for c in contract.column_names if c in keep_columns}
    out = _to_frame(kept.cols, accepted if dropped.any() else None, categorical)
    all_rejects = _concat(rejects)
    notes = []
    if blank_records:
        notes.append(
            f"{contract.name}: {blank_records} blank records in {file} (every cell empty, "
            "e.g. lines of only commas) skipped: not rows"
        )
    if after:
        notes.append(
            f"{contract.name}: {after} accepted rows dated after as-of {as_of} "
            f"({_DATED_BY[contract.name]}); kept as history"
        )
    # A row failing several rules counts once per rule, and once in `rejected`.
    by_rule = rows_per_rule(all_rejects) if len(all_rejects) else {}
    stats = TableStats(
        table=contract.name,
        rows=kept.rows + len(bad_lines),
        accepted=int(accepted.sum()),
        rejected=kept.rejected + int(conflict.sum()) + len(bad_lines),
        duplicates=int(dup.sum()),
        by_rule={str(k): int(v) for k, v in by_rule.items()},
        warnings=len(warnings),
        warnings_by_rule={str(k): int(v) for k, v in warnings["rule"].value_counts().items()},
        after_as_of=after,
        blank_records=blank_records,
    )
    return out, all_rejects, warnings, stats, notes


def _contract(table_name: str) -> TableContract:
    try:
        return CONTRACTS[table_name]
    except KeyError:
        raise DataError(
            f"unknown table {table_name!r}",
            f"use one of: {', '.join(TABLES)}",
        ) from None


def _read_one(
    path: Path,
    contract: TableContract,
    *,
    as_of: dt.date | None,
    today: dt.date | None,
    keep_columns: tuple[str, ...] | None = None,
    categorical: tuple[str, ...] = (),
) -> DataBundle:
    with malloc_pool():
        return _read_file(
            path,
            contract,
            as_of=as_of,
            today=today,
            keep_columns=keep_columns,
            categorical=categorical,
        )


def _read_file(
    path: Path,
    contract: TableContract,
    *,
    as_of: dt.date | None,
    today: dt.date | None,
    keep_columns: tuple[str, ...] | None,
    categorical: tuple[str, ...] = (),
) -> DataBundle:
    name = contract.name
    try:
        digest, size = sha256_of(path), path.stat().st_size
        raw = open_raw(path)
    except OSError as exc:
        raise DataError(
            f"{path.name} cannot be read ({exc.strerror or exc})",
            f"check that {path} exists and is readable by this user",
        ) from None
    info = FileInfo(str(path), FORMATS[path.suffix.casefold()], raw.encoding, digest, size)
    if not raw.columns:
        # Not even a header row: a broken export (an export of no record still writes its
        # header), whether or not the table is required. A header-only file is a valid
        # empty table.
        raise ContractViolation(
            f"{path.name} is empty (no header row)",
            f"export {name} again with its header row and records"
            if contract.required
            else f"export {name} again, or remove {path.name} if the table is not supplied",
        )
    mapped, ignored = map_headers(contract, raw.columns, path.name)
    check = partial(_check_chunk, contract, mapped=mapped, file=path.name, today=today)
    frame, rejects, warnings, stats, notes = _validate(
        contract,
        _released(map(check, raw.chunks(CHUNK_ROWS))),
        raw.bad_lines,
        len(raw.columns),
        path.name,
        as_of=as_of,
        keep_columns=keep_columns,
        categorical=categorical,
        blank_records=raw.blank_records,
    )
    notes = _column_notes(contract, mapped, ignored, path.name) + notes
    stats = replace(
        stats, absent_columns=tuple(c for c in contract.column_names if c not in mapped)
    )
    del raw
    release_memory()
    return DataBundle(
        tables={name: frame},
        rejects=sort_issues(rejects),
        warnings=sort_issues(warnings),
        stats={name: stats},
        files={name: info},
        notes=notes,
    )


def read_table(
    path: str | Path,
    table_name: str,
    *,
    as_of: dt.date | None = None,
    today: dt.date | None = None,
) -> DataBundle:
    """Read and validate one table file.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (UTF-8, UTF-8 with BOM, GBK or GB18030), ``.xlsx`` or ``.parquet`` file.
    table_name : str
        One of ``TABLES``.
    as_of : date, optional
        Rows dated after it are kept (history for backtests) and counted in the stats.
    today : date, optional
        Dates after it cannot be true and are rejected (``date_in_future``). ``None``
        skips that check.

    Returns
    -------
    DataBundle
        With this one table.

    Raises
    ------
    DataError
        The file is missing, unreadable, or breaks the contract as a whole (e.g. a
        required column is missing: :class:`ContractViolation`).
    """
    contract = _contract(table_name)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist", f"check the path to the {table_name} file")
    if path.suffix.casefold() not in FORMATS:
        raise DataError(
            f"{path.name}: unsupported file type {path.suffix!r}",
            "save the table as .csv, .xlsx or .parquet",
        )
    bundle = _read_one(path, contract, as_of=as_of, today=today)
    if today is None:
        bundle.notes.append("date_in_future not checked: no today date given")
    return bundle


def _categorical_columns(
    categorical: Mapping[str, Iterable[str]] | None,
) -> dict[str, tuple[str, ...]]:
    """Checked ``categorical`` argument of :func:`read_data_dir`: known text columns."""
    cats = _keep_columns(categorical, "categorical")
    for table, cols in cats.items():
        dtypes = {c.name: c.dtype for c in _contract(table).columns}
        not_text = [c for c in cols if dtypes[c] != "str"]
        if not_text:
            raise ValueError(
                f"The 'categorical' parameter of read_data_dir names non-text column(s) "
                f"{not_text} of table {table!r}; only text columns can be categoricals."
            )
    return cats


def _keep_columns(
    columns: Mapping[str, Iterable[str]] | None, parameter: str = "columns"
) -> dict[str, tuple[str, ...]]:
    """Checked ``columns`` argument of :func:`read_data_dir` (a caller's mistake raises)."""
    if columns is None:
        return {}
    keep = {}
    for table, cols in columns.items():
        contract = _contract(table)
        wanted = (cols,) if isinstance(cols, str) else tuple(cols)
        unknown = [c for c in wanted if c not in contract.column_names]
        if unknown:
            raise ValueError(
                f"The {parameter!r} parameter of read_data_dir names column(s) {unknown} that "
                f"table {table!r} does not have; its columns are {list(contract.column_names)}."
            )
        keep[table] = wanted
    return keep


def read_data_dir(
    path: str | Path,
    *,
    as_of: dt.date | None = None,
    today: dt.date | None = None,
    tables: Iterable[str] | None = None,
    progress: Progress | None = None,
    errors: Literal["raise", "collect"] = "raise",
    columns: Mapping[str, Iterable[str]] | None = None,
    categorical: Mapping[str, Iterable[str]] | None = None,
) -> DataBundle:
    """Read and validate every table of a data folder.

    Parameters
    ----------
    path : str or Path
        Folder holding ``enterprises.csv``, ``patents.parquet``… (one file per table).
    as_of : date, optional
        The run's as-of date; later rows are kept as history and counted.
    today : date, optional
        Dates after it are rejected (``date_in_future``). The command line passes the
        current date; ``None`` skips the check (noted).
    tables : iterable of str, optional
        Subset of ``TABLES`` to read (default: all).
    progress : callable, optional
        ``progress(table, done, total)`` after each table; library code prints nothing.
    errors : {"raise", "collect"}
        ``raise`` (default): a table that cannot be used raises its ``DataError``.
        ``collect``: the failure is recorded in ``bundle.failures`` and the table's stats
        (status ``failed``) and reading goes on; used by ``screening validate``.
    columns : mapping of str to iterable of str, optional
        Per table, the columns to keep in its frame (canonical names; default: all).
        Every column is still validated and every row accounted for exactly as without
        it: this only saves the memory of columns the caller never reads (at national scale
        a text column of the patents table is ~0.5 GB).
    categorical : mapping of str to iterable of str, optional
        Per table, text columns to return as pandas categoricals: integer codes and one
        copy of each distinct value. For text that repeats (firm names in patent lists,
        codes, types), each table is converted as soon as it is read. The values are the
        same as without it; only the dtype differs. At 1M firms this holds the patent and
        event tables in about half the memory. Validation and row accounting are unchanged.

    Returns
    -------
    DataBundle
    """
    if errors not in ("raise", "collect"):
        raise ValueError(
            f"The 'errors' parameter of read_data_dir must be 'raise' or 'collect'. Got {errors!r} instead."
        )
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(
            f"data folder {folder} does not exist or is not a folder",
            "pass the folder holding enterprises.csv, patents.csv, … (one file per table)",
        )
    names = list(TABLES) if tables is None else list(tables)
    contracts = [_contract(n) for n in names]
    keep = _keep_columns(columns)
    cats = _categorical_columns(categorical)
    result = DataBundle({}, empty_issues(), empty_issues(), {}, {}, [], as_of=as_of)
    failures: dict[str, IPWhitelistError] = {}
    located: dict[str, Path | None] = {}
    scan = scan_folder(folder, TABLES)
    result.unrecognised_files = [p.name for p in scan.unrecognised]
    if scan.unrecognised:
        result.notes.append(
            f"files not read in {folder.name} (not named after a table, or not .csv, .xlsx "
            f"or .parquet): {', '.join(result.unrecognised_files)}"
        )
    for contract in contracts:
        try:
            located[contract.name] = table_file(scan, folder, contract.name)
        except DataError as exc:
            failures[contract.name] = exc
            continue
        if located[contract.name] is None and contract.required:
            failures[contract.name] = DataError(
                f"required table {contract.name} is missing: no {contract.name}.csv, "
                f".xlsx or .parquet in {folder}",
                rename_hint(contract.name, scan.similar(contract.name))
                or f"export the {contract.name} table into {folder} "
                "(see docs/data_contracts.md for its columns)",
            )
    if errors == "raise" and failures:
        raise next(iter(failures.values()))
    rejects, warnings = [], []
    for done, contract in enumerate(contracts, start=1):
        name = contract.name
        file = located.get(name)
        if name in failures or file is None:
            if name not in failures:
                hint = rename_hint(name, scan.similar(name))
                result.notes.append(
                    f"optional table {name} missing: treated as empty"
                    + (f" ({hint})" if hint else "")
                )
                result.stats[name] = TableStats(name, status="missing")
            result.tables[name] = empty_frame(contract, keep.get(name), cats.get(name, ()))
        else:
            try:
                one = _read_one(
                    file,
                    contract,
                    as_of=as_of,
                    today=today,
                    keep_columns=keep.get(name),
                    categorical=cats.get(name, ()),
                )
            except IPWhitelistError as exc:
                if errors == "raise":
                    raise
                failures[name] = exc
                result.tables[name] = empty_frame(contract, keep.get(name), cats.get(name, ()))
            else:
                result.tables[name] = one.tables[name]
                result.stats[name] = one.stats[name]
                result.files[name] = one.files[name]
                result.notes.extend(one.notes)
                rejects.append(one.rejects)
                warnings.append(one.warnings)
                if contract.required and not one.stats[name].accepted:
                    failures[name] = ContractViolation(
                        f"required table {name} ({file.name}) has no usable row "
                        f"({one.stats[name].rows} read, {one.stats[name].rejected} rejected)",
                        "fix the rows listed in rejects.csv (screening validate --out DIR)",
                    )
                    if errors == "raise":
                        raise failures[name]
        if progress is not None:
            progress(name, done, len(contracts))
    for name, exc in failures.items():
        prior = result.stats.get(name)
        counts = {}
        if prior is not None:
            counts = {
                "rows": prior.rows,
                "accepted": prior.accepted,
                "rejected": prior.rejected,
                "duplicates": prior.duplicates,
                "by_rule": prior.by_rule,
            }
        result.stats[name] = TableStats(
            name, status="failed", error=exc.cause, remedy=exc.remedy, **counts
        )
    if today is None:
        result.notes.append("date_in_future not checked: no today date given")
    result.failures = failures
    result.rejects = (
        sort_issues(pd.concat(rejects, ignore_index=True)) if rejects else empty_issues()
    )
    result.warnings = (
        sort_issues(pd.concat(warnings, ignore_index=True)) if warnings else empty_issues()
    )
    return result


def row_identities(path: str | Path, table: str, rows: Iterable[int]) -> pd.DataFrame:
    """The ``uscc`` and ``name`` of some data rows of a table file, cleaned as the contract
    cleans them (codes half-width, upper case, no spaces; names trimmed), whatever else
    those rows failed.

    For naming rejected rows: a reject carries only its failing cell, and a registry row
    rejected for, say, a negative headcount is still a firm the output must list by its
    code. Returns ``source_row, uscc, name`` (and ``region_code`` for the registry) for the
    rows found.
    """
    columns = [c for c in ("uscc", "name", "region_code") if c in _contract(table).column_names]
    return read_rows(path, table, rows, columns)


def read_rows(
    path: str | Path, table: str, rows: Iterable[int], columns: Iterable[str]
) -> pd.DataFrame:
    """``source_row`` and ``columns`` of some data rows of a table file, each cell parsed
    as the contract parses it (a cell failing its own rule comes back null), whatever else
    those rows failed.

    For looking into rejected rows (a reject carries only its failing cell); the file is
    read again, chunk by chunk, keeping only those rows. A column the file lacks is null.
    """
    contract = _contract(table)
    specs = {c.name: c for c in contract.columns}
    names = list(columns)
    unknown = [c for c in names if c not in specs]
    if unknown:
        raise ValueError(
            f"The 'columns' parameter of read_rows names column(s) {unknown} that table "
            f"{table!r} does not have."
        )
    wanted = np.unique(np.fromiter(rows, dtype=np.int64))
    empty = pd.DataFrame({"source_row": pd.Series(dtype="int64")} | {
        c: pd.Series(dtype=PANDAS_TYPES.get(ARROW_TYPE[specs[c].dtype], "object"))
        for c in names})  # fmt: skip
    if not wanted.size:
        return empty
    raw = open_raw(Path(path))
    if not raw.columns:
        return empty
    mapped, _ignored = map_headers(contract, raw.columns, Path(path).name)
    parts = []
    for chunk in raw.chunks(CHUNK_ROWS):
        hit = np.isin(chunk.source_row, wanted)
        if not hit.any():
            continue
        sub = chunk.data.filter(pa.array(hit))
        n = sub.num_rows
        raw_cols = {c: sub.column(mapped[c]) for c in names if c in mapped}
        issues, warn = Issues(raw_cols, n), Issues(raw_cols, n)
        cols = {
            c: parse_column(specs[c], raw_cols[c], issues, warn)
            if c in raw_cols
            else pa.chunked_array([pa.nulls(n, ARROW_TYPE[specs[c].dtype])])
            for c in names
        }
        part = pa.table(list(cols.values()), names=names).to_pandas(types_mapper=PANDAS_TYPES.get)
        part.insert(0, "source_row", chunk.source_row[hit])
        parts.append(part)
    if not parts:
        return empty
    return pd.concat(parts, ignore_index=True)


REJECTION_COLUMNS = ("read", "rules", "failed", "duplicate", "only_duplicate", "reason")
"""What :func:`rejected_rows` adds to each rejected row's cells: ``read`` whether the file
gave the row back (a line with the wrong number of fields does not: its cells are null);
``rules`` the reader's rules for the row, sorted and ``+``-joined; ``failed`` the columns
its rules other than duplicate rules name, sorted and ``;``-joined (empty when it was
rejected only as a duplicate); ``duplicate`` whether one of its rules is a duplicate rule,
``only_duplicate`` whether all are; ``reason`` its messages, ``；``-joined in order."""


def rejected_rows(data: object, table: str, columns: Iterable[str]) -> pd.DataFrame:
    """Every rejected row of ``table`` that has a source row, read again from its file.

    Parameters
    ----------
    data : DataBundle
        What :func:`read_data_dir` returned (``rejects`` and ``files``). An object without
        them (a hand-made bundle) has no rejected rows.
    table : str
        The table whose rejected rows are wanted.
    columns : iterable of str
        The cells to read back, each parsed as the contract parses it (null where the cell
        itself failed, see :func:`read_rows`).

    Returns
    -------
    DataFrame
        ``source_row``, ``columns`` and :data:`REJECTION_COLUMNS`, one row per rejected
        row, sorted by ``source_row``. Reading the rows again costs a pass over the table's
        file, only when it had rejects.
    """
    names = list(columns)
    rejects = getattr(data, "rejects", None)
    files = getattr(data, "files", None) or {}
    mine = empty_issues()
    if rejects is not None and len(rejects) and table in files:
        mine = rejects.loc[(rejects["table"] == table) & rejects["source_row"].notna()]
    source = mine["source_row"].astype("int64")
    rule = mine["rule"].astype("str")
    dup = rule.str.startswith("duplicate_").fillna(False).astype(bool)
    by_row = pd.DataFrame(
        {
            "source_row": source.to_numpy(),
            "rule": rule.to_numpy(),
            # the cells a row failed on (its duplicate rules name its key, no failing cell)
            "failed": mine["column"].astype("str").where(~dup).to_numpy(),
            "dup": dup.to_numpy(),
            "message": mine["message"].astype("str").to_numpy(),
        }
    ).groupby("source_row", sort=True)
    why = pd.DataFrame(
        {
            "rules": by_row["rule"].agg(lambda s: "+".join(sorted(set(s)))),
            "failed": by_row["failed"].agg(lambda s: ";".join(sorted(set(s.dropna())))),
            "duplicate": by_row["dup"].any(),
            "only_duplicate": by_row["dup"].all(),
            "reason": by_row["message"].agg(lambda s: "；".join(dict.fromkeys(s))),
        }
    )
    if why.empty:
        cells = read_rows("", table, [], names)
    else:
        cells = read_rows(files[table].path, table, why.index.to_numpy(), names)
    out = pd.DataFrame({"source_row": why.index.to_numpy(dtype=np.int64)}).merge(
        cells, on="source_row", how="left"
    )
    out["read"] = out["source_row"].isin(cells["source_row"]).to_numpy(dtype=bool)
    for c in ("rules", "failed", "reason"):
        out[c] = pd.Series(out["source_row"].map(why[c]).to_numpy(), dtype="str")
    for c in ("duplicate", "only_duplicate"):
        out[c] = out["source_row"].map(why[c]).to_numpy(dtype=bool)
    return out[["source_row", *names, *REJECTION_COLUMNS]]
