"""Classifier metrics of an anomaly score: ROC, AUC, TPR at fixed FPR with its interval, S/B.

The negative class is the SM background test split (:func:`roc`, :func:`tpr_at_fpr`) or the zero bias,
weighted as the rates are (:func:`auc`, :func:`tpr_at_zero_bias_fpr`); each signal sample is the
positive class. Every efficiency carries a Clopper–Pearson interval
(:func:`wnae.evaluate.rates.binomial_interval`), on effective counts for a weighted sample
(:func:`binomial_efficiency`).

References:
    E. Govorkova et al., ADC2021 data set, Sci. Data 9 (2022) 118, arXiv:2107.02157 (TPR at
    FPR = 1e-5 as the benchmark metric).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from wnae.errors import DataError
from wnae.evaluate.rates import binomial_interval

__all__ = ["Roc", "TprAtFpr", "auc", "binomial_efficiency", "purity", "roc", "tpr_at_fpr", "tpr_at_zero_bias_fpr"]


@dataclass(frozen=True)
class Roc:
    """A ROC curve.

    Attributes:
        fpr: float (n_points,) false-positive rate on the SM test sample, ascending.
        tpr: float (n_points,) true-positive rate (signal efficiency over stored events).
        thresholds: float (n_points,) score thresholds (``score >= threshold``).
        auc: area under the curve.
        n_background, n_signal: events in each class.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float
    n_background: int
    n_signal: int


def roc(background_scores: np.ndarray, signal_scores: np.ndarray) -> Roc:
    """ROC curve and AUC of signal vs background scores.

    .. math::

        \\text{AUC} = P(s_{sig} > s_{bkg}) + \\tfrac12 P(s_{sig} = s_{bkg})

    Args:
        background_scores: float (n_b,) scores of the SM test events.
        signal_scores: float (n_s,) scores of the signal events.

    Example:
        >>> roc(np.array([0.0, 1.0]), np.array([2.0, 3.0])).auc
        1.0
    """
    b = np.asarray(background_scores, dtype=float)
    s = np.asarray(signal_scores, dtype=float)
    if len(b) == 0 or len(s) == 0:
        msg = f"ROC needs events in both classes, got {len(b)} background and {len(s)} signal"
        raise DataError(msg)
    y = np.concatenate([np.zeros(len(b)), np.ones(len(s))])
    x = np.concatenate([b, s])
    fpr, tpr, thr = roc_curve(y, x, drop_intermediate=False)
    return Roc(fpr, tpr, thr, float(roc_auc_score(y, x)), len(b), len(s))


def _weights(weights: np.ndarray | None, n: int, what: str) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float).reshape(-1)
    if w.shape != (n,):
        msg = f"{len(w)} {what} weights for {n} {what} scores"
        raise DataError(msg)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        msg = f"{what} weights must be finite, >= 0 and not all 0"
        raise DataError(msg)
    return w


def auc(
    background_scores: np.ndarray,
    signal_scores: np.ndarray,
    *,
    background_weights: np.ndarray | None = None,
    signal_weights: np.ndarray | None = None,
) -> float:
    """Area under the ROC curve of signal vs background, each event counted with its weight.

    .. math::

        \\text{AUC} = \\frac{\\sum_{i \\in B} \\sum_{j \\in S} w_i v_j
        \\left([s_j > b_i] + \\tfrac12 [s_j = b_i]\\right)}{\\sum_{i \\in B} w_i \\sum_{j \\in S} v_j}

    Only the ratios of the weights within a class matter. With the weighted zero bias as background
    (:class:`~wnae.data.zero_bias.ZeroBiasMixture`, each event weighted by its share of crossings) this
    is the AUC against the bunch crossings the trigger sees; unweighted it is :func:`roc`'s AUC.

    Args:
        background_scores: float (n_b,) scores of the negative class.
        signal_scores: float (n_s,) scores of the positive class.
        background_weights, signal_weights: float (n_b,) and (n_s,) weights ≥ 0 (default: 1 each).

    Raises:
        DataError: an empty class, weights of the wrong length, negative or non-finite weights.

    Example:
        >>> auc(np.array([0.0, 2.0]), np.array([1.0]), background_weights=np.array([3.0, 1.0]))
        0.75
    """
    b = np.asarray(background_scores, dtype=float).reshape(-1)
    s = np.asarray(signal_scores, dtype=float).reshape(-1)
    if len(b) == 0 or len(s) == 0:
        msg = f"AUC needs events in both classes, got {len(b)} background and {len(s)} signal"
        raise DataError(msg)
    wb = _weights(background_weights, len(b), "background")
    ws = _weights(signal_weights, len(s), "signal")
    y = np.concatenate([np.zeros(len(b)), np.ones(len(s))])
    if wb is None and ws is None:
        return float(roc_auc_score(y, np.concatenate([b, s])))
    # each class normalised to total weight 1 (sklearn weighs the pairs by the raw weights)
    wb = np.full(len(b), 1.0 / len(b)) if wb is None else wb / wb.sum()
    ws = np.full(len(s), 1.0 / len(s)) if ws is None else ws / ws.sum()
    return float(roc_auc_score(y, np.concatenate([b, s]), sample_weight=np.concatenate([wb, ws])))


def binomial_efficiency(
    passed: np.ndarray, weights: np.ndarray | None = None, confidence_level: float = 0.6827
) -> tuple[float, float, float]:
    """Efficiency of a selection with its Clopper–Pearson interval, on effective counts when weighted.

    Unweighted, :math:`\\varepsilon = k/n` with :math:`k` the events passing out of :math:`n`. Weighted
    (as :class:`~wnae.evaluate.rates.RateCurve` counts the weighted zero bias), with :math:`W_p, V_p` the
    sum of the weights and of their squares over the passing events and :math:`W` over all:

    .. math::

        \\varepsilon = \\frac{W_p}{W}, \\qquad k_{eff} = \\frac{W_p^2}{V_p}, \\qquad
        n_{eff} = \\frac{W\\,W_p}{V_p}, \\qquad k_{eff}/n_{eff} = \\varepsilon,

    both rounded to events, and the interval is :func:`~wnae.evaluate.rates.binomial_interval` of
    :math:`k_{eff}` of :math:`n_{eff}` (equal weights give :math:`k` of :math:`n`). When nothing
    passes, :math:`k = 0` of the sample's effective size :math:`W^2/\\sum w^2`.

    Args:
        passed: bool (n,) whether each event passes.
        weights: float (n,) event weights ≥ 0, or None (1 each).
        confidence_level: two-sided coverage of the interval.

    Returns:
        ``(efficiency, low, high)``.

    Example:
        >>> eff, lo, hi = binomial_efficiency(np.array([True] * 10 + [False] * 90))
        >>> eff, round(lo, 4), round(hi, 4)
        (0.1, 0.0697, 0.1396)
    """
    p = np.asarray(passed, dtype=bool).reshape(-1)
    if len(p) == 0:
        msg = "an efficiency needs at least one event"
        raise DataError(msg)
    if weights is None:
        k = int(np.count_nonzero(p))
        lo, hi = binomial_interval(k, len(p), confidence_level)
        return k / len(p), float(lo), float(hi)
    w = np.asarray(_weights(weights, len(p), "event"))
    total, w_pass, v_pass = float(w.sum()), float(w[p].sum()), float(np.dot(w[p], w[p]))
    if v_pass > 0:
        k_eff = round(w_pass * w_pass / v_pass)
        n_eff = max(round(total * w_pass / v_pass), k_eff, 1)
    else:
        k_eff, n_eff = 0, max(round(total * total / float(np.dot(w, w))), 1)
    lo, hi = binomial_interval(k_eff, n_eff, confidence_level)
    return w_pass / total, float(lo), float(hi)


@dataclass(frozen=True)
class TprAtFpr:
    """TPR at a target FPR.

    Attributes:
        target_fpr: the FPR asked for.
        tpr: the interpolated TPR, or None when the target is below the sample's reach.
        fpr_floor: smallest non-zero FPR the background sample can measure, :math:`1/N_B`.
        reachable: ``target_fpr >= fpr_floor``.
        message: why the value is missing, if it is.
        tpr_low, tpr_high: Clopper–Pearson interval of ``tpr`` over the ``n_signal`` stored signal
            events at ``confidence_level`` (None when ``tpr`` is).
        n_signal: signal events the TPR is a fraction of.
        confidence_level: coverage of the interval.
    """

    target_fpr: float
    tpr: float | None
    fpr_floor: float
    reachable: bool
    message: str = ""
    tpr_low: float | None = None
    tpr_high: float | None = None
    n_signal: int = 0
    confidence_level: float = 0.6827

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tpr_at_fpr(curve: Roc, target_fpr: float, confidence_level: float = 0.6827) -> TprAtFpr:
    """TPR at ``target_fpr``, interpolated linearly in :math:`\\log_{10}` FPR, with its interval.

    Between the ROC points :math:`(f_1, t_1)` and :math:`(f_2, t_2)` with
    :math:`0 < f_1 \\le f^* \\le f_2`:

    .. math::

        t^* = t_1 + (t_2 - t_1)\\,\\frac{\\log f^* - \\log f_1}{\\log f_2 - \\log f_1}.

    The interval is Clopper–Pearson (:func:`~wnae.evaluate.rates.binomial_interval`) for
    :math:`k = t^* N_S` of the :math:`N_S` signal events (the beta quantiles taken at a real
    :math:`k` between two ROC points; exact on a ROC point).

    The smallest non-zero FPR is :math:`1/N_B`; below it the SM test sample is too small and the
    result has ``tpr=None``, ``reachable=False`` and a message saying so (FPR = 1e-5 needs
    ≥ 100 000 SM test events).

    Example:
        >>> c = Roc(np.array([0.0, 1e-6, 1e-4, 1.0]), np.array([0.0, 0.1, 0.3, 1.0]), np.zeros(4), 0.9, 10**6, 10)
        >>> round(tpr_at_fpr(c, 1e-5).tpr, 6)
        0.2
    """
    floor = 1.0 / curve.n_background
    if target_fpr < floor * (1 - 1e-9):
        msg = (
            f"FPR = {target_fpr:.0e} is out of reach: the SM test sample has {curve.n_background} events "
            f"(smallest FPR {floor:.1e}); it needs ≥ {math.ceil(1 / target_fpr):,} events"
        )
        return TprAtFpr(target_fpr, None, floor, False, msg, n_signal=curve.n_signal, confidence_level=confidence_level)
    fpr, tpr = curve.fpr, curve.tpr
    positive = fpr > 0
    f, t = fpr[positive], tpr[positive]
    log_f = np.log10(f)
    # fpr is non-decreasing; for equal fpr keep the highest tpr (the last point)
    log_f_unique, last = np.unique(log_f[::-1], return_index=True)
    t_unique = t[::-1][last]
    value = float(np.interp(math.log10(target_fpr), log_f_unique, t_unique))
    lo, hi = binomial_interval(np.asarray(value * curve.n_signal), curve.n_signal, confidence_level)
    return TprAtFpr(
        target_fpr,
        value,
        floor,
        True,
        tpr_low=float(lo),
        tpr_high=float(hi),
        n_signal=curve.n_signal,
        confidence_level=confidence_level,
    )


def tpr_at_zero_bias_fpr(
    curve: Any, signal_scores: np.ndarray, target_fpr: float, confidence_level: float = 0.6827
) -> TprAtFpr:
    """TPR at an FPR measured on the (weighted) zero bias, the SM as the L1 trigger sees it.

    The threshold is the one a fraction ``target_fpr`` of the ZB crossings passes
    (:meth:`~wnae.evaluate.rates.RateCurve.threshold_at_fraction`, i.e. the rate ``target_fpr`` × R₀);
    TPR = stored signal events above it / stored events, with its Clopper–Pearson interval
    (:func:`binomial_efficiency`). Reachable when that fraction amounts to at least one effective ZB
    event; the weighted zero bias reaches FPR 1e-5 where 4 000 SM test events cannot.
    """
    s = np.asarray(signal_scores, dtype=float)
    threshold = curve.threshold_at_fraction(target_fpr)
    n_eff = curve.effective_events_at(target_fpr, threshold)
    floor = target_fpr / n_eff if n_eff > 0 else 1.0
    if n_eff < 1 or len(s) == 0:
        msg = (
            f"FPR = {target_fpr:.0e} on zero bias is {n_eff:.2g} effective ZB events (< 1): "
            "more (or weighted) zero bias is needed"
        )
        return TprAtFpr(target_fpr, None, floor, False, msg, n_signal=len(s), confidence_level=confidence_level)
    value, lo, hi = binomial_efficiency(s > threshold, confidence_level=confidence_level)
    return TprAtFpr(
        target_fpr,
        value,
        floor,
        True,
        f"{n_eff:.0f} effective ZB events",
        tpr_low=lo,
        tpr_high=hi,
        n_signal=len(s),
        confidence_level=confidence_level,
    )


def purity(
    n_signal_above: float,
    n_background_above: float | np.ndarray,
    *,
    signal_weight: float = 1.0,
    background_weight: float | np.ndarray = 1.0,
) -> float | None:
    """Purity :math:`S/B` above a threshold.

    .. math::

        S/B = \\frac{w_S N_S(s>t)}{\\sum_b w_b N_b(s>t)}

    With equal weights (default) :math:`w = 1` per event. With cross-section weights
    :math:`w = \\sigma/N_{gen}` per event (the luminosity cancels in the ratio). For several
    background processes pass arrays of counts and weights, one entry per process.

    Returns:
        S/B, or None when no background event passes (B = 0: only a lower limit).

    Example:
        >>> purity(10, 5)
        2.0
        >>> purity(10, np.array([2, 3]), background_weight=np.array([1.0, 2.0]))
        1.25
        >>> purity(1, 0) is None
        True
    """
    s = signal_weight * n_signal_above
    b = float(np.sum(np.asarray(background_weight, dtype=float) * np.asarray(n_background_above, dtype=float)))
    if b <= 0:
        return None
    return float(s / b)
