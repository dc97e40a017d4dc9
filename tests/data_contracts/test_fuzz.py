"""Hard to break: random cells in every column of every table never crash the reader; the
outcome is a bundle whose accounting holds, or a DataError a user can act on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts import CONTRACTS, TABLES, read_table
from data_contracts.errors import DataError

from .conftest import TODAY

cell = st.one_of(
    st.none(),
    st.text("0123456789-/.年月日 ;；,CNXZLA是否（）()發明实用新型存续正常GR01", max_size=20),
    st.sampled_from(
        ["2017-03-01", "42795", "CN201710117081.7", "914403001922038216", "发明", "-1"]
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.sampled_from(TABLES), st.data())
def test_random_cells_never_crash(tmp_path: Path, table: str, data) -> None:
    columns = list(CONTRACTS[table].column_names)
    n = data.draw(st.integers(0, 12))
    frame = pd.DataFrame(
        {c: data.draw(st.lists(cell, min_size=n, max_size=n)) for c in columns}, dtype=object
    )
    folder = tmp_path / f"f{abs(hash(repr(frame.to_dict())))}"
    folder.mkdir(exist_ok=True)
    path = folder / f"{table}.csv"
    path.write_bytes(frame.to_csv(index=False).encode("utf-8"))
    try:
        bundle = read_table(path, table, today=TODAY)
    except DataError as exc:
        assert exc.cause and exc.remedy
        return
    stats = bundle.stats[table]
    # a record of only empty or whitespace cells is a blank line: counted apart, not a row
    blank = sum(all(c is None or not c.strip() for c in row) for row in frame.itertuples(False))
    assert stats.blank_records == blank
    assert stats.rows == n - blank
    assert stats.rows == stats.accepted + stats.rejected + stats.duplicates
    assert len(bundle.tables[table]) == stats.accepted
    assert bundle.rejects["source_row"].nunique() == stats.rejected
    assert list(bundle.tables[table].columns) == columns
