"""Energy-based training of the autoencoder: plain AE, NAE and WNAE on one network.

The energy is the reconstruction error :math:`E(x)` of :mod:`wnae.models.ae`. Three objectives:

* ``ae``: :math:`\\langle E(x_+) \\rangle` on data :math:`x_+` (the baseline).
* ``nae`` [1]: :math:`\\langle E_+ \\rangle - \\langle E_- \\rangle + \\gamma \\langle E_-^2 \\rangle`
  with negatives :math:`x_-` from Langevin MCMC on :math:`e^{-E(x)/T}`.
* ``wnae`` [2]: :math:`W_2^2(x_+, x_-)`, the squared-Euclidean optimal-transport (EMD) distance
  between the data batch and the negatives in input space, by one of the estimators of
  :mod:`wnae.models.transport` (``mcmc.distance``: exact by linear assignment or network simplex,
  sliced, or a learned dual potential).
  The negatives depend on the weights through the Langevin chain, and the gradient flows through
  the chain (nested ``tf.GradientTape``): lowering :math:`W` moves the model's own samples onto
  the data, which shapes :math:`E` everywhere, not only on the data.

Chains persist through a :class:`~wnae.models.sampler.ReplayBuffer` (PCD). An optional plain-AE
warm-up (``mcmc.pretrain_epochs``) runs first.

References:
    [1] S. Yoon, Y.-K. Noh, F. C. Park, "Autoencoding under normalization constraints",
        ICML 2021, arXiv:2105.05735.
    [2] CMS Collaboration, "Wasserstein normalized autoencoder for anomaly detection",
        arXiv:2510.02168, Mach. Learn.: Sci. Technol. 7 (2026) 035030.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import numpy as np

from wnae.data.schema import N_FEATURES
from wnae.models import losses, transport
from wnae.models.ae import build_autoencoder
from wnae.models.base import ModelFamily, apply_gradients
from wnae.models.registry import register_model
from wnae.models.sampler import ReplayBuffer, covariance_preconditioner, langevin_chain, sample_chain

__all__ = ["AutoencoderFamily", "diagnostic_subsets"]

logger = logging.getLogger(__name__)

OBJECTIVES = ("ae", "nae", "wnae")


class AutoencoderFamily(ModelFamily):
    """The autoencoder trained as ``ae``, ``nae`` or ``wnae``; deployed output: the score E(x).

    Args:
        cfg: :class:`~wnae.models.config.TrainConfig` (``architecture``, ``quant``, ``mcmc``).
        seed: seed of the replay buffer's generator.
        objective: ``"ae"``, ``"nae"`` or ``"wnae"``.
        dim: input dimension (57 features, or a two-stage model's embedding).
        input_name: name of the input quantizer layer.

    ``train_step`` returns (floats, per batch):

    * ``loss``: the objective's value.
    * ``energy_pos``: :math:`\\langle E(x_+) \\rangle`, mean squared reconstruction error on data.
    * ``energy_neg``: :math:`\\langle E(x_-) \\rangle` on the negatives (NAE/WNAE, after warm-up).
    * ``neg_at_bound``: fraction of negative-sample coordinates clamped at ±bound (a chain
      diagnostic: near 1 means the sampler runs away).
    * ``neg_mean_shift``: how far the negatives' mean sits from the data's, in units of the data's
      spread, RMS over the coordinates (0 when the chains trace the data).
    * ``neg_std_ratio``: the negatives' spread over the data's, mean over the coordinates (≪ 1: the
      chains collapse into the energy minima; ≫ 1: they wander off the data).
    * ``solver_ms``: wall time of the exact W solver in the step (``emd``, ``assignment``).
    """

    name: ClassVar[str] = "wnae"

    def __init__(
        self, cfg: Any, seed: int, objective: str = "wnae", dim: int = N_FEATURES, input_name: str = "input_quant"
    ) -> None:
        super().__init__(cfg, seed)
        if objective not in OBJECTIVES:
            from wnae.errors import ModelError

            msg = f"unknown objective '{objective}'; choose one of {', '.join(OBJECTIVES)}"
            raise ModelError(msg)
        import tensorflow as tf

        self.objective = objective
        self.dim = dim
        if objective == "wnae" and cfg.mcmc.xla and cfg.mcmc.distance in transport.EXACT_SOLVERS:
            from wnae.errors import ModelError

            msg = (
                f"mcmc.xla compiles the whole step, but distance '{cfg.mcmc.distance}' solves W outside "
                "TensorFlow: use xla with distance neural or sliced, or set xla: false"
            )
            raise ModelError(msg)
        self.autoencoder, self._deploy = build_autoencoder(cfg, dim=dim, quant_name=input_name)
        self.networks = {"autoencoder": self.autoencoder}
        m = cfg.mcmc
        self.buffer = ReplayBuffer(
            m.buffer_size, dim, m.bound, m.replay_ratio, seed + 1, init=m.init, data_noise=m.data_init_noise
        )
        # Langevin noise and sliced-EMD directions: a checkpointed generator (resume continues it)
        self.noise = tf.random.Generator.from_seed(seed + 2)
        self.generators = {"noise_rng": self.noise}
        self.dual = (
            transport.NeuralDual(dim, m.critic.widths, m.critic.learning_rate, m.critic.steps, seed + 3)
            if objective == "wnae" and m.distance == "neural"
            else None
        )
        self._steps: dict[str, Any] = {}
        self._solver_seconds = 0.0

    def energy(self, x: Any, training: bool = True) -> Any:  # tensors
        """E(x), float32 (n,): mean over the inputs of (x_q − x̂)²."""
        xq, recon = self.autoencoder(x, training=training)
        return losses.reconstruction_energy(xq, recon)

    def preconditioner(self, x_pos: Any) -> Any:
        """The sampler's L for the data batch ``x_pos`` (``mcmc.precondition``), or None."""
        return covariance_preconditioner(x_pos) if self.cfg.mcmc.precondition == "covariance" else None

    def negatives(self, x0: Any, preconditioner: Any = None) -> Any:
        """Langevin chain end points from starts ``x0`` (n, dim), differentiable in the weights
        (``preconditioner``: :meth:`preconditioner` of the data batch)."""
        m = self.cfg.mcmc
        return langevin_chain(
            self.energy,
            x0,
            steps=m.steps,
            step_size=m.resolved_step_size,
            noise=m.noise,
            temperature=m.temperature,
            bound=m.bound,
            generator=self.noise,
            metropolis=m.metropolis,
            preconditioner=preconditioner,
        )

    # --- the objectives
    def _exact_solve(self, x_pos: np.ndarray, x_neg: np.ndarray) -> tuple[np.float32, np.ndarray]:
        """The exact W and each negative's target (NumPy, inside the step), timed."""
        t0 = time.perf_counter()
        m = self.cfg.mcmc
        w, targets = transport.exact_targets(x_pos, x_neg, m.distance, m.assignment_backend)
        self._solver_seconds += time.perf_counter() - t0
        return np.float32(w), targets

    def wasserstein(self, x_pos: Any, x_neg: Any, cost: Any = None) -> Any:
        """W(x₊, x₋) by the configured estimator: a scalar whose value is the estimate and whose
        gradient in ``x_neg`` is the estimator's (see :mod:`wnae.models.transport`)."""
        import tensorflow as tf

        m = self.cfg.mcmc
        if m.distance == "sliced":
            return losses.sliced_emd_loss(x_pos, x_neg, m.n_projections, generator=self.noise)
        if m.distance == "neural":
            assert self.dual is not None  # built for the wnae objective with distance neural
            cost = transport.squared_distances(x_pos, x_neg) if cost is None else cost
            return self.dual.semi_dual(tf.stop_gradient(self.dual.potential(x_pos)), cost)
        w, targets = tf.numpy_function(self._exact_solve, [x_pos, tf.stop_gradient(x_neg)], [tf.float32, tf.float32])
        targets = tf.ensure_shape(targets, x_neg.shape)
        # value W, gradient (2/m)(x_neg - t): the cost under the exact plan, held fixed
        surrogate = tf.reduce_sum(tf.square(x_neg - targets)) / tf.cast(tf.shape(x_neg)[0], x_neg.dtype)
        return tf.ensure_shape(w, ()) + surrogate - tf.stop_gradient(surrogate)

    def objective_loss(self, x_pos: Any, x_neg: Any, e_pos: Any, e_neg: Any, objective: str, cost: Any = None) -> Any:
        """The scalar loss of ``objective`` from data, negatives and their energies."""
        import tensorflow as tf

        m = self.cfg.mcmc
        if objective == "ae":
            return tf.reduce_mean(e_pos)
        if objective == "nae":
            return losses.nae_loss(e_pos, e_neg, m.nae_gamma)
        w = self.wasserstein(x_pos, x_neg, cost)
        return w + m.reconstruction_weight * tf.reduce_mean(e_pos) if m.reconstruction_weight else w

    def _step_fn(self, objective: str) -> Any:
        import tensorflow as tf

        if objective in self._steps:
            return self._steps[objective]
        bound = self.cfg.mcmc.bound
        variables = self.autoencoder.trainable_variables

        neural = objective == "wnae" and self.dual is not None

        @tf.function
        def step(x_pos: Any, x0: Any) -> Any:
            with tf.GradientTape() as tape:
                e_pos = self.energy(x_pos)
                if objective == "ae":
                    x_neg, e_neg = x0, tf.zeros_like(e_pos)
                else:
                    x_neg = self.negatives(x0, self.preconditioner(x_pos))
                    e_neg = self.energy(x_neg)
                cost = transport.squared_distances(x_pos, x_neg) if neural else None
                loss = self.objective_loss(x_pos, x_neg, e_pos, e_neg, objective, cost)
            apply_gradients(self.optimizer, tape, loss, variables)
            if neural:  # the critic's ascent on this step's distance matrix, after the model's descent
                assert self.dual is not None
                self.dual.ascend(x_pos, cost)
            at_bound = tf.reduce_mean(tf.cast(tf.abs(x_neg) >= bound, tf.float32))
            return loss, tf.reduce_mean(e_pos), tf.reduce_mean(e_neg), at_bound, tf.stop_gradient(x_neg)

        self._steps[objective] = step
        return step

    def current_objective(self, epoch: int) -> str:
        """``ae`` during the warm-up epochs, then the family's objective."""
        return "ae" if epoch < self.cfg.mcmc.pretrain_epochs else self.objective

    def phase(self, epoch: int) -> str:
        return self.current_objective(epoch)

    def _warm_critic(self, x_pos: np.ndarray, x0: np.ndarray) -> None:
        """``critic.warmup_steps`` ascent steps on the first WNAE batch (chains run without updating the model)."""
        import tensorflow as tf

        assert self.dual is not None  # train_step warms the critic only when there is one
        steps = self.cfg.mcmc.critic.warmup_steps
        x_pos = tf.constant(x_pos)
        x_neg = self.negatives(tf.constant(x0), self.preconditioner(x_pos))
        cost = transport.squared_distances(x_pos, tf.stop_gradient(x_neg))
        ascend = tf.function(self.dual.ascend)
        for _ in range(max(1, steps // self.dual.steps)):
            ascend(x_pos, cost)

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        objective = self.current_objective(epoch)
        x = batch["features"]
        x0 = self.buffer.sample(len(x), data=x) if objective != "ae" else np.zeros_like(x)
        if (
            objective == "wnae"
            and self.dual is not None
            and self.cfg.mcmc.critic.warmup_steps
            and int(self.dual.optimizer.iterations) == 0
        ):  # the first WNAE step (also after a resume)
            self._warm_critic(x, x0)
        self._solver_seconds = 0.0
        loss, e_pos, e_neg, at_bound, x_neg = self._step_fn(objective)(x, x0)
        out = {"loss": float(loss), "energy_pos": float(e_pos)}
        if objective == "wnae" and self.cfg.mcmc.distance in transport.EXACT_SOLVERS:
            out["solver_ms"] = 1e3 * self._solver_seconds
        if objective != "ae":
            x_neg = x_neg.numpy()
            self.buffer.push(x_neg)
            out["energy_neg"] = float(e_neg)
            out["neg_at_bound"] = float(at_bound)
            out.update(negative_diagnostics(x, x_neg))
        return out

    def diagnostic_samples(self) -> np.ndarray | None:
        """The replay buffer's chain end points (for the negatives-over-data plot), or ``None`` for a plain AE."""
        return self.buffer.samples if self.objective != "ae" and len(self.buffer.samples) else None

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        return {"energy_pos": float(np.mean(self.energy(batch["features"], training=False)))}

    def describe(self) -> dict[str, Any]:
        """The objective and, for a WNAE, its W estimator (``metrics.json``)."""
        out: dict[str, Any] = {"objective": self.objective}
        if self.objective == "wnae":
            out["distance"] = self.cfg.mcmc.distance
            if self.cfg.mcmc.distance == "assignment":
                out["assignment_backend"] = self.cfg.mcmc.assignment_backend
        return out

    def epoch_diagnostics(self, features: np.ndarray, epoch: int) -> dict[str, float]:
        """How well the sampler's chains fit the data, measured with the exact W (see
        :class:`McmcDiagnosticsConfig`; exp(−E/T) itself: :meth:`equilibrium_diagnostics`).

        ``features``: the validation events in the energy's space. Returns ``w_exact``,
        ``w_exact_long``, ``w_floor``, their ratios ``w_ratio`` and ``w_long_ratio``, ``diag_energy_pos``
        and ``diag_energy_neg`` (⟨E⟩ on the data subset and on the fresh negatives),
        ``diag_energy_ratio``, ``diag_neg_std_ratio`` (negatives' spread over the data's, mean over
        the coordinates), ``diag_neg_at_bound``, ``diag_acceptance`` (MALA), and ``selection_score``,
        max(w_exact, w_exact_long) / w_floor (what ``keep_epoch: best_w`` minimises). With the neural
        estimator also ``w_neural`` (its estimate on the same samples), ``neural_w_rel_error`` and
        ``neural_grad_cosine``. Draws no random numbers from the training's streams, so training
        continues the same (and ``--resume`` stays bit-identical).
        """
        m = self.cfg.mcmc
        d = m.diagnostics
        pair = self._diagnostic_data(features)
        if pair is None:
            return {}
        x_pos, x_ref = pair
        n = len(x_pos)
        rng = np.random.default_rng([d.seed, epoch])
        x0 = self._diagnostic_starts(rng, n)
        energy = self._diagnostic_energy()
        chain = self._diagnostic_chain(x_pos)
        x_neg, acceptance = sample_chain(energy, x0, steps=m.steps, seed=int(rng.integers(2**31)), **chain)
        out = {"w_floor": self._floor(x_pos, x_ref)}
        # the solver releases the GIL: W of the short chains is solved while the long chains run
        with ThreadPoolExecutor(max_workers=1) as pool:
            short = pool.submit(transport.exact_targets, x_pos, x_neg)
            if d.long_steps:
                x_long, _ = sample_chain(energy, x_neg, steps=d.long_steps, seed=int(rng.integers(2**31)), **chain)
                out["w_exact_long"] = transport.exact_w2(x_pos, x_long)
                out["diag_energy_neg_long"] = float(np.mean(energy(x_long)))
            out["w_exact"], targets = short.result()
        floor = max(out["w_floor"], 1e-12)
        out["w_ratio"] = out["w_exact"] / floor
        if "w_exact_long" in out:
            out["w_long_ratio"] = out["w_exact_long"] / floor
        e_pos, e_neg = float(np.mean(energy(x_pos))), float(np.mean(energy(x_neg)))
        out.update(
            {
                "diag_energy_pos": e_pos,
                "diag_energy_neg": e_neg,
                "diag_energy_ratio": e_neg / e_pos if e_pos > 0 else math.nan,
                "diag_neg_std_ratio": negative_diagnostics(x_pos, x_neg)["neg_std_ratio"],
                "diag_neg_at_bound": float(np.mean(np.abs(x_neg) >= m.bound)),
            }
        )
        if m.metropolis:
            out["diag_acceptance"] = acceptance
        if self.current_objective(epoch) != "ae":
            out["selection_score"] = max(out["w_exact"], out.get("w_exact_long", 0.0)) / floor
        if self.dual is not None and self.current_objective(epoch) == "wnae":
            w, exact = out["w_exact"], targets  # the exact plan of these negatives, solved above
            w_hat, neural = self.dual.targets(x_pos, x_neg)
            out.update(
                {
                    "w_neural": w_hat,
                    "neural_w_rel_error": (w_hat - w) / w if w > 0 else 0.0,
                    "neural_grad_cosine": transport.gradient_cosine(x_neg, exact, neural),
                }
            )
        return out

    def equilibrium_diagnostics(self, features: np.ndarray) -> dict[str, float]:
        """The fit once the chains have run long: ``diagnostics.equilibrium_steps`` further steps.

        Measured once, at the kept epoch: the chains start as :meth:`epoch_diagnostics`' do (from the
        replay buffer), run the training's steps and ``equilibrium_steps`` more, and are compared
        with the same fixed data subset. Persistent short chains can match the data while exp(−E/T)
        does not: an energy that is low along a valley far from the data lets long chains drift
        there. Returns ``w_exact_equilibrium``, ``w_equilibrium_ratio`` (over the floor),
        ``diag_energy_ratio_equilibrium``, ``diag_neg_std_ratio_equilibrium`` and
        ``diag_neg_at_bound_equilibrium``; empty when not asked for (``equilibrium_steps: 0``).
        """
        m = self.cfg.mcmc
        d = m.diagnostics
        pair = self._diagnostic_data(features)
        if pair is None or not d.equilibrium_steps or self.objective == "ae":
            return {}
        x_pos, x_ref = pair
        n = len(x_pos)
        rng = np.random.default_rng([d.seed, 1_000_003])
        x0 = self._diagnostic_starts(rng, n)
        energy = self._diagnostic_energy()
        steps = m.steps + d.equilibrium_steps
        x_eq, _ = sample_chain(energy, x0, steps=steps, seed=int(rng.integers(2**31)), **self._diagnostic_chain(x_pos))
        w = transport.exact_w2(x_pos, x_eq)
        e_pos = float(np.mean(energy(x_pos)))
        return {
            "w_exact_equilibrium": w,
            "w_equilibrium_ratio": w / max(self._floor(x_pos, x_ref), 1e-12),
            "diag_energy_ratio_equilibrium": float(np.mean(energy(x_eq))) / e_pos if e_pos > 0 else math.nan,
            "diag_neg_std_ratio_equilibrium": negative_diagnostics(x_pos, x_eq)["neg_std_ratio"],
            "diag_neg_at_bound_equilibrium": float(np.mean(np.abs(x_eq) >= m.bound)),
        }

    def _diagnostic_data(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The fixed data subset the fit is measured against and the disjoint one of the floor."""
        d = self.cfg.mcmc.diagnostics
        subset = diagnostic_subsets(len(features), d.events, d.seed)
        if subset is None:
            return None
        return np.asarray(features[subset[0]], np.float32), np.asarray(features[subset[1]], np.float32)

    def _diagnostic_starts(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` chain starts: persistent chains of the buffer, as in training, or (none yet, the
        warm-up) the sampler's own fresh starts."""
        if len(self.buffer.samples) >= n:
            return self.buffer.samples[rng.choice(len(self.buffer.samples), n, replace=False)]
        bound = self.cfg.mcmc.bound
        return np.clip(rng.standard_normal((n, self.dim)), -bound, bound).astype(np.float32)

    def _diagnostic_chain(self, x_pos: np.ndarray) -> dict[str, Any]:
        """The training's sampler settings for :func:`sample_chain` (preconditioned by ``x_pos`` if asked)."""
        m = self.cfg.mcmc
        return {
            "step_size": m.resolved_step_size,
            "noise": m.noise,
            "temperature": m.temperature,
            "bound": m.bound,
            "metropolis": m.metropolis,
            "preconditioner": None if m.precondition == "none" else self.preconditioner(x_pos).numpy(),
        }

    def _diagnostic_energy(self) -> Any:
        """E(x) as a compiled function of any batch size (inference mode)."""
        if "energy" not in self._steps:
            import tensorflow as tf

            self._steps["energy"] = tf.function(lambda v: self.energy(v, training=False), reduce_retracing=True)
        return self._steps["energy"]

    def _floor(self, x_pos: np.ndarray, x_ref: np.ndarray) -> float:
        """The two-sample floor W(x_pos, x_ref), computed once per pair of subsets (they are fixed)."""
        key = (x_pos.shape, float(x_pos.sum()), float(x_ref.sum()))
        if getattr(self, "_floor_cache", (None,))[0] != key:
            self._floor_cache = (key, transport.exact_w2(x_pos, x_ref))
        return self._floor_cache[1]

    def checkpoint_objects(self) -> dict[str, Any]:
        return {**super().checkpoint_objects(), **(self.dual.checkpoint_objects() if self.dual is not None else {})}

    def build_optimizer(self) -> None:
        super().build_optimizer()
        if self.dual is not None:
            self.dual.build_optimizer()

    def deploy_model(self) -> Any:
        return self._deploy

    def extra_state(self) -> dict[str, np.ndarray]:
        """The replay buffer's samples and its generator's state (JSON)."""
        return {"replay_buffer": self.buffer.samples, "replay_rng": np.array(self.buffer.rng_state())}

    def load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        if "replay_buffer" in state:
            self.buffer.set_samples(state["replay_buffer"])
        if "replay_rng" in state:
            rng = state["replay_rng"]
            if rng.shape != () or rng.dtype.kind != "U":
                msg = "'replay_rng' must be a JSON string"
                raise ValueError(msg)
            self.buffer.set_rng_state(str(rng))


def diagnostic_subsets(n_rows: int, events: int, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Two disjoint random index sets of ``min(events, n_rows // 2)`` rows each (fixed by ``seed``).

    ``None`` when there are fewer than 2 rows per set or ``events`` is 0.
    """
    n = min(events, n_rows // 2)
    if n < 2:
        return None
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[:n]), np.sort(order[n : 2 * n])


def negative_diagnostics(x_pos: np.ndarray, x_neg: np.ndarray) -> dict[str, float]:
    """``neg_mean_shift`` and ``neg_std_ratio`` of a batch of negatives against the data batch (see the class)."""
    spread = np.maximum(x_pos.std(axis=0), 1e-6)
    shift = (x_neg.mean(axis=0) - x_pos.mean(axis=0)) / spread
    return {
        "neg_mean_shift": float(np.sqrt(np.mean(shift**2))),
        "neg_std_ratio": float(np.mean(x_neg.std(axis=0) / spread)),
    }


def _builder(objective: str) -> Callable[..., AutoencoderFamily]:
    def build(
        cfg: Any, seed: int, dim: int = N_FEATURES, input_name: str = "input_quant", **_: Any
    ) -> AutoencoderFamily:
        return AutoencoderFamily(cfg, seed, objective=objective, dim=dim, input_name=input_name)

    build.__doc__ = f"Build the autoencoder trained with the '{objective}' objective."
    return build


for _objective in OBJECTIVES:
    register_model(_objective, _builder(_objective))
