"""Physical augmentations of L1 events for contrastive learning (two views of each event).

Each transformation keeps an event physically plausible: a global φ rotation and an η flip are
symmetries of the SM at the LHC (up to detector effects), pT smearing stays within the detector
resolution, and dropping soft objects mimics threshold effects. Objects stay pT-ordered and
zero-padded within each type. :func:`augment_candidates` does the same to PF candidates (one
pT-ordered list per event, zero-padded at the end).
"""

from __future__ import annotations

import numpy as np

from wnae.data.schema import slot_ranges

__all__ = ["augment", "augment_candidates"]


def _repack(p: np.ndarray) -> None:
    """Re-sort each object type by decreasing pT, empty slots last (in place)."""
    for r in slot_ranges():
        if r.size < 2:
            continue
        block = p[:, r.start : r.stop]
        order = np.argsort(-block[..., 0], axis=1, kind="stable")
        p[:, r.start : r.stop] = np.take_along_axis(block, order[..., None], axis=1)


def augment(
    particles: np.ndarray,
    rng: np.random.Generator,
    *,
    pt_smear: float = 0.05,
    drop_pt_gev: float = 10.0,
    drop_probability: float = 0.2,
) -> np.ndarray:
    """A randomly transformed copy of ``particles`` (float32 (n, 19, 4), pT GeV, φ rad).

    Args:
        particles: events.
        rng: random generator.
        pt_smear: relative Gaussian pT smearing.
        drop_pt_gev: objects (not MET) softer than this may be dropped …
        drop_probability: … each with this probability.
    """
    p = np.array(particles, dtype=np.float32, copy=True)
    n = len(p)
    filled = p[..., 3] != 0
    rotation = rng.uniform(-np.pi, np.pi, size=(n, 1))
    phi = np.mod(p[..., 2] + rotation + np.pi, 2 * np.pi) - np.pi
    p[..., 2] = np.where(filled, phi, 0.0)
    flip = np.where(rng.random(n) < 0.5, -1.0, 1.0)[:, None]
    p[..., 1] *= flip
    p[..., 0] = np.where(filled, np.maximum(p[..., 0] * (1 + pt_smear * rng.standard_normal(p.shape[:2])), 0.0), 0.0)
    drop = filled & (p[..., 0] < drop_pt_gev) & (rng.random(p.shape[:2]) < drop_probability)
    drop[:, 0] = False  # MET always stays
    p[drop] = 0.0
    _repack(p)
    return p


def augment_candidates(
    pf_cands: np.ndarray,
    rng: np.random.Generator,
    *,
    pt_smear: float = 0.05,
    drop_pt_gev: float = 2.0,
    drop_probability: float = 0.2,
) -> np.ndarray:
    """A randomly transformed copy of PF candidates (float (n, n_max, 6): pT GeV, η, φ rad, d_xy mm,
    d_xy/σ, class; class 0 = padding), float32.

    The same transformations as :func:`augment`: a global φ rotation and an η flip per event (d_xy,
    a transverse quantity, is unchanged by both), relative pT smearing, and candidates softer than
    ``drop_pt_gev`` dropped with probability ``drop_probability``; then each event is re-sorted by
    decreasing pT with the padding last.
    """
    p = np.array(pf_cands, dtype=np.float32, copy=True)
    n, m = p.shape[:2]
    filled = p[..., 5] > 0
    rotation = rng.uniform(-np.pi, np.pi, size=(n, 1))
    p[..., 2] = np.where(filled, np.mod(p[..., 2] + rotation + np.pi, 2 * np.pi) - np.pi, 0.0)
    p[..., 1] *= np.where(rng.random(n) < 0.5, -1.0, 1.0)[:, None]
    p[..., 0] = np.where(filled, np.maximum(p[..., 0] * (1 + pt_smear * rng.standard_normal((n, m))), 0.0), 0.0)
    drop = filled & (p[..., 0] < drop_pt_gev) & (rng.random((n, m)) < drop_probability)
    p[drop] = 0.0
    key = np.where(p[..., 5] > 0, -p[..., 0], np.inf)  # candidates by decreasing pT, padding last
    order = np.argsort(key, axis=1, kind="stable")
    return np.take_along_axis(p, order[..., None], axis=1)
