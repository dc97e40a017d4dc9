"""What the reader returns: validated tables, rejects, warnings, per-table statistics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from data_contracts.errors import IPWhitelistError

ISSUE_COLUMNS = ("table", "file", "source_row", "column", "value", "rule", "message")


def empty_issues() -> pd.DataFrame:
    """An empty rejects/warnings table with the right columns and dtypes."""
    return pd.DataFrame(
        {
            "table": pd.Series([], dtype="str"),
            "file": pd.Series([], dtype="str"),
            "source_row": pd.Series([], dtype="Int64"),
            "column": pd.Series([], dtype="str"),
            "value": pd.Series([], dtype="str"),
            "rule": pd.Series([], dtype="str"),
            "message": pd.Series([], dtype="str"),
        }
    )


@dataclass(frozen=True)
class FileInfo:
    """The file a table was read from.

    Attributes
    ----------
    path : str
        Path as given (the ``validate`` report shows only the file name).
    format : str
        ``csv``, ``xlsx`` or ``parquet``.
    encoding : str
        Detected CSV encoding (``utf-8``, ``utf-8-sig``, ``gbk``, ``gb18030``); ``xlsx`` or
        ``binary`` for the other formats.
    sha256 : str
        Hex digest of the file bytes, for reproducibility records.
    size_bytes : int
        File size.
    """

    path: str
    format: str
    encoding: str
    sha256: str
    size_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        from pathlib import Path

        return {
            "file": Path(self.path).name,
            "format": self.format,
            "encoding": self.encoding,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
        }


@dataclass(frozen=True)
class TableStats:
    """Row accounting of one table: ``rows == accepted + rejected + duplicates``.

    Attributes
    ----------
    rows : int
        Data rows read from the file (header excluded; blank lines and blank records not
        counted).
    accepted, rejected, duplicates : int
        Rows kept; rows rejected for at least one rule (counted once); exact duplicate rows
        dropped (the first copy is kept).
    by_rule : dict
        Rejected rows per rule (a row failing two rules counts under both).
    warnings : int
        Accepted rows carrying a warning (e.g. ``uscc_legacy_check``), per warning.
    warnings_by_rule : dict
        Warnings per rule.
    after_as_of : int
        Accepted rows dated after the run's as-of date: kept as history.
    blank_records : int
        Records of the file whose every cell is empty or whitespace (``,,,,`` lines, blank
        spreadsheet rows between records): like blank lines, not rows (not in ``rows``),
        counted here so that they can be seen.
    absent_columns : tuple of str
        Optional columns of the contract the file does not have (canonical names, contract
        order): every row reads them as missing. Later stages decide from this field, not
        from the note text, whether a missing value means "not given" for the whole table
        (e.g. credit records without a severity column).
    status : str
        ``ok``, ``missing`` (optional table absent, treated as empty) or ``failed``.
    error, remedy : str
        Why a table failed and what to do (empty when ``status != "failed"``).
    """

    table: str
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    warnings: int = 0
    warnings_by_rule: dict[str, int] = field(default_factory=dict)
    after_as_of: int = 0
    blank_records: int = 0
    absent_columns: tuple[str, ...] = ()
    status: str = "ok"
    error: str = ""
    remedy: str = ""

    def __post_init__(self) -> None:
        if self.rows != self.accepted + self.rejected + self.duplicates:
            raise AssertionError(
                f"row accounting broken for {self.table}: {self.rows} rows != "
                f"{self.accepted} accepted + {self.rejected} rejected + {self.duplicates} duplicates"
            )

    @property
    def usable(self) -> bool:
        return self.status == "ok" and self.accepted > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "by_rule": dict(sorted(self.by_rule.items())),
            "warnings": self.warnings,
            "warnings_by_rule": dict(sorted(self.warnings_by_rule.items())),
            "after_as_of": self.after_as_of,
            "blank_records": self.blank_records,
            "absent_columns": list(self.absent_columns),
            "status": self.status,
            "error": self.error,
            "remedy": self.remedy,
        }


@dataclass
class DataBundle:
    """Validated tables of one data folder (docs/data_model.md).

    Attributes
    ----------
    tables : dict of str to DataFrame
        Every requested table in its canonical shape; empty with the right columns when an
        optional file is missing or a table failed (see ``failures``).
    rejects, warnings : DataFrame
        ``table, file, source_row, column, value, rule, message``; one row per failing
        (row, column). Warnings are about accepted rows.
    stats : dict of str to TableStats
    files : dict of str to FileInfo
    notes : list of str
        Things a reader should know (missing optional table, ignored columns, defaults).
    failures : dict of str to IPWhitelistError
        Tables that could not be used at all (only filled with ``errors="collect"``).
    unrecognised_files : list of str
        Names of the files of the data folder that were not read: not named after a table
        (``enterprises_old.csv``, ``readme.txt``) or of a type not read (``patents.xls``).
        Office lock files (``~$…``), hidden files and sub-folders are left out.
    derived : dict
        Views later layers compute from the bundle once and keep with it (e.g. the rejected
        legal-event rows read again from their file); not part of what the reader returns.
    as_of : date or None
        The date the folder was read for (``read_data_dir(as_of=…)``): facts whose date
        cannot be read are taken as known by then, not at every earlier date. ``None`` when
        not given.
    """

    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    warnings: pd.DataFrame
    stats: dict[str, TableStats]
    files: dict[str, FileInfo]
    notes: list[str]
    failures: dict[str, IPWhitelistError] = field(default_factory=dict)
    unrecognised_files: list[str] = field(default_factory=list)
    as_of: dt.date | None = None
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def usable(self, table: str) -> bool:
        """Whether ``table`` was read and has at least one accepted row."""
        stats = self.stats.get(table)
        return stats is not None and stats.usable

    def to_json_dict(self) -> dict[str, Any]:
        """The ``validation.json`` document (deterministic: no timestamps, sorted keys)."""
        return {
            "tables": {name: s.to_dict() for name, s in sorted(self.stats.items())},
            "files": {name: f.to_dict() for name, f in sorted(self.files.items())},
            "notes": list(self.notes),
            "unrecognised_files": list(self.unrecognised_files),
        }
