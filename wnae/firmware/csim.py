"""Bit-exact C simulation: the hls4ml project, compiled with g++, against the exact reference.

Runs ≥ 10k real events (SM test split, zero bias, every signal) through the C simulation and
through the exact fixed-point reference of the deployed QKeras model
(:mod:`wnae.fixed_point.reference`), and compares them element by element — and, what matters for a
trigger, counts the events
whose trigger decision (score > threshold) differs at each working point
(:mod:`wnae.firmware.compare`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from wnae._io import atomic_path, write_json_atomic
from wnae.errors import FirmwareError
from wnae.firmware.compare import OutputComparison, compare_outputs, deployed_model, simulation_inputs

if TYPE_CHECKING:
    from wnae.firmware.config import FirmwareConfig

__all__ = ["CsimResult", "require_bit_exact", "run_csim"]

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class CsimResult(OutputComparison):
    """Outcome of one C simulation: the comparison with the exact reference, plus where and how fast.

    Attributes:
        project: the hls4ml project directory.
        target: the firmware target's name.
        compile_seconds, csim_events_per_second, qkeras_events_per_second, reference_events_per_second:
            timings (the reference includes its layer-by-layer QKeras comparison).
        vendor_csim: what happened with the vendor tool's C simulation.
        menu: the working points as integer cuts on the score's bits (``menu.json``), or None;
            ``menu_note`` says where it went or why there is none.
        menu_flips: working point → events whose integer cut on the simulated firmware score decides
            otherwise than ``score > threshold`` (must be 0).
    """

    project: str
    target: str
    compile_seconds: float = 0.0
    csim_events_per_second: float = 0.0
    qkeras_events_per_second: float = 0.0
    reference_events_per_second: float = 0.0
    vendor_csim: str = ""
    menu: dict | None = None
    menu_note: str = ""
    menu_flips: dict[str, int] = field(default_factory=dict)

    @property
    def bit_exact(self) -> bool:
        return super().bit_exact and not any(self.menu_flips.values())

    def menu_lines(self) -> list[str]:
        if self.menu is None:
            return [f"  menu thresholds   {self.menu_note}"]
        lsb = self.menu["lsb"]
        out = [
            f"  menu thresholds   score {self.menu['score_type']}: integer s = score / {lsb:g}, fires when s > T "
            f"({self.menu_note})"
        ]
        for t in self.menu["thresholds"]:
            rate = (
                ""
                if t["rate_khz"] is None
                else (f", {t['rate_khz']:.3g} kHz [{t['rate_low_khz']:.3g}, {t['rate_high_khz']:.3g}]")
            )
            note = f"; {t['note']}" if t["note"] else ""
            out.append(
                f"    {t['name']:<8} T = {t['threshold_int']} (score > {t['threshold_value']:g}){rate}, "
                f"decisions differing from score > threshold: {self.menu_flips.get(t['name'], 0)}{note}"
            )
        return out

    def summary(self) -> str:
        lines = [
            f"C simulation of {self.project} (target {self.target}, output: {self.model_output})",
            *self.lines(),
            f"  speed             C sim {self.csim_events_per_second:,.0f} ev/s, "
            f"QKeras {self.qkeras_events_per_second:,.0f} ev/s, exact reference {self.reference_events_per_second:,.0f} "
            f"ev/s; g++ build {self.compile_seconds:.1f} s",
            f"  vendor C sim      {self.vendor_csim}",
            *self.menu_lines(),
            "  BIT-EXACT"
            if self.bit_exact
            else "  MISMATCH: the firmware does not compute what the quantized model computes",
        ]
        return "\n".join(lines) + "\n"


def run_csim(
    run_dir: str | Path,
    target: FirmwareConfig,
    *,
    data_dir: str | Path = "data",
    hls_projects: str | Path = "hls_projects",
    n_events: int = 10_000,
    csim_tool: bool = False,
) -> CsimResult:
    """Convert, compile and simulate; compare with the exact reference; write ``csim.json`` and ``csim.md``.

    Args:
        run_dir: a trained run.
        target: :class:`~wnae.firmware.config.FirmwareConfig`.
        data_dir: data directory (events for the comparison and the test bench).
        hls_projects: where the project goes (``<run>-<target>/``).
        n_events: events to simulate (at least).
        csim_tool: also run the vendor C simulation when vivado_hls / vitis-run is on PATH.
    """
    from wnae.firmware.convert import convert_model
    from wnae.firmware.menu import integer_decisions, menu_for_run
    from wnae.firmware.tools import HLS_TOOLS, hls_tool_for, run_hls_build
    from wnae.fixed_point.reference import exact_reference
    from wnae.models.serialization import load_run

    run = load_run(run_dir)
    model, model_output = deployed_model(run, target)
    x, counts, is_zb = simulation_inputs(run, data_dir, n_events)
    project = Path(hls_projects).absolute() / f"{run.name}-{target.name}"
    t0 = time.perf_counter()
    converted = convert_model(model, target, project, tb_inputs=x[: min(len(x), 1000)])
    compile_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    model.predict(x, batch_size=8192, verbose=0)
    qkeras_eps = len(x) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    reference = exact_reference(model, x)
    reference_eps = len(x) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    y_h = np.asarray(converted.hls_model.predict(np.ascontiguousarray(x, dtype=np.float64)), np.float64)
    csim_eps = len(x) / (time.perf_counter() - t0)
    comparison = compare_outputs(run, model_output, reference, y_h, is_zb, counts)
    menu, menu_note = menu_for_run(run, model, model_output, project)
    menu_flips = {}
    if menu is not None:  # the integer cut on the firmware's own output bits, against score > threshold
        fmt, score = menu.fixed_format, y_h.reshape(len(x), -1)[:, 0]
        menu_flips = {
            t.name: int(np.sum(integer_decisions(score, fmt, t.threshold_int) != (score > t.threshold)))
            for t in menu.thresholds
        }

    vendor = "not requested (--csim-tool)"
    if csim_tool:
        tool = hls_tool_for(target.backend)
        if tool is None:
            vendor = f"skipped: {HLS_TOOLS[target.backend]} is not on PATH (g++ C simulation above is hls4ml's own)"
        else:
            build = run_hls_build(project, target.backend, csim=True, synth=False)
            vendor = f"ran {HLS_TOOLS[target.backend]} C simulation, log {build.log_path}"
    if csim_tool and "skipped" in vendor:
        logger.warning("%s", vendor)

    result = CsimResult(
        **asdict(comparison),
        project=str(project),
        target=str(target.name),
        compile_seconds=compile_seconds,
        csim_events_per_second=csim_eps,
        qkeras_events_per_second=qkeras_eps,
        reference_events_per_second=reference_eps,
        vendor_csim=vendor,
        menu=None if menu is None else menu.to_dict(),
        menu_note=menu_note,
        menu_flips=menu_flips,
    )
    write_json_atomic(project / "csim.json", {**asdict(result), "bit_exact": result.bit_exact})
    with atomic_path(project / "csim.md") as tmp:
        tmp.write_text(result.summary())
    return result


def require_bit_exact(result: CsimResult) -> None:
    """Raise :class:`FirmwareError` unless the C simulation matched the exact reference."""
    if not result.bit_exact:
        msg = (
            f"C simulation differs from the exact reference of the quantized model: {result.n_mismatch} of "
            f"{result.n_outputs} outputs, max |diff| "
            f"{result.max_abs_diff:g}, decision flips {result.decision_flips}, menu-cut flips {result.menu_flips}; see {result.project}/csim.md"
        )
        raise FirmwareError(msg)
