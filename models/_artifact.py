"""The model folder: LightGBM booster text + ``model_card.json`` (+ metrics, report).

No pickles: everything needed to score is plain text, so a folder loads without importing
project classes by module path. Written atomically: files go to a temporary sibling folder
that is renamed into place, so a reader never sees half a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from data_contracts.errors import ModelError

CARD_FILE = "model_card.json"
BOOSTER_FILE = "booster.txt"
METRICS_FILE = "metrics.json"
REPORT_FILE = "model_report.html"
CARD_SCHEMA = "ip-whitelist/model-card/1"


def canonical_json(obj: object) -> str:
    """Deterministic JSON (sorted keys, fixed separators): hashes and files never vary."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False)


def content_id(*texts: str) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def check_model_target(path: str | os.PathLike) -> None:
    """Refuse ``path`` as a model folder to write when it holds something else: a file, or
    a folder with files but no model card (a model folder is replaced whole). Commands call
    it before their work, not only when the model is written at the end."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise ModelError(f"{target} exists and is a file", "choose an empty or new --out folder")
    if target.is_dir() and not (target / CARD_FILE).exists() and any(target.iterdir()):
        raise ModelError(
            f"{target} exists and is not a model folder",
            "choose an empty or new --out folder",
        )


def write_model_dir(path: str | os.PathLike, files: Mapping[str, str | bytes]) -> Path:
    """Write ``files`` into folder ``path`` atomically, replacing an existing folder."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a model folder is meant to be shared
    try:
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (tmp / name).write_bytes(data)
        old = None
        check_model_target(target)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_card(path: str | os.PathLike) -> tuple[Path, dict]:
    folder = Path(path)
    card_path = folder / CARD_FILE
    if not folder.exists():
        raise ModelError(
            f"model folder {folder} does not exist",
            "check the path, or pass models:/NAME@champion to use the registered champion",
        )
    if not card_path.is_file():
        raise ModelError(
            f"{folder} is not a model folder: {CARD_FILE} is missing",
            "pass the folder written by `screening model fit` (it holds model_card.json)",
        )
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot read {card_path}: {exc}", "restore the model folder from its source"
        ) from None
    if not isinstance(card, dict):
        raise ModelError(
            f"{card_path} is not a model card (a JSON object): it holds {type(card).__name__}",
            "restore the model folder from its source",
        )
    if card.get("schema") != CARD_SCHEMA:
        raise ModelError(
            f"{card_path} has schema {card.get('schema')!r}, expected {CARD_SCHEMA!r}",
            "refit the model with this version of ip-whitelist",
        )
    return folder, card
