"""``wnae scan``: resource-aware design search — the Pareto front of efficiency at fixed rate vs LUT.

Exit status: 0 when a design within the target's budget was chosen (``chosen.yml`` written), 1 when
no front design passes the budget check, 2 on a user error (bad config, data, scan directory in use).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wnae.commands._args import positive_float, positive_int

HELP = "design scan: efficiency at fixed rate vs LUT, Pareto front, chosen train config"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "scan_two_stage.yml"


def _run(args: argparse.Namespace) -> int:
    from wnae.scan import run_scan

    result = run_scan(
        args.config,
        name=args.name,
        scans_dir=args.scans_dir,
        data_dir=args.data_dir,
        trials=args.trials,
        jobs=args.jobs,
        time_budget_min=args.time_budget_min,
        scheduler=args.scheduler,
        synthesize=not args.no_synth,
        progress=None if not args.no_progress else False,
    )
    out = sys.stdout
    ok = sum(c.ok for c in result.candidates)
    out.write(
        f"scan {result.root}: {len(result.candidates)} candidates ({ok} trained, "
        f"{result.trained_now} in this run, {result.seconds / 60:.1f} min), Pareto front: "
        f"{', '.join(result.front) or 'empty'}\n"
    )
    for path in result.written:
        out.write(f"wrote {path}\n")
    if result.chosen is None:
        out.write("no front design passes the budget check: no chosen.yml\n")
        return 1
    out.write(f"chosen: {result.chosen} -> {result.root / 'chosen.yml'}\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help=HELP,
        description=f"{HELP}. Each candidate (a point of the config's parameters) trains briefly, is evaluated at "
        "the working points on zero bias and costed by da4ml (latency, LUT); multi-objective TPE (Optuna) picks the "
        "next; Yosys synthesises the Pareto front. Writes scans/<name>/: pareto.md, pareto.json, pareto.png, "
        "chosen.yml. Run it again to resume: finished candidates are kept.",
    )
    p.add_argument(
        "config",
        nargs="?",
        type=Path,
        default=DEFAULT_CONFIG,
        help="scan config YAML (default: wnae/configs/scan_two_stage.yml)",
    )
    p.add_argument("--name", help="scan name: scans/<name>/ (default: the config's name without scan_)")
    p.add_argument("--scans-dir", type=Path, default=Path("scans"), help="where scans live (default scans/)")
    p.add_argument("--data-dir", type=Path, default=Path("data"), help="data directory (default data/)")
    p.add_argument("--trials", type=positive_int, help="candidates to finish (override the config's)")
    p.add_argument("--jobs", type=positive_int, help="candidates at a time (default: one per core)")
    p.add_argument(
        "--scheduler",
        metavar="local|tcp://HOST:PORT",
        help="train the candidates as Dask tasks: 'local' (a LocalCluster of --jobs workers) or a Dask "
        "scheduler's address, its workers sharing this file system (default: processes here)",
    )
    p.add_argument("--time-budget-min", type=positive_float, help="start no candidate after this many minutes")
    p.add_argument("--no-synth", action="store_true", help="skip Yosys on the front (da4ml numbers only)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


__all__ = ["register"]
