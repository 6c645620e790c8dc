"""Model families: Langevin gradients, training lowers the loss, quantized score heads, save/reload."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import random_particles
from wnae.config import parse_config
from wnae.data.validate import validate_particles
from wnae.errors import ConfigError, ModelError
from wnae.models.augment import augment
from wnae.models.config import TrainConfig
from wnae.models.mlp_encoder import MlpEncoderFamily, whitening_spec
from wnae.models.quantization import QuantSpec
from wnae.models.registry import available_models, build_model, register_model
from wnae.models.sampler import ReplayBuffer, langevin_chain
from wnae.models.serialization import load_qkeras_model, save_qkeras_model
from wnae.models.wnae import AutoencoderFamily, negative_diagnostics


def _cfg(model: str = "wnae", **extra) -> TrainConfig:
    return parse_config(
        TrainConfig,
        {
            "model": model,
            "architecture": {"encoder": [16, 8], "latent_dim": 4},
            "mcmc": {"steps": 3, "buffer_size": 256},
            **extra,
        },
    )


def _features(n: int = 256, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.5, size=(n, 57)).astype(np.float32)


def test_quant_spec_conventions():
    q = QuantSpec(bits=16, integer=7)
    assert q.fractional_bits == 8
    assert q.ap_type() == "ap_fixed<16,8,AP_RND_CONV,AP_SAT>"
    u = QuantSpec(bits=18, integer=14, signed=False)
    assert u.ap_type() == "ap_ufixed<18,14,AP_RND_CONV,AP_SAT>"
    x = np.array([0.1, 127.999, 500.0, -500.0, 2**-9, 3 * 2**-9], np.float32)
    y = q.quantizer()(tf.constant(x)).numpy()
    np.testing.assert_array_equal(y, [round(0.1 * 256) / 256, q.max_value, q.max_value, -128.0, 0.0, 2 * 2**-8])
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


@pytest.mark.slow
@pytest.mark.parametrize("model", ["wnae", "nae", "ae", "vae"])
def test_a_few_steps_lower_the_loss(model):
    tf.keras.utils.set_random_seed(0)
    fam = build_model(model, _cfg(model, learning_rate=3e-3), 0)
    x = _features(512)
    first = [fam.train_step({"features": x[i : i + 128]}, epoch=0)["loss"] for i in range(0, 512, 128)]
    for _ in range(25):
        last = [fam.train_step({"features": x[i : i + 128]}, epoch=1)["loss"] for i in range(0, 512, 128)]
    assert np.mean(last) < np.mean(first)


def test_mlp_encoder_learns_process_labels():
    tf.keras.utils.set_random_seed(0)
    fam = build_model("mlp_encoder", _cfg("mlp_encoder", learning_rate=3e-3), 0, n_classes=2)
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
    fam = build_model(model, cfg, 0)
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


def test_registry_names_and_errors():
    assert available_models() == ["ae", "mlp_encoder", "nae", "two_stage", "vae", "wnae"]
    with pytest.raises(ModelError, match="unknown model 'transformer'; available: ae, mlp_encoder"):
        build_model("transformer", _cfg(), 0)
    fam = build_model("nae", _cfg("nae"), 0)
    assert isinstance(fam, AutoencoderFamily)
    assert fam.objective == "nae"
    with pytest.raises(ModelError, match="already registered"):
        register_model("wnae", lambda cfg, seed, **kw: None)


@pytest.mark.slow
def test_wnae_step_reports_chain_diagnostics_and_fills_the_buffer():
    tf.keras.utils.set_random_seed(0)
    fam = build_model("wnae", _cfg("wnae", mcmc={"steps": 2, "buffer_size": 256, "init": "gaussian"}), 0)
    metrics = fam.train_step({"features": _features(64)}, epoch=0)
    assert set(metrics) == {
        "loss",
        "energy_pos",
        "energy_neg",
        "neg_at_bound",
        "neg_mean_shift",
        "neg_std_ratio",
        "solver_ms",
    }  # the exact solver's time (distance: emd, the default)
    assert 0.0 <= metrics["neg_at_bound"] <= 1.0
    assert metrics["solver_ms"] > 0
    assert fam.buffer.samples.shape == (64, 57)
    assert np.all(np.abs(fam.buffer.samples) <= 3.0)
    assert fam.diagnostic_samples() is fam.buffer.samples


def test_negative_diagnostics_measure_how_the_chains_follow_the_data():
    rng = np.random.default_rng(0)
    data = rng.normal(0.0, 2.0, size=(4000, 3))
    same = negative_diagnostics(data, rng.normal(0.0, 2.0, size=(4000, 3)))
    assert same["neg_mean_shift"] < 0.1 and same["neg_std_ratio"] == pytest.approx(1.0, abs=0.05)
    collapsed = negative_diagnostics(data, rng.normal(1.0, 0.2, size=(4000, 3)))  # stuck in one minimum
    assert collapsed["neg_mean_shift"] == pytest.approx(0.5, abs=0.05)  # 1 / 2 data spreads
    assert collapsed["neg_std_ratio"] == pytest.approx(0.1, abs=0.01)


def test_data_chain_starts_sit_near_the_data():
    buf = ReplayBuffer(size=10, dim=2, bound=5.0, replay_ratio=0.9, seed=0, init="data", data_noise=0.1)
    data = np.array([[1.0, 1.0], [-2.0, 0.5]], np.float32)
    starts = buf.sample(1000, data=data)
    nearest = np.min(np.linalg.norm(starts[:, None, :] - data[None], axis=-1), axis=1)
    assert np.quantile(nearest, 0.99) < 0.5
    with pytest.raises(ValueError, match="needs the data batch"):
        buf.sample(5)


def test_gaussian_chain_starts_are_clipped_normal():
    buf = ReplayBuffer(size=10, dim=4, bound=1.0, replay_ratio=0.9, seed=0, init="gaussian")
    starts = buf.sample(20_000)
    assert np.all(np.abs(starts) <= 1.0)
    assert np.mean(np.abs(starts) == 1.0) == pytest.approx(0.317, abs=0.01)  # P(|N(0,1)| > 1)
    with pytest.raises(ValueError, match="unknown chain initialisation"):
        ReplayBuffer(size=10, dim=4, bound=1.0, replay_ratio=0.9, seed=0, init="cauchy")


def test_whitening_spec_holds_the_values():
    spec = whitening_spec(np.array([[-5.3, 0.1], [2.0, 0.0]]), 16)
    assert spec.integer == 3  # |x| < 8
    assert spec.min_value <= -5.3 and spec.max_value >= 2.0
    assert whitening_spec(np.zeros(3), 8).integer == 0


def test_mahalanobis_head_is_flat_and_computes_the_distance(tmp_path):
    tf.keras.utils.set_random_seed(0)
    cfg = _cfg("mlp_encoder")
    fam = MlpEncoderFamily(cfg, 0)
    x = _features(512, seed=4)
    z = fam.deploy_model().predict(x, verbose=0).astype(np.float64)
    mean, cov = z.mean(0), np.cov(z, rowvar=False) + 1e-3 * np.eye(z.shape[1])
    model = fam.mahalanobis_model(mean, cov)
    assert not any(isinstance(layer, tf.keras.Model) for layer in model.layers)  # hls4ml needs a flat graph
    score = model.predict(x, verbose=0)[:, 0]
    d = z - mean
    expected = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
    lsb = cfg.quant.score.lsb
    np.testing.assert_array_equal(score / lsb, np.round(score / lsb))
    inside = expected < 0.8 * 2**cfg.quant.diff.integer  # no saturation of the whitened components
    assert np.corrcoef(score[inside], expected[inside])[0, 1] > 0.99
    save_qkeras_model(model, tmp_path / "m.h5")
    np.testing.assert_array_equal(load_qkeras_model(tmp_path / "m.h5").predict(x, verbose=0)[:, 0], score)
