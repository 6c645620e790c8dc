"""Synthesis reports: hls4ml's report parser, normalised into one :class:`SynthReport`.

The reports are read with hls4ml's own API (:func:`hls4ml.report.parse_vivado_report`, which
hls4ml's Vivado *and* Vitis backends both return from ``build()``), from an hls4ml project
directory or from a copy of its reports laid out the same way::

    <dir>/project.tcl                                     (optional in a copy; see below)
    <dir>/<name>_prj/vivado_hls.app                       (Vitis HLS: hls.app)
    <dir>/<name>_prj/solution1/syn/report/<name>_csynth.xml   C synthesis (HLS estimate)
    <dir>/vivado_synth.rpt                                Vivado logic synthesis (optional)

hls4ml needs ``project.tcl`` only for the project name and backend; when a copy has none, both are
taken from the single ``<name>_prj/`` directory (``hls.app`` means Vitis).

Every number is kept with its *source* label (``"Vivado HLS 2020.1 report (HLS estimate)"``,
``"Vivado 2020.1 synthesis report (post-synthesis)"``) and a *stage*. Numbers from other tools
(Yosys ``synth_xilinx``, da4ml) are added with :meth:`SynthReport.with_timing` and
:meth:`SynthReport.with_resources`; the budget check then uses, per quantity, the number of the
latest stage (:data:`STAGE_RANK`).

Example (``tests/firmware/test_reports.py`` runs it on the real Vivado HLS 2020.1 reports)::

    report = parse_reports("hls_projects/myrun-gt_run3")
    report.timing[0].latency_worst_ns   # 50.0 for the fixture: 10 cycles x 5 ns
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from wnae.errors import FirmwareError
from wnae.firmware.parts import PartCapacity, part_capacity

__all__ = [
    "LHC_BUNCH_SPACING_NS",
    "RESOURCES",
    "STAGE_RANK",
    "ReportFiles",
    "ResourceNumbers",
    "SynthReport",
    "TimingNumbers",
    "find_report_files",
    "normalise_hls4ml_report",
    "parse_reports",
]

logger = logging.getLogger(__name__)

#: Nominal LHC bunch spacing (one bunch crossing, BX), in ns.
LHC_BUNCH_SPACING_NS = 25.0

#: The resources, in the order they are reported; ``bram_18k`` counts 18 Kb block-RAM halves.
RESOURCES: tuple[str, ...] = ("lut", "ff", "dsp", "bram_18k", "uram")
RESOURCE_LABELS: dict[str, str] = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram_18k": "BRAM_18K", "uram": "URAM"}

#: How far along the flow a number was obtained; the budget check uses the highest rank present.
#: C/RTL co-simulation latencies are measured only on the test-bench inputs and rank lowest.
STAGE_RANK: dict[str, int] = {"cosim": 0, "hls_estimate": 1, "rtl": 2, "synthesis": 3, "implementation": 4}


@dataclass(frozen=True)
class TimingNumbers:
    """Latency, initiation interval and clock from one source.

    Attributes:
        source: where the numbers come from, e.g. ``"Vivado HLS 2020.1 report (HLS estimate)"``.
        stage: a key of :data:`STAGE_RANK`.
        clock_period_target_ns: the clock the design was scheduled for, in ns.
        clock_period_estimated_ns: the tool's estimate of the achievable clock period, in ns
            (``None`` if not reported).
        latency_best_cycles, latency_worst_cycles: latency in clock cycles (``None`` when the tool
            reports it as undefined).
        ii_min_cycles, ii_max_cycles: initiation interval in clock cycles.
        adder_levels: for a latency from an adder-level model (the open RTL flow), the design's
            combinational depth in adder levels; ``adder_delay_ns`` the model's ``(low, nominal,
            high)`` delay of one level and ``usable_cycle_ns`` the part of a clock period levels may
            fill. With them the budget check reports the latency margin in ns across the model's
            uncertainty. ``None`` for tool reports.
    """

    source: str
    stage: str
    clock_period_target_ns: float | None
    clock_period_estimated_ns: float | None = None
    latency_best_cycles: int | None = None
    latency_worst_cycles: int | None = None
    ii_min_cycles: int | None = None
    ii_max_cycles: int | None = None
    adder_levels: float | None = None
    adder_delay_ns: tuple[float, float, float] | None = None
    usable_cycle_ns: float | None = None

    def _ns(self, cycles: int | None) -> float | None:
        if cycles is None or self.clock_period_target_ns is None:
            return None
        return cycles * self.clock_period_target_ns

    @property
    def latency_best_ns(self) -> float | None:
        """Best-case latency in ns (cycles × target clock period)."""
        return self._ns(self.latency_best_cycles)

    @property
    def latency_worst_ns(self) -> float | None:
        """Worst-case latency in ns (cycles × target clock period)."""
        return self._ns(self.latency_worst_cycles)

    @property
    def latency_worst_bx(self) -> float | None:
        """Worst-case latency in LHC bunch crossings (25 ns)."""
        ns = self.latency_worst_ns
        return None if ns is None else ns / LHC_BUNCH_SPACING_NS

    @property
    def ii_max_ns(self) -> float | None:
        """Worst initiation interval in ns."""
        return self._ns(self.ii_max_cycles)

    def to_dict(self) -> dict[str, Any]:
        """Fields plus the derived ns/BX numbers, for JSON."""
        out = asdict(self)
        out.update(
            latency_best_ns=self.latency_best_ns,
            latency_worst_ns=self.latency_worst_ns,
            latency_worst_bx=self.latency_worst_bx,
            ii_max_ns=self.ii_max_ns,
        )
        return out


@dataclass(frozen=True)
class ResourceNumbers:
    """LUT/FF/DSP/BRAM_18K/URAM used, from one source, with the part's capacity.

    Attributes:
        source: where the used numbers come from.
        stage: a key of :data:`STAGE_RANK`.
        lut, ff, dsp, bram_18k, uram: resources used (``None``: not reported by this source).
        lut_available, ..., uram_available: the part's capacity (``None``: unknown).
        available_source: where the capacities come from (the report itself or a data sheet).
    """

    source: str
    stage: str
    lut: float | None = None
    ff: float | None = None
    dsp: float | None = None
    bram_18k: float | None = None
    uram: float | None = None
    lut_available: int | None = None
    ff_available: int | None = None
    dsp_available: int | None = None
    bram_18k_available: int | None = None
    uram_available: int | None = None
    available_source: str | None = None

    def used(self, resource: str) -> float | None:
        """Amount of ``resource`` (a name in :data:`RESOURCES`) used."""
        return getattr(self, resource)

    def available(self, resource: str) -> int | None:
        """Capacity of the part for ``resource``."""
        return getattr(self, f"{resource}_available")

    def fraction(self, resource: str) -> float | None:
        """used / available (0–1); ``None`` when either is unknown or the part has none of it."""
        used, available = self.used(resource), self.available(resource)
        if used is None or not available:
            return None
        return used / available

    def with_capacity(self, capacity: PartCapacity | Mapping[str, int | None], source: str) -> ResourceNumbers:
        """A copy whose unknown capacities are filled from ``capacity`` (labelled ``source``)."""
        updates: dict[str, Any] = {}
        for r in RESOURCES:
            value = capacity.available(r) if isinstance(capacity, PartCapacity) else capacity.get(r)
            if self.available(r) is None and value is not None:
                updates[f"{r}_available"] = int(value)
        if not updates:
            return self
        label = source if self.available_source is None else f"{self.available_source}; {source}"
        return replace(self, **updates, available_source=label)

    def to_dict(self) -> dict[str, Any]:
        """Fields plus the fractions, for JSON."""
        out = asdict(self)
        out.update({f"{r}_fraction": self.fraction(r) for r in RESOURCES})
        return out


@dataclass(frozen=True)
class ReportFiles:
    """Where the report files of one project are (paths that do not exist are ``None``)."""

    root: Path
    project_name: str
    backend: str  # "vivado" or "vitis" (hls4ml's spelling in project.tcl)
    app_file: Path
    solution: str
    csynth_xml: Path | None
    vivado_synth_rpt: Path | None
    has_project_tcl: bool

    @property
    def expected_csynth_xml(self) -> Path:
        """Where hls4ml looks for the C-synthesis XML report."""
        prj = self.root / f"{self.project_name}_prj" / self.solution
        return prj / "syn" / "report" / f"{self.project_name}_csynth.xml"


@dataclass(frozen=True)
class SynthReport:
    """Latency, II and resources of one HLS project, every number with its source.

    Attributes:
        report_dir: the directory the reports were read from.
        project_name: the HLS top function (``myproject``).
        part: the FPGA part the reports were made for (as the tool writes it), or ``None``.
        timing: latency/II/clock numbers, one entry per source.
        resources: resource numbers, one entry per source.
        files: the report files read.
    """

    report_dir: Path
    project_name: str | None
    part: str | None
    timing: tuple[TimingNumbers, ...] = ()
    resources: tuple[ResourceNumbers, ...] = ()
    files: tuple[Path, ...] = field(default=())

    def with_timing(self, numbers: TimingNumbers) -> SynthReport:
        """A copy with timing numbers from another source added (e.g. a da4ml/Yosys RTL flow)."""
        _check_stage(numbers.stage)
        return replace(self, timing=(*self.timing, numbers))

    def with_resources(self, numbers: ResourceNumbers) -> SynthReport:
        """A copy with resource numbers from another source added (e.g. ``"Yosys 0.x synth_xilinx"``)."""
        _check_stage(numbers.stage)
        if self.part is not None and any(numbers.available(r) is None for r in RESOURCES):
            capacity = part_capacity(self.part)
            if capacity is not None:
                numbers = numbers.with_capacity(capacity, capacity.source)
        return replace(self, resources=(*self.resources, numbers))

    def primary_timing(self, quantity: str) -> TimingNumbers | None:
        """The timing entry of the latest stage that reports ``quantity`` (a :class:`TimingNumbers` field)."""
        have = [t for t in self.timing if getattr(t, quantity) is not None]
        return max(have, key=lambda t: STAGE_RANK[t.stage], default=None)

    def primary_resources(self, resource: str) -> ResourceNumbers | None:
        """The resource entry of the latest stage that reports ``resource``."""
        have = [r for r in self.resources if r.used(resource) is not None]
        return max(have, key=lambda r: STAGE_RANK[r.stage], default=None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "report_dir": str(self.report_dir),
            "project_name": self.project_name,
            "part": self.part,
            "timing": [t.to_dict() for t in self.timing],
            "resources": [r.to_dict() for r in self.resources],
            "files": [str(p) for p in self.files],
        }


def _check_stage(stage: str) -> None:
    if stage not in STAGE_RANK:
        msg = f"unknown report stage {stage!r}; one of {', '.join(STAGE_RANK)}"
        raise ValueError(msg)


# --------------------------------------------------------------------------------------------------
# Locating the files
# --------------------------------------------------------------------------------------------------

_LAYOUT_HINT = (
    "expected an hls4ml project or a copy of its reports laid out as hls4ml expects: "
    "<name>_prj/vivado_hls.app (Vitis: hls.app), <name>_prj/solution1/syn/report/<name>_csynth.xml "
    "and optionally vivado_synth.rpt"
)


def _read_project_tcl(path: Path) -> tuple[str | None, str | None]:
    name = backend = None
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r'\s*set\s+(project_name|backend)\s+"([^"]*)"', line)
        if m and m[1] == "project_name":
            name = m[2]
        elif m:
            backend = m[2]
    return name, backend


def _first_solution(app_file: Path) -> str:
    try:
        text = app_file.read_text(errors="replace")
        root = ET.fromstring(re.sub(r' xmlns="[^"]+"', "", text, count=1))
    except ET.ParseError as err:
        msg = f"{app_file}: not a valid HLS project file (truncated or corrupt XML: {err})"
        raise FirmwareError(msg) from err
    names = [s.get("name") for s in root.findall("solutions/solution")]
    present = [n for n in names if n and (app_file.parent / n).is_dir()]
    if not present:
        listed = ", ".join(n for n in names if n) or "none"
        msg = f"{app_file}: lists solution(s) {listed}, but no such directory exists in {app_file.parent}"
        raise FirmwareError(msg)
    if len(present) > 1:
        logger.warning("%s: %d solutions; hls4ml reads the first, %s", app_file, len(present), present[0])
    return present[0]


def find_report_files(report_dir: str | Path) -> ReportFiles:
    """Locate the report files hls4ml will read in ``report_dir``.

    Raises:
        FirmwareError: the directory is missing or is not laid out as hls4ml expects (the
            message says what was expected).
    """
    root = Path(report_dir)
    if not root.is_dir():
        msg = f"{root}: no such report directory; {_LAYOUT_HINT}"
        raise FirmwareError(msg)
    tcl = root / "project.tcl"
    name = backend = None
    if tcl.is_file():
        name, backend = _read_project_tcl(tcl)
        if name is None:
            msg = f"{tcl}: no 'set project_name \"...\"' line; not written by hls4ml?"
            raise FirmwareError(msg)
    if name is None:
        candidates = sorted(
            p for p in root.glob("*_prj") if (p / "vivado_hls.app").is_file() or (p / "hls.app").is_file()
        )
        if len(candidates) != 1:
            found = ", ".join(p.name for p in candidates) or "none"
            msg = f"{root}: cannot tell the HLS project (found {found} *_prj directories with a .app file); {_LAYOUT_HINT}"
            raise FirmwareError(msg)
        name = candidates[0].name.removesuffix("_prj")
    prj = root / f"{name}_prj"
    app = next((prj / f for f in ("vivado_hls.app", "hls.app") if (prj / f).is_file()), None)
    if app is None:
        msg = f"{root}: missing {prj}/vivado_hls.app (Vitis: hls.app); {_LAYOUT_HINT}"
        raise FirmwareError(msg)
    if backend is None:
        backend = "vitis" if app.name == "hls.app" else "vivado"
    solution = _first_solution(app)
    xml = prj / solution / "syn" / "report" / f"{name}_csynth.xml"
    rpt = root / "vivado_synth.rpt"
    return ReportFiles(
        root=root,
        project_name=name,
        backend=backend,
        app_file=app,
        solution=solution,
        csynth_xml=xml if xml.is_file() else None,
        vivado_synth_rpt=rpt if rpt.is_file() else None,
        has_project_tcl=tcl.is_file(),
    )


@contextlib.contextmanager
def _hls4ml_view(files: ReportFiles) -> Iterator[Path]:
    """``files.root``, or a temporary view of it with the ``project.tcl`` hls4ml needs."""
    if files.has_project_tcl:
        yield files.root
        return
    logger.info(
        "%s: no project.tcl; project name %r taken from %s", files.root, files.project_name, files.app_file.parent.name
    )
    with tempfile.TemporaryDirectory(prefix="wnae-reports-") as tmp:
        view = Path(tmp)
        for entry in files.root.iterdir():
            (view / entry.name).symlink_to(entry.resolve())
        (view / "project.tcl").write_text(
            f'variable project_name\nset project_name "{files.project_name}"\n'
            f'variable backend\nset backend "{files.backend}"\n'
        )
        yield view


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def _tool_version_from_xml(path: Path) -> str | None:
    with contextlib.suppress(ET.ParseError, OSError):
        node = ET.parse(path).getroot().find("./ReportVersion/Version")
        if node is not None and node.text:
            return node.text.strip()
    return None


def _part_from_xml(path: Path) -> str | None:
    with contextlib.suppress(ET.ParseError, OSError):
        node = ET.parse(path).getroot().find("./UserAssignments/Part")
        if node is not None and node.text:
            return node.text.strip()
    return None


def _vivado_version_from_rpt(path: Path) -> str | None:
    with contextlib.suppress(OSError):
        m = re.search(r"Tool Version\s*:\s*Vivado v\.(\S+)", path.read_text(errors="replace"))
        if m:
            return m[1]
    return None


def _int_or_none(value: Any, what: str, where: Path | str) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        logger.warning("%s: %s is %r (not a number of cycles); left out", where, what, value)
        return None


def _float_or_none(value: Any, what: str, where: Path | str) -> float | None:
    if value is None:
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        logger.warning("%s: %s is %r (not a number); left out", where, what, value)
        return None


def normalise_hls4ml_report(
    report: Mapping[str, Any],
    *,
    hls_tool: str,
    vivado_tool: str = "Vivado",
    part: str | None = None,
    csynth_path: str | Path = "C synthesis report",
    vivado_synth_path: str | Path = "vivado_synth.rpt",
) -> tuple[tuple[TimingNumbers, ...], tuple[ResourceNumbers, ...]]:
    """Turn the dict of :func:`hls4ml.report.parse_vivado_report` into labelled numbers.

    Args:
        report: hls4ml's dict (keys ``CSynthesisReport``, ``VivadoSynthReport``, ``CosimReport``).
        hls_tool: the HLS tool and version for labels, e.g. ``"Vivado HLS 2020.1"``.
        vivado_tool: Vivado and version for the logic-synthesis label, e.g. ``"Vivado 2020.1"``.
        part: the FPGA part, to fill capacities the report does not give (:data:`wnae.firmware.parts.PART_CAPACITIES`).
        csynth_path, vivado_synth_path: file names used in warnings.

    Returns:
        ``(timing, resources)``, each a tuple with one entry per source present.

    Notes:
        hls4ml stores Vivado's ``Block RAM Tile`` count (36 Kb tiles, possibly ``0.5``) under the
        key ``BRAM_18K``; it is converted here to 18 Kb halves (× 2), the unit of the HLS estimate.
    """
    timing: list[TimingNumbers] = []
    resources: list[ResourceNumbers] = []
    capacity = part_capacity(part) if part else None
    report_capacity: dict[str, int | None] = {}

    csynth = report.get("CSynthesisReport")
    if csynth:
        source = f"{hls_tool} report (HLS estimate)"
        where = Path(csynth_path)
        timing.append(
            TimingNumbers(
                source=source,
                stage="hls_estimate",
                clock_period_target_ns=_float_or_none(csynth.get("TargetClockPeriod"), "TargetClockPeriod", where),
                clock_period_estimated_ns=_float_or_none(
                    csynth.get("EstimatedClockPeriod"), "EstimatedClockPeriod", where
                ),
                latency_best_cycles=_int_or_none(csynth.get("BestLatency"), "Best-caseLatency", where),
                latency_worst_cycles=_int_or_none(csynth.get("WorstLatency"), "Worst-caseLatency", where),
                ii_min_cycles=_int_or_none(csynth.get("IntervalMin"), "Interval-min", where),
                ii_max_cycles=_int_or_none(csynth.get("IntervalMax"), "Interval-max", where),
            )
        )
        keys = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram_18k": "BRAM_18K", "uram": "URAM"}
        used = {r: _float_or_none(csynth.get(k), k, where) for r, k in keys.items()}
        report_capacity = {
            r: _int_or_none(csynth.get(f"Available{k}"), f"Available{k}", where) for r, k in keys.items()
        }
        numbers = ResourceNumbers(
            source=source,
            stage="hls_estimate",
            lut=used["lut"],
            ff=used["ff"],
            dsp=used["dsp"],
            bram_18k=used["bram_18k"],
            uram=used["uram"],
        )
        if any(v is not None for v in report_capacity.values()):
            numbers = numbers.with_capacity(report_capacity, f"{hls_tool} report AvailableResources")
        if capacity is not None:
            numbers = numbers.with_capacity(capacity, capacity.source)
        resources.append(numbers)

    vsynth = report.get("VivadoSynthReport")
    if vsynth:
        where = Path(vivado_synth_path)
        tiles = _float_or_none(vsynth.get("BRAM_18K"), "Block RAM Tile", where)
        numbers = ResourceNumbers(
            source=f"{vivado_tool} synthesis report (post-synthesis)",
            stage="synthesis",
            lut=_float_or_none(vsynth.get("LUT"), "LUT", where),
            ff=_float_or_none(vsynth.get("FF"), "FF", where),
            dsp=_float_or_none(vsynth.get("DSP48E", vsynth.get("DSP")), "DSPs", where),
            bram_18k=None if tiles is None else 2 * tiles,
            uram=_float_or_none(vsynth.get("URAM"), "URAM", where),
        )
        if any(v is not None for v in report_capacity.values()):
            numbers = numbers.with_capacity(report_capacity, f"{hls_tool} report AvailableResources")
        if capacity is not None:
            numbers = numbers.with_capacity(capacity, capacity.source)
        resources.append(numbers)

    cosim = report.get("CosimReport")
    if cosim and cosim.get("LatencyMax") is not None:
        target = timing[0].clock_period_target_ns if timing else None
        timing.append(
            TimingNumbers(
                source=f"{hls_tool} C/RTL co-simulation ({cosim.get('RTL', 'RTL')}, test-bench inputs only)",
                stage="cosim",
                clock_period_target_ns=target,
                latency_best_cycles=_int_or_none(cosim.get("LatencyMin"), "cosim LatencyMin", "cosim report"),
                latency_worst_cycles=_int_or_none(cosim.get("LatencyMax"), "cosim LatencyMax", "cosim report"),
                ii_min_cycles=_int_or_none(cosim.get("IntervalMin"), "cosim IntervalMin", "cosim report"),
                ii_max_cycles=_int_or_none(cosim.get("IntervalMax"), "cosim IntervalMax", "cosim report"),
            )
        )
    return tuple(timing), tuple(resources)


def _call_hls4ml_parser(view: Path, files: ReportFiles) -> dict[str, Any]:
    from hls4ml.report import parse_vivado_report

    captured = io.StringIO()  # hls4ml prints ("Cosim report not found."); keep it out of our stdout
    try:
        with contextlib.redirect_stdout(captured):
            report = parse_vivado_report(str(view))
    except ET.ParseError as err:
        bad = files.csynth_xml or files.app_file
        msg = f"{bad}: truncated or corrupt XML report ({err})"
        raise FirmwareError(msg) from err
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as err:
        bad = files.csynth_xml or files.root
        msg = f"{bad}: hls4ml's report parser failed ({type(err).__name__}: {err}); is the report complete?"
        raise FirmwareError(msg) from err
    finally:
        for line in captured.getvalue().splitlines():
            if line.strip():
                logger.debug("hls4ml: %s", line)
    if report is None:
        msg = f"{files.root}: hls4ml could not read the project ({captured.getvalue().strip()})"
        raise FirmwareError(msg)
    return report


def parse_reports(report_dir: str | Path) -> SynthReport:
    """Parse the synthesis reports in an hls4ml project directory (or a copy laid out the same way).

    Args:
        report_dir: the project directory, or a ``--reports`` copy of it.

    Returns:
        A :class:`SynthReport` with the HLS estimate (C synthesis), the post-synthesis utilization
        (``vivado_synth.rpt``) and the co-simulation latency, where present.

    Raises:
        FirmwareError: missing directory or files, truncated or corrupt XML, no synthesis report at
            all; the message names the file.
    """
    files = find_report_files(report_dir)
    if files.csynth_xml is not None:
        # hls4ml's own parser would fail on a truncated file with an ElementTree error that does not
        # name the file; check it first so the error says which file is broken.
        try:
            ET.parse(files.csynth_xml)
        except ET.ParseError as err:
            msg = f"{files.csynth_xml}: truncated or corrupt XML report ({err})"
            raise FirmwareError(msg) from err
    else:
        logger.warning("%s: no C-synthesis report (expected %s)", files.root, files.expected_csynth_xml)
    if files.csynth_xml is None and files.vivado_synth_rpt is None:
        msg = (
            f"{files.root}: no synthesis report: missing {files.expected_csynth_xml} "
            f"(and no {files.root / 'vivado_synth.rpt'}); run C synthesis first or pass --reports"
        )
        raise FirmwareError(msg)

    with _hls4ml_view(files) as view:
        raw = _call_hls4ml_parser(view, files)

    hls_name = "Vitis HLS" if files.backend == "vitis" else "Vivado HLS"
    version = _tool_version_from_xml(files.csynth_xml) if files.csynth_xml else None
    hls_tool = f"{hls_name} {version}" if version else hls_name
    vivado_version = _vivado_version_from_rpt(files.vivado_synth_rpt) if files.vivado_synth_rpt else None
    vivado_tool = f"Vivado {vivado_version}" if vivado_version else "Vivado"
    part = _part_from_xml(files.csynth_xml) if files.csynth_xml else None

    timing, resources = normalise_hls4ml_report(
        raw,
        hls_tool=hls_tool,
        vivado_tool=vivado_tool,
        part=part,
        csynth_path=files.csynth_xml or files.expected_csynth_xml,
        vivado_synth_path=files.vivado_synth_rpt or "vivado_synth.rpt",
    )
    read = tuple(p for p in (files.app_file, files.csynth_xml, files.vivado_synth_rpt) if p is not None)
    logger.info("read %s", ", ".join(str(p) for p in read))
    return SynthReport(
        report_dir=files.root,
        project_name=files.project_name,
        part=part,
        timing=timing,
        resources=resources,
        files=read,
    )
