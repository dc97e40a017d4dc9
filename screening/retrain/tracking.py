"""Where MLflow lives.

By default tracking is embedded: a SQLite store ``<dir>/mlflow.db`` with artifacts in
``<dir>/mlartifacts``, ``dir`` defaulting to ``./mlruns`` under the current directory. A
tracking server is used instead when the command line is given its address (it reads
``MLFLOW_TRACKING_URI`` at the edge; this module never reads the environment to choose a
store). It only sets MLflow's own retry and progress-bar variables, for the span of a probe
or a download and only where the user has not set them.

An embedded store is one self-contained folder that may be moved or copied: the database
records absolute ``file://`` artifact paths, so a recorded path under another
``mlartifacts`` folder is read from (and new runs are written to) the same relative path
under the current folder (:func:`relocate_artifact_uri`, :func:`ensure_experiment`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TRACKING_DIR = Path("mlruns")
ARTIFACTS_FOLDER = "mlartifacts"
LAYOUT_TAG = "ip_whitelist.embedded_layout"
"""Experiment tag: its artifact location is the embedded store's ``mlartifacts/NAME``."""

# One reachability probe must not inherit MLflow's patience for a busy server (7 retries
# with exponential backoff, about four minutes, before a refused connection is reported).
# Used only while probing, and only for the variables the user has not set: the logging
# that follows keeps MLflow's defaults, so a slow but working server still gets them.
PROBE_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}
# MLflow's download bar is drawn on stderr through the screening progress display.
QUIET_ENV = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
# Retry chatter ("Operation will be retried in 25.5 seconds", urllib3's "Retrying …"): the
# outcome is reported as one two-line error instead.
NOISY_LOGGERS = ("mlflow", "alembic", "urllib3")


@dataclass(frozen=True)
class TrackingTarget:
    """An MLflow tracking URI and, for the embedded store, where artifacts go.

    Attributes
    ----------
    uri : str
        Tracking URI handed to ``MlflowClient``.
    artifact_root : str | None
        File URI of the artifact root for new experiments (embedded store only); ``None``
        lets a server decide (it proxies artifacts).
    given_as : str
        How the user chose the store, for the remedy of an error: ``"tracking-dir"``
        (``--tracking-dir``), ``"default"`` (``./mlruns``) or ``"uri"``
        (``MLFLOW_TRACKING_URI``, which may also name a folder). Not compared: the same
        store reached two ways is the same target.
    """

    uri: str
    artifact_root: str | None = None
    given_as: str = field(default="uri", compare=False)

    @property
    def embedded(self) -> bool:
        return self.artifact_root is not None


def resolve_tracking(
    tracking_dir: Path | None = None, server_uri: str | None = None
) -> TrackingTarget:
    """Choose the tracking store.

    Parameters
    ----------
    tracking_dir : Path, optional
        Folder of the embedded store; default ``./mlruns``.
    server_uri : str, optional
        An explicit tracking URI (``http://host:port``, ``sqlite:///...``); wins over
        ``tracking_dir``. The CLI passes ``MLFLOW_TRACKING_URI`` here.

    Returns
    -------
    TrackingTarget
    """
    if server_uri and server_uri.startswith("file:"):
        # file:///srv/mlruns: the same folder as the plain path (MLflow's own file store is
        # in maintenance mode and serves no registry)
        from urllib.parse import unquote, urlparse

        server_uri = unquote(urlparse(server_uri).path) or "."
    given_as = None
    if server_uri and "://" not in server_uri and not server_uri.startswith("databricks"):
        # a plain folder (MLFLOW_TRACKING_URI=/srv/mlruns): the embedded store kept there, as
        # --tracking-dir would give; MLflow itself no longer serves a registry from a folder
        tracking_dir, server_uri, given_as = Path(server_uri), None, "uri"
    if server_uri:
        return TrackingTarget(uri=server_uri)
    if given_as is None:
        given_as = "tracking-dir" if tracking_dir is not None else "default"
    folder = (tracking_dir or DEFAULT_TRACKING_DIR).resolve()
    return TrackingTarget(
        uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_root=(folder / ARTIFACTS_FOLDER).as_uri(),
        given_as=given_as,
    )


def ensure_experiment(client, target: TrackingTarget, name: str) -> str:
    """Id of experiment ``name``, created (with the embedded artifact root) if missing.

    In an embedded store that was moved or copied, an existing experiment is pointed at
    this folder's ``mlartifacts`` first (:func:`_adopt_moved_experiment`).
    """
    found = client.get_experiment_by_name(name)
    if found is not None:
        if target.embedded:
            _adopt_moved_experiment(target, found)
        return found.experiment_id
    location = f"{target.artifact_root}/{name}" if target.artifact_root else None
    # marked as laid out by this module, so that a move or copy of the store is told from
    # a location of the same shape a user chose (:func:`_adopt_moved_experiment`)
    tags = {LAYOUT_TAG: "1"} if target.embedded else None
    return client.create_experiment(name, artifact_location=location, tags=tags)


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///")
    return Path(path) if path and path != ":memory:" else None


def _is_database(uri: str) -> bool:
    """Whether ``uri`` names a SQL database MLflow opens itself (not a server)."""
    from mlflow.store.db.db_types import DATABASE_ENGINES

    return uri.split(":", 1)[0].split("+", 1)[0].lower() in DATABASE_ENGINES


def _adopt_moved_experiment(target: TrackingTarget, experiment) -> None:
    """Point an experiment of a moved or copied embedded store at its own ``mlartifacts``.

    New runs are created under the experiment's recorded artifact location, an absolute
    path: left alone, a store moved from ``old/`` would recreate ``old/mlartifacts`` and
    a copy would write its runs into the original. MLflow has no call to change an
    experiment's location, so the one column is updated in the store's own database (only
    when the recorded path is this store's layout, ``…/mlartifacts/NAME``, elsewhere).
    """
    import sqlite3
    from contextlib import closing

    expected = f"{target.artifact_root}/{experiment.name}"
    recorded = experiment.artifact_location
    database = _sqlite_file(target.uri)
    if database is None or recorded == expected:
        return
    here = rebased_artifact_path(recorded, database.parent)
    if here is None or here != local_artifact_dir(expected):
        return  # not this store's layout: a location the user chose is left as it is
    if experiment.tags.get(LAYOUT_TAG) != "1" and not _moved_or_copied(recorded, here, database):
        # an experiment this module did not create (or created before it was marked): a
        # location of the same shape the user chose (a NAS share, mounted or not) is theirs
        return
    with closing(sqlite3.connect(database)) as con, con:
        con.execute(
            "UPDATE experiments SET artifact_location = ? "
            "WHERE experiment_id = ? AND artifact_location = ?",
            (expected, int(experiment.experiment_id), recorded),
        )


def _moved_or_copied(recorded: str, here: Path, database: Path) -> bool:
    """For an unmarked experiment: its store was moved (the recorded folder is gone and its
    artifacts are here) or copied (the recorded folder is beside another store's database)."""
    old = local_artifact_dir(recorded)
    if old is None or ARTIFACTS_FOLDER not in old.parts:
        return False
    parts = old.parts
    root = Path(*parts[: len(parts) - 1 - parts[::-1].index(ARTIFACTS_FOLDER)])
    other_db = root / "mlflow.db"
    if not old.exists():
        return here.exists()
    return other_db.exists() and other_db.resolve() != database.resolve()


def rebased_artifact_path(location: str | None, folder: Path | None) -> Path | None:
    """Where a recorded ``…/mlartifacts/REST`` artifact path lies in the store at ``folder``.

    Parameters
    ----------
    location : str or None
        An artifact location as the database records it (``file://`` URI or path).
    folder : Path or None
        The folder of the embedded store now in use (holding ``mlflow.db``).

    Returns
    -------
    Path or None
        ``folder/mlartifacts/REST``; None when ``location`` is not local, has no
        ``mlartifacts`` component, or already lies there.
    """
    local = local_artifact_dir(location)
    if local is None or folder is None or ARTIFACTS_FOLDER not in local.parts:
        return None
    parts = local.parts
    last = len(parts) - 1 - parts[::-1].index(ARTIFACTS_FOLDER)
    here = Path(folder).resolve() / Path(*parts[last:])
    return None if here == local else here


def relocate_artifact_uri(location: str, folder: Path | None) -> str:
    """``location``, or its copy in the embedded store at ``folder`` when that exists.

    The database of an embedded store records absolute paths: after the folder was moved
    (the recorded path is gone) or copied (it is the original's), the artifacts this store
    holds are the ones under its own ``mlartifacts``.
    """
    here = rebased_artifact_path(location, folder)
    return here.as_uri() if here is not None and here.exists() else location


def is_mlflow_error(exc: BaseException) -> bool:
    """Whether ``exc`` is raised by MLflow itself (its store, registry or validation)."""
    return type(exc).__module__.split(".")[0] == "mlflow"


def tracking_error(exc: Exception, target: TrackingTarget):
    """A :class:`ConfigError` (two lines) for an MLflow failure on ``target``.

    The remedy names what the user chose the store with: ``--tracking-dir``, the default
    ``./mlruns``, or ``MLFLOW_TRACKING_URI`` (a folder, a database or a server).
    """
    from data_contracts.errors import ConfigError

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    database = _sqlite_file(target.uri)
    folder = database.parent if database is not None else None
    unset = "or unset it to use ./mlruns or --tracking-dir"
    if target.given_as == "tracking-dir":
        remedy = (
            f"Pass --tracking-dir a folder that can be created and written ({folder} cannot), "
            "then run again."
        )
    elif target.given_as == "default":
        remedy = (
            f"Run where ./{DEFAULT_TRACKING_DIR} can be created and written, or pass "
            "--tracking-dir DIR (or set MLFLOW_TRACKING_URI to a tracking server), then run "
            "again."
        )
    elif target.embedded:
        remedy = (
            f"Fix MLFLOW_TRACKING_URI: it names the folder {folder}, which must be creatable "
            f"and writable ({unset}), then run again."
        )
    elif _is_database(target.uri):
        remedy = (
            "Fix MLFLOW_TRACKING_URI: the database it names must exist or be creatable and "
            f"accept connections ({unset}), then run again."
        )
    else:
        remedy = (
            f"Start the tracking server at {target.uri} or fix MLFLOW_TRACKING_URI ({unset}), "
            "then run again."
        )
    return ConfigError(f"The MLflow tracking store at {target.uri} failed: {first}", remedy)


@contextmanager
def env_defaults(values: Mapping[str, str]) -> Iterator[None]:
    """Set the environment variables of ``values`` the user has not set, for the block only.

    MLflow reads its settings from the environment at each call; a value the user chose
    always wins, and nothing outlives the block.
    """
    added = [k for k in values if k not in os.environ]
    for k in added:
        os.environ[k] = values[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextmanager
def quiet_mlflow(level: int = logging.WARNING) -> Iterator[None]:
    """Keep MLflow's console lines off the console for the block.

    No artifact download bar (unless the user asked for it) and nothing below ``level``
    from MLflow, alembic or urllib3; the previous levels come back afterwards.
    """
    loggers = [logging.getLogger(n) for n in NOISY_LOGGERS]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(level, lg.getEffectiveLevel()))
    try:
        with env_defaults(QUIET_ENV):
            yield
    finally:
        for lg, lv in zip(loggers, before, strict=True):
            lg.setLevel(lv)


@contextmanager
def probing() -> Iterator[None]:
    """Settings for a reachability probe: few HTTP retries, a short timeout, no retry chatter.

    An unreachable server is reported within seconds instead of after minutes of MLflow's
    backoff; settings the user made in the environment are kept.
    """
    with env_defaults(PROBE_ENV), quiet_mlflow(logging.ERROR):
        yield


def _probe_database(uri: str) -> None:
    """Open a SQL tracking database once.

    MLflow opens one with ten attempts over about 100 s, logging a warning before each
    retry: a database that cannot be opened (``sqlite:////proc/x.db``, a refused
    PostgreSQL port) is reported at once instead.
    """
    if not _is_database(uri):
        return
    import sqlalchemy

    database = _sqlite_file(uri)
    if database is not None:
        # as MLflow does before it opens a SQLite store
        database.parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as con:
            con.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()


def local_artifact_dir(location: str | None) -> Path | None:
    """The folder of a local artifact location (``file:`` URI or plain path), else None."""
    if not location:
        return None
    if location.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(location).path))
    if "://" in location or location.startswith(("mlflow-artifacts:", "dbfs:")):
        return None  # a server or cloud store: it answers when the artifacts are logged
    return Path(location)


def check_artifacts_writable(location: str | None) -> None:
    """Write and remove a probe file where the run's artifacts will go (local stores).

    Raises
    ------
    OSError
        The folder cannot be created or written (read-only, no permission, a file there).
    """
    import tempfile

    folder = local_artifact_dir(location)
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".ipw-probe-"):
        pass


def check_store(target: TrackingTarget, experiment: str) -> None:
    """Reach the store (and create the experiment) before minutes of work depend on it:
    the tracking database must accept the experiment, and a local artifact store (the
    embedded ``mlartifacts`` or the experiment's ``file:`` location) must be writable.

    The probe runs with :func:`probing` settings, so an unreachable server or database
    is reported in seconds, without MLflow's retry warnings.

    Raises
    ------
    ConfigError
        The store cannot be reached or written; the remedy names ``--tracking-dir``,
        ``./mlruns`` or ``MLFLOW_TRACKING_URI``, whichever chose it.
    """
    try:
        with probing():
            _probe_database(target.uri)
            client = make_client(target)
            exp_id = ensure_experiment(client, target, experiment)
            location = client.get_experiment(exp_id).artifact_location
    except Exception as exc:  # MLflow raises its own and the HTTP/database layers' errors
        raise tracking_error(exc, target) from exc
    try:
        check_artifacts_writable(location)
    except OSError as exc:
        from data_contracts.errors import ConfigError

        raise ConfigError(
            f"The MLflow artifact store at {location} cannot be written: {exc.strerror or exc}",
            "Make that folder writable (or pass another --tracking-dir), then run again; "
            "nothing was trained.",
        ) from exc


def make_client(target: TrackingTarget):
    """An ``MlflowClient`` on ``target`` (creating the embedded store's folder)."""
    from mlflow.tracking import MlflowClient

    if target.embedded:
        db = target.uri.removeprefix("sqlite:///")
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=target.uri, registry_uri=target.uri)
