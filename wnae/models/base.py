"""The interface every model family implements (networks, steps, deployable model)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from wnae.models.config import scheduled_learning_rate

__all__ = ["ModelFamily", "apply_gradients", "make_optimizer", "qdense_layers"]


def make_optimizer(learning_rate: float, weight_decay: float) -> Any:  # a Keras optimizer
    """AdamW (decoupled weight decay, Loshchilov & Hutter arXiv:1711.05101)."""
    import tensorflow as tf

    return tf.keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)


def apply_gradients(optimizer: Any, tape: Any, loss: Any, variables: Any) -> None:
    """One optimizer update of ``variables`` from ``tape``'s gradient of ``loss``."""
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables, strict=True))


def qdense_layers(networks: Iterable[Any]) -> list[Any]:
    """The ``QDense`` layers of some Keras models, each once, in order."""
    seen: dict[int, Any] = {}
    for network in networks:
        for layer in network.layers:
            if layer.__class__.__name__ == "QDense":
                seen.setdefault(id(layer), layer)
    return list(seen.values())


class ModelFamily:
    """A model family: its Keras networks, one training step, one validation step, the deployable model.

    Subclasses set the class attributes and implement the methods; :mod:`wnae.train.loop` drives
    them without knowing which family it trains.

    Attributes:
        name: registry name (``wnae``, ``ae``, ``nae``, ``vae``, ``mlp_encoder``).
        deployed_output: ``"score"`` (the firmware emits one anomaly score per event) or
            ``"latent"`` (the firmware emits z).
        batch_kind: the batches the family trains on: ``"features"`` (normalised inputs,
            float32 (n, 57)) or ``"views"`` (two augmented, normalised views + process labels).
        networks: the trainable Keras models by name (checkpointed).
        optimizer: the optimizer (checkpointed with the networks).
        generators: the family's :class:`tf.random.Generator` by name (checkpointed).
    """

    name: ClassVar[str] = ""
    deployed_output: ClassVar[str] = "score"
    batch_kind: ClassVar[str] = "features"

    def __init__(self, cfg: Any, seed: int, *, optimizer: bool = True) -> None:  # cfg: wnae.models.config.TrainConfig
        """``optimizer=False``: a family that composes others, each with its own optimizer, has none itself."""
        self.cfg = cfg
        self.seed = seed
        self.optimizer = make_optimizer(cfg.learning_rate, cfg.weight_decay) if optimizer else None
        self.networks: dict[str, Any] = {}
        self.generators: dict[str, Any] = {}

    def checkpoint_objects(self) -> dict[str, Any]:
        """Objects for :class:`tf.train.Checkpoint`: the networks, the optimizer and the TF generators.

        Every random number a family draws in TensorFlow comes from one of ``generators``
        (:class:`tf.random.Generator`, whose state is a variable), never from ``tf.random.*``'s
        global seed, so that a resumed run continues the very same random streams.
        """
        return {**self.networks, "optimizer": self.optimizer, **self.generators}

    def trainable_variables(self) -> list[Any]:
        """The variables the optimizer updates (the networks' trainable variables, in order)."""
        return [v for network in self.networks.values() for v in network.trainable_variables]

    def build_optimizer(self) -> None:
        """Create the optimizer's slots now (a checkpoint then restores them eagerly, not mid-step)."""
        assert self.optimizer is not None, "a family without its own optimizer overrides build_optimizer"
        self.optimizer.build(self.trainable_variables())

    def start_epoch(self, epoch: int, epochs: int | None = None) -> None:
        """Set the learning rate of 0-based ``epoch`` of ``epochs`` (default: the config's) by the config's
        ``learning_rate_schedule``; called by the training loop before each epoch (also after a resume)."""
        assert self.optimizer is not None, "a family without its own optimizer overrides start_epoch"
        cfg = self.cfg
        rate = scheduled_learning_rate(cfg.learning_rate_schedule, cfg.learning_rate, epoch, epochs or cfg.epochs)
        self.optimizer.learning_rate.assign(rate)

    def batch_kind_at(self, epoch: int) -> str:
        """The batches of 0-based ``epoch`` (``features`` or ``views``): :attr:`batch_kind` unless overridden."""
        return self.batch_kind

    def prunable_layers(self) -> list[Any]:
        """The QDense layers magnitude pruning may act on, each with the epochs it trains in
        (:class:`~wnae.models.pruning.PrunedLayer`): by default every QDense of :attr:`networks`, all epochs."""
        from wnae.models.pruning import PrunedLayer

        return [PrunedLayer(layer, 0, self.cfg.epochs) for layer in qdense_layers(self.networks.values())]

    def describe(self) -> dict[str, Any]:
        """What the run's ``metrics.json`` should say about how the family trained (e.g. its EMD estimator)."""
        return {}

    def epoch_diagnostics(self, features: np.ndarray, epoch: int) -> dict[str, float]:
        """Extra history entries computed after 0-based ``epoch`` on held-out normalised ``features``."""
        return {}

    def equilibrium_diagnostics(self, features: np.ndarray) -> dict[str, float]:
        """The model's fit with long-run samples, measured once at the kept epoch (energy-based families)."""
        return {}

    def diagnostic_samples(self) -> np.ndarray | None:
        """Samples the family draws from its own model (MCMC negatives) for the diagnostic plot, if any."""
        return None

    def sample_space(self, features: np.ndarray) -> np.ndarray:
        """Normalised features in the space :meth:`diagnostic_samples` live in (the features themselves here)."""
        return features

    def phase(self, epoch: int) -> str:
        """Name of the training phase of 0-based ``epoch`` (e.g. ``ae`` during a warm-up), for throughput."""
        return self.name

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        """One optimizer step on ``batch`` (0-based ``epoch``); returns named scalar metrics incl. ``loss``."""
        raise NotImplementedError

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """Metrics on a validation batch, without updating anything."""
        raise NotImplementedError

    def deploy_model(self) -> Any:  # a Keras model
        """The QKeras model that goes on the FPGA: input (57,) normalised features."""
        raise NotImplementedError

    def extra_state(self) -> dict[str, np.ndarray]:
        """Non-Keras state to checkpoint in ``state.npz`` (e.g. the replay buffer and its generator).

        Values are arrays that need no pickles (a generator state as a 0-d JSON string).
        """
        return {}

    def load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`extra_state`; a value that does not fit raises ``ValueError`` (the caller names the file)."""
        return None
