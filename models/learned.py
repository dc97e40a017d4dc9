"""The learned model: monotone LightGBM → calibrated PD → score points → grade.

Design (measured in ``benchmarks/bench_model_quality.py``; see docs/models.md):

- ``structure='additive'`` (default): each tree splits on one feature
  (``interaction_constraints``), a boosted additive model like EBM. Its per-feature
  contributions are exact TreeSHAP values and cost a table look-up per feature
  (``models._additive``), so every scored firm can be explained at prediction speed.
  ``structure='trees'`` is an ordinary boosted tree model explained by ``pred_contrib``.
- Monotone constraints come from the feature specs' directions (``monotone='registry'``),
  from the data (``'auto'``) or are off (``'none'``). LightGBM models the *default*
  log-odds, so its constraint is the negated safety direction.
- Validation is out-of-time when a time column is given (train on the older loans, early
  stopping and calibration on the newest ``validation_fraction``), stratified k-fold
  otherwise (out-of-fold margins; the final booster is refit on all rows with the median
  best iteration).
- Calibration (Platt or isotonic, chosen by cross-validated Brier on the validation
  margins) and the grade cut-offs are fixed at fit time and stored in the model card.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.model_selection import StratifiedKFold

from data_contracts.errors import ConfigError, ModelError
from features.registry import FeatureSpec
from models._additive import AdditiveTables
from models._artifact import (
    BOOSTER_FILE,
    CARD_FILE,
    CARD_SCHEMA,
    METRICS_FILE,
    canonical_json,
    content_id,
    write_model_dir,
)
from models._tabular import (
    ID_COLUMNS,
    ColumnInfo,
    check_binary_label,
    check_columns,
    encode,
    infer_columns,
    table_hash,
)
from models.base import ScoreResult
from models.calibration import METHODS, Calibrator, choose_calibrator
from models.evaluation import Evaluation, evaluate
from models.scale import PD_EPS, GradeScale, ScoreScale

_SAFE_NAME = re.compile(r'^[^\s\[\]{}:,"]+$')
MONOTONE_MODES = ("registry", "auto", "none")
STRUCTURES = ("additive", "trees")
# Rows explained with pred_contrib for the importance table of a 'trees' model.
EXPLAIN_SAMPLE = 20_000


def _versions() -> dict:
    out = {"lightgbm": lgb.__version__}
    for dist in ("scikit-learn", "ip-whitelist"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            out[dist] = "unknown"
    return out


def _json_safe(obj: object) -> object:
    """Replace NaN/inf by None and numpy scalars by Python ones, recursively."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if (
        not isinstance(value, int | np.integer)
        or isinstance(value, bool)
        or not (low <= value <= high)
    ):
        raise ConfigError(
            f"The {name!r} parameter of LearnedModel must be an int in the range "
            f"[{low}, {high}]. Got {value!r} instead.",
            f"pass an integer {name} between {low} and {high}",
        )


def _check_float(name: str, value: object, low: float, high: float, *, closed: str) -> None:
    """``closed`` is the interval's shape: ``"()"``, ``"[]"`` or ``"(]"``."""
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool)
    if ok:
        v = float(value)
        above = v >= low if closed[0] == "[" else v > low
        below = v <= high if closed[1] == "]" else v < high
        ok = math.isfinite(v) and above and below
    if not ok:
        rng = f"{closed[0]}{low}, {high}{closed[1]}"
        raise ConfigError(
            f"The {name!r} parameter of LearnedModel must be a float in the range {rng}. "
            f"Got {value!r} instead.",
            f"pass a number {name} in {rng}",
        )


def _check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(
            f"The {name!r} parameter of LearnedModel must be one of "
            f"{', '.join(map(repr, choices))}. Got {value!r} instead.",
            f"use one of: {', '.join(choices)}",
        )


def auto_signs(M: np.ndarray, y: np.ndarray, kinds: list[str], *, z_min: float = 3.0) -> list[int]:
    """Safety directions derived from data, only where they are defensible.

    A numeric feature gets a sign when its Spearman correlation with default is significant
    (|ρ|·√(n−1) ≥ ``z_min``) *and* its default rate across quintiles moves the same way
    (quintile-order Spearman ≥ 0.8); otherwise 0. Constraining every feature by correlation
    sign costs AUC on ratio data (perf_facts.md), hence the second test.
    """
    signs: list[int] = []
    for j, kind in enumerate(kinds):
        x = M[:, j]
        ok = ~np.isnan(x)
        if kind != "numeric" or ok.sum() < 50 or np.nanstd(x) == 0:
            signs.append(0)
            continue
        rho = spearmanr(x[ok], y[ok]).statistic
        if not np.isfinite(rho) or abs(rho) * math.sqrt(ok.sum() - 1) < z_min:
            signs.append(0)
            continue
        ranks = pd.Series(x[ok]).rank(method="average").to_numpy()
        bins = np.minimum((ranks - 1) * 5 // ok.sum(), 4).astype(int)
        rates = pd.Series(y[ok]).groupby(bins).mean()
        if len(rates) < 3:
            trend = np.sign(rho)
        else:
            trend = spearmanr(rates.index.to_numpy(), rates.to_numpy()).statistic
            trend = trend if np.isfinite(trend) and abs(trend) >= 0.8 else 0.0
        signs.append(int(-np.sign(rho)) if np.sign(trend) == np.sign(rho) else 0)
    return signs


class LearnedModel:
    """Monotone LightGBM scorer with calibrated PD, score points, grades and exact
    per-feature explanations.

    Parameters
    ----------
    feature_specs : sequence of FeatureSpec, optional
        Where monotone directions and Chinese labels come from (default: the feature
        registry). Columns the specs do not know get direction 0.
    monotone : {'registry', 'auto', 'none'}, default 'registry'
        Monotone constraints from the specs, derived from the training data (see
        :func:`auto_signs`), or none.
    structure : {'additive', 'trees'}, default 'additive'
        One feature per tree (exact contributions at prediction speed) or ordinary trees
        explained by TreeSHAP ``pred_contrib``.
    n_estimators : int, default 2000
        Maximum boosting rounds (early stopping picks the number).
    learning_rate : float, default 0.05
    num_leaves : int, default 8
    min_child_samples : int, default 20
    reg_lambda : float, default 1.0
    subsample : float, default 1.0
        Share of rows each tree sees (``bagging_fraction``; 1 = no bagging).
    colsample_bytree : float, default 1.0
        Share of features each tree may use (``feature_fraction``).
    early_stopping_rounds : int, default 100
    validation_fraction : float, default 0.25
        Share of the newest rows held out when ``time`` is given.
    n_folds : int, default 5
        Folds of the stratified k-fold validation used when no ``time`` is given.
    calibration : {'auto', 'platt', 'isotonic', 'none'}, default 'auto'
    categorical : sequence of str, default ()
        Numeric columns to treat as categories (text columns always are).
    score_scale : ScoreScale, optional
        Default ``ScoreScale(600, 50, 20)``.
    grade_scale : GradeScale, optional
        Default ``GradeScale(10, 'quantile')``, cut-offs placed on the validation PDs.
    random_state : int, default 0
    num_threads : int, default 1
        Fixed so that results are reproducible and the shared machine is not oversubscribed.

    Attributes
    ----------
    booster_ : lightgbm.Booster
    feature_names_in_ : list of str
    columns_ : list of ColumnInfo
    monotone_signs_ : dict
        Safety direction per feature (+1 higher is safer).
    calibrator_ : Calibrator
    score_scale_, grade_scale_ : ScoreScale, GradeScale
    base_margin_ : float
        Raw margin of the 'average' firm (TreeSHAP expected value).
    evaluation_ : Evaluation
        Metrics on the validation sample (only after ``fit``, not after loading).
    card_ : dict
        The model card.
    model_id : str
    """

    kind = "learned"

    def __init__(
        self,
        *,
        feature_specs: Sequence[FeatureSpec] | None = None,
        monotone: str = "registry",
        structure: str = "additive",
        n_estimators: int = 2000,
        learning_rate: float = 0.05,
        num_leaves: int = 8,
        min_child_samples: int = 20,
        reg_lambda: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        early_stopping_rounds: int = 100,
        validation_fraction: float = 0.25,
        n_folds: int = 5,
        calibration: str = "auto",
        categorical: Sequence[str] = (),
        score_scale: ScoreScale | None = None,
        grade_scale: GradeScale | None = None,
        random_state: int = 0,
        num_threads: int = 1,
    ) -> None:
        self.feature_specs = feature_specs
        self.monotone = monotone
        self.structure = structure
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.n_folds = n_folds
        self.calibration = calibration
        self.categorical = categorical
        self.score_scale = score_scale
        self.grade_scale = grade_scale
        self.random_state = random_state
        self.num_threads = num_threads

    # ------------------------------------------------------------------ parameters
    def _validate_params(self) -> None:
        _check_choice("monotone", self.monotone, MONOTONE_MODES)
        _check_choice("structure", self.structure, STRUCTURES)
        _check_choice("calibration", self.calibration, METHODS)
        _check_int("n_estimators", self.n_estimators, 1, 100_000)
        _check_float("learning_rate", self.learning_rate, 0.0, 1.0, closed="()")
        _check_int("num_leaves", self.num_leaves, 2, 131_072)
        _check_int("min_child_samples", self.min_child_samples, 1, 1_000_000)
        _check_float("reg_lambda", self.reg_lambda, 0.0, 1e6, closed="[]")
        _check_float("subsample", self.subsample, 0.0, 1.0, closed="(]")
        _check_float("colsample_bytree", self.colsample_bytree, 0.0, 1.0, closed="(]")
        _check_int("early_stopping_rounds", self.early_stopping_rounds, 1, 100_000)
        _check_float("validation_fraction", self.validation_fraction, 0.0, 1.0, closed="()")
        _check_int("n_folds", self.n_folds, 2, 50)
        _check_int("random_state", self.random_state, 0, 2**31 - 1)
        _check_int("num_threads", self.num_threads, 1, 256)
        if self.score_scale is not None and not isinstance(self.score_scale, ScoreScale):
            raise ConfigError(
                "The 'score_scale' parameter of LearnedModel must be a ScoreScale. "
                f"Got {type(self.score_scale).__name__} instead.",
                "pass ScoreScale(base_score, base_odds, pdo)",
            )
        if self.grade_scale is not None and not isinstance(self.grade_scale, GradeScale):
            raise ConfigError(
                "The 'grade_scale' parameter of LearnedModel must be a GradeScale. "
                f"Got {type(self.grade_scale).__name__} instead.",
                "pass GradeScale(n_grades, method)",
            )

    def _specs(self) -> dict[str, FeatureSpec]:
        if self.feature_specs is None:
            from features.registry import registry

            return {f.name: f for f in registry()}
        return {f.name: f for f in self.feature_specs}

    def _lgb_params(self, signs: list[int], n_features: int) -> dict:
        params = {
            "objective": "binary",
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_child_samples),
            "lambda_l2": float(self.reg_lambda),
            # Row/feature subsampling (stochastic boosting) lowers variance on the small
            # ledgers of a young programme; seeded, so still reproducible.
            "bagging_fraction": float(self.subsample),
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "feature_fraction": float(self.colsample_bytree),
            # The booster models default, so a safer-when-higher feature must lower it.
            "monotone_constraints": [-s for s in signs],
            "monotone_constraints_method": "intermediate",
            "max_bin": 255,
            "zero_as_missing": False,
            "feature_pre_filter": False,
            # Reproducibility: fixed threads and seed, and no timing-based row/col choice.
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": int(self.num_threads),
            "seed": int(self.random_state),
            "verbosity": -1,
        }
        if self.structure == "additive":
            params["interaction_constraints"] = [[j] for j in range(n_features)]
        return params

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: pd.DataFrame,
        y: object,
        *,
        time: object | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> LearnedModel:
        """Fit, validate, calibrate and grade.

        Parameters
        ----------
        X : DataFrame
            Feature table; ``uscc``/``as_of`` identifier columns are ignored.
        y : array-like of {0, 1}
            1 = default (bad).
        time : array-like, optional
            Loan date (or any orderable time) per row: enables out-of-time validation.
        progress : callable, optional
            Receives one-line status messages (the CLI shows them).

        Returns
        -------
        self
        """
        self._validate_params()
        say = progress or (lambda _msg: None)
        if not isinstance(X, pd.DataFrame):
            raise ModelError(
                f"X must be a pandas DataFrame with named columns, got {type(X).__name__}",
                "pass the feature table as a DataFrame",
            )
        X = X.drop(columns=[c for c in ID_COLUMNS if c in X.columns])
        yy = check_binary_label(y, getattr(y, "name", None) or "label")
        if len(yy) != len(X):
            raise ModelError(
                f"X has {len(X)} rows but the label has {len(yy)}",
                "pass one label per feature row",
            )
        unknown_cat = [c for c in self.categorical if c not in X.columns]
        if unknown_cat:
            raise ConfigError(
                f"categorical columns not in the table: {', '.join(map(str, unknown_cat))}",
                "list only columns of X in 'categorical'",
            )
        cols = infer_columns(X, [str(c) for c in self.categorical])
        names = [c.name for c in cols]
        kinds = [c.kind for c in cols]
        M = encode(X, cols)
        specs = self._specs()
        scale = self.score_scale or ScoreScale()
        grades = self.grade_scale or GradeScale()

        t = None
        if time is not None:
            t = self._check_time(time, len(X))
        # Signs are derived on the rows the booster learns from.
        train_rows = np.ones(len(X), dtype=bool) if t is None else self._oot_split(t, yy)[0]
        if self.monotone == "registry":
            signs = [
                specs[n].direction if (n in specs and k == "numeric") else 0
                for n, k in zip(names, kinds, strict=True)
            ]
        elif self.monotone == "auto":
            signs = auto_signs(M[train_rows], yy[train_rows], kinds)
        else:
            signs = [0] * len(names)
        params = self._lgb_params(signs, len(names))
        booster_names = names if all(_SAFE_NAME.match(n) for n in names) else None
        booster_names = booster_names or [f"f{j}" for j in range(len(names))]
        cat_idx = [j for j, k in enumerate(kinds) if k == "category"]

        def dataset(rows: np.ndarray, ref: lgb.Dataset | None = None) -> lgb.Dataset:
            return lgb.Dataset(
                M[rows],
                yy[rows].astype(float),
                feature_name=booster_names,
                categorical_feature=cat_idx,
                reference=ref,
                params={"max_bin": 255, "verbosity": -1, "feature_pre_filter": False},
                free_raw_data=True,
            )

        stop = lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False)
        params_es = {**params, "metric": "binary_logloss"}
        validation: dict = {}
        test = None
        if t is not None:
            train_mask, val_mask, cut = self._oot_split(t, yy)
            # The window's older half tunes (early stopping, calibration, grade cut-offs) and
            # its newer half only tests: metrics, and the champion/challenger comparison, are
            # then on loans no part of the model was fitted to.
            cal_mask, test, test_cut = _halves(t, val_mask, yy)
            say(
                f"out-of-time validation: training on {int(train_mask.sum())} rows before "
                f"{cut}, calibrating on {int(cal_mask.sum())} rows from {cut}"
                + (
                    f", testing on {int(test.sum())} rows from {test_cut}"
                    if test is not None
                    else ""
                )
            )
            dtrain = dataset(train_mask)
            dval = dataset(cal_mask, dtrain)
            booster = lgb.train(
                params_es, dtrain, self.n_estimators, valid_sets=[dval], callbacks=[stop]
            )
            n_iter = booster.best_iteration or booster.current_iteration()
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=n_iter))
            dev = cal_mask
            dev_margin = booster.predict(M[dev], raw_score=True)
            ref_margin = booster.predict(M[train_mask], raw_score=True)
            validation = {
                "scheme": "out_of_time",
                "cut": str(cut),
                "test_cut": None if test is None else str(test_cut),
                "n_train": int(train_mask.sum()),
                "n_valid": int(val_mask.sum()),
                "n_calibration": int(cal_mask.sum()),
                "n_test": 0 if test is None else int(test.sum()),
                "best_iteration": int(n_iter),
            }
        else:
            k = min(self.n_folds, int(yy.sum()), int(len(yy) - yy.sum()))
            if k < 2:
                raise ModelError(
                    f"stratified {self.n_folds}-fold validation needs at least 2 rows of "
                    f"each class; found {int(yy.sum())} bad and {int(len(yy) - yy.sum())} good",
                    "add labelled rows or pass a time column",
                )
            folds = StratifiedKFold(k, shuffle=True, random_state=self.random_state)
            oof = np.empty(len(yy))
            iters = []
            for i, (tr, te) in enumerate(folds.split(M, yy), start=1):
                say(f"fold {i}/{k}: training on {len(tr)} rows, validating on {len(te)}")
                tr_mask = np.zeros(len(yy), bool)
                tr_mask[tr] = True
                dtrain = dataset(tr_mask)
                dval = dataset(~tr_mask, dtrain)
                b = lgb.train(
                    params_es, dtrain, self.n_estimators, valid_sets=[dval], callbacks=[stop]
                )
                best = b.best_iteration or b.current_iteration()
                iters.append(best)
                oof[te] = b.predict(M[te], raw_score=True, num_iteration=best)
            n_iter = max(1, int(np.median(iters)))
            say(f"final model on all {len(yy)} rows with {n_iter} rounds (median best of folds)")
            booster = lgb.train(params, dataset(np.ones(len(yy), bool)), n_iter)
            booster = lgb.Booster(model_str=booster.model_to_string())
            dev = np.ones(len(yy), dtype=bool)
            dev_margin = oof
            ref_margin = booster.predict(M, raw_score=True)
            validation = {
                "scheme": "stratified_kfold",
                "folds": int(k),
                "n_train": int(len(yy)),
                "n_valid": int(len(yy)),
                "best_iterations": [int(i) for i in iters],
                "best_iteration": int(n_iter),
            }

        say("calibrating and placing grade cut-offs on the validation sample")
        calibrator, cal_report = choose_calibrator(
            dev_margin, yy[dev], self.calibration, seed=self.random_state
        )
        dev_logit = calibrator.logit(dev_margin)
        dev_pd = np.clip(1 / (1 + np.exp(-dev_logit)), PD_EPS, 1 - PD_EPS)
        grades = grades if grades.is_fitted else grades.fit(dev_pd)

        # Fitted state: everything score() needs.
        self.booster_ = booster
        self.feature_names_in_ = names
        self.n_features_in_ = len(names)
        self.columns_ = cols
        self.booster_feature_names_ = booster_names
        self.monotone_signs_ = dict(zip(names, signs, strict=True))
        self.calibrator_ = calibrator
        self.score_scale_ = scale
        self.grade_scale_ = grades
        self.labels_zh_ = {n: specs[n].label_zh for n in names if n in specs}
        self._init_explainer()

        if test is not None:  # the metrics are the untouched newer half's
            dev = test
            dev_logit = calibrator.logit(booster.predict(M[dev], raw_score=True))
            dev_pd = np.clip(1 / (1 + np.exp(-dev_logit)), PD_EPS, 1 - PD_EPS)
        dev_score = scale.score_from_logit(dev_logit)
        ref_score = scale.score_from_logit(calibrator.logit(ref_margin))
        say("explaining the validation sample and computing metrics")
        X_dev = (X.loc[dev] if t is not None else X).reset_index(drop=True)
        if self.structure == "trees" and len(X_dev) > EXPLAIN_SAMPLE:
            # TreeSHAP costs ~1 ms a row: importance and the SHAP plot use an even sample.
            X_dev = X_dev.iloc[:: -(-len(X_dev) // EXPLAIN_SAMPLE)]
        explained = self.score(X_dev, explain=True)
        gain = dict(
            zip(
                names,
                booster.feature_importance(importance_type="gain").astype(float).tolist(),
                strict=True,
            )
        )
        ev = evaluate(
            yy[dev],
            dev_pd,
            grades.assign(dev_pd),
            grade_labels=grades.labels,
            score=dev_score,
            score_reference=ref_score,
            contributions=explained.contributions,
            gain=gain,
            feature_values=X_dev,
        )
        ev.summary.update(
            brier_raw=cal_report["brier_raw"],
            brier_calibrated_cv=cal_report.get(f"brier_cv_{cal_report['chosen']}"),
            calibration=cal_report["chosen"],
            validation=validation["scheme"],
        )
        self.evaluation_ = ev
        training = {
            "data_hash": table_hash(X, pd.Series(yy), None if t is None else pd.Series(t)),
            "n_rows": int(len(yy)),
            "n_bad": int(yy.sum()),
            "bad_rate": float(yy.mean()),
            "period": None if t is None else {"min": str(t.min()), "max": str(t.max())},
            "validation": validation,
        }
        self._build_card(params, cal_report, training, ev)
        return self

    @staticmethod
    def _check_time(time: object, n: int) -> pd.Series:
        t = pd.Series(time).reset_index(drop=True)
        if len(t) != n:
            raise ModelError(
                f"the time column has {len(t)} values for {n} rows",
                "pass one time value per feature row",
            )
        if not pd.api.types.is_numeric_dtype(t.dtype) and not pd.api.types.is_datetime64_any_dtype(
            t.dtype
        ):
            parsed = pd.to_datetime(t, errors="coerce", format="mixed")
            bad = t[parsed.isna() & t.notna()]
            if len(bad):
                raise ModelError(
                    f"the time column has {len(bad)} values that are not dates, e.g. "
                    f"{', '.join(map(str, bad.head(5)))}",
                    "use dates like 2024-03-31 (or numbers) in the time column",
                )
            t = parsed
        if t.isna().any():
            raise ModelError(
                f"the time column is empty in {int(t.isna().sum())} rows",
                "fill the loan date of every row or drop those rows",
            )
        return t

    def _oot_split(self, t: pd.Series, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, object]:
        """Rows before / from the cut time; the newest ``validation_fraction`` validate.

        Ties never straddle the cut: all rows of one date fall on the same side.
        """
        tv = t.to_numpy()
        order = np.sort(tv, kind="stable")
        n_val = max(1, int(math.ceil(self.validation_fraction * len(tv))))
        cut = order[len(tv) - n_val]
        val = tv >= cut
        train = ~val
        for name, rows in (("training", train), ("validation", val)):
            n_bad = int(y[rows].sum())
            if rows.sum() == 0 or n_bad == 0 or n_bad == rows.sum():
                raise ModelError(
                    f"the out-of-time {name} period (cut at {_as_date(cut)}) "
                    f"has {int(rows.sum())} rows and {n_bad} defaults; it needs both classes",
                    "change validation_fraction, add loans, or fit without a time column "
                    "(stratified k-fold)",
                )
        return train, val, _as_date(cut)

    def _init_explainer(self) -> None:
        if self.structure == "additive":
            self.tables_ = AdditiveTables.from_booster_dump(
                self.booster_.dump_model(), [c.kind for c in self.columns_]
            )
            self.base_margin_ = float(self.tables_.base)
        else:
            self.tables_ = None
            probe = np.zeros((1, len(self.columns_)))
            self.base_margin_ = float(self.booster_.predict(probe, pred_contrib=True)[0, -1])

    def _build_card(self, params: dict, cal_report: dict, training: dict, ev: Evaluation) -> None:
        features = []
        for info in self.columns_:
            d = info.to_dict()
            d["monotone"] = self.monotone_signs_[info.name]
            if info.name in self.labels_zh_:
                d["label_zh"] = self.labels_zh_[info.name]
            features.append(d)
        card = {
            "schema": CARD_SCHEMA,
            "kind": "learned",
            "structure": self.structure,
            "feature_names": list(self.feature_names_in_),
            "booster_feature_names": list(self.booster_feature_names_),
            "features": features,
            "monotone_mode": self.monotone,
            "monotone_meaning": "+1 higher is safer (higher score, lower PD), -1 riskier, 0 free",
            "lightgbm_params": params,
            "n_trees": int(self.booster_.num_trees()),
            "booster_file": BOOSTER_FILE,
            "base_margin": self.base_margin_,
            "calibration": {**self.calibrator_.to_dict(), "selection": cal_report},
            "score_scale": self.score_scale_.to_dict(),
            "grade_scale": self.grade_scale_.to_dict(),
            "training": training,
            "metrics": ev.summary,
            "calibration_by_grade": ev.to_dict()["by_grade"],
            "warnings": list(ev.warnings),
            "versions": _versions(),
        }
        card = _json_safe(card)
        self._booster_text = self.booster_.model_to_string()
        self.model_id = content_id(self._booster_text, canonical_json(card))
        self.card_ = {"model_id": self.model_id, **card}

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise ModelError(
                "This LearnedModel instance is not fitted yet. Call 'fit' with appropriate "
                "arguments before using this estimator.",
                "fit the model or load one with models.load_model(folder)",
            )

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        """Raw LightGBM margin (uncalibrated log-odds of default)."""
        self._check_fitted()
        M = encode(check_columns(X, self.feature_names_in_), self.columns_)
        return self.booster_.predict(M, raw_score=True, num_threads=self.num_threads)

    def score(self, X: pd.DataFrame, *, explain: bool = True) -> ScoreResult:
        """Score a feature table.

        Parameters
        ----------
        X : DataFrame
            The model's features in any order (``uscc``/``as_of`` allowed). Missing or
            unexpected columns raise ``FeatureMismatchError`` listing both.
        explain : bool, default True
            Also compute per-feature points with ``base_points + Σ points = score``.

        Returns
        -------
        ScoreResult
        """
        self._check_fitted()
        Xa = check_columns(X, self.feature_names_in_)
        M = encode(Xa, self.columns_)
        contrib = None
        if explain and self.tables_ is not None:
            contrib = self.tables_.contributions(M)
            margin = self.base_margin_ + contrib.sum(axis=1)
        elif explain:
            pc = self.booster_.predict(M, pred_contrib=True, num_threads=self.num_threads)
            contrib = pc[:, :-1]
            margin = pc.sum(axis=1)
        else:
            margin = self.booster_.predict(M, raw_score=True, num_threads=self.num_threads)
        logit = self.calibrator_.logit(margin)
        pd_ = np.clip(1.0 / (1.0 + np.exp(-logit)), PD_EPS, 1 - PD_EPS)
        score = self.score_scale_.score_from_logit(logit)
        base_points = float(
            self.score_scale_.score_from_logit(
                self.calibrator_.logit(np.array([self.base_margin_]))
            )[0]
        )
        if contrib is not None:
            points = self.calibrator_.margin_to_points(
                contrib, margin, self.base_margin_, self.score_scale_.points_per_logit()
            )
            contributions = pd.DataFrame(points, index=X.index, columns=self.feature_names_in_)
        else:
            contributions = pd.DataFrame(index=X.index, columns=[], dtype=float)
        return ScoreResult(
            pd=pd_,
            score=np.asarray(score, dtype=float),
            grade=self.grade_scale_.assign(pd_),
            contributions=contributions,
            base_points=base_points,
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str, *, extra_files: dict[str, str | bytes] | None = None) -> str:
        """Write the model folder (booster text, model card, metrics) atomically.

        Returns the folder path. Identical inputs and seed give byte-identical files.
        """
        self._check_fitted()
        files: dict[str, str | bytes] = {
            BOOSTER_FILE: self._booster_text,
            CARD_FILE: canonical_json(self.card_) + "\n",
        }
        if hasattr(self, "evaluation_"):
            files[METRICS_FILE] = canonical_json(_json_safe(self.evaluation_.to_dict())) + "\n"
        files.update(extra_files or {})
        return str(write_model_dir(path, files))

    @classmethod
    def _from_card(cls, booster_text: str, card: dict) -> LearnedModel:
        params = card["lightgbm_params"]
        model = cls(
            monotone=card["monotone_mode"],
            structure=card["structure"],
            learning_rate=params["learning_rate"],
            num_leaves=params["num_leaves"],
            min_child_samples=params["min_data_in_leaf"],
            reg_lambda=params["lambda_l2"],
            subsample=params.get("bagging_fraction", 1.0),
            colsample_bytree=params.get("feature_fraction", 1.0),
            calibration=card["calibration"]["method"],
            random_state=params["seed"],
            num_threads=params["num_threads"],
        )
        model.booster_ = lgb.Booster(model_str=booster_text)
        model._booster_text = booster_text
        model.columns_ = [ColumnInfo.from_dict(d) for d in card["features"]]
        model.feature_names_in_ = list(card["feature_names"])
        model.n_features_in_ = len(model.feature_names_in_)
        model.booster_feature_names_ = list(card["booster_feature_names"])
        model.monotone_signs_ = {d["name"]: int(d["monotone"]) for d in card["features"]}
        model.labels_zh_ = {d["name"]: d["label_zh"] for d in card["features"] if "label_zh" in d}
        model.calibrator_ = Calibrator.from_dict(card["calibration"])
        model.score_scale_ = ScoreScale.from_dict(card["score_scale"])
        model.grade_scale_ = GradeScale.from_dict(card["grade_scale"])
        model._init_explainer()
        model.card_ = card
        model.model_id = card["model_id"]
        return model


def _as_date(cut: object) -> object:
    """A cut time as a date when it is a datetime (numbers, e.g. a period index, stay)."""
    return pd.Timestamp(cut).date() if isinstance(cut, np.datetime64) else cut


def _halves(t: pd.Series, window: np.ndarray, y: np.ndarray):
    """The out-of-time ``window`` split by date into an older half (calibration) and a newer
    half (test); no date straddles the split. ``(window, None, None)`` when either half would
    lack a class (too few loans to test: the metrics are then the calibration sample's)."""
    tv = t.to_numpy()
    inside = np.sort(tv[window], kind="stable")
    if len(inside) >= 4:
        cut = inside[len(inside) // 2]
        test = window & (tv >= cut)
        cal = window & ~test
        if all(0 < y[rows].sum() < rows.sum() for rows in (cal, test)):
            return cal, test, _as_date(cut)
    return window, None, None
