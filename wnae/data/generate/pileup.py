"""In-time pile-up: a pool of minimum-bias interactions overlaid on each bunch crossing.

Generating 60 minimum-bias interactions per event with Pythia would cost 60 times the hard
process. Instead a pool of inelastic interactions is generated once (``SoftQCD:inelastic``), and
each event draws a Poisson number of them (mean ``pileup_mean``, Run 3 ≈ 60) from the pool with its
own random generator.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from wnae.data.generate.particles import ParticleBlock

__all__ = ["load_pool", "overlay_pileup", "save_pool", "sorted_by_pthat"]


def overlay_pileup(
    hard: ParticleBlock,
    pool: ParticleBlock | None,
    pileup_mean: float,
    rngs: list[np.random.Generator],
    *,
    softer_than_hard: bool = False,
) -> tuple[ParticleBlock, np.ndarray]:
    """Add Poisson(``pileup_mean``) pool interactions to each event of ``hard``.

    Args:
        hard: the hard-scatter (or triggered) interaction of each event.
        pool: minimum-bias interactions to draw from; None only when ``pileup_mean`` is 0.
        pileup_mean: mean number of pile-up interactions per bunch crossing.
        rngs: one generator per event (draws the count, then the pool indices).
        softer_than_hard: draw each event's pile-up only from the pool interactions with a pT-hat
            below that of its hard interaction (``pool`` sorted by pT-hat,
            :func:`sorted_by_pthat`): the pT-hat slices of the weighted zero bias, whose hard
            interaction is the hardest of its crossing.

    Returns:
        The merged particles, and int64 (n_events,) the number of pile-up interactions per event.
    """
    n = hard.n_events
    if pileup_mean <= 0:
        return hard, np.zeros(n, np.int64)
    if pool is None or pool.n_events == 0:
        msg = "a pile-up pool is needed when pileup_mean > 0"
        raise ValueError(msg)
    n_pu = np.array([rng.poisson(pileup_mean) for rng in rngs], np.int64)
    if softer_than_hard:
        if hard.pthat is None or pool.pthat is None or np.any(np.diff(pool.pthat) < 0):
            msg = "pile-up softer than the hard interaction needs pT-hats and a pool sorted by pT-hat"
            raise ValueError(msg)
        allowed = np.searchsorted(pool.pthat, hard.pthat, side="left")  # interactions strictly softer
        if np.any((allowed == 0) & (n_pu > 0)):
            msg = "no pile-up interaction in the pool is softer than a hard interaction"
            raise ValueError(msg)
    else:
        allowed = np.full(n, pool.n_events)
    index = np.concatenate([rng.integers(a, size=k) for rng, a, k in zip(rngs, allowed, n_pu, strict=True)])
    return hard.overlay(pool, index, n_pu), n_pu


def save_pool(path: str | Path | BinaryIO, pool: ParticleBlock) -> None:
    """Write a pool to ``.npz`` (float32 kinematics; the caller makes it atomic)."""
    if pool.pthat is None:
        msg = "a pile-up pool needs the pT-hat of each interaction (the weighted zero bias vetoes on it)"
        raise ValueError(msg)
    vertex = (
        {}
        if pool.dxy is None or pool.rxy is None
        else {"dxy": pool.dxy.astype(np.float32), "rxy": pool.rxy.astype(np.float32)}
    )
    np.savez(
        path,
        pt=pool.pt.astype(np.float32),
        eta=pool.eta.astype(np.float32),
        phi=pool.phi.astype(np.float32),
        pid=pool.pid,
        offsets=pool.offsets,
        pthat=pool.pthat,
        **vertex,
    )


def load_pool(path: str | Path) -> ParticleBlock:
    with np.load(path) as f:
        vertex = {name: f[name] for name in ("dxy", "rxy") if name in f.files}
        return ParticleBlock(
            f["pt"].astype(np.float64),
            f["eta"].astype(np.float64),
            f["phi"].astype(np.float64),
            f["pid"],
            f["offsets"],
            f["pthat"],
            **vertex,
        )


def sorted_by_pthat(pool: ParticleBlock) -> ParticleBlock:
    """The pool's interactions in increasing pT-hat (so those below a ceiling are a prefix)."""
    if pool.pthat is None:
        msg = "the pile-up pool has no pT-hat per interaction"
        raise ValueError(msg)
    return pool.take(np.argsort(pool.pthat, kind="stable"))
