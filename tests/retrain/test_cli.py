"""The four commands run for real on a CSV data folder with an embedded MLflow store."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from screening.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), out, err


@pytest.fixture(autouse=True)
def _no_server(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def shuffled_folder(data_folder, tmp_path_factory):
    """The same folder with every loan moved to a random firm (outcomes carry no signal)."""
    import numpy as np

    out = tmp_path_factory.mktemp("shuffled") / "folder"
    out.mkdir()
    for name in ("enterprises.csv", "patents.csv"):
        (out / name).write_bytes((data_folder / name).read_bytes())
    loans = pd.read_csv(data_folder / "loans.csv", dtype=str)
    ids = loans["loan_id"].unique()
    firms = loans.drop_duplicates("loan_id")["uscc"].to_numpy()
    move = dict(zip(ids, np.random.default_rng(3).permutation(firms), strict=True))
    loans.assign(uscc=loans["loan_id"].map(move)).to_csv(out / "loans.csv", index=False)
    return out


def test_train_promote_refuse_monitor_report(
    capsys, data_folder, bundle, shuffled_folder, tmp_path
):
    store = str(tmp_path / "mlruns")
    code, out, err = run(
        capsys,
        "train",
        "--data",
        str(data_folder),
        "--out",
        str(tmp_path / "m1"),
        "--register",
        "ipw",
        "--tracking-dir",
        store,
    )
    assert code == 0, err
    assert "registered models:/ipw/1" in out
    assert (tmp_path / "m1" / "model_report.html").is_file()
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()

    code, out, err = run(
        capsys,
        "promote",
        "ipw",
        "--version",
        "1",
        "--data",
        str(data_folder),
        "--tracking-dir",
        store,
    )
    assert code == 0, err
    assert "promoted" in out and "first version becomes champion" in out
    # compared on the test window (after the loans that tuned the calibration), not the
    # whole out-of-time window
    rep = json.loads((tmp_path / "m1" / "training_report.json").read_text(encoding="utf-8"))
    assert rep["test_cut"] > rep["oot_cut"]
    assert f"disbursed from {rep['test_cut']}" in " ".join(out.split())

    code, out, err = run(
        capsys,
        "train",
        "--data",
        str(shuffled_folder),
        "--out",
        str(tmp_path / "m2"),
        "--register",
        "ipw",
        "--tracking-dir",
        store,
    )
    assert code == 0, err
    code, out, err = run(
        capsys,
        "promote",
        "ipw",
        "--version",
        "2",
        "--data",
        str(data_folder),
        "--tracking-dir",
        store,
    )
    assert code == 3, out + err
    assert "refused" in out and "stays at version 1" in out
    code, out, err = run(
        capsys,
        "promote",
        "ipw",
        "--version",
        "1",
        "--data",
        str(data_folder),
        "--tracking-dir",
        store,
    )
    assert code == 0, err
    assert "version 1 is already the champion" in out

    code, out, err = run(
        capsys,
        "monitor",
        "--data",
        str(data_folder),
        "--model",
        "models:/ipw@champion",
        "--as-of",
        "2025-06-30",
        "--out",
        str(tmp_path / "mon"),
        "--tracking-dir",
        store,
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "mon" / "monitor.json").read_text(encoding="utf-8"))["summary"]
    assert summary["population"] == 300
    assert "score PSI" in out

    # The champion loads as a scorer and as a generic MLflow pyfunc with the same PD,
    # categorical feature included.
    import mlflow.pyfunc
    import numpy as np

    from features import build_feature_matrix
    from screening.retrain.registry import load_registered_model
    from screening.retrain.tracking import resolve_tracking

    uri = resolve_tracking(tmp_path / "mlruns").uri
    ent = bundle.tables["enterprises"]
    X = build_feature_matrix(
        pd.DataFrame({"uscc": ent["uscc"].head(60), "as_of": pd.Timestamp("2025-06-30")}), bundle
    )
    assert isinstance(X["firm_industry_section"].dtype, pd.CategoricalDtype)
    scorer = load_registered_model("models:/ipw@champion", tracking_uri=uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    generic = mlflow.pyfunc.load_model("models:/ipw@champion")
    np.testing.assert_allclose(
        generic.predict(X)["pd"].to_numpy(),
        scorer.score(X[scorer.feature_names_in_], explain=False).pd,
        rtol=1e-9,
    )

    # the screening run finds the champion in the same store through --tracking-dir
    code, out, err = run(
        capsys, "run", "--data", str(data_folder), "--as-of", "2025-06-30",
        "--out", str(tmp_path / "push"), "--model", "models:/ipw@champion",
        "--tracking-dir", store,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "push" / "run_report.json").read_text(encoding="utf-8"))
    assert report["model_id"] == scorer.model_id

    code, out, err = run(
        capsys,
        "report-ledger",
        "--data",
        str(data_folder),
        "--out",
        str(tmp_path / "led"),
        "--as-of",
        "2024-12-31",
    )
    assert code == 0, err
    by_bank = pd.read_csv(tmp_path / "led" / "ledger_by_bank.csv", encoding="utf-8-sig")
    assert set(by_bank["bank"]) == {"中国工商银行", "中国银行", "郑州银行", "合计 total"}


def test_bad_date_is_two_lines_and_exit_2(capsys, data_folder, tmp_path):
    code, out, err = run(
        capsys,
        "report-ledger",
        "--data",
        str(data_folder),
        "--out",
        str(tmp_path),
        "--as-of",
        "31/12/2024",
    )
    assert code == 2
    assert "error: --as-of must be a date written YYYY-MM-DD. Got '31/12/2024'" in err
    assert "remedy: Pass e.g. --as-of 2026-09-30" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("as_of", "says"), [("2099-01-01", "after the loan ledger's last"),
                                             ("1990-01-01", "before the first loan")])  # fmt: skip
def test_train_as_of_outside_the_ledger_is_refused(capsys, data_folder, tmp_path, as_of, says):
    """Labelling after the last report would call loans nobody has observed good; before the
    first loan there is nothing to learn."""
    code, _, err = run(
        capsys, "train", "--data", str(data_folder), "--out", str(tmp_path / "m"),
        "--tracking-dir", str(tmp_path / "mlruns"), "--as-of", as_of,
    )  # fmt: skip
    assert code == 2 and says in " ".join(err.split()) and "remedy:" in err, err
    assert not (tmp_path / "m").exists()


def test_unknown_model_reference(capsys, data_folder, tmp_path):
    code, _, err = run(
        capsys,
        "promote",
        "nosuch",
        "--version",
        "1",
        "--data",
        str(data_folder),
        "--tracking-dir",
        str(tmp_path / "mlruns"),
    )
    assert code == 2
    assert "no model registry at" in " ".join(err.split())
    assert not (tmp_path / "mlruns").exists()  # a lookup never creates a store
    code, _, err = run(
        capsys,
        "monitor",
        "--data",
        str(data_folder),
        "--model",
        str(tmp_path / "missing"),
        "--as-of",
        "2025-06-30",
        "--tracking-dir",
        str(tmp_path / "mlruns"),
    )
    assert code == 2 and "is neither a model folder nor a models:/ reference" in " ".join(
        err.split()
    )


def test_bad_config_file(capsys, data_folder, tmp_path):
    cfg = tmp_path / "retrain.toml"
    cfg.write_text("[gate]\nauc_drop = 'lots'\n", encoding="utf-8")
    code, _, err = run(
        capsys,
        "report-ledger",
        "--data",
        str(data_folder),
        "--out",
        str(tmp_path),
        "--config",
        str(cfg),
    )
    assert code == 2 and "gate.auc_drop must be a float" in err


def test_train_without_a_ledger(capsys, data_folder, tmp_path):
    folder = tmp_path / "noloans"
    folder.mkdir()
    for name in ("enterprises.csv", "patents.csv"):
        (folder / name).write_bytes((data_folder / name).read_bytes())
    code, _, err = run(
        capsys,
        "train",
        "--data",
        str(folder),
        "--out",
        str(tmp_path / "m"),
        "--tracking-dir",
        str(tmp_path / "mlruns"),
    )
    assert code == 2
    assert "the data folder has no loan ledger" in " ".join(err.split())
    assert not (tmp_path / "m").exists()


def test_train_refuses_an_out_folder_of_other_files_before_training(capsys, data_folder, tmp_path):
    """Retraining review: `train --out` at a folder of other files was refused only after
    the whole training run. It is refused first: no MLflow store is even created."""
    out = tmp_path / "reports"
    out.mkdir()
    (out / "q3.xlsx").write_bytes(b"not a model")
    store = tmp_path / "mlruns"
    code, _, err = run(
        capsys, "train", "--data", str(data_folder), "--out", str(out), "--tracking-dir", str(store)
    )
    assert code == 2
    assert f"{out} exists and is not a model folder" in err
    assert "Traceback" not in err
    assert not store.exists()
    assert sorted(p.name for p in out.iterdir()) == ["q3.xlsx"]


def test_a_register_name_mlflow_refuses_is_refused_before_training(capsys, data_folder, tmp_path):
    """Diff review: `--register ip/whitelist` trained to the end, then blamed the store
    ("pass --tracking-dir a folder that can be written")."""
    store = tmp_path / "mlruns"
    code, _, err = run(
        capsys, "train", "--data", str(data_folder), "--out", str(tmp_path / "m"),
        "--tracking-dir", str(store), "--register", "ip/whitelist",
    )  # fmt: skip
    assert code == 2
    assert "--register 'ip/whitelist' is not a name MLflow can register" in err
    assert "--tracking-dir" not in err
    assert not store.exists() and not (tmp_path / "m").exists()
