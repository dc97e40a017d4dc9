"""Results of one benchmark run: rows, targets, the printed table and the JSON log.

Results are plain data first (:class:`BenchRow`, :class:`Target`); the rich table and the JSON
file are built on top of them.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.table import Table

NATIONAL_SIZE = 1_000_000
# Below this many firms fixed costs (imports, thread start-up) dominate, so a budget stated at
# national size says nothing about the run: such targets are reported, not judged.
MIN_JUDGED_SIZE = 100_000


@dataclass
class BenchRow:
    """One line of the results table.

    Attributes
    ----------
    section : str
        ``pipeline``, ``reference``, ``naive``, ``scaling`` or ``quality``.
    stage : str
        What was measured.
    wall_s, peak_rss_mb, rows : float | None
        Measured figures (``None`` = not measured / not applicable).
    value : float | None
        The figure the target applies to when it is not ``wall_s`` (a ratio, a speed-up, AUC).
    target : str
        Target in words (empty = informational row).
    status : str
        ``met``, ``missed by X%``, ``info`` or ``unavailable: <reason>``.
    note : str
        How the figure was obtained (method, extrapolation, sample size...).
    """

    section: str
    stage: str
    wall_s: float | None = None
    peak_rss_mb: float | None = None
    rows: float | None = None
    value: float | None = None
    target: str = ""
    status: str = "info"
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float | None:
        """Throughput where both rows and time are known."""
        if self.rows is None or not self.wall_s:
            return None
        return self.rows / self.wall_s

    def to_json(self) -> dict[str, object]:
        """Plain dict for the JSON log (``rows_per_s`` included)."""
        out = asdict(self)
        out["rows_per_s"] = self.rows_per_s
        return out


@dataclass(frozen=True)
class Target:
    """A goal from the issues, possibly stated at national size.

    Parameters
    ----------
    limit : float
        The bound.
    upper : bool
        ``True`` for "at most" (times, memory, slow-down ratios), ``False`` for "at least"
        (speed-ups).
    unit : str
        ``s``, ``MB``, ``x`` (ratio) or ``""``.
    at_size : int or None
        Size the limit is stated for. Below it the limit is scaled linearly with the number
        of firms (a 60 s budget at 1M firms is 6 s at 100k); ``None`` = any size.
    """

    limit: float
    upper: bool = True
    unit: str = "s"
    at_size: int | None = None

    def limit_at(self, size: int) -> float:
        """The bound that applies at ``size`` firms."""
        if self.at_size is None or size >= self.at_size:
            return self.limit
        return self.limit * size / self.at_size

    def describe(self, size: int) -> str:
        """E.g. ``≤ 60 s at 1M (≤ 6.0 s at 100k, linear)``."""
        sign = "≤" if self.upper else "≥"
        unit = f" {self.unit}" if self.unit not in ("", "x") else self.unit
        text = f"{sign} {_fmt(self.limit)}{unit}"
        if self.at_size is not None:
            text += f" at {_size(self.at_size)}"
            if MIN_JUDGED_SIZE <= size < self.at_size:
                text += f" (≤ {_fmt(self.limit_at(size))}{unit} at {_size(size)}, linear)"
        return text

    def status(self, value: float | None, size: int) -> str:
        """``met`` or ``missed by X%`` (X relative to the bound)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "unavailable: not measured"
        if self.at_size is not None and size < MIN_JUDGED_SIZE:
            return f"info (judged from {_size(MIN_JUDGED_SIZE)} firms)"
        bound = self.limit_at(size)
        ok = value <= bound if self.upper else value >= bound
        if ok:
            return "met"
        pct = (value / bound - 1) * 100 if self.upper else (1 - value / bound) * 100
        return f"missed by {pct:.0f}%"


def _fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}".rstrip("0").rstrip(".")
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _size(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def apply_target(row: BenchRow, target: Target, size: int, value: float | None = None) -> BenchRow:
    """Fill ``row.target`` and ``row.status`` from ``target`` (``value`` defaults to wall s,
    or the row's ``value``, or peak MB when the unit is MB)."""
    if value is None:
        if target.unit == "MB":
            value = row.peak_rss_mb
        elif target.unit == "s":
            value = row.wall_s
        else:
            value = row.value
    row.target = target.describe(size)
    row.status = target.status(value, size)
    return row


def _cell(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def render_table(rows: list[BenchRow], title: str) -> Table:
    """The printed results: stage, wall s, peak RSS MB, rows/s, value, target, status."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for name, justify in (
        ("stage", "left"),
        ("wall s", "right"),
        ("peak RSS MB", "right"),
        ("rows/s", "right"),
        ("value", "right"),
        ("target", "left"),
        ("status", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    section = None
    for row in rows:
        if section is not None and row.section != section:
            table.add_section()
        section = row.section
        style = ""
        if row.status.startswith("missed"):
            style = "red"
        elif row.status == "met":
            style = "green"
        elif row.status.startswith("unavailable"):
            style = "yellow"
        table.add_row(
            row.stage,
            _cell(row.wall_s),
            _cell(row.peak_rss_mb, 0),
            _cell(row.rows_per_s, 0),
            _cell(row.value, 3),
            row.target,
            f"[{style}]{row.status}[/]" if style else row.status,
        )
    return table


def write_json_atomic(payload: dict[str, object], path: Path) -> Path:
    """Write ``payload`` as indented JSON via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, ensure_ascii=False, default=_json_default)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _json_default(obj: object) -> object:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def markdown_table(payload: dict[str, object]) -> str:
    """A results JSON as a Markdown table (for ``benchmarks/README.md``)."""

    def cell(x: object, digits: int = 2) -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "–"
        if isinstance(x, float | int) and abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{digits}f}" if isinstance(x, float | int) else str(x)

    lines = [
        "| stage | wall s | peak RSS MB | rows/s | value | target | status |",
        "|---|--:|--:|--:|--:|---|---|",
    ]
    for r in payload["rows"]:  # type: ignore[union-attr]
        lines.append(
            f"| {r['stage']} | {cell(r['wall_s'])} | {cell(r['peak_rss_mb'], 0)} | "
            f"{cell(r['rows_per_s'], 0)} | {cell(r['value'], 3)} | {r['target']} | {r['status']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    import sys

    for arg in sys.argv[1:]:
        print(markdown_table(json.loads(Path(arg).read_text(encoding="utf-8"))))
