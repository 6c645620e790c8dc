"""Independent blocks of work as Dask tasks: a ``LocalCluster`` of the local cores, or an existing cluster.

``scheduler`` is ``"local"`` (start a ``LocalCluster`` with one single-threaded worker process per
job, closed afterwards) or the address of a running scheduler, ``tcp://HOST:PORT`` (or ``tls://``,
``ucx://``; the host and port are checked before anything starts),
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
import ipaddress
import logging
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from wnae.errors import ConfigError

__all__ = ["check_scheduler", "dask_client", "map_in_order"]

logger = logging.getLogger(__name__)

#: ``PROTOCOL://HOST:PORT``; HOST a name, an IPv4 address, or an IPv6 address in brackets.
_ADDRESS = re.compile(
    r"^(?P<protocol>tcp|tls|ucx)://(?:\[(?P<ipv6>[^\]]*)\]|(?P<host>[^:/\s\[\]]+)):(?P<port>[^:/\s]*)$"
)
#: A host name: dot-separated labels of letters, digits and inner hyphens (RFC 1123).
_HOST_NAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$")


def _address_problem(value: str) -> str | None:
    """What is wrong with scheduler address ``value`` (None: a well-formed ``tcp://HOST:PORT``)."""
    m = _ADDRESS.match(value)
    if m is None:
        return "not an address of the form tcp://HOST:PORT (or tls://, ucx://)"
    if m["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(m["ipv6"])
        except ValueError:
            return f"[{m['ipv6']}] is not an IPv6 address"
    elif not _HOST_NAME.match(m["host"]) or len(m["host"]) > 253:
        return f"{m['host']!r} is not a host name or IP address"
    port = m["port"]
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"port {port!r} is not a number from 1 to 65535"
    return None


def check_scheduler(value: str) -> str:
    """``"local"`` or a scheduler address ``tcp://HOST:PORT`` (``tls://``, ``ucx://``); anything else,
    a bad host or port included, is a :class:`ConfigError` saying what is wrong and what is accepted.

    Example:
        >>> check_scheduler("tcp://127.0.0.1:8786"), check_scheduler("tls://[::1]:8786")
        ('tcp://127.0.0.1:8786', 'tls://[::1]:8786')
    """
    if value == "local":
        return value
    problem = _address_problem(value)
    if problem is None:
        return value
    msg = f"scheduler {value!r}: {problem}; use 'local' (a LocalCluster of this machine's cores) or tcp://HOST:PORT"
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
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, ValueError, TypeError) as err:  # (a TimeoutError is an OSError)
            msg = f"cannot reach the Dask scheduler at {scheduler}: {err}"
            raise ConfigError(msg) from err
    logger.info("Dask: %s with %d worker(s)", scheduler, len(client.scheduler_info().get("workers", {})))
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_in_order(
    client: Any, fn: Callable[[Any], Any], tasks: Sequence[Any], *, retries: int = 2
) -> Generator[Any, None, None]:
    """Submit ``fn(task)`` for every task; yield the results in task order (each exactly once).

    Unconsumed tasks are cancelled when the caller stops early (an error while writing, Ctrl-C).
    """
    futures = client.map(fn, list(tasks), pure=False, retries=retries)
    try:
        for future in futures:
            yield future.result()
    finally:
        client.cancel(futures)
