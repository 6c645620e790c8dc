from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import stats

from wnae.errors import ConfigError, DataError
from wnae.evaluate.rates import (
    RateCurve,
    binomial_interval,
    efficiency_above,
    efficiency_at_threshold,
    threshold_for_rate,
)

R0 = 40_000.0


def exponential_quantile_scores(n: int) -> np.ndarray:
    """'Perfect' Exp(1) sample: the j-th highest score is −ln((j − ½)/n), so P(s > t) = e^{−t} exactly."""
    j = np.arange(1, n + 1)
    return -np.log((j - 0.5) / n)


@pytest.mark.parametrize("rate_khz", [4000.0, 400.0, 40.0])
def test_threshold_exact_on_exponential_quantiles(rate_khz):
    n = 100_000
    curve = RateCurve.from_scores(exponential_quantile_scores(n), R0)
    wp = threshold_for_rate(curve, rate_khz, name="wp")
    eps = rate_khz / R0
    assert wp.threshold == pytest.approx(-math.log(eps), abs=2e-4)  # analytic: t = −ln ε
    assert wp.n_zb_above == round(eps * n)
    assert wp.rate_khz == pytest.approx(rate_khz)
    assert wp.method == "empirical"
    assert wp.resolved
    # 1σ binomial rate band → threshold band ≈ ±1/√k in log units
    k = eps * n
    assert wp.threshold_uncertainty == pytest.approx(1 / math.sqrt(k), rel=0.15)
    assert wp.threshold_low < wp.threshold < wp.threshold_high
    assert wp.rate_low_khz < rate_khz < wp.rate_high_khz


def test_threshold_on_random_exponential_sample_within_uncertainty():
    rng = np.random.default_rng(1)
    curve = RateCurve.from_scores(rng.exponential(2.0, size=200_000), R0)
    wp = threshold_for_rate(curve, 40.0)  # ε = 1e-3, k = 200
    truth = -2.0 * math.log(1e-3)
    assert abs(wp.threshold - truth) < 3 * wp.threshold_uncertainty
    assert wp.threshold_uncertainty == pytest.approx(2.0 / math.sqrt(200), rel=0.2)


def test_input_rate_scales_the_rate():
    curve = RateCurve.from_scores(exponential_quantile_scores(10_000), 6.0)  # after an L1 seed
    wp = threshold_for_rate(curve, 0.06)  # 1 % of 6 kHz
    assert wp.threshold == pytest.approx(-math.log(0.01), abs=1e-3)
    assert curve.rate_khz(wp.threshold) == pytest.approx(0.06)


def test_below_floor_tail_fit_extrapolates_exponential():
    curve = RateCurve.from_scores(exponential_quantile_scores(20_000), R0)
    wp = threshold_for_rate(curve, 1.0, min_zb_events=10, tail_fit_events=200)  # 0.5 ZB events
    assert wp.method == "tail_fit"
    assert not wp.resolved
    assert wp.threshold == pytest.approx(math.log(40_000), abs=0.1)
    assert wp.threshold_low < math.log(40_000) < wp.threshold_high
    assert wp.n_zb_above == 0
    assert wp.rate_per_event_khz == pytest.approx(2.0)


def test_below_floor_without_tail_fit():
    curve = RateCurve.from_scores(exponential_quantile_scores(20_000), R0)
    weak = threshold_for_rate(curve, 10.0, min_zb_events=10, tail_fit_events=0)  # 5 events: counted, flagged
    assert weak.method == "empirical"
    assert not weak.resolved
    assert weak.n_zb_above == 5
    none = threshold_for_rate(curve, 1.0, min_zb_events=10, tail_fit_events=0)  # 0.5 events
    assert none.method == "unresolved"
    assert none.threshold == curve.zb_scores[-1]
    assert none.n_zb_above == 0
    assert none.rate_khz == 0.0
    assert none.rate_high_khz > 0  # an upper limit


def test_target_rate_above_input_rate_is_an_error():
    curve = RateCurve.from_scores(np.arange(10.0), 6.0)
    with pytest.raises(ConfigError, match="above the input rate"):
        threshold_for_rate(curve, 10.0, name="Loose")
    with pytest.raises(ConfigError, match="positive"):
        threshold_for_rate(curve, 0.0)


def test_empty_zero_bias_is_an_error():
    with pytest.raises(DataError, match="zero-bias sample is empty"):
        RateCurve.from_scores(np.zeros(0), R0)


def test_binomial_interval_matches_clopper_pearson():
    lo, hi = binomial_interval(0, 100, 0.95)
    assert lo == 0.0
    assert hi == pytest.approx(1 - 0.025 ** (1 / 100))  # exact for k = 0
    lo, hi = binomial_interval(100, 100, 0.95)
    assert hi == 1.0
    assert lo == pytest.approx(0.025 ** (1 / 100))
    lo, hi = binomial_interval(50, 100)
    ci = stats.binomtest(50, 100).proportion_ci(0.6827, method="exact")
    assert (lo, hi) == pytest.approx((ci.low, ci.high))
    assert hi - lo == pytest.approx(2 * 0.05, rel=0.15)  # ≈ ±√(p(1−p)/n), CP slightly conservative


def test_efficiencies_on_hand_built_samples():
    scores = np.array([0.5, 1.0, 1.5, 2.0, 3.0])
    assert efficiency_above(scores, [0.0, 1.0, 2.5, 3.0]).tolist() == [1.0, 0.6, 0.2, 0.0]
    # 5 stored of 20 generated: pre-selection efficiency included
    eff, lo, hi = efficiency_at_threshold(scores, 1.2, n_generated=20)
    assert eff == pytest.approx(3 / 20)
    assert lo < eff < hi
    with pytest.raises(DataError, match="n_generated"):
        efficiency_at_threshold(scores, 1.0, n_generated=3)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("inf", r"option --input-rate-khz \(input_rate_khz=inf\): Input should be a finite number"),
        ("nan", r"option --input-rate-khz \(input_rate_khz=nan\): Input should be a finite number"),
        ("1e308", r"1e\+308 kHz is above the LHC bunch-crossing rate, 40079 kHz"),
        ("28608800", r"2.86088e\+07 kHz is above the LHC bunch-crossing rate"),  # Hz for kHz
    ],
)
def test_a_non_finite_or_absurd_input_rate_is_refused_before_any_work(tmp_path, capsys, value, message):
    """working_points.json, which the firmware reads, got infinite thresholds and NaN rates from these."""
    from wnae.cli import main

    none = str(tmp_path / "none")
    assert main(["evaluate", "--input-rate-khz", value, "--data-dir", none, "--runs-dir", none]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("rate", [math.inf, math.nan, 0.0])
def test_a_rate_curve_needs_a_finite_positive_input_rate(rate):
    with pytest.raises(ConfigError, match="input_rate_khz must be a finite number > 0"):
        RateCurve.from_scores(np.arange(10.0), rate)


def test_json_outputs_never_hold_nan_or_infinity(tmp_path):
    """Python writes the non-standard NaN/Infinity literals that other JSON readers (the firmware's) refuse."""
    import json

    from wnae._io import write_json_atomic

    path = tmp_path / "working_points.json"
    write_json_atomic(
        path, {"threshold": math.inf, "rate": [1.0, math.nan, -math.inf], "n": np.float32("nan"), "ok": np.float64(2.5)}
    )

    def refuse(constant: str) -> None:
        msg = f"non-standard JSON constant {constant}"
        raise AssertionError(msg)

    assert json.loads(path.read_text(), parse_constant=refuse) == {
        "threshold": None,
        "rate": [1.0, None, None],
        "n": None,
        "ok": 2.5,
    }


def test_the_threshold_lies_within_its_range_on_quantised_weighted_scores():
    """Quantised scores (multiples of 1/q, as a fixed-point score is: many ties) with crossing-share
    weights: the ends of the range must never fall on the wrong side of the threshold, not even by a
    rounding error of the interpolation between tied scores (a plot of the range refuses a negative
    error bar). Seeds 5, 10, 19 and 21 broke it by 1 ulp before tied scores interpolated to themselves."""
    from wnae.evaluate.rates import RateCurve, threshold_for_rate

    bad = []
    for seed in range(24):
        rng = np.random.default_rng(seed)
        q, n = rng.choice([1, 4, 16]), rng.choice([2000, 10000])
        scores = np.round(rng.exponential(rng.choice([0.3, 1.0, 3.0]), n) * q) / q
        weights = rng.choice([1.0, 0.02, 0.003], size=n) if seed % 2 else rng.uniform(0.001, 1, n)
        curve = RateCurve.from_scores(scores, input_rate_khz=28_608.8, weights=weights)
        for rate in np.geomspace(0.05, 2000, 25):
            wp = threshold_for_rate(curve, float(rate))
            if not wp.threshold_low <= wp.threshold <= wp.threshold_high:
                bad.append((seed, rate, wp.threshold_low, wp.threshold, wp.threshold_high))
    assert not bad, bad[:3]
