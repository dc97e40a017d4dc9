"""A legal event rejected for its application number's check character still makes the
patent's state unknown: it is not listed as pledgeable (point in time: only events dated
on or before as_of)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from data_contracts import read_data_dir
from features import build_feature_matrix, pledgeable_patents
from screening.sample import SampleConfig, generate_sample

AS_OF = pd.Timestamp("2026-09-30")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unverified") / "data"
    generate_sample(SampleConfig(firms=60, seed=3, mess=0.0), folder)
    listed = pledgeable_patents(read_data_dir(folder, as_of=AS_OF.date()), AS_OF)
    target = listed.loc[listed["pledgeable"]].iloc[0]
    return folder, target["uscc"], target["app_no"]


def _with_event(sample, tmp_path, code: str, date: str, spell=lambda n: n, *, rule="app_no_check"):
    folder, uscc, app_no = sample
    copy = tmp_path / f"data-{code}-{date}-{spell(app_no)}-{rule}"
    shutil.copytree(folder, copy)
    number = app_no
    if rule == "app_no_check":
        number = app_no[:-1] + ("1" if app_no[-1] != "1" else "2")  # only the check char
    with open(copy / "patent_events.csv", "a", encoding="utf-8") as fh:
        fh.write(f"{spell(number)},{code},{date},质押登记（录入有误）,,\n")
    bundle = read_data_dir(copy, as_of=AS_OF.date())
    rejected = bundle.rejects.loc[bundle.rejects["table"] == "patent_events"]
    assert rejected["rule"].tolist() == [rule]
    listed = pledgeable_patents(bundle, AS_OF).set_index("app_no")
    return listed.loc[app_no]


def test_rejected_pledge_before_as_of_makes_the_patent_unpledgeable(sample, tmp_path):
    row = _with_event(sample, tmp_path, "PE01", "2026-03-01")
    assert not row["pledgeable"]
    assert "记录有误被拒收" in row["reason"]


@pytest.mark.parametrize(
    "spell",
    [lambda n: n[2:], lambda n: "ZL" + n[2:], lambda n: n[2:].replace(".", ""),
     lambda n: "ＣＮ" + n[2:].replace(".", "．")],
    ids=["no-prefix", "ZL", "no-dot", "full-width"],
)  # fmt: skip
def test_every_spelling_of_the_number_is_caught(sample, tmp_path, spell):
    row = _with_event(sample, tmp_path, "PE01", "2026-03-01", spell)
    assert not row["pledgeable"]


def test_rejected_event_after_as_of_or_a_release_changes_nothing(sample, tmp_path):
    assert _with_event(sample, tmp_path, "PE01", "2026-10-15")["pledgeable"]
    assert _with_event(sample, tmp_path, "PC01", "2026-03-01")["pledgeable"]


@pytest.mark.parametrize(
    ("code", "date", "rule", "pledgeable"),
    [
        ("PE01", "2026-02-30", "date_unparseable", False),  # when? it may be before as_of
        ("PE1", "2026-03-01", "enum_unknown", False),  # what? it may be a pledge
        ("PE1", "2026-10-15", "enum_unknown", True),  # after as_of: not known yet
    ],
)
def test_an_event_rejected_for_its_code_or_date_counts_too(
    sample, tmp_path, code, date, rule, pledgeable
):
    row = _with_event(sample, tmp_path, code, date, rule=rule)
    assert row["pledgeable"] is pledgeable or bool(row["pledgeable"]) == pledgeable


def _counts(folder, uscc: str, as_of: pd.Timestamp) -> tuple[int, int]:
    """(pledgeable_patent_count of the feature matrix, pledgeable rows of the list)."""
    bundle = read_data_dir(folder, as_of=as_of.date())
    pairs = pd.DataFrame({"uscc": [uscc], "as_of": [as_of]})
    matrix = build_feature_matrix(pairs, bundle)
    listed = pledgeable_patents(bundle, pairs)
    return int(matrix["pledgeable_patent_count"].iloc[0]), int(listed["pledgeable"].sum())


@pytest.mark.parametrize(("date", "dropped"), [("2026-03-01", 1), ("2026-10-15", 0)])
def test_the_pledge_features_count_what_the_list_lists(sample, tmp_path, date, dropped):
    """A credit officer reads 可质押专利数 in the reasons and counts the listed patents:
    both see the same rejected pledge, and only from its date on."""
    folder, uscc, _ = sample
    clean = _counts(folder, uscc, AS_OF)
    _with_event(sample, tmp_path, "PE01", date)
    (copy,) = tmp_path.glob("data-PE01-*")
    assert clean[0] == clean[1]
    assert _counts(copy, uscc, AS_OF) == (clean[0] - dropped, clean[1] - dropped)


def test_an_undated_rejected_event_counts_from_the_datas_own_date(sample, tmp_path):
    """A rejected event whose date cannot be read happened by the date the data was read
    for, not by every earlier date: at a training row's past as_of it must not show (a
    later lapse or pledge put into the firm's past leaks the outcome), at the data's own
    date it still makes the patent unpledgeable. Without a data date it counts always."""
    _with_event(sample, tmp_path, "PE01", "2026-02-30", rule="date_unparseable")
    (copy,) = tmp_path.glob("data-PE01-2026-02-30-*")
    _, uscc, app_no = sample
    earlier = pd.Timestamp("2024-06-30")
    bundle = read_data_dir(copy, as_of=AS_OF.date())
    assert bundle.as_of == AS_OF.date()
    pairs = pd.DataFrame({"uscc": [uscc, uscc], "as_of": [earlier, AS_OF]})
    listed = pledgeable_patents(bundle, pairs).set_index(["as_of", "app_no"])
    then = listed.loc[(earlier, app_no)]
    assert bool(then["pledgeable"]), "the undated reject was put into the past"
    assert not bool(listed.loc[(AS_OF, app_no), "pledgeable"])
    # the same folder read without its date: the event may be of any date
    bundle.as_of = None
    undated = pledgeable_patents(bundle, pairs).set_index(["as_of", "app_no"])
    assert not bool(undated.loc[(earlier, app_no), "pledgeable"])
