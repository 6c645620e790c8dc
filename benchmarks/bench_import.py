"""``wnae data import``: events/s per format, and peak memory of importing a file larger than a memory cap.

    .venv/bin/python benchmarks/bench_import.py [--quick] [--hdf5-events 1000000] [--root-events 500000]
        [--axol1tl-events 1000000] [--chunk-events 50000] [--cap-mib 1024] [--ratio 4.1]
        [--root-basket-events 10000] [--formats adc2021,axol1tl,l1ntuple] [--skip-memory] [--workdir DIR]

1. Speed. Writes one source file per format under ``--workdir`` (default: a temporary directory under
   /tmp, deleted at the end): ADC2021 HDF5 (``Particles`` float32 (n, 19, 4), uncompressed, valid
   random events as in ``tests/conftest.py``), AXOL1TL HDF5 (``data/Background_data/{Train,Test}/DATA``
   float32 (n, 57), uncompressed) and a CMS L1 ntuple (ROOT, ``L1UpgradeTree`` in the split layout,
   written with uproot's default ZLIB-1 compression as in ``tests/data/l1ntuple_files.py``, one basket
   per ``--root-basket-events`` events). Then times :func:`wnae.data.importing.import_sample` end to end
   (read + convert + validate + write gzip HDF5 + SHA-256 of the source + manifest) into a fresh data
   directory, and, to say where the time goes, the reading/conversion alone, the validation alone
   and the SHA-256 alone (the rest is the gzip HDF5 write and the manifest).
2. Bounded memory. For ADC2021 and the L1 ntuple, writes a file of ``--ratio`` x ``--cap-mib`` of
   uncompressed event data (n x 19 x 4 x 4 bytes) and imports it in a fresh interpreter whose address
   space is capped at ``--cap-mib`` (``RLIMIT_AS``, set before any import, so the interpreter, numpy,
   h5py, uproot and their threads all count): the import must succeed under the cap. Prints the
   baseline after the imports alone, the cap, the peak RSS (``VmHWM``) and peak address space
   (``VmPeak``) of the import, and the data-size / cap ratio. (Not ``ru_maxrss``: a child's keeps the
   RSS its parent had when it forked, across the exec, so it would report the parent's size.)

Source blocks are generated once and repeated (the ROOT block's random events are tiled): it is the
reader's and writer's throughput that is measured, not the generator's. uproot reads whole baskets,
so the ROOT import's memory is bounded by one step *plus the baskets it overlaps*: a file written
in one basket per branch is read whole (hence ``--root-basket-events``; CMSSW ntuples have baskets
of a few thousand to tens of thousands of events). The default run takes about 9 minutes on 2 cores
(most of it writing and importing the two ~4 GiB files). ``--quick`` (about 2 minutes): 200k/100k
events, a 512 MiB cap with 10k-event chunks and a file of only 1.25 x the cap (a smoke test of the
memory run, not the 4x claim). ``print`` is fine here: benchmarks are scripts.
"""


from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Bytes of one event's uncompressed event data: 19 slots x 4 features x float32.
EVENT_BYTES = 19 * 4 * 4
#: Events generated at a time (then repeated) when writing a source file.
BLOCK_EVENTS = 100_000
QUICK = {"hdf5_events": 200_000, "root_events": 100_000, "axol1tl_events": 200_000,
         "cap_mib": 512, "chunk_events": 10_000, "ratio": 1.25}
DEFAULTS = {"hdf5_events": 1_000_000, "root_events": 500_000, "axol1tl_events": 1_000_000,
            "cap_mib": 1024, "chunk_events": 50_000, "ratio": 4.1}


def _status_mib() -> dict[str, float]:
    """VmPeak, VmSize, VmHWM, VmRSS of this process (MiB), from /proc/self/status."""
    out: dict[str, float] = {}
    with Path("/proc/self/status").open() as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmPeak", "VmSize", "VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) / 1024
    return out


def _mb(path: Path) -> float:
    return path.stat().st_size / 1e6


# ------------------------------------------------------------------------------------------ sources


def write_adc2021(path: Path, n_events: int) -> Path:
    """An uncompressed ADC2021 file of ``n_events`` valid random events (a block repeated)."""
    import numpy as np

    from tests.conftest import random_particles
    from wnae.data.io import EventSet, EventWriter

    block = random_particles(min(n_events, BLOCK_EVENTS), seed=11)
    with EventWriter(path, with_labels=False, validate=False, compression=None, chunk_events=8192) as writer:
        for lo in range(0, n_events, len(block)):
            writer.append(EventSet(np.ascontiguousarray(block[: n_events - lo])))
    return path


def write_axol1tl(path: Path, n_events: int) -> Path:
    """An uncompressed AXOL1TL file: float32 (n, 57) pT/η/φ, 80 % in Train and 20 % in Test."""
    import h5py

    from tests.conftest import random_particles

    block = random_particles(min(n_events, BLOCK_EVENTS), seed=12)[..., :3].reshape(-1, 57)
    n_test = n_events // 5
    with h5py.File(path, "w") as f:
        for split, n in (("Train", n_events - n_test), ("Test", n_test)):
            ds = f.create_dataset(f"data/Background_data/{split}/DATA", shape=(n, 57), dtype="f4")
            for lo in range(0, n, len(block)):
                hi = min(n, lo + len(block))
                ds[lo:hi] = block[: hi - lo]
    return path


def write_l1ntuple(path: Path, n_events: int, basket_events: int) -> Path:
    """A CMS L1 ntuple (split layout) of ``n_events``: random L1 events tiled, one basket per
    ``basket_events`` events (one uproot ``extend`` each)."""
    import awkward as ak
    import numpy as np
    import uproot

    from tests.data.l1ntuple_files import COUNTS, EMU_TREE, _dtype, _jagged, random_l1_events

    n_block = min(n_events, max(basket_events, BLOCK_EVENTS))
    arrays: dict[str, Any] = {m: _jagged(v, _dtype(m)) for m, v in random_l1_events(n_block, seed=13).items()}
    for count, ref in COUNTS.items():
        arrays[count] = np.asarray(ak.num(arrays[ref], axis=1), dtype=np.uint16)
    branches = {f"L1Upgrade/{m}": v for m, v in arrays.items()}
    types = {k: v.dtype if isinstance(v, np.ndarray) else v.type.content for k, v in branches.items()}
    with uproot.recreate(path) as file:
        tree = file.mktree(EMU_TREE, types, counter_name=lambda counted: "n_" + counted.replace("/", "_"))
        written = 0
        while written < n_events:
            lo = written % n_block
            hi = min(n_block, lo + basket_events, lo + n_events - written)
            tree.extend({k: v[lo:hi] for k, v in branches.items()})
            written += hi - lo
    return path


def write_source(fmt: str, path: Path, n_events: int, args: argparse.Namespace) -> tuple[Path, float]:
    """The source file of ``fmt`` and the seconds it took to write."""
    t0 = time.perf_counter()
    if fmt == "adc2021":
        write_adc2021(path, n_events)
    elif fmt == "axol1tl":
        write_axol1tl(path, n_events)
    else:
        write_l1ntuple(path, n_events, args.root_basket_events)
    return path, time.perf_counter() - t0


# ------------------------------------------------------------------------------------------ speed


def time_import(fmt: str, source: Path, out_dir: Path, chunk_events: int) -> dict[str, Any]:
    """End-to-end import of ``source`` into a fresh ``out_dir``, and its phases timed alone."""
    from wnae.data.importing import ImportOptions, _reader, _sha256, import_sample
    from wnae.data.samples import SampleRole
    from wnae.data.validate import validate_particles

    opts = ImportOptions(format=fmt, role=SampleRole.BACKGROUND, name="bench", chunk_events=chunk_events,
                         progress=False)
    # the phases alone (a first pass also warms the page cache for the end-to-end run)
    t0 = time.perf_counter()
    read_s = validate_s = 0.0
    n = 0
    chunks = _reader([source], opts).chunks()
    while True:
        t1 = time.perf_counter()
        chunk = next(chunks, None)
        t2 = time.perf_counter()
        read_s += t2 - t1
        if chunk is None:
            break
        validate_particles(chunk.particles)
        validate_s += time.perf_counter() - t2
        n += len(chunk)
    t0 = time.perf_counter()
    _sha256(source)
    sha_s = time.perf_counter() - t0
    # end to end
    shutil.rmtree(out_dir, ignore_errors=True)
    t0 = time.perf_counter()
    result = import_sample([source], out_dir, opts)
    total_s = time.perf_counter() - t0
    assert result.info.n_events == n, (result.info.n_events, n)  # a correctness check, not a timing one
    return {"n_events": n, "total_s": total_s, "read_s": read_s, "validate_s": validate_s, "sha_s": sha_s,
            "out_mb": _mb(result.path)}


# ------------------------------------------------------------------------------------------ memory


def child(args: argparse.Namespace) -> None:
    """The capped subprocess: RLIMIT_AS first, then the imports (the baseline), then the import."""
    cap = args.cap_mib * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    report: dict[str, Any] = {"cap_mib": args.cap_mib}
    try:
        import awkward  # noqa: F401
        import h5py  # noqa: F401
        import numpy  # noqa: F401
        import tqdm.auto  # noqa: F401
        import uproot  # noqa: F401

        from wnae.data import l1ntuple  # noqa: F401
        from wnae.data.importing import ImportOptions, import_sample
        from wnae.data.samples import SampleRole

        base = _status_mib()
        report |= {"baseline_rss_mib": base["VmHWM"], "baseline_vm_mib": base["VmPeak"]}
        opts = ImportOptions(format=args.child[0], role=SampleRole.BACKGROUND, name="big",
                             chunk_events=args.chunk_events, progress=False)
        t0 = time.perf_counter()
        result = import_sample([args.child[1]], args.child[2], opts)
        report |= {"ok": True, "seconds": time.perf_counter() - t0, "n_events": result.info.n_events,
                   "out_mb": _mb(result.path)}
    except Exception as err:  # noqa: BLE001 (MemoryError included: the report says what failed under the cap)
        report |= {"ok": False, "error": f"{type(err).__name__}: {err}"[:300]}
    status = _status_mib()
    report |= {"peak_rss_mib": status["VmHWM"], "peak_vm_mib": status["VmPeak"]}
    print(json.dumps(report), flush=True)


def capped_import(fmt: str, source: Path, out_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    shutil.rmtree(out_dir, ignore_errors=True)
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", fmt, str(source), str(out_dir),
            "--cap-mib", str(args.cap_mib), "--chunk-events", str(args.chunk_events)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"ok": False, "error": f"exit status {proc.returncode}: {proc.stderr.strip()[-300:]}"}
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------------------ main


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small files, a 512 MiB cap, 10k-event chunks")
    parser.add_argument("--hdf5-events", type=int, default=None, help="ADC2021 events for the speed run")
    parser.add_argument("--root-events", type=int, default=None, help="L1-ntuple events for the speed run")
    parser.add_argument("--axol1tl-events", type=int, default=None, help="AXOL1TL events for the speed run")
    parser.add_argument("--chunk-events", type=int, default=None, help="import chunk (default 50000, the CLI's)")
    parser.add_argument("--cap-mib", type=int, default=None, help="address-space cap of the memory run (MiB)")
    parser.add_argument("--ratio", type=float, default=None,
                        help="uncompressed event data / cap of the memory run (default 4.1; --quick 1.25)")
    parser.add_argument("--root-basket-events", type=int, default=10_000, help="events per basket of the ROOT files")
    parser.add_argument("--formats", default="adc2021,axol1tl,l1ntuple", help="formats to time")
    parser.add_argument("--skip-memory", action="store_true", help="the speed table only")
    parser.add_argument("--workdir", type=Path, default=None, help="where the files go (default: a temp dir, deleted)")
    parser.add_argument("--child", nargs=3, metavar=("FORMAT", "FILE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main() -> None:
    args = _args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(ROOT))
    import logging

    import h5py
    import numpy as np
    import uproot

    logging.getLogger("wnae.data.importing").setLevel(logging.ERROR)  # the random L1 events' truncation tally
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_import-", dir="/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(f"machine: {os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}, "
              f"numpy {np.__version__}, h5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version}), "
              f"uproot {uproot.__version__}")
        print(f"import chunk_events {args.chunk_events}; ROOT baskets of {args.root_basket_events} events; "
              f"files in {workdir}")
        n_for = {"adc2021": args.hdf5_events, "axol1tl": args.axol1tl_events, "l1ntuple": args.root_events}
        ext = {"adc2021": "h5", "axol1tl": "h5", "l1ntuple": "root"}

        print("\n## Import speed (end to end through import_sample; phases timed alone)")
        print(f"{'format':<9} {'events':>9} {'source MB':>9} {'out MB':>7} {'write src s':>11} {'import s':>8} "
              f"{'events/s':>9} | {'read+conv s':>11} {'validate s':>10} {'sha256 s':>8} {'rest s':>7}")
        for fmt in [f for f in args.formats.split(",") if f]:
            source, write_s = write_source(fmt, workdir / f"speed_{fmt}.{ext[fmt]}", n_for[fmt], args)
            r = time_import(fmt, source, workdir / f"out_{fmt}", args.chunk_events)
            rest = r["total_s"] - r["read_s"] - r["validate_s"] - r["sha_s"]
            print(f"{fmt:<9} {r['n_events']:>9} {_mb(source):>9.1f} {r['out_mb']:>7.1f} {write_s:>11.1f} "
                  f"{r['total_s']:>8.2f} {r['n_events'] / r['total_s']:>9.0f} | {r['read_s']:>11.2f} "
                  f"{r['validate_s']:>10.2f} {r['sha_s']:>8.2f} {rest:>7.2f}")
            source.unlink()
            shutil.rmtree(workdir / f"out_{fmt}", ignore_errors=True)
        print("(rest = the gzip HDF5 write, file rename and manifest; read+conv for l1ntuple includes ROOT "
              "decompression and the awkward -> slots conversion)")
        if args.skip_memory:
            return

        n_big = int(np.ceil(args.ratio * args.cap_mib * 2**20 / EVENT_BYTES))
        print(f"\n## Bounded memory: import under RLIMIT_AS = {args.cap_mib} MiB in a fresh interpreter "
              f"({n_big} events = {n_big * EVENT_BYTES / 2**20:.0f} MiB of uncompressed event data, "
              f"chunk_events {args.chunk_events})")
        print(f"{'format':<9} {'events':>9} {'data MiB':>8} {'file MiB':>8} {'write s':>7} {'base RSS':>8} "
              f"{'base VM':>7} {'cap MiB':>7} {'peak RSS':>8} {'peak VM':>7} {'data/cap':>8} {'import s':>8} "
              f"{'events/s':>8}  result")
        for fmt in ("adc2021", "l1ntuple"):
            source, write_s = write_source(fmt, workdir / f"big_{fmt}.{ext[fmt]}", n_big, args)
            r = capped_import(fmt, source, workdir / f"big_out_{fmt}", args)
            data_mib = n_big * EVENT_BYTES / 2**20
            ok = r.get("ok")
            rate = f"{r['n_events'] / r['seconds']:>8.0f}" if ok else f"{'-':>8}"
            secs = f"{r['seconds']:>8.1f}" if ok else f"{'-':>8}"
            print(f"{fmt:<9} {n_big:>9} {data_mib:>8.0f} {source.stat().st_size / 2**20:>8.0f} {write_s:>7.1f} "
                  f"{r.get('baseline_rss_mib', float('nan')):>8.0f} {r.get('baseline_vm_mib', float('nan')):>7.0f} "
                  f"{args.cap_mib:>7} {r.get('peak_rss_mib', float('nan')):>8.0f} "
                  f"{r.get('peak_vm_mib', float('nan')):>7.0f} {data_mib / args.cap_mib:>8.2f} {secs} {rate}  "
                  + ("ok" if ok else f"FAILED: {r.get('error')}"))
            source.unlink()
            shutil.rmtree(workdir / f"big_out_{fmt}", ignore_errors=True)
        print("(MiB; base = after importing numpy, h5py, uproot, awkward and wnae.data.importing alone; "
              "VM = address space (VmPeak), the capped quantity; RSS = VmHWM)")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
