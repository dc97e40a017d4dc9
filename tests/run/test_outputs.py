"""Outputs of a run: row accounting, byte-identical reruns, privacy, formula safety, atomicity."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import openpyxl
import orjson
import pandas as pd
import pytest

from data_contracts.errors import DataError, OutputError
from screening.run import output as output_mod
from screening.run import packages as packages_mod
from screening.run import xlsx as xlsx_mod
from screening.run.config import ResourceConfig
from screening.run.manifest import verify_package
from screening.run.output import atomic_folder
from screening.run.pipeline import Timer, screen
from tests.run import _faults
from tests.run._data import (
    AS_OF,
    ID_CARD,
    MOBILE,
    USCC,
    all_text,
    build_inputs,
    make_config,
    run_into,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_firm_exactly_once(tmp_path, inputs, scorer, config):
    run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    screened = pd.read_csv(tmp_path / "out" / "screened.csv", dtype=str)
    accepted = set(inputs.tables["enterprises"]["uscc"])
    assert screened["uscc"].is_unique
    assert accepted <= set(screened["uscc"])
    # the rejected enterprises row (bad check digit) is accounted for once, with its reason
    rejected = screened.loc[screened["status"] == "rejected_input"]
    assert list(rejected["uscc"]) == ["91410100MA0000000X"]
    assert "企业名称为空" in rejected["reason"].iloc[0]
    assert len(screened) == len(accepted) + 1
    parquet = pd.read_parquet(tmp_path / "out" / "screened.parquet")
    assert list(parquet["uscc"]) == list(screened["uscc"])


def test_statuses_and_rules(tmp_path, inputs, scorer, config):
    s, report = run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    by = s.screened.set_index("uscc")
    assert by.at[USCC["B"], "status"] == "knocked_out"
    assert by.at[USCC["B"], "rules_fired"] == "dishonest_debtor@2026-03-01#(2026)豫01执123号"
    assert bool(by.at[USCC["B"], "nominated"])  # nominated but knocked out: still marked
    assert by.at[USCC["E"], "rules_fired"].split(";")[0].startswith("abnormal_operation@2025-11-02")
    assert by.at[USCC["H"], "status"] == "below_threshold"
    assert report["status_counts"] == {
        "whitelisted": 4,
        "below_threshold": 2,
        "knocked_out": 5,
        "rejected_input": 1,
    }
    assert {r["rule_id"]: r["firms"] for r in report["knockouts_by_rule"]}["no_valid_patent"] == 1
    assert report["entity_match_table"] == [
        {
            "source": "credit_records",
            "mentions": 7,
            "uscc": 7,
            "name": 0,
            "former_name": 0,
            "fuzzy": 0,
            "ambiguous": 0,
            "unmatched": 0,
        }
    ]


def test_rerun_is_byte_identical(tmp_path, scorer, config):
    run_into(tmp_path / "a", build_inputs(), scorer, config, AS_OF)
    run_into(tmp_path / "b", build_inputs(), scorer, config, AS_OF)
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b
    assert len(files_a) >= 5 + 5 * 3
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_packages_carry_no_personal_identifiers(tmp_path, scorer, config):
    inputs = build_inputs()
    ent = inputs.tables["enterprises"]
    # an individual's ID-card number smuggled into a park name reaches no package
    ent.loc[ent["uscc"] == USCC["A"], "park"] = "高新区 法人身份证 410102199003071234"
    run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    for path in (tmp_path / "out" / "packages").rglob("*"):
        if path.is_file():
            text = all_text(path)
            assert not ID_CARD.search(text), path
            assert not MOBILE.search(text), path
    wl = pd.read_csv(
        tmp_path / "out" / "packages" / "bank-a" / "whitelist.csv", dtype=str, encoding="utf-8-sig"
    )
    assert (
        wl.loc[wl["统一社会信用代码"] == USCC["A"], "所属园区"].iloc[0]
        == "高新区 法人身份证 [已脱敏]"
    )
    # no raw credit-record text (record ids of knocked-out firms) in any package
    for path in (tmp_path / "out" / "packages").rglob("*"):
        if path.is_file():
            assert "豫01执123号" not in all_text(path)


def test_formula_cells_neutralised_in_csv_and_excel(tmp_path, inputs, scorer, config):
    run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    pkg = tmp_path / "out" / "packages" / "bank-a"
    raw = (pkg / "whitelist.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM so Excel detects UTF-8
    wl = pd.read_csv(pkg / "whitelist.csv", dtype=str, encoding="utf-8-sig")
    names = wl["企业名称"].tolist()
    assert '\'=HYPERLINK("http://x")洛阳公式测试有限公司' in names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)
    book = openpyxl.load_workbook(pkg / "whitelist.xlsx", read_only=True)
    assert book.sheetnames == ["白名单", "评分理由", "可质押专利", "说明"]
    for ws in book.worksheets:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                assert not (isinstance(v, str) and v.startswith(("=", "+", "-", "@"))), (
                    ws.title,
                    v,
                )
    screened = (tmp_path / "out" / "screened.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in screened
    assert ",=HYPERLINK" not in screened and ',"=HYPERLINK' not in screened


def test_excel_header_frozen_filtered_and_notes(tmp_path, inputs, scorer, config):
    run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    book = openpyxl.load_workbook(tmp_path / "out" / "packages" / "bank-a" / "whitelist.xlsx")
    ws = book["白名单"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None and ws.auto_filter.ref.startswith("A1:")
    assert ws["B1"].value == "统一社会信用代码"
    reasons = list(book["评分理由"].iter_rows(values_only=True))
    assert reasons[0][:5] == ("统一社会信用代码", "企业名称", "评分", "基准分", "加分因素1")
    assert reasons[0][-1] == "其他因素合计分"
    assert reasons[1][0] == USCC["A"]
    assert reasons[1][4] == "有效发明专利数 14 件（为同行业最高水平，含同类指标 2 项），+25.0 分"
    # a firm's points add up to its score as shown: base + the listed reasons + the rest
    for row in reasons[1:]:
        listed = [float(m) for t in row[4:-1] if t for m in re.findall(r"([+-][0-9.]+) 分$", t)]
        assert abs(row[3] + sum(listed) + row[-1] - row[2]) < 1e-6, row
    notes = {r[0]: r[1] for r in book["说明"].iter_rows(min_row=2, values_only=True)}
    assert notes["批次号"] == "2026Q3-0000test"
    assert notes["数据截至（核查日）"] == "2026-09-30"
    assert notes["评分模型"] == "toy-linear-v1"
    assert notes["有效期至"] == "2027-03-29"
    # the PD is a fraction shown as a percent (0.005923 read as a percentage otherwise)
    pd_col = [c.value for c in ws[1]].index("违约概率") + 1
    cell = ws.cell(row=2, column=pd_col)
    assert isinstance(cell.value, float) and 0 < cell.value < 1 and cell.number_format == "0.00%"
    assert ws.cell(row=2, column=pd_col - 1).number_format == "General"
    assert "全为数字的统一社会信用代码会被转为数字" in notes["文件说明"]
    assert "0371-65950000" in notes["联系方式"]
    assert "白名单有效期内到期" in notes["资质到期"]
    # what the bank receives and how the points read (credit-officer review)
    assert "T1 至" in notes["本行名单范围"] or "全部等级" in notes["本行名单范围"]
    assert "GB/T 4754" in notes["评分理由"] and "其他因素合计分" in notes["评分理由"]
    assert "剩余保护期超过 1 年" in notes["可质押专利"]
    # the patent sheet lists firms in the 白名单 sheet's order (rank), not by code
    listed = [r[1] for r in ws.iter_rows(min_row=2, values_only=True)]
    patent_firms = [r[0] for r in book["可质押专利"].iter_rows(min_row=2, values_only=True)]
    firms_in_order = list(dict.fromkeys(patent_firms))
    assert len(firms_in_order) > 1
    assert firms_in_order == [u for u in listed if u in set(patent_firms)]


def test_long_list_splits_sheets_and_says_so(tmp_path, inputs, scorer, config):
    run_into(tmp_path / "out", inputs, scorer, config, AS_OF, max_excel_rows=3)
    book = openpyxl.load_workbook(
        tmp_path / "out" / "packages" / "bank-a" / "whitelist.xlsx", read_only=True
    )
    assert book.sheetnames[:2] == ["白名单_1", "白名单_2"]
    rows = [
        r
        for name in ("白名单_1", "白名单_2")
        for r in book[name].iter_rows(min_row=2, values_only=True)
    ]
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    notes = [r[1] for r in book["说明"].iter_rows(min_row=2, values_only=True)]
    assert any("已拆分为 白名单_1、白名单_2" in str(n) for n in notes)


@pytest.mark.parametrize("max_rows", [3, 1_048_575])
def test_workbook_written_in_row_blocks_is_the_same(
    tmp_path, scorer, config, monkeypatch, max_rows
):
    """Cells are built a block of rows at a time; blocks of 2 rows (across split sheets too)
    give the same workbook bytes as one block."""
    run_into(tmp_path / "one", build_inputs(), scorer, config, AS_OF, max_excel_rows=max_rows)
    monkeypatch.setattr(xlsx_mod, "_BLOCK_ROWS", 2)
    run_into(tmp_path / "blocks", build_inputs(), scorer, config, AS_OF, max_excel_rows=max_rows)
    books = sorted((tmp_path / "one").rglob("whitelist.xlsx"))
    assert len(books) == len(config.banks)
    for book in books:
        other = tmp_path / "blocks" / book.relative_to(tmp_path / "one")
        assert book.read_bytes() == other.read_bytes(), book
    rows = list(openpyxl.load_workbook(books[0], read_only=True).worksheets[0].values)
    assert len(rows) > 2  # header and more than one block of rows


def test_json_and_report_written_in_firm_chunks_are_the_same(tmp_path, scorer, config, monkeypatch):
    """whitelist.json and report.html are built a chunk of firms at a time; chunks of 2 firms
    give the same bytes as one chunk, and the JSON is exactly the compact, key-sorted dump of
    its own document."""
    run_into(tmp_path / "one", build_inputs(), scorer, config, AS_OF)
    monkeypatch.setattr(packages_mod, "_CHUNK_FIRMS", 2)
    run_into(tmp_path / "chunks", build_inputs(), scorer, config, AS_OF)
    packages = sorted(p.parent for p in (tmp_path / "one").rglob("whitelist.json"))
    assert len(packages) == len(config.banks)
    for folder in packages:
        other = tmp_path / "chunks" / folder.relative_to(tmp_path / "one")
        for name in ("whitelist.json", "report.html", "manifest.json"):
            assert (folder / name).read_bytes() == (other / name).read_bytes(), folder / name
        text = (folder / "whitelist.json").read_text(encoding="utf-8")
        doc = json.loads(text)
        dumped = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert text == dumped + "\n"
    doc = json.loads((packages[0] / "whitelist.json").read_text(encoding="utf-8"))
    assert len(doc["firms"]) > 2  # more than one chunk
    assert [f["seq"] for f in doc["firms"]] == list(range(1, len(doc["firms"]) + 1))
    assert all(f["reasons_up"] or f["reasons_down"] for f in doc["firms"])
    progs = [p for f in doc["firms"] for p in f["programmes"]]
    assert progs and all(isinstance(p["lapses_in_validity"], bool) for p in progs)


def test_bank_filters(tmp_path, inputs, scorer, config):
    run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    pk = tmp_path / "out" / "packages"
    b = json.loads((pk / "bank-b" / "whitelist.json").read_text(encoding="utf-8"))
    assert {f["region_code"] for f in b["firms"]} == {"410300"}
    c = json.loads((pk / "bank-c" / "whitelist.json").read_text(encoding="utf-8"))
    assert all(
        f["industry_code"].startswith("I") and f["grade"] in ("T1", "T2", "T3") for f in c["firms"]
    )
    assert [f["seq"] for f in c["firms"]] == list(range(1, len(c["firms"]) + 1))
    a = json.loads((pk / "bank-a" / "whitelist.json").read_text(encoding="utf-8"))
    first = a["firms"][0]
    assert first["uscc"] == USCC["A"]
    assert first["programmes"][0]["valid_to"] == "2027-10-31"
    assert {p["app_no"] for p in first["pledgeable_patents"]} >= {"CN201910000001.X"}
    assert "CN201910000002.X" not in {p["app_no"] for p in first["pledgeable_patents"]}
    assert len(a["knockout_checks_passed"]) == 11
    for pkg in ("bank-a", "bank-b", "bank-c"):
        assert verify_package(pk / pkg).signature == "absent"


def test_writer_processes_hold_ctrl_c_and_the_run_does_not(
    tmp_path, inputs, scorer, config, monkeypatch
):
    """Ctrl-C reaches the whole process group: a writer process must not raise its own
    KeyboardInterrupt (a traceback while it imported pandas); the run stops the writers
    itself, and the run's own Ctrl-C still works afterwards."""
    config = replace(config, resources=ResourceConfig(workers=2))
    monkeypatch.setattr(output_mod, "write_bank_package", _faults.record_signal_mask)
    run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    marks = sorted(tmp_path.glob("sigint-*"))
    assert marks and {m.read_text() for m in marks} == {"True"}
    assert all(int(m.name.split("-")[1]) != os.getpid() for m in marks)  # writer processes
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


@pytest.mark.parametrize("workers", [1, 2])
def test_failed_run_leaves_no_partial_output(
    tmp_path, inputs, scorer, config, monkeypatch, workers
):
    out = tmp_path / "out"
    config = replace(config, resources=ResourceConfig(workers=workers))
    monkeypatch.setattr(output_mod, "write_bank_package", _faults.fail_on_second_bank)
    with pytest.raises(RuntimeError, match="second bank"), atomic_folder(out) as tmp:
        run_into(tmp, inputs, scorer, config, AS_OF)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("detail_limit", "signed"), [(5, False), (1, True)], ids=["all-detailed", "cut-signed"]
)
def test_parallel_packages_equal_sequential_ones(tmp_path, scorer, config, detail_limit, signed):
    """Banks written side by side in writer processes give the same bytes as one by one,
    also when reports detail fewer firms than the lists hold (charts drawn beforehand for
    the writers) and when the manifests are signed (the key travels to the writers)."""
    from screening.run.manifest import SigningKey

    key = SigningKey("hmac-sha256", b"test-secret") if signed else None
    config = replace(config, report=replace(config.report, detail_limit=detail_limit))
    for workers in (1, 3):
        cfg = replace(config, resources=ResourceConfig(workers=workers))
        run_into(tmp_path / f"w{workers}", build_inputs(), scorer, cfg, AS_OF, key=key)
    a = json.loads((tmp_path / "w3" / "packages" / "bank-a" / "manifest.json").read_text())
    assert (a.get("signature") is not None) == signed
    report = (tmp_path / "w3" / "packages" / "bank-a" / "report.html").read_text(encoding="utf-8")
    firms = json.loads(
        (tmp_path / "w3" / "packages" / "bank-a" / "whitelist.json").read_text(encoding="utf-8")
    )["firms"]
    assert len(firms) > 1  # so a limit of 1 leaves firms without a chart
    assert report.count("<svg") == min(detail_limit, len(firms))  # a waterfall per detailed firm
    seq = sorted(p.relative_to(tmp_path / "w1") for p in (tmp_path / "w1").rglob("*"))
    par = sorted(p.relative_to(tmp_path / "w3") for p in (tmp_path / "w3").rglob("*"))
    assert seq == par and any(p.name == "whitelist.xlsx" for p in seq)
    for rel in seq:
        if (tmp_path / "w1" / rel).is_file():
            assert (tmp_path / "w1" / rel).read_bytes() == (tmp_path / "w3" / rel).read_bytes()


@pytest.mark.parametrize("workers", [1, 3])
def test_export_reports_each_bank_package_written(tmp_path, scorer, config, workers):
    """The long export stage reports progress: one step per bank package, counting up, between
    its start and end (the CLI's bar advances on them), whether written in turn or forked."""
    events = []
    cfg = replace(config, resources=ResourceConfig(workers=workers))
    timer = Timer(progress=lambda stage, event, rows: events.append((stage, event, rows)))
    s = screen(build_inputs(), scorer=scorer, config=cfg, as_of=AS_OF, timer=timer)
    with timer.stage("export") as box:
        output_mod.write_outputs(s, tmp_path / "out", config=cfg, batch="2026Q3-t", timer=timer)
        box["rows"] = 7
    n = len(cfg.banks)
    assert n > 1
    assert [e for e in events if e[0] == "export"] == [
        ("export", "start", None),
        *[("export", "step", k) for k in range(1, n + 1)],
        ("export", "end", 7),
    ]


def test_error_in_a_package_worker_keeps_cause_and_remedy(
    tmp_path, inputs, scorer, config, monkeypatch
):
    config = replace(config, resources=ResourceConfig(workers=2))
    monkeypatch.setattr(output_mod, "write_bank_package", _faults.refuse)
    with pytest.raises(DataError) as err:
        run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    assert err.value.cause.endswith("cannot write") and err.value.remedy == "free some disk space"


def test_killed_package_writer_is_a_clear_error(tmp_path, inputs, scorer, config, monkeypatch):
    """A writer killed by the system (as the out-of-memory killer does) ends the run with a
    cause and a remedy, and leaves no output."""
    config = replace(config, resources=ResourceConfig(workers=2))
    monkeypatch.setattr(output_mod, "write_bank_package", _faults.killed)
    out = tmp_path / "out"
    with pytest.raises(OutputError) as err, atomic_folder(out) as tmp:
        run_into(tmp, inputs, scorer, config, AS_OF)
    assert "killed" in err.value.cause and "workers = 1" in err.value.remedy
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_failed_writer_stops_the_others_at_once(tmp_path, inputs, scorer, config, monkeypatch):
    """One writer fails while another is on a long package: the run fails now, with no
    writer left running (not after the long package, as waiting for it would)."""
    import multiprocessing

    config = replace(config, resources=ResourceConfig(workers=2))
    monkeypatch.setattr(
        output_mod, "write_bank_package", _faults.fail_second_bank_while_others_write
    )
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="bank-b failed at once"):
        run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    assert time.monotonic() - started < 60  # the other writers sleep 120 s
    assert multiprocessing.active_children() == []
    assert not (tmp_path / "out" / ".spool").exists()


def test_a_failed_rename_puts_the_previous_output_back(tmp_path, monkeypatch):
    """If the new output cannot be renamed into place, the previous one is restored."""
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        tmp.mkdir()
        (tmp / "screened.csv").write_text("previous", encoding="utf-8")
    real = os.replace

    def refuse_new(src, dst):
        if Path(src).name.startswith("out.tmp-"):
            raise PermissionError(13, "Permission denied", str(dst))
        return real(src, dst)

    monkeypatch.setattr(output_mod.os, "replace", refuse_new)
    with pytest.raises(PermissionError), atomic_folder(out) as tmp:
        tmp.mkdir()
        (tmp / "screened.csv").write_text("new", encoding="utf-8")
    assert (out / "screened.csv").read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_rerun_keeps_previous_output(tmp_path, inputs, scorer, config):
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        run_into(tmp, inputs, scorer, config, AS_OF)
    before = (out / "screened.csv").read_bytes()
    with pytest.raises(ValueError, match="interrupted"), atomic_folder(out) as tmp:
        tmp.mkdir()
        (tmp / "screened.csv").write_text("partial", encoding="utf-8")
        raise ValueError("interrupted")
    assert (out / "screened.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _process_gone(pid: int, within_s: float = 10.0) -> bool:
    """Whether ``pid`` ends (no longer exists, or is a zombie) within ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("workers", [1, 2])
def test_killed_run_leaves_no_package(tmp_path, workers):
    """SIGKILL in the middle of writing: OUT never appears, no package writer outlives the
    run, and the next run sweeps the debris."""
    out = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        import sys
        from dataclasses import replace
        sys.path.insert(0, {str(ROOT)!r})
        from tests.run._data import AS_OF, ToyScorer, build_inputs, make_config, run_into
        from screening.run.config import ResourceConfig
        from screening.run import output
        from screening.run.output import atomic_folder
        from tests.run import _faults
        output.write_bank_package = _faults.stall_after_workbook
        config = replace(make_config(), resources=ResourceConfig(workers={workers}))
        with atomic_folder({str(out)!r}) as tmp:
            run_into(tmp, build_inputs(), ToyScorer(), config, AS_OF)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        word, pid = proc.stdout.readline().split()
        assert word == "WROTE"
        assert (int(pid) == proc.pid) == (workers == 1)  # writer processes when 2
        tmp_dirs = list(tmp_path.glob("out.tmp-*"))
        assert len(tmp_dirs) == 1 and (tmp_dirs[0] / "screened.csv").is_file()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _process_gone(int(pid))  # a writer dies with the run
    assert not out.exists()
    with atomic_folder(out) as tmp:
        tmp.mkdir()
        (tmp / "ok").write_text("1", encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_empty_whitelist_still_writes_valid_packages(tmp_path, inputs, scorer):
    config = make_config(min_grade="T1", max_pd=0.0001)
    s, report = run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    assert report["status_counts"]["whitelisted"] == 0
    pkg = tmp_path / "out" / "packages" / "bank-a"
    assert json.loads((pkg / "whitelist.json").read_text(encoding="utf-8"))["firms"] == []
    book = openpyxl.load_workbook(pkg / "whitelist.xlsx", read_only=True)
    assert [r for r in book["白名单"].iter_rows(min_row=2, values_only=True)] == []
    assert verify_package(pkg).files_checked == 4


def test_streamed_json_equals_one_dump(tmp_path):
    """Chunks (some empty) give the bytes of one key-sorted dump of the whole document (and
    the same document as the json module's); a top-level key that would sort before 'firms'
    is refused instead of silently mis-ordered."""
    firms = [
        {"uscc": f"U{i}", "name": "甲（乙）公司", "pd": 0.1 + i / 3, "reasons_up": [{"t": "+3 分"}]}
        for i in range(5)
    ]
    head = {"meta": {"batch_id": "2026Q3-x", "as_of": "2026-09-30"}, "x": [1, None, 2.5]}
    path = tmp_path / "w.json"
    packages_mod._write_json(path, head, [firms[:2], [], firms[2:3], firms[3:]])
    doc = {**head, "firms": firms}
    expected = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n"
    assert path.read_bytes() == expected
    assert json.loads(path.read_text(encoding="utf-8")) == doc
    # keys sorted at every level, compact, non-ASCII text as UTF-8 (not \\u escapes)
    assert path.read_text(encoding="utf-8") == (
        json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    )
    packages_mod._write_json(path, {}, [[], []])
    assert path.read_text(encoding="utf-8") == '{"firms":[]}\n'
    with pytest.raises(ValueError, match="sort after 'firms'"):
        packages_mod._write_json(path, {"batch": 1}, [firms])


def test_export_view_writes_the_same_outputs(tmp_path, scorer, config):
    """run_screening hands export only what it reads (no matrix, no input tables, each
    whitelisted firm's best pledgeable patents): every output file is byte-identical to
    writing the full screening, with a patent cut that drops rows."""
    from screening.run.pipeline import for_export

    cfg = replace(config, report=replace(config.report, patents_per_firm=1))
    timer = Timer()
    s = screen(build_inputs(), scorer=scorer, config=cfg, as_of=AS_OF, timer=timer)
    lean = for_export(s, cfg.report.patents_per_firm)
    whitelisted = s.inputs.pledgeable["uscc"].isin(s.whitelist["uscc"])
    assert 0 < len(lean.inputs.pledgeable) < whitelisted.sum()  # the cut drops rows
    assert lean.inputs.pledgeable["uscc"].is_unique
    assert lean.inputs.tables == {} and lean.inputs.matrix.empty
    assert len(s.inputs.matrix) > 0 and s.inputs.tables  # s itself is unchanged
    with pytest.raises(RuntimeError, match="not kept"):
        lean.inputs.percentiles(s.inputs.matrix, ["valid_invention_count"])
    for name, view in (("full", s), ("lean", lean)):
        output_mod.write_outputs(view, tmp_path / name, config=cfg, batch="2026Q3-t", timer=timer)
    files = sorted(p.relative_to(tmp_path / "full") for p in (tmp_path / "full").rglob("*"))
    assert files == sorted(p.relative_to(tmp_path / "lean") for p in (tmp_path / "lean").rglob("*"))
    assert any(p.name == "whitelist.xlsx" for p in files)
    for rel in files:
        if (tmp_path / "full" / rel).is_file():
            assert (tmp_path / "full" / rel).read_bytes() == (
                tmp_path / "lean" / rel
            ).read_bytes(), rel


def test_affordable_workers_fit_the_largest_packages_in_free_memory():
    from screening.run.output import WORKER_BYTES_PER_FIRM as B
    from screening.run.output import affordable_workers

    sizes = [400_000, 100_000, 300_000, 50_000]
    # memory unknown: one per task at most (each package is two: workbook and lists)
    assert affordable_workers(16, sizes, None) == 8
    assert affordable_workers(2, sizes, 100 * 2**30) == 2  # plenty: as many as asked
    # room for the largest package's two parts side by side (400k firms each), not a third
    assert affordable_workers(4, sizes, int((800_000 * B + 50_000 * B) / 0.9)) == 2
    assert affordable_workers(4, sizes, int(1_100_000 * B / 0.9) + 10) == 3
    assert affordable_workers(4, sizes, 1) == 1  # never fewer than one
    assert affordable_workers(0, [], 1) == 1


@pytest.mark.parametrize(("available", "expected"), [(1, 1), (None, 6)])
def test_automatic_workers_are_bounded_by_free_memory(
    tmp_path, scorer, config, monkeypatch, available, expected
):
    """resources.workers = 0 starts one writer per core and per package part (three banks:
    six), as many as the free memory allows; an explicit number is used as given."""
    seen = []
    real = output_mod._write_banks
    monkeypatch.setattr(
        output_mod,
        "_write_banks",
        lambda job, inputs, env, w, sizes, on_done=None: (
            seen.append(w) or real(job, inputs, env, 1, sizes)
        ),
    )
    monkeypatch.setattr(output_mod, "available_memory_bytes", lambda: available)
    monkeypatch.setattr(ResourceConfig, "worker_count", lambda self: self.workers or 8)
    for workers in (0, 2):
        cfg = replace(config, resources=ResourceConfig(workers=workers))
        run_into(tmp_path / f"w{workers}", build_inputs(), scorer, cfg, AS_OF)
    assert seen == [expected, 2]


def test_report_list_json_cannot_close_its_script_element():
    """Firm names are data inside <script type="application/json">: no '<' survives (so no
    '</script>' or '<!--'), and the rows parse back to exactly what went in."""
    rows = [
        [1, "</script><script>alert(1)</script>", "91410100MA0000001X", "郑州市", "C"],
        [2, "甲&乙'丙\"丁 <!-- \u2028", "91410100MA0000002X", "", None],
    ]
    text = str(packages_mod._json_rows(rows))
    assert "<" not in text and ">" not in text and "&" not in text and "'" not in text
    assert json.loads("[" + text + "]") == rows


def test_nominated_firm_below_threshold_is_explained(tmp_path, scorer, config):
    """The nominating office reads why its firm missed the threshold: the reason carries the
    threshold note and the factors up and down, as a whitelisted firm's does."""
    run_into(tmp_path / "o", build_inputs(), scorer, config, AS_OF)
    s = pd.read_csv(tmp_path / "o" / "screened.csv", dtype=str)
    nominated_below = s.loc[(s["status"] == "below_threshold") & (s["nominated"] == "True")]
    assert len(nominated_below) >= 1
    for reason in nominated_below["reason"]:
        assert reason.startswith("未达门槛") and "加分：" in reason and "减分：" in reason
    plain_below = s.loc[(s["status"] == "below_threshold") & (s["nominated"] == "False")]
    assert not plain_below["reason"].str.contains("加分：").any()


def test_firms_no_bank_receives_and_caps_that_limit_nothing_are_warned(tmp_path, inputs, scorer):
    """A whitelisted firm outside every bank's scope went into no package without a word,
    and a misspelt park cap was listed as applied."""
    config = make_config(park_caps={"郑州高新区": 3})
    config = replace(config, banks=config.banks[1:2])  # 乙银行: 洛阳 (4103) only
    _, report = run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    wl = pd.read_csv(tmp_path / "out" / "screened.csv", dtype=str)
    outside = wl.loc[(wl["status"] == "whitelisted") & ~wl["region_code"].str.startswith("4103")]
    assert len(outside) > 0
    assert report["warnings"][0] == (
        "selection.park_caps 中的“郑州高新区”不对应任何登记企业，该名额限制不起作用（请核对名称或代码）"
    )
    assert report["warnings"][1].startswith(
        f"{len(outside):,} 家白名单企业不在任何银行的推送范围内"
    )
    html = (tmp_path / "out" / "run_report.html").read_text(encoding="utf-8")
    assert "需要注意" in html and "郑州高新区" in html
    # the shipped banks reach every firm of the toy whitelist: no warning
    _, report = run_into(tmp_path / "out2", inputs, scorer, make_config(), AS_OF)
    assert report["warnings"] == []


def test_a_previous_output_that_cannot_be_deleted_is_said_and_never_swept(
    tmp_path, monkeypatch, capsys
):
    """An undeletable previous output was left beside the new one as OUT.old-<pid> without a
    word. It is said now, and never deleted later: a folder named like one may be a
    person's backup (``push.old-20260630``) or the only copy of a previous output."""
    from screening.run.output import atomic_folder

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous", encoding="utf-8")
    real_rmtree = output_mod.shutil.rmtree
    monkeypatch.setattr(
        output_mod.shutil,
        "rmtree",
        lambda path, **kw: None if ".old-" in str(path) else real_rmtree(path, **kw),
    )
    with atomic_folder(out) as tmp:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new", encoding="utf-8")
    old = tmp_path / f"out.old-{os.getpid()}"
    assert (out / "new.txt").is_file() and (old / "old.txt").is_file()
    assert f"kept as {old}" in capsys.readouterr().err
    monkeypatch.setattr(output_mod.shutil, "rmtree", real_rmtree)
    backup = tmp_path / "out.old-20260630"
    old.rename(backup)
    with atomic_folder(out) as tmp:
        tmp.mkdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.old-20260630"]


def test_a_firm_told_among_all_firms_says_so_in_its_chart(tmp_path, inputs, scorer):
    """With sections too small to be peer groups the texts say 参评企业, and so does the
    chart's first bar (it said 同行业基准 for them); unlinked.csv is always written."""
    config = make_config()
    config = replace(config, report=replace(config.report, min_peers=1000))
    s, _ = run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    assert set(s.base_labels) == {"参评企业基准"}
    html = (tmp_path / "out" / "packages" / "bank-a" / "report.html").read_text(encoding="utf-8")
    assert ">参评企业基准<" in html and ">同行业基准<" not in html
    assert "同行业" not in "".join(s.reasons["text"])
    header = (tmp_path / "out" / "unlinked.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == (
        "kind,cause,name,uscc_as_written,record_type,start_date,record_id,candidates,nominated_by"
    )
    below = s.screened.loc[s.screened["status"] == "below_threshold", "reason"]
    assert below.str.contains(r"违约概率 \d+\.\d{3}%").all()


def test_an_empty_package_is_a_warning_naming_unknown_regions():
    from types import SimpleNamespace

    from screening.run.output import _empty_banks

    screened = pd.DataFrame({"region_code": ["410105", "410301", None]})
    banks = [
        SimpleNamespace(id="a", name="甲银行", regions=("4101",)),
        SimpleNamespace(id="b", name="乙银行", regions=("999999", "4103")),
        SimpleNamespace(id="c", name="丙银行", regions=("4103",)),
    ]
    notes = _empty_banks(banks, [5, 0, 0], screened)
    assert notes == [
        "乙银行（b）的推送包为空：其地区 999999 不对应任何参评企业（请核对 run.toml 中该银行的 regions）",
        "丙银行（c）的推送包为空：没有白名单企业符合其地区、行业和最低等级",
    ]


def test_report_sections_state_each_check_for_the_firm(tmp_path, inputs, scorer, config):
    """A detailed firm's 否决项核查 says what each check found for it (its own tax rating
    and date), beside the source's newest record date."""
    run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    html = (tmp_path / "out" / "packages" / "bank-a" / "report.html").read_text("utf-8")
    section = html[html.index(f'id="firm-{USCC["A"]}"') :]
    section = section[: section.index("</section>")]
    assert "本企业情况" in section
    assert "最近评价 A 级（2026-04-15）" in section
    assert "登记状态：存续" in section


def test_every_view_states_the_firms_tax_grade(tmp_path, inputs, scorer, config):
    """Credit-officer review: the firm's own tax grade never reached the bank. The list
    (CSV, workbook, JSON) gives each firm's latest rating and its date."""
    run_into(tmp_path / "out", inputs, scorer, config, AS_OF)
    pkg = tmp_path / "out" / "packages" / "bank-a"
    wl = pd.read_csv(pkg / "whitelist.csv", dtype=str, encoding="utf-8-sig").set_index(
        "统一社会信用代码"
    )
    assert wl.loc[USCC["A"], "纳税信用等级"] == "A"
    assert wl.loc[USCC["A"], "纳税信用评价日期"] == "2026-04-15"
    firms = {f["uscc"]: f for f in orjson.loads((pkg / "whitelist.json").read_bytes())["firms"]}
    assert (firms[USCC["A"]]["tax_grade"], firms[USCC["A"]]["tax_grade_date"]) == (
        "A",
        "2026-04-15",
    )
    # a firm without a rating says nothing rather than a grade it does not have
    unrated = [u for u, f in firms.items() if f["tax_grade"] is None]
    assert all(firms[u]["tax_grade_date"] is None for u in unrated)
    sheet = openpyxl.load_workbook(pkg / "whitelist.xlsx")["白名单"]
    header = [c.value for c in sheet[1]]
    assert {"纳税信用等级", "纳税信用评价日期"} <= set(header)
