"""Evaluate the two-level trigger: an L1 run's working point seeds an HLT encoder run.

:func:`evaluate_two_level` scores every sample with both runs (the same events, in the same order:
SM test split, all zero bias, all signal and unseen-SM events), seeds with the L1 run's working point
from its ``working_points.json``, solves the HLT threshold for ``hlt_rate_khz`` on the weighted zero
bias, and measures per signal the efficiency :math:`S(t)/S_0` (with :math:`S_0` before the seed),
the raw-L1 efficiencies at the L1 run's own working points, and the purity S/B (SM test sample
behind the same seed, equal and cross-section weights) along the HLT rate.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wnae.data.samples import SampleRole
from wnae.errors import ConfigError, DataError, ModelError
from wnae.evaluate.evaluation import WORKING_POINTS_FILE, sample_weights
from wnae.evaluate.metrics import purity
from wnae.evaluate.rates import WorkingPoint, binomial_interval, threshold_for_rate
from wnae.evaluate.scores import SampleScores, Scorer, load_scorer, score_samples
from wnae.hlt.config import HltEvaluateConfig
from wnae.hlt.model import load_hlt_run
from wnae.hlt.two_level import TwoLevelTrigger, l1_combined_cuts, l1_combined_scores

__all__ = [
    "L1Seed",
    "SignalTwoLevel",
    "TwoLevelEvaluation",
    "evaluate_two_level",
    "read_l1_seed",
    "two_level_from_scores",
    "with_l1_score",
]

logger = logging.getLogger(__name__)
#: The samples whose efficiency and purity the report gives: the signals and the SM processes no model trained on.
TWO_LEVEL_ROLES = (SampleRole.SIGNAL, SampleRole.UNSEEN_SM)


@dataclass(frozen=True)
class L1Seed:
    """The L1 working points of a run (``working_points.json``) and the one that seeds the HLT."""

    run: str
    name: str
    threshold: float
    input_rate_khz: float
    working_points: dict[str, float]  # name → threshold
    target_rates_khz: dict[str, float]  # name → target rate


def read_l1_seed(run_dir: str | Path, name: str) -> L1Seed:
    """The seed ``name`` from ``run_dir/working_points.json``.

    Raises:
        ModelError: ``run_dir`` does not exist or is not a directory.
        DataError: no such file (evaluate the L1 run first), not JSON, not finite positive numbers.
        ConfigError: no working point ``name``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "is not a directory" if run_dir.exists() else "does not exist"
        msg = f"{run_dir}: the L1 run {what} (give an L1 run directory with --l1-run, or train one with 'make train')"
        raise ModelError(msg)
    path = run_dir / WORKING_POINTS_FILE
    if not path.is_file():
        msg = f"the L1 run has no working points; run 'make evaluate RUN={run_dir}' first"
        raise DataError(msg, path=path)
    try:
        doc = json.loads(path.read_text())
        wps = {wp["name"]: float(wp["threshold"]) for wp in doc["working_points"]}
        targets = {wp["name"]: float(wp["target_rate_khz"]) for wp in doc["working_points"]}
        rate = float(doc["input_rate_khz"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        msg = f"not a working-points file ({type(err).__name__}: {err})"
        raise DataError(msg, path=path) from err
    if not (math.isfinite(rate) and rate > 0):
        msg = f"input_rate_khz = {rate} must be a finite number > 0 kHz; evaluate the L1 run again"
        raise DataError(msg, path=path)
    bad = sorted(k for k in wps if not (math.isfinite(wps[k]) and math.isfinite(targets[k])))
    if bad:
        msg = f"working point(s) {', '.join(bad)}: threshold and target rate must be finite; evaluate the L1 run again"
        raise DataError(msg, path=path)
    if name not in wps:
        msg = f"{path}: no L1 working point '{name}' (it has {', '.join(wps) or 'none'})"
        raise ConfigError(msg)
    return L1Seed(run_dir.name, name, wps[name], rate, wps, targets)


@dataclass
class SignalTwoLevel:
    """One signal (or unseen SM sample) behind the two-level trigger.

    Attributes:
        efficiency: at the HLT working point, ``(ε, low, high)`` (Clopper–Pearson).
        seed_efficiency: of the L1 seed alone.
        raw_l1: L1 working point → (its rate in kHz, the efficiency of the L1 seed alone there).
        purity: HLT rate (kHz) → S/B with equal weights (None: no SM test event passes).
        purity_cross_section: the same with σ/N_gen weights.
        curve_rate_khz, curve_efficiency: the efficiency-vs-rate scan of the HLT threshold.
        purity_curve, purity_cross_section_curve: S/B along the same scan (NaN where B = 0).
    """

    name: str
    role: str
    n_scored: int
    n_generated: float
    efficiency: tuple[float, float, float]
    seed_efficiency: float
    raw_l1: dict[str, tuple[float, float]] = field(default_factory=dict)
    efficiency_at: dict[float, float] = field(default_factory=dict)
    raw_l1_at: dict[float, float] = field(default_factory=dict)
    purity: dict[float, float | None] = field(default_factory=dict)
    purity_cross_section: dict[float, float | None] = field(default_factory=dict)
    curve_rate_khz: np.ndarray | None = None
    curve_efficiency: np.ndarray | None = None
    purity_curve: np.ndarray | None = None
    purity_cross_section_curve: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "n_scored": self.n_scored,
            "n_generated": self.n_generated,
            "efficiency": self.efficiency[0],
            "efficiency_low": self.efficiency[1],
            "efficiency_high": self.efficiency[2],
            "seed_efficiency": self.seed_efficiency,
            "raw_l1": {k: {"rate_khz": r, "efficiency": e} for k, (r, e) in self.raw_l1.items()},
            "efficiency_at_rate_khz": {f"{k:g}": v for k, v in self.efficiency_at.items()},
            "raw_l1_efficiency_at_rate_khz": {f"{k:g}": v for k, v in self.raw_l1_at.items()},
            "purity_equal_at_rate_khz": {f"{k:g}": v for k, v in self.purity.items()},
            "purity_cross_section_at_rate_khz": {f"{k:g}": v for k, v in self.purity_cross_section.items()},
        }


@dataclass
class TwoLevelEvaluation:
    """The two-level trigger of one L1 run and one HLT run on one data set."""

    l1_run: str
    hlt_run: str
    hlt_info: dict[str, Any]
    config: HltEvaluateConfig
    seed: L1Seed
    trigger: TwoLevelTrigger
    working_point: WorkingPoint
    signals: dict[str, SignalTwoLevel]
    sm_test_events: int
    hlt_scores: SampleScores
    l1_rate_points_khz: dict[str, float] = field(default_factory=dict)
    rate_point_wps: dict[float, WorkingPoint] = field(default_factory=dict)
    path_cuts: tuple[float, float] | None = None

    @property
    def hlt_path(self) -> dict[str, Any]:
        """The working point as the trigger path runs it, on the two scores themselves: the seed's L1 cut,
        then HLT score > ``hlt_score_above``, or (``with_l1``) L1 score > ``l1_score_above`` or HLT score >
        ``hlt_score_above``. An infinite cut is written as None; at a working point strictly between 0
        and the seed's rate both cuts are finite."""
        l1_cut, hlt_cut = self.path_cuts if self.path_cuts else (None, self.working_point.threshold)

        def finite(v: float | None) -> float | None:
            return None if v is None or not np.isfinite(v) else float(v)

        rule = "L1 > l1_seed_above and HLT > hlt_score_above"
        if self.path_cuts:
            rule = "L1 > l1_seed_above and (L1 > l1_score_above or HLT > hlt_score_above)"
        return {
            "rule": rule,
            "l1_seed_above": self.seed.threshold,
            "l1_score_above": finite(l1_cut),
            "hlt_score_above": finite(hlt_cut),
        }

    def to_dict(self) -> dict[str, Any]:
        t = self.trigger
        lo, hi = t.l1_rate_interval_khz(self.config.confidence_level)
        return {
            "l1_run": self.l1_run,
            "hlt_run": self.hlt_run,
            "hlt_encoder": self.hlt_info.get("encoder"),
            "input_rate_khz": t.input_rate_khz,
            "zero_bias": {
                "weighted": t.zb_weights is not None,
                "n_events": len(t.zb_l1),
                "n_effective": t.l1_curve.n_effective,
            },
            "l1_seed": {
                "working_point": self.seed.name,
                "threshold": self.seed.threshold,
                "rate_khz": t.l1_rate_khz,
                "rate_low_khz": lo,
                "rate_high_khz": hi,
                "n_zb_seeded": t.n_seeded,
                "n_zb_seeded_effective": t.n_seeded_effective,
            },
            "hlt_working_point": self.working_point.to_dict(),
            "hlt_fraction_of_seed": float(t.hlt_fraction(self.working_point.threshold)),
            "hlt_path": self.hlt_path,
            "sm_test_events": self.sm_test_events,
            "rate_points_khz": self.rate_points,
            "rate_point_working_points": {f"{r:g}": wp.to_dict() for r, wp in self.rate_point_wps.items()},
            "signals": {name: s.to_dict() for name, s in self.signals.items()},
        }

    @property
    def rate_points(self) -> list[float]:
        seed_rate = self.trigger.l1_rate_khz
        points = {*self.config.rate_points_khz, self.config.hlt_rate_khz}
        return sorted((r for r in points if 0 < r < seed_rate), reverse=True)


def _purities(n_signal: np.ndarray, n_sm: np.ndarray, w_signal: float, w_sm: np.ndarray) -> list[float | None]:
    """S/B at each threshold from the signal's counts (n,) and the SM samples' counts (n_sm, n)."""
    return [purity(k, n_sm[:, j], signal_weight=w_signal, background_weight=w_sm) for j, k in enumerate(n_signal)]


def with_l1_score(
    l1: SampleScores, hlt: SampleScores, l1_threshold: float, *, weighted_zero_bias: bool = True
) -> SampleScores:
    """``hlt`` with every sample's scores replaced by :func:`~wnae.hlt.two_level.l1_combined_scores`: the
    larger of the L1 and HLT scores' rarities among the zero-bias events the seed accepts.

    Raises:
        DataError: the runs scored different events, or no zero-bias event passes the seed.
    """
    _check_same_events(l1, hlt)
    ml1, mhlt = l1.zero_bias_mixture(weighted=weighted_zero_bias), hlt.zero_bias_mixture(weighted=weighted_zero_bias)
    if not np.any(ml1.scores > l1_threshold):
        msg = f"no zero-bias event passes the L1 seed (L1 score > {l1_threshold:g}): the HLT rate cannot be calibrated"
        raise DataError(msg)
    weights = ml1.weights if ml1.weighted else None

    def combined(a: np.ndarray, s: np.ndarray) -> np.ndarray:
        return l1_combined_scores(a, s, ml1.scores, mhlt.scores, l1_threshold, weights)

    samples = {
        name: dataclasses.replace(h, scores=combined(l1.samples[name].scores, h.scores))
        for name, h in hlt.samples.items()
    }
    return SampleScores(f"{hlt.run_name}+L1", samples)


def _check_same_events(l1: SampleScores, hlt: SampleScores) -> None:
    if list(l1.samples) != list(hlt.samples) or any(
        l1.samples[k].n_scored != hlt.samples[k].n_scored for k in l1.samples
    ):
        msg = "the L1 and HLT runs did not score the same samples and events"
        raise DataError(msg)


def two_level_from_scores(
    l1: SampleScores,
    hlt: SampleScores,
    seed: L1Seed,
    cfg: HltEvaluateConfig,
    *,
    weighted_zero_bias: bool = True,
    hlt_info: dict[str, Any] | None = None,
) -> TwoLevelEvaluation:
    """The two-level evaluation from both runs' scores of the same events.

    Raises:
        DataError: the runs scored different events, no ZB event passes the seed, no SM test events.
        ConfigError: an HLT rate not below the seed's rate.
    """
    _check_same_events(l1, hlt)
    encoder_zb = None  # the HLT run's own zero-bias scores, for the path's cuts when the L1 score is kept
    if cfg.hlt_score == "with_l1":
        encoder_zb = hlt.zero_bias_mixture(weighted=weighted_zero_bias).scores
        hlt = with_l1_score(l1, hlt, seed.threshold, weighted_zero_bias=weighted_zero_bias)
    ml1, mhlt = l1.zero_bias_mixture(weighted=weighted_zero_bias), hlt.zero_bias_mixture(weighted=weighted_zero_bias)
    trigger = TwoLevelTrigger(
        ml1.scores, mhlt.scores, seed.input_rate_khz, seed.threshold, ml1.weights if ml1.weighted else None
    )
    wp = trigger.working_point(cfg.hlt_rate_khz, confidence_level=cfg.confidence_level)
    if not wp.resolved:
        logger.warning(
            "the HLT threshold at %g kHz rests on %.1f effective seeded ZB events",
            cfg.hlt_rate_khz,
            wp.n_zb_effective_above,
        )
    sm_names = [s.name for s in l1.by_role(SampleRole.BACKGROUND)]
    if not sm_names:
        msg = "no SM background test events: purity needs the background samples"
        raise DataError(msg)
    sm = [(l1.samples[n].scores, hlt.samples[n].scores) for n in sm_names]
    purity_names = sm_names + [s.name for s in l1.samples.values() if s.role in TWO_LEVEL_ROLES]
    w_eq, w_xs = sample_weights(l1, "equal", purity_names), None
    try:
        w_xs = sample_weights(l1, "cross_section", purity_names)
    except DataError as err:
        logger.warning("no cross-section weighted purity: %s", err)
    thresholds, rates = trigger.rate_scan()
    l1_rates = {name: float(trigger.l1_curve.rate_khz(t)) for name, t in seed.working_points.items()}
    evaluation = TwoLevelEvaluation(
        l1.run_name,
        hlt.run_name,
        dict(hlt_info or {}),
        cfg,
        seed,
        trigger,
        wp,
        {},
        sum(l1.samples[n].n_scored for n in sm_names),
        hlt,
        l1_rates,
    )
    if encoder_zb is not None:
        evaluation.path_cuts = l1_combined_cuts(
            wp.threshold, ml1.scores, encoder_zb, seed.threshold, trigger.zb_weights
        )
    evaluation.rate_point_wps = {
        r: wp if r == cfg.hlt_rate_khz else trigger.working_point(r, confidence_level=cfg.confidence_level)
        for r in evaluation.rate_points
    }
    point_thresholds = {r: p.threshold for r, p in evaluation.rate_point_wps.items()}
    # the L1 run alone at the same rates (its own threshold for each), the reference the HLT must beat
    l1_thresholds = {
        r: threshold_for_rate(trigger.l1_curve, r, confidence_level=cfg.confidence_level).threshold
        for r in evaluation.rate_points
    }
    point_t = np.array(list(point_thresholds.values()), float)
    # SM test events behind the seed above each threshold, (n_sm, n_thresholds): the same for every signal
    sm_at_points = np.array([trigger.n_passing(a, s, point_t) for a, s in sm]).reshape(len(sm), -1)
    sm_along_curve = np.array([trigger.n_passing(a, s, thresholds) for a, s in sm]).reshape(len(sm), -1)
    for name, s1 in l1.samples.items():
        if s1.role not in TWO_LEVEL_ROLES or s1.n_scored == 0:
            continue
        a, s = s1.scores, hlt.samples[name].scores
        n_gen = float(s1.info.n_generated)
        k = trigger.n_passing(a, s, wp.threshold)
        lo, hi = binomial_interval(k, round(n_gen), cfg.confidence_level)
        result = SignalTwoLevel(
            name,
            s1.role.value,
            s1.n_scored,
            n_gen,
            (k / n_gen, float(lo), float(hi)),
            float(np.count_nonzero(a > seed.threshold) / n_gen),
        )
        result.raw_l1 = {
            wp_name: (l1_rates[wp_name], float(np.count_nonzero(a > t) / n_gen))
            for wp_name, t in seed.working_points.items()
        }
        result.curve_rate_khz, result.curve_efficiency = rates, trigger.efficiency(a, s, n_gen, thresholds)

        for key, weights in (("purity", w_eq), ("purity_cross_section", w_xs)):
            if weights is None:
                continue
            w_sm = np.array([weights[n] for n in sm_names])
            at_points = _purities(trigger.n_passing(a, s, point_t), sm_at_points, weights[name], w_sm)
            setattr(result, key, dict(zip(point_thresholds, at_points, strict=True)))
            curve = _purities(trigger.n_passing(a, s, thresholds), sm_along_curve, weights[name], w_sm)
            setattr(result, f"{key}_curve", np.array([np.nan if v is None else v for v in curve]))
        result.efficiency_at = {r: float(trigger.efficiency(a, s, n_gen, t)) for r, t in point_thresholds.items()}
        result.raw_l1_at = {r: float(np.count_nonzero(a > t) / n_gen) for r, t in l1_thresholds.items()}
        evaluation.signals[name] = result
    return evaluation


def evaluate_two_level(
    l1_run_dir: str | Path,
    hlt_run_dir: str | Path,
    data_dir: str | Path,
    cfg: HltEvaluateConfig,
    *,
    l1_scorer: Scorer | None = None,
    hlt_scorer: Scorer | None = None,
) -> TwoLevelEvaluation:
    """Score ``data_dir`` with the L1 run and the HLT run and evaluate the two-level trigger."""
    seed = read_l1_seed(l1_run_dir, cfg.l1_working_point)
    l1_scorer = l1_scorer or load_scorer(l1_run_dir)
    hlt_scorer = hlt_scorer or load_hlt_run(hlt_run_dir)
    l1 = score_samples(l1_scorer, data_dir, chunk_events=cfg.chunk_events)
    hlt = score_samples(hlt_scorer, data_dir, chunk_events=cfg.chunk_events, latent_events=cfg.latent_events)
    return two_level_from_scores(l1, hlt, seed, cfg, hlt_info=getattr(hlt_scorer, "info", {}))
