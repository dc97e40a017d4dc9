"""The ``screening`` command line.

Each command group lives in its own module under ``screening.commands`` and registers itself
on the one Typer app here. Errors a user can act on (``IPWhitelistError``) become one line of
cause and one of remedy with a non-zero exit code, and so does an ``OSError`` (a path that
cannot be used); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

from data_contracts.errors import IPWhitelistError

app = typer.Typer(
    name="screening",
    help="Screen technology SMEs for patent-pledge loans and push explained whitelists to banks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.callback()
def _root() -> None:
    """Screen technology SMEs for patent-pledge loans and push explained whitelists to banks."""


@app.command()
def version() -> None:
    """Print the version of ip-whitelist."""
    from screening import __version__

    typer.echo(__version__)


def _register() -> None:
    from screening.commands import (
        data_cmds,
        feature_cmds,
        model_cmds,
        retrain_cmds,
        run_cmds,
        sample_cmds,
    )

    for module in (sample_cmds, data_cmds, feature_cmds, model_cmds, run_cmds, retrain_cmds):
        module.register(app)


_register()


def report_error(exc: IPWhitelistError) -> int:
    """Print the two-line error a user sees and return the exit code."""
    # Messages are data (they may contain brackets, e.g. "[A, B]"), never rich markup.
    _err.print(f"[bold red]error:[/] {escape(exc.cause)}")
    if exc.remedy:
        _err.print(f"[bold]remedy:[/] {escape(exc.remedy)}")
    return exc.exit_code


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, standalone_mode=True)
    except IPWhitelistError as exc:
        sys.exit(report_error(exc))
    except OSError as exc:
        # a path the user gave that cannot be used (a folder where a file goes, no
        # permission, a full disk): the same two lines as any other input problem
        sys.exit(report_error(_os_error(exc)))
    except Exception as exc:
        # an MLflow store that is unreachable, refuses or is in an old format: two lines
        from screening.retrain.tracking import is_mlflow_error, resolve_tracking, tracking_error

        if not is_mlflow_error(exc):
            raise

        target = resolve_tracking(server_uri=os.environ.get("MLFLOW_TRACKING_URI"))
        sys.exit(report_error(tracking_error(exc, target)))


def _os_error(exc: OSError) -> IPWhitelistError:
    from data_contracts.errors import OutputError

    where = exc.filename if exc.filename is not None else "a file"
    return OutputError(
        f"Cannot use {where}: {exc.strerror or exc}.",
        "Check the path (an existing folder where a folder is expected, a file where a file "
        "is), that you may read or write there and that the disk has room, then run again.",
    )


if __name__ == "__main__":  # pragma: no cover
    main()
