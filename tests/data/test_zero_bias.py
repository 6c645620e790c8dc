"""Weighted zero bias: mixture weights against a Monte Carlo of the crossing model, overlap removal,
weighted rates on a synthetic mixture with known weights and a known rate curve."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wnae.data.samples import SampleInfo, SampleRole
from wnae.data.zero_bias import ZeroBiasMixture, effective_count, event_weights, mixture_weights
from wnae.errors import DataError
from wnae.evaluate.rates import RateCurve, threshold_for_rate

SIGMA_INEL = 8.0e10  # pb


def _info(name, weight, veto=None, n=1000):
    return SampleInfo(name, SampleRole.ZERO_BIAS, -1, f"{name}.h5", n, n, zb_weight=weight, zb_pthat_veto_gev=veto)


def test_shares_match_a_monte_carlo_of_the_crossing_model():
    """1 + Poisson(mu) interactions, each in slice [30, 50) GeV with probability 1.5e-3, in [50, inf) with
    5e-4, soft otherwise: the analytic shares of crossings by their hardest interaction are what a
    simulation of that model gives, and they add up to every crossing."""
    mu, p_low, p_high = 60.0, 1.5e-3, 5.0e-4
    w = mixture_weights(sigma_inel_pb=SIGMA_INEL, pileup_mean=mu, unbiased=("zb", 1), veto_pthat_gev=30.0,
                        slices={"low": (p_low * SIGMA_INEL, 1), "high": (p_high * SIGMA_INEL, 1)})
    rng = np.random.default_rng(1)
    n = 1 + rng.poisson(mu, size=1_000_000)
    n_high = rng.binomial(n, p_high)
    n_low = rng.binomial(n - n_high, p_low / (1 - p_high))
    hardest = np.where(n_high > 0, 2, np.where(n_low > 0, 1, 0))
    shares = [w.summary["soft_crossing_share"], w.summary["slice_crossing_shares"]["low"],
              w.summary["slice_crossing_shares"]["high"]]
    for k, share in enumerate(shares):
        observed = np.mean(hardest == k)
        assert observed == pytest.approx(share, abs=4 * math.sqrt(share * (1 - share) / len(n)))
    assert sum(shares) == pytest.approx(1.0)
    assert w.weights["low"] == pytest.approx(shares[1])  # one generated event each


def test_without_pileup_the_components_add_up_to_every_crossing():
    w = mixture_weights(sigma_inel_pb=SIGMA_INEL, pileup_mean=0.0, unbiased=("zb", 900), veto_pthat_gev=30.0,
                        slices={"a": (0.08 * SIGMA_INEL, 50), "b": (0.02 * SIGMA_INEL, 10)})
    total = 900 * w.weights["zb"] + 50 * w.weights["a"] + 10 * w.weights["b"]
    assert total == pytest.approx(1.0)
    assert 50 * w.weights["a"] == pytest.approx(0.08)


def test_slices_holding_all_of_sigma_inel_are_refused():
    with pytest.raises(DataError, match="lowest edge too low"):
        mixture_weights(sigma_inel_pb=SIGMA_INEL, pileup_mean=60.0, unbiased=("zb", 10), veto_pthat_gev=1.0,
                        slices={"a": (SIGMA_INEL, 10)})


def test_overlap_removal_vetoes_hard_unbiased_crossings():
    """An unbiased crossing at or above the veto gets weight 0 (a slice stands for it); no event is in
    the mixture twice, and a file without pT-hat cannot be vetoed."""
    info = _info("zero_bias", 1e-3, veto=30.0, n=4)
    w = event_weights(info, 4, 4.0, np.array([5.0, 29.9, 30.0, 200.0]))
    assert w.tolist() == [1e-3, 1e-3, 0.0, 0.0]
    with pytest.raises(DataError, match="no pthat_gev"):
        event_weights(info, 4, 4.0, None)
    mix = ZeroBiasMixture.build({"zero_bias": (np.arange(4.0), w), "slice": (np.array([10.0]), np.array([1e-3]))})
    assert mix.n_events == 3
    assert sorted(mix.scores.tolist()) == [0.0, 1.0, 10.0]
    assert mix.weights.sum() == pytest.approx(1.0)


def test_background_test_split_is_scaled_to_the_generated_events():
    info = SampleInfo("dy", SampleRole.BACKGROUND, 0, "dy.h5", 1000, 1000, zb_weight=2e-9)
    w = event_weights(info, 200, 200.0, None)  # the test split of 1000: 200 events stand for 200 generated
    assert w.sum() == pytest.approx(200 * 2e-9)


def _synthetic_mixture(rng, n_unbiased=20_000, n_hard=20_000, hard_share=0.01):
    """Crossings: soft scores ~ Exp(mean 0.5) (share 1 - h), hard ~ 4 + Exp(1) (share h). The unbiased sample
    draws from the whole population; the 'slice' holds hard crossings only."""
    hard = rng.random(n_unbiased) < hard_share
    unbiased = np.where(hard, 4.0 + rng.exponential(1.0, n_unbiased), rng.exponential(0.5, n_unbiased))
    pthat = np.where(hard, 50.0, 10.0)
    slice_scores = 4.0 + rng.exponential(1.0, n_hard)
    n_soft = int((~hard).sum())
    parts = {
        "zero_bias": (unbiased, event_weights(_info("zero_bias", (1 - hard_share) / n_soft, veto=30.0),
                                              n_unbiased, float(n_unbiased), pthat)),
        "slice": (slice_scores, np.full(n_hard, hard_share / n_hard)),
    }
    return ZeroBiasMixture.build(parts), unbiased


def _true_fraction(t, hard_share=0.01):
    return (1 - hard_share) * math.exp(-2 * t) + hard_share * min(1.0, math.exp(-(t - 4.0)))


def test_weighted_rate_matches_the_known_curve_where_unbiased_runs_out():
    rng = np.random.default_rng(3)
    mix, unbiased = _synthetic_mixture(rng)
    assert mix.weighted
    weighted = RateCurve.from_scores(mix.scores, 1.0, mix.weights)
    plain = RateCurve.from_scores(unbiased, 1.0)
    for t in (1.0, 3.0, 6.0, 9.0, 11.0):
        truth = _true_fraction(t)
        lo, hi = weighted.rate_interval_khz(t, 0.997)
        assert lo <= truth <= hi, (t, lo, truth, hi)
    # where both have statistics they agree ...
    assert weighted.rate_khz(2.0) == pytest.approx(plain.rate_khz(2.0), rel=0.15)
    # ... and deep in the tail only the weighted one still counts events
    assert plain.n_above(11.0) <= 2
    assert weighted.n_effective_above(11.0) > 10


def test_working_point_is_resolved_on_the_weighted_mixture_and_not_on_unbiased():
    rng = np.random.default_rng(4)
    mix, unbiased = _synthetic_mixture(rng)
    target = 1e-4  # fraction of crossings: 2 unbiased events
    weighted = threshold_for_rate(RateCurve.from_scores(mix.scores, 1.0, mix.weights), target, name="T",
                                  tail_fit_events=0)
    plain = threshold_for_rate(RateCurve.from_scores(unbiased, 1.0), target, name="T", tail_fit_events=0)
    assert weighted.resolved
    assert weighted.zb_weighted
    assert weighted.n_zb_effective_above >= 10
    assert not plain.resolved
    true_t = 4.0 + math.log(0.01 / target)  # hard term dominates there
    assert weighted.threshold_low - 0.3 <= true_t <= weighted.threshold_high + 0.3


def test_equal_weights_reduce_to_counting():
    scores = np.random.default_rng(5).normal(size=500)
    plain = RateCurve.from_scores(scores, 100.0)
    weighted = RateCurve.from_scores(scores, 100.0, np.full(500, 3.0))
    for t in (-1.0, 0.0, 2.0, 5.0):
        assert weighted.rate_khz(t) == pytest.approx(plain.rate_khz(t))
        assert np.allclose(weighted.rate_interval_khz(t), plain.rate_interval_khz(t))
        assert weighted.n_effective_above(t) == pytest.approx(plain.n_above(t))
    assert weighted.threshold_at_fraction(0.05) == pytest.approx(plain.threshold_at_count(25))
    assert effective_count(np.full(7, 0.2)) == pytest.approx(7.0)


def test_bad_weights_are_clear():
    with pytest.raises(DataError, match="weights"):
        RateCurve.from_scores(np.arange(3.0), 1.0, np.array([1.0, np.nan, 1.0]))
    with pytest.raises(DataError, match="3 scores but 2 weights"):
        ZeroBiasMixture.build({"zb": (np.arange(3.0), np.ones(2))})
