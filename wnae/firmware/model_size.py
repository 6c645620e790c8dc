"""What can be known about a model's firmware cost *without synthesis*: its size, layer by layer.

Per layer: multiplications of one inference (a dense layer ``n_in × n_out``), weights, weights
that are non-zero *after* quantization (a weight that quantizes to 0 needs no multiplier), biases,
and the bit widths of weights, biases and activations as the QKeras quantizers declare them. These
are counts, not estimates: they are labelled :data:`MODEL_SIZE_LABEL` and never stand in for the
latency or resource numbers that only synthesis gives.

TensorFlow and QKeras are imported only when a function here is called.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnae.errors import ModelError

__all__ = ["MODEL_SIZE_LABEL", "LayerSize", "ModelSize", "load_model_size", "model_size"]

logger = logging.getLogger(__name__)

MODEL_SIZE_LABEL = "model size (counted from the model, without synthesis; not a latency or resource estimate)"


@dataclass(frozen=True)
class LayerSize:
    """Size of one layer.

    Attributes:
        name, class_name: the Keras layer.
        n_multiplications: multiplications per inference (0 for layers without weights).
        n_weights: kernel entries.
        n_nonzero_weights: kernel entries that are non-zero after the kernel quantizer.
        n_biases: bias entries.
        weight_bits, bias_bits, activation_bits: total bits of the quantizer (``None``: float).
        weight_quantizer, bias_quantizer, activation_quantizer: the quantizer as text
            (``"float"`` when there is none).
    """

    name: str
    class_name: str
    n_multiplications: int
    n_weights: int
    n_nonzero_weights: int
    n_biases: int
    weight_bits: int | None
    bias_bits: int | None
    activation_bits: int | None
    weight_quantizer: str
    bias_quantizer: str
    activation_quantizer: str


@dataclass(frozen=True)
class ModelSize:
    """Sizes of all layers of a model, and totals."""

    model_name: str
    layers: tuple[LayerSize, ...]
    label: str = MODEL_SIZE_LABEL

    @property
    def n_multiplications(self) -> int:
        """Total multiplications per inference."""
        return sum(layer.n_multiplications for layer in self.layers)

    @property
    def n_nonzero_weights(self) -> int:
        """Total non-zero quantized weights."""
        return sum(layer.n_nonzero_weights for layer in self.layers)

    @property
    def n_weights(self) -> int:
        """Total weights."""
        return sum(layer.n_weights for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "label": self.label,
            "model_name": self.model_name,
            "n_multiplications": self.n_multiplications,
            "n_weights": self.n_weights,
            "n_nonzero_weights": self.n_nonzero_weights,
            "layers": [asdict(layer) for layer in self.layers],
        }

    def to_markdown(self) -> str:
        """An aligned markdown table, headed by :attr:`label`."""

        def bits(n: int | None) -> str:
            return "float" if n is None else str(n)

        header = ("layer", "type", "mult.", "weights", "non-zero", "biases", "w bits", "b bits", "act bits")
        rows = [
            (
                layer.name,
                layer.class_name,
                str(layer.n_multiplications),
                str(layer.n_weights),
                str(layer.n_nonzero_weights),
                str(layer.n_biases),
                bits(layer.weight_bits) if layer.n_weights else "",
                bits(layer.bias_bits) if layer.n_biases else "",
                bits(layer.activation_bits) if layer.activation_quantizer != "none" else "",
            )
            for layer in self.layers
        ]
        rows.append(
            ("total", "", str(self.n_multiplications), str(self.n_weights), str(self.n_nonzero_weights), "", "", "", "")
        )
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def fmt(row: tuple[str, ...]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

        lines = [
            f"{self.model_name}: {self.label}",
            "",
            fmt(header),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(fmt(r) for r in rows),
        ]
        return "\n".join(lines) + "\n"


def _quantizer_text(quantizer: Any) -> str:
    if quantizer is None:
        return "float"
    return str(quantizer)


def _quantizer_bits(quantizer: Any) -> int | None:
    bits = getattr(quantizer, "bits", None)
    return None if bits is None else int(bits)


def _quantized(values: np.ndarray, quantizer: Any) -> np.ndarray:
    if quantizer is None:
        return values
    return np.asarray(quantizer(values.astype(np.float32)))


def _output_positions(layer: Any) -> int:
    """Spatial output positions of a convolution (product of all output dims but batch and channels)."""
    shape = layer.output_shape
    if isinstance(shape, list):
        shape = shape[0]
    return int(math.prod(int(d) for d in shape[1:-1]))


def _layer_size(layer: Any) -> LayerSize:
    class_name = type(layer).__name__
    kernel_q = getattr(layer, "kernel_quantizer_internal", None)
    bias_q = getattr(layer, "bias_quantizer_internal", None)
    if class_name == "QActivation":
        act_q = getattr(layer, "quantizer", None)
        act_text = _quantizer_text(act_q)
    else:
        act_q = getattr(layer, "activation", None)
        # QDense(activation=quantized_relu(...)) holds a quantizer object; plain Keras a function
        act_text = "none" if act_q is None else getattr(act_q, "__name__", None) or str(act_q)
        if act_text == "linear":
            act_text = "none"
    act_bits = _quantizer_bits(act_q) if act_text != "none" else None

    n_mult = n_weights = n_nonzero = n_biases = 0
    kernel = getattr(layer, "kernel", None)
    if kernel is not None:
        k = np.asarray(kernel.numpy())
        n_weights = int(k.size)
        n_nonzero = int(np.count_nonzero(_quantized(k, kernel_q)))
        if "Conv" in class_name:
            n_mult = n_weights * _output_positions(layer)
        else:  # Dense-like: one multiplication per weight
            n_mult = n_weights
    elif class_name in ("BatchNormalization", "QBatchNormalization"):
        n_mult = int(np.asarray(layer.moving_variance.numpy()).size)  # one scale per feature
    elif class_name == "Multiply":  # element-wise product of two variables (e.g. a squared difference)
        n_inputs = len(layer.input) if isinstance(layer.input, list) else 1
        n_mult = (n_inputs - 1) * int(np.prod(layer.output_shape[1:]))
    bias = getattr(layer, "bias", None) if getattr(layer, "use_bias", False) else None
    if bias is not None:
        n_biases = int(np.asarray(bias.numpy()).size)
    return LayerSize(
        name=layer.name,
        class_name=class_name,
        n_multiplications=n_mult,
        n_weights=n_weights,
        n_nonzero_weights=n_nonzero,
        n_biases=n_biases,
        weight_bits=_quantizer_bits(kernel_q) if kernel is not None else None,
        bias_bits=_quantizer_bits(bias_q) if n_biases else None,
        activation_bits=act_bits,
        weight_quantizer=_quantizer_text(kernel_q) if kernel is not None else "none",
        bias_quantizer=_quantizer_text(bias_q) if n_biases else "none",
        activation_quantizer=act_text,
    )


def _flat_layers(model: Any) -> list[Any]:
    layers = []
    for layer in model.layers:
        if hasattr(layer, "layers") and not hasattr(layer, "kernel"):  # nested model
            layers.extend(_flat_layers(layer))
        elif type(layer).__name__ != "InputLayer":
            layers.append(layer)
    return layers


def model_size(model: Any) -> ModelSize:
    """Count multiplications, weights and bit widths of every layer of a Keras/QKeras model.

    Args:
        model: a built ``keras.Model`` (QKeras layers or plain Keras layers; nested models are
            flattened).

    Returns:
        A :class:`ModelSize` labelled as known without synthesis.

    Example (``tests/firmware/test_model_size.py`` checks it against hand-computed counts)::

        model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
        model_size(model).n_multiplications   # 12 = 4 inputs x 3 outputs
    """
    layers = tuple(_layer_size(layer) for layer in _flat_layers(model))
    return ModelSize(model_name=str(getattr(model, "name", "model")), layers=layers)


def load_model_size(path: str | Path) -> ModelSize:
    """:func:`model_size` of a Keras/QKeras model saved as ``.h5`` (loaded with ``qkeras.utils.load_qmodel``).

    Raises:
        ModelError: the file is missing or is not a loadable Keras model (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: model file not found"
        raise ModelError(msg)
    from qkeras.utils import load_qmodel

    try:
        model = load_qmodel(str(path), compile=False)
    except (OSError, ValueError, TypeError, KeyError) as err:
        msg = f"{path}: cannot load as a Keras/QKeras model ({type(err).__name__}: {err})"
        raise ModelError(msg) from err
    return model_size(model)
