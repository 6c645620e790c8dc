"""Anomaly score → trigger rate on zero bias, thresholds for target rates, signal efficiency vs rate.

A trigger fires when ``score > threshold``. On a zero-bias (ZB) sample of :math:`N_{ZB}` random
bunch crossings the fraction that fires and the rate it implies are

.. math::

    \\varepsilon_{ZB}(t) = \\frac{N_{ZB}(s > t)}{N_{ZB}}, \\qquad R(t) = R_0 \\, \\varepsilon_{ZB}(t),

where :math:`R_0` is the input rate of the stream the model sees (40 000 kHz for an L1 algorithm on
every bunch crossing; e.g. 6 kHz when it runs after an L1 seed). :math:`N_{ZB}(s>t)` is binomial, so
the rate carries a Clopper–Pearson interval, and a threshold solved for a target rate carries the range
of thresholds whose rates fall inside that interval.

**Statistical floor.** One ZB event is worth :math:`R_0/N_{ZB}` (2 kHz for 20 000 events at 40 MHz).
A target rate with fewer than ``min_zb_events`` expected ZB events above threshold is not resolved by
counting; :func:`threshold_for_rate` then either extrapolates an exponential fit to the upper tail of
the ZB scores (flagged ``method="tail_fit"``) or returns the highest ZB score as a conservative
threshold (``method="unresolved"``).

References:
    C. J. Clopper and E. S. Pearson, Biometrika 26 (1934) 404.
    CMS Collaboration, AXOL1TL Level-1 anomaly-detection trigger, CMS-DP-2023-079.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
from scipy import stats

from wnae.errors import ConfigError, DataError

__all__ = [
    "RateCurve",
    "WorkingPoint",
    "binomial_interval",
    "efficiency_above",
    "efficiency_at_threshold",
    "threshold_for_rate",
]

logger = logging.getLogger(__name__)

Method = Literal["empirical", "tail_fit", "unresolved"]


def binomial_interval(k: int | np.ndarray, n: int, confidence_level: float = 0.6827) -> tuple[Any, Any]:
    """Clopper–Pearson (exact) interval on a binomial fraction ``k / n``.

    .. math::

        \\varepsilon_{lo} = B^{-1}\\left(\\tfrac{\\alpha}{2}; k, n-k+1\\right), \\qquad
        \\varepsilon_{hi} = B^{-1}\\left(1-\\tfrac{\\alpha}{2}; k+1, n-k\\right),

    with :math:`\\alpha = 1 - \\text{CL}` and :math:`B^{-1}` the inverse beta CDF; :math:`\\varepsilon_{lo}=0`
    for :math:`k=0` and :math:`\\varepsilon_{hi}=1` for :math:`k=n`.

    Args:
        k: events passing (scalar or array), 0 ≤ k ≤ n.
        n: events tried, > 0.
        confidence_level: two-sided coverage (default 68.27 %, one σ).

    Returns:
        ``(low, high)`` fractions, same shape as ``k``.

    Example:
        >>> lo, hi = binomial_interval(0, 100)
        >>> float(lo), round(float(hi), 4)
        (0.0, 0.0182)
    """
    if n <= 0:
        msg = f"binomial interval needs n > 0 events, got {n}"
        raise DataError(msg)
    lo, hi = binomial_interval_array(k, np.asarray(n, dtype=float), confidence_level)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def binomial_interval_array(
    k: float | np.ndarray, n: float | np.ndarray, confidence_level: float = 0.6827
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`binomial_interval` element-wise for arrays of ``k`` and ``n`` (real counts allowed)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    alpha = 1.0 - confidence_level
    with np.errstate(invalid="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    return lo, hi


def efficiency_above(scores: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    """Fraction of ``scores`` strictly above each threshold, :math:`N(s>t)/N`.

    Args:
        scores: float (n,) anomaly scores.
        thresholds: float threshold(s), same units as the scores.

    Returns:
        float array with the shape of ``thresholds``.

    Example:
        >>> efficiency_above(np.array([1.0, 2.0, 3.0, 4.0]), [0.0, 2.0, 4.0]).tolist()
        [1.0, 0.5, 0.0]
    """
    s = np.sort(np.asarray(scores, dtype=float))
    t = np.asarray(thresholds, dtype=float)
    if len(s) == 0:
        return np.full(t.shape, np.nan)
    return (len(s) - np.searchsorted(s, t, side="right")) / len(s)


@dataclass(frozen=True)
class RateCurve:
    """Trigger rate as a function of threshold, from (optionally weighted) zero-bias scores.

    With weights (the weighted zero bias of :mod:`wnae.data.zero_bias`, each event standing for a
    share :math:`w_i` of the bunch crossings, :math:`\\sum w_i = 1`) the fraction above threshold is
    :math:`\\varepsilon(t) = \\sum_{s_i > t} w_i`, and its statistics are those of the effective number
    of events :math:`n_{eff}(t) = (\\sum_{s_i>t} w_i)^2 / \\sum_{s_i>t} w_i^2`. Without weights every
    event weighs :math:`1/N_{ZB}` and everything reduces to counting.

    Attributes:
        zb_scores: float (n_zb,) ZB scores, sorted ascending.
        input_rate_khz: :math:`R_0`, the input rate of the stream in kHz.
        zb_weights: float (n_zb,) weights aligned with ``zb_scores``, normalised to sum 1, or None
            for an unweighted (unbiased) sample.
    """

    zb_scores: np.ndarray
    input_rate_khz: float
    zb_weights: np.ndarray | None = None

    @classmethod
    def from_scores(cls, zb_scores: np.ndarray, input_rate_khz: float, weights: np.ndarray | None = None) -> RateCurve:
        """Validate and sort; an empty or non-finite ZB sample (or bad weights) is a :class:`DataError`."""
        s = np.asarray(zb_scores, dtype=float).reshape(-1)
        if len(s) == 0:
            msg = "the zero-bias sample is empty: no rate can be calibrated (regenerate the data with zero bias)"
            raise DataError(msg)
        if not np.isfinite(s).all():
            msg = f"{int((~np.isfinite(s)).sum())} zero-bias scores are NaN or infinite"
            raise DataError(msg)
        if not (math.isfinite(input_rate_khz) and input_rate_khz > 0):
            msg = f"input_rate_khz must be a finite number > 0, got {input_rate_khz}"
            raise ConfigError(msg)
        order = np.argsort(s, kind="stable")
        w = None
        if weights is not None:
            w = np.asarray(weights, dtype=float).reshape(-1)
            if w.shape != s.shape:
                msg = f"{len(w)} zero-bias weights for {len(s)} scores"
                raise DataError(msg)
            if not np.isfinite(w).all() or (w <= 0).any():
                msg = "zero-bias weights must be finite and > 0"
                raise DataError(msg)
            w = w[order] / w.sum()
        return cls(s[order], float(input_rate_khz), w)

    @property
    def weighted(self) -> bool:
        return self.zb_weights is not None

    @property
    def n_zb(self) -> int:
        return len(self.zb_scores)

    @cached_property
    def _units(self) -> np.ndarray:
        """Weight of each event, descending by score, in units where counting is exact (1 per event
        unweighted, the normalised weight otherwise)."""
        return np.ones(self.n_zb) if self.zb_weights is None else self.zb_weights[::-1]

    @cached_property
    def _cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        """(C, Q): C[j], Q[j] = sum of units and of units² of the j highest-scoring events, j = 0..n."""
        u = self._units
        c = np.concatenate([[0.0], np.cumsum(u)])
        q = np.concatenate([[0.0], np.cumsum(u * u)])
        return c, q

    @property
    def _total_units(self) -> float:
        return float(self.n_zb) if self.zb_weights is None else 1.0

    @property
    def n_effective(self) -> float:
        """Effective number of ZB events, :math:`(\\sum w)^2/\\sum w^2` (= n_zb unweighted)."""
        c, q = self._cumulative
        return float(c[-1] ** 2 / q[-1])

    @property
    def rate_per_event_khz(self) -> float:
        """Rate one (effective) ZB event is worth, :math:`R_0 \\sum w^2/\\sum w` in kHz (:math:`R_0/N_{ZB}`
        unweighted); for a weighted sample this is the average over all events, the tail is finer."""
        return self.input_rate_khz / self.n_effective

    def n_above(self, threshold: float | np.ndarray) -> np.ndarray:
        """Number of ZB events with score > threshold (a count, not weighted)."""
        return self.n_zb - np.searchsorted(self.zb_scores, np.asarray(threshold, float), side="right")

    def _sums_above(self, threshold: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c, q = self._cumulative
        k = self.n_above(threshold)
        return c[k], q[k]

    def fraction_above(self, threshold: float | np.ndarray) -> np.ndarray:
        """:math:`\\varepsilon(t) = \\sum_{s>t} w`, the fraction of crossings that fire."""
        return self._sums_above(threshold)[0] / self._total_units

    def n_effective_above(self, threshold: float | np.ndarray) -> np.ndarray:
        """Effective number of ZB events above threshold (the count, unweighted)."""
        w, w2 = self._sums_above(threshold)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(w2 > 0, w * w / np.where(w2 > 0, w2, 1.0), 0.0)

    def rate_khz(self, threshold: float | np.ndarray) -> np.ndarray:
        """:math:`R(t) = R_0\\,\\varepsilon(t)` in kHz."""
        return self.input_rate_khz * self.fraction_above(threshold)

    def _effective_binomial(self, w: np.ndarray, w2: np.ndarray, confidence_level: float) -> tuple[Any, Any]:
        """Clopper–Pearson on effective counts: k = W²/V events of n = W_total·W/V (the count and
        N_ZB unweighted); above every event, k = 0 of n = total / (heaviest top weight)."""
        w, w2 = np.atleast_1d(np.asarray(w, float)), np.atleast_1d(np.asarray(w2, float))
        total = self._total_units
        top = float(self._units[0])
        k = np.where(w2 > 0, np.round(w * w / np.where(w2 > 0, w2, 1.0)), 0.0)
        n = np.where(w2 > 0, np.round(total * w / np.where(w2 > 0, w2, 1.0)), round(total / top))
        n = np.maximum(n, np.maximum(k, 1.0))
        lo, hi = binomial_interval_array(k, n, confidence_level)
        return lo, hi

    def rate_interval_khz(
        self, threshold: float | np.ndarray, confidence_level: float = 0.6827
    ) -> tuple[np.ndarray, np.ndarray]:
        """Interval on :math:`R(t)` in kHz: Clopper–Pearson, on effective counts when weighted."""
        scalar = np.ndim(threshold) == 0
        lo, hi = self._effective_binomial(*self._sums_above(threshold), confidence_level)
        lo, hi = self.input_rate_khz * lo, self.input_rate_khz * hi
        return (lo[0], hi[0]) if scalar else (lo, hi)

    def threshold_at_fraction(self, fraction: float) -> float:
        """Threshold with the fraction ``fraction`` of crossings above it (linear between events).

        Unweighted, at ``fraction = k/N_ZB`` for integer ``k`` the threshold is the midpoint of the
        k-th and (k+1)-th highest scores, so exactly ``k`` events fire; in between it interpolates
        between those midpoints, each event's step being its weight.
        """
        return self._threshold_at_units(float(fraction) * self._total_units)

    def threshold_at_count(self, n_above: float) -> float:
        """Threshold with ``n_above`` events' worth above it (unweighted: exactly ``n_above`` events)."""
        if self.weighted:
            return self.threshold_at_fraction(n_above / self.n_effective)
        return self._threshold_at_units(float(n_above))

    def _threshold_at_units(self, target: float) -> float:
        s = self.zb_scores
        n = self.n_zb
        c, _ = self._cumulative
        target = float(np.clip(target, 0.0, c[-1]))

        def midpoint(j: int) -> float:  # exactly the j highest events above
            if j <= 0:
                return float(s[-1])
            if j >= n:
                return float(s[0]) - 1e-12 * max(1.0, abs(float(s[0])))
            return 0.5 * (float(s[n - j]) + float(s[n - j - 1]))

        j = int(np.searchsorted(c, target, side="right")) - 1
        if j >= n:
            return midpoint(n)
        frac = (target - c[j]) / self._units[j]
        if frac <= 0.0:
            return midpoint(j)
        hi, lo = midpoint(j), midpoint(j + 1)
        # from the upper end, clipped: tied scores (equal midpoints) give the score itself, not one ulp off it
        return float(min(max(hi + frac * (lo - hi), lo), hi))

    def effective_events_at(self, fraction: float, threshold: float) -> float:
        """Effective events that ``fraction`` of crossings amounts to, at the weights near
        ``threshold``: :math:`\\varepsilon\\,W/V` over the events above it (:math:`\\varepsilon N_{ZB}`
        unweighted)."""
        if not self.weighted:
            return float(fraction) * self.n_zb
        w, w2 = self._sums_above(threshold)
        if w2 <= 0:
            return float(fraction) / float(self._units[0])
        return float(fraction) * float(w) / float(w2)


@dataclass(frozen=True)
class WorkingPoint:
    """A named trigger working point: score > ``threshold`` fires.

    Attributes:
        name: e.g. ``"Medium"``.
        target_rate_khz: the rate asked for, in kHz.
        threshold: the score threshold.
        threshold_low, threshold_high: threshold range induced by the rate uncertainty.
        threshold_uncertainty: half the width of that range.
        rate_khz: rate measured on ZB at ``threshold`` (kHz); may differ from the target by up to
            one ZB event's worth (:math:`R_0/N_{ZB}`).
        rate_low_khz, rate_high_khz: Clopper–Pearson interval of ``rate_khz``.
        n_zb_above: ZB events above threshold (a count).
        n_zb: ZB events in total.
        rate_per_event_khz: the rate one effective ZB event is worth near the threshold
            (:math:`R_0/N_{ZB}` unweighted), the counting resolution there.
        n_zb_effective_above: effective ZB events above threshold, :math:`(\\sum w)^2/\\sum w^2`
            (the count unweighted); ``resolved`` needs ``min_zb_events`` of them.
        zb_weighted: whether the zero bias is the weighted mixture.
        method: ``empirical`` (counted), ``tail_fit`` (extrapolated below the floor) or
            ``unresolved`` (below the floor, threshold = highest ZB score, rate is an upper limit).
        resolved: whether at least ``min_zb_events`` ZB events fix the threshold.
    """

    name: str
    target_rate_khz: float
    threshold: float
    threshold_low: float
    threshold_high: float
    threshold_uncertainty: float
    rate_khz: float
    rate_low_khz: float
    rate_high_khz: float
    n_zb_above: int
    n_zb: int
    rate_per_event_khz: float
    method: Method
    resolved: bool
    n_zb_effective_above: float = 0.0
    zb_weighted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_target(rate_khz: float, input_rate_khz: float, name: str) -> None:
    if not rate_khz > 0:
        msg = f"working point '{name}': target rate must be positive, got {rate_khz} kHz"
        raise ConfigError(msg)
    if rate_khz > input_rate_khz:
        msg = (
            f"working point '{name}': target rate {rate_khz:g} kHz is above the input rate "
            f"{input_rate_khz:g} kHz; a trigger cannot fire more often than its input"
        )
        raise ConfigError(msg)


def threshold_for_rate(
    curve: RateCurve,
    rate_khz: float,
    *,
    name: str = "",
    confidence_level: float = 0.6827,
    min_zb_events: int = 10,
    tail_fit_events: int = 0,
) -> WorkingPoint:
    """Solve :math:`R(t) = R^*` on the ZB rate curve, with its binomial uncertainty.

    The target ZB efficiency is :math:`\\varepsilon^* = R^*/R_0`, i.e. :math:`k^* = \\varepsilon^* N_{ZB}`
    events above threshold; :meth:`RateCurve.threshold_at_count` gives the threshold. The
    Clopper–Pearson interval :math:`[\\varepsilon_{lo}, \\varepsilon_{hi}]` at :math:`k^*` maps back to the
    threshold range :math:`[t(\\varepsilon_{hi} N_{ZB}), t(\\varepsilon_{lo} N_{ZB})]`.

    Below the floor (:math:`k^* <` ``min_zb_events``) and with ``tail_fit_events = m > 0`` (unweighted
    zero bias only: a weighted tail is counted, its events are already the hard ones), the
    threshold is extrapolated from an exponential fit to the ``m`` highest ZB scores above
    :math:`u = s_{(m+1)}`:

    .. math::

        \\varepsilon_{ZB}(t) \\approx \\frac{m}{N_{ZB}} e^{-(t-u)/\\beta}, \\quad
        \\hat\\beta = \\frac{1}{m}\\sum_{i\\le m} (s_{(i)} - u), \\quad
        t^* = u + \\hat\\beta \\ln\\frac{m}{N_{ZB}\\varepsilon^*},

    with the range from :math:`\\hat\\beta(1 \\pm 1/\\sqrt{m})`. Without a tail fit the threshold is
    counted as above (flagged ``resolved=False``) while :math:`k^* \\ge 1`, and below one event it is the
    highest ZB score (nothing in the ZB sample fires; the rate is an upper limit).

    Args:
        curve: the ZB rate curve.
        rate_khz: target rate :math:`R^*` in kHz, 0 < R* ≤ R0.
        name: working-point name (used in messages).
        confidence_level: coverage of the rate interval.
        min_zb_events: ZB events needed above threshold for a counted (resolved) threshold.
        tail_fit_events: ZB events in the tail fit (0 = no extrapolation).

    Returns:
        The :class:`WorkingPoint`.

    Raises:
        ConfigError: target rate ≤ 0 or above the input rate.

    Example:
        >>> curve = RateCurve.from_scores(np.arange(1000.0), input_rate_khz=40_000.0)
        >>> wp = threshold_for_rate(curve, 400.0, name="Loose")   # 1 % → 10 events above
        >>> wp.threshold, wp.n_zb_above, wp.rate_khz
        (989.5, 10, 400.0)
    """
    _check_target(rate_khz, curve.input_rate_khz, name)
    n = curve.n_zb
    eps = rate_khz / curve.input_rate_khz
    counted = curve.threshold_at_fraction(eps)
    k_target = curve.effective_events_at(eps, counted)  # effective ZB events the target amounts to

    def counted_range() -> tuple[float, float]:
        n_eff = k_target / eps  # effective sample size at these weights (N_ZB unweighted)
        lo, hi = binomial_interval(min(round(k_target), round(n_eff)), max(round(n_eff), 1), confidence_level)
        return curve.threshold_at_fraction(hi), curve.threshold_at_fraction(lo)

    if curve.weighted:  # what counts is the effective number of events above the threshold
        k_target = max(k_target, float(curve.n_effective_above(counted)))
    method: Method = "empirical"
    if k_target >= min_zb_events:
        threshold = counted
        t_low, t_high = counted_range()
    elif tail_fit_events > 0 and n > 1 and not curve.weighted:
        m = min(tail_fit_events, n - 1)
        top = curve.zb_scores[::-1]
        units = curve._units
        u = float(top[m])
        w_top = units[:m]
        beta = float(np.dot(w_top, top[:m] - u) / w_top.sum())
        if beta <= 0:
            beta = float(np.finfo(float).eps)
        log_ratio = math.log(curve.fraction_above(u) / eps)
        threshold = u + beta * log_ratio
        m_eff = float(w_top.sum() ** 2 / np.dot(w_top, w_top))
        spread = beta * abs(log_ratio) / math.sqrt(m_eff)
        t_low, t_high = threshold - spread, threshold + spread
        method = "tail_fit"
        logger.warning(
            "working point '%s': %.3g kHz needs %.2g ZB events above threshold (< %d); threshold "
            "extrapolated from an exponential fit to the top %d ZB scores",
            name,
            rate_khz,
            k_target,
            min_zb_events,
            m,
        )
    elif k_target >= 1:
        threshold = counted
        t_low, t_high = counted_range()
        logger.warning(
            "working point '%s': %.3g kHz is only %.2g ZB events above threshold (< %d): statistically weak",
            name,
            rate_khz,
            k_target,
            min_zb_events,
        )
    else:
        threshold = float(curve.zb_scores[-1])
        t_low = curve.threshold_at_fraction(float(curve._units[0]) / curve._total_units)  # the top event
        t_high = threshold
        method = "unresolved"
        logger.warning(
            "working point '%s': %.3g kHz is %.2g ZB events (< 1); threshold set to the highest ZB score, "
            "the rate is only an upper limit",
            name,
            rate_khz,
            k_target,
        )
    r_lo, r_hi = curve.rate_interval_khz(threshold, confidence_level)
    n_eff_above = float(curve.n_effective_above(threshold))
    per_event = curve.input_rate_khz * eps / k_target if k_target > 0 else curve.rate_per_event_khz
    return WorkingPoint(
        name=name,
        target_rate_khz=float(rate_khz),
        threshold=float(threshold),
        threshold_low=float(min(t_low, t_high)),
        threshold_high=float(max(t_low, t_high)),
        threshold_uncertainty=float(abs(t_high - t_low) / 2),
        rate_khz=float(curve.rate_khz(threshold)),
        rate_low_khz=float(r_lo),
        rate_high_khz=float(r_hi),
        n_zb_above=int(curve.n_above(threshold)),
        n_zb=n,
        rate_per_event_khz=float(per_event),
        method=method,
        resolved=method == "empirical" and k_target >= min_zb_events,
        n_zb_effective_above=n_eff_above,
        zb_weighted=curve.weighted,
    )


def efficiency_at_threshold(
    scores: np.ndarray, threshold: float, n_generated: int, confidence_level: float = 0.6827
) -> tuple[float, float, float]:
    """Signal efficiency :math:`S(t)/S_0` with :math:`S_0` = events generated before pre-selection.

    .. math::

        \\varepsilon_S(t) = \\frac{N_S(s > t)}{S_0}

    where :math:`N_S(s>t)` counts the stored (pre-selected) events above threshold, so the
    pre-selection efficiency is included.

    Args:
        scores: float (n_events,) scores of the stored signal events.
        threshold: the score threshold.
        n_generated: :math:`S_0`, ≥ ``len(scores)``.
        confidence_level: coverage of the Clopper–Pearson interval.

    Returns:
        ``(efficiency, low, high)``.

    Example:
        >>> efficiency_at_threshold(np.array([0.1, 0.5, 0.9, 2.0]), 0.6, n_generated=8)[0]
        0.25
    """
    if n_generated < len(scores) or n_generated <= 0:
        msg = f"n_generated = {n_generated} must be positive and ≥ the {len(scores)} stored events"
        raise DataError(msg)
    k = int(np.count_nonzero(np.asarray(scores) > threshold))
    lo, hi = binomial_interval(k, n_generated, confidence_level)
    return k / n_generated, float(lo), float(hi)
