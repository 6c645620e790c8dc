"""QKeras building blocks shared by every model, including the on-chip score head.

Only layers hls4ml 1.3.0 converts are used: ``QActivation``, ``QDense``, ``Subtract``,
``Multiply`` and a plain ``Dense`` with fixed unit weights for the sum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wnae.data.schema import N_FEATURES
from wnae.models.quantization import QuantSpec

__all__ = ["dense_stack", "input_block", "qdense", "score_head", "square_sum"]


def input_block(spec: QuantSpec, name: str = "inputs"):  # noqa: ANN201 (keras tensors)
    """``(Input, quantized input)``: the firmware input type is ``spec``."""
    from qkeras import QActivation
    from tensorflow import keras

    inputs = keras.Input(shape=(N_FEATURES,), name=name)
    return inputs, QActivation(spec.quantizer(), name="input_quant")(inputs)


def qdense(units: int, weight: QuantSpec, bias: QuantSpec, name: str, activation=None):  # noqa: ANN001, ANN201
    """A ``QDense`` with ``alpha=1`` weight and bias quantizers."""
    from qkeras import QDense

    return QDense(
        units,
        kernel_quantizer=weight.quantizer(),
        bias_quantizer=bias.quantizer(),
        activation=activation,
        name=name,
    )


def dense_stack(x, widths: Sequence[int], weight: QuantSpec, bias: QuantSpec, act: QuantSpec, prefix: str):  # noqa: ANN001, ANN201
    """QDense → QActivation(quantized_relu) for each width."""
    from qkeras import QActivation

    for i, units in enumerate(widths):
        x = qdense(units, weight, bias, f"{prefix}_dense{i}")(x)
        x = QActivation(act.relu(), name=f"{prefix}_relu{i}")(x)
    return x


def square_sum(values, diff: QuantSpec, square: QuantSpec, score: QuantSpec, prefix: str = "score"):  # noqa: ANN001, ANN201
    """Σᵢ vᵢ², every intermediate on a fixed-point grid (the firmware's score arithmetic).

    ``values`` is quantized to ``diff``, squared, quantized to ``square``, summed by a Dense with
    unit weights, and quantized to ``score``. Every step is exact in float32 (at most 24
    significant bits), so QKeras and the HLS C++ give identical numbers.
    """
    from qkeras import QActivation
    from tensorflow import keras

    d = QActivation(diff.quantizer(), name=f"{prefix}_diff_q")(values)
    sq = keras.layers.Multiply(name=f"{prefix}_square")([d, d])
    sq = QActivation(square.quantizer(), name=f"{prefix}_square_q")(sq)
    n = int(sq.shape[-1])
    total = keras.layers.Dense(
        1,
        use_bias=False,
        trainable=False,
        kernel_initializer=keras.initializers.Ones(),
        name=f"{prefix}_sum",
    )(sq)
    return QActivation(score.quantizer(), name=f"{prefix}_out")(total), n


def score_head(x_quant, reconstruction, diff: QuantSpec, square: QuantSpec, score: QuantSpec):  # noqa: ANN001, ANN201
    """E(x) on chip: Σ (x − x̂)² over the 57 features (57 × the mean squared error)."""
    from tensorflow import keras

    delta = keras.layers.Subtract(name="score_delta")([x_quant, reconstruction])
    out, _ = square_sum(delta, diff, square, score)
    return out


def unit_weights(n: int) -> np.ndarray:
    """Kernel of the summing Dense layer."""
    return np.ones((n, 1), np.float32)
