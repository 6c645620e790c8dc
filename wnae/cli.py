"""``python -m wnae <command>``: thin argument parsing around one library call per command.

Commands live in :mod:`wnae.commands`, one module each with ``register(subparsers)``. A
:class:`~wnae.errors.WnaeError` (a user mistake: bad file, bad config, missing tool) is printed as
one line and exits with status 2; ``--debug`` shows the traceback. Heavy libraries are imported
only by the commands that need them, so ``wnae --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from wnae import __version__
from wnae.errors import NotBuiltError, WnaeError

__all__ = ["build_parser", "main"]

EXIT_USER_ERROR = 2

#: The commands in pipeline order: (command, module in wnae.commands, help while not built yet).
PIPELINE: tuple[tuple[str, str, str], ...] = (
    ("data", "data", "inspect, validate and normalise L1 event files"),
    ("generate", "generate", "generate the embedded default data set with Pythia 8 and the L1 emulation"),
    ("train", "train", "train a model (WNAE, AE, NAE, VAE, MLP encoder)"),
    ("evaluate", "evaluate", "anomaly score -> rate, signal efficiency, working points, plots"),
    ("compare", "compare", "train configs at several seeds, evaluate every run, compare mean +- std over the seeds"),
    ("convert", "convert", "convert a trained model into an hls4ml HLS project"),
    ("csim", "csim", "compile the HLS project and compare it bit for bit with QKeras"),
    ("synth-report", "synth_report", "parse synthesis reports and check them against the L1 budget"),
    ("rtl", "rtl", "open-source RTL with da4ml, Verilator and Yosys"),
    ("export", "export", "export a trained run: a CMSSW emulator plug-in"),
    ("scan", "scan", "design scan: efficiency at fixed rate vs LUT, Pareto front, chosen train config"),
    ("hlt", "hlt", "HLT encoders over PF candidates behind the L1 seed: train, two-level evaluate, compare"),
)


def _not_built(command: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        msg = f"'wnae {command}' is not built yet"
        raise NotBuiltError(msg)

    return run


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m wnae``."""
    parser = argparse.ArgumentParser(
        prog="wnae",
        description="FPGA-targeted anomaly-detection triggers for the CMS Level-1 trigger.",
    )
    parser.add_argument("--version", action="version", version=f"wnae {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for command, module_name, help_text in PIPELINE:
        try:
            module = importlib.import_module(f"wnae.commands.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"wnae.commands.{module_name}":
                raise
            p = sub.add_parser(command, help=f"{help_text} [not built yet]", description=f"{help_text}. Not built yet.")
            p.set_defaults(func=_not_built(command))
            continue
        module.register(sub)
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.INFO if verbose < 2 else logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except WnaeError as err:
        if args.debug:
            raise
        sys.stderr.write(f"wnae {args.command}: error: {err}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
