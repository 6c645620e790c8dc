"""Seeding: one seed in the config, independent streams derived from it."""

from __future__ import annotations

import numpy as np

__all__ = ["make_rng", "spawn_seeds"]


def make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``seed`` (a Generator is passed through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def spawn_seeds(seed: int, n: int) -> list[int]:
    """Derive ``n`` independent 32-bit seeds from ``seed`` with :class:`numpy.random.SeedSequence`."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]
