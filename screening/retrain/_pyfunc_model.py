"""MLflow "model from code" for a registered model folder.

MLflow copies this file into the model artifact and runs it at load time, so it imports
nothing from this project: generic MLflow consumers (``mlflow.pyfunc.load_model``,
``mlflow models serve``) get the calibrated PD from the booster text and the model card
alone, and no project class is ever pickled (a class pickled by module path breaks as soon
as the package moves). The screening engine loads the same folder with
``models.load_model`` for scores, grades and explanations; a test checks both give the
same PD.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class CardPD(PythonModel):
    """Probability of default from ``booster.txt`` + ``model_card.json``."""

    def load_context(self, context):
        import lightgbm as lgb

        folder = Path(context.artifacts["model_dir"])
        self.card_ = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
        booster_file = self.card_.get("booster_file", "booster.txt")
        self.booster_ = lgb.Booster(model_file=str(folder / booster_file))

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        # The card's documented encoding: numeric as float (NaN missing), categories as
        # the index of the value in the stored category list (unseen = NaN).
        cols = self.card_["features"]
        out = np.empty((len(X), len(cols)), dtype=np.float64)
        for j, info in enumerate(cols):
            col = X[info["name"]]
            if info["kind"] == "numeric":
                out[:, j] = pd.to_numeric(col, errors="coerce").astype("float64").to_numpy()
            else:
                lookup = {c: float(i) for i, c in enumerate(info.get("categories", []))}
                out[:, j] = col.map(lambda v, lk=lookup: lk.get(str(v), np.nan)).astype(float)
        return out

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        margin = self.booster_.predict(self._matrix(model_input), raw_score=True)
        cal = self.card_["calibration"]
        if cal["method"] == "platt":
            logit = cal["a"] * margin + cal["b"]
            pd_ = 1.0 / (1.0 + np.exp(-logit))
        elif cal["method"] == "isotonic":
            pd_ = np.interp(margin, cal["x_thresholds"], cal["y_thresholds"])
        else:
            pd_ = 1.0 / (1.0 + np.exp(-margin))
        return pd.DataFrame({"pd": np.clip(pd_, 1e-6, 1 - 1e-6)}, index=model_input.index)


mlflow.models.set_model(CardPD())
