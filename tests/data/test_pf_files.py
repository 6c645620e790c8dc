"""The PF candidates are checked wherever a file is read: ``data validate`` reads ``PFCands`` (NaN, a
corrupt or never-written chunk are errors naming the file, dataset and event), and ``data summary``
refuses a malformed ``PFCands`` (another shape, a group) with the reader's error instead of skipping it
or failing with a traceback."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import random_particles, random_pf_candidates
from tests.data.test_cli_faults import _one_error_line as one_error_line
from wnae.cli import main
from wnae.data.io import EventSet, pf_max_candidates, write_events

N = 300


def _pf_file(path: Path) -> Path:
    p = random_particles(N, seed=3)
    write_events(path, EventSet(p, np.zeros(N, int), np.full(N, "x"), pf_cands=random_pf_candidates(N, seed=4)))
    return path


def _one_error_line(capsys, command: str, *needles: str) -> str:
    """The one stderr line of a refused command, which printed no "OK"."""
    line, out = one_error_line(capsys, command, *needles)
    assert "OK" not in out
    return line


def test_validate_reads_the_pf_candidates_of_a_good_file(tmp_path, capsys):
    path = _pf_file(tmp_path / "ok.h5")
    assert main(["data", "validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: OK, {N} events with PF candidates\n"
    assert pf_max_candidates(path) == 32


def test_validate_finds_nan_in_the_pf_candidates(tmp_path, capsys):
    path = _pf_file(tmp_path / "nan.h5")
    with h5py.File(path, "r+") as f:
        f["PFCands"][217, 1, 2] = np.nan
    assert main(["data", "validate", str(path), "--chunk-events", "100"]) == 2
    _one_error_line(capsys, "data", f"{path}:/PFCands event 217", "candidate 1: NaN or infinite value")


def test_validate_finds_a_corrupt_pf_chunk(tmp_path, capsys):
    path = _pf_file(tmp_path / "corrupt.h5")
    with h5py.File(path, "r") as f:
        info = f["PFCands"].id.get_chunk_info(0)
    with path.open("r+b") as raw:  # overwrite the first chunk's (compressed) bytes
        raw.seek(info.byte_offset)
        raw.write(b"\xff" * info.size)
    assert main(["data", "validate", str(path)]) == 2
    _one_error_line(capsys, "data", f"{path}:/PFCands")


def test_validate_finds_pf_candidates_that_were_never_written(tmp_path, capsys):
    """Unallocated chunks read back as zeros, i.e. as events without candidates: an incomplete file."""
    path = tmp_path / "unwritten.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = random_particles(N, seed=3)
        pf = f.create_dataset("PFCands", shape=(N, 32, 6), dtype=np.float16, chunks=(64, 32, 6))
        pf[:128] = random_pf_candidates(128, seed=4)
    assert main(["data", "validate", str(path)]) == 2
    _one_error_line(capsys, "data", f"{path}:/PFCands event 128", "never written")


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda f: f.create_dataset("PFCands", data=np.zeros((N, 6), np.float16)), "expected shape (300, n_max, 6)"),
        (lambda f: f.create_group("PFCands"), "'PFCands' is a group, not a dataset"),
    ],
)
@pytest.mark.parametrize("command", ["summary", "validate"])
def test_a_malformed_pf_dataset_is_an_error_not_skipped(tmp_path, capsys, make, needle, command):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["Particles"] = random_particles(N, seed=3)
        make(f)
    args = ["data", command, str(path)] + (["--no-plots"] if command == "summary" else [])
    assert main(args) == 2
    _one_error_line(capsys, "data", str(path), needle)
