"""MLflow "model from code" for a registered booster folder.

MLflow copies this file into the model artifact and runs it at load time, so it imports
nothing from this project: generic MLflow consumers (``mlflow.pyfunc.load_model``,
``mlflow models serve``) get PDs from the LightGBM booster text without our packages, and
no project class is ever pickled (a class pickled by module path breaks as soon as the
package moves). The screening engine itself loads the same folder with
``models.load_model`` for grades and explanations.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.pyfunc import PythonModel


class BoosterPD(PythonModel):
    """Predict the probability of default from the booster text in the model folder."""

    def load_context(self, context):
        import lightgbm as lgb

        folder = Path(context.artifacts["model_dir"])
        boosters = sorted(folder.glob("*.txt"))
        if not boosters:
            raise FileNotFoundError(f"no LightGBM booster text (*.txt) in {folder}")
        self.booster_ = lgb.Booster(model_file=str(boosters[0]))
        self.features_ = self.booster_.feature_name()

    def predict(self, context, model_input, params=None):
        return self.booster_.predict(model_input[self.features_])


mlflow.models.set_model(BoosterPD())
