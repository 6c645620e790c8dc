"""``wnae data``: validate event files, fit the input normalisation."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HELP = "inspect, validate and normalise L1 event files"


def _check_chunk_events(args: argparse.Namespace) -> None:
    from wnae.errors import ConfigError

    if args.chunk_events < 1:
        msg = f"option --chunk-events (chunk_events={args.chunk_events}): must be at least 1 event"
        raise ConfigError(msg)


def _validate(args: argparse.Namespace) -> int:
    """Read every dataset of each file as the reader does: the L1 objects, and the PF candidates where
    the file has them."""
    from wnae.data.io import iter_events, pf_max_candidates

    _check_chunk_events(args)
    for path in args.files:
        with_pf = pf_max_candidates(path) is not None
        n = sum(len(chunk) for chunk in iter_events(path, chunk_events=args.chunk_events, with_pf=with_pf))
        sys.stdout.write(f"{path}: OK, {n} events{' with PF candidates' if with_pf else ''}\n")
    return 0


def _fit_norm(args: argparse.Namespace) -> int:
    from wnae._io import check_output_file
    from wnae.data.io import iter_events
    from wnae.data.preprocess import fit_normaliser

    _check_chunk_events(args)
    check_output_file(args.output)  # before any work; the atomic writer would only fail at the end

    def chunks() -> Iterator[np.ndarray]:
        for path in args.files:
            for chunk in iter_events(path, chunk_events=args.chunk_events):
                yield chunk.particles

    fit_normaliser(chunks(), args.kind).save(args.output)
    sys.stdout.write(f"wrote {args.kind} normalisation to {args.output}\n")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from wnae._io import check_output_file, ensure_dir
    from wnae.data.summary import format_summary, plot_paths, plot_samples, summarise_file
    from wnae.errors import DataError

    _check_chunk_events(args)
    files = [f for f in args.files if f.name != "manifest.json"]
    if not files:
        msg = "no event files given (generate them with 'make data')"
        raise DataError(msg)
    if not args.no_plots:
        ensure_dir(args.plots)
        for path in plot_paths(args.plots):
            check_output_file(path)
    summaries = [summarise_file(path, chunk_events=args.chunk_events) for path in files]
    sys.stdout.write(format_summary(summaries) + "\n")
    if not args.no_plots:
        written = plot_samples(summaries, args.plots)
        sys.stdout.write(f"wrote {len(written)} plots to {args.plots}/\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help=HELP, description=HELP)
    data_sub = data.add_subparsers(dest="data_command", metavar="<data command>", required=True)

    p = data_sub.add_parser("validate", help="check that HDF5 files follow the ADC2021 event layout")
    p.add_argument("files", nargs="+", type=Path, help="HDF5 files with a 'Particles' dataset")
    p.add_argument("--chunk-events", type=int, default=100_000, help="events read at a time (default 100000)")
    p.set_defaults(func=_validate)

    p = data_sub.add_parser(
        "summary", help="per-sample counts, multiplicities, MET, pT quantiles, and sanity plots"
    )
    p.add_argument("files", nargs="+", type=Path, help="HDF5 event files (e.g. data/*.h5)")
    p.add_argument("--plots", type=Path, default=Path("data/plots"), help="plot directory (default data/plots)")
    p.add_argument("--no-plots", action="store_true", help="only print the table")
    p.add_argument("--chunk-events", type=int, default=100_000, help="events read at a time (default 100000)")
    p.set_defaults(func=_summary)

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
    p.set_defaults(func=_fit_norm)
