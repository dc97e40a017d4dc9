"""Small generated samples shared by the sample-generator tests (generated once per session)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from screening.sample import SampleConfig, generate_sample

AS_OF = dt.date(2026, 9, 30)


@pytest.fixture(scope="session")
def clean_sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "data"
    generate_sample(SampleConfig(firms=800, seed=11, as_of=AS_OF), out)
    return out


@pytest.fixture(scope="session")
def messy_sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("messy") / "data"
    generate_sample(SampleConfig(firms=800, seed=11, as_of=AS_OF, mess=0.2), out)
    return out
