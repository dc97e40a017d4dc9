"""The `make bench` entry point as a user runs it: `python -m benchmarks.run ...`."""

from __future__ import annotations

import json
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
