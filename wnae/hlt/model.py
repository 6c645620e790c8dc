"""A trained HLT encoder run (``hlt_runs/<name>/``): encoder + GMM → anomaly score −log p(z).

Files: ``config.yml`` (the resolved :class:`~wnae.hlt.config.HltTrainConfig`), ``encoder.weights.h5``,
``gmm.joblib``, ``normaliser.json`` (``l1_mlp`` only), ``history.json`` and ``run.json``. The run is a
:class:`wnae.evaluate.scores.Scorer` whose :attr:`HltRun.inputs` tells the evaluation what to read
(``pf_candidates`` or ``l1_objects``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnae.config import load_config
from wnae.data.preprocess import Normaliser, load_normaliser
from wnae.errors import ConfigError, ModelError
from wnae.evaluate.scores import HLT_WEIGHTS_FILE
from wnae.hlt.config import EncoderConfig, HltTrainConfig
from wnae.hlt.inputs import candidate_inputs
from wnae.models.gmm import gmm_anomaly_score

__all__ = [
    "CONFIG_FILE",
    "GMM_FILE",
    "NORMALISER_FILE",
    "RUN_INFO",
    "WEIGHTS_FILE",
    "HltRun",
    "encoder_inputs",
    "load_hlt_run",
]

CONFIG_FILE = "config.yml"
WEIGHTS_FILE = HLT_WEIGHTS_FILE
GMM_FILE = "gmm.joblib"
NORMALISER_FILE = "normaliser.json"
RUN_INFO = "run.json"
#: Events per forward pass when scoring.
SCORE_BATCH = 1024


def encoder_inputs(cfg: EncoderConfig, raw: np.ndarray, normaliser: Normaliser | None) -> np.ndarray:
    """The encoder's float32 inputs: candidate features of PF candidates (n, n_max, 6), or the
    normalised (n, 57) features of L1 objects (n, 19, 4)."""
    if cfg.reads_pf:
        return candidate_inputs(raw, cfg.max_candidates)
    if normaliser is None:
        msg = "the L1-object encoder needs its normaliser"
        raise ModelError(msg)
    return normaliser.transform(raw).astype(np.float32)


@dataclass
class HltRun:
    """A loaded HLT encoder run.

    Attributes:
        name: run directory name.
        info: ``run.json`` (``model``, ``deployed_output`` ``latent``, ``encoder``, ``inputs``, …).
        config: the training config.
        encoder: the Keras encoder (inputs → z).
        gmm: the Gaussian mixture on SM latents.
        normaliser: the L1-object normaliser (``l1_mlp``), else None.
    """

    name: str
    info: dict[str, Any]
    config: HltTrainConfig
    encoder: Any
    gmm: Any
    normaliser: Normaliser | None = None

    @property
    def inputs(self) -> str:
        """What the run reads: ``pf_candidates`` or ``l1_objects``."""
        return "pf_candidates" if self.config.encoder.reads_pf else "l1_objects"

    def latent(self, raw: np.ndarray) -> np.ndarray:
        """float32 (n, latent_dim) z of raw events (PF candidates or L1 objects, see :attr:`inputs`)."""
        x = encoder_inputs(self.config.encoder, raw, self.normaliser)
        if len(x) == 0:
            return np.zeros((0, self.config.encoder.latent_dim), np.float32)
        return np.concatenate(
            [self.encoder(x[i : i + SCORE_BATCH], training=False).numpy() for i in range(0, len(x), SCORE_BATCH)]
        )

    def anomaly_score(self, raw: np.ndarray) -> np.ndarray:
        """float64 (n,) −log p(z) under the GMM; higher is more anomalous."""
        return gmm_anomaly_score(self.gmm, self.latent(raw))


def load_hlt_run(run_dir: str | Path) -> HltRun:
    """Open ``hlt_runs/<name>/``; a missing or unreadable piece is a :class:`ModelError` naming it."""
    import joblib

    from wnae.hlt.encoders import build_encoder, input_shape

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        msg = f"{run_dir}: HLT run directory not found (train one with 'make hlt-train')"
        raise ModelError(msg)
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE, GMM_FILE, RUN_INFO) if not (run_dir / f).is_file()]
    if missing:
        msg = f"{run_dir}: not a trained HLT run, missing {', '.join(missing)}"
        raise ModelError(msg)
    try:
        info = json.loads((run_dir / RUN_INFO).read_text())
    except (OSError, json.JSONDecodeError) as err:
        msg = f"{run_dir / RUN_INFO}: not readable JSON ({err})"
        raise ModelError(msg) from err
    try:
        cfg = load_config(run_dir / CONFIG_FILE, HltTrainConfig)
    except ConfigError as err:
        raise ModelError(str(err)) from err
    encoder = build_encoder(cfg.encoder)
    encoder(np.zeros((1, *input_shape(cfg.encoder)), np.float32))
    try:
        encoder.load_weights(run_dir / WEIGHTS_FILE)
    except (OSError, ValueError) as err:
        msg = f"{run_dir / WEIGHTS_FILE}: cannot load the encoder weights ({type(err).__name__}: {err})"
        raise ModelError(msg) from err
    try:
        gmm = joblib.load(run_dir / GMM_FILE)
    except Exception as err:  # joblib/pickle raise anything on a corrupt file
        msg = f"{run_dir / GMM_FILE}: cannot load the Gaussian mixture ({type(err).__name__}: {err})"
        raise ModelError(msg) from err
    if not callable(getattr(gmm, "score_samples", None)):
        msg = f"{run_dir / GMM_FILE}: not a Gaussian mixture (found {type(gmm).__name__})"
        raise ModelError(msg)
    normaliser = None
    if not cfg.encoder.reads_pf:
        if not (run_dir / NORMALISER_FILE).is_file():
            msg = f"{run_dir}: the L1-object encoder run is missing {NORMALISER_FILE}"
            raise ModelError(msg)
        normaliser = load_normaliser(run_dir / NORMALISER_FILE)
    return HltRun(run_dir.name, info, cfg, encoder, gmm, normaliser)
