"""Langevin MCMC with a replay buffer (persistent chains) for negative samples.

.. math:: x \\leftarrow \\mathrm{clip}\\big(x - \\epsilon\\, \\nabla_x E(x) / T + \\sigma\\, \\xi,\\ -b,\\ b\\big),
          \\quad \\xi \\sim \\mathcal{N}(0, 1)

or, preconditioned by a fixed positive-definite M = LLᵀ (:func:`covariance_preconditioner`),
x ← clip(x − ε M∇ₓE/T + σ Lξ): with σ² = 2ε both leave exp(−E/T) stationary; M shaped like the data
lets every direction of the data move at its own scale instead of the narrowest one's.

The chain is built from differentiable TensorFlow operations inside the caller's ``GradientTape``:
each ∇ₓE is taken with an inner tape, so the outer tape differentiates through the whole chain —
what makes the Wasserstein NAE train (arXiv:2510.02168).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["ReplayBuffer", "covariance_preconditioner", "langevin_chain", "sample_chain"]


class ReplayBuffer:
    """Persistent chain end points (PCD), with its own seeded generator.

    Args:
        size: capacity in samples.
        dim: sample dimension.
        bound: samples live in [−bound, bound].
        replay_ratio: fraction of each batch of chain starts drawn from the buffer once it has
            enough samples; the rest start fresh.
        seed: generator seed.
        init: distribution of fresh starts: ``"uniform"`` in [−bound, bound], ``"gaussian"``
            𝒩(0, 1) clipped to the bounds, or ``"data"``: events of the current data batch plus
            𝒩(0, ``data_noise``²), clipped.
        data_noise: spread added to data starts.
    """

    def __init__(
        self,
        size: int,
        dim: int,
        bound: float,
        replay_ratio: float,
        seed: int,
        init: str = "uniform",
        data_noise: float = 0.5,
    ) -> None:
        if init not in ("uniform", "gaussian", "data"):
            msg = f"unknown chain initialisation '{init}' (uniform, gaussian or data)"
            raise ValueError(msg)
        self.size, self.dim, self.bound, self.replay_ratio, self.init = size, dim, bound, replay_ratio, init
        self.data_noise = data_noise
        self.rng = np.random.default_rng(seed)
        self.samples = np.zeros((0, dim), np.float32)

    def _fresh(self, n: int, data: np.ndarray | None) -> np.ndarray:
        if self.init == "data":
            if data is None or len(data) == 0:
                msg = "chain initialisation 'data' needs the data batch"
                raise ValueError(msg)
            starts = data[self.rng.integers(len(data), size=n)]
            x = np.clip(starts + self.data_noise * self.rng.standard_normal((n, self.dim)), -self.bound, self.bound)
        elif self.init == "gaussian":
            x = np.clip(self.rng.standard_normal((n, self.dim)), -self.bound, self.bound)
        else:
            x = self.rng.uniform(-self.bound, self.bound, size=(n, self.dim))
        return x.astype(np.float32)

    def sample(self, n: int, data: np.ndarray | None = None) -> np.ndarray:
        """float32 (n, dim) chain starts (``data``: the current data batch, for ``init="data"``)."""
        n_replay = int(round(self.replay_ratio * n)) if len(self.samples) >= n else 0
        fresh = self._fresh(n - n_replay, data)
        if n_replay == 0:
            return fresh
        replay = self.samples[self.rng.integers(len(self.samples), size=n_replay)]
        return np.concatenate([replay, fresh])

    def push(self, x: np.ndarray) -> None:
        """Store chain end points; the oldest are dropped beyond the capacity."""
        self.samples = np.concatenate([np.asarray(x, np.float32), self.samples])[: self.size]

    def rng_state(self) -> str:
        """The generator's state as JSON (``bit_generator.state``), for a checkpoint."""
        return json.dumps(self.rng.bit_generator.state)

    def set_rng_state(self, text: str) -> None:
        """Restore :meth:`rng_state` (``ValueError`` if it is not a state of this generator)."""
        try:
            state = json.loads(text)
            self.rng.bit_generator.state = state
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as err:
            msg = f"'replay_rng' is not a {type(self.rng.bit_generator).__name__} generator state ({err})"
            raise ValueError(msg) from err

    def set_samples(self, samples: np.ndarray) -> None:
        """Restore the stored chain end points (``ValueError`` if they do not fit this buffer)."""
        samples = np.asarray(samples)
        if samples.ndim != 2 or samples.shape[1] != self.dim or len(samples) > self.size:
            msg = f"'replay_buffer' has shape {samples.shape}, expected (≤ {self.size}, {self.dim})"
            raise ValueError(msg)
        if samples.dtype.kind != "f" or not np.all(np.isfinite(samples)):
            msg = "'replay_buffer' holds non-finite or non-float values"
            raise ValueError(msg)
        self.samples = samples.astype(np.float32)


def covariance_preconditioner(x: Any, jitter: float = 1e-3) -> Any:  # tensor
    """L (d, d), lower triangular, with LLᵀ = M = d·Σ/tr Σ + jitter·I for Σ the covariance of ``x`` (n, d).

    M has the shape of the data's spread and mean variance 1 (so the step size keeps its meaning);
    ``jitter`` keeps it positive-definite. No gradient flows through it.
    """
    import tensorflow as tf

    x = tf.stop_gradient(tf.convert_to_tensor(x, tf.float32))
    n, d = tf.cast(tf.shape(x)[0], tf.float32), tf.shape(x)[1]
    centred = x - tf.reduce_mean(x, axis=0, keepdims=True)
    cov = tf.matmul(centred, centred, transpose_a=True) / tf.maximum(n - 1.0, 1.0)
    scale = tf.cast(d, tf.float32) / tf.maximum(tf.linalg.trace(cov), 1e-12)
    return tf.linalg.cholesky(scale * cov + jitter * tf.eye(d))


def _refuse_preconditioned_metropolis(metropolis: bool, preconditioner: Any) -> None:
    if metropolis and preconditioner is not None:
        msg = "the Metropolis correction is implemented for the plain sampler, not a preconditioned one"
        raise ValueError(msg)


def _drift_and_noise(grad: Any, xi: Any, preconditioner: Any) -> tuple[Any, Any]:  # tensors
    """(∇E, ξ), or (M∇E, Lξ) with M = LLᵀ (rows are samples)."""
    import tensorflow as tf

    if preconditioner is None:
        return grad, xi
    lower = preconditioner
    return tf.matmul(tf.matmul(grad, lower), lower, transpose_b=True), tf.matmul(xi, lower, transpose_b=True)


def _mh_log_accept(
    x: Any, y: Any, e_x: Any, e_y: Any, g_x: Any, g_y: Any, step_size: float, temperature: float
) -> Any:  # tensors
    """log α of a MALA proposal x → y for the target ∝ exp(−E/T) (clipping ignored).

    The proposal is y = x − ε∇E(x)/T + σξ with σ² = 2ε (the step size the noise implies), so
    q(y|x) ∝ exp(−‖y − x + ε∇E(x)/T‖² / 4ε) and
    log α = −(E(y) − E(x))/T − (‖x − y + ε∇E(y)/T‖² − ‖y − x + ε∇E(x)/T‖²) / 4ε.
    """
    import tensorflow as tf

    forward = tf.reduce_sum(tf.square(y - x + step_size * g_x / temperature), axis=-1)
    backward = tf.reduce_sum(tf.square(x - y + step_size * g_y / temperature), axis=-1)
    return -(e_y - e_x) / temperature - (backward - forward) / (4.0 * step_size)


def _energy_and_grad(energy: Callable, v: Any) -> tuple[Any, Any]:  # tensors
    """E(v) (n,) and ∇ᵥ Σ E(v), with an inner tape (differentiable in the weights under an outer tape)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(v)
        e = energy(v)
        total = tf.reduce_sum(e)
    return e, tape.gradient(total, v)


def langevin_chain(
    energy: Callable,
    x0: Any,
    *,
    steps: int,
    step_size: float,
    noise: float,
    temperature: float,
    bound: float,
    seed: int | None = None,
    generator: Any = None,
    metropolis: bool = False,
    preconditioner: Any = None,
) -> Any:
    """Run ``steps`` Langevin updates from ``x0``; returns the end points (differentiable).

    Args:
        energy: x (n, d) → E (n,), built from TensorFlow operations.
        x0: float32 (n, d) starts.
        steps, step_size, noise, temperature, bound: see the module docstring.
        seed: op seed of the noise (without ``generator``).
        generator: a :class:`tf.random.Generator` for the noise ξ: a checkpointed generator makes
            the chain continue the same random stream after ``--resume`` (``tf.random.normal``
            with a global seed restarts it).
        metropolis: Metropolis-adjusted Langevin (MALA): each proposal is accepted with
            probability min(1, α) (:func:`_mh_log_accept`), so the chain samples exp(−E/T)
            exactly at any step size, and a step into a region where the discretised drift
            overshoots (the curvature above the explicit-Euler limit) is refused instead of
            thrown to the bounds. Needs ``noise² = 2·step_size``. The accepted points stay
            differentiable in the weights; the accept decision is not.
        preconditioner: L (d, d) of a fixed M = LLᵀ (:func:`covariance_preconditioner`), or None;
            not with ``metropolis``.
    """
    import tensorflow as tf

    _refuse_preconditioned_metropolis(metropolis, preconditioner)
    x = tf.convert_to_tensor(x0)
    # one draw of the generator for the whole chain (one stateful op, not one per step)
    shape = tf.concat([[steps], tf.shape(x)], 0)
    xis = generator.normal(shape, dtype=x.dtype) if generator is not None else None
    us = None
    if metropolis:
        u_shape = tf.stack([steps, tf.shape(x)[0]])
        us = (
            generator.uniform(u_shape, dtype=x.dtype)
            if generator is not None
            else tf.random.uniform(u_shape, seed=seed)
        )

    e_x, grad = _energy_and_grad(energy, x)
    for i in range(steps):
        xi = xis[i] if xis is not None else tf.random.normal(tf.shape(x), seed=seed)
        drift, kick = _drift_and_noise(grad, xi, preconditioner)
        y = tf.clip_by_value(x - step_size * drift / temperature + noise * kick, -bound, bound)
        if not metropolis:
            x = y
            if i + 1 < steps:
                e_x, grad = _energy_and_grad(energy, x)
            continue
        e_y, g_y = _energy_and_grad(energy, y)
        log_alpha = _mh_log_accept(x, y, e_x, e_y, grad, g_y, step_size, temperature)
        assert us is not None  # drawn above when metropolis
        accept = tf.math.log(us[i]) < log_alpha
        x = tf.where(accept[:, None], y, x)
        e_x = tf.where(accept, e_y, e_x)
        grad = tf.where(accept[:, None], g_y, grad)
    return x


def sample_chain(
    energy: Callable,
    x0: np.ndarray,
    *,
    steps: int,
    step_size: float,
    noise: float,
    temperature: float,
    bound: float,
    seed: int,
    metropolis: bool = False,
    preconditioner: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Run the sampler of :func:`langevin_chain` outside training (no gradient in the weights).

    For diagnostics: its own seeded noise (the training's random streams are not touched, so a
    resumed run stays bit-identical), a compiled loop whose size does not grow with ``steps``.

    Returns:
        ``(x, acceptance)``: float32 end points (n, d) and the mean acceptance rate (1 without
        ``metropolis``).
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    n, d = np.shape(x0)
    xis = tf.constant(rng.standard_normal((steps, n, d)).astype(np.float32))
    logu = tf.constant(np.log(rng.uniform(size=(steps, n))).astype(np.float32))
    _refuse_preconditioned_metropolis(metropolis, preconditioner)
    run = _compiled_chain(energy, metropolis, preconditioner is not None)
    lower = tf.constant(
        np.eye(d, dtype=np.float32) if preconditioner is None else np.asarray(preconditioner, np.float32)
    )
    params = [tf.constant(v, tf.float32) for v in (step_size, noise, temperature, bound)]
    x, acceptance = run(tf.constant(np.asarray(x0, np.float32)), xis, logu, lower, *params)
    return x.numpy(), float(acceptance)


_COMPILED: dict[tuple[int, bool, bool], tuple[Callable, Callable]] = {}


def _compiled_chain(energy: Callable, metropolis: bool, preconditioned: bool) -> Callable:
    """One compiled sampler loop per energy function (the steps, noise and settings are its inputs)."""
    key = (id(energy), metropolis, preconditioned)
    if key in _COMPILED and _COMPILED[key][0] is energy:
        return _COMPILED[key][1]
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def run(
        x: Any, xis: Any, logu: Any, lower: Any, step_size: Any, noise: Any, temperature: Any, bound: Any
    ) -> tuple[Any, Any]:
        e_x, g_x = _energy_and_grad(energy, x)
        accepted = tf.constant(0.0)
        steps = tf.shape(xis)[0]
        for i in tf.range(steps):
            drift, kick = _drift_and_noise(g_x, xis[i], lower if preconditioned else None)
            y = tf.clip_by_value(x - step_size * drift / temperature + noise * kick, -bound, bound)
            e_y, g_y = _energy_and_grad(energy, y)
            if metropolis:
                accept = logu[i] < _mh_log_accept(x, y, e_x, e_y, g_x, g_y, step_size, temperature)
            else:
                accept = tf.ones_like(e_y, dtype=tf.bool)
            accepted += tf.reduce_mean(tf.cast(accept, tf.float32))
            x = tf.where(accept[:, None], y, x)
            e_x = tf.where(accept, e_y, e_x)
            g_x = tf.where(accept[:, None], g_y, g_x)
        return x, accepted / tf.cast(steps, tf.float32)

    _COMPILED[key] = (energy, run)
    return run
