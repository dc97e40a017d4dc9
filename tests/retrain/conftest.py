from __future__ import annotations

import sys
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

# The helpers are imported as ``tests.retrain._data``: make the repository root importable
# also when pytest is started as ``pytest`` rather than ``python -m pytest``.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from screening.retrain.config import RetrainConfig, parse_retrain_config  # noqa: E402
from tests.retrain._data import synthetic_bundle  # noqa: E402
from tests.retrain._folder import write_data_folder  # noqa: E402


@pytest.fixture
def bundle_and_builder():
    return synthetic_bundle()


@pytest.fixture(scope="session")
def packaged_config_raw() -> dict:
    return tomllib.loads((files("screening") / "config" / "retrain.toml").read_text("utf-8"))


@pytest.fixture(scope="session")
def config(packaged_config_raw) -> RetrainConfig:
    return parse_retrain_config(packaged_config_raw)


@pytest.fixture(scope="session")
def data_folder(tmp_path_factory):
    """A CSV data folder whose outcomes depend on the firms' valid inventions."""
    return write_data_folder(tmp_path_factory.mktemp("data") / "folder")


@pytest.fixture(scope="session")
def bundle(data_folder):
    from data_contracts import read_data_dir

    return read_data_dir(data_folder)


@pytest.fixture(scope="session")
def trained(bundle, config):
    """A model trained on the data folder through the real feature pipeline."""
    from screening.retrain.labels import build_training_set
    from screening.retrain.train import train

    ts = build_training_set(bundle, as_of="2025-06-30", config=config.labels)
    return train(ts, config, data_hashes={"loans": "x"}, registry_hash="r"), ts


@pytest.fixture(scope="session")
def model_dir(trained, tmp_path_factory):
    tm, _ = trained
    return tm.save(tmp_path_factory.mktemp("model") / "m")
