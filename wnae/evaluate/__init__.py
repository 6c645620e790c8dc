"""Evaluation: anomaly score → trigger rate on zero bias, working points, signal efficiency, plots.

Typical use (what ``python -m wnae evaluate`` does)::

    from wnae.evaluate import EvaluateConfig, evaluate_run
    evaluation = evaluate_run("runs/myrun", data_dir="data", config=EvaluateConfig())
"""

from __future__ import annotations

from wnae.evaluate.config import DEFAULT_WORKING_POINTS_KHZ, EvaluateConfig
from wnae.evaluate.evaluation import RunEvaluation, evaluate_scores, write_evaluation
from wnae.evaluate.metrics import auc, binomial_efficiency, purity, roc, tpr_at_fpr
from wnae.evaluate.rates import (
    RateCurve,
    WorkingPoint,
    binomial_interval,
    efficiency_above,
    efficiency_at_threshold,
    threshold_for_rate,
)
from wnae.evaluate.run import evaluate_run, evaluate_runs
from wnae.evaluate.scores import Scorer, load_scorer, score_samples

__all__ = [
    "DEFAULT_WORKING_POINTS_KHZ",
    "EvaluateConfig",
    "RateCurve",
    "RunEvaluation",
    "Scorer",
    "WorkingPoint",
    "auc",
    "binomial_efficiency",
    "binomial_interval",
    "efficiency_above",
    "efficiency_at_threshold",
    "evaluate_run",
    "evaluate_runs",
    "evaluate_scores",
    "load_scorer",
    "purity",
    "roc",
    "score_samples",
    "threshold_for_rate",
    "tpr_at_fpr",
    "write_evaluation",
]
