"""Reading the files of a run directory: every JSON, NPZ and checkpoint through one loader.

A run directory (:mod:`wnae.train.loop`) holds state that later commands read back: ``run.json``
(``evaluate``, ``convert``, ``csim``), ``history.json`` (the evaluation's loss plot),
``working_points.json`` (``csim``, ``rtl``), ``checkpoints/state.npz`` and the TensorFlow
checkpoint (``train --resume``, :func:`~wnae.models.serialization.load_training_model`). Each
reader here checks what it reads — the file exists and parses, the keys it needs are there and
have the right types — and a problem is one :class:`~wnae.errors.ModelError` of the form
``<path>: <what is wrong>``, never a ``KeyError``, ``JSONDecodeError`` or ``BadZipFile``.

Nothing here imports TensorFlow at module level (the evaluation imports this module without it).

Example:
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.json"
    >>> _ = path.write_text(json.dumps({"model": "ae"}))
    >>> try:
    ...     read_run_info(path)
    ... except ModelError as err:
    ...     print(str(err).split(": ", 1)[1])
    missing key 'deployed_output' (rewrite it with 'wnae train --name <run> --resume')
"""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wnae.errors import ModelError

__all__ = [
    "DEPLOYED_OUTPUTS",
    "TrainingState",
    "checkpoint_prefix",
    "read_history",
    "read_json",
    "read_npz",
    "read_run_info",
    "read_training_state",
    "read_working_points",
    "restore_checkpoint",
]

#: What a run's firmware model emits (``run.json`` ``deployed_output``).
DEPLOYED_OUTPUTS = ("score", "latent")

#: Expected JSON type → the words used in messages. ``float`` accepts integers too; ``int`` and
#: ``float`` never accept booleans.
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "a list",
}

#: ``run.json``: required keys, and keys checked only when present (older runs may lack them).
RUN_INFO_REQUIRED: dict[str, type] = {"model": str, "deployed_output": str}
RUN_INFO_OPTIONAL: dict[str, type] = {
    "seed": int,
    "epochs": int,
    "input_quantizer": dict,
    "score_quantizer": dict,
    "created_utc": str,
    "data_dir": str,
}
_RUN_INFO_HINT = "rewrite it with 'wnae train --name <run> --resume'"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _fail(path: Path | str, problem: str, hint: str | None = None) -> ModelError:
    return ModelError(f"{path}: {problem}" + (f" ({hint})" if hint else ""))


def _check_keys(
    path: Path, doc: dict[str, Any], required: Mapping[str, type], optional: Mapping[str, type], hint: str | None
) -> None:
    missing = [k for k in required if k not in doc]
    if missing:
        keys = ", ".join(f"'{k}'" for k in missing)
        raise _fail(path, f"missing key{'s' if len(missing) > 1 else ''} {keys}", hint)
    for key, kind in {**optional, **required}.items():
        if key in doc and not _is(doc[key], kind):
            raise _fail(path, f"'{key}' must be {_TYPE_NAMES[kind]}, found {_json_type(doc[key])}", hint)


def read_json(
    path: str | Path,
    *,
    required: Mapping[str, type] | None = None,
    optional: Mapping[str, type] | None = None,
    hint: str | None = None,
) -> dict[str, Any]:
    """A JSON object from ``path`` with ``required`` keys of the given types.

    Args:
        path: the file.
        required: key → type (``str``, ``int``, ``float`` for any number, ``bool``, ``dict``, ``list``).
        optional: keys whose type is checked only when present.
        hint: what the user can do about a bad file, appended in parentheses.

    Raises:
        ModelError: ``<path>: <what is wrong>`` — missing, unreadable, empty, not JSON, not an
            object, a missing key or a value of the wrong type.
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "is a directory, not a file" if path.is_dir() else "file not found", hint)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise _fail(path, f"cannot read it ({err.strerror or err})", hint) from err
    if not raw.strip():
        raise _fail(path, "empty file (truncated?)", hint)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise _fail(path, f"not valid JSON (not UTF-8 text at byte {err.start})", hint) from err
    except json.JSONDecodeError as err:
        raise _fail(path, f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno})", hint) from err
    if not isinstance(doc, dict):
        raise _fail(path, f"expected a JSON object, found {_json_type(doc)}", hint)
    _check_keys(path, doc, required or {}, optional or {}, hint)
    return doc


def read_run_info(path: str | Path, *, required: Mapping[str, type] | None = None) -> dict[str, Any]:
    """``run.json``: ``model`` and ``deployed_output`` (``score`` or ``latent``) at least.

    ``required`` replaces the required keys (default :data:`RUN_INFO_REQUIRED`); the optional
    ones (``seed``, ``epochs``, quantizers, …) are type-checked when present.
    """
    path = Path(path)
    doc = read_json(
        path,
        required=RUN_INFO_REQUIRED if required is None else required,
        optional=RUN_INFO_OPTIONAL,
        hint=_RUN_INFO_HINT,
    )
    if "deployed_output" in doc and doc["deployed_output"] not in DEPLOYED_OUTPUTS:
        msg = f"'deployed_output' must be 'score' or 'latent', found {doc['deployed_output']!r}"
        raise _fail(path, msg, _RUN_INFO_HINT)
    if "model" in doc and not doc["model"]:
        raise _fail(path, "'model' is empty", _RUN_INFO_HINT)
    return doc


def _history_series(path: Path, doc: Any, *, allow_null: bool) -> dict[str, list[float]]:
    if not isinstance(doc, dict):
        raise _fail(path, f"expected an object of per-epoch lists, found {_json_type(doc)}")
    history: dict[str, list[float]] = {}
    for key, values in doc.items():
        if not isinstance(values, list):
            raise _fail(path, f"'{key}' must be a list of per-epoch numbers, found {_json_type(values)}")
        for i, v in enumerate(values):
            if not (_is(v, float) or (allow_null and v is None)):
                raise _fail(path, f"'{key}' epoch {i + 1} must be a number, found {_json_type(v)}")
        history[key] = [math.nan if v is None else float(v) for v in values]
    lengths = {len(v) for v in history.values()}
    if len(lengths) > 1:
        raise _fail(path, f"the per-epoch lists have different lengths ({', '.join(map(str, sorted(lengths)))})")
    return history


def read_history(path: str | Path) -> dict[str, list[float]]:
    """``history.json``: metric → per-epoch values (``null`` → NaN), all lists of one length.

    Raises:
        ModelError: ``<path>: …`` for a bad file, a non-list series, a non-number value or
            series of different lengths.
    """
    path = Path(path)
    doc = read_json(path)
    return _history_series(path, doc, allow_null=True)


def read_working_points(path: str | Path) -> dict[str, float]:
    """``working_points.json`` (written by ``wnae evaluate``): working-point name → threshold.

    Raises:
        ModelError: ``<path>: …`` for a bad file, no ``working_points`` list, or an entry without
            a string ``name`` and a finite numeric ``threshold``.
    """
    path = Path(path)
    hint = "run 'wnae evaluate' on the run again to rewrite it"
    doc = read_json(path, required={"working_points": list}, hint=hint)
    thresholds: dict[str, float] = {}
    for i, wp in enumerate(doc["working_points"]):
        where = f"working_points[{i}]"
        if not isinstance(wp, dict):
            raise _fail(path, f"{where} must be an object, found {_json_type(wp)}", hint)
        for key, kind in (("name", str), ("threshold", float)):
            if key not in wp:
                raise _fail(path, f"{where} has no '{key}'", hint)
            if not _is(wp[key], kind):
                raise _fail(path, f"{where} '{key}' must be {_TYPE_NAMES[kind]}, found {_json_type(wp[key])}", hint)
        if not math.isfinite(wp["threshold"]):
            raise _fail(path, f"{where} threshold is not finite", hint)
        thresholds[wp["name"]] = float(wp["threshold"])
    if not thresholds:
        raise _fail(path, "no working points", hint)
    return thresholds


def read_npz(
    path: str | Path, required: Mapping[str, str] | None = None, *, hint: str | None = None
) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, read eagerly (no pickles).

    Args:
        path: the archive.
        required: array name → what it is (for the message when it is missing).
        hint: what the user can do about a bad file, appended in parentheses.

    Raises:
        ModelError: ``<path>: …`` — missing, truncated or corrupt (``BadZipFile``, CRC, zlib), an
            array that needs pickles, or a ``required`` array missing.
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "file not found", hint)
    if path.stat().st_size == 0:
        raise _fail(path, "empty file (truncated?)", hint)
    try:
        with path.open("rb") as f:  # ours to close: np.load leaks its own file when the zip is corrupt
            archive = np.load(f, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise _fail(path, "not an NPZ archive (a single .npy array)", hint)
            with archive:
                arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise _fail(path, f"truncated or corrupt NPZ archive ({err})", hint) from err
    except ValueError as err:  # not a zip at all (np.load tries a pickle), or an object array
        raise _fail(path, f"not a readable NPZ archive ({err})", hint) from err
    except OSError as err:
        raise _fail(path, f"cannot read it ({err.strerror or err})", hint) from err
    wanted: Mapping[str, str] = required or {}
    missing = [name for name in wanted if name not in arrays]
    if missing:
        what = ", ".join(f"'{name}' ({wanted[name]})" for name in missing)
        raise _fail(path, f"missing array{'s' if len(missing) > 1 else ''} {what}", hint)
    return arrays


@dataclass
class TrainingState:
    """``checkpoints/state.npz``: where training stands besides the TensorFlow checkpoint.

    Attributes:
        epoch: epochs completed (the TensorFlow checkpoint ``ckpt-<epoch>`` holds the weights,
            optimizer and TensorFlow generators of the same moment).
        history: per-epoch metrics so far (each list ``epoch`` long).
        extra: the model family's own state (:meth:`~wnae.models.base.ModelFamily.extra_state`:
            replay buffer, its generator state, …).
    """

    epoch: int
    history: dict[str, list[float]]
    extra: dict[str, np.ndarray] = field(default_factory=dict)


_STATE_HINT = "delete the run directory's checkpoints/ to train it again from the start"


def read_training_state(path: str | Path) -> TrainingState:
    """Read and check ``checkpoints/state.npz``.

    Raises:
        ModelError: ``<path>: …`` — unreadable archive, no ``epoch``/``history``, an epoch that is
            not a non-negative integer, or a history that is not JSON per-epoch lists ``epoch`` long.
    """
    path = Path(path)
    arrays = read_npz(path, {"epoch": "epochs completed", "history": "per-epoch metrics"}, hint=_STATE_HINT)
    epoch_array, history_array = arrays.pop("epoch"), arrays.pop("history")
    if epoch_array.shape != () or epoch_array.dtype.kind not in "iu" or int(epoch_array) < 0:
        msg = f"'epoch' must be a non-negative integer, found {epoch_array.dtype} of shape {epoch_array.shape}"
        raise _fail(path, msg, _STATE_HINT)
    epoch = int(epoch_array)
    if history_array.shape != () or history_array.dtype.kind != "U":
        raise _fail(path, "'history' must be a JSON string", _STATE_HINT)
    try:
        doc = json.loads(str(history_array))
    except json.JSONDecodeError as err:
        raise _fail(path, f"'history' is not valid JSON ({err.msg})", _STATE_HINT) from err
    try:
        history = _history_series(path, doc, allow_null=True)
    except ModelError as err:
        raise _fail(path, f"'history': {str(err).split(': ', 1)[1]}", _STATE_HINT) from err
    if history and len(next(iter(history.values()))) != epoch:
        msg = f"'history' has {len(next(iter(history.values())))} epochs but 'epoch' says {epoch}"
        raise _fail(path, msg, _STATE_HINT)
    return TrainingState(epoch, history, arrays)


def checkpoint_prefix(checkpoint_dir: str | Path, epoch: int) -> Path:
    """``<dir>/ckpt-<epoch>``: the TensorFlow checkpoint written after ``epoch`` epochs."""
    return Path(checkpoint_dir) / f"ckpt-{epoch}"


def restore_checkpoint(checkpoint: Any, prefix: str | Path) -> None:
    """Restore a :class:`tf.train.Checkpoint` from ``prefix`` (``…/ckpt-<n>``), eagerly.

    Every object of ``checkpoint`` should exist already (build the optimizer first): then a
    truncated or corrupt index or data file fails here, not later in the first training step.

    Raises:
        ModelError: ``<prefix>.index: …`` when the files are missing, truncated, corrupt or do not
            match the model (another architecture).
    """
    prefix = Path(prefix)
    index = prefix.with_name(prefix.name + ".index")
    if not index.is_file():
        raise _fail(index, "checkpoint index not found", _STATE_HINT)
    if not list(prefix.parent.glob(f"{prefix.name}.data-*")):
        raise _fail(prefix.with_name(prefix.name + ".data-00000-of-00001"), "checkpoint data not found", _STATE_HINT)
    try:
        checkpoint.restore(str(prefix)).expect_partial()
    except Exception as err:
        text = str(err).strip()
        reason = f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__
        where = index if "sstable" in text else f"{prefix}.{{index,data-*}}"
        raise _fail(where, f"cannot restore the TensorFlow checkpoint ({reason})", _STATE_HINT) from err
