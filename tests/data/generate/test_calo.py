"""The calorimeter tower kernels and the two jet algorithms, on hand-built towers and particles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wnae.config import parse_config
from wnae.data.generate import calo
from wnae.data.generate.l1 import ETA_CENTRES, PHI_CENTRES, TOWER_AREA, L1Config, emulate_l1
from wnae.data.generate.particles import ParticleBlock
from wnae.errors import ConfigError

NO_SMEAR = {
    "egamma_resolution": 0,
    "muon_resolution": 0,
    "jet_resolution_stochastic": 0,
    "jet_resolution_constant": 0,
    "met_resolution_sqrt_gev": 0,
}


def _grid(*towers: tuple[int, int, float]) -> np.ndarray:
    g = np.zeros((1, calo.N_ETA, calo.N_PHI))
    for i, j, et in towers:
        g[0, i, j] += et
    return g


@pytest.mark.slow
def test_window_sum_and_seed():
    g = _grid((50, 10, 20.0), (52, 12, 5.0), (54, 14, 3.0), (55, 10, 7.0))  # last one is 5 towers away in η
    jets = calo.sliding_window_jets(g, 4.0, 9)
    np.testing.assert_array_equal(jets[:, :3], [[0, 50, 10], [0, 55, 10]])
    assert jets[0, 3] == pytest.approx(28.0)  # 20 + 5 + 3: all within ±4 towers
    assert jets[1, 3] == pytest.approx(7.0 + 5.0 + 3.0)  # the windows overlap: towers are shared, as in CMS


def test_plateau_gives_one_jet_and_phi_wraps():
    g = _grid((60, 71, 10.0), (60, 0, 10.0))  # equal neighbours across φ = π
    jets = calo.sliding_window_jets(g, 4.0, 9)
    assert len(jets) == 1 and jets[0, 3] == pytest.approx(20.0)
    assert calo.sliding_window_jets(_grid((60, 5, 3.9)), 4.0, 9).shape == (0, 4)  # below the seed threshold


def test_window_stops_at_the_eta_edge():
    g = _grid((0, 3, 10.0), (2, 3, 1.0))
    jets = calo.sliding_window_jets(g, 4.0, 9)
    np.testing.assert_array_equal(jets[:, :3], [[0, 0, 3]])
    assert jets[0, 3] == pytest.approx(11.0)


def test_towers_rho_and_met():
    # one particle per tower: a 20 GeV photon, a 0.4 GeV pion (below the tower threshold), a muon
    pt = np.array([20.0, 0.4, 30.0])
    eta = np.array([0.3, -1.0, 0.0])
    phi = np.array([1.0, 2.0, -1.0])
    pid = np.array([22, 130, 13])
    total, em, patches, met = calo.tower_grids(np.array([0, 3]), pt, eta, phi, pid, 0.7, 0.5, 5.0)
    i, j = int((0.3 + 5) / calo.D_ETA), int((1.0 + math.pi) / calo.D_PHI)
    assert total[0, i, j] == em[0, i, j] == 20.0 and total.sum() == 20.0  # no muon, no soft tower
    assert patches.sum() == 20.0
    np.testing.assert_allclose(met[0], [-20 * math.cos(PHI_CENTRES[j]), -20 * math.sin(PHI_CENTRES[j]), 20.0])


def test_egamma_core_removed_before_jets():
    g = _grid((57, 30, 40.0))
    total, em = g.copy(), g.copy()
    cand = calo.egamma_candidates(total, em, np.zeros(1), 2.0, 3.0)
    np.testing.assert_allclose(cand, [[0, 57, 30, 40.0, 0.0, 0.0]])
    calo.remove_cores(total, em, np.array([0]), np.array([57]), np.array([30]))
    assert total.sum() == 0.0 and len(calo.sliding_window_jets(total, 4.0, 9)) == 0


def _narrow_jet(pt_total: float, eta0: float, phi0: float, rng: np.random.Generator) -> list[tuple]:
    pts = rng.dirichlet(np.ones(12)) * pt_total
    return [(p, eta0 + rng.normal(0, 0.05), phi0 + rng.normal(0, 0.05), 211) for p in pts]


@pytest.mark.parametrize("pt_total", [40.0, 120.0])
def test_sliding_window_and_anti_kt_agree_on_a_narrow_jet(pt_total):
    """Both algorithms find the same jet: pT within 3 %, position within a tower."""
    rng = np.random.default_rng(3)
    rows = _narrow_jet(pt_total, 0.8, 3.1, rng)  # near φ = π: the window wraps
    arr = np.array(rows, float)
    block = ParticleBlock(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3].astype(np.int32), np.array([0, len(arr)]))
    jets = {}
    for alg in ("sliding_window", "anti_kt"):
        out = emulate_l1(block, [np.random.default_rng(0)], L1Config(jet_algorithm=alg, **NO_SMEAR))
        assert (out[0, 9:, 3] == 4).sum() == 1
        jets[alg] = out[0, 9]
    sw, akt = jets["sliding_window"], jets["anti_kt"]
    assert sw[0] == pytest.approx(akt[0], rel=0.03)
    assert abs(sw[1] - akt[1]) < calo.D_ETA
    assert abs(math.remainder(sw[2] - akt[2], 2 * math.pi)) < calo.D_PHI
    assert sw[1] in ETA_CENTRES.astype(np.float32) and sw[2] in PHI_CENTRES.astype(np.float32)


def test_pileup_subtracted_over_the_window_area():
    rng = np.random.default_rng(0)
    rows = _narrow_jet(100.0, 0.0, 0.0, rng)
    # a uniform 1 GeV per tower carpet over |η| < 3: ρ = 1 / tower area
    carpet = [(1.0, eta, phi, 130) for eta in ETA_CENTRES[np.abs(ETA_CENTRES) < 3] for phi in PHI_CENTRES]
    arr = np.array(rows + carpet, float)
    block = ParticleBlock(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3].astype(np.int32), np.array([0, len(arr)]))
    out = emulate_l1(block, [np.random.default_rng(0)], L1Config(**NO_SMEAR))
    assert out[0, 9, 0] == pytest.approx(100.0, abs=0.5)  # 100 + 81 carpet towers − ρ · 81 towers
    assert 81 * TOWER_AREA == pytest.approx(0.615, abs=1e-3)


def test_even_window_is_a_config_error():
    with pytest.raises(ConfigError, match="jet_window_towers must be odd"):
        parse_config(L1Config, {"jet_window_towers": 8}, source="l1")
