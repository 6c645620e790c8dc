"""What a design scan cost and found: time per candidate and per step, Yosys per front design, the front's span.

    .venv/bin/python benchmarks/bench_scan.py [SCAN_DIR]     # default scans/two_stage (make scan)

Reads a finished ``wnae scan`` directory (``pareto.json``, ``candidates/*.result.json``, the front's
``rtl.json``) and prints: candidates finished and failed; the wall time of one candidate (mean,
and its split into training, evaluation and da4ml costing); candidates per hour at the scan's
``jobs``; the Yosys time of each synthesised front design; the front from its cheapest to its most
efficient design in LUT and % of the part; and the base design against the front. Run ``make scan``
first (~50 min on 2 cores).
"""


from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scan_dir", nargs="?", type=Path, default=Path("scans/two_stage"))
    args = parser.parse_args()
    doc = json.loads((args.scan_dir / "pareto.json").read_text())
    records = doc["candidates"]
    ok = [r for r in records.values() if r["status"] == "ok"]
    print(f"scan {args.scan_dir}: {len(records)} candidates, {len(ok)} trained, {len(records) - len(ok)} failed, "
          f"seeds {doc['scan'].get('seeds') or 'base'}, jobs {doc['scan']['jobs'] or 'one per core'}")
    walls = [r["wall_s"] for r in ok if r.get("wall_s")]
    steps = {k: statistics.fmean(r["seconds"][k] for r in ok) for k in ("train", "evaluate", "cost")}
    print(f"one candidate: {statistics.fmean(walls):.0f} s wall (median {statistics.median(walls):.0f} s): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()) + " (all seeds; the rest: process start-up)")
    for r in ok:
        if r.get("yosys"):
            rtl = json.loads((args.scan_dir / "hls_projects" / f"{r['run']}-{doc['target']}" / "rtl" / "rtl.json")
                             .read_text())
            sec = rtl["seconds"]
            print(f"  {r['id']}: Yosys {r['yosys']['lut']:,} LUT (da4ml est. {r['lut_estimate']:,.0f}) in "
                  f"{sec.get('yosys', 0) / 60:.1f} min; Verilator build {sec.get('verilator build', 0):.0f} s")
    front = [records[c] for c in doc["front"]]
    if front:
        lo, hi = front[0], front[-1]
        print(f"front: {len(front)} designs, {lo['lut_estimate']:,.0f} LUT ({100 * (lo['lut_fraction'] or 0):.2f} %"
              f" as counted) at {100 * lo['objective']:.2f} % to {hi['lut_estimate']:,.0f} LUT at "
              f"{100 * hi['objective']:.2f} % (objective: {doc['objective']['working_point']})")
    base = next((r for r in ok if r["baseline"]), None)
    if base is not None:
        print(f"base design {base['id']}: {100 * base['objective']:.2f} ± {100 * base['objective_std']:.2f} % at "
              f"{base['lut_estimate']:,.0f} LUT (est.), latency by seed {base.get('latency_by_seed')}")
    if doc.get("chosen"):
        c = records[doc["chosen"]]
        print(f"chosen {c['id']}: {100 * c['objective']:.2f} ± {100 * c['objective_std']:.2f} % at {c['lut']:,.0f} LUT "
              f"[{c['resources_source']}], {c['latency_cycles']} cycles")


if __name__ == "__main__":
    main()
