"""One description of a fixed-point number, turned into a QKeras quantizer and an HLS type.

Sign-bit convention — the one place it is converted:

* ``QuantSpec(bits=W, integer=I, signed=True)`` is QKeras ``quantized_bits(W, I, keep_negative=True)``:
  ``I`` integer bits **not counting** the sign bit, ``W − I − 1`` fractional bits. In HLS this is
  ``ap_fixed<W, I + 1>`` (``ap_fixed`` counts the sign bit among its integer bits).
* ``QuantSpec(bits=W, integer=I, signed=False)`` is ``quantized_bits(W, I, keep_negative=False)``
  (or ``quantized_relu(W, I)`` for an activation): ``ap_ufixed<W, I>``, ``W − I`` fractional bits.

QKeras rounds to nearest (ties to even, ``tf.round``) and saturates; the HLS types therefore use
``AP_RND_CONV`` and ``AP_SAT``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from wnae.config import StrictModel

__all__ = ["QuantSpec"]


class QuantSpec(StrictModel):
    """A fixed-point format: total bits, integer bits (sign excluded), signedness.

    Example:
        >>> q = QuantSpec(bits=16, integer=7)
        >>> q.fractional_bits, q.lsb, q.min_value, q.max_value
        (8, 0.00390625, -128.0, 127.99609375)
        >>> q.ap_type()
        'ap_fixed<16,8,AP_RND_CONV,AP_SAT>'
        >>> QuantSpec(bits=18, integer=14, signed=False).ap_type()
        'ap_ufixed<18,14,AP_RND_CONV,AP_SAT>'
    """

    bits: int = Field(ge=2, le=32)
    integer: int = Field(ge=0, le=31)
    signed: bool = True

    @model_validator(mode="after")
    def _fits(self) -> QuantSpec:
        if self.integer + int(self.signed) > self.bits:
            msg = f"{self.integer} integer bits{' + sign' if self.signed else ''} do not fit in {self.bits} bits"
            raise ValueError(msg)
        return self

    @property
    def fractional_bits(self) -> int:
        return self.bits - self.integer - int(self.signed)

    @property
    def lsb(self) -> float:
        return 2.0**-self.fractional_bits

    @property
    def max_value(self) -> float:
        return 2.0**self.integer - self.lsb

    @property
    def min_value(self) -> float:
        return -(2.0**self.integer) if self.signed else 0.0

    def quantizer(self) -> Any:  # a QKeras quantizer
        """QKeras ``quantized_bits`` with ``alpha=1`` (a pure fixed-point grid, no scale)."""
        from qkeras import quantized_bits

        return quantized_bits(self.bits, self.integer, keep_negative=self.signed, alpha=1)

    def relu(self) -> Any:
        """QKeras ``quantized_relu`` of this (unsigned) format."""
        from qkeras import quantized_relu

        return quantized_relu(self.bits, self.integer)

    def ap_type(self) -> str:
        """The HLS type, e.g. ``ap_fixed<16,8,AP_RND_CONV,AP_SAT>``."""
        if self.signed:
            return f"ap_fixed<{self.bits},{self.integer + 1},AP_RND_CONV,AP_SAT>"
        return f"ap_ufixed<{self.bits},{self.integer},AP_RND_CONV,AP_SAT>"
