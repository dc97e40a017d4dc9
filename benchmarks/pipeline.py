"""Run the stages of ``screening run`` one by one, each under the stage meter.

This module is the only place where the benchmark knows the project's pipeline API. A stage
whose code is not importable yet is reported as ``unavailable`` (with the import error), and
the stages after it are skipped; a stage that raises is reported as ``failed``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from rich.console import Console

from benchmarks.report import BenchRow
from benchmarks.rss import Measurement, measure

STAGES = ("load+validate", "features", "knock-outs", "score", "explain", "select", "export")


@dataclass
class StageResult:
    """One stage's measurement and status (``met``-free: targets are applied by the caller)."""

    name: str
    measurement: Measurement | None
    status: str = "info"
    note: str = ""


@dataclass
class PipelineContext:
    """What the stages produced, kept for the comparisons that follow the pipeline.

    Attributes
    ----------
    stages : list of StageResult
        In pipeline order.
    features : DataFrame or None
        The feature matrix, indexed by ``uscc``.
    scorer : object or None
        The scorer used (``models.base.Scorer``).
    X : DataFrame or None
        Model input rows, indexed by ``uscc``.
    explained : Index or None
        USCCs whose explanations the pipeline built.
    sheet : DataFrame or None
        The whitelist table the export stage wrote (for the naive Excel writer).
    state : dict
        Everything else a stage hands to the next one.
    """

    stages: list[StageResult] = field(default_factory=list)
    features: pd.DataFrame | None = None
    scorer: Any = None
    X: pd.DataFrame | None = None
    explained: pd.Index | None = None
    sheet: pd.DataFrame | None = None
    state: dict[str, Any] = field(default_factory=dict)


def default_as_of(data_dir: Path) -> str:
    """The data's own date: the newest publication or grant date in ``patents.parquet``.

    Read from the parquet column statistics (no data is loaded). Screening at that date uses
    every fact in the folder, which is what a quarterly run does.
    """
    meta = pq.ParquetFile(Path(data_dir) / "patents.parquet").metadata
    names = meta.schema.names
    newest: dt.date | None = None
    for col in ("pub_date", "grant_date"):
        if col not in names:
            continue
        j = names.index(col)
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(j).statistics
            if stats is None or not stats.has_min_max:
                continue
            value = stats.max
            if isinstance(value, dt.datetime):
                value = value.date()
            if isinstance(value, dt.date) and (newest is None or value > newest):
                newest = value
    return (newest or dt.date.today()).isoformat()


def _stage_plan() -> list[tuple[str, Callable[[PipelineContext, dict[str, Any]], int | None]]]:
    """The project's stages as (name, callable); filled from ``screening.run``."""
    return [
        ("load+validate", _load_validate),
    ]


def _load_validate(ctx: PipelineContext, env: dict[str, Any]) -> int:
    reader = importlib.import_module("data_contracts.reader")
    bundle = reader.read_data_dir(env["data_dir"], as_of=env["as_of"])
    ctx.state["bundle"] = bundle
    return int(sum(len(t) for t in bundle.tables.values()))


def run_pipeline(data_dir: Path, as_of: str, out_dir: Path, console: Console) -> PipelineContext:
    """Run each stage in order under :func:`benchmarks.rss.measure`.

    Parameters
    ----------
    data_dir : Path
        The parquet folder.
    as_of : str
        Screening date (ISO).
    out_dir : Path
        Where the export stage writes (a temporary folder).
    console : rich Console
        For the progress line.
    """
    ctx = PipelineContext()
    env = {
        "data_dir": Path(data_dir),
        "as_of": dt.date.fromisoformat(as_of),
        "out_dir": Path(out_dir),
    }
    plan = dict(_stage_plan())
    blocked = ""
    for name in STAGES:
        if blocked:
            ctx.stages.append(StageResult(name, None, f"unavailable: {blocked}"))
            continue
        fn = plan.get(name)
        if fn is None:
            blocked = f"stage '{name}' not wired yet"
            ctx.stages.append(StageResult(name, None, f"unavailable: {blocked}"))
            continue
        try:
            with console.status(f"stage {name}…"), measure() as m:
                m.rows = fn(ctx, env)
        except ImportError as exc:
            blocked = f"{name}: {exc}"
            ctx.stages.append(StageResult(name, None, f"unavailable: {exc}"))
        except Exception as exc:  # reported, not hidden: the run exits non-zero
            traceback.print_exc()
            blocked = f"{name} failed"
            ctx.stages.append(StageResult(name, None, f"failed: {type(exc).__name__}: {exc}"))
        else:
            ctx.stages.append(StageResult(name, m, "info", f"RSS {m.method}"))
    return ctx


def _booster(scorer: Any) -> Any:
    """The LightGBM booster inside a learned scorer, or ``None`` (expert scorecard)."""
    for attr in ("booster_", "_booster", "booster"):
        b = getattr(scorer, attr, None)
        if b is not None and hasattr(b, "predict"):
            return b
    return None


def time_explain_vs_contrib(
    ctx: PipelineContext, n_rows: int
) -> tuple[Measurement, Measurement, int] | None:
    """Time our explanation path and ``Booster.predict(pred_contrib=True)`` on the same rows.

    Returns ``None`` when the pipeline produced no learned model or no model input.
    """
    booster = _booster(ctx.scorer)
    if booster is None or ctx.X is None or not len(ctx.X):
        return None
    rows = ctx.X.iloc[: min(n_rows, len(ctx.X))]
    with measure() as ours:
        ctx.scorer.score(rows, explain=True)
    ours.rows = len(rows)
    model_input = rows[list(booster.feature_name())] if hasattr(booster, "feature_name") else rows
    with measure() as theirs:
        booster.predict(model_input, pred_contrib=True)
    theirs.rows = len(rows)
    return ours, theirs, len(rows)


def naive_inputs(
    ctx: PipelineContext, firms: list[str]
) -> tuple[Any, pd.DataFrame | None, pd.DataFrame | None]:
    """Booster, model rows and whitelist rows of the sampled firms for the naive baseline."""
    booster = _booster(ctx.scorer)
    X = None
    if booster is not None and ctx.X is not None:
        X = ctx.X.loc[ctx.X.index.intersection(firms)]
        if hasattr(booster, "feature_name"):
            X = X[list(booster.feature_name())]
    sheet = None
    if ctx.sheet is not None:
        key = ctx.sheet["uscc"] if "uscc" in ctx.sheet else ctx.sheet.index.to_series()
        sheet = ctx.sheet[key.isin(firms).to_numpy()]
    return booster, X, sheet


def model_quality_rows() -> list[BenchRow]:
    """Rows of the models issue's quality comparisons (``benchmarks/bench_model_quality.py``)."""
    try:
        module = importlib.import_module("benchmarks.bench_model_quality")
    except ImportError as exc:
        return [BenchRow("quality", "model quality", status=f"unavailable: {exc}")]
    fn = getattr(module, "quality_rows", None)
    if fn is None:
        return [BenchRow("quality", "model quality", status="unavailable: no quality_rows()")]
    out = []
    for rec in fn():
        out.append(
            BenchRow(
                "quality",
                str(rec.get("comparison", rec.get("stage", "?"))),
                value=_float(rec.get("value")),
                target=str(rec.get("target", "")),
                status=str(rec.get("status", "info")),
                note=str(rec.get("note", "")),
            )
        )
    return out


def _float(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else v
