"""Input-table contracts: canonical names, Chinese aliases, types, checks and the folder reader.

Public API
----------
read_data_dir, read_table
    Read and validate a data folder / one table file into a :class:`DataBundle`.
DataBundle, TableStats, FileInfo
    What the reader returns (docs/data_model.md).
CONTRACTS, TABLES, REQUIRED_TABLES
    One :class:`TableContract` per input table.
INVISIBLE
    The control and invisible format characters the reader strips from text (an Arrow/RE2
    regex class), for writers that must strip them from text of other origins too.
read_rows, rejected_rows
    Read some rows of a table file again (rejected rows, with why they were rejected).
release_memory
    Hand freed memory back to the system (Arrow pool, C heap); long jobs call it between
    stages so that the resident size follows what they hold.
"""

from data_contracts._memory import release_memory
from data_contracts._text import INVISIBLE
from data_contracts.bundle import DataBundle, FileInfo, TableStats
from data_contracts.contracts import (
    CONTRACTS,
    REQUIRED_TABLES,
    TABLES,
    ColumnSpec,
    TableContract,
)
from data_contracts.reader import (
    REJECTION_COLUMNS,
    empty_frame,
    read_data_dir,
    read_rows,
    read_table,
    rejected_rows,
    row_identities,
)

__all__ = [
    "CONTRACTS",
    "INVISIBLE",
    "REJECTION_COLUMNS",
    "REQUIRED_TABLES",
    "TABLES",
    "ColumnSpec",
    "DataBundle",
    "FileInfo",
    "TableContract",
    "TableStats",
    "empty_frame",
    "read_data_dir",
    "read_rows",
    "read_table",
    "rejected_rows",
    "release_memory",
    "row_identities",
]
