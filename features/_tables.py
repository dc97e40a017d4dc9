"""Access to the canonical tables (docs/data_model.md) from a DataBundle or a plain mapping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from data_contracts.errors import ContractViolation, DataError
from features._names import as_text, is_text_categorical

# Columns the features layer reads, per canonical table. Optional columns missing from a
# table are added empty; missing required ones raise ContractViolation.
COLUMNS: dict[str, dict[str, str]] = {
    "enterprises": {
        "uscc": "str",
        "name": "str",
        "former_names": "str",
        "status": "str",
        "established": "datetime64[ns]",
        "region_code": "str",
        "industry_code": "str",
        "park": "str",
        "size": "str",
        "employees": "Int64",
        "registered_capital": "float64",
        "revenue": "float64",
        "rd_expense": "float64",
    },
    "patents": {
        "app_no": "str",
        "app_date": "datetime64[ns]",
        "patent_type": "str",
        "title": "str",
        "pub_date": "datetime64[ns]",
        "grant_date": "datetime64[ns]",
        "ipc_main": "str",
        "ipc_all": "str",
        "claims": "Int64",
        "forward_citations": "Int64",
        "family_size": "Int64",
        "family_countries": "str",
        "pct": "boolean",
        "applicants": "str",
        "applicant_usccs": "str",
        "owners": "str",
        "inventors": "str",
        "award": "str",
    },
    "patent_events": {
        "app_no": "str",
        "event_code": "str",
        "event_date": "datetime64[ns]",
        "from_party": "str",
        "to_party": "str",
    },
    "credit_records": {
        "uscc": "str",
        "name": "str",
        "record_type": "str",
        "start_date": "datetime64[ns]",
        "end_date": "datetime64[ns]",
        "severity": "str",
        "value": "str",
        "record_id": "str",
        "source": "str",
    },
    "programmes": {
        "uscc": "str",
        "name": "str",
        "programme": "str",
        "level": "str",
        "valid_from": "datetime64[ns]",
        "valid_to": "datetime64[ns]",
        "certificate_no": "str",
        "standard_version": "str",
        "status": "str",
    },
    "nominations": {
        "uscc": "str",
        "name": "str",
        "nominated_by": "str",
        "nominated_on": "datetime64[ns]",
        "note": "str",
    },
}
# Text columns whose values repeat by nature (firm names and codes in lists of patents,
# events and records; types and codes): the features layer reads them as well when they are
# pandas categoricals, and holding them so halves the memory of the national patent tables.
# Titles, inventors and application numbers are (nearly) unique and stay plain text.
REPEATED: dict[str, tuple[str, ...]] = {
    "patents": (
        "patent_type",
        "ipc_main",
        "ipc_all",
        "family_countries",
        "applicants",
        "applicant_usccs",
        "owners",
        "award",
    ),
    "patent_events": ("event_code", "from_party", "to_party"),
    "credit_records": ("uscc", "name", "record_type", "severity", "value", "source"),
    "programmes": ("uscc", "name", "programme", "level", "standard_version", "status"),
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "enterprises": ("uscc", "name"),
    "patents": ("app_no", "app_date", "patent_type", "applicants"),
    "patent_events": ("app_no", "event_code", "event_date"),
    "credit_records": ("record_type", "start_date"),
    "programmes": ("programme", "valid_from"),
    "nominations": (),
}


def as_tables(data: Any) -> Mapping[str, pd.DataFrame]:
    """The table mapping of a ``DataBundle`` (``.tables``) or of a plain mapping."""
    tables = getattr(data, "tables", data)
    if not isinstance(tables, Mapping):
        raise DataError(
            f"Expected a DataBundle or a mapping of table name to DataFrame, got "
            f"{type(data).__name__}.",
            "Pass data_contracts.read_data_dir(...) or a dict of the canonical tables.",
        )
    return tables


def get_table(
    data: Any,
    name: str,
    columns: Iterable[str] | None = None,
    *,
    categorical: bool = False,
) -> pd.DataFrame:
    """One canonical table with every column the features layer reads (empty when absent),
    or only ``columns`` of them (the required columns are checked either way).

    Text columns come as ``str``; with ``categorical=True`` a text column held as a
    categorical of strings stays one (for callers that read it through
    ``features._names``' ``arrow_strings``, ``encode`` and ``take_text``)."""
    tables = as_tables(data)
    spec = COLUMNS[name]
    df = tables.get(name)
    if df is None:
        if name in ("enterprises", "patents"):
            raise DataError(
                f"The required table {name!r} is missing from the input data.",
                f"Provide {name}.csv/.xlsx/.parquet in the data folder.",
            )
        df = pd.DataFrame()
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"Table {name!r} must be a pandas DataFrame, got {type(df).__name__}.",
            "Pass the canonical tables as DataFrames.",
        )
    if len(df.columns):
        missing = [c for c in REQUIRED[name] if c not in df.columns]
        if missing:
            raise ContractViolation(
                f"Table {name!r} lacks required column(s) {', '.join(missing)}.",
                "Read the folder with data_contracts.read_data_dir so the columns are "
                "canonical (docs/data_model.md).",
            )
    out = {}
    for col, dtype in spec.items() if columns is None else ((c, spec[c]) for c in columns):
        if col in df.columns:
            s = df[col]
            if dtype.startswith("datetime"):
                if not pd.api.types.is_datetime64_any_dtype(s):
                    s = pd.to_datetime(s, errors="coerce")
                s = s.astype("datetime64[ns]")
            elif (
                dtype == "str" and s.dtype != "str" and not (categorical and is_text_categorical(s))
            ):
                s = as_text(s)
            out[col] = s.reset_index(drop=True)
        else:
            # all missing, built without a Python list of len(df) Nones
            out[col] = pd.Series(index=pd.RangeIndex(len(df)), dtype=dtype)
    # copy=False: the columns are views of the input's (no copy of numeric columns)
    return pd.DataFrame(out, copy=False)
