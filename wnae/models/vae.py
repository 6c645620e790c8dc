"""AXOL1TL-style variational autoencoder (baseline); only the encoder's μ goes on chip.

Encoder 57 → ``encoder`` widths (default 32 → 16) → (μ, log σ²) of dimension ``latent_dim``; the
decoder mirrors it. Training loss per batch:

.. math:: L = (1 - \\beta)\\, \\langle E(x) \\rangle + \\beta\\, \\langle \\mathrm{KL}\\big(\\mathcal N(\\mu, \\sigma^2)
          \\,\\|\\, \\mathcal N(0, 1)\\big) \\rangle

with :math:`E` the mean squared reconstruction error (:func:`wnae.models.losses.reconstruction_energy`).
The deployed score is :math:`\\sum_k \\mu_k^2` computed from the encoder alone on the fixed-point
grid (:func:`wnae.models.blocks.square_sum`), as in AXOL1TL (Govorkova et al., arXiv:2108.03986);
or, with ``vae.deployed_score: reconstruction``, the VAE deployed as an AE as in AXOL1TL v5/v6:
:math:`\\lVert x - \\mathrm{decoder}(\\mu) \\rVert^2` (the head of a two-stage model).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from wnae.data.schema import N_FEATURES
from wnae.models import blocks, losses
from wnae.models.base import ModelFamily, apply_gradients
from wnae.models.registry import register_model

__all__ = ["VaeFamily"]


class VaeFamily(ModelFamily):
    """The VAE; ``train_step`` returns ``loss``, ``reconstruction`` (⟨E⟩) and ``kl`` (⟨KL⟩ per event)."""

    name: ClassVar[str] = "vae"

    def __init__(self, cfg: Any, seed: int, dim: int = N_FEATURES, input_name: str = "input_quant") -> None:
        import tensorflow as tf
        from tensorflow import keras

        super().__init__(cfg, seed)
        q, arch = cfg.quant, cfg.architecture
        inputs, xq = blocks.input_block(q.input, dim=dim, quant_name=input_name)
        h = blocks.dense_stack(xq, arch.encoder, q, "enc")
        mu = blocks.layer_qdense(arch.latent_dim, q, "mu", activation=q.output.quantizer())(h)
        log_var = blocks.layer_qdense(arch.latent_dim, q, "log_var")(h)
        self.encoder = keras.Model(inputs, [xq, mu, log_var], name="encoder")
        z_in = keras.Input(shape=(arch.latent_dim,), name="z")
        h = blocks.dense_stack(z_in, list(reversed(arch.encoder)), q, "dec")
        recon = blocks.layer_qdense(dim, q, "reconstruction", activation=q.output.quantizer())(h)
        self.decoder = keras.Model(z_in, recon, name="decoder")
        if cfg.vae.deployed_score == "mu_squared":
            score, _ = blocks.square_sum(mu, q.diff, q.square, q.score)
        else:  # deployed as an AE: z = μ, the decoder's layers laid out flat after it (hls4ml needs no nesting)
            h = mu
            for layer in self.decoder.layers[1:]:  # a chain: dec_dense0, dec_relu0, …, reconstruction
                h = layer(h)
            score = blocks.score_head(xq, h, q.diff, q.square, q.score)
        self._deploy = keras.Model(inputs, score, name="vae_deploy")
        self.networks = {"encoder": self.encoder, "decoder": self.decoder}
        # the reparametrisation noise: a checkpointed generator, so that --resume continues it
        noise = tf.random.Generator.from_seed(seed + 2)
        self.generators = {"noise_rng": noise}
        beta = cfg.vae.beta
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables

        def losses_of(x: Any, training: bool) -> Any:
            xq_, mu_, lv = self.encoder(x, training=training)
            z = mu_ + tf.exp(0.5 * lv) * noise.normal(tf.shape(mu_))
            reco = tf.reduce_mean(losses.reconstruction_energy(xq_, self.decoder(z, training=training)))
            kl = tf.reduce_mean(losses.kl_divergence(mu_, lv))
            return (1 - beta) * reco + beta * kl, reco, kl

        @tf.function
        def step(x: Any) -> Any:
            with tf.GradientTape() as tape:
                loss, reco, kl = losses_of(x, True)
            apply_gradients(self.optimizer, tape, loss, variables)
            return loss, reco, kl

        self._step, self._losses = step, losses_of

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        loss, reco, kl = self._step(batch["features"])
        return {"loss": float(loss), "reconstruction": float(reco), "kl": float(kl)}

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        loss, reco, kl = self._losses(batch["features"], False)
        return {"loss": float(loss), "reconstruction": float(reco), "kl": float(kl)}

    def deploy_model(self) -> Any:
        return self._deploy


register_model(
    "vae",
    lambda cfg, seed, dim=N_FEATURES, input_name="input_quant", **_: VaeFamily(
        cfg, seed, dim=dim, input_name=input_name
    ),
)
