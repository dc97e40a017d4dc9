from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from data_contracts.errors import DataError
from screening.retrain.labels import build_training_set
from screening.retrain.monitor import monitor, screened_population, write_monitor
from screening.retrain.train import train
from tests.retrain._data import synthetic_bundle


@pytest.fixture(scope="module")
def synthetic_model(config):
    bundle, builder = synthetic_bundle(500, seed=3)
    ts = build_training_set(bundle, as_of="2025-06-30", feature_builder=builder)
    tm = train(ts, config, registry_hash="r")
    return tm, bundle, builder


def _shifted(bundle, dx):
    tables = dict(bundle.tables)
    tables["enterprises"] = tables["enterprises"].assign(x=tables["enterprises"]["x"] + dx)
    return type(bundle)(tables)


def _monitor(synthetic_model, config, bundle=None, **kw):
    """``monitor`` of the module's model at 2025-06-30 on ``bundle`` (default: its own)."""
    tm, own, builder = synthetic_model
    return monitor(
        tm.model,
        tm.reference,
        tm.report,
        own if bundle is None else bundle,
        as_of="2025-06-30",
        config=config,
        feature_builder=builder,
        **kw,
    )


def test_unchanged_population_raises_no_feature_alert(synthetic_model, config):
    res = _monitor(synthetic_model, config)
    assert res.summary["features_act"] == 0
    assert not [a for a in res.alerts if a["kind"] == "feature_psi"]
    assert set(res.feature_psi["feature"]) == {"x", "noise"}
    assert res.summary["realised"]["sample"] == "out_of_sample"
    assert res.realised["n"].sum() == res.summary["realised"]["sample_loans"]


def test_shifted_feature_triggers_act_on_it_and_the_score(synthetic_model, config):
    _, bundle, _ = synthetic_model
    res = _monitor(synthetic_model, config, _shifted(bundle, 1.0))
    psi = res.feature_psi.set_index("feature")
    assert psi.loc["x", "level"] == "act"
    assert psi.loc["noise", "level"] == "stable"
    assert res.summary["score_psi_level"] == "act"
    kinds = {(a["kind"], a["subject"]) for a in res.alerts}
    assert ("feature_psi", "x") in kinds and ("score_psi", "score") in kinds


def test_outputs_are_written_and_byte_identical_on_rerun(synthetic_model, config, tmp_path):
    tm = synthetic_model[0]
    res = _monitor(synthetic_model, config)
    j, h = write_monitor(res, tmp_path / "a")
    data = json.loads(j.read_text(encoding="utf-8"))
    assert data["summary"]["model_id"] == tm.model.model_id
    html = h.read_text(encoding="utf-8")
    assert "模型监测报告" in html and "<svg" in html
    res2 = _monitor(synthetic_model, config)
    j2, h2 = write_monitor(res2, tmp_path / "b")
    assert j.read_bytes() == j2.read_bytes()
    assert h.read_bytes() == h2.read_bytes()


def test_population_is_active_firms_established_by_as_of(synthetic_model):
    _, bundle, _ = synthetic_model
    ent = bundle.tables["enterprises"].copy()
    ent["status"] = ["active"] * (len(ent) - 2) + ["revoked", "cancelled"]
    ent["established"] = pd.Timestamp("2020-01-01")
    ent.loc[0, "established"] = pd.Timestamp("2030-01-01")
    pairs = screened_population(
        type(bundle)({**bundle.tables, "enterprises": ent}), pd.Timestamp("2025-06-30")
    )
    assert len(pairs) == len(ent) - 3


def test_no_active_firm_is_a_clear_error(synthetic_model, config):
    _, bundle, _ = synthetic_model
    ent = bundle.tables["enterprises"].assign(status="revoked")
    empty = type(bundle)({**bundle.tables, "enterprises": ent})
    with pytest.raises(DataError, match="no active enterprise at 2025-06-30"):
        _monitor(synthetic_model, config, empty)


def test_a_whitelist_matching_no_firm_says_so(synthetic_model, config):
    with pytest.raises(DataError, match="none of the 2 firms of --whitelist"):
        _monitor(
            synthetic_model,
            config,
            whitelist=pd.Series(["91110000000000000X", "91110000000000001X"]),
        )


def test_whitelist_restricts_the_population(synthetic_model, config):
    _, bundle, _ = synthetic_model
    firms = bundle.tables["enterprises"]["uscc"].iloc[:40]
    res = _monitor(synthetic_model, config, whitelist=firms)
    assert res.summary["population"] == 40
    assert res.summary["population_source"] == "whitelist"


def test_without_a_loan_ledger_drift_is_still_reported(synthetic_model, config):
    """No loans table (a bureau that has not received ledgers yet): population and score
    drift are computed, realised default rates are empty and say why — not a TypeError."""
    _, bundle, _ = synthetic_model
    tables = dict(bundle.tables)
    tables["loans"] = tables["loans"].iloc[0:0]
    res = _monitor(synthetic_model, config, type(bundle)(tables))
    assert set(res.feature_psi["feature"]) == {"x", "noise"}
    assert res.realised.empty
    assert res.summary["realised"]["sample"] == "no_ledger"


def test_default_population_is_the_firms_a_pledge_loan_can_go_to(synthetic_model, config):
    """Borrowers all pledged patents: firms without a pledgeable patent (every share
    feature missing) are left out of today's population, not counted as drift."""
    tm, own, builder = synthetic_model

    def with_pledgeable(pairs, b):
        out = builder(pairs, b)
        out["pledgeable_patent_count"] = np.arange(len(out)) % 4  # a quarter hold none
        return out

    res = monitor(
        tm.model, tm.reference, tm.report, own, as_of="2025-06-30", config=config,
        feature_builder=with_pledgeable,
    )  # fmt: skip
    everyone = _monitor(synthetic_model, config)
    assert res.summary["population_source"] == "pledgeable_firms"
    assert res.summary["population"] == everyone.summary["population"] - (
        (everyone.summary["population"] + 3) // 4
    )


def test_a_default_rate_excess_within_chance_is_watched_not_acted_on():
    """3 defaults of 21 loans (14.3 %, 95 % interval about 4-34 %) against a predicted 7.7 %
    is no evidence the model is wrong: a watch, not an act; 30 of 100 against 7.7 % is."""
    from models.evaluation import jeffreys_interval
    from screening.retrain.config import MonitorConfig
    from screening.retrain.monitor import default_rate_alerts

    bad, n = np.array([3, 30, 1]), np.array([21, 100, 25])
    lo, hi = jeffreys_interval(bad, n)
    realised = pd.DataFrame(
        {
            "grade": ["T7", "T8", "T9"],
            "n": n,
            "bad": bad,
            "observed_rate": bad / n,
            "mean_pd": [0.077, 0.077, 0.30],
            "jeffreys_low": lo,
            "jeffreys_high": hi,
        }
    )
    realised["excess"] = realised["observed_rate"] - realised["mean_pd"]
    alerts = {a["subject"]: a for a in default_rate_alerts(realised, MonitorConfig())}
    assert alerts["T7"]["level"] == "watch" and "within chance" in alerts["T7"]["message"]
    assert alerts["T8"]["level"] == "act" and "within chance" not in alerts["T8"]["message"]
    assert "T9" not in alerts  # below its prediction
