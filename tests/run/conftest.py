"""Fixtures for the screening-run tests; the data itself lives in ``tests/run/_data.py``."""

from __future__ import annotations

import os

import pytest

from screening.run.pipeline import ScreenInputs
from tests.run._data import ToyScorer, build_inputs, make_config


def pytest_addoption(parser):
    parser.addoption(
        "--regen-golden", action="store_true", default=False, help="rewrite tests/run/golden"
    )


@pytest.fixture
def regen_golden(request) -> bool:
    return (
        bool(request.config.getoption("--regen-golden"))
        or os.environ.get("IPWL_REGEN_GOLDEN") == "1"
    )


@pytest.fixture
def inputs() -> ScreenInputs:
    return build_inputs()


@pytest.fixture
def config():
    return make_config()


@pytest.fixture
def scorer() -> ToyScorer:
    return ToyScorer()
