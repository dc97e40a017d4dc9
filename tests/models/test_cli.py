"""`screening model fit/score/expert` run as real commands in a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.models.conftest import make_credit_data


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "screening.cli", "model", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        # A wide console so rich does not wrap the error line the tests read.
        env={**os.environ, "COLUMNS": "250"},
    )


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    df = make_credit_data(n=1500, seed=3).drop(columns=["true_pd"])
    df.insert(0, "firm_id", [f"F{i:05d}" for i in range(len(df))])
    train = df.iloc[:1200]
    score = df.iloc[1200:].sample(frac=1.0, random_state=0)  # shuffled: order must be kept
    train.to_csv(folder / "train.csv", index=False)
    score.drop(columns=["bad"]).to_parquet(folder / "score.parquet")
    return folder, score


def test_fit_then_score(tables):
    folder, score = tables
    fit = run(
        "fit",
        "--table",
        "train.csv",
        "--label",
        "bad",
        "--time-col",
        "loan_date",
        "--id",
        "firm_id",
        "--monotone",
        "auto",
        "--n-estimators",
        "200",
        "--learning-rate",
        "0.1",
        "--out",
        "model",
        cwd=folder,
    )
    assert fit.returncode == 0, fit.stderr
    assert "auc" in fit.stdout and "out_of_time" in fit.stdout
    files = {p.name for p in (folder / "model").iterdir()}
    assert files == {"booster.txt", "model_card.json", "metrics.json", "model_report.html"}
    metrics = json.loads((folder / "model" / "metrics.json").read_text())
    assert 0.5 < metrics["summary"]["auc"] <= 1

    out = run(
        "score",
        "--model",
        "model",
        "--table",
        "score.parquet",
        "--id",
        "firm_id",
        "--drop",
        "loan_date",
        "--out",
        "scores.csv",
        cwd=folder,
    )
    assert out.returncode == 0, out.stderr
    scores = pd.read_csv(folder / "scores.csv", encoding="utf-8-sig")
    assert scores.columns.tolist() == [
        "firm_id",
        "pd",
        "score",
        "grade",
        "reasons_up",
        "reasons_down",
    ]
    assert scores["firm_id"].tolist() == score["firm_id"].tolist()
    assert scores["pd"].between(0, 1).all()
    assert scores["grade"].str.fullmatch(r"T(10|[1-9])").all()
    # Riskier grade, lower score.
    assert np.corrcoef(scores["pd"], scores["score"])[0, 1] < -0.5
    first = (folder / "scores.csv").read_bytes()
    again = run(
        "score",
        "--model",
        "model",
        "--table",
        "score.parquet",
        "--id",
        "firm_id",
        "--drop",
        "loan_date",
        "--out",
        "scores.csv",
        cwd=folder,
    )
    assert again.returncode == 0 and (folder / "scores.csv").read_bytes() == first

    # The label left in the table is an unexpected column: cause + remedy, no traceback.
    bad = run(
        "score",
        "--model",
        "model",
        "--table",
        "train.csv",
        "--id",
        "firm_id",
        "--drop",
        "loan_date",
        "--out",
        "x.csv",
        cwd=folder,
    )
    assert bad.returncode != 0
    assert "unexpected 1: bad" in bad.stderr and "remedy:" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (folder / "x.csv").exists()


def test_non_binary_label_is_named(tables):
    folder, _ = tables
    df = pd.read_csv(folder / "train.csv")
    df["grade_label"] = np.where(df["bad"] == 1, "bad", np.where(df.index % 2, "good", "unknown"))
    df.drop(columns=["bad"]).to_csv(folder / "labels.csv", index=False)
    res = run(
        "fit",
        "--table",
        "labels.csv",
        "--label",
        "grade_label",
        "--id",
        "firm_id",
        "--drop",
        "loan_date",
        "--out",
        "m2",
        cwd=folder,
    )
    assert res.returncode != 0
    assert "found 3 values: bad, good, unknown" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (folder / "m2").exists()


def test_missing_label_column_and_expert_folder(tables):
    folder, _ = tables
    res = run("fit", "--table", "train.csv", "--label", "nope", "--out", "m3", cwd=folder)
    assert res.returncode != 0 and "--label column 'nope' is not in train.csv" in res.stderr
    ex = run("expert", "--out", "expert", cwd=folder)
    assert ex.returncode == 0, ex.stderr
    card = json.loads((folder / "expert" / "model_card.json").read_text())
    assert card["kind"] == "expert" and card["weights"]["version"]


def test_score_refuses_to_overwrite_its_table(tables):
    folder, _ = tables
    before = (folder / "train.csv").read_bytes()
    res = run("score", "--model", "nowhere", "--table", "train.csv", "--out", "train.csv",
              cwd=folder)  # fmt: skip
    assert res.returncode == 2 and "it would be overwritten" in res.stderr
    assert (folder / "train.csv").read_bytes() == before
