"""``wnae compare``: train configs at several seeds, evaluate each run, mean ± spread per label."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wnae.commands._args import seed

HELP = "train configs at several seeds, evaluate every run, compare mean +- std over the seeds"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "compare_default.yml"


def _run(args: argparse.Namespace) -> int:
    from wnae.config import load_config
    from wnae.evaluate.seeds import (
        COMPARE_JSON,
        COMPARE_MD,
        SeedCompareConfig,
        format_compare,
        plan_compare,
        run_compare,
    )

    cfg = load_config(args.config, SeedCompareConfig)
    plan = plan_compare(
        cfg,
        config_path=args.config,
        runs_dir=args.runs_dir,
        data_dir=args.data_dir,
        output_dir=args.output_dir,
        overwrite=args.overwrite,
        plots=False if args.no_plots else None,
        labels=args.labels,
        seeds=args.seeds,
    )
    todo = {a: sum(r.action == a for r in plan.runs) for a in ("train", "resume", "reuse")}
    sys.stderr.write(
        f"wnae compare: {len(plan.runs)} runs ({todo['train']} to train, {todo['resume']} to resume, "
        f"{todo['reuse']} reused) -> {plan.output_dir}\n"
    )
    doc = run_compare(plan)
    sys.stdout.write(format_compare(doc))
    sys.stdout.write(
        f"\nwrote {plan.output_dir / COMPARE_MD}, {plan.output_dir / COMPARE_JSON} and "
        f"{plan.output_dir / 'evaluations'}/\n"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help=HELP,
        description=(
            f"{HELP}. Trains each entry of the comparison YAML at each seed as <runs-dir>/compare-<label>-s<seed> "
            "(a finished run with the same config is reused, never retrained or overwritten), evaluates it, "
            "measures the exact EMD between SM test events and their reconstruction, and writes compare.md "
            "and compare.json (mean +- sample std over seeds; ratio of the two labels' means)."
        ),
    )
    p.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="comparison YAML (default: compare_default.yml, two-stage WNAE vs VICReg-VAE, seeds 0-4)",
    )
    p.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="data directory with manifest.json (default data/)"
    )
    p.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where the runs are trained or found (default runs/)"
    )
    p.add_argument("--output-dir", type=Path, default=None, help="output directory (default compare/<name>)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished comparison in the output directory")
    p.add_argument("--seeds", type=seed, nargs="+", default=None, help="override every entry's seeds")
    p.add_argument("--labels", nargs="+", default=None, help="only these entries (by label)")
    p.add_argument("--no-plots", action="store_true", help="no evaluation plots per run")
    p.set_defaults(func=_run)
