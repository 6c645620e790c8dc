"""Squared-Euclidean Wasserstein distance between the data batch and the negatives: four estimators.

The WNAE loss is :math:`W(x_+, x_-) = \\min_\\pi \\sum_{ij} \\pi_{ij} \\lVert x_{+,i} - x_{-,j} \\rVert^2`
between a data batch and the Langevin negatives (uniform weights, equal sizes). What the model
needs of it each step is its value and its gradient with respect to the negatives; the estimators
trade exactness for time:

* ``emd``: the exact optimal plan by POT's network simplex (``ot.emd``) [1].
* ``assignment``: the same exact optimum as a linear assignment problem — with n = m and uniform
  weights the optimal plan is a permutation (Birkhoff–von Neumann), found by the Jonker–Volgenant
  shortest augmenting path algorithm [2]: 4–6× faster than the network simplex at n = 512–1000
  (``benchmarks/bench_training.py``); unequal sizes fall back to the network simplex. Two
  implementations solve it, the ``lapjv`` package and SciPy's ``linear_sum_assignment`` (a modified
  Jonker–Volgenant); which is faster depends on the CPU (on the default WNAE's batches of 512,
  lapjv took 12–23 ms and was the faster on one 2-core machine, 50 ms against SciPy's 30 ms on
  another). :func:`assignment_columns` takes either, or (``auto``) times both on the first problems
  of each size and lets the faster solve the rest: what the fit diagnostics and the reconstruction
  EMD do. A training step names a fixed one (``mcmc.assignment_backend``), so that a seed gives
  the same run on every machine.
* ``sliced``: the sliced distance (POT ``ot.sliced_wasserstein_distance``), random 1-D projections
  sorted, O(P·n log n); a different distance, not an estimate of W.
* ``neural``: a learned Kantorovich potential, see :class:`NeuralDual`.

In every case the gradient of W with respect to the negative :math:`x_{-,j}` is that of the cost
under the plan, held fixed (envelope theorem): :math:`\\tfrac{2}{m}(x_{-,j} - t_j)`, with
:math:`t_j` the data point the plan sends it to (its barycentre for a plan that splits mass).

References:
    [1] R. Flamary et al., "POT: Python Optimal Transport", JMLR 22 (2021) 1; N. Bonneel et al.,
        "Displacement interpolation using Lagrangian mass transport", SIGGRAPH Asia 2011.
    [2] R. Jonker, A. Volgenant, "A shortest augmenting path algorithm for dense and sparse linear
        assignment problems", Computing 38 (1987) 325.
    [3] A. Genevay, M. Cuturi, G. Peyré, F. Bach, "Stochastic optimization for large-scale optimal
        transport", NeurIPS 2016, arXiv:1605.08527 (the semi-dual and its stochastic ascent).
    [4] V. Seguy et al., "Large-scale optimal transport and mapping estimation", ICLR 2018,
        arXiv:1711.02283 (neural dual potentials).
    [5] H. Liu, X. Gu, D. Samaras, "Wasserstein GAN with quadratic transport cost", ICCV 2019
        (the c-transform over the batch, quadratic cost); A. Mallasto et al., "(q,p)-Wasserstein
        GANs", arXiv:1902.03642.
    [6] K. Fatras et al., "Learning with minibatch Wasserstein", AISTATS 2020, arXiv:1910.04091.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

__all__ = [
    "ASSIGNMENT_BACKENDS",
    "EXACT_SOLVERS",
    "NeuralDual",
    "assignment_backend",
    "assignment_columns",
    "exact_targets",
    "exact_w2",
    "gradient_cosine",
    "network_simplex_plan",
    "squared_distances",
]

logger = logging.getLogger(__name__)

#: The exact solvers of :func:`exact_targets`, by config name.
EXACT_SOLVERS = ("emd", "assignment")

#: The implementations of the linear assignment (:func:`assignment_columns`), by name.
ASSIGNMENT_BACKENDS = ("lapjv", "scipy")

#: Problems from this size on are timed to choose the ``auto`` backend; smaller ones take lapjv
#: (both solve them in well under a millisecond).
_CALIBRATION_SIZE = 256

#: How many problems of one size ``auto`` solves with both backends before it keeps the faster.
_CALIBRATION_PROBLEMS = 3

#: Problem size → backend → wall times (s) of the calibration solves of this process.
_calibration: dict[int, dict[str, list[float]]] = {}
_calibration_lock = threading.Lock()  # the fit diagnostics solve in a second thread


def squared_distances(x: Any, y: Any) -> Any:  # tensors
    """TensorFlow (n, m) matrix of :math:`\\lVert x_i - y_j \\rVert^2` by one matrix product.

    :math:`|x|^2 + |y|^2 - 2 x y^\\top`, clipped at 0: memory O(n·m), not the O(n·m·d) of a
    broadcast difference (15 GB at n = m = 8192, d = 57).
    """
    import tensorflow as tf

    xx = tf.reduce_sum(tf.square(x), axis=1)[:, None]
    yy = tf.reduce_sum(tf.square(y), axis=1)[None, :]
    return tf.maximum(xx + yy - 2.0 * tf.matmul(x, y, transpose_b=True), 0.0)


def _cost(x_pos: np.ndarray, x_neg: np.ndarray) -> np.ndarray:
    x_pos, x_neg = np.asarray(x_pos, np.float64), np.asarray(x_neg, np.float64)
    cost = (x_pos**2).sum(1)[:, None] + (x_neg**2).sum(1)[None, :] - 2.0 * x_pos @ x_neg.T
    return np.maximum(cost, 0.0)


def network_simplex_plan(cost: np.ndarray) -> np.ndarray:
    """The optimal plan between uniform weights for an (n, m) cost, float64, by POT's network simplex.

    Single-threaded: POT 0.9.7 deprecated ``numThreads`` and ignores it.
    """
    import ot

    n, m = cost.shape
    return ot.emd(np.full(n, 1.0 / n), np.full(m, 1.0 / m), np.asarray(cost, np.float64), numItermax=10_000_000)


def _solve_assignment(cost: np.ndarray, backend: str) -> np.ndarray:
    if backend == "lapjv":
        from lapjv import lapjv

        return np.asarray(lapjv(cost)[0], np.int64)
    from scipy.optimize import linear_sum_assignment

    return np.asarray(linear_sum_assignment(cost)[1], np.int64)


def assignment_backend() -> dict[int, str]:
    """Problem size → the implementation ``backend="auto"`` chose for it in this process (sizes still
    being timed are left out)."""
    return {n: _fastest(times) for n, times in _calibration.items() if len(times["lapjv"]) >= _CALIBRATION_PROBLEMS}


def _fastest(times: dict[str, list[float]]) -> str:
    return min(ASSIGNMENT_BACKENDS, key=lambda name: sum(times[name]))


def assignment_columns(cost: np.ndarray, backend: str = "auto") -> np.ndarray:
    """For a square cost, the column each row is assigned to in a minimum-cost permutation (int array).

    The Jonker–Volgenant algorithm, exact like the network simplex (the two agree to rounding,
    tested). ``backend``: ``"lapjv"`` (the ``lapjv`` package [2]), ``"scipy"``
    (``scipy.optimize.linear_sum_assignment``), or ``"auto"``: the first three problems of each size
    (from 256 rows) in this process are solved by both and timed, and the faster in total solves
    every later one of that size (logged once; :func:`assignment_backend`). Which is faster depends
    on the CPU and on the problem: data against data, lapjv; data against a WNAE's negatives,
    sometimes SciPy. Both give the same optimal permutation (where two permutations cost the same to
    rounding they may pick different ones), so the choice changes the time only.
    """
    cost = np.ascontiguousarray(cost, np.float64)
    if cost.ndim != 2 or cost.shape[0] != cost.shape[1]:
        msg = f"linear assignment needs a square cost matrix, got shape {cost.shape}"
        raise ValueError(msg)
    if backend != "auto":
        if backend not in ASSIGNMENT_BACKENDS:
            msg = f"unknown assignment backend '{backend}' (auto, {', '.join(ASSIGNMENT_BACKENDS)})"
            raise ValueError(msg)
        return _solve_assignment(cost, backend)
    n = len(cost)
    if n < _CALIBRATION_SIZE:
        return _solve_assignment(cost, "lapjv")
    with _calibration_lock:
        times = _calibration.setdefault(n, {name: [] for name in ASSIGNMENT_BACKENDS})
        if len(times["lapjv"]) < _CALIBRATION_PROBLEMS:
            return _calibrate(cost, times)
    return _solve_assignment(cost, _fastest(times))


def _calibrate(cost: np.ndarray, times: dict[str, list[float]]) -> np.ndarray:
    """Solve ``cost`` with every backend, timed into ``times``; log the choice once it is made."""
    if not times["lapjv"]:  # imports and first-call costs outside the timing
        for name in ASSIGNMENT_BACKENDS:
            _solve_assignment(np.zeros((2, 2)), name)
    columns = np.empty(0, np.int64)
    for name in ASSIGNMENT_BACKENDS:
        t0 = time.perf_counter()
        columns = _solve_assignment(cost, name)
        times[name].append(time.perf_counter() - t0)
    if len(times["lapjv"]) == _CALIBRATION_PROBLEMS:
        logger.info(
            "exact assignment of %d rows: %s (over the first %d problems: %s)",
            len(cost),
            _fastest(times),
            _CALIBRATION_PROBLEMS,
            ", ".join(f"{name} {1e3 * sum(t):.0f} ms" for name, t in times.items()),
        )
    return columns


def exact_targets(
    x_pos: np.ndarray, x_neg: np.ndarray, solver: str = "assignment", backend: str = "auto"
) -> tuple[float, np.ndarray]:
    """The exact W between two point clouds and, for each negative, the data point it is sent to.

    Args:
        x_pos: (n, d) data batch.
        x_neg: (m, d) negatives.
        solver: ``"assignment"`` (Jonker–Volgenant, n = m; otherwise the network simplex) or
            ``"emd"`` (POT's network simplex).
        backend: the assignment's implementation (:func:`assignment_columns`). W is the same to
            rounding with each; a training step names a fixed one, since where two permutations
            cost the same to rounding the two may pick different ones, and the run would then
            depend on which was timed faster.

    Returns:
        ``(W, targets)``: W in float64 (squared distance units), targets float32 (m, d), the
        barycentre :math:`m \\sum_i \\pi_{ij} x_{+,i}` of each negative's plan column (the matched
        data point itself for a permutation).
    """
    if solver not in EXACT_SOLVERS:
        msg = f"unknown exact solver '{solver}' ({', '.join(EXACT_SOLVERS)})"
        raise ValueError(msg)
    cost = _cost(x_pos, x_neg)
    n, m = cost.shape
    if solver == "assignment" and n == m:
        cols = assignment_columns(cost, backend)
        targets = np.empty_like(np.asarray(x_neg, np.float32))
        targets[cols] = x_pos
        return float(cost[np.arange(n), cols].sum() / n), targets
    plan = network_simplex_plan(cost)
    return float((plan * cost).sum()), (m * (plan.T @ np.asarray(x_pos, np.float64))).astype(np.float32)


def exact_w2(x_pos: np.ndarray, x_neg: np.ndarray, solver: str = "assignment", backend: str = "auto") -> float:
    """The exact squared-Euclidean W between two point clouds (float64; ``backend``: :func:`exact_targets`)."""
    return exact_targets(x_pos, x_neg, solver, backend)[0]


def gradient_cosine(x_neg: np.ndarray, targets_a: np.ndarray, targets_b: np.ndarray) -> float:
    """Cosine between two estimators' gradients of W with respect to the negatives (x₋ − t, flattened)."""
    a = (np.asarray(x_neg, np.float64) - targets_a).ravel()
    b = (np.asarray(x_neg, np.float64) - targets_b).ravel()
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 1.0


class NeuralDual:
    """A learned Kantorovich potential on the data side: W by the semi-dual with a batch c-transform.

    For any function f, with the c-transform over the data batch
    :math:`f^c(y) = \\min_i (\\lVert x_{+,i} - y \\rVert^2 - f(x_{+,i}))`,

    .. math:: \\hat W_f = \\frac{1}{n}\\sum_i f(x_{+,i}) + \\frac{1}{m}\\sum_j f^c(x_{-,j}) \\le W(x_+, x_-)

    (weak duality: :math:`f(x_i) + f^c(y_j) \\le C_{ij}` by construction, so the constraint needs no
    penalty), with equality at the optimal potential [3]. The critic f is a small MLP trained
    alongside the model by gradient ascent on :math:`\\hat W_f` [3, 4]; because the data
    distribution is fixed while the negatives move slowly (persistent chains), a few ascent steps
    per training step (``steps``) keep it near the optimum, amortised over batches, instead of solving each batch's
    transport problem anew. Its gradient with respect to a negative is :math:`\\tfrac{2}{m}(y_j - x_{+,i^*(j)})`,
    with :math:`i^*(j)` the c-transform's arg-min: at the optimal potential, the point the optimal
    plan sends :math:`y_j` to. Cost per step: one (n, m) distance matrix and its column minima,
    O(n·m·d) in TensorFlow, against the network simplex's O(n³)-like CPU solve; the estimate
    carries less minibatch bias [6] because f is the potential of the data distribution, not of
    one batch. The batch c-transform with a quadratic cost is WGAN-QC's [5].

    Args:
        dim: point dimension.
        widths: hidden widths of the critic (ReLU: only its values at the data points matter,
            not its smoothness, since the gradient in the negatives goes through the c-transform's arg-min).
        learning_rate: its Adam learning rate.
        steps: ascent steps per training step (on the same distance matrix).
        seed: initialisation seed.
    """

    def __init__(self, dim: int, widths: list[int], learning_rate: float, steps: int, seed: int) -> None:
        import tensorflow as tf

        init = tf.keras.initializers.GlorotUniform(seed=seed)
        inputs = tf.keras.Input((dim,), name="critic_input")
        h = inputs
        for i, width in enumerate(widths):
            h = tf.keras.layers.Dense(width, activation="relu", kernel_initializer=init, name=f"critic_dense{i}")(h)
        out = tf.keras.layers.Dense(1, kernel_initializer=init, name="critic_potential")(h)
        self.critic = tf.keras.Model(inputs, out, name="critic")
        self.optimizer = tf.keras.optimizers.Adam(learning_rate)
        self.steps = steps

    def build_optimizer(self) -> None:
        """Create the optimizer's slots now (restored eagerly from a checkpoint)."""
        self.optimizer.build(self.critic.trainable_variables)

    def checkpoint_objects(self) -> dict[str, Any]:
        return {"critic": self.critic, "critic_optimizer": self.optimizer}

    def potential(self, x: Any) -> Any:
        """f(x), (n,)."""
        return self.critic(x, training=True)[:, 0]

    @staticmethod
    def semi_dual(f: Any, cost: Any) -> Any:
        """:math:`\\hat W_f` from the potentials f (n,) at the data points and the (n, m) cost matrix."""
        import tensorflow as tf

        return tf.reduce_mean(f) + tf.reduce_mean(tf.reduce_min(cost - f[:, None], axis=0))

    def estimate(self, x_pos: Any, x_neg: Any) -> Any:
        """:math:`\\hat W_f(x_+, x_-)`, differentiable in ``x_neg`` (and in the critic)."""
        return self.semi_dual(self.potential(x_pos), squared_distances(x_pos, x_neg))

    def ascend(self, x_pos: Any, cost: Any) -> None:
        """``steps`` gradient-ascent steps of the critic on :math:`\\hat W_f` for a fixed cost matrix."""
        import tensorflow as tf

        cost = tf.stop_gradient(cost)
        variables = self.critic.trainable_variables
        for _ in range(self.steps):
            with tf.GradientTape() as tape:
                loss = -self.semi_dual(self.potential(x_pos), cost)
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

    def targets(self, x_pos: np.ndarray, x_neg: np.ndarray) -> tuple[float, np.ndarray]:
        """``(Ŵ, targets)`` in NumPy: the estimate and each negative's c-transform arg-min data point."""
        import tensorflow as tf

        x_pos32 = tf.constant(np.asarray(x_pos, np.float32))
        f = self.critic(x_pos32, training=False)[:, 0]
        cost = squared_distances(x_pos32, tf.constant(np.asarray(x_neg, np.float32)))
        w = float(self.semi_dual(f, cost))
        index = tf.argmin(cost - f[:, None], axis=0).numpy()
        return w, np.asarray(x_pos, np.float32)[index]
