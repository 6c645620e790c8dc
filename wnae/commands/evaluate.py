"""``wnae evaluate``: anomaly score → rate, signal efficiency, working points, plots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wnae.commands._runs import load_any_scorer, resolve_run

HELP = "anomaly score -> rate, signal efficiency, working points, plots"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "evaluate_default.yml"


def _check_comparison_dir(output: Path | None, default: Path) -> None:
    """Create the comparison directory, or raise :class:`~wnae.errors.OutputError` naming it (and ``--output``).

    It is a regular file, lies under one, or cannot be written: one line, before minutes of scoring.
    """
    from wnae._io import ensure_dir
    from wnae.errors import OutputError

    try:
        ensure_dir(default if output is None else output)
    except OutputError as err:
        if output is None:
            raise
        msg = f"--output {err}"
        raise OutputError(msg) from err


def _run(args: argparse.Namespace) -> int:
    from wnae.config import load_config
    from wnae.evaluate.compare import format_comparison
    from wnae.evaluate.config import EvaluateConfig
    from wnae.evaluate.report import format_summary
    from wnae.evaluate.run import evaluate_runs

    overrides = {}
    if args.input_rate_khz is not None:
        overrides["input_rate_khz"] = args.input_rate_khz
    if args.no_plots:
        overrides["plots"] = False
    if args.scheduler is not None:  # a bad address fails before the model is loaded
        from wnae._dask import check_scheduler

        check_scheduler(args.scheduler)
    cfg = load_config(
        args.config,
        EvaluateConfig,
        overrides=overrides,
        override_source={"input_rate_khz": "--input-rate-khz", "plots": "--no-plots"},
    )
    runs = list(args.runs) or [resolve_run(None, args.runs_dir)]
    if len(runs) > 1:  # before any scoring: a comparison directory that cannot be written fails now
        _check_comparison_dir(args.output, Path(runs[0]).parent / "comparison")
    evaluations = evaluate_runs(
        runs,
        data_dir=args.data_dir,
        config=cfg,
        comparison_dir=args.output,
        scheduler=args.scheduler,
        load=load_any_scorer,
    )
    out = sys.stdout
    for run, e in zip(runs, evaluations, strict=True):
        out.write(format_summary(e) + "\n\n")
        out.write(f"wrote {Path(run) / 'working_points.json'} and {Path(run) / 'report.md'}\n\n")
    if len(evaluations) > 1:
        where = args.output if args.output is not None else Path(runs[0]).parent / "comparison"
        out.write("## Comparison\n\n" + format_comparison(evaluations) + "\n\n")
        out.write(f"wrote {where}/comparison.md, comparison.json and overlaid plots\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help=HELP,
        description=(
            f"{HELP}. Scores the SM test split, all zero-bias and all signal events; calibrates "
            "rates on zero bias; writes working_points.json, evaluation/ and report.md into each run. "
            "With several runs also writes a side-by-side comparison."
        ),
    )
    p.add_argument(
        "runs", nargs="*", type=Path, metavar="RUN", help="run directories (default: the latest in --runs-dir)"
    )
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="YAML config (default: the shipped default)")
    p.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="data directory with manifest.json (default data/)"
    )
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where to find the latest run (default runs/)")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="directory of the comparison of several runs (default <runs dir>/comparison)",
    )
    p.add_argument(
        "--input-rate-khz",
        type=float,
        default=None,
        help="input rate R0 in kHz (default: the config's, 28608.8 = 2544 colliding bunches x 11.2456 kHz)",
    )
    p.add_argument(
        "--scheduler",
        metavar="local|tcp://HOST:PORT",
        default=None,
        help="score the blocks as Dask tasks: 'local' (a LocalCluster of this machine's cores) or a "
        "Dask scheduler's address; the same numbers (default: in this process)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    p.set_defaults(func=_run)
