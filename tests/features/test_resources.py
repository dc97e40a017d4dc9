"""Memory controls: DuckDB memory_limit and spill folder, and EntityLinks.close()."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import pytest

from data_contracts.errors import DataError
from features import (
    REQUIRED_COLUMNS,
    build_feature_matrix,
    build_feature_store,
    pledgeable_patents,
    resolve_entities,
)


def _pairs(data, as_of="2023-06-30"):
    return pd.DataFrame({"uscc": data["enterprises"]["uscc"], "as_of": as_of})


def test_close_frees_the_store_and_a_later_build_gives_the_same_values(random_data):
    data = random_data(6)
    links = resolve_entities(data)
    a = build_feature_matrix(_pairs(data), data, links=links)
    store = links._store[1]
    spill = store._duck.spill_dir
    assert os.path.isdir(spill)
    links.close()
    assert links._store is None
    assert not os.path.exists(spill)
    with pytest.raises(duckdb.ConnectionException):
        store.con.execute("SELECT 1")
    b = build_feature_matrix(_pairs(data), data, links=links)
    assert links._store[1] is not store
    pd.testing.assert_frame_equal(a, b)
    links.close()
    links.close()  # closing twice is harmless
    assert links._store is None


def test_links_dropped_without_close_leave_no_spill_folder(random_data):
    """A caller that never closes its links (most scripts) still leaves nothing in the
    temporary folder once they are garbage-collected."""
    import gc

    data = random_data(6)
    links = resolve_entities(data)
    build_feature_matrix(_pairs(data), data, links=links)
    spill = links._store[1]._duck.spill_dir
    assert os.path.isdir(spill)
    del links
    gc.collect()
    assert not os.path.exists(spill)


def test_small_memory_limit_gives_the_same_results(random_data):
    data = random_data(7, n_firms=40, n_patents=2000, n_events=4000)
    free = resolve_entities(data)
    tight = resolve_entities(data, memory_limit="64MB")
    pd.testing.assert_frame_equal(free.patent_links, tight.patent_links)
    a = build_feature_matrix(_pairs(data), data, links=free)
    b = build_feature_matrix(_pairs(data), data, links=tight, memory_limit="64MB")
    pd.testing.assert_frame_equal(a, b)
    con = tight._store[1].con
    setting = "SELECT current_setting('memory_limit')"
    want = duckdb.connect(config={"memory_limit": "64MB"}).execute(setting).fetchone()
    assert con.execute(setting).fetchone() == want
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == (
        tight._store[1]._duck.spill_dir
    )
    p = pledgeable_patents(data, "2023-06-30", links=free)
    q = pledgeable_patents(data, "2023-06-30", links=tight, memory_limit="64MB")
    pd.testing.assert_frame_equal(p, q)


def test_store_is_rebuilt_for_another_memory_limit_and_the_old_one_closed(random_data):
    data = random_data(8)
    links = resolve_entities(data)
    build_feature_matrix(_pairs(data), data, links=links, memory_limit="200MB")
    first = links._store[1]
    build_feature_matrix(_pairs(data), data, links=links, memory_limit="200MB")
    assert links._store[1] is first
    pledgeable_patents(data, "2023-06-30", links=links, memory_limit="300MB")
    assert links._store[1] is not first
    assert first._duck.spill_dir is None
    links.close()


@pytest.mark.parametrize("bad", [512, "", "lots"])
def test_bad_memory_limit_is_refused(random_data, bad):
    data = random_data(1)
    with pytest.raises(DataError, match="memory_limit"):
        build_feature_matrix(_pairs(data), data, memory_limit=bad)


def test_memory_limit_too_small_for_duckdb_is_a_clear_error(random_data):
    data = random_data(7, n_firms=40, n_patents=2000, n_events=4000)
    links = resolve_entities(data)
    with pytest.raises(DataError, match=r"build_feature_matrix ran out of DuckDB memory") as e:
        build_feature_matrix(_pairs(data), data, links=links, memory_limit="1MB")
    assert e.value.remedy.startswith("Raise memory_limit")
    links.close()


def test_request_tables_are_dropped_once_results_are_out(random_data):
    data = random_data(9)
    links = resolve_entities(data)
    build_feature_matrix(_pairs(data), data, links=links)
    con = links._store[1].con
    tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {
        "pat", "ev", "unv", "ipc", "inv", "appl", "hold", "trout", "credit", "prog"
    }  # fmt: skip
    pledgeable_patents(data, "2023-06-30", links=links)
    assert {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()} == (
        tables
    )
    links.close()


def test_entity_only_columns_are_not_read_once_links_exist(random_data):
    """The columns ENTITY_ONLY_COLUMNS names can be dropped after resolve_entities (the
    screening run does, at national scale): the matrix and the pledge list are unchanged."""
    from features import ENTITY_ONLY_COLUMNS

    data = random_data(9, n_firms=30, n_patents=600, n_events=1500)
    assert ENTITY_ONLY_COLUMNS == {
        "patents": ("applicant_usccs",),
        "patent_events": ("from_party", "to_party"),
    }
    for table, cols in ENTITY_ONLY_COLUMNS.items():
        assert all(data[table][c].notna().any() for c in cols), table  # real values to drop
    links = resolve_entities(data)
    a = build_feature_matrix(_pairs(data), data, links=links)
    p = pledgeable_patents(data, "2023-06-30", links=links)
    lean = {t: f.drop(columns=list(ENTITY_ONLY_COLUMNS.get(t, ()))) for t, f in data.items()}
    b = build_feature_matrix(_pairs(lean), lean, links=links)  # a new store, from lean
    q = pledgeable_patents(lean, "2023-06-30", links=links)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(p, q)
    assert len(p) > 0 and p["pledgeable"].any()


class _CountingConnection:
    """A DuckDB connection that counts the statements building the held-patent state."""

    def __init__(self, con):
        self._con = con
        self.held_builds = 0

    def execute(self, sql, *args, **kwargs):
        if "CREATE TEMP TABLE fpx" in sql:
            self.held_builds += 1
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _tables(con) -> set[str]:
    return {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def test_kept_patent_state_is_reused_by_the_pledge_list_and_then_dropped(random_data):
    """The screening run's path: the matrix keeps the per-pair patent state, the pledge list
    for the same date reuses it (built once, not twice) and gives what a fresh store gives."""
    data = random_data(10, n_firms=40, n_patents=900, n_events=2500)
    fresh = pledgeable_patents(data, "2023-06-30", links=resolve_entities(data))
    links = resolve_entities(data)
    build_feature_matrix(_pairs(data), data, links=links)  # builds the store
    store = links._store[1]
    counting = store.con = _CountingConnection(store.con)
    a = build_feature_matrix(_pairs(data), data, links=links, keep_patent_state=True)
    assert counting.held_builds == 1
    assert {"fpx", "pairs"} <= _tables(counting)
    assert not {"fp", "st"} & _tables(counting)  # the join's inputs go once fpx exists
    p = pledgeable_patents(data, "2023-06-30", links=links)
    assert counting.held_builds == 1  # reused
    pd.testing.assert_frame_equal(p, fresh)
    assert len(p) > 0 and p["pledgeable"].any() and not p["pledgeable"].all()
    assert not {"fpx", "pairs"} & _tables(counting)  # the pledge list drops the request
    pd.testing.assert_frame_equal(a, build_feature_matrix(_pairs(data), data, links=links))
    links.close()


@pytest.mark.parametrize(
    ("as_of", "years"), [("2023-06-30", 5.0), ("2022-12-31", 1.0)], ids=["term", "date"]
)
def test_kept_patent_state_is_not_reused_for_another_request(random_data, as_of, years):
    """Another loan term or another date builds the state again: the pledge list equals a
    fresh store's."""
    data = random_data(11, n_firms=40, n_patents=900, n_events=2500)
    fresh = pledgeable_patents(data, as_of, min_remaining_years=years, links=resolve_entities(data))
    links = resolve_entities(data)
    build_feature_matrix(_pairs(data), data, links=links, keep_patent_state=True)
    counting = links._store[1].con = _CountingConnection(links._store[1].con)
    p = pledgeable_patents(data, as_of, min_remaining_years=years, links=links)
    assert counting.held_builds == 1
    pd.testing.assert_frame_equal(p, fresh)
    kept = pledgeable_patents(data, "2023-06-30", links=resolve_entities(data))
    assert not p.equals(kept)  # reusing the kept state would have given a wrong list
    links.close()


def test_after_the_store_is_built_only_required_patent_columns_are_read(random_data):
    """The screening run's path: build the store, keep only the patents' required columns
    and no event table at all, then the matrix (keeping the patent state) and the pledge
    list equal what the full tables give, from the same store."""
    data = random_data(12, n_firms=40, n_patents=900, n_events=2500)
    full_matrix = build_feature_matrix(_pairs(data), data, links=resolve_entities(data))
    full_pledge = pledgeable_patents(data, "2023-06-30", links=resolve_entities(data))
    links = resolve_entities(data)
    build_feature_store(data, links=links)
    store = links._store[1]
    extra = [c for c in data["patents"].columns if c not in REQUIRED_COLUMNS["patents"]]
    assert {"title", "owners", "grant_date"} <= set(extra)  # real columns go
    data["patents"] = data["patents"][list(REQUIRED_COLUMNS["patents"])]
    del data["patent_events"]
    matrix = build_feature_matrix(_pairs(data), data, links=links, keep_patent_state=True)
    pledge = pledgeable_patents(data, "2023-06-30", links=links)
    assert links._store[1] is store  # not rebuilt from the trimmed tables
    pd.testing.assert_frame_equal(matrix, full_matrix)
    pd.testing.assert_frame_equal(pledge, full_pledge)
    assert len(pledge) > 0 and pledge["pledgeable"].any()
    links.close()


def test_a_built_store_is_not_rebuilt_from_another_mapping(random_data):
    """Trimming a copy of the tables instead of the mapping the store was built for would
    rebuild the store from the trimmed tables and give wrong features without a word: it
    is an error instead, until links.close()."""
    data = random_data(12, n_firms=40, n_patents=900, n_events=2500)
    links = resolve_entities(data)
    build_feature_store(data, links=links)
    lean = dict(data)
    lean["patents"] = data["patents"][list(REQUIRED_COLUMNS["patents"])]
    with pytest.raises(DataError, match="built by build_feature_store") as err:
        build_feature_matrix(_pairs(lean), lean, links=links)
    assert "same data object" in err.value.remedy
    with pytest.raises(DataError, match="built by build_feature_store"):
        pledgeable_patents(data, "2023-06-30", links=links, memory_limit="500MB")
    build_feature_matrix(_pairs(data), data, links=links)  # the same mapping: reused
    links.close()
    assert len(build_feature_matrix(_pairs(data), data, links=links)) == 40  # rebuilt
    links.close()


def test_feature_store_needs_links(random_data):
    data = random_data(6)
    with pytest.raises(DataError, match="links must be an EntityLinks"):
        build_feature_store(data, links=None)
