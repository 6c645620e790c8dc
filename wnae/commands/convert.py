"""``wnae convert``: a trained run → an hls4ml HLS project for one FPGA target."""

from __future__ import annotations

import argparse
import sys

from wnae.commands._args import add_firmware_run_arguments
from wnae.commands._runs import resolve_run

HELP = "convert a trained model into an hls4ml HLS project"


def _convert(args: argparse.Namespace) -> int:
    from wnae.firmware.compare import collect_events, deployed_model
    from wnae.firmware.config import resolve_target
    from wnae.firmware.convert import convert_model
    from wnae.firmware.menu import menu_for_run
    from wnae.models.serialization import load_run

    target = resolve_target(args.target)
    run = load_run(resolve_run(args.run, args.runs_dir))
    model, output = deployed_model(run, target)
    particles, _, _ = collect_events(args.data_dir, 1000)
    project = args.output_dir / f"{run.name}-{target.name}"
    convert_model(model, target, project, tb_inputs=run.features(particles), compile=False)
    _, menu_note = menu_for_run(run, model, output, project)
    sys.stdout.write(
        f"wrote {project} ({run.info['model']} → {output}, {target.backend} {target.part}, "
        f"{target.clock_period_ns:g} ns clock); {menu_note}\n"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help=HELP, description=f"{HELP}: hls_projects/<run>-<target>/ with tb_data/.")
    add_firmware_run_arguments(p)
    p.set_defaults(func=_convert)
