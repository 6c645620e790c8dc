"""Particle-flow (PF) candidates: the particle-level view of each event, for the HLT half of the design.

From the visible final-state particles of each crossing (hard scatter plus pile-up, the same ones
the L1 emulation sees) this builds what a CMS-like particle-flow reconstruction would give:

**Tracks.** Charged particles (e, μ, π±, K±, p, Σ±, Ξ, Ω) with |η| < ``track_abs_eta_max`` (2.5,
the tracker), pT ≥ ``track_pt_min_gev`` (0.5 GeV) and a production vertex within
``tracker_rxy_max_mm`` (600 mm) of the beam line (born further out, they cross too few layers to
be tracked) are tracks: electrons, muons (|η| < ``muon_abs_eta_max``, 2.4) or charged hadrons.
Their pT is smeared by ``track_resolution`` (1 %).

**Impact parameter.** d_xy is the distance of closest approach of the particle's straight line
(production vertex, momentum) to the beam line, signed as in CMS, d_xy = (−x p_y + y p_x)/pT, in mm
(the curvature in 3.8 T changes it by less than 1 % for r_xy ≪ pT/(0.3 B) ≈ 0.9 m · pT/GeV). Decay
vertices of B and D hadrons, τ, K⁰_S, Λ and dark pions come from Pythia (``vProd``). It is
measured with a Gaussian resolution σ(d_xy) = a ⊕ b/pT, a = ``dxy_resolution_mm`` (10 μm),
b = ``dxy_resolution_pt_mm_gev`` (90 μm · GeV), close to the CMS Phase-1 tracker (≈ 90 μm at
1 GeV, ≈ 14 μm at 10 GeV in the barrel); the significance is d_xy / σ(d_xy). Neutral candidates
have d_xy = 0 and significance 0.

**Calorimeter.** Photons and neutral hadrons within |η| < ``calo_abs_eta_max`` (5), and charged
particles the tracker does not see (outside |η| < 2.5, or born beyond 600 mm) that reach the
calorimeter (pT ≥ ``calo_charged_pt_min_gev``, 0.7 GeV, as for L1), become neutral candidates: e
and γ as photons (σ/pT = 10 %/√pT ⊕ 1 %), the rest as neutral hadrons (100 %/√pT ⊕ 5 %). Untracked
muons leave nothing. Neutral particles below ``photon_pt_min_gev`` or ``neutral_hadron_pt_min_gev``
(1 GeV) are not reconstructed; a candidate smeared to pT ≤ 0 is dropped.

**Pile-up.** Charged hadron subtraction (CHS, ``chs``): tracks from pile-up interactions are
removed (perfect vertex association: the generator knows each particle's interaction). Neutral
candidates are **PUPPI-weighted** (``neutral_pileup: puppi``; Bertolini, Harris, Low, Tran,
arXiv:1407.6013): α_i = log Σ_j (pT_j/ΔR_ij)² over the primary-vertex tracks j within ΔR < 0.4
(|η| < 2.5; beyond, over every candidate), compared with the α distribution of the pile-up tracks
(beyond 2.5: of the forward neutrals themselves) through its median ᾱ and its RMS σ below the median;
pT → w·pT with w = F_χ²,1((α − ᾱ)²/σ²) for α > ᾱ, else 0, and the candidate is kept if w·pT still
passes its threshold. At 60 pile-up this keeps 41 of the 368 neutral candidates of a zero-bias
crossing (Σ pT 81 of 674 GeV). ``neutral_pileup: kept`` keeps them all, as the calorimeter sees them
(then the 128 slots fill up with neutral pile-up in every crossing).

The candidates of each event are pT-ordered and the leading ``n_max`` kept, zero-padded:
float (n_events, n_max, 6) with the features :data:`PF_FEATURES`, class ids :class:`PFClass`
(0 = padding). Random numbers come from one generator per event (its own stream, not the L1's).
"""

from __future__ import annotations

import enum
import math
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from wnae.config import StrictModel
from wnae.data.generate.calo import is_charged
from wnae.data.generate.particles import ParticleBlock, per_event_normals
from wnae.data.validate import PF_FEATURES  # (GeV, –, rad, mm, –, class id)

__all__ = ["PF_FEATURES", "SIGNIFICANCE_MAX", "PFClass", "PFConfig", "build_pf_candidates"]

#: |d_xy significance| is clipped here (float16 storage reaches 65504).
SIGNIFICANCE_MAX = 10_000.0


class PFClass(enum.IntEnum):
    """Particle-ID class of a PF candidate (feature ``pid_class``)."""

    NONE = 0
    ELECTRON = 1
    MUON = 2
    PHOTON = 3
    CHARGED_HADRON = 4
    NEUTRAL_HADRON = 5


class PFConfig(StrictModel):
    """Settings of the PF-candidate view (module docstring). Units: GeV, mm."""

    n_max: int = Field(128, ge=1, le=1024, description="candidates kept per event, the leading in pT")
    track_abs_eta_max: float = Field(2.5, gt=0, le=5)
    track_pt_min_gev: float = Field(0.5, ge=0)
    tracker_rxy_max_mm: float = Field(600.0, gt=0, description="tracks need a production vertex this close")
    muon_abs_eta_max: float = Field(2.4, gt=0, le=5)
    calo_abs_eta_max: float = Field(5.0, gt=0, le=5)
    calo_charged_pt_min_gev: float = Field(0.7, ge=0, description="softer charged particles curl up")
    photon_pt_min_gev: float = Field(1.0, ge=0)
    neutral_hadron_pt_min_gev: float = Field(1.0, ge=0)
    chs: bool = Field(True, description="remove tracks from pile-up interactions")
    neutral_pileup: Literal["puppi", "kept"] = Field(
        "puppi", description="PUPPI-weight the neutral candidates, or keep them as the calorimeter sees them"
    )
    puppi_cone: float = Field(0.4, gt=0, le=1.5, description="PUPPI: the cone of alpha")
    puppi_min_dr: float = Field(0.02, ge=0, description="PUPPI: neighbours closer than this are left out")
    track_resolution: float = Field(0.01, ge=0)
    photon_resolution_stochastic: float = Field(0.10, ge=0, description="sqrt(GeV)")
    photon_resolution_constant: float = Field(0.01, ge=0)
    neutral_hadron_resolution_stochastic: float = Field(1.0, ge=0, description="sqrt(GeV)")
    neutral_hadron_resolution_constant: float = Field(0.05, ge=0)
    dxy_resolution_mm: float = Field(0.010, gt=0, description="a in sigma(d_xy) = a (+) b/pT")
    dxy_resolution_pt_mm_gev: float = Field(0.090, ge=0, description="b in sigma(d_xy) = a (+) b/pT")

    def dxy_sigma_mm(self, pt_gev: np.ndarray) -> np.ndarray:
        """σ(d_xy) in mm at transverse momentum ``pt_gev``."""
        return np.hypot(self.dxy_resolution_mm, self.dxy_resolution_pt_mm_gev / np.maximum(pt_gev, 1e-3))


@njit(cache=True)
def _seen(
    offsets: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    pid: np.ndarray,
    rxy: np.ndarray,
    pileup: np.ndarray,
    track_eta: float,
    track_pt: float,
    track_rxy: float,
    muon_eta: float,
    calo_eta: float,
    calo_charged_pt: float,
    photon_pt: float,
    neutral_hadron_pt: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Particles PF sees, in particle order: (index, event, class, from pile-up), one pass (module docstring)."""
    n_total = len(pt)
    index = np.empty(n_total, np.int64)
    event = np.empty(n_total, np.int64)
    cls = np.empty(n_total, np.int8)
    pu = np.empty(n_total, np.bool_)
    k = 0
    for e in range(len(offsets) - 1):
        for p in range(offsets[e], offsets[e + 1]):
            apid = abs(pid[p])
            abs_eta = abs(eta[p])
            charged = is_charged(apid)
            is_mu = apid == 13
            c = 0
            if (
                charged
                and abs_eta < track_eta
                and pt[p] >= track_pt
                and rxy[p] < track_rxy
                and not (is_mu and abs_eta >= muon_eta)
            ):
                c = 1 if apid == 11 else (2 if is_mu else 4)
            elif not is_mu and abs_eta < calo_eta and not (charged and pt[p] < calo_charged_pt):
                c = 3 if (apid == 11 or apid == 22) else 5
                if pt[p] < (photon_pt if c == 3 else neutral_hadron_pt):
                    continue
            else:
                continue
            index[k] = p
            event[k] = e
            cls[k] = c
            pu[k] = pileup[p]
            k += 1
    return index[:k], event[:k], cls[:k], pu[:k]


@njit(cache=True)
def _alpha(
    i: int, neighbours: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, cone: float, min_dr: float
) -> float:
    """PUPPI's α_i = log Σ_j (pT_j / ΔR_ij)² over the ``neighbours`` j ≠ i (indices into one event's
    arrays) with ``min_dr`` ≤ ΔR_ij < ``cone`` (−∞ without any)."""
    xi = 0.0
    for j in neighbours:
        if j == i:
            continue
        d_eta = eta[j] - eta[i]
        if abs(d_eta) >= cone:
            continue
        d_phi = abs(phi[j] - phi[i])
        if d_phi > math.pi:
            d_phi = 2 * math.pi - d_phi
        dr2 = d_eta * d_eta + d_phi * d_phi
        if min_dr * min_dr <= dr2 < cone * cone:
            xi += pt[j] * pt[j] / dr2
    return math.log(xi) if xi > 0 else -np.inf


@njit(cache=True)
def _median_left_rms(values: np.ndarray) -> tuple[float, float]:
    """Median of the finite values and their RMS about it from below (robust to the hard scatter)."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return 0.0, 0.0
    med = np.median(finite)
    below = finite[finite <= med]
    return med, math.sqrt(np.mean((below - med) ** 2))


@njit(cache=True)
def _puppi_weights(
    evt: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    kind: np.ndarray,
    track_eta: float,
    cone: float,
    min_dr: float,
) -> np.ndarray:
    """PUPPI weights (Bertolini et al., arXiv:1407.6013) of the neutral candidates (``kind`` 2; tracks are
    0 from the primary vertex, 1 from pile-up, and get weight 1).

    Central (|η| < ``track_eta``): α from the primary-vertex tracks, its pile-up reference (median, RMS)
    from the pile-up tracks. Forward: α from every candidate, the reference from the forward neutrals
    themselves (most are pile-up). w = F_χ²,1((α − ᾱ)² / σ²) for α > ᾱ, else 0.
    """
    n = len(pt)
    w = np.ones(n)
    start = 0
    while start < n:
        stop = start
        while stop < n and evt[stop] == evt[start]:
            stop += 1
        ept, eeta, ephi, ekind = pt[start:stop], eta[start:stop], phi[start:stop], kind[start:stop]
        m = stop - start
        central = np.abs(eeta) < track_eta
        pv = np.flatnonzero(ekind == 0)
        near_forward = np.flatnonzero(np.abs(eeta) >= track_eta - cone)  # every neighbour a forward one can have
        alpha = np.full(m, -np.inf)
        ref_c = np.full(m, -np.inf)
        ref_f = np.full(m, -np.inf)
        for i in range(m):
            if ekind[i] == 1 and central[i]:
                ref_c[i] = _alpha(i, pv, ept, eeta, ephi, cone, min_dr)
            elif ekind[i] == 2:
                alpha[i] = _alpha(i, pv if central[i] else near_forward, ept, eeta, ephi, cone, min_dr)
                if not central[i]:
                    ref_f[i] = alpha[i]
        med_c, rms_c = _median_left_rms(ref_c)
        med_f, rms_f = _median_left_rms(ref_f)
        for i in range(m):
            if ekind[i] != 2:
                continue
            med, rms = (med_c, rms_c) if central[i] else (med_f, rms_f)
            a = alpha[i]
            if not np.isfinite(a) or a <= med or rms <= 0:
                w[start + i] = 0.0
            else:
                w[start + i] = math.erf((a - med) / rms / math.sqrt(2.0))
        start = stop
    return w


def build_pf_candidates(
    block: ParticleBlock, rngs: list[np.random.Generator], cfg: PFConfig, dtype: type = np.float16
) -> np.ndarray:
    """PF candidates of each event.

    Args:
        block: visible final-state particles with ``dxy``, ``rxy`` (and ``pileup`` for CHS).
        rngs: one random generator per event (draws: pT smearing of every seen particle, then the
            d_xy smearing of every track, in particle order).
        cfg: the PF settings.
        dtype: of the output.

    Returns:
        (n_events, n_max, 6) candidates with the features :data:`PF_FEATURES`, pT-ordered,
        zero-padded.
    """
    if block.dxy is None or block.rxy is None:
        msg = "PF candidates need the production vertex of each particle (ParticleBlock.dxy, .rxy)"
        raise ValueError(msg)
    n = block.n_events
    out = np.zeros((n, cfg.n_max, len(PF_FEATURES)), np.float64)
    pileup = block.pileup if block.pileup is not None else np.zeros(len(block.pt), bool)
    seen, evt, cls, pu = _seen(
        block.offsets,
        block.pt,
        block.eta,
        block.pid,
        block.rxy,
        pileup,
        cfg.track_abs_eta_max,
        cfg.track_pt_min_gev,
        cfg.tracker_rxy_max_mm,
        cfg.muon_abs_eta_max,
        cfg.calo_abs_eta_max,
        cfg.calo_charged_pt_min_gev,
        cfg.photon_pt_min_gev,
        cfg.neutral_hadron_pt_min_gev,
    )
    pt = block.pt[seen]
    track = np.isin(cls, (PFClass.ELECTRON, PFClass.MUON, PFClass.CHARGED_HADRON))
    photon = cls == PFClass.PHOTON
    sqrt_pt = np.sqrt(np.maximum(pt, 1e-3))
    sigma = np.where(
        track,
        cfg.track_resolution,
        np.where(
            photon,
            np.hypot(cfg.photon_resolution_stochastic / sqrt_pt, cfg.photon_resolution_constant),
            np.hypot(cfg.neutral_hadron_resolution_stochastic / sqrt_pt, cfg.neutral_hadron_resolution_constant),
        ),
    )
    pt = pt * (1 + sigma * per_event_normals(rngs, evt))
    dxy = np.zeros(len(seen))
    significance = np.zeros(len(seen))
    t = np.flatnonzero(track)
    sigma_dxy = cfg.dxy_sigma_mm(pt[t])
    dxy[t] = block.dxy[seen[t]] + sigma_dxy * per_event_normals(rngs, evt[t])
    significance[t] = dxy[t] / sigma_dxy
    keep = pt > 0  # a soft neutral hadron can be smeared to pT <= 0: not reconstructed
    if cfg.neutral_pileup == "puppi":
        kind = np.where(track, pu.astype(np.int8), np.int8(2))
        weight = _puppi_weights(
            evt,
            np.maximum(pt, 0.0),
            block.eta[seen],
            block.phi[seen],
            kind,
            cfg.track_abs_eta_max,
            cfg.puppi_cone,
            cfg.puppi_min_dr,
        )
        pt = pt * weight
        threshold = np.where(track, 0.0, np.where(photon, cfg.photon_pt_min_gev, cfg.neutral_hadron_pt_min_gev))
        keep &= pt >= threshold  # PUPPI-weighted neutrals pass their threshold again
    if cfg.chs:
        keep &= ~(track & pu)
    evt, pt, cls, dxy, significance = evt[keep], pt[keep], cls[keep], dxy[keep], significance[keep]
    seen = seen[keep]
    order = np.lexsort((-pt, evt))
    evt = evt[order]
    rank = np.arange(len(evt)) - np.searchsorted(evt, evt, side="left")
    top = rank < cfg.n_max
    e, r, o = evt[top], rank[top], order[top]
    out[e, r, 0] = pt[o]
    out[e, r, 1] = block.eta[seen[o]]
    out[e, r, 2] = block.phi[seen[o]]
    out[e, r, 3] = dxy[o]
    out[e, r, 4] = np.clip(significance[o], -SIGNIFICANCE_MAX, SIGNIFICANCE_MAX)
    out[e, r, 5] = cls[o]
    stored: np.ndarray = out.astype(dtype)
    if np.dtype(dtype).itemsize < 8:  # φ rounded beyond ±π (float16: by up to 1e-3) goes back inside
        limit = np.nextafter(dtype(np.pi), dtype(0))
        np.clip(stored[..., 2], -limit, limit, out=stored[..., 2])
    return stored
