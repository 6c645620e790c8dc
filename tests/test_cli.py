from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest

from tests.conftest import random_particles
from wnae.cli import main

COMMANDS = ["data", "generate", "train", "evaluate", "convert", "csim", "synth-report", "rtl"]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: wnae" in capsys.readouterr().out


def test_python_m_wnae_runs():
    result = subprocess.run([sys.executable, "-m", "wnae", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "generate" in result.stdout


def test_validate_and_fit_norm(tmp_path, capsys):
    path = tmp_path / "ok.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = random_particles(120)
    assert main(["data", "validate", str(path)]) == 0
    assert "OK, 120 events" in capsys.readouterr().out
    assert main(["data", "fit-norm", str(path), "-o", str(tmp_path / "n.json")]) == 0
    assert (tmp_path / "n.json").exists()


def test_user_error_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.h5"
    p = random_particles(10)
    p[4, 0, 0] = -2.0
    with h5py.File(path, "w") as f:
        f["Particles"] = p
    assert main(["data", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "event 4: pT = -2 GeV < 0" in err
    assert "Traceback" not in err
    assert main(["data", "validate", str(tmp_path / "missing.h5")]) == 2
    assert "file not found" in capsys.readouterr().err
