"""Menu thresholds: the working points as integers in the score's hardware LSB.

An L1 menu does not cut on a float. The Global Trigger sees the anomaly score as the bits of its
fixed-point type (AXOL1TL's ``ap_ufixed<18,14>``: an 18-bit unsigned integer ``s`` standing for
``s · 2^-4``), and a menu seed fires when that integer is above an integer threshold. This module
turns each working point of ``working_points.json`` (``score > threshold`` fires, ``threshold`` a
real number in score units) into that integer, for the fixed-point type of the deployed model's
output:

    T = ⌊threshold / LSB⌋,   fires ⇔ s > T,

which is the same decision as ``score > threshold`` on every score the type can hold, because
``s`` is an integer: ``s·LSB > threshold ⇔ s > threshold/LSB ⇔ s > ⌊threshold/LSB⌋``. So the
integer threshold keeps the working point's rate exactly (the rate and its Clopper–Pearson interval
are carried over from the evaluation). ``wnae csim`` checks this on the simulated firmware's own
output bits (:func:`integer_decisions`).

A threshold below the type's range gives ``T = min − 1`` (every event fires); one at or above its
largest value gives ``T = max`` (none can): both are flagged, since a menu cannot cut there.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wnae._io import write_json_atomic
from wnae.errors import FirmwareError
from wnae.fixed_point.graph import FixedFormat, Op, deployed_ops
from wnae.models.run_files import read_json

if TYPE_CHECKING:
    from wnae.models.serialization import TrainedRun

__all__ = [
    "MENU_FILE",
    "MenuThreshold",
    "MenuThresholds",
    "integer_decisions",
    "integer_threshold",
    "menu_for_run",
    "menu_thresholds",
    "score_format",
    "to_integers",
    "write_menu",
]

#: What ``wnae convert`` and ``wnae csim`` write beside the HLS project.
MENU_FILE = "menu.json"


def score_format(ops: list[Op]) -> FixedFormat:
    """The fixed-point type of the deployed model's score: the grid of its last operation.

    Raises:
        FirmwareError: the last operation does not round onto a grid (no quantizer ends the model),
            so the score has no type a menu could cut on; or the model has more than one output value.
    """
    last = ops[-1]
    fmt = last.fmt if last.kind == "quantize" else last.activation
    if not isinstance(fmt, FixedFormat):
        msg = (
            f"the score (layer '{last.name}', {last.kind}) has no fixed-point type: the model's last layer does "
            "not quantize, so there is no integer for a menu to cut on (end the model with a quantizer)"
        )
        raise FirmwareError(msg)
    return fmt


def _integer_range(fmt: FixedFormat) -> tuple[int, int]:
    return round(fmt.min_value / fmt.lsb), round(fmt.max_value / fmt.lsb)


def integer_threshold(threshold: float, fmt: FixedFormat) -> int:
    """⌊threshold / LSB⌋ clipped to [min − 1, max]: ``s > T`` ⇔ ``s·LSB > threshold`` for every integer
    ``s`` of the type (``min − 1``: every value fires; ``max``: none does).

    Raises:
        FirmwareError: a threshold that is not a finite number.
    """
    if not math.isfinite(threshold):
        msg = f"threshold {threshold!r} is not a finite number"
        raise FirmwareError(msg)
    lo, hi = _integer_range(fmt)
    # threshold · 2^f is exact in float64 (a power-of-two scaling), so the floor is exact
    t = math.floor(math.ldexp(threshold, fmt.fractional))
    return int(min(max(t, lo - 1), hi))


def to_integers(scores: np.ndarray, fmt: FixedFormat, where: str = "score") -> np.ndarray:
    """The integers (int64) behind fixed-point ``scores`` of type ``fmt``.

    Raises:
        FirmwareError: a value that is not on the type's grid or outside its range, naming the first.
    """
    scores = np.asarray(scores, np.float64)
    scaled = np.ldexp(scores, fmt.fractional)
    lo, hi = _integer_range(fmt)
    bad = ~np.isfinite(scaled) | (scaled != np.floor(scaled)) | (scaled < lo) | (scaled > hi)
    if bad.any():
        i = int(np.argmax(bad))
        msg = (
            f"{where} {i}: {scores.flat[i]!r} is not a value of {fmt} (LSB {fmt.lsb:g}, range [{fmt.min_value:g}, "
            f"{fmt.max_value:g}])"
        )
        raise FirmwareError(msg)
    return scaled.astype(np.int64)


def integer_decisions(scores: np.ndarray, fmt: FixedFormat, threshold_int: int) -> np.ndarray:
    """The menu's decision ``s > T`` on the integers behind ``scores``."""
    return to_integers(scores, fmt) > threshold_int


@dataclass(frozen=True)
class MenuThreshold:
    """One working point as a menu cut.

    Attributes:
        name: the working point (``Tight``, ...).
        threshold: its threshold in score units (``working_points.json``).
        threshold_int: the integer threshold in the score's LSB: fires when the score's integer > it.
        threshold_value: ``threshold_int · LSB``, the same cut in score units.
        threshold_geq: ``threshold_int + 1``, the same cut for a ``score_int ≥`` condition (CMSSW's
            ``AXOL1TLCondition`` fires when ``score · 16 ≥`` the menu's ``minAXOL1TLThreshold``).
        rate_khz, rate_low_khz, rate_high_khz: the working point's measured zero-bias rate and its
            Clopper–Pearson interval (the integer cut makes the same decisions, so the same rate).
        target_rate_khz: the rate the working point was set for.
        resolved: whether enough zero-bias events fix the threshold (from the evaluation).
        note: ``fires on every event`` / ``never fires`` where the threshold lies outside the type.
    """

    name: str
    threshold: float
    threshold_int: int
    threshold_value: float
    threshold_geq: int
    rate_khz: float | None = None
    rate_low_khz: float | None = None
    rate_high_khz: float | None = None
    target_rate_khz: float | None = None
    resolved: bool | None = None
    note: str = ""


@dataclass
class MenuThresholds:
    """The menu cuts of one deployed model.

    Attributes:
        score_type: the score's HLS type (``ap_ufixed<18,14>``).
        bits, integer_bits, fractional_bits, signed: the type (``integer_bits`` counts the sign bit,
            as ``ap_fixed<W,I>`` does).
        lsb: the value of one integer step.
        int_min, int_max: the integers the score can take.
        input_rate_khz: the rate the zero bias stands for.
        thresholds: one :class:`MenuThreshold` per working point.
        fires_when: the cut.
    """

    score_type: str
    bits: int
    integer_bits: int
    fractional_bits: int
    signed: bool
    lsb: float
    int_min: int
    int_max: int
    input_rate_khz: float | None
    thresholds: list[MenuThreshold] = field(default_factory=list)
    fires_when: str = "score_int > threshold_int  (score_int = score / lsb, the score's bits as an integer)"

    @property
    def fixed_format(self) -> FixedFormat:
        return FixedFormat(self.signed, self.integer_bits - int(self.signed), self.fractional_bits)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(doc: dict[str, Any], key: str) -> float | None:
    value = doc.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def menu_thresholds(working_points: dict[str, Any], fmt: FixedFormat) -> MenuThresholds:
    """Integer thresholds for every working point of a ``working_points.json`` document.

    Raises:
        FirmwareError: a working point without a name or a finite threshold.
    """
    lo, hi = _integer_range(fmt)
    menu = MenuThresholds(
        score_type=str(fmt),
        bits=fmt.bits,
        integer_bits=fmt.integer + int(fmt.signed),
        fractional_bits=fmt.fractional,
        signed=fmt.signed,
        lsb=fmt.lsb,
        int_min=lo,
        int_max=hi,
        input_rate_khz=_number(working_points, "input_rate_khz"),
    )
    for i, wp in enumerate(working_points.get("working_points", [])):
        name, threshold = wp.get("name"), _number(wp, "threshold")
        if not isinstance(name, str) or threshold is None or not math.isfinite(threshold):
            msg = f"working_points[{i}] needs a name and a finite threshold"
            raise FirmwareError(msg)
        t = integer_threshold(threshold, fmt)
        note = "fires on every event" if t < lo else "never fires: above the type's range" if t >= hi else ""
        resolved = wp.get("resolved")
        menu.thresholds.append(
            MenuThreshold(
                name=name,
                threshold=threshold,
                threshold_int=t,
                threshold_value=t * fmt.lsb,
                threshold_geq=t + 1,
                rate_khz=_number(wp, "rate_khz"),
                rate_low_khz=_number(wp, "rate_low_khz"),
                rate_high_khz=_number(wp, "rate_high_khz"),
                target_rate_khz=_number(wp, "target_rate_khz"),
                resolved=resolved if isinstance(resolved, bool) else None,
                note=note,
            )
        )
    return menu


def write_menu(project: str | Path, working_points_path: str | Path, fmt: FixedFormat) -> MenuThresholds:
    """Read ``working_points.json``, write ``<project>/menu.json`` (atomically) and return it.

    Raises:
        ModelError: a missing or malformed ``working_points.json``.
        FirmwareError: a working point without a finite threshold.
    """
    doc = read_json(
        Path(working_points_path),
        required={"working_points": list},
        hint="run 'wnae evaluate' on the run to write its working points",
    )
    menu = menu_thresholds(doc, fmt)
    write_json_atomic(Path(project) / MENU_FILE, {"source": str(working_points_path), **menu.to_dict()})
    return menu


def menu_for_run(
    run: TrainedRun, model: Any, model_output: str, project: str | Path
) -> tuple[MenuThresholds | None, str]:
    """Write ``<project>/menu.json`` for a run's deployed ``model`` when the chip outputs the score that
    the run's working points cut on; otherwise say why not.

    Returns:
        the menu (or None) and one line on what was done.
    """
    wp_path = Path(run.path) / "working_points.json"
    if model_output != "score" or run.info.get("deployed_output") == "latent":
        return None, (
            "no menu thresholds: the working points cut on the GMM score of the latent vector, "
            "which the chip does not compute"
        )
    if not wp_path.is_file():
        return None, f"no menu thresholds: {wp_path} does not exist (run 'wnae evaluate' on the run)"
    try:
        fmt = score_format(deployed_ops(model))
    except FirmwareError as err:
        return None, f"no menu thresholds: {err}"
    menu = write_menu(project, wp_path, fmt)
    return menu, f"menu thresholds in {Path(project) / MENU_FILE}"
