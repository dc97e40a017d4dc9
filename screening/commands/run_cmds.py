"""``screening run``, ``screening verify`` and ``screening demo``.

The command line is the edge: it parses ``run.toml`` into frozen dataclasses, resolves the
model, reads signing keys from the environment and shows a progress display; the library
below it does none of these things.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from data_contracts.errors import ConfigError, VerificationError

STAGE_ZH = {
    "validate": "校验输入 validate",
    "features": "构建特征 features",
    "knockouts": "否决规则 knock-outs",
    "score": "评分 score",
    "select": "入选 select",
    "explain": "评分理由 explain",
    "export": "输出与推送包 export",
}
DEMO_AS_OF = "2026-09-30"


def resolve_scorer(model: str | None, tracking_dir: Path | None = None):
    """The scorer for ``--model``: a model folder, ``models:/NAME@alias`` (in the store of
    ``tracking_dir``, else ``MLFLOW_TRACKING_URI``, else ``./mlruns``), or the expert card."""
    if model is None:
        from models import ExpertScorecard

        return ExpertScorecard()
    if model.startswith("models:/"):
        from screening.retrain.registry import load_registered_model

        uri = None
        if tracking_dir is not None:
            from screening.retrain.tracking import resolve_tracking

            uri = resolve_tracking(tracking_dir).uri
        return load_registered_model(model, tracking_uri=uri)
    from models import load_model

    return load_model(model)


def signing_key_from_env():
    """The signing key from ``IPWL_SIGNING_KEY_ED25519`` (PEM path) or ``IPWL_SIGNING_KEY``."""
    from screening.run.manifest import SigningKey

    pem = os.environ.get("IPWL_SIGNING_KEY_ED25519")
    if pem:
        path = Path(pem)
        if not path.is_file():
            raise ConfigError(
                f"IPWL_SIGNING_KEY_ED25519 points to {path}, which does not exist.",
                "Point it at an Ed25519 private key in PEM format, or unset it.",
            )
        return SigningKey("ed25519", path.read_bytes())
    secret = os.environ.get("IPWL_SIGNING_KEY")
    if secret:
        return SigningKey("hmac-sha256", secret.encode("utf-8"))
    return None


def verify_keys_from_env(key_file: Path | None = None) -> tuple:
    """Every key ``screening verify`` holds: ``--key`` alone when given, else each one the
    environment configures (``IPWL_VERIFY_KEY_ED25519`` or ``IPWL_SIGNING_KEY_ED25519``, and
    ``IPWL_SIGNING_KEY``).

    The keys are chosen without looking at the manifest: a configured key is always used,
    so a manifest relabelled to another algorithm (or to none) fails instead of passing as
    "signature not checked".

    Raises
    ------
    ConfigError
        When ``--key`` or a variable points to a file that does not exist.
    """
    from screening.run.manifest import SigningKey

    if key_file is not None:
        if not key_file.is_file():
            raise ConfigError(
                f"--key {key_file} does not exist.", "Pass the key file you were given."
            )
        raw = key_file.read_bytes()
        if raw.lstrip().startswith(b"-----BEGIN"):
            return (SigningKey("ed25519", raw),)
        return (SigningKey("hmac-sha256", raw.strip()),)
    keys = []
    for var in ("IPWL_VERIFY_KEY_ED25519", "IPWL_SIGNING_KEY_ED25519"):
        if os.environ.get(var):
            path = Path(os.environ[var])
            if not path.is_file():
                # a mistyped path must not turn into "no key": the signature would go
                # unchecked and the package pass
                raise ConfigError(
                    f"{var} points to {path}, which does not exist.",
                    "Point it at the Ed25519 key in PEM format, or unset it.",
                )
            keys.append(SigningKey("ed25519", path.read_bytes()))
            break
    if os.environ.get("IPWL_SIGNING_KEY"):
        keys.append(SigningKey("hmac-sha256", os.environ["IPWL_SIGNING_KEY"].encode("utf-8")))
    return tuple(keys)


def _run(
    data: Path,
    as_of: str,
    out: Path,
    config: Path | None,
    model: str | None,
    previous: Path | None,
    console: Console,
    tracking_dir: Path | None = None,
) -> dict:
    from screening.commands._dates import parse_date
    from screening.run.config import load_run_config
    from screening.run.output import check_output_folder, run_screening

    day = parse_date(as_of, "--as-of")
    as_of = str(day)
    check_output_folder(out, data, previous)  # before minutes of work, not after
    if day is not None and day > dt.date.today():
        # said on the console only: the outputs must not depend on the day the run is made
        console.print(
            f"[yellow]warning:[/] --as-of {day} is after today: facts dated up to then "
            "count as known, and the packages are valid from that date."
        )

    cfg = load_run_config(config)
    scorer = resolve_scorer(model, tracking_dir)
    key = signing_key_from_env()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        banks = len(cfg.banks)

        def progress(stage: str, event: str, rows: int | None) -> None:
            # export is the long stage at national scale: its bar advances per bank package
            total = banks if stage == "export" and banks else 1
            if event == "start":
                text = f"0/{banks} 个推送包" if total > 1 else ""
                tasks[stage] = bar.add_task(STAGE_ZH.get(stage, stage), total=total, rows=text)
            elif event == "step":
                bar.update(tasks[stage], completed=rows, rows=f"{rows}/{banks} 个推送包")
            else:
                bar.update(tasks[stage], completed=total, rows=f"{rows:,} 行")

        report = run_screening(
            data,
            out,
            as_of=as_of,
            config=cfg,
            scorer=scorer,
            previous=previous,
            key=key,
            progress=progress,
        )
    table = Table(
        title=f"批次 {report['batch_id']}",
        caption=f"核查日 {report['as_of']} · 模型 {report['model_id']}",
    )
    table.add_column("状态")
    table.add_column("企业数", justify="right")
    for status, n in report["status_counts"].items():
        table.add_row(status, f"{n:,}")
    console.print(table)
    for bank in report["banks"]:
        console.print(f"  {bank['name']}: {bank['firms']:,} 家 → {out / 'packages' / bank['id']}")
    for warning in report.get("warnings", []):
        console.print(f"[yellow]注意：[/]{escape(warning)}")
    if key is None:
        console.print(
            "[yellow]未签名：设置 IPWL_SIGNING_KEY 或 IPWL_SIGNING_KEY_ED25519 可为推送包签名[/]"
        )
    return report


def register(app: typer.Typer) -> None:
    """Add ``run``, ``verify`` and ``demo`` to the app."""

    @app.command("run")
    def run_cmd(
        data: Path = typer.Option(..., "--data", help="Data folder (enterprises, patents, …)."),
        as_of: str = typer.Option(..., "--as-of", help="Screening date YYYY-MM-DD."),
        out: Path = typer.Option(..., "--out", help="Output folder (replaced atomically)."),
        config: Path | None = typer.Option(None, "--config", help="run.toml (default: shipped)."),
        model: str | None = typer.Option(
            None,
            "--model",
            help="Model folder or models:/NAME@champion (default: expert scorecard).",
        ),
        previous: Path | None = typer.Option(None, "--previous", help="OUT of the previous push."),
        tracking_dir: Path | None = typer.Option(
            None,
            "--tracking-dir",
            help="Embedded MLflow store of a models:/ reference (default ./mlruns, or "
            "MLFLOW_TRACKING_URI when set), as for train and promote.",
        ),
    ) -> None:
        """Screen every firm, select the whitelist, explain it and write the bank packages."""
        _run(data, as_of, out, config, model, previous, Console(stderr=True), tracking_dir)

    @app.command("verify")
    def verify_cmd(
        package: Path = typer.Argument(..., help="One bank package folder (OUT/packages/<bank>)."),
        key: Path | None = typer.Option(
            None, "--key", help="HMAC secret file or Ed25519 public key (PEM); default from env."
        ),
        require_signature: bool = typer.Option(
            False, "--require-signature", help="Fail when the signature cannot be checked."
        ),
        bank: str | None = typer.Option(
            None, "--bank", help="Fail unless the package is for this bank id (e.g. icbc-henan)."
        ),
    ) -> None:
        """Check every file hash, the signature and (--bank) the bank of a package; print its
        batch; exit non-zero on any mismatch."""
        from screening.run.manifest import verify_package

        result = verify_package(package, verify_keys_from_env(key), bank=bank)
        if require_signature and result.signature != "valid":
            raise VerificationError(
                f"The signature of {package} was not checked ({result.signature}).",
                "Pass --key (or set IPWL_SIGNING_KEY / IPWL_VERIFY_KEY_ED25519).",
            )
        note = {
            "valid": f"signature valid ({result.algorithm})",
            "absent": "not signed: the hashes catch damage in transit, not a changed "
            "manifest (ask the issuer to sign pushes: IPWL_SIGNING_KEY)",
            "unchecked": f"signed ({result.algorithm}) but no key given: signature not checked",
        }
        typer.echo(
            f"OK: {result.files_checked} files match the manifest; {note[result.signature]}."
        )
        bank_text = result.bank_id + (f" ({result.bank_name})" if result.bank_name else "")
        for label, value in (
            ("batch", result.batch_id),
            ("bank", bank_text),
            ("as of", result.as_of),
            ("valid until", result.valid_until),
        ):
            typer.echo(f"  {label}: {value or '(not stated)'}")
        for warning in result.warnings:
            typer.echo(f"warning: {warning}", err=True)

    @app.command("demo")
    def demo_cmd(
        data: Path = typer.Option(Path("data/sample"), "--data", help="Bundled sample folder."),
        out: Path = typer.Option(Path("out/demo"), "--out", help="Output folder."),
        model: str | None = typer.Option(
            None, "--model", help="Model (default: expert scorecard)."
        ),
    ) -> None:
        """Run the whole job on the bundled sample and print one bank's report.html path."""
        console = Console(stderr=True)
        report = _run(data, DEMO_AS_OF, out, None, model, None, console)
        bank = max(report["banks"], key=lambda b: b["firms"])
        typer.echo(str((out / "packages" / bank["id"] / "report.html").resolve()))
