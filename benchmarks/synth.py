"""A small, fast, vectorised builder of canonical parquet data for the benchmark harness.

The benchmark normally uses the project's own generator (``screening sample``). This builder
exists so that the DuckDB reference and the naive baseline can be checked against each other
on data with every event type in it, even where the generator is not installed, and so that
the harness' smoke test does not depend on another layer. It writes the three tables the 32
patent indicators need (``enterprises``, ``patents``, ``patent_events``) in the canonical
shape of ``docs/data_model.md``; optional tables are left out (= no records).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts.identifiers import make_uscc

_APP_WEIGHTS = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])
_TYPE_DIGIT = {"invention": 1, "utility_model": 2, "design": 3}
_IPC_MAIN = (
    "H01M 10/052",
    "H01M 4/62",
    "G06N 3/08",
    "G06F 16/28",
    "G06T 7/00",
    "H04L 9/40",
    "H04W 72/04",
    "A61K 31/00",
    "A61B 5/00",
    "C12N 15/10",
    "B60L 53/00",
    "F16H 57/02",
    "B23K 26/00",
    "C08L 23/00",
    "E04B 1/00",
    "A01B 1/00",
    "B65D 81/00",
    "H02J 7/00",
    "G01N 33/00",
    "F24F 11/00",
)
_COUNTRIES = ("US", "EP", "JP", "KR", "DE")


def _app_numbers(year: np.ndarray, type_digit: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """Vectorised ``make_app_no``: ``CNYYYYTNNNNNNN.C`` with the mod-11 check character."""
    digits = np.empty((len(year), 12), dtype=np.int64)
    for i, scale in enumerate((1000, 100, 10, 1)):
        digits[:, i] = (year // scale) % 10
    digits[:, 4] = type_digit
    for i in range(7):
        digits[:, 5 + i] = (serial // 10 ** (6 - i)) % 10
    check = (digits * _APP_WEIGHTS).sum(axis=1) % 11
    check_char = np.where(check == 10, "X", check.astype(str))
    body = np.char.add(
        np.char.add(np.char.zfill(year.astype(str), 4), type_digit.astype(str)),
        np.char.zfill(serial.astype(str), 7),
    )
    return np.char.add(np.char.add(np.char.add("CN", body), "."), check_char)


def _days(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return rng.uniform(low, high, n).astype("timedelta64[D]")


def _date_array(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    days = values.astype("datetime64[D]")
    return pa.array(days, type=pa.date32(), mask=mask)


def build_tables(
    n_firms: int, seed: int = 0, data_date: str = "2026-06-30", patents_per_firm: float = 20.0
) -> dict[str, pa.Table]:
    """Build ``enterprises``, ``patents`` and ``patent_events`` as Arrow tables.

    Parameters
    ----------
    n_firms : int
        Number of firms (>= 2).
    seed : int
        Random seed; the same seed gives the same tables.
    data_date : str
        Date of the export: no fact is dated after it except a few future-dated events that
        exercise point-in-time filtering when ``as_of`` is earlier.
    patents_per_firm : float
        Mean patents per firm (heavy-tailed: negative binomial).
    """
    if not isinstance(n_firms, int) or n_firms < 2:
        raise ValueError(f"The 'n_firms' parameter must be an int >= 2. Got {n_firms!r} instead.")
    rng = np.random.default_rng(seed)
    end = np.datetime64(data_date, "D")

    # Firms: a stride through 10**8 (coprime with it) gives distinct organisation codes.
    org = (seed * 7919 + np.arange(n_firms, dtype=np.int64) * 104_729) % 10**8
    usccs = [make_uscc("9", "1", "410100", f"{int(i):08d}") for i in org]
    usccs = np.array(usccs)
    names = np.array([f"河南测试科技有限公司{i:07d}" for i in range(n_firms)])
    status = rng.choice(["active", "revoked", "cancelled"], n_firms, p=[0.94, 0.03, 0.03])
    enterprises = pa.table(
        {
            "uscc": usccs,
            "name": names,
            "former_names": pa.nulls(n_firms, pa.string()),
            "status": status,
            "established": _date_array(end - _days(rng, 365, 365 * 25, n_firms)),
            "region_code": np.full(n_firms, "410100"),
            "industry_code": rng.choice(["C3919", "I6513", "C2710", "M7320"], n_firms),
        }
    )

    # Patents: heavy-tailed count per firm, ~25 % of firms without any.
    counts = rng.negative_binomial(0.6, 0.6 / (0.6 + patents_per_firm), n_firms)
    firm_of = np.repeat(np.arange(n_firms), counts)
    n = len(firm_of)
    ptype = rng.choice(list(_TYPE_DIGIT), n, p=[0.45, 0.45, 0.10])
    app_date = end - _days(rng, 30, 365 * 26, n)
    year = app_date.astype("datetime64[Y]").astype(int) + 1970
    digit = np.vectorize(_TYPE_DIGIT.get)(ptype) if n else np.array([], dtype=int)
    app_no = _app_numbers(year, digit, rng.permutation(n) % 10_000_000)
    is_inv = ptype == "invention"
    lag = np.where(is_inv, _days(rng, 700, 1500, n), _days(rng, 150, 400, n))
    granted = np.where(is_inv, rng.random(n) < 0.6, rng.random(n) < 0.95)
    grant_date = app_date + lag
    granted &= grant_date <= end
    pub_date = np.where(is_inv, app_date + np.timedelta64(548, "D"), grant_date)
    published = (pub_date <= end) & (is_inv | granted)
    ipc_i = rng.integers(0, len(_IPC_MAIN), n)
    ipc_main = np.array(_IPC_MAIN)[ipc_i]
    extra = np.array(_IPC_MAIN)[(ipc_i + rng.integers(1, 5, n)) % len(_IPC_MAIN)]
    two = rng.random(n) < 0.4
    ipc_all = np.where(two, np.char.add(np.char.add(ipc_main, ";"), extra), ipc_main)
    co = rng.random(n) < 0.1
    partner = (firm_of + rng.integers(1, n_firms, n)) % n_firms
    applicants = np.where(
        co, np.char.add(np.char.add(names[firm_of], ";"), names[partner]), names[firm_of]
    )
    app_usccs = np.where(
        co, np.char.add(np.char.add(usccs[firm_of], ";"), usccs[partner]), usccs[firm_of]
    )
    transferred = granted & (rng.random(n) < 0.05)
    buyer = (firm_of + rng.integers(1, n_firms, n)) % n_firms
    owners = np.where(transferred, names[buyer], applicants)
    inv_a = np.char.add(
        np.char.add("发明人", firm_of.astype(str)),
        np.char.add("-", rng.integers(0, 6, n).astype(str)),
    )
    inv_b = np.char.add(
        np.char.add("发明人", firm_of.astype(str)),
        np.char.add("-", rng.integers(0, 6, n).astype(str)),
    )
    inventors = np.where(rng.random(n) < 0.6, np.char.add(np.char.add(inv_a, ";"), inv_b), inv_a)
    inventors = np.where(inv_a == inv_b, inv_a, inventors)
    pct = rng.random(n) < 0.05
    fam_mask = rng.random(n) < 0.9
    family_countries = np.array(_COUNTRIES)[rng.integers(0, len(_COUNTRIES), n)]
    overseas = rng.random(n) < 0.08
    award = rng.random(n) < 0.005
    patents = pa.table(
        {
            "app_no": app_no,
            "app_date": _date_array(app_date),
            "patent_type": ptype,
            "pub_date": _date_array(pub_date, ~published),
            "grant_date": _date_array(grant_date, ~granted),
            "ipc_main": ipc_main,
            "ipc_all": ipc_all,
            "claims": pa.array(rng.integers(1, 20, n), type=pa.int64()),
            "forward_citations": pa.array(rng.poisson(0.8, n), type=pa.int64()),
            "family_size": pa.array(
                np.where(overseas, rng.integers(2, 6, n), 1), mask=~fam_mask, type=pa.int64()
            ),
            "family_countries": pa.array(
                np.where(overseas, np.char.add("CN;", family_countries), "CN"), type=pa.string()
            ),
            "pct": pa.array(pct, type=pa.bool_()),
            "applicants": applicants,
            "applicant_usccs": app_usccs,
            "owners": owners,
            "inventors": inventors,
            "award": pa.array(np.where(award, "中国专利优秀奖", None), type=pa.string()),
        }
    )
    events = _events(
        rng,
        app_no,
        ptype,
        app_date,
        grant_date,
        granted,
        pub_date,
        published,
        transferred,
        names[firm_of],
        names[buyer],
        end,
    )
    return {"enterprises": enterprises, "patents": patents, "patent_events": events}


def _events(
    rng,
    app_no,
    ptype,
    app_date,
    grant_date,
    granted,
    pub_date,
    published,
    transferred,
    seller,
    buyer,
    end,
):
    """Legal events for the patents, with a few dated after ``end`` (future facts)."""
    n = len(app_no)
    parts: list[tuple[np.ndarray, str, np.ndarray, np.ndarray | None, np.ndarray | None]] = []

    def add(mask, code, dates, from_party=None, to_party=None):
        idx = np.flatnonzero(mask)
        parts.append(
            (
                idx,
                code,
                dates[idx],
                None if from_party is None else from_party[idx],
                None if to_party is None else to_party[idx],
            )
        )

    is_inv = ptype == "invention"
    add(granted, "GR01", grant_date)
    add(is_inv & published, "PB01", pub_date)
    decided_neg = is_inv & ~granted & published & (rng.random(n) < 0.5)
    reject = decided_neg & (rng.random(n) < 0.6)
    add(reject, "RJ01", pub_date + _days(rng, 200, 900, n))
    add(decided_neg & ~reject, "WD01", pub_date + _days(rng, 100, 700, n))
    lapse_date = grant_date + _days(rng, 300, 365 * 8, n)
    lapsed = granted & (rng.random(n) < 0.12)
    add(lapsed, "CF01", lapse_date)
    add(lapsed & (rng.random(n) < 0.25), "RR01", lapse_date + _days(rng, 30, 300, n))
    add(granted & (rng.random(n) < 0.01), "AV01", grant_date + _days(rng, 200, 3000, n))
    add(granted & (rng.random(n) < 0.005), "IW01", grant_date + _days(rng, 200, 3000, n))
    add(granted & (rng.random(n) < 0.005), "IP01", grant_date + _days(rng, 200, 3000, n))
    pledge_date = grant_date + _days(rng, 100, 365 * 6, n)
    pledged = granted & (rng.random(n) < 0.06)
    add(pledged, "PE01", pledge_date, seller, np.full(n, "某银行"))
    add(
        pledged & (rng.random(n) < 0.5),
        "PC01",
        pledge_date + _days(rng, 200, 1100, n),
        seller,
        np.full(n, "某银行"),
    )
    pres_date = grant_date + _days(rng, 100, 365 * 6, n)
    preserved = granted & (rng.random(n) < 0.02)
    add(preserved, "PP01", pres_date)
    add(preserved & (rng.random(n) < 0.5), "PD01", pres_date + _days(rng, 30, 600, n))
    add(
        granted & (rng.random(n) < 0.03),
        "EE01",
        grant_date + _days(rng, 30, 2000, n),
        seller,
        np.full(n, "被许可企业"),
    )
    tr_date = np.minimum(grant_date + _days(rng, 30, 3000, n), end - np.timedelta64(1, "D"))
    tr_date = np.maximum(tr_date, grant_date)
    add(transferred, "TR01", tr_date, seller, buyer)

    idx = np.concatenate([p[0] for p in parts])
    codes = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    dates = np.concatenate([p[2] for p in parts])
    frm = np.concatenate(
        [p[3] if p[3] is not None else np.full(len(p[0]), None, dtype=object) for p in parts]
    )
    to = np.concatenate(
        [p[4] if p[4] is not None else np.full(len(p[0]), None, dtype=object) for p in parts]
    )
    return pa.table(
        {
            "app_no": app_no[idx] if n else np.array([], dtype=str),
            "event_code": codes,
            "event_date": _date_array(dates),
            "from_party": pa.array(frm, type=pa.string()),
            "to_party": pa.array(to, type=pa.string()),
        }
    )


def write_data_dir(out: Path, n_firms: int, seed: int = 0, data_date: str = "2026-06-30") -> Path:
    """Write the tables as ``<table>.parquet`` into ``out`` atomically (temp folder, rename)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name, table in build_tables(n_firms, seed, data_date).items():
            pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
