from __future__ import annotations

import math

import numpy as np
import pytest

from wnae.errors import DataError
from wnae.evaluate.metrics import Roc, purity, roc, tpr_at_fpr


def test_roc_auc_hand_built():
    b = np.array([0.0, 1.0, 2.0, 3.0])
    s = np.array([1.5, 2.5, 3.5, 4.5])
    r = roc(b, s)
    # pairs (s > b): 1.5 beats 2, 2.5 beats 3, 3.5 and 4.5 beat 4 → 2 + 3 + 4 + 4 = 13 of 16
    assert r.auc == pytest.approx(13 / 16)
    assert r.n_background == 4
    assert r.n_signal == 4
    assert roc(b, b + 100).auc == 1.0
    with pytest.raises(DataError, match="both classes"):
        roc(b, np.zeros(0))


def test_tpr_at_fpr_log_interpolation():
    c = Roc(np.array([0.0, 1e-6, 1e-4, 1e-2, 1.0]), np.array([0.0, 0.1, 0.3, 0.6, 1.0]), np.zeros(5), 0.9, 10**7, 100)
    assert tpr_at_fpr(c, 1e-5).tpr == pytest.approx(0.2)  # halfway in log10 between 1e-6 and 1e-4
    at = tpr_at_fpr(c, 1e-3)
    assert at.tpr == pytest.approx(0.45)
    assert at.reachable
    x = 10**-5.5  # a quarter of the way
    assert tpr_at_fpr(c, x).tpr == pytest.approx(0.1 + 0.2 * 0.25)
    assert tpr_at_fpr(c, 1e-4).tpr == pytest.approx(0.3)


def test_tpr_at_fpr_says_when_the_sample_is_too_small():
    rng = np.random.default_rng(0)
    r = roc(rng.normal(size=4000), rng.normal(2.0, size=500))
    at = tpr_at_fpr(r, 1e-5)
    assert at.tpr is None
    assert not at.reachable
    assert at.fpr_floor == pytest.approx(1 / 4000)
    assert "4000 events" in at.message
    assert "100,000" in at.message


def test_tpr_at_fpr_on_gaussians_matches_analytic():
    rng = np.random.default_rng(3)
    b = rng.normal(size=200_000)
    s = rng.normal(3.0, size=200_000)
    at = tpr_at_fpr(roc(b, s), 1e-3)
    from scipy.stats import norm

    assert at.tpr == pytest.approx(norm.sf(norm.isf(1e-3) - 3.0), abs=0.02)
    assert not math.isnan(at.tpr)


def test_purity_equal_and_cross_section_weights():
    assert purity(10, 5) == 2.0
    assert purity(3, 0) is None
    # signal σ = 1 pb, 100 generated; backgrounds σ = 1000 and 10 pb, 1000 generated each
    s_w = 1.0 / 100
    b_w = np.array([1000.0 / 1000, 10.0 / 1000])
    value = purity(50, np.array([2, 10]), signal_weight=s_w, background_weight=b_w)
    assert value == pytest.approx((50 * 0.01) / (2 * 1.0 + 10 * 0.01))


# --- Clopper–Pearson intervals of every efficiency


@pytest.mark.parametrize("cl", [0.6827, 0.95])
def test_binomial_efficiency_known_cases(cl):
    from scipy.stats import beta

    from wnae.evaluate.metrics import binomial_efficiency

    alpha = 1 - cl
    n = 40
    eff, lo, hi = binomial_efficiency(np.zeros(n, bool), confidence_level=cl)  # k = 0 of n
    assert (eff, lo) == (0.0, 0.0)
    assert hi == pytest.approx(1 - (alpha / 2) ** (1 / n))  # closed form of B⁻¹(1 − α/2; 1, n)
    eff, lo, hi = binomial_efficiency(np.ones(n, bool), confidence_level=cl)  # k = n of n
    assert (eff, hi) == (1.0, 1.0)
    assert lo == pytest.approx((alpha / 2) ** (1 / n))
    passed = np.arange(n) < 7  # k = 7 of 40, against the beta quantiles directly
    eff, lo, hi = binomial_efficiency(passed, confidence_level=cl)
    assert eff == pytest.approx(7 / 40)
    assert lo == pytest.approx(beta.ppf(alpha / 2, 7, n - 7 + 1), rel=1e-12)
    assert hi == pytest.approx(beta.ppf(1 - alpha / 2, 7 + 1, n - 7), rel=1e-12)


def test_weighted_efficiency_uses_effective_counts():
    from wnae.evaluate.metrics import binomial_efficiency
    from wnae.evaluate.rates import binomial_interval

    passed = np.arange(100) < 10
    # equal weights: the same as counting
    assert binomial_efficiency(passed, np.full(100, 0.3)) == pytest.approx(binomial_efficiency(passed))
    # passing events twice as heavy: ε = 20/110; W_p²/V_p = 10 events of W·W_p/V_p = 110·20/40 = 55
    w = np.where(passed, 2.0, 1.0)
    eff, lo, hi = binomial_efficiency(passed, w)
    assert eff == pytest.approx(20 / 110)
    assert (lo, hi) == pytest.approx(binomial_interval(10, 55))
    with pytest.raises(DataError, match="weights"):
        binomial_efficiency(passed, np.ones(3))


def test_tpr_at_fpr_carries_its_interval():
    from scipy.stats import beta

    b = np.arange(1000.0)  # FPR floor 1e-3
    s = np.concatenate([np.full(30, 2000.0), np.full(70, -1.0)])  # 30 of 100 above every background event
    at = tpr_at_fpr(roc(b, s), 1e-3, confidence_level=0.95)
    assert at.tpr == pytest.approx(0.3)
    assert at.n_signal == 100
    assert at.tpr_low == pytest.approx(beta.ppf(0.025, 30, 71))
    assert at.tpr_high == pytest.approx(beta.ppf(0.975, 31, 70))
    assert at.to_dict()["confidence_level"] == 0.95
    far = tpr_at_fpr(roc(b, s), 1e-5)
    assert (far.tpr, far.tpr_low, far.tpr_high) == (None, None, None)


def test_tpr_at_zero_bias_fpr_carries_its_interval():
    from wnae.evaluate.metrics import tpr_at_zero_bias_fpr
    from wnae.evaluate.rates import RateCurve, binomial_interval

    curve = RateCurve.from_scores(np.arange(1000.0), input_rate_khz=40_000.0)
    s = np.arange(0.0, 2000.0, 20.0)  # 100 events; threshold at FPR 1e-2 is 989.5 → 50 above
    at = tpr_at_zero_bias_fpr(curve, s, 1e-2)
    assert at.tpr == pytest.approx(0.5)
    assert (at.tpr_low, at.tpr_high) == pytest.approx(binomial_interval(50, 100))


# --- AUC against a (weighted) background


def test_auc_exact_weighted_and_unweighted():
    from wnae.evaluate.metrics import auc

    b = np.array([0.0, 1.0, 2.0, 3.0])
    s = np.array([1.5, 2.5, 3.5, 4.5])
    assert auc(b, s) == pytest.approx(roc(b, s).auc)  # 13/16
    # background 0 weighs 3, background 2 weighs 1: P(1 > b) = 3/4; a tie counts ½
    assert auc(np.array([0.0, 2.0]), np.array([1.0]), background_weights=np.array([3.0, 1.0])) == pytest.approx(0.75)
    assert auc(np.array([1.0, 2.0]), np.array([1.0]), background_weights=np.array([3.0, 1.0])) == pytest.approx(3 / 8)
    # weights are per class: scaling one class changes nothing
    w = np.array([1.0, 2.0, 3.0, 4.0])
    assert auc(b, s, background_weights=w) == pytest.approx(auc(b, s, background_weights=100 * w))
    with pytest.raises(DataError, match="both classes"):
        auc(b, np.zeros(0))


def test_auc_on_gaussians_matches_analytic():
    from scipy.stats import norm

    from wnae.evaluate.metrics import auc

    rng = np.random.default_rng(5)
    n = 40_000
    s = rng.normal(1.0, size=n)
    assert auc(rng.normal(size=n), s) == pytest.approx(norm.cdf(1 / np.sqrt(2)), abs=0.005)
    # a mixture: half the events from N(0, 1) with 90 % of the weight, half from N(2, 1) with 10 %
    b = np.concatenate([rng.normal(0.0, size=n), rng.normal(2.0, size=n)])
    w = np.concatenate([np.full(n, 0.9 / n), np.full(n, 0.1 / n)])
    expected = 0.9 * norm.cdf(1 / np.sqrt(2)) + 0.1 * norm.cdf(-1 / np.sqrt(2))
    assert auc(b, s, background_weights=w) == pytest.approx(expected, abs=0.005)
    assert auc(b, s) == pytest.approx(0.5, abs=0.01)  # unweighted: the two halves cancel
