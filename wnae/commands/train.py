"""``wnae train``: train a model on the SM background and write its run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "train a model (two-stage extractor + WNAE/AE/NAE/VAE head; full-input WNAE, AE, NAE, VAE, MLP encoder)"
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
MODELS = ("two_stage", "wnae", "ae", "nae", "vae", "mlp_encoder")


def _rates(metrics: dict) -> str:
    """``"1650 events/s (ae phase 61000, wnae phase 1500)"``: total events / total time, each phase apart."""
    overall, by_phase = metrics.get("events_per_second"), metrics.get("events_per_second_by_phase") or {}
    if overall is None:
        return "no epochs timed"
    text = f"{overall:.0f} events/s"
    if len(by_phase) > 1:
        text += " (" + ", ".join(f"{phase} phase {rate:.0f}" for phase, rate in by_phase.items()) + ")"
    return text


def _run(args: argparse.Namespace) -> int:
    from wnae.config import load_config
    from wnae.errors import ConfigError
    from wnae.firmware.rtl import budget_gate
    from wnae.models.config import TrainConfig
    from wnae.train.loop import train

    if args.resume:
        if args.config is not None or args.training_sample is not None:
            given = (
                f"--config {args.config}" if args.config is not None else f"--training-sample {args.training_sample}"
            )
            msg = (
                f"--resume continues run --name with its own config.yml: drop {given} "
                "(only --epochs can change on --resume)"
            )
            raise ConfigError(msg)
        cfg = None  # the run's own config; --model and --seed are checked against it
    else:
        config_path = args.config or CONFIG_DIR / f"train_{args.model or 'two_stage'}.yml"
        overrides = {}
        if args.model is not None:
            overrides["model"] = args.model
        if args.epochs is not None:
            overrides["epochs"] = args.epochs
        if args.seed is not None:
            overrides["seed"] = args.seed
        if args.training_sample is not None:
            overrides["training_sample"] = args.training_sample
        cfg = load_config(
            config_path, TrainConfig, overrides=overrides, override_source={"training_sample": "--training-sample"}
        )
    result = train(
        cfg,
        data_dir=args.data_dir,
        runs_dir=args.runs_dir,
        name=args.name,
        resume=args.resume,
        epochs=args.epochs if args.resume else None,
        model=args.model if args.resume else None,
        seed=args.seed if args.resume else None,
        budget_gate_for=budget_gate,
    )
    final = result.metrics["final"]
    assert result.config is not None  # train() returns the config the run used
    sys.stdout.write(
        f"{result.run_dir}: {result.config.model}, {len(result.history.get('loss', []))} epochs, "
        f"{result.metrics['train_events']} training events, "
        f"{_rates(result.metrics)}, final loss {final.get('loss', float('nan')):.5g}\n"
    )
    kept = result.metrics.get("kept", {})
    if "w_ratio" in kept:
        long = (
            f", after {result.config.mcmc.diagnostics.long_steps} more steps {kept['w_long_ratio']:.2f}x"
            if "w_long_ratio" in kept
            else ""
        )
        sys.stdout.write(
            f"kept epoch {result.metrics['kept_epoch']}: exact W of its samples {kept['w_ratio']:.2f}x the two-sample "
            f"floor{long}; <E->/<E+> {kept.get('diag_energy_ratio', float('nan')):.2f}, "
            f"negatives' spread {kept.get('diag_neg_std_ratio', float('nan')):.2f} of the data's\n"
        )
    eq = result.metrics.get("equilibrium")
    if eq:
        sys.stdout.write(
            f"after {eq['steps']} more steps (exp(-E/T) itself): {eq['w_equilibrium_ratio']:.2f}x the floor; "
            f"<E->/<E+> {eq['diag_energy_ratio_equilibrium']:.2f}, "
            f"spread {eq['diag_neg_std_ratio_equilibrium']:.2f} of the data's\n"
        )
    budget = result.metrics.get("firmware_budget")
    if budget:
        checked = budget["checked"]
        sys.stdout.write(
            f"fits {budget['target']} (da4ml estimate): epoch {checked[-1]['epoch']}"
            + (f", after {len(checked) - 1} better-ranked epoch(s) over budget\n" if len(checked) > 1 else "\n")
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help=HELP,
        description=f"{HELP}. Writes runs/<name>/: deploy.h5 (the firmware model with its score head), "
        "normalisation, resolved config, history, metrics, loss plot, checkpoints.",
    )
    p.add_argument("--model", choices=MODELS, help="model family (default: the config's; without --config: two_stage)")
    p.add_argument("--config", type=Path, help="YAML config (default: wnae/configs/train_<model>.yml)")
    p.add_argument("--data-dir", type=Path, default=Path("data"), help="data directory (default data/)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="runs directory (default runs/)")
    p.add_argument("--name", help="run name (default <model>-<UTC time>)")
    p.add_argument("--epochs", type=int, help="override the config's epochs (with --resume: the new total)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument(
        "--training-sample",
        default=None,
        metavar="SAMPLE",
        help="override the config's training_sample: sm (the background samples), zero_bias, or the name "
        "of one sample of --data-dir (its test split is held out for the evaluation)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue run --name from its last checkpoint, bit-identical to an uninterrupted run "
        "(its own config; --model/--seed must match it, --epochs may only grow)",
    )
    p.set_defaults(func=_run)
