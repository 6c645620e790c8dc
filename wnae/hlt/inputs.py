"""PF candidates → encoder inputs: fixed, documented transforms (no fitted normaliser).

Each stored candidate ``[pT (GeV), η, φ (rad), d_xy (mm), d_xy/σ, class]`` becomes
:data:`N_INPUTS` numbers:

=========  ===========================================================
index      value
=========  ===========================================================
0          log(1 + pT / 1 GeV)
1          η / 2.5
2, 3       cos φ, sin φ
4          asinh(d_xy / 50 μm) / 5
5          asinh(d_xy/σ) / 5
6 … 10     one-hot class (e, μ, γ, h±, h⁰)
=========  ===========================================================

A padding row (class 0) maps to all zeros, and its one-hot part is zero: the encoders read the mask
from it (:func:`candidate_mask`). Only the leading ``max_candidates`` (in pT) are kept.
"""

from __future__ import annotations

import numpy as np

from wnae.data.validate import PF_FEATURES, PF_MAX_CLASS
from wnae.errors import DataError

__all__ = ["N_INPUTS", "candidate_inputs", "candidate_mask"]

N_INPUTS = 6 + PF_MAX_CLASS
_PT, _ETA, _PHI, _DXY, _SIG, _CLASS = range(len(PF_FEATURES))
DXY_SCALE_MM = 0.05


def candidate_inputs(pf_cands: np.ndarray, max_candidates: int) -> np.ndarray:
    """float32 (n, max_candidates, :data:`N_INPUTS`) encoder inputs of float (n, n_max, 6) candidates.

    Files with fewer than ``max_candidates`` slots are zero-padded (padding changes nothing).

    Raises:
        DataError: a wrong shape, or non-finite candidates.
    """
    pf = np.asarray(pf_cands)
    if pf.ndim != 3 or pf.shape[2] != len(PF_FEATURES):
        msg = f"PF candidates must have shape (n, n_max, {len(PF_FEATURES)}), got {pf.shape}"
        raise DataError(msg)
    pf = pf[:, :max_candidates].astype(np.float32)
    if not np.isfinite(pf).all():
        msg = f"{int((~np.isfinite(pf)).any(axis=(1, 2)).sum())} events have NaN or infinite PF candidates"
        raise DataError(msg)
    n, m = pf.shape[:2]
    cls = np.rint(pf[..., _CLASS]).astype(np.int64)
    filled = (cls > 0)[..., None]
    out = np.zeros((n, max_candidates, N_INPUTS), dtype=np.float32)
    dense = np.stack(
        [
            np.log1p(np.maximum(pf[..., _PT], 0.0)),
            pf[..., _ETA] / 2.5,
            np.cos(pf[..., _PHI]),
            np.sin(pf[..., _PHI]),
            np.arcsinh(pf[..., _DXY] / DXY_SCALE_MM) / 5.0,
            np.arcsinh(pf[..., _SIG]) / 5.0,
        ],
        axis=-1,
    )
    out[:, :m, :6] = np.where(filled, dense, 0.0)
    onehot = cls[..., None] == np.arange(1, PF_MAX_CLASS + 1)
    out[:, :m, 6:] = onehot
    return out


def candidate_mask(inputs: np.ndarray) -> np.ndarray:
    """bool (n, max_candidates): which slots of :func:`candidate_inputs` hold a candidate."""
    return np.asarray(inputs)[..., 6:].sum(axis=-1) > 0
