from __future__ import annotations

import pytest

from tests.retrain._data import synthetic_bundle


@pytest.fixture
def bundle_and_builder():
    return synthetic_bundle()
