"""Shared fixtures: small, seeded, valid event arrays written to tmp_path."""

from __future__ import annotations

import numpy as np
import pytest

from wnae.data.schema import N_OBJECTS, SLOT_CLASS, slot_ranges


def random_particles(n_events: int, seed: int = 0) -> np.ndarray:
    """float32 (n, 19, 4) events that obey the ADC2021 layout: pT-ordered, zero-padded per type."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n_events, N_OBJECTS, 4), np.float32)
    for r in slot_ranges():
        n_filled = rng.integers(0, r.size + 1, size=n_events) if r.size > 1 else np.ones(n_events, int)
        pt = np.sort(rng.exponential(20.0, size=(n_events, r.size)) + 3.0, axis=1)[:, ::-1]
        eta = rng.uniform(-2.1, 2.1, size=(n_events, r.size)) if r.label != "MET" else np.zeros((n_events, 1))
        phi = rng.uniform(-np.pi, np.pi, size=(n_events, r.size))
        filled = np.arange(r.size)[None, :] < n_filled[:, None]
        block = out[:, r.start : r.stop]
        block[..., 0] = np.where(filled, pt, 0)
        block[..., 1] = np.where(filled, eta, 0)
        block[..., 2] = np.where(filled, phi, 0)
        block[..., 3] = np.where(filled, SLOT_CLASS[r.start], 0)
    return out


@pytest.fixture
def particles() -> np.ndarray:
    return random_particles(500, seed=1)
