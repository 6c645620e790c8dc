"""QKeras rebuilds of the AXOL1TL networks CMS deployed in the Global Trigger, for the latency model's tests.

Shapes, fixed-point types and the share of non-zero weights are the published ones
(``cms-hls4ml/AXOL1TL``, ``AXOL1TL_v{1,3,4}/NN/defines.h`` and ``parameters.h``); the widths of the squares
in the score are those of the fabric multipliers Vitis HLS generated for them
(``cms-l1-globaltrigger/mp7_ugt_legacy``, ``axol1tl_v1_mul_9s_9s_18``, ``axol1tl_v3_mul_10s_10s_20``,
``axol1tl_v4_mul_10s_10s_20``). The weights are our own, drawn on the ``ap_fixed<6,3>`` grid: the
adder depth depends on shapes, widths and sparsity far more than on the values.

What CMS's firmware reports for them (Vitis HLS C-synthesis estimate embedded in the deployed VHDL,
``HLS_SYN_CLOCK``/``HLS_SYN_LAT``; xc7vx690t-ffg1927-2, 25 ns asked for, 2 cycles forced by
``#pragma HLS latency min=2 max=2``) is :data:`PUBLISHED`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: name → (layer widths, input type, ReLU type, latent type, non-zero share per kernel)
SHAPES: dict[str, tuple[tuple[int, ...], str, str, str, tuple[float, ...]]] = {
    # 57 -> 32 -> 16 -> 13, ap_fixed<8,6> inputs, ap_ufixed<10,7> ReLUs, mu ap_fixed<9,6>
    "v1": ((32, 16, 13), "quantized_bits(8,5,alpha=1)", "quantized_relu(10,7)", "quantized_bits(9,5,alpha=1)",
           (419 / 1824, 173 / 512, 53 / 208)),
    # 57 -> 32 -> 16 -> 8, ap_ufixed<10,6> ReLUs, squares of 10-bit latents
    "v3": ((32, 16, 8), "quantized_bits(8,5,alpha=1)", "quantized_relu(10,6)", "quantized_bits(10,6,alpha=1)",
           (1018 / 1824, 397 / 512, 111 / 128)),
    # 57 -> 28 -> 15 -> 8
    "v4": ((28, 15, 8), "quantized_bits(8,5,alpha=1)", "quantized_relu(10,6)", "quantized_bits(10,6,alpha=1)",
           (830 / 1596, 361 / 420, 50 / 120)),
}  # fmt: skip

#: name → (latency in cycles, Vitis HLS's estimated clock period in ns, HLS version) as deployed
PUBLISHED: dict[str, tuple[int, float, str]] = {
    "v1": (2, 24.8595, "Vitis HLS 2022.2"),
    "v3": (2, 23.7245, "Vitis HLS 2023.1"),
    "v4": (2, 21.683375, "Vitis HLS 2023.1"),
    "v6": (2, 33.358375, "Vitis HLS 2024.1"),  # da4ml; the network of tests/firmware/test_axol1tl_shaped.py
}


def deployed_axol1tl(name: str, seed: int = 0) -> Any:
    """The AXOL1TL ``name`` (v1, v3, v4) encoder with its score Σμ² as one QKeras model, weights our own."""
    from qkeras import QActivation, QDense
    from tensorflow import keras

    widths, input_q, relu_q, latent_q, nonzero = SHAPES[name]
    weight = "quantized_bits(6,2,alpha=1)"  # ap_fixed<6,3>
    x_in = keras.Input((57,), name="inputs")
    x = QActivation(input_q, name="input_quant")(x_in)
    for i, units in enumerate(widths[:-1]):
        x = QDense(units, kernel_quantizer=weight, bias_quantizer=weight, name=f"dense{i}")(x)
        x = QActivation(relu_q, name=f"relu{i}")(x)
    mu = QDense(widths[-1], kernel_quantizer=weight, bias_quantizer=weight, activation=latent_q, name="mu")(x)
    square = keras.layers.Multiply(name="square")([mu, mu])
    square = QActivation("quantized_bits(20,12,keep_negative=False,alpha=1)", name="square_q")(square)
    total = keras.layers.Dense(1, use_bias=False, trainable=False, kernel_initializer="ones", name="score_sum")(square)
    score = QActivation("quantized_bits(18,14,keep_negative=False,alpha=1)", name="score")(total)
    model = keras.Model(x_in, score, name=f"axol1tl_{name}")
    rng = np.random.default_rng(seed)
    kernels = iter(nonzero)
    for layer in model.layers:
        if isinstance(layer, QDense):
            kernel, bias = layer.get_weights()
            keep = rng.random(kernel.shape) < next(kernels)
            kernel = np.where(keep, np.clip(np.round(rng.normal(0, 4, kernel.shape)), -32, 31) / 8, 0.0)
            bias = np.clip(np.round(rng.normal(0, 4, bias.shape)), -32, 31) / 8
            layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model
