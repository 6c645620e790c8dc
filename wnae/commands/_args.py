"""Argument types shared by the commands: a bad value is an argparse error naming the option."""

from __future__ import annotations

import argparse

__all__ = ["positive_float", "positive_int", "seed"]


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
