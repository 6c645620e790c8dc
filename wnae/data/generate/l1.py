"""A simple, documented emulation of the CMS Level-1 trigger objects.

From the visible final-state particles of each event (hard scatter plus pile-up) this builds what
the L1 Global Trigger receives — missing E_T, e/γ candidates, muons and jets — and fills the 19
slots of the ADC2021 layout (:mod:`wnae.data.schema`).

**Calorimeter.** Every visible particle except muons, and except charged particles too soft to
reach the calorimeter through the 3.8 T solenoid (pT < ``calo_charged_pt_min_gev`` = 0.7 GeV:
the helix diameter pT / (0.3 B) is smaller than the 1.29 m ECAL barrel radius), deposits its pT in a
tower of a uniform
Δη × Δφ = 0.087 × 2π/72 grid covering |η| < 5 (115 × 72 towers, the granularity of the CMS
barrel trigger towers). Towers below ``tower_et_min_gev`` are dropped (the L1 tower threshold).
The total grid and its electromagnetic part (photons, electrons) are both kept.

**Pile-up density ρ.** The median, over 7 × 9 patches of 9 × 8 towers (|η| < 2.74), of the patch
E_T per unit area — a median-ρ estimate standing in for the L1 "chunky donut" pile-up subtraction.

**e/γ.** Seeds are towers whose EM E_T is ≥ ``egamma_seed_et_gev`` and maximal in their 3 × 3
neighbourhood. E_T = EM E_T of the 3 × 3 core; H/E = hadronic / EM E_T in the core;
isolation = (E_T in 7 × 7 − E_T in 3 × 3 − ρ · ring area) / E_T. Candidates with H/E ≤
``egamma_hoe_max``, isolation ≤ ``egamma_isolation_max``, |η| < ``egamma_abs_eta_max`` and smeared
E_T > ``egamma_pt_min_gev`` are kept; η, φ are the seed tower's centre.

**Muons.** Generator muons with |η| < ``muon_abs_eta_max`` and smeared pT > ``muon_pt_min_gev``
(muons leave no calorimeter energy).

**Jets.** anti-kT (FastJet) with R = ``jet_radius`` on the towers, after removing the EM core of
the selected e/γ candidates. As in the CMS L1 jet algorithm, a jet needs a seed: a tower with
E_T ≥ ``jet_seed_et_gev`` (4 GeV) within ±4 towers of its axis. Each jet is corrected by −ρ·πR²,
smeared, and kept if pT > ``jet_pt_min_gev`` and |η| < ``jet_abs_eta_max``.

**MET.** Negative vector sum of tower E_T over |η| < ``met_abs_eta_max`` (calorimeter MET, as CMS
L1 ETMiss; muons added only if ``met_includes_muons``), with a Gaussian resolution of
``met_resolution_sqrt_gev`` · √ΣE_T per component.

**Resolutions** (Gaussian, relative): jets √((a/√pT)² + c²) with a = 1.0 √GeV, c = 0.05;
e/γ 3 %; muons 2 %.

Random numbers come from one generator per event (see :func:`emulate_l1`), so results do not
depend on how events are batched.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field
from scipy import ndimage

from wnae.config import StrictModel
from wnae.data.generate.particles import ParticleBlock
from wnae.data.schema import N_OBJECTS, ObjectType, slot_ranges

__all__ = ["L1Config", "emulate_l1"]

N_ETA = 115
N_PHI = 72
ETA_MAX = 5.0
D_ETA = 2 * ETA_MAX / N_ETA  # 0.0870
D_PHI = 2 * math.pi / N_PHI  # 0.0873
ETA_CENTRES = -ETA_MAX + D_ETA * (np.arange(N_ETA) + 0.5)
PHI_CENTRES = -math.pi + D_PHI * (np.arange(N_PHI) + 0.5)
TOWER_AREA = D_ETA * D_PHI
#: Long-lived charged particles (PDG ids): e, μ, π, K, p, Σ±, Ξ, Ω.
_CHARGED = np.array([11, 13, 211, 321, 2212, 3112, 3222, 3312, 3334])
# ρ patches: 7 × 9 patches of 9 η-towers × 8 φ-towers, central |η| < 2.74.
_RHO_ETA_FIRST = (N_ETA - 63) // 2


class L1Config(StrictModel):
    """Settings of the L1 emulation (defaults from CMS Run-3 L1 where known). Units: GeV, rad."""

    tower_et_min_gev: float = Field(0.5, ge=0, description="calorimeter tower E_T threshold")
    calo_charged_pt_min_gev: float = Field(0.7, ge=0, description="softer charged particles curl up in the field")
    pileup_subtraction: bool = Field(True, description="subtract ρ·area from jets and e/γ isolation")
    egamma_seed_et_gev: float = Field(2.0, ge=0)
    egamma_pt_min_gev: float = Field(3.0, ge=0)
    egamma_abs_eta_max: float = Field(3.0, gt=0, le=5)
    egamma_hoe_max: float = Field(0.25, ge=0, description="max hadronic/EM E_T in the 3x3 core")
    egamma_isolation_max: float = Field(0.4, ge=0, description="max relative isolation (7x7 ring)")
    egamma_resolution: float = Field(0.03, ge=0)
    muon_pt_min_gev: float = Field(3.0, ge=0)
    muon_abs_eta_max: float = Field(2.1, gt=0, le=5)
    muon_resolution: float = Field(0.02, ge=0)
    jet_radius: float = Field(0.4, gt=0, le=1.5)
    jet_pt_min_gev: float = Field(15.0, ge=0)
    jet_seed_et_gev: float = Field(4.0, ge=0, description="a jet needs a tower this hard near its axis")
    jet_abs_eta_max: float = Field(4.0, gt=0, le=5)
    jet_resolution_stochastic: float = Field(1.0, ge=0, description="a in a/sqrt(pT), sqrt(GeV)")
    jet_resolution_constant: float = Field(0.05, ge=0)
    met_abs_eta_max: float = Field(5.0, gt=0, le=5)
    met_includes_muons: bool = False
    met_resolution_sqrt_gev: float = Field(0.3, ge=0, description="k in sigma(MET_x,y) = k sqrt(sum E_T)")


def _tower_grids(block: ParticleBlock, cfg: L1Config) -> tuple[np.ndarray, np.ndarray]:
    """Total and EM tower E_T grids, float64 (n_events, N_ETA, N_PHI), after the threshold."""
    n = block.n_events
    apid = np.abs(block.pid)
    soft_charged = np.isin(apid, _CHARGED) & (block.pt < cfg.calo_charged_pt_min_gev)
    calo = (apid != 13) & ~soft_charged & (np.abs(block.eta) < ETA_MAX)
    evt = block.event_index[calo]
    ieta = np.clip(((block.eta[calo] + ETA_MAX) / D_ETA).astype(np.int64), 0, N_ETA - 1)
    iphi = ((block.phi[calo] + math.pi) / D_PHI).astype(np.int64) % N_PHI
    flat = (evt * N_ETA + ieta) * N_PHI + iphi
    size = n * N_ETA * N_PHI
    pt = block.pt[calo]
    total = np.bincount(flat, weights=pt, minlength=size).reshape(n, N_ETA, N_PHI)
    is_em = (apid[calo] == 11) | (apid[calo] == 22)
    em = np.bincount(flat[is_em], weights=pt[is_em], minlength=size).reshape(n, N_ETA, N_PHI)
    below = total < cfg.tower_et_min_gev
    total[below] = 0.0
    em[below] = 0.0
    return total, em


def _window_sum(grid: np.ndarray, size: int) -> np.ndarray:
    """Sum over a size × size tower window centred on each tower (φ wraps, η does not)."""
    k = size // 2
    padded = np.pad(grid, ((0, 0), (0, 0), (k, k)), mode="wrap")
    padded = np.pad(padded, ((0, 0), (k, k), (0, 0)), mode="constant")
    c = padded.cumsum(axis=1).cumsum(axis=2)
    c = np.pad(c, ((0, 0), (1, 0), (1, 0)))
    return c[:, size:, size:] - c[:, :-size, size:] - c[:, size:, :-size] + c[:, :-size, :-size]


def _rho(total: np.ndarray) -> np.ndarray:
    """float64 (n_events,) median pile-up E_T density per unit η-φ area."""
    central = total[:, _RHO_ETA_FIRST : _RHO_ETA_FIRST + 63, :]
    patches = central.reshape(len(total), 7, 9, 9, 8).sum(axis=(2, 4)).reshape(len(total), -1)
    return np.median(patches, axis=1) / (72 * TOWER_AREA)


def _cluster_jets(total: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """anti-kT jets of the tower grids: (event, pt, eta, phi) flat arrays, pt > 5 GeV."""
    import awkward as ak
    import fastjet

    from wnae.data.generate.pythia import _quiet_stdout

    evt, ieta, iphi = np.nonzero(total)
    et = total[evt, ieta, iphi]
    eta = ETA_CENTRES[ieta]
    phi = PHI_CENTRES[iphi]
    counts = np.bincount(evt, minlength=len(total))
    records = ak.zip(
        {"px": et * np.cos(phi), "py": et * np.sin(phi), "pz": et * np.sinh(eta), "E": et * np.cosh(eta)}
    )
    events = ak.unflatten(records, counts)
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    with _quiet_stdout():
        jets = fastjet.ClusterSequence(events, jetdef).inclusive_jets(min_pt=5.0)
    n_jets = ak.to_numpy(ak.num(jets))
    px = ak.to_numpy(ak.flatten(jets.px))
    py = ak.to_numpy(ak.flatten(jets.py))
    pz = ak.to_numpy(ak.flatten(jets.pz))
    pt = np.hypot(px, py)
    return np.repeat(np.arange(len(total)), n_jets), pt, np.arcsinh(pz / pt), np.arctan2(py, px)


def _per_event_normals(rngs: list[np.random.Generator], event: np.ndarray) -> np.ndarray:
    """One standard normal per entry of ``event`` (sorted), drawn from that event's generator."""
    counts = np.bincount(event, minlength=len(rngs))
    return np.concatenate([rng.standard_normal(c) for rng, c in zip(rngs, counts, strict=True)] + [np.zeros(0)])


def _fill(out: np.ndarray, slots: slice, event: np.ndarray, pt, eta, phi, object_type: ObjectType) -> None:
    """Write objects pT-ordered into ``out[:, slots]``, keeping the leading ones per event."""
    size = slots.stop - slots.start
    order = np.lexsort((-pt, event))
    event, pt, eta, phi = event[order], pt[order], eta[order], phi[order]
    first = np.searchsorted(event, event, side="left")
    rank = np.arange(len(event)) - first
    keep = rank < size
    e, r = event[keep], rank[keep] + slots.start
    out[e, r, 0] = pt[keep]
    out[e, r, 1] = eta[keep]
    out[e, r, 2] = phi[keep]
    out[e, r, 3] = int(object_type)


def emulate_l1(block: ParticleBlock, rngs: list[np.random.Generator], cfg: L1Config) -> np.ndarray:
    """L1 objects of each event in the ADC2021 layout.

    Args:
        block: visible final-state particles (hard scatter plus pile-up) of n events.
        rngs: one random generator per event, used in a fixed order (muons, e/γ, jets, MET).
        cfg: emulation settings.

    Returns:
        float32 (n_events, 19, 4): pT (GeV), η, φ (rad), class id.
    """
    n = block.n_events
    out = np.zeros((n, N_OBJECTS, 4), np.float64)
    ranges = {r.object_type: slice(r.start, r.stop) for r in slot_ranges()}

    # ---- muons
    mu = (np.abs(block.pid) == 13) & (np.abs(block.eta) < cfg.muon_abs_eta_max)
    mu_evt = block.event_index[mu]
    mu_pt = block.pt[mu] * (1 + cfg.muon_resolution * _per_event_normals(rngs, mu_evt))
    keep = mu_pt > cfg.muon_pt_min_gev
    _fill(out, ranges[ObjectType.MUON], mu_evt[keep], mu_pt[keep], block.eta[mu][keep], block.phi[mu][keep],
          ObjectType.MUON)

    # ---- calorimeter
    total, em = _tower_grids(block, cfg)
    rho = _rho(total) if cfg.pileup_subtraction else np.zeros(n)

    # ---- e/gamma
    em3 = _window_sum(em, 3)
    tot3 = _window_sum(total, 3)
    tot7 = _window_sum(total, 7)
    em_max = ndimage.maximum_filter(em, size=(1, 3, 3), mode=("constant", "constant", "wrap"))
    seed = (em >= max(cfg.egamma_seed_et_gev, 1e-9)) & (em == em_max)
    seed &= (np.abs(ETA_CENTRES) < cfg.egamma_abs_eta_max)[None, :, None]
    e_evt, e_ieta, e_iphi = np.nonzero(seed)
    et = em3[e_evt, e_ieta, e_iphi]
    hoe = (tot3[e_evt, e_ieta, e_iphi] - et) / et
    ring = tot7[e_evt, e_ieta, e_iphi] - tot3[e_evt, e_ieta, e_iphi] - rho[e_evt] * 40 * TOWER_AREA
    iso = np.maximum(ring, 0.0) / et
    good = (hoe <= cfg.egamma_hoe_max) & (iso <= cfg.egamma_isolation_max)
    e_evt, e_ieta, e_iphi, et = e_evt[good], e_ieta[good], e_iphi[good], et[good]
    eg_pt = et * (1 + cfg.egamma_resolution * _per_event_normals(rngs, e_evt))
    keep = eg_pt > cfg.egamma_pt_min_gev
    _fill(out, ranges[ObjectType.EGAMMA], e_evt[keep], eg_pt[keep], ETA_CENTRES[e_ieta[keep]],
          PHI_CENTRES[e_iphi[keep]], ObjectType.EGAMMA)
    # remove the EM core of the selected e/γ from the jet inputs
    core = np.zeros_like(seed)
    core[e_evt[keep], e_ieta[keep], e_iphi[keep]] = True
    core = ndimage.maximum_filter(core, size=(1, 3, 3), mode=("constant", "constant", "wrap"))
    jet_towers = total - np.where(core, em, 0.0)

    # ---- jets
    j_evt, j_pt, j_eta, j_phi = _cluster_jets(jet_towers, cfg.jet_radius)
    seed_max = ndimage.maximum_filter(jet_towers, size=(1, 9, 9), mode=("constant", "constant", "wrap"))
    j_ieta = np.clip(((j_eta + ETA_MAX) / D_ETA).astype(np.int64), 0, N_ETA - 1)
    j_iphi = ((j_phi + math.pi) / D_PHI).astype(np.int64) % N_PHI
    seeded = seed_max[j_evt, j_ieta, j_iphi] >= cfg.jet_seed_et_gev
    j_evt, j_pt, j_eta, j_phi = j_evt[seeded], j_pt[seeded], j_eta[seeded], j_phi[seeded]
    j_pt = j_pt - rho[j_evt] * math.pi * cfg.jet_radius**2
    sigma = np.sqrt(cfg.jet_resolution_stochastic**2 / np.maximum(j_pt, 1.0) + cfg.jet_resolution_constant**2)
    j_pt = j_pt * (1 + sigma * _per_event_normals(rngs, j_evt))
    keep = (j_pt > cfg.jet_pt_min_gev) & (np.abs(j_eta) < cfg.jet_abs_eta_max)
    _fill(out, ranges[ObjectType.JET], j_evt[keep], j_pt[keep], j_eta[keep], j_phi[keep], ObjectType.JET)

    # ---- MET
    in_met = (np.abs(ETA_CENTRES) < cfg.met_abs_eta_max)[None, :, None]
    towers = np.where(in_met, total, 0.0)
    mex = -(towers.sum(axis=1) * np.cos(PHI_CENTRES)).sum(axis=1)
    mey = -(towers.sum(axis=1) * np.sin(PHI_CENTRES)).sum(axis=1)
    sum_et = towers.sum(axis=(1, 2))
    if cfg.met_includes_muons:
        all_mu = np.abs(block.pid) == 13
        mu_evt_all = block.event_index[all_mu]
        mex -= np.bincount(mu_evt_all, block.pt[all_mu] * np.cos(block.phi[all_mu]), minlength=n)
        mey -= np.bincount(mu_evt_all, block.pt[all_mu] * np.sin(block.phi[all_mu]), minlength=n)
    noise = np.stack([rng.standard_normal(2) for rng in rngs]) if n else np.zeros((0, 2))
    width = cfg.met_resolution_sqrt_gev * np.sqrt(sum_et)
    mex = mex + width * noise[:, 0]
    mey = mey + width * noise[:, 1]
    met = ranges[ObjectType.MET].start
    out[:, met, 0] = np.hypot(mex, mey)
    out[:, met, 2] = np.arctan2(mey, mex)
    out[:, met, 3] = int(ObjectType.MET)
    return out.astype(np.float32)
