"""A legal event rejected for its application number's check character still makes the
patent's state unknown: it is not listed as pledgeable (point in time: only events dated
on or before as_of)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from data_contracts import read_data_dir
from features import pledgeable_patents
from screening.sample import SampleConfig, generate_sample

AS_OF = pd.Timestamp("2026-09-30")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unverified") / "data"
    generate_sample(SampleConfig(firms=60, seed=3, mess=0.0), folder)
    listed = pledgeable_patents(read_data_dir(folder, as_of=AS_OF.date()), AS_OF)
    target = listed.loc[listed["pledgeable"]].iloc[0]
    return folder, target["uscc"], target["app_no"]


def _with_event(sample, tmp_path, code: str, date: str, spell=lambda n: n):
    folder, uscc, app_no = sample
    copy = tmp_path / f"data-{code}-{date}-{spell(app_no)}"
    shutil.copytree(folder, copy)
    wrong = spell(app_no[:-1] + ("1" if app_no[-1] != "1" else "2"))  # only the check char
    with open(copy / "patent_events.csv", "a", encoding="utf-8") as fh:
        fh.write(f"{wrong},{code},{date},质押登记（校验位录错）,,\n")
    bundle = read_data_dir(copy, as_of=AS_OF.date())
    rejected = bundle.rejects.loc[bundle.rejects["table"] == "patent_events"]
    assert rejected["rule"].tolist() == ["app_no_check"]
    listed = pledgeable_patents(bundle, AS_OF).set_index("app_no")
    return listed.loc[app_no]


def test_rejected_pledge_before_as_of_makes_the_patent_unpledgeable(sample, tmp_path):
    row = _with_event(sample, tmp_path, "PE01", "2026-03-01")
    assert not row["pledgeable"]
    assert "校验位错误" in row["reason"]


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
