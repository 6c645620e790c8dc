"""MLP encoder trained by contrastive + supervised learning; anomaly score from a GMM on z.

The hardware version of the HLT representation-learning design: a QKeras MLP
57 → ``encoder`` widths → z (``latent_dim``, default 6). During training only, a projection head
(z → 2·p → p, float) feeds the contrastive loss and a classification head (z → 4 logits) predicts
the SM process (DY, QCD, tt̄, W+jets):

.. math:: L = \\beta\\, L_\\mathrm{InfoNCE}(g(z^{(1)}), g(z^{(2)})) + L_\\mathrm{CE}(\\text{labels}, h(z))

where :math:`z^{(1)}, z^{(2)}` are the encodings of two augmented views of each event
(:func:`wnae.models.augment.augment`). After training, a Gaussian mixture (scikit-learn) is fitted
on SM latents; the anomaly score is :math:`A(z) = -\\log p(z)`. The firmware part is the encoder
(output z); :meth:`MlpEncoderFamily.mahalanobis_model` adds a one-Gaussian score that runs on chip.

References:
    A. van den Oord, Y. Li, O. Vinyals, "Representation learning with contrastive predictive
    coding", arXiv:1807.03748 (InfoNCE). P. Khosla et al., "Supervised contrastive learning",
    arXiv:2004.11362.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from wnae.data.schema import N_FEATURES
from wnae.errors import ModelError
from wnae.models import blocks, losses
from wnae.models.base import ModelFamily, apply_gradients
from wnae.models.quantization import QuantSpec
from wnae.models.registry import register_model

__all__ = ["MlpEncoderFamily", "whitening_spec"]

#: Total bits of the on-chip Mahalanobis whitening weights and biases (integer bits fitted to the values).
WHITEN_WEIGHT_BITS = 16
WHITEN_BIAS_BITS = 18


def whitening_spec(values: np.ndarray, bits: int) -> QuantSpec:
    """The signed format of ``bits`` with the fewest integer bits that hold ``values`` without saturating."""
    peak = float(np.max(np.abs(values))) if np.size(values) else 0.0
    integer = max(0, int(np.ceil(np.log2(peak + 2.0 ** -(bits - 2)))) if peak > 0 else 0)
    if integer + 1 > bits:
        msg = f"whitening values up to {peak:g} do not fit in {bits} bits"
        raise ModelError(msg)
    return QuantSpec(bits=bits, integer=integer)


class MlpEncoderFamily(ModelFamily):
    """The MLP encoder; ``train_step`` returns ``loss``, ``info_nce``, ``cross_entropy``, ``accuracy``.

    Batches are ``{"view1", "view2"}`` (float32 (n, 57) normalised augmented views) and
    ``"labels"`` (int32 (n,) process labels 0..n_classes−1). ``prefix``, ``out_name`` and ``name``
    name the encoder's layers (``<prefix>_dense<i>``, ``out_name``) and model, so that it can be
    the feature extractor of a two-stage model next to an autoencoder's ``enc_*`` layers.
    """

    name: ClassVar[str] = "mlp_encoder"
    deployed_output: ClassVar[str] = "latent"
    batch_kind: ClassVar[str] = "views"

    def __init__(
        self,
        cfg: Any,
        seed: int,
        n_classes: int = 4,
        *,
        prefix: str = "enc",
        out_name: str = "latent",
        name: str = "mlp_encoder",
    ) -> None:
        import tensorflow as tf
        from tensorflow import keras

        super().__init__(cfg, seed)
        q, arch, c = cfg.quant, cfg.architecture, cfg.contrastive
        self.encoder = blocks.mlp(q, arch.encoder, arch.latent_dim, out_name, q.output, prefix=prefix, name=name)
        self.projection = keras.Sequential(
            [keras.layers.Dense(2 * c.projection_dim, activation="relu"), keras.layers.Dense(c.projection_dim)],
            name="projection",
        )
        self.classifier = keras.Sequential([keras.layers.Dense(n_classes)], name="classifier")
        self.projection.build((None, arch.latent_dim))
        self.classifier.build((None, arch.latent_dim))
        self.networks = {"encoder": self.encoder, "projection": self.projection, "classifier": self.classifier}
        variables = (
            self.encoder.trainable_variables + self.projection.trainable_variables + self.classifier.trainable_variables
        )

        def losses_of(v1: Any, v2: Any, labels: Any, training: bool) -> Any:
            return losses.contrastive_classification_loss(
                self.encoder(v1, training=training),
                self.encoder(v2, training=training),
                labels,
                self.projection,
                self.classifier,
                beta=c.beta,
                temperature=c.temperature,
            )

        @tf.function
        def step(v1: Any, v2: Any, labels: Any) -> Any:
            with tf.GradientTape() as tape:
                loss, nce, xent, acc = losses_of(v1, v2, labels, True)
            apply_gradients(self.optimizer, tape, loss, variables)
            return loss, nce, xent, acc

        self._step, self._losses = step, losses_of

    @staticmethod
    def _metrics(values: Any) -> dict[str, float]:
        loss, nce, xent, acc = (float(v) for v in values)
        return {"loss": loss, "info_nce": nce, "cross_entropy": xent, "accuracy": acc}

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        return self._metrics(self._step(batch["view1"], batch["view2"], batch["labels"]))

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        return self._metrics(self._losses(batch["view1"], batch["view2"], batch["labels"], False))

    def deploy_model(self) -> Any:
        return self.encoder

    def mahalanobis_model(self, mean: np.ndarray, covariance: np.ndarray) -> Any:
        """On-chip one-Gaussian score: a flat QKeras model x (n, 57) → score (n, 1).

        .. math:: s(x) = \\lVert L^\\top (z - \\mu) \\rVert^2 = (z - \\mu)^\\top \\Sigma^{-1} (z - \\mu),
                  \\quad L L^\\top = \\Sigma^{-1}

        computed as a whitening ``QDense`` (kernel L, bias −μL, formats fitted to the values so
        nothing saturates) followed by the fixed-point square-and-sum head. The encoder layers are
        shared with :meth:`deploy_model` and laid out flat (no nested model), so hls4ml converts it.

        Args:
            mean: float (latent_dim,) mean of the SM latents.
            covariance: float (latent_dim, latent_dim) their covariance (positive definite).
        """
        from tensorflow import keras

        q = self.cfg.quant
        try:
            chol = np.linalg.cholesky(np.linalg.inv(covariance))  # Σ⁻¹ = L Lᵀ
        except np.linalg.LinAlgError as err:
            msg = "the covariance of the SM latents is singular: cannot build the Mahalanobis head"
            raise ModelError(msg) from err
        w = chol.astype(np.float32)  # y = z L  →  ‖y − μ L‖² = (z − μ)ᵀ Σ⁻¹ (z − μ)
        b = -(mean @ chol).astype(np.float32)
        inputs = keras.Input(shape=(N_FEATURES,), name="inputs")
        x = inputs
        for layer in self.encoder.layers[1:]:  # a linear chain: input_quant, enc_dense0, enc_relu0, …, latent
            x = layer(x)
        layer = blocks.qdense(
            len(mean), whitening_spec(w, WHITEN_WEIGHT_BITS), whitening_spec(b, WHITEN_BIAS_BITS), "whiten"
        )
        y = layer(x)
        layer.set_weights([w, b])
        score, _ = blocks.square_sum(y, q.diff, q.square, q.score, prefix="mahalanobis")
        return keras.Model(inputs, score, name="mahalanobis_deploy")


register_model("mlp_encoder", lambda cfg, seed, n_classes=4, **_: MlpEncoderFamily(cfg, seed, n_classes=n_classes))
