"""The real ``screening sample`` command in a temporary folder; parameters and determinism."""

from __future__ import annotations

import datetime as dt
import filecmp
from pathlib import Path

import pytest
from typer.testing import CliRunner

from data_contracts.errors import ConfigError, DataError
from screening.cli import app, main
from screening.sample import SampleConfig, generate_sample

ROOT = Path(__file__).resolve().parents[2]


def _same_tree(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not mismatch and not errors


def test_cli_writes_folder_and_truth(tmp_path: Path):
    out = tmp_path / "d"
    result = CliRunner().invoke(
        app, ["sample", "--firms", "150", "--seed", "3", "--out", str(out), "--as-of", "2025-12-31"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "patents.csv").exists() and (tmp_path / "d.truth.csv").exists()
    assert "ground truth" in result.output
    truth = (tmp_path / "d.truth.csv").read_text().splitlines()
    assert truth[0] == "uscc,as_of,true_pd,loan_id"
    assert truth[1].split(",")[1] == "2025-12-31"


def test_same_arguments_give_identical_bytes_and_another_seed_does_not(tmp_path: Path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_sample(SampleConfig(firms=200, seed=seed, mess=0.1), tmp_path / name)
    assert _same_tree(tmp_path / "a", tmp_path / "b")
    assert filecmp.cmp(tmp_path / "a.truth.csv", tmp_path / "b.truth.csv", shallow=False)
    assert not _same_tree(tmp_path / "a", tmp_path / "c")
    # A rerun into the same folder replaces it with the same bytes.
    generate_sample(SampleConfig(firms=200, seed=5, mess=0.1), tmp_path / "a")
    assert _same_tree(tmp_path / "a", tmp_path / "b")


def test_chunks_cover_every_firm_with_unique_ids(tmp_path: Path):
    import pandas as pd

    generate_sample(SampleConfig(firms=250, seed=2, chunk_firms=60), tmp_path / "d")
    ent = pd.read_csv(tmp_path / "d" / "enterprises.csv", dtype=str)
    pat = pd.read_csv(tmp_path / "d" / "patents.csv", dtype=str)
    loans = pd.read_csv(tmp_path / "d" / "loans.csv", dtype=str)
    assert len(ent) == 250 and ent.uscc.is_unique
    assert pat.app_no.is_unique
    assert loans.drop_duplicates("loan_id").pledge_reg_no.is_unique


def test_parquet_format(tmp_path: Path):
    import pyarrow.parquet as pq

    generate_sample(SampleConfig(firms=120, seed=1, fmt="parquet"), tmp_path / "p")
    generate_sample(SampleConfig(firms=120, seed=1, fmt="parquet"), tmp_path / "q")
    assert _same_tree(tmp_path / "p", tmp_path / "q")
    table = pq.read_table(tmp_path / "p" / "patents.parquet")
    assert table.schema.field("grant_date").type == "date32[day]"
    assert table.num_rows > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"firms": 0, "seed": 1},
            r"'firms' parameter .* must be an int in \[1, 5,000,000\]\. Got 0",
        ),
        ({"firms": 10, "seed": -1}, r"'seed' parameter .* must be an int >= 0\. Got -1"),
        ({"firms": 10, "seed": 1, "mess": 0.9}, r"'mess' parameter .* \[0, 0.5\]\. Got 0.9"),
        (
            {"firms": 10, "seed": 1, "fmt": "xls"},
            r"'format' parameter .* 'csv' or 'parquet'\. Got 'xls'",
        ),
        (
            {"firms": 10, "seed": 1, "as_of": dt.date(1999, 1, 1)},
            r"'as_of' parameter .* 2005-01-01",
        ),
    ],
)
def test_bad_parameters_are_named(tmp_path: Path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        generate_sample(SampleConfig(**kwargs), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_refuses_to_replace_a_foreign_folder(tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"holds files that are not sample tables: notes.txt"):
        generate_sample(SampleConfig(firms=10, seed=1), out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_refuses_to_replace_a_real_data_folder(tmp_path: Path):
    out = tmp_path / "real"
    out.mkdir()
    (out / "enterprises.csv").write_text("uscc,name\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"holds data tables but no real.truth.csv beside it"):
        generate_sample(SampleConfig(firms=10, seed=1), out)
    assert (out / "enterprises.csv").read_text(encoding="utf-8") == "uscc,name\n"


def test_cli_prints_two_lines_for_a_bad_date(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "sample",
                "--firms",
                "10",
                "--seed",
                "1",
                "--out",
                str(tmp_path / "x"),
                "--as-of",
                "30/09/2026",
            ]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--as-of must be a date written YYYY-MM-DD. Got '30/09/2026'" in err
    assert "remedy:" in err


def test_committed_sample_is_what_the_documented_command_writes(tmp_path: Path):
    """data/sample is regenerated on purpose, never edited by hand."""
    generate_sample(SampleConfig(firms=2000, seed=1, mess=0.02), tmp_path / "sample")
    assert _same_tree(tmp_path / "sample", ROOT / "data" / "sample")
    assert filecmp.cmp(
        tmp_path / "sample.truth.csv", ROOT / "data" / "sample.truth.csv", shallow=False
    )


def test_cli_progress_bars_per_table(tmp_path: Path, monkeypatch):
    from screening.commands import sample_cmds

    monkeypatch.setattr(sample_cmds, "_PROGRESS_FROM_FIRMS", 1)
    result = CliRunner().invoke(
        app, ["sample", "--firms", "80", "--seed", "2", "--out", str(tmp_path / "d")]
    )
    assert result.exit_code == 0, result.output
    for table in ("enterprises", "patent_events", "loans"):
        assert table in result.output
    assert "1/1" in result.output  # one chunk, complete
