"""Load a model folder of either kind, verifying that its content matches its id."""

from __future__ import annotations

import os

from data_contracts.errors import ModelError
from models._artifact import BOOSTER_FILE, canonical_json, content_id, read_card
from models.expert import ExpertScorecard
from models.learned import LearnedModel


def load_model(path: str | os.PathLike) -> LearnedModel | ExpertScorecard:
    """Load the model folder written by ``LearnedModel.save`` / ``ExpertScorecard.save``.

    Raises ``ModelError`` when the folder is incomplete or its files do not hash to the
    card's ``model_id`` (edited or corrupted after saving).
    """
    folder, card = read_card(path)
    kind = card.get("kind")
    body = {k: v for k, v in card.items() if k != "model_id"}
    if kind == "learned":
        booster_path = folder / card.get("booster_file", BOOSTER_FILE)
        if not booster_path.is_file():
            raise ModelError(
                f"{folder} has no booster file {booster_path.name}",
                "restore the whole model folder, not only model_card.json",
            )
        try:
            text = booster_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(
                f"cannot read {booster_path} as a LightGBM text model ({exc})",
                "restore the whole model folder from its source (or the model registry)",
            ) from None
        expected = content_id(text, canonical_json(body))
    elif kind == "expert":
        expected = content_id(canonical_json(body))
    else:
        raise ModelError(
            f"{folder}/model_card.json has unknown kind {kind!r}",
            "use a folder written by `screening model fit` or ExpertScorecard.save",
        )
    if expected != card.get("model_id"):
        raise ModelError(
            f"{folder}: files do not match model_id {card.get('model_id')} (edited or corrupted)",
            "restore the model folder from its source or refit it",
        )
    if kind == "learned":
        return LearnedModel._from_card(text, card)
    return ExpertScorecard._from_card(card)
