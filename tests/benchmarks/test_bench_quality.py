"""Model-quality rows: the oracle comparison on sample data and the cached shared-data rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.quality import QUALITY_FILE, sample_rows, shared_data_rows, truth_path


def _truth(data_dir: Path, firm_pd: dict[str, float]) -> None:
    rows = [
        {"uscc": u, "as_of": "2026-09-30", "true_pd": p, "loan_id": None}
        for u, p in firm_pd.items()
    ]
    rows.append({"uscc": "X", "as_of": "2025-01-01", "true_pd": 0.9, "loan_id": "L1"})
    pd.DataFrame(rows).to_csv(truth_path(data_dir), index=False)


def test_spearman_against_true_pd(tmp_path: Path) -> None:
    data_dir = tmp_path / "100-1"
    data_dir.mkdir()
    rng = np.random.default_rng(0)
    true = {f"F{i:03d}": float(p) for i, p in enumerate(rng.uniform(0.01, 0.3, 50))}
    _truth(data_dir, true)
    monotone = pd.DataFrame({"uscc": list(true), "pd": [np.sqrt(p) for p in true.values()]})
    reversed_ = monotone.assign(pd=-monotone["pd"])
    (row_up,) = [r for r in sample_rows(None, data_dir, monotone) if "Spearman" in r.stage]
    (row_down,) = [r for r in sample_rows(None, data_dir, reversed_) if "Spearman" in r.stage]
    assert row_up.value == pytest.approx(1.0)
    assert row_down.value == pytest.approx(-1.0)
    assert row_up.rows == 50


def test_oracle_row_reads_the_model_folder(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    q = {
        "n_valid": 400,
        "bad_valid": 40,
        "auc_model": 0.72,
        "auc_truth": 0.80,
        "truth_coverage": 1.0,
    }
    (model_dir / QUALITY_FILE).write_text(json.dumps(q))
    (row,) = [r for r in sample_rows(model_dir, tmp_path / "none", None) if "OOT" in r.stage]
    assert row.value == pytest.approx(0.9)
    assert "400" in row.note
    (missing,) = sample_rows(None, tmp_path / "none", None)
    assert missing.status.startswith("unavailable")


def test_shared_data_rows_reuse_a_cached_result(tmp_path: Path) -> None:
    cache = tmp_path / "quality-abc-3folds.json"
    stored = [
        {
            "section": "quality",
            "stage": "taiwan: CV AUC learned − optbinning WoE",
            "wall_s": 60.0,
            "peak_rss_mb": None,
            "rows": None,
            "value": 0.01,
            "target": "",
            "status": "info",
            "note": "3-fold",
            "extra": {},
        },
    ]
    cache.write_text(json.dumps(stored))
    (row,) = shared_data_rows(3, cache=cache)
    assert row.value == 0.01 and row.note.endswith("(cached: model code unchanged)")


def test_oracle_validation_scores_a_model_that_leaves_features_out():
    """The training table holds the snapshot features a learned model leaves out; the
    benchmark's oracle comparison scored the whole table, was refused, and `make bench`
    fell back to the expert scorecard without the explain ÷ pred_contrib figure."""
    from pathlib import Path

    from benchmarks.quality import oracle_validation
    from data_contracts import read_data_dir
    from screening.retrain.config import RetrainConfig
    from screening.retrain.labels import build_training_set
    from screening.retrain.pipeline import ledger_as_of
    from screening.retrain.train import fit_model

    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    bundle = read_data_dir(sample)
    ts = build_training_set(bundle, as_of=ledger_as_of(bundle))
    model = fit_model(ts, RetrainConfig())
    assert set(model.feature_names_in_) < set(ts.X.columns)  # some are left out
    got = oracle_validation(model, ts, sample)
    assert got is not None and 0.5 < got["auc_model"] <= 1
