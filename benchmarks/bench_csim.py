"""Convert + g++ compile time and C-simulation vs QKeras vs exact-reference throughput for trained runs.

    .venv/bin/python benchmarks/bench_csim.py [RUN ...] [--target gt_run3] [--events 10000]

Default: every finished run in runs/. Prints one line per run; the comparison itself (bit-exact or
not) is the same as ``wnae csim``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from wnae.firmware.config import resolve_target
from wnae.firmware.csim import run_csim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--target", default="gt_run3")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--hls-projects", type=Path, default=Path("/tmp/wnae-bench-hls"))
    args = parser.parse_args()
    runs = args.runs or sorted(p.parent for p in Path("runs").glob("*/run.json"))
    target = resolve_target(args.target)
    print(f"target {target.name} ({target.backend}, {target.part}), {args.events} events")
    print(f"{'run':<28} {'convert+g++ s':>13} {'C sim ev/s':>11} {'QKeras ev/s':>12} {'exact ref ev/s':>14} "
          f"{'total s':>8} {'bit-exact':>9} {'QKeras float32 exact':>20}")
    for run in runs:
        t0 = time.perf_counter()
        r = run_csim(run, target, data_dir=args.data_dir, hls_projects=args.hls_projects, n_events=args.events)
        total = time.perf_counter() - t0
        print(f"{run.name:<28} {r.compile_seconds:13.1f} {r.csim_events_per_second:11,.0f} "
              f"{r.qkeras_events_per_second:12,.0f} {r.reference_events_per_second:14,.0f} {total:8.1f} "
              f"{r.bit_exact!s:>9} {r.qkeras_float32_exact!s:>20}")


if __name__ == "__main__":
    main()
