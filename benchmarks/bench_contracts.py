"""Load + validate throughput of the data contracts (rows/s), printed as a table.

Builds a clean canonical patents parquet (default 2M rows), the same data as a GBK CSV with
Chinese headers (smaller, CSV is the slow path), and a parquet with 5% messy rows, then
times ``read_table`` on each. Target: >= 1M rows/s on clean canonical parquet.

Run: ``.venv/bin/python benchmarks/bench_contracts.py [--rows 2000000] [--csv-rows 200000]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts import read_table
from data_contracts.identifiers import app_no_check_char

TODAY = dt.date(2026, 11, 23)


def app_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unique valid application numbers, computed with numpy (no per-row Python)."""
    years = rng.integers(2000, 2025, n)
    types = rng.choice(np.array([1, 2, 3]), n, p=[0.4, 0.45, 0.15])
    serial = rng.permutation(n) + 100_000  # unique per row
    body = years.astype(np.int64) * 10**8 + types * 10**7 + serial
    digits = (body[:, None] // 10 ** np.arange(11, -1, -1)) % 10
    c = (digits @ np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])) % 11
    check = np.where(c == 10, "X", c.astype(str))
    out = np.char.add(np.char.add(np.char.add("CN", body.astype(str)), "."), check)
    assert app_no_check_char(str(body[0])) == out[0][-1]
    return out


def build(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    apps = app_numbers(n, rng)
    digit = pd.Series(apps).str[6].map({"1": "invention", "2": "utility_model", "3": "design"})
    types = digit.to_numpy()
    years = pd.Series(apps).str[2:6].astype(int).to_numpy()
    app_date = pd.to_datetime(
        pd.DataFrame(
            {"year": years, "month": rng.integers(1, 13, n), "day": rng.integers(1, 29, n)}
        )
    ).astype("datetime64[ns]")
    granted = rng.random(n) < 0.7
    grant = app_date + pd.to_timedelta(np.where(granted, rng.integers(200, 900, n), 0), unit="D")
    grant = grant.where(granted & (grant < pd.Timestamp(TODAY)))
    firms = np.char.add("企业", rng.integers(0, n // 20 + 1, n).astype(str))
    return pd.DataFrame(
        {
            "app_no": apps,
            "app_date": app_date,
            "patent_type": types,
            "title": "一种装置",
            "grant_date": grant,
            "ipc_main": "H01M 10/052",
            "ipc_all": "H01M 10/052;H01M 4/00",
            "claims": pd.array(rng.integers(1, 30, n), dtype="Int64"),
            "forward_citations": pd.array(rng.poisson(2, n), dtype="Int64"),
            "family_size": pd.array(rng.integers(1, 5, n), dtype="Int64"),
            "pct": pd.array(rng.random(n) < 0.05, dtype="boolean"),
            "applicants": firms,
            "owners": firms,
            "inventors": "张三;李四",
        }
    )


def events(patents: pd.DataFrame, seed: int = 13) -> pd.DataFrame:
    """One legal event per patent (grant, transfer or pledge) with party names."""
    rng = np.random.default_rng(seed)
    n = len(patents)
    codes = np.array(["GR01", "TR01", "PE01", "CF01", "PB01"])[rng.integers(0, 5, n)]
    parties = np.char.add("企业", rng.integers(0, n // 20 + 1, n).astype(str))
    return pd.DataFrame(
        {
            "app_no": patents["app_no"],
            "event_code": codes,
            "event_date": patents["app_date"] + pd.Timedelta(days=400),
            "description": "授权",
            "from_party": np.where(codes == "TR01", parties, None),
            "to_party": np.where(np.isin(codes, ["TR01", "PE01"]), patents["applicants"], None),
        }
    )


def messy(frame: pd.DataFrame, share: float, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    n = len(out)
    hit = rng.random(n) < share
    out["app_no"] = out["app_no"].astype(object)
    bad_check = hit & (rng.random(n) < 0.4)
    out.loc[bad_check, "app_no"] = out.loc[bad_check, "app_no"].str[:-1] + "Y"
    neg = hit & ~bad_check & (rng.random(n) < 0.5)
    out.loc[neg, "claims"] = -1
    dup_idx = np.flatnonzero(hit & ~bad_check & ~neg)
    return pd.concat([out, out.iloc[dup_idx]], ignore_index=True)


def timed(path: Path, table: str) -> tuple[float, float, int, int]:
    """Wall and CPU seconds: on a shared machine CPU time is the steadier figure."""
    start, cpu = time.perf_counter(), time.process_time()
    bundle = read_table(path, table, today=TODAY)
    secs, cpu_secs = time.perf_counter() - start, time.process_time() - cpu
    s = bundle.stats[table]
    return secs, cpu_secs, s.rows, s.accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--csv-rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = build(args.rows)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clean = folder / "clean" / "patents.parquet"
        clean.parent.mkdir()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), clean)
        ev = folder / "events" / "patent_events.parquet"
        ev.parent.mkdir()
        pq.write_table(pa.Table.from_pandas(events(frame), preserve_index=False), ev)
        mess = folder / "messy" / "patents.parquet"
        mess.parent.mkdir()
        pq.write_table(pa.Table.from_pandas(messy(frame, 0.05), preserve_index=False), mess)
        csv = folder / "csv" / "patents.csv"
        csv.parent.mkdir()
        small = frame.head(args.csv_rows).rename(
            columns={"app_no": "申请号", "app_date": "申请日", "patent_type": "专利类型"}
        )
        small["专利类型"] = small["专利类型"].map(
            {"invention": "发明", "utility_model": "实用新型", "design": "外观设计"}
        )
        small["申请日"] = small["申请日"].dt.strftime("%Y年%m月%d日")
        csv.write_bytes(small.to_csv(index=False).encode("gbk"))
        for label, table, path in (
            ("clean canonical parquet", "patents", clean),
            ("patent_events parquet", "patent_events", ev),
            ("parquet, 5% messy", "patents", mess),
            ("GBK CSV, Chinese headers", "patents", csv),
        ):
            runs = [timed(path, table) for _ in range(args.repeat)]
            secs = float(np.median([r[0] for r in runs]))
            cpu = float(np.median([r[1] for r in runs]))
            rows, accepted = runs[0][2], runs[0][3]
            results.append((label, rows, accepted, secs, cpu, rows / secs))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'input':<28}{'rows':>12}{'accepted':>12}{'wall s':>9}{'cpu s':>9}{'rows/s':>14}")
    for label, rows, accepted, secs, cpu, rate in results:
        print(f"{label:<28}{rows:>12,}{accepted:>12,}{secs:>9.2f}{cpu:>9.2f}{rate:>14,.0f}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall time is shared)")
    print(f"peak RSS {rss:,.0f} MB (whole process, including data generation)")


if __name__ == "__main__":
    main()
