"""Background reconstruction quality of a trained run: exact EMD between SM test events and their reconstruction.

A reconstruction model's deployed network is one flat QKeras graph (:func:`wnae.models.blocks.chain_models`):
``inputs → input_quant → [extractor → embedding → embedding_quant] → autoencoder → reconstruction → score``.
The space it reconstructs is the quantized input of its autoencoder: the embedding (``embedding_quant``)
for a two-stage run, the normalised inputs (``input_quant``) for a full-input AE/NAE/WNAE or a VAE
deployed as an AE. :func:`reconstruction_model` cuts the Keras sub-model ``inputs → [x, x̂]`` out of it,
by layer name; a run whose network has no ``reconstruction`` layer (a VAE scored by Σμ², an MLP
encoder) has nothing to measure and is a :class:`~wnae.errors.ModelError`.

The quality is the exact squared-Euclidean Wasserstein distance between the two point clouds, with
uniform weights (an exact linear assignment, :func:`wnae.models.transport.exact_w2`),

.. math::

    W_2^2(x, \\hat x) = \\min_{\\pi \\in \\Pi(\\frac1n \\mathbb 1, \\frac1n \\mathbb 1)}
    \\sum_{ij} \\pi_{ij} \\lVert x_i - \\hat x_j \\rVert^2
    \\;\\le\\; \\frac1n \\sum_i \\lVert x_i - \\hat x_i \\rVert^2 ,

on a fixed random subset of the held-out SM test events (:func:`sm_test_subset`: the same events for
every run). The right-hand side (the plan that pairs each event with its own reconstruction, the mean
on-chip score) is reported beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnae.data.io import count_events, read_events
from wnae.data.samples import SampleInfo, SampleRole, load_manifest, split_mask
from wnae.errors import DataError, ModelError

__all__ = [
    "EMBEDDING_LAYER",
    "INPUT_LAYER",
    "RECONSTRUCTION_LAYER",
    "ReconstructionQuality",
    "reconstruct",
    "reconstruction_model",
    "reconstruction_quality",
    "sm_test_subset",
]

logger = logging.getLogger(__name__)

#: The layer whose output the head of a two-stage model reads (the quantized embedding).
EMBEDDING_LAYER = "embedding_quant"
#: The input quantizer of every deployed network (the normalised inputs on the firmware grid).
INPUT_LAYER = "input_quant"
#: The autoencoder's output layer.
RECONSTRUCTION_LAYER = "reconstruction"
#: Events per ``predict`` call.
_BATCH = 8192


def reconstruction_model(deploy_model: Any, run_name: str = "") -> tuple[Any, str]:
    """The Keras sub-model ``inputs → [x, x̂]`` of a deployed network, and the space it reconstructs.

    Args:
        deploy_model: the flat deployed QKeras model (as loaded from ``deploy.h5``: each layer called once).
        run_name: named in errors.

    Returns:
        ``(model, space)``: ``model`` maps normalised features (n, 57) to ``[x, x̂]``, both (n, d);
        ``space`` is ``"embedding"`` (x = the output of ``embedding_quant``) or ``"inputs"`` (x = the
        output of ``input_quant``).

    Raises:
        ModelError: the network has no ``reconstruction`` layer, or neither ``embedding_quant`` nor
            ``input_quant``, or their shapes differ.
    """
    from tensorflow import keras

    who = f"run '{run_name}'" if run_name else f"model '{deploy_model.name}'"
    names = [layer.name for layer in deploy_model.layers]
    if RECONSTRUCTION_LAYER not in names:
        msg = (
            f"{who}: the deployed network has no '{RECONSTRUCTION_LAYER}' layer (a VAE scored by sum mu^2 or "
            "an MLP encoder reconstructs nothing): no reconstruction quality"
        )
        raise ModelError(msg)
    if EMBEDDING_LAYER in names:
        reference, space = EMBEDDING_LAYER, "embedding"
    elif INPUT_LAYER in names:
        reference, space = INPUT_LAYER, "inputs"
    else:
        msg = f"{who}: the deployed network has neither '{EMBEDDING_LAYER}' nor '{INPUT_LAYER}': nothing to compare to"
        raise ModelError(msg)
    try:
        x = deploy_model.get_layer(reference).output
        x_hat = deploy_model.get_layer(RECONSTRUCTION_LAYER).output
    except (AttributeError, ValueError) as err:  # a layer shared with another model: several outputs
        msg = f"{who}: cannot take the '{reference}' and '{RECONSTRUCTION_LAYER}' outputs ({err})"
        raise ModelError(msg) from err
    if tuple(x.shape[1:]) != tuple(x_hat.shape[1:]):
        msg = (
            f"{who}: '{reference}' has shape {tuple(x.shape[1:])} but '{RECONSTRUCTION_LAYER}' {tuple(x_hat.shape[1:])}"
        )
        raise ModelError(msg)
    return keras.Model(deploy_model.inputs, [x, x_hat], name=f"{deploy_model.name}_reconstruction"), space


def reconstruct(model: Any, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x, x̂)`` float64 (n, d) of normalised features (n, 57) through :func:`reconstruction_model`'s model."""
    features = np.asarray(features, np.float32)
    x, x_hat = model.predict(features, batch_size=_BATCH, verbose=0)
    return np.asarray(x, np.float64), np.asarray(x_hat, np.float64)


def _background(data_dir: Path, samples: Sequence[SampleInfo] | None) -> list[SampleInfo]:
    infos = list(samples) if samples is not None else load_manifest(data_dir)
    background = [s for s in infos if s.role is SampleRole.BACKGROUND]
    if not background:
        msg = "no SM background sample in the manifest: no SM test events to reconstruct"
        raise DataError(msg, path=data_dir / "manifest.json")
    return background


def sm_test_subset(
    data_dir: str | Path,
    n_events: int = 2000,
    *,
    seed: int = 0,
    samples: Sequence[SampleInfo] | None = None,
    chunk_events: int = 100_000,
) -> np.ndarray:
    """A fixed random subset of the held-out SM test events (every background sample's test split).

    The ``n_events`` events (all of them if there are fewer) are drawn without replacement, uniformly
    over the test events of all SM samples together, by ``numpy.random.default_rng(seed)``: the same
    events for the same data and seed, spread over every file rather than its first rows. Files are
    read ``chunk_events`` at a time.

    Returns:
        float32 (n, 19, 4) raw events, in manifest order.
    """
    data_dir = Path(data_dir)
    background = _background(data_dir, samples)
    sizes = [count_events(info.path(data_dir)) for info in background]
    test_rows = [np.flatnonzero(split_mask(n, "test")) for n in sizes]
    total = sum(len(r) for r in test_rows)
    if total == 0:
        msg = "the SM background samples have no test events"
        raise DataError(msg, path=data_dir / "manifest.json")
    take = min(int(n_events), total)
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=take, replace=False))
    parts, offset = [], 0
    for info, rows in zip(background, test_rows, strict=True):
        local = chosen[(chosen >= offset) & (chosen < offset + len(rows))] - offset
        offset += len(rows)
        wanted = rows[local]  # file rows, ascending
        path = info.path(data_dir)
        for start in range(0, int(wanted[-1]) + 1 if len(wanted) else 0, chunk_events):
            in_chunk = wanted[(wanted >= start) & (wanted < start + chunk_events)]
            if len(in_chunk):
                chunk = read_events(path, start=start, stop=int(in_chunk[-1]) + 1).particles
                parts.append(chunk[in_chunk - start])
    return np.concatenate(parts).astype(np.float32)


@dataclass(frozen=True)
class ReconstructionQuality:
    """How well a run reconstructs the SM background.

    Attributes:
        run: run name.
        space: ``"embedding"`` (two-stage) or ``"inputs"`` (full-input autoencoder).
        dim: dimension of that space.
        n_events: SM test events used.
        emd: exact :math:`W_2^2` between the events and their reconstructions (squared distance units).
        mean_squared_error: :math:`\\frac1n \\sum_i \\lVert x_i - \\hat x_i \\rVert^2`, the cost of pairing
            each event with its own reconstruction (≥ ``emd``).
    """

    run: str
    space: str
    dim: int
    n_events: int
    emd: float
    mean_squared_error: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reconstruction_quality(run: Any, particles: np.ndarray) -> ReconstructionQuality:
    """Exact EMD between SM test events and their reconstruction, in the space the run reconstructs.

    Args:
        run: a loaded run (:class:`wnae.models.serialization.TrainedRun`: ``name``, ``features(x)``,
            ``deploy_model``).
        particles: float (n, 19, 4) raw events, e.g. :func:`sm_test_subset`.

    Raises:
        ModelError: the run's network has no reconstruction (:func:`reconstruction_model`).
    """
    from wnae.models.transport import exact_w2

    model, space = reconstruction_model(run.deploy_model, run.name)
    x, x_hat = reconstruct(model, run.features(particles))
    emd = exact_w2(x, x_hat)
    mse = float(np.mean(np.sum((x - x_hat) ** 2, axis=1)))
    logger.info("%s: EMD(SM test, reconstruction) = %.5g in %s space (%d events)", run.name, emd, space, len(x))
    return ReconstructionQuality(run.name, space, int(x.shape[1]), len(x), float(emd), mse)
