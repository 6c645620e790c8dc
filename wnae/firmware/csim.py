"""Bit-exact C simulation: the hls4ml project, compiled with g++, against the QKeras model.

Runs ≥ 10k real events (SM test split, zero bias, every signal) through both and compares them in
the fixed-point domain, element by element — and, what matters for a trigger, counts the events
whose trigger decision (score > threshold) differs at each working point.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wnae._io import atomic_path, write_json_atomic
from wnae.errors import FirmwareError, ModelError

__all__ = ["CsimResult", "collect_events", "deployed_model", "run_csim"]

logger = logging.getLogger(__name__)

#: Rates (kHz at 40 MHz) of the zero-bias-quantile thresholds used when a run has no working points.
FALLBACK_RATES_KHZ = {"Loose": 100.0, "Medium": 20.0, "Tight": 1.0}
INPUT_RATE_KHZ = 40_000.0


@dataclass
class CsimResult:
    """Outcome of one C simulation (all counts over ``n_events`` events).

    Attributes:
        project: the hls4ml project directory.
        model_output: what was compared: ``score`` or ``latent``.
        n_events: events simulated; per-sample counts in ``events_per_sample``.
        n_outputs: output values compared (n_events × outputs per event).
        n_mismatch: output values that differ.
        max_abs_diff: largest |QKeras − C simulation|.
        decision_flips: working point → events whose trigger decision differs.
        thresholds: working point → threshold used; ``threshold_source`` says where they come from.
        compile_seconds, csim_events_per_second, qkeras_events_per_second: timings.
        vendor_csim: what happened with the vendor tool's C simulation.
    """

    project: str
    target: str
    model_output: str
    n_events: int
    n_outputs: int
    n_mismatch: int
    max_abs_diff: float
    decision_flips: dict[str, int]
    thresholds: dict[str, float]
    threshold_source: str
    events_per_sample: dict[str, int] = field(default_factory=dict)
    compile_seconds: float = 0.0
    csim_events_per_second: float = 0.0
    qkeras_events_per_second: float = 0.0
    vendor_csim: str = ""

    @property
    def bit_exact(self) -> bool:
        return self.n_mismatch == 0 and not any(self.decision_flips.values())

    def summary(self) -> str:
        lines = [
            f"C simulation of {self.project} (target {self.target}, output: {self.model_output})",
            f"  events            {self.n_events} ({', '.join(f'{k} {v}' for k, v in self.events_per_sample.items())})",
            f"  outputs compared  {self.n_outputs}",
            f"  mismatching       {self.n_mismatch}",
            f"  max |difference|  {self.max_abs_diff:g}",
            f"  decision flips    " + ", ".join(
                f"{wp} (> {self.thresholds[wp]:g}): {n}" for wp, n in self.decision_flips.items()),
            f"  thresholds from   {self.threshold_source}",
            f"  speed             C sim {self.csim_events_per_second:,.0f} ev/s, QKeras {self.qkeras_events_per_second:,.0f}"
            f" ev/s; g++ build {self.compile_seconds:.1f} s",
            f"  vendor C sim      {self.vendor_csim}",
            "  BIT-EXACT" if self.bit_exact else "  MISMATCH: the firmware does not compute what QKeras computes",
        ]
        return "\n".join(lines) + "\n"


def deployed_model(run, target):  # noqa: ANN001, ANN201
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
        logger.warning("only %d events available for the C simulation (asked for %d)", n_events - remaining, n_events)
    particles = np.concatenate([p[: take[s.name]] for s, p in pools])
    is_zb = np.concatenate([np.full(take[s.name], s.role is SampleRole.ZERO_BIAS) for s, _ in pools])
    return particles, {k: v for k, v in take.items() if v}, is_zb


def _thresholds(run, model_output: str, reference: np.ndarray, is_zb: np.ndarray, via_gmm: bool) -> tuple:  # noqa: ANN001
    wp_path = run.path / "working_points.json"
    if wp_path.is_file() and (model_output == "latent" or not via_gmm):
        doc = json.loads(wp_path.read_text())
        return {wp["name"]: float(wp["threshold"]) for wp in doc["working_points"]}, f"{wp_path.name} (evaluation)"
    zb = reference[is_zb] if is_zb.any() else reference
    thresholds = {name: float(np.quantile(zb, 1 - rate / INPUT_RATE_KHZ)) for name, rate in FALLBACK_RATES_KHZ.items()}
    rates = ", ".join(f"{k} {v:g} kHz" for k, v in FALLBACK_RATES_KHZ.items())
    return thresholds, f"zero-bias quantiles of the QKeras score ({rates}); no working_points.json for this output"


def run_csim(
    run_dir: str | Path,
    target,  # noqa: ANN001
    *,
    data_dir: str | Path = "data",
    hls_projects: str | Path = "hls_projects",
    n_events: int = 10_000,
    csim_tool: bool = False,
) -> CsimResult:
    """Convert, compile and simulate; compare with QKeras; write ``csim.json`` and ``csim.md``.

    Args:
        run_dir: a trained run.
        target: :class:`~wnae.firmware.config.FirmwareConfig`.
        data_dir: data directory (events for the comparison and the test bench).
        hls_projects: where the project goes (``<run>-<target>/``).
        n_events: events to simulate (at least).
        csim_tool: also run the vendor C simulation when vivado_hls / vitis-run is on PATH.
    """
    from wnae.firmware.convert import convert_model
    from wnae.firmware.tools import HLS_TOOLS, hls_tool_for, run_hls_build
    from wnae.models.serialization import load_run

    run = load_run(run_dir)
    model, model_output = deployed_model(run, target)
    particles, counts, is_zb = collect_events(data_dir, n_events)
    x = run.features(particles)
    project = Path(hls_projects) / f"{run.name}-{target.name}"
    t0 = time.perf_counter()
    converted = convert_model(model, target, project, tb_inputs=x[: min(len(x), 1000)])
    compile_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    y_q = np.asarray(model.predict(x, batch_size=8192, verbose=0), np.float64)
    qkeras_eps = len(x) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    y_h = np.asarray(converted.hls_model.predict(np.ascontiguousarray(x, dtype=np.float64)), np.float64)
    csim_eps = len(x) / (time.perf_counter() - t0)
    y_h = y_h.reshape(y_q.shape)
    diff = np.abs(y_q - y_h)

    via_gmm = model_output == "score" and run.info["deployed_output"] == "latent"
    if model_output == "latent":
        s_q, s_h = -run.gmm.score_samples(y_q), -run.gmm.score_samples(y_h)
    else:
        s_q, s_h = y_q[:, 0], y_h[:, 0]
    thresholds, source = _thresholds(run, model_output, s_q, is_zb, via_gmm)
    flips = {name: int(np.sum((s_q > thr) != (s_h > thr))) for name, thr in thresholds.items()}

    vendor = "not requested (--csim-tool)"
    if csim_tool:
        tool = hls_tool_for(target.backend)
        if tool is None:
            vendor = f"skipped: {HLS_TOOLS[target.backend]} is not on PATH (g++ C simulation above is hls4ml's own)"
        else:
            build = run_hls_build(project, target.backend, csim=True, synth=False)
            vendor = f"ran {HLS_TOOLS[target.backend]} C simulation, log {build.log_path}"
    if csim_tool and "skipped" in vendor:
        logger.warning("%s", vendor)

    result = CsimResult(
        project=str(project),
        target=str(target.name),
        model_output=model_output,
        n_events=len(x),
        n_outputs=int(y_q.size),
        n_mismatch=int(np.sum(y_q != y_h)),
        max_abs_diff=float(diff.max(initial=0.0)),
        decision_flips=flips,
        thresholds=thresholds,
        threshold_source=source,
        events_per_sample=counts,
        compile_seconds=compile_seconds,
        csim_events_per_second=csim_eps,
        qkeras_events_per_second=qkeras_eps,
        vendor_csim=vendor,
    )
    write_json_atomic(project / "csim.json", {**asdict(result), "bit_exact": result.bit_exact})
    with atomic_path(project / "csim.md") as tmp:
        tmp.write_text(result.summary())
    return result


def require_bit_exact(result: CsimResult) -> None:
    """Raise :class:`FirmwareError` unless the C simulation matched QKeras exactly."""
    if not result.bit_exact:
        msg = (f"C simulation differs from QKeras: {result.n_mismatch} of {result.n_outputs} outputs, max |diff| "
               f"{result.max_abs_diff:g}, decision flips {result.decision_flips}; see {result.project}/csim.md")
        raise FirmwareError(msg)
