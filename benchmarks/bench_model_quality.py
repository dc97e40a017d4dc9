"""Model quality and explanation speed of ``models.LearnedModel``.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_model_quality            # everything
    .venv/bin/python -m benchmarks.bench_model_quality --skip-speed
    .venv/bin/python -m benchmarks.bench_model_quality --skip-quality --speed-rows 200000

1. Quality on public credit data (``/work/shared/data``, UCI, CC BY 4.0: Yeh & Lien 2009
   Taiwan credit-card default; Tomczak et al. 2016 Polish bankruptcy, year 1): 5-fold
   stratified CV AUC of the monotone learned model (``monotone='auto'``; additive and
   ordinary-tree structures) against an optbinning WoE-binned logistic scorecard
   (``BinningProcess`` + ``LogisticRegression``) on the *same* folds.
2. Speed on a synthetic 60-feature table: rows/s of LightGBM ``predict``, of
   ``predict(pred_contrib=True)`` (TreeSHAP) for the additive booster and for a 300-tree ×
   31-leaf booster, and of our explanation path (``score(explain=True)``: PD, score,
   grade and exact per-feature points).
3. Sample-generator data (when ``data/sample`` and ``data/sample.truth.csv`` exist): AUC of
   the learned model on the newest loans against the AUC of the ground-truth PD.

Prints plain tables; nothing is asserted (timings belong here, not in tests).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from models import LearnedModel

SHARED = Path(os.environ.get("IPW_SHARED_DATA", "/work/shared/data"))
DATASETS = {
    "taiwan": ("taiwan_credit_default.csv", "default.payment.next.month", ["ID"]),
    "polish": ("polish_bankruptcy_1year.csv", "class", []),
}


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    line = "  ".join(c.ljust(widths[c]) for c in columns)
    sep = "  ".join("-" * widths[c] for c in columns)
    body = ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join([line, sep, *body])


def woe_logistic_auc(Xtr, ytr, Xte, yte) -> float:
    """optbinning WoE scorecard: optimal binning per variable (monotone trend chosen by
    optbinning), variables kept when IV ≥ 0.1, standardised WoE into a logistic regression.
    The IV filter and finer pre-binning were the best of the few settings tried (fold 1 of
    Polish: defaults 0.779, finer pre-bins 0.809, + IV filter 0.826)."""
    from optbinning import BinningProcess
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    bp = BinningProcess(
        list(Xtr.columns),
        max_n_prebins=20,
        min_prebin_size=0.02,
        selection_criteria={"iv": {"min": 0.1}},
    )
    pipe = make_pipeline(bp, StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
    pipe.fit(Xtr, ytr)
    return float(roc_auc_score(yte, pipe.predict_proba(Xte)[:, 1]))


def quality(names: list[str], folds: int, threads: int) -> None:
    rows = []
    for name in names:
        file, label, drop = DATASETS[name]
        path = SHARED / file
        if not path.exists():
            print(f"[skip] {path} not found")
            continue
        df = pd.read_csv(path)
        y = df[label].astype(int).to_numpy()
        X = df.drop(columns=[label, *drop]).astype(float)
        splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
        aucs: dict[str, list[float]] = {}
        secs: dict[str, float] = {}
        variants = {
            "learned additive, monotone auto": dict(structure="additive"),
            "learned trees(15 leaves), monotone auto": dict(structure="trees", num_leaves=15),
        }
        for k, (tr, te) in enumerate(splitter.split(X, y), start=1):
            for vname, extra in variants.items():
                t0 = time.perf_counter()
                model = LearnedModel(
                    feature_specs=(),
                    monotone="auto",
                    learning_rate=0.05,
                    n_folds=3,
                    num_threads=threads,
                    **extra,
                ).fit(X.iloc[tr], y[tr])
                auc = roc_auc_score(y[te], model.score(X.iloc[te], explain=False).pd)
                aucs.setdefault(vname, []).append(float(auc))
                secs[vname] = secs.get(vname, 0.0) + time.perf_counter() - t0
                if k == 1:
                    n_mono = sum(1 for s in model.monotone_signs_.values() if s)
                    print(f"{name} fold 1 {vname}: {n_mono}/{X.shape[1]} features constrained")
            t0 = time.perf_counter()
            aucs.setdefault("optbinning WoE + logistic", []).append(
                woe_logistic_auc(X.iloc[tr], y[tr], X.iloc[te], y[te])
            )
            secs["optbinning WoE + logistic"] = (
                secs.get("optbinning WoE + logistic", 0.0) + time.perf_counter() - t0
            )
            print(
                f"{name} fold {k}/{folds}: "
                + ", ".join(f"{v}={a[-1]:.4f}" for v, a in aucs.items())
            )
        base = np.mean(aucs["optbinning WoE + logistic"])
        for vname, a in aucs.items():
            rows.append(
                {
                    "dataset": name,
                    "model": vname,
                    "mean AUC": f"{np.mean(a):.4f}",
                    "sd": f"{np.std(a):.4f}",
                    "vs WoE": f"{np.mean(a) - base:+.4f}",
                    "folds": " ".join(f"{v:.3f}" for v in a),
                    "fit s": f"{secs[vname]:.1f}",
                }
            )
    if rows:
        print(f"\n{folds}-fold stratified CV AUC on the same folds (seed 0)")
        print(_table(rows, ["dataset", "model", "mean AUC", "sd", "vs WoE", "folds", "fit s"]))


def _synthetic(n: int, p: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[rng.random((n, p)) < 0.05] = np.nan
    w = rng.normal(0, 0.4, p)
    logit = -3 + np.nan_to_num(X) @ w + 0.3 * np.nan_to_num(X[:, 0] * X[:, 1])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(X, columns=[f"x{j:02d}" for j in range(p)]), y


def _rate(fn, rows: int, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return rows / best


def speed(n_rows: int, n_features: int, threads: int, train_rows: int, contrib_rows: int) -> None:
    from models._tabular import encode

    X, y = _synthetic(train_rows, n_features)
    Xs, _ = _synthetic(n_rows, n_features, seed=1)
    results = []
    for label, params in (
        ("additive (one feature per tree)", dict(structure="additive", num_leaves=8)),
        ("trees, 31 leaves", dict(structure="trees", num_leaves=31)),
    ):
        t0 = time.perf_counter()
        model = LearnedModel(
            feature_specs=(),
            monotone="none",
            learning_rate=0.1,
            n_estimators=300,
            early_stopping_rounds=300,  # train the full 300 rounds so sizes are comparable
            calibration="platt",
            validation_fraction=0.2,
            num_threads=threads,
            **params,
        ).fit(X, y, time=np.arange(len(X)))
        fit_s = time.perf_counter() - t0
        M = encode(Xs, model.columns_)
        b = model.booster_
        n_contrib = min(n_rows, contrib_rows)
        r_pred = _rate(lambda b=b, M=M: b.predict(M, raw_score=True, num_threads=threads), n_rows)
        r_contrib = _rate(
            lambda b=b, M=M[:n_contrib]: b.predict(M, pred_contrib=True, num_threads=threads),
            n_contrib,
            repeat=1,
        )
        if params["structure"] == "additive":
            r_explain = _rate(lambda m=model: m.score(Xs, explain=True), n_rows)
        else:  # TreeSHAP-bound: time it on the pred_contrib rows, once
            r_explain = _rate(
                lambda m=model, X=Xs.iloc[:n_contrib]: m.score(X, explain=True), n_contrib, 1
            )
        results.append(
            {
                "model": label,
                "trees": b.num_trees(),
                "val AUC": f"{model.evaluation_.summary['auc']:.4f}",
                "fit s": f"{fit_s:.1f}",
                "predict rows/s": f"{r_pred:,.0f}",
                "pred_contrib rows/s": f"{r_contrib:,.0f}",
                "our explain rows/s": f"{r_explain:,.0f}",
                "explain/pred_contrib time": f"{r_contrib / r_explain:.3f}",
            }
        )
    print(
        f"\nspeed: trained on {train_rows:,} rows, scored {n_rows:,} rows × {n_features} "
        f"features (pred_contrib on {min(n_rows, contrib_rows):,}), {threads} thread(s); "
        "explain = PD + score + grade + exact points per feature"
    )
    print(_table(results, list(results[0])))


def sample_data(sample: Path, threads: int) -> None:
    """Learned model vs the generator's ground-truth PD on the out-of-time loans.

    Training rows come from the retraining layer's point-in-time builder (labels from the
    ledger per input_format.md, features at as_of = disbursement date); the learned model
    uses the registry's monotone signs and validates on the newest 25 % of loans.
    """
    truth = sample.parent / f"{sample.name}.truth.csv"
    if not (sample.exists() and truth.exists()):
        print(f"\n[skip] sample-generator comparison: {sample} or {truth} not present")
        return
    from data_contracts import read_data_dir
    from screening.retrain.labels import build_training_set

    t0 = time.perf_counter()
    bundle = read_data_dir(sample)
    as_of = bundle.tables["loans"]["report_date"].max()
    ts = build_training_set(bundle, as_of=as_of)
    build_s = time.perf_counter() - t0
    expert_vs_truth(bundle, truth)
    t0 = time.perf_counter()
    model = LearnedModel(num_threads=threads).fit(ts.X, ts.y, time=ts.time)
    fit_s = time.perf_counter() - t0
    cut = pd.Timestamp(model.card_["training"]["validation"]["cut"])
    val = (pd.to_datetime(ts.time) >= cut).to_numpy()
    t = pd.read_csv(truth, dtype={"uscc": "str", "loan_id": "str"})
    loan_pd = t.dropna(subset=["loan_id"]).drop_duplicates("loan_id").set_index("loan_id")
    true_pd = ts.loan_ids[val].astype("str").map(loan_pd["true_pd"]).to_numpy(dtype=float)
    y = ts.y.to_numpy()[val]
    ours = model.score(ts.X[val], explain=False).pd
    known = ~np.isnan(true_pd)
    auc_model = roc_auc_score(y, ours)
    auc_truth = roc_auc_score(y[known], true_pd[known])
    print(
        f"\nsample-generator data ({len(ts)} labelled loans, {int(ts.y.sum())} bad; "
        f"training set {build_s:.1f} s, fit {fit_s:.1f} s), out-of-time loans from {cut.date()}"
    )
    print(
        _table(
            [
                {
                    "n valid": int(val.sum()),
                    "bad": int(y.sum()),
                    "AUC model": f"{auc_model:.4f}",
                    "AUC true PD": f"{auc_truth:.4f}",
                    "ratio (target ≥ 0.97)": f"{auc_model / auc_truth:.3f}",
                    "calibration": model.calibrator_.method,
                    "grades monotone": model.evaluation_.summary.get("grades_monotone"),
                }
            ],
            [
                "n valid",
                "bad",
                "AUC model",
                "AUC true PD",
                "ratio (target ≥ 0.97)",
                "calibration",
                "grades monotone",
            ],
        )
    )


def expert_vs_truth(bundle, truth: Path) -> None:
    """Cold start: the expert scorecard's PD against the true PD of every firm at the run
    date (no labels used anywhere)."""
    from features import build_feature_matrix
    from models import ExpertScorecard

    t = pd.read_csv(truth, dtype={"uscc": "str", "loan_id": "str"})
    firms = t[t["loan_id"].isna()].drop_duplicates("uscc")
    # Firms whose registry row the contract rejected (the sample's deliberate mess) are out.
    firms = firms[firms["uscc"].isin(bundle.tables["enterprises"]["uscc"])]
    pairs = pd.DataFrame({"uscc": firms["uscc"], "as_of": pd.to_datetime(firms["as_of"])})
    fm = build_feature_matrix(pairs, bundle)
    card = ExpertScorecard()
    res = card.score(fm[card.feature_names_in_], explain=False)
    ours = pd.Series(res.pd, index=fm["uscc"].to_numpy())
    true_pd = firms.set_index("uscc")["true_pd"].reindex(ours.index)
    rho = ours.rank().corr(true_pd.rank())
    print(
        f"\nexpert scorecard (cold start) on {len(ours):,} firms at the run date: "
        f"Spearman(expert PD, true PD) = {rho:.3f}; mean PD {ours.mean():.3%} "
        f"(true {true_pd.mean():.3%})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--speed-rows", type=int, default=100_000)
    ap.add_argument("--speed-features", type=int, default=60)
    ap.add_argument("--speed-train-rows", type=int, default=200_000)
    ap.add_argument("--speed-contrib-rows", type=int, default=20_000)
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-sample", action="store_true")
    ap.add_argument(
        "--sample-dir",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "data" / "sample",
        help="generator data folder (truth in DIR.truth.csv), e.g. from `screening sample`",
    )
    args = ap.parse_args()
    if not args.skip_quality:
        quality(args.datasets, args.folds, args.threads)
    if not args.skip_speed:
        speed(
            args.speed_rows,
            args.speed_features,
            args.threads,
            args.speed_train_rows,
            args.speed_contrib_rows,
        )
    if not args.skip_sample:
        sample_data(args.sample_dir, args.threads)


if __name__ == "__main__":
    main()
