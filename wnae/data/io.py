"""Reading and writing L1-object events in HDF5.

The layouts:

* **ADC2021** (and ours, a superset): dataset ``Particles`` float (N, 19, 4) with
  ``Particles_Names``/``Particles_Classes``; our files add per-event ``process_label`` (int) and
  ``sample_name`` (bytes), and generator metadata as root attributes (``meta/<key>``, JSON-encoded).
* **AXOL1TL**: background and signals in one file, read and written by :mod:`wnae.data.axol1tl`.

Events imported from CMS L1 ntuples also keep the L1 hardware integers of each slot
(``ParticlesHW``, int32 (N, 19, 3): ``[iEt, iEta, iPhi]``, zero for empty slots) beside the physical
values, for firmware that reads the raw hardware words.

Large files are read in chunks (:func:`iter_events`) so memory stays bounded; every write goes to a
temporary file that is renamed into place only when complete.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from wnae._io import atomic_path
from wnae.data.integrity import (
    HARDWARE,
    HARDWARE_NAMES,
    PARTICLES,
    PF_CANDS,
    PF_CANDS_FEATURES,
    PROCESS_LABEL,
    PTHAT,
    SAMPLE_NAME,
    check_particles_dataset,
    check_pf_features,
    check_pf_written,
    check_real,
    checked_pthat,
    h5_dataset,
    open_h5,
    read_block,
)
from wnae.data.schema import (
    N_FEATURES,
    N_OBJECTS,
    PARTICLES_CLASSES,
    PARTICLES_NAMES,
)
from wnae.data.validate import (
    PF_FEATURES,
    EmptyEventTally,
    max_pt_gev_for,
    validate_particles,
    validate_pf_candidates,
)
from wnae.errors import DataError

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "EventSet",
    "EventWriter",
    "count_events",
    "has_hardware",
    "iter_events",
    "pf_max_candidates",
    "read_events",
    "read_metadata",
    "write_events",
]

logger = logging.getLogger(__name__)

#: The columns of ``ParticlesHW``: the L1 hardware integers of each slot (muons at the vertex).
HARDWARE_COLUMNS: tuple[str, ...] = ("IEt", "IEta", "IPhi")
#: Storage type of the PF candidates: float16 (relative precision 5e-4, below every resolution of the
#: view) keeps the files within ~10x of the L1-only ones with 128 candidates per event.
PF_DTYPE = np.float16
_META_PREFIX = "meta/"
DEFAULT_CHUNK_EVENTS = 100_000


@dataclass
class EventSet:
    """A block of events in memory.

    Attributes:
        particles: float32 (n_events, 19, 4): pT (GeV), η, φ (rad), class id.
        process_label: int (n_events,) SM process label for the classification loss (−1 = none).
        sample_name: str (n_events,) name of the sample each event came from.
        metadata: generator metadata (cross-section, seed, settings, …), JSON-serialisable values.
        pthat_gev: float32 (n_events,) largest generator pT-hat (GeV) among the bunch crossing's
            interactions (hard process and pile-up), or None; the weighted zero bias vetoes on it.
        pf_cands: float (n_events, n_max, 6) particle-flow candidates (features
            :data:`~wnae.data.validate.PF_FEATURES`, pT-ordered, zero-padded), or None.
        hardware: int32 (n_events, 19, 3) L1 hardware integers ``[iEt, iEta, iPhi]`` of the same
            slots (:data:`HARDWARE_COLUMNS`; events imported from L1 ntuples), or None.
    """

    particles: np.ndarray
    process_label: np.ndarray | None = None
    sample_name: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    pthat_gev: np.ndarray | None = None
    pf_cands: np.ndarray | None = None
    hardware: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.particles = np.asarray(self.particles, dtype=np.float32)
        n = len(self.particles)
        if self.pthat_gev is not None:
            self.pthat_gev = np.asarray(self.pthat_gev, dtype=np.float32)
        for name in ("process_label", "sample_name", "pthat_gev", "pf_cands", "hardware"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                msg = f"{name} has {len(value)} entries for {n} events"
                raise DataError(msg)
        if self.process_label is not None:
            self.process_label = np.asarray(self.process_label, dtype=np.int16)
        if self.sample_name is not None:
            self.sample_name = np.asarray(self.sample_name, dtype=str)
        if self.hardware is not None:
            self.hardware = np.asarray(self.hardware, dtype=np.int32)
            if self.hardware.shape[1:] != (N_OBJECTS, len(HARDWARE_COLUMNS)):
                msg = f"hardware must have shape (n, {N_OBJECTS}, {len(HARDWARE_COLUMNS)}), got {self.hardware.shape}"
                raise DataError(msg)

    def __len__(self) -> int:
        return len(self.particles)

    @property
    def features(self) -> np.ndarray:
        """float32 (n_events, 57): pT, η, φ of the 19 slots (see :data:`~wnae.data.schema.FEATURE_NAMES`)."""
        return self.particles[:, :, :3].reshape(len(self), N_FEATURES)

    def select(self, index: np.ndarray | slice) -> EventSet:
        """A new EventSet with the events at ``index`` (metadata shared)."""
        return EventSet(
            self.particles[index],
            None if self.process_label is None else self.process_label[index],
            None if self.sample_name is None else self.sample_name[index],
            dict(self.metadata),
            None if self.pthat_gev is None else self.pthat_gev[index],
            None if self.pf_cands is None else self.pf_cands[index],
            None if self.hardware is None else self.hardware[index],
        )

    @classmethod
    def concatenate(cls, parts: list[EventSet]) -> EventSet:
        """Join EventSets; per-event labels are kept only if every part has them."""
        if not parts:
            msg = "no event sets to concatenate"
            raise DataError(msg)

        def join(name: str) -> np.ndarray | None:
            values = [getattr(p, name) for p in parts]
            return None if any(v is None for v in values) else np.concatenate(values)

        return cls(
            np.concatenate([p.particles for p in parts]),
            join("process_label"),
            join("sample_name"),
            dict(parts[0].metadata),
            join("pthat_gev"),
            join("pf_cands"),
            join("hardware"),
        )


def _read_metadata(f: h5py.File, path: Path) -> dict[str, Any]:
    meta = {}
    try:
        keys = list(f.attrs.keys())
    except (OSError, RuntimeError, TypeError) as err:
        msg = f"cannot read the file's attributes ({err})"
        raise DataError(msg, path=path) from err
    for key in keys:
        if not key.startswith(_META_PREFIX):
            continue
        try:
            value = f.attrs[key]
        except (OSError, RuntimeError, TypeError) as err:
            msg = f"cannot read metadata attribute '{key}' ({err})"
            raise DataError(msg, path=path) from err
        if isinstance(value, bytes | np.bytes_):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError as err:
                msg = f"metadata attribute '{key}' is not UTF-8 text ({err})"
                raise DataError(msg, path=path) from err
        if not isinstance(value, str):
            kind = getattr(value, "dtype", type(value).__name__)
            msg = f"metadata attribute '{key}' must be a JSON-encoded string, got {kind} {value!r:.60}"
            raise DataError(msg, path=path)
        try:
            meta[key[len(_META_PREFIX) :]] = json.loads(value)
        except json.JSONDecodeError as err:
            msg = f"metadata attribute '{key}' is not valid JSON ({err}): {value!r:.60}"
            raise DataError(msg, path=path) from err
    return meta


def _pf_dataset(f: h5py.File, path: Path, n_events: int) -> h5py.Dataset:
    ds = f.get(PF_CANDS)
    if ds is None:
        msg = (
            f"no '{PF_CANDS}' dataset: the file has only the L1 objects (regenerate it with PF candidates, "
            "the default of 'wnae generate')"
        )
        raise DataError(msg, path=path)
    if not isinstance(ds, h5py.Dataset):
        msg = f"'{PF_CANDS}' is a group, not a dataset"
        raise DataError(msg, path=path, dataset=PF_CANDS)
    if ds.ndim != 3 or ds.shape[0] != n_events or ds.shape[2] != len(PF_FEATURES):
        msg = (
            f"expected shape ({n_events}, n_max, {len(PF_FEATURES)}) to match {PARTICLES} and the features "
            f"{', '.join(PF_FEATURES)}, got {ds.shape}"
        )
        raise DataError(msg, path=path, dataset=PF_CANDS)
    check_real(ds, path)
    check_pf_written(ds, path)
    check_pf_features(f, path)
    return ds


def pf_max_candidates(path: str | Path) -> int | None:
    """Candidates stored per event (n_max) in the file's ``PFCands``, or None when it has none.

    A ``PFCands`` entry that the reader would refuse (a group, another shape, not real numbers,
    never written in full) is the reader's :class:`~wnae.errors.DataError`, named, never skipped.
    """
    path = Path(path)
    with open_h5(path) as f:
        if f.get(PF_CANDS) is None:
            return None
        n_events = h5_dataset(f, PARTICLES, path).shape[0]
        return int(_pf_dataset(f, path, n_events).shape[1])


def _read_pf(ds: h5py.Dataset, lo: int, hi: int, path: Path, validate: bool, max_pt: float) -> np.ndarray:
    block = read_block(ds, lo, hi, path)
    if validate:
        validate_pf_candidates(block, path=path, dataset=PF_CANDS, first_event=lo, max_pt_gev=max_pt)
    return block


def _hardware_dataset(f: h5py.File, path: Path, n_events: int) -> h5py.Dataset:
    ds = f.get(HARDWARE)
    if ds is None:
        msg = "no L1 hardware integers in this file (only events imported from L1 ntuples have them)"
        raise DataError(msg, path=path, dataset=HARDWARE)
    want = (n_events, N_OBJECTS, len(HARDWARE_COLUMNS))
    if not isinstance(ds, h5py.Dataset) or ds.shape != want or ds.dtype.kind not in "iu":
        got = f"{ds.dtype} {ds.shape}" if isinstance(ds, h5py.Dataset) else "a group"
        msg = f"expected integers of shape {want} (one row per event of {PARTICLES}), got {got}"
        raise DataError(msg, path=path, dataset=HARDWARE)
    return ds


def has_hardware(path: str | Path) -> bool:
    """Whether an event file keeps the L1 hardware integers (``ParticlesHW``) beside the physical values."""
    path = Path(path)
    with open_h5(path) as f:
        return HARDWARE in f


def count_events(path: str | Path) -> int:
    """Number of events in an ADC2021-layout file, without reading them."""
    path = Path(path)
    with open_h5(path) as f:
        ds = h5_dataset(f, PARTICLES, path)
        check_particles_dataset(ds, path)
        return int(ds.shape[0])


def iter_events(
    path: str | Path,
    *,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
    start: int = 0,
    stop: int | None = None,
    validate: bool = True,
    with_pf: bool = False,
    with_hardware: bool = False,
) -> Iterator[EventSet]:
    """Yield the events of an ADC2021-layout file in chunks of at most ``chunk_events``.

    Memory use is bounded by one chunk. Each chunk is validated (:func:`validate_particles`, pT up
    to √s/2 of the file's metadata) with event indices counted from the start of the file. A file
    whose end was never written is an error before the first chunk; empty events elsewhere are
    counted and reported in one warning once the last chunk has been read. With ``with_pf`` the
    ``PFCands`` dataset is read too (and validated, :func:`validate_pf_candidates`); a file without
    it is an error. With ``with_hardware`` the L1 hardware integers (``ParticlesHW``) are read too; a
    file without them is an error.
    """
    if chunk_events <= 0:
        msg = f"chunk_events must be positive, got {chunk_events}"
        raise DataError(msg)
    path = Path(path)
    with open_h5(path) as f:
        ds = h5_dataset(f, PARTICLES, path)
        check_particles_dataset(ds, path)
        n = ds.shape[0]
        stop = n if stop is None else min(stop, n)
        labels = f.get(PROCESS_LABEL)
        names = f.get(SAMPLE_NAME)
        pthat = f.get(PTHAT)
        for extra, name in ((labels, PROCESS_LABEL), (names, SAMPLE_NAME), (pthat, PTHAT)):
            if extra is not None and extra.shape != (n,):
                msg = f"expected shape ({n},) to match {PARTICLES}, got {extra.shape}"
                raise DataError(msg, path=path, dataset=name)
        pf = _pf_dataset(f, path, n) if with_pf else None
        hw = _hardware_dataset(f, path, n) if with_hardware else None
        metadata = _read_metadata(f, path)
        max_pt = max_pt_gev_for(metadata)
        empty = EmptyEventTally()
        for lo in range(start, stop, chunk_events):
            hi = min(lo + chunk_events, stop)
            particles = read_block(ds, lo, hi, path)
            if validate:  # before the cast to float32, which would turn huge values into inf
                validate_particles(particles, path=path, dataset=PARTICLES, first_event=lo, max_pt_gev=max_pt)
                empty.update(particles, lo)
            yield EventSet(
                particles.astype(np.float32, copy=False),
                None if labels is None else read_block(labels, lo, hi, path),
                None if names is None else read_block(names, lo, hi, path).astype(str),
                dict(metadata),
                None if pthat is None else checked_pthat(read_block(pthat, lo, hi, path), path, lo),
                None if pf is None else _read_pf(pf, lo, hi, path, validate, max_pt),
                None if hw is None else read_block(hw, lo, hi, path).astype(np.int32, copy=False),
            )
        if empty.n_empty:
            logger.warning("%s:/%s: %s", path, PARTICLES, empty.message())


def read_events(
    path: str | Path,
    *,
    start: int = 0,
    stop: int | None = None,
    validate: bool = True,
    with_pf: bool = False,
    with_hardware: bool = False,
) -> EventSet:
    """Read (part of) an ADC2021-layout file into one :class:`EventSet` (with its PF candidates if
    ``with_pf``, its L1 hardware integers if ``with_hardware``)."""
    parts = list(
        iter_events(path, start=start, stop=stop, validate=validate, with_pf=with_pf, with_hardware=with_hardware)
    )
    if not parts:
        path = Path(path)
        with open_h5(path) as f:
            metadata = _read_metadata(f, path)
            has_labels = PROCESS_LABEL in f
            has_names = SAMPLE_NAME in f
        return EventSet(
            np.zeros((0, N_OBJECTS, 4), np.float32),
            np.zeros(0, np.int16) if has_labels else None,
            np.zeros(0, str) if has_names else None,
            metadata,
        )
    return EventSet.concatenate(parts)


class EventWriter:
    """Append events block by block to a new ADC2021-layout file; the file appears only on success.

    Memory stays bounded by one block. Use as a context manager: on any exception the temporary
    file is deleted and ``path`` is left untouched.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.h5"
        >>> met_only = np.zeros((3, 19, 4), np.float32)
        >>> met_only[:, 0] = [12.5, 0.0, 1.0, 1]  # MET 12.5 GeV at phi = 1, nothing else
        >>> with EventWriter(path, with_labels=False) as w:
        ...     w.append(EventSet(met_only))
        >>> count_events(path)
        3
    """

    def __init__(
        self,
        path: str | Path,
        *,
        metadata: Mapping[str, Any] | None = None,
        with_labels: bool = True,
        with_pthat: bool = False,
        pf_max_candidates: int | None = None,
        with_hardware: bool = False,
        validate: bool = True,
        compression: str | None = "gzip",
        chunk_events: int = 4096,
    ) -> None:
        self.path = Path(path)
        self.pf_max_candidates = pf_max_candidates
        self.metadata = dict(metadata or {})
        self.with_labels = with_labels
        self.with_pthat = with_pthat
        self.with_hardware = with_hardware
        self.validate = validate
        self.compression = compression
        self.chunk_events = chunk_events
        self.n_events = 0
        self._atomic: Any = None
        self._file: h5py.File | None = None

    def _encoded_metadata(self) -> dict[str, str]:
        try:
            return {key: json.dumps(self.metadata[key], sort_keys=True) for key in sorted(self.metadata)}
        except TypeError as err:
            msg = f"metadata is not JSON-serialisable: {err}"
            raise DataError(msg, path=self.path) from err

    def __enter__(self) -> EventWriter:
        self._encoded_metadata()  # fail before writing anything
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._file = h5py.File(tmp, "w", track_order=True)
            self._create(self._file)
        except BaseException:
            if self._file is not None:
                self._file.close()
            self._atomic.__exit__(*sys.exc_info())
            raise
        return self

    def _create(self, f: h5py.File) -> None:
        opts: dict[str, Any] = {"track_times": False}
        if self.compression:
            opts.update(compression=self.compression, shuffle=True)
        c = self.chunk_events
        f.create_dataset(
            PARTICLES,
            shape=(0, N_OBJECTS, 4),
            maxshape=(None, N_OBJECTS, 4),
            dtype=np.float32,
            chunks=(c, N_OBJECTS, 4),
            **opts,
        )
        f.create_dataset("Particles_Names", data=np.array(PARTICLES_NAMES, dtype="S"), track_times=False)
        f.create_dataset("Particles_Classes", data=np.array(PARTICLES_CLASSES, dtype="S"), track_times=False)
        if self.with_labels:
            f.create_dataset(PROCESS_LABEL, shape=(0,), maxshape=(None,), dtype=np.int16, chunks=(16 * c,), **opts)
            f.create_dataset(SAMPLE_NAME, shape=(0,), maxshape=(None,), dtype="S32", chunks=(16 * c,), **opts)
        if self.with_pthat:
            f.create_dataset(PTHAT, shape=(0,), maxshape=(None,), dtype=np.float32, chunks=(16 * c,), **opts)
        if self.with_hardware:
            k = len(HARDWARE_COLUMNS)
            f.create_dataset(
                HARDWARE,
                shape=(0, N_OBJECTS, k),
                maxshape=(None, N_OBJECTS, k),
                dtype=np.int32,
                chunks=(c, N_OBJECTS, k),
                **opts,
            )
            f.create_dataset(HARDWARE_NAMES, data=np.array(HARDWARE_COLUMNS, dtype="S"), track_times=False)
        if self.pf_max_candidates is not None:
            m, k = self.pf_max_candidates, len(PF_FEATURES)
            f.create_dataset(
                PF_CANDS,
                shape=(0, m, k),
                maxshape=(None, m, k),
                dtype=PF_DTYPE,
                chunks=(max(1, min(c, 1024)), m, k),
                **opts,
            )
            f.create_dataset(PF_CANDS_FEATURES, data=np.array(PF_FEATURES, dtype="S"), track_times=False)

    def append(self, events: EventSet) -> None:
        """Append a block (validated first unless ``validate=False``)."""
        f = self._file
        if f is None:
            msg = "EventWriter.append called outside its 'with' block"
            raise DataError(msg, path=self.path)
        if self.validate:
            validate_particles(
                events.particles,
                path=self.path,
                dataset=PARTICLES,
                first_event=self.n_events,
                max_pt_gev=max_pt_gev_for(self.metadata),
            )
        lo = self.n_events
        hi = lo + len(events)
        f[PARTICLES].resize(hi, axis=0)
        f[PARTICLES][lo:hi] = events.particles
        if self.with_labels:
            if events.process_label is None or events.sample_name is None:
                msg = "this file stores process_label and sample_name, but the block has none"
                raise DataError(msg, path=self.path)
            for name, values in (
                (PROCESS_LABEL, events.process_label),
                (SAMPLE_NAME, np.char.encode(events.sample_name)),
            ):
                f[name].resize(hi, axis=0)
                f[name][lo:hi] = values
        if self.with_pthat:
            if events.pthat_gev is None:
                msg = "this file stores pthat_gev, but the block has none"
                raise DataError(msg, path=self.path)
            f[PTHAT].resize(hi, axis=0)
            f[PTHAT][lo:hi] = events.pthat_gev
        if self.with_hardware:
            if events.hardware is None:
                msg = "this file stores the L1 hardware integers, but the block has none"
                raise DataError(msg, path=self.path, dataset=HARDWARE)
            f[HARDWARE].resize(hi, axis=0)
            f[HARDWARE][lo:hi] = events.hardware
        if self.pf_max_candidates is not None:
            pf = events.pf_cands
            if pf is None or pf.shape[1:] != (self.pf_max_candidates, len(PF_FEATURES)):
                got = "none" if pf is None else f"shape {pf.shape}"
                msg = f"this file stores {PF_CANDS} ({self.pf_max_candidates}, {len(PF_FEATURES)}) per event, got {got}"
                raise DataError(msg, path=self.path, dataset=PF_CANDS)
            pf = pf.astype(PF_DTYPE, copy=False)
            if self.validate:
                validate_pf_candidates(
                    pf, path=self.path, dataset=PF_CANDS, first_event=lo, max_pt_gev=max_pt_gev_for(self.metadata)
                )
            f[PF_CANDS].resize(hi, axis=0)
            f[PF_CANDS][lo:hi] = pf
        self.n_events = hi

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Write the metadata (which may have been updated while appending), close, rename."""
        f, self._file = self._file, None
        if f is None:
            return
        if exc_type is None:
            try:
                for key, value in self._encoded_metadata().items():
                    f.attrs[_META_PREFIX + key] = value
            except BaseException:
                f.close()
                self._atomic.__exit__(*sys.exc_info())
                raise
        f.close()
        self._atomic.__exit__(exc_type, exc, tb)


def write_events(
    path: str | Path,
    events: EventSet,
    *,
    metadata: Mapping[str, Any] | None = None,
    validate: bool = True,
    compression: str | None = "gzip",
) -> Path:
    """Write ``events`` in the ADC2021 layout (plus our per-event labels and metadata), atomically.

    The output is byte-stable: the same events and metadata give the same file (no timestamps,
    attributes in sorted order).

    Args:
        path: output ``.h5`` file; parent directories are created.
        events: the events; ``process_label``/``sample_name`` are written when both are present, the
            PF candidates (``PFCands``) and the L1 hardware integers (``ParticlesHW``) when the set
            holds them.
        metadata: extra generator metadata merged over ``events.metadata``; values must be
            JSON-serialisable.
        validate: check the layout first (never write a file that would not read back).
        compression: HDF5 filter for the datasets (``None`` for none).

    Returns:
        The path written.
    """
    path = Path(path)
    merged = {**events.metadata, **(metadata or {})}
    if validate:
        validate_particles(events.particles, path=path, dataset=PARTICLES, max_pt_gev=max_pt_gev_for(merged))
        if events.pf_cands is not None:
            validate_pf_candidates(events.pf_cands, path=path, dataset=PF_CANDS, max_pt_gev=max_pt_gev_for(merged))
    with_labels = events.process_label is not None and events.sample_name is not None
    with EventWriter(
        path,
        metadata=merged,
        with_labels=with_labels,
        validate=False,
        compression=compression,
        chunk_events=max(1, min(len(events), 4096)),
        pf_max_candidates=None if events.pf_cands is None else events.pf_cands.shape[1],
        with_hardware=events.hardware is not None,
    ) as writer:
        writer.append(events)
    logger.debug("wrote %d events to %s", len(events), path)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Generator metadata of an event file, without reading the events."""
    path = Path(path)
    with open_h5(path) as f:
        return _read_metadata(f, path)
