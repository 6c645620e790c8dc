"""Model families: Langevin gradients, training lowers the loss, quantized score heads, save/reload."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import random_particles
from wnae.config import parse_config
from wnae.models.augment import augment
from wnae.models.families import FAMILIES, AutoencoderFamily
from wnae.models.quantization import QuantSpec
from wnae.models.sampler import ReplayBuffer, langevin_chain
from wnae.models.serialization import load_qkeras_model, save_qkeras_model
from wnae.train.config import TrainConfig
from wnae.data.validate import validate_particles
from wnae.errors import ConfigError


def _cfg(model: str = "wnae", **extra) -> TrainConfig:
    return parse_config(TrainConfig, {"model": model, "architecture": {"encoder": [16, 8], "latent_dim": 4},
                                      "mcmc": {"steps": 3, "buffer_size": 256}, **extra})


def _features(n: int = 256, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.5, size=(n, 57)).astype(np.float32)


def test_quant_spec_conventions():
    q = QuantSpec(bits=16, integer=7)
    assert q.fractional_bits == 8
    assert q.ap_type() == "ap_fixed<16,8,AP_RND_CONV,AP_SAT>"
    u = QuantSpec(bits=18, integer=14, signed=False)
    assert u.ap_type() == "ap_ufixed<18,14,AP_RND_CONV,AP_SAT>"
    x = np.array([0.1, 127.999, 500.0, -500.0, 2 ** -9, 3 * 2 ** -9], np.float32)
    y = q.quantizer()(tf.constant(x)).numpy()
    np.testing.assert_array_equal(y, [round(0.1 * 256) / 256, q.max_value, q.max_value, -128.0, 0.0, 2 * 2 ** -8])
    with pytest.raises(ValueError, match="do not fit"):
        QuantSpec(bits=8, integer=8)


def test_langevin_gradients_reach_the_weights():
    fam = AutoencoderFamily(_cfg(), seed=0)
    x0 = tf.constant(np.random.default_rng(1).uniform(-3, 3, size=(32, 57)).astype(np.float32))
    with tf.GradientTape() as tape:
        x_neg = langevin_chain(fam.energy, x0, steps=3, step_size=0.02, noise=0.2, temperature=0.05, bound=3.0)
        loss = tf.reduce_sum(x_neg)  # depends on the weights only through the chain
    grads = tape.gradient(loss, fam.autoencoder.trainable_variables)
    assert all(g is not None for g in grads)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in grads) > 0
    assert float(tf.reduce_max(tf.abs(x_neg))) <= 3.0


@pytest.mark.parametrize("model", ["wnae", "nae", "ae", "vae"])
def test_a_few_steps_lower_the_loss(model):
    tf.keras.utils.set_random_seed(0)
    fam = FAMILIES[model](_cfg(model, learning_rate=3e-3), 0)
    x = _features(512)
    first = [fam.train_step({"features": x[i : i + 128]}, epoch=0)["loss"] for i in range(0, 512, 128)]
    for _ in range(25):
        last = [fam.train_step({"features": x[i : i + 128]}, epoch=1)["loss"] for i in range(0, 512, 128)]
    assert np.mean(last) < np.mean(first)


def test_mlp_encoder_learns_process_labels():
    tf.keras.utils.set_random_seed(0)
    fam = FAMILIES["mlp_encoder"](_cfg("mlp_encoder", learning_rate=3e-3), 0, n_classes=2)
    rng = np.random.default_rng(0)
    a, b = rng.normal(-1, 0.3, size=(128, 57)), rng.normal(1, 0.3, size=(128, 57))
    v = np.concatenate([a, b]).astype(np.float32)
    labels = np.repeat([0, 1], 128).astype(np.int32)
    batch = {"view1": v, "view2": v + rng.normal(0, 0.05, v.shape).astype(np.float32), "labels": labels}
    first = fam.train_step(batch, 0)
    for _ in range(40):
        last = fam.train_step(batch, 1)
    assert last["loss"] < first["loss"]
    assert last["accuracy"] > 0.85  # chance is 0.5


@pytest.mark.parametrize("model", ["wnae", "vae"])
def test_deployed_score_is_on_the_fixed_point_grid_and_matches_the_energy(model, tmp_path):
    cfg = _cfg(model)
    fam = FAMILIES[model](cfg, 0)
    x = _features(64)
    score = fam.deploy_model().predict(x, verbose=0)[:, 0]
    lsb = cfg.quant.score.lsb
    np.testing.assert_array_equal(score / lsb, np.round(score / lsb))
    assert np.all(score >= 0)
    if model == "wnae":  # on-chip Σ(x − x̂)² ≈ 57 × E(x) up to the fixed-point rounding
        energy = fam.energy(x, training=False).numpy() * 57
        np.testing.assert_allclose(score, energy, atol=57 * (cfg.quant.square.lsb + cfg.quant.diff.lsb * 16) + lsb)
    save_qkeras_model(fam.deploy_model(), tmp_path / "deploy.h5")
    again = load_qkeras_model(tmp_path / "deploy.h5").predict(x, verbose=0)[:, 0]
    np.testing.assert_array_equal(again, score)  # save → load reproduces outputs exactly


def test_replay_buffer_mixes_and_caps():
    buf = ReplayBuffer(size=100, dim=3, bound=2.0, replay_ratio=0.75, seed=0)
    assert buf.sample(8).shape == (8, 3)
    buf.push(np.full((150, 3), 9.0))
    assert len(buf.samples) == 100
    starts = buf.sample(40)
    assert np.sum(np.all(starts == 9.0, axis=1)) == 30
    assert np.all(np.abs(starts[30:]) <= 2.0)


def test_augment_keeps_the_layout():
    p = random_particles(300, 4)
    a = augment(p, np.random.default_rng(0))
    validate_particles(a)
    assert not np.array_equal(a[..., 2], p[..., 2])
    for start, stop in ((1, 5), (5, 9), (9, 19)):
        assert np.all(np.diff(a[:, start:stop, 0], axis=1) <= 0)
    assert np.all(a[:, 0, 3] == 1)


def test_config_errors_are_clear():
    with pytest.raises(ConfigError, match="unknown key 'mcmc.stepz'; did you mean 'steps'"):
        parse_config(TrainConfig, {"mcmc": {"stepz": 3}})
    with pytest.raises(ConfigError, match="'model'"):
        parse_config(TrainConfig, {"model": "transformer"})
    with pytest.raises(ConfigError, match="square is not exact in float32"):
        parse_config(TrainConfig, {"quant": {"diff": {"bits": 16, "integer": 4}}})
