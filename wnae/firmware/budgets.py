"""Check a :class:`~wnae.firmware.reports.SynthReport` against a target's L1 budget, line by line.

Each line is one quantity — the target itself (part, clock), timing closure, worst-case latency, II,
and each budgeted resource — with its value, the limit, a status and the source of the number.
Where several sources report a quantity, the one of the latest stage is checked
(post-synthesis over HLS estimate, see :data:`~wnae.firmware.reports.STAGE_RANK`) and the others
are shown as information lines.

Statuses: ``pass`` ✓, ``fail`` ✗, ``unknown`` ? (the budget sets a limit but no report gives the
number — the design is *not* shown to fit), ``info`` · (shown, not checked).

Limits in ns are compared with a relative tolerance of :data:`REL_TOL_NS` so that a clock period
written with three decimals (240 MHz → 4.167 ns) still fits 6 cycles into 25 ns.

Example:
    >>> from wnae.firmware.reports import SynthReport, TimingNumbers
    >>> from wnae.firmware.config import resolve_target
    >>> t = TimingNumbers("example", "hls_estimate", 25.0, 20.0, 2, 2, 1, 1)
    >>> report = SynthReport(report_dir=".", project_name="x", part="xc7vx690t-ffg1927-2", timing=(t,))
    >>> check_budget(report, resolve_target("gt_run3")).verdict
    'incomplete'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from wnae.firmware.config import FirmwareConfig
from wnae.firmware.parts import same_part
from wnae.firmware.reports import LHC_BUNCH_SPACING_NS, RESOURCE_LABELS, RESOURCES, SynthReport, TimingNumbers

__all__ = [
    "EXIT_BUDGET_EXCEEDED",
    "EXIT_BUDGET_INCOMPLETE",
    "EXIT_WITHIN_BUDGET",
    "REL_TOL_NS",
    "BudgetCheck",
    "BudgetLine",
    "check_budget",
    "latency_margin_line",
]

#: Exit status of ``wnae synth-report`` when every budget line passes.
EXIT_WITHIN_BUDGET = 0
#: Exit status when at least one budget line fails.
EXIT_BUDGET_EXCEEDED = 1
#: Exit status when nothing fails but a budgeted quantity is missing from every report.
EXIT_BUDGET_INCOMPLETE = 3
#: Relative tolerance of comparisons in ns (and of II budgets converted from ns to cycles).
REL_TOL_NS = 1e-3

Status = Literal["pass", "fail", "unknown", "info"]
SYMBOLS: dict[str, str] = {"pass": "✓", "fail": "✗", "unknown": "?", "info": "·"}


@dataclass(frozen=True)
class BudgetLine:
    """One line of the budget check.

    Attributes:
        quantity: what is checked (``"latency (worst case)"``, ``"LUT"``, ...).
        status: ``pass``, ``fail``, ``unknown`` or ``info``.
        value: the measured value as text, with units (``"10 cycles = 50.0 ns = 2.00 BX"``).
        limit: the limit as text (``"≤ 50.0 ns"``), empty for information lines.
        source: where the number comes from (``"Vivado HLS 2020.1 report (HLS estimate)"``).
        measured: the number compared, in ``unit`` (``None`` if unknown).
        limit_value: the limit, in ``unit``.
        unit: unit of ``measured``/``limit_value`` (``"ns"``, ``"cycles"``, ``"fraction"``, ``""``).
    """

    quantity: str
    status: Status
    value: str
    limit: str
    source: str
    measured: float | None = None
    limit_value: float | None = None
    unit: str = ""

    @property
    def symbol(self) -> str:
        """✓ ✗ ? or ·."""
        return SYMBOLS[self.status]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {**asdict(self), "symbol": self.symbol}


@dataclass(frozen=True)
class BudgetCheck:
    """All lines of a budget check of one report against one target."""

    target: str
    part: str
    clock_period_ns: float
    lines: tuple[BudgetLine, ...]
    report: SynthReport

    @property
    def failed(self) -> tuple[BudgetLine, ...]:
        """Lines that fail."""
        return tuple(line for line in self.lines if line.status == "fail")

    @property
    def unknown(self) -> tuple[BudgetLine, ...]:
        """Budgeted quantities that no report gives."""
        return tuple(line for line in self.lines if line.status == "unknown")

    @property
    def verdict(self) -> str:
        """``"within budget"``, ``"exceeded"`` or ``"incomplete"`` (nothing fails, something is unknown)."""
        if self.failed:
            return "exceeded"
        if self.unknown:
            return "incomplete"
        return "within budget"

    @property
    def exit_code(self) -> int:
        """0 within budget, 1 exceeded, 3 incomplete."""
        return {"within budget": EXIT_WITHIN_BUDGET, "exceeded": EXIT_BUDGET_EXCEEDED}.get(
            self.verdict, EXIT_BUDGET_INCOMPLETE
        )

    def summary(self) -> str:
        """One line: verdict and the failing/unknown quantities."""
        text = f"{self.verdict.upper()} for target {self.target}"
        if self.failed:
            text += ": " + ", ".join(f"{line.quantity} {line.value} (limit {line.limit})" for line in self.failed)
        if self.unknown:
            text += "; not reported: " + ", ".join(line.quantity for line in self.unknown)
        margin = next((line for line in self.lines if line.quantity == "latency margin"), None)
        if margin is not None:
            text += f"; latency margin {margin.value}"
        return text

    def capacity_sources(self) -> list[str]:
        """Where the part capacities behind the percentages come from (one entry per source)."""
        seen = [r.available_source for r in self.report.resources if r.available_source]
        return list(dict.fromkeys(seen))

    def to_markdown(self) -> str:
        """The lines as an aligned markdown table (readable in a terminal too), then the summary."""
        header = ("", "quantity", "value", "budget", "source")
        rows = [(line.symbol, line.quantity, line.value, line.limit, line.source) for line in self.lines]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def fmt(row: tuple[str, ...]) -> str:
            return "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"

        out = [
            f"Target {self.target}: {self.part}, clock {self.clock_period_ns:g} ns "
            f"({1000 / self.clock_period_ns:.1f} MHz); report {self.report.report_dir}",
            "",
            fmt(header),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(fmt(r) for r in rows),
            "",
            *(f"Part capacity: {c}" for c in self.capacity_sources()),
            self.summary(),
        ]
        return "\n".join(out) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: verdict, exit code, lines and the full report."""
        return {
            "target": self.target,
            "part": self.part,
            "clock_period_ns": self.clock_period_ns,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "lines": [line.to_dict() for line in self.lines],
            "report": self.report.to_dict(),
        }


def _le(measured: float, limit: float, rel_tol: float = 0.0) -> bool:
    return measured <= limit or math.isclose(measured, limit, rel_tol=rel_tol)


def _target_lines(report: SynthReport, config: FirmwareConfig) -> list[BudgetLine]:
    lines: list[BudgetLine] = []
    source = report.timing[0].source if report.timing else (report.resources[0].source if report.resources else "")
    if report.part is None:
        lines.append(BudgetLine("part", "info", "not in report", config.part, source))
    else:
        ok = same_part(report.part, config.part)
        lines.append(BudgetLine("part", "pass" if ok else "fail", report.part, f"= {config.part}", source))
    timing = report.primary_timing("clock_period_target_ns")
    if timing is not None and timing.clock_period_target_ns is not None:
        ok = math.isclose(timing.clock_period_target_ns, config.clock_period_ns, rel_tol=REL_TOL_NS)
        lines.append(
            BudgetLine(
                "clock period (target)",
                "pass" if ok else "fail",
                f"{timing.clock_period_target_ns:.3f} ns",
                f"= {config.clock_period_ns:.3f} ns",
                timing.source,
                timing.clock_period_target_ns,
                config.clock_period_ns,
                "ns",
            )
        )
    timing = report.primary_timing("clock_period_estimated_ns")
    if timing is not None and timing.clock_period_estimated_ns is not None and timing.clock_period_target_ns:
        est, target = timing.clock_period_estimated_ns, timing.clock_period_target_ns
        lines.append(
            BudgetLine(
                "clock period (estimated)",
                "pass" if _le(est, target) else "fail",
                f"{est:.3f} ns",
                f"≤ {target:.3f} ns",
                timing.source,
                est,
                target,
                "ns",
            )
        )
    return lines


def _latency_lines(report: SynthReport, config: FirmwareConfig) -> list[BudgetLine]:
    limit_ns = config.budget.latency_ns
    limit_text = "" if limit_ns is None else f"≤ {limit_ns:.1f} ns ({limit_ns / LHC_BUNCH_SPACING_NS:.2f} BX)"
    primary = report.primary_timing("latency_worst_cycles")
    lines: list[BudgetLine] = []
    if primary is None:
        if limit_ns is not None:
            lines.append(
                BudgetLine(
                    "latency (worst case)", "unknown", "not reported", limit_text, "no report", None, limit_ns, "ns"
                )
            )
        return lines
    for timing in report.timing:
        if timing.latency_worst_cycles is None:
            continue
        ns = timing.latency_worst_ns
        value = f"{timing.latency_worst_cycles} cycles"
        if ns is not None:
            value += f" = {ns:.1f} ns = {ns / LHC_BUNCH_SPACING_NS:.2f} BX"
        if timing is not primary or limit_ns is None:
            lines.append(BudgetLine("latency (worst case)", "info", value, "", timing.source, ns, limit_ns, "ns"))
        elif ns is None:
            lines.append(
                BudgetLine("latency (worst case)", "unknown", value + " (no clock period)", limit_text, timing.source)
            )
        else:
            status: Status = "pass" if _le(ns, limit_ns, REL_TOL_NS) else "fail"
            lines.append(
                BudgetLine("latency (worst case)", status, value, limit_text, timing.source, ns, limit_ns, "ns")
            )
            margin = latency_margin_line(timing, limit_ns)
            if margin is not None:
                lines.append(margin)
    return lines


def latency_margin_line(timing: TimingNumbers, limit_ns: float) -> BudgetLine | None:
    """The latency margin of an adder-level model, in ns, at its nominal delay per level and across its range.

    The budget's whole cycles (``limit_ns`` over the clock period) each hold ``usable_cycle_ns`` of adder
    levels; the margin is that time less ``adder_levels`` × the delay of one level. Where its sign changes
    inside the model's range of delays the line says the verdict is within the model's uncertainty.
    ``None`` for a timing that does not come from such a model.
    """
    if timing.adder_levels is None or timing.adder_delay_ns is None or timing.usable_cycle_ns is None:
        return None
    if not timing.clock_period_target_ns:
        return None
    cycles = math.floor(limit_ns / timing.clock_period_target_ns * (1 + REL_TOL_NS))
    available = cycles * timing.usable_cycle_ns
    low, nominal, high = timing.adder_delay_ns
    margin, worst, best = (available - timing.adder_levels * t for t in (nominal, high, low))
    if worst >= 0:
        reading = "fits at every delay in the range"
    elif best < 0:
        reading = "over at every delay in the range"
    else:
        reading = "within the model's uncertainty"
    value = f"{margin:+.1f} ns ({worst:+.1f} to {best:+.1f} ns at {low:g}–{high:g} ns per adder level): {reading}"
    source = (
        f"{timing.adder_levels:g} adder levels × {nominal:g} ns against {cycles} × {timing.usable_cycle_ns:g} ns "
        "usable per cycle (docs: the latency model and its evidence)"
    )
    return BudgetLine("latency margin", "info", value, "", source, margin, 0.0, "ns")


def _ii_lines(report: SynthReport, config: FirmwareConfig) -> list[BudgetLine]:
    primary = report.primary_timing("ii_max_cycles")
    clock_ns = (primary.clock_period_target_ns if primary else None) or config.clock_period_ns
    limit_cycles = config.budget.ii_limit_cycles(clock_ns)
    if limit_cycles is None:
        limit_text = ""
    elif config.budget.ii_ns is not None:
        limit_text = f"≤ {config.budget.ii_ns:.1f} ns ({limit_cycles:.2f} cycles)"
    else:
        limit_text = f"≤ {limit_cycles:g} cycles ({limit_cycles * clock_ns:.1f} ns)"
    lines: list[BudgetLine] = []
    if primary is None:
        if limit_cycles is not None:
            lines.append(
                BudgetLine(
                    "II (initiation interval)",
                    "unknown",
                    "not reported",
                    limit_text,
                    "no report",
                    None,
                    limit_cycles,
                    "cycles",
                )
            )
        return lines
    for timing in report.timing:
        if timing.ii_max_cycles is None:
            continue
        value = f"{timing.ii_max_cycles} cycles"
        if timing.ii_max_ns is not None:
            value += f" = {timing.ii_max_ns:.1f} ns"
        if timing is not primary or limit_cycles is None:
            status: Status = "info"
        else:
            status = "pass" if _le(timing.ii_max_cycles, limit_cycles, REL_TOL_NS) else "fail"
        lines.append(
            BudgetLine(
                "II (initiation interval)",
                status,
                value,
                limit_text if status != "info" else "",
                timing.source,
                float(timing.ii_max_cycles),
                limit_cycles,
                "cycles",
            )
        )
    return lines


def _resource_lines(report: SynthReport, config: FirmwareConfig) -> list[BudgetLine]:
    budgets = config.budget.resource_fractions()
    lines: list[BudgetLine] = []
    for resource in RESOURCES:
        label = RESOURCE_LABELS[resource]
        limit = budgets.get(resource)
        limit_text = "" if limit is None else f"≤ {100 * limit:.2f}%"
        primary = report.primary_resources(resource)
        if primary is None:
            if limit is not None:
                lines.append(
                    BudgetLine(label, "unknown", "not reported", limit_text, "no report", None, limit, "fraction")
                )
            continue
        for numbers in report.resources:
            used = numbers.used(resource)
            if used is None:
                continue
            available = numbers.available(resource)
            fraction = numbers.fraction(resource)
            value = f"{used:g}"
            if available:
                value += f" / {available} = {100 * fraction:.2f}%" if fraction is not None else f" / {available}"
            elif available == 0:
                value += " (part has none)"
            source = numbers.source
            if numbers is not primary or limit is None:
                lines.append(BudgetLine(label, "info", value, "", source, fraction, limit, "fraction"))
                continue
            if fraction is None:
                # used > 0 of a resource the part does not have fails; 0 of it passes
                if available == 0:
                    status: Status = "pass" if used == 0 else "fail"
                else:
                    status = "unknown"
                    value += " (part capacity unknown)"
            else:
                status = "pass" if _le(fraction, limit) else "fail"
            lines.append(BudgetLine(label, status, value, limit_text, source, fraction, limit, "fraction"))
    return lines


def check_budget(report: SynthReport, config: FirmwareConfig) -> BudgetCheck:
    """Check ``report`` against the budget of ``config``.

    Args:
        report: parsed synthesis report(s).
        config: the target; its part and clock must match the report's, and its ``budget``
            gives the limits (unset limits are shown as information only).

    Returns:
        A :class:`BudgetCheck`; its :attr:`~BudgetCheck.verdict` and
        :attr:`~BudgetCheck.exit_code` summarise it.
    """
    lines = [
        *_target_lines(report, config),
        *_latency_lines(report, config),
        *_ii_lines(report, config),
        *_resource_lines(report, config),
    ]
    return BudgetCheck(
        target=config.name or "target",
        part=config.part,
        clock_period_ns=config.clock_period_ns,
        lines=tuple(lines),
        report=report,
    )
