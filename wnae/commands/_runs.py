"""Which run a command works on: one resolver for every command, and the loader that opens any run.

A command's ``RUN`` argument is a run directory, or the name of one in ``--runs-dir``; left out, it is
the latest finished run there (:func:`resolve_run`). :func:`load_any_scorer` opens an L1 run
(``runs/<name>/``) or an HLT encoder run (``hlt_runs/<name>/``) for evaluation, by its files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from wnae.errors import ModelError

if TYPE_CHECKING:
    from wnae.evaluate.scores import Scorer

__all__ = ["load_any_scorer", "resolve_run"]


def resolve_run(run: str | Path | None, runs_dir: str | Path = "runs") -> Path:
    """``run`` as given when it is a directory, else the run of that name in ``runs_dir``; ``None``: the
    latest finished run in ``runs_dir`` (:func:`wnae.models.serialization.latest_run`).

    Raises:
        ModelError: no such run directory (both places tried are named), or no finished run.
    """
    from wnae.models.serialization import latest_run

    runs_dir = Path(runs_dir)
    if run is None:
        return latest_run(runs_dir)
    path = Path(run)
    if path.is_dir():
        return path
    named = runs_dir / run
    if len(path.parts) == 1 and named.is_dir():
        return named
    tried = f"{path}" if len(path.parts) > 1 or path.is_absolute() else f"neither {path} nor {named}"
    msg = f"run {str(run)!r} not found: no such run directory ({tried})"
    raise ModelError(msg)


def load_any_scorer(run_dir: Path) -> Scorer:
    """An HLT encoder run (its ``encoder.weights.h5``) through :func:`wnae.hlt.model.load_hlt_run`, any
    other run through :func:`wnae.evaluate.scores.load_scorer`."""
    from wnae.evaluate.scores import HLT_WEIGHTS_FILE, load_scorer

    if (Path(run_dir) / HLT_WEIGHTS_FILE).exists():
        from wnae.hlt.model import load_hlt_run

        return load_hlt_run(Path(run_dir))
    return load_scorer(run_dir)
