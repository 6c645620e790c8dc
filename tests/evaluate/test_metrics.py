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
