"""Calorimeter trigger-tower algorithms of the L1 emulation, compiled with Numba.

Each kernel loops over events and works on one event's 115 × 72 tower grid at a time, so the grid
stays in cache: building the towers, the pile-up density ρ, the MET sums, the e/γ seeds with their
3 × 3 / 7 × 7 sums, the removal of the e/γ cores and the sliding-window jets cost about as much as
reading the particles once. The conventions (φ wraps, η does not; a window reaching past |η| = 5
sees empty towers) are those of :mod:`wnae.data.generate.l1`, which documents the algorithms and
calls these kernels.

Candidates come back as float64 (n, 4) rows ``(event, i_eta, i_phi, E_T)``, ordered by event, then
η index, then φ index.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["egamma_candidates", "is_charged", "remove_cores", "sliding_window_jets", "tower_grids"]

N_ETA = 115
N_PHI = 72
ETA_MAX = 5.0
D_ETA = 2 * ETA_MAX / N_ETA
D_PHI = 2 * math.pi / N_PHI
# ρ patches: 7 × 9 patches of 9 η-towers × 8 φ-towers, central |η| < 2.74.
_RHO_ETA_FIRST = (N_ETA - 63) // 2


@njit(cache=True)
def is_charged(apid: int) -> bool:
    """Long-lived charged particles (|PDG id|): e, μ, π, K, p, Σ±, Ξ, Ω."""
    return apid in (11, 13, 211, 321, 2212, 3112, 3222, 3312, 3334)


@njit(cache=True)
def _window(grid: np.ndarray, e: int, i: int, j: int, half: int) -> float:
    """Sum of ``grid[e]`` over the (2 half + 1)² towers around (i, j)."""
    s = 0.0
    for a in range(max(i - half, 0), min(i + half + 1, N_ETA)):
        for b in range(j - half, j + half + 1):
            s += grid[e, a, b % N_PHI]
    return s


@njit(cache=True)
def _grow(rows: np.ndarray, n: int) -> np.ndarray:
    """``rows`` with room for one more row after the first ``n``."""
    if n < len(rows):
        return rows
    bigger = np.empty((2 * len(rows), rows.shape[1]))
    bigger[:n] = rows[:n]
    return bigger


@njit(cache=True)
def tower_grids(
    offsets: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    pid: np.ndarray,
    charged_pt_min: float,
    tower_et_min: float,
    met_abs_eta_max: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tower E_T grids of each event and the quantities read from them.

    Args:
        offsets: int64 (n + 1,) particle ranges of the events; ``pt, eta, phi, pid``: per particle.
        charged_pt_min: softer charged particles do not reach the calorimeter (GeV).
        tower_et_min: towers below this E_T are emptied (GeV).
        met_abs_eta_max: towers entering MET and ΣE_T.

    Returns:
        ``total, em``: float64 (n, 115, 72) grids (EM = photons and electrons); ``patches``: float64
        (n, 63) central patch E_T sums (ρ is their median over the area); ``met``: float64 (n, 3)
        ``(−ΣE_x, −ΣE_y, ΣE_T)`` of the towers.
    """
    n = len(offsets) - 1
    total = np.zeros((n, N_ETA, N_PHI))
    em = np.zeros((n, N_ETA, N_PHI))
    patches = np.zeros((n, 63))
    met = np.zeros((n, 3))
    cos_phi = np.cos(-math.pi + D_PHI * (np.arange(N_PHI) + 0.5))
    sin_phi = np.sin(-math.pi + D_PHI * (np.arange(N_PHI) + 0.5))
    for e in range(n):
        for p in range(offsets[e], offsets[e + 1]):
            apid = abs(pid[p])
            if apid == 13 or abs(eta[p]) >= ETA_MAX or (pt[p] < charged_pt_min and is_charged(apid)):
                continue
            i = min(max(int((eta[p] + ETA_MAX) / D_ETA), 0), N_ETA - 1)
            j = int((phi[p] + math.pi) / D_PHI)  # φ in [-π, π]: π wraps to the first tower
            if j >= N_PHI:
                j -= N_PHI
            total[e, i, j] += pt[p]
            if apid == 11 or apid == 22:
                em[e, i, j] += pt[p]
        for i in range(N_ETA):
            central = abs(-ETA_MAX + D_ETA * (i + 0.5)) < met_abs_eta_max
            patch_row = 9 * ((i - _RHO_ETA_FIRST) // 9) if _RHO_ETA_FIRST <= i < _RHO_ETA_FIRST + 63 else -1
            for j in range(N_PHI):
                et = total[e, i, j]
                if et == 0.0:
                    continue
                if et < tower_et_min:
                    total[e, i, j] = 0.0
                    em[e, i, j] = 0.0
                    continue
                if central:
                    met[e, 0] -= et * cos_phi[j]
                    met[e, 1] -= et * sin_phi[j]
                    met[e, 2] += et
                if patch_row >= 0:
                    patches[e, patch_row + j // 8] += et
    return total, em, patches, met


@njit(cache=True)
def egamma_candidates(
    total: np.ndarray, em: np.ndarray, rho: np.ndarray, seed_et: float, abs_eta_max: float
) -> np.ndarray:
    """e/γ seeds and their shower shapes.

    A seed is a tower with EM E_T ≥ ``seed_et`` that is the largest (ties allowed) of its 3 × 3
    neighbourhood, centred at |η| < ``abs_eta_max``.

    Returns:
        float64 (n_seeds, 6) rows ``(event, i_eta, i_phi, E_T, H/E, isolation)``: E_T = EM E_T of
        the 3 × 3 core, H/E its hadronic over EM E_T, isolation = max(E_T(7 × 7) − E_T(3 × 3) −
        ρ · 40 towers, 0) / E_T.
    """
    n = total.shape[0]
    tower_area = D_ETA * D_PHI
    rows = np.empty((max(16, 4 * n), 6))
    k = 0
    seed_et = max(seed_et, 1e-9)
    for e in range(n):
        for i in range(N_ETA):
            if abs(-ETA_MAX + D_ETA * (i + 0.5)) >= abs_eta_max:
                continue
            for j in range(N_PHI):
                c = em[e, i, j]
                if c < seed_et:
                    continue
                is_max = True
                for a in range(max(i - 1, 0), min(i + 2, N_ETA)):
                    for b in range(j - 1, j + 2):
                        if em[e, a, b % N_PHI] > c:
                            is_max = False
                if not is_max:
                    continue
                et = _window(em, e, i, j, 1)
                tot3 = _window(total, e, i, j, 1)
                ring = _window(total, e, i, j, 3) - tot3 - rho[e] * 40 * tower_area
                rows = _grow(rows, k)
                rows[k, 0], rows[k, 1], rows[k, 2], rows[k, 3] = e, i, j, et
                rows[k, 4] = (tot3 - et) / et
                rows[k, 5] = max(ring, 0.0) / et
                k += 1
    return rows[:k]


@njit(cache=True)
def remove_cores(total: np.ndarray, em: np.ndarray, event: np.ndarray, i_eta: np.ndarray, i_phi: np.ndarray) -> None:
    """Subtract, in place, the EM E_T of the 3 × 3 core around each listed e/γ from ``total`` (each
    tower once, where cores overlap); ``em`` is emptied there."""
    for c in range(len(event)):
        e, i, j = event[c], i_eta[c], i_phi[c]
        for a in range(max(i - 1, 0), min(i + 2, N_ETA)):
            for b in range(j - 1, j + 2):
                total[e, a, b % N_PHI] -= em[e, a, b % N_PHI]
                em[e, a, b % N_PHI] = 0.0


@njit(cache=True)
def sliding_window_jets(towers: np.ndarray, seed_et: float, size: int) -> np.ndarray:
    """Jets of a ``size`` × ``size`` tower window around each seed (the CMS L1 jet algorithm).

    A seed is a tower with E_T ≥ ``seed_et`` that is the local maximum of its window. Ties are
    broken as in the CMS firmware: the seed must be strictly larger than the towers before it (lower
    η, or the same η and lower φ) and at least as large as those after it, so a plateau gives one
    jet. The jet E_T is the window sum (raw: no pile-up subtraction here).

    Returns:
        float64 (n_jets, 4) rows ``(event, i_eta, i_phi, E_T)``.
    """
    n = towers.shape[0]
    half = size // 2
    rows = np.empty((max(16, 4 * n), 4))
    k = 0
    for e in range(n):
        for i in range(N_ETA):
            for j in range(N_PHI):
                c = towers[e, i, j]
                if c < seed_et:
                    continue
                is_seed = True
                for a in range(max(i - half, 0), min(i + half + 1, N_ETA)):
                    for b in range(j - half, j + half + 1):
                        t = towers[e, a, b % N_PHI]
                        before = a < i or (a == i and b < j)
                        if t > c or (before and t == c):
                            is_seed = False
                            break
                    if not is_seed:
                        break
                if not is_seed:
                    continue
                rows = _grow(rows, k)
                rows[k, 0], rows[k, 1], rows[k, 2], rows[k, 3] = e, i, j, _window(towers, e, i, j, half)
                k += 1
    return rows[:k]
