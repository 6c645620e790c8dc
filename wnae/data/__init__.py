"""L1-object events: layout, HDF5 I/O, validation and preprocessing."""

from __future__ import annotations

from wnae.data import hardware_inputs  # noqa: F401  (registers the l1_hardware normaliser)
from wnae.data.axol1tl import read_axol1tl
from wnae.data.io import EventSet, count_events, iter_events, read_events, write_events
from wnae.data.preprocess import fit_normaliser, load_normaliser
from wnae.data.validate import validate_particles

__all__ = [
    "EventSet",
    "count_events",
    "fit_normaliser",
    "iter_events",
    "load_normaliser",
    "read_axol1tl",
    "read_events",
    "validate_particles",
    "write_events",
]
