"""Configuration of ``wnae generate`` (the embedded default data set)."""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import Field, field_validator, model_validator

from wnae.config import StrictModel
from wnae.data.generate.l1 import L1Config
from wnae.data.generate.pf import PFConfig
from wnae.data.generate.processes import PROCESSES, Process, qcd_slice
from wnae.data.samples import SampleRole

__all__ = ["GenerateConfig", "Preselection", "SampleSpec", "ZeroBiasSlices"]


class Preselection(StrictModel):
    """Optional event filter after the L1 emulation, recorded in the file metadata.

    ``lepton``: ≥ 1 e/γ or μ with pT > threshold (ADC2021 used 23 GeV); ``single_jet``: leading
    jet pT > threshold; ``ht``: scalar sum of jet pT > threshold; ``none``: keep all.
    """

    kind: Literal["none", "lepton", "single_jet", "ht"] = "none"
    threshold_gev: float = Field(0.0, ge=0)


class SampleSpec(StrictModel):
    """Size and conditions of one sample."""

    n_events: int = Field(gt=0, description="events to generate (before pre-selection)")
    pileup_mean: float | None = Field(None, ge=0, description="overrides the global pileup_mean")
    preselection: Preselection = Preselection()


class ZeroBiasSlices(StrictModel):
    """Weighted zero bias (:mod:`wnae.data.zero_bias`): QCD pT-hat slices beside the unbiased sample.

    Slice ``i`` is ``HardQCD`` with ``edges[i] ≤ pT-hat < edges[i+1]`` (the last is open-ended),
    overlaid with pile-up interactions softer than its hard interaction (it is the hardest of its
    crossing); unbiased crossings with any interaction at or above ``edges[0]`` are vetoed, so no
    crossing is counted twice. The
    ``electroweak`` background samples (their test split) join the mixture weighted by their
    cross-section: QCD slices do not produce W, Z or top.
    """

    pthat_edges_gev: list[float] = Field(
        default_factory=lambda: [30.0, 50.0, 80.0, 120.0, 170.0, 300.0, 470.0],
        min_length=1,
        description="lower pT-hat edges of the slices, GeV, increasing",
    )
    n_events: int | list[int] = Field(
        2_000,
        description="events per slice: one number for all, or one per slice (the soft slices weigh most "
        "per event, so they need the most events)",
    )
    electroweak: list[str] = Field(default_factory=lambda: ["dy", "wjets", "ttbar"])

    @field_validator("pthat_edges_gev")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if value[0] <= 0 or any(b <= a for a, b in itertools.pairwise(value)):
            msg = f"pthat_edges_gev must be positive and strictly increasing, got {value}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _one_size_per_slice(self) -> ZeroBiasSlices:
        sizes = self.sizes()
        if len(sizes) != len(self.pthat_edges_gev) or any(n <= 0 for n in sizes):
            msg = (
                f"zero_bias_slices.n_events: {self.n_events} must be a positive number or one positive number "
                f"per slice ({len(self.pthat_edges_gev)})"
            )
            raise ValueError(msg)
        return self

    def sizes(self) -> list[int]:
        """Events of each slice."""
        n = self.n_events
        return list(n) if isinstance(n, list) else [n] * len(self.pthat_edges_gev)

    def processes(self) -> list[Process]:
        edges = self.pthat_edges_gev
        return [qcd_slice(lo, edges[i + 1] if i + 1 < len(edges) else None) for i, lo in enumerate(edges)]


class GenerateConfig(StrictModel):
    """Everything that determines the generated files (and so their cache key).

    Units: GeV; ``pileup_mean`` is the mean number of additional inelastic interactions per bunch
    crossing (Run 3: ≈ 60).
    """

    output_dir: str = "data"
    seed: int = Field(20_261_124, ge=0, lt=2**32)
    sqrt_s_gev: float = Field(13_600.0, gt=0)
    pileup_mean: float = Field(60.0, ge=0)
    pileup_pool_events: int = Field(2_000, gt=0)
    zero_bias_pileup_pool_events: int | None = Field(
        None,
        gt=0,
        description="own, larger pile-up pool of the zero-bias samples (None: the common pool); "
        "its hard interactions set the unbiased rate at 10-1000 kHz",
    )
    block_events: int = Field(1_000, gt=0, description="events per independent Pythia seed")
    l1: L1Config = L1Config()
    pf: PFConfig | None = Field(PFConfig(), description="PF candidates beside the L1 objects (None: L1 objects only)")
    samples: dict[str, SampleSpec]
    pythia_settings: list[str] = Field(default_factory=list, description="extra readString lines for all samples")
    zero_bias_slices: ZeroBiasSlices | None = Field(None, description="weighted zero bias; None = unbiased only")

    @field_validator("samples")
    @classmethod
    def _known_samples(cls, value: dict[str, SampleSpec]) -> dict[str, SampleSpec]:
        unknown = sorted(set(value) - set(PROCESSES))
        if unknown:
            msg = f"unknown sample(s) {unknown}; known: {', '.join(PROCESSES)}"
            raise ValueError(msg)
        if not value:
            msg = "at least one sample is needed"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _slices_need_zero_bias(self) -> GenerateConfig:
        zb = self.zero_bias_slices
        if zb is None:
            return self
        if "zero_bias" not in self.samples:
            msg = "zero_bias_slices need the unbiased 'zero_bias' sample (its cross-section and soft crossings)"
            raise ValueError(msg)
        for name in zb.electroweak:
            if name not in self.samples or PROCESSES[name].role is not SampleRole.BACKGROUND:
                msg = f"zero_bias_slices.electroweak: '{name}' is not a background sample of this config"
                raise ValueError(msg)
            if name == "qcd":
                msg = "zero_bias_slices.electroweak: 'qcd' overlaps the QCD pT-hat slices"
                raise ValueError(msg)
        return self

    def plan(self) -> list[tuple[Process, SampleSpec, bool]]:
        """Every sample to write: (process, size, whether its pile-up is softer than its hard interaction)."""
        out: list[tuple[Process, SampleSpec, bool]] = [
            (PROCESSES[name], spec, False) for name, spec in self.samples.items()
        ]
        if self.zero_bias_slices is not None:
            zb = self.zero_bias_slices
            mu = self.samples["zero_bias"].pileup_mean
            out += [
                (process, SampleSpec(n_events=n, pileup_mean=mu), True)
                for process, n in zip(zb.processes(), zb.sizes(), strict=True)
            ]
        return out
