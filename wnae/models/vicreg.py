"""VICReg feature extractor: a small QKeras MLP trained on two physically augmented views of each event.

Network: 57 inputs → input quantizer → ``architecture.encoder`` widths (ReLU) → QDense(``latent_dim``)
on the ``quant.output`` grid = the embedding (AXOL1TL v5/v6: 57 → 29 → 10). Loss
(:func:`wnae.models.losses.vicreg_loss`, weights in :class:`~wnae.models.config.VicregConfig`):

.. math:: L = \\lambda\\, s(e_1, e_2) + \\mu\\, [v(e_1) + v(e_2)] + \\nu\\, [c(e_1) + c(e_2)]

on the embeddings :math:`e_{1,2}` of the two views (:func:`wnae.models.augment.augment`). It is
applied to the embedding itself, without an expander: the variance hinge keeps each coordinate's
spread ≥ 1 and the covariance term decorrelates them, which gives the density head of a two-stage
model standardised coordinates to work in.

Reference: A. Bardes, J. Ponce, Y. LeCun, arXiv:2105.04906.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from wnae.models import blocks, losses
from wnae.models.base import ModelFamily, apply_gradients

__all__ = ["VicregFamily"]


class VicregFamily(ModelFamily):
    """The VICReg extractor; ``train_step`` returns ``loss``, ``invariance``, ``variance``, ``covariance``.

    Args:
        cfg: the config (``architecture``: the extractor's widths and embedding dimension,
            ``quant.output``: the embedding's format, ``vicreg``: the loss weights).
        seed: unused (no random streams of its own; the views come from the training loop).
        prefix, out_name, name: layer and model names (``ext_dense<i>``, ``embedding``, ``extractor``).
    """

    name: ClassVar[str] = "vicreg"
    deployed_output: ClassVar[str] = "latent"
    batch_kind: ClassVar[str] = "views"

    def __init__(
        self, cfg: Any, seed: int, *, prefix: str = "ext", out_name: str = "embedding", name: str = "extractor"
    ) -> None:
        import tensorflow as tf

        super().__init__(cfg, seed)
        q, arch, v = cfg.quant, cfg.architecture, cfg.vicreg
        self.encoder = blocks.mlp(q, arch.encoder, arch.latent_dim, out_name, q.output, prefix=prefix, name=name)
        self.networks = {"encoder": self.encoder}
        variables = self.encoder.trainable_variables

        def losses_of(v1: Any, v2: Any, training: bool) -> Any:
            return losses.vicreg_loss(
                self.encoder(v1, training=training),
                self.encoder(v2, training=training),
                invariance=v.invariance,
                variance=v.variance,
                covariance=v.covariance,
                target_std=v.target_std,
            )

        @tf.function
        def step(v1: Any, v2: Any) -> Any:
            with tf.GradientTape() as tape:
                values = losses_of(v1, v2, True)
            apply_gradients(self.optimizer, tape, values[0], variables)
            return values

        self._step, self._losses = step, losses_of

    @staticmethod
    def _metrics(values: Any) -> dict[str, float]:
        return dict(zip(("loss", "invariance", "variance", "covariance"), (float(x) for x in values), strict=True))

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        return self._metrics(self._step(batch["view1"], batch["view2"]))

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        return self._metrics(self._losses(batch["view1"], batch["view2"], False))

    def deploy_model(self) -> Any:
        return self.encoder
