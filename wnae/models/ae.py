"""The QKeras autoencoder shared by the AE, NAE and WNAE objectives, and its on-chip score.

Network (widths from :class:`~wnae.models.config.ArchitectureConfig`, default ``[32, 16]``, latent 8)::

    x (57) → input quantizer → [QDense → quantized_relu] × encoder → QDense(latent) → quantized_relu (or linear)
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


def build_autoencoder(
    cfg: Any, name: str = "autoencoder", dim: int = N_FEATURES, quant_name: str = "input_quant"
) -> tuple[Any, Any]:
    """Build ``(autoencoder, deploy)`` from a :class:`~wnae.models.config.TrainConfig`.

    Args:
        cfg: the config (``architecture`` widths, ``quant`` formats, per layer where overridden).
        name: the training model's name.
        dim: input dimension: 57 features, or the embedding of a two-stage model.
        quant_name: name of the input quantizer layer.

    Returns:
        autoencoder: ``keras.Model`` x (n, dim) → ``[x_q, x̂]`` (the quantized input and the
            reconstruction, both (n, dim)), used in training.
        deploy: ``keras.Model`` x (n, dim) → score (n, 1), sharing the autoencoder's layers.
    """
    from qkeras import QActivation
    from tensorflow import keras

    q, arch = cfg.quant, cfg.architecture
    inputs, xq = blocks.input_block(q.input, dim=dim, quant_name=quant_name)
    h = blocks.dense_stack(xq, arch.encoder, q, "enc")
    if arch.latent_activation == "linear":  # as the VAE's μ: signed, on the output grid
        z = blocks.layer_qdense(arch.latent_dim, q, "latent", activation=q.output.quantizer())(h)
    else:
        z = blocks.layer_qdense(arch.latent_dim, q, "latent")(h)
        z = QActivation(q.for_layer("latent")[2].relu(), name="latent_relu")(z)
    h = blocks.dense_stack(z, list(reversed(arch.encoder)), q, "dec")
    recon = blocks.layer_qdense(dim, q, "reconstruction", activation=q.output.quantizer())(h)
    autoencoder = keras.Model(inputs, [xq, recon], name=name)
    score = blocks.score_head(xq, recon, q.diff, q.square, q.score)
    deploy = keras.Model(inputs, score, name=f"{cfg.model}_deploy")
    return autoencoder, deploy
