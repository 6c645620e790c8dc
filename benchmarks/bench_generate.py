"""Events/s of each generator stage per process, on one core: Pythia, pile-up overlay, L1 emulation.

    .venv/bin/python benchmarks/bench_generate.py [--events 300] [--pileup 60] [--samples dy,qcd]

Prints one line per process; the numbers are per core (``make data`` runs one worker per core).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from wnae.data.generate.l1 import L1Config, emulate_l1
from wnae.data.generate.pileup import overlay_pileup
from wnae.data.generate.processes import PROCESSES
from wnae.data.generate.pythia import PythiaRunner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--pileup", type=float, default=60.0)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--samples", default=",".join(PROCESSES))
    args = parser.parse_args()

    t0 = time.perf_counter()
    pool = PythiaRunner(PROCESSES["zero_bias"].settings, 99).next_batch(args.pool)
    print(f"pile-up pool: {args.pool} minimum-bias events in {time.perf_counter() - t0:.1f} s (incl. init)")
    cfg = L1Config()
    print(f"{'sample':<13} {'init s':>7} {'pythia ev/s':>12} {'overlay ev/s':>13} {'L1 ev/s':>9} {'total ev/s':>11}")
    for name in args.samples.split(","):
        t0 = time.perf_counter()
        runner = PythiaRunner(PROCESSES[name].settings, 11)
        t_init = time.perf_counter() - t0
        t0 = time.perf_counter()
        hard = runner.next_batch(args.events)
        t_pythia = time.perf_counter() - t0
        rngs = [np.random.default_rng([1, i]) for i in range(args.events)]
        t0 = time.perf_counter()
        merged, _ = overlay_pileup(hard, pool, args.pileup, rngs)
        t_overlay = time.perf_counter() - t0
        t0 = time.perf_counter()
        emulate_l1(merged, rngs, cfg)
        t_l1 = time.perf_counter() - t0
        n = args.events
        total = t_pythia + t_overlay + t_l1
        print(f"{name:<13} {t_init:7.2f} {n / t_pythia:12.1f} {n / t_overlay:13.1f} {n / t_l1:9.1f} {n / total:11.1f}")


if __name__ == "__main__":
    main()
