"""A sale (TR01) recorded in an event row the reader rejected, e.g. for a wrong check
character of the application number, still moves the patent on its date. Without it the
patent had no accepted transfer, so the current ``owners`` (the buyer) held it at every
date: at a training row's as_of before the sale the seller had already lost it."""

from __future__ import annotations

import pandas as pd
import pytest

import data_contracts
from data_contracts import read_data_dir
from features import (
    CATEGORICAL_COLUMNS,
    build_feature_matrix,
    pledgeable_patents,
    resolve_entities,
)

D = pd.Timestamp
SELLER, BUYER = "商丘兴鼎精密机械有限公司", "上海金源药业有限公司"
SALE = D("2021-01-16")
BEFORE, AFTER = D("2020-06-30"), D("2021-06-30")


def _wrong_check(app_no: str) -> str:
    return app_no[:-1] + ("1" if app_no[-1] != "1" else "2")


@pytest.fixture
def folder(mk, tmp_path):
    """Writes the tables (events given as rows) to CSV files and returns a reader."""

    def write(events: list[dict]):
        ent = [
            mk.firm(1, SELLER, established=D("2015-10-04")),
            mk.firm(2, BUYER, established=D("2010-01-01")),
        ]
        pat = mk.patent(2019, 2, 7, app_date=D("2019-06-23"), grant_date=D("2020-02-19"),
                        applicants=SELLER, applicant_usccs=mk.uscc(1), owners=BUYER)  # fmt: skip
        tables = mk.tables(ent, [pat], [{"app_no": pat["app_no"], **e} for e in events])
        for name in ("enterprises", "patents", "patent_events"):
            tables[name].to_csv(tmp_path / f"{name}.csv", index=False)
        return pat["app_no"]

    return write


def _sale(**kw) -> dict:
    row = {"event_code": "TR01", "event_date": SALE, "from_party": SELLER, "to_party": BUYER}
    row.update(kw)
    return row


def _read(tmp_path, categorical: bool = False):
    cats = CATEGORICAL_COLUMNS if categorical else None
    return read_data_dir(tmp_path, categorical=cats)


def _holders(bundle, mk) -> pd.DataFrame:
    pairs = pd.DataFrame(
        {"uscc": [mk.uscc(1), mk.uscc(1), mk.uscc(2), mk.uscc(2)],
         "as_of": [BEFORE, AFTER, BEFORE, AFTER]}
    )  # fmt: skip
    links = resolve_entities(bundle)
    return build_feature_matrix(pairs, bundle, links=links), links


@pytest.mark.parametrize("categorical", [False, True], ids=["plain", "categorical"])
def test_a_rejected_sale_moves_the_patent_on_its_date(mk, tmp_path, folder, categorical):
    """Before the sale's date the seller holds the patent, after it the buyer; the sale is a
    transfer out of the seller, as an accepted TR01 would be."""
    app_no = folder([_sale()])
    number = _wrong_check(app_no)
    (tmp_path / "patent_events.csv").write_text(
        (tmp_path / "patent_events.csv").read_text().replace(app_no, number)
    )
    bundle = _read(tmp_path, categorical)
    rejected = bundle.rejects.loc[bundle.rejects["table"] == "patent_events"]
    assert rejected["rule"].tolist() == ["app_no_check"]
    matrix, links = _holders(bundle, mk)
    # seller before, seller after, buyer before, buyer after
    assert matrix["valid_utility_model_count"].tolist() == [1, 0, 0, 1]
    assert matrix["recent_transfer_out_count"].tolist() == [0, 1, 0, 0]
    assert matrix["recent_acquired_share"].tolist()[3] == 1.0
    pl = links.patent_links
    owners = pl[pl["role"] == "owner"].sort_values("held_from", na_position="first")
    assert owners["uscc"].astype("str").tolist() == [mk.uscc(1), mk.uscc(2)]
    assert owners["held_to"].tolist()[0] == SALE and owners["held_from"].tolist()[1] == SALE
    el = links.event_links  # the patent's own number, not the mistyped one
    assert el["app_no"].tolist() == [app_no, app_no]
    assert el["uscc"].tolist() == [mk.uscc(1), mk.uscc(2)]
    # the pledge list names the owner at as_of: the seller before the sale
    listed = pledgeable_patents(bundle, pd.DataFrame({"uscc": [mk.uscc(1)], "as_of": [BEFORE]}),
                                links=links)  # fmt: skip
    assert listed["app_no"].tolist() == [app_no]
    assert listed["owners"].tolist() == [SELLER]


def test_without_the_rejected_row_the_buyer_holds_at_every_date(mk, tmp_path, folder):
    """The reference the fix changes: no transfer, the current owners at every date."""
    folder([])
    matrix, links = _holders(_read(tmp_path), mk)
    assert matrix["valid_utility_model_count"].tolist() == [0, 0, 1, 1]
    assert links.event_links.empty


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        (_sale(event_code="TR1"), "enum_unknown"),  # what happened? not a readable transfer
        (_sale(event_code="PE01"), "app_no_check"),  # a pledge with a typo: no transfer
        (_sale(), "date_unparseable"),  # when? no date to move it (2021-02-30)
    ],
    ids=["unreadable-code", "not-a-transfer", "unreadable-date"],
)
def test_a_rejected_row_that_is_no_readable_transfer_moves_nothing(mk, tmp_path, folder, row, rule):
    app_no = folder([row])
    path = tmp_path / "patent_events.csv"
    if rule == "app_no_check":
        path.write_text(path.read_text().replace(app_no, _wrong_check(app_no)))
    if rule == "date_unparseable":
        path.write_text(path.read_text().replace("2021-01-16", "2021-02-30"))
    bundle = _read(tmp_path)
    rejected = bundle.rejects.loc[bundle.rejects["table"] == "patent_events"]
    assert rejected["rule"].tolist() == [rule]
    matrix, links = _holders(bundle, mk)
    assert matrix["valid_utility_model_count"].tolist() == [0, 0, 1, 1]
    assert links.event_links.empty


def test_a_rejected_copy_of_an_accepted_sale_is_not_a_second_sale(mk, tmp_path, folder):
    app_no = folder([_sale(), _sale(description="更正")])
    path = tmp_path / "patent_events.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(app_no, _wrong_check(app_no))
    path.write_text("\n".join(lines) + "\n")
    bundle = _read(tmp_path)
    assert len(bundle.rejects) == 1
    matrix, links = _holders(bundle, mk)
    assert matrix["valid_utility_model_count"].tolist() == [1, 0, 0, 1]
    assert len(links.event_links) == 2  # one seller, one buyer
    assert links.match_report["sources"]["transfer_from_parties"]["mentions"] == 1


def test_the_events_file_is_read_again_once_for_every_use(mk, tmp_path, folder, monkeypatch):
    """Rows rejected for their code, or whose mistyped number names no patent, are no
    transfer of a known patent; and however many parts look at the rejected rows (entity
    resolution, the patents' state, the pledge list), the events file is read again once
    per bundle (a pass over it at national scale)."""
    from features import pledgeable_patents, rejected_event_rows

    app_no = folder([_sale(event_code="TR1"), _sale(event_date=D("2022-01-01"))])
    path = tmp_path / "patent_events.csv"
    other = "CN201920000001.3"  # a body no patent has
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(app_no, other)
    path.write_text("\n".join(lines) + "\n")
    bundle = _read(tmp_path)
    assert sorted(bundle.rejects["rule"].tolist()) == ["app_no_check", "enum_unknown"]

    calls = []
    real = data_contracts.reader.read_rows

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(data_contracts.reader, "read_rows", counted)
    links = resolve_entities(bundle)
    assert links.event_links.empty
    pledgeable_patents(bundle, D("2026-09-30"), links=links)
    assert len(rejected_event_rows(bundle)) == 2
    assert calls.count("patent_events") == 1


def test_a_mistyped_number_whose_seller_never_held_that_patent_moves_nothing(mk, tmp_path, folder):
    """Twelve digits with a typo may name another real patent: a rejected sale whose seller
    is not that patent's applicant, owner or earlier buyer is left out (the patent keeps
    its current owners, as without the row); the same row with the holder as seller is a
    sale."""
    app_no = folder([_sale(from_party="郑州无关科技有限公司")])
    (tmp_path / "patent_events.csv").write_text(
        (tmp_path / "patent_events.csv").read_text().replace(app_no, _wrong_check(app_no))
    )
    matrix, links = _holders(_read(tmp_path), mk)
    assert matrix["valid_utility_model_count"].tolist() == [0, 0, 1, 1]  # the buyer always
    assert matrix["recent_transfer_out_count"].tolist() == [0, 0, 0, 0]
    assert links.event_links.empty
    # the seller written with another company form is still the holder (same matching key)
    app_no = folder([_sale(from_party=SELLER.replace("有限公司", "有限责任公司"))])
    (tmp_path / "patent_events.csv").write_text(
        (tmp_path / "patent_events.csv").read_text().replace(app_no, _wrong_check(app_no))
    )
    matrix, _ = _holders(_read(tmp_path), mk)
    assert matrix["valid_utility_model_count"].tolist() == [1, 0, 0, 1]


NEW_NAME = "河南兴鼎智能装备有限公司"


@pytest.mark.parametrize("categorical", [False, True], ids=["plain", "categorical"])
@pytest.mark.parametrize(
    "seller",
    [SELLER, NEW_NAME, f"{SELLER}；{NEW_NAME}"],
    ids=["name-filed-under", "renamed-since", "full-width-list"],
)
def test_a_renamed_seller_of_a_mistyped_sale_is_still_its_holder(mk, tmp_path, seller, categorical):
    """The seller filed under its former name and sells under its current one (second diff
    review): the registry says both names are the coded applicant's, so the sale counts;
    a full-width ； separates the sellers like everywhere else."""
    ent = [
        mk.firm(1, NEW_NAME, former_names=SELLER, established=D("2015-10-04")),
        mk.firm(2, BUYER, established=D("2010-01-01")),
    ]
    pat = mk.patent(2019, 2, 7, app_date=D("2019-06-23"), grant_date=D("2020-02-19"),
                    applicants=SELLER, applicant_usccs=mk.uscc(1), owners=BUYER)  # fmt: skip
    ev = [{"app_no": pat["app_no"], **_sale(from_party=seller)}]
    tables = mk.tables(ent, [pat], ev)
    for name in ("enterprises", "patents", "patent_events"):
        tables[name].to_csv(tmp_path / f"{name}.csv", index=False)
    path = tmp_path / "patent_events.csv"
    path.write_text(path.read_text().replace(pat["app_no"], _wrong_check(pat["app_no"])))
    matrix, _ = _holders(_read(tmp_path, categorical), mk)
    assert matrix["valid_utility_model_count"].tolist() == [1, 0, 0, 1]
