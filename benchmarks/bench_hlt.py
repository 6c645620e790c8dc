"""HLT latency of each trained encoder + GMM on this CPU, and its cost on a fixed event loop.

    .venv/bin/python benchmarks/bench_hlt.py [RUN ...] [--data-dir data] [--events 2048]
        [--seed-fraction F] [--menu-events-per-s 481.6]

For each HLT run (default: every ``hlt_runs/*-s0``):

1. **Latency**: the score (inputs, compiled encoder, GMM) of one zero-bias event at a time
   (median and 90 % quantile of 200 calls) and batched (256 events per call, best of 3 passes),
   in ms/event (:func:`wnae.hlt.timing.measure_latency`).
2. **Event loop**: ``--events`` zero-bias events processed one at a time as an HLT process would:
   unpack the event's PF candidates and L1 objects (the base path), and for the share
   ``--seed-fraction`` of events that the L1 anomaly seed accepted (every k-th event: the cost
   does not depend on which) run the encoder + GMM. Prints events/s without and with the HLT path.
   The default fraction is the Medium seed's share of the Run-3 L1 accept rate, 20 / 110 kHz.
3. **ONNX Runtime** (what CMSSW's HLT runs): the run exported as one graph (``wnae export onnx``,
   PF transforms + encoder + GMM) on one thread: ms/event at batch 1 (median, 90 % quantile of 200
   calls) and events/s in batches of 256 (:func:`wnae.hlt.onnx.onnx_latency`).
4. **Projection onto a full HLT menu** of ``--menu-events-per-s`` (the design's 481.6 events/s per
   process): 1 / (1/481.6 s + f × t_batch1), at our f and at the design's (its 481.6 → 477.7 events/s
   with ~4 ms/event imply f = (1/477.7 − 1/481.6) s / 4 ms = 0.42 %).

``print`` is fine here: benchmarks are scripts, not library code.
"""


from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _loop(events, score, every: int, reads_pf: bool) -> float:
    """events/s of the event-by-event loop; ``score`` runs on every ``every``-th event (never if 0)."""
    pf, l1 = events.pf_cands, events.particles
    t0 = time.perf_counter()
    for i in range(len(l1)):
        cands = np.asarray(pf[i:i + 1], dtype=np.float32)  # the base path: unpack the event
        objects = np.asarray(l1[i:i + 1], dtype=np.float32)
        if every and i % every == 0:
            score(cands if reads_pf else objects)
    return len(l1) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", type=Path, help="HLT run directories (default hlt_runs/*-s0)")
    p.add_argument("--data-dir", type=Path, default=ROOT / "data")
    p.add_argument("--events", type=int, default=2048)
    p.add_argument("--seed-fraction", type=float, default=20.0 / 110.0,
                   help="share of the HLT input events the L1 anomaly seed accepted (default 20/110)")
    p.add_argument("--menu-events-per-s", type=float, default=481.6)
    args = p.parse_args(argv)

    from wnae.data.io import read_events
    from wnae.data.samples import SampleRole, load_manifest
    from wnae.hlt.model import load_hlt_run
    from wnae.hlt.timing import compiled_scorer, measure_latency
    from wnae.train.loop import configure_threads

    configure_threads(0, 0)
    runs = args.runs or sorted((ROOT / "hlt_runs").glob("*-s0"))
    if not runs:
        print("no HLT runs: train some with 'make hlt-train' or 'make hlt-compare'", file=sys.stderr)
        return 2
    zb = next(s for s in load_manifest(args.data_dir) if s.role is SampleRole.ZERO_BIAS)
    events = read_events(zb.path(args.data_dir), stop=args.events, with_pf=True)
    every = max(1, round(1.0 / args.seed_fraction)) if args.seed_fraction > 0 else 0
    f = 1.0 / every if every else 0.0
    print(f"{len(events)} zero-bias events of {zb.path(args.data_dir)}; HLT path on 1 event in {every} (f = {f:.3f})")
    design_f = (1 / 477.7 - 1 / 481.6) / 4e-3
    print(f"{'run':<18} {'params':>9} {'batch 1 ms':>11} {'p90 ms':>8} {'batched ms':>11} "
          f"{'loop ev/s':>10} {'+ HLT ev/s':>11} {'menu ev/s':>14} {f'at f = {design_f:.2%}':>14}")
    for run_dir in runs:
        run = load_hlt_run(run_dir)
        raw = events.pf_cands if run.config.encoder.reads_pf else events.particles
        lat = measure_latency(run, raw)
        score = compiled_scorer(run)
        score(raw[:1])
        reads_pf = run.config.encoder.reads_pf
        base = _loop(events, score, 0, reads_pf)
        with_hlt = _loop(events, score, every, reads_pf)
        menu = 1.0 / (1.0 / args.menu_events_per_s + f * lat.batch1_ms * 1e-3)
        menu_design = 1.0 / (1.0 / args.menu_events_per_s + design_f * lat.batch1_ms * 1e-3)
        print(f"{run.name:<18} {run.info.get('parameters', 0):>9,} {lat.batch1_ms:>11.3f} {lat.batch1_p90_ms:>8.3f} "
              f"{lat.batched_ms:>11.4f} {base:>10.0f} {with_hlt:>11.0f} {args.menu_events_per_s:>6.1f} → {menu:.1f} "
              f"{menu_design:>14.1f}")

    import tempfile

    from wnae.hlt.onnx import export_onnx, graph_inputs, onnx_latency, onnx_session

    print(f"\nONNX Runtime, 1 thread\n{'run':<18} {'batch 1 ms':>11} {'p90 ms':>8} {'ev/s at 256':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for run_dir in runs:
            run = load_hlt_run(run_dir)
            export = export_onnx(run, Path(tmp) / run.name)
            raw = events.pf_cands if run.config.encoder.reads_pf else events.particles
            x = graph_inputs(run, raw, export.input_shape)
            ms, p90, rate = onnx_latency(onnx_session(export.model, threads=1), export.input_name, x)
            print(f"{run.name:<18} {ms:>11.3f} {p90:>8.3f} {rate:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
