"""HDF5 event files opened, read and checked: every problem is a :class:`~wnae.errors.DataError` naming the
file, the dataset and, where there is one, the event.

The dataset names of the layout live here; :mod:`wnae.data.io` reads and writes events with them and
:mod:`wnae.data.axol1tl` reads the AXOL1TL layout. The checks find what a plain read would let through:
complex or non-numeric values, a wrong shape, and events that were never written (a killed writer
leaves HDF5 chunks unallocated, which read back as zeros).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wnae.data.schema import N_OBJECTS
from wnae.data.validate import PF_FEATURES, UNWRITTEN_TAIL_EVENTS, empty_event_mask
from wnae.errors import DataError

__all__ = [
    "HARDWARE",
    "HARDWARE_NAMES",
    "PARTICLES",
    "PF_CANDS",
    "PF_CANDS_FEATURES",
    "PROCESS_LABEL",
    "PTHAT",
    "SAMPLE_NAME",
    "check_particles_dataset",
    "check_pf_features",
    "check_pf_written",
    "check_real",
    "check_written",
    "checked_pthat",
    "h5_dataset",
    "missing_chunk_rows",
    "open_h5",
    "read_block",
]

PARTICLES = "Particles"
PROCESS_LABEL = "process_label"
SAMPLE_NAME = "sample_name"
PTHAT = "pthat_gev"
PF_CANDS = "PFCands"
PF_CANDS_FEATURES = "PFCands_Features"
HARDWARE = "ParticlesHW"
HARDWARE_NAMES = "ParticlesHW_Names"


def open_h5(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.exists():
        msg = "file not found"
        raise DataError(msg, path=path)
    if path.is_dir():
        msg = "is a directory, not an HDF5 file"
        raise DataError(msg, path=path)
    try:
        return h5py.File(path, "r")
    except OSError as err:
        msg = f"not a readable HDF5 file ({err})"
        raise DataError(msg, path=path) from err


def h5_dataset(f: h5py.File, name: str, path: Path) -> h5py.Dataset:
    obj = f.get(name)
    if obj is None:
        keys = sorted(f.keys())
        msg = f"missing dataset '{name}' (file has: {', '.join(keys) or 'nothing'})"
        raise DataError(msg, path=path)
    if not isinstance(obj, h5py.Dataset):
        msg = f"'{name}' is a group, not a dataset"
        raise DataError(msg, path=path)
    return obj


def read_block(ds: h5py.Dataset, start: int, stop: int, path: Path) -> np.ndarray:
    try:
        return ds[start:stop]
    except (OSError, RuntimeError) as err:
        msg = f"cannot read events {start}–{stop} ({err}); the file may be truncated or corrupt"
        raise DataError(msg, path=path, dataset=ds.name) from err


def check_real(ds: h5py.Dataset, path: Path) -> None:
    """Only real numbers (float or int) are events; complex values would be cast away silently."""
    if not (np.issubdtype(ds.dtype, np.floating) or np.issubdtype(ds.dtype, np.integer)):
        msg = f"expected real numbers (float or int), got dtype {ds.dtype}"
        raise DataError(msg, path=path, dataset=ds.name)


def check_particles_dataset(ds: h5py.Dataset, path: Path) -> None:
    if ds.ndim != 3 or ds.shape[1:] != (N_OBJECTS, 4):
        msg = f"expected shape (n_events, {N_OBJECTS}, 4), got {ds.shape}"
        raise DataError(msg, path=path, dataset=PARTICLES)
    check_real(ds, path)
    check_written(ds, path)


def missing_chunk_rows(ds: h5py.Dataset) -> tuple[list[int], int, int]:
    """Starts of the chunk rows (blocks of events) with unallocated chunks, missing and total chunks.

    A chunk that was never written is never allocated: HDF5 reads it as the fill value.
    """
    n, rows = ds.shape[0], ds.chunks[0]
    per_row = math.prod(math.ceil(size / c) for size, c in zip(ds.shape[1:], ds.chunks[1:], strict=True))
    expected = math.ceil(n / rows) * per_row
    try:
        allocated = ds.id.get_num_chunks()
    except (AttributeError, OSError, RuntimeError, ValueError):  # not answerable for this storage
        return [], 0, expected
    if allocated >= expected:
        return [], 0, expected
    counts: dict[int, int] = {}

    def count(info: Any) -> None:
        counts[info.chunk_offset[0]] = counts.get(info.chunk_offset[0], 0) + 1

    try:
        ds.id.chunk_iter(count)
    except (AttributeError, OSError, RuntimeError, ValueError):
        for i in range(allocated):
            count(ds.id.get_chunk_info(i))
    return [s for s in range(0, n, rows) if counts.get(s, 0) < per_row], expected - allocated, expected


def check_written(ds: h5py.Dataset, path: Path) -> None:
    """Fail on a dataset that was declared larger than what was written into it.

    HDF5 reads storage that was never written as the fill value (zeros), which would pass every
    value check as "empty events". Two signs of it are errors (see :mod:`wnae.data.validate`):
    unallocated chunks, and a tail of empty events at least one chunk long (for unchunked datasets
    :data:`~wnae.data.validate.UNWRITTEN_TAIL_EVENTS`; every event for a shorter file).
    """
    n = ds.shape[0]
    if n == 0:
        return
    rows = ds.chunks[0] if ds.chunks is not None else None
    missing, n_missing_chunks, n_chunks = missing_chunk_rows(ds) if rows is not None else ([], 0, 0)
    if not missing and not empty_event_mask(read_block(ds, n - 1, n, path))[0]:
        return  # the usual case: one event read

    # the last event with anything in it, reading backwards block by block (unallocated blocks skipped)
    missing_set = set(missing)
    step = rows if rows is not None else 65_536
    last, hi = -1, n
    while hi > 0:
        lo = (hi - 1) // step * step
        if lo not in missing_set:
            filled = np.flatnonzero(~empty_event_mask(read_block(ds, lo, hi, path)))
            if len(filled):
                last = lo + int(filled[-1])
                break
        hi = lo
    tail_start = last + 1
    tail = n - tail_start
    if missing:
        sizes = {s: min(rows, n - s) for s in missing}
        first = min(tail_start, missing[0]) if tail else missing[0]
        count = tail + sum(size for s, size in sizes.items() if s < tail_start)
        msg = (
            f"{count} of the {n} events, from this one on, were never written ({n_missing_chunks} of {n_chunks} HDF5 "
            "chunks are unallocated and read back as zeros): the file is incomplete; was its writer interrupted?"
        )
        raise DataError(msg, path=path, dataset=ds.name, event_index=first)
    threshold = min(n, rows if rows is not None else UNWRITTEN_TAIL_EVENTS)
    if tail >= threshold:
        msg = (
            f"the last {tail} of {n} events are empty (no MET, no objects), which is how HDF5 reads storage "
            "that was never written: the file is incomplete; was its writer interrupted?"
        )
        raise DataError(msg, path=path, dataset=ds.name, event_index=tail_start)


def checked_pthat(values: np.ndarray, path: Path, first_event: int) -> np.ndarray:
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"pT-hat must be finite and >= 0 GeV, got {values[i]!r}"
        raise DataError(msg, path=path, dataset=PTHAT, event_index=first_event + i)
    return values


def check_pf_written(ds: h5py.Dataset, path: Path) -> None:
    """Unallocated chunks of ``PFCands`` read back as zeros, which is valid padding ("no candidate"):
    a file whose candidates were never written in full is an error, not events without candidates."""
    if ds.chunks is None or ds.shape[0] == 0:
        return
    missing, n_missing, n_chunks = missing_chunk_rows(ds)
    if missing:
        n = ds.shape[0]
        count = sum(min(ds.chunks[0], n - s) for s in missing)
        msg = (
            f"the candidates of {count} of the {n} events, from this one on, were never written ({n_missing} of "
            f"{n_chunks} HDF5 chunks are unallocated and read back as zeros): the file is incomplete; was its "
            "writer interrupted?"
        )
        raise DataError(msg, path=path, dataset=PF_CANDS, event_index=missing[0])


def check_pf_features(f: h5py.File, path: Path) -> None:
    """``PFCands_Features``, where the file has it, must name :data:`PF_FEATURES` in order."""
    names = f.get(PF_CANDS_FEATURES)
    if names is None:
        return
    try:
        got = [bytes(v).decode() if isinstance(v, bytes | np.bytes_) else str(v) for v in names[()]]
    except (OSError, RuntimeError, AttributeError, KeyError, TypeError, ValueError) as err:
        msg = f"cannot read the feature names ({type(err).__name__}: {err})"
        raise DataError(msg, path=path, dataset=PF_CANDS_FEATURES) from err
    if got != list(PF_FEATURES):
        msg = f"the features are {got}, expected {list(PF_FEATURES)}: the file has another PF layout"
        raise DataError(msg, path=path, dataset=PF_CANDS_FEATURES)
