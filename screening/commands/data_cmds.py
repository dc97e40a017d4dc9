"""``screening validate``: check a data folder against the input contracts.

Prints one line per table (rows, accepted, rejected, duplicates, warnings, top rules) and,
with ``--out``, writes ``rejects.csv``, ``warnings.csv`` and ``validation.json`` atomically.
Exit 0 when the required tables are usable; otherwise the two-line error of
``screening.cli`` (cause, remedy) and exit code 2.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from data_contracts import REQUIRED_TABLES, TABLES, DataBundle, read_data_dir
from data_contracts.errors import ConfigError, DataError
from screening._atomic import write_bytes
from screening.commands._dates import parse_date

_TOP_RULES = 4


_write_atomic = write_bytes


def validation_document(
    bundle: DataBundle, *, as_of: dt.date | None, today: dt.date | None
) -> dict:
    """The ``validation.json`` content: deterministic for the same inputs and dates."""
    doc = bundle.to_json_dict()
    doc["run"] = {
        "as_of": as_of.isoformat() if as_of else None,
        "today": today.isoformat() if today else None,
        "required_tables": list(REQUIRED_TABLES),
        "usable": all(bundle.usable(t) for t in REQUIRED_TABLES if t in bundle.stats),
    }
    return doc


def write_outputs(
    bundle: DataBundle, out: Path, *, as_of: dt.date | None, today: dt.date | None
) -> list[Path]:
    """Write ``rejects.csv``, ``warnings.csv`` and ``validation.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (("rejects.csv", bundle.rejects), ("warnings.csv", bundle.warnings)):
        text = frame.to_csv(index=False, lineterminator="\n")
        _write_atomic(out / name, text.encode("utf-8"))
        written.append(out / name)
    doc = validation_document(bundle, as_of=as_of, today=today)
    text = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    _write_atomic(out / "validation.json", text.encode("utf-8"))
    written.append(out / "validation.json")
    return written


def _summary_table(bundle: DataBundle) -> Table:
    table = Table(title="Data contracts", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    table.add_column("table", no_wrap=True)
    for col in ("rows", "accepted", "rejected", "dups", "warnings"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("file", overflow="ellipsis")
    for name in TABLES:
        stats = bundle.stats.get(name)
        if stats is None:
            continue
        info = bundle.files.get(name)
        file = f"{Path(info.path).name} {info.encoding}" if info else ""
        if stats.status == "missing":
            file = "missing: empty"
        elif stats.status == "failed":
            file = f"[bold red]FAILED[/] {file}".rstrip()
        table.add_row(
            f"{name}*" if name in REQUIRED_TABLES else name,
            f"{stats.rows:,}",
            f"{stats.accepted:,}",
            f"{stats.rejected:,}",
            f"{stats.duplicates:,}",
            f"{stats.warnings:,}",
            file,
        )
    table.caption = "* required; rows = accepted + rejected + dups"
    return table


def _rule_lines(bundle: DataBundle) -> list[str]:
    """``patents rejected: app_no_check 3, negative_count 1`` — the top rules per table."""
    lines = []
    for name in TABLES:
        stats = bundle.stats.get(name)
        if stats is None:
            continue
        for label, counts in (("rejected", stats.by_rule), ("warnings", stats.warnings_by_rule)):
            if counts:
                top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:_TOP_RULES]
                more = (
                    f", … {len(counts) - _TOP_RULES} more rules" if len(counts) > _TOP_RULES else ""
                )
                shown = ", ".join(f"{rule} {count:,}" for rule, count in top)
                lines.append(f"{name} {label}: {shown}{more}")
        if stats.status == "failed":
            lines.append(f"{name} FAILED: {stats.error}")
    return lines


def validate(
    data_dir: Annotated[
        Path, typer.Argument(help="Folder with one file per table (csv, xlsx or parquet).")
    ],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Run date YYYY-MM-DD; later records are kept as history."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write rejects.csv, warnings.csv and validation.json here."),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            help="Date treated as today (YYYY-MM-DD) for the date_in_future rule; "
            "default: the system date. Pin it to rerun an old check byte for byte.",
        ),
    ] = None,
) -> None:
    """Check a data folder against the input contracts and account for every row."""
    as_of_date = parse_date(as_of, "--as-of")
    today_date = parse_date(today, "--today") or dt.date.today()
    console = Console()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} tables"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("validating", total=None)

        def progress(table: str, done: int, total: int) -> None:
            bar.update(task, description=f"validated {table}", completed=done, total=total)

        bundle = read_data_dir(
            data_dir, as_of=as_of_date, today=today_date, progress=progress, errors="collect"
        )
    console.print(_summary_table(bundle))
    for line in _rule_lines(bundle):
        console.print(line, highlight=False, soft_wrap=True)
    for note in bundle.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    if out is not None:
        try:
            written = write_outputs(bundle, out, as_of=as_of_date, today=today_date)
        except OSError as exc:
            raise ConfigError(
                f"cannot write the validation report to {out}: {exc.strerror or exc}",
                "pass a writable folder with --out (it is created when missing)",
            ) from None
        for path in written:
            console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    failed_required = [t for t in REQUIRED_TABLES if t in bundle.failures]
    if failed_required:
        raise bundle.failures[failed_required[0]]
    for name, exc in bundle.failures.items():
        console.print(
            f"[bold yellow]warning:[/] optional table {name} unusable: {exc.cause} ({exc.remedy})",
            highlight=False,
            soft_wrap=True,
        )
    credit = bundle.stats.get("credit_records")
    if credit is not None and credit.status == "ok" and credit.rows == 0:
        console.print(
            "[bold yellow]warning:[/] credit_records has no record (a header-only export): "
            "screening run refuses it while credit knock-out rules are enabled",
            highlight=False,
            soft_wrap=True,
        )
    if bundle.failures:
        # a folder this command passes is one every later command reads: an unusable
        # optional table stops `screening run` (or `train` for loans), so it fails here too
        name, exc = next(iter(bundle.failures.items()))
        raise DataError(f"optional table {name} unusable: {exc.cause}", exc.remedy)


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the app."""
    app.command("validate")(validate)
