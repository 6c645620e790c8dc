"""One run evaluated: working points on zero bias, signal efficiency at each, ROC/AUC, S/B.

Every signal efficiency (at each working point, the TPR at the target FPR) carries its
Clopper–Pearson interval at ``EvaluateConfig.confidence_level``; each signal has its AUC against the
SM test sample and against the zero bias (weighted as the rates are).

:func:`evaluate_scores` does the physics on scores already computed (no model, no files), and
:func:`write_evaluation` writes ``working_points.json`` (read by the firmware step), the metrics,
the plots and ``report.md`` into the run directory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wnae._io import write_json_atomic
from wnae.data.samples import SampleRole
from wnae.data.zero_bias import ZeroBiasMixture
from wnae.errors import DataError
from wnae.evaluate.config import EvaluateConfig
from wnae.evaluate.metrics import Roc, TprAtFpr, auc, purity, roc, tpr_at_fpr, tpr_at_zero_bias_fpr
from wnae.evaluate.rates import RateCurve, WorkingPoint, efficiency_at_threshold, threshold_for_rate
from wnae.evaluate.scores import SampleScores

__all__ = [
    "EVALUATION_DIR",
    "WORKING_POINTS_FILE",
    "RunEvaluation",
    "SignalResult",
    "evaluate_scores",
    "sample_weights",
    "write_evaluation",
]

logger = logging.getLogger(__name__)

WORKING_POINTS_FILE = "working_points.json"
EVALUATION_DIR = "evaluation"


@dataclass
class SignalResult:
    """Metrics of one signal sample.

    Attributes:
        name: signal sample.
        n_events: stored (pre-selected) events.
        n_generated: :math:`S_0`, events before pre-selection.
        roc: ROC against the SM test sample (stored events); ``roc.auc`` is the AUC vs SM test.
        tpr_at_fpr: TPR at the target FPR on the SM test sample, with its interval.
        tpr_at_zb_fpr: TPR at the target FPR measured on the (weighted) zero bias, with its interval.
        efficiency: WP name → (ε, low, high), :math:`\\varepsilon_S = N_S(s>t)/S_0` and its
            Clopper–Pearson interval (:math:`N_S(s>t)` of :math:`S_0`).
        purity: WP name → S/B (None when no SM test event passes).
        auc_zero_bias: AUC against the zero bias the rates are calibrated on (the weighted mixture
            with its weights, or the unbiased sample), :func:`~wnae.evaluate.metrics.auc`.
    """

    name: str
    n_events: int
    n_generated: int
    roc: Roc
    tpr_at_fpr: TprAtFpr
    tpr_at_zb_fpr: TprAtFpr | None = None
    efficiency: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    purity: dict[str, float | None] = field(default_factory=dict)
    auc_zero_bias: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_events": self.n_events,
            "n_generated": self.n_generated,
            "auc": self.roc.auc,
            "auc_zero_bias": self.auc_zero_bias,
            "tpr_at_fpr": self.tpr_at_fpr.to_dict(),
            "tpr_at_zero_bias_fpr": None if self.tpr_at_zb_fpr is None else self.tpr_at_zb_fpr.to_dict(),
            "efficiency": {
                k: {"value": v[0], "low": v[1], "high": v[2], "n_above": round(v[0] * self.n_generated)}
                for k, v in self.efficiency.items()
            },
            "purity_s_over_b": self.purity,
        }


@dataclass
class RunEvaluation:
    """Everything computed for one run."""

    run_name: str
    model: str
    config: EvaluateConfig
    scores: SampleScores
    curve: RateCurve
    working_points: list[WorkingPoint]
    signals: dict[str, SignalResult]
    sm_test_events: int
    sm_rate_at_wp: dict[str, float] = field(default_factory=dict)
    zero_bias: ZeroBiasMixture | None = None
    curve_unbiased: RateCurve | None = None
    #: What the ROC, the TPR at FPR and S/B are measured against: the SM test split, or, in data
    #: without SM background samples (an imported zero bias alone), the zero bias.
    reference: str = "SM test"

    def zero_bias_doc(self) -> dict[str, Any]:
        """How the rates were calibrated: weighted mixture or unbiased sample, sizes, components."""
        doc: dict[str, Any] = {
            "weighted": self.curve.weighted,
            "n_events": self.curve.n_zb,
            "n_effective": self.curve.n_effective,
        }
        if self.zero_bias is not None:
            doc["components"] = self.zero_bias.components
        return doc

    def working_points_doc(self) -> dict[str, Any]:
        """The ``working_points.json`` document the firmware step reads (score > threshold fires)."""
        return {
            "run": self.run_name,
            "model": self.model,
            "input_rate_khz": self.config.input_rate_khz,
            "fires_when": "score > threshold",
            "n_zero_bias": self.curve.n_zb,
            "rate_per_zb_event_khz": self.curve.rate_per_event_khz,
            "zero_bias": self.zero_bias_doc(),
            "confidence_level": self.config.confidence_level,
            "working_points": [wp.to_dict() for wp in self.working_points],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.working_points_doc(),
            "reference_background": self.reference,
            "sm_test_events": self.sm_test_events,
            "sm_test_efficiency": self.sm_rate_at_wp,
            "weighting": self.config.weighting,
            "target_fpr": self.config.target_fpr,
            "signals": {name: s.to_dict() for name, s in self.signals.items()},
        }


def sample_weights(scores: SampleScores, weighting: str, names: Iterable[str] | None = None) -> dict[str, float]:
    """Per-event weight of each sample (or of ``names``): 1, or σ / N_gen (pb per event; the luminosity
    cancels in S/B)."""
    out = {}
    chosen = scores.samples.values() if names is None else [scores.samples[n] for n in names]
    for s in chosen:
        if weighting == "equal":
            out[s.name] = 1.0
            continue
        sigma = s.info.cross_section_pb
        if sigma is None:
            msg = f"weighting 'cross_section' needs a cross-section for sample '{s.name}' (manifest has none)"
            raise DataError(msg)
        out[s.name] = sigma / s.n_generated if s.n_generated > 0 else 0.0
    return out


def evaluate_scores(scores: SampleScores, config: EvaluateConfig, *, model: str = "") -> RunEvaluation:
    """Working points, efficiencies, ROC/AUC, TPR at FPR and S/B from the scores of one run.

    Args:
        scores: the run's scores on every sample.
        config: the evaluation settings.
        model: model family (from ``run.json``), for the tables.

    Data without SM background samples (an imported zero bias, with or without signals) are measured
    against the zero bias instead (``reference``: ``zero bias``); with no signal sample the evaluation
    has working points and rates only.

    Raises:
        DataError: no zero-bias events.
        ConfigError: a target rate above the input rate.
    """
    mixture = scores.zero_bias_mixture(weighted=config.weighted_zero_bias)
    curve = RateCurve.from_scores(mixture.scores, config.input_rate_khz, mixture.weights if mixture.weighted else None)
    unbiased = None
    if curve.weighted:
        unbiased = RateCurve.from_scores(scores.zero_bias.scores, config.input_rate_khz)
    wps = [
        threshold_for_rate(
            curve,
            rate,
            name=name,
            confidence_level=config.confidence_level,
            min_zb_events=config.min_zb_events,
            tail_fit_events=config.tail_fit_events,
        )
        for name, rate in sorted(config.working_points.items(), key=lambda kv: -kv[1])
    ]
    sm = scores.by_role(SampleRole.BACKGROUND)
    reference = "SM test"
    if not sm:  # an imported zero bias alone: the ROC and S/B against the (unbiased) zero bias
        sm, reference = scores.by_role(SampleRole.ZERO_BIAS), "zero bias"
        if mixture.weighted:
            sm = [scores.zero_bias]
        logger.info("no SM background samples: ROC, TPR at FPR and S/B are measured against the zero bias")
    sm_all = np.concatenate([b.scores for b in sm]) if sm else np.zeros(0)
    if len(sm_all) == 0:
        msg = "no SM background test events: ROC and purity need the background samples"
        raise DataError(msg)
    weights = sample_weights(scores, config.weighting)
    sm_eff = {wp.name: float(np.mean(sm_all > wp.threshold)) for wp in wps}
    signals = {}
    for sig in scores.signals:
        if len(sig.scores) == 0:
            logger.warning("signal '%s' has no events; skipped", sig.name)
            continue
        curve_roc = roc(sm_all, sig.scores)
        cl = config.confidence_level
        result = SignalResult(
            sig.name,
            sig.n_scored,
            int(sig.info.n_generated),
            curve_roc,
            tpr_at_fpr(curve_roc, config.target_fpr, cl),
            tpr_at_zero_bias_fpr(curve, sig.scores, config.target_fpr, cl),
        )
        result.auc_zero_bias = auc(
            mixture.scores, sig.scores, background_weights=mixture.weights if mixture.weighted else None
        )
        for wp in wps:
            result.efficiency[wp.name] = efficiency_at_threshold(
                sig.scores, wp.threshold, int(sig.info.n_generated), config.confidence_level
            )
            result.purity[wp.name] = purity(
                np.count_nonzero(sig.scores > wp.threshold),
                np.array([np.count_nonzero(b.scores > wp.threshold) for b in sm]),
                signal_weight=weights[sig.name],
                background_weight=np.array([weights[b.name] for b in sm]),
            )
        signals[sig.name] = result
    return RunEvaluation(
        scores.run_name, model, config, scores, curve, wps, signals, len(sm_all), sm_eff, mixture, unbiased, reference
    )


def write_evaluation(evaluation: RunEvaluation, run_dir: str | Path) -> list[Path]:
    """Write ``working_points.json``, ``evaluation/metrics.json``, the plots and ``report.md``.

    Every file is written atomically. Returns the paths written.
    """
    from wnae.evaluate.plots import plot_run
    from wnae.evaluate.report import write_report

    run_dir = Path(run_dir)
    written = []
    wp_path = run_dir / WORKING_POINTS_FILE
    write_json_atomic(wp_path, evaluation.working_points_doc())
    written.append(wp_path)
    eval_dir = run_dir / EVALUATION_DIR
    metrics_path = eval_dir / "metrics.json"
    write_json_atomic(metrics_path, evaluation.to_dict())
    written.append(metrics_path)
    plots: dict[str, list[Path]] = {}
    if evaluation.config.plots:
        plots = plot_run(evaluation, eval_dir / "plots", run_dir=run_dir)
        written += [p for paths in plots.values() for p in paths]
    written.append(write_report(evaluation, run_dir, plots))
    return written
