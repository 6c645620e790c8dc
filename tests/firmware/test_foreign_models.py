"""Models not made by ``wnae train``: ``convert`` either reproduces them exactly or refuses them.

Each model is converted and compiled with hls4ml's g++ build, and its C simulation is compared with
the exact fixed-point reference on inputs that are off the input grid, on it, exact ties of it and
out of its range. Patterns hls4ml 1.3.0 gets wrong by itself are either fixed by the conversion
(a ``quantized_relu`` followed by a ``quantized_bits`` quantizer; unsigned kernels) or refused at
``convert`` with the layer named (a kernel quantizer without ``alpha``, leaky or symmetric
quantizers, a float BatchNormalization, no input quantizer): never a project that silently
disagrees.
"""

from __future__ import annotations

import numpy as np
import pytest
from qkeras import QActivation, QDense
from tensorflow import keras

from wnae.errors import FirmwareError
from wnae.firmware.config import resolve_target
from wnae.firmware.convert import convert_model
from wnae.fixed_point.graph import quantizer_format
from wnae.fixed_point.reference import exact_reference

N_IN = 8


def _inputs(model: keras.Model, n: int = 5000, seed: int = 0) -> np.ndarray:
    """Off-grid, on-grid, exact ties and out-of-range values of the model's input quantizer."""
    fmt = quantizer_format(model.get_layer("input_quant").quantizer, "input")
    rng = np.random.default_rng(seed)
    grid = rng.integers(round(fmt.min_value / fmt.lsb), round(fmt.max_value / fmt.lsb) + 1, (n, N_IN)) * fmt.lsb
    span = fmt.max_value - fmt.min_value
    return np.concatenate(
        [
            rng.uniform(fmt.min_value, fmt.max_value, (n, N_IN)),  # off-grid
            grid,  # on-grid
            grid + fmt.lsb / 2,  # exact ties
            rng.uniform(-2 * span, 2 * span, (n, N_IN)),  # out of range: saturation
        ]
    ).astype(np.float32)


def _set_random_weights(model: keras.Model, seed: int = 1, scale: float = 1.0) -> keras.Model:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, QDense):
            layer.set_weights([rng.uniform(-scale, scale, w.shape) for w in layer.get_weights()])
    return model


def relu_then_linear_quantizer() -> keras.Model:
    x = keras.Input((N_IN,))
    y = QActivation("quantized_bits(12,4,alpha=1)", name="input_quant")(x)
    y = QDense(
        6, kernel_quantizer="quantized_bits(8,0,alpha=1)", bias_quantizer="quantized_bits(8,0,alpha=1)", name="dense"
    )(y)
    y = QActivation("quantized_relu(8,3)", name="relu")(y)
    y = QActivation("quantized_bits(6,2,alpha=1)", name="linear_q")(y)  # rounds the relu's output again
    return _set_random_weights(keras.Model(x, y))


def unsigned_kernels() -> keras.Model:
    x = keras.Input((N_IN,))
    y = QActivation("quantized_bits(12,4,alpha=1)", name="input_quant")(x)
    y = QDense(
        6,
        kernel_quantizer="quantized_bits(8,0,keep_negative=False,alpha=1)",
        bias_quantizer="quantized_bits(8,0,alpha=1)",
        activation="quantized_bits(16,6,alpha=1)",
        name="dense",
    )(y)
    model = keras.Model(x, y)
    rng = np.random.default_rng(2)
    w = model.get_layer("dense").get_weights()
    model.get_layer("dense").set_weights([rng.uniform(0, 1, w[0].shape), rng.uniform(-1, 1, w[1].shape)])
    return model


def odd_widths_chain() -> keras.Model:
    """Exact with hls4ml alone too: odd widths, unsigned input, 2-bit weights, no bias, quantizer chains."""
    x = keras.Input((N_IN,))
    y = QActivation("quantized_bits(11,3,keep_negative=False,alpha=1)", name="input_quant")(x)
    y = QDense(5, kernel_quantizer="quantized_bits(2,0,alpha=1)", use_bias=False, name="dense2bit")(y)
    y = QActivation("quantized_bits(9,3,alpha=1)", name="chain_bits")(y)
    y = QActivation("quantized_relu(7,2)", name="chain_relu")(y)
    y = QDense(
        3,
        kernel_quantizer="quantized_bits(7,1,alpha=1)",
        bias_quantizer="quantized_bits(5,2,alpha=1)",
        activation="quantized_bits(13,5,alpha=1)",
        name="dense_odd",
    )(y)
    return _set_random_weights(keras.Model(x, y), seed=3, scale=2.0)


def heavy_saturation() -> keras.Model:
    x = keras.Input((N_IN,))
    y = QActivation("quantized_bits(10,5,alpha=1)", name="input_quant")(x)
    y = QDense(
        4,
        kernel_quantizer="quantized_bits(6,2,alpha=1)",
        bias_quantizer="quantized_bits(6,2,alpha=1)",
        activation="quantized_bits(5,1,alpha=1)",
        name="dense",
    )(y)  # range [-2, 1.875]: mostly saturated
    return _set_random_weights(keras.Model(x, y), seed=4, scale=4.0)


@pytest.mark.csim
@pytest.mark.parametrize(
    ("build", "target"),
    [
        (relu_then_linear_quantizer, "gt_run3"),
        (unsigned_kernels, "gt_run3"),
        (unsigned_kernels, "gt_run3_da"),
        (odd_widths_chain, "gt_run3"),
        (heavy_saturation, "gt_run3"),
    ],
)
@pytest.mark.slow
def test_converted_exactly(build, target, tmp_path):
    model = build()
    x = _inputs(model)
    reference = exact_reference(model, x)
    project = convert_model(model, resolve_target(target), tmp_path / "prj")
    y = np.asarray(project.hls_model.predict(np.ascontiguousarray(x, dtype=np.float64)), np.float64)
    y = y.reshape(reference.outputs.shape)
    differ = int(np.sum(y != reference.outputs))
    assert differ == 0, f"{build.__name__} on {target}: {differ} of {y.size} outputs differ from the exact reference"
    assert np.std(reference.outputs) > 0


def _no_alpha_kernel() -> keras.Model:
    x = keras.Input((N_IN,))
    y = QActivation("quantized_bits(12,4,alpha=1)", name="input_quant")(x)
    y = QDense(
        4, kernel_quantizer="quantized_bits(8,0)", bias_quantizer="quantized_bits(8,0,alpha=1)", name="po2_dense"
    )(y)
    return keras.Model(x, y)


def _leaky_relu() -> keras.Model:
    x = keras.Input((N_IN,))
    y = QActivation("quantized_bits(12,4,alpha=1)", name="input_quant")(x)
    y = QActivation("quantized_relu(8,3,negative_slope=0.125)", name="leaky")(y)
    return keras.Model(x, y)


def _symmetric_activation() -> keras.Model:
    x = keras.Input((N_IN,))
    y = QActivation("quantized_bits(12,4,alpha=1)", name="input_quant")(x)
    y = QActivation("quantized_bits(6,2,symmetric=1,alpha=1)", name="symmetric_q")(y)
    return keras.Model(x, y)


def _float_batchnorm() -> keras.Model:
    x = keras.Input((N_IN,))
    y = QActivation("quantized_bits(12,4,alpha=1)", name="input_quant")(x)
    y = QDense(
        4, kernel_quantizer="quantized_bits(8,0,alpha=1)", bias_quantizer="quantized_bits(8,0,alpha=1)", name="dense"
    )(y)
    y = keras.layers.BatchNormalization(name="float_bn")(y)
    return keras.Model(x, y)


def _no_input_quantizer() -> keras.Model:
    x = keras.Input((N_IN,))
    y = QDense(
        4,
        kernel_quantizer="quantized_bits(8,0,alpha=1)",
        bias_quantizer="quantized_bits(8,0,alpha=1)",
        name="first_dense",
    )(x)
    return keras.Model(x, y)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (_no_alpha_kernel, r"layer 'po2_dense' kernel quantizer: quantized_bits with alpha='auto_po2'.*use .*alpha=1"),
        (_leaky_relu, r"layer 'leaky': quantized_relu with negative_slope=0.125"),
        (_symmetric_activation, r"layer 'symmetric_q': quantized_bits with symmetric=True"),
        (_float_batchnorm, r"layer 'float_bn': BatchNormalization is not supported on chip"),
        (_no_input_quantizer, r"first layer after the input must be the input quantizer"),
    ],
)
def test_refused_at_convert_with_the_layer_named(build, message, tmp_path):
    with pytest.raises(FirmwareError, match=message):
        convert_model(build(), resolve_target("gt_run3"), tmp_path / "prj", compile=False)
    assert not (tmp_path / "prj").exists() and not (tmp_path / "prj.partial").exists()
