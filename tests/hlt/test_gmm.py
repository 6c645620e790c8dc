"""The GMM anomaly score: higher away from the SM latents, monotone along every ray from the mean."""

from __future__ import annotations

import numpy as np
import pytest

from wnae.errors import ModelError
from wnae.models.config import GmmConfig
from wnae.models.gmm import fit_gmm, gmm_anomaly_score


@pytest.mark.parametrize("n_components", [1, "bic"])
def test_score_is_monotone_in_distance(n_components) -> None:
    rng = np.random.default_rng(0)
    cov = np.diag([1.0, 0.5, 2.0, 1.0, 0.3, 1.5])
    z = rng.multivariate_normal(np.zeros(6), cov, size=3_000)
    gmm = fit_gmm(z, GmmConfig(n_components=n_components, max_components=4), seed=0)
    centre = z.mean(axis=0)
    for direction in rng.normal(size=(20, 6)):
        direction /= np.linalg.norm(direction)
        radii = np.linspace(0.5, 12.0, 40)
        scores = gmm_anomaly_score(gmm, centre + radii[:, None] * direction)
        assert np.all(np.diff(scores) > 0)
    far = gmm_anomaly_score(gmm, np.full((1, 6), 8.0))[0]
    assert far > np.quantile(gmm_anomaly_score(gmm, z), 0.999)


def test_fit_refuses_bad_latents() -> None:
    z = np.random.default_rng(1).normal(size=(100, 6))
    z[5, 2] = np.nan
    with pytest.raises(ModelError, match="finite"):
        fit_gmm(z, GmmConfig(n_components=2), seed=0)
    with pytest.raises(ModelError, match="cannot fit a mixture of 3"):
        fit_gmm(np.zeros((2, 6)), GmmConfig(n_components=3), seed=0)
