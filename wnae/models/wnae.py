"""Energy-based training of the autoencoder: plain AE, NAE and WNAE on one network.

The energy is the reconstruction error :math:`E(x)` of :mod:`wnae.models.ae`. Three objectives:

* ``ae``: :math:`\\langle E(x_+) \\rangle` on data :math:`x_+` (the baseline).
* ``nae`` [1]: :math:`\\langle E_+ \\rangle - \\langle E_- \\rangle + \\gamma \\langle E_-^2 \\rangle`
  with negatives :math:`x_-` from Langevin MCMC on :math:`e^{-E(x)/T}`.
* ``wnae`` [2]: :math:`W_2^2(x_+, x_-)`, the squared-Euclidean optimal-transport (EMD) distance
  between the data batch and the negatives in input space (exact, POT ``ot.emd``; or sliced).
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
from typing import Any, ClassVar

import numpy as np

from wnae.data.schema import N_FEATURES
from wnae.models import losses
from wnae.models.ae import build_autoencoder
from wnae.models.base import ModelFamily, apply_gradients
from wnae.models.registry import register_model
from wnae.models.sampler import ReplayBuffer, langevin_chain

__all__ = ["AutoencoderFamily"]

logger = logging.getLogger(__name__)

OBJECTIVES = ("ae", "nae", "wnae")


class AutoencoderFamily(ModelFamily):
    """The autoencoder trained as ``ae``, ``nae`` or ``wnae``; deployed output: the score E(x).

    Args:
        cfg: :class:`~wnae.train.config.TrainConfig` (``architecture``, ``quant``, ``mcmc``).
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
    """

    name: ClassVar[str] = "wnae"

    def __init__(self, cfg: Any, seed: int, objective: str = "wnae", dim: int = N_FEATURES,
                 input_name: str = "input_quant") -> None:
        super().__init__(cfg, seed)
        if objective not in OBJECTIVES:
            from wnae.errors import ModelError

            msg = f"unknown objective '{objective}'; choose one of {', '.join(OBJECTIVES)}"
            raise ModelError(msg)
        import tensorflow as tf

        self.objective = objective
        self.autoencoder, self._deploy = build_autoencoder(cfg, dim=dim, quant_name=input_name)
        self.networks = {"autoencoder": self.autoencoder}
        m = cfg.mcmc
        self.buffer = ReplayBuffer(m.buffer_size, dim, m.bound, m.replay_ratio, seed + 1, init=m.init,
                                   data_noise=m.data_init_noise)
        # Langevin noise and sliced-EMD directions: a checkpointed generator (resume continues it)
        self.noise = tf.random.Generator.from_seed(seed + 2)
        self.generators = {"noise_rng": self.noise}
        self._steps: dict[str, Any] = {}

    def energy(self, x, training: bool = True):  # noqa: ANN001, ANN201 (tensors)
        """E(x), float32 (n,): mean over the inputs of (x_q − x̂)²."""
        xq, recon = self.autoencoder(x, training=training)
        return losses.reconstruction_energy(xq, recon)

    def negatives(self, x0):  # noqa: ANN001, ANN201
        """Langevin chain end points from starts ``x0`` (n, dim), differentiable in the weights."""
        m = self.cfg.mcmc
        return langevin_chain(
            self.energy, x0, steps=m.steps, step_size=m.resolved_step_size, noise=m.noise,
            temperature=m.temperature, bound=m.bound, generator=self.noise,
        )

    def objective_loss(self, x_pos, x_neg, e_pos, e_neg, objective: str):  # noqa: ANN001, ANN201
        """The scalar loss of ``objective`` from data, negatives and their energies."""
        import tensorflow as tf

        m = self.cfg.mcmc
        if objective == "ae":
            return tf.reduce_mean(e_pos)
        if objective == "nae":
            return losses.nae_loss(e_pos, e_neg, m.nae_gamma)
        if m.distance == "emd":
            return losses.emd_loss(x_pos, x_neg)
        return losses.sliced_emd_loss(x_pos, x_neg, m.n_projections, generator=self.noise)

    def _step_fn(self, objective: str):  # noqa: ANN202
        import tensorflow as tf

        if objective in self._steps:
            return self._steps[objective]
        bound = self.cfg.mcmc.bound
        variables = self.autoencoder.trainable_variables

        @tf.function
        def step(x_pos, x0):  # noqa: ANN001, ANN202
            with tf.GradientTape() as tape:
                e_pos = self.energy(x_pos)
                if objective == "ae":
                    x_neg, e_neg = x0, tf.zeros_like(e_pos)
                else:
                    x_neg = self.negatives(x0)
                    e_neg = self.energy(x_neg)
                loss = self.objective_loss(x_pos, x_neg, e_pos, e_neg, objective)
            apply_gradients(self.optimizer, tape, loss, variables)
            at_bound = tf.reduce_mean(tf.cast(tf.abs(x_neg) >= bound, tf.float32))
            return loss, tf.reduce_mean(e_pos), tf.reduce_mean(e_neg), at_bound, tf.stop_gradient(x_neg)

        self._steps[objective] = step
        return step

    def current_objective(self, epoch: int) -> str:
        """``ae`` during the warm-up epochs, then the family's objective."""
        return "ae" if epoch < self.cfg.mcmc.pretrain_epochs else self.objective

    def phase(self, epoch: int) -> str:
        return self.current_objective(epoch)

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        objective = self.current_objective(epoch)
        x = batch["features"]
        x0 = self.buffer.sample(len(x), data=x) if objective != "ae" else np.zeros_like(x)
        loss, e_pos, e_neg, at_bound, x_neg = self._step_fn(objective)(x, x0)
        out = {"loss": float(loss), "energy_pos": float(e_pos)}
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

    def deploy_model(self):  # noqa: ANN201
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


def negative_diagnostics(x_pos: np.ndarray, x_neg: np.ndarray) -> dict[str, float]:
    """``neg_mean_shift`` and ``neg_std_ratio`` of a batch of negatives against the data batch (see the class)."""
    spread = np.maximum(x_pos.std(axis=0), 1e-6)
    shift = (x_neg.mean(axis=0) - x_pos.mean(axis=0)) / spread
    return {"neg_mean_shift": float(np.sqrt(np.mean(shift**2))),
            "neg_std_ratio": float(np.mean(x_neg.std(axis=0) / spread))}


def _builder(objective: str):  # noqa: ANN202
    def build(cfg: Any, seed: int, dim: int = N_FEATURES, input_name: str = "input_quant",
              **_: Any) -> AutoencoderFamily:
        return AutoencoderFamily(cfg, seed, objective=objective, dim=dim, input_name=input_name)

    build.__doc__ = f"Build the autoencoder trained with the '{objective}' objective."
    return build


for _objective in OBJECTIVES:
    register_model(_objective, _builder(_objective))
