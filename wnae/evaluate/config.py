"""``EvaluateConfig``: input rate, named working points and the options of ``wnae evaluate``.

The input rate is the LHC colliding-bunch rate, not 40 MHz: Run 3 fills 2 544 colliding bunches at
the 11.2456 kHz revolution frequency, 28 608.8 kHz (the value AXOL1TL uses). Rates are calibrated on
the weighted zero bias when the data has one (:mod:`wnae.data.zero_bias`): unbiased crossings plus
QCD pT-hat slices and electroweak processes, so the default working points (Loose 100, Medium 20,
Tight 1 kHz, and 0.1 kHz) are counted with ≥ 10 effective ZB events instead of extrapolated. Any
rate 0 < R ≤ ``input_rate_khz`` can be configured; the input rate itself is a finite number of kHz up
to the LHC bunch-crossing rate (:data:`MAX_INPUT_RATE_KHZ`). A zero bias imported with its own
input rate (``wnae data import --input-rate-khz``) sets it unless the config or the command line does
(:func:`with_data_input_rate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from wnae.config import StrictModel
from wnae.data.samples import SampleInfo, SampleRole
from wnae.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_WORKING_POINTS_KHZ",
    "MAX_INPUT_RATE_KHZ",
    "RUN3_COLLIDING_BUNCH_RATE_KHZ",
    "EvaluateConfig",
    "with_data_input_rate",
]

#: Run-3 LHC colliding-bunch rate: 2 544 colliding bunches × 11.2456 kHz revolution frequency, in kHz.
RUN3_COLLIDING_BUNCH_RATE_KHZ = 2544 * 11.2456
#: The LHC bunch-crossing rate (40.079 MHz) in kHz: no stream the trigger sees is faster. A larger
#: ``input_rate_khz`` is a unit mistake (Hz for kHz) or not a rate at all (``inf``).
MAX_INPUT_RATE_KHZ = 40_079.0
#: name → target rate in kHz.
DEFAULT_WORKING_POINTS_KHZ: dict[str, float] = {"Loose": 100.0, "Medium": 20.0, "Tight": 1.0, "VTight": 0.1}


class EvaluateConfig(StrictModel):
    """Settings of the evaluation step.

    Attributes:
        input_rate_khz: :math:`R_0`, input rate of the stream the model sees, kHz (28 608.8 = the
            Run-3 colliding-bunch rate at L1; e.g. 6 kHz after an L1 seed).
        weighted_zero_bias: calibrate on the weighted zero bias when the data has one (False: the
            unbiased sample alone).
        working_points: name → target output rate in kHz; each becomes a threshold in
            ``working_points.json``.
        confidence_level: coverage of the Clopper–Pearson intervals (0.6827 = 1σ).
        min_zb_events: ZB events above threshold needed to call a working point resolved.
        tail_fit_events: ZB events in the exponential tail fit used below that floor (0 = no
            extrapolation: counted threshold, or the highest ZB score below one event).
        target_fpr: false-positive rate on the SM test sample at which the TPR is quoted (ADC2021: 1e-5).
        weighting: ``equal`` event weights for S/B, or ``cross_section`` (σ / n_generated per event).
        plots: write the plots.
        plot_formats: file formats of every plot.
        latent_events: events per sample in the latent-space map (PCA, t-SNE); 0 = no map.
        tsne: also run t-SNE (slow on CPU for many thousand events).
        chunk_events: events read and scored at a time (bounds memory).
        seed: seed for the latent-map subsample and t-SNE.
    """

    input_rate_khz: float = Field(RUN3_COLLIDING_BUNCH_RATE_KHZ, gt=0, allow_inf_nan=False)
    weighted_zero_bias: bool = True
    working_points: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WORKING_POINTS_KHZ))
    confidence_level: float = Field(0.6827, gt=0, lt=1)
    min_zb_events: int = Field(10, ge=1)
    tail_fit_events: int = Field(200, ge=0)
    target_fpr: float = Field(1e-5, gt=0, lt=1)
    weighting: Literal["equal", "cross_section"] = "equal"
    plots: bool = True
    plot_formats: tuple[Literal["png", "pdf", "svg"], ...] = ("png", "pdf")
    latent_events: int = Field(500, ge=0)
    tsne: bool = True
    chunk_events: int = Field(100_000, gt=0)
    seed: int = 0

    @field_validator("input_rate_khz")
    @classmethod
    def _at_most_the_bunch_crossing_rate(cls, value: float) -> float:
        if value > MAX_INPUT_RATE_KHZ:
            msg = (
                f"{value:g} kHz is above the LHC bunch-crossing rate, {MAX_INPUT_RATE_KHZ:g} kHz: give the input "
                "rate in kHz (the Run-3 colliding-bunch rate is 28608.8)"
            )
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check_working_points(self) -> EvaluateConfig:
        if not self.working_points:
            msg = "at least one working point (name: rate_khz) is needed"
            raise ValueError(msg)
        for name, rate in self.working_points.items():
            if not rate > 0:
                msg = f"working point '{name}': rate must be positive, got {rate} kHz"
                raise ValueError(msg)
            if rate > self.input_rate_khz:
                msg = (
                    f"working point '{name}': target rate {rate:g} kHz is above the input rate "
                    f"{self.input_rate_khz:g} kHz"
                )
                raise ValueError(msg)
        return self


def with_data_input_rate(config: EvaluateConfig, samples: Sequence[SampleInfo]) -> EvaluateConfig:
    """``config`` with the input rate its zero bias was recorded at (the ``input_rate_khz`` of the
    zero-bias samples' provenance, ``wnae data import --input-rate-khz``), unless ``config`` sets one.

    Raises:
        DataError: zero-bias samples recorded at different rates.
        ConfigError: a working point above that rate.
    """
    if "input_rate_khz" in config.model_fields_set:
        return config
    rates = sorted(
        {
            float(s.provenance["input_rate_khz"])
            for s in samples
            if s.role is SampleRole.ZERO_BIAS and s.provenance and s.provenance.get("input_rate_khz") is not None
        }
    )
    if not rates:
        return config
    if len(rates) > 1:
        msg = (
            f"the zero-bias samples were recorded at different input rates ({', '.join(f'{r:g}' for r in rates)} kHz): "
            "give the one to use with --input-rate-khz"
        )
        raise DataError(msg)
    try:
        return EvaluateConfig(**{**config.model_dump(), "input_rate_khz": rates[0]})
    except ValidationError as err:
        msg = f"input rate {rates[0]:g} kHz of the imported zero bias: {err.errors()[0]['msg']}"
        raise ConfigError(msg) from err
