"""A Dask scheduler address is checked (host and port) before any work: a bad one is one line naming it,
with nothing written, never a ValueError traceback from ``distributed`` after the outputs were created."""

from __future__ import annotations

import pytest

from wnae._dask import check_scheduler
from wnae.cli import main
from wnae.errors import ConfigError


@pytest.mark.parametrize(
    "address",
    ["local", "tcp://127.0.0.1:8786", "tls://scheduler.cern.ch:8786", "tcp://[::1]:8786", "ucx://node-01:13337"],
)
def test_good_addresses_pass(address):
    assert check_scheduler(address) == address


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("tcp://127.0.0.1:notaport", "port 'notaport' is not a number from 1 to 65535"),
        ("tcp://127.0.0.1:0", "port '0' is not a number"),
        ("tcp://127.0.0.1:65536", "port '65536' is not a number"),
        ("tcp://127.0.0.1:", "port '' is not a number"),
        ("tcp://127.0.0.1", "not an address of the form tcp://HOST:PORT"),
        ("tcp://my_host:8786", "'my_host' is not a host name or IP address"),
        ("tcp://[::zz]:8786", "[::zz] is not an IPv6 address"),
        ("udp://127.0.0.1:8786", "not an address of the form"),
    ],
)
def test_bad_addresses_name_the_problem(address, problem):
    with pytest.raises(ConfigError, match="scheduler") as err:
        check_scheduler(address)
    assert problem in str(err.value)
    assert f"scheduler {address!r}" in str(err.value)


@pytest.mark.parametrize("command", ["generate", "evaluate"])
def test_the_cli_refuses_a_bad_port_before_writing_anything(tmp_path, capsys, command):
    out = tmp_path / "out"
    args = (
        ["generate", "--output-dir", str(out), "--samples", "dy", "--events", "1"]
        if command == "generate"
        else ["evaluate", "--data-dir", str(out), "--runs-dir", str(out)]
    )
    assert main([*args, "--scheduler", "tcp://127.0.0.1:notaport"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    expected = (
        f"wnae {command}: error: scheduler 'tcp://127.0.0.1:notaport': port 'notaport' is not a number "
        "from 1 to 65535; use 'local' (a LocalCluster of this machine's cores) or tcp://HOST:PORT"
    )
    assert err.strip().splitlines() == [expected]
    assert not out.exists()  # no output directory, no .cache
