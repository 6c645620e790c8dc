"""From events to the 57 model inputs, with a fitted and saved normalisation.

Three normalisers share one interface (``fit`` on chunks, ``transform``, ``save``/``load``):

* :class:`StandardNormaliser` — ``(x − mean) / std`` per feature, in float.
* :class:`FixedPointNormaliser` — the FPGA-friendly variant used by AXOL1TL: each physical value is
  first digitised to its L1 hardware unit (``lsb``: pT 0.5 GeV, η and φ 2π/144 ≈ 0.0436), then an
  integer ``offset`` is subtracted and the result is shifted right by ``shift`` bits::

      hw  = round(x / lsb)                 (integer, as the L1 objects arrive on the FPGA)
      out = (hw − offset) · 2^(−shift)     (exact fixed-point number)

  The output lies exactly on a fixed-point grid with ``max(shift)`` fractional bits, so the model's
  input quantizer and the firmware input type see the same numbers as software. Every digitised
  value, offset and difference must fit the signed :data:`HW_WORD_BITS`-bit hardware word and the
  shift must be below it; a fit (or a loaded file) that does not is a
  :class:`~wnae.errors.DataError` naming the feature, never a silently wrapped integer.

* :class:`~wnae.data.hardware_inputs.L1HardwareNormaliser` (``l1_hardware``) — CMSSW's 57 raw L1
  hardware integers, scaled as AXOL1TL's firmware does.

All are fitted in one pass over chunks (:func:`fit_normaliser`), so memory stays bounded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wnae._io import atomic_path
from wnae.data.schema import FEATURE_NAMES, MAX_ABS_ETA, MAX_PT_GEV, N_FEATURES, N_OBJECTS
from wnae.errors import DataError

__all__ = [
    "DEFAULT_LSB",
    "HW_WORD_BITS",
    "FeatureMoments",
    "FixedPointNormaliser",
    "Normaliser",
    "StandardNormaliser",
    "as_features",
    "fit_normaliser",
    "load_normaliser",
]

#: L1 hardware units per kinematic feature: pT 0.5 GeV, η 0.0435 (= 0.087/2), φ 2π/144 rad.
DEFAULT_LSB: dict[str, float] = {"pt": 0.5, "eta": 0.0435, "phi": 2 * math.pi / 144}

#: Width of the signed integer word that carries one digitised input on the FPGA.
#:
#: L1 objects reach the trigger as integers in these units (Phase-1 global trigger: pT 9–11 bits,
#: η and φ 8 bits). A valid event (:mod:`wnae.data.validate`) has pT ≤ √s/2 = 6800 GeV, i.e.
#: ≤ 13600 units of 0.5 GeV, |η| ≤ 5 (115 units) and |φ| ≤ π (72 units), so a signed 16-bit word
#: holds every digitised value, every offset and their difference, and a shift of at most 15 bits
#: keeps one significant bit. A fit outside it (a pT of 1e30 GeV, an lsb far too fine) would wrap
#: around in hardware: it is an error.
HW_WORD_BITS: int = 16
_HW_MIN: int = -(2 ** (HW_WORD_BITS - 1))
_HW_MAX: int = 2 ** (HW_WORD_BITS - 1) - 1
_UNITS = {"pt": " GeV", "eta": "", "phi": " rad"}
_VALID = {"pt": f"0 ≤ pT ≤ {MAX_PT_GEV:g} GeV", "eta": f"|eta| ≤ {MAX_ABS_ETA:g}", "phi": "|phi| ≤ pi"}


def as_features(x: np.ndarray) -> np.ndarray:
    """Accept (n, 19, 4), (n, 19, 3) or (n, 57); return float64 (n, 57)."""
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[1] == N_OBJECTS and x.shape[2] in (3, 4):
        x = x[:, :, :3].reshape(len(x), N_FEATURES)
    if x.ndim != 2 or x.shape[1] != N_FEATURES:
        msg = f"expected events of shape (n, {N_OBJECTS}, 4) or features (n, {N_FEATURES}), got {x.shape}"
        raise DataError(msg)
    if not np.isfinite(x).all():
        row = int(np.argmax(~np.isfinite(x).all(axis=1)))
        msg = "non-finite input feature"
        raise DataError(msg, event_index=row)
    return x.astype(np.float64, copy=False)


class FeatureMoments:
    """Streaming per-feature mean and variance (Chan et al. parallel update, float64)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = np.zeros(N_FEATURES)
        self.m2 = np.zeros(N_FEATURES)
        self.lo = np.full(N_FEATURES, np.inf)
        self.hi = np.full(N_FEATURES, -np.inf)

    def update(self, x: np.ndarray) -> None:
        n_b = len(x)
        if n_b == 0:
            return
        mean_b = x.mean(axis=0)
        m2_b = ((x - mean_b) ** 2).sum(axis=0)
        delta = mean_b - self.mean
        total = self.n + n_b
        self.mean = self.mean + delta * n_b / total
        self.m2 = self.m2 + m2_b + delta**2 * self.n * n_b / total
        self.n = total
        self.lo = np.minimum(self.lo, x.min(axis=0))
        self.hi = np.maximum(self.hi, x.max(axis=0))

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.n, 1))


class Normaliser:
    """Interface of the normalisers; subclasses register under :attr:`kind`."""

    kind: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Normaliser]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Normaliser._registry[cls.kind] = cls

    def transform(self, x: np.ndarray) -> np.ndarray:
        """float32 (n, 57) normalised features from events (n, 19, 4|3) or features (n, 57)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normaliser:
        raise NotImplementedError

    @classmethod
    def fit_view(cls, features: np.ndarray) -> np.ndarray:
        """float64 (n, 57): what the fit's moments are taken of (the features themselves by default)."""
        return features

    @classmethod
    def fit_moments(cls, moments: FeatureMoments, **options: Any) -> Normaliser:
        raise NotImplementedError

    def save(self, path: str | Path) -> None:
        """Write the normalisation as JSON, atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"kind": self.kind, **self.to_dict()}, indent=1) + "\n")


@dataclass(frozen=True)
class StandardNormaliser(Normaliser):
    """``(x − mean) / std`` per feature; features with zero spread get std = 1."""

    kind: ClassVar[str] = "standard"
    mean: np.ndarray
    std: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((as_features(x) - self.mean) / self.std).astype(np.float32)

    def inverse_transform(self, y: np.ndarray) -> np.ndarray:
        """float64 (n, 57) physical features from normalised ones."""
        return np.asarray(y, np.float64) * self.std + self.mean

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(FEATURE_NAMES), "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StandardNormaliser:
        return cls(np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64))

    @classmethod
    def fit_moments(cls, moments: FeatureMoments, **options: Any) -> StandardNormaliser:
        if options:
            msg = f"unknown option(s) for the standard normaliser: {sorted(options)}"
            raise DataError(msg)
        std = moments.std.copy()
        std[std == 0] = 1.0
        return cls(moments.mean.copy(), std)


@dataclass(frozen=True)
class FixedPointNormaliser(Normaliser):
    """AXOL1TL-style normalisation: integer offset and power-of-two shift on L1 hardware units.

    Attributes:
        lsb: float (57,) physical size of one hardware unit per feature (GeV or rad or η).
        offset: int (57,) subtracted from the hardware integer.
        shift: int (57,) right shift (division by 2**shift) after the offset.
    """

    kind: ClassVar[str] = "fixed_point"
    lsb: np.ndarray
    offset: np.ndarray
    shift: np.ndarray
    feature_names: tuple[str, ...] = field(default=FEATURE_NAMES)

    @property
    def fractional_bits(self) -> int:
        """Fractional bits a fixed-point type needs to hold every output exactly."""
        return int(max(0, self.shift.max()))

    def to_hardware(self, x: np.ndarray) -> np.ndarray:
        """int64 (n, 57): physical features digitised to L1 hardware units (round half to even)."""
        return np.rint(as_features(x) / self.lsb).astype(np.int64)

    def transform(self, x: np.ndarray) -> np.ndarray:
        hw = self.to_hardware(x)
        return np.ldexp((hw - self.offset).astype(np.float64), -self.shift).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.feature_names),
            "lsb": self.lsb.tolist(),
            "offset": self.offset.astype(int).tolist(),
            "shift": self.shift.astype(int).tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FixedPointNormaliser:
        return cls(
            np.asarray(d["lsb"], np.float64),
            np.asarray(d["offset"], np.int64),
            np.asarray(d["shift"], np.int64),
        )

    @classmethod
    def fit_moments(
        cls, moments: FeatureMoments, *, lsb: dict[str, float] | None = None, **options: Any
    ) -> FixedPointNormaliser:
        if options:
            msg = f"unknown option(s) for the fixed-point normaliser: {sorted(options)}"
            raise DataError(msg)
        units = {**DEFAULT_LSB, **(lsb or {})}
        if set(units) != set(DEFAULT_LSB) or any(not v > 0 for v in units.values()):
            msg = f"lsb must give positive units for exactly {sorted(DEFAULT_LSB)}, got {units}"
            raise DataError(msg)
        lsb_arr = np.tile([units["pt"], units["eta"], units["phi"]], N_OBJECTS).astype(np.float64)
        mean_hw = moments.mean / lsb_arr
        std_hw = moments.std / lsb_arr
        offset = np.rint(mean_hw)
        # Smallest power of two ≥ the spread, so outputs have unit-order spread (std in (0.5, 1]).
        with np.errstate(divide="ignore"):
            shift = np.where(std_hw > 1, np.ceil(np.log2(np.maximum(std_hw, 1.0))), 0)
        _check_word(lsb_arr, offset, shift, np.rint(moments.lo / lsb_arr), np.rint(moments.hi / lsb_arr))
        return cls(lsb_arr, offset.astype(np.int64), shift.astype(np.int64))


def _check_word(
    lsb: np.ndarray,
    offset: np.ndarray,
    shift: np.ndarray,
    lo_hw: np.ndarray | None = None,
    hi_hw: np.ndarray | None = None,
) -> None:
    """Raise :class:`DataError` naming the first feature whose fixed-point numbers overflow the word.

    All arguments are float64 (57,) in hardware units (``lo_hw``/``hi_hw``: the digitised data range).
    """
    word = f"the signed {HW_WORD_BITS}-bit hardware word [{_HW_MIN}, {_HW_MAX}]"
    for i, name in enumerate(FEATURE_NAMES):
        kin = name.rsplit("_", 1)[1]
        unit = _UNITS[kin]
        fit = f"offset {offset[i]:.6g}, shift {shift[i]:.6g}"
        hint = f"check the input data (valid: {_VALID[kin]}) or choose a coarser lsb"
        extremes = () if lo_hw is None or hi_hw is None else (hi_hw[i], lo_hw[i])
        for value in extremes:
            if not _HW_MIN <= value <= _HW_MAX:
                msg = (
                    f"fixed_point normalisation of feature '{name}' does not fit {word}: its values reach "
                    f"{value * lsb[i]:.6g}{unit} = {value:.6g} units of {lsb[i]:.6g}{unit} ({fit}); {hint}"
                )
                raise DataError(msg)
        if not _HW_MIN <= offset[i] <= _HW_MAX:
            msg = f"fixed_point normalisation of feature '{name}': offset {offset[i]:.6g} does not fit {word}"
            raise DataError(msg)
        for value in extremes:
            if not _HW_MIN <= value - offset[i] <= _HW_MAX:
                msg = (
                    f"fixed_point normalisation of feature '{name}' does not fit {word}: the value "
                    f"{value:.6g} minus the offset {offset[i]:.6g} is {value - offset[i]:.6g} units; {hint}"
                )
                raise DataError(msg)
        if not 0 <= shift[i] <= HW_WORD_BITS - 1:
            msg = (
                f"fixed_point normalisation of feature '{name}': shift {shift[i]:.6g} is outside "
                f"[0, {HW_WORD_BITS - 1}] (the {HW_WORD_BITS}-bit hardware word)"
            )
            raise DataError(msg)


def fit_normaliser(chunks: Iterable[np.ndarray], kind: str = "standard", **options: Any) -> Normaliser:
    """Fit a normaliser in one pass over chunks of events or features.

    Args:
        chunks: arrays of shape (n, 19, 4), (n, 19, 3) or (n, 57), e.g. ``e.particles for e in
            iter_events(path)``; a single array works too when wrapped in a list.
        kind: ``"standard"``, ``"fixed_point"`` or ``"l1_hardware"``
            (:class:`~wnae.data.hardware_inputs.L1HardwareNormaliser`).
        options: ``lsb={"pt": ..., "eta": ..., "phi": ...}`` for ``fixed_point``.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(1000, 57))
        >>> norm = fit_normaliser([x], "standard")
        >>> bool(abs(norm.transform(x).mean()) < 1e-6)
        True
    """
    if kind not in Normaliser._registry:
        msg = f"unknown normaliser '{kind}'; choose one of {sorted(Normaliser._registry)}"
        raise DataError(msg)
    cls = Normaliser._registry[kind]
    moments = FeatureMoments()
    for chunk in chunks:
        moments.update(cls.fit_view(as_features(chunk)))
    if moments.n == 0:
        msg = "cannot fit a normaliser on zero events"
        raise DataError(msg)
    return cls.fit_moments(moments, **options)


def load_normaliser(path: str | Path) -> Normaliser:
    """Read a normaliser written by :meth:`Normaliser.save`."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
        cls = Normaliser._registry[d.pop("kind")]
        norm = cls.from_dict(d)
    except FileNotFoundError as err:
        msg = "normalisation file not found"
        raise DataError(msg, path=path) from err
    except OSError as err:
        msg = f"cannot read the normalisation file ({err.strerror or err})"
        raise DataError(msg, path=path) from err
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError, OverflowError) as err:
        msg = f"not a valid normalisation file ({type(err).__name__}: {err})"
        raise DataError(msg, path=path) from err
    for name in ("mean", "std", "lsb", "offset", "shift"):
        value = getattr(norm, name, None)
        if value is not None and value.shape != (N_FEATURES,):
            msg = f"'{name}' has {value.size} values, expected {N_FEATURES}"
            raise DataError(msg, path=path)
    if isinstance(norm, FixedPointNormaliser):
        try:
            _check_word(norm.lsb, norm.offset.astype(np.float64), norm.shift.astype(np.float64))
        except DataError as err:
            raise DataError(err.problem, path=path) from err
    return norm
