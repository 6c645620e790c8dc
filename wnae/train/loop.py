"""Training: data → normalisation → model family → epochs with checkpoints → run directory.

The run directory ``runs/<name>/`` is filled as training goes (config, normalisation, checkpoints
after every epoch, so ``--resume`` continues an interrupted run) and completed at the end: the
deployable model, history, metrics, loss plot, GMM where relevant, and last ``run.json``, which
marks the run as finished. Every file is written atomically.

The SM events come through a :class:`~wnae.train.data_source.DataSource`: both splits in memory,
or streamed from the HDF5 files in chunks when they are large (``loading`` in the config; same
split, normalisation and, for a window that holds the whole split, the same batches).

Resume is bit-identical: an interrupted run continued with ``--resume`` gives the same losses
and weights as the same run uninterrupted. Every random stream is either a function of
``(seed, epoch)`` (the batch order and the augmentations of each epoch, the chunk order of a
streamed epoch, the validation views) or
checkpointed after every epoch (weights, AdamW state, the families' ``tf.random.Generator``
states, the replay buffer and its NumPy generator state); the TensorFlow checkpoint ``ckpt-<n>``
is written before ``state.npz`` (epoch ``n``), and both of the last two epochs are kept, so an
interruption between them leaves a consistent pair.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from wnae._io import atomic_dir, atomic_path, write_json_atomic
from wnae.config import dump_config, load_config
from wnae.data.preprocess import Normaliser, load_normaliser
from wnae.data.samples import SM_PROCESSES
from wnae.errors import ConfigError, ModelError
from wnae.models.config import TrainConfig
from wnae.models.gmm import fit_gmm
from wnae.models.pruning import MagnitudePruner
from wnae.models.run_files import TrainingState, read_training_state
from wnae.models.serialization import CHECKPOINT_DIR, CHECKPOINT_STATE, as_deployed
from wnae.train.data_source import load_sm_split, open_source

__all__ = [
    "BudgetGate",
    "TrainResult",
    "configure_threads",
    "diagnosed",
    "load_sm_split",
    "ranked_epochs",
    "throughput",
    "train",
]

logger = logging.getLogger(__name__)

#: TensorFlow checkpoints kept: the last two, so that the one ``state.npz`` names always exists.
_CHECKPOINTS_KEPT = 2
#: The sampler diagnostic plot of energy-based runs.
NEGATIVES_PLOT = "negatives.png"
#: The weights of the kept epoch (``mcmc.keep_epoch: best_w``), under the checkpoint directory.
BEST_CHECKPOINT = "best"
#: The weights of every epoch a budget-constrained selection may keep (``firmware_budget``), one
#: directory per epoch (``candidates/0042``), under the checkpoint directory.
CANDIDATE_CHECKPOINTS = "candidates"
#: How many of the best-ranked epochs a budget-constrained selection tries. An epoch outside the
#: best ``CANDIDATES_TRIED`` when it is measured can only fall further, so only those are saved.
CANDIDATES_TRIED = 10

#: A firmware budget check for the kept epoch: deployed QKeras model → ``None`` when it fits, or
#: why not (one line). ``wnae train`` builds one from the target (:func:`wnae.firmware.rtl.budget_gate`).
BudgetGate = Callable[[Any], "str | None"]


def diagnosed(epoch: int, epochs: int, every: int) -> bool:
    """Whether the 0-based ``epoch`` of ``epochs`` gets the per-epoch fit diagnostics: every ``every``-th, and the last."""
    return (epoch + 1) % every == 0 or epoch + 1 == epochs


def ranked_epochs(history: dict[str, list[float]], eligible: Any) -> list[int]:
    """The 1-based epochs with a finite ``selection_score`` among ``eligible(epoch0)``, best (lowest) first.

    Ties keep the earlier epoch first. The score uses no signal: it is the family's fit to the
    training data (for energy-based models, max(w_exact, w_exact_long) / w_floor).
    """
    scores = history.get("selection_score", [])
    epochs = [e for e, score in enumerate(scores) if math.isfinite(score) and eligible(e)]
    return [e + 1 for e in sorted(epochs, key=lambda e: (scores[e], e))]


def best_epoch(history: dict[str, list[float]], eligible: Any) -> int | None:
    """The 1-based epoch with the lowest finite ``selection_score`` among ``eligible(epoch0)``; ``None`` if none."""
    ranked = ranked_epochs(history, eligible)
    return ranked[0] if ranked else None


def _save_best(networks: dict[str, Any], checkpoint_dir: Path, subdir: str = BEST_CHECKPOINT) -> None:
    """Write the networks' weights to ``checkpoints/<subdir>/`` atomically (a new directory renamed into place)."""
    import tensorflow as tf

    with atomic_dir(checkpoint_dir / subdir) as tmp:
        tf.train.Checkpoint(**networks).write(str(tmp / "weights"))


def _restore_best(networks: dict[str, Any], checkpoint_dir: Path, subdir: str = BEST_CHECKPOINT) -> None:
    import tensorflow as tf

    prefix = checkpoint_dir / subdir / "weights"
    try:
        tf.train.Checkpoint(**networks).read(str(prefix)).assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as err:
        msg = f"{prefix}: cannot restore the weights of the kept epoch ({err}); resume the run with --resume"
        raise ModelError(msg) from err


def _candidate_dir(epoch: int) -> str:
    return f"{CANDIDATE_CHECKPOINTS}/{epoch:04d}"


def _drop_candidates(checkpoint_dir: Path, keep: set[int]) -> None:
    """Remove the saved candidates outside ``keep`` (they fell out of the best ranks and can only fall further)."""
    import shutil

    for path in (checkpoint_dir / CANDIDATE_CHECKPOINTS).glob("[0-9]*"):
        if path.is_dir() and path.name.isdigit() and int(path.name) not in keep:
            shutil.rmtree(path)


def _keep_within_budget(
    family: Any, candidates: list[int], last: int, checkpoint_dir: Path, gate: BudgetGate, target: str
) -> tuple[int, list[dict[str, Any]]]:
    """The first of ``candidates`` (the best-ranked epochs; ``[]``: the last epoch, in memory) whose deployed model fits.

    Restores each candidate's weights in turn (``checkpoints/candidates/<epoch>``) and asks ``gate``;
    returns the kept epoch and one record per epoch checked.

    Raises:
        ModelError: no candidate fits (the run's checkpoints stay, so it can be resumed for longer).
    """
    checked: list[dict[str, Any]] = []
    for epoch in candidates or [last]:
        if candidates:
            _restore_best(family.networks, checkpoint_dir, _candidate_dir(epoch))
        start = time.perf_counter()
        reason = gate(as_deployed(family.deploy_model()))
        checked.append(
            {
                "epoch": epoch,
                "within": reason is None,
                "reason": reason,
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
        if reason is None:
            return epoch, checked
        logger.info("epoch %d does not fit the %s budget: %s", epoch, target, reason)
    first = checked[0]["reason"]
    msg = (
        f"firmware_budget {target}: none of the {len(checked)} best-ranked epochs fits its budget "
        f"(the best: {first}); the checkpoints are kept in {checkpoint_dir}: train longer (--resume --epochs), "
        "prune or quantise harder, or choose a larger target"
    )
    raise ModelError(msg)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        run_dir: the finished run directory.
        history: per-epoch metrics (``loss``, energies, ``val_*``, ``events_per_second``, ``seconds``,
            ``step_ms``: mean wall time of one training step, and the family's own diagnostics).
        metrics: the content of ``metrics.json``: incl. ``events_per_second`` (all training events
            over all training-step time) and ``events_per_second_by_phase`` (e.g. the AE warm-up
            and the WNAE phase apart).
        config: the config the run used (the run's own on ``resume``).
    """

    run_dir: Path
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    config: TrainConfig | None = None


def configure_threads(intra_op: int, inter_op: int) -> None:
    """Set TensorFlow's CPU threads (0: its default) if TensorFlow has not started yet; log it if it has."""
    import tensorflow as tf

    threading = tf.config.threading
    if (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()) == (
        intra_op,
        inter_op,
    ):
        return
    try:
        threading.set_intra_op_parallelism_threads(intra_op)
        threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # TensorFlow already runs in this process (a notebook, a test session)
        logger.info(
            "TensorFlow already runs with intra-op %d, inter-op %d threads: threads %d/%d not applied",
            threading.get_intra_op_parallelism_threads(),
            threading.get_inter_op_parallelism_threads(),
            intra_op,
            inter_op,
        )


def _check_same_normalisation(path: Path, norm: Normaliser, data_dir: str | Path) -> None:
    """On resume the training data must give the normalisation the run was trained with."""
    if not path.is_file():
        return
    saved = load_normaliser(path)
    if json.dumps(saved.to_dict(), sort_keys=True) != json.dumps(norm.to_dict(), sort_keys=True):
        msg = (
            f"{path}: the training data in {data_dir} gives another {norm.kind} normalisation than the one this run "
            "was trained with: the data changed since; resume with the run's own data, or train under a new --name"
        )
        raise ModelError(msg)


def _check_input_precision(cfg: TrainConfig, norm: Normaliser, train_features: np.ndarray) -> None:
    q = cfg.quant.input
    frac = getattr(norm, "fractional_bits", None)
    if frac is not None and q.fractional_bits < frac:
        msg = (
            f"quant.input has {q.fractional_bits} fractional bits but the fixed-point normalisation needs "
            f"{frac}: raise quant.input.bits or lower quant.input.integer"
        )
        raise ConfigError(msg)
    outside = np.mean((train_features > q.max_value) | (train_features < q.min_value))
    if outside > 0:
        logger.info(
            "%.3g%% of the input features saturate the input quantizer [%g, %g]",
            100 * outside,
            q.min_value,
            q.max_value,
        )


def throughput(history: dict[str, list[float]], phases: list[str]) -> tuple[float | None, dict[str, float]]:
    """Training events per second: over all epochs, and per phase (total events / total time each).

    Args:
        history: per-epoch ``events_per_second`` and ``seconds`` (training steps only).
        phases: the phase of each epoch (:meth:`~wnae.models.base.ModelFamily.phase`).

    Returns:
        ``(overall, {phase: rate})``; ``(None, {})`` without epochs. Not a mean of per-epoch rates,
        which a fast warm-up would dominate.
    """
    rates, seconds = history.get("events_per_second", []), history.get("seconds", [])
    totals: dict[str, list[float]] = {}
    for phase, rate, sec in zip(phases, rates, seconds, strict=False):
        if math.isfinite(rate) and math.isfinite(sec) and sec > 0:
            events_time = totals.setdefault(phase, [0.0, 0.0])
            events_time[0] += rate * sec
            events_time[1] += sec
    if not totals:
        return None, {}
    overall = sum(e for e, _ in totals.values()) / sum(t for _, t in totals.values())
    return overall, {phase: e / t for phase, (e, t) in totals.items()}


def _mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([r[key] for r in rows if key in r])) for key in rows[0]} if rows else {}


#: History keys of the fit-to-data panel (exact W of the Boltzmann density's samples, and the floor).
_W_KEYS = ("w_exact", "w_exact_long", "w_floor", "w_neural")
#: Ratios of the negatives to the data, drawn on the third panel.
_RATIO_KEYS = ("diag_energy_ratio", "diag_neg_std_ratio", "diag_acceptance")


def _measured(epochs: np.ndarray, values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The epochs with a finite value and those values: a metric measured every n-th epoch is drawn as a line."""
    y = np.asarray(values, dtype=float)
    keep = np.isfinite(y)
    return epochs[keep], y[keep]


def _plot_history(
    history: dict[str, list[float]],
    path: Path,
    kept_epoch: int | None = None,
    equilibrium: dict[str, float] | None = None,
) -> None:
    """Training and validation losses; for energy-based runs also the exact W against its floor and the
    negatives' energy and spread ratios, with the kept epoch marked and the fit of exp(−E/T) after
    ``equilibrium['steps']`` further sampler steps at ``equilibrium['epoch']``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skip = {
        "epoch",
        "seconds",
        "events_per_second",
        "step_ms",
        "solver_ms",
        "selection_score",
        "w_ratio",
        "w_long_ratio",
        "diag_energy_neg_long",
        *_W_KEYS,
        *_RATIO_KEYS,
    }
    keys = [k for k in history if k not in skip and not k.startswith(("diag_", "neural_"))]
    fit = [k for k in _W_KEYS if k in history]
    ratios = [k for k in _RATIO_KEYS if k in history]
    n_panels = 2 + bool(fit) + bool(ratios)
    fig, axes = plt.subplots(1, n_panels, figsize=(5 * n_panels, 3.8))
    epochs = np.arange(1, len(next(iter(history.values()))) + 1) if history else np.array([])
    for key in keys:
        ax = axes[1] if key.startswith("val_") else axes[0]
        ax.plot(*_measured(epochs, history[key]), label=key)
    for ax, title in zip(axes[:2], ("training", "validation"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss / energy (normalised units)")
        ax.set_title(title)
        ax.legend(fontsize=7)
    panel = 2
    if fit:
        ax = axes[panel]
        for key in fit:
            ax.plot(*_measured(epochs, history[key]), label=key, ls="--" if key == "w_floor" else "-")
        if equilibrium:
            label = f"w_exact after {equilibrium['steps']} more steps"
            ax.plot([equilibrium["epoch"]], [equilibrium["w_exact_equilibrium"]], "k*", ms=9, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("W, squared distance (energy space)")
        ax.set_title("fit to held-out data (exact W)")
        panel += 1
    if ratios:
        ax = axes[panel]
        for key in ratios:
            ax.plot(*_measured(epochs, history[key]), label=key)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xlabel("epoch")
        ax.set_title("negatives / data")
    for ax in axes[2:]:
        if kept_epoch is not None:
            ax.axvline(kept_epoch, color="k", lw=0.8, ls=":", label=f"kept epoch {kept_epoch}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_negatives(data: np.ndarray, negatives: np.ndarray, path: Path, seed: int = 0, max_points: int = 5000) -> None:
    """The sampler's negatives over the data on the data's first two principal components (one PNG).

    Chains that trace the data cover the same region; chains stuck in the energy minima form
    tight clumps inside it; runaway chains sit at the bounds.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    data = data[rng.permutation(len(data))[:max_points]].astype(np.float64)
    negatives = negatives[rng.permutation(len(negatives))[:max_points]].astype(np.float64)
    mean = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
    axes2 = vt[:2].T
    d2, n2 = (data - mean) @ axes2, (negatives - mean) @ axes2
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.scatter(d2[:, 0], d2[:, 1], s=2, alpha=0.3, label=f"data ({len(d2)})")
    ax.scatter(n2[:, 0], n2[:, 1], s=2, alpha=0.3, label=f"negatives, replay buffer ({len(n2)})")
    ax.set_xlabel("principal component 1 of the data")
    ax.set_ylabel("principal component 2")
    ax.set_title("Langevin negatives over the data")
    ax.legend(fontsize=7, markerscale=4)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _resume_config(
    runs_dir: Path,
    name: str | None,
    epochs: int | None,
    model: str | None,
    seed: int | None,
) -> tuple[Path, TrainConfig, TrainingState | None]:
    """The run directory, its config (``epochs`` applied) and training state, checked before anything changes."""
    if name is None:
        msg = "--resume needs --name of the run to continue"
        raise ModelError(msg)
    run_dir = runs_dir / name
    if not (run_dir / "config.yml").is_file():
        msg = f"{run_dir}: nothing to resume (no config.yml)"
        raise ModelError(msg)
    own = load_config(run_dir / "config.yml", TrainConfig)
    if model is not None and model != own.model:
        msg = (
            f"{run_dir} was trained as {own.model}: --resume continues it as {own.model}, not as {model} "
            f"(drop --model, or train the {model} under a new --name)"
        )
        raise ModelError(msg)
    if seed is not None and seed != own.seed:
        msg = (
            f"{run_dir} was trained with seed {own.seed}: --resume continues it with that seed, not {seed} "
            "(drop --seed, or train under a new --name)"
        )
        raise ModelError(msg)
    state_path = run_dir / CHECKPOINT_DIR / CHECKPOINT_STATE
    state = read_training_state(state_path) if state_path.exists() else None
    done = state.epoch if state is not None else 0
    total = own.epochs if epochs is None else epochs
    if total < done:
        msg = (
            f"{run_dir} has already trained {done} epochs: --epochs {total} would not continue it "
            f"(give --epochs {done} or more, or train under a new --name)"
        )
        raise ModelError(msg)
    cfg = own if epochs is None else load_config(run_dir / "config.yml", TrainConfig, overrides={"epochs": epochs})
    return run_dir, cfg, state


def train(
    cfg: TrainConfig | None,
    *,
    data_dir: str | Path = "data",
    runs_dir: str | Path = "runs",
    name: str | None = None,
    resume: bool = False,
    epochs: int | None = None,
    progress: bool | None = None,
    model: str | None = None,
    seed: int | None = None,
    budget_gate_for: Callable[[str], BudgetGate] | None = None,
) -> TrainResult:
    """Train one model and write its run directory.

    Args:
        cfg: the training config (ignored on ``resume``, may be None then: the run's own config is used).
        data_dir: data directory with ``manifest.json``.
        runs_dir: where run directories live.
        name: run name (default ``<model>-<UTC yyyymmdd-HHMMSS>``); required with ``resume``.
        resume: continue the run ``name`` from its last checkpoint (a finished run too: give a
            larger ``epochs`` to train it further). Bit-identical to the run trained uninterrupted.
        epochs: on ``resume``, the new total number of epochs (default: the run's own); fewer
            than the epochs already trained is refused.
        progress: show a progress bar (default: only on a terminal).
        model, seed: on ``resume``, what the caller asked for (``--model``, ``--seed``): a
            different model family or seed than the run's is refused.
        budget_gate_for: target name → the check of the config's ``firmware_budget`` (deployed
            model → ``None`` when it fits, else why not): the run keeps the best-ranked epoch that
            passes. Without it a ``firmware_budget`` is not checked (a warning says so); ``wnae
            train`` passes :func:`wnae.firmware.rtl.budget_gate`.

    Raises:
        ModelError: the run exists (without ``resume``); on ``resume``: no such run, another
            model or seed, fewer epochs than done, or a truncated/corrupt ``checkpoints/`` file
            (named); the loss became NaN/inf (the last good checkpoint is kept); no epoch the
            run could keep fits ``firmware_budget``.
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    from wnae.models.registry import build_model
    from wnae.models.serialization import (
        DEPLOY_MODEL,
        GMM_FILE,
        MAHALANOBIS_MODEL,
        RUN_INFO,
        restore_training,
        save_qkeras_model,
    )

    runs_dir = Path(runs_dir)
    state: TrainingState | None = None
    if resume:
        run_dir, cfg, state = _resume_config(runs_dir, name, epochs, model, seed)
    else:
        if cfg is None:
            msg = "train needs a config (cfg) unless it resumes a run"
            raise ModelError(msg)
        name = name or f"{cfg.label}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        run_dir = runs_dir / name
        if run_dir.exists():
            msg = f"{run_dir} exists: choose another --name, or --resume it"
            raise ModelError(msg)

    configure_threads(cfg.threads.intra_op, cfg.threads.inter_op)
    tf.keras.utils.set_random_seed(cfg.seed)
    source = open_source(data_dir, cfg)  # in memory or streamed from the files (cfg.loading)
    norm = source.norm
    if resume:
        _check_same_normalisation(run_dir / "normalisation.json", norm, data_dir)
    _check_input_precision(cfg, norm, source.train_sample)
    family = build_model(cfg.model, cfg, cfg.seed, n_classes=len(SM_PROCESSES))
    family.build_optimizer()
    budget = cfg.firmware_budget
    if budget is not None and family.deployed_output != "score":
        msg = (
            f"firmware_budget {budget}: model {cfg.model} deploys a latent vector, whose on-chip score is built "
            "after training; check it with 'wnae rtl --check-budget' instead"
        )
        raise ConfigError(msg)
    budget_gate = None if budget is None or budget_gate_for is None else budget_gate_for(budget)
    if budget is not None and budget_gate is None:
        logger.warning("firmware_budget %s is not checked: no budget gate given (wnae train gives one)", budget)
    pruner = MagnitudePruner(cfg.pruning, family.prunable_layers(), source.steps_per_epoch)
    checkpoint_dir = run_dir / CHECKPOINT_DIR
    if resume:  # before anything in the run directory changes: a bad checkpoint file leaves it as it was
        state = restore_training(family, checkpoint_dir, state)
    history: dict[str, list[float]] = {} if state is None else state.history
    start_epoch = 0 if state is None else state.epoch
    if state is not None:
        logger.info("resuming %s at epoch %d", run_dir, start_epoch + 1)

    run_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        (run_dir / RUN_INFO).unlink(missing_ok=True)  # unfinished again until the end
    with atomic_path(run_dir / "config.yml") as tmp:
        tmp.write_text(dump_config(cfg))
    norm.save(run_dir / "normalisation.json")
    ckpt = tf.train.Checkpoint(**family.checkpoint_objects())
    manager = tf.train.CheckpointManager(ckpt, checkpoint_dir, max_to_keep=_CHECKPOINTS_KEPT)
    state_path = checkpoint_dir / CHECKPOINT_STATE

    keep_best = cfg.mcmc.keep_epoch == "best_w"
    bar = tqdm(
        range(start_epoch, cfg.epochs),
        initial=start_epoch,
        total=cfg.epochs,
        desc=f"train {cfg.model}",
        unit="epoch",
        disable=None if progress is None else not progress,
    )
    started = time.perf_counter()
    epoch = saved = start_epoch
    # one BLAS thread: the step's NumPy products (512 x 512 x 10) are too small to share, and OpenBLAS's
    # idle threads spin (make train on 2 cores: 74 s of system time, 3.5 s with one; same results and wall time)
    blas = threadpool_limits(limits=1, user_api="blas")  # restored in the finally below
    try:
        for epoch in bar:
            t0 = time.perf_counter()
            rows, n_events = [], 0
            kind = family.batch_kind_at(epoch)
            family.start_epoch(epoch)
            for step, batch in enumerate(source.epoch_batches(kind, epoch)):
                step_metrics = family.train_step(batch, epoch)
                pruner.step(epoch, step)
                if not all(math.isfinite(v) for v in step_metrics.values()):
                    msg = (
                        f"non-finite loss at epoch {epoch + 1} ({step_metrics}); training stopped. The last good "
                        f"checkpoint (epoch {epoch}) is kept in {run_dir / CHECKPOINT_DIR}: lower the learning "
                        "rate or the Langevin step and --resume"
                    )
                    raise ModelError(msg)
                rows.append(step_metrics)
                n_events += len(next(iter(batch.values())))
            seconds = time.perf_counter() - t0
            val_rows = [family.validation_step(batch) for batch in source.validation_batches(kind)]
            epoch_metrics = {**_mean_metrics(rows), **{f"val_{k}": v for k, v in _mean_metrics(val_rows).items()}}
            if diagnosed(epoch, cfg.epochs, cfg.mcmc.diagnostics.every):
                epoch_metrics.update(family.epoch_diagnostics(source.validation_sample, epoch))
            epoch_metrics["events_per_second"] = n_events / seconds
            epoch_metrics["seconds"] = seconds
            epoch_metrics["step_ms"] = 1e3 * seconds / max(1, len(rows))
            n_done = len(history.get("loss", []))
            for key in [*history, *(k for k in epoch_metrics if k not in history)]:
                # a metric may start later (energy_neg after AE pre-training): earlier epochs get NaN
                history.setdefault(key, [math.nan] * n_done).append(epoch_metrics.get(key, math.nan))
            # the TF checkpoint first, then state.npz naming it: an interruption in between keeps the previous pair
            manager.save(checkpoint_number=epoch + 1)
            with atomic_path(state_path) as tmp, tmp.open("wb") as f:
                np.savez(f, history=json.dumps(history), epoch=epoch + 1, **family.extra_state())
            saved = epoch + 1
            if keep_best and best_epoch(history, pruner.at_target) == saved:
                _save_best(family.networks, checkpoint_dir)
            if (
                keep_best
                and budget is not None
                and saved in ranked_epochs(history, pruner.at_target)[:CANDIDATES_TRIED]
            ):
                _save_best(family.networks, checkpoint_dir, _candidate_dir(saved))
            bar.set_postfix(loss=f"{epoch_metrics['loss']:.4g}", ev_s=f"{epoch_metrics['events_per_second']:.0f}")
            logger.info(
                "epoch %d/%d: %s", epoch + 1, cfg.epochs, ", ".join(f"{k}={v:.4g}" for k, v in epoch_metrics.items())
            )
    except KeyboardInterrupt:
        left = f"the checkpoint of epoch {saved} is kept in {checkpoint_dir}" if saved else "no epoch was completed"
        logger.warning(
            "interrupted in epoch %d: %s; continue with 'wnae train --name %s --resume' "
            "(bit-identical to an uninterrupted run)",
            epoch + 1,
            left,
            run_dir.name,
        )
        raise
    finally:
        blas.restore_original_limits()

    kept = best_epoch(history, pruner.at_target) if keep_best else None
    budget_checked: list[dict[str, Any]] = []
    if budget is not None and budget_gate is not None:
        ranked = ranked_epochs(history, pruner.at_target)[:CANDIDATES_TRIED] if keep_best else []
        kept, budget_checked = _keep_within_budget(family, ranked, saved, checkpoint_dir, budget_gate, budget)
        _drop_candidates(checkpoint_dir, keep=set(ranked))
        kept = kept if ranked else None
    elif kept is not None and kept != saved:
        _restore_best(family.networks, checkpoint_dir)
    if kept is not None:
        logger.info(
            "keeping epoch %d of %d (selection score %.3g%s)",
            kept,
            saved,
            history["selection_score"][kept - 1],
            f"; the best that fits {budget}" if budget_checked else "",
        )
    kept_epoch = kept or saved
    equilibrium = family.equilibrium_diagnostics(source.validation_sample)
    deploy = family.deploy_model()
    save_qkeras_model(deploy, run_dir / DEPLOY_MODEL)
    overall, by_phase = throughput(history, [family.phase(e) for e in range(len(history.get("loss", [])))])
    metrics: dict[str, Any] = {
        "train_events": source.n_train,
        "train_events_per_epoch": source.events_per_epoch,
        "validation_events": source.n_validation,
        "loading": source.describe(),
        "final": {k: v[-1] for k, v in history.items() if not math.isnan(v[-1])},
        "kept_epoch": kept_epoch,
        "kept": {k: v[kept_epoch - 1] for k, v in history.items() if not math.isnan(v[kept_epoch - 1])},
        "training_seconds": time.perf_counter() - started,
        "events_per_second": overall,
        "events_per_second_by_phase": by_phase,
        **family.describe(),
    }
    if equilibrium:
        metrics["equilibrium"] = {"steps": cfg.mcmc.diagnostics.equilibrium_steps, "epoch": kept_epoch, **equilibrium}
    if pruner.active:
        metrics["kernel_sparsity"] = pruner.sparsity_report()
    if budget_checked:
        metrics["firmware_budget"] = {"target": budget, "checked": budget_checked}
    if family.deployed_output == "latent":
        import joblib

        latents = deploy.predict(source.train_sample, batch_size=8192, verbose=0).astype(np.float64)
        gmm = fit_gmm(latents, cfg.gmm, cfg.seed)
        with atomic_path(run_dir / GMM_FILE) as tmp:
            joblib.dump(gmm, tmp)
        metrics["gmm_components"] = int(gmm.n_components)
        save_qkeras_model(
            family.mahalanobis_model(latents.mean(axis=0), np.cov(latents, rowvar=False)),
            run_dir / MAHALANOBIS_MODEL,
        )
    write_json_atomic(
        run_dir / "history.json", {k: [None if math.isnan(v) else v for v in values] for k, values in history.items()}
    )
    with atomic_path(run_dir / "history.csv") as tmp:
        keys = list(history)
        lines = [",".join(["epoch", *keys])]
        lines += [",".join([str(i + 1), *(f"{history[k][i]:.8g}" for k in keys)]) for i in range(len(history[keys[0]]))]
        tmp.write_text("\n".join(lines) + "\n")
    write_json_atomic(run_dir / "metrics.json", metrics)
    if history:
        _plot_history(history, run_dir / "loss.png", kept, metrics.get("equilibrium"))
    negatives = family.diagnostic_samples()
    if negatives is not None:
        plot_negatives(family.sample_space(source.train_sample), negatives, run_dir / NEGATIVES_PLOT, seed=cfg.seed)
    q = cfg.quant.input
    write_json_atomic(
        run_dir / RUN_INFO,
        {
            "model": cfg.model,
            "deployed_output": family.deployed_output,
            "input_quantizer": {"bits": q.bits, "integer": q.integer, "signed": q.signed},
            "score_quantizer": cfg.quant.score.model_dump(),
            "seed": cfg.seed,
            "epochs": cfg.epochs,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_dir": str(data_dir),
        },
    )
    logger.info("run written to %s", run_dir)
    return TrainResult(run_dir, history, metrics, cfg)
