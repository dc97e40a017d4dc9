"""Per-column parsing and the rules of one table: headers, values, cross-column dates,
pandera value checks, conflict messages.

Every rule but the duplicate ones looks at one row at a time, so the reader applies them to
one chunk of rows after another."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandera.pandas as pa_schema
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import _idvec
from data_contracts._dups import key_array
from data_contracts._issues import Issues
from data_contracts._parse import (
    BOOL_MAP,
    Failure,
    far_future,
    parse_bool,
    parse_date,
    parse_enum,
    parse_float,
    parse_int,
)
from data_contracts._text import (
    _has,
    clean_code,
    clean_list,
    clean_text,
    enum_lookup_key,
    take_rows,
)
from data_contracts.contracts import (
    PROGRAMME_DEFAULT_YEARS,
    TAX_RATING,
    UNIT_SUFFIXES,
    ColumnSpec,
    TableContract,
)
from data_contracts.errors import ContractViolation
from data_contracts.identifiers import PATENT_TYPE_BY_DIGIT, check_app_no, check_uscc

ARROW_TYPE = {
    "str": pa.large_string(),  # pandas' str dtype stores large_string: no cast on export
    "datetime64[ns]": pa.timestamp("ns"),
    "Int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
}
# Arrow -> pandas for the typed columns; strings map to pandas' own (Arrow-backed) str dtype.
PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def map_headers(
    contract: TableContract, headers: list[str], file: str
) -> tuple[dict[str, str], list[str]]:
    """Canonical name -> raw header; ignored headers. Fails on ambiguous or missing columns."""
    mapped: dict[str, str] = {}
    ignored: list[str] = []
    for header in headers:
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


PLACEHOLDERS = (
    "-",
    "--",
    "—",
    "——",
    "－",
    "/",
    "null",
    "none",
    "na",
    "n/a",
    "nan",
    "无",
    "暂无",
    "空",
)
"""Cell texts that mean "no value" in exports (compared trimmed, NFKC, case-folded). In an
optional date, number, yes/no or enum column they are read as empty, with a warning: a
失信 listing whose removal date reads ``—`` must not be rejected as a row (the firm would
be screened as if the record did not exist)."""
OPEN_ENDED = ("长期", "长期有效", "永久", "无期限", "至今")
"""End-date texts that mean "no end": read as open-ended, with a warning."""
_PLACEHOLDER_KINDS = {"date", "int", "float", "bool", "enum"}


def _placeholders(spec: ColumnSpec, raw: pa.ChunkedArray, warn: Issues) -> pa.ChunkedArray:
    """``raw`` with the placeholder texts of an optional typed column as nulls (warned)."""
    if spec.required or spec.kind not in _PLACEHOLDER_KINDS or len(raw) == 0:
        return raw
    if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
        return raw
    folded = pc.utf8_lower(pc.utf8_trim_whitespace(pc.utf8_normalize(raw, "NFKC")))
    end_date = spec.kind == "date" and spec.future_ok
    words = PLACEHOLDERS + (OPEN_ENDED if end_date else ())
    # a word the column's own vocabulary reads is a value, not a placeholder (无 is "no" in
    # a yes/no column)
    own = set(BOOL_MAP) if spec.kind == "bool" else set()
    if spec.kind == "enum" and spec.enum is not None:
        own = {enum_lookup_key(str(k)) for k in spec.enum}
    words = tuple(w for w in words if enum_lookup_key(w) not in own)
    hit = pc.fill_null(pc.is_in(folded, value_set=pa.array(words)), False)
    mask = _np_bool(hit)
    if not mask.any():
        return raw
    warn.add(
        mask,
        spec.name,
        "placeholder_empty",
        "{column} {value!r} read as "
        + ("no end date given (empty)" if end_date else "empty (a placeholder for no value)"),
    )
    return pc.if_else(hit, pa.scalar(None, raw.type), raw)


def _unit_suffix(spec: ColumnSpec, raw: pa.ChunkedArray, warn: Issues) -> pa.ChunkedArray:
    """``raw`` without a suffix that repeats the column's own unit (``1048.6万`` or
    ``14191.6万元`` in a 万元 column, ``731人`` in a 人 column), warned.

    Another unit (``1.2亿元`` in a 万元 column) is left in place: the cell then fails as
    unparseable rather than being converted by a guess."""
    if not spec.unit or len(raw) == 0:
        return raw
    if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
        return raw
    suffixes = UNIT_SUFFIXES[spec.unit]
    if not any(_has(raw, s[-1]) for s in suffixes):  # a byte scan: clean columns stop here
        return raw
    pattern = r"^(.*\S)\s*(?:" + "|".join(suffixes) + r")\s*$"
    hit = pc.match_substring_regex(raw, pattern)
    mask = _np_bool(hit)
    if not mask.any():
        return raw
    warn.add(
        mask,
        spec.name,
        "unit_suffix_stripped",
        "{column} {value!r} read without its unit: the column is in " + spec.unit,
    )
    return pc.if_else(hit, pc.replace_substring_regex(raw, pattern, r"\1"), raw)


def parse_column(
    spec: ColumnSpec, raw: pa.ChunkedArray, issues: Issues, warn: Issues
) -> pa.ChunkedArray:
    kind = spec.kind
    failures: list[Failure] = []
    raw = _placeholders(spec, raw, warn)
    raw = _unit_suffix(spec, raw, warn)
    if kind == "uscc":
        codes = clean_code(raw, drop="-")
        verdict = _idvec.uscc_verdicts(codes)
        for code, rule in _idvec.USCC_RULES.items():
            if code == _idvec.MISSING:
                continue
            pos = np.flatnonzero(verdict == code)
            if not pos.size:
                continue
            messages = [check_uscc(v).message for v in take_rows(codes, pos).to_pylist()]
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
            messages = [check_app_no(v).message for v in take_rows(text, pos).to_pylist()]
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
    elif kind == "app_no_list":
        values = _app_no_list(spec, raw, warn)
    elif kind == "code_list":
        values = clean_list(raw, code=True)
    elif kind == "ipc_list":
        values = clean_list(raw, code=True, remove_spaces=False)
    elif kind == "date":
        values, failures = parse_date(raw)
        if spec.future_ok and not spec.required and failures:
            # an end date of 9999-12-31 (or any year after 2200) means "no end": the value
            # is left empty (open-ended), with a warning, not the row rejected — an active
            # 失信 record must not vanish because its end was written that way
            far = far_future(raw)
            if far.any():
                failures = [Failure(f.mask & ~far, f.rule, f.message) for f in failures]
                warn.add(far, spec.name, "date_open_ended",
                         "{column} {value!r} is after 2200: read as open-ended (no end date)")  # fmt: skip
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
    return values.cast(ARROW_TYPE[spec.dtype]) if values.type != ARROW_TYPE[spec.dtype] else values


def _app_no_list(spec: ColumnSpec, raw: pa.ChunkedArray, warn: Issues) -> pa.ChunkedArray:
    """Lists of application numbers, each normalised to ``CNYYYYTNNNNNNN.C``.

    An invalid item is dropped with a warning rather than rejecting the row: a loan report
    is worth keeping (it carries the outcome) even when one pledged number is mistyped.
    """
    cells = clean_list(raw, code=True)
    combined = cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells
    lists = pc.split_pattern(combined, ";")
    flat = pc.list_flatten(lists)
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    verdict, canonical = _idvec.app_no_verdicts(flat)
    ok = verdict == _idvec.OK
    bad = np.flatnonzero(~ok)
    if bad.size:
        items = flat.take(pa.array(bad)).to_pylist()
        warn.add_positions(
            parent[bad],
            spec.name,
            "pledged_app_no_invalid",
            [f"{check_app_no(v).message}; item dropped" for v in items],
        )
    counts = np.bincount(parent[ok], minlength=len(combined))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    kept = pa.ListArray.from_arrays(pa.array(offsets), canonical.filter(pa.array(ok)))
    joined = pc.binary_join(kept, pa.scalar(";", kept.type.value_type))
    return pa.chunked_array([pc.if_else(pc.equal(pc.binary_length(joined), 0), None, joined)])


def _np_bool(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def cross_checks(
    contract: TableContract,
    cols: dict[str, pa.ChunkedArray],
    present: set[str],
    issues: Issues,
    warn: Issues,
) -> None:
    """Rules between columns of one row."""
    for earlier, later, rule in contract.date_order:
        if earlier in present and later in present:
            bad = _np_bool(pc.less(cols[later], cols[earlier]))
            issues.add(bad, later, rule, f"{{column}} {{value!r}} is before {earlier}")
    if contract.uscc_or_name:
        # a mistyped code beside a name: the row is linked by its name (as a row without a
        # code is), not rejected — a negative credit record must not vanish for a typo
        named = _np_bool(pc.invert(cols["name"].is_null()))
        moved = issues.move(
            "uscc",
            (r for c, r in _idvec.USCC_RULES.items() if c not in (_idvec.MISSING, _idvec.LEGACY)),
            named,
            warn,
            "uscc_invalid_name_used",
            "{column} {value!r} is not a valid code; the row is linked by its name instead",
        )
        if moved.any():
            cols["uscc"] = pc.if_else(pa.array(moved), pa.scalar(None, pa.string()), cols["uscc"])
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


def _default_valid_to(cols: dict[str, pa.ChunkedArray], present: set[str], warn: Issues) -> None:
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


def pandera_checks(
    contract: TableContract, table: pa.Table, today: dt.date | None, issues: Issues
) -> None:
    """Value checks (signs, code patterns, future dates) on the typed columns of ``table``."""
    schema = _pandera_schema(contract, today)
    if not schema.columns:
        return
    # Only the checked columns go to pandas: the strings are shared, not copied.
    frame = table.select(list(schema.columns)).to_pandas(types_mapper=PANDAS_TYPES.get)
    try:
        schema.validate(frame, lazy=True)
    except pa_schema.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        for (column, check), group in cases.groupby(["column", "check"], sort=True):
            rule = str(check)
            pos = np.unique(group["index"].to_numpy(dtype=np.int64))
            template = _PANDERA_MESSAGES.get(
                rule, "{column} {value!r} does not match the pattern {pattern}"
            )
            pattern = contract.column(str(column)).pattern
            issues.add_positions(
                pos,
                str(column),
                rule,
                [
                    template.format(column=column, value=v, today=today, pattern=pattern)
                    for v in issues.raw_values(str(column), pos)
                ],
            )


def _show(value: object) -> str:
    """Key values in messages: dates without a time, names without the ``name:`` tag."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    text = str(value)
    return text[5:] if text.startswith("name:") else text


def key_column(contract: TableContract) -> str:
    """The column duplicate conflicts are filed under (the key's first)."""
    return contract.key[0].split("|")[0] if contract.key else ""


def conflict_messages(
    contract: TableContract,
    cols: dict[str, pa.ChunkedArray],
    rows: np.ndarray,
    group: np.ndarray,
    source_row: np.ndarray,
    used: dict[int, int] | None = None,
) -> tuple[str, list[str]]:
    """One reject message per conflicting row, naming the other rows of its key.

    ``rows`` are the conflicting rows in order, ``group`` the key group of each (as
    :func:`~data_contracts._dups.find_duplicates` returns it) and ``source_row`` the data
    row number of each; ``used`` the data row each group keeps (``keep_last`` contracts). Returns the column the rejects are filed under (the key's first) and
    the messages.
    """
    column = key_column(contract)
    if not rows.size:
        return column, []
    label = " + ".join(k.replace("uscc|name", "uscc (or name)") for k in contract.key)
    key_vals = [
        [_show(v) for v in take_rows(key_array(cols, k), rows).to_pylist()] for k in contract.key
    ]
    by_group: dict[int, list[int]] = {}
    for g, r in zip(group, source_row, strict=True):
        by_group.setdefault(int(g), []).append(int(r))
    messages = []
    for i, g in enumerate(group):
        shown = " + ".join(str(v[i]) for v in key_vals)
        rows_of_key = by_group[int(g)]
        if contract.on_conflict == "keep_last":
            kept = (used or {}).get(int(g), max(rows_of_key))
            messages.append(
                f"{label} {shown} appears again on row {kept} with different values; that "
                "row is used (the last copy known at the as-of date, taken as the correction)"
            )
            continue
        messages.append(
            f"{label} {shown} appears on rows {', '.join(map(str, rows_of_key))} with "
            "different values; all copies rejected until the source is fixed"
        )
    return column, messages
