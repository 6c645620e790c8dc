"""PF candidates on hand-built particles, where the answer is known; the PFCands dataset in files."""

from __future__ import annotations

import math

import awkward as ak
import h5py
import numpy as np
import pytest

from wnae.data.generate.particles import ParticleBlock
from wnae.data.generate.pf import PFClass, PFConfig, build_pf_candidates
from wnae.data.generate.pythia import visible_particles
from wnae.data.io import PF_CANDS, EventSet, EventWriter, iter_events, read_events
from wnae.data.validate import PF_FEATURES, validate_pf_candidates
from wnae.errors import DataError

EXACT = {
    "neutral_pileup": "kept",
    "track_resolution": 0.0,
    "photon_resolution_stochastic": 0.0,
    "photon_resolution_constant": 0.0,
    "neutral_hadron_resolution_stochastic": 0.0,
    "neutral_hadron_resolution_constant": 0.0,
}


def _block(rows: list[tuple], offsets: list[int]) -> ParticleBlock:
    """rows: (pt, eta, phi, pid, dxy, rxy, pileup)."""
    a = np.array(rows, float)
    return ParticleBlock(
        a[:, 0],
        a[:, 1],
        a[:, 2],
        a[:, 3].astype(np.int32),
        np.array(offsets, np.int64),
        dxy=a[:, 4].astype(np.float32),
        rxy=a[:, 5].astype(np.float32),
        pileup=a[:, 6] > 0,
    )


def _rngs(n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(i) for i in range(n)]


def test_dxy_and_rxy_from_a_known_vertex_and_momentum():
    """A pion born at (x, y) = (1, 2) mm with (px, py) = (3, 4) GeV: d_xy = (−x p_y + y p_x)/pT = 0.4 mm."""
    prt = ak.Array(
        [
            [
                {
                    "id": 211,
                    "status": 1,
                    "p": {"px": 3.0, "py": 4.0, "pz": 1.0, "e": 5.2},
                    "vProd": {"px": 1.0, "py": 2.0, "pz": 7.0, "e": 0.0},
                },
                {
                    "id": -211,
                    "status": 1,
                    "p": {"px": -3.0, "py": 0.0, "pz": 0.0, "e": 3.1},  # prompt
                    "vProd": {"px": 0.0, "py": 0.0, "pz": 0.0, "e": 0.0},
                },
                {
                    "id": 22,
                    "status": 1,
                    "p": {"px": 0.0, "py": 2.0, "pz": 0.0, "e": 2.0},  # born 2 mm out along x
                    "vProd": {"px": 2.0, "py": 0.0, "pz": 0.0, "e": 0.0},
                },
            ]
        ]
    )
    block = visible_particles(ak.Array({"prt": prt}))
    np.testing.assert_allclose(block.dxy, [0.4, 0.0, -2.0], atol=1e-6)
    np.testing.assert_allclose(block.rxy, [math.sqrt(5), 0.0, 2.0], atol=1e-6)


def test_classes_acceptance_chs_and_layout():
    rows = [  # pt, eta, phi, pid, dxy, rxy, pileup
        (50.0, 0.1, 0.2, 11, 0.01, 0.0, 0),  # electron track
        (40.0, -1.0, 1.0, 13, -0.02, 0.0, 0),  # muon track
        (30.0, 3.5, 2.0, 13, 0.0, 0.0, 0),  # muon beyond 2.4: nothing
        (20.0, 1.0, -1.0, 22, 0.0, 0.0, 0),  # photon
        (15.0, 2.0, -2.0, 211, 0.5, 3.0, 0),  # charged hadron, displaced
        (12.0, 3.0, 0.5, 211, 0.0, 0.0, 0),  # outside the tracker: a neutral hadron
        (11.0, 0.5, 0.5, 211, 10.0, 800.0, 0),  # born beyond 600 mm: a neutral hadron, d_xy 0
        (10.0, 0.0, 3.0, 130, 0.0, 0.0, 0),  # K0L: neutral hadron
        (9.0, 0.0, -3.0, 211, 0.0, 0.0, 1),  # pile-up track: removed by CHS
        (8.0, 0.3, 0.0, 22, 0.0, 0.0, 1),  # pile-up photon: kept
        (0.6, 3.0, 0.0, 211, 0.0, 0.0, 0),  # untracked and too soft to reach the calorimeter
        (0.8, 0.0, 0.0, 22, 0.0, 0.0, 0),  # photon below 1 GeV
        (0.4, 0.0, 1.0, 211, 0.0, 0.0, 0),  # track below 0.5 GeV
    ]
    block = _block(rows, [0, len(rows)])
    pf = build_pf_candidates(block, _rngs(1), PFConfig(n_max=16, **EXACT), dtype=np.float32)
    validate_pf_candidates(pf)
    assert pf.shape == (1, 16, len(PF_FEATURES))
    got = pf[0][pf[0, :, 5] > 0]
    np.testing.assert_allclose(got[:, 0], [50, 40, 20, 15, 12, 11, 10, 8])  # pT-ordered
    assert list(got[:, 5].astype(int)) == [
        PFClass.ELECTRON,
        PFClass.MUON,
        PFClass.PHOTON,
        PFClass.CHARGED_HADRON,
        PFClass.NEUTRAL_HADRON,
        PFClass.NEUTRAL_HADRON,
        PFClass.NEUTRAL_HADRON,
        PFClass.PHOTON,
    ]
    assert not pf[0, len(got) :].any()  # zero padding at the end
    neutral = np.isin(got[:, 5], [PFClass.PHOTON, PFClass.NEUTRAL_HADRON])
    assert not got[neutral, 3:5].any()  # no impact parameter without a track
    cfg = PFConfig()
    sigma = cfg.dxy_sigma_mm(got[~neutral, 0])
    np.testing.assert_allclose(got[~neutral, 4], got[~neutral, 3] / sigma, rtol=1e-5)
    # the displaced pion: measured within 5 sigma of its 0.5 mm
    assert abs(got[3, 3] - 0.5) < 5 * cfg.dxy_sigma_mm(np.array([15.0]))[0]
    # without CHS the pile-up track comes back; n_max keeps the leading candidates
    no_chs = build_pf_candidates(block, _rngs(1), PFConfig(n_max=16, chs=False, **EXACT), dtype=np.float32)
    assert (no_chs[0, :, 5] > 0).sum() == len(got) + 1
    top3 = build_pf_candidates(block, _rngs(1), PFConfig(n_max=3, **EXACT), dtype=np.float32)
    np.testing.assert_array_equal(top3[0], pf[0, :3])


def test_puppi_keeps_a_neutral_next_to_a_hard_track_and_drops_an_isolated_one():
    rng = np.random.default_rng(0)
    rows = [
        (50.0, 0.0, 0.0, 211, 0.0, 0.0, 0),  # hard primary-vertex track
        (20.0, 0.1, 0.0, 22, 0.0, 0.0, 0),  # photon next to it
        (20.0, -1.5, 2.5, 22, 0.0, 0.0, 0),
    ]  # photon alone
    rows += [(2.0, e, f, 211, 0.0, 0.0, 0) for e, f in rng.uniform([-2.4, -3.1], [2.4, 3.1], (8, 2))]
    rows += [(1.0, e, f, 211, 0.0, 0.0, 1) for e, f in rng.uniform([-2.4, -3.1], [2.4, 3.1], (80, 2))]
    block = _block(rows, [0, len(rows)])
    exact = {**EXACT, "neutral_pileup": "puppi"}
    pf = build_pf_candidates(block, _rngs(1), PFConfig(n_max=64, **exact), dtype=np.float32)[0]
    photons = pf[pf[:, 5] == PFClass.PHOTON]
    assert len(photons) == 1 and abs(photons[0, 1] - 0.1) < 1e-6
    assert photons[0, 0] > 0.9 * 20.0  # w ≈ 1 next to the hard track
    assert (pf[:, 5] == PFClass.CHARGED_HADRON).sum() == 9  # CHS: the 80 pile-up tracks are gone
    kept = build_pf_candidates(block, _rngs(1), PFConfig(n_max=64, **EXACT), dtype=np.float32)[0]
    assert (kept[:, 5] == PFClass.PHOTON).sum() == 2


def test_float16_storage_stays_valid_near_phi_pi():
    rows = [(5.0, 0.0, math.pi - 1e-4, 22, 0.0, 0.0, 0), (4.0, 0.0, -math.pi + 1e-5, 22, 0.0, 0.0, 0)]
    pf = build_pf_candidates(_block(rows, [0, 2]), _rngs(1), PFConfig(n_max=4, **EXACT))
    assert pf.dtype == np.float16
    validate_pf_candidates(pf)
    assert np.abs(pf[0, :2, 2].astype(float)).max() <= math.pi


def test_per_event_random_numbers_do_not_depend_on_the_batch():
    rows = [(10.0, 0.0, 0.0, 211, 0.1, 1.0, 0), (5.0, 1.0, 1.0, 130, 0.0, 0.0, 0)]
    two = _block(rows + rows, [0, 2, 4])
    both = build_pf_candidates(two, _rngs(2), PFConfig(n_max=4))
    second = build_pf_candidates(_block(rows, [0, 2]), [np.random.default_rng(1)], PFConfig(n_max=4))
    np.testing.assert_array_equal(both[1], second[0])
    assert not np.array_equal(both[0], both[1])  # different events, different smearing


def _write(path, pf: np.ndarray) -> None:
    l1 = np.zeros((len(pf), 19, 4), np.float32)
    l1[:, 0] = [10.0, 0.0, 0.5, 1]
    with EventWriter(path, with_labels=False, pf_max_candidates=pf.shape[1], validate=False) as w:
        w.append(EventSet(l1, pf_cands=pf))


def _valid_pf(n: int = 5) -> np.ndarray:
    rows = [(10.0, 0.0, 0.0, 211, 0.1, 1.0, 0), (5.0, 1.0, 1.0, 130, 0.0, 0.0, 0)]
    return build_pf_candidates(
        _block(rows * n, list(range(0, 2 * n + 1, 2))), _rngs(n), PFConfig(n_max=4, neutral_pileup="kept")
    )


def test_round_trip_and_l1_only_readers_do_not_read_it(tmp_path):
    pf = _valid_pf()
    _write(tmp_path / "x.h5", pf)
    back = read_events(tmp_path / "x.h5", with_pf=True)
    np.testing.assert_array_equal(back.pf_cands, pf)
    assert read_events(tmp_path / "x.h5").pf_cands is None
    with h5py.File(tmp_path / "x.h5") as f:
        assert [b.decode() for b in f["PFCands_Features"][:]] == list(PF_FEATURES)
        assert f[PF_CANDS].dtype == np.float16


@pytest.mark.parametrize(
    ("corrupt", "problem"),
    [
        (lambda d: d.__setitem__((2, 0, 1), np.nan), "event 2.*NaN or infinite"),
        (lambda d: d.__setitem__((1, 1, 5), 7), "event 1.*class id must be an integer 0–5"),
        (lambda d: d.__setitem__((3, 3, 0), 2.0), "event 3.*padding candidate"),
        (lambda d: d.__setitem__((0, 1, 0), 50.0), "event 0.*pT-ordered"),
    ],
)
def test_a_corrupt_pfcands_dataset_is_a_clear_error(tmp_path, corrupt, problem):
    path = tmp_path / "x.h5"
    _write(path, _valid_pf())
    with h5py.File(path, "r+") as f:
        corrupt(f[PF_CANDS])
    with pytest.raises(DataError, match=f"PFCands.*{problem}"):
        read_events(path, with_pf=True)
    read_events(path)  # the L1 objects alone still read


def test_missing_or_misshapen_pfcands_named(tmp_path):
    path = tmp_path / "x.h5"
    _write(path, _valid_pf())
    with h5py.File(path, "r+") as f:
        del f[PF_CANDS]
    with pytest.raises(DataError, match="no 'PFCands' dataset"):
        next(iter_events(path, with_pf=True))
    with h5py.File(path, "r+") as f:
        f.create_dataset(PF_CANDS, data=np.zeros((5, 4, 5), np.float16))
    with pytest.raises(DataError, match=r"PFCands.*expected shape \(5, n_max, 6\)"):
        next(iter_events(path, with_pf=True))


def test_data_summary_shows_the_pf_view(tmp_path):
    from wnae.data.summary import format_summary, plot_samples, summarise_file

    _write(tmp_path / "x.h5", _valid_pf(6))
    summary = summarise_file(tmp_path / "x.h5")
    assert summary.pf is not None and summary.pf.n_max == 4
    mult = summary.pf.mean_multiplicity
    assert (mult["e"], mult["mu"], mult["gamma"], mult["h+-"]) == (0.0, 0.0, 0.0, 1.0)
    assert 0.5 <= mult["h0"] <= 1.0  # a 5 GeV K0L smeared by 45 % can fall to pT <= 0
    assert summary.pf.histograms["n"].sum() == 6 and summary.pf.histograms["dxy"].sum() == 6
    assert 0.01 < summary.pf.track_median_abs_dxy_mm < 1.0
    text = format_summary([summary])
    assert "PF candidates" in text and "n_h+-" in text
    written = plot_samples([summary], tmp_path / "plots")
    assert tmp_path / "plots" / "pf.png" in written and (tmp_path / "plots" / "pf.png").stat().st_size > 10_000
