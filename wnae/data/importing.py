"""Bring your own data: import ADC2021 files, AXOL1TL arrays and CMS L1 ntuples into a data directory.

``wnae data import`` turns files of one of three formats into one sample of a data directory (one
HDF5 file in our ADC2021 layout plus its row in ``manifest.json``), one sample per call, so that
``train``, ``evaluate``, ``scan`` and the firmware commands run on it as on generated data:

* ``adc2021`` — HDF5 with dataset ``Particles`` float (n, 19, 4) (the public challenge files, and
  ours); per-event ``process_label`` is kept when the file has it;
* ``axol1tl`` — HDF5 in AXOL1TL's training layout, ``data/Background_data/{Train,Test}/DATA`` and
  ``data/Signal_data/<name>/DATA`` (float (n, 57), (n, 19, 3) or (n, 19, 4));
* ``l1ntuple`` — CMS L1 ntuples (ROOT, read with uproot; :mod:`wnae.data.l1ntuple`): BX-0 objects
  in the 19 slots, the hardware integers kept beside the physical values (``ParticlesHW``).

Every format is read in chunks of ``chunk_events`` events, so a file larger than memory imports in
bounded memory. The sample's file is written to a temporary and renamed into place when complete,
then the manifest is rewritten atomically; an existing sample name is refused unless ``replace``.
The manifest row's ``provenance`` records the format, each source file's size and SHA-256, the
tree/dataset and branches read, and the selection.

An imported ``zero_bias`` sample is unweighted (every event one bunch crossing): rates are the
fraction of its events above threshold times the input rate, which the sample can carry
(``input_rate_khz``: the colliding-bunch rate of the run it was recorded in).

:func:`export_adc2021` writes any data directory back in the plain ADC2021 layout, one file per
sample, with ``export.json`` saying how to import each file again.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wnae._io import ensure_dir, file_sha256, output_dir, write_json_atomic
from wnae.data.axol1tl import to_particles
from wnae.data.io import (
    PARTICLES,
    PROCESS_LABEL,
    EventSet,
    EventWriter,
    count_events,
    iter_events,
)
from wnae.data.samples import (
    MANIFEST_NAME,
    SampleInfo,
    SampleRole,
    load_manifest,
    write_manifest,
    zero_bias_summary,
)
from wnae.errors import ConfigError, DataError

__all__ = [
    "AXOL1TL_BACKGROUND",
    "FORMATS",
    "ImportOptions",
    "ImportResult",
    "expand_inputs",
    "export_adc2021",
    "file_kind",
    "import_sample",
]

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("adc2021", "axol1tl", "l1ntuple")
#: ``--dataset`` of an AXOL1TL file that means both background splits, Train then Test.
AXOL1TL_BACKGROUND = "background"
#: Sample names become file names and the 32-byte ``sample_name`` of each event.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ROOT_SIGNATURE = b"root"
EXPORT_INFO = "export.json"


@dataclass(frozen=True)
class ImportOptions:
    """One ``wnae data import`` call.

    Attributes:
        format: ``adc2021``, ``axol1tl`` or ``l1ntuple``.
        role: what the sample is for (background, zero_bias, signal, unseen_sm).
        name: sample name (file ``<name>.h5`` in the data directory).
        process_label: SM process label of every event (default: the file's per-event labels where
            it has them, else −1, none).
        n_generated: events before any pre-selection of the source (signal efficiencies divide by
            it); default the number imported.
        cross_section_pb: the sample's cross-section in pb, if known.
        input_rate_khz: for a zero-bias sample, the rate of the stream it samples (kHz, e.g. the
            colliding-bunch rate of its run); ``wnae evaluate`` uses it unless given another.
        dataset: AXOL1TL: ``background`` (Train then Test), ``Background_data/Train``,
            ``Background_data/Test`` or ``Signal_data/<name>`` (default: ``Signal_data/<name>`` for a
            signal, else ``background``); ADC2021: the dataset (default ``Particles``).
        tree: L1 ntuples: the tree (default: the first of :data:`wnae.data.l1ntuple.L1_TREES` present).
        chunk_events: events read and written at a time (bounds memory).
        replace: replace an existing sample of the same name (atomically).
        link: ADC2021 only: link the one source file into the directory instead of copying it.
        progress: show a progress bar (None: when stderr is a terminal).
    """

    format: str
    role: SampleRole
    name: str
    process_label: int | None = None
    n_generated: int | None = None
    cross_section_pb: float | None = None
    input_rate_khz: float | None = None
    dataset: str | None = None
    tree: str | None = None
    chunk_events: int = 50_000
    replace: bool = False
    link: bool = False
    progress: bool | None = None

    def check(self) -> None:
        """Refuse an impossible combination before any file is read (one line naming the option)."""
        if self.format not in FORMATS:
            msg = f"option --format: unknown format '{self.format}' (one of {', '.join(FORMATS)})"
            raise ConfigError(msg)
        if not _NAME.match(self.name):
            msg = (
                f"option --name: '{self.name}' is not a sample name (1-32 characters: letters, digits, '_', '.', "
                "'-'; it becomes the file name)"
            )
            raise ConfigError(msg)
        if self.chunk_events < 1:
            msg = f"option --chunk-events: must be at least 1 event, got {self.chunk_events}"
            raise ConfigError(msg)
        if self.n_generated is not None and self.n_generated < 1:
            msg = f"option --n-generated: must be a positive number of events, got {self.n_generated}"
            raise ConfigError(msg)
        if self.input_rate_khz is not None and self.role is not SampleRole.ZERO_BIAS:
            msg = f"option --input-rate-khz: only a zero_bias sample samples a stream (this one is {self.role.value})"
            raise ConfigError(msg)
        if self.link and self.format != "adc2021":
            msg = f"option --link: only ADC2021 files are already our layout ({self.format} files are converted)"
            raise ConfigError(msg)
        if self.tree is not None and self.format != "l1ntuple":
            msg = f"option --tree: only L1 ntuples have trees (this is {self.format})"
            raise ConfigError(msg)


@dataclass(frozen=True)
class ImportResult:
    """What one import wrote: the manifest row, the sample's file, and what was left out."""

    info: SampleInfo
    path: Path
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------ inputs


def expand_inputs(patterns: Sequence[str | Path]) -> list[Path]:
    """The files the command line names: each argument a path or a glob (sorted), every one matching.

    Raises:
        DataError: an argument that names no file.
    """
    files: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if glob.has_magic(text):
            matched = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())  # noqa: PTH207 (absolute patterns)
            if not matched:
                msg = f"the pattern '{text}' matches no file"
                raise DataError(msg)
            files += matched
        else:
            path = Path(text)
            if not path.is_file():
                msg = "no such file" if not path.exists() else "not a regular file"
                raise DataError(msg, path=path)
            files.append(path)
    if not files:
        msg = "no input files given"
        raise DataError(msg)
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def file_kind(path: str | Path) -> str | None:
    """``hdf5``, ``root`` or None, from the file's first bytes (an HDF5 user block of 512·2^k is allowed)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(8)
            if head[:4] == _ROOT_SIGNATURE:
                return "root"
            offset = 0
            while head:
                if head == _HDF5_SIGNATURE:
                    return "hdf5"
                offset = 512 if offset == 0 else offset * 2
                f.seek(offset)
                head = f.read(8)
    except OSError as err:
        msg = f"cannot read the file ({err.strerror or err})"
        raise DataError(msg, path=path) from err
    return None


def _check_kind(path: Path, fmt: str) -> None:
    want = "root" if fmt == "l1ntuple" else "hdf5"
    got = file_kind(path)
    if got != want:
        what = {"root": "a ROOT file", "hdf5": "an HDF5 file", None: "neither HDF5 nor ROOT"}[got]
        msg = f"--format {fmt} reads {'ROOT' if want == 'root' else 'HDF5'} files, but this is {what}"
        raise DataError(msg, path=path)


def _source_rows(files: Sequence[Path]) -> list[dict[str, Any]]:
    return [{"path": str(p.resolve()), "bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in files]


# ------------------------------------------------------------------------------------------ readers


@dataclass
class _Reader:
    """A format's chunked view of the input files: how many events, the chunks, what was read."""

    total: int
    chunks: Callable[[], Iterator[EventSet]]
    provenance: dict[str, Any]
    notes: Callable[[], list[str]]


def _adc2021(files: Sequence[Path], opts: ImportOptions) -> _Reader:
    dataset = opts.dataset or PARTICLES
    if dataset != PARTICLES:
        return _h5_arrays(files, opts, [dataset])
    total = sum(count_events(p) for p in files)

    def chunks() -> Iterator[EventSet]:
        for path in files:
            for chunk in iter_events(path, chunk_events=opts.chunk_events):
                yield EventSet(chunk.particles, chunk.process_label, None, {}, None, None, None)

    return _Reader(total, chunks, {"dataset": PARTICLES}, list)


def _axol1tl_datasets(opts: ImportOptions) -> list[str]:
    part = opts.dataset or (f"Signal_data/{opts.name}" if opts.role is SampleRole.SIGNAL else AXOL1TL_BACKGROUND)
    if part == AXOL1TL_BACKGROUND:
        return ["data/Background_data/Train/DATA", "data/Background_data/Test/DATA"]
    part = part.strip("/").removeprefix("data/").removesuffix("/DATA")
    return [f"data/{part}/DATA"]


def _h5_dataset(f: h5py.File, name: str, path: Path) -> h5py.Dataset:
    ds = f.get(name)
    if not isinstance(ds, h5py.Dataset):
        have: list[str] = []
        f.visititems(lambda key, obj: have.append(key) if isinstance(obj, h5py.Dataset) else None)
        listed = ", ".join(have[:12]) + (" ..." if len(have) > 12 else "")
        msg = f"no dataset '{name}' in this file (it has: {listed or 'no datasets'})"
        raise DataError(msg, path=path)
    if ds.ndim not in (2, 3) or ds.dtype.kind not in "fiu":
        msg = f"expected numbers of shape (n, 57), (n, 19, 3) or (n, 19, 4), got {ds.dtype} {ds.shape}"
        raise DataError(msg, path=path, dataset=name)
    return ds


def _h5_arrays(files: Sequence[Path], opts: ImportOptions, datasets: list[str]) -> _Reader:
    """Arrays of (n, 57) / (n, 19, 3) / (n, 19, 4) in HDF5 datasets, read block by block."""
    total = 0
    for path in files:
        with h5py.File(path, "r") as f:
            total += sum(_h5_dataset(f, name, path).shape[0] for name in datasets)

    def chunks() -> Iterator[EventSet]:
        for path in files:
            with h5py.File(path, "r") as f:
                for name in datasets:
                    ds = _h5_dataset(f, name, path)
                    for lo in range(0, ds.shape[0], opts.chunk_events):
                        block = np.asarray(ds[lo : lo + opts.chunk_events], dtype=np.float64)
                        try:
                            particles = to_particles(block, path, name)
                        except DataError as err:
                            if err.event_index is None:
                                raise
                            raise DataError(
                                err.problem, path=path, dataset=name, event_index=lo + err.event_index
                            ) from err
                        yield EventSet(particles)

    return _Reader(total, chunks, {"datasets": datasets}, list)


def _l1ntuple(files: Sequence[Path], opts: ImportOptions) -> _Reader:
    import uproot

    from wnae.data import l1ntuple

    trees, layouts = [], []
    for path in files:  # each file's tree and layout, as read (emulated and unpacked, split and flat may mix)
        tree = l1ntuple.find_tree(path, opts.tree)
        with uproot.open(path) as f:
            layouts.append(l1ntuple.detect_layout(f[tree])[0])
        trees.append(tree)
    total = l1ntuple.count_l1ntuple_events(files, tree=opts.tree)
    tally = l1ntuple.TruncationTally()

    def chunks() -> Iterator[EventSet]:
        for chunk in l1ntuple.iter_l1ntuple(files, tree=opts.tree, step_events=opts.chunk_events, tally=tally):
            yield EventSet(chunk.particles, hardware=chunk.hardware)

    provenance = {
        "trees": trees,
        "layouts": layouts,
        "branches": list(l1ntuple.BRANCHES),
        "selection": l1ntuple.SELECTION,
    }

    def notes() -> list[str]:
        message = tally.message()
        return [message] if message else []

    return _Reader(total, chunks, provenance, notes)


def _reader(files: Sequence[Path], opts: ImportOptions) -> _Reader:
    if opts.format == "adc2021":
        return _adc2021(files, opts)
    if opts.format == "axol1tl":
        return _h5_arrays(files, opts, _axol1tl_datasets(opts))
    return _l1ntuple(files, opts)


# ------------------------------------------------------------------------------------------ import


def _check_directory(data_dir: Path, opts: ImportOptions) -> list[SampleInfo]:
    """The directory's samples (none for a new one); refuse a clash before reading any input."""
    rows = load_manifest(data_dir) if (data_dir / MANIFEST_NAME).exists() else []
    names = {r.name for r in rows}
    target = data_dir / f"{opts.name}.h5"
    if opts.name in names and not opts.replace:
        msg = f"sample '{opts.name}' is already in {data_dir / MANIFEST_NAME}: choose another --name, or --replace it"
        raise DataError(msg)
    if opts.name not in names and (target.exists() or target.is_symlink()) and not opts.replace:
        msg = f"{target} exists but is not a sample of the manifest: move it away, or --replace it"
        raise DataError(msg)
    if opts.role is SampleRole.ZERO_BIAS and any(r.zb_weight is not None for r in rows):
        msg = (
            f"{data_dir} has a weighted zero bias (generated data): an unweighted zero bias cannot join it; "
            "import your zero bias into a new --output-dir"
        )
        raise DataError(msg)
    return rows


def _labels(chunk: EventSet, opts: ImportOptions) -> np.ndarray | None:
    if opts.process_label is not None:
        return np.full(len(chunk), opts.process_label, np.int16)
    return chunk.process_label


def import_sample(patterns: Sequence[str | Path], data_dir: str | Path, opts: ImportOptions) -> ImportResult:
    """Import the files ``patterns`` name (paths or globs) as one sample of ``data_dir``.

    Returns:
        The manifest row written, the sample's file, and notes (objects truncated to the slots).

    Raises:
        ConfigError: a bad option.
        DataError: no such file, a file of another format, a missing tree/dataset/branch, bad values
            (naming file, dataset and event), zero events, a sample name already taken.
    """
    opts.check()
    files = expand_inputs(patterns)
    for path in files:
        _check_kind(path, opts.format)
    data_dir = Path(data_dir)
    rows = _check_directory(data_dir, opts)
    with output_dir(data_dir):  # a directory this call made is removed again if it fails
        if opts.link:
            return _link(files, data_dir, rows, opts)
        return _convert(files, data_dir, rows, opts)


def _convert(files: Sequence[Path], data_dir: Path, rows: list[SampleInfo], opts: ImportOptions) -> ImportResult:
    """Read the files chunk by chunk into ``<name>.h5`` (temporary, renamed when complete), then the manifest row."""
    from tqdm.auto import tqdm

    reader = _reader(files, opts)
    target = data_dir / f"{opts.name}.h5"
    chunks = reader.chunks()
    first = next(chunks, None) if reader.total else None
    if first is None:
        msg = f"no events in {', '.join(str(f) for f in files)}: nothing to import"
        raise DataError(msg)
    # per-event labels are written when the first chunk has them (or --process-label gives them), then for all
    labelled = _labels(first, opts) is not None
    metadata = {"imported_from": opts.format, "sample": opts.name}
    # the file is renamed onto <name>.h5 when complete: a linked sample it replaces loses its link, not its source
    bar = tqdm(total=reader.total, unit="ev", desc=f"import {opts.name}", disable=_bar_off(opts.progress))
    with (
        bar,
        EventWriter(target, metadata=metadata, with_labels=labelled, with_hardware=opts.format == "l1ntuple") as writer,
    ):
        for chunk in _chain(first, chunks):
            labels = _labels(chunk, opts)
            if labelled and labels is None:
                msg = "some input files have per-event process labels and others none: give --process-label"
                raise DataError(msg, path=files[0])
            block = EventSet(
                chunk.particles,
                labels if labelled else None,
                np.full(len(chunk), opts.name) if labelled else None,
                {},
                None,
                None,
                chunk.hardware,
            )
            writer.append(block)
            bar.update(len(chunk))
        n_events = writer.n_events
    provenance = {"format": opts.format, "sources": _source_rows(files), **reader.provenance}
    if opts.input_rate_khz is not None:
        provenance["input_rate_khz"] = opts.input_rate_khz
    notes = reader.notes()
    if notes:
        provenance["notes"] = notes
    info = _row(opts, target.name, n_events, provenance)
    _write_row(data_dir, rows, info)
    for note in notes:
        logger.warning("%s: %s", opts.name, note)
    return ImportResult(info, target, tuple(notes))


def _chain(first: EventSet, rest: Iterator[EventSet]) -> Iterator[EventSet]:
    yield first
    yield from rest


def _bar_off(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


def _row(opts: ImportOptions, file: str, n_events: int, provenance: dict[str, Any]) -> SampleInfo:
    n_generated = opts.n_generated if opts.n_generated is not None else n_events
    if n_generated < n_events:
        msg = (
            f"option --n-generated: {n_generated} is less than the {n_events} events imported (it counts events "
            "before any pre-selection)"
        )
        raise ConfigError(msg)
    label = opts.process_label if opts.process_label is not None else -1
    return SampleInfo(
        opts.name, opts.role, label, file, n_events, n_generated, opts.cross_section_pb, provenance=provenance
    )


def _write_row(data_dir: Path, rows: list[SampleInfo], info: SampleInfo) -> None:
    summary = zero_bias_summary(data_dir) if (data_dir / MANIFEST_NAME).exists() else None
    if any(r.name == info.name for r in rows):
        rows = [info if r.name == info.name else r for r in rows]
    else:
        rows = [*rows, info]
    write_manifest(data_dir, rows, summary)


def _link(files: Sequence[Path], data_dir: Path, rows: list[SampleInfo], opts: ImportOptions) -> ImportResult:
    """An ADC2021 file already in our layout: validated in full, then linked, not copied."""
    if len(files) != 1:
        msg = f"option --link: one file can be linked as a sample, got {len(files)} (drop --link to merge them)"
        raise ConfigError(msg)
    source = files[0].resolve()
    n_events = sum(len(chunk) for chunk in iter_events(source, chunk_events=opts.chunk_events))
    if n_events == 0:
        msg = "no events: nothing to import"
        raise DataError(msg, path=source)
    target = data_dir / f"{opts.name}.h5"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(source)
    os.replace(tmp, target)
    provenance = {"format": opts.format, "sources": _source_rows([source]), "dataset": PARTICLES, "linked": True}
    info = _row(opts, target.name, n_events, provenance)
    _write_row(data_dir, rows, info)
    return ImportResult(info, target)


# ------------------------------------------------------------------------------------------ export


def export_adc2021(
    data_dir: str | Path,
    output_dir: str | Path,
    *,
    samples: Sequence[str] | None = None,
    chunk_events: int = 100_000,
    overwrite: bool = False,
) -> list[Path]:
    """Write the samples of ``data_dir`` in the plain ADC2021 layout (``Particles``, ``Particles_Names``,
    ``Particles_Classes``), one ``<name>.h5`` per sample, and ``export.json`` with each file's role,
    process label, event counts and the ``wnae data import`` command that brings it back.

    Per-event labels, pT-hat, PF candidates, hardware integers and zero-bias weights are not part of
    the ADC2021 layout and are left out (``export.json`` keeps each sample's process label, and the
    ``zb_weight`` of the weighted zero bias's samples with a note: imported back they are unweighted).

    Raises:
        DataError: an unknown sample, or an output file that exists (unless ``overwrite``).
    """
    data_dir, output_dir = Path(data_dir), Path(output_dir)
    rows = load_manifest(data_dir)
    if samples:
        unknown = sorted(set(samples) - {r.name for r in rows})
        if unknown:
            msg = f"no sample {', '.join(unknown)} in {data_dir / MANIFEST_NAME} (samples: {', '.join(r.name for r in rows)})"
            raise DataError(msg)
        rows = [r for r in rows if r.name in set(samples)]
    targets = [output_dir / f"{r.name}.h5" for r in rows] + [output_dir / EXPORT_INFO]
    if not overwrite:
        for t in targets:
            if t.exists():
                msg = "exists: export into a new directory, or pass --overwrite"
                raise DataError(msg, path=t)
    ensure_dir(output_dir)
    listed = []
    for row, target in zip(rows, targets, strict=False):
        with EventWriter(target, with_labels=False) as writer:
            for chunk in iter_events(row.path(data_dir), chunk_events=chunk_events):
                writer.append(EventSet(chunk.particles))
        label = _file_label(row, data_dir)
        command = (
            f"wnae data import --format adc2021 --role {row.role.value} --name {row.name}"
            + (f" --process-label {label}" if label is not None else "")
            + f" --n-generated {row.n_generated}"
            + (f" --cross-section-pb {row.cross_section_pb!r}" if row.cross_section_pb is not None else "")
            + f" {target.name} --output-dir DIR"
        )
        entry = {
            "file": target.name,
            "role": row.role.value,
            "process_label": label,
            "n_events": row.n_events,
            "n_generated": row.n_generated,
            "cross_section_pb": row.cross_section_pb,
            "import": command,
        }
        if row.zb_weight is not None:
            entry["zb_weight"] = row.zb_weight
            entry["note"] = (
                "part of the weighted zero bias: the ADC2021 layout has no weights, so imported back it is "
                "unweighted; for rates import only the unbiased zero-bias sample with role zero_bias"
            )
        listed.append(entry)
    write_json_atomic(
        output_dir / EXPORT_INFO, {"source": str(data_dir.resolve()), "layout": "ADC2021", "samples": listed}
    )
    return targets


def _file_label(row: SampleInfo, data_dir: Path) -> int | None:
    """The one process label of a sample's events (its file's, else its row's), or None when they differ."""
    with h5py.File(row.path(data_dir), "r") as f:
        ds = f.get(PROCESS_LABEL)
        values = np.unique(ds[()]) if isinstance(ds, h5py.Dataset) else None
    if values is None:
        return row.process_label if row.process_label >= 0 else None
    return int(values[0]) if len(values) == 1 else None
