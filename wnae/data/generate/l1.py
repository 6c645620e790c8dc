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

**Jets** are built from the towers after removing the EM core (3 × 3) of the selected e/γ.
By default (``jet_algorithm: sliding_window``) as in the CMS L1 calorimeter trigger: a seed is a
tower with E_T ≥ ``jet_seed_et_gev`` (4 GeV) that is the maximum of the 9 × 9 towers around it
(``jet_window_towers``; ties broken as in the firmware, strictly larger than the towers before
it, at least as large as those after it), the jet E_T is the 9 × 9 sum, its η, φ the seed tower's
centre, and ρ times the window area (0.62) is subtracted. ``jet_algorithm: anti_kt`` clusters the
towers with anti-kT (FastJet, R = ``jet_radius``), keeps jets with a seed tower within ±4 towers of
their axis and subtracts ρ·πR²; it is about 15 times slower. Each jet is then smeared, and kept if
pT > ``jet_pt_min_gev`` and |η| < ``jet_abs_eta_max``.

**MET.** Negative vector sum of tower E_T over |η| < ``met_abs_eta_max`` (calorimeter MET, as CMS
L1 ETMiss; muons added only if ``met_includes_muons``), with a Gaussian resolution of
``met_resolution_sqrt_gev`` · √ΣE_T per component.

**Resolutions** (Gaussian, relative): jets √((a/√pT)² + c²) with a = 1.0 √GeV, c = 0.05;
e/γ 3 %; muons 2 %.

The tower algorithms are compiled with Numba (:mod:`wnae.data.generate.calo`). Random numbers come
from one generator per event (see :func:`emulate_l1`), so results do not
depend on how events are batched.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, field_validator
from scipy import ndimage

from wnae.config import StrictModel
from wnae.data.generate import calo
from wnae.data.generate.calo import D_ETA, D_PHI, ETA_MAX, N_ETA, N_PHI  # 0.0870 × 0.0873 towers
from wnae.data.generate.particles import ParticleBlock, per_event_normals
from wnae.data.schema import N_OBJECTS, ObjectType, slot_ranges

__all__ = ["L1Config", "emulate_l1"]

ETA_CENTRES = -ETA_MAX + D_ETA * (np.arange(N_ETA) + 0.5)
PHI_CENTRES = -math.pi + D_PHI * (np.arange(N_PHI) + 0.5)
TOWER_AREA = D_ETA * D_PHI


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
    jet_algorithm: Literal["sliding_window", "anti_kt"] = Field(
        "sliding_window", description="CMS L1 sliding window of towers, or anti-kT (FastJet) on the towers"
    )
    jet_window_towers: int = Field(9, ge=3, le=15, description="sliding window: its side, in towers (odd)")
    jet_radius: float = Field(0.4, gt=0, le=1.5, description="anti-kT: the jet radius R")
    jet_pt_min_gev: float = Field(15.0, ge=0)
    jet_seed_et_gev: float = Field(4.0, ge=0, description="a jet needs a seed tower this hard")
    jet_abs_eta_max: float = Field(4.0, gt=0, le=5)
    jet_resolution_stochastic: float = Field(1.0, ge=0, description="a in a/sqrt(pT), sqrt(GeV)")
    jet_resolution_constant: float = Field(0.05, ge=0)
    met_abs_eta_max: float = Field(5.0, gt=0, le=5)
    met_includes_muons: bool = False
    met_resolution_sqrt_gev: float = Field(0.3, ge=0, description="k in sigma(MET_x,y) = k sqrt(sum E_T)")

    @field_validator("jet_window_towers")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            msg = f"jet_window_towers must be odd (a window centred on its seed tower), not {value}"
            raise ValueError(msg)
        return value


def _cluster_jets(total: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """anti-kT jets of the tower grids: (event, pt, eta, phi) flat arrays, pt > 5 GeV."""
    import awkward as ak
    import fastjet

    from wnae.data.generate.pythia import quiet_stdout

    evt, ieta, iphi = np.nonzero(total)
    et = total[evt, ieta, iphi]
    eta = ETA_CENTRES[ieta]
    phi = PHI_CENTRES[iphi]
    counts = np.bincount(evt, minlength=len(total))
    records = ak.zip({"px": et * np.cos(phi), "py": et * np.sin(phi), "pz": et * np.sinh(eta), "E": et * np.cosh(eta)})
    events = ak.unflatten(records, counts)
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    with quiet_stdout():
        jets = fastjet.ClusterSequence(events, jetdef).inclusive_jets(min_pt=5.0)
    n_jets = ak.to_numpy(ak.num(jets))
    px = ak.to_numpy(ak.flatten(jets.px))
    py = ak.to_numpy(ak.flatten(jets.py))
    pz = ak.to_numpy(ak.flatten(jets.pz))
    pt = np.hypot(px, py)
    return np.repeat(np.arange(len(total)), n_jets), pt, np.arcsinh(pz / pt), np.arctan2(py, px)


def _fill(
    out: np.ndarray,
    slots: slice,
    event: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    object_type: ObjectType,
) -> None:
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
    mu_pt = block.pt[mu] * (1 + cfg.muon_resolution * per_event_normals(rngs, mu_evt))
    keep = mu_pt > cfg.muon_pt_min_gev
    _fill(
        out,
        ranges[ObjectType.MUON],
        mu_evt[keep],
        mu_pt[keep],
        block.eta[mu][keep],
        block.phi[mu][keep],
        ObjectType.MUON,
    )

    # ---- calorimeter
    total, em, patches, met_sums = calo.tower_grids(
        block.offsets,
        block.pt,
        block.eta,
        block.phi,
        block.pid.astype(np.int64),
        cfg.calo_charged_pt_min_gev,
        cfg.tower_et_min_gev,
        cfg.met_abs_eta_max,
    )
    rho = np.median(patches, axis=1) / (72 * TOWER_AREA) if cfg.pileup_subtraction and n else np.zeros(n)

    # ---- e/gamma
    cand = calo.egamma_candidates(total, em, rho, cfg.egamma_seed_et_gev, cfg.egamma_abs_eta_max)
    cand = cand[(cand[:, 4] <= cfg.egamma_hoe_max) & (cand[:, 5] <= cfg.egamma_isolation_max)]
    e_evt, e_ieta, e_iphi = (cand[:, c].astype(np.int64) for c in range(3))
    eg_pt = cand[:, 3] * (1 + cfg.egamma_resolution * per_event_normals(rngs, e_evt))
    keep = eg_pt > cfg.egamma_pt_min_gev
    _fill(
        out,
        ranges[ObjectType.EGAMMA],
        e_evt[keep],
        eg_pt[keep],
        ETA_CENTRES[e_ieta[keep]],
        PHI_CENTRES[e_iphi[keep]],
        ObjectType.EGAMMA,
    )
    # the jets see the towers without the EM core of the selected e/γ
    calo.remove_cores(total, em, e_evt[keep], e_ieta[keep], e_iphi[keep])

    # ---- jets
    if cfg.jet_algorithm == "sliding_window":
        jets = calo.sliding_window_jets(total, cfg.jet_seed_et_gev, cfg.jet_window_towers)
        j_evt, j_ieta, j_iphi = (jets[:, c].astype(np.int64) for c in range(3))
        j_pt, j_eta, j_phi = jets[:, 3], ETA_CENTRES[j_ieta], PHI_CENTRES[j_iphi]
        area = cfg.jet_window_towers**2 * TOWER_AREA
    else:
        j_evt, j_pt, j_eta, j_phi = _cluster_jets(total, cfg.jet_radius)
        seed_max = ndimage.maximum_filter(total, size=(1, 9, 9), mode=("constant", "constant", "wrap"))
        j_ieta = np.clip(((j_eta + ETA_MAX) / D_ETA).astype(np.int64), 0, N_ETA - 1)
        j_iphi = ((j_phi + math.pi) / D_PHI).astype(np.int64) % N_PHI
        seeded = seed_max[j_evt, j_ieta, j_iphi] >= cfg.jet_seed_et_gev
        j_evt, j_pt, j_eta, j_phi = j_evt[seeded], j_pt[seeded], j_eta[seeded], j_phi[seeded]
        area = math.pi * cfg.jet_radius**2
    j_pt = j_pt - rho[j_evt] * area
    sigma = np.sqrt(cfg.jet_resolution_stochastic**2 / np.maximum(j_pt, 1.0) + cfg.jet_resolution_constant**2)
    j_pt = j_pt * (1 + sigma * per_event_normals(rngs, j_evt))
    keep = (j_pt > cfg.jet_pt_min_gev) & (np.abs(j_eta) < cfg.jet_abs_eta_max)
    _fill(out, ranges[ObjectType.JET], j_evt[keep], j_pt[keep], j_eta[keep], j_phi[keep], ObjectType.JET)

    # ---- MET
    mex, mey, sum_et = met_sums[:, 0].copy(), met_sums[:, 1].copy(), met_sums[:, 2]
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
