"""Two-stage models: config, one flat deployable network, VICReg, per-layer formats, magnitude pruning."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from wnae.config import parse_config
from wnae.errors import ConfigError
from wnae.models import losses
from wnae.models.config import PruningConfig, TrainConfig
from wnae.models.pruning import MagnitudePruner, PrunedLayer, kernel_sparsity, target_sparsity
from wnae.models.registry import build_model
from wnae.models.serialization import load_qkeras_model, save_qkeras_model
from wnae.models.two_stage import TwoStageFamily


def _cfg(head: str = "wnae", method: str = "vicreg", **extra) -> TrainConfig:
    return parse_config(
        TrainConfig,
        {
            "model": "two_stage",
            "epochs": 4,
            "extractor": {"method": method, "widths": [12], "embedding_dim": 5, "epochs": 2},
            "head": {"model": head, "encoder": [3], "latent_dim": 2},
            "mcmc": {"steps": 2, "buffer_size": 256, "bound": 6.0},
            **extra,
        },
    )


def _features(n: int = 128, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.5, size=(n, 57)).astype(np.float32)


def test_config_checks_the_stages():
    with pytest.raises(ConfigError, match=r"epochs \(2\) must be larger"):
        parse_config(TrainConfig, {"model": "two_stage", "epochs": 2, "extractor": {"epochs": 2}})
    with pytest.raises(ConfigError, match="head.model"):
        parse_config(TrainConfig, {"model": "two_stage", "head": {"model": "mlp_encoder"}})
    with pytest.raises(ConfigError, match="pruning.*end"):
        parse_config(TrainConfig, {"pruning": {"sparsity": 0.5, "begin": 8, "end": 2}})
    assert _cfg().label == "vicreg_wnae" and _cfg("vae", "contrastive").label == "contrastive_vae"
    assert parse_config(TrainConfig, {"model": "ae"}).label == "ae"


@pytest.mark.parametrize(("head", "method"), [("wnae", "vicreg"), ("vae", "vicreg"), ("ae", "contrastive")])
def test_deployed_model_is_one_flat_network_scoring_the_embedding(head, method, tmp_path):
    tf.keras.utils.set_random_seed(0)
    cfg = _cfg(head, method)
    fam = build_model("two_stage", cfg, 0)
    assert isinstance(fam, TwoStageFamily)
    deploy = fam.deploy_model()
    names = [layer.name for layer in deploy.layers]
    assert len(names) == len(set(names))
    assert not any(isinstance(layer, tf.keras.Model) for layer in deploy.layers)  # flat: hls4ml converts it
    assert names[:2] == ["inputs", "input_quant"] and "embedding_quant" in names and names[-1] == "score_out"
    x = _features(64)
    score = deploy.predict(x, verbose=0)[:, 0]
    # the same number from the stages apart: e_q = quantized embedding, ê its reconstruction (z = μ for a VAE)
    e = fam.embed(x)
    if head == "vae":
        e_q, mu, _ = fam.head.encoder(e)
        recon = fam.head.decoder(mu)
    else:
        e_q, recon = fam.head.autoencoder(e)
    expected = np.sum(np.square(np.asarray(e_q) - np.asarray(recon)), axis=1)
    q = cfg.quant
    np.testing.assert_allclose(score, expected, atol=5 * (q.square.lsb + 16 * q.diff.lsb) + q.score.lsb)
    save_qkeras_model(deploy, tmp_path / "deploy.h5")
    np.testing.assert_array_equal(load_qkeras_model(tmp_path / "deploy.h5").predict(x, verbose=0)[:, 0], score)


def test_stages_train_in_turn_and_the_extractor_stays_frozen():
    tf.keras.utils.set_random_seed(0)
    fam = build_model("two_stage", _cfg(), 0)
    assert [fam.batch_kind_at(e) for e in range(4)] == ["views", "views", "features", "features"]
    assert [fam.phase(e) for e in range(4)] == ["vicreg", "vicreg", "wnae", "wnae"]
    x = _features(256)
    rng = np.random.default_rng(1)
    metrics = fam.train_step({"view1": x, "view2": x + 0.05 * rng.normal(size=x.shape).astype(np.float32)}, 0)
    assert set(metrics) == {"loss", "invariance", "variance", "covariance"}
    frozen = [w.copy() for w in fam.extractor.encoder.get_weights()]
    metrics = fam.train_step({"features": x}, 2)
    assert {"energy_pos", "energy_neg", "neg_mean_shift", "neg_std_ratio"} <= set(metrics)
    for before, after in zip(frozen, fam.extractor.encoder.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert fam.diagnostic_samples().shape[1] == 5  # the chains live in the 5-d embedding
    keys = set(fam.checkpoint_objects())
    assert {"extractor_encoder", "extractor_optimizer", "head_autoencoder", "head_optimizer", "head_noise_rng"} <= keys


def test_vicreg_against_numpy_and_its_collapse_penalty():
    rng = np.random.default_rng(0)
    z1 = rng.normal(size=(200, 4)).astype(np.float32)
    z2 = (z1 + 0.1 * rng.normal(size=z1.shape)).astype(np.float32)
    loss, inv, var, cov = (float(v) for v in losses.vicreg_loss(z1, z2))
    assert inv == pytest.approx(np.mean((z1 - z2) ** 2), rel=1e-5)
    expected_var = sum(np.mean(np.maximum(0.0, 1 - np.sqrt(z.var(axis=0, ddof=1) + 1e-4))) for z in (z1, z2))
    assert var == pytest.approx(expected_var, abs=1e-6)
    c = np.cov(z1, rowvar=False)
    expected_cov = (np.sum(c**2) - np.sum(np.diag(c) ** 2)) / 4 + (
        lambda c2: (np.sum(c2**2) - np.sum(np.diag(c2) ** 2)) / 4
    )(np.cov(z2, rowvar=False))
    assert cov == pytest.approx(expected_cov, rel=1e-4)
    assert loss == pytest.approx(25 * inv + 25 * var + cov, rel=1e-5)
    collapsed = np.zeros_like(z1)
    _, inv0, var0, _ = (float(v) for v in losses.vicreg_loss(collapsed, collapsed))
    assert inv0 == 0 and var0 == pytest.approx(2 * (1 - 0.01), abs=1e-4)  # a constant embedding pays in full


def test_per_layer_formats_override_the_defaults():
    cfg = _cfg(
        quant={"weight": {"bits": 6, "integer": 2}, "layers": {"ext_dense0": {"weight": {"bits": 3, "integer": 0}}}}
    )
    fam = build_model("two_stage", cfg, 0)
    layers = {layer.name: layer for layer in fam.deploy_model().layers}
    assert layers["ext_dense0"].kernel_quantizer_internal.bits == 3
    assert layers["embedding"].kernel_quantizer_internal.bits == 6
    with pytest.raises(ConfigError, match="unsigned"):
        _cfg(quant={"layers": {"enc_dense0": {"activation": {"bits": 8, "integer": 3}}}})


def test_pruning_schedule():
    """In epochs of the layer's own training: 0 before ``begin``, the cubic ramp, then the target."""
    assert target_sparsity(0.5, 1.0, 2.0, 10.0) == 0
    assert target_sparsity(0.5, 6.0, 2.0, 10.0) == pytest.approx(0.5 * (1 - 0.5**3))
    assert target_sparsity(0.5, 30.0, 2.0, 10.0) == 0.5
    assert target_sparsity(0.0, 30.0, 2.0, 10.0) == 0


def test_pruner_zeroes_the_smallest_weights_of_training_layers_only():
    tf.keras.utils.set_random_seed(0)
    fam = build_model("two_stage", _cfg(), 0)
    layers = fam.prunable_layers()
    by_name = {p.layer.name: p for p in layers}
    assert (by_name["ext_dense0"].first_epoch, by_name["ext_dense0"].last_epoch) == (0, 2)
    assert (by_name["latent"].first_epoch, by_name["latent"].last_epoch) == (2, 4)
    pruner = MagnitudePruner(PruningConfig(sparsity=0.6, begin=0.0, end=1.0), layers, steps_per_epoch=2)
    kernel = by_name["ext_dense0"].layer.kernel.numpy()
    pruner.step(epoch=0, step=1)  # the end of its first epoch = the end of the ramp
    pruned = by_name["ext_dense0"].layer.kernel.numpy()
    n_zero = int(np.floor(0.6 * kernel.size))
    assert np.sum(pruned == 0) == n_zero
    kept = np.abs(kernel[pruned != 0])
    assert kept.min() >= np.abs(kernel[pruned == 0]).max()  # the smallest magnitudes went
    np.testing.assert_array_equal(pruned[pruned != 0], kernel[pruned != 0])
    assert kernel_sparsity(by_name["latent"].layer) < 0.5  # the head does not train yet: untouched
    assert pruner.sparsity_report()["ext_dense0"] >= n_zero / kernel.size  # quantization may zero more
    with pytest.raises(ConfigError, match="no prunable QDense layer named nope"):
        MagnitudePruner(PruningConfig(sparsity=0.5, layers=["nope"]), layers, 2)
    assert not MagnitudePruner(PruningConfig(), layers, 2).active
    assert isinstance(layers[0], PrunedLayer)


def test_linear_latent_is_signed_on_the_output_grid():
    cfg = parse_config(TrainConfig, {**_cfg().model_dump(), "head": {"latent_dim": 3, "latent_activation": "linear"}})
    fam = build_model("two_stage", cfg, 0)
    names = [layer.name for layer in fam.deploy_model().layers]
    assert "latent" in names and "latent_relu" not in names
    encoder_out = tf.keras.Model(fam.head.autoencoder.inputs, fam.head.autoencoder.get_layer("latent").output)
    z = encoder_out.predict(fam.embed(_features(256)), verbose=0)
    lsb = cfg.quant.output.lsb
    np.testing.assert_array_equal(z / lsb, np.round(z / lsb))  # on the signed output grid
    assert z.min() < 0  # no ReLU
