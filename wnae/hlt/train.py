"""Train an HLT encoder: L = β·InfoNCE(two augmented views) + CE(SM process), then a GMM on SM latents.

The same objective as the L1 MLP encoder (:mod:`wnae.models.mlp_encoder`), on the SM training split
(:func:`wnae.train.data_source.load_sm_split`), with the candidate augmentations of
:func:`wnae.models.augment.augment_candidates` (the L1-object ones for ``l1_mlp``). Everything
random is a function of the seed: the initialisation, the batch order and augmentations of each
epoch, and the GMM. The run directory is written whole or not at all, and an existing run (with its
``two_level/`` results) is replaced only when asked (``replace``, ``--retrain``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnae._io import atomic_dir, write_json_atomic
from wnae.config import dump_config
from wnae.data.preprocess import Normaliser, fit_normaliser
from wnae.data.samples import SM_PROCESSES
from wnae.errors import DataError, ModelError
from wnae.hlt.config import HltTrainConfig
from wnae.hlt.encoders import build_encoder
from wnae.hlt.model import CONFIG_FILE, GMM_FILE, NORMALISER_FILE, RUN_INFO, WEIGHTS_FILE, encoder_inputs
from wnae.models import losses
from wnae.models.augment import augment, augment_candidates
from wnae.models.gmm import fit_gmm

__all__ = ["HltTrainResult", "check_new_run", "displacement_targets", "train_hlt"]

logger = logging.getLogger(__name__)
HISTORY_FILE = "history.json"
#: Events of the training split whose (unaugmented) latents the GMM is fitted on, at most.
GMM_EVENTS = 20_000


def displacement_targets(pf_cands: np.ndarray, min_significance: float, min_pt_gev: float) -> np.ndarray:
    """Per event, float32 (n, 2): log(1 + Σ pT / GeV) and log(1 + N) of the candidates with
    |d_xy/σ| > ``min_significance`` and pT > ``min_pt_gev`` (padding has pT 0)."""
    pt, significance = pf_cands[..., 0], pf_cands[..., 4]
    displaced = (np.abs(significance) > min_significance) & (pt > min_pt_gev)
    return np.stack([np.log1p((pt * displaced).sum(-1)), np.log1p(displaced.sum(-1))], axis=-1).astype(np.float32)


@dataclass
class HltTrainResult:
    run_dir: Path
    history: dict[str, list[float]]
    seconds: float
    events_per_second: float


class _Networks:
    """Encoder, projection head g(z) and classifier h(z), with one AdamW and the training step."""

    def __init__(self, cfg: HltTrainConfig, n_classes: int, total_steps: int) -> None:
        import tensorflow as tf
        from tensorflow import keras

        c = cfg.contrastive
        self.encoder = build_encoder(cfg.encoder)
        self.projection = keras.Sequential(
            [keras.layers.Dense(2 * c.projection_dim, activation="relu"), keras.layers.Dense(c.projection_dim)],
            name="projection",
        )
        self.classifier = keras.Sequential([keras.layers.Dense(n_classes)], name="classifier")
        self.projection.build((None, cfg.encoder.latent_dim))
        self.classifier.build((None, cfg.encoder.latent_dim))
        weight = cfg.displacement.weight if cfg.encoder.reads_pf else 0.0
        # built only when used: the default run draws the same initial weights as before this head existed
        self.displacement = None
        if weight > 0:
            self.displacement = keras.Sequential([keras.layers.Dense(2)], name="displacement")
            self.displacement.build((None, cfg.encoder.latent_dim))
        # AdamW with a cosine decay of the learning rate to 0 over the training (Loshchilov & Hutter,
        # arXiv:1608.03983): the transformer converges within a fixed, small number of epochs.
        schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=max(total_steps, 1))
        self.optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay)
        variables = (
            self.encoder.trainable_variables + self.projection.trainable_variables + self.classifier.trainable_variables
        )
        if self.displacement is not None:
            variables += self.displacement.trainable_variables
        head = self.displacement

        def losses_of(v1: Any, v2: Any, labels: Any, y1: Any, y2: Any, training: bool) -> Any:
            z1, z2 = self.encoder(v1, training=training), self.encoder(v2, training=training)
            loss, nce, xent, accuracy = losses.contrastive_classification_loss(
                z1, z2, labels, self.projection, self.classifier, beta=c.beta, temperature=c.temperature
            )
            if head is None:
                return loss, nce, xent, accuracy, tf.zeros_like(loss)
            mse = 0.5 * (tf.reduce_mean(tf.square(head(z1) - y1)) + tf.reduce_mean(tf.square(head(z2) - y2)))
            return loss + weight * mse, nce, xent, accuracy, mse

        @tf.function(reduce_retracing=True)
        def step(v1: Any, v2: Any, labels: Any, y1: Any, y2: Any) -> Any:
            with tf.GradientTape() as tape:
                out = losses_of(v1, v2, labels, y1, y2, True)
            grads = tape.gradient(out[0], variables)
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
            return out

        self.step, self.evaluate = step, tf.function(losses_of, reduce_retracing=True)


def _views(
    cfg: HltTrainConfig,
    raw: np.ndarray,
    rng: np.random.Generator,
    normaliser: Normaliser | None,
    standardise: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two augmented views of a batch, as encoder inputs, and each view's standardised displacement
    targets (zeros for an encoder that does not read the candidates or without ``standardise``)."""
    out, targets = [], []
    for _ in range(2):
        if cfg.encoder.reads_pf:
            a = cfg.augment
            view = augment_candidates(
                raw, rng, pt_smear=a.pt_smear, drop_pt_gev=a.drop_pt_gev, drop_probability=a.drop_probability
            )
        else:
            c = cfg.contrastive
            view = augment(
                raw, rng, pt_smear=c.pt_smear, drop_pt_gev=c.drop_pt_gev, drop_probability=c.drop_probability
            )
        out.append(encoder_inputs(cfg.encoder, view, normaliser))
        if cfg.encoder.reads_pf and standardise is not None:
            d = cfg.displacement
            mean, std = standardise
            targets.append((displacement_targets(view, d.min_significance, d.min_pt_gev) - mean) / std)
        else:
            targets.append(np.zeros((len(raw), 2), np.float32))
    return out[0], out[1], targets[0], targets[1]


def _split(data_dir: Path, cfg: HltTrainConfig, split: str, cap: int | None) -> tuple[np.ndarray, np.ndarray]:
    from wnae.train.data_source import load_sm_split

    events = load_sm_split(data_dir, split, cap, cfg.seed, with_pf=cfg.encoder.reads_pf)
    if cfg.encoder.reads_pf:  # (read_events refuses a file without PFCands, naming it)
        assert events.pf_cands is not None  # read with with_pf
        if events.pf_cands.shape[1] < cfg.encoder.max_candidates:
            logger.info(
                "files hold %d candidates per event, fewer than max_candidates = %d: the rest is padding",
                events.pf_cands.shape[1],
                cfg.encoder.max_candidates,
            )
        raw = events.pf_cands
    else:
        raw = events.particles
    labels = np.asarray(events.process_label, dtype=np.int32)
    if (labels < 0).any() or (labels >= len(SM_PROCESSES)).any():
        msg = f"SM process labels must be 0..{len(SM_PROCESSES) - 1}, got {sorted(set(labels.tolist()))}"
        raise DataError(msg)
    return raw, labels


def _run_epoch(
    nets: _Networks,
    cfg: HltTrainConfig,
    raw: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    normaliser: Normaliser | None,
    *,
    train: bool,
    standardise: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    order = rng.permutation(len(raw)) if train else np.arange(len(raw))
    sums, n_seen = np.zeros(5), 0
    for start in range(0, len(order), cfg.batch_size):
        idx = np.sort(order[start : start + cfg.batch_size])
        if len(idx) < 2:  # InfoNCE needs a negative
            continue
        v1, v2, y1, y2 = _views(cfg, raw[idx], rng, normaliser, standardise)
        batch_labels = labels[idx]
        out = nets.step(v1, v2, batch_labels, y1, y2) if train else nets.evaluate(v1, v2, batch_labels, y1, y2, False)
        values = np.array([float(v) for v in out])
        if not np.isfinite(values).all():
            msg = f"training diverged: non-finite loss at events {start}..{start + len(idx)} (lower the learning rate)"
            raise ModelError(msg)
        sums += values * len(idx)
        n_seen += len(idx)
    keys = ("loss", "info_nce", "cross_entropy", "accuracy", "displacement_mse")
    return {k: float(v / max(n_seen, 1)) for k, v in zip(keys, sums, strict=True)}


def check_new_run(run_dir: str | Path, *, replace: bool = False) -> Path:
    """``run_dir`` may be written: it does not exist, or ``replace`` says to replace it.

    Raises:
        ModelError: the run exists (a finished run, or anything else in the way) and ``replace`` is false.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not replace:
        msg = (
            f"{run_dir} exists: train under another --name, or pass --retrain to replace it "
            "(its results, two_level/ included, are deleted)"
        )
        raise ModelError(msg)
    return run_dir


def train_hlt(
    cfg: HltTrainConfig, data_dir: str | Path, runs_dir: str | Path = "hlt_runs", *, replace: bool = False
) -> HltTrainResult:
    """Train one HLT encoder on ``data_dir`` and write ``runs_dir/<cfg.run_name>/``.

    Args:
        replace: replace an existing run of that name (and its ``two_level/`` results); without it
            an existing run is an error before any training.

    Raises:
        DataError: no SM samples, no PF candidates in the files, bad labels.
        ModelError: the run exists (without ``replace``), or the loss diverges.
    """
    run_dir = check_new_run(Path(runs_dir) / cfg.run_name, replace=replace)  # before minutes of training
    import tensorflow as tf

    from wnae.train.loop import configure_threads

    data_dir = Path(data_dir)
    configure_threads(cfg.threads.intra_op, cfg.threads.inter_op)
    tf.keras.utils.set_random_seed(cfg.seed)
    cap = cfg.max_train_events
    raw, labels = _split(data_dir, cfg, "train", cap)
    val_raw, val_labels = _split(data_dir, cfg, "validation", None if cap is None else max(cap // 3, 2))
    normaliser = None if cfg.encoder.reads_pf else fit_normaliser([raw], "standard")
    standardise = None
    if cfg.encoder.reads_pf and cfg.displacement.weight > 0:
        y = displacement_targets(raw, cfg.displacement.min_significance, cfg.displacement.min_pt_gev)
        standardise = (y.mean(axis=0), np.maximum(y.std(axis=0), 1e-3))
    steps_per_epoch = sum(1 for start in range(0, len(raw), cfg.batch_size) if len(raw) - start >= 2)
    nets = _Networks(cfg, len(SM_PROCESSES), cfg.epochs * steps_per_epoch)
    logger.info(
        "HLT %s encoder: %d parameters, %d training and %d validation events",
        cfg.encoder.kind,
        nets.encoder.count_params(),
        len(raw),
        len(val_raw),
    )
    history: dict[str, list[float]] = {}
    start = time.perf_counter()
    train_seconds = 0.0
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        metrics = _run_epoch(
            nets,
            cfg,
            raw,
            labels,
            np.random.default_rng([cfg.seed, 1, epoch]),
            normaliser,
            train=True,
            standardise=standardise,
        )
        train_seconds += time.perf_counter() - t0
        val = _run_epoch(
            nets,
            cfg,
            val_raw,
            val_labels,
            np.random.default_rng([cfg.seed, 2]),
            normaliser,
            train=False,
            standardise=standardise,
        )
        for k, v in metrics.items():
            history.setdefault(k, []).append(v)
        for k, v in val.items():
            history.setdefault(f"val_{k}", []).append(v)
        logger.info(
            "epoch %d/%d: loss %.4f (InfoNCE %.4f, CE %.4f, acc %.3f); validation loss %.4f, acc %.3f",
            epoch + 1,
            cfg.epochs,
            metrics["loss"],
            metrics["info_nce"],
            metrics["cross_entropy"],
            metrics["accuracy"],
            val["loss"],
            val["accuracy"],
        )
    gmm_index = np.arange(len(raw))
    if len(raw) > GMM_EVENTS:
        gmm_index = np.sort(np.random.default_rng([cfg.seed, 3]).choice(len(raw), GMM_EVENTS, replace=False))
    x = encoder_inputs(cfg.encoder, raw[gmm_index], normaliser)
    latents = np.concatenate([nets.encoder(x[i : i + 1024], training=False).numpy() for i in range(0, len(x), 1024)])
    gmm = fit_gmm(latents, cfg.gmm, cfg.seed)
    seconds = time.perf_counter() - start
    rate = cfg.epochs * len(raw) / train_seconds if train_seconds > 0 else float("nan")
    info = {
        "model": f"hlt_{cfg.encoder.kind}",
        "deployed_output": "latent",
        "encoder": cfg.encoder.kind,
        "inputs": "pf_candidates" if cfg.encoder.reads_pf else "l1_objects",
        "seed": cfg.seed,
        "parameters": int(nets.encoder.count_params()),
        "train_events": len(raw),
        "validation_events": len(val_raw),
        "gmm_components": int(gmm.n_components),
        "train_seconds": round(train_seconds, 2),
        "train_events_per_second": round(rate, 1),
        "data_dir": str(data_dir),
    }
    check_new_run(run_dir, replace=replace)  # again: another process may have written it meanwhile
    import joblib

    with atomic_dir(run_dir) as tmp:
        (tmp / CONFIG_FILE).write_text(dump_config(cfg))
        nets.encoder.save_weights(tmp / WEIGHTS_FILE)
        joblib.dump(gmm, tmp / GMM_FILE)
        if normaliser is not None:
            normaliser.save(tmp / NORMALISER_FILE)
        write_json_atomic(tmp / HISTORY_FILE, history)
        write_json_atomic(tmp / RUN_INFO, info)
    logger.info("HLT run written to %s (%.0f s, %.0f training events/s)", run_dir, seconds, rate)
    return HltTrainResult(run_dir, history, seconds, rate)
