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
import fnmatch
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnae._io import write_json_atomic
from wnae.errors import DataError

__all__ = [
    "MANIFEST_NAME",
    "SM_PROCESSES",
    "ZERO_BIAS_MIXTURE_ROLES",
    "SampleInfo",
    "SampleRole",
    "Split",
    "check_zero_bias_rows",
    "check_zero_bias_summary",
    "load_manifest",
    "split_mask",
    "training_rows",
    "write_manifest",
    "zero_bias_summary",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1

#: SM process labels used by the classification loss (label → name).
SM_PROCESSES: dict[int, str] = {0: "dy", 1: "qcd", 2: "ttbar", 3: "wjets"}


#: Relative tolerance of the cross-check of each ``zb_weight`` against the manifest's ``zero_bias``
#: summary: both are written from the same numbers, so only rounding may tell them apart.
ZERO_BIAS_SUMMARY_RTOL = 1e-6


class SampleRole(str, enum.Enum):
    """What a sample is for: SM training/test background, zero bias (rates), a signal, or an SM process
    outside the training cocktail (``unseen_sm``: a control that an anomaly trigger should not favour;
    scored by ``wnae evaluate``, not in its tables)."""

    BACKGROUND = "background"
    ZERO_BIAS = "zero_bias"
    SIGNAL = "signal"
    UNSEEN_SM = "unseen_sm"


#: Roles whose samples can be part of the weighted zero bias (``zb_weight``): the unbiased sample and
#: the pT-hat slices (zero_bias), and SM background processes (the electroweak part, test split).
ZERO_BIAS_MIXTURE_ROLES: tuple[SampleRole, ...] = (SampleRole.ZERO_BIAS, SampleRole.BACKGROUND)


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
        provenance: where an imported sample came from (``wnae data import``: format, source
            files with their sizes and SHA-256, tree, branches, selection), or None.
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
    provenance: dict[str, Any] | None = None

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
    rows = []
    for s in samples:
        row = {**asdict(s), "role": s.role.value}
        if row["provenance"] is None:  # generated samples: the manifest stays as it always was
            del row["provenance"]
        rows.append(row)
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
        msg = f"sample name {s.name!r} must be a non-empty string"
        raise DataError(msg, path=path)
    if not isinstance(s.file, str) or not s.file:
        msg = f"file {s.file!r} must be a non-empty string"
        raise fail(msg)
    if not _is_int(s.process_label):
        msg = f"process_label = {s.process_label!r} must be an integer"
        raise fail(msg)
    if not _is_int(s.n_events) or s.n_events < 0:
        msg = f"n_events = {s.n_events!r} must be an integer >= 0"
        raise fail(msg)
    if not _is_int(s.n_generated) or s.n_generated <= 0:
        msg = (
            f"n_generated = {s.n_generated!r} must be a positive integer (events generated before "
            "pre-selection, which signal efficiencies divide by)"
        )
        raise fail(msg)
    if s.n_generated < s.n_events:
        msg = (
            f"n_generated = {s.n_generated} is less than the {s.n_events} events stored (n_events); "
            "n_generated counts events before pre-selection"
        )
        raise fail(msg)
    if s.provenance is not None and not isinstance(s.provenance, dict):
        msg = f"provenance = {s.provenance!r:.60} must be a mapping (or null)"
        raise fail(msg)
    for key in ("cross_section_pb", "cross_section_error_pb", "zb_weight", "zb_pthat_veto_gev"):
        value = getattr(s, key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            msg = f"{key} = {value!r} must be a finite number >= 0 (or null)"
            raise fail(msg)


def check_zero_bias_rows(samples: Sequence[SampleInfo], path: str | Path | None = None) -> None:
    """The rows that carry ``zb_weight`` make the weighted zero bias: every zero-bias row must be one of them
    (a row left out would silently move every threshold), and no other role can be (a signal mixed into the
    zero bias would be taken for background).

    Raises:
        DataError: naming the manifest row.
    """
    members = [s.name for s in samples if s.zb_weight is not None]
    if not members:
        return
    for s in samples:
        if s.zb_weight is not None and s.role not in ZERO_BIAS_MIXTURE_ROLES:
            msg = (
                f"sample '{s.name}' (role {s.role.value}) has zb_weight = {s.zb_weight:g}: only zero-bias and SM "
                "background samples can be part of the weighted zero bias; remove its zb_weight"
            )
            raise DataError(msg, path=path)
        if s.role is SampleRole.ZERO_BIAS and s.zb_weight is None:
            msg = (
                f"sample '{s.name}' (role zero_bias) has no zb_weight, but the manifest weights the zero bias "
                f"({', '.join(members)}): without one it would be left out of every rate; give it its zb_weight "
                "or remove the row (regenerate with 'make data')"
            )
            raise DataError(msg, path=path)


def _summary_number(summary: Mapping[str, Any], key: str, path: str | Path | None) -> float | None:
    value = summary.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"zero_bias.{key} = {value!r} must be a finite number"
        raise DataError(msg, path=path)
    return float(value)


def _summary_shares(
    samples: Sequence[SampleInfo], summary: Mapping[str, Any], path: str | Path | None
) -> dict[str, tuple[float, float, str]]:
    """Sample → (its crossings from its row, the summary's, what they are) for every row the summary fixes."""
    out: dict[str, tuple[float, float, str]] = {}
    slices = summary.get("slice_crossing_shares") or {}
    if not isinstance(slices, Mapping):
        msg = f"zero_bias.slice_crossing_shares must be a mapping of sample to share, got {slices!r:.60}"
        raise DataError(msg, path=path)
    soft = _summary_number(summary, "soft_crossing_share", path)
    kept = _summary_number(summary, "unbiased_kept_fraction", path)
    sigma_inel = _summary_number(summary, "sigma_inel_pb", path)
    mu = _summary_number(summary, "pileup_mean", path)
    for s in samples:
        if s.zb_weight is None:
            continue
        crossings = s.zb_weight * s.n_generated
        if s.name in slices:
            share = _summary_number(slices, s.name, path)
            if share is not None:
                out[s.name] = (crossings, share, "its pT-hat slice's share of crossings")
        elif s.zb_pthat_veto_gev is not None:
            if soft is not None and kept is not None:
                out[s.name] = (crossings * kept, soft, "the share of crossings below the veto, over the kept events")
        elif sigma_inel and mu is not None and s.cross_section_pb is not None:
            out[s.name] = (
                crossings,
                (1 + mu) * s.cross_section_pb / sigma_inel,
                "(1 + pileup_mean)·cross_section_pb / sigma_inel_pb",
            )
    return out


def check_zero_bias_summary(samples: Sequence[SampleInfo], summary: Any, path: str | Path | None = None) -> None:
    """Cross-check the rows' ``zb_weight`` against the manifest's own ``zero_bias`` summary
    (:func:`wnae.data.zero_bias.mixture_weights`, written with them by ``wnae generate``): the same
    components, and each row's weight times its generated events equal to the share of crossings the
    summary gives it.

    Raises:
        DataError: naming the manifest row (a weight changed by hand, a row added or lost).
    """
    if summary is None:
        return
    if not isinstance(summary, Mapping):
        msg = f"'zero_bias' must be the weighted zero bias's summary (a mapping), got {summary!r:.60}"
        raise DataError(msg, path=path)
    members = {s.name for s in samples if s.zb_weight is not None}
    components = summary.get("components")
    if isinstance(components, Mapping):
        names = {s.name for s in samples}
        for name in components:
            if name not in members:
                why = "there is no sample of that name" if name not in names else "that sample has no zb_weight"
                msg = f"the zero_bias summary lists '{name}' as part of the weighted zero bias, but {why}"
                raise DataError(msg, path=path)
        for name in sorted(members - set(components)):
            msg = (
                f"sample '{name}' has a zb_weight, but the zero_bias summary does not list it among the "
                f"weighted zero bias's components ({', '.join(components)})"
            )
            raise DataError(msg, path=path)
    for name, (got, want, what) in _summary_shares(samples, summary, path).items():
        if not math.isclose(got, want, rel_tol=ZERO_BIAS_SUMMARY_RTOL):
            msg = (
                f"sample '{name}': zb_weight·n_generated stands for {got:.6g} of the crossings, but the "
                f"manifest's zero_bias summary gives {want:.6g} ({what}): was the weight edited? Regenerate "
                "the manifest with 'make data'"
            )
            raise DataError(msg, path=path)


def zero_bias_summary(data_dir: str | Path) -> dict | None:
    """The manifest's weighted zero-bias summary (written by ``wnae generate``), or None."""
    path = Path(data_dir) / MANIFEST_NAME
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        msg = f"cannot read the manifest ({err})"
        raise DataError(msg, path=path) from err
    summary = doc.get("zero_bias") if isinstance(doc, dict) else None
    return summary if isinstance(summary, dict) else None


def training_rows(rows: Sequence[SampleInfo], sample: str, where: str | Path = "the manifest") -> list[SampleInfo]:
    """The manifest rows a ``training_sample`` stands for (``wnae train``'s config).

    ``sm``: the background rows; ``zero_bias``: every row with a ``zb_weight`` (the weighted zero
    bias), or, where no row has one (an imported zero bias), every zero-bias row; anything else:
    the sample of that name, or the samples a shell pattern matches (``qcd_pthat_*``). Parts joined
    by ``+`` are united, in manifest order (``sm+qcd_pthat_*``: the SM cocktail and the QCD pT-hat
    slices of the zero bias; a union is trained on unweighted).

    Raises:
        DataError: naming the manifest and what it lacks (or the samples it has).
    """
    if "+" in sample:
        names = {r.name for part in sample.split("+") for r in training_rows(rows, part, where)}
        return [r for r in rows if r.name in names]
    if sample == "sm":
        chosen = [r for r in rows if r.role is SampleRole.BACKGROUND]
        if not chosen:
            msg = (
                f"training_sample sm: no SM background samples in {where}; train on another with training_sample "
                f"(zero_bias, or one of: {', '.join(r.name for r in rows)})"
            )
            raise DataError(msg)
        return chosen
    if sample == "zero_bias":
        chosen = [
            r for r in rows if r.zb_weight is not None and r.role in (SampleRole.BACKGROUND, SampleRole.ZERO_BIAS)
        ]
        if not chosen:
            chosen = [r for r in rows if r.role is SampleRole.ZERO_BIAS]
        if not any(r.role is SampleRole.ZERO_BIAS for r in chosen):
            msg = f"training_sample zero_bias: {where} has no zero_bias sample"
            raise DataError(msg)
        return chosen
    chosen = [r for r in rows if fnmatch.fnmatchcase(r.name, sample)]
    if not chosen:
        msg = (
            f"training_sample '{sample}' is not a sample of {where} (sm, zero_bias, or one of: "
            f"{', '.join(r.name for r in rows)})"
        )
        raise DataError(msg)
    return chosen


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
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as err:
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
    check_zero_bias_rows(samples, path)
    check_zero_bias_summary(samples, doc.get("zero_bias"), path)
    for s in samples:
        if not s.path(data_dir).exists():
            msg = f"sample '{s.name}' is listed but its file is missing; re-run 'make data'"
            raise DataError(msg, path=s.path(data_dir))
    return samples
