from __future__ import annotations

import pytest

from data_contracts.errors import ConfigError
from screening.retrain.config import parse_retrain_config


def test_packaged_config_parses(config):
    assert config.psi.watch == 0.10 and config.psi.act == 0.25
    assert config.labels.horizon_months == 12 and config.labels.bad_dpd == 90
    assert config.lightgbm_params["structure"] == "additive"


def test_empty_mapping_gives_documented_defaults():
    cfg = parse_retrain_config({})
    assert cfg.gate.auc_drop == 0.01 and cfg.validation.oot_share == 0.25


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"gates": {}}, r"unknown section\(s\) gates"),
        ({"gate": {"auc_dorp": 0.1}}, r"unknown key\(s\) auc_dorp in section gate"),
        ({"gate": {"auc_drop": "small"}}, r"gate.auc_drop must be a float, got 'small'"),
        ({"psi": {"bins": True}}, r"psi.bins must be a int"),
        ({"psi": {"watch": 0.3, "act": 0.2}}, r"needs 0 < watch < act"),
        ({"gate": {"min_auc": -1}}, r"gate\.min_auc must not be negative"),
        ({"gate": {"min_auc": 1.2}}, r"gate\.min_auc and gate\.max_calibration_gap must be in"),
        ({"validation": {"oot_share": 1.5}}, r"oot_share must be in \(0, 1\)"),
        ({"labels": {"horizon_months": 0}}, r"horizon_months must be >= 1"),
        ({"monitor": 3}, r"section monitor must be a table"),
        ({"validation": {"min_oot_bads": -3}}, r"validation.min_oot_bads must not be negative"),
        ({"gate": {"auc_drop": -0.5}}, r"gate.auc_drop must not be negative"),
    ],
)
def test_bad_config_names_the_key(raw, match):
    with pytest.raises(ConfigError, match=match):
        parse_retrain_config(raw)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"lightgbm": {"num_leaves": "eight"}}, r"lightgbm\.num_leaves = 'eight' is not accepted"),
        ({"lightgbm": {"structure": "forest"}}, r"lightgbm\.structure = 'forest'"),
        ({"lightgbm": {"num_leafs": 8}}, r"unknown lightgbm parameter\(s\) num_leafs"),
    ],
)
def test_model_parameters_are_checked_when_the_file_is_read(raw, match):
    """Retraining review: a bad [lightgbm] value failed only after labels and features,
    naming LearnedModel's parameter rather than the file's key."""
    with pytest.raises(ConfigError, match=match) as err:
        parse_retrain_config(raw, "cfg/mine.toml")
    assert "cfg/mine.toml" in err.value.remedy


def test_remedies_name_the_file_the_user_passed():
    with pytest.raises(ConfigError) as err:
        parse_retrain_config({"labels": {"bad_dpd": -5}}, "cfg/c5.toml")
    assert err.value.remedy == "fix cfg/c5.toml"
    with pytest.raises(ConfigError) as err:
        parse_retrain_config({"labels": {"bad_dpd": -5}})
    assert err.value.remedy == "fix screening/config/retrain.toml"
