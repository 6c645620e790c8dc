"""The model families: AE / NAE / WNAE (one network, three objectives), VAE, MLP encoder.

Each family owns its Keras networks, one training step, one validation step, and the deployable
model (the part that goes on the FPGA, with its on-chip score head). Families register by name
(:data:`FAMILIES`), so a new model is one class and one entry.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from wnae.data.schema import N_FEATURES
from wnae.models import blocks, losses
from wnae.models.sampler import ReplayBuffer, langevin_chain
from wnae.models.quantization import QuantSpec

__all__ = ["FAMILIES", "AutoencoderFamily", "MlpEncoderFamily", "ModelFamily", "VaeFamily"]

logger = logging.getLogger(__name__)

#: Fixed-point formats of the MLP encoder's on-chip Mahalanobis whitening layer.
WHITEN_WEIGHT = QuantSpec(bits=12, integer=4)
WHITEN_BIAS = QuantSpec(bits=16, integer=8)


class ModelFamily:
    """Interface: networks, a train step on a batch, a validation step, the deployable model."""

    name: ClassVar[str] = ""
    deployed_output: ClassVar[str] = "score"
    #: the batches this family trains on: "features" (normalised) or "particles" (raw, augmented)
    batch_kind: ClassVar[str] = "features"

    def __init__(self, cfg: Any, seed: int) -> None:  # cfg: wnae.train.config.TrainConfig
        import tensorflow as tf

        self.cfg = cfg
        self.seed = seed
        self.optimizer = tf.keras.optimizers.AdamW(learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay)
        self.networks: dict[str, Any] = {}

    def checkpoint_objects(self) -> dict[str, Any]:
        return {**self.networks, "optimizer": self.optimizer}

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        raise NotImplementedError

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        raise NotImplementedError

    def deploy_model(self):  # noqa: ANN201
        raise NotImplementedError

    def extra_state(self) -> dict[str, np.ndarray]:
        return {}

    def load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        return None


def _apply(optimizer, tape, loss, variables) -> None:  # noqa: ANN001
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables, strict=True))


class AutoencoderFamily(ModelFamily):
    """QKeras autoencoder; energy E(x) = mean (x − x̂)²; objective ``ae``, ``nae`` or ``wnae``.

    * ``ae``: minimise ⟨E(x₊)⟩.
    * ``nae``: ⟨E₊⟩ − ⟨E₋⟩ + γ⟨E₋²⟩ with Langevin negatives (arXiv:2105.05735).
    * ``wnae``: Wasserstein distance between data and Langevin negatives, gradients through the
      chain (arXiv:2510.02168).
    """

    name = "wnae"

    def __init__(self, cfg: Any, seed: int, objective: str = "wnae") -> None:
        from qkeras import QActivation
        from tensorflow import keras

        super().__init__(cfg, seed)
        self.objective = objective
        q, arch = cfg.quant, cfg.architecture
        inputs, xq = blocks.input_block(q.input)
        h = blocks.dense_stack(xq, arch.encoder, q.weight, q.bias, q.activation, "enc")
        z = blocks.qdense(arch.latent_dim, q.weight, q.bias, "latent")(h)
        z = QActivation(q.activation.relu(), name="latent_relu")(z)
        h = blocks.dense_stack(z, list(reversed(arch.encoder)), q.weight, q.bias, q.activation, "dec")
        recon = blocks.qdense(N_FEATURES, q.weight, q.bias, "reconstruction", activation=q.output.quantizer())(h)
        self.autoencoder = keras.Model(inputs, [xq, recon], name="autoencoder")
        score = blocks.score_head(xq, recon, q.diff, q.square, q.score)
        self._deploy = keras.Model(inputs, score, name=f"{objective}_deploy")
        self.networks = {"autoencoder": self.autoencoder}
        m = cfg.mcmc
        self.buffer = ReplayBuffer(m.buffer_size, N_FEATURES, m.bound, m.replay_ratio, seed + 1)
        self._steps: dict[str, Any] = {}

    def energy(self, x, training: bool = True):  # noqa: ANN001, ANN201
        xq, recon = self.autoencoder(x, training=training)
        return losses.reconstruction_energy(xq, recon)

    def _step_fn(self, objective: str):  # noqa: ANN202
        import tensorflow as tf

        if objective in self._steps:
            return self._steps[objective]
        m = self.cfg.mcmc
        variables = self.autoencoder.trainable_variables

        @tf.function
        def step(x_pos, x0):  # noqa: ANN001, ANN202
            with tf.GradientTape() as tape:
                e_pos = self.energy(x_pos)
                if objective == "ae":
                    loss = tf.reduce_mean(e_pos)
                    x_neg, e_neg = x0, tf.zeros_like(e_pos)
                else:
                    x_neg = langevin_chain(
                        self.energy, x0, steps=m.steps, step_size=m.resolved_step_size, noise=m.noise,
                        temperature=m.temperature, bound=m.bound,
                    )
                    e_neg = self.energy(x_neg)
                    if objective == "nae":
                        loss = losses.nae_loss(e_pos, e_neg, m.nae_gamma)
                    elif m.distance == "emd":
                        loss = losses.emd_loss(x_pos, x_neg)
                    else:
                        loss = losses.sliced_emd_loss(x_pos, x_neg, m.n_projections)
            _apply(self.optimizer, tape, loss, variables)
            return loss, tf.reduce_mean(e_pos), tf.reduce_mean(e_neg), tf.stop_gradient(x_neg)

        self._steps[objective] = step
        return step

    def current_objective(self, epoch: int) -> str:
        return "ae" if epoch < self.cfg.mcmc.pretrain_epochs else self.objective

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        objective = self.current_objective(epoch)
        x = batch["features"]
        x0 = self.buffer.sample(len(x)) if objective != "ae" else np.zeros_like(x)
        loss, e_pos, e_neg, x_neg = self._step_fn(objective)(x, x0)
        if objective != "ae":
            self.buffer.push(x_neg.numpy())
        out = {"loss": float(loss), "energy_pos": float(e_pos)}
        if objective != "ae":
            out["energy_neg"] = float(e_neg)
        return out

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        return {"energy_pos": float(np.mean(self.energy(batch["features"], training=False)))}

    def deploy_model(self):  # noqa: ANN201
        return self._deploy

    def extra_state(self) -> dict[str, np.ndarray]:
        return {"replay_buffer": self.buffer.samples}

    def load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        if "replay_buffer" in state:
            self.buffer.samples = state["replay_buffer"].astype(np.float32)


class VaeFamily(ModelFamily):
    """AXOL1TL-style VAE: encoder 57 → … → (μ, log σ²), decoder mirrors; deployed score Σμ².

    Loss = (1 − β)·MSE(x, x̂) + β·KL; only the encoder's μ goes on chip.
    """

    name = "vae"

    def __init__(self, cfg: Any, seed: int) -> None:
        import tensorflow as tf
        from tensorflow import keras

        super().__init__(cfg, seed)
        q, arch = cfg.quant, cfg.architecture
        inputs, xq = blocks.input_block(q.input)
        h = blocks.dense_stack(xq, arch.encoder, q.weight, q.bias, q.activation, "enc")
        mu = blocks.qdense(arch.latent_dim, q.weight, q.bias, "mu", activation=q.output.quantizer())(h)
        log_var = blocks.qdense(arch.latent_dim, q.weight, q.bias, "log_var")(h)
        self.encoder = keras.Model(inputs, [xq, mu, log_var], name="encoder")
        z_in = keras.Input(shape=(arch.latent_dim,), name="z")
        h = blocks.dense_stack(z_in, list(reversed(arch.encoder)), q.weight, q.bias, q.activation, "dec")
        recon = blocks.qdense(N_FEATURES, q.weight, q.bias, "reconstruction", activation=q.output.quantizer())(h)
        self.decoder = keras.Model(z_in, recon, name="decoder")
        score, _ = blocks.square_sum(mu, q.diff, q.square, q.score)
        self._deploy = keras.Model(inputs, score, name="vae_deploy")
        self.networks = {"encoder": self.encoder, "decoder": self.decoder}
        beta = cfg.vae.beta
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables

        def losses_of(x, training):  # noqa: ANN001, ANN202
            xq_, mu_, lv = self.encoder(x, training=training)
            z = mu_ + tf.exp(0.5 * lv) * tf.random.normal(tf.shape(mu_))
            reco = tf.reduce_mean(losses.reconstruction_energy(xq_, self.decoder(z, training=training)))
            kl = tf.reduce_mean(losses.kl_divergence(mu_, lv))
            return (1 - beta) * reco + beta * kl, reco, kl

        @tf.function
        def step(x):  # noqa: ANN001, ANN202
            with tf.GradientTape() as tape:
                loss, reco, kl = losses_of(x, True)
            _apply(self.optimizer, tape, loss, variables)
            return loss, reco, kl

        self._step, self._losses = step, losses_of

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        loss, reco, kl = self._step(batch["features"])
        return {"loss": float(loss), "reconstruction": float(reco), "kl": float(kl)}

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        loss, reco, kl = self._losses(batch["features"], False)
        return {"loss": float(loss), "reconstruction": float(reco), "kl": float(kl)}

    def deploy_model(self):  # noqa: ANN201
        return self._deploy


class MlpEncoderFamily(ModelFamily):
    """QKeras MLP 57 → … → z (latent_dim), trained with β·InfoNCE + cross-entropy.

    A projection head (contrastive loss) and a classification head over the SM process labels sit
    on top of z during training only; the firmware part is the encoder (output z). The anomaly
    score −log p(z) uses a Gaussian mixture fitted on SM latents (see :mod:`wnae.train.loop`).
    """

    name = "mlp_encoder"
    deployed_output = "latent"
    batch_kind = "particles"

    def __init__(self, cfg: Any, seed: int, n_classes: int = 4) -> None:
        import tensorflow as tf
        from tensorflow import keras

        super().__init__(cfg, seed)
        q, arch, c = cfg.quant, cfg.architecture, cfg.contrastive
        inputs, xq = blocks.input_block(q.input)
        h = blocks.dense_stack(xq, arch.encoder, q.weight, q.bias, q.activation, "enc")
        z = blocks.qdense(arch.latent_dim, q.weight, q.bias, "latent", activation=q.output.quantizer())(h)
        self.encoder = keras.Model(inputs, z, name="mlp_encoder")
        self.projection = keras.Sequential(
            [keras.layers.Dense(2 * c.projection_dim, activation="relu"), keras.layers.Dense(c.projection_dim)],
            name="projection",
        )
        self.classifier = keras.Sequential([keras.layers.Dense(n_classes)], name="classifier")
        self.projection.build((None, arch.latent_dim))
        self.classifier.build((None, arch.latent_dim))
        self.networks = {"encoder": self.encoder, "projection": self.projection, "classifier": self.classifier}
        variables = (
            self.encoder.trainable_variables + self.projection.trainable_variables
            + self.classifier.trainable_variables
        )
        ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def losses_of(v1, v2, labels, training):  # noqa: ANN001, ANN202
            z1 = self.encoder(v1, training=training)
            z2 = self.encoder(v2, training=training)
            nce = losses.info_nce_loss(self.projection(z1), self.projection(z2), c.temperature)
            logits = self.classifier(tf.concat([z1, z2], axis=0))
            xent = ce(tf.concat([labels, labels], axis=0), logits)
            acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                                                  tf.cast(tf.concat([labels, labels], 0), tf.int32)), tf.float32))
            return c.beta * nce + xent, nce, xent, acc

        @tf.function
        def step(v1, v2, labels):  # noqa: ANN001, ANN202
            with tf.GradientTape() as tape:
                loss, nce, xent, acc = losses_of(v1, v2, labels, True)
            _apply(self.optimizer, tape, loss, variables)
            return loss, nce, xent, acc

        self._step, self._losses = step, losses_of
        self._deploy = self.encoder

    @staticmethod
    def _metrics(values) -> dict[str, float]:  # noqa: ANN001
        loss, nce, xent, acc = (float(v) for v in values)
        return {"loss": loss, "info_nce": nce, "cross_entropy": xent, "accuracy": acc}

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        return self._metrics(self._step(batch["view1"], batch["view2"], batch["labels"]))

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        return self._metrics(self._losses(batch["view1"], batch["view2"], batch["labels"], False))

    def deploy_model(self):  # noqa: ANN201
        return self._deploy

    def mahalanobis_model(self, mean: np.ndarray, covariance: np.ndarray):  # noqa: ANN201
        """On-chip one-Gaussian score ‖L (z − μ)‖² with L Lᵀ = Σ⁻¹, on the fixed-point grid."""
        from tensorflow import keras

        q = self.cfg.quant
        precision = np.linalg.inv(covariance)
        chol = np.linalg.cholesky(precision)  # precision = chol @ chol.T
        w = chol.astype(np.float32)  # y = z @ chol  →  ‖y − μ chol‖² = (z − μ)ᵀ Σ⁻¹ (z − μ)
        b = -(mean @ chol).astype(np.float32)
        inputs = keras.Input(shape=(N_FEATURES,), name="inputs")
        z = self.encoder(inputs)
        layer = blocks.qdense(len(mean), WHITEN_WEIGHT, WHITEN_BIAS, "whiten")
        y = layer(z)
        layer.set_weights([w, b])
        score, _ = blocks.square_sum(y, q.diff, q.square, q.score, prefix="mahalanobis")
        return keras.Model(inputs, score, name="mahalanobis_deploy")


FAMILIES: dict[str, Any] = {
    "ae": lambda cfg, seed, **kw: AutoencoderFamily(cfg, seed, objective="ae"),
    "nae": lambda cfg, seed, **kw: AutoencoderFamily(cfg, seed, objective="nae"),
    "wnae": lambda cfg, seed, **kw: AutoencoderFamily(cfg, seed, objective="wnae"),
    "vae": lambda cfg, seed, **kw: VaeFamily(cfg, seed),
    "mlp_encoder": lambda cfg, seed, **kw: MlpEncoderFamily(cfg, seed, **kw),
}
