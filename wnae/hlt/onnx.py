"""An HLT run as one ONNX graph (inputs → encoder → −log p(z)), run with ONNX Runtime as CMSSW's HLT does.

The graph holds the whole score, so a C++ caller only fills one tensor:

* **PF encoders** (Linformer, DeepSets, PF MLP): input ``pf_candidates``, float32
  ``(n, max_candidates, 6)``, the event's leading candidates in pT, each
  ``[pT (GeV), η, φ (rad), d_xy (mm), d_xy/σ, class]`` (class 0 = empty slot, 1–5 = e, μ, γ, h±,
  h⁰), zero-padded. The transforms of :func:`wnae.hlt.inputs.candidate_inputs` are part of the graph.
* **L1-object MLP**: input ``l1_features``, float32 ``(n, 57)``, the run's normalised L1-object
  features (its ``normaliser.json``; the normalisation stays outside the graph).

Outputs: ``score`` float32 ``(n,)``, −log p(z) under the run's Gaussian mixture (higher is more
anomalous; the same number as ``wnae hlt evaluate``), and ``latent`` float32 ``(n, latent_dim)``:
float in and out, as CMSSW's ``cms::Ort::ONNXRuntime`` (``PhysicsTools/ONNXRuntime``) passes them.
The mixture is evaluated in float64, as scikit-learn does, from its means and Cholesky factors of the
precisions, ``log p(z) = logsumexp_k [log w_k + log|P_k| − ½(d log 2π + ‖(z − μ_k) P_k‖²)]``, and
only the score is rounded to float32.

:func:`export_onnx` converts with tf2onnx; :func:`check_onnx` compares ONNX Runtime's scores with the
TensorFlow + scikit-learn ones on real events and states the largest difference.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnae._io import atomic_dir, json_text
from wnae.data.validate import PF_FEATURES, PF_MAX_CLASS
from wnae.errors import DataError, ModelError, OutputError
from wnae.hlt.encoders import input_shape
from wnae.hlt.inputs import DXY_SCALE_MM
from wnae.hlt.model import HltRun, encoder_inputs
from wnae.models.gmm import gmm_anomaly_score

__all__ = [
    "CHECK_FILE",
    "OPSET",
    "SCORE_TOLERANCE",
    "OnnxCheck",
    "OnnxExport",
    "check_onnx",
    "export_onnx",
    "graph_inputs",
    "measure_onnx_latency",
    "onnx_latency",
    "onnx_session",
]

#: ONNX opset of the exported graph (opset 17: ONNX 1.12, 2022; LayerNormalization is a single op).
OPSET = 17
CHECK_FILE = "check.json"
#: Largest allowed |Δscore| / (1 + |score|) between ONNX Runtime and TensorFlow + scikit-learn.
#: The encoder runs in float32 in both, with other kernels and summation orders: its latent agrees to
#: ~1e-6 relative, which a mixture of narrow components amplifies (measured: 2e-6 for a Linformer,
#: 2e-5 for a DeepSets trained one epoch, whose latents crowd into components of width ~1e-2). A wrong
#: transform, weight or component moves the score by ≥ 1e-2.
SCORE_TOLERANCE = 1e-4
_PF_FEATURES = len(PF_FEATURES)  # what a stored candidate holds


@dataclass(frozen=True)
class OnnxExport:
    """Where an export went and what its graph takes."""

    directory: Path
    model: Path
    input_name: str
    input_shape: tuple[int, ...]


@dataclass(frozen=True)
class OnnxCheck:
    """ONNX Runtime against TensorFlow + scikit-learn on real events, and ONNX Runtime's latency.

    ``batch1_ms`` is the median of single-event calls on one thread; ``events_per_second`` the
    throughput of batches of ``batch_size`` on one thread.
    """

    n_events: int
    samples: list[str]
    max_abs_diff: float
    max_rel_diff: float
    max_latent_diff: float
    tolerance: float
    agree: bool
    batch1_ms: float
    batch1_p90_ms: float
    events_per_second: float
    batch_size: int

    def summary(self) -> str:
        verdict = "agree" if self.agree else "DIFFER"
        return (
            f"ONNX Runtime vs TensorFlow + scikit-learn on {self.n_events} events: max |Δscore| "
            f"{self.max_abs_diff:.3g} (relative {self.max_rel_diff:.3g}, tolerance {self.tolerance:g}), "
            f"max |Δlatent| {self.max_latent_diff:.3g}: {verdict}\nONNX Runtime, 1 thread: {self.batch1_ms:.3f} ms/event at batch 1 "
            f"(90 % ≤ {self.batch1_p90_ms:.3f} ms), {self.events_per_second:,.0f} events/s at batch "
            f"{self.batch_size}\n"
        )


def _gmm_arrays(gmm: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(means (K, d), full precision Cholesky factors (K, d, d), log w_k + log|P_k| (K,)) of a
    scikit-learn GaussianMixture of any covariance type."""
    means = np.asarray(gmm.means_, np.float64)
    k, d = means.shape
    chol = np.asarray(gmm.precisions_cholesky_, np.float64)
    kind = gmm.covariance_type
    if kind == "full":
        factors = chol
    elif kind == "tied":
        factors = np.broadcast_to(chol, (k, d, d)).copy()
    elif kind == "diag":
        factors = np.stack([np.diag(c) for c in chol])
    elif kind == "spherical":
        factors = np.stack([np.eye(d) * c for c in chol])
    else:
        msg = f"the Gaussian mixture's covariance_type '{kind}' is not one scikit-learn defines"
        raise ModelError(msg)
    log_det = np.array([np.log(np.diag(f)).sum() for f in factors])
    return means, factors, np.log(np.asarray(gmm.weights_, np.float64)) + log_det


def _candidate_transform(tf: Any, pf: Any, max_candidates: int) -> Any:
    """TensorFlow twin of :func:`wnae.hlt.inputs.candidate_inputs` on (n, max_candidates, 6)."""
    pt, eta, phi, dxy, sig, cls = (pf[..., i] for i in range(_PF_FEATURES))
    cls = tf.round(cls)
    filled = tf.cast(cls > 0.0, tf.float32)[..., None]
    dense = tf.stack(
        [
            tf.math.log(1.0 + tf.maximum(pt, 0.0)),  # ONNX has no Log1p
            eta / 2.5,
            tf.cos(phi),
            tf.sin(phi),
            tf.asinh(dxy / DXY_SCALE_MM) / 5.0,
            tf.asinh(sig) / 5.0,
        ],
        axis=-1,
    )
    classes = tf.constant(np.arange(1, PF_MAX_CLASS + 1, dtype=np.float32))  # inside the graph
    onehot = tf.cast(tf.equal(cls[..., None], classes), tf.float32)
    return tf.concat([dense * filled, onehot], axis=-1)


def _score_function(run: HltRun) -> tuple[Any, str, tuple[int, ...]]:
    """(a ``tf.function`` inputs → {score, latent}, its input name, one event's input shape)."""
    import tensorflow as tf

    cfg = run.config.encoder
    reads_pf = cfg.reads_pf
    shape = (cfg.max_candidates, _PF_FEATURES) if reads_pf else input_shape(cfg)
    name = "pf_candidates" if reads_pf else "l1_features"
    means, factors, offsets = _gmm_arrays(run.gmm)
    k, d = means.shape
    # y_k = z P_k − μ_k P_k for every k at once: one (d, K·d) matrix product
    # numpy here, tf.constant inside the function: captured tensors would become graph inputs
    stacked = np.transpose(factors, (1, 0, 2)).reshape(d, k * d)
    shift = np.einsum("kd,kde->ke", means, factors).reshape(k * d)
    constant = offsets - 0.5 * d * math.log(2.0 * math.pi)
    encoder = run.encoder

    @tf.function(input_signature=[tf.TensorSpec((None, *shape), tf.float32, name=name)])
    def score(x: Any) -> dict[str, Any]:
        inputs = _candidate_transform(tf, x, cfg.max_candidates) if reads_pf else x
        z = encoder(inputs, training=False)
        y = tf.matmul(tf.cast(z, tf.float64), tf.constant(stacked)) - tf.constant(shift)
        y = tf.reshape(y, (-1, k, d))
        log_prob = tf.constant(constant) - 0.5 * tf.reduce_sum(y * y, axis=-1)
        score = tf.cast(-tf.reduce_logsumexp(log_prob, axis=1), tf.float32)  # CMSSW reads float outputs
        return {"score": score, "latent": tf.identity(z)}

    return score, name, shape


def export_onnx(run: HltRun, output: str | Path, *, overwrite: bool = False) -> OnnxExport:
    """Write ``<output>/<run>.onnx`` (the whole score, see the module doc) and ``README.md``.

    Written as ``<output>.partial`` and renamed when complete.

    Raises:
        OutputError: ``output`` exists and ``overwrite`` is not set.
        ModelError: tf2onnx cannot convert the run's graph.
    """
    import tf2onnx

    output = Path(output)
    if output.exists() and not overwrite:
        msg = f"{output} exists; pass --overwrite to replace it"
        raise OutputError(msg)
    function, name, shape = _score_function(run)
    with atomic_dir(output) as partial:
        model_path = partial / f"{run.name}.onnx"
        try:
            tf2onnx.convert.from_function(
                function, input_signature=function.input_signature, opset=OPSET, output_path=str(model_path)
            )
        except Exception as err:  # tf2onnx raises anything on an unsupported op
            msg = f"tf2onnx cannot convert HLT run {run.name} ({type(err).__name__}: {err})"
            raise ModelError(msg) from err
        (partial / "README.md").write_text(_readme(run, name, shape))
    return OnnxExport(output, output / f"{run.name}.onnx", name, shape)


def onnx_session(model: str | Path, *, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session on ``threads`` threads (CMSSW runs one per stream)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def onnx_latency(
    session: Any, input_name: str, x: np.ndarray, *, n_single: int = 200, batch_size: int = 256
) -> tuple[float, float, float]:
    """(median ms/event at batch 1, its 90 % quantile, events/s in batches of ``batch_size``) of the
    score in an ONNX Runtime ``session`` on float32 graph inputs ``x``, after one warm-up call each."""
    session.run(["score"], {input_name: x[:1]})
    session.run(["score"], {input_name: x[:batch_size]})
    single = []
    for i in range(min(n_single, len(x))):
        t0 = time.perf_counter()
        session.run(["score"], {input_name: x[i : i + 1]})
        single.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(0, len(x), batch_size):
        session.run(["score"], {input_name: x[i : i + batch_size]})
    rate = len(x) / (time.perf_counter() - t0)
    ms = np.array(single) * 1e3
    return float(np.median(ms)), float(np.quantile(ms, 0.9)), float(rate)


def measure_onnx_latency(run: HltRun, raw: np.ndarray, *, batch_size: int = 256) -> dict[str, float]:
    """The run exported to a temporary directory and timed in ONNX Runtime on one thread on ``raw``
    events: ``onnx_batch1_ms`` (median), ``onnx_batch1_p90_ms`` and ``onnx_events_per_second``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        export = export_onnx(run, Path(tmp) / run.name)
        x = graph_inputs(run, raw, export.input_shape)
        ms, p90, rate = onnx_latency(onnx_session(export.model), export.input_name, x, batch_size=batch_size)
    return {"onnx_batch1_ms": ms, "onnx_batch1_p90_ms": p90, "onnx_events_per_second": rate}


def graph_inputs(run: HltRun, raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The graph's float32 input from raw events: PF candidates zero-padded or cut to the graph's slots,
    L1 objects normalised by the run's normaliser."""
    if not run.config.encoder.reads_pf:
        return encoder_inputs(run.config.encoder, raw, run.normaliser)
    pf = np.asarray(raw, np.float32)
    if pf.ndim != 3 or pf.shape[2] != _PF_FEATURES:
        msg = f"PF candidates must have shape (n, n_max, {_PF_FEATURES}), got {pf.shape}"
        raise DataError(msg)
    out = np.zeros((len(pf), *shape), np.float32)
    m = min(shape[0], pf.shape[1])
    out[:, :m] = pf[:, :m]
    return out


def _collect(run: HltRun, data_dir: Path, n_events: int) -> tuple[np.ndarray, list[str]]:
    """About ``n_events`` raw events taken evenly from every sample of ``data_dir`` (zero bias, SM,
    signals): what the encoder reads."""
    from wnae.data.io import read_events
    from wnae.data.samples import load_manifest

    samples = load_manifest(data_dir)
    per = max(1, math.ceil(n_events / len(samples)))
    parts, names = [], []
    for sample in samples:
        events = read_events(data_dir / sample.file, stop=per, with_pf=run.config.encoder.reads_pf)
        raw = events.pf_cands if run.config.encoder.reads_pf else events.particles
        if raw is None:
            msg = f"{data_dir / sample.file}: no PF candidates (the HLT encoder reads them)"
            raise DataError(msg)
        parts.append(np.asarray(raw))
        names.append(sample.name)
    if run.config.encoder.reads_pf:
        width = max(p.shape[1] for p in parts)
        parts = [np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0))) for p in parts]
    return np.concatenate(parts), names


def check_onnx(
    run: HltRun, export: OnnxExport, data_dir: str | Path, *, n_events: int = 10_000, batch_size: int = 256
) -> OnnxCheck:
    """ONNX Runtime (1 thread) against the run's TensorFlow + scikit-learn score on ≥ ``n_events`` real
    events from every sample; writes ``check.json`` in the export directory."""
    raw, names = _collect(run, Path(data_dir), n_events)
    x = graph_inputs(run, raw, export.input_shape)
    session = onnx_session(export.model)
    outputs = [
        session.run(["score", "latent"], {export.input_name: x[i : i + batch_size]})
        for i in range(0, len(x), batch_size)
    ]
    got = np.concatenate([o[0] for o in outputs])
    latent = np.concatenate([o[1] for o in outputs])
    want_latent = run.latent(raw)
    want = gmm_anomaly_score(run.gmm, want_latent)
    if not (np.isfinite(got).all() and np.isfinite(want).all()):
        msg = "non-finite scores in the ONNX check"
        raise ModelError(msg)
    diff = np.abs(got - want)
    rel = diff / (1.0 + np.abs(want))
    batch1_ms, batch1_p90_ms, rate = onnx_latency(session, export.input_name, x, batch_size=batch_size)
    check = OnnxCheck(
        n_events=len(x),
        samples=names,
        max_abs_diff=float(diff.max()),
        max_rel_diff=float(rel.max()),
        max_latent_diff=float(np.abs(latent - want_latent).max()),
        tolerance=SCORE_TOLERANCE,
        agree=bool(rel.max() <= SCORE_TOLERANCE),
        batch1_ms=batch1_ms,
        batch1_p90_ms=batch1_p90_ms,
        events_per_second=rate,
        batch_size=batch_size,
    )
    (export.directory / CHECK_FILE).write_text(json_text(asdict(check)))
    return check


def _readme(run: HltRun, name: str, shape: tuple[int, ...]) -> str:
    cfg = run.config.encoder
    if cfg.reads_pf:
        layout = (
            f"`{name}`: float32 `(n, {shape[0]}, 6)`, each event's leading {shape[0]} PF candidates in pT, "
            "each `[pT (GeV), eta, phi (rad), d_xy (mm), d_xy/sigma, class]` with class 0 for an empty slot "
            "and 1-5 for e, mu, gamma, charged hadron, neutral hadron; zero-padded. The feature transforms "
            "(log(1 + pT), eta / 2.5, cos/sin phi, asinh(d_xy / 50 um) / 5, asinh(d_xy/sigma) / 5, one-hot "
            "class) are inside the graph."
        )
    else:
        layout = (
            f"`{name}`: float32 `(n, 57)`, the 19 L1 objects' (pT, eta, phi) normalised by the run's "
            "`normaliser.json` (outside the graph)."
        )
    info = json.dumps({"run": run.name, "encoder": cfg.kind, "latent_dim": cfg.latent_dim, "opset": OPSET})
    return (
        f"# {run.name}: HLT anomaly score as ONNX\n\n"
        f"Input {layout}\n\n"
        "Outputs: `score` float32 `(n,)`, -log p(z) under the Gaussian mixture fitted on SM latents (higher "
        f"is more anomalous), and `latent` float32 `(n, {cfg.latent_dim})`.\n\n"
        f"Run it with ONNX Runtime (CPU, opset {OPSET}), e.g. CMSSW's `cms::Ort::ONNXRuntime` "
        "(`PhysicsTools/ONNXRuntime`: float inputs and outputs, batch in the first dimension); `check.json` "
        "holds the comparison with TensorFlow + scikit-learn on real events and the measured latency.\n\n"
        "The path's cuts on this score (and, by default, on the event's L1 anomaly score from the uGT record: "
        "pass when L1 score > `l1_score_above` or score > `hlt_score_above`) are in `hlt_path` of "
        f"`{run.name}/two_level_with_l1/metrics.json`, written by `wnae hlt evaluate` for a chosen L1 seed and "
        "HLT rate.\n\n"
        f"```json\n{info}\n```\n"
    )
