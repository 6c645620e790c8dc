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

import contextlib
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

__all__ = ["combine_seeds", "main", "mean_efficiency", "run_candidate", "run_name_for"]

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

    name = spec["id"]
    runs_dir = Path(spec["runs_dir"])
    target = resolve_target(spec["target"])
    eval_cfg = parse_config(EvaluateConfig, spec["evaluate"], source="evaluate config")
    objective = spec["objective"]
    seeds = spec.get("seeds") or [spec["train_config"].get("seed", 0)]
    seconds = {"train": 0.0, "evaluate": 0.0, "cost": 0.0}
    per_seed = []
    for seed in seeds:
        run_name = run_name_for(name, seed)
        shutil.rmtree(runs_dir / run_name, ignore_errors=True)  # an interrupted attempt's partial run
        cfg = train_config({**spec["train_config"], "seed": seed}, source=f"candidate {name}, seed {seed}")

        start = time.perf_counter()
        result = train(cfg, data_dir=spec["data_dir"], runs_dir=runs_dir, name=run_name, progress=False)
        seconds["train"] += time.perf_counter() - start

        start = time.perf_counter()
        signals = evaluate_run(result.run_dir, data_dir=spec["data_dir"], config=eval_cfg).to_dict()["signals"]
        seconds["evaluate"] += time.perf_counter() - start

        start = time.perf_counter()
        model, _ = deployed_model(load_run(result.run_dir), target)
        estimate = estimate_design(model, target)
        seconds["cost"] += time.perf_counter() - start
        per_seed.append(
            {
                "seed": seed,
                "run": run_name,
                "objective": mean_efficiency(signals, objective["working_point"], objective["signals"]),
                "efficiency": {
                    wp: {s: signals[s]["efficiency"][wp]["value"] for s in sorted(signals)}
                    for wp in eval_cfg.working_points
                },
                "auc": {s: signals[s]["auc"] for s in sorted(signals)},
                "cost": {
                    **asdict(estimate),
                    "latency_ns": estimate.latency_ns,
                    "timing_source": estimate.timing_source(),
                    "resource_source": estimate.resource_source(),
                },
                "kernel_sparsity": result.metrics.get("kernel_sparsity", {}),
            }
        )
    return {"status": "ok", **combine_seeds(per_seed), "epochs": cfg.epochs, "seconds": seconds}


def run_name_for(candidate_id: str, seed: int) -> str:
    """The run directory of one seed of a candidate: ``runs/<id>-s<seed>``."""
    return f"{candidate_id}-s{seed}"


def combine_seeds(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One candidate's numbers over its seeds.

    Efficiencies and the objective are averaged (``objective_std``: their spread); the cost is the
    first seed's design (the one ``chosen.yml`` and Yosys reproduce) with the LUT and FF estimates
    averaged and the latency the worst over the seeds (the trained weights move da4ml's adder graph).
    """
    import statistics

    first = per_seed[0]
    objectives = [r["objective"] for r in per_seed]
    efficiency = {
        wp: {s: statistics.fmean(r["efficiency"][wp][s] for r in per_seed) for s in sigs}
        for wp, sigs in first["efficiency"].items()
    }
    cost = dict(first["cost"])
    cost["lut_estimate"] = statistics.fmean(r["cost"]["lut_estimate"] for r in per_seed)
    cost["register_bits"] = round(statistics.fmean(r["cost"]["register_bits"] for r in per_seed))
    worst = max(per_seed, key=lambda r: r["cost"]["latency_cycles"])["cost"]
    cost.update({k: worst[k] for k in ("latency_cycles", "latency_ns", "adder_depth")})
    return {
        "objective": statistics.fmean(objectives),
        "objective_std": statistics.stdev(objectives) if len(objectives) > 1 else 0.0,
        "efficiency": efficiency,
        "auc": {s: statistics.fmean(r["auc"][s] for r in per_seed) for s in first["auc"]},
        "cost": cost,
        "kernel_sparsity": first["kernel_sparsity"],
        "run": first["run"],
        "seeds": per_seed,
    }


#: The environment variable holding the pid of the scan that started the candidate.
SCAN_PID_ENV = "WNAE_SCAN_PID"


def _exit_with_parent(interval_s: float = 0.5) -> None:
    """End this process when the scan that started it is gone (killed, even with SIGKILL): an orphan would
    keep writing into the run directory that the resumed scan gives to the same candidate again.
    The scan's pid comes from the environment, so a scan killed before this process got here is noticed too."""
    import os
    import threading

    parent = int(os.environ.get(SCAN_PID_ENV, "0") or 0)
    if not parent:
        return  # started by hand
    if os.getppid() != parent:
        os._exit(3)

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_on_worker(args: Sequence[str], log_path: str, stop_event: str, poll_s: float = 0.5) -> int:
    """A Dask task: run ``python -m wnae.scan.candidate *args`` on this worker, log into ``log_path``,
    and kill it when the scan sets the Dask ``Event`` named ``stop_event``. Returns its exit status.

    The process watches this worker (:func:`_exit_with_parent`), so a worker that dies takes it along.
    """
    import os
    import signal
    import subprocess

    from distributed import Event

    stop = Event(stop_event)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", SCAN_PID_ENV: str(os.getpid())}
    with Path(log_path).open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wnae.scan.candidate", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            while process.poll() is None:
                if stop.wait(timeout=poll_s):
                    break
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: python -m wnae.scan.candidate SPEC.json RESULT.json\n")
        return 2
    import json

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(args[0]).read_text())
    _exit_with_parent()
    start = time.perf_counter()
    try:
        result = run_candidate(spec)
    except Exception as exc:
        logger.exception("candidate %s failed", spec.get("id"))
        lines = traceback.format_exception_only(type(exc), exc)
        result = {"status": "failed", "error": "".join(lines).strip(), "error_type": type(exc).__name__}
    result = {
        "id": spec["id"],
        "key": spec["key"],
        "params": spec["params"],
        **result,
        "wall_s": time.perf_counter() - start,
    }
    write_json_atomic(args[1], result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
