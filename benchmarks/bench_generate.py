"""Time per event of each generator stage, on one core: Pythia (with the visible particles and their
production vertices), pile-up overlay, L1 emulation, PF candidates, HDF5 writing (L1 objects and PF
candidates); plus, for comparison, the old overlay (``merge_events``) and the L1 emulation with anti-kT
(FastJet) jets instead of the default sliding window.

    .venv/bin/python benchmarks/bench_generate.py [--events 1000] [--pileup 60] [--samples zero_bias,qcd]

Prints ms/event per stage and events/s per core (``make data`` runs one worker per core).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from wnae.data.generate.l1 import L1Config, emulate_l1
from wnae.data.generate.particles import ParticleBlock
from wnae.data.generate.pf import PFConfig, build_pf_candidates
from wnae.data.generate.processes import PROCESSES
from wnae.data.generate.pythia import PythiaRunner
from wnae.data.io import EventSet, EventWriter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--pileup", type=float, default=60.0)
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--samples", default="zero_bias,qcd,ttbar")
    args = parser.parse_args()

    t0 = time.perf_counter()
    pool = PythiaRunner(PROCESSES["zero_bias"].settings, 99).next_batch(args.pool)
    print(f"pile-up pool: {args.pool} minimum-bias events in {time.perf_counter() - t0:.1f} s (incl. init)")
    cfg = L1Config()
    anti_kt = L1Config(jet_algorithm="anti_kt")
    emulate_l1(ParticleBlock.empty(1), [np.random.default_rng(0)], cfg)  # load the compiled kernels
    pf_cfg = PFConfig()
    build_pf_candidates(ParticleBlock.empty(1), [np.random.default_rng(0)], pf_cfg)  # compiled kernel
    head = ["pythia", "overlay", "(old overlay)", "L1", "(L1 anti-kT)", "PF", "write", "total ms", "ev/s/core",
            "(no PF)"]
    print(f"{'sample':<11} " + " ".join(f"{h:>13}" for h in head) + "   (ms/event)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.samples.split(","):
            n = args.events
            runner = PythiaRunner(PROCESSES[name].settings, 11)
            t0 = time.perf_counter()
            hard = runner.next_batch(n)
            t_pythia = time.perf_counter() - t0
            rngs = [np.random.default_rng([1, i]) for i in range(n)]
            n_pu = np.array([r.poisson(args.pileup) for r in rngs])
            index = np.concatenate([r.integers(pool.n_events, size=k) for r, k in zip(rngs, n_pu, strict=True)])
            # best of 3: the first calls of a process pay page faults on ~0.5 GB of fresh arrays, a
            # generator worker pays them once for all its blocks
            t_overlay = t_old = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                merged = hard.overlay(pool, index, n_pu)
                t_overlay = min(t_overlay, time.perf_counter() - t0)
                t0 = time.perf_counter()
                ParticleBlock.merge_events([hard, pool.take(index)], [np.arange(n), np.repeat(np.arange(n), n_pu)])
                t_old = min(t_old, time.perf_counter() - t0)
            t0 = time.perf_counter()
            emulate_l1(merged, rngs, anti_kt)
            t_akt = time.perf_counter() - t0
            rngs = [np.random.default_rng([1, i]) for i in range(n)]
            t0 = time.perf_counter()
            particles = emulate_l1(merged, rngs, cfg)
            t_l1 = time.perf_counter() - t0
            t0 = time.perf_counter()
            pf = build_pf_candidates(merged, [np.random.default_rng([2, i]) for i in range(n)], pf_cfg)
            t_pf = time.perf_counter() - t0
            t0 = time.perf_counter()
            with EventWriter(Path(tmp) / f"{name}.h5", with_pthat=True) as w:
                w.append(EventSet(particles, np.zeros(n), np.full(n, name), pthat_gev=merged.pthat))
            t_write_l1 = time.perf_counter() - t0
            t0 = time.perf_counter()
            with EventWriter(Path(tmp) / f"{name}_pf.h5", with_pthat=True, pf_max_candidates=pf_cfg.n_max) as w:
                w.append(EventSet(particles, np.zeros(n), np.full(n, name), pthat_gev=merged.pthat, pf_cands=pf))
            t_write = time.perf_counter() - t0
            total = t_pythia + t_overlay + t_l1 + t_pf + t_write
            without_pf = t_pythia + t_overlay + t_l1 + t_write_l1
            ms = [t_pythia, t_overlay, t_old, t_l1, t_akt, t_pf, t_write, total]
            sizes = [(Path(tmp) / f"{name}{x}.h5").stat().st_size / n for x in ("", "_pf")]
            print(f"{name:<11} " + " ".join(f"{1e3 * t / n:13.2f}" for t in ms) + f" {n / total:13.1f}"
                  f" {n / without_pf:13.1f}   file {sizes[0]:.0f} -> {sizes[1]:.0f} B/event")


if __name__ == "__main__":
    main()
