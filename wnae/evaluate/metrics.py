"""Classifier metrics of an anomaly score against the SM test sample: ROC, AUC, TPR at fixed FPR, S/B.

The SM background test split is the negative class and each signal sample the positive class.

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

__all__ = ["Roc", "TprAtFpr", "purity", "roc", "tpr_at_fpr", "tpr_at_zero_bias_fpr"]


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


@dataclass(frozen=True)
class TprAtFpr:
    """TPR at a target FPR.

    Attributes:
        target_fpr: the FPR asked for.
        tpr: the interpolated TPR, or None when the target is below the sample's reach.
        fpr_floor: smallest non-zero FPR the background sample can measure, :math:`1/N_B`.
        reachable: ``target_fpr >= fpr_floor``.
        message: why the value is missing, if it is.
    """

    target_fpr: float
    tpr: float | None
    fpr_floor: float
    reachable: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tpr_at_fpr(curve: Roc, target_fpr: float) -> TprAtFpr:
    """TPR at ``target_fpr``, interpolated linearly in :math:`\\log_{10}` FPR.

    Between the ROC points :math:`(f_1, t_1)` and :math:`(f_2, t_2)` with
    :math:`0 < f_1 \\le f^* \\le f_2`:

    .. math::

        t^* = t_1 + (t_2 - t_1)\\,\\frac{\\log f^* - \\log f_1}{\\log f_2 - \\log f_1}.

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
        msg = (f"FPR = {target_fpr:.0e} is out of reach: the SM test sample has {curve.n_background} events "
               f"(smallest FPR {floor:.1e}); it needs ≥ {math.ceil(1 / target_fpr):,} events")
        return TprAtFpr(target_fpr, None, floor, False, msg)
    fpr, tpr = curve.fpr, curve.tpr
    positive = fpr > 0
    f, t = fpr[positive], tpr[positive]
    log_f = np.log10(f)
    # fpr is non-decreasing; for equal fpr keep the highest tpr (the last point)
    log_f_unique, last = np.unique(log_f[::-1], return_index=True)
    t_unique = t[::-1][last]
    value = float(np.interp(math.log10(target_fpr), log_f_unique, t_unique))
    return TprAtFpr(target_fpr, value, floor, True)


def tpr_at_zero_bias_fpr(curve: Any, signal_scores: np.ndarray, target_fpr: float) -> TprAtFpr:
    """TPR at an FPR measured on the (weighted) zero bias, the SM as the L1 trigger sees it.

    The threshold is the one a fraction ``target_fpr`` of the ZB crossings passes
    (:meth:`~wnae.evaluate.rates.RateCurve.threshold_at_fraction`, i.e. the rate ``target_fpr`` × R₀);
    TPR = stored signal events above it / stored events. Reachable when that fraction amounts to at
    least one effective ZB event; the weighted zero bias reaches FPR 1e-5 where 4 000 SM test events
    cannot.
    """
    s = np.asarray(signal_scores, dtype=float)
    threshold = curve.threshold_at_fraction(target_fpr)
    n_eff = curve.effective_events_at(target_fpr, threshold)
    floor = target_fpr / n_eff if n_eff > 0 else 1.0
    if n_eff < 1 or len(s) == 0:
        msg = (f"FPR = {target_fpr:.0e} on zero bias is {n_eff:.2g} effective ZB events (< 1): "
               "more (or weighted) zero bias is needed")
        return TprAtFpr(target_fpr, None, floor, False, msg)
    return TprAtFpr(target_fpr, float(np.mean(s > threshold)), floor, True, f"{n_eff:.0f} effective ZB events")


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
