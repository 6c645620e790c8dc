"""Xilinx arbitrary-precision types (``ap_fixed<W,I,Q,O,N>``, ``ap_ufixed``, ``ap_int<W>``) parsed and checked.

Example:
    >>> parse_ap_type("ap_ufixed<10,6,AP_RND_CONV,AP_SAT>").fractional_bits
    4
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ApType", "parse_ap_type"]

_ROUNDING_MODES = ("AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV", "AP_TRN", "AP_TRN_ZERO")
_SATURATION_MODES = ("AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM", "AP_WRAP", "AP_WRAP_SM")
_FIXED_RE = re.compile(
    r"^ap_(?P<kind>u?fixed)<(?P<w>\d+),(?P<i>-?\d+)(?:,(?P<q>\w+)(?:,(?P<o>\w+)(?:,(?P<n>\d+))?)?)?>$"
)
_INT_RE = re.compile(r"^ap_(?P<kind>u?int)<(?P<w>\d+)>$")
#: Widest type the Xilinx ap_* headers accept by default (AP_INT_MAX_W).
_MAX_WIDTH_BITS = 1024


@dataclass(frozen=True)
class ApType:
    """A parsed Xilinx arbitrary-precision type (``ap_fixed<W,I,Q,O,N>``, ``ap_ufixed``, ``ap_int<W>``).

    Attributes:
        signed: ``ap_fixed``/``ap_int`` (True) or ``ap_ufixed``/``ap_uint`` (False).
        total_bits: W, all bits including the sign bit.
        integer_bits: I, integer bits *including* the sign bit for signed types (QKeras's
            ``integer`` excludes it: ``ap_fixed<W,I>`` ≡ ``quantized_bits(W, I-1)``).
        rounding: quantisation mode (``AP_TRN`` when not given).
        saturation: overflow mode (``AP_WRAP`` when not given).
    """

    signed: bool
    total_bits: int
    integer_bits: int
    rounding: str = "AP_TRN"
    saturation: str = "AP_WRAP"
    text: str = ""

    @property
    def fractional_bits(self) -> int:
        """W − I."""
        return self.total_bits - self.integer_bits


def parse_ap_type(text: str) -> ApType:
    """Parse and check an ``ap_fixed``/``ap_ufixed``/``ap_int``/``ap_uint`` string.

    Args:
        text: e.g. ``"ap_fixed<16,6>"``, ``"ap_ufixed<18,14,AP_RND,AP_SAT>"``, ``"ap_int<8>"``;
            spaces are ignored.

    Returns:
        The parsed type; :attr:`ApType.text` is the string without spaces.

    Raises:
        ValueError: the string is not such a type, its width is not 1–1024 bits, or its rounding
            or saturation mode is unknown.

    Example:
        >>> parse_ap_type("ap_fixed<16, 6, AP_RND, AP_SAT>").fractional_bits
        10
    """
    compact = re.sub(r"\s+", "", str(text))
    m = _FIXED_RE.match(compact)
    if m:
        total, integer = int(m["w"]), int(m["i"])
        rounding, saturation = m["q"] or "AP_TRN", m["o"] or "AP_WRAP"
        if rounding not in _ROUNDING_MODES:
            msg = f"{text!r}: unknown rounding mode {rounding!r}; one of {', '.join(_ROUNDING_MODES)}"
            raise ValueError(msg)
        if saturation not in _SATURATION_MODES:
            msg = f"{text!r}: unknown saturation mode {saturation!r}; one of {', '.join(_SATURATION_MODES)}"
            raise ValueError(msg)
        signed = m["kind"] == "fixed"
    else:
        m = _INT_RE.match(compact)
        if not m:
            msg = (
                f"{text!r} is not an HLS fixed-point type; expected e.g. 'ap_fixed<16,6>', "
                "'ap_ufixed<18,14,AP_RND,AP_SAT>' or 'ap_int<8>'"
            )
            raise ValueError(msg)
        total = integer = int(m["w"])
        rounding, saturation = "AP_TRN", "AP_WRAP"
        signed = m["kind"] == "int"
    if not 1 <= total <= _MAX_WIDTH_BITS:
        msg = f"{text!r}: width must be 1–{_MAX_WIDTH_BITS} bits, got {total}"
        raise ValueError(msg)
    return ApType(signed, total, integer, rounding, saturation, compact)
