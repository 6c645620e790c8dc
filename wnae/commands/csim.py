"""``wnae csim``: compile the HLS project with g++ and compare it bit for bit with QKeras."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from wnae.commands._args import add_firmware_run_arguments, positive_int
from wnae.commands._runs import resolve_run

if TYPE_CHECKING:
    from wnae.firmware.config import FirmwareConfig

HELP = "compile the HLS project and compare it bit for bit with QKeras"


def _csim(args: argparse.Namespace) -> int:
    from wnae.firmware.config import resolve_target
    from wnae.firmware.csim import require_bit_exact, run_csim

    target = resolve_target(args.target)
    result = run_csim(
        resolve_run(args.run, args.runs_dir),
        target,
        data_dir=args.data_dir,
        hls_projects=args.output_dir,
        n_events=args.events,
        csim_tool=args.csim_tool,
    )
    sys.stdout.write(result.summary())
    require_bit_exact(result)
    if not getattr(args, "no_rtl", True):
        _rtl_simulation(args, target)
    return 0


def _rtl_simulation(args: argparse.Namespace, target: FirmwareConfig) -> None:
    """The RTL (da4ml + Verilator) against QKeras too, when the open-source tools are installed."""
    import logging

    from wnae.errors import ToolNotFoundError
    from wnae.firmware.rtl import require_bit_exact_rtl, run_rtl
    from wnae.firmware.rtl.tools import require_da4ml, require_verilator

    try:
        require_da4ml()
        require_verilator()
    except ToolNotFoundError as exc:
        logging.getLogger(__name__).warning("RTL simulation skipped: %s", exc)
        return
    result = run_rtl(
        resolve_run(args.run, args.runs_dir),
        target,
        data_dir=args.data_dir,
        hls_projects=args.output_dir,
        n_events=args.events,
        synthesize=False,
    )
    sys.stdout.write("\n" + result.summary())
    require_bit_exact_rtl(result)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "csim",
        help=HELP,
        description=f"{HELP} on >= --events real events (SM test, zero bias, every signal). Exit status 2 on any "
        "mismatching output or trigger decision. With da4ml and Verilator installed, the pipelined RTL of the "
        "model (`wnae rtl`, without Yosys) is simulated against QKeras too.",
    )
    add_firmware_run_arguments(p)
    p.add_argument("--events", type=positive_int, default=10_000, help="events to simulate (default 10000)")
    p.add_argument("--csim-tool", action="store_true", help="also run the vendor C simulation if installed")
    p.add_argument(
        "--no-rtl",
        action="store_true",
        help="skip the RTL simulation (da4ml + Verilator), which runs when those tools are installed",
    )
    p.set_defaults(func=_csim)
