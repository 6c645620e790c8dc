"""QKeras model → da4ml combinational logic that computes exactly what QKeras computes.

The deployed forward pass (input quantizer, ``QDense`` layers, quantized ReLUs and the on-chip
score head: ``Subtract``, ``Multiply``, the unit-weight ``Dense`` sum and their quantizers) is run
once on da4ml's symbolic fixed-point arrays (:class:`da4ml.trace.FixedVariableArray`). Every
constant matrix–vector product becomes a multiplier-free adder graph (da4ml's CMVM solver); every
quantizer becomes bit slicing, one adder for the rounding and a saturating clamp; the score head's
squares of narrow values become lookup tables (:func:`square`).
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
import math
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from wnae.fixed_point.graph import FixedFormat, deployed_ops, evaluate_ops, quantizer_format

__all__ = [
    "DSP48E1",
    "VMUL_OPCODE",
    "DspMultiplier",
    "FixedFormat",
    "TracedModel",
    "quantizer_format",
    "round_half_even",
    "square",
    "trace_model",
]

logger = logging.getLogger(__name__)

#: da4ml's default hardware model: each adder is one unit of delay (an "adder level"), any width.
DEFAULT_HWCONF = (1, -1, -1)
#: da4ml's op code of a product of two variables (``vmul``) in a traced ``CombLogic``.
VMUL_OPCODE = 7
#: A square x·x of a value of at most this many bits is a lookup table (one LUT level for ≤ 7 bits,
#: 2^(b−5)·⌈2b/2⌉ LUT6 each), not da4ml's shift-and-add multiplier (b adder levels).
SQUARE_TABLE_MAX_BITS = 8


def round_half_even(v: Any, fmt: FixedFormat) -> Any:  # da4ml FixedVariable
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


@dataclass(frozen=True)
class DspMultiplier:
    """The target's hard multiplier, as the latency model sees it.

    Vivado and Yosys (``synth_xilinx`` without ``-nodsp``) map a product whose operands fit the DSP
    slice's signed ports to one DSP slice; its delay is the slice's combinational path through the
    multiplier, not the ``b`` adder levels of da4ml's shift-and-add model of a ``b``-bit product.

    Attributes:
        port_a_bits, port_b_bits: signed widths of the multiplier's ports (25 × 18 on DSP48E1).
        delay_ns: combinational delay from the ports through the multiplier to the output.
        source: where ``delay_ns`` comes from.
    """

    port_a_bits: int
    port_b_bits: int
    delay_ns: float
    source: str

    def fits(self, v: Any) -> bool:
        """Whether ``v · v`` is one DSP: ``v`` as a signed number fits the narrower port."""
        k, i, f = v.kif
        signed_bits = int(k + i + f) + (0 if k else 1)  # an unsigned value needs a sign bit on the port
        return signed_bits <= min(self.port_a_bits, self.port_b_bits)

    def levels(self, adder_delay_ns: float) -> int:
        """The multiplier's delay in adder levels of ``adder_delay_ns`` (rounded up)."""
        return max(1, math.ceil(self.delay_ns / adder_delay_ns - 1e-9))


#: The 7-series DSP48E1: 25 × 18 signed multiplier, 2.823 ns from port A through the multiplier to P
#: (``USE_MULT = "MULTIPLY"``, no pre-adder; Yosys's ``share/xilinx/cells_sim.v`` timing, from Project X-Ray).
DSP48E1 = DspMultiplier(
    25, 18, 2.823, "DSP48E1 A→P through the multiplier, 2.823 ns (Yosys cells_sim.v, Project X-Ray)"
)


def square(v: Any, dsp_levels: int | None = None, dsp: DspMultiplier | None = None) -> Any:
    """``v · v`` exactly: a lookup table of the squares of every value ``v`` can take when ``v`` has at most
    :data:`SQUARE_TABLE_MAX_BITS` bits, else da4ml's multiplier; on a target with DSP slices (``dsp``), a
    product that fits one is ``dsp_levels`` adder levels deep and costs no LUT (it is a DSP)."""
    if v.high == v.low:
        return v * v
    if sum(v.kif) > SQUARE_TABLE_MAX_BITS:
        product = v * v
        if dsp is not None and dsp_levels is not None and dsp.fits(v):
            return product._with(renew_id=False, latency=v.latency + dsp_levels, cost=0.0)
        return product
    n = int(round((v.high - v.low) / v.step)) + 1
    grid = np.array([float(v.low + k * v.step) for k in range(n)], np.float64)
    return v.lookup(grid * grid)  # exact: squares of a b-bit grid have ≤ 2b significant bits


def _multiply_arrays(a: Any, b: Any, op: Any, dsp_levels: int | None = None, dsp: DspMultiplier | None = None) -> Any:
    """A ``Multiply`` layer: element-wise squares (tables, or DSPs) when both inputs are one tensor, else ``a * b``."""
    from da4ml.trace import FixedVariableArray

    if len(set(op.inputs)) != 1:
        return a * b
    flat = [square(v, dsp_levels, dsp) for v in a._vars.ravel()]
    return FixedVariableArray(np.array(flat, dtype=object).reshape(a.shape), a.solver_options)


def _quantize_array(x: Any, fmt: FixedFormat) -> Any:
    from da4ml.trace import FixedVariableArray

    flat = [round_half_even(v, fmt) for v in x._vars.ravel()]
    return FixedVariableArray(np.array(flat, dtype=object).reshape(x.shape), x.solver_options)


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
        dsp_products: products that go to DSP slices (one each); ``dsp_levels`` the adder levels each counts.
    """

    comb: Any
    input_format: FixedFormat
    n_inputs: int
    n_outputs: int
    adder_depth: float
    lut_estimate: float
    layer_depth: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    dsp_products: int = 0
    dsp_levels: int | None = None

    def quantize_inputs(self, x: np.ndarray) -> np.ndarray:
        """float64 (n, n_inputs) inputs put on the input grid (what ``input_quant`` does in QKeras)."""
        return self.input_format.quantize(x)


def trace_model(
    model: Any,
    *,
    delay_constraint: int = 2,
    hwconf: tuple[int, int, int] = DEFAULT_HWCONF,
    dsp: DspMultiplier | None = None,
    adder_delay_ns: float = 1.5,
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
        dsp: the target's hard multiplier, when products go to DSP slices: a square that fits one is
            ``dsp.delay_ns / adder_delay_ns`` adder levels deep (rounded up) and costs no LUT.
        adder_delay_ns: the delay of one adder level on the target (converts ``dsp.delay_ns``).

    Raises:
        FirmwareError: an unsupported layer, activation or quantizer (named), or no input quantizer.
    """
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    start = time.perf_counter()
    ops = deployed_ops(model)
    in_fmt = ops[0].fmt
    assert in_fmt is not None  # deployed_ops: the input quantizer first
    n_inputs = int(np.prod(model.inputs[0].shape[1:]))
    k, i, f = (np.full(n_inputs, v) for v in in_fmt.kif())
    inputs = FixedVariableArray.from_kif(
        k, i, f, hwconf=HWConfig(*hwconf), solver_options={"hard_dc": delay_constraint}
    )

    dsp_levels = dsp.levels(adder_delay_ns) if dsp is not None else None

    def multiply(a: Any, b: Any, op: Any) -> Any:
        return _multiply_arrays(a, b, op, dsp_levels, dsp)

    values = evaluate_ops(ops, inputs, quantize=lambda x, fmt, op: _quantize_array(x, fmt), multiply=multiply)
    depth = {op.name: float(np.max(values[op.name].latency)) if i else 0.0 for i, op in enumerate(ops)}

    output = values[ops[-1].name]
    comb = comb_trace(inputs, output)
    seconds = time.perf_counter() - start
    logger.info(
        "traced %s: %d → %d values, adder depth %g, ≈ %.0f LUT (da4ml estimate), %.1f s",
        model.name,
        comb.shape[0],
        comb.shape[1],
        comb.latency[1],
        comb.cost,
        seconds,
    )
    return TracedModel(
        comb=comb,
        input_format=in_fmt,
        n_inputs=int(comb.shape[0]),
        n_outputs=int(comb.shape[1]),
        adder_depth=float(comb.latency[1]),
        lut_estimate=float(comb.cost),
        layer_depth=depth,
        seconds=seconds,
        dsp_products=sum(1 for o in comb.ops if o.opcode == VMUL_OPCODE and o.cost == 0.0),
        dsp_levels=dsp_levels,
    )
