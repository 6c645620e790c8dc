"""Argument types shared by the commands: a bad value is an argparse error naming the option."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_firmware_run_arguments", "positive_float", "positive_int", "seed"]


def positive_int(text: str) -> int:
    """An integer ≥ 1 (``--events 0`` is refused by argparse with the option's name)."""
    try:
        value = int(text)
    except ValueError:
        msg = f"expected a positive integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 1:
        msg = f"must be at least 1, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive_float(text: str) -> float:
    """A number > 0 (``--time-budget-min 0`` is refused by argparse with the option's name)."""
    try:
        value = float(text)
    except ValueError:
        msg = f"expected a positive number, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not value > 0:
        msg = f"must be positive, got {value:g}"
        raise argparse.ArgumentTypeError(msg)
    return value


def seed(text: str) -> int:
    """A random seed, an integer in [0, 2^31)."""
    try:
        value = int(text)
    except ValueError:
        msg = f"expected a seed (an integer >= 0), got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0 <= value < 2**31:
        msg = f"a seed must be in [0, 2^31), got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_firmware_run_arguments(p: argparse.ArgumentParser) -> None:
    """RUN, --target, --data-dir, --runs-dir, --output-dir: the arguments of convert, csim and rtl."""
    p.add_argument("run", nargs="?", help="run directory or name in runs/ (default: the latest run)")
    p.add_argument("--target", default="gt_run3", help="firmware target: name in firmware_configs/ or YAML path")
    p.add_argument("--data-dir", type=Path, default=Path("data"), help="data directory (default data/)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="runs directory (default runs/)")
    p.add_argument("--output-dir", type=Path, default=Path("hls_projects"), help="HLS projects (default hls_projects/)")
