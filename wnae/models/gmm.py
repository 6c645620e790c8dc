"""The Gaussian mixture on SM latents and its anomaly score −log p(z) (scikit-learn)."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from wnae.errors import ModelError

__all__ = ["fit_gmm", "gmm_anomaly_score"]

logger = logging.getLogger(__name__)


def fit_gmm(latents: np.ndarray, cfg: Any, seed: int) -> Any:  # a GaussianMixture; cfg: GmmConfig
    """A ``GaussianMixture`` fitted on float (n, d) SM latents: ``cfg.n_components`` components, or
    the best by BIC up to ``cfg.max_components`` when ``n_components: bic``.

    Raises:
        ModelError: non-finite latents, or fewer events than components.
    """
    from sklearn.mixture import GaussianMixture

    z = np.asarray(latents, dtype=np.float64)
    if z.ndim != 2 or not np.isfinite(z).all():
        msg = f"the SM latents must be a finite (n, d) array, got shape {z.shape} with non-finite values"
        raise ModelError(msg)
    candidates = range(1, cfg.max_components + 1) if cfg.n_components == "bic" else [int(cfg.n_components)]
    if len(z) < max(candidates):
        msg = f"{len(z)} SM latents cannot fit a mixture of {max(candidates)} components"
        raise ModelError(msg)
    best: Any = None  # a GaussianMixture (sklearn ships no types)
    best_bic = math.inf
    for k in candidates:
        gmm = GaussianMixture(k, covariance_type=cfg.covariance_type, random_state=seed, reg_covar=1e-4)
        gmm.fit(z)
        bic = gmm.bic(z)
        if bic < best_bic:
            best, best_bic = gmm, bic
    logger.info("GMM: %d components (BIC %.1f)", best.n_components, best_bic)
    return best


def gmm_anomaly_score(gmm: Any, latents: np.ndarray) -> np.ndarray:
    """A(z) = −log p(z) under the mixture, float64 (n,): higher is more anomalous."""
    return -gmm.score_samples(np.asarray(latents, dtype=np.float64))
