"""Interrupted generation (issue #14, part 5): temporaries of killed writers are cleaned up on the
next run, and Ctrl-C stops the worker processes. No Pythia run: the cache and the pool are driven
directly."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import random_particles
from wnae.cli import build_parser, main

REPO = Path(__file__).resolve().parents[3]


def _killed_writer_temporary(target: Path) -> tuple[Path, int]:
    """Start a writer of ``target``, SIGKILL it mid-write; return its temporary and its pid."""
    code = (
        "import sys, time\n"
        "from wnae._io import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'half an HDF5 file')\n"
        "    print(tmp, flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        tmp = Path(proc.stdout.readline().strip())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    assert tmp.name == f".{target.name}.{proc.pid}.tmp"
    assert tmp.exists()  # SIGKILL: the writer could not clean up
    return tmp, proc.pid


def _cached_sample(argv: list[str]) -> Path:
    """Write ``qcd.h5`` as a finished run with these options would have, so the run reuses it."""
    from wnae.commands.generate import config_from_args
    from wnae.data.generate import run
    from wnae.data.generate.processes import PROCESSES
    from wnae.data.io import EventSet, write_events

    cfg = config_from_args(build_parser().parse_args(argv))
    meta = run._sample_metadata(cfg, PROCESSES["qcd"], cfg.samples["qcd"], cfg.pileup_mean, None)
    meta["settings_hash"] = run._settings_hash(meta)
    p = random_particles(5, 3)
    path = Path(cfg.output_dir) / "qcd.h5"
    write_events(path, EventSet(p, np.full(5, 1), np.full(5, "qcd")), metadata=meta)
    return path


def test_generate_removes_temporaries_of_killed_writers(tmp_path, caplog, monkeypatch):
    from wnae.data.generate import run

    out = tmp_path / "data"
    argv = ["generate", "--samples", "qcd", "--events", "5", "--pileup", "0", "--output-dir", str(out)]
    _cached_sample(argv)
    stale, pid = _killed_writer_temporary(out / "qcd.h5")
    stale_cache = out / ".cache" / f".pileup_pool-0123.npz.{pid}.tmp"
    stale_cache.parent.mkdir(parents=True, exist_ok=True)
    stale_cache.write_bytes(b"x" * 10)
    alive = out / f".zprime_ll.h5.{multiprocessing.current_process().pid}.tmp"  # a live writer's: kept
    alive.write_bytes(b"")
    for name in ("_ensure_pool", "_ensure_mpi_file"):
        monkeypatch.setattr(run, name, lambda *a: pytest.fail("the cached sample must be reused"))

    with caplog.at_level(logging.WARNING, logger="wnae._io"):
        assert main(argv) == 0
    assert not stale.exists()
    assert not stale_cache.exists()
    assert alive.exists()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(stale) in w and f"left by process {pid}" in w for w in warned), warned
    assert any(str(stale_cache) in w for w in warned), warned
    assert (out / "manifest.json").exists()


def _busy_block(marker_dir: str, seconds: float) -> None:
    """A long "block" that first says (with a file named by its pid) that it has started."""
    import os

    (Path(marker_dir) / str(os.getpid())).touch()
    time.sleep(seconds)


def test_interrupt_stops_the_worker_processes(tmp_path):
    """Ctrl-C (KeyboardInterrupt in the parent) during a parallel run ends every worker at once."""
    from wnae.data.generate.pool import worker_pool

    before = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt), worker_pool(2) as pool:  # noqa: PT012
        [pool.submit(_busy_block, str(tmp_path), 30) for _ in range(4)]
        deadline = time.monotonic() + 60
        while len(list(tmp_path.iterdir())) < 2:  # both workers busy with a long block
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        workers = set(multiprocessing.active_children()) - before
        assert {str(w.pid) for w in workers} == {p.name for p in tmp_path.iterdir()}
        started = time.monotonic()
        raise KeyboardInterrupt
    assert time.monotonic() - started < 20  # did not wait for the 30 s blocks
    sentinels = [w.sentinel for w in workers]
    assert set(wait(sentinels, timeout=0)) == set(sentinels)  # every worker has exited
    assert len(list(tmp_path.iterdir())) == 2  # the queued blocks never started


def test_ctrl_c_while_the_workers_start_prints_no_traceback(capfd):
    """Ctrl-C reaches the whole process group: a worker still starting (importing, before its initializer
    ignores SIGINT) must not raise KeyboardInterrupt and print a traceback. The workers start with SIGINT
    blocked, so the signal stays pending and their initializer discards it; they then run their tasks."""
    from wnae.data.generate.pool import start_tasks, worker_pool

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with worker_pool(2) as pool:
        results = start_tasks(pool, abs, [-1, -2, -3, -4])
        workers = list(pool._processes.values())
        assert workers, "the workers start when the tasks are submitted"
        for worker in workers:  # at once: the interpreter is still starting
            os.kill(worker.pid, signal.SIGINT)
        assert list(results) == [1, 2, 3, 4]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask  # this process's mask is as it was
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    assert "KeyboardInterrupt" not in err, err
