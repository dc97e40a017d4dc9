"""Where MLflow lives.

By default tracking is embedded: a SQLite store ``<dir>/mlflow.db`` with artifacts in
``<dir>/mlartifacts``, ``dir`` defaulting to ``./mlruns`` under the current directory. A
tracking server is used instead when the command line is given its address (it reads
``MLFLOW_TRACKING_URI`` at the edge; this module never reads the environment).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_TRACKING_DIR = Path("mlruns")


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
    """

    uri: str
    artifact_root: str | None = None

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
    if server_uri and "://" not in server_uri and not server_uri.startswith("databricks"):
        # a plain folder (MLFLOW_TRACKING_URI=/srv/mlruns): the embedded store kept there, as
        # --tracking-dir would give; MLflow itself no longer serves a registry from a folder
        tracking_dir, server_uri = Path(server_uri), None
    if server_uri:
        return TrackingTarget(uri=server_uri)
    folder = (tracking_dir or DEFAULT_TRACKING_DIR).resolve()
    return TrackingTarget(
        uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_root=(folder / "mlartifacts").as_uri(),
    )


def ensure_experiment(client, target: TrackingTarget, name: str) -> str:
    """Id of experiment ``name``, created (with the embedded artifact root) if missing."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = f"{target.artifact_root}/{name}" if target.artifact_root else None
    return client.create_experiment(name, artifact_location=location)


def tracking_error(exc: Exception, target: TrackingTarget):
    """A :class:`ConfigError` (two lines) for an MLflow failure on ``target``."""
    from data_contracts.errors import ConfigError

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return ConfigError(
        f"The MLflow tracking store at {target.uri} failed: {first}",
        "Start the tracking server or fix MLFLOW_TRACKING_URI (unset, the embedded store in "
        "./mlruns or --tracking-dir is used), then run again.",
    )


def _local_artifact_dir(location: str | None) -> Path | None:
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

    folder = _local_artifact_dir(location)
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".ipw-probe-"):
        pass


def check_store(target: TrackingTarget, experiment: str) -> None:
    """Reach the store (and create the experiment) before minutes of work depend on it:
    the tracking database must accept the experiment, and a local artifact store (the
    embedded ``mlartifacts`` or the experiment's ``file:`` location) must be writable."""
    try:
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
