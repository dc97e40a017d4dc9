"""``screening sample``: write a realistic synthetic data folder and its ground truth."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from screening.commands._dates import parse_date

_PROGRESS_FROM_FIRMS = 50_000


def sample(
    firms: int = typer.Option(..., "--firms", help="Number of firms in the registry."),
    seed: int = typer.Option(..., "--seed", help="Random seed (same arguments → same bytes)."),
    out: Path = typer.Option(
        ..., "--out", help="Data folder to write (truth goes to OUT.truth.csv)."
    ),
    as_of: str = typer.Option("2026-09-30", "--as-of", help="Run date: nothing later is written."),
    mess: float = typer.Option(0.0, "--mess", help="Rate of real-world mess, 0 … 0.5."),
    fmt: str | None = typer.Option(
        None, "--format", help="csv or parquet (default: csv below 50,000 firms, else parquet)."
    ),
) -> None:
    """Generate a synthetic data folder (all seven tables) with a known ground-truth PD."""
    from screening.sample import SampleConfig, generate_sample

    cfg = SampleConfig(
        firms=firms, seed=seed, as_of=parse_date(as_of, "--as-of"), mess=mess, fmt=fmt
    )
    cfg = cfg.validated()
    console = Console(stderr=True, highlight=False)
    if firms >= _PROGRESS_FROM_FIRMS:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (
            TextColumn("{task.description:<15}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows]:>12,} rows"),
        )
        with Progress(*columns, console=console) as progress:
            tasks: dict[str, int] = {}

            def on_progress(table: str, rows: int, chunks: int) -> None:
                if table not in tasks:
                    tasks[table] = progress.add_task(table, total=chunks, rows=0)
                progress.update(tasks[table], advance=1, rows=rows)

            result = generate_sample(cfg, out, on_progress)
    else:
        result = generate_sample(cfg, out)

    summary = Table(title=f"sample written to {result.out}", show_edge=False)
    summary.add_column("table")
    summary.add_column("file")
    summary.add_column("rows", justify="right")
    for table, rows in result.rows.items():
        summary.add_row(table, result.files[table], f"{rows:,}")
    Console(highlight=False).print(summary)
    typer.echo(
        f"ground truth: {result.truth_path} | loans {result.loans:,}, labelled (≥12 months) "
        f"{result.labelled_loans:,}, bad rate {result.labelled_bad_rate:.1%}"
    )


def register(app: typer.Typer) -> None:
    """Add the ``sample`` command to the app."""
    app.command("sample")(sample)
