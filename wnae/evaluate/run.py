"""Evaluate run directories end to end: load, score every sample, compute, write, compare."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wnae.data.samples import load_manifest
from wnae.evaluate.config import EvaluateConfig, with_data_input_rate
from wnae.evaluate.evaluation import RunEvaluation, evaluate_scores, write_evaluation
from wnae.evaluate.scores import Scorer, ScorerLoader, load_scorer, score_samples, trained_samples

__all__ = ["evaluate_run", "evaluate_runs"]

logger = logging.getLogger(__name__)


def evaluate_run(
    run_dir: str | Path,
    *,
    data_dir: str | Path = "data",
    config: EvaluateConfig | None = None,
    scorer: Scorer | None = None,
    write: bool = True,
    client: Any = None,
    load: ScorerLoader = load_scorer,
) -> RunEvaluation:
    """Score ``run_dir``'s model on every sample of ``data_dir``, compute working points and metrics.

    Writes ``working_points.json``, ``evaluation/metrics.json``, ``evaluation/plots/`` and
    ``report.md`` into the run directory (unless ``write=False``).

    Args:
        run_dir: the run directory.
        data_dir: data directory with ``manifest.json``.
        config: evaluation settings (default :class:`EvaluateConfig`).
        scorer: use this instead of loading the run's model (tests, custom models).
        write: write the outputs.
        client: a ``distributed.Client``: score the blocks as Dask tasks (:func:`score_samples`).
        load: how a run directory becomes a :class:`Scorer` (here, and on each Dask worker).
    """
    run_dir = Path(run_dir)
    samples = load_manifest(data_dir)
    config = with_data_input_rate(config or EvaluateConfig(), samples)
    scorer = scorer if scorer is not None else load(run_dir)
    logger.info("evaluating %s on %s (input rate %g kHz)", run_dir, data_dir, config.input_rate_khz)
    scores = score_samples(
        scorer,
        data_dir,
        samples=samples,
        chunk_events=config.chunk_events,
        latent_events=config.latent_events if config.plots else 0,
        seed=config.seed,
        client=client,
        run_dir=run_dir,
        held_out=trained_samples(run_dir, samples),
        load=load,
    )
    evaluation = evaluate_scores(scores, config, model=str(scorer.info.get("model", "")))
    if write:
        written = write_evaluation(evaluation, run_dir)
        logger.info("wrote %d files to %s", len(written), run_dir)
    return evaluation


def evaluate_runs(
    run_dirs: Sequence[str | Path],
    *,
    data_dir: str | Path = "data",
    config: EvaluateConfig | None = None,
    comparison_dir: str | Path | None = None,
    load: ScorerLoader = load_scorer,
    scheduler: str | None = None,
) -> list[RunEvaluation]:
    """Evaluate several runs on the same samples; with two or more, also write the comparison.

    Args:
        run_dirs: run directories.
        data_dir: data directory.
        config: evaluation settings, shared by all runs.
        comparison_dir: where ``comparison.md``/``.json`` and overlaid plots go (default
            ``<parent of the first run>/comparison``).
        load: how a run directory becomes a :class:`Scorer`.
        scheduler: score the blocks as Dask tasks (:mod:`wnae._dask`): ``"local"`` (a LocalCluster of
            this machine's cores) or ``tcp://HOST:PORT``; the results are the same numbers.
    """
    from wnae.evaluate.compare import write_comparison

    config = config or EvaluateConfig()
    scorers = [load(Path(r)) for r in run_dirs]  # fail on a bad run before any scoring
    with contextlib.ExitStack() as stack:
        client = None
        if scheduler is not None:
            from wnae._dask import dask_client

            client = stack.enter_context(dask_client(scheduler, os.cpu_count() or 1))
        evaluations = [
            evaluate_run(r, data_dir=data_dir, config=config, scorer=s, client=client, load=load)
            for r, s in zip(run_dirs, scorers, strict=True)
        ]
    if len(evaluations) > 1:
        out = Path(comparison_dir) if comparison_dir is not None else Path(run_dirs[0]).parent / "comparison"
        write_comparison(evaluations, out)
        logger.info("wrote the comparison to %s", out)
    return evaluations
