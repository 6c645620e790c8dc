"""Physics of the particle-level view, on small Pythia samples: displaced emerging-jet tracks, B-hadron
decay lengths in tt̄, forward VBF tag jets, and CHS against pile-up."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from wnae.data.generate.l1 import L1Config, emulate_l1
from wnae.data.generate.pf import PFClass, PFConfig, build_pf_candidates
from wnae.data.generate.pileup import overlay_pileup
from wnae.data.generate.processes import PROCESSES
from wnae.data.generate.pythia import PythiaRunner, quiet_stdout

pytestmark = pytest.mark.slow

TRACKS = (PFClass.ELECTRON, PFClass.MUON, PFClass.CHARGED_HADRON)


def _rngs(n: int, stream: int = 0) -> list[np.random.Generator]:
    return [np.random.default_rng([stream, i]) for i in range(n)]


def _pf(sample: str, n: int, seed: int = 5, **settings) -> np.ndarray:
    block = PythiaRunner(PROCESSES[sample].settings, seed).next_batch(n)
    return build_pf_candidates(block, _rngs(n), PFConfig(n_max=256, **settings), dtype=np.float32)


def _track_significance(pf: np.ndarray) -> np.ndarray:
    tracks = np.isin(pf[..., 5], TRACKS)
    return np.abs(pf[..., 4][tracks])


def test_emerging_jet_tracks_are_far_more_displaced_than_qcd():
    emj = _track_significance(_pf("emj", 40))
    qcd = _track_significance(_pf("qcd", 150, **{}))
    assert len(emj) > 1000 and len(qcd) > 1000
    far_emj, far_qcd = np.mean(emj > 10), np.mean(qcd > 10)
    assert far_emj > 0.15  # dark pions, c tau = 25 mm
    assert far_emj > 3 * far_qcd, (far_emj, far_qcd)
    assert np.quantile(emj, 0.9) > 5 * np.quantile(qcd, 0.9)


def test_b_hadrons_in_ttbar_decay_at_their_c_tau():
    """Proper decay length of the B hadrons (from their daughters' production vertex) ≈ cτ ≈ 0.47 mm, and
    their charged daughters' |d_xy| is at the 0.1 mm scale, as the PF view computes it."""
    import pythia8mc

    with quiet_stdout():
        pythia = pythia8mc.Pythia("", False)
        for line in (
            "Beams:eCM = 13600",
            "Print:quiet = on",
            "Random:setSeed = on",
            "Random:seed = 3",
            *PROCESSES["ttbar"].settings,
        ):
            assert pythia.readString(line)
        assert pythia.init()
        batch = pythia.nextBatch(60)
    proper, dxy = [], []
    for prt in batch.prt:
        ids = np.abs(ak.to_numpy(prt.id))
        m1 = ak.to_numpy(prt.mother1)
        status = ak.to_numpy(prt.status)
        vx, vy, vz = (ak.to_numpy(ak.fill_none(getattr(prt.vProd, c), 0.0)) for c in ("px", "py", "pz"))
        px, py, pz = (ak.to_numpy(getattr(prt.p, c)) for c in ("px", "py", "pz"))
        m = ak.to_numpy(prt.m)
        flavour = np.where(ids > 1000, (ids // 1000) % 10, (ids // 100) % 10)
        b_hadron = (ids > 500) & (ids < 6000) & (flavour == 5) & (status < 0)
        for i in np.flatnonzero(b_hadron):
            kids = np.flatnonzero(m1 == i)
            if not len(kids) or np.any(b_hadron[kids]):
                continue  # oscillating or excited states: take the one that decays weakly
            k = kids[0]
            length = np.sqrt((vx[k] - vx[i]) ** 2 + (vy[k] - vy[i]) ** 2 + (vz[k] - vz[i]) ** 2)
            proper.append(length * m[i] / np.sqrt(px[i] ** 2 + py[i] ** 2 + pz[i] ** 2))
            charged = kids[(status[kids] > 0) & np.isin(ids[kids], (211, 321, 11, 13, 2212))]
            pt = np.hypot(px[charged], py[charged])
            dxy.extend(np.abs(-vx[charged] * py[charged] + vy[charged] * px[charged]) / pt)
    assert len(proper) > 60
    assert 0.35 < np.mean(proper) < 0.6  # cτ(B±) = 0.49 mm, cτ(B0) = 0.46 mm
    assert 0.05 < np.median(dxy) < 0.5


def test_vbf_tag_jets_are_forward_with_a_large_rapidity_gap():
    """The widest jet pair (L1 jets, pT > 20 GeV; the τ jets of H → ττ are central): VBF's tag jets."""

    def widest_pair(sample: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        block = PythiaRunner(PROCESSES[sample].settings, 7).next_batch(n)
        jets = emulate_l1(block, _rngs(n), L1Config())[:, 9:]
        eta = np.where((jets[..., 3] == 4) & (jets[..., 0] > 20), jets[..., 1], np.nan)
        two = (~np.isnan(eta)).sum(axis=1) >= 2
        eta = eta[two]
        return np.nanmax(eta, axis=1) - np.nanmin(eta, axis=1), np.nanmax(np.abs(eta), axis=1)

    (deta_vbf, forward_vbf), (deta_tt, _) = widest_pair("vbf_htautau", 120), widest_pair("ttbar", 80)
    assert len(deta_vbf) > 50
    assert np.median(deta_vbf) > 3.5 and np.median(deta_vbf) > np.median(deta_tt) + 1.0, (
        np.median(deta_vbf),
        np.median(deta_tt),
    )
    assert np.mean(forward_vbf > 2.5) > 0.5  # a tag jet beyond the tracker


def test_chs_keeps_the_charged_multiplicity_flat_in_pileup():
    n = 60
    hard = PythiaRunner(PROCESSES["dy"].settings, 9).next_batch(n)
    pool = PythiaRunner(PROCESSES["zero_bias"].settings, 10).next_batch(300)
    counts = {}
    for mu in (0.0, 30.0, 60.0):
        merged, _ = overlay_pileup(hard, pool, mu, _rngs(n, 1))
        for chs in (True, False):
            pf = build_pf_candidates(merged, _rngs(n, 2), PFConfig(n_max=1024, chs=chs), dtype=np.float32)
            counts[mu, chs] = np.isin(pf[..., 5], TRACKS).sum(axis=1).mean()
    assert counts[60.0, True] == pytest.approx(counts[0.0, True], rel=0.02)
    assert counts[30.0, True] == pytest.approx(counts[0.0, True], rel=0.02)
    assert counts[60.0, False] > 4 * counts[0.0, False]
