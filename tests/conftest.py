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


def random_pf_candidates(n_events: int, seed: int = 0, n_max: int = 32, *, displaced: bool = False) -> np.ndarray:
    """float16 (n, n_max, 6) valid PF candidates: pT-ordered, zero-padded; ``displaced`` gives tracks
    d_xy of millimetres (an emerging-jet-like sample) instead of tens of microns."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n_events, n_max, 6), np.float32)
    n = rng.integers(3, n_max + 1, size=n_events)
    filled = np.arange(n_max)[None, :] < n[:, None]
    out[..., 0] = np.sort(rng.exponential(4.0, size=(n_events, n_max)) + 0.5, axis=1)[:, ::-1]
    out[..., 1] = rng.uniform(-2.4, 2.4, size=(n_events, n_max))
    out[..., 2] = rng.uniform(-3.1, 3.1, size=(n_events, n_max))
    cls = rng.integers(1, 6, size=(n_events, n_max))
    charged = (cls <= 2) | (cls == 4)
    dxy = rng.normal(0.0, 3.0 if displaced else 0.03, size=(n_events, n_max))
    out[..., 3] = np.where(charged, dxy, 0.0)
    out[..., 4] = np.where(charged, dxy / 0.02, 0.0)
    out[..., 5] = cls
    out[~filled] = 0.0
    return out.astype(np.float16)


@pytest.fixture
def particles() -> np.ndarray:
    return random_particles(500, seed=1)


def write_toy_data_dir(
    data_dir, n_background: int = 400, n_zero_bias: int = 600, n_signal: int = 200, *, pf: bool = False
):
    """A small data directory with manifest: 4 SM processes, zero bias, two signals.

    Events are random but valid; signals have harder pT spectra so a model can tell them apart.
    With ``pf`` every file also holds PF candidates (:func:`random_pf_candidates`; ``sig_b``'s displaced).
    """
    from wnae.data.io import EventSet, write_events
    from wnae.data.samples import SM_PROCESSES, SampleInfo, SampleRole, write_manifest

    samples = []
    for i, (label, name) in enumerate(SM_PROCESSES.items()):
        p = random_particles(n_background, seed=10 + i)
        cands = random_pf_candidates(len(p), seed=40 + i) if pf else None
        write_events(
            data_dir / f"{name}.h5", EventSet(p, np.full(len(p), label), np.full(len(p), name), pf_cands=cands)
        )
        samples.append(SampleInfo(name, SampleRole.BACKGROUND, label, f"{name}.h5", len(p), len(p), 1e3, 1.0))
    p = random_particles(n_zero_bias, seed=20)
    cands = random_pf_candidates(len(p), seed=50) if pf else None
    write_events(
        data_dir / "zero_bias.h5", EventSet(p, np.full(len(p), -1), np.full(len(p), "zero_bias"), pf_cands=cands)
    )
    samples.append(SampleInfo("zero_bias", SampleRole.ZERO_BIAS, -1, "zero_bias.h5", len(p), len(p), 8e10, 1e8))
    for j, name in enumerate(("sig_a", "sig_b")):
        p = random_particles(n_signal, seed=30 + j)
        p[..., 0] *= 3.0  # harder spectrum
        cands = random_pf_candidates(len(p), seed=60 + j, displaced=name == "sig_b") if pf else None
        write_events(data_dir / f"{name}.h5", EventSet(p, np.full(len(p), -1), np.full(len(p), name), pf_cands=cands))
        samples.append(SampleInfo(name, SampleRole.SIGNAL, -1, f"{name}.h5", len(p), 2 * len(p), 1.0, 0.1))
    write_manifest(data_dir, samples)
    return data_dir


@pytest.fixture
def toy_data_dir(tmp_path):
    return write_toy_data_dir(tmp_path / "data")
