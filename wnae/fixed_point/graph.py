"""The deployed QKeras model as a list of fixed-point operations: what goes on chip, checked once.

Every consumer of the deployed model's arithmetic reads it from here: the exact reference
(:mod:`wnae.fixed_point.reference`), the da4ml RTL trace (:mod:`wnae.firmware.rtl.trace`) and the
hls4ml conversion's checks (:mod:`wnae.firmware.convert`). :func:`deployed_ops` walks the model
once and returns :class:`Op` objects, or refuses — naming the layer — anything that is not a
plain fixed-point computation:

* the first layer after the input must be the input quantizer ``QActivation(quantized_bits)``
  (the FPGA input needs a fixed-point format; without it hls4ml silently assumes
  ``ap_fixed<16,6>``);
* layers: ``QActivation``, ``QDense``, ``Dense``, ``Subtract``, ``Add``, ``Multiply`` (a float
  ``BatchNormalization``, say, is refused: fold it into the dense layer before deploying);
* quantizers: ``quantized_bits`` and ``quantized_relu`` that are plain grids (:class:`FixedFormat`):
  ``alpha=1`` (QKeras turns a kernel quantizer without ``alpha`` into ``alpha='auto_po2'``, a
  per-channel power-of-two scale, and ``symmetric=True``), no ``symmetric`` activations (they
  saturate at −(2^I − LSB), not −2^I), no stochastic rounding, no leaky/sigmoid/upper-bounded ReLU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wnae.errors import FirmwareError

__all__ = ["FixedFormat", "Op", "deployed_ops", "evaluate_ops", "inbound_names", "quantizer_format"]

SUPPORTED_LAYERS = ("QActivation", "QDense", "Dense", "Subtract", "Add", "Multiply")


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

    def hls_type(self) -> str:
        """hls4ml precision string, e.g. ``fixed<16,8,RND_CONV,SAT>`` (``ap_`` left off, as hls4ml's config)."""
        kind = "fixed" if self.signed else "ufixed"
        return f"{kind}<{self.bits},{self.integer + int(self.signed)},RND_CONV,SAT>"

    def __str__(self) -> str:
        kind = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{kind}<{self.bits},{self.integer + int(self.signed)}>"


def quantizer_format(quantizer: Any, where: str, *, weights: bool = False) -> FixedFormat:
    """The grid of a QKeras ``quantized_bits``/``quantized_relu`` quantizer object.

    ``weights``: the quantizer makes constants (kernel, bias): ``symmetric`` only narrows their
    range, so it is allowed there.

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
        alpha = getattr(quantizer, "alpha", cfg.get("alpha"))
        if alpha not in (1, 1.0, None):
            problems.append(f"alpha={alpha!r} (use alpha=1)")
        if getattr(quantizer, "symmetric", cfg.get("symmetric")) and not weights:
            problems.append("symmetric=True (saturates at -(2^I - LSB); use symmetric=0)")
        signed = bool(cfg.get("keep_negative", True))
        integer = int(cfg["integer"])
        fmt = FixedFormat(signed, integer, int(cfg["bits"]) - integer - int(signed))
        if cfg["bits"] - int(signed) < 1:
            problems.append(f"{cfg['bits']} bit(s) (a binary quantizer, not a fixed-point grid)")
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
        msg = f"{where}: quantizer {name} is not supported on chip (quantized_bits or quantized_relu with alpha=1 only)"
        raise FirmwareError(msg)
    if problems:
        msg = f"{where}: {name} with {', '.join(problems)} is not a fixed-point grid the firmware computes exactly"
        raise FirmwareError(msg)
    return fmt


def inbound_names(layer: Any) -> list[str]:
    """Names of the layers feeding ``layer`` (its first call)."""
    nodes = layer.inbound_nodes
    if not nodes:
        return []
    inbound = nodes[0].inbound_layers
    return [lay.name for lay in (inbound if isinstance(inbound, list) else [inbound])]


@dataclass
class Op:
    """One on-chip operation.

    Attributes:
        name: the Keras layer's name.
        kind: ``quantize`` (``fmt``), ``dense`` (``kernel``, ``bias``, then ``activation``),
            ``subtract``, ``add`` or ``multiply`` (element-wise, over ``inputs`` in order).
        inputs: names of the ops it reads (the input quantizer: the model's input layer).
        layer_class: the Keras class name.
        fmt: the quantizer's grid (``quantize``).
        kernel, bias: float64 constants exactly as QKeras applies them (``dense``; bias may be None).
        activation: ``linear``, ``relu`` or a :class:`FixedFormat` (``dense``).
        kernel_format, bias_format: the grid of a ``QDense``'s kernel/bias quantizer (None for a
            Dense, or when the quantizer is not a plain grid: then ``weight_problems`` says why).
            The constants themselves are exact whatever their quantizer (the reference and the RTL
            use them as they are); only a conversion that needs a weight *type* depends on the grid.
        quantizer: class name of the quantizer that ends the op (``quantized_bits``, ``quantized_relu``), if any.
    """

    name: str
    kind: str
    inputs: list[str]
    layer_class: str
    fmt: FixedFormat | None = None
    kernel: np.ndarray | None = None
    bias: np.ndarray | None = None
    activation: str | FixedFormat = "linear"
    kernel_format: FixedFormat | None = None
    bias_format: FixedFormat | None = None
    weight_problems: list[str] = field(default_factory=list)
    quantizer: str = ""

    @property
    def rounds(self) -> bool:
        """The op ends on a quantizer's grid (its result is rounded and saturated)."""
        return self.kind == "quantize" or isinstance(self.activation, FixedFormat)


def _activation(layer: Any, where: str) -> str | FixedFormat:
    from qkeras.quantizers import BaseQuantizer
    from tensorflow import keras

    act = layer.activation
    act_name = getattr(act, "__name__", act.__class__.__name__)
    if isinstance(act, BaseQuantizer):
        return quantizer_format(act, f"{where} activation")
    if act is keras.activations.linear or act_name == "linear":
        return "linear"
    if act is keras.activations.relu or act_name == "relu":
        return "relu"
    msg = f"{where}: activation {act_name!r} is not supported on chip (linear, relu or a QKeras quantizer)"
    raise FirmwareError(msg)


def _weight_format(quantizer: Any, where: str, problems: list[str]) -> FixedFormat | None:
    if quantizer is None:
        problems.append(f"{where}: no quantizer (float weights have no fixed-point format)")
        return None
    try:
        return quantizer_format(quantizer, where, weights=True)
    except FirmwareError as exc:
        problems.append(str(exc))
        return None


def _dense(layer: Any, inputs: list[str], quantized: bool) -> Op:
    where = f"layer '{layer.name}'"
    kernel_format = bias_format = None
    problems: list[str] = []
    if quantized:
        kq, bq = layer.kernel_quantizer_internal, layer.bias_quantizer_internal
        kernel_format = _weight_format(kq, f"{where} kernel quantizer", problems)
        kernel = np.asarray(kq(layer.kernel) if kq is not None else layer.kernel, np.float64)
        bias = None
        if layer.use_bias:
            bias_format = _weight_format(bq, f"{where} bias quantizer", problems)
            bias = np.asarray(bq(layer.bias) if bq is not None else layer.bias, np.float64)
    else:
        weights = layer.get_weights()
        kernel = np.asarray(weights[0], np.float64)
        bias = np.asarray(weights[1], np.float64) if layer.use_bias else None
    activation = _activation(layer, where)
    return Op(
        layer.name,
        "dense",
        inputs,
        layer.__class__.__name__,
        kernel=kernel,
        bias=bias,
        activation=activation,
        kernel_format=kernel_format,
        bias_format=bias_format,
        weight_problems=problems,
        quantizer=layer.activation.__class__.__name__ if isinstance(activation, FixedFormat) else "",
    )


def deployed_ops(model: Any) -> list[Op]:
    """The deployed model's operations in order, the input quantizer first.

    Raises:
        FirmwareError: anything the firmware cannot compute exactly, naming the layer (see the
            module docstring).
    """
    layers = list(model.layers)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        msg = f"model '{model.name}': the firmware needs one input and one output"
        raise FirmwareError(msg)
    first = layers[1] if len(layers) > 1 else None
    if first is None or first.__class__.__name__ != "QActivation" or inbound_names(first) != [layers[0].name]:
        msg = (
            f"model '{model.name}': the first layer after the input must be the input quantizer "
            "(QActivation(quantized_bits(..., alpha=1))); the FPGA input needs a fixed-point format"
        )
        raise FirmwareError(msg)
    in_fmt = quantizer_format(first.quantizer, f"layer '{first.name}' (input quantizer)")
    ops = [Op(first.name, "quantize", [layers[0].name], "QActivation", fmt=in_fmt, quantizer="quantized_bits")]
    known = {first.name}
    for layer in layers[2:]:
        cls = layer.__class__.__name__
        where = f"layer '{layer.name}'"
        inputs = inbound_names(layer)
        if layers[0].name in inputs:
            msg = f"{where} ({cls}) reads the unquantized input; only the input quantizer may"
            raise FirmwareError(msg)
        if cls == "QActivation":
            ops.append(
                Op(
                    layer.name,
                    "quantize",
                    inputs,
                    cls,
                    fmt=quantizer_format(layer.quantizer, where),
                    quantizer=layer.quantizer.__class__.__name__,
                )
            )
        elif cls in ("QDense", "Dense"):
            ops.append(_dense(layer, inputs, quantized=cls == "QDense"))
        elif cls in ("Subtract", "Add", "Multiply"):
            ops.append(Op(layer.name, cls.lower(), inputs, cls))
        else:
            msg = (
                f"{where}: {cls} is not supported on chip ({', '.join(SUPPORTED_LAYERS)}); fold it into the "
                "layers around it before deploying"
            )
            raise FirmwareError(msg)
        missing = [name for name in inputs if name not in known]
        if missing:
            msg = f"{where} reads {', '.join(missing)}, which is not computed before it"
            raise FirmwareError(msg)
        known.add(layer.name)
    if list(getattr(model, "output_names", [layers[-1].name])) != [layers[-1].name]:
        msg = f"model '{model.name}': the output must be the last layer"
        raise FirmwareError(msg)
    return ops


def evaluate_ops(
    ops: list[Op],
    inputs: Any,
    *,
    quantize: Callable[[Any, FixedFormat, Op], Any],
    constant: Callable[[np.ndarray, str], Any] = lambda values, where: values,
    multiply: Callable[[Any, Any, Op], Any] | None = None,
) -> dict[str, Any]:
    """Run ``ops`` on a number type of the caller's: exact integers, da4ml symbols, ...

    Args:
        ops: from :func:`deployed_ops`.
        inputs: the value of the input quantizer's output (already on its grid).
        quantize: ``quantize(value, fmt, op)``: ``value`` rounded half to even onto ``fmt``, saturated.
        constant: turns a float64 kernel/bias into the number type (default: as is).
        multiply: ``multiply(a, b, op)``: the element-wise product of a ``Multiply`` layer's two
            inputs (default ``a * b``; the RTL trace builds squares as lookup tables).

    Returns:
        op name → its value. Values must support ``@`` (with a constant), ``+``, ``-``, ``*`` and ``.relu()``.
    """
    values: dict[str, Any] = {ops[0].name: inputs}
    for op in ops[1:]:
        args = [values[name] for name in op.inputs]
        where = f"layer '{op.name}'"
        if op.kind == "quantize":
            assert op.fmt is not None  # deployed_ops gives every quantize op its grid
            out = quantize(args[0], op.fmt, op)
        elif op.kind == "dense":
            assert op.kernel is not None  # deployed_ops gives every dense op its kernel
            out = args[0] @ constant(op.kernel, f"{where} kernel")
            if op.bias is not None:
                out = out + constant(op.bias, f"{where} bias")
            if isinstance(op.activation, FixedFormat):
                out = quantize(out, op.activation, op)
            elif op.activation == "relu":
                out = out.relu()
        elif op.kind == "multiply" and multiply is not None and len(args) == 2:
            out = multiply(args[0], args[1], op)
        else:
            out = args[0]
            for other in args[1:]:
                out = out - other if op.kind == "subtract" else (out + other if op.kind == "add" else out * other)
        values[op.name] = out
    return values
