"""Raw L1 hardware inputs and AXOL1TL's on-chip scaling, modelled bit for bit.

In CMS the Global Trigger hands an anomaly-detection network 57 integers in L1 hardware units, in
the order of CMSSW's ``AXOL1TLCondition`` (``ADModelInput``): MET, 4 e/γ, 4 muons, 10 jets, each
``(pT, η, φ)``, pT-ordered, zero for an empty slot:

=====================  ==================  ==========================  ==========================
object                 pT                  η                           φ
=====================  ==================  ==========================  ==========================
MET (``kMissingEt``)   ``hwPt / 2``        0                           ``hwPhi``, 2π/144
e/γ, jets (calo)       ``hwPt / 2``        ``hwEta``, 0.0435           ``hwPhi``, 2π/144
muons (at the vertex)  ``hwPt / 2``        ``hwEtaAtVtx``, 0.010875    ``hwPhiAtVtx``, 2π/576
=====================  ==================  ==========================  ==========================

``hwPt`` counts 0.5 GeV, so ``hwPt / 2`` (C++ integer division) is the pT in whole GeV, rounded
down; φ is an unsigned index in [0, 144) or [0, 576). :func:`l1_hardware_integers` digitises our
physical features this way.

The network scales them itself, as AXOL1TL's firmware and emulator do (``scaleNNInputs``)::

    unscaled_t tmp0 = x - ad_offsets[i];        // ap_fixed<18,13>: wraps
    input_t    tmp1 = tmp0 >> ad_shift[i];      // the shift acts in ap_fixed<18,13>: floors to 2^-5;
                                                // a negative shift is a left shift (wraps)

then the cast to the network's input type (``ap_fixed<14,6,AP_RND_CONV,AP_SAT>``: the model's input
quantizer). :func:`scale_hardware` is that arithmetic in integers, checked against g++ and the
``ap_types`` headers in the tests; its result is the ``ap_fixed<18,13>`` value before the cast, which
the model's own input quantizer then performs. :class:`L1HardwareNormaliser` (``normalisation:
l1_hardware``) trains on exactly these numbers, so QKeras, the C simulation, the RTL and the CMSSW
emulator plug-in see the same inputs from the same 57 integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from wnae.data.preprocess import FeatureMoments, Normaliser, as_features
from wnae.data.schema import FEATURE_NAMES, N_FEATURES, ObjectType, slot_ranges
from wnae.errors import DataError

__all__ = [
    "OFFSET_BITS",
    "SHIFT_BITS",
    "UNSCALED_FRACTIONAL",
    "UNSCALED_INTEGER",
    "UNSCALED_WIDTH",
    "L1HardwareNormaliser",
    "hardware_edge_cases",
    "hardware_units",
    "l1_hardware_integers",
    "scale_hardware",
]

#: ``unscaled_t`` = ``ap_fixed<18,13>``: the type the offset and the shift act in.
UNSCALED_WIDTH: int = 18
UNSCALED_INTEGER: int = 13
UNSCALED_FRACTIONAL: int = UNSCALED_WIDTH - UNSCALED_INTEGER
#: ``ad_offset_t`` = ``ap_fixed<10,10>`` and ``ad_shift_t`` = ``ap_fixed<5,5>`` (AXOL1TL's ``scales.h``).
OFFSET_BITS: int = 10
SHIFT_BITS: int = 5

#: L1 hardware units (physical size of one integer step): pT 0.5 GeV before the halving.
PT_LSB_GEV: float = 0.5
CALO_ETA_LSB: float = 0.0435
CALO_PHI_BINS: int = 144
MUON_ETA_LSB: float = 0.010875
MUON_PHI_BINS: int = 576


def hardware_units() -> tuple[np.ndarray, np.ndarray]:
    """Per input (57,): the physical size of one unit of the input (pT in GeV after the halving, η,
    φ in rad) and the number of φ bins (0 where the input is not a φ)."""
    lsb = np.zeros(N_FEATURES)
    phi_bins = np.zeros(N_FEATURES, np.int64)
    for r in slot_ranges():
        muon = r.object_type == ObjectType.MUON
        for slot in range(r.start, r.stop):
            lsb[3 * slot] = 2 * PT_LSB_GEV
            lsb[3 * slot + 1] = MUON_ETA_LSB if muon else CALO_ETA_LSB
            bins = MUON_PHI_BINS if muon else CALO_PHI_BINS
            lsb[3 * slot + 2] = 2 * math.pi / bins
            phi_bins[3 * slot + 2] = bins
    return lsb, phi_bins


def l1_hardware_integers(x: np.ndarray) -> np.ndarray:
    """int64 (n, 57): the hardware integers CMSSW hands the network, from physical features.

    ``hwPt = round(pT / 0.5 GeV)`` then ``hwPt // 2``; η ``round(η / LSB)`` (calo 0.0435, muons at
    the vertex 0.010875); φ ``round(φ / LSB) mod bins`` with φ taken in [0, 2π) (calo 144 bins, muons
    576). Rounding is half to even. An empty slot (pT 0) is all zero, as CMSSW fills it.
    """
    f = as_features(x)
    lsb, phi_bins = hardware_units()
    hw = np.empty(f.shape, np.int64)
    pt = f[:, 0::3]
    hw[:, 0::3] = np.rint(pt / PT_LSB_GEV).astype(np.int64) // 2
    hw[:, 1::3] = np.rint(f[:, 1::3] / lsb[1::3]).astype(np.int64)
    bins = phi_bins[2::3]
    phi = np.mod(f[:, 2::3], 2 * math.pi)
    hw[:, 2::3] = np.mod(np.rint(phi / lsb[2::3]).astype(np.int64), bins)
    empty = np.repeat(pt <= 0, 3, axis=1)
    hw[empty] = 0
    return hw


def _wrap(v: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap-around of integers to ``bits`` bits (ap_fixed's default AP_WRAP)."""
    half = 1 << (bits - 1)
    return ((v + half) & ((1 << bits) - 1)) - half


def scale_hardware(hw: np.ndarray, offset: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """float32 (n, 57): ``(hw − offset) >> shift`` evaluated as AXOL1TL's firmware does.

    In units of 2⁻⁵ (the fractional bits of ``ap_fixed<18,13>``): the integer input wraps to 18 bits,
    the difference wraps to 18 bits, a shift ``s ≥ 0`` is an arithmetic right shift (floor), a
    negative one a left shift by ``−s`` that wraps. The result is exact in float32 (18 bits); the
    model's input quantizer then casts it to the input type.
    """
    hw = np.asarray(hw, np.int64)
    offset = np.asarray(offset, np.int64)
    shift = np.asarray(shift, np.int64)
    one = 1 << UNSCALED_FRACTIONAL
    t = _wrap(_wrap(hw * one, UNSCALED_WIDTH) - offset * one, UNSCALED_WIDTH)
    right = np.right_shift(t, np.maximum(shift, 0))
    left = _wrap(np.left_shift(t, np.maximum(-shift, 0)), UNSCALED_WIDTH)
    t = np.where(shift >= 0, right, left)
    return np.ldexp(t.astype(np.float64), -UNSCALED_FRACTIONAL).astype(np.float32)


def _check_scales(
    offset: np.ndarray, shift: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None
) -> None:
    """Raise :class:`DataError` naming the first input whose offset/shift does not fit its type or whose
    data range would wrap around in ``ap_fixed<18,13>``."""
    o_lo, o_hi = -(1 << (OFFSET_BITS - 1)), (1 << (OFFSET_BITS - 1)) - 1
    s_lo, s_hi = -(1 << (SHIFT_BITS - 1)), (1 << (SHIFT_BITS - 1)) - 1
    u_lo, u_hi = -(1 << (UNSCALED_INTEGER - 1)), (1 << (UNSCALED_INTEGER - 1)) - 1
    for i, name in enumerate(FEATURE_NAMES):
        if not o_lo <= offset[i] <= o_hi:
            msg = (
                f"l1_hardware normalisation of input '{name}': offset {offset[i]} is outside "
                f"[{o_lo}, {o_hi}] (ad_offset_t, ap_fixed<{OFFSET_BITS},{OFFSET_BITS}>)"
            )
            raise DataError(msg)
        if not s_lo <= shift[i] <= s_hi:
            msg = (
                f"l1_hardware normalisation of input '{name}': shift {shift[i]} is outside "
                f"[{s_lo}, {s_hi}] (ad_shift_t, ap_fixed<{SHIFT_BITS},{SHIFT_BITS}>)"
            )
            raise DataError(msg)
        if lo is None or hi is None:
            continue
        for value in (lo[i], hi[i]):
            scaled = (value - offset[i]) * 2.0 ** max(-int(shift[i]), 0)
            if not (u_lo <= value <= u_hi and u_lo <= value - offset[i] <= u_hi and u_lo <= scaled <= u_hi):
                msg = (
                    f"l1_hardware normalisation of input '{name}': the hardware value {value:.0f} (offset "
                    f"{offset[i]}, shift {shift[i]}) wraps around in ap_fixed<{UNSCALED_WIDTH},{UNSCALED_INTEGER}> "
                    f"([{u_lo}, {u_hi}]); check the input data"
                )
                raise DataError(msg)


@dataclass(frozen=True)
class L1HardwareNormaliser(Normaliser):
    """Raw L1 hardware integers, scaled as on chip: ``(hw − offset) >> shift`` (AXOL1TL's arithmetic).

    Attributes:
        offset: int (57,) ``ad_offsets``, in ``ap_fixed<10,10>``.
        shift: int (57,) ``ad_shift``, in ``ap_fixed<5,5>``; negative: a left shift.

    Fitted: ``offset`` the mean hardware value rounded half to even, ``shift`` the smallest integer
    with ``std / 2^shift ≤ 1`` (negative for an input whose spread is below one unit; 0 for a
    constant one). Given: write ``{"kind": "l1_hardware", "offset": [...], "shift": [...]}`` (e.g.
    AXOL1TL v6's ``scales.h``) and load it with :func:`~wnae.data.preprocess.load_normaliser`.
    """

    kind: ClassVar[str] = "l1_hardware"
    offset: np.ndarray
    shift: np.ndarray

    def __post_init__(self) -> None:
        for name in ("offset", "shift"):
            value = np.asarray(getattr(self, name))
            if value.shape != (N_FEATURES,) or not np.all(value == np.round(value)):
                msg = f"l1_hardware normalisation: '{name}' must be {N_FEATURES} integers, got shape {value.shape}"
                raise DataError(msg)
            object.__setattr__(self, name, value.astype(np.int64))
        _check_scales(self.offset, self.shift)

    @staticmethod
    def to_hardware(x: np.ndarray) -> np.ndarray:
        """int64 (n, 57): the 57 hardware integers (:func:`l1_hardware_integers`)."""
        return l1_hardware_integers(x)

    def transform_hardware(self, hw: np.ndarray) -> np.ndarray:
        """float32 (n, 57) model inputs from the 57 hardware integers per event."""
        hw = np.asarray(hw)
        if hw.ndim != 2 or hw.shape[1] != N_FEATURES:
            msg = f"expected hardware inputs of shape (n, {N_FEATURES}), got {hw.shape}"
            raise DataError(msg)
        return scale_hardware(hw, self.offset, self.shift)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return self.transform_hardware(self.to_hardware(x))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(FEATURE_NAMES), "offset": self.offset.tolist(), "shift": self.shift.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> L1HardwareNormaliser:
        return cls(np.asarray(d["offset"]), np.asarray(d["shift"]))

    @classmethod
    def fit_view(cls, features: np.ndarray) -> np.ndarray:
        return l1_hardware_integers(features).astype(np.float64)

    @classmethod
    def fit_moments(cls, moments: FeatureMoments, **options: Any) -> L1HardwareNormaliser:
        if options:
            msg = f"unknown option(s) for the l1_hardware normaliser: {sorted(options)}"
            raise DataError(msg)
        offset = np.rint(moments.mean).astype(np.int64)
        with np.errstate(divide="ignore"):
            shift = np.where(moments.std > 0, np.ceil(np.log2(np.where(moments.std > 0, moments.std, 1.0))), 0)
        shift = shift.astype(np.int64)
        _check_scales(offset, shift, moments.lo, moments.hi)
        return cls(offset, shift)


def hardware_edge_cases() -> np.ndarray:
    """int64 (k, 57) hardware inputs at the edges: all zero, every input at the minimum and maximum of
    ``ap_fixed<18,13>``'s integers, at ±1 and at ±(2^k) for each k (each shift's saturation point),
    and per input one row with only that input at its maximum."""
    lo, hi = -(1 << (UNSCALED_INTEGER - 1)), (1 << (UNSCALED_INTEGER - 1)) - 1
    rows = [np.zeros(N_FEATURES), np.full(N_FEATURES, lo), np.full(N_FEATURES, hi)]
    for k in range(UNSCALED_INTEGER - 1):
        rows += [np.full(N_FEATURES, 1 << k), np.full(N_FEATURES, -(1 << k))]
    for i in range(N_FEATURES):
        one = np.zeros(N_FEATURES)
        one[i] = hi
        rows.append(one)
    return np.asarray(rows, np.int64)
