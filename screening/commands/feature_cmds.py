"""``screening features``: the point-in-time feature matrix of every accepted firm."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from data_contracts.errors import ConfigError, DataError
from screening._atomic import write_via
from screening.commands._dates import parse_date


def _parse_as_of(text: str) -> pd.Timestamp:
    return pd.Timestamp(parse_date(text, "--as-of"))


_write_atomic = write_via


def write_feature_outputs(matrix: pd.DataFrame, links, out: Path) -> tuple[Path, Path, Path]:
    """``out`` (parquet), ``match_report.json`` and ``match_examples.csv`` beside it."""
    report_path = out.parent / "match_report.json"
    examples_path = out.parent / "match_examples.csv"
    _write_atomic(out, lambda p: matrix.to_parquet(p, index=False, compression="zstd"))
    text = json.dumps(links.match_report, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    _write_atomic(report_path, lambda p: p.write_text(text, encoding="utf-8"))
    _write_atomic(
        examples_path,
        lambda p: links.match_examples.to_csv(p, index=False, encoding="utf-8-sig"),
    )
    return out, report_path, examples_path


def features_command(
    data_dir: Path = typer.Argument(..., help="Data folder (one file per table)."),
    as_of: str = typer.Option(..., "--as-of", help="As-of date YYYY-MM-DD: only facts known then."),
    out: Path = typer.Option(
        Path("features.parquet"), "--out", help="Parquet file to write (match report beside it)."
    ),
    fuzzy_threshold: float = typer.Option(
        95.0, "--fuzzy-threshold", help="Minimum rapidfuzz ratio for a fuzzy name link (50-100)."
    ),
    min_remaining_years: float = typer.Option(
        1.0, "--min-remaining-years", help="Remaining term a patent needs to be pledgeable."
    ),
) -> None:
    """Build the feature matrix (one row per accepted firm) and the entity match report."""
    import features
    from data_contracts import read_data_dir
    from screening.run.pipeline import build_store_and_release

    ts = _parse_as_of(as_of)
    if not data_dir.is_dir():
        raise DataError(
            f"Data folder {str(data_dir)!r} does not exist.",
            "Pass the folder that holds enterprises.csv, patents.csv, ...",
        )
    if out.suffix.lower() != ".parquet":
        raise ConfigError(
            f"--out must name a .parquet file. Got {str(out)!r} instead.",
            "Pass e.g. --out out/features.parquet.",
        )
    if not 50 <= fuzzy_threshold <= 100:
        raise ConfigError(
            f"--fuzzy-threshold must be between 50 and 100. Got {fuzzy_threshold:g} instead.",
            "Pass a rapidfuzz ratio, e.g. --fuzzy-threshold 95 (the default).",
        )
    console = Console(stderr=True, highlight=False)
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        read_task = bar.add_task("read tables", total=None)

        def on_read(table: str, done: int, total: int) -> None:
            bar.update(read_task, completed=done, total=total, description=f"read {table}")

        # repeated names and codes as categoricals: the same features in less memory
        bundle = read_data_dir(
            data_dir,
            as_of=ts.date(),
            progress=on_read,
            categorical=features.CATEGORICAL_COLUMNS,
        )
        bar.update(read_task, description="read tables")
        feat_task = bar.add_task("features", total=7)

        def on_step(step: str, done: int, total: int) -> None:
            bar.update(feat_task, completed=done, total=total, description=step)

        links = features.resolve_entities(bundle, fuzzy_threshold=fuzzy_threshold)
        # as in `screening run`: the store first, then the columns nothing reads go
        build_store_and_release(bundle, links)
        ent = bundle.tables["enterprises"]
        pairs = pd.DataFrame({"uscc": ent["uscc"].to_numpy(), "as_of": ts})
        matrix = features.build_feature_matrix(
            pairs, bundle, links=links, progress=on_step, min_remaining_years=min_remaining_years
        )
    paths = write_feature_outputs(matrix, links, out)
    _summary(console, matrix, links, paths)


def _summary(console: Console, matrix: pd.DataFrame, links, paths) -> None:
    table = Table(title="entity resolution (mentions by method)", title_justify="left")
    table.add_column("source")
    methods = ("uscc", "name", "former_name", "fuzzy", "ambiguous", "unmatched")
    for m in methods:
        table.add_column(m, justify="right")
    for src, rep in links.match_report["sources"].items():
        table.add_row(src, *(f"{rep['by_method'][m]:,}" for m in methods))
    console.print(table)
    n_feat = matrix.shape[1] - 2
    console.print(
        f"{len(matrix):,} firms × {n_feat} features at "
        f"{matrix['as_of'].iloc[0]:%Y-%m-%d} → {paths[0]}"
        if len(matrix)
        else "0 firms"
    )
    console.print(f"match report → {paths[1]}, examples → {paths[2]}")


def register(app: typer.Typer) -> None:
    """Add ``screening features``."""
    app.command("features")(features_command)
