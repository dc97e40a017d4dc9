"""Model-quality rows of the ``make bench`` table.

Two comparisons of the models issue:

* **learned vs oracle PD on sample data**: the generator writes each firm's and each loan's
  true PD (``DIR.truth.csv``). On the out-of-time validation loans we compare the AUC of the
  learned model with the AUC of the true PD (the best any model can do on those loans), and
  over all screened firms the rank correlation of our PD with the true PD.
* **learned vs an optbinning scorecard on ``../shared/data``**: k-fold stratified CV AUC of
  the learned model and of the WoE-binned logistic scorecard of
  ``benchmarks/bench_model_quality.py`` (its ``woe_logistic_auc``, same folds).

When ``bench_model_quality`` offers ``quality_rows()`` (structured results), those rows are
used for the second comparison instead.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.report import BenchRow

QUALITY_FILE = "bench_quality.json"


def truth_path(data_dir: Path) -> Path:
    """Where :func:`benchmarks.data.ensure_data` keeps the generator's ground truth."""
    data_dir = Path(data_dir)
    return data_dir.parent / f"{data_dir.name}.truth.csv"


def oracle_validation(model: Any, ts: Any, data_dir: Path) -> dict[str, float] | None:
    """AUC of the learned model and of the true PD on the out-of-time validation loans.

    Parameters
    ----------
    model : LearnedModel
        Fitted with ``time`` (out-of-time validation on the newest loans).
    ts : TrainingSet
        What it was fitted on (``X``, ``y``, ``time``, ``loan_ids``).
    data_dir : Path
        The data folder (its truth file sits beside it).

    Returns
    -------
    dict or None
        ``n_valid``, ``bad_valid``, ``auc_model``, ``auc_truth``; ``None`` when there is no
        truth file or the validation loans hold one class only.
    """
    from sklearn.metrics import roc_auc_score

    from screening.retrain.train import oot_cut

    path = truth_path(data_dir)
    if not path.is_file():
        return None
    truth = pd.read_csv(path, dtype={"uscc": "str", "loan_id": "str"})
    loan_pd = truth.dropna(subset=["loan_id"]).drop_duplicates("loan_id").set_index("loan_id")
    cut = oot_cut(model)
    val = (pd.to_datetime(ts.time) >= cut).to_numpy()
    y = np.asarray(ts.y)[val]
    if len(np.unique(y)) < 2:
        return None
    # the model's own columns: the training table also holds the features it leaves out
    # (export and registry snapshots), which scoring refuses
    ours = model.score(ts.X.loc[val, list(model.feature_names_in_)], explain=False).pd
    true_pd = pd.Series(np.asarray(ts.loan_ids)[val]).astype("str").map(loan_pd["true_pd"])
    known = true_pd.notna().to_numpy()
    if len(np.unique(y[known])) < 2:
        return None
    return {
        "n_valid": int(val.sum()),
        "bad_valid": int(y.sum()),
        "auc_model": float(roc_auc_score(y, ours)),
        "auc_truth": float(roc_auc_score(y[known], true_pd[known].to_numpy())),
        "truth_coverage": float(known.mean()),
    }


def sample_rows(
    model_dir: Path | None, data_dir: Path, screened: pd.DataFrame | None
) -> list[BenchRow]:
    """Rows comparing the learned model with the generator's true PD."""
    rows = []
    stored = model_dir / QUALITY_FILE if model_dir is not None else None
    if stored is not None and stored.is_file():
        q = json.loads(stored.read_text())
        rows.append(
            BenchRow(
                "quality",
                "sample: AUC learned ÷ AUC true PD (OOT loans)",
                value=q["auc_model"] / q["auc_truth"],
                note=(
                    f"learned {q['auc_model']:.4f}, true PD {q['auc_truth']:.4f} on "
                    f"{q['n_valid']:,} newest loans ({q['bad_valid']} bad)"
                ),
                extra=q,
            )
        )
    else:
        rows.append(
            BenchRow(
                "quality",
                "sample: AUC learned ÷ AUC true PD (OOT loans)",
                status="unavailable: no learned model or no truth file",
            )
        )
    path = truth_path(data_dir)
    if screened is not None and path.is_file() and "pd" in screened:
        truth = pd.read_csv(path, dtype={"uscc": "str", "loan_id": "str"})
        firm = truth[truth["loan_id"].isna()].drop_duplicates("uscc").set_index("uscc")["true_pd"]
        ours = screened.dropna(subset=["pd"]).drop_duplicates("uscc").set_index("uscc")["pd"]
        both = pd.concat([ours.astype("float64"), firm.astype("float64")], axis=1, join="inner")
        if len(both) > 2:
            rho = float(both.iloc[:, 0].rank().corr(both.iloc[:, 1].rank()))
            rows.append(
                BenchRow(
                    "quality",
                    "sample: Spearman(our PD, true PD), all firms",
                    value=rho,
                    rows=len(both),
                    note=f"{len(both):,} screened firms at as_of",
                )
            )
    return rows


def shared_data_rows(folds: int = 3, threads: int = 1, cache: Path | None = None) -> list[BenchRow]:
    """CV AUC of the learned model versus the optbinning WoE scorecard on public data.

    The comparison depends only on the model code, not on the benchmark size, and costs
    minutes; with ``cache`` (a JSON path that names the model-code digest) a previous result
    is reused and the rows say so.
    """
    if cache is not None and cache.is_file():
        rows = [BenchRow(**r) for r in json.loads(cache.read_text())]
        for r in rows:
            r.note += " (cached: model code unchanged)"
        return rows
    rows = _shared_data_rows(folds, threads)
    if cache is not None and rows and all(r.status == "info" for r in rows):
        cache.parent.mkdir(parents=True, exist_ok=True)
        payload = [{k: v for k, v in r.to_json().items() if k != "rows_per_s"} for r in rows]
        cache.write_text(json.dumps(payload, indent=2) + "\n")
    return rows


def _shared_data_rows(folds: int, threads: int) -> list[BenchRow]:
    import importlib

    try:
        bmq = importlib.import_module("benchmarks.bench_model_quality")
    except ImportError as exc:
        return [BenchRow("quality", "shared data: learned vs WoE", status=f"unavailable: {exc}")]
    structured = getattr(bmq, "quality_rows", None)
    if callable(structured):
        return [
            BenchRow(
                "quality",
                str(r.get("comparison", r.get("stage", "?"))),
                value=_num(r.get("value")),
                target=str(r.get("target", "")),
                status=str(r.get("status", "info")),
                note=str(r.get("note", "")),
            )
            for r in structured()
        ]
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from models import LearnedModel

    out = []
    for name, (file, label, drop) in bmq.DATASETS.items():
        path = Path(bmq.SHARED) / file
        if not path.is_file():
            out.append(
                BenchRow(
                    "quality", f"{name}: learned vs WoE", status=f"unavailable: {path} missing"
                )
            )
            continue
        df = pd.read_csv(path)
        y = df[label].astype(int).to_numpy()
        X = df.drop(columns=[label, *drop]).astype(float)
        learned, woe = [], []
        t0 = time.perf_counter()
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y):
            model = LearnedModel(
                feature_specs=(), monotone="auto", n_folds=3, num_threads=threads
            ).fit(X.iloc[tr], y[tr])
            learned.append(roc_auc_score(y[te], model.score(X.iloc[te], explain=False).pd))
            woe.append(bmq.woe_logistic_auc(X.iloc[tr], y[tr], X.iloc[te], y[te]))
        wall = time.perf_counter() - t0
        a, b = float(np.mean(learned)), float(np.mean(woe))
        out.append(
            BenchRow(
                "quality",
                f"{name}: CV AUC learned − optbinning WoE",
                wall_s=wall,
                value=a - b,
                note=f"{folds}-fold, same folds: learned {a:.4f}, WoE scorecard {b:.4f}",
                extra={"auc_learned": learned, "auc_woe": woe},
            )
        )
    return out


def _num(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else v
