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
from wnae.firmware.parts import PartCapacity, part_capacity
from wnae.fixed_point.ap_types import parse_ap_type

__all__ = [
    "ADDER_DELAY_NS",
    "ADDER_DELAY_RANGE_NS",
    "FIRMWARE_CONFIG_DIR",
    "PACKAGED_TARGET_DIR",
    "BudgetConfig",
    "FirmwareConfig",
    "Hls4mlTarget",
    "LayerPrecision",
    "PrecisionConfig",
    "RtlConfig",
    "find_target",
    "levels_per_cycle",
    "list_targets",
    "load_firmware_config",
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

#: The range of the delay of one adder level that the public evidence allows, in ns, per family: the
#: latency model's uncertainty (``docs/guide/rtl.md``, "The latency model and its evidence"). 7-series
#: −2: 1.0 ns is the logic alone (Project X-Ray cell delays on our netlists, 0.84–1.11 ns per level;
#: Vitis HLS 2024.1's estimate for the deployed AXOL1TL v6, 2 × 33.36 ns over its ~61–65 levels);
#: 2.0 ns adds 1.3–1.4 routed nets per level at ≈ 0.5–0.6 ns each (FloPoCo's 7-series local routing
#: delay, 0.5 ns, taken from Vivado reports). UltraScale+: ±30 % around the 1 level per ns that da4ml's
#: authors pipeline at on a VU13P, an assumption, not a fit.
ADDER_DELAY_RANGE_NS: dict[str, tuple[float, float]] = {"xc7": (1.0, 2.0), "xcup": (0.7, 1.3)}


def levels_per_cycle(usable_cycle_ns: float, adder_delay_ns: float) -> int:
    """Adder levels that fit in ``usable_cycle_ns`` at ``adder_delay_ns`` each, at least 1."""
    return max(1, int(usable_cycle_ns / adder_delay_ns + 1e-9))


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
        hop_delay_ns: routing delay assumed for each net a path crosses, in the netlist's timed longest
            path (7-series): the cells' delays are measured data, this is the model's assumption.
        adder_delay_range_ns: ``[low, high]`` delay of one adder level the evidence allows (default per
            family, :data:`ADDER_DELAY_RANGE_NS`): the budget check reports the latency margin across it.
    """

    adder_delay_ns: float | None = Field(None, gt=0)
    clock_uncertainty: float = Field(0.1, ge=0, le=0.9)
    latency_cutoff: int | None = Field(None, ge=1)
    delay_constraint: int = Field(2, ge=-1)
    use_dsp: bool = True
    hop_delay_ns: float = Field(0.4, gt=0)
    adder_delay_range_ns: tuple[float, float] | None = None

    @field_validator("adder_delay_range_ns")
    @classmethod
    def _ordered_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 < value[0] <= value[1]:
            msg = f"adder_delay_range_ns must be [low, high] with 0 < low <= high, got {list(value)}"
            raise ValueError(msg)
        return value


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
        """Capacities of :attr:`part` from :data:`wnae.firmware.parts.PART_CAPACITIES` (``None`` if the part is not listed)."""
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
    def adder_delay_range_ns(self) -> tuple[float, float]:
        """``(low, high)`` delay of one adder level the evidence allows, widened to hold :attr:`adder_delay_ns`."""
        low, high = (
            self.rtl.adder_delay_range_ns or ADDER_DELAY_RANGE_NS["xc7" if self.yosys_family == "xc7" else "xcup"]
        )
        return min(low, self.adder_delay_ns), max(high, self.adder_delay_ns)

    @property
    def usable_cycle_ns(self) -> float:
        """The part of one clock period adder levels may fill: ``clock_period_ns · (1 − clock_uncertainty)``."""
        return self.clock_period_ns * (1.0 - self.rtl.clock_uncertainty)

    @property
    def latency_cutoff(self) -> int:
        """Adder levels per pipeline stage of the RTL (see :class:`RtlConfig`), at least 1."""
        if self.rtl.latency_cutoff is not None:
            return self.rtl.latency_cutoff
        return levels_per_cycle(self.usable_cycle_ns, self.adder_delay_ns)

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
            "%s: part %s is not in wnae.firmware.parts.PART_CAPACITIES; resource fractions need the "
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
