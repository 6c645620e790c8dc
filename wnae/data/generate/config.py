"""Configuration of ``wnae generate`` (the embedded default data set)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from wnae.config import StrictModel
from wnae.data.generate.l1 import L1Config
from wnae.data.generate.processes import PROCESSES

__all__ = ["GenerateConfig", "Preselection", "SampleSpec"]


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
    block_events: int = Field(1_000, gt=0, description="events per independent Pythia seed")
    l1: L1Config = L1Config()
    samples: dict[str, SampleSpec]
    pythia_settings: list[str] = Field(default_factory=list, description="extra readString lines for all samples")

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
