"""``wnae generate``: the embedded default data set (Pythia 8 + L1 emulation)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wnae.data.generate.config import GenerateConfig

HELP = "generate the embedded default data set with Pythia 8 and the L1 emulation"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "generate_default.yml"


def _check_options(args: argparse.Namespace) -> None:
    """Command-line values that make no sense are errors naming the option, before any work."""
    from wnae.errors import ConfigError

    def bad(option: str, value: object, why: str) -> ConfigError:
        return ConfigError(f"option {option} ({option.lstrip('-')}={value!r}): {why}")

    if args.events is not None and args.events < 1:
        msg = "--events"
        raise bad(msg, args.events, "must be at least 1 event per sample")
    if args.scale is not None and not (math.isfinite(args.scale) and args.scale > 0):
        msg = "--scale"
        raise bad(msg, args.scale, "must be a positive number (it multiplies every sample's size)")
    if args.jobs is not None and args.jobs < 1:
        msg = "--jobs"
        raise bad(msg, args.jobs, "must be at least 1 worker process")
    if args.pileup is not None and not (math.isfinite(args.pileup) and args.pileup >= 0):
        msg = "--pileup"
        raise bad(msg, args.pileup, "must be a finite number >= 0 (mean pile-up interactions per crossing)")
    if args.scheduler is not None:
        from wnae._dask import check_scheduler

        check_scheduler(args.scheduler)
    if args.samples is not None and not [s for s in args.samples.split(",") if s.strip()]:
        msg = "--samples"
        raise bad(msg, args.samples, "names no sample")


def config_from_args(args: argparse.Namespace) -> GenerateConfig:
    """The generation config: ``--config`` with the command-line options applied and checked."""
    from wnae.config import load_config, parse_config
    from wnae.data.generate.config import GenerateConfig
    from wnae.errors import ConfigError

    _check_options(args)
    overrides: dict[str, object] = {}
    if args.output_dir is not None:
        overrides["output_dir"] = str(args.output_dir)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.pileup is not None:
        overrides["pileup_mean"] = args.pileup
    cfg = load_config(
        args.config,
        GenerateConfig,
        overrides=overrides,
        override_source={"output_dir": "--output-dir", "pileup_mean": "--pileup"},
    )
    data = cfg.model_dump()
    if args.samples:
        wanted = [s.strip() for s in args.samples.split(",") if s.strip()]
        unknown = sorted(set(wanted) - set(data["samples"]))
        if unknown:
            msg = f"--samples: {unknown} not in the config (has: {', '.join(data['samples'])})"
            raise ConfigError(msg)
        data["samples"] = {k: v for k, v in data["samples"].items() if k in wanted}
        slices = data.get("zero_bias_slices")
        if slices is not None:  # the weighted zero bias comes with its unbiased sample, or not at all
            if "zero_bias" in wanted:
                slices["electroweak"] = [n for n in slices["electroweak"] if n in wanted]
            else:
                data["zero_bias_slices"] = None
    sizes = list(data["samples"].values())
    if data.get("zero_bias_slices") is not None:
        sizes.append(data["zero_bias_slices"])
    for spec in sizes:
        if args.events is not None:
            spec["n_events"] = args.events
        elif args.scale is not None:
            n = spec["n_events"]
            scaled = [max(1, round(k * args.scale)) for k in (n if isinstance(n, list) else [n])]
            spec["n_events"] = scaled if isinstance(n, list) else scaled[0]
    return parse_config(GenerateConfig, data, source=str(args.config))


def _run(args: argparse.Namespace) -> int:
    from wnae.data.generate.run import generate

    cfg = config_from_args(args)
    result = generate(cfg, jobs=args.jobs, force=args.force, scheduler=args.scheduler)
    out = sys.stdout
    out.write(f"{'sample':<17} {'role':<11} {'events':>9} {'generated':>9} {'sigma [pb]':>11} {'ev/s/core':>9}\n")
    for s in result.samples:
        seconds = result.seconds.get(s.name)
        rate = f"{result.generated[s.name] / seconds:9.1f}" if seconds else "   reused"
        sigma = f"{s.cross_section_pb:11.4g}" if s.cross_section_pb is not None else " " * 11
        out.write(f"{s.name:<17} {s.role.value:<11} {s.n_events:>9} {s.n_generated:>9} {sigma} {rate}\n")
    if result.seconds:
        out.write(f"wall time {result.wall_seconds:.1f} s; files and manifest.json in {cfg.output_dir}/\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help=HELP,
        description=f"{HELP}. Files already generated with the same settings are reused.",
    )
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="YAML config (default: the shipped default)")
    p.add_argument("--output-dir", type=Path, help="where to write (default: the config's output_dir, data/)")
    p.add_argument("--samples", help="comma-separated subset of the config's samples")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--events", type=int, help="events per sample, >= 1 (replaces the config's sizes)")
    size.add_argument("--scale", type=float, help="multiply every sample size by this factor (> 0)")
    p.add_argument("--seed", type=int, help="master seed (default: the config's)")
    p.add_argument("--pileup", type=float, help="mean pile-up interactions per crossing, >= 0 (default 60)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes, >= 1 (default: all cores)")
    p.add_argument("--force", action="store_true", help="regenerate even when cached files match")
    p.add_argument(
        "--scheduler",
        metavar="local|tcp://HOST:PORT",
        help="run the blocks as Dask tasks: 'local' (a LocalCluster of --jobs workers) or an existing "
        "Dask scheduler's address; the files are the same bytes (default: a local process pool)",
    )
    p.set_defaults(func=_run)
