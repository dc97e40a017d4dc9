"""Rejected rows read again, with why the reader rejected them (data_contracts.rejected_rows)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data_contracts import REJECTION_COLUMNS, read_table, rejected_rows

_HEAD = "loan_id,uscc,bank,disbursed_on,maturity,amount,report_date,balance,classification,dpd"
_USCC = "914403001922038216"


def _ledger(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "loans.csv"
    path.write_text("\n".join([_HEAD, *lines]) + "\n", encoding="utf-8")
    return path


def test_each_rejected_row_comes_back_with_its_cells_rules_and_reasons(tmp_path):
    path = _ledger(
        tmp_path,
        [
            f"L1,{_USCC},工行,2024-01-05,2025-01-05,100,2024-03-31,90,正常,0",  # accepted
            f"L2,{_USCC},工行,2024-01-05,2025-01-05,100,2024-03-31,90,次级,abc",  # dpd unreadable
            f"L3,{_USCC},工行,2024-01-05,2025-01-05,100,2024-06-30,90,正常,0",  # two copies,
            f"L3,{_USCC},工行,2024-01-05,2025-01-05,100,2024-06-30,80,正常,0",  # conflicting
            f"L4,{_USCC},工行,2024-01-05,2025-01-05,100,2024-06-30,80,正常,0,extra",  # fields
        ],
    )
    bundle = read_table(path, "loans")
    rejected_sources = set(bundle.rejects["source_row"].dropna().astype(int))
    got = rejected_rows(bundle, "loans", ["loan_id", "classification", "dpd"])

    assert list(got.columns) == [
        "source_row",
        "loan_id",
        "classification",
        "dpd",
        *REJECTION_COLUMNS,
    ]
    # every rejected data row once, in file order; none of the accepted one
    assert got["source_row"].tolist() == sorted(rejected_sources)
    assert len(got) == 4
    by_id = got.set_index(got["loan_id"].astype("str").fillna("<unread>"))
    # the failing cell comes back null, the others as the contract parses them
    assert by_id.loc["L2", "classification"] == "substandard"
    assert pd.isna(by_id.loc["L2", "dpd"])
    assert by_id.loc["L2", "failed"] == "dpd"
    assert not by_id.loc["L2", "duplicate"]
    l2 = int(by_id.loc["L2", "source_row"])
    own = bundle.rejects.loc[bundle.rejects["source_row"].astype("Int64") == l2]
    assert by_id.loc["L2", "rules"] == "+".join(sorted(set(own["rule"])))
    # the two conflicting copies: rejected as duplicates only, no failing cell
    copies = got.loc[got["loan_id"] == "L3"]
    assert len(copies) == 2
    assert copies["only_duplicate"].all() and copies["duplicate"].all()
    assert (copies["failed"] == "").all()
    assert copies["rules"].str.startswith("duplicate_").all()
    # a line the file cannot give back keeps its rule and reason, every cell null
    unread = got.loc[~got["read"]]
    assert len(unread) == 1
    assert unread[["loan_id", "classification", "dpd"]].isna().all(axis=None)
    assert (unread["reason"].str.len() > 0).all()
    # the reasons are the reader's own messages
    for m in own["message"]:
        assert m in by_id.loc["L2", "reason"]


def test_a_bundle_without_rejects_gives_an_empty_frame(tmp_path):
    path = _ledger(tmp_path, [f"L1,{_USCC},工行,2024-01-05,2025-01-05,100,2024-03-31,90,正常,0"])
    got = rejected_rows(read_table(path, "loans"), "loans", ["loan_id", "dpd"])
    assert got.empty
    assert list(got.columns) == ["source_row", "loan_id", "dpd", *REJECTION_COLUMNS]
    # a hand-made bundle (no rejects, no files) has none either
    assert rejected_rows(object(), "loans", ["loan_id"]).empty
