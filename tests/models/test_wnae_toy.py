"""A tiny WNAE on a 2-d toy (two Gaussian blobs) learns the data's density; a plain AE does not.

The AE has a one-dimensional latent, so it reconstructs a curve through both blobs and, extended
along that curve, points far from the data (outlier reconstruction). The WNAE's Langevin
negatives are pulled onto the data by the exact W, which raises the energy wherever the model's
Boltzmann density exp(−E/T) put mass without data.
"""

from __future__ import annotations

import numpy as np
import pytest

from wnae.config import parse_config
from wnae.models.config import TrainConfig
from wnae.models.registry import build_model

FAR = np.array([[4.0, 0.0], [-4.0, 0.0]], np.float32)  # on the blobs' axis, well beyond them
WARMUP, EPOCHS, BATCH = 10, 25, 256


def _blobs(n: int, rng: np.random.Generator) -> np.ndarray:
    centre = np.where(rng.uniform(size=n) < 0.5, -1.5, 1.5)
    return np.stack([centre + 0.3 * rng.standard_normal(n), 0.3 * rng.standard_normal(n)], 1).astype(np.float32)


def _train(objective: str):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, held_out = _blobs(4096, rng), _blobs(1000, rng)
    wide = {"bits": 16, "integer": 6}
    cfg = parse_config(
        TrainConfig,
        {
            "model": objective,
            "batch_size": BATCH,
            "learning_rate": 3e-3,
            "weight_decay": 0.0,
            "architecture": {"encoder": [32], "latent_dim": 1, "latent_activation": "linear"},
            "quant": {
                "input": wide,
                "weight": wide,
                "bias": wide,
                "output": wide,
                "activation": {"bits": 16, "integer": 6, "signed": False},
            },
            # E is a mean over d = 2 inputs: exp(-E/T) spreads off the curve with variance d·T/2 = 0.1 ≈ 0.3²
            "mcmc": {
                "steps": 20,
                "noise": 0.1,
                "temperature": 0.1,
                "bound": 4.0,
                "distance": "emd",
                "init": "uniform",
                "pretrain_epochs": WARMUP,
                "diagnostics": {"events": 400, "long_steps": 100},
            },
        },
    )
    fam = build_model(objective, cfg, 0, dim=2)
    fam.build_optimizer()
    history = []
    for epoch in range(EPOCHS):
        for b in range(0, len(x), BATCH):
            fam.train_step({"features": x[b : b + BATCH]}, epoch)
        if epoch in (WARMUP - 1, EPOCHS - 1):
            history.append(fam.epoch_diagnostics(held_out, epoch))
    e_data = fam.energy(held_out, training=False).numpy()
    e_far = fam.energy(FAR, training=False).numpy()
    return fam, history, e_data, e_far


@pytest.fixture(scope="module")
def wnae_run():
    return _train("wnae")


@pytest.mark.slow
def test_the_wnae_converges_towards_the_two_sample_floor(wnae_run):
    _, (after_warmup, end), _, _ = wnae_run
    assert end["w_exact"] < 0.5 * after_warmup["w_exact"]
    assert end["w_ratio"] < 4.0 and end["w_long_ratio"] < 4.0  # W / floor; the plain AE's density sits at ~10
    assert 0.5 <= end["diag_energy_ratio"] <= 2.0
    assert 0.6 <= end["diag_neg_std_ratio"] <= 1.5


def test_the_negatives_cover_both_blobs(wnae_run):
    fam, _, _, _ = wnae_run
    negatives = fam.buffer.samples
    left, right = np.mean(negatives[:, 0] < 0), np.mean(negatives[:, 0] > 0)
    assert min(left, right) > 0.25
    near = np.abs(np.abs(negatives[:, 0]) - 1.5) < 1.0
    assert np.mean(near) > 0.7


@pytest.mark.slow
def test_far_points_get_a_high_energy_where_a_plain_ae_reconstructs_them(wnae_run):
    _, _, e_data, e_far = wnae_run
    q = np.quantile(e_data, [0.5, 0.95, 0.99])
    assert np.all(e_far > q[1]), f"WNAE: E(far) = {e_far}, data quantiles 50/95/99 % = {q}"
    _, _, ae_data, ae_far = _train("ae")
    q_ae = np.quantile(ae_data, [0.5, 0.95, 0.99])
    # the plain AE's outlier reconstruction: a point far from the data that it reconstructs as well as the data
    assert np.min(ae_far) < q_ae[2], f"AE: E(far) = {ae_far}, data quantiles 50/95/99 % = {q_ae}"
