"""After the search: the Pareto front, Yosys on its designs, the budget check of each, the chosen design.

The front is taken over the candidates that trained and meet the target's latency and II budget,
on (objective ↑, da4ml LUT estimate ↓): every candidate has those two numbers, measured the same
way. Yosys then synthesises the front's designs (``wnae rtl`` in a subprocess each: Verilog,
bit-exact Verilator simulation, ``synth_xilinx``), and every number in the table says where it
comes from. The chosen design is picked by :class:`~wnae.scan.config.SelectConfig` among the front
designs that pass the whole budget check, with the Yosys numbers where they exist.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wnae.firmware.rtl.flow import RtlResult

__all__ = [
    "DesignCheck",
    "budget_check",
    "choose",
    "load_synthesis",
    "pareto_front",
    "pareto_layers",
    "synthesise_front",
]

logger = logging.getLogger(__name__)


def pareto_front(points: Sequence[tuple[str, float, float]]) -> list[str]:
    """Ids of the non-dominated points of ``(id, objective to maximise, cost to minimise)``, cheapest first.

    Example:
        >>> pareto_front([("a", 0.5, 10), ("b", 0.4, 5), ("c", 0.3, 8), ("d", 0.6, 10), ("e", 0.6, 12)])
        ['b', 'd']
    """
    front, best = [], float("-inf")
    for pid, objective, _ in sorted(points, key=lambda p: (p[2], -p[1])):
        if objective > best:
            front.append(pid)
            best = objective
    return front


def pareto_layers(points: Sequence[tuple[str, float, float]], n: int) -> list[str]:
    """Ids of the first Pareto layers (non-dominated sorting) until at least ``n`` are collected.

    Example:
        >>> pareto_layers([("a", 0.5, 10), ("b", 0.4, 5), ("c", 0.3, 8), ("d", 0.6, 10), ("e", 0.6, 12)], 3)
        ['b', 'd', 'c', 'a', 'e']
    """
    left = list(points)
    out: list[str] = []
    while left and len(out) < n:
        layer = pareto_front(left)
        out += layer
        left = [p for p in left if p[0] not in layer]
    return out


@dataclass
class DesignCheck:
    """One design's budget check: the verdict, its markdown table, and which numbers it used."""

    verdict: str
    within: bool
    markdown: str
    resources_from: str


def budget_check(result: dict[str, Any], target: Any, rtl: Any | None) -> DesignCheck:
    """The target's budget check on the Yosys numbers (``rtl``, a :class:`RtlResult`) or else da4ml's estimate."""
    from wnae.firmware.budgets import check_budget
    from wnae.firmware.rtl import DesignEstimate

    if rtl is not None:
        report, source = rtl.synth_report(), "Yosys"
    else:
        cost = {k: v for k, v in result["cost"].items() if k not in ("latency_ns", "timing_source", "resource_source")}
        report, source = DesignEstimate(**cost).synth_report(), "da4ml estimate"
    check = check_budget(report, target)
    return DesignCheck(check.verdict, check.exit_code == 0, check.to_markdown(), source)


def choose(front: Sequence[str], records: dict[str, dict[str, Any]], tolerance: float) -> str | None:
    """The fewest-LUT front design within budget whose objective is at most ``tolerance`` below the best such."""
    ok = [cid for cid in front if records[cid]["within_budget"]]
    if not ok:
        return None
    best = max(records[cid]["objective"] for cid in ok)
    near = [cid for cid in ok if records[cid]["objective"] >= best - tolerance - 1e-12]
    return min(near, key=lambda cid: (records[cid]["lut"], -records[cid]["objective"]))


def load_synthesis(hls_projects: Path, run_name: str, target_name: str) -> RtlResult | None:
    """The ``wnae rtl`` result (bit-exact, with Yosys numbers) of a run, if there is one."""
    from wnae.errors import FirmwareError
    from wnae.firmware.rtl import load_rtl_result

    path = hls_projects / f"{run_name}-{target_name}" / "rtl"
    if not (path / "rtl.json").is_file():
        return None
    with contextlib.suppress(FirmwareError):
        rtl = load_rtl_result(path)
        if rtl.resources is not None and rtl.bit_exact:  # a design that does not simulate bit for bit has no numbers
            return rtl
    return None


def synthesise_front(
    runs: Mapping[str, str],
    *,
    runs_dir: Path,
    hls_projects: Path,
    logs_dir: Path,
    data_dir: Path,
    target_ref: str,
    target_name: str,
    jobs: int,
    events: int,
    timeout_min: float,
    yosys: str | None,
) -> dict[str, str]:
    """Run ``wnae rtl`` (Verilog, Verilator, Yosys) for each design not synthesised yet, ``jobs`` at a time.

    Args:
        runs: design id → the run to synthesise (its first seed's), in the order to run them.

    Returns:
        design id → error message, for the designs whose RTL flow failed (the others' ``rtl.json`` is written).
    """
    todo = [cid for cid, run in runs.items() if load_synthesis(hls_projects, run, target_name) is None]
    errors: dict[str, str] = {}
    running: list[tuple[str, subprocess.Popen, float, Any]] = []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        while todo or running:
            while todo and len(running) < jobs:
                cid = todo.pop(0)
                log = (logs_dir / f"{cid}.rtl.log").open("w")
                cmd = [
                    sys.executable,
                    "-m",
                    "wnae",
                    "rtl",
                    str(runs_dir / runs[cid]),
                    "--target",
                    target_ref,
                    "--data-dir",
                    str(data_dir),
                    "--output-dir",
                    str(hls_projects),
                    "--events",
                    str(events),
                ]
                if yosys:
                    cmd += ["--yosys", yosys]
                logger.info("synthesising %s: %s", cid, " ".join(cmd[2:]))
                running.append(
                    (
                        cid,
                        subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True),
                        time.monotonic(),
                        log,
                    )
                )
            time.sleep(1.0)
            for item in list(running):
                cid, process, started, log = item
                late = time.monotonic() - started > 60 * timeout_min
                if process.poll() is None and not late:
                    continue
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, 9)
                    process.wait()
                running.remove(item)
                log.close()
                if late:
                    errors[cid] = f"stopped after {timeout_min:g} min (synth.timeout_min)"
                elif load_synthesis(hls_projects, runs[cid], target_name) is None:
                    tail = (logs_dir / f"{cid}.rtl.log").read_text(errors="replace").strip().splitlines()[-3:]
                    errors[cid] = f"wnae rtl exited with status {process.returncode}: " + " | ".join(tail)
                if cid in errors:
                    logger.warning("synthesis of %s failed: %s", cid, errors[cid])
    except BaseException:
        for _, process, _, log in running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, 9)
            process.wait()
            log.close()
        raise
    return errors
