"""models layer: scorers that turn a feature table into PD, score, grade and explanations.

Public API
----------
ScoreScale, GradeScale
    PD ↔ points (600 at 50:1, 20 points to double the odds) and the T1…T10 ladder.
ExpertScorecard, load_expert_spec, parse_expert_spec
    Cold-start scorecard from the versioned weights file ``models/expert_scorecard.yaml``.
LearnedModel
    Monotone LightGBM with out-of-time validation, calibration and exact explanations.
load_model, check_model_target
    Load a model folder (either kind) written by ``save``; refuse a folder to write one into
    that holds something else.
evaluate, Evaluation, render_model_report
    Metrics (AUC, KS, Gini, Brier, calibration by grade, PSI, importance) and the HTML report.
top_reasons
    The features raising and lowering each firm's score most.
ScoreResult, Scorer
    What every scorer returns / the protocol screening uses.
"""

from __future__ import annotations

from models._artifact import check_model_target
from models.base import Scorer, ScoreResult
from models.evaluation import Evaluation, evaluate, jeffreys_interval, psi
from models.expert import ExpertScorecard, ExpertSpec, load_expert_spec, parse_expert_spec
from models.learned import LearnedModel
from models.persist import load_model
from models.reasons import top_reasons
from models.report import render_model_report
from models.scale import GradeScale, ScoreScale

__all__ = [
    "Evaluation",
    "ExpertScorecard",
    "ExpertSpec",
    "GradeScale",
    "LearnedModel",
    "ScoreResult",
    "ScoreScale",
    "Scorer",
    "check_model_target",
    "evaluate",
    "jeffreys_interval",
    "load_expert_spec",
    "load_model",
    "parse_expert_spec",
    "psi",
    "render_model_report",
    "top_reasons",
]
