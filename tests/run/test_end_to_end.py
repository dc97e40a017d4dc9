"""`screening run` end to end on a generated data folder (real reader, features, expert card).

One module-scoped pair of runs feeds every assertion so the whole file stays a few seconds.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from screening.cli import main
from screening.sample import SampleConfig, generate_sample

pytestmark = pytest.mark.slow


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    generate_sample(SampleConfig(firms=250, seed=7, mess=0.02), data)
    mp = pytest.MonkeyPatch()
    mp.setenv("IPWL_SIGNING_KEY", "e2e-secret")
    mp.delenv("IPWL_SIGNING_KEY_ED25519", raising=False)
    # run b: two package writers and a tiny DuckDB memory limit (the feature engine spills),
    # machine settings that must not change a byte of the outputs
    shipped = Path(__file__).resolve().parents[2] / "screening" / "config"
    config = root / "config"
    config.mkdir()
    text = (shipped / "run.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^workers = \d+", "workers = 2", text)
    text = text.replace('duckdb_memory_limit = ""', 'duckdb_memory_limit = "64MB"')
    assert "workers = 2" in text and '"64MB"' in text
    (config / "run.toml").write_text(text, encoding="utf-8")
    shutil.copy(shipped / "knockouts.yaml", config / "knockouts.yaml")
    try:
        codes = []
        for name, extra in (("a", []), ("b", ["--config", str(config / "run.toml")])):
            codes.append(
                _run(
                    ["run", "--data", str(data), "--as-of", "2026-09-30", "--out", str(root / name)]
                    + extra
                )
            )
        codes.append(
            _run(
                [
                    "run",
                    "--data",
                    str(data),
                    "--as-of",
                    "2026-09-30",
                    "--out",
                    str(root / "c"),
                    "--previous",
                    str(root / "a"),
                ]
            )
        )
    finally:
        mp.undo()
    return root, data, codes


def test_runs_succeed_and_account_for_every_firm(runs):
    root, _, codes = runs
    assert codes == [0, 0, 0]
    screened = pd.read_csv(root / "a" / "screened.csv", dtype=str)
    report = json.loads((root / "a" / "run_report.json").read_text(encoding="utf-8"))
    stats = {t["table"]: t for t in report["tables"]}["enterprises"]
    # every accepted firm once, plus one line per rejected registry row of an unknown firm
    accepted = screened.loc[screened["status"] != "rejected_input"]
    assert accepted["uscc"].is_unique and len(accepted) == stats["accepted"]
    assert len(screened.loc[screened["status"] == "rejected_input"]) <= stats["rejected"]
    assert set(screened["status"]) <= {
        "whitelisted",
        "below_threshold",
        "knocked_out",
        "rejected_input",
    }
    assert report["status_counts"]["whitelisted"] > 0
    # every firm exactly once: also a rejected registry row is listed under its code (read
    # back from the file, whatever cell failed), conflicting copies of one code make one line
    listed = screened["uscc"].dropna()
    assert listed.is_unique
    raw = _registry_codes(_data_file(runs[1], "enterprises"))
    assert raw and raw <= set(listed)
    rejected = screened.loc[screened["status"] == "rejected_input"]
    assert rejected["uscc"].notna().sum() > 0 and rejected["name"].notna().sum() > 0
    assert rejected["region_code"].notna().sum() > 0
    # every table the run reads is accounted for row by row; the loan ledger is not read
    tables = {t["table"]: t for t in report["tables"]}
    assert set(tables) == {"enterprises", "patents", "patent_events", "credit_records",
                           "programmes", "nominations"}  # fmt: skip
    for t in tables.values():
        assert t["rows"] == t["accepted"] + t["rejected"] + t["duplicates"] > 0, t
    assert any(n.startswith("loans: not read by screening run") for n in report["notes"])


def _data_file(folder: Path, table: str) -> Path:
    return next(p for p in folder.iterdir() if p.stem == table)


def _registry_codes(path: Path) -> set[str]:
    """The non-empty codes of a registry file, half-width, upper case, no spaces or dashes
    (read here with pandas, independently of the project's reader)."""
    import unicodedata

    if path.suffix == ".csv":
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        from io import StringIO

        frame = pd.read_csv(StringIO(text), dtype=str, on_bad_lines="skip")
    elif path.suffix == ".parquet":
        frame = pd.read_parquet(path).astype(str)
    else:
        frame = pd.read_excel(path, dtype=str)
    column = next(c for c in frame.columns if "信用代码" in str(c) or str(c) == "uscc")
    codes = frame[column].dropna().map(lambda v: unicodedata.normalize("NFKC", v).upper())
    codes = codes.str.replace(r"[\s-]+", "", regex=True)
    return set(codes.loc[codes != ""])


def test_rerun_is_byte_identical_except_timings(runs):
    """Run b differs from a only in [resources] (one writer, DuckDB spilling)."""
    root, _, _ = runs
    files = sorted(p.relative_to(root / "a") for p in (root / "a").rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(root / "b") for p in (root / "b").rglob("*") if p.is_file()
    )
    differing = [f for f in files if (root / "a" / f).read_bytes() != (root / "b" / f).read_bytes()]
    assert differing == [Path("timings.json")]


def test_packages_signed_and_verifiable(runs, capsys, monkeypatch):
    root, _, _ = runs
    banks = sorted(p.name for p in (root / "a" / "packages").iterdir())
    assert banks == ["ccb-henan", "icbc-henan", "zhengzhou-bank", "zhongyuan-bank"]
    monkeypatch.setenv("IPWL_SIGNING_KEY", "e2e-secret")
    pkg = root / "a" / "packages" / "icbc-henan"
    assert _run(["verify", str(pkg), "--require-signature"]) == 0
    assert "signature valid (hmac-sha256)" in capsys.readouterr().out
    tampered = root / "tampered"
    shutil.copytree(pkg, tampered)
    report = tampered / "report.html"
    report.write_text(report.read_text(encoding="utf-8").replace("T1", "T0", 1), encoding="utf-8")
    assert _run(["verify", str(tampered)]) != 0
    assert "report.html does not match" in capsys.readouterr().err


def test_previous_run_gives_an_empty_change_set(runs):
    root, _, _ = runs
    report = json.loads((root / "c" / "run_report.json").read_text(encoding="utf-8"))
    first = json.loads((root / "a" / "run_report.json").read_text(encoding="utf-8"))
    changes = report["changes"]
    assert changes["previous_batch_id"] == first["batch_id"]
    # the change set is part of the run's output, so the previous push is part of its id
    assert report["batch_id"] != first["batch_id"]
    assert (
        changes["added"] == changes["removed"] == changes["grade_up"] == changes["grade_down"] == []
    )


def test_pushed_pledgeable_patents_match_the_feature_layer(runs):
    """The run keeps only the pledgeable patents after the features stage; the counts and
    lists a bank receives are still those of features.pledgeable_patents."""
    import features
    from data_contracts import read_data_dir

    root, data, _ = runs
    bundle = read_data_dir(data, as_of=pd.Timestamp("2026-09-30").date())
    full = features.pledgeable_patents(bundle, pd.Timestamp("2026-09-30"))
    ok = full.loc[full["pledgeable"].fillna(False).astype(bool)]
    count = ok.groupby("uscc").size()
    listed = ok.groupby("uscc")["app_no"].agg(set)
    packages = sorted((root / "a" / "packages").glob("*/whitelist.json"))
    assert packages
    checked = 0
    for path in packages:
        for firm in json.loads(path.read_text(encoding="utf-8"))["firms"]:
            assert firm["pledgeable_count"] == count.get(firm["uscc"], 0), firm["uscc"]
            apps = {p["app_no"] for p in firm["pledgeable_patents"]}
            assert apps and apps <= listed[firm["uscc"]]
            checked += 1
    assert checked > 0


def test_a_reason_never_contradicts_its_peer_percentile(runs):
    """Points are told against the median firm of the firm's industry, among the same peers
    its percentiles count: a firm above half its peers on a factor that is better higher
    never loses points on it, nor gains them below half (and the other way round for a
    risk factor). Against the expert's middle of each range, 262 of 1,864 reasons of the
    sample read like "发明占比 41%（高于同行业 79% 企业），-0.7 分"."""
    from features.registry import registry

    direction = {s.label_zh: s.direction for s in registry()}
    root, _, _ = runs
    checked = 0
    for path in sorted((root / "a" / "packages").glob("*/whitelist.json")):
        for firm in json.loads(path.read_text(encoding="utf-8"))["firms"]:
            for r in firm["reasons_up"] + firm["reasons_down"]:
                d = direction.get(r["label_zh"], 0)
                if r["percentile"] is None or d == 0 or "含同类指标" in r["text"]:
                    continue
                better, worse = (
                    (r["percentile"], r["percentile_higher"])
                    if d > 0
                    else (r["percentile_higher"], r["percentile"])
                )
                # better / worse: whole percent of peers strictly worse / better than the firm
                if r["points"] < 0:
                    assert better < 50, (firm["uscc"], r["text"])
                else:
                    assert worse < 50, (firm["uscc"], r["text"])
                checked += 1
    assert checked > 100


def test_packages_say_what_the_pd_rests_on(runs):
    """The sample run scores with the cold-start scorecard: every view of the package says
    its PDs are anchored by assumption, not measured on loans."""
    import markupsafe
    import openpyxl

    root, _, _ = runs
    folder = sorted((root / "a" / "packages").iterdir())[0]
    meta = json.loads((folder / "whitelist.json").read_text(encoding="utf-8"))["meta"]
    assert (
        meta["model_basis"].startswith("专家评分卡")
        and "未经实际放款结果校准" in meta["model_basis"]
    )
    notes = dict(
        openpyxl.load_workbook(folder / "whitelist.xlsx")["说明"].iter_rows(values_only=True)
    )
    assert notes["模型依据"] == meta["model_basis"]
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert str(markupsafe.escape(meta["model_basis"])) in html
    # the PD range of each grade, so that a bank's grade cut-off reads as a PD
    assert "T1 ≤ " in meta["model_basis"] and "T10 > " in meta["model_basis"]


def test_a_learned_model_names_its_sample_and_calibration():
    from screening.run.pipeline import model_basis

    class Learned:
        kind = "learned"
        card_ = {
            "kind": "learned",
            "training": {
                "n_rows": 12345,
                "n_bad": 678,
                "period": {"min": "2019-01-03 00:00:00", "max": "2024-06-28 00:00:00"},
            },
            "calibration": {"method": "platt"},
        }

    text = model_basis(Learned())
    assert text.startswith("LightGBM 模型，以 12,345 笔已观察满 12 个月的放款（其中违约 678 笔")
    assert "2019-01-03 至 2024-06-28" in text and "经 Platt 校准" in text


def test_waterfalls_break_the_unnamed_points_down_by_group(runs):
    root, _, _ = runs
    html = (root / "a" / "packages" / "icbc-henan" / "report.html").read_text(encoding="utf-8")
    assert "同行业基准" in html and "其他·" in html
    assert "其他加分因素" not in html  # the one bar that held most of the score is gone


def test_a_firm_section_names_its_industry(runs):
    """The report showed only the code (C3099): a credit officer reads the section name."""
    root, _, _ = runs
    html = (root / "a" / "packages" / "icbc-henan" / "report.html").read_text(encoding="utf-8")
    assert re.search(r"<td>[^<]* / C\d{3,4}（制造业） / ", html)
