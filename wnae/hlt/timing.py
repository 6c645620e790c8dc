"""HLT latency of an encoder + GMM on this CPU: ms/event at batch 1 and batched, and an event loop.

Used by ``benchmarks/bench_hlt.py`` and ``wnae hlt compare`` (numbers, never assertions). The
encoder runs as a compiled ``tf.function`` (what a deployment would call), the GMM through
scikit-learn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from wnae.hlt.model import HltRun, encoder_inputs
from wnae.models.gmm import gmm_anomaly_score

__all__ = ["Latency", "compiled_scorer", "measure_latency"]


@dataclass(frozen=True)
class Latency:
    """Per-event times in ms: the median of repeated single-event calls (inputs, encoder, GMM), and
    the mean over a batched pass."""

    batch1_ms: float
    batch1_p90_ms: float
    batched_ms: float
    batch_size: int

    def to_dict(self) -> dict[str, float]:
        return {
            "batch1_ms": self.batch1_ms,
            "batch1_p90_ms": self.batch1_p90_ms,
            "batched_ms": self.batched_ms,
            "batch_size": self.batch_size,
        }


def compiled_scorer(run: HltRun) -> Callable[[np.ndarray], np.ndarray]:
    """raw events → float64 scores, with the encoder compiled once per input shape."""
    import tensorflow as tf

    from wnae.hlt.encoders import input_shape

    shape = input_shape(run.config.encoder)
    forward = tf.function(
        lambda x: run.encoder(x, training=False), input_signature=[tf.TensorSpec((None, *shape), tf.float32)]
    )

    def score(raw: np.ndarray) -> np.ndarray:
        x = encoder_inputs(run.config.encoder, raw, run.normaliser)
        return gmm_anomaly_score(run.gmm, forward(x).numpy())

    return score


def measure_latency(
    run: HltRun, raw: np.ndarray, *, n_single: int = 200, batch_size: int = 256, repeats: int = 3
) -> Latency:
    """Time the run's score on ``raw`` events (PF candidates or L1 objects, as :attr:`HltRun.inputs`)."""
    score = compiled_scorer(run)
    score(raw[:1])
    score(raw[:batch_size])  # warm-up: tracing, caches
    single = []
    for i in range(min(n_single, len(raw))):
        t0 = time.perf_counter()
        score(raw[i : i + 1])
        single.append(time.perf_counter() - t0)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for start in range(0, len(raw), batch_size):
            score(raw[start : start + batch_size])
        best = min(best, (time.perf_counter() - t0) / len(raw))
    ms = np.array(single) * 1e3
    return Latency(float(np.median(ms)), float(np.quantile(ms, 0.9)), float(best * 1e3), batch_size)
