"""Independent blocks of work as Dask tasks: a ``LocalCluster`` of the local cores, or an existing cluster.

``scheduler`` is ``"local"`` (start a ``LocalCluster`` with one single-threaded worker process per
job, closed afterwards) or the address of a running scheduler, ``tcp://HOST:PORT`` (or ``tls://``),
e.g. one started by ``dask-jobqueue`` on HTCondor or SLURM (the README has the recipe). Workers of
an existing cluster need the same ``wnae`` installed.

Results come back in task order whatever the number of workers, each task's result exactly once: a
task whose worker dies is recomputed by the scheduler on another worker (up to
``distributed.scheduler.allowed-failures`` times), and one that raises is retried ``retries`` times.
Tasks must therefore be pure functions of their arguments (the generator's blocks are: each has its
own seeds), so a recomputed block gives the same bytes.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from wnae.errors import ConfigError

__all__ = ["check_scheduler", "dask_client", "map_in_order"]

logger = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://\S+$")


def check_scheduler(value: str) -> str:
    """``"local"`` or a scheduler address; anything else is a :class:`ConfigError` saying what is accepted."""
    if value == "local" or _ADDRESS.match(value):
        return value
    msg = f"scheduler {value!r}: use 'local' (a LocalCluster of this machine's cores) or tcp://HOST:PORT"
    raise ConfigError(msg)


@contextlib.contextmanager
def dask_client(scheduler: str, n_workers: int) -> Iterator[Any]:
    """A ``distributed.Client``: on a new ``LocalCluster`` of ``n_workers`` processes, or connected
    to ``scheduler``. The cluster it started (never an existing one) is closed on exit, also on
    Ctrl-C or an error, so no worker outlives the command."""
    from distributed import Client, LocalCluster

    scheduler = check_scheduler(scheduler)
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as err:
            msg = f"cannot reach the Dask scheduler at {scheduler}: {err}"
            raise ConfigError(msg) from err
    logger.info("Dask: %s with %d worker(s)", scheduler, len(client.scheduler_info().get("workers", {})))
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_in_order(client: Any, fn: Callable[[Any], Any], tasks: Sequence[Any], *, retries: int = 2) -> Iterator[Any]:
    """Submit ``fn(task)`` for every task; yield the results in task order (each exactly once).

    Unconsumed tasks are cancelled when the caller stops early (an error while writing, Ctrl-C).
    """
    futures = client.map(fn, list(tasks), pure=False, retries=retries)
    try:
        for future in futures:
            yield future.result()
    finally:
        client.cancel(futures)
