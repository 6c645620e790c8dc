"""``wnae hlt``: the HLT half — train a particle-level encoder, evaluate the two-level trigger, compare encoders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from wnae.commands._args import positive_float, positive_int
from wnae.commands._runs import resolve_run

if TYPE_CHECKING:
    from wnae.hlt.config import HltEvaluateConfig

HELP = "HLT encoders over PF candidates behind the L1 seed: train, two-level evaluate, compare"
CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _eval_config(args: argparse.Namespace) -> HltEvaluateConfig:
    from wnae.config import load_config
    from wnae.hlt.config import HltEvaluateConfig

    overrides, source = {}, {}
    if args.seed_wp is not None:
        overrides["l1_working_point"], source["l1_working_point"] = args.seed_wp, "--l1-working-point"
    if args.hlt_rate_khz is not None:
        overrides["hlt_rate_khz"], source["hlt_rate_khz"] = args.hlt_rate_khz, "--hlt-rate-khz"
    if args.hlt_score is not None:
        overrides["hlt_score"], source["hlt_score"] = args.hlt_score, "--hlt-score"
    return load_config(args.eval_config, HltEvaluateConfig, overrides=overrides, override_source=source)


def _train(args: argparse.Namespace) -> int:
    from wnae.config import load_config
    from wnae.hlt.config import HltTrainConfig
    from wnae.hlt.train import train_hlt

    overrides = {
        k: v
        for k, v in (
            ("seed", args.seed),
            ("epochs", args.epochs),
            ("name", args.name),
            ("max_train_events", args.max_train_events),
        )
        if v is not None
    }
    cfg = load_config(args.config, HltTrainConfig, overrides=overrides)
    result = train_hlt(cfg, args.data_dir, args.runs_dir, replace=args.retrain)
    h = result.history
    sys.stdout.write(
        f"wrote {result.run_dir}: {cfg.encoder.kind}, {cfg.epochs} epochs in {result.seconds:.0f} s "
        f"({result.events_per_second:.0f} training events/s); validation loss {h['val_loss'][-1]:.4f}, "
        f"accuracy {h['val_accuracy'][-1]:.3f}\n"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from wnae.hlt.evaluate import evaluate_two_level
    from wnae.hlt.report import report_markdown, write_two_level

    cfg = _eval_config(args)
    l1_run = args.l1_run or resolve_run(None, args.l1_runs_dir)
    out = args.output or Path(args.hlt_run) / cfg.output_name
    ev = evaluate_two_level(l1_run, args.hlt_run, args.data_dir, cfg)
    write_two_level(ev, out, plots=not args.no_plots)
    sys.stdout.write(report_markdown(ev) + f"\nwrote {out}/metrics.json, report.md and plots/\n")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from wnae.config import load_config
    from wnae.hlt.compare import compare_encoders
    from wnae.hlt.config import CompareConfig

    compare = load_config(args.config, CompareConfig)
    if args.epochs is not None or args.max_train_events is not None:
        compare = compare.model_copy(
            update={
                k: v for k, v in (("epochs", args.epochs), ("max_train_events", args.max_train_events)) if v is not None
            }
        )
    cfg = _eval_config(args)
    l1_run = args.l1_run or resolve_run(None, args.l1_runs_dir)
    out = args.output or Path(args.runs_dir) / cfg.output_name.replace("two_level", "comparison")
    compare_encoders(
        compare,
        l1_run,
        args.data_dir,
        cfg,
        args.runs_dir,
        output=out,
        retrain=args.retrain,
        timing=not args.no_timing,
        config_dir=Path(args.config).parent,
    )
    sys.stdout.write((out / "comparison.md").read_text() + f"\nwrote {out}/comparison.md and comparison.json\n")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="data directory with manifest.json (default data/)"
    )
    p.add_argument("--runs-dir", type=Path, default=Path("hlt_runs"), help="HLT run directories (default hlt_runs/)")


def _two_level_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--l1-run",
        type=Path,
        default=None,
        help="the L1 run whose working point seeds the HLT (default: the latest in --l1-runs-dir)",
    )
    p.add_argument(
        "--l1-runs-dir", type=Path, default=Path("runs"), help="where to find the latest L1 run (default runs/)"
    )
    p.add_argument(
        "--eval-config",
        type=Path,
        default=CONFIGS / "hlt_evaluate.yml",
        help="two-level YAML config (default: the shipped hlt_evaluate.yml)",
    )
    p.add_argument(
        "--l1-working-point", dest="seed_wp", default=None, help="the L1 working point that seeds (default Medium)"
    )
    p.add_argument("--hlt-rate-khz", type=positive_float, default=None, help="HLT output rate in kHz (default 1)")
    p.add_argument(
        "--hlt-score",
        choices=("encoder", "with_l1"),
        default=None,
        help="what the HLT cuts on: with_l1, the rarer of the L1 and HLT scores among the seeded zero bias, or "
        "encoder, the HLT score alone (default: the config's, with_l1)",
    )
    p.add_argument("--output", type=Path, default=None, help="output directory")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hlt", help=HELP, description=f"{HELP}.")
    hsub = p.add_subparsers(dest="hlt_command", metavar="<hlt command>", required=True)

    t = hsub.add_parser("train", help="train an HLT encoder (InfoNCE + CE over SM processes, GMM on SM latents)")
    t.add_argument(
        "--config",
        type=Path,
        default=CONFIGS / "hlt_train.yml",
        help="training YAML (default: hlt_train.yml, the PF MLP with the displacement target; hlt_linformer.yml, "
        "hlt_deepsets.yml, hlt_pf_mlp.yml, hlt_l1_mlp.yml)",
    )
    t.add_argument("--seed", type=int, default=None, help="override the config's seed")
    t.add_argument("--epochs", type=positive_int, default=None, help="override the config's epochs")
    t.add_argument("--max-train-events", type=positive_int, default=None, help="cap on SM training events")
    t.add_argument("--name", default=None, help="run name (default <encoder>-s<seed>); an existing run is an error")
    t.add_argument(
        "--retrain",
        action="store_true",
        help="replace the run --name if it exists (its two_level/ results are deleted)",
    )
    _common(t)
    t.set_defaults(func=_train)

    e = hsub.add_parser(
        "evaluate", help="two-level trigger: L1 working point seed, HLT threshold at a rate, efficiency, purity, t-SNE"
    )
    e.add_argument("hlt_run", type=Path, help="the HLT run directory (hlt_runs/<name>)")
    _two_level_options(e)
    e.add_argument("--no-plots", action="store_true", help="skip the plots")
    _common(e)
    e.set_defaults(func=_evaluate)

    c = hsub.add_parser("compare", help="every encoder at every seed behind the same L1 seed: mean ± spread, ms/event")
    c.add_argument(
        "--config",
        type=Path,
        default=CONFIGS / "hlt_compare.yml",
        help="comparison YAML (default: hlt_compare.yml, 4 encoders x 3 seeds)",
    )
    c.add_argument("--epochs", type=positive_int, default=None, help="override every encoder's epochs")
    c.add_argument("--max-train-events", type=positive_int, default=None, help="override every encoder's cap")
    c.add_argument(
        "--retrain",
        action="store_true",
        help="retrain runs that exist (without it a run with the same config is reused, and one with "
        "another config is an error)",
    )
    c.add_argument("--no-timing", action="store_true", help="skip the latency measurement")
    _two_level_options(c)
    _common(c)
    c.set_defaults(func=_compare)
