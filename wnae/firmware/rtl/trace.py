"""QKeras model → da4ml combinational logic that computes exactly what QKeras computes.

The deployed forward pass (input quantizer, ``QDense`` layers, quantized ReLUs and the on-chip
score head: ``Subtract``, ``Multiply``, the unit-weight ``Dense`` sum and their quantizers) is run
once on da4ml's symbolic fixed-point arrays (:class:`da4ml.trace.FixedVariableArray`). Every
constant matrix–vector product becomes a multiplier-free adder graph (da4ml's CMVM solver); every
quantizer becomes bit slicing, one adder for the rounding and a saturating clamp.
:func:`da4ml.trace.comb_trace` then records the whole graph as one
:class:`~da4ml.cmvm.types.CombLogic`, which :mod:`wnae.firmware.rtl.flow` pipelines and writes as
Verilog.

Rounding. QKeras's ``quantized_bits`` and ``quantized_relu`` round to nearest with ties to even
(``tf.round``) and saturate; da4ml's own ``quantize``/``relu`` only truncate or round ties up. Ties
to even is built here from da4ml primitives (:func:`round_half_even`): with ``u`` the input's LSB,
``h`` half the output's LSB and ``b`` the bit of the input at the output's LSB,
``RNE(x) = floor(x + h − u + b·u)`` — ``b`` pushes exact ties of odd quotients up and leaves even
ones down. The saturation is da4ml's ``SAT`` clamp of the already-rounded value, as in QKeras
(``clip(round(x))``).

The input port carries the input quantizer's format: the trigger hands the network L1 objects
already in hardware units, so the RTL starts *after* ``input_quant`` and the test events are put on
that grid first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from wnae.errors import FirmwareError

__all__ = ["FixedFormat", "TracedModel", "quantizer_format", "round_half_even", "trace_model"]

logger = logging.getLogger(__name__)

#: da4ml's default hardware model: each adder is one unit of delay (an "adder level"), any width.
DEFAULT_HWCONF = (1, -1, -1)


@dataclass(frozen=True)
class FixedFormat:
    """A fixed-point format in da4ml's (k, i, f) convention.

    Attributes:
        signed: sign bit present (k).
        integer: integer bits *not* counting the sign bit (i), as QKeras's ``integer``.
        fractional: fractional bits (f); the LSB is 2^-f.
    """

    signed: bool
    integer: int
    fractional: int

    @property
    def bits(self) -> int:
        return int(self.signed) + self.integer + self.fractional

    @property
    def lsb(self) -> float:
        return 2.0**-self.fractional

    @property
    def min_value(self) -> float:
        return -(2.0**self.integer) if self.signed else 0.0

    @property
    def max_value(self) -> float:
        return 2.0**self.integer - self.lsb

    def kif(self) -> tuple[int, int, int]:
        return int(self.signed), self.integer, self.fractional

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """``x`` rounded half to even onto this grid and saturated (what the QKeras quantizer does)."""
        scaled = np.round(np.asarray(x, np.float64) / self.lsb)  # numpy rounds ties to even
        return np.clip(scaled * self.lsb, self.min_value, self.max_value)

    def __str__(self) -> str:
        kind = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{kind}<{self.bits},{self.integer + int(self.signed)}>"


def quantizer_format(quantizer: Any, where: str) -> FixedFormat:
    """The grid of a QKeras ``quantized_bits``/``quantized_relu`` quantizer object.

    Raises:
        FirmwareError: a quantizer that is not a plain fixed-point grid (``alpha`` ≠ 1, symmetric,
            stochastic rounding, leaky or sigmoid ReLU, an upper bound), naming ``where``.
    """
    name = quantizer.__class__.__name__
    cfg = quantizer.get_config()
    problems = []
    if cfg.get("use_stochastic_rounding"):
        problems.append("stochastic rounding")
    if name == "quantized_bits":
        if cfg.get("alpha") not in (1, 1.0, None):
            problems.append(f"alpha={cfg.get('alpha')!r} (use alpha=1)")
        if cfg.get("symmetric"):
            problems.append("symmetric=True")
        signed = bool(cfg.get("keep_negative", True))
        integer = int(cfg["integer"])
        fmt = FixedFormat(signed, integer, int(cfg["bits"]) - integer - int(signed))
    elif name == "quantized_relu":
        if cfg.get("negative_slope"):
            problems.append(f"negative_slope={cfg['negative_slope']}")
        if cfg.get("use_sigmoid"):
            problems.append("use_sigmoid")
        if cfg.get("relu_upper_bound") is not None:
            problems.append(f"relu_upper_bound={cfg['relu_upper_bound']}")
        integer = int(cfg["integer"])
        fmt = FixedFormat(False, integer, int(cfg["bits"]) - integer)
    else:
        msg = f"{where}: quantizer {name} is not supported by the RTL flow (quantized_bits or quantized_relu only)"
        raise FirmwareError(msg)
    if problems:
        msg = f"{where}: {name} with {', '.join(problems)} is not a fixed-point grid the RTL can compute exactly"
        raise FirmwareError(msg)
    return fmt


def round_half_even(v, fmt: FixedFormat):  # noqa: ANN001, ANN201 (da4ml FixedVariable)
    """One da4ml variable rounded half to even onto ``fmt`` and saturated, as QKeras does it.

    The saturation is ``hi − relu(hi − v)`` and ``lo + relu(v − lo)`` rather than da4ml's own
    ``quantize(..., "SAT")``: in da4ml 0.5.2 the latter's ``msb_mux`` is wrong when the variable
    carries a large power-of-two factor (e.g. the square of a 16-bit-weight layer's output).
    """
    _, _, f_in = v.kif
    f = fmt.fractional
    if f_in > f:
        u = 2.0**-f_in
        lsb_bit = v.quantize(0, 1 - f, f)  # wraps to one bit: the bit of v at weight 2^-f, as 0 or 2^-f
        v = v + (2.0 ** (-f - 1) - u) + lsb_bit * (2.0 ** (f - f_in))
        k_in, i_in, _ = v.kif
        v = v.quantize(k_in, i_in, f, "WRAP", "TRN")  # drop the bits below 2^-f; the range is kept
    hi = Decimal(2) ** fmt.integer - Decimal(2) ** -f
    lo = -(Decimal(2) ** fmt.integer) if fmt.signed else Decimal(0)
    if v.high > hi:
        v = -((-v + hi).relu()) + hi
    if v.low < lo:
        v = (v - lo).relu() + lo
    return v.quantize(int(fmt.signed), fmt.integer, fmt.fractional, "WRAP", "TRN")


def _quantize_array(x, fmt: FixedFormat):  # noqa: ANN001, ANN202
    from da4ml.trace import FixedVariableArray

    flat = [round_half_even(v, fmt) for v in x._vars.ravel()]  # noqa: SLF001 (da4ml's element access)
    return FixedVariableArray(np.array(flat, dtype=object).reshape(x.shape), x.solver_options)


def _apply_quantizer(x, quantizer: Any, where: str):  # noqa: ANN001, ANN202
    return _quantize_array(x, quantizer_format(quantizer, where))


@dataclass
class TracedModel:
    """A traced model: the combinational logic and what it takes and gives.

    Attributes:
        comb: da4ml :class:`~da4ml.cmvm.types.CombLogic` of the whole forward pass.
        input_format: the format of each of the ``n_inputs`` input values (the input quantizer's).
        n_inputs, n_outputs: values in and out per event.
        adder_depth: adder levels on the longest path (da4ml's delay unit).
        lut_estimate: da4ml's cost estimate (≈ LUTs).
        layer_depth: cumulative adder depth after each layer, in model order.
        seconds: wall time of the trace (including da4ml's CMVM solves).
    """

    comb: Any
    input_format: FixedFormat
    n_inputs: int
    n_outputs: int
    adder_depth: float
    lut_estimate: float
    layer_depth: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def quantize_inputs(self, x: np.ndarray) -> np.ndarray:
        """float64 (n, n_inputs) inputs put on the input grid (what ``input_quant`` does in QKeras)."""
        return self.input_format.quantize(x)


def _inbound_names(layer) -> list[str]:  # noqa: ANN001
    nodes = layer.inbound_nodes
    if not nodes:
        return []
    inbound = nodes[0].inbound_layers
    return [lay.name for lay in (inbound if isinstance(inbound, list) else [inbound])]


def _dense(layer, x, quantized: bool):  # noqa: ANN001, ANN202
    """x @ W + b with the layer's (quantized) weights, then its activation."""
    from tensorflow import keras

    where = f"layer '{layer.name}'"
    if quantized:
        kernel = np.asarray(layer.kernel_quantizer_internal(layer.kernel), np.float64)
        bias = np.asarray(layer.bias_quantizer_internal(layer.bias), np.float64) if layer.use_bias else None
    else:
        weights = layer.get_weights()
        kernel = np.asarray(weights[0], np.float64)
        bias = np.asarray(weights[1], np.float64) if layer.use_bias else None
    y = x @ kernel
    if bias is not None:
        y = y + bias
    act = layer.activation
    act_name = getattr(act, "__name__", act.__class__.__name__)
    if act_name in ("quantized_bits", "quantized_relu"):
        return _apply_quantizer(y, act, where)
    if act is keras.activations.linear or act_name == "linear":
        return y
    if act is keras.activations.relu or act_name == "relu":
        return y.relu()
    msg = f"{where}: activation {act_name!r} is not supported by the RTL flow (linear, relu or a QKeras quantizer)"
    raise FirmwareError(msg)


def trace_model(
    model,  # noqa: ANN001
    *,
    delay_constraint: int = 2,
    hwconf: tuple[int, int, int] = DEFAULT_HWCONF,
) -> TracedModel:
    """Trace a QKeras model (the deployed one) into da4ml combinational logic.

    Args:
        model: a functional QKeras model whose first layer after the input is the input quantizer
            (``QActivation(quantized_bits)``), built from ``QDense``, ``Dense``, ``QActivation``,
            ``Subtract``, ``Add`` and ``Multiply``.
        delay_constraint: da4ml's ``hard_dc``: adder levels each constant matrix–vector product
            may add beyond its minimum (da4ml's command-line default 2; -1 = unconstrained).
        hwconf: da4ml ``HWConfig`` (adder size, carry size, cutoff); the default counts one
            delay unit per adder.

    Raises:
        FirmwareError: an unsupported layer, activation or quantizer (named), or no input quantizer.
    """
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    start = time.perf_counter()
    layers = list(model.layers)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        msg = f"model '{model.name}': the RTL flow needs one input and one output"
        raise FirmwareError(msg)
    first = layers[1] if len(layers) > 1 else None
    if first is None or first.__class__.__name__ != "QActivation" or _inbound_names(first) != [layers[0].name]:
        msg = (f"model '{model.name}': the first layer after the input must be the input quantizer "
               "(QActivation(quantized_bits)); the FPGA input needs a fixed-point format")
        raise FirmwareError(msg)
    in_fmt = quantizer_format(first.quantizer, f"layer '{first.name}'")
    n_inputs = int(np.prod(model.inputs[0].shape[1:]))
    k, i, f = (np.full(n_inputs, v) for v in in_fmt.kif())
    inputs = FixedVariableArray.from_kif(k, i, f, hwconf=HWConfig(*hwconf),
                                         solver_options={"hard_dc": delay_constraint})

    values: dict[str, Any] = {layers[0].name: None, first.name: inputs}
    depth: dict[str, float] = {first.name: 0.0}
    for layer in layers[2:]:
        cls = layer.__class__.__name__
        where = f"layer '{layer.name}'"
        args = [values[name] for name in _inbound_names(layer)]
        if any(a is None for a in args):
            msg = f"{where} ({cls}) reads the unquantized input; only the input quantizer may"
            raise FirmwareError(msg)
        if cls == "QActivation":
            out = _apply_quantizer(args[0], layer.quantizer, where)
        elif cls == "QDense":
            out = _dense(layer, args[0], quantized=True)
        elif cls == "Dense":
            out = _dense(layer, args[0], quantized=False)
        elif cls == "Subtract":
            out = args[0] - args[1]
        elif cls == "Add":
            out = args[0]
            for other in args[1:]:
                out = out + other
        elif cls == "Multiply":
            out = args[0]
            for other in args[1:]:
                out = out * other
        else:
            msg = (f"{where}: {cls} is not supported by the RTL flow (QActivation, QDense, Dense, Subtract, "
                   "Add, Multiply)")
            raise FirmwareError(msg)
        values[layer.name] = out
        depth[layer.name] = float(np.max(out.latency))
        logger.debug("traced %s: adder depth %g", layer.name, depth[layer.name])

    output = values[layers[-1].name]
    comb = comb_trace(inputs, output)
    seconds = time.perf_counter() - start
    logger.info("traced %s: %d → %d values, adder depth %g, ≈ %.0f LUT (da4ml estimate), %.1f s",
                model.name, comb.shape[0], comb.shape[1], comb.latency[1], comb.cost, seconds)
    return TracedModel(
        comb=comb,
        input_format=in_fmt,
        n_inputs=int(comb.shape[0]),
        n_outputs=int(comb.shape[1]),
        adder_depth=float(comb.latency[1]),
        lut_estimate=float(comb.cost),
        layer_depth=depth,
        seconds=seconds,
    )
