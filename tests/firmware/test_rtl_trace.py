"""QKeras → da4ml tracing: the traced logic computes exactly what QKeras computes.

Fast (da4ml's interpreter, no Verilator): the quantizers' round-half-to-even ties and saturation on
every point of the input grid, a quantized MLP with a Σμ²-style head on random inputs, and clear
errors for what the RTL flow cannot build.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("da4ml")

from qkeras import QActivation, QDense, quantized_bits, quantized_relu
from tensorflow import keras

from wnae.errors import FirmwareError
from wnae.firmware.config import resolve_target, yosys_family
from wnae.firmware.rtl.trace import FixedFormat, quantizer_format, trace_model

IN_Q = "quantized_bits(10,4,alpha=1)"  # 1 sign + 4 integer + 5 fractional bits


def _grid(fmt: FixedFormat) -> np.ndarray:
    """Every value of a fixed-point format, ascending."""
    return np.arange(fmt.min_value, fmt.max_value + fmt.lsb / 2, fmt.lsb)


def _one_quantizer_model(quantizer: str, n: int) -> keras.Model:
    x = keras.Input((n,))
    y = QActivation(IN_Q, name="input_quant")(x)
    y = QActivation(quantizer, name="q")(y)
    return keras.Model(x, y)


def _assert_exact(model: keras.Model, x: np.ndarray) -> None:
    traced = trace_model(model)
    x_q = traced.quantize_inputs(x)
    expected = np.asarray(model.predict(x, verbose=0), np.float64)
    got = np.asarray(traced.comb.predict(x_q), np.float64).reshape(expected.shape)
    diff = np.flatnonzero(expected != got)
    assert diff.size == 0, (
        f"{diff.size} of {expected.size} differ, e.g. x={x.ravel()[diff[:5]]}: "
        f"QKeras {expected.ravel()[diff[:5]]}, traced {got.ravel()[diff[:5]]}"
    )


@pytest.mark.parametrize(
    "quantizer",
    [
        "quantized_bits(4,2,alpha=1)",  # LSB 0.5: ties at ±0.25, ±0.75, ... and saturation at 3.5 / -4
        "quantized_bits(6,1,alpha=1)",  # LSB 1/16: ties one input LSB below
        "quantized_relu(3,1)",  # unsigned, LSB 0.25, saturates at 1.75
        "quantized_relu(8,4)",  # as wide as the input's fraction: no rounding, only clamping
    ],
)
def test_every_input_value_rounds_like_qkeras(quantizer):
    in_fmt = quantizer_format(quantized_bits(10, 4, alpha=1), "input")
    values = _grid(in_fmt)
    assert values.size == 1024
    x = values.reshape(-1, 1)
    _assert_exact(_one_quantizer_model(quantizer, 1), x)


def test_ties_go_to_even():
    """The cases that truncation or round-half-up would get wrong."""
    model = _one_quantizer_model("quantized_bits(4,2,alpha=1)", 1)
    x = np.array([[0.25], [0.75], [-0.25], [-0.75], [1.25], [9.0], [-9.0]])
    np.testing.assert_array_equal(model.predict(x, verbose=0).ravel(), [0.0, 1.0, 0.0, -1.0, 1.0, 3.5, -4.0])
    _assert_exact(model, x)


def _mlp_with_square_head(seed: int) -> keras.Model:
    rng = np.random.default_rng(seed)
    x = keras.Input((12,))
    y = QActivation(IN_Q, name="input_quant")(x)
    y = QDense(
        6, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1), name="dense1"
    )(y)
    y = QActivation(quantized_relu(6, 2), name="relu1")(y)
    mu = QDense(
        3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1), name="mu"
    )(y)
    mu = QActivation(quantized_bits(8, 3, alpha=1), name="mu_q")(mu)
    sq = keras.layers.Multiply(name="square")([mu, mu])
    score = keras.layers.Dense(1, use_bias=False, trainable=False, kernel_initializer="ones", name="sum")(sq)
    model = keras.Model(x, score)
    for layer in model.layers:
        if layer.name in ("dense1", "mu"):
            layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    return model


def test_mlp_with_square_head_is_exact_on_random_events():
    model = _mlp_with_square_head(seed=3)
    x = np.random.default_rng(4).normal(0, 4, size=(20_000, 12))
    _assert_exact(model, x)
    traced = trace_model(model)
    assert traced.n_inputs == 12 and traced.n_outputs == 1
    assert traced.adder_depth > 0 and traced.lut_estimate > 0
    assert str(traced.input_format) == "ap_fixed<10,5>"


def test_unsupported_quantizers_and_layers_are_named():
    with pytest.raises(FirmwareError, match="layer 'q'.*alpha"):
        trace_model(_one_quantizer_model("quantized_bits(4,2,alpha='auto_po2')", 2))
    x = keras.Input((3,))
    y = QActivation(IN_Q, name="input_quant")(x)
    y = keras.layers.Dense(2, activation="tanh", name="tanh_dense")(y)
    with pytest.raises(FirmwareError, match="tanh_dense.*tanh"):
        trace_model(keras.Model(x, y))
    x = keras.Input((3,))
    with pytest.raises(FirmwareError, match="input quantizer"):
        trace_model(keras.Model(x, keras.layers.Dense(1, name="d")(x)))


def test_pipeline_depth_from_the_clock():
    assert resolve_target("gt_run3").latency_cutoff == 15  # 25 ns · 0.9 / 1.5 ns
    assert resolve_target("phase2_vu13p").latency_cutoff == 3  # 4.167 ns · 0.9 / 1.0 ns
    t = resolve_target("gt_run3")
    assert t.model_copy(update={"rtl": t.rtl.model_copy(update={"latency_cutoff": 4})}).latency_cutoff == 4
    assert resolve_target("gt_run3_da").rtl.use_dsp is False
    assert [yosys_family(p) for p in ("xc7vx690tffg1927-2", "xcvu13p-flga2577-2-e", "xcku115-flvb2104-2-e")] == [
        "xc7",
        "xcup",
        "xcu",
    ]


@pytest.mark.parametrize("shift", [0, 20, 25])
def test_square_of_operands_with_a_large_shift_saturates_exactly(shift):
    """da4ml keeps power-of-two shifts as a free factor; the square of a 16-bit-weight layer's output
    carries 2^-50. da4ml 0.5.2's own ``quantize(..., "SAT")`` is wrong there (its msb_mux), which
    made the MLP encoder's score RTL differ from QKeras; ours saturates through relu and is exact."""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    from wnae.firmware.rtl.trace import round_half_even

    inp = FixedVariableArray.from_kif(
        np.ones(1),
        np.full(1, 4 + shift),
        np.full(1, 7 - shift),
        hwconf=HWConfig(1, -1, -1),
        solver_options={"hard_dc": 2},
    )
    x = inp * 2.0**-shift  # the grid of quantized_bits(12, 4), with da4ml factor 2^-shift
    square = (x * x)._vars.ravel()[0]
    fmt = FixedFormat(False, 8, 4)  # rounds (ties included) and saturates at 255.9375
    out = FixedVariableArray(np.array([round_half_even(square, fmt)], dtype=object), inp.solver_options)
    grid = np.arange(-(2**11), 2**11) * 2.0**-7
    y = np.asarray(comb_trace(inp, out).predict((grid * 2.0**shift).reshape(-1, 1)), np.float64).ravel()
    np.testing.assert_array_equal(y, fmt.quantize(grid**2))


@pytest.mark.parametrize("in_q", ["quantized_bits(6,2,alpha=1)", "quantized_bits(8,3,alpha=1)", "quantized_relu(7,3)"])
def test_squares_of_narrow_values_are_exact_lookup_tables(in_q):
    """x·x of a ≤ 8-bit value is a table of every square (one LUT level), exact on every grid value."""
    x = keras.Input((1,))
    q = QActivation(IN_Q, name="input_quant")(x)
    q = QActivation(in_q, name="narrow")(q)
    square = keras.layers.Multiply(name="square")([q, q])
    model = keras.Model(x, square)
    in_fmt = quantizer_format(quantized_bits(10, 4, alpha=1), "input")
    _assert_exact(model, _grid(in_fmt).reshape(-1, 1))
    traced = trace_model(model)
    assert traced.layer_depth["square"] - traced.layer_depth["narrow"] <= 2  # a shift-and-add multiplier: 6-8 levels
    assert any(op.opcode == 8 for op in traced.comb.ops)  # da4ml's lookup op


def _low_bit_mlp(prune: bool) -> keras.Model:
    """10 → 6 (3-bit weights) → ReLU → 4 (4-bit weights); pruned: half the weights, input 3 and output 1 zero."""
    rng = np.random.default_rng(7)
    x = keras.Input((10,))
    y = QActivation(IN_Q, name="input_quant")(x)
    y = QDense(
        6, kernel_quantizer=quantized_bits(3, 0, alpha=1), bias_quantizer=quantized_bits(4, 1, alpha=1), name="pruned1"
    )(y)
    y = QActivation(quantized_relu(6, 3), name="relu1")(y)
    y = QDense(
        4, kernel_quantizer=quantized_bits(4, 1, alpha=1), bias_quantizer=quantized_bits(4, 1, alpha=1), name="pruned2"
    )(y)
    y = QActivation(quantized_bits(8, 3, alpha=1), name="out_q")(y)
    model = keras.Model(x, y)
    for name, shape in (("pruned1", (10, 6)), ("pruned2", (6, 4))):
        kernel = rng.normal(0, 0.6, shape)
        if prune:
            kernel[np.abs(kernel) < np.quantile(np.abs(kernel), 0.5)] = 0.0
            kernel[3, :] = 0.0  # input 3 unused
            kernel[:, 1] = 0.0  # output 1: only its bias
        model.get_layer(name).set_weights([kernel.astype(np.float32), rng.normal(0, 1, shape[1]).astype(np.float32)])
    return model


def test_pruned_low_bit_layers_with_zero_rows_and_columns_trace_exactly():
    """3- and 4-bit kernels, half their weights zero, a zero row and a zero column: the traced logic
    drops them and still computes what QKeras computes."""
    model = _low_bit_mlp(prune=True)
    events = np.random.default_rng(8).normal(0, 4, size=(20_000, 10))
    _assert_exact(model, events)
    y_model = model.predict(events, verbose=0)
    assert np.all(y_model[:, 1] == y_model[0, 1])  # the zero column is a constant output
    assert np.std(y_model[:, [0, 2, 3]]) > 0
    assert trace_model(model).lut_estimate < trace_model(_low_bit_mlp(prune=False)).lut_estimate  # zeros cost nothing


def _wide_square_model(bits: int) -> keras.Model:
    """input → a ``bits``-bit signed value → its square: too wide for a LUT table."""
    x = keras.Input((3,))
    q = QActivation("quantized_bits(16,6,alpha=1)", name="input_quant")(x)
    q = QActivation(f"quantized_bits({bits},4,alpha=1)", name="wide")(q)
    square = keras.layers.Multiply(name="square")([q, q])
    score = keras.layers.Dense(1, use_bias=False, trainable=False, kernel_initializer="ones", name="sum")(square)
    return keras.Model(x, score)


def test_a_square_that_fits_a_dsp_is_a_dsp_deep_and_exact():
    """On a target whose products go to DSP slices, a 12-bit square is the DSP48E1's 2.823 ns (2 adder
    levels of 1.5 ns), not da4ml's 12-level shift-and-add; the logic computes the same numbers."""
    from wnae.firmware.rtl.trace import DSP48E1

    model = _wide_square_model(12)
    plain = trace_model(model)
    dsp = trace_model(model, dsp=DSP48E1, adder_delay_ns=1.5)
    assert DSP48E1.levels(1.5) == 2 and DSP48E1.levels(1.0) == 3
    assert plain.dsp_products == 0 and dsp.dsp_products == 3
    square_plain = plain.layer_depth["square"] - plain.layer_depth["wide"]
    square_dsp = dsp.layer_depth["square"] - dsp.layer_depth["wide"]
    assert square_plain >= 12 and square_dsp == 2
    assert dsp.adder_depth == plain.adder_depth - (square_plain - square_dsp)
    assert dsp.lut_estimate < plain.lut_estimate  # the products cost DSPs, not LUTs
    x = np.random.default_rng(5).normal(0, 8, size=(5_000, 3))
    x_q = dsp.quantize_inputs(x)
    np.testing.assert_array_equal(np.asarray(dsp.comb.predict(x_q)), np.asarray(plain.comb.predict(x_q)))


def test_a_square_wider_than_the_dsp_port_stays_shift_and_add():
    """18 signed bits fit the DSP48E1's 18-bit port (one DSP); 19 do not, and keep da4ml's count."""
    from wnae.firmware.rtl.trace import DSP48E1

    assert trace_model(_wide_square_model(18), dsp=DSP48E1).dsp_products == 3
    assert trace_model(_wide_square_model(19), dsp=DSP48E1).dsp_products == 0
