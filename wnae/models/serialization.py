"""Loading a trained run: the deployable QKeras model, its normalisation and score.

A run directory (written by :func:`wnae.train.loop.train`) holds ``run.json`` (written last: a run
without it is incomplete), ``config.yml``, ``normalisation.json``, ``deploy.h5`` and, for the MLP
encoder, ``gmm.joblib`` and ``deploy_mahalanobis.h5``. Its JSON, NPZ and checkpoint files are read
through :mod:`wnae.models.run_files` (one-line :class:`~wnae.errors.ModelError` on a bad file).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wnae.data.preprocess import Normaliser, load_normaliser
from wnae.errors import ModelError
from wnae.models.gmm import gmm_anomaly_score
from wnae.models.run_files import (
    TrainingState,
    checkpoint_prefix,
    read_run_info,
    read_training_state,
    restore_checkpoint,
)

if TYPE_CHECKING:
    from wnae.models.base import ModelFamily

__all__ = [
    "TrainedRun",
    "as_deployed",
    "custom_objects",
    "latest_run",
    "load_qkeras_model",
    "load_run",
    "load_training_model",
    "restore_training",
    "save_qkeras_model",
]

logger = logging.getLogger(__name__)

RUN_INFO = "run.json"
DEPLOY_MODEL = "deploy.h5"
MAHALANOBIS_MODEL = "deploy_mahalanobis.h5"
GMM_FILE = "gmm.joblib"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_STATE = "state.npz"
PREDICT_BATCH = 8192


def custom_objects() -> dict[str, Any]:
    """Every QKeras layer and quantizer, for ``keras.models.load_model``."""
    from qkeras.utils import _add_supported_quantized_objects

    objects: dict[str, Any] = {}
    _add_supported_quantized_objects(objects)
    return objects


def load_qkeras_model(path: str | Path) -> Any:
    """Load a QKeras model saved as ``.h5`` (clear error if missing or unreadable)."""
    from tensorflow import keras

    path = Path(path)
    if not path.is_file():
        msg = f"{path}: model file not found"
        raise ModelError(msg)
    try:
        return keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
    except (OSError, ValueError) as err:
        msg = f"{path}: cannot load the model ({err})"
        raise ModelError(msg) from err


def save_qkeras_model(model: Any, path: str | Path) -> None:
    """Save a model as ``.h5``, atomically."""
    from wnae._io import atomic_path

    with atomic_path(path) as tmp:
        model.save(tmp.with_suffix(".h5"), include_optimizer=False)
        tmp.with_suffix(".h5").replace(tmp)


def as_deployed(model: Any) -> Any:
    """``model`` as ``deploy.h5`` holds it: saved and loaded again, one flat graph, as the firmware tools read it."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="wnae-deploy-") as tmp:
        path = Path(tmp) / DEPLOY_MODEL
        save_qkeras_model(model, path)
        return load_qkeras_model(path)


@dataclass
class TrainedRun:
    """A trained run, ready to score events.

    Attributes:
        path: the run directory.
        info: ``run.json`` (model family, deployed output, input quantizer, seed, …).
        config: the resolved training config (a :class:`~wnae.models.config.TrainConfig`).
        normaliser: input normalisation fitted at training time.
        deploy_model: the deployable QKeras model (input: 57 normalised features).
        gmm: scikit-learn GaussianMixture on SM latents (MLP encoder), else None.
        mahalanobis_model: the MLP encoder's on-chip one-Gaussian score model, else None.
    """

    path: Path
    info: dict[str, Any]
    config: Any
    normaliser: Normaliser
    deploy_model: Any
    gmm: Any = None
    mahalanobis_model: Any = None

    @property
    def name(self) -> str:
        return self.path.name

    def features(self, x: np.ndarray) -> np.ndarray:
        """float32 (n, 57) normalised inputs from raw events (n, 19, 4|3) or raw features (n, 57)."""
        return self.normaliser.transform(x)

    def deploy_output(self, x: np.ndarray) -> np.ndarray:
        """The deployed model's output on raw events, float64: (n,) score or (n, latent_dim) latent.

        Computed as the firmware computes it: the exact fixed-point reference of the deployed model
        (:func:`wnae.fixed_point.reference.exact_reference`), not QKeras in float32, which rounds the
        sums of wide layers. The two agree for every model whose layers fit float32's 24 bits (the
        defaults); for the others, rates and working points are those of the firmware.
        """
        from wnae.fixed_point.graph import deployed_ops
        from wnae.fixed_point.reference import exact_reference

        features = self.features(x)
        ops = deployed_ops(self.deploy_model)
        chunks = (features[i : i + PREDICT_BATCH] for i in range(0, len(features), PREDICT_BATCH))
        parts = [exact_reference(self.deploy_model, chunk, compare_qkeras=False, ops=ops).outputs for chunk in chunks]
        out = np.concatenate(parts) if parts else np.zeros((0, int(self.deploy_model.outputs[0].shape[-1])))
        return out[:, 0] if out.shape[-1] == 1 and self.info["deployed_output"] == "score" else out

    def latent(self, x: np.ndarray) -> np.ndarray:
        """(n, latent_dim) latent representation (MLP encoder only)."""
        if self.info["deployed_output"] != "latent":
            msg = f"run {self.name} ({self.info['model']}) has no latent space output"
            raise ModelError(msg)
        return self.deploy_output(x)

    def anomaly_score(self, x: np.ndarray) -> np.ndarray:
        """float64 (n,) anomaly score, higher = more anomalous.

        E(x) on chip for AE/NAE/WNAE, Σμ² for the VAE, −log p(z) under the GMM for the MLP encoder.
        """
        if self.info["deployed_output"] == "latent":
            return gmm_anomaly_score(self.gmm, self.latent(x))
        return self.deploy_output(x).astype(np.float64)


def load_run(run_dir: str | Path) -> TrainedRun:
    """Load a complete run directory; clear errors for missing pieces."""
    from wnae.config import load_config
    from wnae.models.config import TrainConfig

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        msg = f"{run_dir}: run directory not found"
        raise ModelError(msg)
    info_path = run_dir / RUN_INFO
    if not info_path.is_file():
        msg = f"{run_dir}: not a finished run (no {RUN_INFO}); train it, or resume with 'wnae train --resume'"
        raise ModelError(msg)
    info = read_run_info(info_path)
    config = load_config(run_dir / "config.yml", TrainConfig)
    normaliser = load_normaliser(run_dir / "normalisation.json")
    deploy = load_qkeras_model(run_dir / DEPLOY_MODEL)
    gmm = mahalanobis = None
    if info.get("deployed_output") == "latent":
        import joblib

        gmm_path = run_dir / GMM_FILE
        if not gmm_path.is_file():
            msg = f"{gmm_path}: missing Gaussian mixture of the MLP encoder"
            raise ModelError(msg)
        try:
            gmm = joblib.load(gmm_path)
        except Exception as err:
            msg = f"{gmm_path}: cannot load the Gaussian mixture ({type(err).__name__}: {err})"
            raise ModelError(msg) from err
        if not callable(getattr(gmm, "score_samples", None)):
            msg = f"{gmm_path}: not a Gaussian mixture (found {type(gmm).__name__})"
            raise ModelError(msg)
        if (run_dir / MAHALANOBIS_MODEL).is_file():
            mahalanobis = load_qkeras_model(run_dir / MAHALANOBIS_MODEL)
    return TrainedRun(run_dir, info, config, normaliser, deploy, gmm, mahalanobis)


def restore_training(
    family: ModelFamily, checkpoint_dir: str | Path, state: TrainingState | None = None
) -> TrainingState | None:
    """Restore ``family`` (networks, optimizer, TensorFlow generators, extra state) from ``checkpoint_dir``.

    The state of the last completed epoch ``n`` is ``state.npz`` (read here unless given) together
    with the TensorFlow checkpoint ``ckpt-<n>``; both are written after every epoch, the checkpoint
    first, so an interruption between the two leaves the previous, consistent pair.

    Returns:
        the training state, or None when the directory holds no checkpoint at all (nothing to restore).

    Raises:
        ModelError: ``<file>: <what is wrong>`` for a truncated or corrupt ``state.npz``, index or
            data file, a checkpoint of another model, or checkpoints without ``state.npz``.
    """
    import tensorflow as tf

    checkpoint_dir = Path(checkpoint_dir)
    state_path = checkpoint_dir / CHECKPOINT_STATE
    if state is None:
        if not state_path.exists():
            # only ckpt-1: interrupted between the first checkpoint and its state.npz, nothing to continue
            indices = {p.name for p in checkpoint_dir.glob("ckpt-*.index")} - {"ckpt-1.index"}
            if indices:
                msg = (
                    f"{state_path}: file not found, but {checkpoint_dir} holds TensorFlow checkpoints "
                    "(delete the run directory's checkpoints/ to train it again from the start)"
                )
                raise ModelError(msg)
            return None
        state = read_training_state(state_path)
    family.build_optimizer()  # every variable exists before the restore: a bad file fails here, not mid-step
    checkpoint = tf.train.Checkpoint(**family.checkpoint_objects())
    restore_checkpoint(checkpoint, checkpoint_prefix(checkpoint_dir, state.epoch))
    try:
        family.load_extra_state(state.extra)
    except (ValueError, TypeError, KeyError) as err:
        msg = f"{state_path}: {err} (delete the run directory's checkpoints/ to train it again from the start)"
        raise ModelError(msg) from err
    return state


def load_training_model(run_dir: str | Path) -> ModelFamily:
    """The full training model of a run (all networks, optimizer, replay buffer) at its last checkpoint.

    Rebuilds the family from the run's ``config.yml`` and restores ``checkpoints/``: e.g. the
    autoencoder behind a WNAE's ``deploy.h5``, or the MLP encoder's projection/classification heads.

    Raises:
        ModelError: no config or no checkpoint in ``run_dir``, or a bad checkpoint file (named).
    """
    from wnae.config import load_config
    from wnae.data.samples import SM_PROCESSES
    from wnae.models.config import TrainConfig
    from wnae.models.registry import build_model

    run_dir = Path(run_dir)
    if not (run_dir / "config.yml").is_file():
        msg = f"{run_dir}: no config.yml, not a run directory"
        raise ModelError(msg)
    cfg = load_config(run_dir / "config.yml", TrainConfig)
    family = build_model(cfg.model, cfg, cfg.seed, n_classes=len(SM_PROCESSES))
    if restore_training(family, run_dir / CHECKPOINT_DIR) is None:
        msg = f"{run_dir / CHECKPOINT_DIR}: no checkpoint to restore"
        raise ModelError(msg)
    return family


def latest_run(runs_dir: str | Path = "runs") -> Path:
    """The most recently finished run in ``runs_dir`` (newest ``run.json``; ties by name)."""
    runs = sorted(Path(runs_dir).glob(f"*/{RUN_INFO}"), key=lambda p: (p.stat().st_mtime, p.parent.name))
    if not runs:
        msg = f"no finished run in {runs_dir}/: train one with 'make train'"
        raise ModelError(msg)
    return runs[-1].parent
