"""``screening train | promote | monitor | report-ledger``: the retraining loop (issue 6).

This is the edge: it reads the TOML config and ``MLFLOW_TRACKING_URI``, shows progress, and
hands frozen objects to ``screening.retrain``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tomllib
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from data_contracts.errors import ConfigError
from screening.commands._dates import parse_date

EXIT_REFUSED = 3
_out = Console(highlight=False)


def load_config(path: Path | None):
    """Parse the retrain TOML (default: the packaged ``screening/config/retrain.toml``)."""
    from screening.retrain.config import parse_retrain_config

    try:
        if path is None:
            raw = tomllib.loads((files("screening") / "config" / "retrain.toml").read_text("utf-8"))
        else:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist", "pass an existing TOML file to --config"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {path or 'retrain.toml'} is not valid TOML: {exc}",
            "fix the syntax (see screening/config/retrain.toml)",
        ) from None
    return parse_retrain_config(
        raw, str(path) if path is not None else "screening/config/retrain.toml"
    )


def tracking_target(tracking_dir: Path | None):
    """``--tracking-dir`` if given, else ``MLFLOW_TRACKING_URI``, else ``./mlruns``."""
    from screening.retrain.tracking import resolve_tracking

    if tracking_dir is not None:
        return resolve_tracking(tracking_dir)
    return resolve_tracking(None, os.environ.get("MLFLOW_TRACKING_URI") or None)


def _quiet_mlflow() -> None:
    """For the whole command: MLflow's own INFO lines and download bars would drown the
    progress display (the settings ``tracking.quiet_mlflow`` makes for a block)."""
    from screening.retrain.tracking import NOISY_LOGGERS, QUIET_ENV

    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    import mlflow  # noqa: F401  (configures its loggers on import; quiet them afterwards)

    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def _store_errors(target):
    """An MLflow failure on ``target`` as two lines whose remedy names what the user chose
    the store with (``--tracking-dir``, ``./mlruns`` or ``MLFLOW_TRACKING_URI``); the
    command line's last resort only knows the environment."""
    from screening.retrain.tracking import is_mlflow_error, tracking_error

    try:
        yield
    except Exception as exc:
        if not is_mlflow_error(exc):
            raise
        if getattr(exc, "error_code", None) == "INVALID_PARAMETER_VALUE":
            # a value MLflow refused (a name, a parameter too long), not the store
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ConfigError(
                f"MLflow refused a value: {first}",
                "correct the value it names (--register, --experiment or a [lightgbm] "
                "setting of the config), then run again",
            ) from exc
        raise tracking_error(exc, target) from exc


def _check_model_name(name: str | None, option: str) -> None:
    """A registered-model name MLflow accepts, checked before minutes of work (MLflow's own
    rule: not empty, no '/' or ':')."""
    if name is None:
        return
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_name

    try:
        _validate_model_name(name)
    except MlflowException as exc:
        raise ConfigError(
            f"{option} {name!r} is not a name MLflow can register: {exc.message}",
            f"pass {option} a name without '/' or ':', e.g. {option} ip-whitelist",
        ) from None


@contextmanager
def _progress(title: str):
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(title, total=None)

        def on_table(table: str, done: int, total: int) -> None:
            bar.update(task, description=f"reading {table}", completed=done, total=total)

        def say(msg: str) -> None:
            bar.console.print(f"  {escape(msg)}")
            bar.update(task, description=msg[:60])

        yield on_table, say
        bar.update(task, description=f"{title}: done")


def _read(data: Path, on_table, *, as_of: dt.date | None = None):
    import features
    from data_contracts import read_data_dir

    # Repeated text of the tables only the features layer reads (names in patent lists,
    # codes) as categoricals, as `screening run` reads them: about half the memory at
    # national scale, the same features (retraining reads enterprises and loans itself).
    return read_data_dir(
        data,
        as_of=as_of,
        today=dt.date.today(),
        progress=on_table,
        categorical=features.CATEGORICAL_COLUMNS,
    )


def _ledger_setup(config: Path | None, tracking_dir: Path | None, as_of: str | None):
    """What train and promote both parse first: config, MLflow target and the label date."""
    cfg = load_config(config)
    target = tracking_target(tracking_dir)
    label_date = parse_date(as_of, "--as-of")
    _quiet_mlflow()
    return cfg, target, label_date


DataOpt = typer.Option(..., "--data", help="Data folder (enterprises, patents, …, loans).")
ConfigOpt = typer.Option(None, "--config", help="Retrain TOML (default: packaged retrain.toml).")
TrackingOpt = typer.Option(
    None,
    "--tracking-dir",
    help="Embedded MLflow store folder (default ./mlruns, or MLFLOW_TRACKING_URI when set).",
)
LabelAsOfOpt = typer.Option(
    None, "--as-of", help="Labels as known on this date (default: latest ledger report)."
)
ExperimentOpt = typer.Option("ip-whitelist", "--experiment", help="MLflow experiment name.")


def train(
    data: Path = DataOpt,
    out: Path = typer.Option(..., "--out", help="Model folder to write."),
    experiment: str = ExperimentOpt,
    register: str | None = typer.Option(
        None, "--register", help="Register the model under this name (a new version)."
    ),
    as_of: str | None = LabelAsOfOpt,
    tracking_dir: Path | None = TrackingOpt,
    config: Path | None = ConfigOpt,
) -> None:
    """Train the learned model on the loan ledger, log it to MLflow and register a version."""
    from models import check_model_target
    from screening.retrain.pipeline import run_training

    check_model_target(out)  # before minutes of labels, features and training
    _check_model_name(register, "--register")
    cfg, target, label_date = _ledger_setup(config, tracking_dir, as_of)
    with _store_errors(target), _progress("train") as (on_table, say):
        bundle = _read(data, on_table)
        outcome = run_training(
            bundle,
            out=out,
            config=cfg,
            target=target,
            as_of=label_date,
            experiment=experiment,
            register=register,
            progress=say,
        )
    m = outcome.trained.model.card_["metrics"]
    _out.print(
        f"model {outcome.trained.model.model_id} → {outcome.model_dir}\n"
        f"out-of-time window from {outcome.trained.report['oot_cut']} (calibration), "
        f"tested from {outcome.trained.report['test_cut']}: "
        f"AUC {m['auc']:.3f}  KS {m['ks']:.3f}  Brier {m['brier']:.4f}  "
        f"({int(m['n'])} loans, {int(m['n_bad'])} bad)\n"
        f"MLflow run {outcome.run.run_id} at {target.uri}"
    )
    if outcome.run.version:
        _out.print(f"registered {outcome.run.ref}")


def _print_calibration(outcome) -> None:
    """Observed default rate vs mean PD per grade, each model graded by its own cut-offs."""
    models = [("challenger", outcome.challenger), ("champion", outcome.champion)]
    models = [(k, ev) for k, ev in models if ev is not None and len(ev.by_grade)]
    if not models:
        return
    table = Table(title="分档校准 calibration by grade (loans / observed rate / mean PD)")
    table.add_column("grade")
    for key, _ in models:
        table.add_column(key, justify="right")
    grades = models[0][1].by_grade["grade"].tolist()
    by = {k: ev.by_grade.set_index("grade") for k, ev in models}
    for g in grades:
        cells = []
        for key, _ in models:
            if g in by[key].index and by[key].loc[g, "n"] > 0:
                r = by[key].loc[g]
                cells.append(f"{int(r['n'])} / {r['observed_rate']:.1%} / {r['mean_pd']:.1%}")
            else:
                cells.append("")
        table.add_row(g, *cells)
    _out.print(table)


def _print_decision(outcome) -> None:
    table = Table(
        title=f"{outcome.name}: version {outcome.version} vs champion "
        f"{outcome.champion_before or '(none)'}"
    )
    for col in ("metric", "指标", "champion", "challenger", "change", "limit", "ok"):
        table.add_column(col, justify="left" if col in ("metric", "指标") else "right")

    def f(v) -> str:
        return "" if v != v else f"{v:.4f}"  # NaN → blank

    for r in outcome.decision.table.itertuples(index=False):
        table.add_row(
            r.metric,
            r.label_zh,
            f(r.champion),
            f(r.challenger),
            f(r.change),
            f(r.limit),
            "[green]✓[/]" if r.ok else "[red]✗[/]",
        )
    _out.print(table)
    _print_calibration(outcome)
    s = outcome.sample
    if s:
        _out.print(
            f"compared on {s['loans']} out-of-time loans ({s['bad']} bad) disbursed from "
            f"{s['oot_cut']}, labels as of {s['as_of']}"
        )
    for w in outcome.decision.warnings:
        _out.print(f"[yellow]warning:[/] {escape(w)}")
    if outcome.champion_before == outcome.version:
        _out.print(f"[bold]unchanged:[/] version {outcome.version} is already the champion")
    elif outcome.promoted:
        _out.print(f"[bold green]promoted:[/] {outcome.name}@champion → version {outcome.version}")
        for r in outcome.decision.reasons:
            _out.print(f"  {escape(r)}")
    else:
        stays = (
            f"stays at version {outcome.champion_before}"
            if outcome.champion_before
            else "stays unset (no champion yet)"
        )
        _out.print(f"[bold red]refused:[/] {outcome.name}@champion {stays}")
        for r in outcome.decision.reasons:
            _out.print(f"  - {escape(r)}")


def promote(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Option(..., "--version", help="Challenger version to promote."),
    data: Path = DataOpt,
    as_of: str | None = LabelAsOfOpt,
    experiment: str = ExperimentOpt,
    tracking_dir: Path | None = TrackingOpt,
    config: Path | None = ConfigOpt,
) -> None:
    """Move NAME@champion to VERSION if it is not worse than the champion (exit 3 if refused)."""
    from screening.retrain.pipeline import run_promotion
    from screening.retrain.registry import lookup_client

    cfg, target, label_date = _ledger_setup(config, tracking_dir, as_of)
    lookup_client(target)  # no store there: say so before reading the data
    with _store_errors(target), _progress("promote") as (on_table, say):
        bundle = _read(data, on_table)
        outcome = run_promotion(
            bundle,
            name=name,
            version=version,
            config=cfg,
            target=target,
            as_of=label_date,
            experiment=experiment,
            progress=say,
        )
    _print_decision(outcome)
    # Asking for the version that already is champion changes nothing and is not a refusal.
    if not outcome.promoted and outcome.champion_before != outcome.version:
        raise typer.Exit(EXIT_REFUSED)


def monitor(
    data: Path = DataOpt,
    model: str = typer.Option(
        ..., "--model", help="Model folder, or models:/NAME@alias, or models:/NAME/VERSION."
    ),
    as_of: str = typer.Option(..., "--as-of", help="Screening date (YYYY-MM-DD)."),
    out: Path = typer.Option(Path("monitor"), "--out", help="Folder for monitor.json/html."),
    whitelist: Path | None = typer.Option(
        None,
        "--whitelist",
        help="screened.csv/whitelist.csv of a run: compare only its whitelisted firms.",
    ),
    tracking_dir: Path | None = TrackingOpt,
    config: Path | None = ConfigOpt,
) -> None:
    """Score and feature PSI against the training population, realised default rates."""
    import tempfile

    from screening.retrain.ledger_report import read_whitelist
    from screening.retrain.monitor import monitor as run_monitor
    from screening.retrain.monitor import write_monitor
    from screening.retrain.registry import (
        fetch_model_folder,
        load_version,
        lookup_client,
        parse_model_ref,
    )
    from screening.retrain.train import load_folder

    cfg = load_config(config)
    day = parse_date(as_of, "--as-of")
    firms = read_whitelist(whitelist) if whitelist is not None else None
    _quiet_mlflow()
    target = tracking_target(tracking_dir)
    with (
        _store_errors(target),
        _progress("monitor") as (on_table, say),
        tempfile.TemporaryDirectory() as tmp,
    ):
        if model.startswith("models:/"):
            loaded, reference, report = load_version(
                lookup_client(target), parse_model_ref(model), Path(tmp), load_folder
            )
        else:
            loaded, reference, report = load_folder(fetch_model_folder(model, Path(tmp)))
        bundle = _read(data, on_table, as_of=day)
        say(f"scoring the population at {day} and the matured loans")
        result = run_monitor(
            loaded, reference, report, bundle, as_of=day, config=cfg, whitelist=firms
        )
        paths = write_monitor(result, out)
    s = result.summary
    _out.print(
        f"model {s['model_id']}: score PSI {s['score_psi']:.3f} ({s['score_psi_level']}), "
        f"features at watch {s['features_watch']} / act {s['features_act']}, "
        f"{s['realised']['sample_loans']} matured loans checked"
    )
    for a in result.alerts:
        colour = "red" if a["level"] == "act" else "yellow"
        _out.print(f"[{colour}]{a['level']}:[/] {escape(a['message'])}")
    _out.print(f"wrote {paths[0]} and {paths[1]}")


def report_ledger(
    data: Path = DataOpt,
    out: Path = typer.Option(..., "--out", help="Folder for the CSV and HTML report."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Report date (default: latest ledger report)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="New loans after this date (default: quarter to date)."
    ),
    whitelist: Path | None = typer.Option(
        None, "--whitelist", help="whitelist.csv or screened.csv of a run (funnel start)."
    ),
    config: Path | None = ConfigOpt,
) -> None:
    """Supervisor report: loans, balance, NPL by bank and region; whitelist funnel."""
    from screening.retrain.ledger_report import (
        ledger_report,
        read_whitelist,
        write_ledger_report,
    )

    cfg = load_config(config)
    day = parse_date(as_of, "--as-of")
    start = parse_date(since, "--since")
    wl = read_whitelist(whitelist) if whitelist is not None else None
    with _progress("report-ledger") as (on_table, _say):
        bundle = _read(data, on_table, as_of=day)
        rep = ledger_report(bundle, as_of=day, since=start, whitelist=wl, config=cfg.labels)
        paths = write_ledger_report(rep, out)
    total = rep.by_bank.iloc[-1]
    _out.print(
        f"as of {rep.as_of.date()}: {int(total['new_loans'])} new loans "
        f"({total['new_amount']:,.0f} 万元) since {rep.since.date()}, balance "
        f"{total['balance']:,.0f} 万元, NPL ratio {total['npl_ratio']:.2%}"
    )
    for n in rep.notes:
        _out.print(f"note: {escape(n)}")
    _out.print("wrote " + ", ".join(str(p) for p in paths))


def register(app: typer.Typer) -> None:
    """Add ``train``, ``promote``, ``monitor`` and ``report-ledger`` to the app."""
    app.command("train")(train)
    app.command("promote")(promote)
    app.command("monitor")(monitor)
    app.command("report-ledger")(report_ledger)
