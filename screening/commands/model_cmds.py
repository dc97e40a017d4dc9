"""``screening model``: fit and apply scoring models on any numeric/categorical table.

``fit`` and ``score`` work on generic tables (CSV or Parquet), so the model core can be
checked on public credit data as well as on the engine's own feature matrices; ``expert``
writes the cold-start expert scorecard as a model folder that ``score`` and the screening
run accept like a learned one.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from data_contracts.errors import ConfigError, DataError
from screening._atomic import write_via

_out = Console(highlight=False)

CHUNK_ROWS = 100_000


class Monotone(StrEnum):
    registry = "registry"
    auto = "auto"
    none = "none"


class Structure(StrEnum):
    additive = "additive"
    trees = "trees"


class Calibration(StrEnum):
    auto = "auto"
    platt = "platt"
    isotonic = "isotonic"
    none = "none"


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or Parquet table."""
    if not path.is_file():
        raise DataError(f"table {path} does not exist", "check the --table path")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise DataError(f"cannot read {path} as Parquet: {exc}", "check the file") from None
    if suffix != ".csv":
        raise DataError(
            f"table {path} must be .csv or .parquet, got {suffix or 'no extension'}",
            "convert the table to CSV or Parquet",
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"cannot parse {path}: {exc}", "check the CSV file") from None
    raise DataError(f"{path} is neither UTF-8 nor GB18030 text", "save the table as UTF-8 CSV")


def _require_columns(table: pd.DataFrame, path: Path, **columns: str | None) -> None:
    present = set(map(str, table.columns))
    for option, col in columns.items():
        if col is not None and col not in present:
            shown = ", ".join(list(map(str, table.columns))[:20])
            raise DataError(
                f"--{option.replace('_', '-')} column {col!r} is not in {path.name} "
                f"(columns: {shown})",
                f"pass one of the table's columns as --{option.replace('_', '-')}",
            )


def _write_csv_atomic(frame: pd.DataFrame, out: Path) -> None:
    # utf-8-sig so that Excel opens Chinese reasons correctly.
    write_via(
        out, lambda p: frame.to_csv(p, index=False, encoding="utf-8-sig", float_format="%.10g")
    )


def _metrics_table(summary: dict) -> Table:
    t = Table(title="validation metrics", show_header=True)
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key in (
        "validation",
        "n",
        "n_bad",
        "auc",
        "gini",
        "ks",
        "brier",
        "brier_raw",
        "brier_calibrated_cv",
        "calibration",
        "psi_score",
        "grades_monotone",
    ):
        if key in summary and summary[key] is not None:
            v = summary[key]
            t.add_row(key, f"{v:.4f}" if isinstance(v, float) else str(v))
    return t


def fit_cmd(
    table: Path = typer.Option(..., "--table", help="Feature table (.csv or .parquet)."),
    label: str = typer.Option(..., "--label", help="Binary label column (1 = default)."),
    out: Path = typer.Option(..., "--out", help="Model folder to write."),
    time_col: str | None = typer.Option(
        None, "--time-col", help="Loan date column: enables out-of-time validation."
    ),
    id_col: str | None = typer.Option(None, "--id", help="Row identifier column (not a feature)."),
    monotone: Monotone = typer.Option(
        Monotone.registry,
        "--monotone",
        help="Monotone constraints: registry signs, derived from data, or none.",
    ),
    folds: int = typer.Option(
        5, "--folds", help="Folds of stratified k-fold (without --time-col)."
    ),
    structure: Structure = typer.Option(
        Structure.additive,
        "--structure",
        help="additive: one feature per tree (cheap exact explanations); trees: ordinary trees.",
    ),
    calibration: Calibration = typer.Option(Calibration.auto, "--calibration"),
    n_estimators: int = typer.Option(2000, "--n-estimators", help="Maximum boosting rounds."),
    learning_rate: float = typer.Option(0.05, "--learning-rate"),
    num_leaves: int = typer.Option(8, "--num-leaves"),
    min_child_samples: int = typer.Option(20, "--min-child-samples"),
    validation_fraction: float = typer.Option(
        0.25, "--validation-fraction", help="Newest share held out (with --time-col)."
    ),
    categorical: list[str] = typer.Option(
        [], "--categorical", help="Numeric column to treat as a category (repeatable)."
    ),
    drop: list[str] = typer.Option([], "--drop", help="Column to ignore (repeatable)."),
    seed: int = typer.Option(0, "--seed"),
    threads: int = typer.Option(
        1, "--threads", help="LightGBM threads (results are reproducible per thread count)."
    ),
) -> None:
    """Fit a monotone LightGBM scorer with calibration, grades and a model report."""
    from models import LearnedModel, render_model_report

    with _out.status("reading the table") as status:
        frame = read_table(table)
        _require_columns(frame, table, label=label, time_col=time_col, id=id_col)
        for col in drop:
            _require_columns(frame, table, drop=col)
        y = frame[label]
        t = frame[time_col] if time_col else None
        ignore = {label, *(c for c in (time_col, id_col) if c), *drop}
        X = frame[[c for c in frame.columns if c not in ignore]]
        model = LearnedModel(
            monotone=monotone.value,
            structure=structure.value,
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            validation_fraction=validation_fraction,
            n_folds=folds,
            calibration=calibration.value,
            categorical=tuple(categorical),
            random_state=seed,
            num_threads=threads,
        )
        status.update(f"fitting on {len(X)} rows × {X.shape[1]} features")
        model.fit(X, y, time=t, progress=lambda msg: status.update(msg))
        status.update("rendering the model report")
        html = render_model_report(model.evaluation_, model.card_)
        model.save(str(out), extra_files={"model_report.html": html})
    _out.print(_metrics_table(model.evaluation_.summary))
    for w in model.evaluation_.warnings:
        _out.print(f"[yellow]warning:[/] {w}")
    _out.print(
        f"model {model.model_id} ({model.booster_.num_trees()} trees, "
        f"calibration {model.calibrator_.method}) written to {out}"
    )


def score_cmd(
    model_dir: Path = typer.Option(
        ..., "--model", help="Model folder (from `model fit` or `model expert`)."
    ),
    table: Path = typer.Option(..., "--table", help="Feature table (.csv or .parquet)."),
    out: Path = typer.Option(..., "--out", help="Scores CSV to write."),
    id_col: str | None = typer.Option(None, "--id", help="Identifier column copied to the output."),
    drop: list[str] = typer.Option(
        [], "--drop", help="Column to ignore (repeatable), e.g. the label."
    ),
    top: int = typer.Option(3, "--top", help="Reasons per direction (0 = no explanations)."),
) -> None:
    """Score a table: one row per input row, in order, with pd, score, grade and reasons."""
    from models import load_model, top_reasons

    if top < 0:
        raise ConfigError(f"--top must be ≥ 0, got {top}", "pass e.g. --top 3")
    if out.resolve() == table.resolve():
        raise ConfigError(
            f"--out {out} is the --table being scored: it would be overwritten.",
            "write the scores to another file, e.g. --out scores.csv",
        )
    model = load_model(model_dir)
    frame = read_table(table)
    _require_columns(frame, table, id=id_col)
    for col in drop:
        _require_columns(frame, table, drop=col)
    X = frame.drop(columns=[c for c in (id_col, *drop) if c])
    parts = []
    with Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_out,
        transient=True,
    ) as progress:
        task = progress.add_task("score", total=len(X))
        for start in range(0, max(len(X), 1), CHUNK_ROWS):
            chunk = X.iloc[start : start + CHUNK_ROWS]
            res = model.score(chunk, explain=top > 0)
            part = pd.DataFrame(
                {"pd": res.pd, "score": res.score, "grade": res.grade}, index=chunk.index
            )
            part["grade"] = part["grade"].astype("str")
            if top > 0:
                part = part.join(top_reasons(res.contributions, top, labels=model.labels_zh_))
            parts.append(part)
            progress.advance(task, len(chunk))
    scores = pd.concat(parts) if parts else pd.DataFrame(columns=["pd", "score", "grade"])
    if id_col:
        scores.insert(0, id_col, frame[id_col])
    _write_csv_atomic(scores.reset_index(drop=True), out)
    counts = pd.Series(scores["grade"]).value_counts()
    grades = " ".join(f"{g}:{int(counts.get(g, 0))}" for g in model.grade_scale_.labels)
    _out.print(f"scored {len(scores)} rows with model {model.model_id} → {out}")
    _out.print(
        f"grades {grades}; mean pd {float(np.mean(scores['pd'])) if len(scores) else float('nan'):.4f}"
    )


def expert_cmd(
    out: Path = typer.Option(..., "--out", help="Model folder to write."),
    weights: Path | None = typer.Option(
        None, "--weights", help="Weights YAML (default: the packaged models/expert_scorecard.yaml)."
    ),
) -> None:
    """Write the cold-start expert scorecard as a model folder."""
    from models import ExpertScorecard, load_expert_spec

    card = ExpertScorecard(load_expert_spec(weights))
    card.save(str(out))
    spec = card.spec_
    _out.print(
        f"expert scorecard {spec.name} v{spec.version} ({len(spec.factors)} factors) "
        f"model {card.model_id} written to {out}"
    )
    _out.print(json.dumps(card.card_["points_to_score"], ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add the ``model`` group (fit, score, expert) to the app."""
    group = typer.Typer(
        name="model",
        help="Fit and apply scoring models (learned LightGBM or expert scorecard).",
        no_args_is_help=True,
    )
    group.command("fit")(fit_cmd)
    group.command("score")(score_cmd)
    group.command("expert")(expert_cmd)
    app.add_typer(group, name="model")
