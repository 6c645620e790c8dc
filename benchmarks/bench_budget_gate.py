"""The budget-constrained epoch selection of trained runs: how many of the best-ranked epochs fit, and its cost.

    .venv/bin/python benchmarks/bench_budget_gate.py RUN [RUN ...] [--target gt_run3] [--limit 10]

A run trained with ``firmware_budget`` keeps the best-ranked epoch (lowest selection score, no
signal) whose deployed model da4ml places within the target's budget, and saves the weights of its
best-ranked epochs under ``checkpoints/candidates/``. For each run this restores every saved
candidate and prints its rank, selection score, adder depth, cycles, da4ml LUT estimate, verdict
and the seconds the check took (save/load of the model, trace, pipelining, budget check): how
much room the selection has, and what it costs ``make train``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from wnae.firmware.budgets import check_budget
from wnae.firmware.config import resolve_target
from wnae.firmware.parts import part_capacity
from wnae.firmware.rtl import estimate_design
from wnae.models.serialization import CHECKPOINT_DIR, load_qkeras_model, load_training_model, save_qkeras_model
from wnae.train.loop import CANDIDATE_CHECKPOINTS


def _ranked(history: dict[str, list[float | None]]) -> list[int]:
    scores = history.get("selection_score", [])
    measured = [(s, e + 1) for e, s in enumerate(scores) if s is not None]
    return [e for _, e in sorted(measured)]


def bench_run(run_dir: Path, target_name: str, limit: int) -> None:
    import tensorflow as tf

    target = resolve_target(target_name)
    capacity = part_capacity(target.part)
    assert capacity is not None, target.part
    history = json.loads((run_dir / "history.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    saved = sorted(int(p.name) for p in (run_dir / CHECKPOINT_DIR / CANDIDATE_CHECKPOINTS).glob("[0-9]*"))
    rank = {e: i + 1 for i, e in enumerate(_ranked(history))}
    family = load_training_model(run_dir)
    print(f"{run_dir.name}: kept epoch {metrics['kept_epoch']}; {len(saved)} candidates saved; target {target.name}")
    print(f"  {'rank':>4} {'epoch':>5} {'score':>6} {'levels':>6} {'cycles':>6} {'LUT':>7} {'verdict':<14} {'s':>5}")
    fits = 0
    for epoch in sorted(saved, key=lambda e: rank.get(e, 10**6))[:limit]:
        prefix = run_dir / CHECKPOINT_DIR / CANDIDATE_CHECKPOINTS / f"{epoch:04d}" / "weights"
        tf.train.Checkpoint(**family.networks).read(str(prefix)).assert_existing_objects_matched()
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            save_qkeras_model(family.deploy_model(), Path(tmp) / "deploy.h5")
            model = load_qkeras_model(Path(tmp) / "deploy.h5")
        estimate = estimate_design(model, target)
        check = check_budget(estimate.synth_report(), target)
        seconds = time.perf_counter() - start
        fits += check.exit_code == 0
        lut = 100 * estimate.lut_estimate / capacity.lut
        score = history["selection_score"][epoch - 1]
        print(
            f"  {rank.get(epoch, 0):>4} {epoch:>5} {score:>6.3f} {estimate.adder_depth:>6g} "
            f"{estimate.latency_cycles:>6} {lut:>6.2f}% {check.verdict:<14} {seconds:>5.1f}"
        )
    print(f"  {fits} of the {min(limit, len(saved))} best-ranked candidates within budget")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories trained with firmware_budget")
    parser.add_argument("--target", default="gt_run3", help="firmware target (default gt_run3)")
    parser.add_argument("--limit", type=int, default=10, help="check the best LIMIT candidates (default 10)")
    args = parser.parse_args()
    for run in args.runs:
        bench_run(run, args.target, args.limit)


if __name__ == "__main__":
    main()
