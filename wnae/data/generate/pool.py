"""The generator's worker processes: spawned, started with Ctrl-C held back, stopped at once on any error.

The generator (:mod:`wnae.data.generate.run`) hands blocks of events to :func:`worker_pool`'s
processes; a Ctrl-C stops the parent, which terminates every worker before the exception goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["ignore_sigint", "sigint_blocked", "start_tasks", "stop_workers", "worker_pool"]


def ignore_sigint() -> None:
    """Worker initializer: Ctrl-C goes to the whole process group; the parent alone handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while worker processes are started.

    A spawned worker inherits the signal mask, so a Ctrl-C that arrives while it is still starting
    (importing, before :func:`ignore_sigint` runs) stays pending in it and is discarded by its
    initializer, instead of raising KeyboardInterrupt there and printing a traceback. In this
    process the signal is delivered when the block ends: the parent still stops on it. (The same
    mask is what ``multiprocessing``'s resource tracker is started with.)
    """
    if not hasattr(signal, "pthread_sigmask"):  # (not on Windows)
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def start_tasks(executor: ProcessPoolExecutor, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
    """``executor.map(fn, tasks)``: every task submitted, and the workers started, with SIGINT blocked."""
    with sigint_blocked():
        return executor.map(fn, tasks)


def stop_workers(executor: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Cancel what is queued and end the worker processes now (a running block is not waited for)."""
    from multiprocessing.connection import wait

    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    # a process's sentinel is ready once it has exited, whichever thread reaps it
    running = {p.sentinel: p for p in processes}
    deadline = time.monotonic() + grace_s
    while running and (left := deadline - time.monotonic()) > 0:
        for sentinel in wait(list(running), left):
            running.pop(sentinel)
    for process in running.values():
        with contextlib.suppress(OSError, ValueError):
            process.kill()
    while running:
        for sentinel in wait(list(running)):
            running.pop(sentinel)


@contextlib.contextmanager
def worker_pool(jobs: int) -> Iterator[ProcessPoolExecutor | None]:
    """Worker processes (spawned: Pythia and FastJet hold C++ state that must not be forked).

    On any exception, KeyboardInterrupt included, the workers are terminated before it propagates:
    no worker outlives the command.
    """
    if jobs <= 1:
        yield None
        return
    executor = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=ignore_sigint)
    try:
        yield executor
    except BaseException:
        stop_workers(executor)
        raise
    executor.shutdown(wait=True)
