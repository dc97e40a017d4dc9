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
import pandera.pandas as pa_schema
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import _idvec
from data_contracts._dups import find_duplicates, key_array
from data_contracts._files import FORMATS, RawTable, find_table_file, read_raw, sha256_of
from data_contracts._parse import (
    Failure,
    parse_bool,
    parse_date,
    parse_enum,
    parse_float,
    parse_int,
)
from data_contracts._text import as_string, clean_code, clean_list, clean_text
from data_contracts.bundle import DataBundle, FileInfo, TableStats, empty_issues
from data_contracts.contracts import (
    CONTRACTS,
    PROGRAMME_DEFAULT_YEARS,
    TABLES,
    TAX_RATING,
    ColumnSpec,
    TableContract,
)
from data_contracts.errors import ContractViolation, DataError, IPWhitelistError
from data_contracts.identifiers import PATENT_TYPE_BY_DIGIT, check_app_no, check_uscc

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
_WARNING_RULES = {"uscc_legacy_check", "owners_defaulted", "valid_to_defaulted"}
_ARROW_TYPE = {
    "str": pa.large_string(),  # pandas' str dtype stores large_string: no cast on export
    "datetime64[ns]": pa.timestamp("ns"),
    "Int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
}
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def empty_frame(contract: TableContract) -> pd.DataFrame:
    """A table with no rows and the canonical columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in contract.columns})


class _Issues:
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
        return as_string(arr).take(pa.array(pos)).to_pylist()

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


def _map_headers(contract: TableContract, raw: pa.Table, file: str) -> tuple[dict, list[str]]:
    """Canonical name -> raw column; ignored headers. Fails on ambiguous or missing columns."""
    mapped: dict[str, str] = {}
    ignored: list[str] = []
    for header in raw.column_names:
        name = contract.match_header(header)
        if name is None:
            ignored.append(header)
            continue
        if name in mapped:
            raise ContractViolation(
                f"{file} has two columns for {name}: {mapped[name]!r} and {header!r}",
                f"keep one of them in {file} (or rename the other to a header that is not an "
                f"alias of {name})",
            )
        mapped[name] = header
    for col in contract.required_columns:
        if col not in mapped:
            raise ContractViolation(
                f"{file} lacks required column {col} "
                f"(accepted headers: {contract.accepted_headers(col)})",
                f"add the column or rename its header in {file} to one of the accepted headers",
            )
    if contract.uscc_or_name and "uscc" not in mapped and "name" not in mapped:
        raise ContractViolation(
            f"{file} lacks both uscc and name: one is required "
            f"(accepted headers: {contract.accepted_headers('uscc')}; "
            f"{contract.accepted_headers('name')})",
            f"add a 统一社会信用代码 or 企业名称 column to {file}",
        )
    return mapped, ignored


def _parse_column(
    spec: ColumnSpec, raw: pa.ChunkedArray, issues: _Issues, warn: _Issues
) -> pa.ChunkedArray:
    kind = spec.kind
    failures: list[Failure] = []
    if kind == "uscc":
        codes = clean_code(raw, drop="-")
        verdict = _idvec.uscc_verdicts(codes)
        for code, rule in _idvec.USCC_RULES.items():
            if code == _idvec.MISSING:
                continue
            pos = np.flatnonzero(verdict == code)
            if not pos.size:
                continue
            messages = [check_uscc(v).message for v in codes.take(pa.array(pos)).to_pylist()]
            target = warn if code == _idvec.LEGACY else issues
            target.add_positions(pos, spec.name, rule, messages)
        values = codes
    elif kind == "app_no":
        text = clean_code(raw)
        verdict, values = _idvec.app_no_verdicts(text)
        for code in (_idvec.FORMAT, _idvec.CHECK, _idvec.TYPE_DIGIT):
            pos = np.flatnonzero(verdict == code)
            if not pos.size:
                continue
            messages = [check_app_no(v).message for v in text.take(pa.array(pos)).to_pylist()]
            issues.add_positions(pos, spec.name, _idvec.APP_NO_RULES[code], messages)
        values = pa.chunked_array([values])
    elif kind == "code":
        values = clean_code(raw)
    elif kind == "ipc":
        values = clean_code(raw, remove_spaces=False)
    elif kind == "text":
        values = clean_text(raw)
    elif kind == "list":
        values = clean_list(raw)
    elif kind == "code_list":
        values = clean_list(raw, code=True)
    elif kind == "ipc_list":
        values = clean_list(raw, code=True, remove_spaces=False)
    elif kind == "date":
        values, failures = parse_date(raw)
    elif kind == "int":
        values, failures = parse_int(raw)
    elif kind == "float":
        values, failures = parse_float(raw)
    elif kind == "bool":
        values, failures = parse_bool(raw)
    elif kind == "enum":
        assert spec.enum is not None
        values, failures = parse_enum(raw, spec.enum, spec.enum_values)
    else:  # pragma: no cover - guarded by the Kind literal
        raise ValueError(kind)
    for f in failures:
        issues.add(f.mask, spec.name, f.rule, f.message)
    if spec.required:
        missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        # A value that is present but unparseable already has its own rule; a value that
        # cleans to nothing (a list cell holding only separators) is missing.
        missing &= ~issues.column_mask(spec.name)
        issues.add(missing, spec.name, "required_missing", f"{spec.name} is required but empty")
    return (
        values.cast(_ARROW_TYPE[spec.dtype]) if values.type != _ARROW_TYPE[spec.dtype] else values
    )


def _np_bool(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _cross_checks(
    contract: TableContract,
    cols: dict[str, pa.ChunkedArray],
    present: set[str],
    issues: _Issues,
    warn: _Issues,
) -> None:
    """Rules between columns of one row."""
    for earlier, later, rule in contract.date_order:
        if earlier in present and later in present:
            bad = _np_bool(pc.less(cols[later], cols[earlier]))
            issues.add(bad, later, rule, f"{{column}} {{value!r}} is before {earlier}")
    if contract.uscc_or_name:
        neither = _np_bool(pc.and_(cols["uscc"].is_null(), cols["name"].is_null()))
        issues.add(neither, "uscc", "required_missing", "uscc or name is required; both are empty")
    name = contract.name
    if name == "patents":
        digit = pc.utf8_slice_codeunits(cols["app_no"], 6, 7)
        implied = pc.take(
            pa.array(list(PATENT_TYPE_BY_DIGIT.values())),
            pc.index_in(digit, value_set=pa.array(list(PATENT_TYPE_BY_DIGIT))),
        )
        mismatch = _np_bool(pc.not_equal(implied, cols["patent_type"]))
        issues.add(
            mismatch,
            "patent_type",
            "patent_type_mismatch",
            "{column} {value!r} contradicts the type digit of app_no",
        )
        if "owners" not in present:
            cols["owners"] = cols["applicants"]
        else:
            defaulted = _np_bool(pc.and_(cols["owners"].is_null(), cols["applicants"].is_valid()))
            cols["owners"] = pc.coalesce(cols["owners"], cols["applicants"])
            warn.add(defaulted, "owners", "owners_defaulted", "owners empty: applicants used")
    elif name == "credit_records":
        is_tax = _np_bool(pc.equal(cols["record_type"], "tax_rating"))
        value = cols["value"]
        bad = is_tax & _np_bool(
            pc.and_(value.is_valid(), pc.invert(pc.is_in(value, pa.array(TAX_RATING))))
        )
        issues.add(
            bad,
            "value",
            "enum_unknown",
            "{column} {value!r} is not a tax rating (accepted: " + ", ".join(TAX_RATING) + ")",
        )
        missing = is_tax & _np_bool(value.is_null())
        issues.add(
            missing, "value", "required_missing", "tax_rating records need a value (A/B/M/C/D)"
        )
    elif name == "programmes":
        _default_valid_to(cols, present, warn)


def _default_valid_to(cols: dict[str, pa.ChunkedArray], present: set[str], warn: _Issues) -> None:
    """Fill the programme's default certificate validity where ``valid_to`` is empty."""
    start = pd.Series(cols["valid_from"].to_pandas()).astype("datetime64[ns]")
    prog = pd.Series(cols["programme"].to_pandas(), dtype="str")
    default = start + pd.DateOffset(years=PROGRAMME_DEFAULT_YEARS) - pd.Timedelta(days=1)
    tech = prog.eq("tech_sme").to_numpy(dtype=bool, na_value=False)
    year_end = pd.to_datetime(
        (start.dt.year + 1).astype("Int64").astype("str") + "-12-31", errors="coerce"
    )
    default = default.where(~tech, year_end)
    default_arr = pa.chunked_array(
        [pa.array(default.to_numpy(dtype="datetime64[ns]"), pa.timestamp("ns"), from_pandas=True)]
    )
    valid_to = cols["valid_to"]
    filled = _np_bool(pc.and_(valid_to.is_null(), default_arr.is_valid()))
    cols["valid_to"] = pc.coalesce(valid_to, default_arr)
    if "valid_to" in present:
        message = "valid_to empty: programme default used"
    else:
        message = "no valid_to column: programme default used"
    warn.add(filled, "valid_to", "valid_to_defaulted", message)


def _pandera_schema(contract: TableContract, today: dt.date | None) -> pa_schema.DataFrameSchema:
    columns: dict[str, pa_schema.Column] = {}
    for col in contract.columns:
        checks = []
        if col.nonneg:
            rule = "negative_count" if col.kind == "int" else "negative_amount"
            checks.append(pa_schema.Check.ge(0, name=rule, error=rule))
        if col.pattern:
            rule = f"{col.name}_format"
            checks.append(pa_schema.Check.str_matches(col.pattern, name=rule, error=rule))
        if col.kind == "date" and today is not None and not col.future_ok:
            checks.append(
                pa_schema.Check.le(
                    pd.Timestamp(today), name="date_in_future", error="date_in_future"
                )
            )
        if checks:
            columns[col.name] = pa_schema.Column(col.dtype, checks=checks, nullable=True)
    return pa_schema.DataFrameSchema(columns, name=contract.name)


_PANDERA_MESSAGES = {
    "negative_count": "{column} {value!r} is negative; counts must be >= 0",
    "negative_amount": "{column} {value!r} is negative; amounts must be >= 0",
    "date_in_future": "{column} {value!r} is after today ({today})",
}


def _pandera_checks(
    contract: TableContract, frame: pd.DataFrame, today: dt.date | None, issues: _Issues
) -> None:
    schema = _pandera_schema(contract, today)
    if not schema.columns:
        return
    try:
        schema.validate(frame[list(schema.columns)], lazy=True)
    except pa_schema.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        for (column, check), group in cases.groupby(["column", "check"], sort=True):
            rule = str(check)
            pos = np.unique(group["index"].to_numpy(dtype=np.int64))
            template = _PANDERA_MESSAGES.get(
                rule,
                "{column} {value!r} does not match the pattern "
                + (contract.column(str(column)).pattern or ""),
            )
            issues.add_positions(
                pos,
                str(column),
                rule,
                [
                    template.format(column=column, value=v, today=today)
                    for v in issues.raw_values(str(column), pos)
                ],
            )


def _show(value: object) -> str:
    """Key values in messages: dates without a time, names without the ``name:`` tag."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    text = str(value)
    return text[5:] if text.startswith("name:") else text


def _report_conflicts(
    contract: TableContract,
    cols: dict[str, pa.ChunkedArray],
    conflict: np.ndarray,
    group: np.ndarray,
    source_row: np.ndarray,
    issues: _Issues,
) -> None:
    """One reject per conflicting row, naming the other rows of its key."""
    rows = np.flatnonzero(conflict)
    if not rows.size:
        return
    label = " + ".join(k.replace("uscc|name", "uscc (or name)") for k in contract.key)
    key_vals = [
        [_show(v) for v in key_array(cols, k).take(pa.array(rows)).to_pylist()]
        for k in contract.key
    ]
    by_group: dict[int, list[int]] = {}
    for g, r in zip(group[rows], source_row[rows], strict=True):
        by_group.setdefault(int(g), []).append(int(r))
    messages = []
    for i, g in enumerate(group[rows]):
        shown = " + ".join(str(v[i]) for v in key_vals)
        others = ", ".join(map(str, by_group[int(g)]))
        messages.append(
            f"{label} {shown} appears on rows {others} with different values; "
            "all copies rejected until the source is fixed"
        )
    column = contract.key[0].split("|")[0]
    issues.add_positions(rows, column, "duplicate_conflict", messages)


def _validate(
    contract: TableContract,
    raw: RawTable,
    file: str,
    *,
    as_of: dt.date | None,
    today: dt.date | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, TableStats, list[str]]:
    notes: list[str] = []
    mapped, ignored = _map_headers(contract, raw.data, file)
    if ignored:
        notes.append(f"{contract.name}: columns ignored in {file}: {', '.join(ignored)}")
    n = raw.data.num_rows
    source_row = raw.source_row.to_numpy(zero_copy_only=False).astype(np.int64)
    raw_cols = {name: raw.data.column(header) for name, header in mapped.items()}
    issues = _Issues(raw_cols, n)
    warn = _Issues(raw_cols, n)
    cols: dict[str, pa.ChunkedArray] = {}
    absent = []
    for spec in contract.columns:
        if spec.name in raw_cols:
            cols[spec.name] = _parse_column(spec, raw_cols[spec.name], issues, warn)
        else:
            absent.append(spec.name)
            cols[spec.name] = pa.chunked_array([pa.nulls(n, _ARROW_TYPE[spec.dtype])])
    _cross_checks(contract, cols, set(raw_cols), issues, warn)
    if absent:
        notes.append(f"{contract.name}: optional columns absent from {file}: {', '.join(absent)}")
    if contract.name == "patents" and "owners" in absent:
        notes.append(f"patents: no owners column in {file}: owners = applicants for every row")
    table = pa.table([cols[c] for c in contract.column_names], names=list(contract.column_names))
    frame = table.to_pandas(types_mapper=_PANDAS_TYPES.get)
    _pandera_checks(contract, frame, today, issues)
    rejected = issues.row_mask()
    dup, conflict, group = find_duplicates(contract, cols, ~rejected)
    _report_conflicts(contract, cols, conflict, group, source_row, issues)
    rejected = issues.row_mask()
    accepted = ~rejected & ~dup
    rejects = issues.frame(contract.name, file, source_row, None)
    if raw.bad_lines:
        rejects = pd.concat([rejects, _bad_lines(contract, raw, file)], ignore_index=True)
    warnings = warn.frame(contract.name, file, source_row, accepted)
    out = frame.loc[accepted].reset_index(drop=True)
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
    by_rule = {str(k): int(v) for k, v in _rows_per_rule(rejects).items()} if len(rejects) else {}
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


def _rows_per_rule(rejects: pd.DataFrame) -> pd.Series:
    return rejects.drop_duplicates(["source_row", "rule"])["rule"].value_counts()


def _bad_lines(contract: TableContract, raw: RawTable, file: str) -> pd.DataFrame:
    width = raw.data.num_columns
    return pd.DataFrame(
        {
            "table": contract.name,
            "file": file,
            "source_row": pd.array([b[0] for b in raw.bad_lines], dtype="Int64"),
            "column": "",
            "value": pd.Series([b[1][:200] for b in raw.bad_lines], dtype="str"),
            "rule": "column_count",
            "message": pd.Series(
                [f"line has {b[2]} fields, the header has {width}" for b in raw.bad_lines],
                dtype="str",
            ),
        }
    ).astype({c: "str" for c in ("table", "file", "column", "rule")})


def _sort_issues(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return empty_issues()
    order = {t: i for i, t in enumerate(TABLES)}
    frame = frame.assign(_t=frame["table"].map(order))
    frame = frame.sort_values(["_t", "source_row", "column", "rule"], kind="stable")
    return frame.drop(columns="_t").reset_index(drop=True)


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
    info = FileInfo(
        path=str(path),
        format=FORMATS[path.suffix.casefold()],
        encoding="",
        sha256=sha256_of(path),
        size_bytes=path.stat().st_size,
    )
    raw = read_raw(path)
    info = FileInfo(info.path, info.format, raw.encoding, info.sha256, info.size_bytes)
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
        rejects=_sort_issues(rejects),
        warnings=_sort_issues(warnings),
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
        _sort_issues(pd.concat(rejects, ignore_index=True)) if rejects else empty_issues()
    )
    result.warnings = (
        _sort_issues(pd.concat(warnings, ignore_index=True)) if warnings else empty_issues()
    )
    return result
