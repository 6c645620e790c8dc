"""Open-source firmware: the QKeras model as pipelined Verilog (da4ml), simulated with Verilator and
synthesised with Yosys — latency and resources without the vendor tools.

Modules, in pipeline order: :mod:`~wnae.firmware.rtl.trace` (QKeras → da4ml logic, bit-exact
rounding), :mod:`~wnae.firmware.rtl.tools` (finding Verilator and Yosys),
:mod:`~wnae.firmware.rtl.yosys` (synthesis and resource counts), :mod:`~wnae.firmware.rtl.flow`
(``wnae rtl``: all of it for one run and target).
"""

from __future__ import annotations

from wnae.firmware.rtl.flow import (
    DesignEstimate,
    RtlResult,
    budget_gate,
    estimate_design,
    load_rtl_result,
    require_bit_exact_rtl,
    run_rtl,
)

__all__ = [
    "DesignEstimate",
    "RtlResult",
    "budget_gate",
    "estimate_design",
    "load_rtl_result",
    "require_bit_exact_rtl",
    "run_rtl",
]
