"""``wnae synth-report``: synthesis reports of an HLS project checked against the target's L1 budget.

Exit status: 0 within budget (or ``--no-fail``), 1 budget exceeded, 3 budget not verifiable (a
budgeted quantity is in no report, or there are no reports and no tools), 2 user error (bad
config, missing or broken report file, tool failure).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wnae.commands._runs import resolve_run

if TYPE_CHECKING:
    from wnae.firmware.config import FirmwareConfig

HELP = "parse synthesis reports and check them against the L1 budget"

logger = logging.getLogger(__name__)


def _is_project(path: Path) -> bool:
    return (path / "project.tcl").is_file() or any(path.glob("*_prj"))


def _resolve_project(path: Path, target_name: str, hls_projects: Path) -> tuple[Path, Path | None]:
    """(project dir, run dir or None) for a PROJECT or RUN argument."""
    if path.is_dir() and _is_project(path):
        return path, None
    if not path.exists() and not path.is_absolute() and (Path("runs") / path).is_dir():
        path = Path("runs") / path
    if path.is_dir():
        return hls_projects / f"{path.name}-{target_name}", path
    from wnae.errors import FirmwareError

    msg = f"{path}: neither an hls4ml project directory nor a run directory (runs/<name>/)"
    raise FirmwareError(msg)


def _has_any_report(directory: Path) -> bool:
    if not directory.is_dir():
        return False
    return any(directory.glob("*_prj/*/syn/report/*_csynth.xml")) or (directory / "vivado_synth.rpt").is_file()


def _find_model(run_dir: Path | None, explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    if run_dir is None:
        return None
    for name in ("deploy.h5", "model.h5"):  # deploy.h5: the deployable model written by `wnae train`
        if (run_dir / name).is_file():
            return run_dir / name
    candidates = sorted(run_dir.glob("*.h5"))
    return candidates[0] if len(candidates) == 1 else None


def _check_json_target(path: Path) -> None:
    """Raise :class:`~wnae.errors.OutputError` naming ``--json PATH`` when it cannot be written.

    Checked before any synthesis or RTL run (minutes); the atomic writer checks again when it writes.
    Nothing is created here.
    """
    from wnae.errors import OutputError

    if path.is_dir():
        reason = "it is a directory (give a file name)"
    else:
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if ancestor.exists() and not ancestor.is_dir():
            reason = f"{ancestor} is a regular file, not a directory"
        elif not os.access(ancestor, os.W_OK | os.X_OK):
            reason = f"permission denied ({ancestor} is not writable)"
        else:
            return
    msg = f"--json {path}: cannot write: {reason}"
    raise OutputError(msg)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    from wnae._io import write_json_atomic

    write_json_atomic(path, payload)
    logger.info("wrote %s", path)


def _no_reports(args: argparse.Namespace, project: Path, run_dir: Path | None, tool_name: str) -> int:
    from wnae.firmware.budgets import EXIT_BUDGET_INCOMPLETE

    out = sys.stdout
    out.write(
        f"No synthesis reports in {project} and no {tool_name} on PATH: latency, II and resources "
        "cannot be checked against the budget.\n"
        "Run this on a machine with the vendor tools, or copy the reports from one and pass --reports DIR;\n"
        "or install the open-source RTL tools (`make install`) and run `wnae rtl RUN --target TARGET`.\n"
    )
    payload: dict[str, Any] = {"verdict": "no reports", "project": str(project), "exit_code": EXIT_BUDGET_INCOMPLETE}
    model_path = _find_model(run_dir, args.model)
    if model_path is None:
        out.write("No model file found (pass --model FILE.h5) to print its size.\n")
    else:
        from wnae.firmware.model_size import load_model_size

        size = load_model_size(model_path)
        out.write("\n" + size.to_markdown())
        payload["model_size"] = size.to_dict()
    if args.json is not None:
        _write_json(args.json, payload)
    return 0 if args.no_fail else EXIT_BUDGET_INCOMPLETE


def _rtl_report(args: argparse.Namespace, config: FirmwareConfig, project: Path, run_dir: Path | None) -> Any:
    """Numbers of the open-source RTL flow when no vendor report exists: ``<project>/rtl/rtl.json``
    if it was made for this part and clock, else a fresh ``wnae rtl`` run when the tools are installed."""
    from wnae.errors import ToolNotFoundError
    from wnae.firmware.rtl.flow import RTL_DIR_NAME, load_rtl_result, run_rtl

    saved = project / RTL_DIR_NAME / "rtl.json"
    if saved.is_file():
        result = load_rtl_result(saved.parent)
        if result.part == config.part and result.clock_period_ns == config.clock_period_ns and result.resources:
            logger.info("using the open-source RTL numbers in %s", saved)
            return result.synth_report()
        logger.info("%s was made for another part/clock or without Yosys: rebuilding", saved)
    from wnae.models.serialization import RUN_INFO

    if run_dir is None or not (run_dir / RUN_INFO).is_file():
        return None
    try:
        result = run_rtl(run_dir, config, data_dir=args.data_dir, hls_projects=args.hls_projects)
    except ToolNotFoundError as exc:
        logger.warning("no vendor reports and no open-source RTL tools: %s", exc)
        return None
    if not result.bit_exact:
        from wnae.errors import FirmwareError

        msg = f"the RTL does not match QKeras ({result.n_mismatch} outputs differ); see {result.project}/rtl.md"
        raise FirmwareError(msg)
    return result.synth_report()


def run(args: argparse.Namespace) -> int:
    """Entry point of ``wnae synth-report``."""
    from wnae.errors import ToolNotFoundError
    from wnae.firmware.budgets import check_budget
    from wnae.firmware.config import resolve_target
    from wnae.firmware.reports import parse_reports
    from wnae.firmware.tools import HLS_TOOLS, hls_tool_for, run_hls_build

    config = resolve_target(args.target)
    if args.json is not None:
        _check_json_target(args.json)
    if args.project is None:
        args.project = resolve_run(None, args.runs_dir)
    project, run_dir = _resolve_project(args.project, config.name or str(args.target), args.hls_projects)
    tool_name = HLS_TOOLS[config.backend]
    tool = hls_tool_for(config.backend)

    if args.run_synthesis and tool is None:
        msg = f"--run-synthesis: {tool_name} not found on PATH (backend {config.backend} of target {config.name})"
        raise ToolNotFoundError(msg)
    if args.reports is None and tool is not None and (args.run_synthesis or not _has_any_report(project)):
        run_hls_build(project, config.backend, vsynth=args.vivado_synthesis)
    elif args.reports is None and tool is None:
        logger.info("%s not on PATH: reading existing reports only", tool_name)

    report_dir = args.reports if args.reports is not None else project
    if args.reports is None and not _has_any_report(report_dir):
        report = None if args.no_rtl else _rtl_report(args, config, project, run_dir)
        if report is None:
            return _no_reports(args, project, run_dir, tool_name)
    else:
        report = parse_reports(report_dir)
    check = check_budget(report, config)
    payload = check.to_dict()
    if args.model is not None:
        from wnae.firmware.model_size import load_model_size

        size = load_model_size(args.model)
        payload["model_size"] = size.to_dict()
    sys.stdout.write(check.to_markdown())
    if args.json is not None:
        _write_json(args.json, payload)
    if check.verdict != "within budget":
        logger.warning("%s", check.summary())
    return 0 if args.no_fail else check.exit_code


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth-report",
        help=HELP,
        description=(
            f"{HELP}. Parses the C-synthesis (HLS estimate) and Vivado synthesis reports with hls4ml's "
            "report API and checks latency, II and LUT/FF/DSP/BRAM/URAM against the target's budget. "
            "Runs C synthesis first when vivado_hls (Vivado) / vitis-run (Vitis) is on PATH and the "
            "project has no report yet. Without vendor reports, uses the open-source RTL flow's numbers "
            "(`wnae rtl`: latency from the da4ml pipeline, resources from Yosys), labelled as such. Exit status: 0 within budget, 1 exceeded, 3 not verifiable "
            "(missing numbers or no reports), 2 error."
        ),
    )
    p.add_argument(
        "project",
        nargs="?",
        type=Path,
        help="hls4ml project directory, or a run (runs/<name>/ or <name>) whose project is "
        "hls_projects/<name>-<target>/ (default: the latest run)",
    )
    p.add_argument(
        "--target",
        default="gt_run3",
        help="firmware target: a name in firmware_configs/ or a YAML path (default gt_run3)",
    )
    p.add_argument(
        "--reports",
        type=Path,
        help="read the reports from this directory (copied from a machine with the tools, laid out as "
        "hls4ml expects) instead of the project",
    )
    p.add_argument("--no-fail", action="store_true", help="report only: exit 0 even when the budget is exceeded")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the check as JSON to OUT")
    p.add_argument(
        "--run-synthesis",
        action="store_true",
        help="run C synthesis even if reports exist (needs vivado_hls / vitis-run on PATH)",
    )
    p.add_argument(
        "--vivado-synthesis",
        action="store_true",
        help="when synthesising, also run Vivado logic synthesis (needs vivado on PATH)",
    )
    p.add_argument("--model", type=Path, help="QKeras .h5 model: also report its size (known without synthesis)")
    p.add_argument(
        "--no-rtl",
        action="store_true",
        help="without vendor reports, do not fall back to the open-source RTL numbers (da4ml + Verilator + Yosys)",
    )
    p.add_argument("--data-dir", type=Path, default=Path("data"), help="events for the RTL simulation (default data/)")
    p.add_argument(
        "--hls-projects",
        type=Path,
        default=Path("hls_projects"),
        help="where run projects live (default hls_projects)",
    )
    p.add_argument(
        "--runs-dir",
        type=Path,
        default=Path("runs"),
        help="where runs live: the default project is the latest run's (default runs/)",
    )
    p.set_defaults(func=run)
