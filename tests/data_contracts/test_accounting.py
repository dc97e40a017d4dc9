"""Row accounting on generated data with the mess turned up: every row read is accepted,
rejected (in ``rejects``) or a dropped duplicate, and the outcome of each row is the one its
mess implies (an oracle computed row by row in the test)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts import read_table
from data_contracts.identifiers import make_app_no

from .conftest import TODAY

# mess -> (column, value builder, outcome); outcome "ok" = still accepted after clean-up.
MESS = {
    "clean": (None, None, "ok"),
    "fullwidth_app_no": ("app_no", lambda r: "ＣＮ" + r["app_no"][2:], "ok"),
    "bare_app_no": ("app_no", lambda r: r["app_no"][2:].replace(".", ""), "ok"),
    "chinese_date": (
        "app_date",
        lambda r: r["app_date"].replace("-", "年", 1).replace("-", "月") + "日",
        "ok",
    ),
    "bad_check": (
        "app_no",
        lambda r: r["app_no"][:-1] + ("0" if r["app_no"][-1] != "0" else "1"),
        "rejected",
    ),
    "negative": ("claims", lambda r: "-4", "rejected"),
    "bad_date": ("app_date", lambda r: "2019-13-01", "rejected"),
    "enum": ("patent_type", lambda r: "其他", "rejected"),
    "future": ("pub_date", lambda r: "2031-01-01", "rejected"),
    "no_applicant": ("applicants", lambda r: "；", "rejected"),
    "grant_first": ("grant_date", lambda r: "2000-01-01", "rejected"),
}


def _base_row(i: int) -> dict[str, str]:
    year = 2010 + i % 12
    return {
        "app_no": make_app_no(year, 1, 500_000 + i),
        "app_date": f"{year}-0{1 + i % 9}-1{i % 10}",
        "patent_type": "发明",
        "pub_date": f"{year + 1}-06-01",
        "grant_date": f"{year + 3}-06-01",
        "claims": str(3 + i % 7),
        "applicants": f"企业{i % 5}；企业{(i + 1) % 5}",
    }


plans = st.lists(
    st.tuples(
        st.sampled_from(sorted(MESS)),
        st.integers(0, 2),  # exact copies appended
        st.booleans(),  # a conflicting copy appended
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plans, st.sampled_from(["utf-8", "gbk", "utf-8-sig"]))
def test_every_row_is_accounted_for(tmp_path: Path, plan, encoding: str) -> None:
    rows: list[dict[str, str]] = []
    expected: list[str] = []  # per written row: accepted / rejected / duplicate
    for i, (mess, copies, conflict) in enumerate(plan):
        row = _base_row(i)
        column, build, outcome = MESS[mess]
        if column is not None:
            row[column] = build(row)
        first = len(rows)
        rows.append(row)
        expected.append("accepted" if outcome == "ok" else "rejected")
        for _ in range(copies):
            rows.append(dict(row))
            # A copy of an accepted row is a duplicate; a copy of a bad row is bad too.
            expected.append("duplicate" if outcome == "ok" else "rejected")
        if conflict:
            rows.append(row | {"claims": "99"} if mess != "negative" else row | {"claims": "-5"})
            if outcome == "ok":
                expected.append("rejected")
                expected[first] = "rejected"  # both copies of a conflicting key go
            else:
                expected.append("rejected")
    frame = pd.DataFrame(rows)
    folder = tmp_path / f"run{abs(hash((tuple(map(tuple, plan)), encoding)))}"
    folder.mkdir()
    path = folder / "patents.csv"
    path.write_bytes(frame.to_csv(index=False).encode(encoding))

    bundle = read_table(path, "patents", today=TODAY)
    stats = bundle.stats["patents"]
    assert stats.rows == len(rows)
    assert stats.rows == stats.accepted + stats.rejected + stats.duplicates
    assert stats.accepted == len(bundle.tables["patents"])
    rejected_rows = set(bundle.rejects["source_row"].astype(int))
    assert len(rejected_rows) == stats.rejected
    want_rejected = {i + 1 for i, e in enumerate(expected) if e == "rejected"}
    assert rejected_rows == want_rejected
    assert stats.duplicates == expected.count("duplicate")
    assert stats.accepted == expected.count("accepted")
    # Messages and rules are always filled.
    assert bundle.rejects["rule"].str.len().gt(0).all()
    assert bundle.rejects["message"].str.len().gt(0).all()


def test_absent_optional_columns_are_recorded(tmp_path: Path) -> None:
    """The optional columns a file lacks are a structured part of its stats (and of
    ``validation.json``), in contract order; a column present, even with empty cells, is not
    absent."""
    rows = [_base_row(i) for i in range(3)]
    frame = pd.DataFrame(rows)
    frame["claims"] = ""
    path = tmp_path / "patents.csv"
    frame.drop(columns=["grant_date"]).to_csv(path, index=False)
    stats = read_table(path, "patents", today=TODAY).stats["patents"]
    assert stats.accepted == 3
    assert "grant_date" in stats.absent_columns
    assert "claims" not in stats.absent_columns
    assert "app_no" not in stats.absent_columns
    assert stats.to_dict()["absent_columns"] == list(stats.absent_columns)

    frame.to_csv(path, index=False)
    assert (
        "grant_date" not in read_table(path, "patents", today=TODAY).stats["patents"].absent_columns
    )
