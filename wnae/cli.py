"""``python -m wnae <command>``: thin argument parsing around one library call per command.

Every command has ``--help``. A :class:`~wnae.errors.WnaeError` (a user mistake: bad file, bad
config, missing tool) is printed as one line and exits with status 2; ``--debug`` shows the
traceback. Heavy libraries (TensorFlow, hls4ml, Pythia) are imported only by the commands that need
them, so ``wnae --help`` and ``wnae data ...`` stay fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from wnae import __version__
from wnae.errors import NotBuiltError, WnaeError

__all__ = ["build_parser", "main"]

logger = logging.getLogger("wnae")

EXIT_USER_ERROR = 2


# ------------------------------------------------------------------------------------------ data


def _cmd_data_validate(args: argparse.Namespace) -> int:
    from wnae.data.io import iter_events

    for path in args.files:
        n = 0
        for chunk in iter_events(path, chunk_events=args.chunk_events):
            n += len(chunk)
        sys.stdout.write(f"{path}: OK, {n} events\n")
    return 0


def _cmd_data_fit_norm(args: argparse.Namespace) -> int:
    from wnae.data.io import iter_events
    from wnae.data.preprocess import fit_normaliser

    def chunks():
        for path in args.files:
            for chunk in iter_events(path, chunk_events=args.chunk_events):
                yield chunk.particles

    norm = fit_normaliser(chunks(), args.kind)
    norm.save(args.output)
    sys.stdout.write(f"wrote {args.kind} normalisation to {args.output}\n")
    return 0


def _not_built(issue: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        msg = f"'wnae {args.command}' is not built yet (planned in the issue '{issue}')"
        raise NotBuiltError(msg)

    return run


# ---------------------------------------------------------------------------------------- parser


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect, validate and normalise L1 event files")
    data_sub = data.add_subparsers(dest="data_command", metavar="<data command>", required=True)

    p = data_sub.add_parser("validate", help="check that HDF5 files follow the ADC2021 event layout")
    p.add_argument("files", nargs="+", type=Path, help="HDF5 files with a 'Particles' dataset")
    p.add_argument("--chunk-events", type=int, default=100_000, help="events read at a time (default 100000)")
    p.set_defaults(func=_cmd_data_validate)

    p = data_sub.add_parser("fit-norm", help="fit the input normalisation on event files and save it as JSON")
    p.add_argument("files", nargs="+", type=Path, help="HDF5 files to fit on (SM training events)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output JSON file")
    p.add_argument(
        "--kind",
        choices=("standard", "fixed_point"),
        default="fixed_point",
        help="'fixed_point': integer offset + power-of-two shift on L1 hardware units (FPGA); "
        "'standard': (x - mean)/std in float (default fixed_point)",
    )
    p.add_argument("--chunk-events", type=int, default=100_000, help="events read at a time (default 100000)")
    p.set_defaults(func=_cmd_data_fit_norm)


_PLANNED = (
    ("generate", "generate the embedded default data set with Pythia 8 + FastJet", "Embedded default data"),
    ("train", "train a model (WNAE, AE, NAE, VAE, MLP encoder)", "Models and training"),
    ("evaluate", "anomaly score -> rate, signal efficiency, working points, plots", "Evaluation"),
    ("convert", "convert a trained model into an hls4ml HLS project", "Firmware: hls4ml conversion"),
    ("csim", "compile the HLS project and compare it bit for bit with QKeras", "Firmware: hls4ml conversion"),
    ("synth-report", "parse synthesis reports and check them against the L1 budget", "Synthesis reports"),
    ("rtl", "open-source RTL with da4ml, Verilator and Yosys", "Open-source firmware path"),
)


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
    _add_data_commands(sub)
    for name, help_text, issue in _PLANNED:
        p = sub.add_parser(name, help=f"{help_text} [not built yet]", description=f"{help_text}. Not built yet.")
        p.set_defaults(func=_not_built(issue))
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.INFO if verbose < 2 else logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


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
