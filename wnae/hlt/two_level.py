"""The two-level trigger: an L1 working point seeds the HLT, an HLT score threshold sets its rate.

With the (weighted) zero bias, each ZB event i carrying a share :math:`w_i` of the crossings, an L1
score :math:`a_i` and an HLT score :math:`s_i`:

.. math::

    R_{L1} = R_0\\,\\frac{\\sum_{a_i > t_1} w_i}{\\sum_i w_i}, \\qquad
    R(t) = R_{L1}\\,\\frac{\\sum_{a_i > t_1 \\wedge s_i > t} w_i}{\\sum_{a_i > t_1} w_i}
         = R_0\\,\\frac{\\sum_{a_i > t_1 \\wedge s_i > t} w_i}{\\sum_i w_i}

(unweighted: :math:`R_{L1} \\times N_{ZB}(\\text{pass L1} \\wedge s > t) / N_{ZB}(\\text{pass L1})`). So
the HLT rate curve is an ordinary :class:`~wnae.evaluate.rates.RateCurve` of the *seeded* score —
the HLT score where L1 fired, and a score below every threshold where it did not — and its
thresholds and Clopper–Pearson intervals on effective counts come from
:func:`~wnae.evaluate.rates.threshold_for_rate`. Signal efficiency is
:math:`S(t)/S_0 = N_S(a > t_1 \\wedge s > t)/S_0`, :math:`S_0` counted before the L1 seed (and before
pre-selection).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import overload

import numpy as np

from wnae.errors import ConfigError, DataError
from wnae.evaluate.rates import RateCurve, WorkingPoint, threshold_for_rate

__all__ = [
    "TwoLevelTrigger",
    "l1_combined_cuts",
    "l1_combined_scores",
    "seeded_scores",
    "tail_score_cut",
    "zero_bias_tail_score",
]


def seeded_scores(
    l1_scores: np.ndarray, hlt_scores: np.ndarray, l1_threshold: float, floor: float = -np.inf
) -> np.ndarray:
    """The HLT score of events the L1 seed accepts (L1 score > ``l1_threshold``), ``floor`` elsewhere."""
    a, s = np.asarray(l1_scores, float), np.asarray(hlt_scores, float)
    if a.shape != s.shape:
        msg = f"{len(a)} L1 scores for {len(s)} HLT scores: the two runs did not score the same events"
        raise DataError(msg)
    return np.where(a > l1_threshold, s, floor)


def _tail_table(reference: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(sorted reference, q)`` with ``q[k]`` the rarity of any value whose first reference ≥ it is ``k``
    (``q[n]``: above every reference); see :func:`zero_bias_tail_score`."""
    ref = np.asarray(reference, float)
    w = np.ones(len(ref)) if weights is None else np.asarray(weights, float)
    if len(ref) == 0 or w.shape != ref.shape or not np.sum(w) > 0:
        msg = f"the tail score needs zero-bias reference scores with positive weights ({len(ref)} scores, {w.size} weights)"
        raise DataError(msg)
    order = np.argsort(ref)
    ref, w = ref[order], w[order] / np.sum(w)
    tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])  # tail[k] = P(x >= ref[k]); tail[n] = 0
    floor = 0.5 * float(np.min(w[w > 0]))
    return ref, -np.log10(np.maximum(tail, floor))


def zero_bias_tail_score(values: np.ndarray, reference: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """:math:`q(v) = -\\log_{10} P_{ZB}(x \\ge v)`, the rarity of ``values`` among the ``reference`` zero-bias
    scores (weighted by ``weights``, the events' shares of the crossings; None: equal).

    Monotone non-decreasing in ``v``; a value above every reference one gets half the smallest
    reference weight's share as its tail, so it is rarer than any zero-bias event and stays finite.

    Raises:
        DataError: no reference events, or weights that do not match them or are not positive in sum.
    """
    ref, q = _tail_table(reference, weights)
    return q[np.searchsorted(ref, np.asarray(values, float), side="left")]  # first reference >= v


def tail_score_cut(q_cut: float, reference: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The score cut equivalent to a rarity cut: ``zero_bias_tail_score(v) > q_cut`` ⇔ ``v > tail_score_cut(q_cut)``.

    ``-inf`` when every value passes, ``+inf`` when none does. It turns a cut on
    :func:`l1_combined_scores` back into a cut on each score, the form a trigger path runs.

    Raises:
        DataError: as :func:`zero_bias_tail_score`.
    """
    ref, q = _tail_table(reference, weights)
    above = np.flatnonzero(q > q_cut)  # q is non-decreasing: the values passing are those whose k >= above[0]
    if len(above) == 0:
        return float("inf")
    k = int(above[0])
    return float("-inf") if k == 0 else float(ref[k - 1])


def l1_combined_scores(
    l1_scores: np.ndarray,
    hlt_scores: np.ndarray,
    zb_l1: np.ndarray,
    zb_hlt: np.ndarray,
    l1_threshold: float,
    zb_weights: np.ndarray | None = None,
) -> np.ndarray:
    """The HLT decision score that keeps the L1 score: :math:`\\max(q_{L1}(a), q_{HLT}(s))`, each the rarity
    (:func:`zero_bias_tail_score`) among the zero-bias events the seed accepts.

    A cut on it accepts an event when *either* score is rarer than the cut among the seeded zero bias:
    the L1 score keeps the events it already finds most anomalous (prompt leptons), the HLT score
    adds the ones only it finds. No signal enters: both tails come from the zero bias. With the L1
    score as the HLT score it reduces to L1 tightening.
    """
    seeded = np.asarray(zb_l1, float) > l1_threshold
    w = None if zb_weights is None else np.asarray(zb_weights, float)[seeded]
    q_l1 = zero_bias_tail_score(l1_scores, np.asarray(zb_l1, float)[seeded], w)
    q_hlt = zero_bias_tail_score(hlt_scores, np.asarray(zb_hlt, float)[seeded], w)
    return np.maximum(q_l1, q_hlt)


def l1_combined_cuts(
    q_cut: float,
    zb_l1: np.ndarray,
    zb_hlt: np.ndarray,
    l1_threshold: float,
    zb_weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """``(l1_cut, hlt_cut)``: a cut ``> q_cut`` on :func:`l1_combined_scores` as the path runs it, an event
    behind the seed passing when its L1 score > ``l1_cut`` **or** its HLT score > ``hlt_cut``.

    Exact: each rarity is non-decreasing in its score, so max(q_L1, q_HLT) > q_cut ⇔ q_L1 > q_cut or
    q_HLT > q_cut, and each of those is a cut on its own score (:func:`tail_score_cut`).
    """
    seeded = np.asarray(zb_l1, float) > l1_threshold
    w = None if zb_weights is None else np.asarray(zb_weights, float)[seeded]
    return (
        tail_score_cut(q_cut, np.asarray(zb_l1, float)[seeded], w),
        tail_score_cut(q_cut, np.asarray(zb_hlt, float)[seeded], w),
    )


@dataclass(frozen=True)
class TwoLevelTrigger:
    """The L1 seed and the HLT rate curve behind it, from zero-bias scores of both levels.

    Attributes:
        zb_l1: float (n,) L1 scores of the ZB events.
        zb_hlt: float (n,) HLT scores of the same events.
        input_rate_khz: :math:`R_0` (kHz).
        l1_threshold: the L1 seed fires on L1 score > this.
        zb_weights: float (n,) ZB weights (any normalisation), or None for an unbiased sample.
    """

    zb_l1: np.ndarray
    zb_hlt: np.ndarray
    input_rate_khz: float
    l1_threshold: float
    zb_weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("zb_l1", "zb_hlt"):
            v = np.asarray(getattr(self, name), float)
            if not np.isfinite(v).all():
                msg = f"{int((~np.isfinite(v)).sum())} zero-bias {name[3:].upper()} scores are NaN or infinite"
                raise DataError(msg)
        if self.zb_weights is not None and np.shape(self.zb_weights) != np.shape(self.zb_l1):
            msg = f"{np.size(self.zb_weights)} zero-bias weights for {np.size(self.zb_l1)} events"
            raise DataError(msg)
        if not self.seeded.any():
            msg = (
                f"no zero-bias event passes the L1 seed (L1 score > {self.l1_threshold:g}): the HLT rate "
                "cannot be calibrated"
            )
            raise DataError(msg)

    @cached_property
    def seeded(self) -> np.ndarray:
        """bool (n,): the ZB events the L1 seed accepts."""
        return np.asarray(self.zb_l1, float) > self.l1_threshold

    @cached_property
    def floor(self) -> float:
        """The seeded score of ZB events L1 rejects: below every HLT score (and every threshold)."""
        s = np.asarray(self.zb_hlt, float)
        return float(s.min() - 1.0 - abs(s.min()))

    @cached_property
    def l1_curve(self) -> RateCurve:
        return RateCurve.from_scores(self.zb_l1, self.input_rate_khz, self.zb_weights)

    @cached_property
    def hlt_curve(self) -> RateCurve:
        """:math:`R(t)` of the seeded score (valid for thresholds above :attr:`floor`)."""
        scores = seeded_scores(self.zb_l1, self.zb_hlt, self.l1_threshold, self.floor)
        return RateCurve.from_scores(scores, self.input_rate_khz, self.zb_weights)

    @property
    def l1_rate_khz(self) -> float:
        """:math:`R_{L1}`, the rate of the seed (kHz)."""
        return float(self.l1_curve.rate_khz(self.l1_threshold))

    def l1_rate_interval_khz(self, confidence_level: float = 0.6827) -> tuple[float, float]:
        lo, hi = self.l1_curve.rate_interval_khz(self.l1_threshold, confidence_level)
        return float(lo), float(hi)

    @property
    def n_seeded(self) -> int:
        """ZB events the seed accepts (a count)."""
        return int(self.seeded.sum())

    @property
    def n_seeded_effective(self) -> float:
        """Effective ZB events the seed accepts, :math:`(\\sum w)^2/\\sum w^2`."""
        return float(self.l1_curve.n_effective_above(self.l1_threshold))

    def rate_khz(self, threshold: float | np.ndarray) -> np.ndarray:
        """:math:`R(t)`, the rate of seed ∧ HLT score > t (kHz)."""
        return self.hlt_curve.rate_khz(threshold)

    def hlt_fraction(self, threshold: float | np.ndarray) -> np.ndarray:
        """Share of the seeded crossings the HLT keeps, :math:`R(t)/R_{L1}`."""
        return self.rate_khz(threshold) / self.l1_rate_khz

    def working_point(
        self, rate_khz: float, *, name: str = "HLT", confidence_level: float = 0.6827, min_zb_events: int = 10
    ) -> WorkingPoint:
        """The HLT threshold for output rate ``rate_khz``, with its rate interval and threshold range.

        Raises:
            ConfigError: a target not below the L1 seed's rate (the HLT can only reject).
        """
        if not 0 < rate_khz < self.l1_rate_khz:
            msg = (
                f"the HLT rate {rate_khz:g} kHz must be positive and below the L1 seed's rate "
                f"{self.l1_rate_khz:.4g} kHz"
            )
            raise ConfigError(msg)
        return threshold_for_rate(
            self.hlt_curve, rate_khz, name=name, confidence_level=confidence_level, min_zb_events=min_zb_events
        )

    def rate_scan(self, n_points: int = 60) -> tuple[np.ndarray, np.ndarray]:
        """``(thresholds, rate_khz)`` from the seed's rate down to one effective seeded ZB event's worth
        (:math:`R_{L1}/n_{eff}`, below which the curve is no measurement), log-uniform in rate (descending)."""
        curve = self.hlt_curve
        seed_fraction = self.l1_rate_khz / self.input_rate_khz
        lowest = seed_fraction / max(self.n_seeded_effective, 1.0)
        fractions = np.geomspace(lowest, seed_fraction, n_points)[::-1]
        thresholds = np.array([curve.threshold_at_fraction(f) for f in fractions])
        return thresholds, self.rate_khz(thresholds)

    @overload
    def efficiency(
        self, l1_scores: np.ndarray, hlt_scores: np.ndarray, n_generated: float, thresholds: float
    ) -> float: ...
    @overload
    def efficiency(
        self, l1_scores: np.ndarray, hlt_scores: np.ndarray, n_generated: float, thresholds: np.ndarray
    ) -> np.ndarray: ...
    def efficiency(
        self, l1_scores: np.ndarray, hlt_scores: np.ndarray, n_generated: float, thresholds: float | np.ndarray
    ) -> float | np.ndarray:
        """:math:`S(t)/S_0`: events with L1 score > :math:`t_1` and HLT score > t, over the ``n_generated``
        events the sample stands for (counted before the seed and the pre-selection)."""
        if n_generated <= 0:
            msg = f"n_generated must be positive, got {n_generated}"
            raise DataError(msg)
        return self.n_passing(l1_scores, hlt_scores, thresholds) / float(n_generated)

    @overload
    def n_passing(self, l1_scores: np.ndarray, hlt_scores: np.ndarray, thresholds: float) -> int: ...
    @overload
    def n_passing(self, l1_scores: np.ndarray, hlt_scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray: ...
    def n_passing(
        self, l1_scores: np.ndarray, hlt_scores: np.ndarray, thresholds: float | np.ndarray
    ) -> int | np.ndarray:
        """Events passing the seed and HLT score > each threshold (a count, or counts for an array)."""
        s = np.sort(seeded_scores(l1_scores, hlt_scores, self.l1_threshold))
        n = len(s) - np.searchsorted(s, np.asarray(thresholds, float), side="right")
        return int(n) if np.ndim(thresholds) == 0 else n
