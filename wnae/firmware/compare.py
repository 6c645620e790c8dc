"""Firmware against the exact reference, bit for bit: the events, the deployed model and the comparison.

Shared by the HLS C simulation (:mod:`wnae.firmware.csim`) and the RTL simulation
(:mod:`wnae.firmware.rtl.flow`): both run ≥ 10k real events (SM test split, zero bias, every signal)
through the firmware model and through the exact fixed-point reference of the deployed QKeras
model (:mod:`wnae.fixed_point.reference`: its quantized graph evaluated in integers) and compare the
outputs element by element — and, what matters for a trigger, count the events whose trigger
decision (score > threshold) differs at each working point. Whether QKeras itself (float32)
agrees with the exact reference is reported separately: a wide model can make float32 round,
and that is a property of the QKeras evaluation, not a firmware error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wnae.data.hardware_inputs import L1HardwareNormaliser, hardware_edge_cases
from wnae.errors import FirmwareError, ModelError
from wnae.evaluate.config import RUN3_COLLIDING_BUNCH_RATE_KHZ

if TYPE_CHECKING:
    from wnae.firmware.config import FirmwareConfig
    from wnae.fixed_point.reference import ExactReference
    from wnae.models.serialization import TrainedRun

__all__ = [
    "FALLBACK_RATES_KHZ",
    "REFERENCE_NAME",
    "OutputComparison",
    "collect_events",
    "compare_outputs",
    "deployed_model",
    "simulation_inputs",
]

logger = logging.getLogger(__name__)

#: Rates (kHz, of the Run-3 colliding-bunch rate) of the zero-bias-quantile thresholds used when a
#: run has no working points.
FALLBACK_RATES_KHZ = {"Loose": 100.0, "Medium": 20.0, "Tight": 1.0}
INPUT_RATE_KHZ = RUN3_COLLIDING_BUNCH_RATE_KHZ
#: What the firmware is compared with.
REFERENCE_NAME = "exact fixed-point evaluation of the deployed QKeras model (integers, wnae.fixed_point.reference)"


def deployed_model(run: TrainedRun, target: FirmwareConfig) -> tuple[Any, str]:
    """The QKeras model that goes on chip for this run and target, and what it outputs."""
    latent_run = run.info["deployed_output"] == "latent"
    if target.deployed_output == "latent":
        if not latent_run:
            msg = f"target {target.name} deploys a latent vector, but run {run.name} ({run.info['model']}) has none"
            raise ModelError(msg)
        return run.deploy_model, "latent"
    if latent_run:  # the MLP encoder's on-chip score: one-Gaussian Mahalanobis head
        if run.mahalanobis_model is None:
            msg = f"run {run.name} has no on-chip score model (deploy_mahalanobis.h5)"
            raise ModelError(msg)
        return run.mahalanobis_model, "score"
    return run.deploy_model, "score"


def collect_events(data_dir: str | Path, n_events: int) -> tuple[np.ndarray, dict[str, int], np.ndarray]:
    """≥ ``n_events`` real events spread over SM test, zero bias and every signal.

    Returns:
        particles float32 (n, 19, 4), events per sample, and a boolean mask of the zero-bias events.
    """
    from wnae.data.io import read_events
    from wnae.data.samples import SampleRole, Split, load_manifest, split_mask

    pools = []
    for s in load_manifest(data_dir):
        events = read_events(s.path(data_dir))
        if s.role is SampleRole.BACKGROUND:
            events = events.select(split_mask(len(events), Split.TEST))
        pools.append((s, events.particles))
    # share n_events evenly; samples with fewer events give all they have, the others make up the rest
    take = {s.name: 0 for s, _ in pools}
    remaining, open_pools = n_events, list(pools)
    while remaining > 0 and open_pools:
        quota = int(np.ceil(remaining / len(open_pools)))
        still_open = []
        for s, p in open_pools:
            extra = min(quota, len(p) - take[s.name], remaining)
            take[s.name] += extra
            remaining -= extra
            if take[s.name] < len(p):
                still_open.append((s, p))
        open_pools = still_open
    if remaining > 0:
        logger.warning("only %d events available for the simulation (asked for %d)", n_events - remaining, n_events)
    particles = np.concatenate([p[: take[s.name]] for s, p in pools])
    # unbiased zero bias only (the pT-hat slices of a weighted zero bias are not random crossings)
    unbiased = {
        s.name: s.role is SampleRole.ZERO_BIAS and (s.zb_weight is None or s.zb_pthat_veto_gev is not None)
        for s, _ in pools
    }
    is_zb = np.concatenate([np.full(take[s.name], unbiased[s.name]) for s, _ in pools])
    return particles, {k: v for k, v in take.items() if v}, is_zb


def simulation_inputs(
    run: TrainedRun, data_dir: str | Path, n_events: int
) -> tuple[np.ndarray, dict[str, int], np.ndarray]:
    """The model inputs a simulation is checked on: ≥ ``n_events`` real events (:func:`collect_events`)
    and, for a run on raw hardware inputs, :func:`~wnae.data.hardware_inputs.hardware_edge_cases`
    (counted as ``hardware edge cases``, not zero bias).

    Returns:
        float32 (n, inputs) model inputs, events per sample, and the mask of the zero-bias events.
    """
    particles, counts, is_zb = collect_events(data_dir, n_events)
    x = run.features(particles)
    if isinstance(run.normaliser, L1HardwareNormaliser):
        edges = hardware_edge_cases()
        x = np.concatenate([x, run.normaliser.transform_hardware(edges)])
        counts = {**counts, "hardware edge cases": len(edges)}
        is_zb = np.concatenate([is_zb, np.zeros(len(edges), bool)])
    return x, counts, is_zb


def _thresholds(run: TrainedRun, model_output: str, reference: np.ndarray, is_zb: np.ndarray, via_gmm: bool) -> tuple:
    from wnae.models.run_files import read_working_points

    wp_path = run.path / "working_points.json"
    if wp_path.is_file() and (model_output == "latent" or not via_gmm):
        return read_working_points(wp_path), f"{wp_path.name} (evaluation)"
    zb = reference[is_zb] if is_zb.any() else reference
    thresholds = {name: float(np.quantile(zb, 1 - rate / INPUT_RATE_KHZ)) for name, rate in FALLBACK_RATES_KHZ.items()}
    rates = ", ".join(f"{k} {v:g} kHz" for k, v in FALLBACK_RATES_KHZ.items())
    return (
        thresholds,
        f"zero-bias quantiles of the exact reference score ({rates}); no working_points.json for this output",
    )


@dataclass
class OutputComparison:
    """The exact reference against a firmware model on the same events (counts over ``n_events`` events).

    Attributes:
        model_output: what was compared: ``score`` or ``latent``.
        n_events: events simulated; per-sample counts in ``events_per_sample``.
        n_outputs: output values compared (n_events × outputs per event).
        n_mismatch: output values that differ.
        max_abs_diff: largest |QKeras − firmware|.
        decision_flips: working point → events whose trigger decision differs.
        thresholds: working point → threshold used; ``threshold_source`` says where they come from.
        reference: what the firmware was compared with.
        qkeras_float32: one line on QKeras float32 against the exact reference
            (``qkeras_float32_exact``, ``qkeras_float32_mismatch`` values, ``qkeras_first_inexact_layer``).
    """

    model_output: str
    n_events: int
    n_outputs: int
    n_mismatch: int
    max_abs_diff: float
    decision_flips: dict[str, int]
    thresholds: dict[str, float]
    threshold_source: str
    events_per_sample: dict[str, int] = field(default_factory=dict)
    reference: str = REFERENCE_NAME
    qkeras_float32: str = ""
    qkeras_float32_exact: bool = True
    qkeras_float32_mismatch: int = 0
    qkeras_first_inexact_layer: str | None = None

    @property
    def bit_exact(self) -> bool:
        return self.n_mismatch == 0 and not any(self.decision_flips.values())

    def lines(self) -> list[str]:
        """The comparison as indented summary lines."""
        flips = ", ".join(f"{wp} (> {self.thresholds[wp]:g}): {n}" for wp, n in self.decision_flips.items())
        return [
            f"  events            {self.n_events} ({', '.join(f'{k} {v}' for k, v in self.events_per_sample.items())})",
            f"  outputs compared  {self.n_outputs}",
            f"  mismatching       {self.n_mismatch}",
            f"  max |difference|  {self.max_abs_diff:g}",
            f"  decision flips    {flips}",
            f"  thresholds from   {self.threshold_source}",
            f"  reference         {self.reference}",
            f"  QKeras float32    {self.qkeras_float32}",
        ]


def compare_outputs(
    run: TrainedRun,
    model_output: str,
    reference: ExactReference,
    y_firmware: np.ndarray,
    is_zero_bias: np.ndarray,
    events_per_sample: dict[str, int] | None = None,
) -> OutputComparison:
    """Compare the exact reference and the firmware value by value and trigger decision by decision.

    Args:
        run: the :class:`~wnae.models.serialization.TrainedRun` (working points, GMM).
        model_output: ``score`` (one value per event) or ``latent`` (scored with the run's GMM).
        reference: :class:`~wnae.fixed_point.reference.ExactReference` of the deployed model on the events.
        y_firmware: (n, outputs) outputs of the firmware.
        is_zero_bias: (n,) which events are zero bias (for thresholds when the run has no working points).
        events_per_sample: events per sample, for the summary.

    Raises:
        FirmwareError: the two outputs do not have the same number of values.
    """
    y_q = np.asarray(reference.outputs, np.float64)
    y_f = np.asarray(y_firmware, np.float64)
    if y_f.size != y_q.size:
        msg = f"firmware gave {y_f.size} output values, QKeras {y_q.size}"
        raise FirmwareError(msg)
    y_f = y_f.reshape(y_q.shape)
    via_gmm = model_output == "score" and run.info["deployed_output"] == "latent"
    if model_output == "latent":
        s_q, s_f = -run.gmm.score_samples(y_q), -run.gmm.score_samples(y_f)
    else:
        s_q, s_f = y_q[:, 0], y_f[:, 0]
    thresholds, source = _thresholds(run, model_output, s_q, is_zero_bias, via_gmm)
    return OutputComparison(
        model_output=model_output,
        n_events=len(y_q),
        n_outputs=int(y_q.size),
        n_mismatch=int(np.sum(y_q != y_f)),
        max_abs_diff=float(np.abs(y_q - y_f).max(initial=0.0)),
        decision_flips={name: int(np.sum((s_q > thr) != (s_f > thr))) for name, thr in thresholds.items()},
        thresholds=thresholds,
        threshold_source=source,
        events_per_sample=dict(events_per_sample or {}),
        qkeras_float32=reference.qkeras_note(),
        qkeras_float32_exact=reference.qkeras_exact,
        qkeras_float32_mismatch=reference.qkeras_mismatch,
        qkeras_first_inexact_layer=reference.first_inexact_layer,
    )
