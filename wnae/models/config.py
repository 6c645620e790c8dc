"""Configuration of ``wnae train``: one typed config per run, stored resolved in the run directory."""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, model_validator

from wnae.config import StrictModel
from wnae.models.quantization import QuantSpec

__all__ = [
    "ArchitectureConfig",
    "ContrastiveConfig",
    "CriticConfig",
    "ExtractorConfig",
    "GmmConfig",
    "HeadConfig",
    "LayerQuant",
    "LearningRateScheduleConfig",
    "LoadingConfig",
    "McmcConfig",
    "PruningConfig",
    "QuantConfig",
    "ThreadsConfig",
    "TrainConfig",
    "VaeConfig",
    "VicregConfig",
    "scheduled_learning_rate",
]

ModelName = Literal["wnae", "ae", "nae", "vae", "mlp_encoder", "two_stage"]
HeadName = Literal["wnae", "ae", "nae", "vae"]


def _check_widths(widths: list[int], what: str) -> None:
    if any(w < 1 for w in widths):
        msg = f"{what} must be positive, got {widths}"
        raise ValueError(msg)


class LayerQuant(StrictModel):
    """Per-layer overrides of the weight, bias and activation formats (unset: the network's default)."""

    weight: QuantSpec | None = None
    bias: QuantSpec | None = None
    activation: QuantSpec | None = None


class QuantConfig(StrictModel):
    """Fixed-point formats of the network and of its on-chip score head (see :class:`QuantSpec`).

    ``input`` must hold the normaliser's output exactly: its fractional bits must be at least the
    normaliser's (checked at train time). The score head quantizes every intermediate result so
    that QKeras (float32) and the HLS C++ compute the same numbers: a difference of ``diff`` bits
    squared needs ≤ 2·(bits − 1) ≤ 24 significant bits to be exact in float32.

    ``embedding`` is the format of a two-stage model's embedding (the extractor's output, the
    head's input). ``layers`` overrides the weight, bias and activation formats of single layers by
    name (``ext_dense0``, ``embedding``, ``enc_dense0``, ``latent``, ``dec_dense0``, ``reconstruction``,
    ``mu``, …), e.g. ``{ext_dense0: {weight: {bits: 4, integer: 0}}}``; the activation of
    ``<prefix>_dense<i>`` is its ReLU's format.
    """

    input: QuantSpec = QuantSpec(bits=16, integer=7)
    weight: QuantSpec = QuantSpec(bits=8, integer=1)
    bias: QuantSpec = QuantSpec(bits=8, integer=3)
    activation: QuantSpec = QuantSpec(bits=10, integer=4, signed=False)
    output: QuantSpec = QuantSpec(bits=12, integer=4)
    diff: QuantSpec = QuantSpec(bits=12, integer=4)
    square: QuantSpec = QuantSpec(bits=16, integer=8, signed=False)
    score: QuantSpec = QuantSpec(bits=18, integer=14, signed=False)
    embedding: QuantSpec = QuantSpec(bits=10, integer=4)
    layers: dict[str, LayerQuant] = Field(default_factory=dict)

    def for_layer(self, name: str) -> tuple[QuantSpec, QuantSpec, QuantSpec]:
        """``(weight, bias, activation)`` formats of layer ``name`` (its overrides, else the defaults)."""
        own = self.layers.get(name, LayerQuant())
        return own.weight or self.weight, own.bias or self.bias, own.activation or self.activation

    @model_validator(mode="after")
    def _exact_in_float32(self) -> QuantConfig:
        if 2 * (self.diff.bits - 1) > 24:
            msg = f"diff has {self.diff.bits} bits: its square is not exact in float32 (at most 13 bits)"
            raise ValueError(msg)
        activations = [self.activation, *(q.activation for q in self.layers.values() if q.activation is not None)]
        if any(a.signed for a in activations) or self.square.signed or self.score.signed:
            msg = "activation, square and score formats are unsigned (signed: false)"
            raise ValueError(msg)
        return self


class ArchitectureConfig(StrictModel):
    """Layer widths. The AE decoder mirrors the encoder; the VAE decoder too."""

    encoder: list[int] = Field(default_factory=lambda: [32, 16])
    latent_dim: int = Field(8, ge=1, le=64)
    latent_activation: Literal["relu", "linear"] = Field(
        "relu", description="AE latent: quantized ReLU, or linear on the signed 'output' grid (as the VAE's mu)"
    )

    @model_validator(mode="after")
    def _positive(self) -> ArchitectureConfig:
        if not self.encoder or any(w < 1 for w in self.encoder):
            msg = f"encoder widths must be positive, got {self.encoder}"
            raise ValueError(msg)
        return self


class CriticConfig(StrictModel):
    """The Kantorovich potential of ``distance: neural`` (:class:`wnae.models.transport.NeuralDual`).

    An MLP (``widths``, ReLU) on the data side, trained by Adam ascent on the batch semi-dual:
    ``steps`` ascent steps per training step on the step's own distance matrix, after
    ``warmup_steps`` steps on the first batch of the WNAE phase (a random potential's gradient is
    the nearest-data-point one).
    """

    widths: list[int] = Field(default_factory=lambda: [128, 128])
    learning_rate: float = Field(1e-3, gt=0)
    steps: int = Field(2, ge=1, le=100)
    warmup_steps: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> CriticConfig:
        _check_widths(self.widths, "critic widths")
        return self


#: One part of ``training_sample``: a sample name or a shell pattern of names.
_SAMPLE_PART = re.compile(r"^[A-Za-z0-9*?][A-Za-z0-9_.*?-]*$")


class McmcDiagnosticsConfig(StrictModel):
    """Per-epoch measurement of how well the energy's Boltzmann density exp(−E/T) fits the data.

    On a fixed random subset of the validation events (``events`` for W, as many again for the
    floor; never the first rows, which the files order by process): the exact squared-Euclidean
    W (a linear assignment, equal to POT's network simplex) between the data and fresh negatives
    (``w_exact``: the sampler run from the replay buffer for the training's number of steps), the
    same after ``long_steps``
    further steps (``w_exact_long``: short chains can look right while the energy is wrong),
    and the two-sample floor (``w_floor``: two disjoint data subsets of the same size). With
    ``keep_epoch: best_w`` (:class:`McmcConfig`) the run keeps the epoch with the lowest
    max(w_exact, w_exact_long) once pruning has reached its target sparsity, among the measured
    epochs (``every``: every epoch, or every n-th and the last; the others log NaN). ``events: 0``
    switches the measurement off. Once, at the kept epoch, ``equilibrium_steps`` further steps
    measure whether exp(−E/T) itself holds the data (``w_exact_equilibrium`` in ``metrics.json``'s
    ``equilibrium``): chains that run long drift wherever the energy is low, data or not.
    """

    events: int = Field(1000, ge=0, description="validation events per W sample (0: no diagnostics)")
    long_steps: int = Field(200, ge=0, le=5000, description="further sampler steps for w_exact_long")
    every: int = Field(
        1, ge=1, description="measure every this many epochs and at the last; the kept epoch is one of them"
    )
    equilibrium_steps: int = Field(
        0,
        ge=0,
        le=100_000,
        description="at the kept epoch: the fit after this many further sampler steps (w_exact_equilibrium; 0: not measured)",
    )
    seed: int = Field(12345, description="seed of the subset and of the diagnostic chains' noise")


class McmcConfig(StrictModel):
    """Langevin sampling of negative samples (WNAE and NAE).

    x ← x − step·∇ₓE(x)/T + noise·𝒩(0, 1), clamped to ±bound; step = noise²/2 when not given, so
    the chain's stationary density is ∝ exp(−E/T). With ``precondition: covariance`` the drift and the
    noise are shaped by M = d·Σ/tr Σ of the data batch (x ← x − step·M∇ₓE/T + noise·L𝒩(0, 1), LLᵀ = M):
    the same stationary density, with every direction of the data explored at its own scale.
    With E the *mean* squared error over 57 inputs, exp(−E/T) spreads each off-manifold direction
    with variance 57·T/2: T = 0.01 gives 0.29, close to the SM residual variance per input (≈ 0.45), while T = 0.05 (1.4) forces the network
    to inflate E on the data to pull the chains in (⟨E₊⟩ 8.2 instead of 1.9 after 40 epochs on
    the default data, with the same AUCs).
    Chains persist through a replay buffer (PCD): a fraction ``replay_ratio`` of each batch of
    chains restarts from the buffer, the rest start fresh (``init``: uniform in the bounds,
    𝒩(0, 1) clipped to them, or ``data``: the batch's own events plus 𝒩(0, ``data_init_noise``²),
    so that new chains begin on the data manifold and explore away from it).

    ``distance``, the WNAE's W between the data batch and the negatives
    (:mod:`wnae.models.transport`): ``assignment`` (exact, the Jonker–Volgenant linear assignment:
    the default, 4–6× faster than the network simplex at batch 512), ``emd`` (exact, POT's network
    simplex: the same W and plan), ``sliced`` (``n_projections`` random 1-D projections) or ``neural`` (a learned
    dual potential, :class:`CriticConfig`, what the shipped WNAE configs use). ``assignment_backend``
    names the implementation of the assignment in the training step: ``lapjv`` (the default) or
    ``scipy`` give the same W, but where two permutations cost the same to rounding they may pick
    different ones and the run then takes another path; ``auto`` takes the faster on this machine
    (:func:`wnae.models.transport.assignment_columns`), at the price of a run that another machine
    may not reproduce. The fit diagnostics always take the faster (they only measure W).
    """

    steps: int = Field(10, ge=1, le=200)
    noise: float = Field(0.2, gt=0)
    temperature: float = Field(0.01, gt=0)
    step_size: float | None = Field(None, gt=0)
    bound: float = Field(3.0, gt=0)
    buffer_size: int = Field(10_000, ge=1)
    replay_ratio: float = Field(0.95, ge=0, le=1)
    init: Literal["uniform", "gaussian", "data"] = Field("gaussian", description="fresh chain starts")
    data_init_noise: float = Field(0.5, ge=0, description="init 'data': spread added to the data starts")
    distance: Literal["emd", "assignment", "sliced", "neural"] = Field(
        "assignment",
        description="W estimator (wnae.models.transport): exact by network simplex or assignment, "
        "sliced, or a learned dual potential (the shipped WNAE configs)",
    )
    assignment_backend: Literal["lapjv", "scipy", "auto"] = Field(
        "lapjv",
        description="distance assignment: the training step's implementation (the lapjv package, SciPy's "
        "linear_sum_assignment, or auto: the faster on this machine's first problems; the same W, but near-ties "
        "may be broken differently, so a run is reproducible only with a fixed one)",
    )
    n_projections: int = Field(128, ge=1)
    critic: CriticConfig = CriticConfig()
    xla: bool = Field(False, description="compile the training step with XLA (jit_compile; not with an exact distance)")
    nae_gamma: float = Field(1.0, ge=0, description="NAE loss: E+ - E- + gamma * E-^2")
    reconstruction_weight: float = Field(
        0.0, ge=0, description="WNAE loss: W + reconstruction_weight * <E+> (0: W alone, as published)"
    )
    pretrain_epochs: int = Field(0, ge=0, description="plain-AE epochs before the WNAE/NAE objective")
    metropolis: bool = Field(False, description="Metropolis-adjusted Langevin (MALA): exact exp(-E/T) at any step")
    precondition: Literal["none", "covariance"] = Field(
        "none",
        description="Langevin preconditioned by the data batch's covariance (scaled to mean variance 1): "
        "every direction of the data moves at its own scale; not with metropolis",
    )
    diagnostics: McmcDiagnosticsConfig = McmcDiagnosticsConfig()
    keep_epoch: Literal["best_w", "last"] = Field(
        "best_w", description="the epoch the run keeps: lowest max(w_exact, w_exact_long), or the last"
    )

    @model_validator(mode="after")
    def _precondition_without_metropolis(self) -> McmcConfig:
        if self.precondition != "none" and self.metropolis:
            msg = "mcmc.precondition: the Metropolis correction is for the plain sampler; set metropolis: false"
            raise ValueError(msg)
        return self

    @property
    def resolved_step_size(self) -> float:
        return self.step_size if self.step_size is not None else self.noise**2 / 2


class VaeConfig(StrictModel):
    """AXOL1TL-style VAE: loss = (1 − β)·reconstruction + β·KL.

    ``deployed_score``: ``mu_squared`` (Σμ², the encoder alone, AXOL1TL v1–v4) or
    ``reconstruction`` (the VAE deployed as an AE: ‖x − decoder(μ)‖², AXOL1TL v5/v6).
    """

    beta: float = Field(0.5, ge=0, le=1)
    deployed_score: Literal["mu_squared", "reconstruction"] = "mu_squared"


class VicregConfig(StrictModel):
    """VICReg (Bardes, Ponce, LeCun, arXiv:2105.04906) weights: invariance, variance, covariance.

    Applied to the embedding itself (no expander): the variance hinge keeps every embedding
    coordinate's spread ≥ ``target_std`` and the covariance term decorrelates them, so the density
    head sees standardised, decorrelated coordinates.
    """

    invariance: float = Field(25.0, ge=0)
    variance: float = Field(25.0, ge=0)
    covariance: float = Field(1.0, ge=0)
    target_std: float = Field(1.0, gt=0)


class ExtractorConfig(StrictModel):
    """The first stage of a two-stage model: 57 inputs → ``widths`` (ReLU) → ``embedding_dim`` (linear).

    Trained first, for ``epochs`` epochs, on two physically augmented views of each event
    (:mod:`wnae.models.augment`, settings in ``contrastive``), then frozen while the head trains.
    ``method``: ``vicreg`` (:class:`VicregConfig`) or ``contrastive`` (the MLP encoder's InfoNCE +
    cross-entropy over the SM process labels). The embedding's format is ``quant.embedding``.
    """

    method: Literal["vicreg", "contrastive"] = "vicreg"
    widths: list[int] = Field(default_factory=lambda: [29])
    embedding_dim: int = Field(10, ge=1, le=64)
    epochs: int = Field(20, ge=1)

    @model_validator(mode="after")
    def _positive(self) -> ExtractorConfig:
        _check_widths(self.widths, "extractor widths")
        return self


class LearningRateScheduleConfig(StrictModel):
    """How each optimizer's learning rate moves over the epochs of the stage it trains.

    ``constant``: ``learning_rate`` throughout. ``cosine`` (Loshchilov & Hutter, arXiv:1608.03983,
    without restarts): at 0-based epoch e of a stage of n epochs, ``learning_rate`` ×
    (f + (1 − f)·(1 + cos(π·e/(n − 1)))/2), f = ``final_factor``: the full rate in the first epoch,
    f times it in the last. Set per epoch. A two-stage model schedules each stage over its own
    epochs (the extractor's, then the head's). The schedule follows the configured number of
    epochs, so a run extended with ``--resume --epochs`` changes course from the resumed epoch on.
    """

    kind: Literal["constant", "cosine"] = Field(
        "constant", description="constant, or cosine decay over the stage's epochs"
    )
    final_factor: float = Field(0.0, ge=0, le=1, description="cosine: the last epoch's rate over learning_rate")


def scheduled_learning_rate(
    schedule: LearningRateScheduleConfig, learning_rate: float, epoch: int, epochs: int
) -> float:
    """The learning rate of 0-based ``epoch`` of a stage of ``epochs`` epochs under ``schedule``.

    Example:
        >>> cosine = LearningRateScheduleConfig(kind="cosine", final_factor=0.1)
        >>> [round(scheduled_learning_rate(cosine, 1.0, e, 5), 4) for e in range(5)]
        [1.0, 0.8682, 0.55, 0.2318, 0.1]
    """
    if schedule.kind == "constant" or epochs <= 1:
        return learning_rate
    t = min(max(epoch, 0), epochs - 1) / (epochs - 1)
    f = schedule.final_factor
    return learning_rate * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * t)))


class HeadConfig(StrictModel):
    """The second stage: a density model on the embedding, ``model`` one of the autoencoder families.

    Its autoencoder is embedding → ``encoder`` widths → ``latent_dim`` → mirrored → embedding; the
    score is ‖e − ê‖² on chip (a VAE head is deployed as this AE, with z = μ). ``latent_activation``:
    the autoencoder's latent layer (ReLU, or linear as the VAE's μ; the VAE ignores it).
    """

    model: HeadName = "wnae"
    encoder: list[int] = Field(default_factory=list)
    latent_dim: int = Field(4, ge=1, le=64)
    latent_activation: Literal["relu", "linear"] = "relu"
    learning_rate: float | None = Field(
        None, gt=0, description="the head's own AdamW learning rate (null: the run's learning_rate)"
    )
    learning_rate_schedule: LearningRateScheduleConfig | None = Field(
        None, description="the head's own schedule over its epochs (null: the run's learning_rate_schedule)"
    )

    @model_validator(mode="after")
    def _positive(self) -> HeadConfig:
        _check_widths(self.encoder, "head encoder widths")
        return self


class PruningConfig(StrictModel):
    """Magnitude pruning (Zhu & Gupta, arXiv:1710.01878) of every trained ``QDense`` kernel.

    While a layer trains, after every step its smallest-magnitude weights are set to zero; the
    zeroed fraction ramps from 0 to ``sparsity`` as s·(1 − (1 − t)³), with t going from 0 to 1
    between ``begin`` and ``end`` epochs of the layer's own training (an extractor layer counts
    from the first epoch, a head layer from the head's first), and stays at ``sparsity`` afterwards.
    In epochs, not in fractions of the run, so that extending a run (``--resume --epochs``) keeps
    the schedule it trained with. ``layers``: only these layers (default: all ``QDense``). Zero
    weights cost nothing on chip (da4ml drops them).
    """

    sparsity: float = Field(0.0, ge=0, lt=1)
    begin: float = Field(2.0, ge=0, description="epochs of the layer's training before pruning starts")
    end: float = Field(10.0, ge=0, description="epochs of the layer's training when the target sparsity is reached")
    layers: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> PruningConfig:
        if self.end < self.begin:
            msg = f"pruning end ({self.end}) is before begin ({self.begin})"
            raise ValueError(msg)
        return self


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


class LoadingConfig(StrictModel):
    """How training reads its events: all in memory, or streamed from the HDF5 files in chunks.

    ``mode``: ``memory`` (read the SM splits once, as for small files), ``stream`` (read
    ``chunk_events`` at a time; an epoch visits the chunks in a random order and shuffles the events
    of ``shuffle_chunks`` chunks together, so memory is bounded by one shuffle window), or ``auto``:
    stream when the SM training split has more than ``memory_limit_events`` events. Same split,
    same normalisation (fitted in one streamed pass) and same ``max_train_events`` subset either
    way; when one window holds the whole split, the same batches. Streamed, the diagnostics that
    need an array (input saturation, the negatives plot, a latent family's GMM) use an evenly
    strided sample of at most 200 000 training events (see :mod:`wnae.train.data_source`).
    """

    mode: Literal["auto", "memory", "stream"] = "auto"
    memory_limit_events: int = Field(2_000_000, ge=1)
    chunk_events: int = Field(65_536, ge=1)
    shuffle_chunks: int = Field(8, ge=1)


class ThreadsConfig(StrictModel):
    """TensorFlow's CPU threads for training: ``intra_op`` per op, ``inter_op`` ops at once (0: one per core).

    These networks are small (a few thousand weights, batches of 512): splitting one op over threads
    costs more than it saves, while running independent ops of the step at once pays. One thread per
    op makes a WNAE step 1.2–1.5× faster on 2 cores than TensorFlow's default (README). Applied when
    TensorFlow starts; a process whose TensorFlow already runs keeps its threads (logged).
    """

    intra_op: int = Field(1, ge=0, description="threads per op (0: TensorFlow's default, all cores)")
    inter_op: int = Field(0, ge=0, description="ops run at once (0: TensorFlow's default, all cores)")


class TrainConfig(StrictModel):
    """Everything one training run needs; stored resolved as ``runs/<name>/config.yml``.

    Attributes:
        model: family name (see :func:`wnae.models.registry.available_models`).
        seed: the one seed: TF/Keras initialisation and noise, batch order, replay buffer, GMM.
        epochs: passes over the SM training split.
        batch_size: events per optimizer step (also the size of each EMD problem: n × n).
        learning_rate, weight_decay: AdamW.
        learning_rate_schedule: constant or cosine over each stage's epochs (see
            :class:`LearningRateScheduleConfig`).
        normalisation: ``fixed_point`` (the FPGA form, default), ``l1_hardware`` (the 57 raw L1
            hardware integers of CMSSW's AXOL1TL condition, scaled as on chip by ``(x − offset) >>
            shift``: what ``wnae export cmssw`` needs) or ``standard``; fitted on the SM training split
            at train time.
        max_train_events: optional cap on training events (validation gets a third of it).
        training_sample: what the model learns: ``sm``, the SM cocktail (the manifest's background
            rows, unweighted), or ``zero_bias``, what AXOL1TL trains on: every manifest row with a
            ``zb_weight`` (the unbiased zero bias, the QCD pT-hat slices and the electroweak
            components), each epoch's events drawn with replacement at their weights from the train
            split, or, in a directory without weights (an imported zero bias), every zero-bias row
            with equal weights; or the name of one sample of the manifest (e.g. an imported L1
            ntuple), or a shell pattern of names (``qcd_pthat_*``); parts joined by ``+`` are
            united and trained on unweighted (``sm+qcd_pthat_*``: the cocktail and the zero
            bias's QCD pT-hat slices). The test split of every sample trained on is all that ``wnae evaluate`` scores
            of it (for a zero bias: all it calibrates rates on).
        architecture, quant, mcmc, vae, contrastive, gmm: see their classes.
        extractor, head, vicreg: the two stages of ``model: two_stage`` (see their classes).
        pruning: magnitude pruning of the kernels (off by default).
        loading: in memory or streamed from the HDF5 files (see :class:`LoadingConfig`).
        threads: TensorFlow's CPU threads (see :class:`ThreadsConfig`).
        firmware_budget: a firmware target (name or YAML path, e.g. ``gt_run3``) whose latency and
            resource budget the kept epoch must meet: of the epochs that ``mcmc.keep_epoch`` ranks,
            the run keeps the best one whose deployed model da4ml places within the budget (a
            latency-aware selection: the design fits by construction, not by luck). ``null``: no check.
            Checked by ``wnae train`` (the training loop takes the check as a callable).

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
    learning_rate_schedule: LearningRateScheduleConfig = Field(
        default_factory=LearningRateScheduleConfig,
        description="each optimizer's rate over its stage's epochs (constant or cosine)",
    )
    normalisation: Literal["fixed_point", "standard", "l1_hardware"] = "fixed_point"
    max_train_events: int | None = Field(None, ge=1)
    training_sample: str = Field(
        "sm",
        max_length=256,
        description="sm: the SM cocktail (background rows); zero_bias: the zero bias (weighted where the manifest "
        "weights it), events drawn at their weights; or one sample's name or a pattern of names (qcd_pthat_*); "
        "parts joined by + are united, unweighted (sm+qcd_pthat_*); the test split of what is "
        "trained on is held out for the evaluation (anything but sm: memory loading only)",
    )
    architecture: ArchitectureConfig = ArchitectureConfig()
    quant: QuantConfig = QuantConfig()
    mcmc: McmcConfig = McmcConfig()
    vae: VaeConfig = VaeConfig()
    contrastive: ContrastiveConfig = ContrastiveConfig()
    gmm: GmmConfig = GmmConfig()
    extractor: ExtractorConfig = ExtractorConfig()
    head: HeadConfig = HeadConfig()
    vicreg: VicregConfig = VicregConfig()
    pruning: PruningConfig = PruningConfig()
    loading: LoadingConfig = LoadingConfig()
    threads: ThreadsConfig = ThreadsConfig()
    firmware_budget: str | None = Field(
        None,
        description="firmware target whose budget the kept epoch must meet (da4ml latency and LUT estimate); "
        "null: none",
    )

    @model_validator(mode="after")
    def _sample_names(self) -> TrainConfig:
        for part in self.training_sample.split("+"):
            if not _SAMPLE_PART.match(part):
                msg = (
                    f"training_sample '{self.training_sample}': '{part}' is not a sample name or pattern "
                    "(letters, digits, '_', '.', '-', '*', '?'; parts joined by '+')"
                )
                raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _class_labels(self) -> TrainConfig:
        contrastive = self.model == "mlp_encoder" or (
            self.model == "two_stage" and self.extractor.method == "contrastive"
        )
        if self.training_sample != "sm" and contrastive:
            msg = (
                f"training_sample {self.training_sample} has no SM process labels to learn: the contrastive "
                "extractor / MLP encoder needs training_sample sm (or extractor.method vicreg)"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _two_stage_epochs(self) -> TrainConfig:
        if self.model == "two_stage" and self.epochs <= self.extractor.epochs:
            msg = (
                f"a two-stage model trains its extractor for extractor.epochs = {self.extractor.epochs} epochs and "
                f"then its head: epochs ({self.epochs}) must be larger"
            )
            raise ValueError(msg)
        return self

    @property
    def label(self) -> str:
        """A short name of what is trained: the model, or ``<extractor>_<head>`` for a two-stage model."""
        return f"{self.extractor.method}_{self.head.model}" if self.model == "two_stage" else self.model
