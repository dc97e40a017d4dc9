"""Run the stages of ``screening run`` one by one, each under the stage meter.

This module is the only place where the benchmark knows the project's pipeline API. A stage
whose code is not importable yet is reported as ``unavailable`` (with the import error), and
the stages after it are skipped; a stage that raises is reported as ``failed``.
"""

from __future__ import annotations

import gc
import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from benchmarks.quality import QUALITY_FILE, oracle_validation
from benchmarks.report import BenchRow
from benchmarks.rss import Measurement, RSSSampler, kernel_peak_rss_mb, measure, reset_peak_rss

# Stage names as the table shows them, keyed by the pipeline's own names.
STAGE_LABELS = {
    "validate": "load+validate",
    "features": "features",
    "knockouts": "knock-outs",
    "score": "score",
    "select": "select",
    "explain": "explain",
    "export": "export",
}
STAGES = tuple(STAGE_LABELS.values())


@dataclass
class StageResult:
    """One stage's measurement and status (targets are applied by the caller)."""

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
    total : Measurement or None
        The whole run, including the glue between stages.
    features : DataFrame or None
        The feature matrix, indexed by ``uscc``.
    scorer : object or None
        The scorer used (``models.base.Scorer``).
    X : DataFrame or None
        Model input rows of the firms the explain stage explained, indexed by ``uscc``.
    sheet : DataFrame or None
        The screened-firms table (what the naive baseline writes to Excel).
    """

    stages: list[StageResult] = field(default_factory=list)
    total: Measurement | None = None
    features: pd.DataFrame | None = None
    scorer: Any = None
    X: pd.DataFrame | None = None
    sheet: pd.DataFrame | None = None


class StageMeter:
    """``progress(stage, event, rows)`` callback of ``screening.run`` that meters each stage.

    On ``start`` it resets the kernel's RSS high-water mark and starts a sampling thread; on
    ``end`` it records wall time, peak RSS and the rows the pipeline reports.
    """

    def __init__(self, console: Console | None = None, on_start=None) -> None:
        self.console = console
        self.on_start = on_start
        self.results: list[StageResult] = []
        self._open: tuple[str, float, RSSSampler, bool] | None = None

    def __call__(self, stage: str, event: str, rows: int | None) -> None:
        label = STAGE_LABELS.get(stage, stage)
        if event == "start":
            if self.console is not None:
                self.console.print(f"[dim]stage {label}…[/]")
            if self.on_start is not None:
                self.on_start(label)
            hwm_ok = reset_peak_rss()
            self._open = (label, time.perf_counter(), RSSSampler().start(), hwm_ok)
        elif event == "end" and self._open is not None:
            name, t0, sampler, hwm_ok = self._open
            wall = time.perf_counter() - t0
            sampled = sampler.stop()
            hwm = kernel_peak_rss_mb() if hwm_ok else None
            m = Measurement(wall, max(sampled, hwm or 0.0), "hwm+sampler" if hwm else "sampler")
            m.rows = rows
            self.results.append(StageResult(name, m, "info", f"RSS {m.method}"))
            self._open = None


def largest_package(folder: Path) -> tuple[str, dict[str, int]] | None:
    """The bank package under ``folder`` with the most bytes: its id and each file's size
    (bytes, by name). ``None`` when there is no package."""
    best: tuple[str, dict[str, int]] | None = None
    for pkg in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        sizes = {f.name: f.stat().st_size for f in sorted(pkg.iterdir()) if f.is_file()}
        if best is None or sum(sizes.values()) > sum(best[1].values()):
            best = (pkg.name, sizes)
    return best


def _mb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _note_largest_package(results: list[StageResult], folder: Path) -> None:
    """Add the largest package's file sizes to the export stage's note and extra."""
    found = largest_package(folder)
    export = [r for r in results if r.name == STAGE_LABELS["export"] and r.measurement]
    if found is None or not export:
        return
    bank, sizes = found
    listed = ", ".join(f"{name} {_mb(n)}" for name, n in sorted(sizes.items(), key=lambda x: -x[1]))
    export[-1].note += f"; largest package {bank}: {listed}"
    export[-1].measurement.extra["largest_package"] = {"bank": bank, "bytes": sizes}


def run_pipeline(
    data_dir: Path,
    as_of: str,
    out_dir: Path,
    console: Console,
    *,
    scorer: Any,
    config: Any | None = None,
    export: bool = True,
    on_stage=None,
) -> PipelineContext:
    """Run ``screening run`` stage by stage with a :class:`StageMeter` on its progress hook.

    It composes the pipeline's public steps as ``screening.run.output.run_screening`` does
    (``prepare_inputs`` → ``screen`` → ``for_export`` → ``write_outputs`` in an atomic
    folder), because the benchmark also needs the feature matrix and the screened table that
    ``run_screening`` does not return; holding the matrix through export is the one
    difference.

    Parameters
    ----------
    data_dir : Path
        The parquet folder.
    as_of : str
        Screening date (ISO).
    out_dir : Path
        Parent of the run's output folder (a temporary folder).
    console : rich Console
        For progress lines.
    scorer : Scorer
        The model to score with.
    config : RunConfig, optional
        Default: the shipped ``run.toml``.
    export : bool
        ``False`` leaves out the export stage (reported as not run).
    on_stage : callable, optional
        Called with each stage's name when it starts.
    """
    ctx = PipelineContext(scorer=scorer)
    try:
        from data_contracts import release_memory
        from screening.run.config import load_run_config
        from screening.run.output import atomic_folder, write_outputs
        from screening.run.pipeline import Timer, batch_id, for_export, prepare_inputs, screen
    except ImportError as exc:
        ctx.stages = [StageResult(n, None, f"unavailable: {exc}") for n in STAGES]
        return ctx
    config = config if config is not None else load_run_config()
    meter = StageMeter(console, on_stage)
    timer = Timer(meter)
    as_of_ts = pd.Timestamp(as_of).normalize()
    out = Path(out_dir) / "run"
    sampler = RSSSampler().start()
    t0 = time.perf_counter()
    failure = None
    try:
        inputs = prepare_inputs(
            Path(data_dir),
            as_of_ts,
            timer,
            memory_limit=config.resources.memory_limit,
        )
        s = screen(inputs, scorer=scorer, config=config, as_of=as_of_ts, timer=timer)
        hashes = {t: f.get("sha256", "") for t, f in sorted(inputs.files.items())}
        batch = batch_id(as_of_ts, hashes, s.model_id, config.digest())
        # as run_screening does before export, except that the feature matrix stays for the
        # reference checks after the run (0.5 GB at 1M firms, counted in export's peak)
        matrix = inputs.matrix
        s = for_export(s, config.report.patents_per_firm)
        del inputs
        gc.collect()
        release_memory()
        if export:
            with atomic_folder(out) as tmp, timer.stage("export") as box:
                write_outputs(s, tmp, config=config, batch=batch, timer=timer)
                box["rows"] = len(s.screened)
            _note_largest_package(meter.results, out / "packages")
    except Exception as exc:  # reported as a failed stage; the run exits non-zero
        traceback.print_exc()
        failure = f"failed: {type(exc).__name__}: {exc}"
    total = Measurement(time.perf_counter() - t0, 0.0, "sampler")
    peaks = [r.measurement.peak_rss_mb for r in meter.results if r.measurement is not None]
    total.peak_rss_mb = max([sampler.stop(), *peaks])
    ctx.total = total
    ctx.stages = list(meter.results)
    done = {r.name for r in meter.results}
    missing = [name for name in STAGES if name not in done]
    if failure is not None and not missing:
        ctx.stages.append(StageResult("glue between stages", None, failure))
    for i, name in enumerate(missing):
        if name == "export" and not export and failure is None:
            status = "unavailable: not run (--skip-export)"
        elif failure is None:
            status = "unavailable: not reached"
        else:
            status = failure if i == 0 else "unavailable: an earlier stage failed"
        ctx.stages.append(StageResult(name, None, status))
    if failure is None:
        matrix = matrix.drop_duplicates("uscc").set_index("uscc")
        ctx.features = matrix
        feats = list(getattr(scorer, "feature_names_in_", []))
        who = s.whitelist["uscc"] if "uscc" in s.whitelist else pd.Series([], dtype="str")
        if feats and len(who):
            ctx.X = matrix.loc[who.to_numpy(), feats]
        ctx.sheet = s.screened
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
    """Time our explanation path and LightGBM's ``pred_contrib`` on the same rows.

    Ours is ``scorer.score(X, explain=True)`` (PD, score, grade and per-feature points).
    Theirs is the model's own column encoding followed by
    ``booster.predict(M, pred_contrib=True)`` with the same thread count. Returns ``None``
    when the pipeline produced no learned model or explained no firm.
    """
    booster = _booster(ctx.scorer)
    if booster is None or ctx.X is None or not len(ctx.X):
        return None
    from models._tabular import check_columns, encode

    scorer = ctx.scorer
    rows = ctx.X.iloc[: min(n_rows, len(ctx.X))]
    threads = int(getattr(scorer, "num_threads", 0) or 0)
    with measure() as ours:
        scorer.score(rows, explain=True)
    ours.rows = len(rows)
    with measure() as theirs:
        M = encode(check_columns(rows, scorer.feature_names_in_), scorer.columns_)
        booster.predict(M, pred_contrib=True, num_threads=threads)
    theirs.rows = len(rows)
    return ours, theirs, len(rows)


def naive_inputs(
    ctx: PipelineContext, firms: list[str]
) -> tuple[Any, pd.DataFrame | None, pd.DataFrame | None]:
    """Booster, model rows and screened rows of the sampled firms for the naive baseline.

    The naive analyst explains every sampled firm (not only whitelisted ones) and writes the
    screened table of the sample to Excel.
    """
    booster = _booster(ctx.scorer)
    X = None
    if booster is not None and ctx.features is not None:
        from models._tabular import check_columns, encode

        chosen = ctx.features.loc[ctx.features.index.intersection(firms)]
        X = pd.DataFrame(
            encode(check_columns(chosen, ctx.scorer.feature_names_in_), ctx.scorer.columns_),
            index=chosen.index,
        )
    sheet = None
    if ctx.sheet is not None:
        sheet = ctx.sheet[ctx.sheet["uscc"].isin(firms).to_numpy()]
    return booster, X, sheet


def prepare_scorer(
    data_dir: Path, cache_dir: Path, kind: str, console: Console
) -> tuple[Any, BenchRow, Path | None]:
    """The scorer the benchmark screens with, and a row saying what it cost to get.

    ``learned``: a LightGBM model trained on the folder's loan ledger exactly as
    ``screening train`` does (labels → point-in-time features → fit), cached beside the data
    under a digest of the feature and model code, so a rerun does not retrain. Falls back to
    the expert scorecard when the folder has no usable ledger. ``expert``: the cold-start
    scorecard. Any other value is the path of a model folder (``screening model fit`` /
    ``screening train`` output), loaded as is: a national run can screen with a model
    trained on a smaller sample of the same ledger. Training is not a stage of
    ``screening run`` and is reported for information.

    Returns the scorer, the row, and the learned model's folder (``None`` for the expert
    scorecard), where :data:`benchmarks.quality.QUALITY_FILE` holds its oracle comparison.
    """
    from models import ExpertScorecard, load_model

    if kind not in ("learned", "expert"):
        folder = Path(kind)
        if not (folder / "model_card.json").is_file():
            raise ValueError(
                "The 'model' option must be 'learned', 'expert' or a model folder. "
                f"Got {kind!r} instead (no model_card.json there)."
            )
        return (
            load_model(folder),
            BenchRow("model", "learned model (given)", note=str(folder)),
            folder,
        )
    if kind == "expert":
        return ExpertScorecard(), BenchRow("model", "expert scorecard (cold start)"), None
    folder = Path(cache_dir) / f"model-{Path(data_dir).name}-{code_digest()}"
    if (folder / "model_card.json").is_file():
        try:
            row = BenchRow("model", "learned model (cached)", note=str(folder))
            return load_model(folder), row, folder
        except Exception:  # a stale or partial folder: retrain below
            pass
    from data_contracts import read_data_dir
    from data_contracts.errors import IPWhitelistError
    from screening.retrain.config import RetrainConfig
    from screening.retrain.labels import build_training_set
    from screening.retrain.pipeline import ledger_as_of
    from screening.retrain.train import fit_model

    try:
        with console.status("training the learned model on the sample ledger…"), measure() as m:
            bundle = read_data_dir(data_dir)
            ts = build_training_set(bundle, as_of=ledger_as_of(bundle))
            del bundle
            model = fit_model(ts, RetrainConfig())
            model.save(str(folder))
            oracle = oracle_validation(model, ts, data_dir)
            if oracle is not None:
                (folder / QUALITY_FILE).write_text(json.dumps(oracle, indent=2) + "\n")
    except IPWhitelistError as exc:
        note = f"no learned model ({exc.cause}); expert scorecard used"
        return ExpertScorecard(), BenchRow("model", "expert scorecard (fallback)", note=note), None
    except Exception as exc:  # a bug in training: reported as failed, the run goes on
        traceback.print_exc()
        status = f"failed: {type(exc).__name__}: {exc}"
        row = BenchRow("model", "train learned model", status=status, note="expert scorecard used")
        return ExpertScorecard(), row, None
    m.rows = len(ts)
    row = BenchRow(
        "model",
        "train learned model (not a run stage)",
        wall_s=m.wall_s,
        peak_rss_mb=m.peak_rss_mb,
        rows=m.rows,
        note=f"{len(ts):,} labelled loans; {model.booster_.num_trees()} trees; cached in {folder.name}",
    )
    return model, row, folder


def code_digest() -> str:
    """Short hash of the feature, model and contract code: a cached model is reused only
    while the code that built it is unchanged."""
    import hashlib

    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for pkg in ("data_contracts", "features", "models"):
        for f in sorted((root / pkg).rglob("*")):
            if f.suffix in (".py", ".yaml") and f.is_file():
                h.update(f.relative_to(root).as_posix().encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:12]
