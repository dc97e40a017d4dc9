"""Smoke test: the whole harness at 300 firms writes a results JSON of the documented shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.report import BenchRow, Target, apply_target
from benchmarks.run import run_benchmark


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    base = tmp_path_factory.mktemp("harness")
    payload, _failed = run_benchmark(
        size=300,
        seed=5,
        generator="synth",
        results_dir=base / "results",
        cache_dir=base / "cache",
        contrib_rows=200,
        skip_quality=True,
    )
    return payload, base


def test_results_json_written_and_parseable(result: tuple[dict, Path]) -> None:
    payload, base = result
    files = list((base / "results").glob("*-300.json"))
    assert len(files) == 1
    on_disk = json.loads(files[0].read_text())
    assert on_disk["size"] == 300 and on_disk["seed"] == 5
    assert on_disk["rows"] == json.loads(json.dumps(payload["rows"]))


def test_machine_description(result: tuple[dict, Path]) -> None:
    machine = result[0]["machine"]
    assert machine["cores"] >= 1 and machine["ram_gb"] > 0
    assert machine["cpu_model"] and machine["python"].count(".") == 2
    assert machine["libraries"]["duckdb"] != "absent"


def test_every_pipeline_stage_is_measured(result: tuple[dict, Path]) -> None:
    rows = result[0]["rows"]
    stages = {r["stage"]: r for r in rows if r["section"] == "pipeline"}
    for stage in (
        "load+validate",
        "features",
        "knock-outs",
        "score",
        "explain",
        "select",
        "export",
    ):
        assert stages[stage]["wall_s"] > 0, stages[stage]
        assert stages[stage]["peak_rss_mb"] > 0
    total = stages["end to end: time"]["wall_s"]
    assert total >= sum(stages[s]["wall_s"] for s in ("features", "export"))
    assert result[0]["failures"] == []


def test_every_row_measures_something_or_says_why_not(result: tuple[dict, Path]) -> None:
    for r in result[0]["rows"]:
        assert set(r) >= {
            "section",
            "stage",
            "wall_s",
            "peak_rss_mb",
            "rows_per_s",
            "target",
            "status",
        }
        figures = (r["wall_s"], r["value"], r["peak_rss_mb"], r["rows"])
        explained = r["status"].startswith(("unavailable", "failed")) or bool(r["note"])
        assert any(x is not None for x in figures) or explained, r


def test_yardsticks_are_measured(result: tuple[dict, Path]) -> None:
    rows = {(r["section"], r["stage"]): r for r in result[0]["rows"]}
    ref = rows[("reference", "DuckDB SQL, 32 indicators")]
    assert ref["wall_s"] > 0 and ref["peak_rss_mb"] > 0 and ref["rows_per_s"] > 0
    naive = rows[("naive", "naive indicators (extrapolated)")]
    assert naive["extra"]["sample_rows"] == 15  # 300 firms / 20
    assert naive["wall_s"] == pytest.approx(naive["extra"]["sample_wall_s"] * 20)
    # Excel is compared on the same table: our writer's time is measured, not the export stage
    ours_xl = rows[("naive", "our Excel writer, same table (extrapolated)")]
    naive_xl = rows[("naive", "naive excel (extrapolated)")]
    assert ours_xl["wall_s"] > 0 and ours_xl["rows"] == naive_xl["rows"]
    assert naive_xl["value"] == pytest.approx(naive_xl["wall_s"] / ours_xl["wall_s"])
    (total,) = [r for k, r in rows.items() if k[1].startswith("speed-up vs naive")]
    pieces = [r for k, r in rows.items() if k[1].startswith("naive ") and "extrapolated" in k[1]]
    assert {"indicators", "excel"} <= {r["stage"].split()[1] for r in pieces}
    assert total["wall_s"] == pytest.approx(sum(r["wall_s"] for r in pieces))


def test_second_run_reuses_the_cached_data(result: tuple[dict, Path]) -> None:
    base = result[1]
    payload, _ = run_benchmark(
        size=300,
        seed=5,
        generator="synth",
        results_dir=base / "results",
        cache_dir=base / "cache",
        skip_naive=True,
        skip_quality=True,
        save=False,
    )
    assert payload["data"]["cached"] is True
    assert payload["data"]["rows"] == result[0]["data"]["rows"]


def test_target_status_wording() -> None:
    t = Target(60, unit="s", at_size=1_000_000)
    assert t.status(30.0, 1_000_000) == "met"
    assert t.status(90.0, 1_000_000) == "missed by 50%"
    assert t.status(9.0, 100_000) == "missed by 50%"  # 6 s budget at 100k
    assert t.status(9.0, 300).startswith("info")
    speedup = Target(20, upper=False, unit="x")
    assert speedup.status(10.0, 5) == "missed by 50%"
    row = apply_target(BenchRow("naive", "x", value=25.0), speedup, 5)
    assert (row.target, row.status) == ("≥ 20x", "met")


def test_markdown_table_has_one_line_per_row(result: tuple[dict, Path]) -> None:
    from benchmarks.report import markdown_table

    payload = json.loads(json.dumps(result[0]))
    text = markdown_table(payload).splitlines()
    assert len(text) == 2 + len(payload["rows"])
    assert all(line.count("|") == 8 for line in text)
