"""``wnae csim``: compile the HLS project with g++ and compare it bit for bit with QKeras."""

from __future__ import annotations

import argparse

from wnae.commands._args import positive_int
from wnae.commands.convert import _common, _csim

HELP = "compile the HLS project and compare it bit for bit with QKeras"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "csim",
        help=HELP,
        description=f"{HELP} on >= --events real events (SM test, zero bias, every signal). Exit status 2 on any "
        "mismatching output or trigger decision. With da4ml and Verilator installed, the pipelined RTL of the "
        "model (`wnae rtl`, without Yosys) is simulated against QKeras too.",
    )
    _common(p)
    p.add_argument("--events", type=positive_int, default=10_000, help="events to simulate (default 10000)")
    p.add_argument("--csim-tool", action="store_true", help="also run the vendor C simulation if installed")
    p.add_argument("--no-rtl", action="store_true",
                   help="skip the RTL simulation (da4ml + Verilator), which runs when those tools are installed")
    p.set_defaults(func=_csim)
