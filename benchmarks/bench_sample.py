"""Time and peak memory of ``screening sample`` (plain script, prints a table).

    .venv/bin/python benchmarks/bench_sample.py                 # 100k firms, extrapolate to 1M
    .venv/bin/python benchmarks/bench_sample.py --firms 1000000 # the real thing (~minutes)
    .venv/bin/python benchmarks/bench_sample.py --learnability 20000
        # generate 20k firms, build point-in-time features at each labelled loan, and compare
        # a cross-validated LightGBM's AUC with the oracle's (true_pd) on the same loans

Each size runs in a fresh subprocess so peak RSS (``ru_maxrss``) belongs to that run alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from screening.sample import SampleConfig, generate_sample
firms, fmt, mess, out = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), Path(sys.argv[4])
t = time.perf_counter()
r = generate_sample(SampleConfig(firms=firms, seed=1, fmt=fmt, mess=mess), out)
secs = time.perf_counter() - t
size = sum(p.stat().st_size for p in out.iterdir())
print(json.dumps({"secs": secs, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": r.rows, "bytes": size, "loans": r.loans}))
"""


def run(firms: int, fmt: str, mess: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "data"
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(firms), fmt, str(mess), str(out)],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def learnability(firms: int, seed: int = 1) -> None:
    """Cross-validated LightGBM AUC on the generated features vs the oracle AUC."""
    import lightgbm as lgb
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from data_contracts.reader import read_data_dir
    from features import build_feature_matrix
    from screening.sample import SampleConfig, generate_sample

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "data"
        cfg = SampleConfig(firms=firms, seed=seed, fmt="parquet")
        generate_sample(cfg, out)
        truth = pd.read_csv(Path(tmp) / "data.truth.csv", dtype={"loan_id": str})
        bundle = read_data_dir(out)
    loans = bundle.tables["loans"]
    bad_report = loans.classification.isin(["substandard", "doubtful", "loss"]) | (loans.dpd > 90)
    within = loans.report_date <= loans.disbursed_on + pd.DateOffset(months=12)
    first = loans.drop_duplicates("loan_id").set_index("loan_id")
    bad = (bad_report & within).groupby(loans.loan_id).any()
    as_of = pd.Timestamp(cfg.as_of)
    old = first.index[first.disbursed_on <= as_of - pd.DateOffset(months=12)]
    pairs = first.loc[old, ["uscc", "disbursed_on"]].rename(columns={"disbursed_on": "as_of"})
    X = build_feature_matrix(pairs.reset_index(drop=True), bundle)
    X = X.drop(columns=["uscc", "as_of"])
    y = bad.loc[old].to_numpy().astype(int)
    oracle = truth.dropna(subset=["loan_id"]).set_index("loan_id").true_pd.loc[old].to_numpy()
    pred = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        model = lgb.LGBMClassifier(
            n_estimators=300,
            learning_rate=0.03,
            num_leaves=15,
            min_child_samples=40,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            verbose=-1,
            n_jobs=2,
        )
        model.fit(X.iloc[tr], y[tr])
        pred[te] = model.predict_proba(X.iloc[te])[:, 1]
    auc_m, auc_o = roc_auc_score(y, pred), roc_auc_score(y, oracle)
    print(
        f"{'firms':>8} {'labelled':>9} {'bad rate':>8} {'oracle AUC':>10} {'LightGBM CV AUC':>15} {'ratio':>6}"
    )
    print(
        f"{firms:>8,} {len(y):>9,} {y.mean():>8.3f} {auc_o:>10.3f} {auc_m:>15.3f} {auc_m / auc_o:>6.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, nargs="*", default=[100_000])
    ap.add_argument("--format", default="parquet", choices=["csv", "parquet"])
    ap.add_argument("--mess", type=float, default=0.0)
    ap.add_argument("--learnability", type=int, metavar="FIRMS", default=0)
    args = ap.parse_args()
    if args.learnability:
        learnability(args.learnability)
        return
    print(
        f"{'firms':>10} {'format':>8} {'mess':>5} {'seconds':>8} {'peak MB':>8} "
        f"{'patents':>11} {'events':>11} {'loan rows':>10} {'MB on disk':>10}"
    )
    for n in args.firms:
        r = run(n, args.format, args.mess)
        rows = r["rows"]
        print(
            f"{n:>10,} {args.format:>8} {args.mess:>5} {r['secs']:>8.1f} {r['rss_mb']:>8.0f} "
            f"{rows['patents']:>11,} {rows['patent_events']:>11,} {rows['loans']:>10,} "
            f"{r['bytes'] / 1e6:>10.0f}"
        )
        if n < 1_000_000:
            k = 1_000_000 / n
            print(
                f"{'→ 1M est':>10} {'':>8} {'':>5} {r['secs'] * k:>8.0f} "
                f"{'(chunked: ~flat)':>8}  time scales linearly; memory is per 100k-firm chunk"
            )


if __name__ == "__main__":
    main()
