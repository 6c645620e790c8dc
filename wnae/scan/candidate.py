"""One scan candidate, in its own process: train briefly, evaluate at fixed rate, cost with da4ml.

``python -m wnae.scan.candidate SPEC.json RESULT.json`` reads the candidate (its train config, the
data, the evaluate config, the target), and writes its result atomically: ``status: ok`` with the
efficiencies per signal and working point (:func:`wnae.evaluate.run.evaluate_run`, the code of
``wnae evaluate``), the objective and da4ml's latency and LUT estimate
(:func:`wnae.firmware.rtl.estimate_design`), or ``status: failed`` with the error (a diverged
training, a model da4ml cannot trace, a bad combination of values). A result file is written in
every case but a killed process; the scan treats a missing one as unfinished.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from wnae._io import write_json_atomic

__all__ = ["main", "mean_efficiency", "run_candidate"]

logger = logging.getLogger(__name__)


def mean_efficiency(signals: Mapping[str, Mapping[str, Any]], working_point: str, names: Sequence[str]) -> float:
    """The objective: the mean over ``names`` (default every signal) of the efficiency at ``working_point``."""
    from wnae.errors import ConfigError

    chosen = list(names) or sorted(signals)
    missing = [n for n in chosen if n not in signals]
    if missing:
        msg = f"objective.signals: {', '.join(missing)} not in the data (signals: {', '.join(sorted(signals))})"
        raise ConfigError(msg)
    return float(sum(signals[n]["efficiency"][working_point]["value"] for n in chosen) / len(chosen))


def run_candidate(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Train, evaluate and cost one candidate; its result (raises on any failure)."""
    from wnae.config import parse_config
    from wnae.evaluate.config import EvaluateConfig
    from wnae.evaluate.run import evaluate_run
    from wnae.firmware.compare import deployed_model
    from wnae.firmware.config import resolve_target
    from wnae.firmware.rtl import estimate_design
    from wnae.models.serialization import load_run
    from wnae.scan.space import train_config
    from wnae.train.loop import train

    seconds: dict[str, float] = {}
    name = spec["id"]
    runs_dir = Path(spec["runs_dir"])
    shutil.rmtree(runs_dir / name, ignore_errors=True)  # an interrupted attempt's partial run
    cfg = train_config(spec["train_config"], source=f"candidate {name}")
    target = resolve_target(spec["target"])
    eval_cfg = parse_config(EvaluateConfig, spec["evaluate"], source="evaluate config")

    start = time.perf_counter()
    result = train(cfg, data_dir=spec["data_dir"], runs_dir=runs_dir, name=name, progress=False)
    seconds["train"] = time.perf_counter() - start

    start = time.perf_counter()
    evaluation = evaluate_run(result.run_dir, data_dir=spec["data_dir"], config=eval_cfg).to_dict()
    seconds["evaluate"] = time.perf_counter() - start
    objective = spec["objective"]
    signals = evaluation["signals"]

    start = time.perf_counter()
    run = load_run(result.run_dir)
    model, _ = deployed_model(run, target)
    estimate = estimate_design(model, target)
    seconds["cost"] = time.perf_counter() - start
    return {
        "status": "ok",
        "objective": mean_efficiency(signals, objective["working_point"], objective["signals"]),
        "efficiency": {wp: {s: signals[s]["efficiency"][wp]["value"] for s in sorted(signals)}
                       for wp in eval_cfg.working_points},
        "auc": {s: signals[s]["auc"] for s in sorted(signals)},
        "cost": {**asdict(estimate), "latency_ns": estimate.latency_ns,
                 "timing_source": estimate.timing_source(), "resource_source": estimate.resource_source()},
        "kernel_sparsity": result.metrics.get("kernel_sparsity", {}),
        "epochs": cfg.epochs,
        "seconds": seconds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: python -m wnae.scan.candidate SPEC.json RESULT.json\n")
        return 2
    import json

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(args[0]).read_text())
    start = time.perf_counter()
    try:
        result = run_candidate(spec)
    except Exception as exc:  # noqa: BLE001 (every failure of a candidate is recorded, the scan goes on)
        logger.exception("candidate %s failed", spec.get("id"))
        lines = traceback.format_exception_only(type(exc), exc)
        result = {"status": "failed", "error": "".join(lines).strip(), "error_type": type(exc).__name__}
    result = {"id": spec["id"], "key": spec["key"], "params": spec["params"], **result,
              "wall_s": time.perf_counter() - start}
    write_json_atomic(args[1], result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
