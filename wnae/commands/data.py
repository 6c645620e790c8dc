"""``wnae data``: import and export event files, validate and summarise them, fit the input normalisation."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HELP = "import, export, inspect, validate and normalise L1 event files"


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
    files = []
    for f in args.files:  # a data directory stands for its manifest's samples
        if f.is_dir():
            from wnae.data.samples import load_manifest

            files += [s.path(f) for s in load_manifest(f)]
        elif f.name != "manifest.json":
            files.append(f)
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


def _import(args: argparse.Namespace) -> int:
    from wnae.data.importing import ImportOptions, import_sample
    from wnae.data.samples import SampleRole

    opts = ImportOptions(
        format=args.format,
        role=SampleRole(args.role),
        name=args.name,
        process_label=args.process_label,
        n_generated=args.n_generated,
        cross_section_pb=args.cross_section_pb,
        input_rate_khz=args.input_rate_khz,
        dataset=args.dataset,
        tree=args.tree,
        chunk_events=args.chunk_events,
        replace=args.replace,
        link=args.link,
    )
    result = import_sample(args.files, args.output_dir, opts)
    info = result.info
    how = "linked" if (info.provenance or {}).get("linked") else "imported"
    sources = len((info.provenance or {}).get("sources", []))
    sys.stdout.write(
        f"{how} {info.n_events} events from {sources} file(s) as sample '{info.name}' "
        f"({info.role.value}) into {result.path}\n"
    )
    for note in result.notes:
        sys.stdout.write(f"note: {note}\n")
    return 0


def _export(args: argparse.Namespace) -> int:
    from wnae.data.importing import export_adc2021

    _check_chunk_events(args)
    written = export_adc2021(
        args.data_dir,
        args.output_dir,
        samples=args.samples or None,
        chunk_events=args.chunk_events,
        overwrite=args.overwrite,
    )
    sys.stdout.write(f"wrote {len(written) - 1} ADC2021 files and {written[-1].name} to {args.output_dir}/\n")
    return 0


def _process_label(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        msg = f"expected an integer process label, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < -1:
        msg = f"a process label is >= 0 (or -1, none), got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _register_import(data_sub: argparse._SubParsersAction) -> None:
    from wnae.commands._args import positive_float, positive_int

    formats = ("adc2021", "axol1tl", "l1ntuple")
    roles = ("background", "zero_bias", "signal", "unseen_sm")
    p = data_sub.add_parser(
        "import",
        help="import ADC2021 files, AXOL1TL arrays or CMS L1 ntuples as one sample of a data directory",
        description="Convert the FILES (paths or quoted globs) into one sample of --output-dir (its HDF5 file and "
        "its row in manifest.json), read in chunks. One sample per call; call again to add more.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="input files or globs ('ntuples/*.root')")
    p.add_argument(
        "--format",
        required=True,
        choices=formats,
        help="adc2021 (HDF5 'Particles'), axol1tl (HDF5 "
        "data/Background_data, data/Signal_data), l1ntuple (ROOT, CMS L1 ntuples)",
    )
    p.add_argument(
        "--role",
        required=True,
        choices=roles,
        help="background (SM, trained on), zero_bias (rates), signal, unseen_sm (an SM control)",
    )
    p.add_argument("--name", required=True, help="sample name (the file <name>.h5 in --output-dir)")
    p.add_argument("--output-dir", type=Path, required=True, help="data directory to add the sample to (made if new)")
    p.add_argument(
        "--process-label",
        type=_process_label,
        default=None,
        help="SM process label of every event (default: the file's labels where it has them, else none)",
    )
    p.add_argument(
        "--n-generated",
        type=positive_int,
        default=None,
        help="events before any pre-selection of the source (efficiencies divide by it; default: imported)",
    )
    p.add_argument("--cross-section-pb", type=positive_float, default=None, help="cross-section of the sample in pb")
    p.add_argument(
        "--input-rate-khz",
        type=positive_float,
        default=None,
        help="zero bias: the rate of the stream it samples, kHz (default at evaluation: 28608.8)",
    )
    p.add_argument(
        "--dataset",
        default=None,
        help="adc2021: the dataset (default Particles); axol1tl: background (Train then Test), "
        "Background_data/Train, Background_data/Test or Signal_data/<name> (default: "
        "Signal_data/<--name> for a signal, else background)",
    )
    p.add_argument(
        "--tree",
        default=None,
        help="l1ntuple: the tree (default l1UpgradeEmuTree/L1UpgradeTree, else l1UpgradeTree/L1UpgradeTree)",
    )
    p.add_argument("--chunk-events", type=positive_int, default=50_000, help="events read at a time (default 50000)")
    p.add_argument("--replace", action="store_true", help="replace a sample of the same name")
    p.add_argument("--link", action="store_true", help="adc2021: link the one file (validated) instead of copying it")
    p.set_defaults(func=_import)

    p = data_sub.add_parser(
        "export",
        help="write a data directory's samples as plain ADC2021 files (+ export.json)",
        description="Write each sample of DATA_DIR as <name>.h5 in the ADC2021 layout (Particles, Particles_Names, "
        "Particles_Classes) and export.json with the import command that brings each back.",
    )
    p.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="data directory with manifest.json")
    p.add_argument("--output-dir", type=Path, required=True, help="where the ADC2021 files go")
    p.add_argument("--samples", nargs="+", default=None, metavar="NAME", help="only these samples (default: all)")
    p.add_argument("--chunk-events", type=int, default=100_000, help="events read at a time (default 100000)")
    p.add_argument("--overwrite", action="store_true", help="overwrite files of an earlier export")
    p.set_defaults(func=_export)


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help=HELP, description=HELP)
    data_sub = data.add_subparsers(dest="data_command", metavar="<data command>", required=True)

    p = data_sub.add_parser("validate", help="check that HDF5 files follow the ADC2021 event layout")
    p.add_argument("files", nargs="+", type=Path, help="HDF5 files with a 'Particles' dataset")
    p.add_argument("--chunk-events", type=int, default=100_000, help="events read at a time (default 100000)")
    p.set_defaults(func=_validate)

    p = data_sub.add_parser("summary", help="per-sample counts, multiplicities, MET, pT quantiles, and sanity plots")
    p.add_argument("files", nargs="+", type=Path, help="HDF5 event files (e.g. data/*.h5) or data directories")
    p.add_argument("--plots", type=Path, default=Path("data/plots"), help="plot directory (default data/plots)")
    p.add_argument("--no-plots", action="store_true", help="only print the table")
    p.add_argument("--chunk-events", type=int, default=100_000, help="events read at a time (default 100000)")
    p.set_defaults(func=_summary)

    p = data_sub.add_parser("fit-norm", help="fit the input normalisation on event files and save it as JSON")
    p.add_argument("files", nargs="+", type=Path, help="HDF5 files to fit on (SM training events)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output JSON file")
    p.add_argument(
        "--kind",
        choices=("standard", "fixed_point", "l1_hardware"),
        default="fixed_point",
        help="'fixed_point': integer offset + power-of-two shift on L1 hardware units (FPGA); "
        "'l1_hardware': CMSSW's 57 raw L1 hardware integers, (x - offset) >> shift as AXOL1TL scales them "
        "on chip; 'standard': (x - mean)/std in float (default fixed_point)",
    )
    p.add_argument("--chunk-events", type=int, default=100_000, help="events read at a time (default 100000)")
    p.set_defaults(func=_fit_norm)

    _register_import(data_sub)
