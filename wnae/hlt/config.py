"""Typed configuration of the HLT encoders (``wnae hlt train``) and the two-level trigger (``wnae hlt evaluate``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from wnae.config import StrictModel
from wnae.models.config import ContrastiveConfig, GmmConfig, ThreadsConfig

#: A rate in kHz: a finite number > 0.
RateKhz = Annotated[float, Field(gt=0, allow_inf_nan=False)]

__all__ = [
    "ENCODERS",
    "CompareConfig",
    "DisplacementTargetConfig",
    "EncoderConfig",
    "HltEvaluateConfig",
    "HltTrainConfig",
    "PfAugmentConfig",
]

#: The encoder families: three over the PF candidates, one over the 19 L1 objects (57 inputs).
ENCODERS: tuple[str, ...] = ("linformer", "deepsets", "pf_mlp", "l1_mlp")
EncoderName = Literal["linformer", "deepsets", "pf_mlp", "l1_mlp"]


class EncoderConfig(StrictModel):
    """The encoder network: ``kind`` picks the family, the other keys size it.

    Attributes:
        kind: ``linformer`` (Wang et al. arXiv:2006.04768), ``deepsets`` (Zaheer et al.
            arXiv:1703.06114: a per-candidate MLP, masked mean and sum pooling, an MLP on the pool),
            ``pf_mlp`` (an MLP on the flattened ``mlp_candidates`` leading candidates) or ``l1_mlp``
            (the MLP encoder's architecture on the 57 normalised L1-object features).
        max_candidates: PF candidates the encoder sees (the leading ones in pT, ≤ the file's n_max).
        embed_dim, n_layers, n_heads, linformer_k, ffn_dim: the Linformer (embedding 128,
            4 layers, 8 heads, keys and values projected to length k = 16 along the sequence).
        widths: hidden widths of the MLP/DeepSets networks (per-candidate network for DeepSets).
        pool_widths: DeepSets: widths of the network on the pooled vector.
        mlp_candidates: ``pf_mlp``: leading candidates flattened into its input.
        latent_dim: dimension of z (the GMM's space).
    """

    kind: EncoderName = "linformer"
    max_candidates: int = Field(64, ge=2, le=1024)
    embed_dim: int = Field(128, ge=8)
    n_layers: int = Field(4, ge=1, le=16)
    n_heads: int = Field(8, ge=1)
    linformer_k: int = Field(16, ge=1)
    ffn_dim: int = Field(256, ge=8)
    widths: list[int] = Field(default_factory=lambda: [128, 128])
    pool_widths: list[int] = Field(default_factory=lambda: [128])
    mlp_candidates: int = Field(32, ge=1)
    latent_dim: int = Field(6, ge=1, le=64)

    @model_validator(mode="after")
    def _shapes(self) -> EncoderConfig:
        if self.embed_dim % self.n_heads:
            msg = f"embed_dim ({self.embed_dim}) must be a multiple of n_heads ({self.n_heads})"
            raise ValueError(msg)
        if self.linformer_k > self.max_candidates:
            msg = f"linformer_k ({self.linformer_k}) must not exceed max_candidates ({self.max_candidates})"
            raise ValueError(msg)
        if self.mlp_candidates > self.max_candidates:
            msg = f"mlp_candidates ({self.mlp_candidates}) must not exceed max_candidates ({self.max_candidates})"
            raise ValueError(msg)
        if any(w < 1 for w in (*self.widths, *self.pool_widths)):
            msg = "widths and pool_widths must be positive"
            raise ValueError(msg)
        return self

    @property
    def reads_pf(self) -> bool:
        """Whether the encoder reads PF candidates (else the L1 objects)."""
        return self.kind != "l1_mlp"


class PfAugmentConfig(StrictModel):
    """Augmentations of the PF candidates (:func:`wnae.models.augment.augment_candidates`):
    a global φ rotation, an η flip, relative pT smearing, and dropping soft candidates."""

    pt_smear: float = Field(0.05, ge=0, le=1)
    drop_pt_gev: float = Field(2.0, ge=0)
    drop_probability: float = Field(0.2, ge=0, le=1)


class DisplacementTargetConfig(StrictModel):
    """An auxiliary target that makes the latent carry the event's displacement: a linear head on z
    regresses, per view, log(1 + Σ pT) and log(1 + N) of the candidates with |d_xy/σ| above
    ``min_significance`` and pT above ``min_pt_gev`` (standardised on the SM training events); its
    mean squared error enters the loss with ``weight`` (0: off). SM events only, no signal.
    """

    weight: float = Field(0.0, ge=0)
    min_significance: float = Field(3.0, gt=0)
    min_pt_gev: float = Field(1.0, ge=0)


class HltTrainConfig(StrictModel):
    """One HLT encoder training: L = β·InfoNCE(two views) + CE(SM process), GMM on SM latents.

    Attributes:
        name: run directory name under ``hlt_runs/`` (default ``<kind>-s<seed>``).
        seed: TF initialisation, batch order, augmentations and the GMM.
        epochs, batch_size, learning_rate, weight_decay: AdamW on the SM training split, the learning
            rate decayed to 0 over the training (cosine).
        max_train_events: cap on SM training events (spread over the processes in file order).
        encoder: the network (see :class:`EncoderConfig`).
        contrastive: β, temperature and projection size; the L1-object augmentations for ``l1_mlp``.
        augment: the PF-candidate augmentations.
        displacement: the auxiliary displacement target (PF encoders; off by default).
        gmm: the Gaussian mixture on SM latents (components by BIC by default).
        threads: TensorFlow's CPU threads (0: TensorFlow's default, all cores).
    """

    name: str | None = None
    seed: int = Field(0, ge=0, lt=2**31)
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(256, ge=4)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    max_train_events: int | None = Field(None, ge=1)
    encoder: EncoderConfig = EncoderConfig()
    contrastive: ContrastiveConfig = ContrastiveConfig(projection_dim=6)
    augment: PfAugmentConfig = PfAugmentConfig()
    displacement: DisplacementTargetConfig = DisplacementTargetConfig()
    gmm: GmmConfig = GmmConfig()
    threads: ThreadsConfig = ThreadsConfig(intra_op=0, inter_op=0)

    @model_validator(mode="after")
    def _plain_name(self) -> HltTrainConfig:
        if self.name is not None and (
            not self.name or "/" in self.name or self.name in (".", "..") or self.name.startswith(".")
        ):
            msg = f"name must be a plain directory name (no '/', not starting with '.'), got {self.name!r}"
            raise ValueError(msg)
        return self

    @property
    def run_name(self) -> str:
        return self.name or f"{self.encoder.kind}-s{self.seed}"


class HltEvaluateConfig(StrictModel):
    """The two-level trigger: an L1 working point seeds the HLT, whose threshold gives the HLT rate.

    Attributes:
        l1_working_point: name of the L1 run's working point (``working_points.json``) that seeds the HLT.
        hlt_rate_khz: the HLT output rate the threshold is solved for, in kHz.
        rate_points_khz: HLT rates at which efficiency and purity are tabulated (besides ``hlt_rate_khz``).
        confidence_level: of the rate and efficiency intervals.
        latent_events: events per sample kept for the t-SNE map.
        chunk_events: events read and scored at a time.
        hlt_score: what the HLT threshold cuts on: ``with_l1`` (the default), the larger of the L1 and
            HLT scores' rarities among the seeded zero bias
            (:func:`~wnae.hlt.two_level.l1_combined_scores`), so the events L1 finds most anomalous
            are not given up; or ``encoder``, the HLT run's own score alone.
    """

    l1_working_point: str = "Medium"
    hlt_rate_khz: float = Field(1.0, gt=0, allow_inf_nan=False)
    rate_points_khz: list[RateKhz] = Field(default_factory=lambda: [10.0, 5.0, 2.0, 1.0, 0.5])
    confidence_level: float = Field(0.6827, gt=0, lt=1)
    latent_events: int = Field(300, ge=0)
    chunk_events: int = Field(20_000, ge=1)
    hlt_score: Literal["encoder", "with_l1"] = "with_l1"

    @property
    def output_name(self) -> str:
        """The directory an HLT run's two-level results go to: ``two_level``, or ``two_level_with_l1``
        (``wnae hlt compare`` writes ``comparison`` or ``comparison_with_l1`` in the same way)."""
        return "two_level" if self.hlt_score == "encoder" else f"two_level_{self.hlt_score}"


class CompareConfig(StrictModel):
    """The encoder comparison (``wnae hlt compare``): each encoder trained at each seed, evaluated
    behind the same L1 seed at the same HLT rate.

    Attributes:
        encoders: encoder kind → its training config file (relative to the comparison file).
        seeds: the seeds (≥ 1; the spread needs ≥ 2).
        epochs: overrides every config's epochs when set.
        max_train_events: overrides every config's cap when set.
        table_rates_khz: HLT rates tabulated besides the evaluation's ``hlt_rate_khz`` (each must be one
            of its ``rate_points_khz``).
    """

    encoders: dict[str, str] = Field(default_factory=dict)
    table_rates_khz: list[RateKhz] = Field(default_factory=lambda: [5.0])
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    epochs: int | None = Field(None, ge=1)
    max_train_events: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _non_empty(self) -> CompareConfig:
        if not self.encoders:
            msg = "encoders must name at least one training config"
            raise ValueError(msg)
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            msg = "seeds must be a non-empty list of distinct seeds"
            raise ValueError(msg)
        return self
