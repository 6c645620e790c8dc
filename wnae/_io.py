"""Atomic file and directory writes: a reader never sees a half-written artifact.

Every file ``wnae`` writes goes through :func:`atomic_path` (or :func:`atomic_dir`,
:func:`write_json_atomic`): the content is written to ``.<name>.<pid>.tmp`` beside the target and
renamed onto it only when complete. A target that cannot be written — it is a directory, it lies
under a regular file, its directory is not writable, the disk is full — is an
:class:`~wnae.errors.OutputError` naming the path and the reason, never a traceback, and nothing is
left behind. Temporaries of a writer that was killed (SIGKILL cannot be cleaned up by the writer)
are found and removed by :func:`remove_stale_temporaries`. A command's output directory made with
:func:`output_dir` is removed again when the command fails before writing into it.

JSON is written as the standard defines it: a NaN or infinite number, which JSON has no literal for
(Python would write the non-standard ``NaN``/``Infinity``), is written as ``null`` (:func:`json_text`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from wnae.errors import OutputError

__all__ = [
    "atomic_dir",
    "atomic_path",
    "check_output_file",
    "ensure_dir",
    "file_sha256",
    "json_text",
    "output_dir",
    "output_error",
    "remove_stale_temporaries",
    "write_json_atomic",
]

logger = logging.getLogger(__name__)

#: ``.<name>.<pid>.tmp``: the temporary of :func:`atomic_path`, with the writer's process id.
_TMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")


def _reason(err: OSError) -> str:
    if isinstance(err, IsADirectoryError):
        return "is a directory"
    if isinstance(err, NotADirectoryError):
        return "a parent of it is a regular file, not a directory"
    if isinstance(err, PermissionError):
        return "permission denied"
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    if err.errno == errno.EROFS:
        return "read-only file system"
    if isinstance(err, FileExistsError):
        return "a file of that name is in the way"
    return err.strerror or str(err)


def output_error(path: str | Path, err: OSError, what: str = "cannot write") -> OutputError:
    """The :class:`OutputError` for an :class:`OSError` met while writing ``path``."""
    return OutputError(f"{path}: {what}: {_reason(err)}")


def ensure_dir(path: str | Path) -> Path:
    """Create directory ``path`` (and its parents) or raise :class:`OutputError` naming it.

    An existing regular file at ``path`` or above it, or an unwritable parent, is an error.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        msg = f"{path}: cannot write: it is a regular file, not a directory"
        raise OutputError(msg)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise output_error(path, err, "cannot create the directory") from err
    if not os.access(path, os.W_OK | os.X_OK):
        msg = f"{path}: cannot write: permission denied"
        raise OutputError(msg)
    return path


@contextlib.contextmanager
def output_dir(path: str | Path) -> Iterator[Path]:
    """Create directory ``path`` (:func:`ensure_dir`) for what the block writes; if the block fails,
    remove the directories this call created that are still empty, so a failed command leaves no
    empty output directory behind (what was written into them is kept).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "cmp"
        >>> try:
        ...     with output_dir(target):
        ...         raise RuntimeError("failed before writing")
        ... except RuntimeError:
        ...     pass
        >>> target.parent.exists()
        False
    """
    path = Path(path)
    created = [p for p in (path, *path.parents) if not p.exists()]  # the deepest first
    out = ensure_dir(path)
    try:
        yield out
    except BaseException:
        for directory in created:
            with contextlib.suppress(OSError):  # not empty, or gone: keep going up only while empty
                directory.rmdir()
        raise


def check_output_file(path: str | Path) -> Path:
    """Fail early, with :class:`OutputError` naming it, if file ``path`` cannot be written.

    ``path`` must not be a directory; its directory is created (:func:`ensure_dir`). Commands call
    this before long work; :func:`atomic_path` calls it again when it writes.
    """
    path = Path(path)
    if path.is_dir():
        msg = f"{path}: cannot write: it is a directory (give a file name)"
        raise OutputError(msg)
    ensure_dir(path.parent)
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    The temporary file lives in the same directory (so :func:`os.replace` is atomic) and is
    deleted on any exception, including ``KeyboardInterrupt``. An :class:`OSError` while writing
    (target is a directory, parent is a file, no permission, disk full) becomes an
    :class:`OutputError` naming ``path``.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("hello")
        >>> target.read_text()
        'hello'
    """
    path = check_output_file(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        try:
            yield tmp
            os.replace(tmp, path)
        except OutputError:
            raise
        except OSError as err:
            # only the writes to this artifact are ours to explain; other OSErrors keep their type
            filename = None if err.filename is None else Path(str(err.filename))
            if filename is None or filename in (tmp, path) or filename.parent == tmp.parent:
                raise output_error(path, err) from err
            raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a directory as ``<path>.partial`` and rename it to ``path`` when the block succeeds.

    An existing ``path`` is replaced only after the new one is complete.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        msg = f"{path}: cannot write: it is a regular file, not a directory"
        raise OutputError(msg)
    ensure_dir(path.parent)
    partial = path.with_name(path.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        partial.mkdir()
    except OSError as err:
        raise output_error(partial, err, "cannot create the directory") from err
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if path.exists():
        old = path.with_name(path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(partial, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(partial, path)


def _finite_or_null(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float (NumPy's too) replaced by None, containers copied."""
    if isinstance(obj, float):  # (NumPy's float64 is a float)
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_null(v) for v in obj]
    if hasattr(obj, "dtype") and getattr(obj, "shape", None) == () and obj.dtype.kind == "f":  # NumPy float32 scalar
        return _finite_or_null(float(obj))
    return obj


def json_text(obj: Any) -> str:
    """``obj`` as indented, key-sorted, standard JSON: NaN and ±inf become ``null``.

    Example:
        >>> json_text({"b": float("inf"), "a": [1.5, float("nan")]}).split()
        ['{', '"a":', '[', '1.5,', 'null', '],', '"b":', 'null', '}']
    """
    return json.dumps(_finite_or_null(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted, standard JSON (:func:`json_text`), atomically."""
    text = json_text(obj)
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temporaries(directory: str | Path) -> list[Path]:
    """Delete the :func:`atomic_path` temporaries in ``directory`` whose writer process is gone.

    A writer killed with SIGKILL (or by the OOM killer) cannot delete its ``.<name>.<pid>.tmp``;
    call this when a command starts writing into ``directory``. Temporaries of live processes are
    kept. Each removal is logged (warning) with the file's size.

    Returns:
        the removed paths.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for entry in sorted(directory.iterdir()):
        m = _TMP_PATTERN.match(entry.name)
        if m is None or pid_alive(int(m.group("pid"))):
            continue
        size = entry.stat().st_size if entry.is_file() else 0
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        logger.warning(
            "removed %s (%d bytes): left by process %s, which is no longer running", entry, size, m.group("pid")
        )
        removed.append(entry)
    return removed


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (hex), read in 1 MiB blocks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
