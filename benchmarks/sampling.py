"""Cut a data folder down to a sample of firms (for the naive baseline's 1/20 run)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from benchmarks.reference_duckdb import ReferenceInputs


def _q(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def write_sample_dir(data_dir: Path, out: Path, firms: list[str]) -> Path:
    """Write the sampled firms, every patent they hold or filed, and those patents' events.

    Patents are kept when a sampled firm is among their owners or applicants (by name) or
    applicant USCCs, so every indicator of a sampled firm sees the same patents as in the
    full folder. Written with DuckDB ``COPY`` (one pass per table) into a temporary folder that
    is then renamed.
    """
    inputs = ReferenceInputs.from_dir(Path(data_dir))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    con = duckdb.connect()
    try:
        con.register("wanted", pd.DataFrame({"uscc": pd.Series(firms, dtype="str")}))
        con.execute(
            f"CREATE TABLE s AS SELECT * FROM read_parquet({_q(inputs.enterprises)}) "
            "WHERE uscc IN (SELECT uscc FROM wanted)"
        )
        con.execute(f"CREATE VIEW pat AS SELECT * FROM read_parquet({_q(inputs.patents)})")
        con.execute(
            """
            CREATE TABLE sp AS
            SELECT DISTINCT app_no FROM (
                SELECT app_no, trim(unnest(string_split(coalesce(owners, applicants), ';'))) AS who
                FROM pat
                UNION ALL
                SELECT app_no, trim(unnest(string_split(applicants, ';'))) FROM pat
            ) x JOIN s ON s.name = x.who
            UNION
            SELECT DISTINCT app_no FROM (
                SELECT app_no, trim(unnest(string_split(applicant_usccs, ';'))) AS code FROM pat
            ) y JOIN s ON s.uscc = y.code
            """
        )
        con.execute(f"COPY s TO {_q(tmp / 'enterprises.parquet')} (FORMAT parquet)")
        con.execute(
            f"COPY (SELECT * FROM pat WHERE app_no IN (SELECT app_no FROM sp)) "
            f"TO {_q(tmp / 'patents.parquet')} (FORMAT parquet)"
        )
        if inputs.patent_events is not None:
            con.execute(
                f"COPY (SELECT * FROM read_parquet({_q(inputs.patent_events)}) "
                f"WHERE app_no IN (SELECT app_no FROM sp)) "
                f"TO {_q(tmp / 'patent_events.parquet')} (FORMAT parquet)"
            )
        con.close()
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
