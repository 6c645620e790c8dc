"""Configuration of ``wnae train``: one typed config per run, stored resolved in the run directory."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from wnae.config import StrictModel
from wnae.models.quantization import QuantSpec

__all__ = [
    "ArchitectureConfig",
    "ContrastiveConfig",
    "GmmConfig",
    "McmcConfig",
    "QuantConfig",
    "TrainConfig",
    "VaeConfig",
]

ModelName = Literal["wnae", "ae", "nae", "vae", "mlp_encoder"]


class QuantConfig(StrictModel):
    """Fixed-point formats of the network and of its on-chip score head (see :class:`QuantSpec`).

    ``input`` must hold the normaliser's output exactly: its fractional bits must be at least the
    normaliser's (checked at train time). The score head quantizes every intermediate result so
    that QKeras (float32) and the HLS C++ compute the same numbers: a difference of ``diff`` bits
    squared needs ≤ 2·(bits − 1) ≤ 24 significant bits to be exact in float32.
    """

    input: QuantSpec = QuantSpec(bits=16, integer=7)
    weight: QuantSpec = QuantSpec(bits=8, integer=1)
    bias: QuantSpec = QuantSpec(bits=8, integer=3)
    activation: QuantSpec = QuantSpec(bits=10, integer=4, signed=False)
    output: QuantSpec = QuantSpec(bits=12, integer=4)
    diff: QuantSpec = QuantSpec(bits=12, integer=4)
    square: QuantSpec = QuantSpec(bits=16, integer=8, signed=False)
    score: QuantSpec = QuantSpec(bits=18, integer=14, signed=False)

    @model_validator(mode="after")
    def _exact_in_float32(self) -> QuantConfig:
        if 2 * (self.diff.bits - 1) > 24:
            msg = f"diff has {self.diff.bits} bits: its square is not exact in float32 (at most 13 bits)"
            raise ValueError(msg)
        if self.activation.signed or self.square.signed or self.score.signed:
            msg = "activation, square and score formats are unsigned (signed: false)"
            raise ValueError(msg)
        return self


class ArchitectureConfig(StrictModel):
    """Layer widths. The AE decoder mirrors the encoder; the VAE decoder too."""

    encoder: list[int] = Field(default_factory=lambda: [32, 16])
    latent_dim: int = Field(8, ge=1, le=64)

    @model_validator(mode="after")
    def _positive(self) -> ArchitectureConfig:
        if not self.encoder or any(w < 1 for w in self.encoder):
            msg = f"encoder widths must be positive, got {self.encoder}"
            raise ValueError(msg)
        return self


class McmcConfig(StrictModel):
    """Langevin sampling of negative samples (WNAE and NAE).

    x ← x − step·∇ₓE(x)/T + noise·𝒩(0, 1), clamped to ±bound; step = noise²/2 when not given, so
    the chain's stationary density is ∝ exp(−E/T). With E the *mean* squared error over 57 inputs,
    exp(−E/T) spreads each off-manifold direction with variance 57·T/2: T = 0.01 gives 0.29,
    close to the SM residual variance per input (≈ 0.45), while T = 0.05 (1.4) forces the network
    to inflate E on the data to pull the chains in (⟨E₊⟩ 8.2 instead of 1.9 after 40 epochs on
    the default data, with the same AUCs).
    Chains persist through a replay buffer (PCD): a fraction ``replay_ratio`` of each batch of
    chains restarts from the buffer, the rest from fresh noise (``init``: uniform in the bounds, or
    𝒩(0, 1) clipped to them).
    """

    steps: int = Field(10, ge=1, le=200)
    noise: float = Field(0.2, gt=0)
    temperature: float = Field(0.01, gt=0)
    step_size: float | None = Field(None, gt=0)
    bound: float = Field(3.0, gt=0)
    buffer_size: int = Field(10_000, ge=1)
    replay_ratio: float = Field(0.95, ge=0, le=1)
    init: Literal["uniform", "gaussian"] = Field("gaussian", description="fresh chain starts")
    distance: Literal["emd", "sliced"] = "emd"
    n_projections: int = Field(128, ge=1)
    nae_gamma: float = Field(1.0, ge=0, description="NAE loss: E+ - E- + gamma * E-^2")
    pretrain_epochs: int = Field(0, ge=0, description="plain-AE epochs before the WNAE/NAE objective")

    @property
    def resolved_step_size(self) -> float:
        return self.step_size if self.step_size is not None else self.noise**2 / 2


class VaeConfig(StrictModel):
    """AXOL1TL-style VAE: loss = (1 − β)·reconstruction + β·KL; score = Σμ² (encoder only)."""

    beta: float = Field(0.5, ge=0, le=1)


class ContrastiveConfig(StrictModel):
    """MLP encoder: L = β·InfoNCE(two augmented views) + cross-entropy(process label).

    Augmentations (physical): a global φ rotation, an η flip (p = 0.5), pT smearing within the
    detector resolution, and dropping objects softer than ``drop_pt_gev`` with probability
    ``drop_probability``.
    """

    beta: float = Field(1.0, ge=0)
    temperature: float = Field(0.1, gt=0)
    projection_dim: int = Field(16, ge=1)
    pt_smear: float = Field(0.05, ge=0, le=1)
    drop_pt_gev: float = Field(10.0, ge=0)
    drop_probability: float = Field(0.2, ge=0, le=1)


class GmmConfig(StrictModel):
    """Gaussian mixture on SM latents; components fixed or chosen by BIC up to ``max_components``."""

    n_components: int | Literal["bic"] = "bic"
    max_components: int = Field(6, ge=1, le=32)
    covariance_type: Literal["full", "diag"] = "full"


class TrainConfig(StrictModel):
    """Everything one training run needs; stored resolved as ``runs/<name>/config.yml``.

    Attributes:
        model: family name (see :func:`wnae.models.registry.available_models`).
        seed: the one seed: TF/Keras initialisation and noise, batch order, replay buffer, GMM.
        epochs: passes over the SM training split.
        batch_size: events per optimizer step (also the size of each EMD problem: n × n).
        learning_rate, weight_decay: AdamW.
        normalisation: ``fixed_point`` (the FPGA form, default) or ``standard``; fitted on the SM
            training split at train time.
        max_train_events: optional cap on training events (validation gets a third of it).
        architecture, quant, mcmc, vae, contrastive, gmm: see their classes.

    Example:
        >>> from wnae.config import parse_config
        >>> cfg = parse_config(TrainConfig, {"model": "wnae", "mcmc": {"noise": 0.2}})
        >>> round(cfg.mcmc.resolved_step_size, 6), cfg.mcmc.temperature
        (0.02, 0.01)
    """

    model: ModelName = "wnae"
    seed: int = Field(0, ge=0, lt=2**31)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(512, ge=2)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    normalisation: Literal["fixed_point", "standard"] = "fixed_point"
    max_train_events: int | None = Field(None, ge=1)
    architecture: ArchitectureConfig = ArchitectureConfig()
    quant: QuantConfig = QuantConfig()
    mcmc: McmcConfig = McmcConfig()
    vae: VaeConfig = VaeConfig()
    contrastive: ContrastiveConfig = ContrastiveConfig()
    gmm: GmmConfig = GmmConfig()
