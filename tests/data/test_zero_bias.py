"""Weighted zero bias: mixture weights against a Monte Carlo of the crossing model, overlap removal,
weighted rates on a synthetic mixture with known weights and a known rate curve."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wnae.data.samples import SampleInfo, SampleRole, check_zero_bias_rows, check_zero_bias_summary, load_manifest
from wnae.data.zero_bias import ZeroBiasMixture, effective_count, event_weights, mixture_weights
from wnae.errors import DataError
from wnae.evaluate.rates import RateCurve, threshold_for_rate
from wnae.evaluate.scores import SampleScores, ScoreSet

SIGMA_INEL = 8.0e10  # pb


def _info(name, weight, veto=None, n=1000):
    return SampleInfo(name, SampleRole.ZERO_BIAS, -1, f"{name}.h5", n, n, zb_weight=weight, zb_pthat_veto_gev=veto)


def test_shares_match_a_monte_carlo_of_the_crossing_model():
    """1 + Poisson(mu) interactions, each in slice [30, 50) GeV with probability 1.5e-3, in [50, inf) with
    5e-4, soft otherwise: the analytic shares of crossings by their hardest interaction are what a
    simulation of that model gives, and they add up to every crossing."""
    mu, p_low, p_high = 60.0, 1.5e-3, 5.0e-4
    w = mixture_weights(
        sigma_inel_pb=SIGMA_INEL,
        pileup_mean=mu,
        unbiased=("zb", 1),
        veto_pthat_gev=30.0,
        slices={"low": (p_low * SIGMA_INEL, 1), "high": (p_high * SIGMA_INEL, 1)},
    )
    rng = np.random.default_rng(1)
    n = 1 + rng.poisson(mu, size=1_000_000)
    n_high = rng.binomial(n, p_high)
    n_low = rng.binomial(n - n_high, p_low / (1 - p_high))
    hardest = np.where(n_high > 0, 2, np.where(n_low > 0, 1, 0))
    shares = [
        w.summary["soft_crossing_share"],
        w.summary["slice_crossing_shares"]["low"],
        w.summary["slice_crossing_shares"]["high"],
    ]
    for k, share in enumerate(shares):
        observed = np.mean(hardest == k)
        assert observed == pytest.approx(share, abs=4 * math.sqrt(share * (1 - share) / len(n)))
    assert sum(shares) == pytest.approx(1.0)
    assert w.weights["low"] == pytest.approx(shares[1])  # one generated event each


def test_without_pileup_the_components_add_up_to_every_crossing():
    w = mixture_weights(
        sigma_inel_pb=SIGMA_INEL,
        pileup_mean=0.0,
        unbiased=("zb", 900),
        veto_pthat_gev=30.0,
        slices={"a": (0.08 * SIGMA_INEL, 50), "b": (0.02 * SIGMA_INEL, 10)},
    )
    total = 900 * w.weights["zb"] + 50 * w.weights["a"] + 10 * w.weights["b"]
    assert total == pytest.approx(1.0)
    assert 50 * w.weights["a"] == pytest.approx(0.08)


def test_slices_holding_all_of_sigma_inel_are_refused():
    with pytest.raises(DataError, match="lowest edge too low"):
        mixture_weights(
            sigma_inel_pb=SIGMA_INEL,
            pileup_mean=60.0,
            unbiased=("zb", 10),
            veto_pthat_gev=1.0,
            slices={"a": (SIGMA_INEL, 10)},
        )


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
        "zero_bias": (
            unbiased,
            event_weights(
                _info("zero_bias", (1 - hard_share) / n_soft, veto=30.0), n_unbiased, float(n_unbiased), pthat
            ),
        ),
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
    weighted = threshold_for_rate(
        RateCurve.from_scores(mix.scores, 1.0, mix.weights), target, name="T", tail_fit_events=0
    )
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


# --- the weighted zero bias is checked, not taken on faith -----------------------------------------------


def _weighted_rows():
    """The rows and summary 'wnae generate' writes for an unbiased sample (900 of 1000 crossings below the
    veto), one pT-hat slice and one electroweak process, plus a signal."""
    import dataclasses

    w = mixture_weights(
        sigma_inel_pb=SIGMA_INEL,
        pileup_mean=0.0,
        unbiased=("zero_bias", 900),
        veto_pthat_gev=30.0,
        slices={"qcd_pthat_30_inf": (0.1 * SIGMA_INEL, 100)},
        electroweak={"dy": (2.0e4, 1000)},
    )
    w.summary["unbiased_kept_fraction"] = 900 / 1000
    rows = [
        _info("zero_bias", w.weights["zero_bias"], veto=30.0),
        dataclasses.replace(
            _info("qcd_pthat_30_inf", w.weights["qcd_pthat_30_inf"], n=100), cross_section_pb=0.1 * SIGMA_INEL
        ),
        SampleInfo("dy", SampleRole.BACKGROUND, 0, "dy.h5", 1000, 1000, 2.0e4, zb_weight=w.weights["dy"]),
        SampleInfo("sig", SampleRole.SIGNAL, -1, "sig.h5", 100, 200, 1.0),
    ]
    return rows, w.summary


def test_the_manifest_generate_writes_passes_the_zero_bias_checks():
    rows, summary = _weighted_rows()
    check_zero_bias_rows(rows)
    check_zero_bias_summary(rows, summary)


def _edit(rows, name, **changes):
    import dataclasses

    return [dataclasses.replace(r, **changes) if r.name == name else r for r in rows]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # a second zero-bias row without its weight would be dropped from every rate
        (lambda rows: [*rows, _info("zb_2023", None)], r"sample 'zb_2023' \(role zero_bias\) has no zb_weight"),
        # a signal row with a weight would be mixed into the zero bias
        (lambda rows: _edit(rows, "sig", zb_weight=1e-3), r"sample 'sig' \(role signal\) has zb_weight = 0.001"),
    ],
)
def test_zero_bias_rows_that_would_move_every_threshold_are_errors(edit, message):
    with pytest.raises(DataError, match=message):
        check_zero_bias_rows(edit(_weighted_rows()[0]), "data/manifest.json")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda rows: _edit(rows, "qcd_pthat_30_inf", zb_weight=rows[1].zb_weight * 200),
            (
                r"sample 'qcd_pthat_30_inf': zb_weight·n_generated stands for 20 of the crossings, but the manifest's "
                r"zero_bias summary gives 0.1"
            ),
        ),
        (lambda rows: _edit(rows, "zero_bias", zb_weight=rows[0].zb_weight * 1.5), r"sample 'zero_bias': .*gives 0.9"),
        (lambda rows: _edit(rows, "dy", zb_weight=rows[2].zb_weight * 2), r"sample 'dy': .*cross_section_pb"),
        (
            lambda rows: _edit(rows, "dy", zb_weight=None),
            r"the zero_bias summary lists 'dy' as part of the weighted zero bias, but that sample has no zb_weight",
        ),
    ],
)
def test_zero_bias_weights_are_cross_checked_against_the_manifests_summary(edit, message):
    rows, summary = _weighted_rows()
    with pytest.raises(DataError, match=message):
        check_zero_bias_summary(edit(rows), summary)


def test_load_manifest_names_the_bad_zero_bias_row(toy_data_dir):
    import json

    path = toy_data_dir / "manifest.json"
    doc = json.loads(path.read_text())
    for row in doc["samples"]:
        if row["name"] == "sig_a":
            row["zb_weight"] = 1e-3
        if row["name"] == "zero_bias":
            row["zb_weight"] = 1 / row["n_generated"]
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=rf"{path}: sample 'sig_a' \(role signal\) has zb_weight"):
        load_manifest(toy_data_dir)


def _scores(weights: dict[str, float], n: int = 1000):
    rng = np.random.default_rng(0)
    samples = {name: ScoreSet(_info(name, w, n=n), rng.normal(size=n), n, float(n)) for name, w in weights.items()}
    return SampleScores("run", samples)


def test_a_mixture_whose_weights_do_not_add_up_to_one_crossing_is_refused():
    """Σ zb_weight·n_generated = 201 was renormalised to 1 without a word; 1.05 is a warning with the number."""
    with pytest.raises(DataError, match=r"add up to 201 crossings per crossing, not 1 .*zero_bias 200.*: a zb_weight"):
        _scores({"zero_bias": 0.2, "slice": 0.001}).zero_bias_mixture()
    assert _scores({"zero_bias": 0.00095, "slice": 0.00005}).zero_bias_mixture().weights.sum() == pytest.approx(1.0)


def test_a_mixture_off_by_a_little_is_a_warning_with_the_number(caplog):
    with caplog.at_level("WARNING", logger="wnae.evaluate.scores"):
        mix = _scores({"zero_bias": 0.001, "slice": 0.00005}).zero_bias_mixture()
    assert "add up to 1.05 crossings per crossing" in caplog.text
    assert mix.weights.sum() == pytest.approx(1.0)


def test_a_zero_bias_sample_left_out_of_the_mixture_is_refused_when_scoring():
    scores = _scores({"zero_bias": 0.001})
    scores.samples["zb_2023"] = ScoreSet(_info("zb_2023", None), np.zeros(10), 10, 10.0)
    with pytest.raises(DataError, match=r"sample 'zb_2023' \(role zero_bias\) has no zb_weight"):
        scores.zero_bias_mixture()
    assert scores.zero_bias_mixture(weighted=False).n_events == 1000  # the unbiased sample alone needs no weights
