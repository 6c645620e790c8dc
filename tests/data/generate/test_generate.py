"""Small real Pythia runs (tens of events per process): layout, cuts, determinism, physics sanity."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from wnae.config import parse_config
from wnae.data.generate.config import GenerateConfig
from wnae.data.generate.processes import PROCESSES
from wnae.data.generate.run import generate
from wnae.data.io import read_events, read_metadata
from wnae.data.samples import SM_PROCESSES, SampleRole, load_manifest
from wnae.data.schema import ObjectType
from wnae.errors import ConfigError

pytestmark = pytest.mark.slow

SIZES = {
    "dy": 80,
    "qcd": 20,
    "ttbar": 20,
    "wjets": 20,
    "zero_bias": 40,
    "ato4l": 20,
    "lq_btau": 20,
    "h0_tautau": 20,
    "hplus_taunu": 20,
    "zprime_ll": 20,
}


def _config(out, sizes, **extra) -> GenerateConfig:
    data = {
        "output_dir": str(out),
        "seed": 7,
        "pileup_pool_events": 60,
        "block_events": 20,
        "samples": {name: {"n_events": n} for name, n in sizes.items()},
        **extra,
    }
    return parse_config(GenerateConfig, data)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    result = generate(_config(out, SIZES), jobs=1, progress=False)
    return out, result


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_process_written_with_labels_and_metadata(dataset):
    out, _result = dataset
    samples = {s.name: s for s in load_manifest(out)}
    assert set(samples) == set(SIZES)
    for name, n in SIZES.items():
        events = read_events(out / f"{name}.h5", with_pf=True)  # validates both layouts
        assert len(events) == n == samples[name].n_events
        assert events.pf_cands.shape == (n, 128, 6)  # the default PF view, beside the L1 objects
        assert (events.pf_cands[:, 0, 5] > 0).all()  # every crossing has candidates
        assert set(events.sample_name) == {name}
        expected_label = {v: k for k, v in SM_PROCESSES.items()}.get(name, -1)
        assert set(events.process_label.tolist()) == {expected_label}
        assert samples[name].role is PROCESSES[name].role
        meta = read_metadata(out / f"{name}.h5")
        assert meta["seed"] == 7
        assert meta["pf"]["features"] == ["pt", "eta", "phi", "dxy", "dxy_significance", "pid_class"]
        assert meta["pythia_settings"][: len(PROCESSES[name].settings)] == list(PROCESSES[name].settings)
        assert meta["cross_section_pb"] > 0
        assert 0 < meta["cross_section_error_pb"] < meta["cross_section_pb"]
    assert samples["zero_bias"].role is SampleRole.ZERO_BIAS


def test_acceptance_cuts_respected(dataset):
    out, _ = dataset
    p = np.concatenate([read_events(out / f"{name}.h5").particles for name in SIZES])
    pt, eta, cls = p[..., 0], p[..., 1], p[..., 3]
    for object_type, pt_min, eta_max in (
        (ObjectType.EGAMMA, 3.0, 3.0),
        (ObjectType.MUON, 3.0, 2.1),
        (ObjectType.JET, 15.0, 4.0),
    ):
        sel = cls == object_type
        assert sel.any()
        assert pt[sel].min() > pt_min
        assert np.abs(eta[sel]).max() < eta_max
    assert np.all(cls[:, 0] == ObjectType.MET)  # MET slot always filled
    assert np.all(eta[:, 0] == 0)
    # pT-ordered within each type
    for start, stop in ((1, 5), (5, 9), (9, 19)):
        block = pt[:, start:stop]
        assert np.all(np.diff(block, axis=1) <= 0)


def test_z_to_leptons_peaks_at_the_z_mass(dataset):
    out, _ = dataset
    p = read_events(out / "dy.h5").particles
    masses = []
    for first in (1, 5):  # two leading e/γ, two leading muons
        a, b = p[:, first], p[:, first + 1]
        both = (a[:, 0] > 10) & (b[:, 0] > 10)
        m2 = 2 * a[both, 0] * b[both, 0] * (np.cosh(a[both, 1] - b[both, 1]) - np.cos(a[both, 2] - b[both, 2]))
        masses.append(np.sqrt(m2))
    m = np.concatenate(masses)
    assert len(m) >= 15
    assert np.mean(np.abs(m - 91.2) < 15) > 0.6


def test_signals_look_like_their_physics(dataset):
    out, _ = dataset
    cls = {name: read_events(out / f"{name}.h5").particles[..., 3] for name in ("ato4l", "zprime_ll", "qcd")}
    n_lep = {k: ((v == ObjectType.EGAMMA) | (v == ObjectType.MUON)).sum(axis=1).mean() for k, v in cls.items()}
    assert n_lep["ato4l"] > n_lep["qcd"] + 1  # four leptons vs hadronic
    lead = read_events(out / "zprime_ll.h5").particles[:, [1, 5], 0].max(axis=1)
    assert np.median(lead) > 200  # 1 TeV resonance: hard leptons


def test_cached_rerun_reuses_files(dataset):
    out, _ = dataset
    before = _sha(out / "qcd.h5")
    result = generate(_config(out, SIZES), jobs=1, progress=False)
    assert set(result.reused) == set(SIZES)
    assert _sha(out / "qcd.h5") == before


def test_deterministic_and_independent_of_worker_count(dataset, tmp_path):
    out, _ = dataset
    sizes = {"dy": SIZES["dy"]}
    again = generate(_config(tmp_path / "a", sizes), jobs=2, progress=False)
    assert again.reused == []
    assert _sha(tmp_path / "a" / "dy.h5") == _sha(out / "dy.h5")
    generate(_config(tmp_path / "b", sizes, seed=8), jobs=1, progress=False)
    assert _sha(tmp_path / "b" / "dy.h5") != _sha(out / "dy.h5")


def test_pileup_adds_jets_and_met_to_zero_bias(dataset, tmp_path):
    out, _ = dataset
    generate(_config(tmp_path, {"zero_bias": SIZES["zero_bias"]}, pileup_mean=0.0), jobs=1, progress=False)
    with_pu = read_events(out / "zero_bias.h5").particles
    no_pu = read_events(tmp_path / "zero_bias.h5").particles
    n_jets = [(p[..., 3] == ObjectType.JET).sum(axis=1).mean() for p in (with_pu, no_pu)]
    met = [p[:, 0, 0].mean() for p in (with_pu, no_pu)]
    assert n_jets[0] > n_jets[1]
    assert met[0] > met[1]
    assert read_metadata(tmp_path / "zero_bias.h5")["pileup_mean"] == 0.0


def test_preselection_recorded(tmp_path):
    cfg = parse_config(
        GenerateConfig,
        {
            "output_dir": str(tmp_path),
            "seed": 3,
            "pileup_mean": 0,
            "block_events": 20,
            "samples": {"qcd": {"n_events": 40, "preselection": {"kind": "single_jet", "threshold_gev": 60}}},
        },
    )
    [sample] = generate(cfg, jobs=1, progress=False).samples
    assert sample.n_generated == 40
    assert sample.n_events < 40
    p = read_events(tmp_path / "qcd.h5").particles
    assert np.all(p[:, 9, 0] > 60)
    meta = read_metadata(tmp_path / "qcd.h5")
    assert meta["preselection"] == {"kind": "single_jet", "threshold_gev": 60.0}
    assert meta["preselection_efficiency"] == pytest.approx(sample.n_events / 40)


def test_bad_settings_are_clear_and_leave_no_file(tmp_path):
    cfg = _config(tmp_path, {"qcd": 10}, pileup_mean=0.0, pythia_settings=["NotAPythia:setting = 3"])
    with pytest.raises(ConfigError, match="Pythia rejected the setting 'NotAPythia:setting = 3'"):
        generate(cfg, jobs=1, progress=False)
    assert not list(tmp_path.glob("*.h5"))
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(ConfigError, match="unknown sample"):
        _config(tmp_path, {"not_a_process": 5})


def test_weighted_zero_bias_slices_with_soft_pileup_and_weights(tmp_path):
    """pT-hat slices: their events' largest pT-hat lies in the slice (the pile-up is softer than the hard
    interaction), the manifest carries each component's weight and the unbiased sample's veto."""
    sizes = {"dy": 20, "zero_bias": 40}
    cfg = _config(
        tmp_path,
        sizes,
        zero_bias_slices={"pthat_edges_gev": [30.0, 80.0], "n_events": [20, 10], "electroweak": ["dy"]},
        zero_bias_pileup_pool_events=80,
    )
    generate(cfg, jobs=1, progress=False)
    samples = {s.name: s for s in load_manifest(tmp_path)}
    assert set(samples) == {"dy", "zero_bias", "qcd_pthat_30_80", "qcd_pthat_80_inf"}
    low = read_events(tmp_path / "qcd_pthat_30_80.h5").pthat_gev
    high = read_events(tmp_path / "qcd_pthat_80_inf.h5").pthat_gev
    assert low.min() >= 30.0
    assert low.max() < 80.0
    assert high.min() >= 80.0
    zb = samples["zero_bias"]
    assert zb.zb_pthat_veto_gev == 30.0
    assert samples["qcd_pthat_80_inf"].zb_weight < samples["qcd_pthat_30_80"].zb_weight < zb.zb_weight
    assert samples["dy"].zb_weight > 0
    assert read_metadata(tmp_path / "qcd_pthat_30_80.h5")["pileup_softer_than_hard"] is True
    assert samples["qcd_pthat_80_inf"].n_events == 10
    # the zero-bias samples draw pile-up from their own pool, the others from the common one
    assert read_metadata(tmp_path / "zero_bias.h5")["pileup_pool_events"] == 80
    assert read_metadata(tmp_path / "qcd_pthat_80_inf.h5")["pileup_pool_events"] == 80
    assert read_metadata(tmp_path / "dy.h5")["pileup_pool_events"] == 60
    with pytest.raises(ConfigError, match="need the unbiased 'zero_bias'"):
        _config(tmp_path, {"dy": 5}, zero_bias_slices={})
