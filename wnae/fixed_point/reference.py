"""The exact reference of the deployed model: its fixed-point graph evaluated in integers.

The firmware gate compares the HLS C simulation and the RTL with *this*, not with QKeras run in
float32. float32 holds integers exactly only up to 2²⁴: a quantized layer with wide weights and
inputs (16-bit weights × 16-bit inputs × 57 terms needs ~37 bits) or an unquantized
sum-of-squares head rounds in float32, and QKeras then differs from what any correct firmware
computes. The reference is built from the QKeras quantizers (:func:`wnae.fixed_point.graph.deployed_ops`):

* every tensor is an integer array ``n`` with a power-of-two scale, value = ``n · 2^-f``;
* ``x @ W + b`` is an integer matrix product at ``f_x + f_W`` fractional bits;
* a quantizer rounds half to even (``tf.round``, QKeras's rounding) at its LSB and saturates
  (``clip(round(x · 2^f), lo, hi) · 2^-f``, QKeras's ``quantized_bits``/``quantized_relu``);
* int64 where a bound on the values proves it cannot overflow, Python integers otherwise.

:func:`exact_reference` also runs QKeras (float32) layer by layer on the same events and says
whether, and at which layer first, it differs from the exact values, and where a static bound
already shows that float32 cannot be trusted (more than 24 significant bits in a layer's sums).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from wnae.errors import FirmwareError
from wnae.fixed_point.graph import FixedFormat, Op, deployed_ops, evaluate_ops

__all__ = ["FLOAT32_EXACT_BITS", "ExactReference", "Fixed", "exact_reference"]

logger = logging.getLogger(__name__)

#: Integers with this many bits or fewer are exact in float32 (24-bit significand).
FLOAT32_EXACT_BITS = 24
_INT64_SAFE_BITS = 62


def _bit_length(bound: int) -> int:
    return int(bound).bit_length()


@dataclass
class Fixed:
    """An exact fixed-point array: value = ``n · 2^-f``.

    Attributes:
        n: integer numerators (int64, or object dtype holding Python ints when int64 could overflow).
        f: fractional bits (the scale).
        bound: an upper bound on ``|n|`` over every element (also of every partial sum that made it).
    """

    n: np.ndarray
    f: int
    bound: int

    @staticmethod
    def _pack(n: np.ndarray, bound: int) -> np.ndarray:
        if bound.bit_length() <= _INT64_SAFE_BITS:
            return n.astype(np.int64) if n.dtype != np.int64 else n
        return n.astype(object)

    @classmethod
    def from_float(cls, values: np.ndarray, where: str) -> Fixed:
        """Exact integers of float64 constants or inputs (every finite double is a binary fraction)."""
        v = np.asarray(values, np.float64)
        if not np.all(np.isfinite(v)):
            msg = f"{where}: non-finite values cannot be put on a fixed-point grid"
            raise FirmwareError(msg)
        mant, exp = np.frexp(v)  # v = mant · 2^exp, |mant| in [0.5, 1): mant · 2^53 is an integer
        ints = np.abs(np.ldexp(mant, 53)).astype(np.int64)
        nonzero = ints != 0
        f = 0
        if nonzero.any():
            low_bit = ints[nonzero] & -ints[nonzero]  # the lowest set bit: 2^(trailing zeros)
            trailing = np.log2(low_bit.astype(np.float64)).astype(np.int64)
            f = max(int(np.max(53 - exp[nonzero] - trailing)), 0)
        scaled = np.ldexp(v, f)
        bound = int(np.max(np.abs(scaled), initial=0.0))
        if bound.bit_length() <= 52:
            n = scaled.astype(np.int64)
        else:
            n = np.array([int(s) for s in scaled.ravel()], dtype=object).reshape(v.shape)
        return cls(cls._pack(n, bound), f, bound)

    def to_float(self) -> np.ndarray:
        """float64 values (exact while |n| < 2^53, which every realistic output is)."""
        if self.n.dtype == object:
            return np.array([float(k) / 2.0**self.f for k in self.n.ravel()], np.float64).reshape(self.n.shape)
        return np.ldexp(self.n.astype(np.float64), -self.f)

    def aligned(self, f: int) -> Fixed:
        """The same values at ``f ≥ self.f`` fractional bits."""
        if f == self.f:
            return self
        shift = f - self.f
        bound = self.bound << shift
        n = self._pack(self.n, bound)
        return Fixed(n * (1 << shift) if n.dtype == object else n << shift, f, bound)

    def __matmul__(self, w: Fixed) -> Fixed:
        col = np.abs(w.n).sum(axis=0) if w.n.size else np.zeros(1, np.int64)
        bound = self.bound * int(max(col.max(initial=0), 0))
        if bound.bit_length() <= _INT64_SAFE_BITS:
            n = self.n.astype(np.int64) @ w.n.astype(np.int64)
        else:
            n = self.n.astype(object) @ w.n.astype(object)
        return Fixed(n, self.f + w.f, bound)

    def __add__(self, other: Fixed) -> Fixed:
        f = max(self.f, other.f)
        a, b = self.aligned(f), other.aligned(f)
        bound = a.bound + b.bound
        return Fixed(self._pack(a.n, bound) + self._pack(b.n, bound), f, bound)

    def __neg__(self) -> Fixed:
        return Fixed(-self.n, self.f, self.bound)

    def __sub__(self, other: Fixed) -> Fixed:
        return self + (-other)

    def __mul__(self, other: Fixed) -> Fixed:
        bound = self.bound * other.bound
        return Fixed(self._pack(self.n, bound) * self._pack(other.n, bound), self.f + other.f, bound)

    def relu(self) -> Fixed:
        return Fixed(np.maximum(self.n, 0), self.f, self.bound)

    def quantize(self, fmt: FixedFormat) -> Fixed:
        """Round half to even onto ``fmt``'s LSB, then saturate to its range (QKeras's order)."""
        ft = fmt.fractional
        n = self.n
        if self.f > ft:
            s = self.f - ft
            q = n >> s  # floor, for int64 and Python ints alike
            rem = n - (q << s) if n.dtype != object else n - q * (1 << s)
            half = 1 << (s - 1)
            up = (rem > half) | ((rem == half) & ((q & 1) == 1))
            n = q + up.astype(np.int64 if q.dtype != object else object)
        elif self.f < ft:
            n = self.aligned(ft).n
        hi = (1 << (fmt.integer + fmt.fractional)) - 1
        lo = -(1 << (fmt.integer + fmt.fractional)) if fmt.signed else 0
        n = np.minimum(np.maximum(n, lo), hi)
        return Fixed(n.astype(np.int64), ft, max(hi, -lo))


@dataclass
class ExactReference:
    """The exact outputs of the deployed model, and how QKeras float32 compares with them.

    Attributes:
        outputs: float64 (n, outputs) exact outputs.
        qkeras_outputs: float64 (n, outputs) what QKeras (float32) gives.
        qkeras_mismatch: output values where QKeras differs from the exact reference.
        first_inexact_layer: the first layer (model order) where QKeras differs, with
            ``first_inexact_count`` values there; None when QKeras is exact on these events.
        unsafe_layer: the first layer whose sums need more than 24 significant bits (float32 is
            then not guaranteed exact), with ``unsafe_bits``; None when float32 is provably exact.
        layer_bits: layer → significant bits its exact sums need.
    """

    outputs: np.ndarray
    qkeras_outputs: np.ndarray
    qkeras_mismatch: int
    first_inexact_layer: str | None
    first_inexact_count: int
    unsafe_layer: str | None
    unsafe_bits: int
    layer_bits: dict[str, int]

    @property
    def qkeras_exact(self) -> bool:
        return self.qkeras_mismatch == 0 and self.first_inexact_layer is None

    def qkeras_note(self) -> str:
        """Does QKeras (float32) agree with the exact reference, and if not where it breaks (one line)."""
        n = self.outputs.size
        if self.qkeras_exact:
            proof = (
                "provably exact (every layer within float32's 24 bits)"
                if self.unsafe_layer is None
                else f"exact on these events, though layer '{self.unsafe_layer}' needs {self.unsafe_bits} bits"
            )
            return f"agrees with the exact reference (0 of {n} differ; {proof})"
        where = (
            f"first at layer '{self.first_inexact_layer}' ({self.first_inexact_count} values)"
            if self.first_inexact_layer
            else "at the output"
        )
        bits = (
            f"; layer '{self.unsafe_layer}' needs {self.unsafe_bits} significant bits > float32's {FLOAT32_EXACT_BITS}"
            if self.unsafe_layer
            else ""
        )
        return f"NOT exact: {self.qkeras_mismatch} of {n} outputs differ from the exact reference, {where}{bits}"


def exact_reference(
    model: Any,
    x: np.ndarray,
    *,
    compare_qkeras: bool = True,
    batch_size: int = 8192,
    ops: list[Op] | None = None,
) -> ExactReference:
    """Evaluate the deployed ``model`` exactly on float inputs ``x`` (n, n_inputs).

    Args:
        model: the deployed QKeras model (first layer after the input: the input quantizer).
        x: inputs as QKeras receives them (normalised features, float32 or float64).
        compare_qkeras: also run QKeras layer by layer (float32) and compare.
        batch_size: QKeras's batch size for that comparison.
        ops: ``deployed_ops(model)`` when the caller evaluates the model chunk by chunk (walked once).

    Raises:
        FirmwareError: the model is not a plain fixed-point computation (naming the layer).
    """
    ops = deployed_ops(model) if ops is None else ops
    x = np.asarray(x)
    x64 = np.asarray(x, np.float64).reshape(len(x), -1)
    if not np.all(np.isfinite(x64)):
        msg = f"{int(np.sum(~np.isfinite(x64)))} input values are NaN or infinite"
        raise FirmwareError(msg)
    pre_bounds: dict[str, int] = {}  # bound of each layer's sums before its rounding: what float32 must hold

    def quantize(value: Fixed, fmt: FixedFormat, op: Op) -> Fixed:
        pre_bounds[op.name] = value.bound
        return value.quantize(fmt)

    # the input quantizer in float64 is exact (x / LSB is a power-of-two scaling, np.round rounds ties to even)
    in_fmt = ops[0].fmt
    assert in_fmt is not None  # deployed_ops: the input quantizer first
    first = Fixed.from_float(in_fmt.quantize(x64), f"layer '{ops[0].name}'")
    values = evaluate_ops(ops, first, quantize=quantize, constant=Fixed.from_float)
    layer_bits = {
        op.name: _bit_length(pre_bounds.get(op.name, values[op.name].bound)) if i else 0 for i, op in enumerate(ops)
    }
    out = values[ops[-1].name].to_float().reshape(len(x), -1)
    unsafe: tuple[str | None, int] = next(
        ((name, bits) for name, bits in layer_bits.items() if bits > FLOAT32_EXACT_BITS), (None, 0)
    )

    if not compare_qkeras:
        return ExactReference(out, out, 0, None, 0, unsafe[0], unsafe[1], layer_bits)
    from tensorflow import keras

    names = [op.name for op in ops]
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    per_layer = probe.predict(x, batch_size=batch_size, verbose=0)
    per_layer = per_layer if isinstance(per_layer, list) else [per_layer]
    first_layer: str | None = None
    first_count = 0
    for name, got in zip(names, per_layer, strict=True):
        exact = values[name].to_float().reshape(len(x), -1)
        differ = int(np.sum(np.asarray(got, np.float64).reshape(exact.shape) != exact))
        if differ:
            first_layer, first_count = name, differ
            break
    y_q = np.asarray(per_layer[-1], np.float64).reshape(out.shape)
    mismatch = int(np.sum(y_q != out))
    if first_layer is not None or mismatch:
        logger.warning(
            "QKeras float32 differs from the exact fixed-point reference: %d of %d outputs, first at layer %s",
            mismatch,
            out.size,
            first_layer,
        )
    return ExactReference(out, y_q, mismatch, first_layer, first_count, unsafe[0], unsafe[1], layer_bits)
