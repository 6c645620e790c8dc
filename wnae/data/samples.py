"""The samples of a data directory, their roles, and the fixed train/validation/test split.

A data directory (``data/`` by default) holds one HDF5 file per sample and ``manifest.json``::

    {"format": 1,
     "samples": [{"name": "qcd", "role": "background", "process_label": 1, "file": "qcd.h5",
                  "n_events": 20000, "n_generated": 20000,
                  "cross_section_pb": 1.2e8, "cross_section_error_pb": 1.0e6}, ...]}

Roles: ``background`` (SM, labelled for the classification loss), ``zero_bias`` (random bunch
crossings, turns a threshold into a rate) and ``signal``. ``n_generated`` counts events before any
pre-selection, so signal efficiencies can be quoted against it.

The SM split is a pure function of the event index (:func:`split_mask`): every model and the
evaluation see the same test events without storing index lists.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from wnae._io import write_json_atomic
from wnae.errors import DataError

__all__ = [
    "MANIFEST_NAME",
    "SM_PROCESSES",
    "SampleInfo",
    "SampleRole",
    "Split",
    "load_manifest",
    "split_mask",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1

#: SM process labels used by the classification loss (label → name).
SM_PROCESSES: dict[int, str] = {0: "dy", 1: "qcd", 2: "ttbar", 3: "wjets"}


class SampleRole(str, enum.Enum):
    """What a sample is for: SM training/test background, zero bias (rates), a signal, or an SM process
    outside the training cocktail (``unseen_sm``: a control that an anomaly trigger should not favour;
    scored by ``wnae evaluate``, not in its tables)."""

    BACKGROUND = "background"
    ZERO_BIAS = "zero_bias"
    SIGNAL = "signal"
    UNSEEN_SM = "unseen_sm"


class Split(str, enum.Enum):
    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


@dataclass(frozen=True)
class SampleInfo:
    """One sample of a data directory.

    Attributes:
        name: sample name (also the ``sample_name`` of its events).
        role: background, zero_bias or signal.
        process_label: SM process label (see :data:`SM_PROCESSES`), −1 for non-SM samples.
        file: HDF5 file, relative to the data directory.
        n_events: events stored (after pre-selection).
        n_generated: events generated (before pre-selection).
        cross_section_pb: generator cross-section in pb (after forced decays), or None.
        cross_section_error_pb: its statistical error in pb, or None.
        zb_weight: share of bunch crossings one generated event stands for in the weighted zero
            bias (:mod:`wnae.data.zero_bias`; for the vetoed unbiased sample, one event below the
            veto), or None when the sample is not part of it.
        zb_pthat_veto_gev: events with pT-hat at or above this are left out of the weighted zero
            bias (the unbiased sample; the pT-hat slices stand for them), or None.
    """

    name: str
    role: SampleRole
    process_label: int
    file: str
    n_events: int
    n_generated: int
    cross_section_pb: float | None = None
    cross_section_error_pb: float | None = None
    zb_weight: float | None = None
    zb_pthat_veto_gev: float | None = None

    def path(self, data_dir: str | Path) -> Path:
        return Path(data_dir) / self.file


def split_mask(n_events: int, split: Split | str) -> np.ndarray:
    """Boolean mask of the events of a sample that belong to ``split``.

    Event ``i`` goes to test if ``i % 5 == 4``, to validation if ``i % 5 == 3``, else to train
    (60 / 20 / 20 %). Events are generated independently, so this is a random split.
    """
    split = Split(split)
    r = np.arange(n_events) % 5
    if split is Split.TEST:
        return r == 4
    if split is Split.VALIDATION:
        return r == 3
    return r < 3


def write_manifest(data_dir: str | Path, samples: list[SampleInfo], zero_bias: dict | None = None) -> Path:
    """Write ``manifest.json`` atomically (samples in the given order; ``zero_bias``: the weighted
    zero bias's summary, :func:`wnae.data.zero_bias.mixture_weights`)."""
    path = Path(data_dir) / MANIFEST_NAME
    rows = [{**asdict(s), "role": s.role.value} for s in samples]
    doc: dict = {"format": MANIFEST_FORMAT, "samples": rows}
    if zero_bias is not None:
        doc["zero_bias"] = zero_bias
    write_json_atomic(path, doc)
    return path


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_sample_row(s: SampleInfo, path: Path) -> None:
    """Counts and cross-sections that efficiencies and rates divide by must make sense (names the sample)."""

    def fail(problem: str) -> DataError:
        return DataError(f"sample '{s.name}': {problem}", path=path)

    if not isinstance(s.name, str) or not s.name:
        raise DataError(f"sample name {s.name!r} must be a non-empty string", path=path)
    if not isinstance(s.file, str) or not s.file:
        raise fail(f"file {s.file!r} must be a non-empty string")
    if not _is_int(s.process_label):
        raise fail(f"process_label = {s.process_label!r} must be an integer")
    if not _is_int(s.n_events) or s.n_events < 0:
        raise fail(f"n_events = {s.n_events!r} must be an integer >= 0")
    if not _is_int(s.n_generated) or s.n_generated <= 0:
        raise fail(f"n_generated = {s.n_generated!r} must be a positive integer (events generated before "
                   "pre-selection, which signal efficiencies divide by)")
    if s.n_generated < s.n_events:
        raise fail(f"n_generated = {s.n_generated} is less than the {s.n_events} events stored (n_events); "
                   "n_generated counts events before pre-selection")
    for key in ("cross_section_pb", "cross_section_error_pb", "zb_weight", "zb_pthat_veto_gev"):
        value = getattr(s, key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise fail(f"{key} = {value!r} must be a finite number >= 0 (or null)")


def load_manifest(data_dir: str | Path) -> list[SampleInfo]:
    """Samples of a data directory; clear errors for a missing or malformed manifest or file."""
    data_dir = Path(data_dir)
    path = data_dir / MANIFEST_NAME
    if not path.exists():
        msg = f"no {MANIFEST_NAME} in {data_dir}: generate the data first with 'make data' (python -m wnae generate)"
        raise DataError(msg, path=path)
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != MANIFEST_FORMAT:
            msg = f"unsupported manifest format {doc.get('format')!r} (expected {MANIFEST_FORMAT})"
            raise DataError(msg, path=path)
        samples = [SampleInfo(**{**row, "role": SampleRole(row["role"])}) for row in doc["samples"]]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        if isinstance(err, DataError):
            raise
        msg = f"malformed manifest ({type(err).__name__}: {err})"
        raise DataError(msg, path=path) from err
    names = [s.name for s in samples]
    if len(set(names)) != len(names):
        msg = "duplicate sample names in manifest"
        raise DataError(msg, path=path)
    for s in samples:
        _check_sample_row(s, path)
    for s in samples:
        if not s.path(data_dir).exists():
            msg = f"sample '{s.name}' is listed but its file is missing; re-run 'make data'"
            raise DataError(msg, path=s.path(data_dir))
    return samples
