"""Feature-matrix speed and memory: screening (all firms, one as_of) and training (many dates).

Prints one table: wall time, CPU time (all threads of this process; the machine is shared, so
CPU seconds compare runs better than wall time) and peak RSS of entity resolution, the feature matrix and the
pledge list for every firm of a generated data folder at one as_of; the plain DuckDB
aggregation of the 32 indicators (``benchmarks.reference_duckdb``) as the yardstick; and the
training path (``--loans`` pairs over ``--loan-firms`` firms, one as_of per loan).
Targets (1M firms / ~20M patents): features <= 60 s, <= 6 GB, <= 1.5x the DuckDB reference.

Run: ``.venv/bin/python -m benchmarks.bench_features [--size 100000] [--seed 7]``
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks.data import ensure_data
from benchmarks.reference_duckdb import reference_indicators
from benchmarks.rss import measure

CACHE = Path(__file__).resolve().parent / ".cache"


@contextmanager
def timed() -> Iterator[dict]:
    """``measure()`` plus the process CPU seconds (``cpu_s``) spent inside the block."""
    out: dict = {}
    c0 = time.process_time()
    with measure() as m:
        out["m"] = m
        yield out
    out["cpu_s"] = time.process_time() - c0
    out["wall_s"], out["peak_rss_mb"] = m.wall_s, m.peak_rss_mb


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000, help="firms in the registry")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--loans", type=int, default=20_000, help="training pairs")
    ap.add_argument("--loan-firms", type=int, default=2_000, help="firms the loans go to")
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args(argv)

    import features
    from data_contracts import read_data_dir

    console = Console()
    data = ensure_data(args.size, args.seed, CACHE)
    rows: list[tuple[str, dict, str]] = []
    with timed() as m_read:
        bundle = read_data_dir(data.path, as_of=pd.Timestamp(data.as_of).date())
    n_pat = len(bundle.tables["patents"])
    n_ev = len(bundle.tables["patent_events"])
    ent = bundle.tables["enterprises"]
    rows.append(("read_data_dir (not features)", m_read, ""))
    gc.collect()
    with timed() as m_links:
        links = features.resolve_entities(bundle)
    rows.append(("resolve_entities", m_links, ""))
    pairs = pd.DataFrame({"uscc": ent["uscc"].to_numpy(), "as_of": data.as_of})
    with timed() as m_matrix:
        matrix = features.build_feature_matrix(pairs, bundle, links=links)
    rows.append(("build_feature_matrix (1 as_of)", m_matrix,
                 f"{len(matrix):,} rows × {matrix.shape[1] - 2} features"))  # fmt: skip
    total = {
        "wall_s": m_links["wall_s"] + m_matrix["wall_s"],
        "cpu_s": m_links["cpu_s"] + m_matrix["cpu_s"],
        "peak_rss_mb": max(m_links["peak_rss_mb"], m_matrix["peak_rss_mb"]),
    }
    rows.append(("features total (links + matrix)", total, "target ≤ 60 s, ≤ 6 GB"))
    with timed() as m_pledge:
        pl = features.pledgeable_patents(bundle, data.as_of, links=links)
    rows.append(("pledgeable_patents (1 as_of)", m_pledge, f"{len(pl):,} valid patents"))
    del pl
    rng = np.random.default_rng(args.seed)
    firms = rng.choice(ent["uscc"].to_numpy(), size=min(args.loan_firms, len(ent)), replace=False)
    lo, hi = pd.Timestamp("2018-01-01").value, pd.Timestamp(data.as_of).value
    dates = pd.to_datetime(rng.integers(lo, hi, args.loans)).normalize()
    loans = pd.DataFrame({"uscc": rng.choice(firms, args.loans), "as_of": dates})
    with timed() as m_train:
        tm = features.build_feature_matrix(loans, bundle, links=links)
    rows.append(
        (f"training: {args.loans:,} loans / {len(firms):,} firms", m_train,
         f"{loans['as_of'].nunique():,} as_of dates; peer ref at quarter ends")
    )  # fmt: skip
    del tm
    if not args.skip_reference:
        gc.collect()
        with timed() as m_ref:
            ref = reference_indicators(data.path, data.as_of)
        rows.append(("DuckDB reference (32 indicators)", m_ref, f"{len(ref):,} firms"))
        ratio = {
            "wall_s": total["wall_s"] / m_ref["wall_s"],
            "cpu_s": total["cpu_s"] / m_ref["cpu_s"],
            "peak_rss_mb": float("nan"),
        }
        rows.append(("ratio features total / reference", ratio, "target ≤ 1.5"))
    table = Table(
        title=f"features benchmark: {len(ent):,} firms, {n_pat:,} patents, {n_ev:,} events "
        f"({data.generator}, as_of {data.as_of})",
        title_justify="left",
    )
    for col, just in (("stage", "left"), ("wall s", "right"), ("CPU s", "right"),
                      ("peak RSS MB", "right"), ("note", "left")):  # fmt: skip
        table.add_column(col, justify=just)
    for name, m, note in rows:
        rss = m["peak_rss_mb"]
        table.add_row(name, f"{m['wall_s']:,.2f}", f"{m['cpu_s']:,.2f}",
                      "" if np.isnan(rss) else f"{rss:,.0f}", note)  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
