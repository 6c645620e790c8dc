"""Two-level rates, thresholds and efficiencies on synthetic sets with known pass fractions."""

from __future__ import annotations

import numpy as np
import pytest

from wnae.data.samples import SampleInfo, SampleRole
from wnae.errors import ConfigError, DataError
from wnae.evaluate.scores import SampleScores, ScoreSet
from wnae.hlt.config import HltEvaluateConfig
from wnae.hlt.evaluate import L1Seed, two_level_from_scores
from wnae.hlt.two_level import TwoLevelTrigger, seeded_scores

R0 = 28_608.8


def _zb(n: int = 12_000, n_seeded: int = 1_200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """L1 scores: exactly ``n_seeded`` above 10; HLT scores: distinct, and huge on rejected events."""
    rng = np.random.default_rng(seed)
    l1 = np.concatenate([rng.uniform(0, 10, n - n_seeded), rng.uniform(10.5, 20, n_seeded)])
    hlt = rng.permutation(n).astype(float)
    hlt[l1 <= 10] += 1e6  # an L1-rejected event never reaches the HLT, however odd it looks there
    return l1, hlt


def test_rates_follow_the_pass_fractions_unweighted() -> None:
    l1, hlt = _zb()
    trig = TwoLevelTrigger(l1, hlt, R0, 10.0)
    assert trig.n_seeded == 1_200
    assert trig.l1_rate_khz == pytest.approx(R0 * 1_200 / 12_000)
    # R(t) = R_L1 × N(pass L1 ∧ s > t) / N(pass L1)
    seeded_hlt = np.sort(hlt[l1 > 10])
    for k in (1, 10, 200, 600, 1_199):
        t = 0.5 * (seeded_hlt[-k] + seeded_hlt[-k - 1])
        assert trig.rate_khz(t) == pytest.approx(trig.l1_rate_khz * k / 1_200)
    wp = trig.working_point(trig.l1_rate_khz / 6)  # keep 1/6 of the seeded events
    assert wp.n_zb_above == 200
    assert wp.rate_khz == pytest.approx(trig.l1_rate_khz / 6)
    assert wp.rate_low_khz < wp.rate_khz < wp.rate_high_khz
    assert trig.hlt_fraction(wp.threshold) == pytest.approx(1 / 6)


def test_weighted_rates_equal_seed_rate_times_weighted_fraction() -> None:
    l1, hlt = _zb(n=5_000, n_seeded=800, seed=3)
    w = np.random.default_rng(4).lognormal(0.0, 1.0, len(l1))
    trig = TwoLevelTrigger(l1, hlt, R0, 10.0, w)
    passed = l1 > 10
    assert trig.l1_rate_khz == pytest.approx(R0 * w[passed].sum() / w.sum())
    for t in np.quantile(hlt[passed], [0.1, 0.5, 0.9, 0.99]):
        expected = trig.l1_rate_khz * w[passed & (hlt > t)].sum() / w[passed].sum()
        assert trig.rate_khz(t) == pytest.approx(expected)
    wp = trig.working_point(trig.l1_rate_khz / 10)
    assert trig.rate_khz(wp.threshold) == pytest.approx(trig.l1_rate_khz / 10, rel=0.05)


def test_rate_scan_descends_from_the_seed_rate() -> None:
    l1, hlt = _zb()
    trig = TwoLevelTrigger(l1, hlt, R0, 10.0)
    _, rates = trig.rate_scan(40)
    assert np.all(np.diff(rates) <= 0)
    assert rates[0] == pytest.approx(trig.l1_rate_khz, rel=1e-3)
    assert rates[-1] == pytest.approx(R0 / 12_000, rel=0.05)  # one seeded event's worth


def test_signal_efficiency_counts_s0_before_the_seed() -> None:
    l1, hlt = _zb()
    trig = TwoLevelTrigger(l1, hlt, R0, 10.0)
    # 500 stored of 1000 generated; 300 pass L1, of which 100 pass the HLT threshold 50.
    sig_l1 = np.r_[np.full(300, 15.0), np.full(200, 5.0)]
    sig_hlt = np.r_[np.full(100, 60.0), np.full(200, 40.0), np.full(200, 99.0)]
    assert trig.efficiency(sig_l1, sig_hlt, 1000, 50.0) == pytest.approx(0.1)
    assert trig.n_passing(sig_l1, sig_hlt, 50.0) == 100
    np.testing.assert_array_equal(seeded_scores(sig_l1, sig_hlt, 10.0)[300:], -np.inf)


def test_refusals() -> None:
    l1, hlt = _zb()
    trig = TwoLevelTrigger(l1, hlt, R0, 10.0)
    with pytest.raises(ConfigError, match="below the L1 seed's rate"):
        trig.working_point(2 * trig.l1_rate_khz)
    with pytest.raises(DataError, match="no zero-bias event passes the L1 seed"):
        TwoLevelTrigger(l1, hlt, R0, 1e9)
    bad = hlt.copy()
    bad[3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        TwoLevelTrigger(l1, bad, R0, 10.0)
    with pytest.raises(DataError, match="did not score the same events"):
        seeded_scores(l1, hlt[:-1], 10.0)


def _infos(n_qcd: int, n_signal: int, n_signal_generated: int) -> dict[str, SampleInfo]:
    """6,000 zero-bias events, one SM test sample (σ = 10⁶ pb) and one signal (σ = 1 pb)."""
    return {
        "zero_bias": SampleInfo("zero_bias", SampleRole.ZERO_BIAS, -1, "zb.h5", 6_000, 6_000),
        "qcd": SampleInfo("qcd", SampleRole.BACKGROUND, 1, "qcd.h5", n_qcd, n_qcd, 1e6),
        "sig": SampleInfo("sig", SampleRole.SIGNAL, -1, "sig.h5", n_signal, n_signal_generated, 1.0),
    }


def _scores(run: str, values: dict[str, np.ndarray], infos: dict[str, SampleInfo]) -> SampleScores:
    out = SampleScores(run)
    for name, v in values.items():
        out.samples[name] = ScoreSet(infos[name], v, len(v), float(infos[name].n_generated))
    return out


def test_two_level_from_scores_efficiency_and_purity() -> None:
    rng = np.random.default_rng(7)
    infos = _infos(n_qcd=1_000, n_signal=400, n_signal_generated=800)
    zb_l1 = np.r_[rng.uniform(0, 10, 5_400), rng.uniform(11, 20, 600)]
    zb_hlt = rng.uniform(0, 1, 6_000)
    qcd_l1, qcd_hlt = np.r_[np.full(900, 1.0), np.full(100, 15.0)], np.r_[np.zeros(900), np.linspace(0, 1, 100)]
    sig_l1, sig_hlt = np.r_[np.full(300, 15.0), np.full(100, 1.0)], np.r_[np.full(200, 5.0), np.full(200, 0.0)]
    l1 = _scores("l1", {"zero_bias": zb_l1, "qcd": qcd_l1, "sig": sig_l1}, infos)
    hlt = _scores("hlt", {"zero_bias": zb_hlt, "qcd": qcd_hlt, "sig": sig_hlt}, infos)
    seed = L1Seed("l1", "Medium", 10.0, R0, {"Loose": 5.0, "Medium": 10.0}, {"Loose": 2e4, "Medium": 3e3})
    r_l1 = R0 * 600 / 6_000
    cfg = HltEvaluateConfig(hlt_rate_khz=r_l1 / 6, rate_points_khz=[r_l1 / 2], hlt_score="encoder")
    ev = two_level_from_scores(l1, hlt, seed, cfg)
    assert ev.trigger.l1_rate_khz == pytest.approx(r_l1)
    assert ev.working_point.n_zb_above == 100
    s = ev.signals["sig"]
    assert s.seed_efficiency == pytest.approx(300 / 800)
    assert s.efficiency[0] == pytest.approx(200 / 800)  # every seeded signal event with HLT score 5 passes
    assert s.raw_l1["Loose"][1] == pytest.approx(300 / 800)
    t = ev.working_point.threshold
    n_b = int(np.count_nonzero(qcd_hlt[qcd_l1 > 10] > t))
    assert s.purity[cfg.hlt_rate_khz] == pytest.approx(200 / n_b)
    xs = s.purity_cross_section[cfg.hlt_rate_khz]
    assert xs == pytest.approx((200 * 1.0 / 800) / (n_b * 1e6 / 1_000))
    doc = ev.to_dict()
    assert doc["l1_seed"]["n_zb_seeded"] == 600
    assert doc["hlt_fraction_of_seed"] == pytest.approx(1 / 6)
    assert doc["hlt_path"] == {
        "rule": "L1 > l1_seed_above and HLT > hlt_score_above",
        "l1_seed_above": 10.0,
        "l1_score_above": None,
        "hlt_score_above": t,
    }


def test_config_refusals() -> None:
    from wnae.hlt.config import CompareConfig, HltTrainConfig

    with pytest.raises(ValueError, match="plain directory name"):
        HltTrainConfig(name="../elsewhere")
    with pytest.raises(ValueError, match="linformer_k"):
        HltTrainConfig(encoder={"max_candidates": 8, "linformer_k": 16})
    with pytest.raises(ValueError, match="at least one training config"):
        CompareConfig(encoders={})
    with pytest.raises(ValueError, match="distinct seeds"):
        CompareConfig(encoders={"deepsets": "x.yml"}, seeds=[1, 1])


def test_raw_l1_reference_at_the_same_rate() -> None:
    """The L1 run alone at the HLT rate: its own threshold for that rate on the same zero bias."""
    rng = np.random.default_rng(9)
    infos = _infos(n_qcd=100, n_signal=100, n_signal_generated=100)
    zb_l1 = rng.permutation(6_000).astype(float)  # distinct L1 scores 0 … 5999
    l1 = _scores("l1", {"zero_bias": zb_l1, "qcd": np.zeros(100), "sig": np.linspace(5_000, 6_500, 100)}, infos)
    hlt = _scores("hlt", {"zero_bias": rng.uniform(size=6_000), "qcd": np.zeros(100), "sig": np.ones(100)}, infos)
    seed = L1Seed("l1", "Medium", 5_399.5, R0, {"Medium": 5_399.5}, {"Medium": R0 / 10})  # 600 ZB above
    rate = R0 * 60 / 6_000  # 60 ZB events' worth: the L1 alone cuts at 5939.5
    ev = two_level_from_scores(
        l1, hlt, seed, HltEvaluateConfig(hlt_rate_khz=rate, rate_points_khz=[], hlt_score="encoder")
    )
    expected = np.count_nonzero(np.linspace(5_000, 6_500, 100) > 5_939.5) / 100
    assert ev.signals["sig"].raw_l1_at[rate] == pytest.approx(expected)


def test_zero_bias_tail_score_is_the_weighted_rarity() -> None:
    from wnae.hlt.two_level import zero_bias_tail_score

    ref = np.array([4.0, 1.0, 3.0, 2.0])
    q = zero_bias_tail_score(np.array([0.0, 2.0, 2.5, 4.0, 9.0]), ref)
    # P(x >= v): 1, 3/4, 2/4, 1/4, and above every reference event half the smallest share (1/8)
    np.testing.assert_allclose(q, -np.log10([1.0, 0.75, 0.5, 0.25, 0.125]))
    w = np.array([1.0, 1.0, 1.0, 5.0])  # the event at 2 carries 5/8 of the crossings
    np.testing.assert_allclose(zero_bias_tail_score(np.array([2.0, 3.0]), ref, w), -np.log10([7 / 8, 2 / 8]))
    grid = np.linspace(-1, 10, 200)
    assert np.all(np.diff(zero_bias_tail_score(grid, ref, w)) >= 0)
    with pytest.raises(DataError, match="positive weights"):
        zero_bias_tail_score(grid, np.zeros(0))


def _with_l1_evaluation(hlt_values: dict[str, np.ndarray], l1_values: dict[str, np.ndarray], rate: float):
    infos = _infos(n_qcd=500, n_signal=500, n_signal_generated=500)
    l1 = _scores("l1", l1_values, infos)
    hlt = _scores("hlt", hlt_values, infos)
    seed = L1Seed("l1", "Medium", 10.0, R0, {"Medium": 10.0}, {"Medium": 3e3})
    cfg = HltEvaluateConfig(hlt_rate_khz=rate, rate_points_khz=[], hlt_score="with_l1")
    return two_level_from_scores(l1, hlt, seed, cfg)


def test_with_l1_reduces_to_l1_tightening_when_the_hlt_score_is_the_l1_score() -> None:
    rng = np.random.default_rng(3)
    l1 = {
        "zero_bias": np.r_[rng.uniform(0, 10, 5_400), rng.uniform(10.5, 20, 600)],
        "qcd": rng.uniform(0, 20, 500),
        "sig": rng.uniform(5, 30, 500),
    }
    rate = R0 * 60 / 6_000  # a tenth of the seed's 600 events
    ev = _with_l1_evaluation(l1, l1, rate)
    s = ev.signals["sig"]
    assert s.efficiency[0] == pytest.approx(s.raw_l1_at[rate])
    assert ev.hlt_run == "hlt+L1"


def test_with_l1_keeps_the_events_either_score_finds_rare() -> None:
    rng = np.random.default_rng(4)
    zb_l1 = np.r_[rng.uniform(0, 10, 5_400), rng.uniform(10.5, 20, 600)]
    zb_hlt = rng.uniform(0, 1, 6_000)
    # signal: 250 events very anomalous for L1 alone, 250 seeded but L1-ordinary and very anomalous for the HLT
    sig_l1, sig_hlt = np.r_[np.full(250, 50.0), np.full(250, 11.0)], np.r_[np.full(250, 0.5), np.full(250, 5.0)]
    l1 = {"zero_bias": zb_l1, "qcd": np.zeros(500), "sig": sig_l1}
    hlt = {"zero_bias": zb_hlt, "qcd": np.zeros(500), "sig": sig_hlt}
    rate = R0 * 60 / 6_000
    combined = _with_l1_evaluation(hlt, l1, rate).signals["sig"]
    assert combined.efficiency[0] == pytest.approx(1.0)  # both halves pass
    assert combined.raw_l1_at[rate] == pytest.approx(0.5)  # L1 tightening keeps only the first
    infos = _infos(n_qcd=500, n_signal=500, n_signal_generated=500)
    seed = L1Seed("l1", "Medium", 10.0, R0, {"Medium": 10.0}, {"Medium": 3e3})
    cfg = HltEvaluateConfig(hlt_rate_khz=rate, rate_points_khz=[], hlt_score="encoder")
    encoder_only = two_level_from_scores(_scores("l1", l1, infos), _scores("hlt", hlt, infos), seed, cfg)
    assert encoder_only.signals["sig"].efficiency[0] == pytest.approx(0.5)  # only the HLT-anomalous half


@pytest.mark.parametrize("weighted", [False, True])
def test_tail_score_cut_is_the_rarity_cut_on_the_score_itself(weighted: bool) -> None:
    from wnae.hlt.two_level import tail_score_cut, zero_bias_tail_score

    rng = np.random.default_rng(5)
    ref = np.round(rng.normal(0, 1, 400), 1)  # ties, as quantised scores have
    w = rng.uniform(0.1, 3.0, 400) if weighted else None
    values = np.r_[np.round(rng.normal(0, 1.5, 2_000), 1), ref, ref.max() + 1]
    q = zero_bias_tail_score(values, ref, w)
    for q_cut in np.r_[-1.0, np.unique(q), np.quantile(q, [0.3, 0.9]) + 1e-3, 10.0]:
        cut = tail_score_cut(q_cut, ref, w)
        np.testing.assert_array_equal(values > cut, q > q_cut)
    assert tail_score_cut(-1.0, ref, w) == -np.inf
    assert tail_score_cut(q.max(), ref, w) == np.inf


def test_with_l1_working_point_runs_as_two_cuts_on_the_scores() -> None:
    rng = np.random.default_rng(6)
    l1 = {
        "zero_bias": np.round(np.r_[rng.uniform(0, 10, 5_400), rng.uniform(10.5, 20, 600)], 1),
        "qcd": rng.uniform(0, 20, 500),
        "sig": rng.uniform(5, 30, 500),
    }
    hlt = {name: rng.normal(0, 1, len(v)) + (name == "sig") for name, v in l1.items()}
    rate = R0 * 60 / 6_000
    ev = _with_l1_evaluation(hlt, l1, rate)
    path = ev.to_dict()["hlt_path"]
    assert path["l1_seed_above"] == 10.0 and "or" in path["rule"]
    a, s = l1["sig"], hlt["sig"]
    passing = (a > path["l1_seed_above"]) & ((a > path["l1_score_above"]) | (s > path["hlt_score_above"]))
    assert np.count_nonzero(passing) / 500 == pytest.approx(ev.signals["sig"].efficiency[0])
    zb_passing = (l1["zero_bias"] > 10.0) & (
        (l1["zero_bias"] > path["l1_score_above"]) | (hlt["zero_bias"] > path["hlt_score_above"])
    )
    assert np.count_nonzero(zb_passing) == ev.working_point.n_zb_above
    # both cuts are real: each score alone lets through events the other does not
    assert path["l1_score_above"] > 10.0 and path["hlt_score_above"] < np.max(hlt["zero_bias"][l1["zero_bias"] > 10])
