"""``make bench``: time and size every stage of ``screening run`` and compare it with yardsticks.

Usage::

    python -m benchmarks.run --size 100000          # default of `make bench`
    python -m benchmarks.run --size 1000000         # the national run

What one run does, in this order (so that each yardstick is measured in a process that does
not yet hold the pipeline's memory):

1. generate (or reuse from ``benchmarks/.cache/<size>-<seed>/``) a parquet data folder;
2. time the DuckDB reference aggregation of the 32 indicators (:mod:`benchmarks.reference_duckdb`);
3. run and time each stage of ``screening run`` in-process (:mod:`benchmarks.pipeline`);
4. time LightGBM's own ``pred_contrib`` on rows our explain stage explains;
5. run the naive baseline (:mod:`benchmarks.naive_baseline`) on a 1/20 sample, extrapolated;
6. run the model-quality comparisons (``benchmarks/bench_model_quality.py``);
7. compare with the latest result at the other size (100k ↔ 1M) for t(1M)/t(100k);

then print one table and write ``benchmarks/results/<date>-<size>.json``.
"""

from __future__ import annotations

import gc
import json
import math
import os
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console

from benchmarks.data import BenchData, ensure_data
from benchmarks.machine import describe_machine
from benchmarks.quality import sample_rows, shared_data_rows
from benchmarks.report import (
    NATIONAL_SIZE,
    BenchRow,
    Target,
    apply_target,
    render_table,
    write_json_atomic,
)
from benchmarks.rss import Measurement, MemoryGuard, measure
from data_contracts.errors import IPWhitelistError

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
CACHE_DIR = ROOT / "benchmarks" / ".cache"
SCHEMA_VERSION = 1

# Targets of the issues (features, run, models); sizes are firms.
T_FEATURES_S = Target(60, unit="s", at_size=NATIONAL_SIZE)
T_FEATURES_VS_DUCKDB = Target(1.5, unit="x")
T_E2E_S = Target(180, unit="s", at_size=NATIONAL_SIZE)
T_E2E_MB = Target(8000, unit="MB", at_size=NATIONAL_SIZE)
T_EXPLAIN_VS_CONTRIB = Target(1.5, unit="x")
T_SCALING = Target(12, unit="x")
T_SPEEDUP = Target(20, upper=False, unit="x")

# Wide enough for the table when output goes to a file or a pipe (`make bench | tee`).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def _row(section: str, stage: str, m: Measurement | None, **kw: object) -> BenchRow:
    if m is None:
        return BenchRow(section, stage, **kw)  # type: ignore[arg-type]
    kw.setdefault("extra", dict(m.extra))
    return BenchRow(
        section,
        stage,
        wall_s=m.wall_s,
        peak_rss_mb=m.peak_rss_mb,
        rows=m.rows,
        **kw,  # type: ignore[arg-type]
    )


def _data_row(data: BenchData) -> BenchRow:
    total = sum(data.rows.values())
    note = f"{data.generator}; " + ", ".join(f"{k} {v:,}" for k, v in data.rows.items())
    if data.cached:
        return BenchRow("data", "generate (cached)", rows=total, note=note)
    return _row("data", "generate", data.generation, note=note + f"; RSS {data.generation.method}")


# DuckDB needs some working memory even for a tiny folder.
DUCKDB_MIN_MEMORY_MB = 256


def bench_reference(
    data: BenchData, as_of: str, memory_limit: str | None = None
) -> tuple[BenchRow, pd.DataFrame | None]:
    """Time the DuckDB reference aggregation over the whole folder."""
    from benchmarks.reference_duckdb import reference_indicators

    with console.status("DuckDB reference aggregation of the 32 indicators…"), measure() as m:
        frame = reference_indicators(data.path, as_of, memory_limit=memory_limit)
    m.rows = data.rows.get("patents", 0)
    row = _row(
        "reference",
        "DuckDB SQL, 32 indicators",
        m,
        note=f"{len(frame):,} firms; rows/s = patent rows; one SQL statement over parquet",
    )
    return row, frame


def _agreement(ours: pd.DataFrame, ref: pd.DataFrame) -> dict[str, float]:
    """Per indicator: share of firms where the features layer and the reference agree."""
    common = [c for c in ref.columns if c in ours.columns]
    firms = ref.index.intersection(ours.index)
    out = {}
    for c in common:
        a = pd.to_numeric(ours.loc[firms, c], errors="coerce").to_numpy(dtype="float64")
        b = ref.loc[firms, c].to_numpy(dtype="float64")
        same = np.isclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True)
        out[c] = float(same.mean()) if len(same) else math.nan
    return out


def bench_contrib(ctx: object, n_rows: int) -> list[BenchRow]:
    """Our explanation path versus LightGBM's ``pred_contrib`` on the same rows."""
    from benchmarks.pipeline import time_explain_vs_contrib

    result = time_explain_vs_contrib(ctx, n_rows)
    if result is None:
        return [
            BenchRow("reference", "LightGBM pred_contrib", status="unavailable: no learned model")
        ]
    ours, theirs, rows = result
    ratio = ours.wall_s / theirs.wall_s if theirs.wall_s else math.nan
    return [
        _row("reference", "LightGBM pred_contrib", theirs, note=f"same {rows:,} rows as below"),
        _row(
            "reference",
            "our explanations, same rows",
            ours,
            note="scorer.score(X, explain=True): PD, score, grade, points per feature",
        ),
        apply_target(
            BenchRow(
                "reference", "explain ÷ pred_contrib", value=ratio, note="same rows, same model"
            ),
            T_EXPLAIN_VS_CONTRIB,
            0,
        ),
    ]


def bench_naive(
    data: BenchData, as_of: str, fraction: float, ctx: object, ours_s: dict[str, float], size: int
) -> list[BenchRow]:
    """Run the naive baseline on a deterministic 1/20 sample and extrapolate linearly."""
    from benchmarks.naive_baseline import (
        load_tables,
        naive_excel,
        naive_explain,
        naive_indicators,
        our_excel,
        sample_firms,
    )
    from benchmarks.pipeline import naive_inputs
    from benchmarks.sampling import write_sample_dir

    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="bench-naive-") as tmp:
        firms = pd.read_parquet(data.path / "enterprises.parquet", columns=["uscc"])["uscc"]
        spec = sample_firms(firms.tolist(), fraction)
        sample_dir = write_sample_dir(data.path, Path(tmp) / "sample", spec.firms)
        note = (
            f"1/{round(spec.factor)} sample ({len(spec.firms):,} firms), time × {spec.factor:.1f}"
        )
        with (
            console.status(f"naive indicators: groupby().apply on {len(spec.firms):,} firms…"),
            measure() as m,
        ):
            naive_indicators(load_tables(sample_dir), as_of)
        m.rows = len(spec.firms)
        # name -> (naive measurement, our seconds for the same work, naive scale-up factor)
        pieces = {"indicators": (m, ours_s.get("features"), spec.factor)}
        booster, X_sample, sheet = naive_inputs(ctx, spec.firms)
        if booster is not None and X_sample is not None and len(X_sample):
            with (
                console.status(
                    f"naive explanations: shap.TreeExplainer on {len(X_sample):,} rows…"
                ),
                measure() as m2,
            ):
                naive_explain(booster, X_sample)
            m2.rows = len(X_sample)
            # scaled to the rows our explain stage explains (whitelisted and nominated firms),
            # not to every firm: the same work on both sides
            explained = len(ctx.X) if getattr(ctx, "X", None) is not None else 0
            pieces["explanations"] = (m2, ours_s.get("explain"), explained / len(X_sample))
        if sheet is not None:
            with (
                console.status(f"naive Excel: pandas+openpyxl, {len(sheet):,} rows…"),
                measure() as m3,
            ):
                naive_excel(sheet, Path(tmp) / "naive.xlsx")
            m3.rows = len(sheet)
            # our Excel writer on the same table: the export stage writes much more (four
            # banks' workbooks, CSV, JSON, HTML, manifests), so it is not the same work
            with measure() as m4:
                our_excel(sheet, Path(tmp) / "ours.xlsx")
            pieces["excel"] = (m3, m4.wall_s * spec.factor, spec.factor)
            rows.append(
                BenchRow(
                    "naive",
                    "our Excel writer, same table (extrapolated)",
                    wall_s=m4.wall_s * spec.factor,
                    peak_rss_mb=m4.peak_rss_mb,
                    rows=len(sheet) * spec.factor,
                    note=f"{note}; screening.run.xlsx.write_workbook; sample {m4.wall_s:.2f} s",
                )
            )
    naive_total = 0.0
    ours_total = 0.0
    complete = True
    for name, (meas, ours, factor) in pieces.items():
        extrapolated = meas.wall_s * factor
        naive_total += extrapolated
        if ours is None:
            complete = False
        else:
            ours_total += ours
        speedup = extrapolated / ours if ours else None
        rows.append(
            BenchRow(
                "naive",
                f"naive {name} (extrapolated)",
                wall_s=extrapolated,
                peak_rss_mb=meas.peak_rss_mb,
                rows=(meas.rows or 0) * factor,
                value=speedup,
                note=f"{note if name != 'explanations' else 'scaled to the rows we explain'}; "
                f"sample {meas.wall_s:.2f} s × {factor:.1f}; value = our speed-up",
                extra={"sample_wall_s": meas.wall_s, "sample_rows": meas.rows, "factor": factor},
            )
        )
    missing = {"explanations", "excel"} - pieces.keys()
    total = BenchRow(
        "naive",
        "speed-up vs naive (" + " + ".join(pieces) + ")",
        wall_s=naive_total,
        value=naive_total / ours_total if complete and ours_total else None,
        note="naive extrapolated ÷ ours on the same work (features stage, explain stage, "
        "our Excel writer on the same table)"
        + (f"; not measured: {', '.join(sorted(missing))}" if missing else ""),
    )
    rows.append(apply_target(total, T_SPEEDUP, size))
    return rows


def scaling_rows(results_dir: Path, size: int, stage_rows: list[BenchRow]) -> list[BenchRow]:
    """t(1M)/t(100k) per pipeline stage and for the DuckDB reference, from the newest
    result file of the other size (only rows measured in both runs)."""
    small, large = 100_000, NATIONAL_SIZE
    if size not in (small, large):
        return []
    other = large if size == small else small
    files = sorted(results_dir.glob(f"*-{other}.json"))
    if not files:
        return [
            BenchRow(
                "scaling",
                f"t({_k(large)})/t({_k(small)})",
                status=f"unavailable: no {_k(other)} result yet",
            )
        ]
    previous = json.loads(files[-1].read_text())
    scaled = ("pipeline", "reference")
    prev = {
        (r["section"], r["stage"]): r for r in previous.get("rows", []) if r["section"] in scaled
    }
    out = []
    for row in stage_rows:
        key = (row.section, row.stage)
        if row.section not in scaled or row.wall_s is None or key not in prev:
            continue
        t_other = prev[key].get("wall_s")
        if not t_other:
            continue
        t_large, t_small = (row.wall_s, t_other) if size == large else (t_other, row.wall_s)
        out.append(
            apply_target(
                BenchRow(
                    "scaling",
                    f"{row.stage}: t(1M)/t(100k)",
                    value=t_large / t_small,
                    note=f"other size from {files[-1].name}",
                ),
                T_SCALING,
                size,
            )
        )
    return out


def _k(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


@app.command()
def main(
    size: Annotated[
        int, typer.Option(help="Number of firms (100000 default, 1000000 national).")
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="Sample-data seed.")] = 7,
    as_of: Annotated[
        str | None, typer.Option(help="Screening date (default: the data's own).")
    ] = None,
    naive_fraction: Annotated[
        float, typer.Option(help="Share of firms the naive baseline runs on.")
    ] = 0.05,
    contrib_rows: Annotated[
        int, typer.Option(help="Rows for the explain vs pred_contrib timing.")
    ] = 20_000,
    results_dir: Annotated[
        Path, typer.Option(help="Where <date>-<size>.json is written.")
    ] = RESULTS_DIR,
    cache_dir: Annotated[Path, typer.Option(help="Where generated data is cached.")] = CACHE_DIR,
    generator: Annotated[str, typer.Option(help="auto | screening | synth")] = "auto",
    model: Annotated[
        str,
        typer.Option(help="learned (trained on the sample ledger) | expert | a model folder"),
    ] = "learned",
    skip_naive: Annotated[
        bool, typer.Option("--skip-naive", help="Leave out the naive baseline.")
    ] = False,
    skip_quality: Annotated[
        bool, typer.Option("--skip-quality", help="Leave out model quality.")
    ] = False,
    quality_folds: Annotated[int, typer.Option(help="CV folds on the shared data sets.")] = 3,
    skip_export: Annotated[
        bool, typer.Option("--skip-export", help="Leave out the export stage (reported).")
    ] = False,
    max_rss_gb: Annotated[
        float, typer.Option(help="Stop (saving partial results) above this resident size.")
    ] = 16.0,
    save: Annotated[bool, typer.Option(help="Write the JSON result.")] = True,
    config: Annotated[
        Path | None,
        typer.Option(help="run.toml for the pipeline (default: shipped), e.g. with [resources]."),
    ] = None,
) -> None:
    """Generate data, run and time every stage, compare with the yardsticks, print and save."""
    try:
        payload, failed = run_benchmark(
            size=size,
            seed=seed,
            as_of=as_of,
            naive_fraction=naive_fraction,
            contrib_rows=contrib_rows,
            results_dir=results_dir,
            cache_dir=cache_dir,
            generator=generator,
            model=model,
            skip_naive=skip_naive,
            skip_quality=skip_quality,
            quality_folds=quality_folds,
            skip_export=skip_export,
            max_rss_gb=max_rss_gb,
            save=save,
            config_path=config,
        )
    except IPWhitelistError as exc:
        err = Console(stderr=True, highlight=False)
        err.print(f"[bold red]error:[/] {exc.cause}")
        if exc.remedy:
            err.print(f"[bold]remedy:[/] {exc.remedy}")
        raise typer.Exit(exc.exit_code) from None
    except ValueError as exc:
        err = Console(stderr=True, highlight=False)
        err.print(f"[bold red]error:[/] {exc}")
        err.print("[bold]remedy:[/] see `python -m benchmarks.run --help`.")
        raise typer.Exit(2) from None
    if failed:
        raise typer.Exit(1)


def run_benchmark(
    *,
    size: int,
    seed: int = 7,
    as_of: str | None = None,
    naive_fraction: float = 0.05,
    contrib_rows: int = 20_000,
    results_dir: Path = RESULTS_DIR,
    cache_dir: Path = CACHE_DIR,
    generator: str = "auto",
    model: str = "learned",
    skip_naive: bool = False,
    skip_quality: bool = False,
    quality_folds: int = 3,
    skip_export: bool = False,
    max_rss_gb: float = 16.0,
    save: bool = True,
    config_path: Path | None = None,
) -> tuple[dict[str, object], bool]:
    """Run the whole benchmark; return the JSON payload and whether any stage failed."""
    from benchmarks.pipeline import code_digest, prepare_scorer, run_pipeline
    from screening.run.config import load_run_config

    run_config = load_run_config(config_path)  # fails before any data is generated

    started = datetime.now(UTC)
    machine = describe_machine(ROOT)
    with console.status(f"preparing {size:,} firms of sample data…"):
        data = ensure_data(size, seed, cache_dir, generator=generator, max_rss_mb=max_rss_gb * 1024)
    as_of = as_of or data.as_of
    console.print(
        f"data: {data.path} ({data.generator}{', cached' if data.cached else ''}); as_of {as_of}"
    )
    state = _RunState(
        started=started,
        size=size,
        seed=seed,
        as_of=as_of,
        data=data,
        machine=machine,
        naive_fraction=naive_fraction,
        save=save,
        results_dir=results_dir,
    )
    rows, failures = state.rows, state.failures
    rows.append(_data_row(data))
    limit_mb = max_rss_gb * 1024
    guard = MemoryGuard(limit_mb, lambda rss: state.memory_exceeded(rss, limit_mb)).start()

    state.activity = "DuckDB reference"
    # DuckDB may use 60% of the guard's budget and spills beyond it, rather than tripping it.
    # In MB with a floor: a small budget formatted in GB rounds to "0.0GB", which makes DuckDB
    # fail at its first allocation (a race with the guard that the guard should win).
    duckdb_mb = max(0.6 * limit_mb, DUCKDB_MIN_MEMORY_MB)
    ref_row, ref_frame = bench_reference(data, as_of, f"{duckdb_mb:.0f}MB")
    state.pending.append(ref_row)  # placed after the pipeline rows, kept if the guard fires
    gc.collect()
    state.activity = "model preparation"
    scorer, model_row, model_dir = prepare_scorer(data.path, cache_dir, model, console)
    rows.append(model_row)
    if model_row.status.startswith("failed"):
        failures.append(f"model: {model_row.status}")
    gc.collect()

    with tempfile.TemporaryDirectory(prefix="bench-run-") as out_dir:
        ctx = run_pipeline(
            data.path,
            as_of,
            Path(out_dir),
            console,
            scorer=scorer,
            config=run_config,
            export=not skip_export,
            on_stage=state.enter_stage,
        )
    res = run_config.resources
    rows.append(
        BenchRow(
            "pipeline",
            "resources (run.toml)",
            note=f"workers {res.worker_count()}, "
            f"DuckDB memory_limit {res.duckdb_memory_limit or 'default'}",
        )
    )
    state.activity, state.stage_started = "comparisons", None
    stage_rows = []
    for stage in ctx.stages:
        row = _row("pipeline", stage.name, stage.measurement, status=stage.status, note=stage.note)
        if stage.name == "features" and stage.measurement is not None:
            apply_target(row, T_FEATURES_S, size)
        stage_rows.append(row)
        if stage.status.startswith("failed"):
            failures.append(f"{stage.name}: {stage.status}")
    rows.extend(stage_rows)
    complete = bool(stage_rows) and all(r.wall_s is not None for r in stage_rows)
    if ctx.total is not None:
        what = "whole run incl. glue between stages" if complete else "run incomplete"
        e2e_t = BenchRow(
            "pipeline", "end to end: time", wall_s=ctx.total.wall_s, rows=size, note=what
        )
        e2e_m = BenchRow(
            "pipeline", "end to end: peak memory", peak_rss_mb=ctx.total.peak_rss_mb, note=what
        )
        rows.append(apply_target(e2e_t, T_E2E_S, size))
        rows.append(apply_target(e2e_m, T_E2E_MB, size))
        if not complete:
            e2e_t.status = e2e_m.status = "unavailable: pipeline incomplete"
    rows.append(ref_row)
    ours_s = {r.stage: r.wall_s for r in stage_rows if r.wall_s is not None}
    if "features" in ours_s and ref_row.wall_s:
        agreement = _agreement(ctx.features, ref_frame) if ctx.features is not None else {}
        worst = min(agreement, key=agreement.get) if agreement else None
        ratio_row = BenchRow(
            "reference",
            "features ÷ DuckDB reference",
            value=ours_s["features"] / ref_row.wall_s,
            note=(
                f"same values on ≥{agreement[worst]:.1%} of firms for each of the "
                f"{len(agreement)} indicators (least: {worst}); the rest is name matching "
                "(former names, fuzzy) that the reference does not do"
                if worst
                else "no shared indicator columns"
            ),
            extra={"agreement": agreement},
        )
        rows.append(apply_target(ratio_row, T_FEATURES_VS_DUCKDB, size))
    else:
        rows.append(
            BenchRow(
                "reference",
                "features ÷ DuckDB reference",
                status="unavailable: features stage not measured",
            )
        )
    del ref_frame
    gc.collect()

    try:
        rows.extend(bench_contrib(ctx, contrib_rows))
    except Exception as exc:  # a benchmark reports a broken comparison and carries on
        failures.append(f"pred_contrib: {exc!r}")
        rows.append(
            BenchRow(
                "reference", "LightGBM pred_contrib", status=f"failed: {type(exc).__name__}: {exc}"
            )
        )
        traceback.print_exc()

    if not skip_naive:
        try:
            state.activity = "naive baseline"
            rows.extend(bench_naive(data, as_of, naive_fraction, ctx, ours_s, size))
        except Exception as exc:
            failures.append(f"naive: {exc!r}")
            rows.append(
                BenchRow("naive", "naive baseline", status=f"failed: {type(exc).__name__}: {exc}")
            )
            traceback.print_exc()
    quality_rows = [] if skip_quality else sample_rows(model_dir, data.path, ctx.sheet)
    del ctx
    gc.collect()

    rows.extend(scaling_rows(results_dir, size, stage_rows + [ref_row]))

    if not skip_quality:
        try:
            with console.status("model quality on the shared public data sets…"):
                cached = cache_dir / f"quality-{code_digest()}-{quality_folds}folds.json"
                state.activity = "model quality"
                rows.extend(quality_rows + shared_data_rows(quality_folds, cache=cached))
        except Exception as exc:
            failures.append(f"quality: {exc!r}")
            rows.append(
                BenchRow("quality", "model quality", status=f"failed: {type(exc).__name__}: {exc}")
            )
            traceback.print_exc()

    guard.stop()
    payload = state.finish()
    for failure in failures:
        console.print(f"[red]failed[/] {failure}")
    return payload, bool(failures)


class _RunState:
    """Everything measured so far, so that a run stopped by the memory guard still leaves
    its partial results behind."""

    def __init__(self, **meta: object) -> None:
        self.meta = meta
        self.rows: list[BenchRow] = []
        self.failures: list[str] = []
        self.pending: list[BenchRow] = []
        self.activity = "setup"
        self.stage_started: float | None = None

    def enter_stage(self, name: str) -> None:
        """Pipeline hook: remember which stage runs and since when."""
        self.activity = f"stage {name}"
        self.stage_started = time.perf_counter()

    def payload(self) -> dict[str, object]:
        m = self.meta
        data: BenchData = m["data"]  # type: ignore[assignment]
        return {
            "schema": SCHEMA_VERSION,
            "started_utc": m["started"].isoformat(timespec="seconds"),  # type: ignore[attr-defined]
            "size": m["size"],
            "seed": m["seed"],
            "as_of": m["as_of"],
            "data": {
                "path": str(data.path),
                "generator": data.generator,
                "cached": data.cached,
                "rows": data.rows,
            },
            "machine": m["machine"],
            "method": {
                "wall": "time.perf_counter around each stage, in one process",
                "peak_rss": "max(kernel VmHWM after resetting it via /proc/self/clear_refs, "
                "VmRSS sampled every 20 ms); whole process, all threads",
                "naive": f"run on 1/{round(1 / m['naive_fraction'])} of firms, "  # type: ignore[operator]
                "extrapolated linearly",
            },
            "rows": [r.to_json() for r in self.rows],
            "failures": self.failures,
        }

    def finish(self) -> dict[str, object]:
        """Print the table and write the JSON (when saving)."""
        m = self.meta
        machine = m["machine"]
        title = (
            f"make bench — {m['size']:,} firms, as_of {m['as_of']}, "
            f"{machine['cores']} cores, {machine['cpu_model']}"  # type: ignore[index]
        )
        console.print(render_table(self.rows, title))
        payload = self.payload()
        if m["save"]:
            day = m["started"].date().isoformat()  # type: ignore[attr-defined]
            path = Path(m["results_dir"]) / f"{day}-{m['size']}.json"  # type: ignore[arg-type]
            write_json_atomic(payload, path)
            console.print(f"results: {path}")
        return payload

    def memory_exceeded(self, rss_mb: float, limit_mb: float) -> None:
        """Guard callback: record the stop, save what was measured, end the process."""
        status = f"failed: resident memory {rss_mb / 1024:.1f} GB > guard {limit_mb / 1024:.1f} GB"
        running = (
            time.perf_counter() - self.stage_started if self.stage_started is not None else None
        )
        self.rows.append(
            BenchRow(
                "guard",
                f"memory guard during {self.activity}",
                wall_s=running,
                peak_rss_mb=rss_mb,
                status=status,
                note="wall s = time the stage had run when it was stopped",
            )
        )
        self.failures.append(f"memory guard during {self.activity}: {status}")
        self.rows.extend(r for r in self.pending if r not in self.rows)
        m = self.meta
        measured = [r for r in self.rows if r.section in ("pipeline", "reference")]
        self.rows.extend(scaling_rows(Path(m["results_dir"]), m["size"], measured))  # type: ignore[arg-type]
        try:
            self.finish()
        finally:
            console.print(f"[bold red]error:[/] stopped during {self.activity}: {status}")
            console.print(
                "[bold]remedy:[/] run a smaller --size, or raise --max-rss-gb on a machine "
                "with more free memory."
            )
            os._exit(3)


if __name__ == "__main__":  # pragma: no cover
    app(args=sys.argv[1:])
