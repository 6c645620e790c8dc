"""Where training gets its SM events: all in memory, or streamed from the HDF5 files in chunks.

Both sources give the training loop the same things (:class:`DataSource`): the fitted normaliser,
the batches of each epoch (:meth:`~DataSource.epoch_batches`), the validation batches
(:meth:`~DataSource.validation_batches`), the split sizes, and bounded samples of normalised
features for the diagnostics that need an array (input saturation, the negatives plot, the GMM of
latent families, the families' epoch diagnostics).

* :class:`MemorySource` reads the SM training and validation splits once (:func:`load_sm_split`)
  and permutes all training events every epoch (:func:`_batches`).
* :class:`StreamSource` never holds a split: the files are cut into chunks of
  ``loading.chunk_events`` events (of the file, all splits); the normaliser is fitted in one
  streamed pass; every epoch visits the chunks in an order drawn from ``(seed, _CHUNK_STREAM,
  epoch)`` and shuffles the training events of ``loading.shuffle_chunks`` chunks at a time (a
  *window*) with the epoch's ``(seed, _TRAIN_STREAM, epoch)`` generator, exactly as
  :func:`_batches` does with all of them. Events of a window that do not fill a batch carry over
  into the next window, so only the last ``< batch_size`` events of an epoch are left out, as in
  memory. Within a window the chunks are read in file order, so a window that holds the whole
  split gives exactly the in-memory batches (same events, same generator calls).

Both use the same split (:func:`~wnae.data.samples.split_mask` on the event index within each
file), the same ``max_train_events`` subset (drawn from the split sizes alone), the same
validation pieces and the same normaliser: fixed-point normalisation (all shipped configs) is
bit-identical; a ``standard`` normaliser fitted chunk by chunk agrees with the one-pass fit to
float64 rounding (the moments are merged per chunk, see :func:`~wnae.data.preprocess.fit_normaliser`).

Every random stream is a function of ``(seed, epoch)``, so a resumed run sees the same batches.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnae.data.io import EventSet, count_events, iter_events, read_events
from wnae.data.preprocess import Normaliser, fit_normaliser
from wnae.data.samples import SampleInfo, SampleRole, Split, load_manifest, split_mask, training_rows
from wnae.errors import ConfigError, DataError
from wnae.models.config import TrainConfig

__all__ = [
    "TRAIN_SAMPLE_EVENTS",
    "VALIDATION_PIECE_EVENTS",
    "VALIDATION_SAMPLE_EVENTS",
    "DataSource",
    "MemorySource",
    "StreamSource",
    "load_sm_split",
    "load_training_split",
    "open_source",
    "resolve_mode",
    "sm_split_size",
    "weighted_resample",
]

logger = logging.getLogger(__name__)

#: Streams of the NumPy generators: one seed, independent streams (SeedSequence entropy).
_TRAIN_STREAM = 0  # the batch order and augmentations of each epoch: (seed, 0, epoch)
_VALIDATION_STREAM = 1  # the validation views, the same every epoch: (seed, 1)
_CHUNK_STREAM = 2  # the chunk order of each streamed epoch: (seed, 2, epoch)
#: Validation is evaluated in contiguous pieces of at least this many events (fewer only for a smaller split).
VALIDATION_PIECE_EVENTS = 4096
#: At most this many normalised training events are kept for the diagnostics in stream mode.
TRAIN_SAMPLE_EVENTS = 200_000
#: At most this many held-out (validation) events are kept for the epoch diagnostics in stream mode.
VALIDATION_SAMPLE_EVENTS = 4096


# ------------------------------------------------------------------------------------- shared parts


def load_sm_split(
    data_dir: str | Path, split: Split | str, max_events: int | None = None, seed: int = 0, *, with_pf: bool = False
) -> EventSet:
    """The SM background events of one split, all processes together (labels kept; the PF
    candidates too with ``with_pf``)."""
    return load_training_split(data_dir, split, "sm", max_events, seed, with_pf=with_pf)[0]


def load_training_split(
    data_dir: str | Path,
    split: Split | str,
    sample: str = "sm",
    max_events: int | None = None,
    seed: int = 0,
    *,
    with_pf: bool = False,
) -> tuple[EventSet, np.ndarray | None]:
    """The events of one split of the training sample, and their weights (``None``: unweighted).

    ``sample``: see :func:`~wnae.data.samples.training_rows`. On the weighted zero bias each event is weighted by its
    row's ``zb_weight`` (a background row's process label is kept, a zero-bias row's events get the
    label of the process they were generated as, or 0 for the unbiased zero bias; class-aware models
    are refused on anything but ``sm`` by the config); everything else is unweighted. Events without
    a process label (imported files) get their row's, or 0.
    """
    rows = training_rows(load_manifest(data_dir), sample, f"{data_dir}/manifest.json")
    weighted = any(r.zb_weight is not None for r in rows) and sample == "zero_bias"
    parts, weights = [], []
    for row in rows:
        events = read_events(row.path(data_dir), with_pf=with_pf)
        if events.process_label is None or row.role is SampleRole.ZERO_BIAS:
            # zero-bias events have no SM process: label 0 (the config refuses class-aware models on them)
            label = row.process_label if row.process_label is not None and row.process_label >= 0 else 0
            events.process_label = np.full(len(events), label, np.int16)
        part = events.select(split_mask(len(events), split))
        parts.append(part)
        weights.append(_zero_bias_weights(row, len(events), part) if weighted else np.ones(len(part), np.float64))
    events = EventSet.concatenate(parts)
    w = np.concatenate(weights)
    if max_events is not None and len(events) > max_events:
        keep = _subset(len(events), max_events, seed)
        events, w = events.select(keep), w[keep]
    if len(events) == 0:
        msg = f"the {sample} {Split(split).value} split is empty"
        raise DataError(msg)
    return events, (w if weighted else None)


def _zero_bias_weights(row: SampleInfo, n_read: int, part: EventSet) -> np.ndarray:
    r"""Each event's share of the bunch crossings when ``part`` (one split of ``row``) stands for the row.

    The row carries :math:`S = w_{zb}\,N_{gen}\,f` crossings, with ``f`` 1 for a zero-bias row and
    the test split's share for an electroweak (background) row, whose ``zb_weight`` the manifest
    defines for its test split (as :func:`wnae.data.zero_bias.event_weights` uses it); the split's
    events share S equally, and the unbiased sample's events at or above its pT-hat veto get 0
    (the slices stand for them), as in the rates.
    """
    assert row.zb_weight is not None  # training_rows("zero_bias") keeps only the rows with one when any has one
    f = float(np.sum(split_mask(n_read, Split.TEST))) / n_read if row.role is SampleRole.BACKGROUND else 1.0
    w = np.full(len(part), row.zb_weight * row.n_generated * f / max(1, len(part)), np.float64)
    if row.zb_pthat_veto_gev is not None:
        if part.pthat_gev is None:
            msg = (
                f"{row.file}: sample '{row.name}' is vetoed at pT-hat {row.zb_pthat_veto_gev:g} GeV in the weighted "
                "zero bias, but its file has no pthat_gev per event; regenerate the data ('make data')"
            )
            raise DataError(msg)
        w[np.asarray(part.pthat_gev) >= row.zb_pthat_veto_gev] = 0.0
    return w


def weighted_resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices drawn with replacement with probability ∝ ``weights`` (events at their weights)."""
    p = np.asarray(weights, np.float64)
    return rng.choice(len(p), size=n, replace=True, p=p / p.sum())


def _subset(n: int, max_events: int, seed: int) -> np.ndarray:
    """Sorted indices of the ``max_events`` of ``n`` events a capped split keeps (a function of its arguments)."""
    return np.sort(np.random.default_rng(seed).choice(n, max_events, replace=False))


def _epoch_rng(seed: int, stream: int, epoch: int | None = None) -> np.random.Generator:
    """The NumPy generator of one stream (and epoch): a function of its arguments only, so resumable."""
    entropy = [seed, stream] if epoch is None else [seed, stream, epoch]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)] or [order]


def _events_per_epoch(n: int, batch_size: int) -> int:
    """Events :func:`_batches` trains on per epoch (full batches only, or all when fewer than one)."""
    return (n // batch_size) * batch_size or n


def _views(particles: np.ndarray, norm: Normaliser, cfg: TrainConfig, rng: np.random.Generator) -> tuple:
    from wnae.models.augment import augment

    c = cfg.contrastive
    kw = {"pt_smear": c.pt_smear, "drop_pt_gev": c.drop_pt_gev, "drop_probability": c.drop_probability}
    return norm.transform(augment(particles, rng, **kw)), norm.transform(augment(particles, rng, **kw))


def _make_batch(
    kind: str,
    events: Any,
    features: np.ndarray,
    index: np.ndarray,
    norm: Normaliser,
    cfg: TrainConfig,
    rng: np.random.Generator,
) -> dict:
    """One batch: ``events`` needs ``particles`` and ``process_label`` (an EventSet, a block) for ``views`` only."""
    if kind == "features":
        return {"features": features[index]}
    # "views": two augmented views of each event and its process label
    v1, v2 = _views(events.particles[index], norm, cfg, rng)
    return {"view1": v1, "view2": v2, "labels": events.process_label[index].astype(np.int32)}


def _validation_pieces(n: int) -> int:
    """Number of contiguous validation pieces (each ≥ :data:`VALIDATION_PIECE_EVENTS` events but for a small split)."""
    return max(1, n // VALIDATION_PIECE_EVENTS)


def _piece_sizes(n: int) -> list[int]:
    """Sizes of ``np.array_split(np.arange(n), _validation_pieces(n))``, by arithmetic."""
    k = _validation_pieces(n)
    q, r = divmod(n, k)
    return [q + 1] * r + [q] * (k - r)


def _sample_stride(n: int, cap: int) -> int:
    """Stride ``k`` so that every ``k``-th of ``n`` events gives at most ``cap`` of them."""
    return max(1, math.ceil(n / cap))


class DataSource:
    """What the training loop reads its events through (see the module docstring).

    Attributes:
        mode: ``memory`` or ``stream``.
        norm: the normaliser fitted on the SM training split.
        n_train, n_validation: events of the (capped) SM training and validation splits.
        train_sample: normalised training features (float32 (n, 57)) for the diagnostics that need an
            array: every training event in memory, an evenly strided sample of at most
            :data:`TRAIN_SAMPLE_EVENTS` = 200 000 when streaming.
        validation_sample: normalised held-out features for the families' epoch diagnostics: the
            whole validation split in memory, at most :data:`VALIDATION_SAMPLE_EVENTS` = 4096 when
            streaming (an evenly strided sample, the same every epoch).
    """

    mode: str
    norm: Normaliser
    n_train: int
    n_validation: int
    train_sample: np.ndarray
    validation_sample: np.ndarray

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg

    @property
    def events_per_epoch(self) -> int:
        """Training events per epoch: full batches only (all events when fewer than one batch)."""
        return _events_per_epoch(self.n_train, self.cfg.batch_size)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch (at least one)."""
        return max(1, self.n_train // self.cfg.batch_size)

    def describe(self) -> dict[str, Any]:
        """The ``loading`` entry of ``metrics.json``."""
        c = self.cfg.loading
        return {"mode": self.mode, "chunk_events": c.chunk_events, "shuffle_chunks": c.shuffle_chunks}

    def epoch_batches(self, kind: str, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        """The training batches of 0-based ``epoch``: ``features`` or ``views`` (see :func:`_make_batch`)."""
        for _, batch in self._epoch(kind, epoch):
            yield batch

    def epoch_indices(self, epoch: int) -> list[np.ndarray]:
        """The events of each training batch of ``epoch``, as indices into the (capped) training split."""
        return [index for index, _ in self._epoch("features", epoch)]

    def validation_batches(self, kind: str) -> Iterator[dict[str, np.ndarray]]:
        """The validation split in contiguous pieces, views drawn from ``(seed, _VALIDATION_STREAM)``."""
        raise NotImplementedError

    def _epoch(self, kind: str, epoch: int) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------ memory


class MemorySource(DataSource):
    """Both SM splits read once into memory; every epoch permutes all training events."""

    mode = "memory"

    def __init__(self, data_dir: str | Path, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        cap = cfg.max_train_events
        sample = cfg.training_sample
        self.train_events, self.train_weights = load_training_split(data_dir, Split.TRAIN, sample, cap, cfg.seed)
        self.val_events, val_weights = load_training_split(
            data_dir, Split.VALIDATION, sample, None if cap is None else max(1, cap // 3), cfg.seed
        )
        if val_weights is not None:  # held-out events at their weights: one fixed draw, used as unweighted
            draw = weighted_resample(val_weights, len(val_weights), _epoch_rng(cfg.seed, _VALIDATION_STREAM))
            self.val_events = self.val_events.select(draw)
        self.norm = fit_normaliser([self.train_events.particles], cfg.normalisation)
        self.train_x = self.norm.transform(self.train_events.particles)
        self.val_x = self.norm.transform(self.val_events.particles)
        if self.train_weights is not None:  # the diagnostics' training sample, at its weights too
            self.train_sample = self.train_x[
                weighted_resample(self.train_weights, len(self.train_x), _epoch_rng(cfg.seed, _TRAIN_STREAM))
            ]
        self.n_train, self.n_validation = len(self.train_x), len(self.val_x)
        if self.train_weights is None:
            self.train_sample = self.train_x
        self.validation_sample = self.val_x

    def _epoch(self, kind: str, epoch: int) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        cfg = self.cfg
        rng = _epoch_rng(cfg.seed, _TRAIN_STREAM, epoch)
        draw = None if self.train_weights is None else weighted_resample(self.train_weights, self.n_train, rng)
        for index in _batches(self.n_train, cfg.batch_size, rng):
            index = index if draw is None else draw[index]
            yield index, _make_batch(kind, self.train_events, self.train_x, index, self.norm, cfg, rng)

    def validation_batches(self, kind: str) -> Iterator[dict[str, np.ndarray]]:
        rng = _epoch_rng(self.cfg.seed, _VALIDATION_STREAM)
        val_index = np.arange(self.n_validation)
        for piece in np.array_split(val_index, _validation_pieces(self.n_validation)):
            yield _make_batch(kind, self.val_events, self.val_x, piece, self.norm, self.cfg, rng)


# ------------------------------------------------------------------------------------------ stream


@dataclass
class _Block:
    """Events of one split in memory: normalised features, and for ``views`` their particles and labels.

    Attributes:
        index: int64 (n,) position of each event in the (capped) split, in the in-memory order.
        features: float32 (n, 57) normalised features.
        particles: float32 (n, 19, 4) or None (not kept for ``features`` batches).
        process_label: int16 (n,) or None (as ``particles``).
    """

    index: np.ndarray
    features: np.ndarray
    particles: np.ndarray | None = None
    process_label: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index)

    def select(self, index: np.ndarray | slice) -> _Block:
        return _Block(
            self.index[index],
            self.features[index],
            None if self.particles is None else self.particles[index],
            None if self.process_label is None else self.process_label[index],
        )

    @staticmethod
    def concatenate(blocks: list[_Block]) -> _Block:
        def join_all(name: str) -> np.ndarray:
            return np.concatenate([getattr(b, name) for b in blocks])

        def join(name: str) -> np.ndarray | None:
            values = [getattr(b, name) for b in blocks]
            return None if any(v is None for v in values) else np.concatenate(values)

        return _Block(join_all("index"), join_all("features"), join("particles"), join("process_label"))


@dataclass(frozen=True)
class _Chunk:
    """``stop - start`` consecutive events (all splits) of background sample ``sample``."""

    sample: int
    start: int
    stop: int


def _split_count(n: int, split: Split) -> int:
    """Events of ``split`` among the first ``n`` events of a file (:func:`split_mask` by arithmetic)."""
    return (n // 5) * int(split_mask(5, split).sum()) + int(split_mask(n % 5, split).sum())


def _background(data_dir: Path) -> list[SampleInfo]:
    samples = [s for s in load_manifest(data_dir) if s.role is SampleRole.BACKGROUND]
    if not samples:
        msg = f"no SM background samples in {data_dir}/manifest.json"
        raise DataError(msg)
    return samples


def sm_split_size(data_dir: str | Path, split: Split | str) -> int:
    """Events of one SM split over all background samples, from the file sizes alone (nothing read)."""
    data_dir = Path(data_dir)
    return sum(_split_count(count_events(s.path(data_dir)), Split(split)) for s in _background(data_dir))


class _SplitIndex:
    """Which events of each chunk belong to one (capped) split, and their positions in it.

    The split is the in-memory one of :func:`load_sm_split`: background samples in manifest order,
    each file's events by :func:`split_mask`, then (``max_events``) the same sorted random subset.
    """

    def __init__(self, split: Split, sizes: list[int], max_events: int | None, seed: int) -> None:
        self.split = split
        counts = [_split_count(n, split) for n in sizes]
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        total = int(self.offsets[-1])
        self.keep = _subset(total, max_events, seed) if max_events is not None and total > max_events else None
        self.n = total if self.keep is None else len(self.keep)
        self._rule = split_mask(5, split)

    def locate(self, chunk: _Chunk) -> tuple[np.ndarray, np.ndarray]:
        """``(positions in the chunk, positions in the split)`` of the chunk's events of this split."""
        local = np.flatnonzero(self._rule[np.arange(chunk.start, chunk.stop) % 5])
        first = int(self.offsets[chunk.sample]) + _split_count(chunk.start, self.split)
        if self.keep is None:
            return local, first + np.arange(len(local), dtype=np.int64)
        lo, hi = np.searchsorted(self.keep, [first, first + len(local)])
        return local[self.keep[lo:hi] - first], np.arange(lo, hi, dtype=np.int64)


class StreamSource(DataSource):
    """The SM splits streamed from the HDF5 files in chunks; memory bounded by one shuffle window.

    One pass over the files at construction (validating every event) fits the normaliser and keeps
    the feature samples; every epoch then reads the training chunks again, and every validation
    pass the validation events (without validating them again).

    Memory: one window holds at most ``shuffle_chunks · chunk_events`` file events, of which 60 %
    are training events (228 bytes of features each, plus 304 bytes of particles for ``views``
    batches), plus the carried-over events (< ``batch_size``) and the samples (≤ 200 000 + 4096
    events). With the defaults (8 x 65 536) a window is ≈ 315 000 training events, ≈ 70 MB of features.
    With ``max_train_events``, the positions of the kept events are held too (8 bytes each).
    """

    mode = "stream"

    def __init__(self, data_dir: str | Path, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        self.data_dir = Path(data_dir)
        self.samples = _background(self.data_dir)
        self.paths = [s.path(self.data_dir) for s in self.samples]
        sizes = [count_events(p) for p in self.paths]
        c = cfg.loading.chunk_events
        self.chunks = [_Chunk(i, lo, min(lo + c, n)) for i, n in enumerate(sizes) for lo in range(0, n, c)]
        cap = cfg.max_train_events
        self.train_split = _SplitIndex(Split.TRAIN, sizes, cap, cfg.seed)
        self.val_split = _SplitIndex(Split.VALIDATION, sizes, None if cap is None else max(1, cap // 3), cfg.seed)
        self.n_train, self.n_validation = self.train_split.n, self.val_split.n
        for split in (self.train_split, self.val_split):
            if split.n == 0:
                msg = f"the SM {split.split.value} split is empty"
                raise DataError(msg)
        self._fit()

    # --------------------------------------------------------------------------- the first pass

    def _fit(self) -> None:
        """Fit the normaliser in one validated pass over every file; keep the two strided samples."""
        train_stride = _sample_stride(self.n_train, TRAIN_SAMPLE_EVENTS)
        val_stride = _sample_stride(self.n_validation, VALIDATION_SAMPLE_EVENTS)
        train_rows: list[np.ndarray] = []
        val_rows: list[np.ndarray] = []

        def training_particles() -> Iterator[np.ndarray]:
            c = self.cfg.loading.chunk_events
            for i, path in enumerate(self.paths):
                lo = 0
                for events in iter_events(path, chunk_events=c):
                    chunk = _Chunk(i, lo, lo + len(events))
                    lo = chunk.stop
                    local, index = self.train_split.locate(chunk)
                    train_rows.append(events.particles[local[index % train_stride == 0]])
                    v_local, v_index = self.val_split.locate(chunk)
                    val_rows.append(events.particles[v_local[v_index % val_stride == 0]])
                    yield events.particles[local]

        self.norm = fit_normaliser(training_particles(), self.cfg.normalisation)
        self.train_sample, self.validation_sample = self._transform(train_rows), self._transform(val_rows)

    def _transform(self, parts: list[np.ndarray]) -> np.ndarray:
        """Normalised features of the particles of ``parts``, one part at a time (the list is emptied)."""
        features = []
        while parts:
            features.append(self.norm.transform(parts.pop(0)))
        return np.concatenate(features)

    # ------------------------------------------------------------------------------- reading

    def _read(self, chunk: _Chunk) -> EventSet:
        """The events of one chunk (validated by the first pass already)."""
        path = self.paths[chunk.sample]
        n = chunk.stop - chunk.start
        parts = list(iter_events(path, chunk_events=n, start=chunk.start, stop=chunk.stop, validate=False))
        events = parts[0] if len(parts) == 1 else EventSet.concatenate(parts)
        if len(events) != n:
            msg = (
                f"expected events {chunk.start}-{chunk.stop} but the file has fewer now: it changed while "
                "training read it"
            )
            raise DataError(msg, path=path)
        return events

    def _block(self, events: EventSet, local: np.ndarray, index: np.ndarray, chunk: _Chunk, kind: str) -> _Block:
        particles = events.particles[local]
        if kind == "features":
            return _Block(index, self.norm.transform(particles))
        labels = events.process_label
        labels = (
            np.full(len(local), self.samples[chunk.sample].process_label, np.int16) if labels is None else labels[local]
        )
        return _Block(index, self.norm.transform(particles), particles, labels)

    def _train_block(self, chunk: _Chunk, kind: str) -> _Block:
        local, index = self.train_split.locate(chunk)
        return self._block(self._read(chunk), local, index, chunk, kind)

    # -------------------------------------------------------------------------------- epochs

    def chunk_order(self, epoch: int) -> np.ndarray:
        """The order the chunks are visited in during 0-based ``epoch`` (a function of ``(seed, epoch)``)."""
        return _epoch_rng(self.cfg.seed, _CHUNK_STREAM, epoch).permutation(len(self.chunks))

    def windows(self, epoch: int) -> list[np.ndarray]:
        """The chunks of each shuffle window of ``epoch``, each window's in file order."""
        order, size = self.chunk_order(epoch), self.cfg.loading.shuffle_chunks
        return [np.sort(order[i : i + size]) for i in range(0, len(order), size)]

    def _epoch(self, kind: str, epoch: int) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        cfg, bs = self.cfg, self.cfg.batch_size
        rng = _epoch_rng(cfg.seed, _TRAIN_STREAM, epoch)
        carry: list[_Block] = []
        n_batches = 0
        for window in self.windows(epoch):
            block = _Block.concatenate(carry + [self._train_block(self.chunks[i], kind) for i in window])
            order = rng.permutation(len(block))
            n_full = len(block) // bs
            for b in range(n_full):
                index = order[b * bs : (b + 1) * bs]
                yield block.index[index], _make_batch(kind, block, block.features, index, self.norm, cfg, rng)
            n_batches += n_full
            carry = [block.select(order[n_full * bs :])]
            del block, order  # before the next window is read: one window in memory at a time
        if n_batches == 0 and carry and len(carry[0]):  # fewer events than one batch: one batch of them all
            block = carry[0]
            index = np.arange(len(block))
            yield block.index, _make_batch(kind, block, block.features, index, self.norm, cfg, rng)

    # ---------------------------------------------------------------------------- validation

    def _validation_blocks(self, kind: str) -> Iterator[_Block]:
        c = self.cfg.loading.chunk_events
        for i, path in enumerate(self.paths):
            lo = 0
            for events in iter_events(path, chunk_events=c, validate=False):
                chunk = _Chunk(i, lo, lo + len(events))
                lo = chunk.stop
                local, index = self.val_split.locate(chunk)
                if len(local):
                    yield self._block(events, local, index, chunk, kind)

    def validation_batches(self, kind: str) -> Iterator[dict[str, np.ndarray]]:
        rng = _epoch_rng(self.cfg.seed, _VALIDATION_STREAM)
        blocks = self._validation_blocks(kind)
        pending: list[_Block] = []
        held = 0
        for size in _piece_sizes(self.n_validation):
            while held < size:
                block = next(blocks)
                pending.append(block)
                held += len(block)
            joined = _Block.concatenate(pending)
            piece, rest = joined.select(slice(0, size)), joined.select(slice(size, None))
            pending, held = [rest], len(rest)
            yield _make_batch(kind, piece, piece.features, np.arange(size), self.norm, self.cfg, rng)


# ---------------------------------------------------------------------------------------- choice


def resolve_mode(data_dir: str | Path, cfg: TrainConfig) -> str:
    """``memory`` or ``stream``: ``loading.mode``, or for ``auto`` whether the SM training split,
    counted from the file sizes without reading it, has more than ``loading.memory_limit_events`` events.

    The whole split counts, not ``max_train_events``: in memory the split is read before the subset
    is drawn (streamed, the same subset is drawn from the split sizes alone).
    """
    loading = cfg.loading
    if loading.mode != "auto":
        return loading.mode
    if cfg.training_sample != "sm":
        return "memory"
    return "stream" if sm_split_size(data_dir, Split.TRAIN) > loading.memory_limit_events else "memory"


def open_source(data_dir: str | Path, cfg: TrainConfig) -> DataSource:
    """The data source ``cfg.loading`` asks for (see :func:`resolve_mode`), with the choice logged."""
    mode = resolve_mode(data_dir, cfg)
    loading = cfg.loading
    if mode == "stream" and cfg.training_sample != "sm":
        msg = (
            f"training_sample {cfg.training_sample} is read in memory only: set loading.mode: memory "
            f"(or a max_train_events below loading.memory_limit_events)"
        )
        raise ConfigError(msg)
    source: DataSource = StreamSource(data_dir, cfg) if mode == "stream" else MemorySource(data_dir, cfg)
    than = "more than" if mode == "stream" else "at most"
    why = (
        ""
        if loading.mode != "auto"
        else (f" (auto: the SM training split has {than} memory_limit_events = {loading.memory_limit_events})")
    )
    if mode == "stream":
        logger.info(
            "loading: streaming %d SM training events from %s in chunks of %d events, %d chunks per shuffle window%s",
            source.n_train,
            data_dir,
            loading.chunk_events,
            loading.shuffle_chunks,
            why,
        )
    else:
        logger.info("loading: %d SM training events in memory%s", source.n_train, why)
    return source
