"""The L1 emulation on hand-built particle lists, where the answer is known."""

from __future__ import annotations

import numpy as np

from wnae.data.generate.l1 import L1Config, emulate_l1
from wnae.data.generate.particles import ParticleBlock
from wnae.data.generate.pileup import overlay_pileup
from wnae.data.validate import validate_particles


def _block(events: list[list[tuple[float, float, float, int]]]) -> ParticleBlock:
    rows = [p for ev in events for p in ev]
    arr = np.array(rows, float).reshape(-1, 4)
    offsets = np.concatenate([[0], np.cumsum([len(ev) for ev in events])])
    return ParticleBlock(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3].astype(np.int32), offsets.astype(np.int64))


NO_SMEAR = L1Config(
    egamma_resolution=0,
    muon_resolution=0,
    jet_resolution_stochastic=0,
    jet_resolution_constant=0,
    met_resolution_sqrt_gev=0,
)


def _rngs(n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(i) for i in range(n)]


def test_isolated_electron_muon_and_jet():
    jet = [(30.0, 1.0 + 0.02 * k, 2.0, 211) for k in range(3)]  # 3 × 30 GeV pions, one jet
    event = [(40.0, 0.5, -1.0, 11), (25.0, -1.0, 0.3, 13), *jet]
    out = emulate_l1(_block([event]), _rngs(1), NO_SMEAR)
    validate_particles(out)
    e, mu, j = out[0, 1], out[0, 5], out[0, 9]
    assert e[3] == 2 and abs(e[0] - 40) < 1e-4 and abs(e[1] - 0.5) < 0.05 and abs(e[2] + 1.0) < 0.05
    assert mu[3] == 3 and mu[0] == np.float32(25.0)
    assert j[3] == 4 and abs(j[0] - 90) < 0.5 and abs(j[1] - 1.02) < 0.05
    assert out[0, 2, 3] == 0 and out[0, 10, 3] == 0  # nothing else
    # MET balances the calorimeter (muon not included): |sum of electron + jet|
    px = 40 * np.cos(-1.0) + 90 * np.cos(2.0)
    py = 40 * np.sin(-1.0) + 90 * np.sin(2.0)
    assert abs(out[0, 0, 0] - np.hypot(px, py)) < 1.0


def test_cuts_and_isolation():
    event = [
        (40.0, 3.5, 0.0, 22),  # photon beyond |eta| < 3: no e/γ
        (20.0, 2.5, 1.0, 13),  # muon beyond |eta| < 2.1
        (2.0, 0.0, 2.0, 13),  # muon below 3 GeV
        (10.0, -2.0, -2.0, 22),  # photon inside a hadronic shower: not isolated
        *[(8.0, -2.0 + 0.1 * k, -2.0 + 0.1 * (k % 2), 211) for k in range(4)],
    ]
    out = emulate_l1(_block([event]), _rngs(1), NO_SMEAR)
    assert not np.any(out[0, 1:9, 3])  # no e/γ, no muon
    jets = out[0, 9:, 0][out[0, 9:, 3] == 4]
    assert len(jets) >= 1  # the photon + pions form a jet instead


def test_soft_charged_particles_do_not_reach_the_calorimeter():
    soft = [(0.5, 0.1 * k, 0.2, 211) for k in range(40)]
    neutral = [(0.5, 0.1 * k, 0.2, 130) for k in range(40)]
    out = emulate_l1(_block([soft, neutral]), _rngs(2), NO_SMEAR.model_copy(update={"tower_et_min_gev": 0.0}))
    assert out[0, 0, 0] < 1e-6  # curled up: nothing in the calorimeter
    assert out[1, 0, 0] > 10  # K0L deposit: MET


def test_smearing_is_per_event():
    event = [(50.0, 0.0, 0.0, 13)]
    cfg = L1Config()
    a = emulate_l1(_block([event, event]), _rngs(2), cfg)
    b = emulate_l1(_block([event]), [np.random.default_rng(1)], cfg)
    assert a[0, 5, 0] != a[1, 5, 0]  # different events, different smearing
    assert a[1, 5, 0] == b[0, 5, 0]  # same event generator, same result whatever the batch


def test_pileup_overlay_counts():
    hard = _block([[(50.0, 0.0, 0.0, 13)], [(30.0, 1.0, 1.0, 11)]])
    pool = _block([[(1.0, 0.1, 0.1, 211)], [(2.0, 0.2, 0.2, 211), (3.0, 0.3, 0.3, 22)]])
    merged, n_pu = overlay_pileup(hard, pool, 5.0, _rngs(2))
    expected = []
    for k in range(2):  # the same draws, in the same order, from each event's generator
        rng = np.random.default_rng(k)
        index = rng.integers(2, size=rng.poisson(5.0))
        expected.append(1 + pool.counts[index].sum())
    np.testing.assert_array_equal(merged.counts, expected)
    # hard-scatter particles come first in each event
    assert merged.pt[merged.offsets[0]] == 50.0 and merged.pt[merged.offsets[1]] == 30.0
    assert n_pu.shape == (2,)
