"""QKeras building blocks shared by every model, including the on-chip score head.

Only layers hls4ml 1.3.0 converts are used: ``QActivation``, ``QDense``, ``Subtract``,
``Multiply`` and a plain ``Dense`` with fixed unit weights for the sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from wnae.data.schema import N_FEATURES
from wnae.models.quantization import QuantSpec

if TYPE_CHECKING:
    from wnae.models.config import QuantConfig

__all__ = ["chain_models", "dense_stack", "input_block", "layer_qdense", "mlp", "qdense", "score_head", "square_sum"]


def input_block(
    spec: QuantSpec, name: str = "inputs", dim: int = N_FEATURES, quant_name: str = "input_quant"
) -> tuple[Any, Any]:
    """``(Input, quantized input)`` of ``dim`` values: the firmware input type is ``spec``."""
    from qkeras import QActivation
    from tensorflow import keras

    inputs = keras.Input(shape=(dim,), name=name)
    return inputs, QActivation(spec.quantizer(), name=quant_name)(inputs)


def qdense(units: int, weight: QuantSpec, bias: QuantSpec, name: str, activation: Any = None) -> Any:
    """A ``QDense`` with ``alpha=1`` weight and bias quantizers."""
    from qkeras import QDense

    return QDense(
        units,
        kernel_quantizer=weight.quantizer(),
        bias_quantizer=bias.quantizer(),
        activation=activation,
        name=name,
    )


def layer_qdense(units: int, quant: QuantConfig, name: str, activation: Any = None) -> Any:
    """A ``QDense`` named ``name`` with the weight and bias formats ``quant`` (a QuantConfig) gives that layer."""
    weight, bias, _ = quant.for_layer(name)
    return qdense(units, weight, bias, name, activation=activation)


def dense_stack(x: Any, widths: Sequence[int], quant: QuantConfig, prefix: str) -> Any:
    """QDense → QActivation(quantized_relu) for each width; formats per layer from ``quant`` (a QuantConfig).

    Layers are named ``<prefix>_dense<i>`` and ``<prefix>_relu<i>``; the activation format of
    ``<prefix>_dense<i>`` (its override or the default) is the ReLU's.
    """
    from qkeras import QActivation

    for i, units in enumerate(widths):
        name = f"{prefix}_dense{i}"
        _, _, act = quant.for_layer(name)
        x = layer_qdense(units, quant, name)(x)
        x = QActivation(act.relu(), name=f"{prefix}_relu{i}")(x)
    return x


def mlp(
    quant: Any,
    widths: Sequence[int],
    out_dim: int,
    out_name: str,
    out_spec: QuantSpec,
    prefix: str = "enc",
    name: str = "mlp",
    dim: int = N_FEATURES,
) -> Any:
    """Input (``dim``) → input quantizer → ``widths`` (ReLU) → QDense(``out_dim``) on ``out_spec``: a Keras model.

    The MLP encoder and the VICReg feature extractor.
    """
    from tensorflow import keras

    inputs, xq = input_block(quant.input, dim=dim)
    h = dense_stack(xq, widths, quant, prefix)
    z = layer_qdense(out_dim, quant, out_name, activation=out_spec.quantizer())(h)
    return keras.Model(inputs, z, name=name)


def square_sum(
    values: Any, diff: QuantSpec, square: QuantSpec, score: QuantSpec, prefix: str = "score"
) -> tuple[Any, int]:
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


def score_head(x_quant: Any, reconstruction: Any, diff: QuantSpec, square: QuantSpec, score: QuantSpec) -> Any:
    """E(x) on chip: Σ (x − x̂)² over the d inputs (d × the mean squared error)."""
    from tensorflow import keras

    delta = keras.layers.Subtract(name="score_delta")([x_quant, reconstruction])
    out, _ = square_sum(delta, diff, square, score)
    return out


def unit_weights(n: int) -> np.ndarray:
    """Kernel of the summing Dense layer."""
    return np.ones((n, 1), np.float32)


def chain_models(first: Any, second: Any, name: str) -> Any:  # Keras models
    """One flat Keras model ``second(first(x))``: ``second``'s layers applied, shared, to ``first``'s output.

    hls4ml and :mod:`wnae.fixed_point.graph` need a flat graph, not a nested model. ``second`` is a
    functional model with one input; its layers are called in its (topological) order, each on the
    tensors it reads *in* ``second`` (a layer shared with another model has other calls too).
    """
    from tensorflow import keras

    tensors = {second.layers[0].name: first.outputs[0]}
    reads = _inbound_in(second)
    for layer in second.layers[1:]:
        args = [tensors[n] for n in reads[layer.name]]
        tensors[layer.name] = layer(args[0] if len(args) == 1 else args)
    return keras.Model(first.inputs, tensors[second.layers[-1].name], name=name)


def _inbound_in(model: Any) -> dict[str, list[str]]:
    """Layer name → names of the layers it reads in ``model`` (from the model's own config: its nodes only)."""
    out = {}
    for layer in model.get_config()["layers"]:
        nodes = layer["inbound_nodes"]
        if len(nodes) > 1:
            msg = f"layer '{layer['name']}' is called {len(nodes)} times in model '{model.name}'"
            raise ValueError(msg)
        out[layer["name"]] = [entry[0] for entry in nodes[0]] if nodes else []
    return out
