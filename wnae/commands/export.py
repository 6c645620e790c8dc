"""``wnae export``: a trained run packaged for where it runs (``cmssw``: a CMSSW emulator plug-in)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from wnae.commands._args import positive_int
from wnae.commands._runs import resolve_run

HELP = (
    "export a trained run: 'cmssw' writes a CMSSW emulator plug-in (cms-hls4ml layout), 'onnx' an HLT "
    "run's whole score as one ONNX graph for ONNX Runtime"
)


def _default_name(run_name: str) -> str:
    return "GTADModel_" + re.sub(r"[^A-Za-z0-9_]", "_", run_name)


def _cmssw(args: argparse.Namespace) -> int:
    from wnae.errors import FirmwareError
    from wnae.firmware.cmssw import check_plugin, export_cmssw
    from wnae.firmware.config import resolve_target
    from wnae.models.serialization import load_run

    target = resolve_target(args.target)
    run = load_run(resolve_run(args.run, args.runs_dir))
    name = args.name or _default_name(run.name)
    output = args.output or Path("exports") / name
    export = export_cmssw(run, target, output, name=name, overwrite=args.overwrite)
    sys.stdout.write(f"wrote {output} ({name}.so: 'make' there; inputs and types in its README.md)\n")
    if args.no_check:
        return 0
    check = check_plugin(run, export, args.data_dir, n_events=args.events)
    sys.stdout.write(check.summary())
    if not check.bit_exact:
        msg = f"the plug-in's scores differ from the exact reference (see {output}/check.json)"
        raise FirmwareError(msg)
    return 0


def _onnx(args: argparse.Namespace) -> int:
    from wnae.errors import ModelError
    from wnae.hlt.model import load_hlt_run
    from wnae.hlt.onnx import check_onnx, export_onnx

    run = load_hlt_run(resolve_run(args.run, args.runs_dir))
    output = args.output or Path("exports") / f"{run.name}-onnx"
    export = export_onnx(run, output, overwrite=args.overwrite)
    sys.stdout.write(f"wrote {export.model} (input '{export.input_name}' {export.input_shape}; see its README.md)\n")
    if args.no_check:
        return 0
    check = check_onnx(run, export, args.data_dir, n_events=args.events)
    sys.stdout.write(check.summary())
    if not check.agree:
        msg = f"ONNX Runtime's scores differ from TensorFlow's beyond the tolerance (see {output}/check.json)"
        raise ModelError(msg)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help=HELP, description=f"{HELP}.")
    export_sub = p.add_subparsers(dest="export_command", metavar="<format>", required=True)
    c = export_sub.add_parser(
        "cmssw",
        help="a CMSSW emulator plug-in (hls4mlEmulator::Model, <NAME>.so) of a run trained on "
        "hardware inputs (normalisation: l1_hardware)",
        description="Write the run's deployed model as a CMSSW emulator plug-in in the cms-hls4ml layout "
        "(NN/, scales.h, <NAME>_emulator.cpp, Makefile, README.md), build <NAME>.so with g++, load it as "
        "hls4mlEmulator::ModelLoader does and compare its scores bit for bit with the exact reference on "
        "real events' hardware integers and edge cases (exit status 2 on any difference).",
    )
    c.add_argument("run", nargs="?", help="run directory or name in runs/ (default: the latest run)")
    c.add_argument(
        "--name",
        help="plug-in name, a C++ identifier: CMSSW loads 'GTADModel_' + the menu's model "
        "version (default GTADModel_<run>)",
    )
    c.add_argument("--output", type=Path, help="output directory (default exports/<NAME>)")
    c.add_argument("--target", default="gt_run3", help="firmware target: name in firmware_configs/ or YAML path")
    c.add_argument("--data-dir", type=Path, default=Path("data"), help="events for the check (default data/)")
    c.add_argument("--runs-dir", type=Path, default=Path("runs"), help="runs directory (default runs/)")
    c.add_argument("--events", type=positive_int, default=10_000, help="real events in the check (default 10000)")
    c.add_argument("--no-check", action="store_true", help="only write the directory (no g++ build, no check)")
    c.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    c.set_defaults(func=_cmssw)
    o = export_sub.add_parser(
        "onnx",
        help="an HLT run (encoder + GMM score) as one ONNX graph, checked against TensorFlow in ONNX Runtime",
        description="Write the HLT run's whole anomaly score (PF-candidate transforms, encoder, -log p(z) under "
        "its Gaussian mixture) as <output>/<run>.onnx with a README naming the input, run it in ONNX Runtime "
        "on one thread, compare its scores with TensorFlow + scikit-learn on real events from every sample and "
        "time it (check.json; exit status 2 when they differ beyond the tolerance).",
    )
    o.add_argument("run", help="HLT run directory or name in --runs-dir (e.g. pf_mlp-s0)")
    o.add_argument("--output", type=Path, help="output directory (default exports/<run>-onnx)")
    o.add_argument("--runs-dir", type=Path, default=Path("hlt_runs"), help="HLT runs directory (default hlt_runs/)")
    o.add_argument("--data-dir", type=Path, default=Path("data"), help="events for the check (default data/)")
    o.add_argument("--events", type=positive_int, default=10_000, help="real events in the check (default 10000)")
    o.add_argument("--no-check", action="store_true", help="only write the model (no ONNX Runtime check)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    o.set_defaults(func=_onnx)
