from __future__ import annotations

import numpy as np
import pytest

from wnae.data.samples import SampleInfo, SampleRole
from wnae.errors import ConfigError, DataError
from wnae.evaluate.config import EvaluateConfig
from wnae.evaluate.evaluation import evaluate_scores
from wnae.evaluate.scores import SampleScores, ScoreSet


def _set(name, role, scores, n_generated, sigma=None):
    info = SampleInfo(name, role, -1, f"{name}.h5", len(scores), n_generated, sigma)
    return ScoreSet(info, np.asarray(scores, float), len(scores), float(n_generated))


def hand_built(zb_n=1000, sigma=True):
    """ZB scores 0..999 → score > 989.5 is exactly 10 events = 1 % of R0."""
    s = SampleScores("hand")
    s.samples["zb"] = _set("zb", SampleRole.ZERO_BIAS, np.arange(zb_n, dtype=float), zb_n, 1e10 if sigma else None)
    s.samples["qcd"] = _set("qcd", SampleRole.BACKGROUND, [0, 100, 995, 999], 20, 100.0 if sigma else None)
    s.samples["dy"] = _set("dy", SampleRole.BACKGROUND, [10, 20, 30, 991], 40, 10.0 if sigma else None)
    # 6 stored of 12 generated; 3 above 989.5, 1 above 998.5
    s.samples["sig"] = _set("sig", SampleRole.SIGNAL, [1, 2, 3, 990, 995, 2000], 12, 1.0 if sigma else None)
    return s


def config(**kw):
    return EvaluateConfig(
        input_rate_khz=40_000.0, working_points={"A": 400.0, "B": 40.0}, min_zb_events=1, tail_fit_events=0, **kw
    )


def test_working_points_and_efficiencies_on_hand_built_scores():
    ev = evaluate_scores(hand_built(), config(), model="ae")
    a, b = ev.working_points  # ordered loosest first
    assert (a.name, a.threshold, a.n_zb_above) == ("A", 989.5, 10)
    assert (b.name, b.threshold, b.n_zb_above) == ("B", 998.5, 1)
    sig = ev.signals["sig"]
    assert sig.efficiency["A"][0] == pytest.approx(3 / 12)  # S0 = n_generated, before pre-selection
    assert sig.efficiency["B"][0] == pytest.approx(1 / 12)
    # SM test above A: qcd 995, 999 and dy 991 → equal-weight S/B = 3 / 3
    assert sig.purity["A"] == pytest.approx(1.0)
    assert sig.purity["B"] == pytest.approx(1 / 1)  # qcd 999 vs sig 2000
    assert ev.sm_rate_at_wp["A"] == pytest.approx(3 / 8)
    assert ev.sm_test_events == 8
    assert sig.tpr_at_fpr.tpr is None  # 8 SM test events cannot reach 1e-5
    assert sig.roc.auc == pytest.approx(22.5 / 48)  # pairs with s > b, ties count ½
    doc = ev.working_points_doc()
    assert doc["input_rate_khz"] == 40_000.0
    assert [w["name"] for w in doc["working_points"]] == ["A", "B"]
    assert {"threshold", "threshold_uncertainty", "rate_khz"} <= set(doc["working_points"][0])


def test_cross_section_weighting():
    ev = evaluate_scores(hand_built(), config(weighting="cross_section"))
    # S = 1 pb/12 × 3; B = 100 pb/20 × 2 + 10 pb/40 × 1
    expected = (1.0 / 12 * 3) / (100.0 / 20 * 2 + 10.0 / 40 * 1)
    assert ev.signals["sig"].purity["A"] == pytest.approx(expected)
    with pytest.raises(DataError, match="cross-section"):
        evaluate_scores(hand_built(sigma=False), config(weighting="cross_section"))


def test_config_rejects_rate_above_input_rate():
    with pytest.raises(ValueError, match="above the input rate"):
        EvaluateConfig(input_rate_khz=6.0, working_points={"Medium": 10.0})


def test_shipped_config_loads():
    from wnae.commands.evaluate import DEFAULT_CONFIG
    from wnae.config import load_config

    cfg = load_config(DEFAULT_CONFIG, EvaluateConfig)
    assert cfg.input_rate_khz == pytest.approx(2544 * 11.2456)
    assert cfg.working_points == {"Loose": 100.0, "Medium": 20.0, "Tight": 1.0, "VTight": 0.1}
    with pytest.raises(ConfigError, match="did you mean 'input_rate_khz'"):
        load_config(DEFAULT_CONFIG, EvaluateConfig, overrides={"input_rate_kHz": 6.0})


def test_comparison_marks_the_better_run():
    from wnae.evaluate.compare import comparison_doc, format_comparison

    good = evaluate_scores(hand_built(), config(), model="wnae")
    worse_scores = hand_built()
    worse_scores.run_name = "worse"
    worse_scores.samples["sig"].scores = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    worse = evaluate_scores(worse_scores, config(), model="ae")
    doc = comparison_doc([good, worse])
    assert doc["best"]["sig"]["auc"] == ["hand"]
    assert doc["best"]["sig"]["efficiency_A"] == ["hand"]
    assert doc["signals"]["sig"]["worse"]["efficiency"]["A"] == 0.0
    table = format_comparison([good, worse])
    assert "| sig | hand (wnae) | **" in table
    assert "| sig | worse (ae) | 0." in table
    assert comparison_doc([good, good])["best"]["sig"]["auc"] == []  # a tie picks nobody


def test_efficiency_intervals_and_auc_vs_zero_bias():
    from scipy.stats import beta

    ev = evaluate_scores(hand_built(), config(confidence_level=0.95))
    sig = ev.signals["sig"]
    eff, lo, hi = sig.efficiency["A"]  # 3 of S0 = 12 above 989.5
    assert eff == pytest.approx(3 / 12)
    assert lo == pytest.approx(beta.ppf(0.025, 3, 10))
    assert hi == pytest.approx(beta.ppf(0.975, 4, 9))
    # vs the 1000 ZB scores 0..999: signal 1, 2, 3, 990, 995 beat 1, 2, 3, 990, 995 of them (+ ½ a tie), 2000 all
    assert sig.auc_zero_bias == pytest.approx((1.5 + 2.5 + 3.5 + 990.5 + 995.5 + 1000) / 6000)
    doc = ev.to_dict()["signals"]["sig"]
    assert doc["auc_zero_bias"] == pytest.approx(sig.auc_zero_bias)
    assert doc["efficiency"]["A"] == pytest.approx({"value": 0.25, "low": lo, "high": hi, "n_above": 3})
    assert doc["tpr_at_zero_bias_fpr"]["confidence_level"] == 0.95


def test_auc_vs_zero_bias_uses_the_weighted_mixture():
    s = hand_built()
    del s.samples["zb"]
    # unbiased part: scores 0..999 with 90 % of the crossings; a hard slice: scores 500..1499 with 10 %
    for name, scores, share in (("zb", np.arange(1000.0), 0.9), ("slice", np.arange(500.0, 1500.0), 0.1)):
        info = SampleInfo(name, SampleRole.ZERO_BIAS, -1, f"{name}.h5", 1000, 1000, None, zb_weight=share / 1000)
        s.samples[name] = ScoreSet(info, scores, 1000, 1000.0)
    s.samples["sig"].scores = np.full(6, 1000.5)  # above every unbiased event and 501 of the slice's
    ev = evaluate_scores(s, config())
    assert ev.curve.weighted
    assert ev.signals["sig"].auc_zero_bias == pytest.approx(0.9 + 0.1 * 501 / 1000)
    unweighted = evaluate_scores(s, config(weighted_zero_bias=False))  # the unbiased sample alone
    assert unweighted.signals["sig"].auc_zero_bias == pytest.approx(1.0)
