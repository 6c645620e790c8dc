"""Checks that an array of events obeys the ADC2021 layout (:mod:`wnae.data.schema`).

Every check is vectorised; the error names the file, the dataset and the first offending event.

Rules (errors, except isolated empty events, which are a warning):

* shape (n, 19, 4) (or (n, 19, 3) without class ids) and a real dtype (no complex numbers);
* finite values; 0 ≤ pT ≤ √s/2 (:data:`~wnae.data.schema.MAX_PT_GEV`, 6800 GeV at 13.6 TeV);
  |η| ≤ 5; |φ| ≤ π;
* a slot holds its own class id or 0; an empty slot has zero pT, η, φ; objects are zero-padded
  at the end of their type's slots;
* **empty events** (:func:`empty_event_mask`: no MET object and no other object — every value 0)
  do not come out of an L1 trigger, which always delivers a MET object (class 1, also at
  MET = 0): they are what HDF5 returns for storage that was never written (its fill value). When
  a file *ends* with at least one HDF5 chunk of them (for unchunked datasets
  :data:`UNWRITTEN_TAIL_EVENTS`; every event when the file is shorter), or when chunks of its
  ``Particles`` dataset were never allocated, the file is incomplete and reading it is an error
  (:func:`wnae.data.io.iter_events`); isolated empty events are only counted and reported as a
  warning with the count and the first index (:class:`EmptyEventTally`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnae.data.schema import (
    MAX_ABS_ETA,
    MAX_ABS_PHI,
    MAX_PT_GEV,
    N_OBJECTS,
    SLOT_CLASS,
    SLOT_NAMES,
    slot_ranges,
)
from wnae.errors import DataError

__all__ = [
    "UNWRITTEN_TAIL_EVENTS",
    "EmptyEventTally",
    "empty_event_mask",
    "max_pt_gev_for",
    "validate_particles",
    "validate_pf_candidates",
]

#: Features of a PF candidate (``PFCands``), in order; :mod:`wnae.data.generate.pf` builds them.
PF_FEATURES: tuple[str, ...] = ("pt", "eta", "phi", "dxy", "dxy_significance", "pid_class")
#: PF particle-ID classes: 0 padding, 1 e, 2 μ, 3 γ, 4 charged hadron, 5 neutral hadron.
PF_MAX_CLASS = 5

#: Trailing empty events that mark an unchunked (contiguous) dataset as never completely written;
#: chunked datasets use their chunk length instead (a writer fills storage chunk by chunk).
UNWRITTEN_TAIL_EVENTS: int = 1024


def max_pt_gev_for(metadata: Mapping[str, Any] | None) -> float:
    """The pT bound √s/2 for a file: its metadata's ``sqrt_s_gev`` if it records a valid one."""
    sqrt_s = (metadata or {}).get("sqrt_s_gev")
    if isinstance(sqrt_s, int | float) and not isinstance(sqrt_s, bool) and math.isfinite(sqrt_s) and sqrt_s > 0:
        return float(sqrt_s) / 2
    return MAX_PT_GEV


def empty_event_mask(particles: np.ndarray) -> np.ndarray:
    """Boolean (n_events,): events with nothing at all in them — no MET, no object, all zeros."""
    particles = np.asarray(particles)
    return ~particles.reshape(len(particles), -1).any(axis=1)


@dataclass
class EmptyEventTally:
    """Counts empty events (:func:`empty_event_mask`) over the chunks of one file."""

    n_events: int = 0
    n_empty: int = 0
    first: int | None = None

    def update(self, particles: np.ndarray, first_event: int) -> None:
        mask = empty_event_mask(particles)
        self.n_events += len(mask)
        hits = np.flatnonzero(mask)
        self.n_empty += len(hits)
        if len(hits) and self.first is None:
            self.first = first_event + int(hits[0])

    def message(self) -> str | None:
        """The warning text (None when there are no empty events)."""
        if not self.n_empty:
            return None
        return (
            f"{self.n_empty} of {self.n_events} events are empty (no MET, no objects), the first at "
            f"event {self.first}; L1 events always carry a MET object, so check how the file was written"
        )


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
    max_pt_gev: float = MAX_PT_GEV,
) -> None:
    """Raise :class:`~wnae.errors.DataError` if ``particles`` breaks the event layout.

    Args:
        particles: float (n_events, 19, 4) — pT (GeV), η, φ (rad), class id — or (n_events, 19, 3)
            without class ids (``with_class=False``).
        path: file the array came from, for the message.
        dataset: dataset name inside the file, for the message.
        first_event: index of ``particles[0]`` in the file (for chunked reads).
        with_class: whether the last feature holds class ids.
        max_pt_gev: largest physical pT, √s/2 (default :data:`~wnae.data.schema.MAX_PT_GEV`).

    Raises:
        DataError: wrong shape, a complex dtype, NaN/inf, negative pT, pT > √s/2, |η| > 5 or
            |φ| > π, a class id that does not
            belong in its slot, an empty slot with non-zero kinematics, or a filled slot after an
            empty one of the same type (objects must be zero-padded at the end).
    """
    n_feat = 4 if with_class else 3
    if particles.ndim != 3 or particles.shape[1:] != (N_OBJECTS, n_feat):
        msg = f"expected shape (n_events, {N_OBJECTS}, {n_feat}), got {particles.shape}"
        raise DataError(msg, path=path, dataset=dataset)
    if not (np.issubdtype(particles.dtype, np.floating) or np.issubdtype(particles.dtype, np.integer)):
        msg = f"expected real numbers (float or int), got dtype {particles.dtype}"
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
            pt > max_pt_gev,
            lambda e, s: (
                f"pT = {pt[e, s]:.6g} GeV > {max_pt_gev:g} GeV = sqrt(s)/2, the most any object can "
                f"carry, in slot {s} ({SLOT_NAMES[s]})"
            ),
        ),
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
                f"class id {cls[e, s]:g} in slot {s} ({SLOT_NAMES[s]}), which holds class {SLOT_CLASS[s]} or 0 (empty)"
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


def validate_pf_candidates(
    pf: np.ndarray,
    *,
    path: str | Path | None = None,
    dataset: str = "PFCands",
    first_event: int = 0,
    max_pt_gev: float = MAX_PT_GEV,
) -> None:
    """Raise :class:`~wnae.errors.DataError` if ``pf`` breaks the PF-candidate layout.

    Layout: float (n_events, n_max, 6) with the features :data:`PF_FEATURES`; per event the
    candidates are pT-ordered (non-increasing) and zero-padded at the end (a padding row is all
    zeros, class 0); 0 < pT ≤ √s/2, |η| ≤ 5, |φ| ≤ π; class ids are integers 1–5; a neutral candidate
    (γ, neutral hadron) has d_xy = 0.
    """
    n_feat = len(PF_FEATURES)
    if pf.ndim != 3 or pf.shape[2] != n_feat:
        msg = f"expected shape (n_events, n_max, {n_feat}) with features {', '.join(PF_FEATURES)}, got {pf.shape}"
        raise DataError(msg, path=path, dataset=dataset)
    if not (np.issubdtype(pf.dtype, np.floating) or np.issubdtype(pf.dtype, np.integer)):
        msg = f"expected real numbers (float or int), got dtype {pf.dtype}"
        raise DataError(msg, path=path, dataset=dataset)

    def check(bad: np.ndarray, problem: str) -> None:
        where = _first(bad)
        if where is not None:
            e, c = where
            msg = f"candidate {c}: {problem} (features {dict(zip(PF_FEATURES, pf[e, c].tolist(), strict=True))})"
            raise DataError(msg, path=path, dataset=dataset, event_index=first_event + e)

    x = pf.astype(np.float64, copy=False)
    check(~np.isfinite(x).all(axis=2), "NaN or infinite value")
    pt, eta, phi, dxy, cls = x[..., 0], x[..., 1], x[..., 2], x[..., 3], x[..., 5]
    padding = cls == 0
    check(padding & (x != 0).any(axis=2), "a padding candidate (class 0) must be all zeros")
    check((cls != np.round(cls)) | (cls < 0) | (cls > PF_MAX_CLASS), f"class id must be an integer 0–{PF_MAX_CLASS}")
    check(~padding & ~((pt > 0) & (pt <= max_pt_gev)), f"pT must be in (0, {max_pt_gev:g}] GeV")
    check(np.abs(eta) > MAX_ABS_ETA, f"|eta| must be <= {MAX_ABS_ETA}")
    check(np.abs(phi) > MAX_ABS_PHI, "|phi| must be <= pi")
    check(((cls == 3) | (cls == 5)) & (dxy != 0), "a neutral candidate has d_xy = 0")
    if pf.shape[1] > 1:
        after_padding = np.zeros_like(padding)
        after_padding[:, 1:] = np.maximum.accumulate(padding, axis=1)[:, :-1] & ~padding[:, 1:]
        check(after_padding, "a candidate after the padding (candidates must be zero-padded at the end)")
        rising = np.zeros_like(padding)
        rising[:, 1:] = pt[:, 1:] > pt[:, :-1]
        check(rising, "candidates must be pT-ordered (non-increasing)")
