"""Wiring: firms once, then every other table chunk by chunk of firms, then write.

Random streams come from ``numpy.random.SeedSequence(seed)`` spawned in a fixed order
(firms first, then one stream per chunk and table), so a run is a pure function of its
arguments and the chunk size.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from data_contracts.errors import ConfigError
from screening.sample import mess as M
from screening.sample._arrow import dates, day, pick
from screening.sample.firms import make_firms
from screening.sample.loans import firm_truth, make_loans
from screening.sample.patents import EVENT_CODES, EVENT_TEXT, make_patents
from screening.sample.records import make_credit, make_nominations, make_programmes
from screening.sample.truth import StateIndex
from screening.sample.writer import (
    TABLES,
    TableSink,
    check_target,
    publish,
    staging_dir,
    write_atomic_bytes,
)

PARQUET_FROM_FIRMS = 50_000
MAX_FIRMS = 5_000_000


@dataclass(frozen=True)
class SampleConfig:
    """What to generate.

    Parameters
    ----------
    firms : int
        Number of firms in the registry, 1 … 5,000,000.
    seed : int
        Seed of every random draw (same arguments → byte-identical output).
    as_of : datetime.date
        The run date: nothing dated after it is written.
    mess : float
        Rate of real-world mess in [0, 0.5]; 0 writes canonical, clean files.
    fmt : str or None
        ``csv`` or ``parquet``; None = CSV below 50,000 firms, parquet from there.
    chunk_firms : int
        Firms generated per chunk (bounds memory; part of what fixes the output).
    """

    firms: int
    seed: int
    as_of: dt.date = dt.date(2026, 9, 30)
    mess: float = 0.0
    fmt: str | None = None
    chunk_firms: int = 100_000

    def validated(self) -> SampleConfig:
        """Check every parameter; raise ``ConfigError`` naming the first bad one."""
        if (
            isinstance(self.firms, bool)
            or not isinstance(self.firms, int)
            or not 1 <= self.firms <= MAX_FIRMS
        ):
            raise ConfigError(
                f"The 'firms' parameter of the sample generator must be an int in [1, {MAX_FIRMS:,}]. Got {self.firms!r} instead.",
                "Pass --firms with a positive whole number, e.g. --firms 2000.",
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(
                f"The 'seed' parameter of the sample generator must be an int >= 0. Got {self.seed!r} instead.",
                "Pass --seed with a non-negative whole number, e.g. --seed 1.",
            )
        if not isinstance(self.mess, (int, float)) or not 0.0 <= float(self.mess) <= 0.5:
            raise ConfigError(
                f"The 'mess' parameter of the sample generator must be a rate in [0, 0.5]. Got {self.mess!r} instead.",
                "Pass --mess 0 for clean files or a small rate such as --mess 0.02.",
            )
        if not isinstance(self.as_of, dt.date) or not dt.date(2005, 1, 1) <= self.as_of <= dt.date(
            2099, 12, 31
        ):
            raise ConfigError(
                f"The 'as_of' parameter of the sample generator must be a date in 2005-01-01 … 2099-12-31. Got {self.as_of!r} instead.",
                "Pass --as-of as YYYY-MM-DD, e.g. --as-of 2026-09-30.",
            )
        if self.fmt not in (None, "csv", "parquet"):
            raise ConfigError(
                f"The 'format' parameter of the sample generator must be 'csv' or 'parquet'. Got {self.fmt!r} instead.",
                "Pass --format csv or --format parquet (or leave it out).",
            )
        if (
            isinstance(self.chunk_firms, bool)
            or not isinstance(self.chunk_firms, int)
            or self.chunk_firms < 1
        ):
            raise ConfigError(
                f"The 'chunk_firms' parameter of the sample generator must be an int >= 1. Got {self.chunk_firms!r} instead.",
                "Leave chunk_firms at its default of 100,000.",
            )
        return self

    @property
    def file_format(self) -> str:
        if self.fmt is not None:
            return self.fmt
        return "parquet" if self.firms >= PARQUET_FROM_FIRMS else "csv"


@dataclass
class SampleResult:
    """What was written, with headline figures for the command line."""

    out: Path
    truth_path: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    loans: int = 0
    labelled_loans: int = 0
    labelled_bad_rate: float = float("nan")


def truth_path_for(out: Path) -> Path:
    """The ground-truth file beside the data folder: ``DIR.truth.csv``."""
    return out.parent / f"{out.name}.truth.csv"


def _events_table(evs: list[dict], app_no: pa.Array) -> pa.Table:
    """One events table from per-code pieces, sorted by patent row, day and code order."""
    idx = np.concatenate([e["idx"] for e in evs]).astype(np.int64)
    d = np.concatenate([e["day"] for e in evs]).astype(np.int64)
    code = np.concatenate([np.full(len(e["idx"]), EVENT_CODES.index(e["code"])) for e in evs])

    def party(key: str) -> pa.Array:
        return pa.concat_arrays(
            [e[key] if key in e else pa.nulls(len(e["idx"]), pa.string()) for e in evs]
        )

    frm, to = party("frm"), party("to")
    order = np.lexsort((code, d, idx))
    take = pa.array(order)
    return pa.table(
        {
            "app_no": app_no.take(pa.array(idx[order])),
            "event_code": pick(EVENT_CODES, code[order]),
            "event_date": dates(d[order]),
            "description": pick([EVENT_TEXT[c] for c in EVENT_CODES], code[order]),
            "from_party": frm.take(take),
            "to_party": to.take(take),
        }
    )


@dataclass
class Chunk:
    """Everything generated for one range of firms."""

    tables: dict[str, pa.Table]
    index: StateIndex
    firm_pd: np.ndarray
    loan_truth: dict
    n_loans: int
    mess_rng: np.random.Generator


def build_chunk(
    firms,
    lo: int,
    hi: int,
    as_of: int,
    seed_seq: np.random.SeedSequence,
    serial_base: int,
    serial_span: int,
    loan_base: int,
) -> Chunk:
    """Generate all tables (but the registry slice) and the ground truth of firms ``lo..hi-1``."""
    ss = seed_seq.spawn(7)
    r_pat, r_prog, r_nom, r_loan, r_mess, r_court = (np.random.default_rng(ss[i]) for i in range(6))
    patents, evs, facts = make_patents(firms, lo, hi, as_of, r_pat, serial_base, serial_span)
    cred_ss = ss[6]  # drawn twice, identically: before loans, then with their defaults
    _, neg, tax = make_credit(firms, lo, hi, as_of, np.random.default_rng(cred_ss))
    progs, active = make_programmes(firms, lo, hi, as_of, r_prog)
    noms = make_nominations(firms, lo, hi, as_of, r_nom)
    index = StateIndex(firms, facts, neg, tax, active)
    loans, pledge_evs, truth, pledged_now, n_loans = make_loans(
        firms, lo, hi, as_of, r_loan, facts, index, loan_base
    )
    # Court listings after defaults: later facts, so no loan's PD changes (a firm's loan
    # chain stops at its first default); the run-date PD sees them.
    seen = truth["default_day"] <= as_of
    credit, neg, tax = make_credit(
        firms,
        lo,
        hi,
        as_of,
        np.random.default_rng(cred_ss),
        defaults=(truth["firm"][seen], truth["default_day"][seen], r_court),
    )
    index = StateIndex(firms, facts, neg, tax, active)
    tables = {
        "enterprises": firms.table.slice(lo, hi - lo),
        "patents": patents,
        "patent_events": _events_table(evs + pledge_evs, facts.app_no),
        "credit_records": credit,
        "programmes": progs,
        "nominations": noms,
        "loans": loans,
    }
    return Chunk(
        tables=tables,
        index=index,
        firm_pd=firm_truth(firms, lo, hi, as_of, index, pledged_now),
        loan_truth=truth,
        n_loans=n_loans,
        mess_rng=r_mess,
    )


def generate_sample(
    config: SampleConfig,
    out: Path | str,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> SampleResult:
    """Generate a complete data folder at ``out`` and its ground truth beside it.

    Parameters
    ----------
    config : SampleConfig
        Validated here; a bad parameter raises ``ConfigError``.
    out : path
        The data folder to create (replaced atomically if it holds a previous sample).
    on_progress : callable, optional
        Called as ``on_progress(table, rows_written_so_far, chunks_total)`` after each chunk.

    Returns
    -------
    SampleResult
    """
    cfg = config.validated()
    out = Path(out)
    truth_file = truth_path_for(out)
    check_target(out, truth_file)
    as_of = day(cfg.as_of.isoformat())
    n_chunks = -(-cfg.firms // cfg.chunk_firms)
    root = np.random.SeedSequence(cfg.seed)
    firm_ss, *chunk_ss = root.spawn(1 + n_chunks)
    firms = make_firms(cfg.firms, as_of, np.random.default_rng(firm_ss))
    plan = M.plan(cfg.mess, cfg.file_format, cfg.firms)
    serial_span = 9_000_000 // n_chunks

    tmp = staging_dir(out)
    sinks = {t: TableSink(tmp, t, plan[t]) for t in TABLES}
    firm_pd, loan_truth = [], []
    loan_count = 0
    try:
        for c in range(n_chunks):
            lo, hi = c * cfg.chunk_firms, min(cfg.firms, (c + 1) * cfg.chunk_firms)
            chunk = build_chunk(
                firms, lo, hi, as_of, chunk_ss[c], c * serial_span, serial_span, loan_count
            )
            loan_count += chunk.n_loans
            firm_pd.append(chunk.firm_pd)
            loan_truth.append(chunk.loan_truth)
            tables = chunk.tables
            messer = M.Messer(cfg.mess, chunk.mess_rng, firms, lo, hi)
            for name in TABLES:
                table = tables[name]
                if cfg.mess > 0:
                    table = messer.apply(name, table, plan[name])
                sinks[name].write(table)
                if on_progress is not None:
                    on_progress(name, sinks[name].rows, n_chunks)
        for s in sinks.values():
            s.close()
        truth_bytes = _truth_csv(firms, as_of, np.concatenate(firm_pd), loan_truth)
        publish(tmp, out)
    except BaseException:
        for s in sinks.values():
            s.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_atomic_bytes(truth_file, truth_bytes)

    ld = np.concatenate([t["day"] for t in loan_truth])
    bad = np.concatenate([t["bad"] for t in loan_truth])
    labelled = ld <= as_of - 365
    return SampleResult(
        out=out,
        truth_path=truth_file,
        rows={t: s.rows for t, s in sinks.items()},
        files={t: f"{t}.{plan[t].fmt}" for t in TABLES},
        loans=int(len(ld)),
        labelled_loans=int(labelled.sum()),
        labelled_bad_rate=float(bad[labelled].mean()) if labelled.any() else float("nan"),
    )


def _truth_csv(firms, as_of: int, firm_pd: np.ndarray, loan_truth: list[dict]) -> bytes:
    """``uscc, as_of, true_pd, loan_id``: one row per firm at the run date, then per loan."""
    lf = np.concatenate([t["firm"] for t in loan_truth]).astype(np.int64)
    ld = np.concatenate([t["day"] for t in loan_truth]).astype(np.int64)
    lp = np.concatenate([t["pd"] for t in loan_truth])
    lid = (
        pa.concat_arrays([t["loan_id"] for t in loan_truth])
        if loan_truth
        else pa.array([], pa.string())
    )
    n = firms.n
    table = pa.table(
        {
            "uscc": pa.concat_arrays([firms.uscc, firms.uscc.take(pa.array(lf))]),
            "as_of": dates(np.r_[np.full(n, as_of), ld]),
            "true_pd": pa.array(np.round(np.r_[firm_pd, lp], 8)),
            "loan_id": pa.concat_arrays([pa.nulls(n, pa.string()), lid]),
        }
    )
    buf = io.BytesIO()
    pl.from_arrow(table).write_csv(buf)
    return buf.getvalue()


__all__ = [
    "Chunk",
    "SampleConfig",
    "SampleResult",
    "build_chunk",
    "generate_sample",
    "truth_path_for",
]
