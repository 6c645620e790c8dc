"""``wnae convert``: a trained run → an hls4ml HLS project for one FPGA target."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "convert a trained model into an hls4ml HLS project"


def _resolve_run(run: str | None, runs_dir: Path) -> Path:
    """``run`` as given when it is a directory, else the run of that name in ``runs_dir``."""
    from wnae.errors import ModelError
    from wnae.models.serialization import latest_run

    if run is None:
        return latest_run(runs_dir)
    path = Path(run)
    if path.is_dir():
        return path
    named = runs_dir / run
    if len(path.parts) == 1 and named.is_dir():
        return named
    tried = f"{path}" if len(path.parts) > 1 or path.is_absolute() else f"neither {path} nor {named}"
    msg = f"run {run!r} not found: no such run directory ({tried})"
    raise ModelError(msg)


def _convert(args: argparse.Namespace) -> int:
    from wnae.firmware.compare import collect_events, deployed_model
    from wnae.firmware.config import resolve_target
    from wnae.firmware.convert import convert_model
    from wnae.firmware.menu import menu_for_run
    from wnae.models.serialization import load_run

    target = resolve_target(args.target)
    run = load_run(_resolve_run(args.run, args.runs_dir))
    model, output = deployed_model(run, target)
    particles, _, _ = collect_events(args.data_dir, 1000)
    project = args.output_dir / f"{run.name}-{target.name}"
    convert_model(model, target, project, tb_inputs=run.features(particles), compile=False)
    _, menu_note = menu_for_run(run, model, output, project)
    sys.stdout.write(f"wrote {project} ({run.info['model']} → {output}, {target.backend} {target.part}, "
                     f"{target.clock_period_ns:g} ns clock); {menu_note}\n")
    return 0


def _csim(args: argparse.Namespace) -> int:
    from wnae.firmware.config import resolve_target
    from wnae.firmware.csim import require_bit_exact, run_csim

    target = resolve_target(args.target)
    result = run_csim(_resolve_run(args.run, args.runs_dir), target, data_dir=args.data_dir,
                      hls_projects=args.output_dir, n_events=args.events, csim_tool=args.csim_tool)
    sys.stdout.write(result.summary())
    require_bit_exact(result)
    if not getattr(args, "no_rtl", True):
        _rtl_simulation(args, target)
    return 0


def _rtl_simulation(args: argparse.Namespace, target) -> None:  # noqa: ANN001
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
    result = run_rtl(_resolve_run(args.run, args.runs_dir), target, data_dir=args.data_dir,
                     hls_projects=args.output_dir, n_events=args.events, synthesize=False)
    sys.stdout.write("\n" + result.summary())
    require_bit_exact_rtl(result)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="?", help="run directory or name in runs/ (default: the latest run)")
    p.add_argument("--target", default="gt_run3", help="firmware target: name in firmware_configs/ or YAML path")
    p.add_argument("--data-dir", type=Path, default=Path("data"), help="data directory (default data/)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="runs directory (default runs/)")
    p.add_argument("--output-dir", type=Path, default=Path("hls_projects"), help="HLS projects (default hls_projects/)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help=HELP, description=f"{HELP}: hls_projects/<run>-<target>/ with tb_data/.")
    _common(p)
    p.set_defaults(func=_convert)
