"""Score a trained run on every sample of a data directory, in chunks.

Which events are scored:

* SM background (``role: background``): the **test** split only (:func:`~wnae.data.samples.split_mask`),
  the events no model was trained or validated on;
* zero bias: every event (it turns a threshold into a rate);
* signals: every stored event (after pre-selection); efficiencies divide by ``n_generated``.

The evaluation depends on a model only through the small :class:`Scorer` protocol, so a run can be
anything that maps events to a score: :func:`load_scorer` adapts ``wnae.models.serialization.load_run``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import numpy as np

from wnae.data.io import count_events, read_events
from wnae.data.samples import (
    SampleInfo,
    SampleRole,
    check_zero_bias_rows,
    load_manifest,
    split_mask,
    training_rows,
)
from wnae.data.zero_bias import ZeroBiasMixture, event_weights
from wnae.errors import DataError, ModelError
from wnae.models.run_files import read_run_info

__all__ = [
    "ZB_TOTAL_ERROR",
    "ZB_TOTAL_WARNING",
    "SampleScores",
    "ScoreSet",
    "Scorer",
    "check_zero_bias_total",
    "has_latent",
    "load_scorer",
    "reads_pf_candidates",
    "score_samples",
    "trained_on_zero_bias",
    "trained_samples",
    "training_sample_of",
]

logger = logging.getLogger(__name__)

RUN_INFO = "run.json"
MODEL_FILE = "deploy.h5"
#: The file that marks an HLT encoder run (:mod:`wnae.hlt.model`).
HLT_WEIGHTS_FILE = "encoder.weights.h5"
#: The weighted zero bias's weights add up to the crossings they stand for: 1 (each crossing once, by its
#: hardest interaction) plus the electroweak processes' expected number per crossing (≲ 10⁻³). A total
#: further than this from 1 is a wrong ``zb_weight`` (an error) ...
ZB_TOTAL_ERROR = 0.1
#: ... and one further than this (but within ``ZB_TOTAL_ERROR``) is a warning with the number.
ZB_TOTAL_WARNING = 0.01


def check_zero_bias_total(shares: dict[str, float]) -> float:
    """The weighted zero bias's total weight, Σ over its samples of their events' weights (the unbiased
    sample's after its pT-hat veto), must be ≈ 1 crossing per crossing: the rates divide by it.

    Args:
        shares: sample → the sum of its scored events' weights (:func:`wnae.data.zero_bias.event_weights`).

    Returns:
        The total.

    Raises:
        DataError: the total is off by more than :data:`ZB_TOTAL_ERROR` (each sample's share is named);
            off by more than :data:`ZB_TOTAL_WARNING`, a warning is logged instead.

    Example:
        >>> check_zero_bias_total({"zero_bias": 0.9375, "qcd_pthat_30_80": 0.0625})
        1.0
    """
    total = sum(shares.values())
    off = abs(total - 1.0)
    if off <= ZB_TOTAL_WARNING:
        return total
    listed = ", ".join(f"{name} {share:.4g}" for name, share in sorted(shares.items(), key=lambda kv: -kv[1]))
    text = (
        f"the weighted zero bias's weights add up to {total:.6g} crossings per crossing, not 1 "
        f"(Σ zb_weight·n_generated over its samples, the unbiased one after its pT-hat veto: {listed})"
    )
    if off > ZB_TOTAL_ERROR or not math.isfinite(total):
        msg = f"{text}: a zb_weight in the manifest is wrong; regenerate the data with 'make data'"
        raise DataError(msg)
    logger.warning("%s; the rates are normalised to it", text)
    return total


@runtime_checkable
class Scorer(Protocol):
    """What the evaluation needs from a trained run.

    Attributes:
        name: run name (directory name).
        info: the run's ``run.json`` (``model``, ``deployed_output``, ...).

    A run may also say ``inputs = "pf_candidates"`` (an HLT encoder, :mod:`wnae.hlt.model`): it is then
    given each event's PF candidates instead of its L1 objects (:func:`reads_pf_candidates`).
    """

    name: str
    info: dict[str, Any]

    def anomaly_score(self, particles: np.ndarray) -> np.ndarray:
        """float (n,) anomaly scores of float32 (n, 19, 4) events; higher = more anomalous."""
        ...


if TYPE_CHECKING:

    class _LatentScorer(Scorer, Protocol):
        """A :class:`Scorer` with a latent space (:func:`has_latent`)."""

        def latent(self, particles: np.ndarray) -> np.ndarray: ...


def reads_pf_candidates(scorer: Scorer) -> bool:
    """Whether the run scores PF candidates (an HLT encoder, ``inputs == "pf_candidates"``) instead of
    the L1 objects: the events it is given are then float (n, n_max, 6) candidates."""
    return getattr(scorer, "inputs", "l1_objects") == "pf_candidates"


def has_latent(scorer: Scorer) -> bool:
    """Whether the run exposes ``latent(particles) -> (n, d)``."""
    return callable(getattr(scorer, "latent", None))


@dataclass
class _LoadedRun:
    """Adapter: a ``wnae.models`` run object seen through :class:`Scorer`."""

    name: str
    info: dict[str, Any]
    run: Any

    def anomaly_score(self, particles: np.ndarray) -> np.ndarray:
        return self.run.anomaly_score(particles)

    def latent(self, particles: np.ndarray) -> np.ndarray:
        latent = getattr(self.run, "latent", None)
        if latent is None:
            msg = f"run '{self.name}' ({self.info.get('model')}) has no latent space"
            raise ModelError(msg)
        return latent(particles)


def _load_model_run(run_dir: Path) -> Any:
    """``wnae.models.serialization.load_run`` (imported lazily: TensorFlow is heavy)."""
    try:
        from wnae.models.serialization import load_run
    except ModuleNotFoundError as err:
        msg = f"{run_dir}: cannot load the model, the models package is not available ({err})"
        raise ModelError(msg) from err
    return load_run(run_dir)


def load_scorer(run_dir: str | Path) -> Scorer:
    """Open an L1 run directory (``runs/<name>/``) for evaluation.

    An HLT encoder run (``hlt_runs/<name>/``) is opened by :func:`wnae.hlt.model.load_hlt_run`; the
    commands pick the loader by the run's files (``wnae.commands._runs.load_any_scorer``).

    Raises:
        ModelError: not a directory, no ``run.json``, no model file, a ``run.json`` that is not JSON or
            lacks ``model``/``deployed_output`` (:func:`wnae.models.run_files.read_run_info`), or the
            model fails to load.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        msg = f"{run_dir}: run directory not found (train one with 'make train')"
        raise ModelError(msg)
    if (run_dir / HLT_WEIGHTS_FILE).exists():
        msg = f"{run_dir}: an HLT encoder run; open it with wnae.hlt.model.load_hlt_run"
        raise ModelError(msg)
    info_path = run_dir / RUN_INFO
    if not info_path.exists() or not (run_dir / MODEL_FILE).exists():
        missing = [p for p in (RUN_INFO, MODEL_FILE) if not (run_dir / p).exists()]
        msg = f"{run_dir}: not a trained run, missing {', '.join(missing)}"
        raise ModelError(msg)
    info = read_run_info(info_path)
    run = _load_model_run(run_dir)
    return _LoadedRun(run_dir.name, dict(getattr(run, "info", None) or info), run)


@dataclass
class ScoreSet:
    """Scores of one sample.

    Attributes:
        info: the sample (role, n_events, n_generated, cross-section).
        scores: float64 (n_scored,) anomaly scores.
        n_scored: events scored (the test split for SM samples).
        n_generated: events generated before pre-selection that ``scores`` stand for (scaled by the
            test fraction for SM samples).
        latent: float (n_latent, d) latent coordinates of a subsample, or None.
        pthat_gev: float (n_scored,) largest pT-hat of each crossing (zero-bias samples whose file
            stores it), or None.
    """

    info: SampleInfo
    scores: np.ndarray
    n_scored: int
    n_generated: float
    latent: np.ndarray | None = None
    pthat_gev: np.ndarray | None = None

    def zero_bias_weights(self) -> np.ndarray:
        """Weight of each scored event in the weighted zero bias (:func:`wnae.data.zero_bias.event_weights`)."""
        return event_weights(self.info, self.n_scored, self.n_generated, self.pthat_gev)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def role(self) -> SampleRole:
        return self.info.role


@dataclass
class SampleScores:
    """All samples of a data directory scored by one run."""

    run_name: str
    samples: dict[str, ScoreSet] = field(default_factory=dict)

    def by_role(self, role: SampleRole) -> list[ScoreSet]:
        return [s for s in self.samples.values() if s.role is role]

    @property
    def zero_bias(self) -> ScoreSet:
        """The unbiased zero-bias sample (``zero_bias``, or the first of role zero_bias)."""
        zb = self.by_role(SampleRole.ZERO_BIAS)
        if not zb:
            msg = "no zero-bias sample in the data: rates cannot be calibrated (the manifest has no role 'zero_bias')"
            raise DataError(msg)
        vetoed = [s for s in zb if s.info.zb_pthat_veto_gev is not None]
        return vetoed[0] if vetoed else zb[0]

    def zero_bias_mixture(self, *, weighted: bool = True) -> ZeroBiasMixture:
        """Zero-bias scores and weights: the weighted mixture when the manifest defines one (and
        ``weighted``), else the unbiased sample with equal weights; in data without weights (an
        imported zero bias) every zero-bias sample's events, each one crossing.

        The mixture is checked, not renormalised on faith: every zero-bias sample must be in it and no
        signal (:func:`~wnae.data.samples.check_zero_bias_rows`), and its weights must add up to the
        crossings they stand for, ≈ 1 (:func:`check_zero_bias_total`).

        Raises:
            DataError: naming the sample.
        """
        members = [s for s in self.samples.values() if s.info.zb_weight is not None]
        if not members:  # unweighted (imported) zero bias: every event one crossing, all its samples together
            return ZeroBiasMixture.build(
                {s.name: (s.scores, np.ones(s.n_scored)) for s in self.by_role(SampleRole.ZERO_BIAS)}
            )
        if not weighted:
            zb = self.zero_bias
            return ZeroBiasMixture.build({zb.name: (zb.scores, np.ones(zb.n_scored))})
        check_zero_bias_rows([s.info for s in self.samples.values()])
        parts = {s.name: (s.scores, s.zero_bias_weights()) for s in members}
        check_zero_bias_total({name: float(np.sum(w)) for name, (_, w) in parts.items()})
        return ZeroBiasMixture.build(parts)

    @property
    def sm_test(self) -> np.ndarray:
        """Scores of all SM background test events, concatenated."""
        parts = [s.scores for s in self.by_role(SampleRole.BACKGROUND)]
        return np.concatenate(parts) if parts else np.zeros(0)

    @property
    def signals(self) -> list[ScoreSet]:
        return self.by_role(SampleRole.SIGNAL)


def _score_chunk(scorer: Scorer, particles: np.ndarray, where: str) -> np.ndarray:
    scores = np.asarray(scorer.anomaly_score(particles), dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.shape != (len(particles),):
        msg = (
            f"run '{scorer.name}' returned scores of shape {scores.shape} for {len(particles)} events of "
            f"{where}; expected ({len(particles)},): is the deployed output a latent vector?"
        )
        raise ModelError(msg)
    if not np.isfinite(scores).all():
        msg = f"run '{scorer.name}': {int((~np.isfinite(scores)).sum())} NaN/inf scores on {where}"
        raise ModelError(msg)
    return scores


@dataclass(frozen=True)
class _Block:
    """One chunk of one sample to score: events ``[start, stop)`` of ``path`` (the test split of an SM
    sample), and the positions, among the scored events, of those whose latent coordinates are kept."""

    path: str
    where: str
    start: int
    stop: int
    test_split: bool
    latent_index: tuple[int, ...] = ()


@dataclass
class _BlockScores:
    scores: np.ndarray
    pthat_gev: np.ndarray | None
    n_read: int
    latent: np.ndarray | None = None
    latent_error: str | None = None


def _score_block(scorer: Scorer, block: _Block) -> _BlockScores:
    """Read and score one block (in this process, or on a Dask worker)."""
    reads_pf = reads_pf_candidates(scorer)
    chunk = read_events(block.path, start=block.start, stop=block.stop, with_pf=reads_pf)
    particles = chunk.particles
    if reads_pf:  # (read_events refuses a file without PFCands, naming it)
        assert chunk.pf_cands is not None  # read with with_pf
        particles = chunk.pf_cands
    pthat = chunk.pthat_gev
    if block.test_split:
        mask = split_mask(block.stop, "test")[block.start :]
        particles = particles[mask]
        pthat = None if pthat is None else pthat[mask]
    out = _BlockScores(np.zeros(0), pthat, len(chunk))
    if len(particles) == 0:
        return out
    out.scores = _score_chunk(scorer, particles, block.where)
    if block.latent_index:
        try:
            # latent_index is planned only for a scorer with a latent space (has_latent)
            latent = cast("_LatentScorer", scorer).latent(particles[list(block.latent_index)])
            out.latent = np.asarray(latent, dtype=np.float64)
        except (ModelError, NotImplementedError, AttributeError) as err:
            out.latent_error = str(err)
    return out


def _test_split_only(info: SampleInfo, held_out: Collection[str]) -> bool:
    """Whether only a sample's test split is scored: SM background always, any other sample the run trained on."""
    return info.role is SampleRole.BACKGROUND or info.name in held_out


def training_sample_of(run_dir: str | Path) -> str | None:
    """The ``training_sample`` of the run in ``run_dir`` (its ``config.yml``; ``sm`` when not set), or None for
    a run without a config (an external model)."""
    import yaml

    path = Path(run_dir) / "config.yml"
    if not path.is_file():
        return None
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        msg = f"{path}: not a readable YAML config ({err})"
        raise ModelError(msg) from err
    sample = doc.get("training_sample", "sm") if isinstance(doc, dict) else "sm"
    return str(sample)


def trained_samples(run_dir: str | Path, samples: Sequence[SampleInfo]) -> set[str]:
    """The samples the run in ``run_dir`` trained on (:func:`~wnae.data.samples.training_rows`): only their
    test split is independent of the model, so only it is scored (for a zero bias: all that calibrates
    the rates). Empty for a run without a config, or one whose training sample this data lacks."""
    sample = training_sample_of(run_dir)
    if sample is None:
        return set()
    try:
        return {r.name for r in training_rows(samples, sample)}
    except DataError:
        logger.warning("run %s trained on '%s', which these data do not have: every event is scored", run_dir, sample)
        return set()


def trained_on_zero_bias(run_dir: str | Path) -> bool:
    """Whether the run in ``run_dir`` trained on the zero bias (``training_sample: zero_bias``)."""
    return training_sample_of(run_dir) == "zero_bias"


def _plan(
    info: SampleInfo,
    path: Path,
    chunk_events: int,
    latent_events: int,
    rng: np.random.Generator,
    held_out: Collection[str] = (),
) -> list[_Block]:
    """The blocks of one sample, with its latent subsample (``latent_events`` scored events at random,
    drawn chunk by chunk in order: the same events whoever scores the blocks)."""
    n = count_events(path)
    test_split = _test_split_only(info, held_out)
    blocks, n_latent = [], 0
    for start in range(0, n, chunk_events):
        stop = min(start + chunk_events, n)
        n_scored = int(split_mask(stop, "test")[start:].sum()) if test_split else stop - start
        index: tuple[int, ...] = ()
        if n_latent < latent_events and n_scored:
            take = min(latent_events - n_latent, n_scored)
            index = tuple(int(i) for i in np.sort(rng.choice(n_scored, size=take, replace=False)))
            n_latent += take
        blocks.append(_Block(str(path), f"{path} ({info.name})", start, stop, test_split, index))
    return blocks


#: The scorer of each run directory a Dask worker has loaded (one per worker process).
_WORKER_SCORERS: dict[str, Scorer] = {}


#: How a run directory becomes a :class:`Scorer` (:func:`load_scorer`, or an HLT run's loader).
ScorerLoader = Callable[[Path], Scorer]


def _score_block_on_worker(run_dir: str, block: _Block, load: ScorerLoader = load_scorer) -> _BlockScores:
    """A Dask task: load the run once per worker process (TensorFlow on the worker's threads), score."""
    scorer = _WORKER_SCORERS.get(run_dir)
    if scorer is None:
        from distributed import get_worker

        from wnae.train.loop import configure_threads

        threads = get_worker().state.nthreads
        configure_threads(intra_op=threads, inter_op=threads)
        scorer = _WORKER_SCORERS[run_dir] = load(Path(run_dir))
    return _score_block(scorer, block)


def score_samples(
    scorer: Scorer,
    data_dir: str | Path,
    *,
    samples: Sequence[SampleInfo] | None = None,
    chunk_events: int = 100_000,
    latent_events: int = 0,
    seed: int = 0,
    client: Any = None,
    run_dir: str | Path | None = None,
    held_out: Collection[str] = (),
    held_out_zero_bias: bool = False,
    load: ScorerLoader = load_scorer,
) -> SampleScores:
    """Score every sample of ``data_dir`` (SM test split, all zero bias, all signal events).

    Args:
        scorer: the run.
        data_dir: directory with ``manifest.json`` and the HDF5 files.
        samples: samples to score (default: the manifest's).
        chunk_events: events read and scored at a time (one block, one Dask task).
        latent_events: events per sample whose latent coordinates are kept (0 = none, or no latent).
        seed: seed of the latent subsample.
        client: a ``distributed.Client`` (:func:`wnae._dask.dask_client`): score the blocks as Dask
            tasks, each worker loading ``run_dir`` once. The scores are the same numbers as in
            this process, in the same order.
        run_dir: the run directory ``scorer`` was loaded from (needed with ``client``; on a remote
            cluster it and ``data_dir`` must be on a file system the workers share).
        held_out: the samples the run trained on (:func:`trained_samples`): only their test split
            is scored (their train and validation splits are not independent of the model); a
            zero-bias sample's weights then stand for the split's share of the generated events.
        held_out_zero_bias: hold out every zero-bias sample (as if ``held_out`` named them).
        load: how each Dask worker opens ``run_dir`` (with ``client``).

    Returns:
        The :class:`SampleScores`.

    Raises:
        DataError: missing manifest or file, a file without the ``Particles`` features, an empty
            zero-bias sample.
        ModelError: the run returns scores of the wrong shape or non-finite scores.
    """
    data_dir = Path(data_dir)
    infos = list(samples) if samples is not None else load_manifest(data_dir)
    if chunk_events <= 0:
        msg = f"chunk_events must be positive, got {chunk_events}"
        raise DataError(msg)
    out = SampleScores(scorer.name)
    rng = np.random.default_rng(seed)
    latent_events = latent_events if has_latent(scorer) else 0
    held = set(held_out) | ({i.name for i in infos if i.role is SampleRole.ZERO_BIAS} if held_out_zero_bias else set())
    plans = [_plan(info, info.path(data_dir), chunk_events, latent_events, rng, held) for info in infos]
    blocks = [b for plan in plans for b in plan]
    if client is None:
        results = (_score_block(scorer, b) for b in blocks)
    else:
        from functools import partial

        from wnae._dask import map_in_order

        if run_dir is None:
            msg = "scoring on a Dask cluster needs the run directory the workers load the model from"
            raise ModelError(msg)
        task = partial(_score_block_on_worker, str(Path(run_dir).absolute()), load=load)
        results = map_in_order(client, task, blocks)
    want_latent = latent_events > 0
    for info, plan in zip(infos, plans, strict=True):
        done = [next(results) for _ in plan]
        path = info.path(data_dir)
        n_read = sum(d.n_read for d in done)
        scores = np.concatenate([d.scores for d in done]) if done else np.zeros(0)
        if info.role is SampleRole.ZERO_BIAS and len(scores) == 0:
            msg = f"zero-bias sample '{info.name}' has no events: rates cannot be calibrated"
            raise DataError(msg, path=path)
        if n_read != info.n_events:
            logger.warning("%s: manifest says %d events, file has %d", path, info.n_events, n_read)
        n_generated = float(info.n_generated)
        if info.role is SampleRole.BACKGROUND and n_read:
            # the test split's share of the generated events (the manifest's zb_weight of an electroweak
            # component is defined for its test split; a held-out zero-bias split stands for all crossings)
            n_generated *= len(scores) / n_read
        errors = [d.latent_error for d in done if d.latent_error]
        if want_latent and errors:
            logger.info("run '%s' has no latent space (%s): no latent map", scorer.name, errors[0])
            want_latent = False
            for earlier in out.samples.values():
                earlier.latent = None
        parts = [d.latent for d in done if d.latent is not None]
        latent = np.concatenate(parts) if want_latent and parts else None
        pthat = None
        if info.role is SampleRole.ZERO_BIAS and done and all(d.pthat_gev is not None for d in done):
            pthat = np.concatenate([d.pthat_gev for d in done])
        out.samples[info.name] = ScoreSet(info, scores, len(scores), n_generated, latent, pthat)
        logger.info("scored %s (%s): %d events", info.name, info.role.value, len(scores))
    if not out.by_role(SampleRole.ZERO_BIAS):
        msg = "no zero-bias sample in the manifest: rates cannot be calibrated"
        raise DataError(msg, path=data_dir / "manifest.json")
    return out
