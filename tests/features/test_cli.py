"""``screening features`` run for real on a data folder written to a temporary directory."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from features import feature_names
from screening.cli import main


@pytest.fixture
def folder(tmp_path, random_data):
    data = random_data(21)
    d = tmp_path / "data"
    d.mkdir()
    for name, df in data.items():
        df.to_parquet(d / f"{name}.parquet", index=False)
    return d, data


def test_features_command_writes_matrix_and_match_report(folder, tmp_path, capsys):
    d, data = folder
    out = tmp_path / "out" / "features.parquet"
    with pytest.raises(SystemExit) as done:
        main(["features", str(d), "--as-of", "2024-03-31", "--out", str(out)])
    assert done.value.code in (0, None)
    m = pd.read_parquet(out)
    assert list(m.columns) == ["uscc", "as_of", *feature_names()]
    assert sorted(m["uscc"]) == sorted(data["enterprises"]["uscc"])
    report = json.loads((out.parent / "match_report.json").read_text(encoding="utf-8"))
    assert report["sources"]["patent_applicants"]["mentions"] > 0
    ex = pd.read_csv(out.parent / "match_examples.csv", encoding="utf-8-sig")
    assert {"source", "method", "name", "mentions"} <= set(ex.columns)
    # the same values as the Python API on plain tables (the command reads categoricals,
    # builds the store first and drops the columns nothing reads afterwards)
    import datetime as dt

    from data_contracts import read_data_dir
    from features import build_feature_matrix

    bundle = read_data_dir(d, as_of=dt.date(2024, 3, 31))
    pairs = pd.DataFrame(
        {"uscc": bundle.tables["enterprises"]["uscc"], "as_of": pd.Timestamp("2024-03-31")}
    )
    expected = build_feature_matrix(pairs, bundle)
    pd.testing.assert_frame_equal(m, expected, check_dtype=False, check_categorical=False)
    first = out.read_bytes()
    with pytest.raises(SystemExit):
        main(["features", str(d), "--as-of", "2024-03-31", "--out", str(out)])
    assert out.read_bytes() == first  # a rerun gives identical bytes
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2024-02-30"], "--as-of must be a date"),
        (["--as-of", "2024-01-01", "--out", "x.csv"], "--out must name a .parquet file"),
        (["--as-of", "2024-01-01", "--fuzzy-threshold", "150"], "--fuzzy-threshold must be"),
    ],
)
def test_features_command_prints_two_lines_on_bad_input(folder, tmp_path, capsys, args, message):
    d, _ = folder
    with pytest.raises(SystemExit) as done:
        main(["features", str(d), *args])
    assert done.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "remedy:" in err and "Traceback" not in err


def test_features_command_names_a_missing_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["features", str(tmp_path / "nope"), "--as-of", "2024-01-01"])
    assert done.value.code == 2
    assert "does not exist" in " ".join(capsys.readouterr().err.split())  # rich wraps lines


def test_features_out_that_is_a_folder_is_two_lines(folder, tmp_path, capsys):
    """An --out the command cannot write (here an existing folder where the parquet file
    goes) is the two-line error of every other input problem, not an OSError traceback."""
    d, _ = folder
    taken = tmp_path / "taken.parquet"
    taken.mkdir()
    with pytest.raises(SystemExit) as done:
        main(["features", str(d), "--as-of", "2024-03-31", "--out", str(taken)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and "error: Cannot use" in err and "remedy:" in err
    assert "Traceback" not in err
