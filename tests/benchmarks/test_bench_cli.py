"""The `make bench` entry point as a user runs it: `python -m benchmarks.run ...`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "benchmarks.run", "--size", "300", "--generator", "synth"]
    cmd += ["--results-dir", str(tmp / "results"), "--cache-dir", str(tmp / "cache"), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_memory_guard_stops_the_run_and_keeps_partial_results(tmp_path: Path) -> None:
    proc = _bench("--max-rss-gb", "0.01", "--skip-naive", "--skip-quality", tmp=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "error:" in proc.stdout and "remedy:" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    (result,) = (tmp_path / "results").glob("*-300.json")
    payload = json.loads(result.read_text())
    assert any(f.startswith("memory guard during") for f in payload["failures"])


def test_unknown_model_is_a_two_line_error(tmp_path: Path) -> None:
    proc = _bench("--model", str(tmp_path / "nowhere"), "--no-save", tmp=tmp_path)
    assert proc.returncode == 2
    assert "The 'model' option must be 'learned', 'expert' or a model folder" in proc.stderr
    assert "remedy:" in proc.stderr and "Traceback" not in proc.stderr


def _config(tmp: Path, workers: str, limit: str) -> Path:
    """The shipped run.toml with its [resources] changed, beside a copy of its rules file."""
    shipped = ROOT / "screening" / "config"
    text = (shipped / "run.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^workers = \d+", f"workers = {workers}", text)
    text = text.replace('duckdb_memory_limit = ""', f'duckdb_memory_limit = "{limit}"')
    (tmp / "run.toml").write_text(text, encoding="utf-8")
    (tmp / "knockouts.yaml").write_bytes((shipped / "knockouts.yaml").read_bytes())
    return tmp / "run.toml"


def test_config_option_sets_the_run_resources(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "1", "700MB")
    proc = _bench(
        "--config", str(cfg), "--skip-naive", "--skip-quality", "--model", "expert", tmp=tmp_path
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (result,) = (tmp_path / "results").glob("*-300.json")
    rows = {r["stage"]: r for r in json.loads(result.read_text())["rows"]}
    assert rows["resources (run.toml)"]["note"] == "workers 1, DuckDB memory_limit 700MB"
    assert rows["export"]["wall_s"] > 0
    # the largest package's files, by size, for the README's national figures
    largest = rows["export"]["extra"]["largest_package"]
    assert {"whitelist.xlsx", "whitelist.json", "report.html"} <= set(largest["bytes"])
    assert all(n > 0 for n in largest["bytes"].values())
    assert f"largest package {largest['bank']}: " in rows["export"]["note"]


def test_bad_config_is_a_two_line_error(tmp_path: Path) -> None:
    proc = _bench("--config", str(_config(tmp_path, "-3", "")), "--no-save", tmp=tmp_path)
    assert proc.returncode == 2
    assert "'resources.workers'" in proc.stderr and "remedy:" in proc.stderr
    assert "Traceback" not in proc.stderr
