"""FPGA target configs: one YAML file per target, looked up by name (:func:`resolve_target`).

The shipped targets are package data (``wnae/firmware/targets/``), so an installed ``wnae`` has them
too; a user's own targets, or edited copies of shipped ones, go in ``firmware_configs/`` (in the
working directory, or the checkout's), which is searched first (:func:`target_dirs`).

A :class:`FirmwareConfig` says how a model becomes firmware (hls4ml backend, FPGA part, clock
period, I/O type, strategy, reuse factor, fixed-point precisions, deployed output) and what the L1
trigger allows it to cost (:class:`BudgetConfig`: latency, initiation interval, fraction of the
part's LUT/FF/DSP/BRAM/URAM). YAML becomes objects only through :func:`wnae.config.load_config`;
every problem is a :class:`~wnae.errors.ConfigError` naming the file and the key.

Example:
    >>> cfg = resolve_target("gt_run3")
    >>> cfg.part, cfg.clock_period_ns, cfg.budget.latency_ns
    ('xc7vx690tffg1927-2', 25.0, 50.0)
    >>> cfg.hls4ml_target().backend
    'Vivado'
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from wnae.config import StrictModel, load_config
from wnae.errors import ConfigError

__all__ = [
    "ADDER_DELAY_NS",
    "FIRMWARE_CONFIG_DIR",
    "PACKAGED_TARGET_DIR",
    "PART_CAPACITIES",
    "ApType",
    "BudgetConfig",
    "FirmwareConfig",
    "Hls4mlTarget",
    "LayerPrecision",
    "PartCapacity",
    "PrecisionConfig",
    "RtlConfig",
    "find_target",
    "list_targets",
    "load_firmware_config",
    "parse_ap_type",
    "part_capacity",
    "resolve_target",
    "target_dirs",
    "yosys_family",
]

logger = logging.getLogger(__name__)

#: The user's target configs of a checkout (``<repository>/firmware_configs``): edited and added targets.
FIRMWARE_CONFIG_DIR = Path(__file__).resolve().parents[2] / "firmware_configs"
#: The shipped targets, installed with the package (``wnae/firmware/targets``).
PACKAGED_TARGET_DIR = Path(__file__).resolve().parent / "targets"
#: The user's target directory in the working directory (an installed ``wnae`` has no checkout).
USER_TARGET_DIR = "firmware_configs"


# --------------------------------------------------------------------------------------------------
# FPGA part capacities
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartCapacity:
    """Resources of one FPGA device (all packages and speed grades of it).

    Attributes:
        device: device name without package and speed grade, e.g. ``xc7vx690t``.
        lut: 6-input LUTs (CLB/slice LUTs).
        ff: flip-flops (CLB/slice registers).
        dsp: DSP slices (DSP48E1 on 7 series, DSP48E2 on UltraScale+).
        bram_18k: 18 Kb block-RAM halves (two per 36 Kb block RAM tile), the unit Vivado HLS uses.
        uram: 288 Kb UltraRAM blocks (0 on 7-series devices).
        source: where the numbers come from.
    """

    device: str
    lut: int
    ff: int
    dsp: int
    bram_18k: int
    uram: int
    source: str

    def available(self, resource: str) -> int:
        """Capacity for ``resource`` (one of ``lut ff dsp bram_18k uram``)."""
        return int(getattr(self, resource))


_DS180 = "Xilinx DS180, 7 Series FPGAs Data Sheet: Overview (device table)"
_DS890 = "Xilinx DS890, UltraScale Architecture and Product Data Sheet: Overview (Virtex UltraScale+ table)"

#: Capacities by device name. LUT/FF/DSP/BRAM_18K/URAM; a 36 Kb BRAM counts as two BRAM_18K.
PART_CAPACITIES: dict[str, PartCapacity] = {
    # Run-3 CMS Global Trigger (MP7 board): 108,300 slices x 4 LUTs, 1,470 x 36 Kb BRAM.
    "xc7vx690t": PartCapacity("xc7vx690t", 433_200, 866_400, 3_600, 2_940, 0, _DS180),
    # Phase-2 L1 trigger boards (APx, Serenity): 2,688 x 36 Kb BRAM, 1,280 URAM.
    "xcvu13p": PartCapacity("xcvu13p", 1_728_000, 3_456_000, 12_288, 5_376, 1_280, _DS890),
    # Govorkova et al. 2022 (arXiv:2108.03986) quote their resources on a VU9P.
    "xcvu9p": PartCapacity("xcvu9p", 1_182_240, 2_364_480, 6_840, 4_320, 960, _DS890),
    # The part of the Vivado HLS 2020.1 report fixture (Zynq-7020); equals that report's AvailableResources.
    "xc7z020": PartCapacity("xc7z020", 53_200, 106_400, 220, 280, 0, _DS180),
}


def _normalise_part(part: str) -> str:
    return part.strip().lower().replace("-", "")


def part_capacity(part: str) -> PartCapacity | None:
    """The capacities of the device of ``part``, or ``None`` if it is not in :data:`PART_CAPACITIES`.

    Package, speed grade and dashes are ignored: ``xc7z020clg400-1`` and ``xc7z020-clg400-1`` (as
    Vivado HLS writes it in its reports) both give the ``xc7z020`` entry.

    Example:
        >>> part_capacity("xc7z020-clg400-1").lut
        53200
        >>> part_capacity("xc7k325t") is None
        True
    """
    norm = _normalise_part(part)
    matches = [device for device in PART_CAPACITIES if norm.startswith(device)]
    if not matches:
        return None
    return PART_CAPACITIES[max(matches, key=len)]


def same_part(a: str, b: str) -> bool:
    """Whether two part names name the same part (case and dashes ignored)."""
    return _normalise_part(a) == _normalise_part(b)


# --------------------------------------------------------------------------------------------------
# Fixed-point types
# --------------------------------------------------------------------------------------------------

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


def _check_ap_type(value: str) -> str:
    return parse_ap_type(value).text


# --------------------------------------------------------------------------------------------------
# Config models
# --------------------------------------------------------------------------------------------------


class LayerPrecision(StrictModel):
    """Precision overrides for one layer (hls4ml ``granularity='name'`` keys); unset keys keep the default."""

    weight: str | None = None
    bias: str | None = None
    result: str | None = None
    accum: str | None = None
    table: str | None = None

    @field_validator("weight", "bias", "result", "accum", "table")
    @classmethod
    def _valid(cls, value: str | None) -> str | None:
        return None if value is None else _check_ap_type(value)

    def as_dict(self) -> dict[str, str]:
        """The set keys only, e.g. ``{"weight": "ap_fixed<8,2>"}``."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class PrecisionConfig(StrictModel):
    """Default fixed-point type and per-layer overrides (layer names as in the Keras model)."""

    default: str = "ap_fixed<16,6>"
    layers: dict[str, LayerPrecision] = Field(default_factory=dict)

    @field_validator("default")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _check_ap_type(value)


class BudgetConfig(StrictModel):
    """The L1 budget of a target. Unset lines are not checked; resource budgets are fractions 0–1 of the part.

    Attributes:
        latency_ns: worst-case latency allowed, in ns.
        ii_cycles: initiation interval allowed, in clock cycles of the target clock.
        ii_ns: initiation interval allowed, in ns (use this *or* ``ii_cycles``).
        lut_fraction, ff_fraction, dsp_fraction, bram_fraction, uram_fraction: share of the
            part's LUT, FF, DSP, BRAM_18K and URAM that the design may use (0–1).
    """

    latency_ns: float | None = Field(None, gt=0)
    ii_cycles: int | None = Field(None, ge=1)
    ii_ns: float | None = Field(None, gt=0)
    lut_fraction: float | None = Field(None, ge=0, le=1)
    ff_fraction: float | None = Field(None, ge=0, le=1)
    dsp_fraction: float | None = Field(None, ge=0, le=1)
    bram_fraction: float | None = Field(None, ge=0, le=1)
    uram_fraction: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _one_ii(self) -> BudgetConfig:
        if self.ii_cycles is not None and self.ii_ns is not None:
            msg = "give the initiation interval as 'ii_cycles' or 'ii_ns', not both"
            raise ValueError(msg)
        return self

    def resource_fractions(self) -> dict[str, float]:
        """The resource budgets that are set, keyed ``lut ff dsp bram_18k uram``."""
        pairs = {
            "lut": self.lut_fraction,
            "ff": self.ff_fraction,
            "dsp": self.dsp_fraction,
            "bram_18k": self.bram_fraction,
            "uram": self.uram_fraction,
        }
        return {k: v for k, v in pairs.items() if v is not None}

    def ii_limit_cycles(self, clock_period_ns: float) -> float | None:
        """The II budget in clock cycles (``ii_ns / clock_period_ns`` when given in ns), or ``None``."""
        if self.ii_cycles is not None:
            return float(self.ii_cycles)
        if self.ii_ns is not None:
            return self.ii_ns / clock_period_ns
        return None


@dataclass(frozen=True)
class Hls4mlTarget:
    """The target pieces hls4ml needs, named as hls4ml names them; ``convert`` builds its config from these.

    Attributes:
        backend: hls4ml backend name, ``"Vivado"`` or ``"Vitis"`` (``backend=`` of
            ``hls4ml.converters.convert_from_keras_model``).
        part: FPGA part (``part=``).
        clock_period_ns: target clock period in ns (``clock_period=``; hls4ml's unit is ns).
        io_type: ``"io_parallel"`` or ``"io_stream"`` (``io_type=``).
        strategy: ``"Latency"``, ``"Resource"`` or ``"distributed_arithmetic"`` (``Model.Strategy``).
        reuse_factor: ``Model.ReuseFactor``.
        default_precision: ``Model.Precision`` (``granularity='name'`` overrides come from
            :attr:`FirmwareConfig.precision`).
    """

    backend: str
    part: str
    clock_period_ns: float
    io_type: str
    strategy: str
    reuse_factor: int
    default_precision: str


#: Assumed delay of one adder level (a LUT + carry chain of moderate width plus routing), in ns, per
#: family; it sets how many adder levels fit in one clock cycle. Conservative round numbers (Virtex-7
#: -2: a 16-bit CARRY4 adder with local routing ≈ 1.2–1.5 ns; UltraScale+ ≈ 0.8–1.0 ns); override
#: ``rtl.adder_delay_ns`` or ``rtl.latency_cutoff`` in a target for a measured value.
ADDER_DELAY_NS: dict[str, float] = {"xc7": 1.5, "xcup": 1.0}


def yosys_family(part: str) -> str:
    """Yosys ``synth_xilinx -family`` of a part: ``xcup`` for UltraScale+, ``xcu`` for UltraScale, else ``xc7``."""
    p = part.lower()
    if p.startswith(("xczu", "xcau")) or re.match(r"xc(vu|ku)\d+p", p):
        return "xcup"
    if re.match(r"xc(vu|ku)\d+", p):
        return "xcu"
    return "xc7"


class RtlConfig(StrictModel):
    """The open-source RTL flow (da4ml → Verilog → Verilator, Yosys) for a target.

    Attributes:
        adder_delay_ns: delay of one adder level in ns (default per family, :data:`ADDER_DELAY_NS`).
        clock_uncertainty: share of the clock period kept free for routing and clock skew (0–0.9).
        latency_cutoff: adder levels per pipeline stage; default
            ``floor(clock_period_ns · (1 − clock_uncertainty) / adder_delay_ns)``.
        delay_constraint: da4ml's ``hard_dc``: adder levels each constant matrix–vector product may
            add beyond its minimum depth to share more adders (−1: unconstrained).
        use_dsp: let Yosys map the score head's multiplications to DSP slices (``false``: LUTs only,
            as distributed-arithmetic firmware does).
    """

    adder_delay_ns: float | None = Field(None, gt=0)
    clock_uncertainty: float = Field(0.1, ge=0, le=0.9)
    latency_cutoff: int | None = Field(None, ge=1)
    delay_constraint: int = Field(2, ge=-1)
    use_dsp: bool = True


class FirmwareConfig(StrictModel):
    """One FPGA target: how the model becomes firmware and the L1 budget it must meet.

    Attributes:
        name: target name (the file name without ``.yml`` when not set).
        description: free text.
        backend: hls4ml backend, ``Vivado`` (Vivado HLS) or ``Vitis`` (Vitis HLS).
        part: FPGA part, e.g. ``xc7vx690tffg1927-2``.
        clock_period_ns: target clock period in ns.
        io_type: ``io_parallel`` (all inputs at once; what L1 uses) or ``io_stream``.
        strategy: ``Latency``, ``Resource`` or ``distributed_arithmetic`` (hls4ml's DA strategy,
            multiplier-free; needs ``reuse_factor: 1``).
        reuse_factor: how many times each multiplier is reused (1 = fully parallel).
        precision: default ``ap_fixed`` type and per-layer overrides.
        deployed_output: which model output is built into firmware: ``score`` (the anomaly score)
            or ``latent`` (the encoder's latent vector, score computed downstream).
        budget: the L1 budget (:class:`BudgetConfig`).
        rtl: settings of the open-source RTL flow (:class:`RtlConfig`).
    """

    name: str | None = None
    description: str = ""
    backend: Literal["Vivado", "Vitis"]
    part: str = Field(min_length=1)
    clock_period_ns: float = Field(gt=0)
    io_type: Literal["io_parallel", "io_stream"] = "io_parallel"
    strategy: Literal["Latency", "Resource", "distributed_arithmetic"] = "Latency"
    reuse_factor: int = Field(1, ge=1)
    precision: PrecisionConfig = Field(default_factory=PrecisionConfig)
    deployed_output: Literal["score", "latent"] = "score"
    budget: BudgetConfig
    rtl: RtlConfig = Field(default_factory=RtlConfig)

    @field_validator("part")
    @classmethod
    def _part_looks_like_xilinx(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"xc[a-z0-9]+[a-z0-9-]*", value.lower()):
            msg = f"{value!r} is not a Xilinx part name (expected e.g. 'xc7vx690tffg1927-2')"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FirmwareConfig:
        if self.strategy == "distributed_arithmetic" and self.reuse_factor != 1:
            msg = f"strategy 'distributed_arithmetic' needs reuse_factor 1 (hls4ml refuses others), got {self.reuse_factor}"
            raise ValueError(msg)
        return self

    @property
    def capacity(self) -> PartCapacity | None:
        """Capacities of :attr:`part` from :data:`PART_CAPACITIES` (``None`` if the part is not listed)."""
        return part_capacity(self.part)

    @property
    def clock_frequency_mhz(self) -> float:
        """1000 / :attr:`clock_period_ns`."""
        return 1000.0 / self.clock_period_ns

    @property
    def yosys_family(self) -> str:
        """Yosys ``synth_xilinx -family`` of :attr:`part`."""
        return yosys_family(self.part)

    @property
    def adder_delay_ns(self) -> float:
        """Delay of one adder level assumed for this part, in ns."""
        if self.rtl.adder_delay_ns is not None:
            return self.rtl.adder_delay_ns
        return ADDER_DELAY_NS["xc7" if self.yosys_family == "xc7" else "xcup"]

    @property
    def latency_cutoff(self) -> int:
        """Adder levels per pipeline stage of the RTL (see :class:`RtlConfig`), at least 1."""
        if self.rtl.latency_cutoff is not None:
            return self.rtl.latency_cutoff
        usable = self.clock_period_ns * (1.0 - self.rtl.clock_uncertainty)
        return max(1, int(usable / self.adder_delay_ns + 1e-9))

    def hls4ml_target(self) -> Hls4mlTarget:
        """The pieces of this target that go into an hls4ml conversion (see :class:`Hls4mlTarget`)."""
        return Hls4mlTarget(
            backend=self.backend,
            part=self.part,
            clock_period_ns=self.clock_period_ns,
            io_type=self.io_type,
            strategy=self.strategy,
            reuse_factor=self.reuse_factor,
            default_precision=self.precision.default,
        )


def load_firmware_config(path: str | Path) -> FirmwareConfig:
    """Load and validate one target file; ``name`` defaults to the file name without suffix.

    Raises:
        ConfigError: missing/unreadable file, bad YAML, unknown key, bad value (message names the
            file and the key).
    """
    path = Path(path)
    cfg = load_config(path, FirmwareConfig)
    if cfg.name is None:
        cfg = cfg.model_copy(update={"name": path.stem})
    if cfg.capacity is None:
        logger.warning(
            "%s: part %s is not in wnae.firmware.config.PART_CAPACITIES; resource fractions need the "
            "report's AvailableResources",
            path,
            cfg.part,
        )
    return cfg


def target_dirs() -> list[Path]:
    """Where target names are looked up, the first that has the name wins: ``firmware_configs/`` in the
    working directory, the checkout's ``firmware_configs/`` (when ``wnae`` runs from one), then the
    targets shipped in the package (:data:`PACKAGED_TARGET_DIR`). Only directories that exist."""
    dirs: list[Path] = []
    for d in (Path.cwd() / USER_TARGET_DIR, FIRMWARE_CONFIG_DIR, PACKAGED_TARGET_DIR):
        if d.is_dir() and all(d.resolve() != seen.resolve() for seen in dirs):
            dirs.append(d)
    return dirs


def _search_dirs(config_dir: str | Path | None) -> list[Path]:
    return target_dirs() if config_dir is None else [Path(config_dir)]


def list_targets(config_dir: str | Path | None = None) -> list[str]:
    """Names of the target files (sorted) in ``config_dir``, or by default in every :func:`target_dirs`."""
    return sorted({p.stem for d in _search_dirs(config_dir) for p in d.glob("*.yml")})


def find_target(name: str, config_dir: str | Path | None = None) -> Path | None:
    """The file of target ``name``: ``<dir>/<name>.yml`` in ``config_dir``, or by default the first of
    :func:`target_dirs` that has it; None if none has."""
    for d in _search_dirs(config_dir):
        path = d / f"{name}.yml"
        if path.is_file():
            return path
    return None


def resolve_target(name_or_path: str | Path, config_dir: str | Path | None = None) -> FirmwareConfig:
    """Load a target by name (``gt_run3`` → ``gt_run3.yml`` of :func:`find_target`) or by path to a YAML file.

    Args:
        name_or_path: a target name, or a path (anything with a ``/`` or ending in ``.yml``/``.yaml``).
        config_dir: look target names up only there (default: :func:`target_dirs`, the user's
            ``firmware_configs/`` before the shipped targets).

    Raises:
        ConfigError: unknown target (the message lists where it looked and the known ones) or an invalid file.
    """
    text = str(name_or_path)
    if "/" in text or text.endswith((".yml", ".yaml")) or Path(text).is_file():
        return load_firmware_config(Path(text))
    path = find_target(text, config_dir)
    if path is None:
        where = ", ".join(f"{d}/" for d in _search_dirs(config_dir)) or "no target directory exists"
        known = ", ".join(list_targets(config_dir)) or "none"
        msg = f"unknown firmware target {text!r}: no {text}.yml in {where}; known targets: {known}"
        raise ConfigError(msg)
    if path.parent.resolve() != PACKAGED_TARGET_DIR.resolve() and (PACKAGED_TARGET_DIR / path.name).is_file():
        logger.info("target %s: %s (instead of the shipped one)", text, path)
    return load_firmware_config(path)
