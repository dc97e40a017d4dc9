"""Invariants of any generated folder, for random sizes, seeds, dates and mess rates."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.sample import SampleConfig, generate_sample


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    firms=st.integers(1, 60),
    seed=st.integers(0, 2**32),
    as_of=st.dates(dt.date(2012, 1, 1), dt.date(2030, 12, 31)),
    mess=st.sampled_from([0.0, 0.0, 0.05, 0.3]),
)
def test_any_run_is_complete_and_truthful(firms, seed, as_of, mess):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "d"
        r = generate_sample(SampleConfig(firms=firms, seed=seed, as_of=as_of, mess=mess), out)
        assert r.rows["enterprises"] >= firms
        assert {p.name.split(".")[0] for p in out.iterdir()} == set(r.rows)
        truth = pd.read_csv(r.truth_path, dtype=str, keep_default_na=False)
        assert len(truth) == firms + r.loans
        assert truth.true_pd.astype(float).between(0, 1, inclusive="neither").all()
        assert (truth.as_of <= as_of.isoformat()).all()
        if mess == 0:
            ent = pd.read_csv(out / "enterprises.csv", dtype=str)
            assert len(ent) == firms
            for table, col in (("patents", "app_date"), ("patent_events", "event_date")):
                df = pd.read_csv(out / f"{table}.csv", dtype=str)
                assert (df[col].dropna() <= as_of.isoformat()).all()
