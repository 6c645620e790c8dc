"""Streamed training on a large file: one epoch's time, events/s and peak memory (RSS).

    .venv/bin/python benchmarks/bench_streaming.py [--events 10000000] [--workdir DIR] [--config FILE]
        [--mode auto|memory|stream] [--chunk-events N] [--shuffle-chunks N] [--epochs 1]

1. Writes ``--workdir``/data/sm.h5: ``--events`` SM events, the SM background events of
   ``--data-dir`` (default ``data/``) replicated in blocks (toy events when it has no
   ``manifest.json``), with their per-event process labels, and a ``manifest.json`` naming it as
   one background sample. An existing file of the right size is reused (delete it to rewrite).
2. Trains ``--epochs`` epochs of ``--config`` (default ``wnae/configs/train_wnae.yml`` with
   ``mcmc.pretrain_epochs: 0``) on it in a subprocess, so that the writing phase does not count
   in its peak RSS, and prints: events, file size, loading mode, epoch time, events/s, and the
   peak RSS (``ru_maxrss``) of the training process, also after its imports alone (TensorFlow).

Use ``--config`` with ``model: ae`` (e.g. ``wnae/configs/train_ae.yml``) for a fast check of the
reading and shuffling: the WNAE step itself runs at a few thousand events/s. ``print`` is fine
here: benchmarks are scripts, not library code.
"""


from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from wnae.data.io import EventSet

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "wnae" / "configs" / "train_wnae.yml"
#: Events appended to the file per block while writing.
WRITE_BLOCK_EVENTS = 65_536
SAMPLE_NAME = "sm"


def _peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _source_events(data_dir: Path) -> EventSet:
    """The SM background events of ``data_dir`` (all splits), or toy events when it has no manifest."""
    from wnae.data.io import EventSet, read_events
    from wnae.data.samples import SM_PROCESSES, SampleRole, load_manifest

    if (data_dir / "manifest.json").is_file():
        parts = []
        for sample in load_manifest(data_dir):
            if sample.role is SampleRole.BACKGROUND:
                events = read_events(sample.path(data_dir))
                n = len(events)
                if events.process_label is None:
                    events.process_label = np.full(n, sample.process_label, np.int16)
                events.sample_name = np.full(n, sample.name)
                parts.append(events)
        if parts:
            print(f"replicating the {sum(len(p) for p in parts)} SM background events of {data_dir}")
            return EventSet.concatenate(parts)
    sys.path.insert(0, str(ROOT))
    from tests.conftest import random_particles

    print(f"(no SM background samples in {data_dir}: replicating toy events)")
    labels = np.arange(WRITE_BLOCK_EVENTS) % len(SM_PROCESSES)
    names = np.array(list(SM_PROCESSES.values()))[labels]
    return EventSet(random_particles(WRITE_BLOCK_EVENTS, seed=7), labels, names)


def write_data(workdir: Path, n_events: int, source_dir: Path) -> Path:
    """``workdir/data`` with one background sample of ``n_events`` replicated SM events (reused if there)."""
    from wnae.data.io import EventWriter, count_events
    from wnae.data.samples import SampleInfo, SampleRole, write_manifest

    data_dir = workdir / "data"
    path = data_dir / f"{SAMPLE_NAME}.h5"
    if (data_dir / "manifest.json").is_file() and path.is_file() and count_events(path) == n_events:
        print(f"reusing {path} ({n_events} events)")
        return data_dir
    pool = _source_events(source_dir)
    t0 = time.perf_counter()
    data_dir.mkdir(parents=True, exist_ok=True)
    with EventWriter(path, metadata=pool.metadata, validate=False) as writer:
        for lo in range(0, n_events, WRITE_BLOCK_EVENTS):
            n = min(WRITE_BLOCK_EVENTS, n_events - lo)
            index = (lo + np.arange(n)) % len(pool)
            writer.append(pool.select(index))
    write_manifest(data_dir, [SampleInfo(SAMPLE_NAME, SampleRole.BACKGROUND, 1, path.name, n_events, n_events)])
    print(f"wrote {path}: {n_events} events in {time.perf_counter() - t0:.1f} s")
    return data_dir


def _train_config(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(Path(args.config).read_text()) or {}
    data["epochs"] = args.epochs
    data["mcmc"] = {**data.get("mcmc", {}), "pretrain_epochs": 0}
    loading = dict(data.get("loading", {}))
    for key, value in (("mode", args.mode), ("chunk_events", args.chunk_events),
                       ("shuffle_chunks", args.shuffle_chunks)):
        if value is not None:
            loading[key] = value
    data["loading"] = loading
    return data


def train_once(args: argparse.Namespace) -> None:
    """The subprocess: train on ``args.workdir``/data and print one JSON line of results."""
    import logging

    import tensorflow  # noqa: F401 (its memory counts as the baseline)

    from wnae.config import parse_config
    from wnae.models.config import TrainConfig
    from wnae.train.loop import train

    logging.basicConfig(level=logging.INFO, format="  %(name)s: %(message)s")
    logging.getLogger("wnae.train.loop").setLevel(logging.WARNING)
    rss_imports = _peak_rss_mib()
    cfg = parse_config(TrainConfig, _train_config(args))
    workdir = Path(args.workdir)
    t0 = time.perf_counter()
    result = train(cfg, data_dir=workdir / "data", runs_dir=workdir / "runs",
                   name=f"bench-{time.strftime('%Y%m%d-%H%M%S')}", progress=False)
    wall = time.perf_counter() - t0
    history, metrics = result.history, result.metrics
    print(json.dumps({
        "model": cfg.model,
        "mode": metrics["loading"]["mode"],
        "chunk_events": metrics["loading"]["chunk_events"],
        "shuffle_chunks": metrics["loading"]["shuffle_chunks"],
        "train_events": metrics["train_events"],
        "epoch_seconds": history["seconds"],
        "events_per_second": metrics["events_per_second"],
        "train_seconds": wall,
        "rss_imports_mib": rss_imports,
        "peak_rss_mib": _peak_rss_mib(),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the training file")
    parser.add_argument("--workdir", type=Path, default=None, help="where the file and runs go (default: a temp dir)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data", help="the SM events to replicate")
    parser.add_argument("--mode", choices=["auto", "memory", "stream"], default=None,
                        help="loading.mode (default: the config's)")
    parser.add_argument("--chunk-events", type=int, default=None)
    parser.add_argument("--shuffle-chunks", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-only", action="store_true", help=argparse.SUPPRESS)  # the subprocess
    args = parser.parse_args()
    if args.train_only:
        train_once(args)
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_streaming-"))
    data_dir = write_data(workdir, args.events, args.data_dir)
    size_mib = sum(p.stat().st_size for p in data_dir.glob("*.h5")) / 2**20
    argv = [sys.executable, str(Path(__file__).resolve()), "--train-only", "--workdir", str(workdir),
            "--config", str(args.config), "--epochs", str(args.epochs)]
    for flag, value in (("--mode", args.mode), ("--chunk-events", args.chunk_events),
                        ("--shuffle-chunks", args.shuffle_chunks)):
        if value is not None:
            argv += [flag, str(value)]
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(proc.stdout)
        sys.exit(f"training failed (exit status {proc.returncode})")
    r = json.loads(lines[-1])
    print(f"\n## Training on one large HDF5 file ({r['model']}, config {args.config.name}, {args.epochs} epoch(s))")
    print(f"events in the file       {args.events}")
    print(f"file size                {size_mib:.0f} MiB ({data_dir})")
    print(f"SM training events       {r['train_events']}")
    print(f"loading mode             {r['mode']} (chunk_events {r['chunk_events']}, "
          f"shuffle_chunks {r['shuffle_chunks']})")
    print(f"epoch time               {', '.join(f'{s:.1f}' for s in r['epoch_seconds'])} s (training steps)")
    print(f"events/s                 {r['events_per_second']:.0f}")
    print(f"train() wall time        {r['train_seconds']:.1f} s (incl. the normalisation pass and validation)")
    print(f"peak RSS                 {r['peak_rss_mib']:.0f} MiB (after the imports alone: "
          f"{r['rss_imports_mib']:.0f} MiB)")


if __name__ == "__main__":
    main()
