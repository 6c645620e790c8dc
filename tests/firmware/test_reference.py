"""The exact reference: the deployed model's fixed-point graph evaluated in integers.

It must equal QKeras wherever float32 is provably exact (narrow models, every tie and saturation
on the input grid), equal an independent exact evaluation (da4ml's traced logic) where float32 is
not, and say which layer first makes float32 inexact.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from qkeras import QActivation, QDense
from tensorflow import keras

from wnae.errors import FirmwareError
from wnae.fixed_point.graph import FixedFormat, deployed_ops, quantizer_format
from wnae.fixed_point.reference import Fixed, exact_reference


def _model(
    *, in_q: str, kernel_q: str, act: str | None, n_in: int = 57, n_out: int = 8, seed: int = 0, head: bool = False
) -> keras.Model:
    rng = np.random.default_rng(seed)
    x = keras.Input((n_in,))
    y = QActivation(in_q, name="input_quant")(x)
    y = QDense(n_out, kernel_quantizer=kernel_q, bias_quantizer=kernel_q, activation=act, name="dense")(y)
    if head:  # Σy² in one plain Dense: an unquantized sum of squares
        sq = keras.layers.Multiply(name="square")([y, y])
        y = keras.layers.Dense(1, use_bias=False, name="score_sum")(sq)
    model = keras.Model(x, y)
    w = model.get_layer("dense").get_weights()
    model.get_layer("dense").set_weights([rng.uniform(-1, 1, w[0].shape), rng.uniform(-1, 1, w[1].shape)])
    if head:
        model.get_layer("score_sum").set_weights([np.ones((n_out, 1))])
    return model


def test_fixed_point_arithmetic_is_exact_beyond_int64():
    a = Fixed.from_float(np.array([[3.25, -1.5]]), "a")  # f = 2
    assert a.f == 2 and a.n.tolist() == [[13, -6]]
    w = Fixed.from_float(np.array([[2.0**40], [2.0**-30]]), "w")
    y = a @ w  # 3.25·2^40 − 1.5·2^-30: needs 72 bits, Python integers
    assert y.n.dtype == object
    assert Fraction(int(y.n[0, 0]), 2**y.f) == Fraction(13, 4) * 2**40 - Fraction(3, 2) / 2**30
    # ties round to even at the output's LSB, in both int64 and Python integers, then saturate
    fmt = FixedFormat(True, 2, 1)  # LSB 0.5, range [-4, 3.5]
    ties = Fixed.from_float(np.array([0.25, 0.75, -0.25, -0.75, 1.25, 3.75, -4.25, 100.0]), "t")
    assert ties.quantize(fmt).to_float().tolist() == [0.0, 1.0, -0.0, -1.0, 1.0, 3.5, -4.0, 3.5]
    wide = Fixed(ties.n.astype(object) * 2**70, ties.f + 70, ties.bound * 2**70)
    assert wide.quantize(fmt).to_float().tolist() == [0.0, 1.0, -0.0, -1.0, 1.0, 3.5, -4.0, 3.5]


@pytest.mark.parametrize("act", ["quantized_bits(4,2,alpha=1)", "quantized_relu(3,1)", "quantized_bits(6,1,alpha=1)"])
def test_equals_qkeras_on_every_input_grid_value(act):
    """Narrow model (float32 provably exact): every one of the 1024 input values, ties included."""
    model = _model(
        in_q="quantized_bits(10,4,alpha=1)", kernel_q="quantized_bits(6,0,alpha=1)", act=act, n_in=1, n_out=4
    )
    fmt = quantizer_format(model.get_layer("input_quant").quantizer, "input")
    x = np.arange(fmt.min_value - 3, fmt.max_value + 3, fmt.lsb / 4).reshape(-1, 1)  # off-grid, ties, out of range
    ref = exact_reference(model, x)
    expected = np.asarray(model.predict(x, verbose=0), np.float64)
    np.testing.assert_array_equal(ref.outputs, expected)
    assert ref.qkeras_exact and ref.unsafe_layer is None
    assert "provably exact" in ref.qkeras_note()


def test_wide_model_float32_is_inexact_and_the_reference_says_where():
    """16-bit weights × 16-bit inputs × 57 terms: ~36-bit sums; float32 rounds them."""
    model = _model(in_q="quantized_bits(16,7,alpha=1)", kernel_q="quantized_bits(16,0,alpha=1)", act=None)
    x = np.random.default_rng(1).normal(0, 30, (4000, 57)).astype(np.float32)
    ref = exact_reference(model, x)
    assert ref.layer_bits["dense"] > 24 and ref.unsafe_layer == "dense"
    assert not ref.qkeras_exact and ref.first_inexact_layer == "dense"
    assert ref.qkeras_mismatch > 1000  # nearly every output of 32k
    note = ref.qkeras_note()
    assert "NOT exact" in note and "layer 'dense'" in note and "> float32's 24" in note
    # the exact values: an independent integer computation from the quantized weights
    dense = deployed_ops(model)[1]
    kernel, bias = dense.kernel, dense.bias
    x_q = np.clip(np.round(x.astype(np.float64) * 2**8), -(2**15), 2**15 - 1).astype(object)
    k_int = (kernel * 2**15).astype(np.int64).astype(object)
    b_int = (bias * 2**15).astype(np.int64).astype(object)
    exact = x_q @ k_int + b_int * 2**8  # at 2^-23
    np.testing.assert_array_equal(ref.outputs, np.array(exact, dtype=np.float64) / 2.0**23)


@pytest.mark.rtl
def test_wide_model_reference_equals_the_traced_logic():
    """A second exact implementation (da4ml's logic) agrees with the reference where float32 does not."""
    pytest.importorskip("da4ml")
    from wnae.firmware.rtl.trace import trace_model

    model = _model(
        in_q="quantized_bits(16,7,alpha=1)",
        kernel_q="quantized_bits(16,0,alpha=1)",
        act="quantized_bits(20,10,alpha=1)",
        n_in=12,
        n_out=3,
        head=True,
    )
    x = np.random.default_rng(2).normal(0, 40, (3000, 12)).astype(np.float32)
    ref = exact_reference(model, x)
    traced = trace_model(model)
    got = np.asarray(traced.comb.predict(traced.quantize_inputs(x.astype(np.float64))), np.float64)
    np.testing.assert_array_equal(ref.outputs, got.reshape(ref.outputs.shape))
    assert not ref.qkeras_exact  # the unquantized 40-bit sum of squares rounds in float32


def test_refuses_what_no_firmware_computes_exactly():
    x = keras.Input((4,))
    y = QActivation("quantized_bits(8,3,alpha=1)", name="input_quant")(x)
    y = QActivation("quantized_relu(6,2,negative_slope=0.25)", name="leaky")(y)
    with pytest.raises(FirmwareError, match="layer 'leaky'.*negative_slope"):
        exact_reference(keras.Model(x, y), np.zeros((2, 4)))
    with pytest.raises(FirmwareError, match="NaN or infinite"):
        exact_reference(
            _model(in_q="quantized_bits(8,3,alpha=1)", kernel_q="quantized_bits(6,0,alpha=1)", act=None, n_in=2),
            np.array([[np.nan, 0.0]]),
        )
