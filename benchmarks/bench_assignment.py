"""The exact assignment on a trained WNAE's own problems: lapjv against SciPy, on this machine.

    .venv/bin/python benchmarks/bench_assignment.py RUN_DIR [--data-dir data] [--sizes 512,1000] [--reps 5]

For a two-stage or full-input WNAE run, draws ``reps`` problems of each size from its held-out events
(in the space the energy lives in) and its last replay buffer, and prints the milliseconds per solve
(median, min–max) of each implementation of :func:`wnae.models.transport.assignment_columns` for the
two kinds of problem a run solves: data against negatives (every training step and the fit
diagnostics) and data against data (the two-sample floor). Which implementation is faster depends on
the CPU and on the problem; ``mcmc.assignment_backend`` names the training step's, and the fit
diagnostics take the faster (``auto``). Both must find the same optimal cost: the script says so.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import ot


def _solve_times(cost: np.ndarray, backends: tuple[str, ...]) -> tuple[dict[str, float], dict[str, float]]:
    from wnae.models import transport

    seconds, totals = {}, {}
    for backend in backends:
        t0 = time.perf_counter()
        cols = transport.assignment_columns(cost, backend)
        seconds[backend] = time.perf_counter() - t0
        totals[backend] = float(cost[np.arange(len(cost)), cols].sum())
    return seconds, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--sizes", default="512,1000")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()

    from wnae.config import load_config
    from wnae.models import transport
    from wnae.models.config import TrainConfig
    from wnae.models.serialization import CHECKPOINT_DIR, CHECKPOINT_STATE, load_training_model
    from wnae.train.data_source import MemorySource

    cfg = load_config(args.run_dir / "config.yml", TrainConfig)
    family = load_training_model(args.run_dir)
    events = family.sample_space(MemorySource(args.data_dir, cfg).validation_sample)
    buffer = np.load(args.run_dir / CHECKPOINT_DIR / CHECKPOINT_STATE)["replay_buffer"]
    backends = transport.ASSIGNMENT_BACKENDS
    for backend in backends:  # imports and first-call costs outside the timing
        transport.assignment_columns(np.zeros((2, 2)), backend)
    rng = np.random.default_rng(0)
    print(f"run {args.run_dir}: {len(events)} held-out events, {len(buffer)} negatives in the buffer")
    print(f"{'problem':>22} {'n':>5} " + " ".join(f"{b + ' ms':>18}" for b in backends) + "  same optimum")
    for n in (int(v) for v in args.sizes.split(",")):
        for kind in ("data vs negatives", "data vs data"):
            times: dict[str, list[float]] = {b: [] for b in backends}
            same = True
            for _ in range(args.reps):
                x = events[rng.choice(len(events), n, replace=False)]
                y = (
                    buffer[rng.choice(len(buffer), n, replace=False)]
                    if kind == "data vs negatives"
                    else (events[rng.choice(len(events), n, replace=False)])
                )
                seconds, totals = _solve_times(ot.dist(x.astype(np.float64), y.astype(np.float64)), backends)
                for b in backends:
                    times[b].append(1e3 * seconds[b])
                same &= np.allclose(list(totals.values()), totals[backends[0]], rtol=1e-9)
            cells = " ".join(f"{np.median(t):>6.1f} ({min(t):.0f}–{max(t):.0f})".rjust(18) for t in times.values())
            print(f"{kind:>22} {n:>5} {cells}  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
