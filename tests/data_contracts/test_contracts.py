"""The contract declarations: one per table, headers unambiguous, docs in step with code."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from data_contracts import CONTRACTS, REQUIRED_TABLES, TABLES, ColumnSpec, TableContract
from data_contracts._parse import parse_enum
from data_contracts.contracts import reference_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "data_contracts.md"


def test_tables_and_required() -> None:
    assert TABLES == (
        "enterprises",
        "patents",
        "patent_events",
        "credit_records",
        "programmes",
        "nominations",
        "loans",
    )
    assert REQUIRED_TABLES == ("enterprises", "patents")


@pytest.mark.parametrize("table", TABLES)
def test_every_header_maps_back_to_its_column(table: str) -> None:
    contract = CONTRACTS[table]
    for col in contract.columns:
        for header in (col.name, *col.aliases):
            assert contract.match_header(header) == col.name
            assert contract.match_header(f"  {header.upper()} ") == col.name
            full_width = header.replace("(", "（").replace(")", "）")
            assert contract.match_header(full_width) == col.name
    assert contract.match_header("没有这个列") is None


def test_ambiguous_alias_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match=r"Header '申请号' of table 't' matches both 'a' and 'b'"):
        TableContract("t", (ColumnSpec("a", ("申请号",)), ColumnSpec("b", ("申请号",))))


def test_docs_column_reference_matches_the_contracts() -> None:
    assert DOC.read_text(encoding="utf-8").rstrip().endswith(reference_markdown().rstrip())


def test_canonical_enum_values_of_data_model() -> None:
    assert CONTRACTS["enterprises"].column("status").enum_values == (
        "active",
        "cancelled",
        "liquidating",
        "moved",
        "revoked",
        "suspended",
    )
    spec = CONTRACTS["programmes"].column("programme")
    raw = ["专精特新“小巨人”", '专精特新"小巨人"', "高新技术企业", "GB/T 29490", "瞪羚企业"]
    values, failures = parse_enum(pa.chunked_array([raw]), spec.enum, spec.enum_values)
    assert values.to_pylist() == ["little_giant", "little_giant", "high_tech", "ip_standard", None]
    assert [f.rule for f in failures] == ["enum_unknown"]
    assert failures[0].mask.tolist() == [False, False, False, False, True]
    assert len(CONTRACTS["patent_events"].column("event_code").enum_values) == 20
