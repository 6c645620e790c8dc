"""The QKeras autoencoder shared by the AE, NAE and WNAE objectives, and its on-chip score.

Network (widths from :class:`~wnae.train.config.ArchitectureConfig`, default ``[32, 16]``, latent 8)::

    x (57) → input quantizer → [QDense → quantized_relu] × encoder → QDense(latent) → quantized_relu
           → [QDense → quantized_relu] × reversed(encoder) → QDense(57, output quantizer) = x̂

Energy (the training objective's view), float32 (n,):

.. math:: E(x) = \\frac{1}{57} \\sum_{i=1}^{57} (x_i - \\hat x_i)^2

The deployable model computes the on-chip score :math:`57\\,E(x) = \\sum_i (x_i - \\hat x_i)^2` on
the fixed-point grid (a sum, not a mean: no inexact 1/57 constant), see
:func:`wnae.models.blocks.score_head`.
"""

from __future__ import annotations

from typing import Any

from wnae.data.schema import N_FEATURES
from wnae.models import blocks

__all__ = ["build_autoencoder"]


def build_autoencoder(cfg: Any, name: str = "autoencoder") -> tuple[Any, Any]:
    """Build ``(autoencoder, deploy)`` from a :class:`~wnae.train.config.TrainConfig`.

    Returns:
        autoencoder: ``keras.Model`` x (n, 57) → ``[x_q, x̂]`` (the quantized input and the
            reconstruction, both (n, 57)), used in training.
        deploy: ``keras.Model`` x (n, 57) → score (n, 1), sharing the autoencoder's layers.
    """
    from qkeras import QActivation
    from tensorflow import keras

    q, arch = cfg.quant, cfg.architecture
    inputs, xq = blocks.input_block(q.input)
    h = blocks.dense_stack(xq, arch.encoder, q.weight, q.bias, q.activation, "enc")
    z = blocks.qdense(arch.latent_dim, q.weight, q.bias, "latent")(h)
    z = QActivation(q.activation.relu(), name="latent_relu")(z)
    h = blocks.dense_stack(z, list(reversed(arch.encoder)), q.weight, q.bias, q.activation, "dec")
    recon = blocks.qdense(N_FEATURES, q.weight, q.bias, "reconstruction", activation=q.output.quantizer())(h)
    autoencoder = keras.Model(inputs, [xq, recon], name=name)
    score = blocks.score_head(xq, recon, q.diff, q.square, q.score)
    deploy = keras.Model(inputs, score, name=f"{cfg.model}_deploy")
    return autoencoder, deploy
