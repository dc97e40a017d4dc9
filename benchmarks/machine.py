"""Describe the machine a benchmark ran on, so results from different days compare fairly."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

LIBRARIES = (
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "polars",
    "pandera",
    "lightgbm",
    "shap",
    "scikit-learn",
    "optbinning",
    "openpyxl",
    "xlsxwriter",
    "mlflow",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _git_commit(repo: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed version of each library (``"absent"`` when it is not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def describe_machine(repo: Path | None = None) -> dict[str, object]:
    """CPU model, usable cores, RAM, OS, Python and library versions, load, git commit.

    The load average is recorded because the benchmark machine is shared: a run made while
    another process held a core is slower for reasons that have nothing to do with the code.
    """
    return {
        "cpu_model": _cpu_model(),
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "ram_gb": _ram_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libraries": library_versions(),
        "load_average_at_start": _load_average(),
        "git_commit": _git_commit(repo) if repo else None,
    }
