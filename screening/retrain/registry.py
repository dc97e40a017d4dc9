"""The MLflow model registry side: register a model folder, resolve a model reference.

A registered version is an MLflow pyfunc "model from code" (``_pyfunc_model.py``) whose
artifact ``model_dir`` is the model folder written by ``models`` (booster text, model card,
model report). Nothing is pickled; the engine loads the folder with ``models.load_model``.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from data_contracts.errors import ModelError
from models.base import Scorer
from screening.retrain.tracking import (
    TrackingTarget,
    local_artifact_dir,
    probing,
    quiet_mlflow,
    relocate_artifact_uri,
    resolve_tracking,
)

CHAMPION = "champion"
PYFUNC_CODE = Path(__file__).with_name("_pyfunc_model.py")
_REF = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[A-Za-z0-9_\-]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed ``models:/NAME@alias`` or ``models:/NAME/VERSION`` reference."""

    name: str
    alias: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return (
            f"models:/{self.name}@{self.alias}"
            if self.alias
            else f"models:/{self.name}/{self.version}"
        )


def parse_model_ref(ref: str) -> ModelRef:
    """Parse a registry reference.

    Raises
    ------
    ModelError
        If ``ref`` is not ``models:/NAME@alias`` or ``models:/NAME/VERSION``.
    """
    m = _REF.match(str(ref).strip())
    if not m:
        raise ModelError(
            f"model reference {ref!r} is not models:/NAME@alias or models:/NAME/VERSION",
            "write e.g. models:/ip-whitelist@champion or models:/ip-whitelist/3",
        )
    return ModelRef(m["name"], m["alias"], m["version"])


def _target(tracking_uri: str | None) -> TrackingTarget:
    if tracking_uri:
        if tracking_uri.startswith("sqlite:///"):
            return TrackingTarget(uri=tracking_uri)
        # a folder or file: URI means the embedded store kept there, as for train
        return resolve_tracking(server_uri=tracking_uri)
    # MLflow itself honours MLFLOW_TRACKING_URI; when the caller passed nothing we follow
    # MLflow if it has been pointed somewhere, otherwise our documented embedded store.
    from mlflow.environment_variables import MLFLOW_TRACKING_URI

    if MLFLOW_TRACKING_URI.is_set():
        return resolve_tracking(server_uri=MLFLOW_TRACKING_URI.get())
    return resolve_tracking()


def store_folder(target: TrackingTarget) -> Path | None:
    """The folder of an embedded (SQLite) store, or None for a tracking server."""
    if not target.uri.startswith("sqlite:///"):
        return None
    return Path(target.uri.removeprefix("sqlite:///")).parent


def lookup_client(target: TrackingTarget):
    """An ``MlflowClient`` for reading the registry at ``target``; never creates a store.

    Raises
    ------
    ModelError
        ``target`` is an embedded store whose database does not exist (a mistyped
        ``--tracking-dir``, or a folder where nothing was registered): MLflow would create
        an empty store there and then report the model as unknown.
    """
    from mlflow.tracking import MlflowClient

    folder = store_folder(target)
    database = Path(target.uri.removeprefix("sqlite:///")) if folder is not None else None
    if database is not None and not database.is_file():
        raise ModelError(
            f"no model registry at {folder} (no {database.name} there)",
            "pass --tracking-dir with the folder `screening train --register` used, or set "
            "MLFLOW_TRACKING_URI to the tracking server",
        )
    return MlflowClient(tracking_uri=target.uri, registry_uri=target.uri)


def resolve_version(client, ref: ModelRef):
    """The ``ModelVersion`` a reference points at, or a ``ModelError`` saying why not.

    The look-up is the first request to the store, so it runs with the probe settings: an
    unreachable server is reported in seconds, not after minutes of retries.
    """
    from mlflow.exceptions import MlflowException

    try:
        with probing():
            if ref.alias:
                return client.get_model_version_by_alias(ref.name, ref.alias)
            return client.get_model_version(ref.name, ref.version)
    except MlflowException as exc:
        raise ModelError(
            f"{ref} cannot be resolved in the MLflow registry at {client.tracking_uri}: "
            f"{str(exc).splitlines()[0]}",
            "check the model name and alias/version (screening promote sets @champion), "
            "and MLFLOW_TRACKING_URI / --tracking-dir",
        ) from exc


def _described(ref: ModelRef, version: str) -> str:
    """``models:/NAME@alias (version 3)``, or ``models:/NAME/3``: what the user asked for."""
    return str(ref) if ref.version else f"{ref} (version {version})"


def download_model_dir(client, ref: ModelRef, dst: Path) -> Path:
    """Download a registered version and return its model folder (holding the model card).

    See :func:`download_version` (which also returns the version number).
    """
    return download_version(client, ref, dst)[0]


def download_version(client, ref: ModelRef, dst: Path) -> tuple[Path, str]:
    """Download a registered version: its model folder and its version number.

    The version's artifacts are read where the store records them, or, for an embedded
    store that was moved or copied, from the same place under its own ``mlartifacts``.

    Raises
    ------
    ModelError
        The reference cannot be resolved, or the version's artifacts are missing (naming
        the recorded location) or hold no model folder.
    """
    import mlflow.artifacts

    version = resolve_version(client, ref)
    what = _described(ref, str(version.version))
    with probing():
        recorded = client.get_model_version_download_uri(ref.name, str(version.version))
    location = relocate_artifact_uri(recorded, store_folder(TrackingTarget(client.tracking_uri)))
    local = local_artifact_dir(location)
    if local is not None and not local.is_dir():
        raise ModelError(
            f"{what} records its artifacts at {local}, which does not exist",
            "pass the --tracking-dir (or MLFLOW_TRACKING_URI) holding those artifacts; a "
            "moved or copied tracking folder must keep its mlartifacts/ beside mlflow.db",
        )
    with quiet_mlflow():
        downloaded = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=location, dst_path=str(dst), tracking_uri=client.tracking_uri
            )
        )
    cards = sorted(downloaded.glob("artifacts/*/model_card.json"))
    if not cards:
        raise ModelError(
            f"{what} holds no model folder with model_card.json (artifacts at {location})",
            "register models with `screening train --register NAME`",
        )
    return cards[0].parent, str(version.version)


def fetch_model_folder(ref: str, dst: Path, *, tracking_uri: str | None = None) -> Path:
    """A local model folder for ``ref``: a folder path as is, or a registry reference
    downloaded into ``dst``."""
    if not str(ref).startswith("models:/"):
        folder = Path(ref)
        if not folder.is_dir():
            raise ModelError(
                f"model {ref!r} is neither a model folder nor a models:/ reference",
                "pass the folder written by `screening train --out`, or models:/NAME@champion",
            )
        return folder
    parsed = parse_model_ref(ref)
    return download_model_dir(lookup_client(_target(tracking_uri)), parsed, Path(dst))


def load_registered_model(ref: str, *, tracking_uri: str | None = None) -> Scorer:
    """Load a registered model as a scorer.

    Parameters
    ----------
    ref : str
        ``models:/NAME@alias`` (e.g. ``models:/ip-whitelist@champion``) or
        ``models:/NAME/VERSION``.
    tracking_uri : str, optional
        MLflow tracking URI. Default: MLflow's own setting when ``MLFLOW_TRACKING_URI`` is
        set, otherwise the embedded store ``./mlruns/mlflow.db``.

    Returns
    -------
    Scorer
        What ``models.load_model`` returns for the registered model folder.

    Raises
    ------
    ModelError
        Malformed reference, no registry at the store's folder, unknown
        name/alias/version, or a version without a model folder.
    """
    from models import load_model

    parsed = parse_model_ref(ref)
    # reading must not create an empty store (./mlruns/mlflow.db) where none was
    client = lookup_client(_target(tracking_uri))
    with tempfile.TemporaryDirectory(prefix="ipw-model-") as tmp:
        # load_model reads the booster text and card into memory, so the download can go.
        return load_version(client, parsed, Path(tmp), load_model)


def load_version(client, ref: ModelRef, dst: Path, loader):
    """``loader(folder)`` of a registered version downloaded into ``dst``; a model folder
    that cannot be loaded is told of the registered version, not of the download
    (:func:`registered_model_error`)."""
    folder, version = download_version(client, ref, dst)
    try:
        return loader(folder)
    except ModelError as exc:
        raise registered_model_error(exc, ref, version, folder) from exc


def registered_model_error(
    exc: ModelError, ref: ModelRef, version: str, folder: Path
) -> ModelError:
    """``exc`` (about a downloaded model folder) told of the registered version instead.

    The download is a temporary folder that is gone when the user reads the message: the
    reference and the version are what they can act on.
    """
    cause = exc.cause.replace(f"{folder}/", "").replace(str(folder), "its model folder")
    return ModelError(
        f"{_described(ref, version)} cannot be loaded: {cause}",
        f"register a sound model folder again (`screening train --register {ref.name}`) "
        f"and promote it, or use another version (models:/{ref.name}/VERSION)",
    )
