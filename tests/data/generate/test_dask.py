"""Generation as Dask tasks: the same bytes as one process, also when a worker is killed mid-run."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time

import pytest

from wnae.config import parse_config
from wnae.data.generate.config import GenerateConfig
from wnae.data.generate.run import generate
from wnae.errors import ConfigError

pytestmark = pytest.mark.slow

SIZES = {"dy": 40, "zero_bias": 60}


def _config(out) -> GenerateConfig:
    return parse_config(
        GenerateConfig,
        {
            "output_dir": str(out),
            "seed": 11,
            "pileup_pool_events": 60,
            "block_events": 10,
            "samples": {name: {"n_events": n} for name, n in SIZES.items()},
            "zero_bias_slices": {"pthat_edges_gev": [30.0], "n_events": 20, "electroweak": ["dy"]},
        },
    )


def _digests(out) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.h5"))} | {
        "manifest.json": hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    }


@pytest.fixture(scope="module")
def single_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    generate(_config(out), jobs=1, progress=False)
    return _digests(out)


def test_local_cluster_with_two_workers_writes_the_same_bytes(tmp_path, single_process):
    generate(_config(tmp_path), jobs=2, progress=False, scheduler="local")
    assert _digests(tmp_path) == single_process


def test_a_killed_worker_changes_nothing(tmp_path, single_process):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        victim = next(iter(client.run(os.getpid).values()))
        killed = threading.Event()

        def kill_when_busy() -> None:  # once blocks are running on the workers
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(client.processing().values()):
                time.sleep(0.05)
            time.sleep(0.5)
            os.kill(victim, signal.SIGKILL)
            killed.set()

        thread = threading.Thread(target=kill_when_busy, daemon=True)
        thread.start()
        generate(_config(tmp_path), jobs=2, progress=False, scheduler=cluster.scheduler_address)
        thread.join(5)
        assert killed.is_set()
        assert victim not in client.run(os.getpid).values()  # the nanny replaced it
    assert _digests(tmp_path) == single_process


def test_bad_scheduler_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="use 'local'"):
        generate(_config(tmp_path), jobs=1, progress=False, scheduler="http://nowhere")
