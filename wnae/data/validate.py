"""Checks that an array of events obeys the ADC2021 layout (:mod:`wnae.data.schema`).

Every check is vectorised; the error names the file, the dataset and the first offending event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wnae.data.schema import MAX_ABS_ETA, MAX_ABS_PHI, N_OBJECTS, SLOT_CLASS, SLOT_NAMES, slot_ranges
from wnae.errors import DataError

__all__ = ["validate_particles"]


def _first(mask: np.ndarray) -> tuple[int, int] | None:
    """(event, slot) of the first True in a boolean (n_events, n_slots) mask, or None."""
    hits = np.argwhere(mask)
    if hits.size == 0:
        return None
    return int(hits[0, 0]), int(hits[0, 1])


def validate_particles(
    particles: np.ndarray,
    *,
    path: str | Path | None = None,
    dataset: str = "Particles",
    first_event: int = 0,
    with_class: bool = True,
) -> None:
    """Raise :class:`~wnae.errors.DataError` if ``particles`` breaks the event layout.

    Args:
        particles: float (n_events, 19, 4) — pT (GeV), η, φ (rad), class id — or (n_events, 19, 3)
            without class ids (``with_class=False``).
        path: file the array came from, for the message.
        dataset: dataset name inside the file, for the message.
        first_event: index of ``particles[0]`` in the file (for chunked reads).
        with_class: whether the last feature holds class ids.

    Raises:
        DataError: wrong shape, NaN/inf, negative pT, |η| > 5 or |φ| > π, a class id that does not
            belong in its slot, an empty slot with non-zero kinematics, or a filled slot after an
            empty one of the same type (objects must be zero-padded at the end).
    """
    n_feat = 4 if with_class else 3
    if particles.ndim != 3 or particles.shape[1:] != (N_OBJECTS, n_feat):
        msg = f"expected shape (n_events, {N_OBJECTS}, {n_feat}), got {particles.shape}"
        raise DataError(msg, path=path, dataset=dataset)

    def fail(problem: str, event: int) -> DataError:
        return DataError(problem, path=path, dataset=dataset, event_index=first_event + event)

    finite = np.isfinite(particles)
    if not finite.all():
        event, slot = _first(~finite.all(axis=2))  # type: ignore[misc]
        msg = f"non-finite value (NaN or inf) in slot {slot} ({SLOT_NAMES[slot]})"
        raise fail(msg, event)

    pt, eta, phi = particles[..., 0], particles[..., 1], particles[..., 2]
    checks = (
        (pt < 0, lambda e, s: f"pT = {pt[e, s]:.6g} GeV < 0 in slot {s} ({SLOT_NAMES[s]})"),
        (
            np.abs(eta) > MAX_ABS_ETA,
            lambda e, s: f"|eta| = {abs(eta[e, s]):.6g} > {MAX_ABS_ETA} in slot {s} ({SLOT_NAMES[s]})",
        ),
        (
            np.abs(phi) > MAX_ABS_PHI,
            lambda e, s: f"|phi| = {abs(phi[e, s]):.6g} rad > pi in slot {s} ({SLOT_NAMES[s]})",
        ),
    )
    for mask, describe in checks:
        hit = _first(mask)
        if hit is not None:
            raise fail(describe(*hit), hit[0])

    if with_class:
        cls = particles[..., 3]
        filled = cls != 0
        bad_class = filled & (cls != SLOT_CLASS[None, :])
        hit = _first(bad_class)
        if hit is not None:
            e, s = hit
            msg = (
                f"class id {cls[e, s]:g} in slot {s} ({SLOT_NAMES[s]}), "
                f"which holds class {SLOT_CLASS[s]} or 0 (empty)"
            )
            raise fail(msg, e)
        ghost = ~filled & ((pt != 0) | (eta != 0) | (phi != 0))
        hit = _first(ghost)
        if hit is not None:
            e, s = hit
            msg = f"empty slot {s} ({SLOT_NAMES[s]}, class 0) has non-zero pT/eta/phi"
            raise fail(msg, e)
    else:
        filled = pt > 0

    for r in slot_ranges():
        if r.size < 2:
            continue
        block = filled[:, r.start : r.stop]
        gap = ~block[:, :-1] & block[:, 1:]
        hit = _first(gap)
        if hit is not None:
            e, s = hit
            msg = f"{r.label} slot {r.start + s + 1} is filled after empty slot {r.start + s}: zero-padding must come last"
            raise fail(msg, e)
