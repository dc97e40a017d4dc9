"""Entity resolution: codes first, normalised names and 曾用名, fuzzy only when unambiguous."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import features._names as names_mod
from data_contracts.errors import DataError
from features import resolve_entities
from features._entities import _applicants, _link_patents, _Linker, _reusable, _transfers
from features._names import DEFAULT_FUZZY_THRESHOLD, name_keys, split_list
from features._tables import get_table

LONG = "河南中原智能装备制造研究院有限公司"


@pytest.fixture
def reg(mk):
    ent = [
        mk.firm(1, "郑州甲科技有限公司", former_names="郑州老甲有限公司;郑州更老甲有限公司"),
        mk.firm(2, "郑州乙（河南）电子有限责任公司"),
        mk.firm(3, "郑州华科电子有限公司"),
        mk.firm(4, "郑州华科电子股份有限公司"),
        mk.firm(5, LONG),
        mk.firm(6, "河南中原智能装备制造研究所有限公司"),
    ]
    return ent


def _links(mk, reg, applicants, codes=None, **kw):
    pats = [
        mk.patent(2020, 1, i + 1, app_date=pd.Timestamp("2020-01-01"), applicants=a,
                  applicant_usccs=(codes[i] if codes else None))
        for i, a in enumerate(applicants)
    ]  # fmt: skip
    return resolve_entities(mk.tables(reg, pats), **kw)


def _applicant_links(links):
    pl = links.patent_links
    return pl[pl["role"] == "applicant"]


def test_name_keys_normalise_width_brackets_spaces_and_company_form():
    keys = name_keys(
        pd.Series(
            ["郑州乙（河南）电子有限责任公司", " 郑州乙(河南)电子 有限公司", "ＡＢＣ股份有限公司"]
        )
    )
    assert keys[0] == keys[1]
    assert keys[2].as_py() == "abc有限公司"


def test_former_name_and_full_width_brackets_link(mk, reg):
    links = _links(mk, reg, ["郑州更老甲有限公司", "郑州乙(河南)电子有限公司"])
    got = _applicant_links(links)
    assert got["uscc"].tolist() == [mk.uscc(1), mk.uscc(2)]
    assert got["method"].tolist() == ["former_name", "name"]


def test_near_identical_registry_names_are_ambiguous_not_merged(mk, reg):
    # 有限责任公司 matches both 有限公司 and 股份有限公司 by key, neither as written
    links = _links(mk, reg, ["郑州华科电子有限责任公司"])
    assert _applicant_links(links).empty
    rep = links.match_report["sources"]["patent_applicants"]["by_method"]
    assert rep["ambiguous"] == 1
    ex = links.match_examples
    row = ex[(ex["source"] == "patent_applicants") & (ex["method"] == "ambiguous")].iloc[0]
    assert row["name"] == "郑州华科电子有限责任公司"
    assert mk.uscc(3) in row["candidates"] and mk.uscc(4) in row["candidates"]


def test_a_name_written_exactly_as_one_firms_is_that_firm(mk, reg):
    """Two registry firms share a matching key (有限公司 / 股份有限公司); a mention written
    exactly as one of them (up to width and spaces) is that firm, the other stays apart."""
    links = _links(mk, reg, ["郑州华科电子有限公司", "郑州华科电子 股份有限公司"])
    got = _applicant_links(links)
    assert got["uscc"].tolist() == [mk.uscc(3), mk.uscc(4)]
    assert got["method"].tolist() == ["name", "name"]
    assert links.match_report["sources"]["patent_applicants"]["by_method"]["ambiguous"] == 0


def test_code_beats_an_ambiguous_name(mk, reg):
    links = _links(mk, reg, ["郑州华科电子有限公司"], codes=[mk.uscc(4)])
    got = _applicant_links(links)
    assert got["uscc"].tolist() == [mk.uscc(4)]
    assert got["method"].tolist() == ["uscc"]


def test_fuzzy_links_one_candidate_above_threshold(mk, reg):
    links = _links(mk, reg, ["河南省中原智能装备制造研究院有限公司"])
    got = _applicant_links(links)
    assert got["uscc"].tolist() == [mk.uscc(5)]
    assert got["method"].tolist() == ["fuzzy"]
    assert got["score"].iloc[0] >= 95


def test_fuzzy_with_two_candidates_above_threshold_is_ambiguous(mk, reg):
    links = _links(mk, reg, ["河南省中原智能装备制造研究院有限公司"], fuzzy_threshold=90)
    assert _applicant_links(links).empty
    ex = links.match_examples
    cands = ex[ex["method"] == "ambiguous"]["candidates"].iloc[0]
    assert cands.startswith(mk.uscc(5)) and mk.uscc(6) in cands


def test_fuzzy_can_be_disabled_and_short_names_never_fuzz(mk, reg):
    off = _links(
        mk, reg, ["河南省中原智能装备制造研究院有限公司", "郑州甲科"], fuzzy_threshold=None
    )
    assert _applicant_links(off).empty
    assert off.match_report["sources"]["patent_applicants"]["by_method"]["unmatched"] == 2


def test_co_owned_patent_links_every_matched_owner(mk, reg):
    links = _links(mk, reg, ["郑州甲科技有限公司;郑州乙（河南）电子有限责任公司;张三"])
    owners = links.patent_links[links.patent_links["role"] == "owner"]
    assert sorted(owners["uscc"]) == sorted([mk.uscc(1), mk.uscc(2)])
    assert (owners["n_owners"] == 3).all()
    ex = links.match_examples
    assert "张三" in ex[ex["method"] == "unmatched"]["name"].tolist()


def test_report_counts_every_mention(mk, reg):
    links = _links(mk, reg, ["郑州甲科技有限公司;张三", "郑州华科电子有限责任公司", "李四"])
    rep = links.match_report["sources"]["patent_applicants"]
    assert rep["mentions"] == 4
    assert rep["by_method"] == {"uscc": 0, "name": 1, "former_name": 0, "fuzzy": 0,
                                "ambiguous": 1, "unmatched": 2}  # fmt: skip


def test_credit_record_with_unknown_code_falls_back_to_name(mk, reg):
    cr = [
        {"uscc": "91350100M000100Y43", "name": "郑州甲科技有限公司", "record_type": "tax_rating",
         "start_date": pd.Timestamp("2024-01-01"), "value": "A"},
        {"uscc": None, "name": "不存在的公司有限公司", "record_type": "tax_rating",
         "start_date": pd.Timestamp("2024-01-01"), "value": "B"},
    ]  # fmt: skip
    links = resolve_entities(mk.tables(reg, [], cr=cr))
    assert links.credit_records["uscc"].tolist()[0] == mk.uscc(1)
    assert pd.isna(links.credit_records["uscc"].tolist()[1])
    assert links.credit_records["match_method"].tolist() == ["name", "unmatched"]


@pytest.mark.parametrize("bad", [30, 101, "high"])
def test_bad_fuzzy_threshold_is_refused(mk, reg, bad):
    with pytest.raises(DataError, match="'fuzzy_threshold' parameter of resolve_entities"):
        resolve_entities(mk.tables(reg, []), fuzzy_threshold=bad)


def test_missing_required_table_is_named(mk, reg):
    data = mk.tables(reg, [])
    del data["patents"]
    with pytest.raises(DataError, match="required table 'patents' is missing"):
        resolve_entities(data)


# -- lean representation: owner links reused from applicant links, chunked splitting --------
def _random_patent_tables(mk, reg, seed: int, n: int = 120, pool=None):
    """Applicant lists with repeated names, aligned/misaligned/unregistered codes, owners
    equal to, absent from or different from the applicants, and TR01 transfers."""
    rng = np.random.default_rng(seed)
    if pool is None:
        pool = [r["name"] for r in reg] + ["郑州老甲有限公司", "张三", "郑州乙(河南)电子有限公司"]
    codes = [mk.uscc(i) for i in range(1, 7)] + ["91350100M000100Y43"]
    pats, evs = [], []
    for k in range(n):
        names = list(rng.choice(pool, size=int(rng.integers(1, 4))))
        if rng.random() < 0.3:  # a name twice, possibly with two different codes
            names.append(names[0])
        c = None
        if rng.random() < 0.6:
            c = ";".join(rng.choice(codes, size=len(names) + int(rng.random() < 0.2)))
        text = ";".join(names)
        owners = rng.choice(
            [text, text, None, "", ";".join(rng.choice(pool, size=2)), " " + text],
            p=[0.4, 0.2, 0.1, 0.05, 0.15, 0.1],
        )
        p = mk.patent(2020, 1, k + 1, app_date=pd.Timestamp("2020-01-01"), applicants=text,
                      applicant_usccs=c, owners=owners)  # fmt: skip
        pats.append(p)
        for _ in range(int(rng.choice([0, 0, 0, 1, 2]))):
            evs.append({"app_no": p["app_no"], "event_code": "TR01",
                        "event_date": pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(rng.integers(0, 3))),
                        "from_party": rng.choice([text, None]), "to_party": rng.choice(pool)})  # fmt: skip
    return mk.tables(reg, pats, evs)


def _linked_both_ways(data):
    """Patent links of ``data`` with owner lists reused from the applicants and linked anew,
    checked equal (links and match report): ``(links, linker)`` of the reusing run."""
    ent, pats = get_table(data, "enterprises"), get_table(data, "patents")
    ev = get_table(data, "patent_events")
    runs = []
    for reuse in (True, False):
        linker = _Linker(ent, DEFAULT_FUZZY_THRESHOLD)
        runs.append((_link_patents(linker, pats, ev, None, reuse=reuse), linker))
    (fast, lf), (slow, ls) = runs
    pd.testing.assert_frame_equal(fast, slow)
    assert lf.report == ls.report
    return fast, lf, ls


@pytest.mark.parametrize("seed", range(8))
def test_owner_links_reused_from_applicants_equal_owner_links_linked_anew(mk, reg, seed):
    data = _random_patent_tables(mk, reg, seed)
    ent, pats = get_table(data, "enterprises"), get_table(data, "patents")
    ev = get_table(data, "patent_events")
    _, lf, ls = _linked_both_ways(data)
    pd.testing.assert_frame_equal(pd.concat(lf.examples), pd.concat(ls.examples))
    # not vacuous: most owner lists were reused, some were linked anew
    a = _applicants(pats, _Linker(ent, DEFAULT_FUZZY_THRESHOLD))
    moved = np.zeros(len(pats), bool)
    moved[_transfers(pats, ev)["patent_row"].to_numpy()] = True
    reused = _reusable(pats, a, moved)
    assert 0.2 < reused.mean() < 0.9


def test_owner_named_twice_with_two_codes_keeps_the_smaller_code(mk, reg):
    pat = mk.patent(2020, 1, 1, app_date=pd.Timestamp("2020-01-01"),
                    applicants="郑州华科电子有限公司;郑州华科电子有限公司",
                    applicant_usccs=f"{mk.uscc(4)};{mk.uscc(3)}")  # fmt: skip
    pl = resolve_entities(mk.tables(reg, [pat])).patent_links
    assert pl.loc[pl["role"] == "applicant", "uscc"].tolist() == [mk.uscc(3), mk.uscc(4)]
    assert pl.loc[pl["role"] == "owner", "uscc"].tolist() == [mk.uscc(3)]
    assert pl.loc[pl["role"] == "owner", "n_owners"].tolist() == [2]


def test_patent_links_are_lean_and_point_to_patent_rows(mk, reg):
    pats = [mk.patent(2020, 1, i + 1, app_date=pd.Timestamp("2020-01-01"), applicants=a)
            for i, a in enumerate(["郑州甲科技有限公司", "张三", "郑州乙(河南)电子有限公司"])]  # fmt: skip
    pl = resolve_entities(mk.tables(reg, pats)).patent_links
    assert "app_no" not in pl.columns
    for c in ("uscc", "role", "method"):
        assert isinstance(pl[c].dtype, pd.CategoricalDtype)
    assert pl["patent_row"].tolist() == [0, 0, 2, 2]
    assert pl["role"].tolist() == ["applicant", "owner"] * 2
    assert pl["uscc"].tolist() == [mk.uscc(1)] * 2 + [mk.uscc(2)] * 2


def _split_reference(values):
    out = []
    for row, v in enumerate(values):
        if v is None:
            continue
        for item in v.replace("；", ";").split(";"):
            if item.strip():
                out.append((row, item.strip()))
    return out


@pytest.mark.parametrize("chunk_rows", [1, 3, 1 << 20])
def test_split_list_in_pieces_and_chunks_equals_plain_python(monkeypatch, chunk_rows):
    rng = np.random.default_rng(chunk_rows)
    items = ["甲", " 甲", "甲 ", "乙公司", "", " ", "\u3000丙", "丁"]
    values = [
        None if rng.random() < 0.1
        else (";" if rng.random() < 0.5 else "；").join(rng.choice(items, int(rng.integers(0, 5))))
        for _ in range(60)
    ]  # fmt: skip
    col = pa.chunked_array(
        [pa.array(values[:25], pa.large_string()), pa.array(values[25:], pa.large_string())]
    )
    monkeypatch.setattr(names_mod, "SPLIT_CHUNK_ROWS", chunk_rows)
    parent, got = split_list(col)
    assert list(zip(parent.tolist(), got.to_pylist(), strict=True)) == _split_reference(values)


def test_codes_align_with_the_non_empty_names(mk, reg):
    pats = [
        mk.patent(2020, 1, 1, app_date=pd.Timestamp("2020-01-01"),
                  applicants="郑州华科电子有限公司;;郑州华科电子股份有限公司",
                  applicant_usccs=f"{mk.uscc(3)};{mk.uscc(4)}"),
        mk.patent(2020, 1, 2, app_date=pd.Timestamp("2020-01-01"), applicants="张三",
                  applicant_usccs=mk.uscc(1)),
    ]  # fmt: skip
    pl = resolve_entities(mk.tables(reg, pats)).patent_links
    got = pl[pl["role"] == "applicant"]
    assert got["patent_row"].tolist() == [0, 0, 1]
    assert got["uscc"].tolist() == [mk.uscc(3), mk.uscc(4), mk.uscc(1)]
    assert (got["method"] == "uscc").all()


def test_a_name_another_firm_used_before_stays_ambiguous(mk):
    """Firm 2 now bears the name firm 1 used before: a mention of that name may be either
    (an old patent of firm 1, a new one of firm 2), so it is ambiguous, not firm 2's."""
    reg = [
        mk.firm(1, "郑州星辰新材料有限公司", former_names="郑州星辰科技有限公司"),
        mk.firm(2, "郑州星辰科技有限公司"),
        mk.firm(3, "郑州月亮科技有限公司"),
        mk.firm(4, "郑州月亮科技股份有限公司"),
    ]
    links = _links(mk, reg, ["郑州星辰科技有限公司", "郑州月亮科技有限公司"])
    got = _applicant_links(links)
    assert got["uscc"].tolist() == [mk.uscc(3)]  # the exact name without a former user
    rep = links.match_report["sources"]["patent_applicants"]["by_method"]
    assert rep["ambiguous"] == 1


def test_a_firm_founded_after_the_record_is_not_a_candidate(mk, reg):
    """郑州华科电子有限责任公司 fits 有限公司 (firm 3) and 股份有限公司 (firm 4) alike. A record
    dated before firm 4 existed can only name firm 3 (a deduction from two dates, not a guess):
    without it a firm registered later made an older firm's patents and lists ambiguous at
    every as-of date. When both existed, or a founding date is unknown, it stays ambiguous."""
    firms = [dict(f) for f in reg]
    firms[2]["established"] = pd.Timestamp("2010-05-01")
    firms[3]["established"] = pd.Timestamp("2021-03-01")  # after the 2020 filing
    links = _links(mk, firms, ["郑州华科电子有限责任公司"])
    got = _applicant_links(links)
    assert got["uscc"].tolist() == [mk.uscc(3)] and got["method"].tolist() == ["name"]
    owners = links.patent_links[links.patent_links["role"] == "owner"]
    assert owners["uscc"].tolist() == [mk.uscc(3)]  # the owner is the applicant (no transfer)

    firms[3]["established"] = pd.Timestamp("2019-03-01")  # both existed at filing
    assert _applicant_links(_links(mk, firms, ["郑州华科电子有限责任公司"])).empty
    firms[3]["established"] = None  # unknown founding date: could be either
    assert _applicant_links(_links(mk, firms, ["郑州华科电子有限责任公司"])).empty


def test_dated_lists_are_told_apart_by_founding_date_too(mk, reg):
    firms = [dict(f) for f in reg]
    firms[2]["established"] = pd.Timestamp("2010-05-01")
    firms[3]["established"] = pd.Timestamp("2025-03-01")
    cr = [
        {"uscc": None, "name": "郑州华科电子有限责任公司", "record_type": "dishonest_debtor",
         "start_date": pd.Timestamp("2024-01-01")},
        {"uscc": None, "name": "郑州华科电子有限责任公司", "record_type": "dishonest_debtor",
         "start_date": pd.Timestamp("2026-01-01")},
    ]  # fmt: skip
    links = resolve_entities(mk.tables(firms, [], cr=cr))
    assert links.credit_records["uscc"].tolist()[0] == mk.uscc(3)
    assert pd.isna(links.credit_records["uscc"].tolist()[1])  # both existed by 2026
    assert links.credit_records["match_method"].tolist() == ["name", "ambiguous"]


def test_an_ambiguous_credit_record_names_its_candidates(mk, reg):
    """An ambiguous record is linked to no firm, but it says which firms it may name: those
    established by its date (or of unknown founding date), so the run can hold them back."""
    firms = [dict(f) for f in reg]
    firms[2]["established"] = pd.Timestamp("2010-05-01")
    firms[3]["established"] = pd.Timestamp("2025-03-01")
    cr = [
        {"uscc": None, "name": "郑州华科电子有限责任公司", "record_type": "dishonest_debtor",
         "start_date": pd.Timestamp("2026-01-01")},
        {"uscc": None, "name": "郑州华科电子有限责任公司", "record_type": "dishonest_debtor",
         "start_date": None},
        {"uscc": None, "name": "郑州甲科技有限公司", "record_type": "dishonest_debtor",
         "start_date": pd.Timestamp("2026-01-01")},
        {"uscc": None, "name": "郑州无此企业有限公司", "record_type": "dishonest_debtor",
         "start_date": pd.Timestamp("2026-01-01")},
    ]  # fmt: skip
    links = resolve_entities(mk.tables(firms, [], cr=cr))
    got = links.credit_records
    assert got["match_method"].tolist() == ["ambiguous", "ambiguous", "name", "unmatched"]
    both = {mk.uscc(3), mk.uscc(4)}
    assert set(got["match_candidates"].iloc[0].split(";")) == both
    assert set(got["match_candidates"].iloc[1].split(";")) == both  # undated: either
    assert got["match_candidates"].iloc[2:].isna().all()
    assert got["uscc"].iloc[:2].isna().all()  # nothing is linked by the candidates


def test_a_fuzzy_near_match_to_several_firms_stays_ambiguous_whatever_the_dates(mk, reg):
    """The founding-date rule decides between firms sharing a name's key, not between
    fuzzy look-alikes: a typo near two firms stays a guess, and is not linked."""
    firms = [dict(f) for f in reg]
    firms[4]["established"] = pd.Timestamp("2010-01-01")  # 河南中原智能装备制造研究院有限公司
    firms[5]["established"] = pd.Timestamp("2022-01-01")  # …研究所有限公司, after the filing
    links = _links(mk, firms, ["河南中原智能装备制造研究有限公司"], fuzzy_threshold=90)
    assert _applicant_links(links).empty
    assert links.match_report["sources"]["patent_applicants"]["by_method"]["ambiguous"] == 1


# -- an ambiguous owner or transfer party that is the patent's coded applicant ---------------
# Firm 1 filed under its former name 新乡永润医药科技 and now bears 新乡永润生物工程, the name
# firm 2 bore before: the owners column's current name matches both firms.
RENAMED = "新乡永润生物工程有限公司"


@pytest.fixture
def renamed(mk):
    return [
        mk.firm(1, RENAMED, former_names="新乡永润医药科技有限公司",
                established=pd.Timestamp("2020-10-08")),
        mk.firm(2, "新乡永润生物科技有限公司", former_names=RENAMED,
                established=pd.Timestamp("2019-05-27")),
        mk.firm(3, "郑州其他科技有限公司", established=pd.Timestamp("2010-01-01")),
    ]  # fmt: skip


def _utility_model(mk, applicants, codes, owners, serial=1):
    return mk.patent(2021, 2, serial, app_date=pd.Timestamp("2021-02-05"),
                     grant_date=pd.Timestamp("2021-12-20"), applicants=applicants,
                     applicant_usccs=codes, owners=owners)  # fmt: skip


def _owner_usccs(links) -> list[str]:
    pl = links.patent_links
    return pl.loc[pl["role"] == "owner", "uscc"].astype("str").tolist()


def test_an_ambiguous_owner_that_is_the_patents_coded_applicant_is_that_firm(mk, renamed):
    """The owners column gives firm 1's current name, also firm 2's 曾用名: of the two, only
    firm 1 is the patent's applicant by its USCC, so the owner is firm 1 (a deduction, like
    the founding-date rule, counted as a link by name). Before, the owner stayed ambiguous
    and firm 1 lost the patent at every date, screening included."""
    from features import build_feature_matrix

    pat = _utility_model(mk, "新乡永润医药科技有限公司", mk.uscc(1), RENAMED)
    data = mk.tables(renamed, [pat])
    links = resolve_entities(data)
    pl = links.patent_links
    owner = pl[pl["role"] == "owner"]
    assert owner["uscc"].tolist() == [mk.uscc(1)] and owner["method"].tolist() == ["name"]
    assert owner["n_owners"].tolist() == [1]
    rep = links.match_report["sources"]["patent_owners"]["by_method"]
    assert (rep["ambiguous"], rep["name"]) == (0, 1)
    pairs = pd.DataFrame(
        {"uscc": [mk.uscc(1), mk.uscc(2)], "as_of": [pd.Timestamp("2022-06-30")] * 2}
    )
    matrix = build_feature_matrix(pairs, data, links=links)
    assert matrix["valid_utility_model_count"].tolist() == [1, 0]
    assert matrix["self_filed_share"].tolist()[0] == 1.0

    # the applicant given by name only: nothing says which firm the owner is
    uncoded = _utility_model(mk, "新乡永润医药科技有限公司", None, RENAMED)
    links = resolve_entities(mk.tables(renamed, [uncoded]))
    assert _owner_usccs(links) == []
    assert links.match_report["sources"]["patent_owners"]["by_method"]["ambiguous"] == 1


@pytest.mark.parametrize(
    ("applicants", "codes", "owners", "linked"),
    [
        # both candidates are coded applicants: either may be the owner
        ("新乡永润医药科技有限公司;新乡永润生物科技有限公司", "1;2", RENAMED, []),
        # the coded applicant is the list's other owner (it keeps its applicant code):
        # the ambiguous one is someone else
        ("新乡永润医药科技有限公司", "1", f"{RENAMED};新乡永润医药科技有限公司", [1]),
        # the coded applicant is no candidate
        ("郑州其他科技有限公司", "3", RENAMED, []),
    ],
    ids=["both-coded", "named-by-another-owner", "coded-firm-not-a-candidate"],
)
def test_an_ambiguous_owner_stays_ambiguous_unless_one_coded_candidate_is_left(
    mk, renamed, applicants, codes, owners, linked
):
    usccs = ";".join(mk.uscc(int(c)) for c in codes.split(";"))
    links = resolve_entities(mk.tables(renamed, [_utility_model(mk, applicants, usccs, owners)]))
    assert links.match_report["sources"]["patent_owners"]["by_method"]["ambiguous"] == 1
    assert _owner_usccs(links) == [mk.uscc(i) for i in linked]


def test_an_ambiguous_transfer_party_that_is_the_patents_coded_applicant_is_that_firm(mk, renamed):
    """Firm 1 filed the patent (coded) and sold it: the TR01 names the seller by firm 1's
    current name, which firm 2 bore before. The seller is firm 1, in the transfer's
    parties and as the owner before the sale (dated by the filing date, when both firms
    existed: the founding dates cannot tell them apart), so the sale counts as firm 1's
    transfer out and firm 1 holds the patent until it."""
    from features import build_feature_matrix

    pat = _utility_model(mk, "新乡永润医药科技有限公司", mk.uscc(1), "郑州其他科技有限公司")
    ev = [{"app_no": pat["app_no"], "event_code": "TR01", "event_date": pd.Timestamp("2023-03-01"),
           "from_party": RENAMED, "to_party": "郑州其他科技有限公司"}]  # fmt: skip
    data = mk.tables(renamed, [pat], ev)
    links = resolve_entities(data)
    el = links.event_links
    seller = el[el["side"] == "from"]
    assert seller["uscc"].tolist() == [mk.uscc(1)] and seller["method"].tolist() == ["name"]
    rep = links.match_report["sources"]["transfer_from_parties"]["by_method"]
    assert (rep["ambiguous"], rep["name"]) == (0, 1)
    pl = links.patent_links
    owners = pl[pl["role"] == "owner"].sort_values("held_from", na_position="first")
    assert owners["uscc"].astype("str").tolist() == [mk.uscc(1), mk.uscc(3)]
    assert owners["held_to"].tolist()[0] == pd.Timestamp("2023-03-01")
    when = [pd.Timestamp("2022-06-30"), pd.Timestamp("2024-01-01")]
    pairs = pd.DataFrame({"uscc": [mk.uscc(1)] * 2, "as_of": when})
    matrix = build_feature_matrix(pairs, data, links=links)
    assert matrix["valid_utility_model_count"].tolist() == [1, 0]
    assert matrix["recent_transfer_out_count"].tolist() == [0, 1]


def test_a_buyer_bearing_the_sellers_former_name_is_not_the_seller(mk, renamed):
    """Firm 1 filed (coded) and sold the patent; the TR01 names the seller by firm 1's
    current name and the buyer by a name both firms bore. The buyer's name fits firm 1 (the
    coded applicant) and firm 2, but a firm one side of the transfer names is no candidate
    of the other side: the buyer is not deduced to be the seller (it stays ambiguous, as
    before the coded-applicant rule), and firm 1 is not made to sell to itself."""
    pat = _utility_model(mk, "新乡永润医药科技有限公司", mk.uscc(1), RENAMED)
    ev = [{"app_no": pat["app_no"], "event_code": "TR01", "event_date": pd.Timestamp("2023-03-01"),
           "from_party": "新乡永润医药科技有限公司", "to_party": RENAMED}]  # fmt: skip
    renamed = [dict(f) for f in renamed]
    # firm 1 now bears another name; its former name is 新乡永润医药科技有限公司 and
    # RENAMED is firm 2's former name and firm 1's former-former name: the buyer is unclear
    renamed[0]["name"] = "新乡永润医药科技有限公司"
    renamed[0]["former_names"] = RENAMED
    links = resolve_entities(mk.tables(renamed, [pat], ev))
    el = links.event_links.set_index("side")
    assert el.loc["from", "uscc"] == mk.uscc(1)
    assert pd.isna(el.loc["to", "uscc"]) and el.loc["to", "method"] == "ambiguous"


def test_two_mentions_of_one_transfer_are_never_deduced_to_be_one_firm(mk):
    """Two firms that swapped names, a transfer between them named by both names: each side
    fits both firms, and the coded applicant would be picked for both (a firm selling to
    itself). Neither side is decided."""
    n1, n2 = "新乡永润医药科技有限公司", "新乡永润生物工程有限公司"
    ent = [
        mk.firm(1, n1, former_names=n2, established=pd.Timestamp("2010-01-01")),
        mk.firm(2, n2, former_names=n1, established=pd.Timestamp("2010-01-01")),
    ]
    pat = _utility_model(mk, n1, mk.uscc(1), n2)
    ev = [{"app_no": pat["app_no"], "event_code": "TR01", "event_date": pd.Timestamp("2023-03-01"),
           "from_party": n1, "to_party": n2}]  # fmt: skip
    el = resolve_entities(mk.tables(ent, [pat], ev)).event_links
    assert el["uscc"].isna().all() and set(el["method"]) == {"ambiguous"}


@pytest.mark.parametrize(
    "owners", [f"{RENAMED};{RENAMED}", f"{RENAMED}；{RENAMED}"], ids=["twice", "full-width"]
)
def test_an_owner_written_twice_is_still_deduced(mk, renamed, owners):
    """The same ambiguous name twice in one list is one firm, not two names deduced to be
    the same firm (third diff review: the owner row vanished)."""
    links = resolve_entities(mk.tables(renamed, [_utility_model(mk, "新乡永润医药科技有限公司",
                                                                mk.uscc(1), owners)]))  # fmt: skip
    assert set(_owner_usccs(links)) == {mk.uscc(1)}


def test_a_seller_kept_as_co_owner_is_deduced_on_both_sides(mk, renamed):
    """A transfer that adds a co-owner names the seller on both sides by the same name: the
    same firm on both sides, as before the one-list rule."""
    pat = _utility_model(
        mk, "新乡永润医药科技有限公司", mk.uscc(1), f"{RENAMED};郑州其他科技有限公司"
    )
    ev = [{"app_no": pat["app_no"], "event_code": "TR01", "event_date": pd.Timestamp("2023-03-01"),
           "from_party": RENAMED, "to_party": f"{RENAMED};郑州其他科技有限公司"}]  # fmt: skip
    el = resolve_entities(mk.tables(renamed, [pat], ev)).event_links
    seller = el.loc[el["side"] == "from", "uscc"].tolist()
    buyers = el.loc[el["side"] == "to", "uscc"].astype("str").tolist()
    assert seller == [mk.uscc(1)] and buyers == [mk.uscc(1), mk.uscc(3)]


def test_owners_told_apart_by_the_coded_applicant_are_the_same_reused_or_linked_anew(mk, renamed):
    """The coded-applicant rule never fires on an owner list that is the applicant list (the
    coded firm is then the list's other name), so reusing the applicant links stays exact.
    (Founding dates left out: they tell apart an applicant by its filing date, and the
    owners of a never-transferred patent have no date.)"""
    pool = [RENAMED, RENAMED, "新乡永润医药科技有限公司", "新乡永润生物科技有限公司",
            "郑州其他科技有限公司", "张三"]  # fmt: skip
    reg = [{k: v for k, v in f.items() if k != "established"} for f in renamed]
    by_code = ambiguous = 0
    for seed in range(6):
        fast, lf, _ = _linked_both_ways(_random_patent_tables(mk, reg, seed, pool=pool))
        owner = fast["role"] == "owner"
        by_code += int((owner & (fast["uscc"] == mk.uscc(1)) & (fast["method"] == "name")).sum())
        ambiguous += lf.report["patent_owners"]["ambiguous"]
    # not vacuous: owners named RENAMED were told apart by the code, others stayed ambiguous
    assert by_code > 0 and ambiguous > 0
