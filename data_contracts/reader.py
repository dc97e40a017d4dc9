"""Read and validate one table or a whole data folder.

Pipeline per table (all steps vectorised over whole columns):

1. find the file, detect its encoding, read raw columns (``_files``);
2. map headers to canonical names (contracts); a missing required column fails the table;
3. parse each column by kind (ids, dates, numbers, enums, lists) collecting failures;
4. cross-column rules (dates that cannot be true, type vs application number, uscc-or-name);
5. pandera value checks on the typed frame (negative counts, code patterns, future dates);
6. exact duplicates dropped, conflicting duplicates of a key rejected (both rows);
7. accounting: every row read is accepted, rejected (in ``rejects``) or a dropped duplicate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from data_contracts._checks import (
    ARROW_TYPE,
    cross_checks,
    map_headers,
    pandera_checks,
    parse_column,
    report_conflicts,
)
from data_contracts._dups import find_duplicates
from data_contracts._files import FORMATS, RawTable, find_table_file, read_raw, sha256_of
from data_contracts._issues import Issues, bad_lines_frame, rows_per_rule, sort_issues
from data_contracts.bundle import DataBundle, FileInfo, TableStats, empty_issues
from data_contracts.contracts import (
    CONTRACTS,
    TABLES,
    TableContract,
)
from data_contracts.errors import ContractViolation, DataError, IPWhitelistError

Progress = Callable[[str, int, int], None]

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
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def empty_frame(contract: TableContract) -> pd.DataFrame:
    """A table with no rows and the canonical columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in contract.columns})


def _validate(
    contract: TableContract,
    raw: RawTable,
    file: str,
    *,
    as_of: dt.date | None,
    today: dt.date | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, TableStats, list[str]]:
    notes: list[str] = []
    mapped, ignored = map_headers(contract, raw.data, file)
    if ignored:
        notes.append(f"{contract.name}: columns ignored in {file}: {', '.join(ignored)}")
    n = raw.data.num_rows
    source_row = raw.source_row.to_numpy(zero_copy_only=False).astype(np.int64)
    raw_cols = {name: raw.data.column(header) for name, header in mapped.items()}
    issues = Issues(raw_cols, n)
    warn = Issues(raw_cols, n)
    cols: dict[str, pa.ChunkedArray] = {}
    absent = []
    for spec in contract.columns:
        if spec.name in raw_cols:
            cols[spec.name] = parse_column(spec, raw_cols[spec.name], issues, warn)
        else:
            absent.append(spec.name)
            cols[spec.name] = pa.chunked_array([pa.nulls(n, ARROW_TYPE[spec.dtype])])
    cross_checks(contract, cols, set(raw_cols), issues, warn)
    if absent:
        notes.append(f"{contract.name}: optional columns absent from {file}: {', '.join(absent)}")
    if contract.name == "patents" and "owners" in absent:
        notes.append(f"patents: no owners column in {file}: owners = applicants for every row")
    table = pa.table([cols[c] for c in contract.column_names], names=list(contract.column_names))
    frame = table.to_pandas(types_mapper=_PANDAS_TYPES.get)
    pandera_checks(contract, frame, today, issues)
    rejected = issues.row_mask()
    dup, conflict, group = find_duplicates(contract, cols, ~rejected)
    report_conflicts(contract, cols, conflict, group, source_row, issues)
    rejected = issues.row_mask()
    accepted = ~rejected & ~dup
    rejects = issues.frame(contract.name, file, source_row, None)
    if raw.bad_lines:
        rejects = pd.concat([rejects, bad_lines_frame(contract, raw, file)], ignore_index=True)
    warnings = warn.frame(contract.name, file, source_row, accepted)
    out = frame if accepted.all() else frame.loc[accepted].reset_index(drop=True)
    after = 0
    dated = _DATED_BY.get(contract.name)
    if as_of is not None and dated:
        after = int((out[dated] > pd.Timestamp(as_of)).sum())
        if after:
            notes.append(
                f"{contract.name}: {after} accepted rows dated after as-of {as_of.isoformat()} "
                f"({dated}); kept as history"
            )
    # A row failing several rules counts once per rule, and once in `rejected`.
    by_rule = {str(k): int(v) for k, v in rows_per_rule(rejects).items()} if len(rejects) else {}
    stats = TableStats(
        table=contract.name,
        rows=n + len(raw.bad_lines),
        accepted=int(accepted.sum()),
        rejected=int(rejected.sum()) + len(raw.bad_lines),
        duplicates=int(dup.sum()),
        by_rule=by_rule,
        warnings=len(warnings),
        warnings_by_rule={str(k): int(v) for k, v in warnings["rule"].value_counts().items()},
        after_as_of=after,
    )
    return out, rejects, warnings, stats, notes


def _contract(table_name: str) -> TableContract:
    try:
        return CONTRACTS[table_name]
    except KeyError:
        raise DataError(
            f"unknown table {table_name!r}",
            f"use one of: {', '.join(TABLES)}",
        ) from None


def _read_one(
    path: Path, contract: TableContract, *, as_of: dt.date | None, today: dt.date | None
) -> DataBundle:
    name = contract.name
    try:
        digest, size = sha256_of(path), path.stat().st_size
        raw = read_raw(path)
    except OSError as exc:
        raise DataError(
            f"{path.name} cannot be read ({exc.strerror or exc})",
            f"check that {path} exists and is readable by this user",
        ) from None
    info = FileInfo(str(path), FORMATS[path.suffix.casefold()], raw.encoding, digest, size)
    notes: list[str] = []
    if raw.data.num_columns == 0:
        if contract.required:
            raise ContractViolation(
                f"{path.name} is empty (no header row)",
                f"export {name} again with its header row and records",
            )
        notes.append(f"optional table {name}: {path.name} is empty: treated as empty")
        stats = TableStats(name)
        frame = empty_frame(contract)
        rejects = warnings = empty_issues()
    else:
        frame, rejects, warnings, stats, notes = _validate(
            contract, raw, path.name, as_of=as_of, today=today
        )
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


def read_data_dir(
    path: str | Path,
    *,
    as_of: dt.date | None = None,
    today: dt.date | None = None,
    tables: Iterable[str] | None = None,
    progress: Progress | None = None,
    errors: Literal["raise", "collect"] = "raise",
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
    result = DataBundle({}, empty_issues(), empty_issues(), {}, {}, [])
    failures: dict[str, IPWhitelistError] = {}
    located: dict[str, Path | None] = {}
    for contract in contracts:
        try:
            located[contract.name] = find_table_file(folder, contract.name)
        except DataError as exc:
            failures[contract.name] = exc
            continue
        if located[contract.name] is None and contract.required:
            failures[contract.name] = DataError(
                f"required table {contract.name} is missing: no {contract.name}.csv, "
                f".xlsx or .parquet in {folder}",
                f"export the {contract.name} table into {folder} "
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
                result.notes.append(f"optional table {name} missing: treated as empty")
                result.stats[name] = TableStats(name, status="missing")
            result.tables[name] = empty_frame(contract)
        else:
            try:
                one = _read_one(file, contract, as_of=as_of, today=today)
            except IPWhitelistError as exc:
                if errors == "raise":
                    raise
                failures[name] = exc
                result.tables[name] = empty_frame(contract)
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
