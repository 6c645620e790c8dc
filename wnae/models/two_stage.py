"""Two-stage model: a feature extractor, then a density model on its embedding (AXOL1TL v5/v6's layout).

A composition of existing families, each chosen by name in the config:

* **extractor** (``extractor.method``): ``vicreg`` (:class:`~wnae.models.vicreg.VicregFamily`) or
  ``contrastive`` (the MLP encoder, :class:`~wnae.models.mlp_encoder.MlpEncoderFamily`), 57 →
  ``extractor.widths`` → ``extractor.embedding_dim`` on the ``quant.embedding`` grid; trained on
  augmented views for the first ``extractor.epochs`` epochs, then frozen.
* **head** (``head.model``): ``wnae``, ``nae``, ``ae`` (:class:`~wnae.models.wnae.AutoencoderFamily`)
  or ``vae`` (:class:`~wnae.models.vae.VaeFamily`, deployed as an AE) on the embedding, trained for
  the remaining ``epochs − extractor.epochs`` epochs on the embeddings of the training events: the
  Langevin negatives, their replay buffer and the EMD live in embedding space.

The extractor stays frozen while the head trains: fine-tuning it with the head's loss lets it
shrink the embedding towards the head's minima (an energy that is low everywhere), which is the
collapse VICReg's variance term exists to prevent.

The deployed model is one flat QKeras network: input quantizer → extractor → embedding quantizer
→ autoencoder → on-chip score ‖e − ê‖² (:func:`wnae.models.blocks.chain_models`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from wnae.models.base import ModelFamily
from wnae.models.registry import build_model, register_model

if TYPE_CHECKING:
    from wnae.models.mlp_encoder import MlpEncoderFamily
    from wnae.models.vicreg import VicregFamily

__all__ = ["TwoStageFamily"]

#: The extractor's input quantizer keeps the name ``input_quant``; the head's reads the embedding.
HEAD_INPUT_NAME = "embedding_quant"


def extractor_config(cfg: Any) -> Any:
    """The config the extractor family sees: its widths and embedding, the embedding format as its output."""
    from wnae.models.config import ArchitectureConfig

    ext = cfg.extractor
    arch = ArchitectureConfig.model_construct(
        encoder=list(ext.widths), latent_dim=ext.embedding_dim, latent_activation="linear"
    )
    quant = cfg.quant.model_copy(update={"output": cfg.quant.embedding})
    return cfg.model_copy(update={"architecture": arch, "quant": quant})


def head_config(cfg: Any) -> Any:
    """The config the head family sees: the embedding as its input, the head's widths, a VAE deployed as an AE."""
    from wnae.models.config import ArchitectureConfig

    head = cfg.head
    arch = ArchitectureConfig.model_construct(
        encoder=list(head.encoder), latent_dim=head.latent_dim, latent_activation=head.latent_activation
    )
    return cfg.model_copy(
        update={
            "model": head.model,
            "epochs": cfg.epochs - cfg.extractor.epochs,
            "learning_rate": head.learning_rate or cfg.learning_rate,
            "learning_rate_schedule": head.learning_rate_schedule or cfg.learning_rate_schedule,
            "architecture": arch,
            "quant": cfg.quant.model_copy(update={"input": cfg.quant.embedding}),
            "vae": cfg.vae.model_copy(update={"deployed_score": "reconstruction"}),
        }
    )


class TwoStageFamily(ModelFamily):
    """Extractor (epochs ``[0, E)``, views), then the head (epochs ``[E, epochs)``, embeddings); deployed: the score.

    ``train_step`` returns the extractor's metrics (VICReg terms, or InfoNCE / cross-entropy)
    during its epochs and the head's (energies, sampler diagnostics, the W distance as ``loss``)
    afterwards; the history holds both, each NaN outside its epochs.
    """

    name: ClassVar[str] = "two_stage"
    deployed_output: ClassVar[str] = "score"

    def __init__(self, cfg: Any, seed: int, n_classes: int = 4) -> None:
        super().__init__(cfg, seed, optimizer=False)  # one optimizer per stage, in the stage families
        ext = cfg.extractor
        ext_cfg = extractor_config(cfg)
        self.extractor: VicregFamily | MlpEncoderFamily
        if ext.method == "vicreg":
            from wnae.models.vicreg import VicregFamily

            self.extractor = VicregFamily(ext_cfg, seed)
        else:
            from wnae.models.mlp_encoder import MlpEncoderFamily

            self.extractor = MlpEncoderFamily(
                ext_cfg, seed, n_classes=n_classes, prefix="ext", out_name="embedding", name="extractor"
            )
        self.head = build_model(
            cfg.head.model, head_config(cfg), seed, dim=ext.embedding_dim, input_name=HEAD_INPUT_NAME
        )
        self.extractor_epochs = ext.epochs
        self._embed: Callable[[Any], Any] | None = None  # a tf.function
        self.networks = {
            **{f"extractor_{k}": v for k, v in self.extractor.networks.items()},
            **{f"head_{k}": v for k, v in self.head.networks.items()},
        }

    # --- the two stages
    def in_extractor_stage(self, epoch: int) -> bool:
        return epoch < self.extractor_epochs

    def batch_kind_at(self, epoch: int) -> str:
        return "views" if self.in_extractor_stage(epoch) else "features"

    def phase(self, epoch: int) -> str:
        if self.in_extractor_stage(epoch):
            return self.cfg.extractor.method
        return self.head.phase(epoch - self.extractor_epochs)

    def start_epoch(self, epoch: int, epochs: int | None = None) -> None:
        """Each stage's learning rate follows the schedule over that stage's own epochs."""
        if self.in_extractor_stage(epoch):
            self.extractor.start_epoch(epoch, self.extractor_epochs)
        else:
            self.head.start_epoch(epoch - self.extractor_epochs)

    def embed(self, x: np.ndarray) -> np.ndarray:
        """The (frozen) extractor's embedding of normalised features, float32 (n, embedding_dim)."""
        if self._embed is None:  # one compiled function for every batch size (an eager call costs ~160 ops)
            import tensorflow as tf

            encoder = self.extractor.encoder
            self._embed = tf.function(
                lambda v: encoder(v, training=False),
                input_signature=[tf.TensorSpec([None, encoder.input_shape[-1]], tf.float32)],
            )
        return self._embed(np.asarray(x, np.float32)).numpy()

    def train_step(self, batch: dict[str, np.ndarray], epoch: int) -> dict[str, float]:
        if self.in_extractor_stage(epoch):
            return self.extractor.train_step(batch, epoch)
        return self.head.train_step({"features": self.embed(batch["features"])}, epoch - self.extractor_epochs)

    def validation_step(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        if "view1" in batch:
            return self.extractor.validation_step(batch)
        return self.head.validation_step({"features": self.embed(batch["features"])})

    # --- state
    def checkpoint_objects(self) -> dict[str, Any]:
        return {
            **{f"extractor_{k}": v for k, v in self.extractor.checkpoint_objects().items()},
            **{f"head_{k}": v for k, v in self.head.checkpoint_objects().items()},
        }

    def trainable_variables(self) -> list[Any]:
        return self.extractor.trainable_variables() + self.head.trainable_variables()

    def build_optimizer(self) -> None:
        self.extractor.build_optimizer()
        self.head.build_optimizer()

    def extra_state(self) -> dict[str, np.ndarray]:
        return self.head.extra_state()

    def load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        self.head.load_extra_state(state)

    def prunable_layers(self) -> list[Any]:
        from wnae.models.base import qdense_layers
        from wnae.models.pruning import PrunedLayer

        return [PrunedLayer(layer, 0, self.extractor_epochs) for layer in qdense_layers([self.extractor.encoder])] + [
            PrunedLayer(layer, self.extractor_epochs, self.cfg.epochs)
            for layer in qdense_layers(self.head.networks.values())
        ]

    def describe(self) -> dict[str, Any]:
        return self.head.describe()

    def epoch_diagnostics(self, features: np.ndarray, epoch: int) -> dict[str, float]:
        if self.in_extractor_stage(epoch):
            return {}
        # the head draws its own fixed random subset of the embedded validation events
        return self.head.epoch_diagnostics(self.embed(features), epoch - self.extractor_epochs)

    def equilibrium_diagnostics(self, features: np.ndarray) -> dict[str, float]:
        return self.head.equilibrium_diagnostics(self.embed(features))

    def diagnostic_samples(self) -> np.ndarray | None:
        return self.head.diagnostic_samples()

    def sample_space(self, features: np.ndarray) -> np.ndarray:
        return self.embed(features)

    def deploy_model(self) -> Any:
        from wnae.models.blocks import chain_models

        return chain_models(self.extractor.encoder, self.head.deploy_model(), name=f"{self.cfg.label}_deploy")


register_model("two_stage", lambda cfg, seed, n_classes=4, **_: TwoStageFamily(cfg, seed, n_classes=n_classes))
