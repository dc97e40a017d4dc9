"""``screening validate`` run for real in temporary folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from data_contracts import TABLES, read_data_dir
from data_contracts.identifiers import make_app_no
from screening.cli import main

TODAY = "2026-11-23"
ENTERPRISES = (
    "统一社会信用代码,企业名称,登记状态,行政区划代码,注册资本（万元）\n"
    "914403001922038216,华为技术有限公司,存续,440300,4104113.182\n"
    "914403001922038217,坏代码有限公司,存续,440300,1\n"
    "9144030010001686XA,招商银行股份有限公司,在业,440300,2521984.56\n"
)


def _patents(n: int = 4) -> str:
    lines = ["申请号,申请日,专利类型,申请人,权利要求数量"]
    for i in range(n):
        lines.append(
            f"{make_app_no(2018, 1, i + 1)},2018-0{1 + i % 9}-01,发明,华为技术有限公司,{i + 3}"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "enterprises.csv").write_bytes(ENTERPRISES.encode("gbk"))
    (folder / "patents.csv").write_bytes(
        ("\ufeff" + _patents() + _patents().splitlines()[1] + "\n").encode()
    )
    return folder


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    # The CLI's error console wraps long lines at the terminal width; compare words.
    return int(info.value.code or 0), out.out, " ".join(out.err.split())


def test_validate_writes_accounting_and_exits_0(data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = _run(
        ["validate", str(data), "--out", str(out), "--today", TODAY], capsys
    )
    assert code == 0, stderr
    assert "enterprises rejected: uscc_check 1" in stdout
    assert "Traceback" not in stdout + stderr
    doc = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    assert set(doc["tables"]) == set(TABLES)
    ent = doc["tables"]["enterprises"]
    assert (ent["rows"], ent["accepted"], ent["rejected"], ent["duplicates"]) == (3, 2, 1, 0)
    assert ent["by_rule"] == {"uscc_check": 1}
    pat = doc["tables"]["patents"]
    assert (pat["rows"], pat["accepted"], pat["rejected"], pat["duplicates"]) == (5, 4, 0, 1)
    assert doc["files"]["enterprises"]["encoding"] == "gbk"
    assert doc["files"]["patents"]["encoding"] == "utf-8-sig"
    assert "optional table loans missing: treated as empty" in doc["notes"]
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert list(rejects.columns) == [
        "table",
        "file",
        "source_row",
        "column",
        "value",
        "rule",
        "message",
    ]
    assert rejects.iloc[0].to_dict() == {
        "table": "enterprises",
        "file": "enterprises.csv",
        "source_row": "2",
        "column": "uscc",
        "value": "914403001922038217",
        "rule": "uscc_check",
        "message": "USCC 914403001922038217: check character '7' is wrong (expected '6')",
    }
    assert not list(out.glob(".*tmp"))


def test_rerun_is_byte_identical(data: Path, tmp_path: Path, capsys) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        code, _, _ = _run(
            ["validate", str(data), "--out", str(out), "--today", TODAY, "--as-of", "2018-03-01"],
            capsys,
        )
        assert code == 0
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outs[0] == outs[1]
    assert set(outs[0]) == {"rejects.csv", "warnings.csv", "validation.json"}
    doc = json.loads(outs[0]["validation.json"])
    assert doc["tables"]["patents"]["after_as_of"] == 1  # filed 2018-04-01


def test_missing_required_column_exits_2_with_cause_and_remedy(data: Path, capsys) -> None:
    (data / "patents.csv").write_text(
        "申请日,专利类型,申请人\n2018-01-01,发明,甲\n", encoding="utf-8"
    )
    code, stdout, stderr = _run(["validate", str(data), "--today", TODAY], capsys)
    assert code == 2
    err = " ".join(stderr.split())
    assert (
        "error: patents.csv lacks required column app_no (accepted headers: app_no, 申请号, 专利申请号)"
        in err
    )
    assert "remedy: add the column or rename its header" in err
    assert "Traceback" not in stderr
    assert "patents FAILED" in stdout


def test_broken_optional_table_is_reported_and_exits_2(data: Path, capsys) -> None:
    """An unusable optional table stops the commands that read it (run, train), so a folder
    validate passes is one they accept: it is reported with the others, then exits 2."""
    (data / "loans.csv").write_text("贷款银行\n中国银行\n", encoding="utf-8")
    code, stdout, stderr = _run(["validate", str(data), "--today", TODAY], capsys)
    assert code == 2
    assert "optional table loans unusable: loans.csv lacks required column loan_id" in stdout
    err = " ".join(stderr.split())
    assert "error: optional table loans unusable" in err and "remedy:" in err
    assert "Traceback" not in stderr


def test_a_header_only_credit_table_is_flagged(data: Path, capsys) -> None:
    """A header-only credit export is a valid empty table, but screening run refuses it
    while credit rules are on: validate says so."""
    (data / "credit_records.csv").write_text("统一社会信用代码,记录类型,列入日期\n", encoding="utf-8")
    code, stdout, _ = _run(["validate", str(data), "--today", TODAY], capsys)
    assert code == 0
    assert "credit_records has no record" in " ".join(stdout.split())


def test_bad_dates_and_folder(tmp_path: Path, data: Path, capsys) -> None:
    code, _, stderr = _run(["validate", str(data), "--as-of", "30/06/2026"], capsys)
    assert (
        code == 2 and "error: --as-of must be a date written YYYY-MM-DD. Got '30/06/2026'" in stderr
    )
    code, _, stderr = _run(["validate", str(data), "--as-of", "9999-12-31"], capsys)
    assert code == 2 and "outside the dates the engine works with" in stderr
    code, _, stderr = _run(["validate", str(tmp_path / "none")], capsys)
    assert code == 2 and "does not exist or is not a folder" in stderr


def test_out_that_is_a_file_is_a_clear_error(data: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "report"
    target.write_text("not a folder")
    code, _, stderr = _run(["validate", str(data), "--out", str(target), "--today", TODAY], capsys)
    assert code == 2
    assert f"error: cannot write the validation report to {target}" in stderr
    assert "Traceback" not in stderr


def test_console_script_runs(data: Path) -> None:
    exe = Path(sys.executable).parent / "screening"
    proc = subprocess.run(
        [str(exe), "validate", str(data), "--today", TODAY],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Data contracts" in proc.stdout


@pytest.mark.slow
def test_sample_with_mess_is_fully_accounted_for(tmp_path: Path) -> None:
    from screening.sample import SampleConfig, generate_sample

    out = tmp_path / "sample"
    result = generate_sample(SampleConfig(firms=300, seed=5, mess=0.15), out)
    bundle = read_data_dir(out, today=pd.Timestamp(TODAY).date(), errors="collect")
    assert not bundle.failures
    for table, written in result.rows.items():
        stats = bundle.stats[table]
        assert stats.rows == written, table
        assert stats.rows == stats.accepted + stats.rejected + stats.duplicates, table
        rejected = bundle.rejects[bundle.rejects["table"] == table]
        assert rejected["source_row"].nunique() == stats.rejected, table
    total = sum(s.rejected + s.duplicates for s in bundle.stats.values())
    assert total > 0  # the mess was noticed


def test_empty_file_blank_records_and_stray_files_are_reported(
    data: Path, tmp_path: Path, capsys
) -> None:
    (data / "credit_records.csv").write_bytes(b"")  # a broken export, not an empty table
    (data / "enterprises.csv").write_bytes((ENTERPRISES + ",,,,\n").encode("gbk"))
    (data / "enterprises_old.csv").write_text("x\n")
    (data / "~$programmes.xlsx").write_bytes(b"\0")
    out = tmp_path / "out"
    code, stdout, stderr = _run(
        ["validate", str(data), "--out", str(out), "--today", TODAY], capsys
    )
    assert code == 2, stderr  # an optional table, but the run would stop on it
    assert "optional table credit_records unusable: credit_records.csv is empty" in stdout
    assert "Traceback" not in stdout + stderr
    doc = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    assert doc["tables"]["credit_records"]["status"] == "failed"
    assert doc["tables"]["credit_records"]["remedy"] == (
        "export credit_records again, or remove credit_records.csv if the table is not supplied"
    )
    ent = doc["tables"]["enterprises"]
    assert (ent["rows"], ent["rejected"], ent["blank_records"]) == (3, 1, 1)
    assert doc["unrecognised_files"] == ["enterprises_old.csv"]
